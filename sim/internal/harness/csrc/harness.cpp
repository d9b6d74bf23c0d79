// SPDX-License-Identifier: Apache-2.0
//
// harness.cpp: runs N Verilated ringsim nodes in lockstep behind the C API of rs_api.h.
//
// Per cycle c, in this order:
//   1. every link samples its TX port's output frame(c) (a register output, valid since the
//      previous clock edge), applies its faults, pushes it into a latency-L delay line and
//      presents the frame from c-L to its RX port;
//   2. every node out of reset gets its bus master's request for cycle c;
//   3. every node is evaluated with the clock low (combinational settle), the bus master
//      samples ACK / ERR / data;
//   4. every node is evaluated with the clock high (the edge that ends cycle c).
// Models without assertions do 3 and 4 in one evaluation per node (kOneEval below).
// With rs_config.threads > 1 the nodes are split into lanes, each clocked by its own thread
// with its own VerilatedContext; the lanes run epochs of E cycles between barriers, where E
// is at most the smallest link latency (a frame sent in an epoch arrives in a later one:
// conservative lookahead) and at most the fewest cycles before any batch could complete
// (so every lane stops in the cycle a batch completes, as one thread does). Delay lines are
// long enough that a lane never overwrites a slot another lane has yet to read. The order
// of everything a lane does is that of one thread, so results do not depend on the count.
// A node is held in reset (rst_ni = 0) while c < reset_release[node]; its bus master starts
// with the node. A bus access that gets neither ACK nor ERR within the cycles the SPEC allows
// (rs_regmap.h, RS_BUS_SLACK) stops the simulation; so does the RTL ($error, $fatal,
// $finish, a failed assertion). The first stop is recorded as an rs_stop (rs_stop_info).
//
// Build-time macros: RS_DEPTH, RS_PORTS (the model's parameters), RS_REAL_LINK (the link
// registers), RS_ASSERTS (built with assertions), VM_TRACE (FST support).

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "Vnode.h"
#include "rs_api.h"
#include "rs_regmap.h"
#include "verilated.h"
#include "verilated_save.h"
#include "verilated_syms.h"
#if VM_TRACE
#include "verilated_fst_c.h"
#endif

#ifndef RS_DEPTH
#error "RS_DEPTH must be defined"
#endif
#ifndef RS_PORTS
#error "RS_PORTS must be defined"
#endif
#ifndef RS_REAL_LINK
#error "RS_REAL_LINK must be defined"
#endif
#ifndef RS_ASSERTS
#error "RS_ASSERTS must be defined"
#endif

#define RS_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// Messages Verilator prints (assertion failures, $display) are collected here instead of
// going to the process's stdout; the handle that is running owns the buffer.
thread_local std::string* t_log = nullptr;
// The handle that is running, for the hooks that record a stop (RTL messages, the
// assertion DPI call, a bus timeout).
thread_local rs_sim* t_sim = nullptr;
// The lane this thread clocks: where the hooks record a stop.
struct Lane;
thread_local Lane* t_lane = nullptr;

void record_bus_timeout(uint64_t cycle, uint64_t waited, uint32_t addr, bool write, uint32_t data,
                        uint32_t sel);

struct FatalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// xoshiro256**, seeded with splitmix64: small, fast and the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      w = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // uniform in (0, 1]
  double unit() { return (double)((next() >> 11) + 1) * (1.0 / 9007199254740992.0); }
  // geometric: failures before the first success of a Bernoulli(p) sequence.
  uint64_t gap(double p) {
    constexpr uint64_t kNever = uint64_t{1} << 62;
    if (p <= 0) return kNever;
    if (p >= 1) return 0;
    const double g = std::floor(std::log(unit()) / std::log1p(-p));
    return g >= (double)kNever ? kNever : (uint64_t)g;
  }

  // state gives the generator's state for checkpoints.
  uint64_t* state() { return s_; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

constexpr uint32_t kPorts = RS_PORTS;
constexpr uint32_t kDepth = RS_DEPTH;

// The link ports are one 64-bit value for one port and a VlWide array for more; these are
// templates so that only the matching branch is compiled.
template <typename M>
inline uint64_t get_tx(const M* m, uint32_t p) {
  if constexpr (kPorts == 1) {
    return m->tx_frames_o;
  } else {
    return (uint64_t)m->tx_frames_o[2 * p] | ((uint64_t)m->tx_frames_o[2 * p + 1] << 32);
  }
}

template <typename M>
inline void set_rx(M* m, uint32_t p, uint64_t v) {
  if constexpr (kPorts == 1) {
    m->rx_frames_i = v;
  } else {
    m->rx_frames_i[2 * p] = (uint32_t)v;
    m->rx_frames_i[2 * p + 1] = (uint32_t)(v >> 32);
  }
}

// port_word is where port p's 64 bits of a link port signal start (little-endian words).
template <typename T>
inline auto* port_word(T& sig, uint32_t p) {
  if constexpr (kPorts == 1) {
    return &sig;
  } else {
    return &sig[2 * p];
  }
}

// put_bits and get_bits access a bit range of a Verilated signal of any width: an integer
// type up to 64 bits, or a VlWide array of 32-bit words.
template <typename T>
inline void put_bits(T& sig, uint32_t lsb, uint32_t width, uint64_t v) {
  if constexpr (std::is_integral_v<T>) {
    const uint64_t mask = (width >= 64 ? ~uint64_t{0} : ((uint64_t{1} << width) - 1)) << lsb;
    sig = (T)(((uint64_t)sig & ~mask) | ((v << lsb) & mask));
  } else {
    for (uint32_t b = 0; b < width;) {
      const uint32_t w = (lsb + b) / 32, o = (lsb + b) % 32;
      const uint32_t take = std::min(32 - o, width - b);
      const uint32_t mask = (take == 32 ? ~0u : ((1u << take) - 1)) << o;
      sig[w] = (sig[w] & ~mask) | (((uint32_t)(v >> b) << o) & mask);
      b += take;
    }
  }
}

// any_bits reports whether any bit of a Verilated signal is set.
template <typename T>
inline bool any_bits(const T& sig) {
  if constexpr (std::is_integral_v<T>) {
    return sig != 0;
  } else {
    for (uint32_t w = 0; w < sizeof(sig) / sizeof(sig[0]); ++w) {
      if (sig[w] != 0) return true;
    }
    return false;
  }
}

template <typename T>
inline uint64_t get_bits(const T& sig, uint32_t lsb, uint32_t width) {
  if constexpr (std::is_integral_v<T>) {
    const uint64_t v = (uint64_t)sig >> lsb;
    return width >= 64 ? v : v & ((uint64_t{1} << width) - 1);
  } else {
    uint64_t v = 0;
    for (uint32_t b = 0; b < width;) {
      const uint32_t w = (lsb + b) / 32, o = (lsb + b) % 32;
      const uint32_t take = std::min(32 - o, width - b);
      const uint64_t part = (sig[w] >> o) & (take == 32 ? ~0u : ((1u << take) - 1));
      v |= part << b;
      b += take;
    }
    return v;
  }
}

// kShareBlock is the span of memory that one core's write takes from another: a cache line
// pair, as the adjacent-line prefetchers of x86 cores move two lines at a time.
constexpr size_t kShareBlock = 128;

// LineAlloc allocates a link's delay line in whole kShareBlock blocks of its own, so that the
// lines of two links that lanes on different threads write never share one.
template <typename T>
struct LineAlloc {
  using value_type = T;
  LineAlloc() = default;
  template <typename U>
  LineAlloc(const LineAlloc<U>&) {}
  static size_t bytes(size_t n) { return (n * sizeof(T) + kShareBlock - 1) / kShareBlock * kShareBlock; }
  T* allocate(size_t n) { return static_cast<T*>(::operator new(bytes(n), std::align_val_t(kShareBlock))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(kShareBlock)); }
  template <typename U>
  bool operator==(const LineAlloc<U>&) const { return true; }
  template <typename U>
  bool operator!=(const LineAlloc<U>&) const { return false; }
};

struct Link {
  rs_link cfg;
  // The delay line: the sender writes slot c & mask in cycle c, the receiver reads the one
  // written in cycle c - latency. Its length is a power of two of at least latency + 1
  // slots on one thread, latency + lookahead + 1 with lanes, so that a sender up to an
  // epoch ahead never overwrites a slot before it is read (the rounding can double that:
  // 2^25 slots of 8 bytes, 256 MiB, at the largest latency, 2^24). The slots follow from
  // the cycle, so neither end keeps a head. The real link has no line (one slot).
  // With lanes, the sender's and the receiver's lanes run on different threads: the fault
  // state the sender updates every frame has a block of its own, apart from what both
  // only read (cfg, the line's storage and mask), or every frame would move cache lines
  // between cores.
  std::vector<uint64_t, LineAlloc<uint64_t>> line;
  uint64_t mask = 0;
  // The sender's lane: the faults it injects.
  alignas(kShareBlock) bool faulty = false;
  double flip = 0, zero = 0;
  uint64_t flip_gap = 0;  // bit offset of the next flip from this frame's bit 0
  uint64_t zero_gap = 0;  // frames before the next zeroed frame
  uint64_t flips = 0, zeroed = 0;
  Rng rng{0};

  uint64_t& slot(uint64_t c) { return line[c & mask]; }

  uint64_t inject(uint64_t f) {
    if (zero_gap == 0) {
      f = 0;
      ++zeroed;
      zero_gap = rng.gap(zero);
    } else {
      --zero_gap;
    }
    while (flip_gap < 64) {
      f ^= uint64_t{1} << flip_gap;
      ++flips;
      flip_gap += 1 + rng.gap(flip);
    }
    flip_gap -= 64;
    return f;
  }
};

// A per-port override of the RX input (rs_drive) or recording of the TX output (rs_record).
struct Tap {
  std::vector<uint64_t> frames;
  uint32_t pos = 0;
  bool ended = false;  // a drive ended: the port's input returns to 0 (or its link)
  bool active() const { return pos < frames.size(); }
};

// release_drives returns the inputs of ports whose drive ended to 0; a link, if the port
// has one, overrides that in the same cycle.
template <typename Nodes>
void release_drives(Nodes& nodes);

// The CPU's bus master: executes one batch of operations with Wishbone classic timing.
struct Master {
  std::vector<rs_op> ops;
  std::vector<uint32_t> words;
  std::vector<rs_result> results;
  uint32_t cur = 0;       // operation in progress
  uint32_t word = 0;      // block operations: words done
  uint64_t idle_left = 0;
  uint64_t waited = 0;    // cycles the access on the bus has gone unanswered
  uint64_t bound = 0;     // the access's timeout bound once it waited past RS_BUS_SLACK
  bool busy = false;      // a batch is in flight
  bool done = false;      // a batch completed and was not taken yet
  bool driving = false;   // a request is on the bus
  uint64_t local = 0;     // the node's own cycle being sampled (the real link's; else the cycle)

  void start_op() {
    word = 0;
    idle_left = ops[cur].kind == RS_OP_IDLE ? ops[cur].count : 0;
  }

  void drive(Vnode* m) {
    // idle_left is non-zero during an idle operation and between the reads of a poll.
    if (!busy || idle_left) {
      if (driving) {
        m->wb_cyc_i = 0;
        m->wb_stb_i = 0;
        driving = false;
      }
      return;
    }
    const rs_op& op = ops[cur];
    m->wb_cyc_i = 1;
    m->wb_stb_i = 1;
    driving = true;
    switch (op.kind) {
      case RS_OP_READ:
      case RS_OP_POLL:
        m->wb_we_i = 0;
        m->wb_adr_i = op.addr;
        break;
      case RS_OP_WRITE:
        m->wb_we_i = 1;
        m->wb_adr_i = op.addr;
        m->wb_dat_i = op.data;
        m->wb_sel_i = op.sel;
        break;
      case RS_OP_READ_BLOCK:
        m->wb_we_i = 0;
        m->wb_adr_i = op.addr + 4 * word;
        break;
      case RS_OP_WRITE_BLOCK:
        m->wb_we_i = 1;
        m->wb_adr_i = op.addr + 4 * word;
        m->wb_dat_i = words[op.off + word];
        m->wb_sel_i = 0xF;
        break;
    }
  }

  // access describes the access on the bus.
  void access(uint32_t* addr, bool* write, uint32_t* data, uint32_t* sel) const {
    const rs_op& op = ops[cur];
    *addr = op.addr;
    *write = false;
    *data = 0;
    *sel = 0;
    switch (op.kind) {
      case RS_OP_WRITE:
        *write = true;
        *data = op.data;
        *sel = op.sel;
        break;
      case RS_OP_READ_BLOCK:
        *addr = op.addr + 4 * word;
        break;
      case RS_OP_WRITE_BLOCK:
        *addr = op.addr + 4 * word;
        *write = true;
        *data = words[op.off + word];
        *sel = 0xF;
        break;
    }
  }

  // unanswered is called for each cycle past RS_BUS_SLACK in which the access on the bus got
  // neither ACK nor ERR. Once the access has waited longer than its bound (the SPEC's
  // latency for it, at least RS_BUS_SLACK), it records a bus timeout, which ends the run at
  // the end of the cycle. Only clear_at_count stalls come here without failing; their bound
  // is worked out once per access.
  void unanswered(uint64_t c) {
    uint32_t addr, data, sel;
    bool write;
    access(&addr, &write, &data, &sel);
    if (bound == 0) {
      const uint64_t lat = (uint64_t)rs_regmap_latency(kDepth, kPorts, addr, write);
      bound = lat > RS_BUS_SLACK ? lat : RS_BUS_SLACK;
    }
    if (waited > bound) record_bus_timeout(c, waited, addr, write, data, sel);
  }

  // sample returns true when the batch completed in cycle c. It reads the response from
  // the wrapper's combinational outputs (after the clock-low evaluation) or, with kSampled,
  // from the copy registered at the edge (after the fast loop's one evaluation).
  template <bool kSampled = false>
  bool sample(const Vnode* m, uint64_t c) {
    if (!busy) return false;
    const rs_op& op = ops[cur];
    rs_result& r = results[cur];
    if (op.kind == RS_OP_IDLE) {
      if (--idle_left != 0) return false;
      return complete(r, c);
    }
    if (idle_left) {  // a poll between reads
      --idle_left;
      return false;
    }
    if (kSampled ? m->sampled_err_o : m->wb_err_o) {
      waited = bound = 0;
      r.err = 1;
      r.words = word;
      return complete(r, c);
    }
    if (!(kSampled ? m->sampled_ack_o : m->wb_ack_o)) {
      if (VL_UNLIKELY(++waited > RS_BUS_SLACK)) unanswered(c);
      return false;
    }
    waited = bound = 0;
    switch (op.kind) {
      case RS_OP_READ:
        r.data = kSampled ? m->sampled_dat_o : m->wb_dat_o;
        return complete(r, c);
      case RS_OP_WRITE:
        return complete(r, c);
      case RS_OP_POLL: {
        r.data = kSampled ? m->sampled_dat_o : m->wb_dat_o;
        ++r.words;
        const bool eq = (r.data & op.mask) == op.data;
        if (eq == (op.sel == RS_POLL_EQ) || r.words == op.count) return complete(r, c);
        idle_left = op.interval;
        return false;
      }
      case RS_OP_READ_BLOCK:
        words[op.off + word] = kSampled ? m->sampled_dat_o : m->wb_dat_o;
        [[fallthrough]];
      default:
        if (++word < op.count) return false;
        r.words = word;
        return complete(r, c);
    }
  }

  // min_left is a lower bound of the samples before the batch can complete (it completes
  // in the min_left-th cycle from now at the earliest), counted up to cap; UINT64_MAX
  // without a batch. Every operation but IDLE can end in one cycle (an ERR).
  uint64_t min_left(uint64_t cap) const {
    if (!busy) return UINT64_MAX;
    const rs_op& op = ops[cur];
    uint64_t k = op.kind == RS_OP_IDLE ? idle_left : idle_left + 1;  // a poll between reads
    for (size_t i = cur + 1; i < ops.size() && k < cap; ++i) {
      k += ops[i].kind == RS_OP_IDLE ? ops[i].count : 1;
    }
    return k;
  }

  bool complete(rs_result& r, uint64_t c) {
    r.cycle = c;
    r.local = local;
    if (++cur < ops.size()) {
      start_op();
      return false;
    }
    busy = false;
    done = true;
    return true;
  }
};

// A node's and a lane's state are written every cycle by the lane's thread: each starts a
// block of its own, so that neighbours in their vectors on other lanes do not share one.
struct alignas(kShareBlock) Node {
  std::unique_ptr<Vnode> m;
  VerilatedContext* ctx = nullptr;  // its lane's
  uint64_t release = 0;
  bool in_reset = true;
  Master master;
  // The real link: the links into and out of this node (indexes of rs_sim::links).
  std::vector<uint32_t> in_links, out_links;
  // The real link: the wrapper's auto-centre outputs (enable, margin) as the node's
  // incoming links last took them; only a bus write changes them, so an edge compares the
  // raw signals instead of decoding every port's (ac_outputs_changed).
  std::array<uint32_t, 40> ac_seen{};
  bool ac_seen_valid = false;
  // Backdoor variables, found by hierarchical name (nullptr: not available).
  struct Port {
    std::string tx_scope, rx_scope;  // hierarchical names of the ring buffers
    VerilatedVar* tx_mem = nullptr;
    VerilatedVar* tx_enable = nullptr;
    VerilatedVar* tx_count = nullptr;
    VerilatedVar* rx_mem = nullptr;
    VerilatedVar* rx_enable = nullptr;
    VerilatedVar* rx_count = nullptr;
    Tap drive, record;
  };
  std::vector<Port> ports;
};

// SendOp and RecvOp are a link's ends on the ideal link, as the lane that clocks the end's
// node uses them every cycle: pointers straight to the model's port (its 64 bits are two
// adjacent words of tx_frames_o / rx_frames_i) and to the delay line.
struct SendOp {
  const void* tx;
  uint64_t* line;
  uint64_t mask;
  Link* link;  // its fault state
};

struct RecvOp {
  void* rx;
  const uint64_t* line;
  uint64_t mask;
  uint64_t latency;
};

// A lane is the nodes one thread clocks, with their own Verilator context (models in one
// context must not be evaluated by two threads at once) and what the hooks record.
struct alignas(kShareBlock) Lane {
  VerilatedContext* ctx = nullptr;      // rs_sim::ctx for the first lane, else one of ctxs
  uint32_t first = 0, last = 0;         // nodes [first, last)
  std::vector<SendOp> sends;            // the ends of the links whose sender is in the lane
  std::vector<RecvOp> recvs;            // and of those whose receiver is
  rs_stop stop{};                       // the lane's first stop
  uint32_t stop_phase = 0;              // 0: clock low (bus), 1: clock edge
  uint64_t stop_unit = 0;               // the unit the stop was recorded in
  int32_t cur_node = -1;                // the node being evaluated
  uint32_t phase = 0;
  uint64_t unit = 0;                    // counts the cycles (ideal link) or edges (real) run
  std::string own_log;                  // lanes but the first collect output here
  std::string* log = &own_log;
  std::vector<uint64_t> done;           // batches completed in the epoch
  uint64_t end = 0;                     // the next cycle after the lane's epoch
  bool finished = false;                // the lane's RTL stopped
  std::string fatal;                    // Verilator's runtime gave up on this lane
};

// Pool runs the lanes but the first on threads of their own, one epoch at a time.
struct Pool {
  std::vector<std::thread> threads;
  // What the caller's thread writes and the workers read while they wait, then what the
  // workers write and the caller reads while it waits, in blocks of their own.
  alignas(kShareBlock) std::atomic<uint64_t> gen{0};  // bumped to start an epoch
  uint64_t c0 = 0, n = 0;                             // the epoch: cycles [c0, c0 + n)
  std::atomic<bool> quit{false};
  alignas(kShareBlock) std::atomic<uint32_t> pending{0};  // lanes still running the epoch
  std::atomic<uint32_t> sleepers{0};
  alignas(kShareBlock) std::mutex mu;
  std::condition_variable cv;
};

}  // namespace

#include "reallink.h"

struct rs_sim {
  std::unique_ptr<VerilatedContext> ctx;
  std::vector<Node> nodes;
  std::vector<Link> links;
  uint64_t cycle = 0;
  uint64_t period_ps = 8000;
  uint32_t taps = 0;  // active drive/record taps: take the slow path while non-zero
  bool stopped = false;
  rs_stop stop{};         // the first stop (kind RS_STOP_NONE until one happens)
  // The lanes (one unless rs_config.threads > 1); lanes[0] is the caller's thread and owns
  // ctx. lookahead is the smallest link latency.
  std::vector<Lane> lanes;
  std::vector<std::unique_ptr<VerilatedContext>> ctxs;  // the other lanes' contexts
  uint64_t lookahead = 0;
  std::unique_ptr<Pool> pool;
  bool completed = false;  // the last loop ended in a cycle in which a batch completed
  uint64_t parallel_cycles = 0;  // cycles the lanes ran on their threads (rs_parallel_cycles)
  std::string saved;  // the last rs_save's checkpoint
  std::string log;
  std::string error;
#if VM_TRACE
  std::unique_ptr<VerilatedFstC> fst;
  std::string fst_path;
  uint64_t last_dump = 0;  // the real link's last dump time (fs), kept monotonic
#endif
  // The real link (SPEC section 8); `real` false means the ideal link.
  bool real = false;
  std::vector<NodeClock> clocks;    // per node
  std::vector<uint32_t> edge_order;  // real_loop's nodes by next edge (scratch)
  std::vector<RealLinkState> rl;    // per link
  std::vector<Transition> transitions;  // link ups and downs, in time order
  size_t next_transition = 0;
  std::vector<rs_event> events;
  uint32_t eb_depth = 32;
  bool control = false;
  double step_ppm = 0.01, gain = 2e-8;
  uint64_t update_cycles = 25000;
  bool nodata_random = true;
  Rng nodata_rng{0};
};

namespace {

void copy_str(char* dst, size_t n, const char* src) { snprintf(dst, n, "%s", src ? src : ""); }

// last_line returns the last non-empty line of a log.
std::string last_line(const std::string& log) {
  size_t end = log.size();
  while (end > 0 && log[end - 1] == '\n') --end;
  size_t start = end;
  while (start > 0 && log[start - 1] != '\n') --start;
  return log.substr(start, end - start);
}

// kOneEval: the loops clock a node with one evaluation per cycle (clock_cycle; real_edge)
// instead of two (clock low, then the edge): the wrapper's tick_i toggles, its clock rises
// with the cycle's inputs and falls again in the same evaluation, and the harness reads
// what it samples before the edge (the bus response, the link registers' pulses) from the
// copies the wrapper registered at the edge (ringsim_top.sv). The design's behaviour is the
// same (TestThreadsSameResults and TestRealLinkOneEvaluation compare the two, and `ringsim
// run`'s golden bytes were made with two). Only models without assertions do this (`ringsim
// run`, sweeps; not the gate and the tests that break the RTL on purpose), for two reasons:
// a concurrent assertion samples its values before the evaluation, which now is before the
// cycle's bus inputs (IEEE sampling of inputs that change in the edge's time step;
// ReadLatencyOne_A then fails on correct RTL); and a stop the RTL raises in combinational
// logic (the clock-low half) is recorded as the edge's, so stops raised in one cycle by
// different nodes, or by a node's RTL and another's bus, could be reported in another order
// than two evaluations report them (ringsim's RTL raises none without assertions; a bus
// timeout still comes first: begin_stop). The slow path (a waveform, which shows clk_i;
// drives and recordings) takes two evaluations.
constexpr bool kOneEval = !RS_ASSERTS;

// begin_stop starts recording a stop of the given kind in the running handle's cycle and
// node; it returns nullptr if a stop was recorded already (the first one is kept). Where
// one evaluation does a clock-low half and an edge, the edge's stops are recorded before
// the clock-low half's bus timeout; so a clock-low stop replaces an edge stop recorded in
// the same unit (cycle or edge): the stop kept is the one two evaluations record first.
rs_stop* begin_stop(uint32_t kind) {
  Lane* l = t_lane;
  if (!t_sim || !l) return nullptr;
  if (l->stop.kind != RS_STOP_NONE) {
    if (l->phase >= l->stop_phase || l->unit != l->stop_unit) return nullptr;
    l->stop = rs_stop{};
  }
  rs_stop* st = &l->stop;
  st->kind = kind;
  st->node = l->cur_node;
  st->port = -1;
  st->device = RS_DEV_NONE;
  st->cycle = Verilated::threadContextp()->time();  // the loops keep $time at the cycle
  l->stop_phase = l->phase;
  l->stop_unit = l->unit;
  return st;
}

void record_bus_timeout(uint64_t cycle, uint64_t waited, uint32_t addr, bool write, uint32_t data,
                        uint32_t sel) {
  rs_stop* st = begin_stop(RS_STOP_BUS_TIMEOUT);
  if (st) {
    st->cycle = cycle;
    st->presented = cycle + 1 - waited;
    st->latency = (uint64_t)rs_regmap_latency(kDepth, kPorts, addr, write);
    st->addr = addr;
    st->write = write;
    st->data = data;
    st->sel = sel;
    snprintf(st->message, sizeof st->message,
             "%s of %#x presented in cycle %llu got neither ACK nor ERR by cycle %llu",
             write ? "write" : "read", addr, (unsigned long long)st->presented,
             (unsigned long long)cycle);
  }
  // Verilator's flag ends run_loop at the end of this cycle, as an RTL stop does.
  Verilated::threadContextp()->gotFinish(true);
}

// The formats of Verilator 5.006's runtime (verilated.cpp) for $stop (which $error, $fatal
// and failed assertions end in) and $finish: their arguments are the file and line.
constexpr const char* kStopFormat = "%%Error: %s:%d: %s\n";
constexpr const char* kFinishFormat = "- %s:%d: Verilog $finish\n";

// runtime_stop records a $stop or $finish from the arguments of Verilator's message.
void runtime_stop(const char* fmt, va_list ap) {
  const bool finish = std::strcmp(fmt, kFinishFormat) == 0;
  if (!finish && std::strcmp(fmt, kStopFormat) != 0) return;
  const std::string before = t_log ? last_line(*t_log) : "";
  rs_stop* st = begin_stop(finish ? RS_STOP_FINISH : RS_STOP_ERROR);
  if (!st) return;
  va_list aq;
  va_copy(aq, ap);
  const char* file = va_arg(aq, const char*);
  const int line = va_arg(aq, int);
  va_end(aq);
  copy_str(st->file, sizeof st->file, file);
  st->line = line > 0 ? (uint32_t)line : 0;
  if (finish) {
    copy_str(st->message, sizeof st->message, "$finish");
    return;
  }
  // The line before is the RTL's own message: "[t] %Error: file:line: Assertion failed in
  // scope: text"; keep what follows its file and line.
  std::string msg = before;
  std::string path = file ? file : "";
  for (int k = 0; k < 2; ++k) {  // the message may give the path or its base name
    const std::string at = path + ":" + std::to_string(line) + ": ";
    const size_t i = msg.find(at);
    if (i != std::string::npos) {
      msg = msg.substr(i + at.size());
      break;
    }
    path = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  }
  if (msg.empty()) msg = "Verilog $stop";
  copy_str(st->message, sizeof st->message, msg.c_str());
}

}  // namespace

// Verilator's hooks: collect output, turn fatal errors into exceptions (instead of abort()).
extern "C" int rs_vl_printf(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  if (t_sim && t_lane && t_lane->stop.kind == RS_STOP_NONE) runtime_stop(fmt, ap);
  const int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (t_log && t_log->size() < (1u << 16)) t_log->append(buf);
  return n;
}

void vl_fatal(const char* filename, int linenum, const char* hier, const char* msg) {
  (void)hier;
  Verilated::threadContextp()->gotError(true);
  Verilated::threadContextp()->gotFinish(true);
  if (rs_stop* st = begin_stop(RS_STOP_FATAL)) {
    copy_str(st->file, sizeof st->file, filename);
    st->line = linenum > 0 ? (uint32_t)linenum : 0;
    copy_str(st->message, sizeof st->message, msg);
  }
  std::string s = "fatal: ";
  if (filename && filename[0]) s += std::string(filename) + ":" + std::to_string(linenum) + ": ";
  s += msg ? msg : "";
  throw FatalError(s);
}

// ringsim_assert_failed is the DPI-C function rtl/ringsim_assert.svh calls when a named
// assertion fails, before its $error: it records the typed stop. scope is the assertion's
// %m, which ends in its name.
extern "C" void ringsim_assert_failed(const char* name, const char* msg, const char* file, int line,
                                      const char* scope) {
  // A failed assertion stops the simulation at the end of this cycle, even if no $error
  // follows the call.
  if (t_sim) Verilated::threadContextp()->gotFinish(true);
  rs_stop* st = begin_stop(RS_STOP_ASSERTION);
  if (!st) return;
  copy_str(st->name, sizeof st->name, name);
  copy_str(st->message, sizeof st->message, msg);
  copy_str(st->file, sizeof st->file, file);
  st->line = line > 0 ? (uint32_t)line : 0;
  std::string sc = scope ? scope : "";
  const std::string suffix = std::string(".") + (name ? name : "");
  if (sc.size() > suffix.size() && sc.compare(sc.size() - suffix.size(), suffix.size(), suffix) == 0) {
    sc.resize(sc.size() - suffix.size());
  }
  copy_str(st->scope, sizeof st->scope, sc.c_str());
  // A ring buffer's scope names its node and port (the names rs_new looked up).
  const rs_sim* s = t_sim;
  for (size_t n = 0; n < s->nodes.size(); ++n) {
    for (uint32_t p = 0; p < kPorts; ++p) {
      const Node::Port& port = s->nodes[n].ports[p];
      if (sc == port.tx_scope || sc == port.rx_scope) {
        st->node = (int32_t)n;
        st->port = (int32_t)p;
        st->device = sc == port.tx_scope ? RS_DEV_TX : RS_DEV_RX;
      }
    }
  }
}

namespace {

// Guard sets the thread's context, log and handle for the duration of an API call.
struct Guard {
  explicit Guard(rs_sim* s) {
    t_log = &s->log;
    t_sim = s;
    t_lane = s->lanes.empty() ? nullptr : &s->lanes[0];
    Verilated::threadContextp(s->ctx.get());
  }
  ~Guard() {
    t_log = nullptr;
    t_sim = nullptr;
    t_lane = nullptr;
  }
};

int fail(rs_sim* s, int code, const std::string& msg) {
  s->error = msg;
  return code;
}

VerilatedVar* find_var(VerilatedContext* ctx, const std::string& scope, const char* var) {
  const VerilatedScope* sc = ctx->scopeFind(scope.c_str());
  if (!sc) return nullptr;
  return sc->varFind(var);
}

uint64_t read_scalar(const VerilatedVar* v) {
  switch (v->vltype()) {
    case VLVT_UINT8: return *(const uint8_t*)v->datap();
    case VLVT_UINT16: return *(const uint16_t*)v->datap();
    case VLVT_UINT32: return *(const uint32_t*)v->datap();
    case VLVT_UINT64: return *(const uint64_t*)v->datap();
    default: return 0;
  }
}

void write_scalar(const VerilatedVar* v, uint64_t x) {
  switch (v->vltype()) {
    case VLVT_UINT8: *(uint8_t*)v->datap() = (uint8_t)x; break;
    case VLVT_UINT16: *(uint16_t*)v->datap() = (uint16_t)x; break;
    case VLVT_UINT32: *(uint32_t*)v->datap() = (uint32_t)x; break;
    case VLVT_UINT64: *(uint64_t*)v->datap() = x; break;
    default: break;
  }
}

bool is_mem(const VerilatedVar* v) {
  return v && v->vltype() == VLVT_UINT64 && v->udims() == 1 &&
         (uint32_t)v->unpacked().elements() == kDepth;
}

bool is_scalar(const VerilatedVar* v) {
  return v && v->udims() == 0 &&
         (v->vltype() == VLVT_UINT8 || v->vltype() == VLVT_UINT16 ||
          v->vltype() == VLVT_UINT32 || v->vltype() == VLVT_UINT64);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

bool any_finish(const rs_sim* s) {
  for (const Lane& l : s->lanes) {
    if (l.ctx->gotFinish()) return true;
  }
  return false;
}

// exchange moves the frames of cycle c over the lane's links: every TX port's frame into
// its link's delay line (with the link's faults), then every RX port's frame of c - latency
// out of it. All sends come first, for links of latency 0.
inline void exchange_sends(const Lane& lane, uint64_t c) {
  for (const SendOp& o : lane.sends) {
    uint64_t f;
    std::memcpy(&f, o.tx, sizeof f);
    if (VL_UNLIKELY(o.link->faulty)) f = o.link->inject(f);
    o.line[c & o.mask] = f;
  }
}

inline void exchange_recvs(const Lane& lane, uint64_t c) {
  for (const RecvOp& o : lane.recvs) std::memcpy(o.rx, &o.line[(c - o.latency) & o.mask], 8);
}

inline void exchange(const Lane& lane, uint64_t c) {
  exchange_sends(lane, c);
  exchange_recvs(lane, c);
}

// present starts node nd's cycle c on the ideal link: it leaves reset at its release, and
// its bus master presents its request.
inline void present(Node& nd, Vnode* m, uint64_t c) {
  if (nd.in_reset && c >= nd.release) {
    nd.in_reset = false;
    m->rst_ni = 1;
  }
  if (!nd.in_reset) nd.master.drive(m);
}

// clock_low is node k's clock-low half of cycle c on the ideal link: it leaves reset at its
// release, presents its bus master's request, evaluates, and samples the response; it
// reports whether the node's batch completed. run_loop and lane_epoch share it.
inline bool clock_low(Node& nd, Lane& lane, uint32_t k, uint64_t c) {
  Vnode* m = nd.m.get();
  lane.cur_node = (int32_t)k;
  present(nd, m, c);
  m->clk_i = 0;
  m->eval();
  nd.master.local = c;
  return !nd.in_reset && nd.master.sample(m, c);
}

// clock_high is node k's clock edge.
inline void clock_high(Node& nd, Lane& lane, uint32_t k) {
  Vnode* m = nd.m.get();
  lane.cur_node = (int32_t)k;
  m->clk_i = 1;
  m->eval();
}

// clock_cycle is node k's cycle c on the ideal link with one evaluation (kOneEval); it
// reports whether the node's batch completed.
inline bool clock_cycle(Node& nd, Lane& lane, uint32_t k, uint64_t c) {
  Vnode* m = nd.m.get();
  lane.cur_node = (int32_t)k;
  present(nd, m, c);
  if (VL_UNLIKELY(m->clk_i)) {  // the two-evaluation loop ran last: its clock is high
    lane.phase = 0;
    m->clk_i = 0;
    m->eval();
  }
  lane.phase = 1;
  m->tick_i = !m->tick_i;
  m->eval();
  lane.phase = 0;  // the master's sample belongs to the clock-low half
  nd.master.local = c;
  return !nd.in_reset && nd.master.sample<true>(m, c);
}

// run_loop clocks every node on the calling thread (one lane, or the slow path).
template <bool kSlow>
int64_t run_loop(rs_sim* s, uint64_t until, uint64_t* done) {
  const uint64_t first = s->cycle;
  uint64_t c = s->cycle;
  Node* const nodes = s->nodes.data();
  const size_t nn = s->nodes.size();
  Lane& lane = s->lanes[0];
  bool finished = false;
  while (c < until && !finished) {
    ++lane.unit;
    for (Lane& l : s->lanes) l.ctx->time(c);  // $time in RTL messages is the cycle number
    if constexpr (kSlow) release_drives(s->nodes);
    // 1. Links: every lane's sends, then receives (the slow path runs every lane here).
    for (const Lane& l : s->lanes) exchange_sends(l, c);
    for (const Lane& l : s->lanes) exchange_recvs(l, c);
    if constexpr (kSlow) {
      for (size_t n = 0; n < nn; ++n) {
        for (uint32_t p = 0; p < kPorts; ++p) {
          Node::Port& port = nodes[n].ports[p];
          if (port.record.active()) {
            port.record.frames[port.record.pos++] = get_tx(nodes[n].m.get(), p);
            if (!port.record.active()) --s->taps;
          }
          if (port.drive.active()) {
            set_rx(nodes[n].m.get(), p, port.drive.frames[port.drive.pos++]);
            if (!port.drive.active()) {
              --s->taps;
              port.drive.ended = true;
            }
          }
        }
      }
    }
    if constexpr (kOneEval && !kSlow) {
      // 2-4 in one evaluation per node.
      for (size_t n = 0; n < nn; ++n) {
        if (clock_cycle(nodes[n], lane, (uint32_t)n, c)) {
          done[n >> 6] |= uint64_t{1} << (n & 63);
          finished = true;
          s->completed = true;
        }
      }
    } else {
      // 2, 3. Requests, clock low, responses.
      lane.phase = 0;
      for (size_t n = 0; n < nn; ++n) {
        if (clock_low(nodes[n], lane, (uint32_t)n, c)) {
          done[n >> 6] |= uint64_t{1} << (n & 63);
          finished = true;
          s->completed = true;
        }
      }
#if VM_TRACE
      if constexpr (kSlow) {
        if (s->fst) s->fst->dump(c * s->period_ps);
      }
#endif
      // 4. Clock edge.
      lane.phase = 1;
      for (size_t n = 0; n < nn; ++n) clock_high(nodes[n], lane, (uint32_t)n);
#if VM_TRACE
      if constexpr (kSlow) {
        if (s->fst) s->fst->dump(c * s->period_ps + s->period_ps / 2);
      }
#endif
    }
    ++c;
    if (VL_UNLIKELY(any_finish(s))) {
      s->stopped = true;
      break;
    }
  }
  s->cycle = c;
  return (int64_t)(c - first);
}

// lane_epoch clocks a lane's nodes through cycles [c0, c0 + n), as run_loop does for all
// nodes: the lane sends on the links it drives and receives on those it ends. It stops
// early at the end of a cycle in which its RTL stopped or a batch completed.
void lane_epoch(rs_sim* s, Lane& lane, uint64_t c0, uint64_t n) {
  Node* const nodes = s->nodes.data();
  std::fill(lane.done.begin(), lane.done.end(), 0);
  const uint64_t end = c0 + n;
  uint64_t c = c0;
  bool completed = false;
  try {
  while (c < end && !completed) {
    ++lane.unit;
    lane.ctx->time(c);
    exchange(lane, c);
    if constexpr (kOneEval) {
      for (uint32_t k = lane.first; k < lane.last; ++k) {
        if (clock_cycle(nodes[k], lane, k, c)) {
          lane.done[k >> 6] |= uint64_t{1} << (k & 63);
          completed = true;
        }
      }
    } else {
      lane.phase = 0;
      for (uint32_t k = lane.first; k < lane.last; ++k) {
        if (clock_low(nodes[k], lane, k, c)) {
          lane.done[k >> 6] |= uint64_t{1} << (k & 63);
          completed = true;
        }
      }
      lane.phase = 1;
      for (uint32_t k = lane.first; k < lane.last; ++k) clock_high(nodes[k], lane, k);
    }
    ++c;
    if (VL_UNLIKELY(lane.ctx->gotFinish())) {
      lane.finished = true;
      break;
    }
  }
  } catch (const FatalError& e) {  // Verilator gave up in cycle c
    lane.finished = true;
    lane.fatal = e.what();
    ++c;
  }
  lane.end = c;
}

// worker clocks lane li on its own thread, one epoch per bump of the pool's generation. It
// spins a little between epochs (they follow each other closely within a run) and then
// sleeps until the next.
void worker(rs_sim* s, uint32_t li) {
  Lane& lane = s->lanes[li];
  Pool& pool = *s->pool;
  t_sim = s;
  t_lane = &lane;
  t_log = lane.log;
  Verilated::threadContextp(lane.ctx);
  uint64_t seen = 0;
  for (;;) {
    uint64_t g;
    for (uint32_t spins = 0; (g = pool.gen.load(std::memory_order_acquire)) == seen;) {
      if (pool.quit.load(std::memory_order_acquire)) return;
      if (++spins < 4096) {
        cpu_relax();
        continue;
      }
      std::unique_lock<std::mutex> lk(pool.mu);
      pool.sleepers.fetch_add(1);
      pool.cv.wait(lk, [&] { return pool.gen.load() != seen || pool.quit.load(); });
      pool.sleepers.fetch_sub(1);
      spins = 0;
    }
    if (pool.quit.load(std::memory_order_acquire)) return;
    seen = g;
    lane_epoch(s, lane, pool.c0, pool.n);
    pool.pending.fetch_sub(1, std::memory_order_acq_rel);
  }
}

// lanes_loop clocks the lanes in epochs until cycle until, a stop, or the end of a cycle in
// which a batch completed.
// kParallelSpan is the fewest cycles worth handing to the lanes: below it (a batch about to
// complete, a short run between firmware steps) waking the other threads costs more than
// they save, and the caller's thread clocks every node itself.
constexpr uint64_t kParallelSpan = 2048;

int64_t lanes_loop(rs_sim* s, uint64_t until, uint64_t* done) {
  const uint64_t first = s->cycle;
  Pool& pool = *s->pool;
  const uint32_t nl = (uint32_t)s->lanes.size();
  uint64_t c = s->cycle;
  while (c < until) {
    uint64_t span = std::min(until - c, kParallelSpan);
    for (const Node& nd : s->nodes) span = std::min(span, nd.master.min_left(span));
    if (span < kParallelSpan) {
      s->completed = false;
      s->cycle = c;
      run_loop<false>(s, c + span, done);
      c = s->cycle;
      if (s->stopped || s->completed) break;
      continue;
    }
    uint64_t n = std::min(until - c, s->lookahead);
    for (const Node& nd : s->nodes) n = std::min(n, nd.master.min_left(n));
    pool.c0 = c;
    pool.n = n;
    s->parallel_cycles += n;
    pool.pending.store(nl - 1, std::memory_order_relaxed);
    pool.gen.fetch_add(1, std::memory_order_acq_rel);
    if (pool.sleepers.load()) {
      std::lock_guard<std::mutex> lk(pool.mu);
      pool.cv.notify_all();
    }
    std::string fatal;
    lane_epoch(s, s->lanes[0], c, n);
    // Spin while the other lanes are likely still busy; yield once that looks unlikely (a
    // loaded machine: spinning would take the CPU from the lane waited for).
    for (uint32_t spins = 0; pool.pending.load(std::memory_order_acquire) != 0;) {
      if (++spins < 4096) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
    uint64_t end = c + n;
    bool completed = false;
    for (Lane& l : s->lanes) {
      if (l.finished) {
        s->stopped = true;
        end = std::min(end, l.end);
        if (fatal.empty() && !l.fatal.empty()) fatal = l.fatal;
      }
      for (size_t w = 0; w < l.done.size(); ++w) {
        if (l.done[w]) {
          done[w] |= l.done[w];
          completed = true;
        }
      }
    }
    if (!fatal.empty()) {
      s->cycle = end;
      throw FatalError(fatal);
    }
    if (completed && !s->stopped) {
      // min_left makes the epoch end in the first cycle a batch can complete in, so every
      // lane stopped in that cycle.
      for (const Lane& l : s->lanes) {
        if (l.end != s->lanes[0].end) throw FatalError("internal error: lanes ended an epoch apart");
      }
      end = s->lanes[0].end;
    }
    c = end;
    if (s->stopped || completed) break;
  }
  s->cycle = c;
  return (int64_t)(c - first);
}


// ---------------------------------------------------------------------------------------
// The real link (reallink.h).
// ---------------------------------------------------------------------------------------

// real_transitions applies the link ups and downs due by time t.
void real_transitions(rs_sim* s, t128 t) {
  while (s->next_transition < s->transitions.size() && s->transitions[s->next_transition].at <= t) {
    const Transition& tr = s->transitions[s->next_transition++];
    RealLinkState& r = s->rl[tr.link];
    if (tr.up == r.up) continue;
    r.up = tr.up;
    ++r.ver;
    r.reset_buffer();
    r.captured = false;  // the capture belonged to the link-up that just ended, or re-arms
    rs_event ev{};
    ev.cycle = whole(tr.at);
    ev.kind = tr.up ? RS_EV_LINK_UP : RS_EV_LINK_DOWN;
    ev.node = s->links[tr.link].cfg.dst_node;
    ev.port = tr.link;
    s->events.push_back(ev);
    if (tr.up) {
      // A transceiver that comes (back) up: the sender's next frame is its counter, UGN
      // capture re-arms, the domain difference restarts.
      r.first = true;
      r.captured = false;
      r.ddc = 0;
      r.shift = 0;
      r.up_cycle = whole(tr.at);
    }
  }
}

// adjust applies an elastic buffer adjustment: positive fills (no-data cycles), negative
// drains (incoming frames dropped).
void adjust(rs_sim* s, uint32_t li, int64_t frames, uint32_t source, uint64_t cycle, uint64_t local) {
  RealLinkState& r = s->rl[li];
  if (frames == 0) return;
  if (frames > 0) r.fill += frames; else r.drain += -frames;
  ++r.adjustments;
  if (source == 0) r.ac_total += (int32_t)frames;
  ++r.ver;
  rs_event ev{};
  ev.cycle = cycle;
  ev.local = local;
  ev.kind = RS_EV_ADJUST;
  ev.node = s->links[li].cfg.dst_node;
  ev.port = s->links[li].cfg.dst_port;
  ev.frames = (int32_t)frames;
  ev.source = source;
  s->events.push_back(ev);
}

// clock_update is a node's clock-control period: drift, and a step towards gain times the
// sum of its links' domain differences (callisto.rs:71-82).
void clock_update(rs_sim* s, uint32_t n, t128 t) {
  NodeClock& ck = s->clocks[n];
  const double secs = (double)whole(t) * (double)s->period_ps * 1e-12;
  if (s->control) {
    double sum = ck.bias;
    for (uint32_t li : s->nodes[n].in_links) {
      const RealLinkState& r = s->rl[li];
      if (r.up && r.primed) sum += (double)r.ddc;
    }
    const double want = s->gain * sum;
    const double have = s->step_ppm * 1e-6 * (double)ck.requests;
    if (want > have) ++ck.requests;
    else if (want < have) --ck.requests;
  }
  ck.ppm = ck.base_ppm + ck.drift * secs + s->step_ppm * (double)ck.requests;
  ck.set_period();
  rs_event ev{};
  ev.cycle = whole(t);
  ev.local = ck.local;
  ev.kind = RS_EV_CLOCK;
  ev.node = n;
  ev.ppm = ck.ppm;
  s->events.push_back(ev);
}

// ac_outputs_changed reports whether node nd's wrapper changed its auto-centre outputs
// since the node's links last took them, and remembers them.
template <typename M>
bool ac_outputs_changed(Node& nd, const M* m) {
  constexpr size_t a = sizeof(m->ac_enable_o), b = sizeof(m->ac_margin_o);
  static_assert(a + b <= sizeof(nd.ac_seen), "ac_seen too small for the wrapper's outputs");
  unsigned char* seen = reinterpret_cast<unsigned char*>(nd.ac_seen.data());
  if (nd.ac_seen_valid && std::memcmp(seen, &m->ac_enable_o, a) == 0 && std::memcmp(seen + a, &m->ac_margin_o, b) == 0) {
    return false;
  }
  std::memcpy(seen, &m->ac_enable_o, a);
  std::memcpy(seen + a, &m->ac_margin_o, b);
  nd.ac_seen_valid = true;
  return true;
}

// real_pulses applies the wrapper's pulses of a bus write in node nd's cycle k (global
// cycle gc): eb_adjust writes and sticky-flag clears, per port.
template <typename V, typename W>
void real_pulses(rs_sim* s, const Node& nd, const V& valid, const W& value, const V& clear, uint64_t gc,
                 uint64_t k) {
  if (VL_LIKELY(!any_bits(valid) && !any_bits(clear))) return;
  for (uint32_t li : nd.in_links) {
    const uint32_t p = s->rl[li].dst_port;
    if (get_bits(valid, p, 1)) adjust(s, li, (int64_t)(int32_t)get_bits(value, 32 * p, 32), 1, gc, k);
    if (get_bits(clear, p, 1)) {
      s->rl[li].underflow = s->rl[li].overflow = false;
      ++s->rl[li].ver;
    }
  }
}

// real_edge processes node n's clock edge at time t: its links' frames out and in, its
// bus master, the evaluation, and its clock.
template <bool kTrace>
bool real_edge(rs_sim* s, uint32_t n, t128 t, uint64_t* done) {
  Node& nd = s->nodes[n];
  NodeClock& ck = s->clocks[n];
  Vnode* m = nd.m.get();
  const uint64_t k = ck.local;
  const uint64_t gc = whole(t);
  Lane& lane = s->lanes[0];
  lane.cur_node = (int32_t)n;
  ++lane.unit;
  lane.phase = 0;
  s->ctx->time(k);  // $time in RTL messages: the node's own cycle
  if (nd.in_reset && t >= at_cycle(nd.release)) {
    nd.in_reset = false;
    m->rst_ni = 1;
    ck.released = true;
    ck.rel_local = k;
  }
  // 1. Out: each link samples the TX register (the frame of this cycle) and sends it.
  for (uint32_t li : nd.out_links) {
    RealLinkState& r = s->rl[li];
    if (!r.up) continue;
    uint64_t f = get_tx(m, r.src_port);
    if (r.first) {  // the first sampling cycle carries the sender's counter
      f = ck.counter(k);
      r.first = false;
    }
    if (r.faulty) f = s->links[li].inject(f);
    r.push(t + at_cycle(r.latency), f);
  }
  // 2. In: arrivals into each elastic buffer, then this cycle's read.
  const uint32_t half = s->eb_depth / 2;
  if (ac_outputs_changed(nd, m)) {
    for (uint32_t li : nd.in_links) {
      RealLinkState& r = s->rl[li];
      const uint32_t p = r.dst_port;
      r.ac_enable = get_bits(m->ac_enable_o, p, 1) != 0;
      r.margin = (uint32_t)get_bits(m->ac_margin_o, 16 * p, 16);
    }
  }
  for (uint32_t li : nd.in_links) {
    RealLinkState& r = s->rl[li];
    const uint32_t p = r.dst_port;
    while (r.qn > 0 && arrived(r.q[r.qh], t)) {
      const uint64_t f = r.q[r.qh].frame;
      if (++r.qh == r.q.size()) r.qh = 0;
      --r.qn;
      if (r.primed) ++r.ddc;
      if (r.drain > 0) {
        --r.drain;
        ++r.drained;
        --r.shift;
      } else if (r.occ == s->eb_depth) {
        r.overflow = true;
        ++r.ver;
        ++r.lost;
        --r.shift;
      } else {
        r.fifo[(r.rd + r.occ) & (s->eb_depth - 1)] = f;  // the depth is a power of two
        ++r.occ;
      }
    }
    bool valid = false;
    uint64_t f = 0;
    if (r.up && !r.primed && r.occ >= half) r.primed = true;
    if (r.up && r.primed) {
      --r.ddc;
      if (r.fill > 0) {
        --r.fill;
        ++r.inserted;
        ++r.shift;
      } else if (r.occ == 0) {
        r.underflow = true;
        ++r.ver;
        ++r.empty;
        ++r.shift;
      } else {
        f = r.fifo[r.rd];
        r.rd = (r.rd + 1) & (s->eb_depth - 1);
        --r.occ;
        valid = true;
        if (!r.captured) {  // UGN capture: the link-up's first frame
          r.captured = true;
          r.ugn_local = ck.counter(k);
          r.ugn_remote = f;
          ++r.ver;
        }
      }
    }
    if (!valid) f = s->nodata_random ? s->nodata_rng.next() : 0;
    set_rx(m, p, f);
    // Auto-centre: one adjustment by minus the count, then a 256-cycle wait.
    if (r.ac_enable && r.primed) {
      if (r.wait > 0) {
        --r.wait;
      } else {
        const int64_t count = (int64_t)r.occ - (int64_t)half;
        if (count > (int64_t)r.margin || count < -(int64_t)r.margin) {
          adjust(s, li, -count, 0, gc, k);
          r.wait = 256;
        }
      }
    }
    // The wrapper's status inputs, those that changed. Most edges change the occupancy at
    // most; the other inputs are compared only when the link's status version says one of
    // them may have changed.
    const int32_t count = (int32_t)r.occ - (int32_t)half;
    const bool idle = r.wait == 0 && r.fill == 0 && r.drain == 0;
    RealLinkState::Status& was = r.shown;
    if (VL_LIKELY(r.shown_valid && r.ver == was.ver)) {
      if (count != was.count) put_bits(m->eb_count_i, 32 * p, 32, (uint64_t)(uint32_t)count);
      if (idle != was.idle) put_bits(m->ac_idle_i, p, 1, idle);
      was.count = count;
      was.idle = idle;
      continue;
    }
    RealLinkState::Status now;
    now.ver = r.ver;
    now.count = count;
    now.ac_total = r.ac_total;
    now.under = r.underflow;
    now.over = r.overflow;
    now.idle = idle;
    now.up = r.up;
    now.captured = r.captured;
    now.ugn_local = r.ugn_local;
    now.ugn_remote = r.ugn_remote;
    const bool all = !r.shown_valid;
    if (all || now.count != was.count) put_bits(m->eb_count_i, 32 * p, 32, (uint64_t)(uint32_t)now.count);
    if (all || now.under != was.under) put_bits(m->eb_underflow_i, p, 1, now.under);
    if (all || now.over != was.over) put_bits(m->eb_overflow_i, p, 1, now.over);
    if (all || now.idle != was.idle) put_bits(m->ac_idle_i, p, 1, now.idle);
    if (all || now.ac_total != was.ac_total) put_bits(m->ac_total_i, 32 * p, 32, (uint64_t)(uint32_t)now.ac_total);
    if (all || now.up != was.up) put_bits(m->link_up_i, p, 1, now.up);
    if (all || now.captured != was.captured) put_bits(m->captured_i, p, 1, now.captured);
    if (all || now.ugn_local != was.ugn_local) put_bits(m->ugn_local_i, 64 * p, 64, now.ugn_local);
    if (all || now.ugn_remote != was.ugn_remote) put_bits(m->ugn_remote_i, 64 * p, 64, now.ugn_remote);
    was = now;
    r.shown_valid = true;
  }
  // 3. The bus, the evaluation (clock low and edge in one, or two for a waveform), the
  // wrapper's pulses of a bus write, the master's sample.
  bool finished = false;
  if (!nd.in_reset) nd.master.drive(m);
  if constexpr (kOneEval && !kTrace) {
    if (VL_UNLIKELY(m->clk_i)) {  // a waveform ran last: its clock is high
      m->clk_i = 0;
      m->eval();
    }
    lane.phase = 1;
    m->tick_i = !m->tick_i;
    m->eval();
    lane.phase = 0;
    real_pulses(s, nd, m->sampled_adj_valid_o, m->sampled_adj_value_o, m->sampled_clear_o, gc, k);
    nd.master.local = k;
    if (!nd.in_reset && nd.master.sample<true>(m, gc)) {
      done[n >> 6] |= uint64_t{1} << (n & 63);
      finished = true;
    }
  } else {
    m->clk_i = 0;
    m->eval();
    real_pulses(s, nd, m->adj_valid_o, m->adj_value_o, m->clear_o, gc, k);
    nd.master.local = k;
    if (!nd.in_reset && nd.master.sample(m, gc)) {
      done[n >> 6] |= uint64_t{1} << (n & 63);
      finished = true;
    }
#if VM_TRACE
    const uint64_t fs = (uint64_t)((t * (t128)(s->period_ps * 1000)) >> kFrac);
    if (s->fst) {
      s->last_dump = std::max(s->last_dump, fs);
      s->fst->dump(s->last_dump);
    }
#endif
    lane.phase = 1;
    m->clk_i = 1;
    m->eval();
#if VM_TRACE
    if (s->fst) {
      s->last_dump = std::max(s->last_dump + 1, fs + 1);
      s->fst->dump(s->last_dump);
    }
#endif
  }
  // 4. The clock.
  ++ck.local;
  if (ck.local >= ck.next_update) {
    ck.next_update += s->update_cycles;
    clock_update(s, n, t);
  }
  ck.next += ck.period;
  return finished;
}

// real_loop runs the real link until global time until (nominal cycles, exclusive), or to
// the end of the nominal cycle in which some batch completed.
template <bool kTrace>
int64_t real_loop(rs_sim* s, uint64_t until, uint64_t* done) {
  const uint64_t first = s->cycle;
  t128 end = at_cycle(until);
  const size_t nn = s->nodes.size();
  // The nodes in the order of their next edges, the lower node first on a tie, in a ring
  // that starts at head. The node just clocked moves back: as every clock runs within ppm
  // of the others it is usually last again, which the ring's rotation makes it, checked
  // with one comparison instead of a pass over all nodes.
  const NodeClock* ck = s->clocks.data();
  auto before = [ck](uint32_t a, uint32_t b) {
    return ck[a].next < ck[b].next || (ck[a].next == ck[b].next && a < b);
  };
  std::vector<uint32_t>& ord = s->edge_order;
  ord.resize(nn);
  for (uint32_t i = 0; i < nn; ++i) ord[i] = i;
  std::sort(ord.begin(), ord.end(), before);
  size_t head = 0;
  auto at = [&ord, &head, nn](size_t i) -> uint32_t& { return ord[head + i < nn ? head + i : head + i - nn]; };
  while (true) {
    const uint32_t n = ord[head];
    const t128 t = ck[n].next;
    if (t >= end) break;
    if (VL_UNLIKELY(s->next_transition < s->transitions.size() && s->transitions[s->next_transition].at <= t)) {
      real_transitions(s, t);
    }
    if (real_edge<kTrace>(s, n, t, done)) {
      // Finish the nominal cycle in which the batch completed.
      end = std::min(end, at_cycle(whole(t) + 1));
    }
    if (VL_UNLIKELY(s->ctx->gotFinish())) {
      s->stopped = true;
      s->cycle = whole(t) + 1;
      return (int64_t)(s->cycle - first);
    }
    head = head + 1 == nn ? 0 : head + 1;  // n is last now
    for (size_t i = nn - 1; i > 0 && before(n, at(i - 1)); --i) std::swap(at(i), at(i - 1));
  }
  s->cycle = whole(end);
  return (int64_t)(s->cycle - first);
}

template <typename Nodes>
void release_drives(Nodes& nodes) {
  for (Node& nd : nodes) {
    for (uint32_t p = 0; p < kPorts; ++p) {
      if (nd.ports[p].drive.ended) {
        nd.ports[p].drive.ended = false;
        set_rx(nd.m.get(), p, 0);
      }
    }
  }
}

bool slow_path(const rs_sim* s) {
#if VM_TRACE
  if (s->fst) return true;
#endif
  return s->taps != 0;
}

// real_setup prepares the real link from cfg->real; it returns an error message or "".
std::string real_setup(rs_sim* s, const rs_config* cfg) {
  const rs_real& rc = *cfg->real;
  const uint32_t nn = cfg->nodes;
  if (!rc.ppm || !rc.up) return "real link: per-node offsets and per-link up times are required";
  if (rc.eb_depth < 2 || (rc.eb_depth & (rc.eb_depth - 1)) != 0) return "real link: elastic buffer depth must be a power of two";
  s->real = true;
  s->eb_depth = rc.eb_depth;
  s->control = rc.control != 0;
  s->step_ppm = rc.step_ppb / 1000.0;
  s->gain = rc.gain;
  s->update_cycles = rc.update_cycles ? rc.update_cycles : 25000;
  s->nodata_random = rc.nodata_random != 0;
  Rng rng(cfg->seed ^ 0x7265616c6c696e6bull);  // "reallink"
  s->nodata_rng = Rng(rng.next());
  s->clocks.resize(nn);
  double mean = 0;
  for (uint32_t n = 0; n < nn; ++n) mean += rc.ppm[n] / nn;
  for (uint32_t n = 0; n < nn; ++n) {
    NodeClock& ck = s->clocks[n];
    ck.base_ppm = rc.ppm[n];
    ck.drift = rc.drift ? rc.drift[n] : 0;
    if (rc.settled) {
      // Converged: the controller has already stepped every node to the mean frequency and
      // holds the domain difference that keeps it there (gain * bias = step * requests).
      ck.requests = std::llround((mean - ck.base_ppm) / s->step_ppm);
      if (s->gain > 0) ck.bias = s->step_ppm * 1e-6 * (double)ck.requests / s->gain;
    }
    ck.ppm = ck.base_ppm + s->step_ppm * (double)ck.requests;
    ck.set_period();
    ck.phase = rng.next() >> 32;  // a seeded phase within the first nominal cycle
    ck.next = ck.phase;
    ck.next_update = s->update_cycles;
  }
  s->rl.resize(cfg->nlinks);
  for (uint32_t i = 0; i < cfg->nlinks; ++i) {
    const rs_link& l = cfg->links[i];
    RealLinkState& r = s->rl[i];
    r.latency = l.latency;
    r.src_port = l.src_port;
    r.dst_port = l.dst_port;
    r.fifo.assign(rc.eb_depth, 0);
    s->nodes[l.src_node].out_links.push_back(i);
    s->nodes[l.dst_node].in_links.push_back(i);
    s->transitions.push_back({at_cycle(rc.up[i]), i, true});
  }
  for (uint32_t f = 0; f < rc.nflaps; ++f) {
    const rs_flap& fl = rc.flaps[f];
    if (fl.link >= cfg->nlinks || fl.up <= fl.down) return "real link: bad flap " + std::to_string(f);
    s->transitions.push_back({at_cycle(fl.down), fl.link, false});
    s->transitions.push_back({at_cycle(fl.up), fl.link, true});
  }
  auto by_time = [](const Transition& a, const Transition& b) { return a.at < b.at; };
  std::stable_sort(s->transitions.begin(), s->transitions.end(), by_time);
  if (cfg->reset_release) {
    // A link is up no earlier than both its ends left reset: the nodes' own logic brings
    // their transceivers up, and UGN capture needs both cycle counters running (a capture
    // before would latch a counter still held at 0). What the schedule says up to that
    // release decides the link's state then: up (it comes up at the release), or down (a
    // flap's up brings it up later); transitions before the release are dropped.
    std::vector<char> up_then(cfg->nlinks, 0);
    std::vector<Transition> kept;
    auto released = [&](uint32_t li) {
      const rs_link& l = cfg->links[li];
      return at_cycle(std::max(cfg->reset_release[l.src_node], cfg->reset_release[l.dst_node]));
    };
    for (const Transition& tr : s->transitions) {
      if (tr.at <= released(tr.link)) {
        up_then[tr.link] = tr.up;
      } else {
        kept.push_back(tr);
      }
    }
    for (uint32_t i = 0; i < cfg->nlinks; ++i) {
      if (up_then[i]) kept.push_back({released(i), i, true});
    }
    std::stable_sort(kept.begin(), kept.end(), by_time);
    s->transitions.swap(kept);
  }
  for (Node& nd : s->nodes) nd.m->link_en_i = 1;
  if (rc.rx_random) {
    // The demos' RX block RAM has no reset: it holds whatever was there.
    Rng mem(rng.next());
    for (Node& nd : s->nodes) {
      for (uint32_t p = 0; p < kPorts; ++p) {
        if (!nd.ports[p].rx_mem) continue;
        uint64_t* w = (uint64_t*)nd.ports[p].rx_mem->datap();
        for (uint32_t i = 0; i < kDepth; ++i) w[i] = mem.next();
      }
    }
  }
  for (Node& nd : s->nodes) nd.m->eval();
  return "";
}

}  // namespace

RS_EXPORT uint32_t rs_abi_version(void) { return RS_ABI_VERSION; }
RS_EXPORT uint32_t rs_model_depth(void) { return kDepth; }
RS_EXPORT uint32_t rs_model_ports(void) { return kPorts; }
RS_EXPORT int rs_model_has_trace(void) { return VM_TRACE ? 1 : 0; }

RS_EXPORT rs_sim* rs_new(const rs_config* cfg, char* err, size_t errlen) {
  auto bad = [&](const std::string& msg) -> rs_sim* {
    if (err && errlen) snprintf(err, errlen, "%s", msg.c_str());
    return nullptr;
  };
  if (!cfg || cfg->nodes == 0) return bad("need at least one node");
  for (uint32_t i = 0; i < cfg->nlinks; ++i) {
    const rs_link& l = cfg->links[i];
    if (l.src_node >= cfg->nodes || l.dst_node >= cfg->nodes || l.src_port >= kPorts ||
        l.dst_port >= kPorts) {
      return bad("link " + std::to_string(i) + " names a node or port that does not exist");
    }
    if (l.latency > (1u << 24)) return bad("link " + std::to_string(i) + ": latency too large");
  }
  if (cfg->real && !RS_REAL_LINK) return bad("the real link needs a model built with its registers (RealLink)");
  auto s = std::make_unique<rs_sim>();
  s->ctx = std::make_unique<VerilatedContext>();
  s->ctx->fatalOnError(false);
  s->ctx->randReset(0);
#if VM_TRACE
  s->ctx->traceEverOn(true);
#endif
  s->period_ps = cfg->clock_period_ps ? cfg->clock_period_ps : 8000;
  // Lanes: several only with a lookahead (every latency >= 1), never for the real link or a
  // model that can trace (one FST file takes models of one context only).
  s->lookahead = uint64_t{1} << 32;
  for (uint32_t i = 0; i < cfg->nlinks; ++i) s->lookahead = std::min<uint64_t>(s->lookahead, cfg->links[i].latency);
  uint32_t nlanes = std::max<uint32_t>(1, std::min(cfg->threads, cfg->nodes));
  if (VM_TRACE || cfg->real || s->lookahead == 0) nlanes = 1;
  s->lanes.resize(nlanes);
  std::vector<uint32_t> lane_of(cfg->nodes);
  for (uint32_t i = 0; i < nlanes; ++i) {
    Lane& l = s->lanes[i];
    l.first = (uint32_t)((uint64_t)i * cfg->nodes / nlanes);
    l.last = (uint32_t)((uint64_t)(i + 1) * cfg->nodes / nlanes);
    for (uint32_t n = l.first; n < l.last; ++n) lane_of[n] = i;
    l.done.assign((cfg->nodes + 63) / 64, 0);
    if (i == 0) {
      l.ctx = s->ctx.get();
      l.log = &s->log;
    } else {
      s->ctxs.push_back(std::make_unique<VerilatedContext>());
      l.ctx = s->ctxs.back().get();
      l.ctx->fatalOnError(false);
      l.ctx->randReset(0);
    }
  }
  Guard g(s.get());
  try {
    s->nodes.resize(cfg->nodes);
    for (uint32_t n = 0; n < cfg->nodes; ++n) {
      Node& nd = s->nodes[n];
      s->lanes[0].cur_node = (int32_t)n;
      const std::string name = "node" + std::to_string(n);
      nd.ctx = s->lanes[lane_of[n]].ctx;
      nd.m = std::make_unique<Vnode>(nd.ctx, name.c_str());
      nd.release = cfg->reset_release ? cfg->reset_release[n] : 0;
      Vnode* m = nd.m.get();
      m->clk_i = 0;
      // An edge on the asynchronous reset, so that registers with a reset value other
      // than zero get it (the node stays in reset until its release).
      m->rst_ni = 1;
      m->eval();
      m->rst_ni = 0;
      m->node_id_i = n;
      if (cfg->dna) {
        m->dna_i[0] = cfg->dna[3 * n];
        m->dna_i[1] = cfg->dna[3 * n + 1];
        m->dna_i[2] = cfg->dna[3 * n + 2];
      }
      m->eval();
      nd.ports.resize(kPorts);
      for (uint32_t p = 0; p < kPorts; ++p) {
        const std::string base = name + ".ringsim_top.u_node.g_port[" + std::to_string(p) + "]";
        Node::Port& port = nd.ports[p];
        port.tx_scope = base + ".u_tx";
        port.rx_scope = base + ".u_rx";
        port.tx_mem = find_var(nd.ctx, base + ".u_tx", "mem");
        port.tx_enable = find_var(nd.ctx, base + ".u_tx", "enable_q");
        port.tx_count = find_var(nd.ctx, base + ".u_tx", "count_q");
        port.rx_mem = find_var(nd.ctx, base + ".u_rx", "mem");
        port.rx_enable = find_var(nd.ctx, base + ".u_rx", "enable_q");
        port.rx_count = find_var(nd.ctx, base + ".u_rx", "count_q");
        if (!is_mem(port.tx_mem)) port.tx_mem = nullptr;
        if (!is_mem(port.rx_mem)) port.rx_mem = nullptr;
        if (!is_scalar(port.tx_enable)) port.tx_enable = nullptr;
        if (!is_scalar(port.tx_count)) port.tx_count = nullptr;
        if (!is_scalar(port.rx_enable)) port.rx_enable = nullptr;
        if (!is_scalar(port.rx_count)) port.rx_count = nullptr;
      }
    }
    s->links.resize(cfg->nlinks);
    for (uint32_t i = 0; i < cfg->nlinks; ++i) {
      Link& l = s->links[i];
      l.cfg = cfg->links[i];
      // The real link keeps its frames in flight elsewhere (RealLinkState::q).
      uint64_t size = 1;
      while (!cfg->real && size < l.cfg.latency + 1 + (nlanes > 1 ? s->lookahead : 0)) size <<= 1;
      l.line.assign(size, 0);
      l.mask = size - 1;
      l.rng = Rng(cfg->seed ^ (0x5851f42d4c957f2dull * (i + 1)));
      // Its ends, in the lanes of the nodes they belong to (s->links is not resized again).
      s->lanes[lane_of[l.cfg.src_node]].sends.push_back(
          SendOp{port_word(s->nodes[l.cfg.src_node].m->tx_frames_o, l.cfg.src_port), l.line.data(), l.mask, &l});
      s->lanes[lane_of[l.cfg.dst_node]].recvs.push_back(
          RecvOp{port_word(s->nodes[l.cfg.dst_node].m->rx_frames_i, l.cfg.dst_port), l.line.data(), l.mask,
                 l.cfg.latency});
    }
    if (cfg->real) {
      const std::string msg = real_setup(s.get(), cfg);
      if (!msg.empty()) return bad(msg);
    }
  } catch (const std::exception& e) {
    return bad(e.what());
  }
  if (any_finish(s.get())) return bad("model stopped during initialisation: " + s->log);
  if (nlanes > 1) {
    s->pool = std::make_unique<Pool>();
    for (uint32_t i = 1; i < nlanes; ++i) s->pool->threads.emplace_back(worker, s.get(), i);
  }
  return s.release();
}

RS_EXPORT uint32_t rs_threads(rs_sim* s) { return (uint32_t)s->lanes.size(); }
RS_EXPORT uint64_t rs_parallel_cycles(rs_sim* s) { return s->parallel_cycles; }

// ---------------------------------------------------------------------------------------
// Checkpoints: every model's state (Verilator's --savable serializers) and the harness's,
// in one blob. Restore needs a simulation created with the same configuration; the thread
// count may differ (delay lines are stored as the frames in flight, not as slots).
// ---------------------------------------------------------------------------------------

namespace {

constexpr uint64_t kCheckpointMagic = 0x3130747063737272ull;  // "rrscpt01"
constexpr uint64_t kMaxElems = uint64_t{1} << 28;             // bound on any stored vector

// MemSave and MemRestore are Verilator's serializers over memory instead of a file.
class MemSave final : public VerilatedSerialize {
 public:
  std::string out;
  MemSave() {
    m_isOpen = true;
    header();
  }
  void flush() override {
    out.append(reinterpret_cast<const char*>(m_bufp), (size_t)(m_cp - m_bufp));
    m_cp = m_bufp;
  }
  void close() override { flush(); }
  std::string finish() {
    trailer();
    flush();
    m_isOpen = false;
    return std::move(out);
  }
};

class MemRestore final : public VerilatedDeserialize {
 public:
  MemRestore(const uint8_t* p, size_t n) : src_(p), left_(n) {
    m_isOpen = true;
    m_cp = m_endp = m_bufp;
    fill();
    header();
  }
  void fill() override {
    uint8_t* rp = m_bufp;
    for (uint8_t* sp = m_cp; sp < m_endp; *rp++ = *sp++) {}
    m_endp = m_bufp + (m_endp - m_cp);
    m_cp = m_bufp;
    const size_t room = (size_t)(m_bufp + bufferSize() - m_endp);
    const size_t take = std::min(room, left_);
    std::memcpy(m_endp, src_, take);
    src_ += take;
    left_ -= take;
    m_endp += take;
    while (m_endp < m_bufp + bufferSize()) *m_endp++ = 0;  // past the end reads as zero
  }
  void finish() {
    trailer();
    m_isOpen = false;
  }

 private:
  const uint8_t* src_;
  size_t left_;
};

template <typename T>
void put(VerilatedSerialize& os, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  os.write(&v, sizeof v);
}

template <typename T>
void get(VerilatedDeserialize& is, T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  is.read(&v, sizeof v);
}

template <typename T>
void put_vec(VerilatedSerialize& os, const std::vector<T>& v) {
  put(os, (uint64_t)v.size());
  if (!v.empty()) os.write(v.data(), v.size() * sizeof(T));
}

template <typename T>
void get_vec(VerilatedDeserialize& is, std::vector<T>& v) {
  uint64_t n = 0;
  get(is, n);
  if (n > kMaxElems) throw FatalError("checkpoint: a stored table is too long (corrupt)");
  v.resize(n);
  if (n) is.read(v.data(), n * sizeof(T));
}

void expect(VerilatedDeserialize& is, uint64_t want, const char* what) {
  uint64_t got = 0;
  get(is, got);
  if (got != want) {
    throw FatalError(std::string("checkpoint: ") + what + " " + std::to_string(got) + ", this simulation has " +
                     std::to_string(want));
  }
}

void save_rng(VerilatedSerialize& os, Rng& r) { os.write(r.state(), 4 * sizeof(uint64_t)); }
void load_rng(VerilatedDeserialize& is, Rng& r) { is.read(r.state(), 4 * sizeof(uint64_t)); }

// shape is what a checkpoint and the simulation restoring it must agree on.
void put_shape(VerilatedSerialize& os, const rs_sim* s) {
  put(os, kCheckpointMagic);
  put(os, (uint64_t)RS_ABI_VERSION);
  put(os, (uint64_t)kDepth);
  put(os, (uint64_t)kPorts);
  put(os, (uint64_t)s->nodes.size());
  put(os, (uint64_t)s->links.size());
  put(os, (uint64_t)s->real);
  for (const Link& l : s->links) put(os, (uint64_t)l.cfg.latency);
}

void check_shape(VerilatedDeserialize& is, const rs_sim* s) {
  expect(is, kCheckpointMagic, "format");
  expect(is, RS_ABI_VERSION, "harness ABI");
  expect(is, kDepth, "depth");
  expect(is, kPorts, "ports");
  expect(is, s->nodes.size(), "nodes");
  expect(is, s->links.size(), "links");
  expect(is, s->real, "real link");
  for (const Link& l : s->links) expect(is, l.cfg.latency, "link latency");
}

void save_all(VerilatedSerialize& os, rs_sim* s) {
  put_shape(os, s);
  put(os, s->cycle);
  for (Node& nd : s->nodes) {
    os << *nd.m;
    put(os, nd.in_reset);
    Master& m = nd.master;
    put_vec(os, m.ops);
    put_vec(os, m.words);
    put_vec(os, m.results);
    put(os, m.cur);
    put(os, m.word);
    put(os, m.idle_left);
    put(os, m.waited);
    put(os, m.bound);
    put(os, m.busy);
    put(os, m.done);
    put(os, m.driving);
    put(os, m.local);
  }
  for (Link& l : s->links) {
    // The frames in flight, oldest first: the thread count decides the line's length.
    if (!s->real) {
      for (uint64_t k = 0; k < l.cfg.latency; ++k) put(os, l.slot(s->cycle - l.cfg.latency + k));
    }
    put(os, l.faulty);
    put(os, l.flip);
    put(os, l.zero);
    put(os, l.flip_gap);
    put(os, l.zero_gap);
    put(os, l.flips);
    put(os, l.zeroed);
    save_rng(os, l.rng);
  }
  if (s->real) {
    for (const NodeClock& ck : s->clocks) put(os, ck);
    for (const RealLinkState& r : s->rl) {
      put(os, r.latency);
      put(os, r.up);
      put(os, r.first);
      put_vec(os, r.q);
      put(os, (uint64_t)r.qh);
      put(os, (uint64_t)r.qn);
      put_vec(os, r.fifo);
      put(os, r.rd);
      put(os, r.occ);
      put(os, r.primed);
      put(os, r.fill);
      put(os, r.drain);
      put(os, r.underflow);
      put(os, r.overflow);
      put(os, r.ac_enable);
      put(os, r.margin);
      put(os, r.wait);
      put(os, r.ac_total);
      put(os, r.captured);
      put(os, r.ugn_local);
      put(os, r.ugn_remote);
      put(os, r.inserted);
      put(os, r.drained);
      put(os, r.lost);
      put(os, r.empty);
      put(os, r.adjustments);
      put(os, r.shift);
      put(os, r.ddc);
      put(os, r.up_cycle);
    }
    put(os, (uint64_t)s->next_transition);
    put_vec(os, s->events);
    save_rng(os, s->nodata_rng);
  }
}

void load_all(VerilatedDeserialize& is, rs_sim* s) {
  check_shape(is, s);
  get(is, s->cycle);
  for (Node& nd : s->nodes) {
    is >> *nd.m;
    nd.ac_seen_valid = false;  // the links take the restored wrapper's outputs again
    get(is, nd.in_reset);
    Master& m = nd.master;
    get_vec(is, m.ops);
    get_vec(is, m.words);
    get_vec(is, m.results);
    get(is, m.cur);
    get(is, m.word);
    get(is, m.idle_left);
    get(is, m.waited);
    get(is, m.bound);
    get(is, m.busy);
    get(is, m.done);
    get(is, m.driving);
    get(is, m.local);
    if (m.results.size() != m.ops.size() || (m.busy && m.cur >= m.ops.size())) {
      throw FatalError("checkpoint: a bus master's batch is inconsistent (corrupt)");
    }
    for (const rs_op& op : m.ops) {
      if ((op.kind == RS_OP_READ_BLOCK || op.kind == RS_OP_WRITE_BLOCK) && (uint64_t)op.off + op.count > m.words.size()) {
        throw FatalError("checkpoint: a block operation lies outside its words (corrupt)");
      }
    }
  }
  for (Link& l : s->links) {
    std::fill(l.line.begin(), l.line.end(), 0);
    if (!s->real) {
      for (uint64_t k = 0; k < l.cfg.latency; ++k) get(is, l.slot(s->cycle - l.cfg.latency + k));
    }
    get(is, l.faulty);
    get(is, l.flip);
    get(is, l.zero);
    get(is, l.flip_gap);
    get(is, l.zero_gap);
    get(is, l.flips);
    get(is, l.zeroed);
    load_rng(is, l.rng);
  }
  if (s->real) {
    for (NodeClock& ck : s->clocks) get(is, ck);
    for (RealLinkState& r : s->rl) {
      r.shown_valid = false;  // the restored wrapper's status inputs are written again
      get(is, r.latency);
      get(is, r.up);
      get(is, r.first);
      get_vec(is, r.q);
      uint64_t qh = 0, qn = 0;
      get(is, qh);
      get(is, qn);
      r.qh = qh;
      r.qn = qn;
      get_vec(is, r.fifo);
      get(is, r.rd);
      get(is, r.occ);
      get(is, r.primed);
      get(is, r.fill);
      get(is, r.drain);
      get(is, r.underflow);
      get(is, r.overflow);
      get(is, r.ac_enable);
      get(is, r.margin);
      get(is, r.wait);
      get(is, r.ac_total);
      get(is, r.captured);
      get(is, r.ugn_local);
      get(is, r.ugn_remote);
      get(is, r.inserted);
      get(is, r.drained);
      get(is, r.lost);
      get(is, r.empty);
      get(is, r.adjustments);
      get(is, r.shift);
      get(is, r.ddc);
      get(is, r.up_cycle);
      if (r.fifo.size() != s->eb_depth || r.rd >= r.fifo.size() || r.occ > r.fifo.size() ||
          (!r.q.empty() && (r.qh >= r.q.size() || r.qn > r.q.size() || (r.q.size() & (r.q.size() - 1)) != 0)) ||
          (r.q.empty() && (r.qh || r.qn))) {
        throw FatalError("checkpoint: an elastic buffer is inconsistent (corrupt)");
      }
      r.faulty = s->links[&r - s->rl.data()].faulty;
    }
    uint64_t next = 0;
    get(is, next);
    if (next > s->transitions.size()) throw FatalError("checkpoint: link transitions are inconsistent (corrupt)");
    s->next_transition = next;
    get_vec(is, s->events);
    load_rng(is, s->nodata_rng);
  }
}

}  // namespace

RS_EXPORT int64_t rs_save(rs_sim* s) {
  if (s->stopped) return fail(s, RS_ESTOPPED, "a stopped simulation cannot be saved");
  if (s->taps) return fail(s, RS_EINVAL, "a simulation with drives or records in progress cannot be saved");
#if VM_TRACE
  if (s->fst) return fail(s, RS_EINVAL, "close the waveform before saving");
#endif
  Guard g(s);
  try {
    MemSave os;
    save_all(os, s);
    s->saved = os.finish();
  } catch (const std::exception& e) {
    return fail(s, RS_EIO, std::string("save: ") + e.what());
  }
  return (int64_t)s->saved.size();
}

RS_EXPORT int rs_save_copy(rs_sim* s, uint8_t* buf, size_t n) {
  if (n != s->saved.size()) return fail(s, RS_EINVAL, "save buffer size does not match the checkpoint");
  std::memcpy(buf, s->saved.data(), n);
  s->saved.clear();
  s->saved.shrink_to_fit();
  return RS_OK;
}

RS_EXPORT int rs_restore(rs_sim* s, const uint8_t* buf, size_t n) {
  if (s->cycle != 0 || s->stopped) return fail(s, RS_EINVAL, "restore needs a new simulation");
  Guard g(s);
  try {
    MemRestore is(buf, n);
    load_all(is, s);
    is.finish();
  } catch (const std::exception& e) {
    // A corrupt checkpoint can leave the models half restored: the handle is unusable.
    s->stopped = true;
    return fail(s, RS_EINVAL, std::string("restore: ") + e.what());
  }
  if (any_finish(s)) {
    s->stopped = true;
    return fail(s, RS_EINVAL, "restore: the checkpoint does not fit this model: " + s->log);
  }
  s->taps = 0;
  return RS_OK;
}

RS_EXPORT void rs_free(rs_sim* s) {
  if (!s) return;
  if (s->pool) {
    {
      std::lock_guard<std::mutex> lk(s->pool->mu);
      s->pool->quit.store(true);
    }
    s->pool->cv.notify_all();
    for (std::thread& t : s->pool->threads) t.join();
  }
  {
    Guard g(s);
    try {
#if VM_TRACE
      if (s->fst) rs_trace_close(s);
#endif
      s->nodes.clear();
    } catch (const std::exception&) {
    }
  }
  delete s;
}

RS_EXPORT const char* rs_error(rs_sim* s) { return s->error.c_str(); }

RS_EXPORT int rs_stop_info(rs_sim* s, rs_stop* out) {
  *out = s->stop;
  return RS_OK;
}

RS_EXPORT uint64_t rs_cycle(rs_sim* s) { return s->cycle; }

RS_EXPORT int rs_submit(rs_sim* s, uint32_t node, const rs_op* ops, uint32_t nops,
                        const uint32_t* words, uint32_t nwords) {
  if (node >= s->nodes.size()) return fail(s, RS_EINVAL, "node " + std::to_string(node) + " does not exist");
  Master& mst = s->nodes[node].master;
  if (mst.busy || mst.done) return fail(s, RS_EBUSY, "node " + std::to_string(node) + " has a batch in flight");
  if (nops == 0) return fail(s, RS_EINVAL, "empty batch");
  for (uint32_t i = 0; i < nops; ++i) {
    const rs_op& op = ops[i];
    const char* bad = nullptr;
    switch (op.kind) {
      case RS_OP_READ:
      case RS_OP_WRITE:
        break;
      case RS_OP_READ_BLOCK:
      case RS_OP_WRITE_BLOCK:
        if (op.count == 0) bad = "block of zero words";
        else if ((uint64_t)op.off + op.count > nwords) bad = "block past the word buffer";
        else if ((uint64_t)op.addr + 4ull * (op.count - 1) > 0xFFFFFFFFull) bad = "block past the end of the address space";
        break;
      case RS_OP_IDLE:
        if (op.count == 0) bad = "idle for zero cycles";
        break;
      case RS_OP_POLL:
        if (op.count == 0) bad = "poll of zero reads";
        else if (op.sel != RS_POLL_EQ && op.sel != RS_POLL_NE) bad = "unknown poll condition";
        break;
      default:
        bad = "unknown operation kind";
    }
    if (bad) return fail(s, RS_EINVAL, "op " + std::to_string(i) + ": " + bad);
  }
  mst.ops.assign(ops, ops + nops);
  mst.words.assign(words, words + nwords);
  mst.results.assign(nops, rs_result{});
  mst.cur = 0;
  mst.busy = true;
  mst.start_op();
  return RS_OK;
}

namespace {

// merge_lanes gathers what the lanes recorded: their output, and the first stop in the
// order one thread evaluates in (cycle, clock low before the edge, node).
void merge_lanes(rs_sim* s) {
  for (size_t i = 1; i < s->lanes.size(); ++i) {
    std::string& log = s->lanes[i].own_log;
    if (!log.empty() && s->log.size() < (1u << 16)) s->log += log;
    log.clear();
  }
  if (s->stop.kind != RS_STOP_NONE) return;
  const Lane* best = nullptr;
  for (const Lane& l : s->lanes) {
    if (l.stop.kind == RS_STOP_NONE) continue;
    if (!best || l.stop.cycle < best->stop.cycle ||
        (l.stop.cycle == best->stop.cycle &&
         (l.stop_phase < best->stop_phase || (l.stop_phase == best->stop_phase && l.stop.node < best->stop.node)))) {
      best = &l;
    }
  }
  if (best) s->stop = best->stop;
}

}  // namespace

RS_EXPORT int64_t rs_run(rs_sim* s, uint64_t until, uint64_t* done) {
  if (s->stopped) {
    return fail(s, RS_ESTOPPED, "the simulation stopped earlier, in cycle " + std::to_string(s->stop.cycle) +
                                    ": " + s->stop.message);
  }
  Guard g(s);
  int64_t n = 0;
  release_drives(s->nodes);
  try {
    if (s->real) {
      n = slow_path(s) ? real_loop<true>(s, until, done) : real_loop<false>(s, until, done);
    } else if (slow_path(s)) {
      n = run_loop<true>(s, until, done);
    } else if (s->lanes.size() > 1) {
      n = lanes_loop(s, until, done);
    } else {
      n = run_loop<false>(s, until, done);
    }
  } catch (const FatalError& e) {
    s->stopped = true;
    merge_lanes(s);
    return fail(s, RS_ESTOPPED, std::string(e.what()) + "\n" + s->log);
  }
  merge_lanes(s);
  if (s->stopped && s->real && s->stop.kind != RS_STOP_NONE && s->stop.kind != RS_STOP_BUS_TIMEOUT) {
    // Stops record $time, which the real link sets to the node's own cycle; the API's
    // cycle is global time.
    s->stop.local_cycle = s->stop.cycle;
    s->stop.cycle = s->cycle - 1;
  }
  if (s->stopped) {
    std::string log = s->log;
    while (!log.empty() && log.back() == '\n') log.pop_back();
    if (s->stop.kind == RS_STOP_NONE) {
      // A stop none of the hooks recognised (another Verilator's messages): keep its output.
      rs_stop& st = s->stop;
      st.kind = s->ctx->gotError() ? RS_STOP_ERROR : RS_STOP_FINISH;
      st.node = -1;
      st.port = -1;
      st.cycle = s->cycle - 1;
      copy_str(st.message, sizeof st.message, last_line(log).c_str());
    }
    return fail(s, RS_ESTOPPED, "the simulation stopped in cycle " + std::to_string(s->stop.cycle) + ": " +
                                    s->stop.message);
  }
  return n;
}

RS_EXPORT int rs_take(rs_sim* s, uint32_t node, rs_result* results, uint32_t nops,
                      uint32_t* words, uint32_t nwords) {
  if (node >= s->nodes.size()) return fail(s, RS_EINVAL, "node does not exist");
  Master& mst = s->nodes[node].master;
  if (!mst.done) return fail(s, RS_EBUSY, "no completed batch on node " + std::to_string(node));
  if (nops != mst.results.size() || nwords != mst.words.size()) return fail(s, RS_EINVAL, "result buffer sizes do not match the batch");
  std::memcpy(results, mst.results.data(), nops * sizeof(rs_result));
  if (nwords) std::memcpy(words, mst.words.data(), nwords * sizeof(uint32_t));
  mst.done = false;
  return RS_OK;
}

RS_EXPORT int rs_set_faults(rs_sim* s, uint32_t link, double bit_flip, double frame_zero) {
  if (link >= s->links.size()) return fail(s, RS_EINVAL, "link " + std::to_string(link) + " does not exist");
  if (!(bit_flip >= 0 && bit_flip <= 1) || !(frame_zero >= 0 && frame_zero <= 1)) return fail(s, RS_EINVAL, "fault rates must be in [0, 1]");
  Link& l = s->links[link];
  l.flip = bit_flip;
  l.zero = frame_zero;
  l.faulty = bit_flip > 0 || frame_zero > 0;
  if (s->real) s->rl[link].faulty = l.faulty;
  l.flip_gap = l.rng.gap(bit_flip);
  l.zero_gap = l.rng.gap(frame_zero);
  return RS_OK;
}

RS_EXPORT int rs_reseed_faults(rs_sim* s, uint64_t seed) {
  for (size_t i = 0; i < s->links.size(); ++i) {
    Link& l = s->links[i];
    l.rng = Rng(seed ^ (0x5851f42d4c957f2dull * (i + 1)));  // as rs_new seeds it
    l.flip_gap = l.rng.gap(l.flip);
    l.zero_gap = l.rng.gap(l.zero);
  }
  return RS_OK;
}

RS_EXPORT int rs_fault_counts(rs_sim* s, uint32_t link, uint64_t* flips, uint64_t* zeroed) {
  if (link >= s->links.size()) return fail(s, RS_EINVAL, "link does not exist");
  *flips = s->links[link].flips;
  *zeroed = s->links[link].zeroed;
  return RS_OK;
}

namespace {

int backdoor(rs_sim* s, uint32_t node, uint32_t port, uint32_t target, uint32_t index,
             uint64_t* value, bool write) {
  if (node >= s->nodes.size()) return fail(s, RS_EINVAL, "node " + std::to_string(node) + " does not exist");
  if (port >= kPorts) return fail(s, RS_EINVAL, "port " + std::to_string(port) + " does not exist");
  const Node::Port& p = s->nodes[node].ports[port];
  VerilatedVar* v = nullptr;
  bool mem = false;
  switch (target) {
    case RS_BD_TX_MEM: v = p.tx_mem; mem = true; break;
    case RS_BD_RX_MEM: v = p.rx_mem; mem = true; break;
    case RS_BD_TX_ENABLE: v = p.tx_enable; break;
    case RS_BD_RX_ENABLE: v = p.rx_enable; break;
    case RS_BD_TX_COUNT: v = p.tx_count; break;
    case RS_BD_RX_COUNT: v = p.rx_count; break;
    default: return fail(s, RS_EINVAL, "unknown backdoor target " + std::to_string(target));
  }
  if (!v) return fail(s, RS_ENOTSUP, "this RTL does not expose the backdoor variable");
  if (write && (target == RS_BD_TX_COUNT || target == RS_BD_RX_COUNT)) return fail(s, RS_EINVAL, "counters are read only");
  if (mem) {
    if (index >= kDepth) return fail(s, RS_EINVAL, "word " + std::to_string(index) + " is past the buffer");
    uint64_t* w = (uint64_t*)v->datap() + index;
    if (write) *w = *value; else *value = *w;
  } else {
    if (write) write_scalar(v, *value); else *value = read_scalar(v);
  }
  return RS_OK;
}

}  // namespace

RS_EXPORT int rs_peek(rs_sim* s, uint32_t node, uint32_t port, uint32_t target, uint32_t index,
                      uint64_t* value) {
  return backdoor(s, node, port, target, index, value, false);
}

RS_EXPORT int rs_poke(rs_sim* s, uint32_t node, uint32_t port, uint32_t target, uint32_t index,
                      uint64_t value) {
  Guard g(s);
  const int rc = backdoor(s, node, port, target, index, &value, true);
  if (rc == RS_OK) {
    // Let combinational logic see the new state before the next cycle samples it.
    Vnode* m = s->nodes[node].m.get();
    try {
      m->eval();
    } catch (const FatalError& e) {
      s->stopped = true;
      return fail(s, RS_ESTOPPED, e.what());
    }
  }
  return rc;
}

RS_EXPORT int rs_link_state(rs_sim* s, uint32_t link, rs_link_status* out) {
  if (!s->real) return fail(s, RS_ENOTSUP, "link state exists on the real link only");
  if (link >= s->rl.size()) return fail(s, RS_EINVAL, "link " + std::to_string(link) + " does not exist");
  const RealLinkState& r = s->rl[link];
  rs_link_status st{};
  st.up = r.up;
  st.captured = r.captured;
  st.occupancy = (int32_t)r.occ;
  st.underflow = r.underflow;
  st.overflow = r.overflow;
  st.ac_total = r.ac_total;
  st.ugn_local = r.ugn_local;
  st.ugn_remote = r.ugn_remote;
  st.inserted = r.inserted;
  st.drained = r.drained;
  st.lost = r.lost;
  st.empty = r.empty;
  st.adjustments = r.adjustments;
  st.shift = r.shift;
  st.ddc = r.ddc;
  st.up_cycle = r.up_cycle;
  *out = st;
  return RS_OK;
}

RS_EXPORT int rs_node_clock(rs_sim* s, uint32_t node, rs_clock_status* out) {
  if (!s->real) return fail(s, RS_ENOTSUP, "node clocks exist on the real link only");
  if (node >= s->clocks.size()) return fail(s, RS_EINVAL, "node " + std::to_string(node) + " does not exist");
  const NodeClock& ck = s->clocks[node];
  rs_clock_status c{};
  c.ppm = ck.ppm;
  c.requests = ck.requests;
  c.local = ck.local;
  c.period = ck.period;
  c.phase = ck.phase;
  c.released = ck.rel_local;
  *out = c;
  return RS_OK;
}

RS_EXPORT int64_t rs_events(rs_sim* s, uint64_t from, rs_event* out, uint32_t n) {
  if (from >= s->events.size()) return 0;
  const uint64_t k = std::min<uint64_t>(n, s->events.size() - from);
  if (k) std::memcpy(out, s->events.data() + from, k * sizeof(rs_event));
  return (int64_t)k;
}

RS_EXPORT int rs_drive(rs_sim* s, uint32_t node, uint32_t port, const uint64_t* frames, uint32_t n) {
  if (s->real) return fail(s, RS_ENOTSUP, "driving a port's input is for the ideal link");
  if (node >= s->nodes.size() || port >= kPorts) return fail(s, RS_EINVAL, "node or port does not exist");
  Tap& t = s->nodes[node].ports[port].drive;
  if (t.active()) --s->taps;
  t.frames.assign(frames, frames + n);
  t.pos = 0;
  if (t.active()) ++s->taps;
  return RS_OK;
}

RS_EXPORT int rs_record(rs_sim* s, uint32_t node, uint32_t port, uint32_t n) {
  if (s->real) return fail(s, RS_ENOTSUP, "recording a port's output is for the ideal link");
  if (node >= s->nodes.size() || port >= kPorts) return fail(s, RS_EINVAL, "node or port does not exist");
  Tap& t = s->nodes[node].ports[port].record;
  if (t.active()) --s->taps;
  t.frames.assign(n, 0);
  t.pos = 0;
  if (t.active()) ++s->taps;
  return RS_OK;
}

RS_EXPORT int64_t rs_recorded(rs_sim* s, uint32_t node, uint32_t port, uint64_t* frames, uint32_t n) {
  if (node >= s->nodes.size() || port >= kPorts) return fail(s, RS_EINVAL, "node or port does not exist");
  const Tap& t = s->nodes[node].ports[port].record;
  const uint32_t k = t.pos < n ? t.pos : n;
  if (k) std::memcpy(frames, t.frames.data(), k * sizeof(uint64_t));
  return k;
}

RS_EXPORT int rs_trace_open(rs_sim* s, const char* path) {
#if VM_TRACE
  Guard g(s);
  if (s->fst) return fail(s, RS_EINVAL, "a waveform dump is already open: " + s->fst_path);
  FILE* probe = std::fopen(path, "wb");
  if (!probe) return fail(s, RS_EIO, std::string("cannot create ") + path + ": " + std::strerror(errno));
  std::fclose(probe);
  // The real link dumps every node at its own edges, in femtoseconds.
  if (s->real) s->ctx->timeprecision(-15);
  auto fst = std::make_unique<VerilatedFstC>();
  for (Node& nd : s->nodes) nd.m->trace(fst.get(), 99);
  fst->open(path);
  if (!fst->isOpen()) return fail(s, RS_EIO, std::string("cannot open ") + path);
  s->fst = std::move(fst);
  s->fst_path = path;
  return RS_OK;
#else
  (void)path;
  return fail(s, RS_ENOTSUP, "this model was built without waveform support");
#endif
}

RS_EXPORT int rs_trace_close(rs_sim* s) {
#if VM_TRACE
  if (!s->fst) return RS_OK;
  Guard g(s);
  s->fst->close();
  s->fst.reset();
  // FST headers carry the wall-clock date; overwrite it so the same run gives the same bytes.
  // The date field is 119 bytes at offset 202 (gtkwave/fstapi.c, FST_HDR_OFFS_DATE).
  if (FILE* f = std::fopen(s->fst_path.c_str(), "r+b")) {
    char date[119] = "ringsim";
    if (std::fseek(f, 202, SEEK_SET) == 0) std::fwrite(date, sizeof date, 1, f);
    std::fclose(f);
  }
  s->fst_path.clear();
  return RS_OK;
#else
  return fail(s, RS_ENOTSUP, "this model was built without waveform support");
#endif
}
