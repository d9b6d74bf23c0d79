// SPDX-License-Identifier: Apache-2.0
//
// Receive ring buffer (bittide Bittide.RingBuffer, RX side).
//
// Hardware writes the incoming frame every enabled cycle at a free-running counter's
// address (no valid bit: zeroes are written too); the CPU reads through a 32-bit Wishbone
// port. Register map (byte offsets):
//   0 .. 8*Depth-1   data            read only, reads take one extra cycle
//   8*Depth          enable          read/write, bit 0
//   8*Depth+8        clear_at_count  write only, full 32-bit writes, value < Depth
// Anything else (and a write to data, a read of clear_at_count, a partial or out-of-range
// clear_at_count write) answers ERR.
//
// clear_at_count = v holds the bus until the counter equals v. In that cycle the frame is
// still written to address v, the write is acknowledged, and the counter continues from 1
// as if it had been 0. A CPU read of the word hardware writes in the same cycle returns
// the old word (read-first).
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
  localparam logic [OffsetW-1:0] ENABLE_OFF = OffsetW'(8 * Depth);
  localparam logic [OffsetW-1:0] CLEAR_OFF = OffsetW'(8 * Depth + 8);

  // ---------------------------------------------------------------------------------------
  // Address decode.
  // ---------------------------------------------------------------------------------------
  logic             req;
  logic             is_data;
  logic             is_enable;
  logic             is_clear;
  logic [AddrW-1:0] word_idx;
  logic             upper_half;

  assign req        = wb_cyc_i & wb_stb_i;
  assign is_data    = wb_adr_i < ENABLE_OFF;
  assign is_enable  = wb_adr_i == ENABLE_OFF;
  assign is_clear   = wb_adr_i == CLEAR_OFF;
  assign word_idx   = wb_adr_i[AddrW+2:3];
  assign upper_half = wb_adr_i[2];

  // ---------------------------------------------------------------------------------------
  // Counter and clear_at_count.
  // ---------------------------------------------------------------------------------------
  logic             clear_ok;   // a well-formed clear_at_count write is on the bus
  logic             clear_hit;  // ... and the counter has reached its value
  logic [AddrW-1:0] count_d, count_q;
  logic             enable_d, enable_q;

  assign clear_ok  = req & wb_we_i & is_clear & (wb_sel_i == 4'hF)
                   & (wb_dat_i < 32'(Depth));
  assign clear_hit = clear_ok & (count_q == wb_dat_i[AddrW-1:0]);

  always_comb begin
    if (clear_hit) begin
      count_d = (Depth > 1) ? ONE : '0;
    end else begin
      count_d = (count_q == LAST) ? '0 : count_q + 1'b1;
    end
    enable_d = enable_q;
    if (req && wb_we_i && is_enable && wb_sel_i[0]) begin
      enable_d = wb_dat_i[0];
    end
  end

  // ---------------------------------------------------------------------------------------
  // Memory: one hardware write port (the link), one CPU read port.
  // ---------------------------------------------------------------------------------------
  logic [63:0] mem [Depth];
  logic [63:0] cpu_rdata_q;
  logic        rd_pending_d, rd_pending_q;
  logic        rd_half_d, rd_half_q;
  logic        data_rd;

  assign data_rd      = req & ~wb_we_i & is_data & ~rd_pending_q;
  assign rd_pending_d = data_rd;
  assign rd_half_d    = data_rd ? upper_half : rd_half_q;

  // Block RAM template: read-first.
  always_ff @(posedge clk_i) begin
    if (enable_q) begin
      mem[count_q] <= frame_i;
    end
    if (data_rd) begin
      cpu_rdata_q <= mem[word_idx];
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      count_q      <= '0;
      enable_q     <= 1'b0;
      rd_pending_q <= 1'b0;
      rd_half_q    <= 1'b0;
    end else begin
      count_q      <= count_d;
      enable_q     <= enable_d;
      rd_pending_q <= rd_pending_d;
      rd_half_q    <= rd_half_d;
    end
  end

  // ---------------------------------------------------------------------------------------
  // Responses.
  // ---------------------------------------------------------------------------------------
  always_comb begin
    wb_ack_o = 1'b0;
    wb_err_o = 1'b0;
    wb_dat_o = '0;
    if (req) begin
      if (is_data) begin
        // Data is read only.
        wb_err_o = wb_we_i;
        wb_ack_o = ~wb_we_i & rd_pending_q;
        wb_dat_o = rd_half_q ? cpu_rdata_q[63:32] : cpu_rdata_q[31:0];
      end else if (is_enable) begin
        wb_ack_o = 1'b1;
        wb_dat_o = {31'b0, enable_q};
      end else if (is_clear) begin
        // Write only; the bus is held until the counter matches.
        wb_err_o = ~clear_ok;
        wb_ack_o = clear_hit;
      end else begin
        wb_err_o = 1'b1;
      end
    end
  end

`ifndef SYNTHESIS
  // Simulation starts with an all-zero buffer (SPEC: "0 in simulation").
  initial begin
    for (int unsigned i = 0; i < Depth; i++) mem[i] = '0;
    cpu_rdata_q = '0;
  end

  // SPEC invariants.
  initial assert (Depth >= 2) else $error("rx_ring_buffer: Depth must be at least 2");
  assert property (@(posedge clk_i) disable iff (!rst_ni) 32'(count_q) < Depth)
    else $error("rx_ring_buffer: write counter out of range");
  assert property (@(posedge clk_i) disable iff (!rst_ni) !(wb_ack_o && wb_err_o))
    else $error("rx_ring_buffer: ACK and ERR together");
  // clear_at_count completes only in the cycle the counter holds its value.
  assert property (@(posedge clk_i) disable iff (!rst_ni) !(wb_ack_o && is_clear) || count_q == wb_dat_i[AddrW-1:0])
    else $error("rx_ring_buffer: clear_at_count acknowledged at the wrong count");
  assert property (@(posedge clk_i) disable iff (!rst_ni) !(wb_ack_o && is_data) || rd_pending_q)
    else $error("rx_ring_buffer: read acknowledged without RAM latency");
`endif

endmodule
