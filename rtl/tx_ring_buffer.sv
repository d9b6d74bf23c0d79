// SPDX-License-Identifier: Apache-2.0
//
// Transmit ring buffer (bittide Bittide.RingBuffer, TX side).
//
// The CPU writes 64-bit frames through a 32-bit Wishbone port; hardware reads one word per
// cycle with a free-running counter and sends it to the link:
//
//   frame(t+1) = enable(t) ? mem[count(t)] : 0      count: 0, 1, .., Depth-1, 0, ..
//
// The counter runs whether or not the buffer is enabled. Register map (ringsim_regs_pkg,
// generated from internal/regmap/regmap.json): data (read/write, byte masks honoured,
// reads take one extra cycle) and enable (read/write, bit 0). Anything else answers ERR.
// A CPU write to the word hardware reads in the same cycle is read-first: the link gets
// the old word (block RAM READ_FIRST), the new word goes out one rotation later.

`include "ringsim_assert.svh"

module tx_ring_buffer #(
  parameter int unsigned Depth   = 16,
  parameter int unsigned OffsetW = 16  // width of the device-local byte offset
) (
  input  logic               clk_i,
  input  logic               rst_ni,
  // Wishbone slave, classic cycles, already decoded to this device.
  input  logic               wb_cyc_i,
  input  logic               wb_stb_i,
  input  logic               wb_we_i,
  input  logic [OffsetW-1:0] wb_adr_i,  // byte offset inside the device, 4-byte aligned
  input  logic [31:0]        wb_dat_i,
  input  logic [3:0]         wb_sel_i,
  output logic [31:0]        wb_dat_o,
  output logic               wb_ack_o,
  output logic               wb_err_o,
  // Link side.
  output logic [63:0]        frame_o
);

  localparam int unsigned AddrW = (Depth > 1) ? $clog2(Depth) : 1;
  localparam logic [AddrW-1:0] LAST = AddrW'(Depth - 1);
  localparam logic [OffsetW-1:0] DATA_END = OffsetW'(ringsim_regs_pkg::TX_DATA_OFFSET +
                                                    ringsim_regs_pkg::tx_data_bytes(Depth));
  localparam logic [OffsetW-1:0] ENABLE_OFF = OffsetW'(ringsim_regs_pkg::tx_enable_offset(Depth));

  // ---------------------------------------------------------------------------------------
  // Bus decode and responses. Data reads are acknowledged one cycle after the request (block
  // RAM read latency); every other access is answered in the cycle it is presented. All
  // decoding sits under `if (req)`, so an idle bus costs the simulator almost nothing.
  // ---------------------------------------------------------------------------------------
  logic             req;
  logic             is_data;
  logic             data_rd;       // a data read starts this cycle
  logic             data_wr;       // a data write happens at this cycle's edge
  logic             enable_wr;     // enable is written at this cycle's edge
  logic [AddrW-1:0] word_idx;
  logic             upper_half;
  logic             rd_pending_q;
  logic             rd_half_q;
  logic             enable_q;
  logic [63:0]      cpu_rdata_q;

  assign req        = wb_cyc_i & wb_stb_i;
  assign word_idx   = wb_adr_i[AddrW+2:3];
  assign upper_half = wb_adr_i[2];

  always_comb begin
    is_data   = 1'b0;
    data_rd   = 1'b0;
    data_wr   = 1'b0;
    enable_wr = 1'b0;
    wb_ack_o  = 1'b0;
    wb_err_o  = 1'b0;
    wb_dat_o  = '0;
    if (req) begin
      is_data = wb_adr_i < DATA_END;
      if (is_data) begin
        // Writes complete at once; reads when the RAM word is back.
        data_rd  = ~wb_we_i & ~rd_pending_q;
        data_wr  = wb_we_i;
        wb_ack_o = wb_we_i | rd_pending_q;
        wb_dat_o = rd_half_q ? cpu_rdata_q[63:32] : cpu_rdata_q[31:0];
      end else if (wb_adr_i == ENABLE_OFF) begin
        wb_ack_o  = 1'b1;
        wb_dat_o  = {31'b0, enable_q};
        if (wb_we_i && wb_sel_i[0]) enable_wr = 1'b1;
      end else begin
        wb_err_o = 1'b1;
      end
    end
  end

  // ---------------------------------------------------------------------------------------
  // Memory: one hardware read port (the link), one CPU read/write port with byte enables.
  // ---------------------------------------------------------------------------------------
  logic [63:0]      mem [Depth];
  logic [63:0]      hw_rdata_q;
  logic [AddrW-1:0] count_q;
  logic             sent_enable_q;

  // Block RAM template: both ports are read-first. The memory is written with blocking
  // assignments after both reads, the one place this RTL leaves `q <= d` (waived in
  // ringsim.vlt): the reads above take the old word, as read-first requires, and Verilator
  // writes the memory in place instead of through a delayed update per byte lane, which
  // made every clock edge about 1.5 times slower with the bus idle. Synthesis is the same
  // (Yosys: the same block RAM, proven equivalent; docs/port-contract.md). Keep the reads
  // first: a write above them would make the memory write-first.
  always_ff @(posedge clk_i) begin
    if (data_rd) begin
      cpu_rdata_q <= mem[word_idx];
    end
    hw_rdata_q <= mem[count_q];
    if (data_wr) begin
      for (int unsigned k = 0; k < 4; k++) begin
        if (wb_sel_i[k]) begin
          if (upper_half) mem[word_idx][32 + 8*k +: 8] = wb_dat_i[8*k +: 8];
          else            mem[word_idx][8*k +: 8]      = wb_dat_i[8*k +: 8];
        end
      end
    end
  end

  // The next-state logic sits here, not in a combinational block: registers that only
  // change on a bus access then cost nothing while the bus is idle.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      count_q       <= '0;
      enable_q      <= 1'b0;
      sent_enable_q <= 1'b0;
      rd_pending_q  <= 1'b0;
      rd_half_q     <= 1'b0;
    end else begin
      count_q       <= (count_q == LAST) ? '0 : count_q + 1'b1;
      sent_enable_q <= enable_q;
      rd_pending_q  <= data_rd;
      if (enable_wr) enable_q  <= wb_dat_i[0];
      if (data_rd)   rd_half_q <= upper_half;
    end
  end

  assign frame_o = sent_enable_q ? hw_rdata_q : '0;

`ifndef SYNTHESIS
  // The memory is initialised for simulation only; firmware must not rely on it.
  initial begin
    for (int unsigned i = 0; i < Depth; i++) mem[i] = '0;
    cpu_rdata_q = '0;
    hw_rdata_q  = '0;
  end

  // SPEC invariants, stated on observable behaviour (not on the signals that implement it).
  `RS_ASSERT_INIT(DepthAtLeastTwo_A, Depth >= 2, "Depth must be at least 2")
  // The read counter runs every cycle, enabled or not, and wraps at Depth.
  `RS_ASSERT(TxCounterAdvances_A,
             $past(rst_ni)
             |-> count_q == (($past(count_q) == LAST) ? '0 : $past(count_q) + 1'b1),
             "read counter did not advance by one")
  // frame(t+1) = enable(t) ? mem[count(t)] : 0: a disabled buffer sends zeroes.
  `RS_ASSERT(ZeroWhileDisabled_A, (frame_o != '0) |-> $past(enable_q), "data sent while disabled")
  `RS_ASSERT(NoAckWithErr_A, !(wb_ack_o && wb_err_o), "ACK and ERR together")
  // A data read is acknowledged exactly one cycle after it was presented.
  `RS_ASSERT(ReadLatencyOne_A,
             (wb_ack_o && is_data && !wb_we_i) |-> $past(req && !wb_we_i && is_data),
             "read acknowledged without RAM latency")
`endif

endmodule
