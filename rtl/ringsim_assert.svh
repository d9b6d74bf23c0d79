// SPDX-License-Identifier: Apache-2.0
//
// Named assertions, after OpenTitan's prim_assert.sv: every assertion has a name
// (UpperCamelCase ending in _A), so a failing simulation names the rule it broke.
//
//   `RS_ASSERT(RxCounterAdvances_A, <property>, "write counter did not advance by one")
//   `RS_ASSERT_INIT(DepthAtLeastTwo_A, Depth >= 2, "Depth must be at least 2")
//
// RS_ASSERT is a concurrent assertion clocked by clk_i and disabled in reset (rst_ni low)
// unless other signals are given; RS_ASSERT_INIT is an immediate assertion at time 0.
// A failure first calls the DPI-C function ringsim_assert_failed with the assertion's name,
// message, source file and line and hierarchical scope, which ringsim's harness implements
// to report a typed stop, and then $error, which stops the simulation in any simulator.
// Under SYNTHESIS (Yosys defines it) the macros expand to nothing.

`ifndef RINGSIM_ASSERT_SVH
`define RINGSIM_ASSERT_SVH

`ifndef SYNTHESIS

import "DPI-C" function void ringsim_assert_failed(
  input string name,
  input string msg,
  input string file,
  input int    line,
  input string scope
);

`define RS_ASSERT_FAIL(__name, __msg)                                                    \
  begin                                                                                  \
    ringsim_assert_failed(`"__name`", __msg, `__FILE__, `__LINE__, $sformatf("%m"));     \
    $error("%s", __msg);                                                                 \
  end

`define RS_ASSERT(__name, __prop, __msg, __clk = clk_i, __rst = !rst_ni)                 \
  __name: assert property (@(posedge __clk) disable iff (__rst) (__prop))                \
    else `RS_ASSERT_FAIL(__name, __msg)

`define RS_ASSERT_INIT(__name, __prop, __msg)                                            \
  initial begin                                                                          \
    __name: assert (__prop) else `RS_ASSERT_FAIL(__name, __msg)                          \
  end

`else  // SYNTHESIS

`define RS_ASSERT(__name, __prop, __msg, __clk = clk_i, __rst = !rst_ni)
`define RS_ASSERT_INIT(__name, __prop, __msg)

`endif  // SYNTHESIS

`endif  // RINGSIM_ASSERT_SVH
