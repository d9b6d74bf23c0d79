// SPDX-License-Identifier: Apache-2.0
//
// Receive ring buffer (bittide Bittide.RingBuffer, RX side).
//
// Hardware writes the incoming frame every enabled cycle at a free-running counter's
// address (no valid bit: zeroes are written too); the CPU reads through a 32-bit Wishbone
// port. Register map (ringsim_regs_pkg, generated from internal/regmap/regmap.json):
// data (read only, reads take one extra cycle), enable (read/write, bit 0) and
// clear_at_count (write only, full 32-bit writes, value < Depth). Anything else (and a
// write to data, a read of clear_at_count, a partial or out-of-range clear_at_count write)
// answers ERR.
//
// clear_at_count = v holds the bus until the counter equals v. In that cycle the frame is
// still written to address v, the write is acknowledged, and the counter continues from 1
// as if it had been 0. A CPU read of the word hardware writes in the same cycle returns
// the old word (read-first).

`include "ringsim_assert.svh"

module rx_ring_buffer #(
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
  input  logic [63:0]        frame_i
);

  localparam int unsigned AddrW = (Depth > 1) ? $clog2(Depth) : 1;
  localparam logic [AddrW-1:0] LAST = AddrW'(Depth - 1);
  localparam logic [AddrW-1:0] ONE = AddrW'(1);
  localparam logic [OffsetW-1:0] DATA_END = OffsetW'(ringsim_regs_pkg::RX_DATA_OFFSET +
                                                    ringsim_regs_pkg::rx_data_bytes(Depth));
  localparam logic [OffsetW-1:0] ENABLE_OFF = OffsetW'(ringsim_regs_pkg::rx_enable_offset(Depth));
  localparam logic [OffsetW-1:0] CLEAR_OFF =
      OffsetW'(ringsim_regs_pkg::rx_clear_at_count_offset(Depth));

  // ---------------------------------------------------------------------------------------
  // Bus decode and responses. Data reads are acknowledged one cycle after the request;
  // enable accesses and bad accesses in the cycle they are presented; clear_at_count when
  // the counter matches. All decoding sits under `if (req)`, so an idle bus costs the
  // simulator almost nothing.
  // ---------------------------------------------------------------------------------------
  logic             req;
  logic             is_data;
  logic             is_clear;
  logic             data_rd;    // a data read starts this cycle
  logic             clear_hit;  // clear_at_count completes this cycle
  logic             enable_wr;  // enable is written at this cycle's edge
  logic [AddrW-1:0] word_idx;
  logic             rd_pending_q;
  logic             rd_half_q;
  logic             enable_q;
  logic [AddrW-1:0] count_q;
  logic [63:0]      cpu_rdata_q;

  assign req      = wb_cyc_i & wb_stb_i;
  assign word_idx = wb_adr_i[AddrW+2:3];

  always_comb begin
    is_data   = 1'b0;
    is_clear  = 1'b0;
    data_rd   = 1'b0;
    clear_hit = 1'b0;
    enable_wr = 1'b0;
    wb_ack_o  = 1'b0;
    wb_err_o  = 1'b0;
    wb_dat_o  = '0;
    if (req) begin
      is_data  = wb_adr_i < DATA_END;
      is_clear = wb_adr_i == CLEAR_OFF;
      if (is_data) begin
        // Data is read only.
        data_rd  = ~wb_we_i & ~rd_pending_q;
        wb_err_o = wb_we_i;
        wb_ack_o = ~wb_we_i & rd_pending_q;
        wb_dat_o = rd_half_q ? cpu_rdata_q[63:32] : cpu_rdata_q[31:0];
      end else if (wb_adr_i == ENABLE_OFF) begin
        wb_ack_o  = 1'b1;
        wb_dat_o  = {31'b0, enable_q};
        if (wb_we_i && wb_sel_i[0]) enable_wr = 1'b1;
      end else if (is_clear && wb_we_i && wb_sel_i == 4'hF && wb_dat_i < 32'(Depth)) begin
        // Write only, full words, value < Depth; the bus is held until the counter matches.
        clear_hit = count_q == wb_dat_i[AddrW-1:0];
        wb_ack_o  = clear_hit;
      end else begin
        wb_err_o = 1'b1;
      end
    end
  end

  // ---------------------------------------------------------------------------------------
  // Memory: one hardware write port (the link), one CPU read port.
  // ---------------------------------------------------------------------------------------
  logic [63:0] mem [Depth];

  // Block RAM template: read-first. As in tx_ring_buffer, the memory is written with a
  // blocking assignment after the read (waived in ringsim.vlt; Verilator then writes it in
  // place, not through a delayed update), so the read takes the old word. Keep it last.
  always_ff @(posedge clk_i) begin
    // BROKEN (testdata): the blocking write comes before the read, which makes the memory
    // write-first: a read of the word the link writes in the same cycle returns the
    // incoming frame, not the word from before the write.
    if (enable_q) begin
      mem[count_q] = frame_i;
    end
    if (data_rd) begin
      cpu_rdata_q <= mem[word_idx];
    end
  end

  // The next-state logic sits here, not in a combinational block: registers that only
  // change on a bus access then cost nothing while the bus is idle.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      count_q      <= '0;
      enable_q     <= 1'b0;
      rd_pending_q <= 1'b0;
      rd_half_q    <= 1'b0;
    end else begin
      if (clear_hit) count_q <= (Depth > 1) ? ONE : '0;
      else           count_q <= (count_q == LAST) ? '0 : count_q + 1'b1;
      rd_pending_q <= data_rd;
      if (enable_wr) enable_q  <= wb_dat_i[0];
      if (data_rd)   rd_half_q <= wb_adr_i[2];
    end
  end

`ifndef SYNTHESIS
  // Simulation starts with an all-zero buffer (SPEC: "0 in simulation").
  initial begin
    for (int unsigned i = 0; i < Depth; i++) mem[i] = '0;
    cpu_rdata_q = '0;
  end

  // SPEC invariants, stated on observable behaviour (not on the signals that implement it).
  `RS_ASSERT_INIT(DepthAtLeastTwo_A, Depth >= 2, "Depth must be at least 2")
  // The write counter advances by one every cycle, enabled or not, except right after a
  // clear_at_count completed, when it continues from 1 as if it had been 0.
  `RS_ASSERT(RxCounterAdvances_A,
             ($past(rst_ni) && !$past(wb_ack_o && is_clear))
             |-> count_q == (($past(count_q) == LAST) ? '0 : $past(count_q) + 1'b1),
             "write counter did not advance by one")
  `RS_ASSERT(RxCounterOneAfterClear_A,
             $past(wb_ack_o && is_clear) |-> count_q == ONE,
             "write counter not at 1 after clear_at_count")
  // clear_at_count completes only in the cycle the counter holds its value.
  `RS_ASSERT(ClearAckAtCount_A,
             (wb_ack_o && is_clear) |-> count_q == wb_dat_i[AddrW-1:0],
             "clear_at_count acknowledged at the wrong count")
  `RS_ASSERT(NoAckWithErr_A, !(wb_ack_o && wb_err_o), "ACK and ERR together")
  // A data read is acknowledged exactly one cycle after it was presented.
  `RS_ASSERT(ReadLatencyOne_A,
             (wb_ack_o && is_data) |-> $past(req && !wb_we_i && is_data),
             "read acknowledged without RAM latency")
`endif

endmodule
