// SPDX-License-Identifier: Apache-2.0
//
// standalone.cpp: the reference loop the engine's speed is measured against. Two nodes of
// the same Verilated model, each TX port wired straight to the other node's RX port, both
// clocked every cycle as the engine's ideal-link loop clocks that model (one evaluation, the
// wrapper's tick_i, without assertions; clock low and high with them), no bus traffic, no
// harness. Built without PIC, at -O3.
//
//   usage: standalone CYCLES     prints "cycles=N seconds=S cycles_per_second=R"

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "Vnode.h"
#include "verilated.h"

extern "C" int rs_vl_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int n = vfprintf(stderr, fmt, ap);
  va_end(ap);
  return n;
}

// ringsim_assert_failed is the DPI-C function rtl/ringsim_assert.svh calls when a named
// assertion fails; the $error after it stops the loop.
extern "C" void ringsim_assert_failed(const char* name, const char* msg, const char* file, int line,
                                      const char* scope) {
  std::fprintf(stderr, "%s:%d: %s: assertion %s failed: %s\n", file, line, scope, name, msg);
}

void vl_fatal(const char* filename, int linenum, const char*, const char* msg) {
  std::fprintf(stderr, "fatal: %s:%d: %s\n", filename, linenum, msg);
  std::exit(2);
}

int main(int argc, char** argv) {
  const uint64_t cycles = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10000000;
  auto ctx = std::make_unique<VerilatedContext>();
  ctx->fatalOnError(false);
  auto a = std::make_unique<Vnode>(ctx.get(), "node0");
  auto b = std::make_unique<Vnode>(ctx.get(), "node1");
  for (Vnode* m : {a.get(), b.get()}) {
    m->clk_i = 0;
    m->rst_ni = 0;
    m->eval();
    m->clk_i = 1;
    m->eval();
    m->rst_ni = 1;
#if !RS_ASSERTS
    m->clk_i = 0;  // from here on the clock is tick_i's
    m->eval();
#endif
  }
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t c = 0; c < cycles; ++c) {
    a->rx_frames_i = b->tx_frames_o;
    b->rx_frames_i = a->tx_frames_o;
#if RS_ASSERTS
    a->clk_i = 0;
    a->eval();
    b->clk_i = 0;
    b->eval();
    a->clk_i = 1;
    a->eval();
    b->clk_i = 1;
    b->eval();
#else
    a->tick_i = !a->tick_i;
    a->eval();
    b->tick_i = !b->tick_i;
    b->eval();
#endif
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("cycles=%llu seconds=%.6f cycles_per_second=%.0f\n", (unsigned long long)cycles, s,
              cycles / s);
  return ctx->gotError() ? 1 : 0;
}
