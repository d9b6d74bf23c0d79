// SPDX-License-Identifier: Apache-2.0
//
// Node block: read-only identity and geometry registers and the free-running 64-bit cycle
// counter that firmware uses as its timer. Register map (byte offsets, 32-bit registers):
//   0x00 MAGIC        0x4D495352 ("RSIM" little endian)
//   0x04 VERSION      register map version, 1
//   0x08 NODE_ID      node id (simulator input)
//   0x0C DEPTH        ring buffer depth D in 64-bit words
//   0x10 PORTS        number of link ports
//   0x14 WINDOW_LOG2  each device occupies 1 << WINDOW_LOG2 bytes of the address space
//   0x18 DNA0         device DNA bits [31:0]   (simulator input)
//   0x1C DNA1         device DNA bits [63:32]
//   0x20 DNA2         device DNA bits [95:64]
//   0x28 CYCLE_LO     cycles since reset, low half; reading it latches the high half
//   0x2C CYCLE_HI     high half latched by the last CYCLE_LO read
// All reads are answered in the cycle they are presented; writes and other offsets ERR.
module node_regs #(
  parameter int unsigned Depth      = 16,
  parameter int unsigned Ports      = 1,
  parameter int unsigned WindowLog2 = 8,
  parameter int unsigned OffsetW    = 8
) (
  input  logic               clk_i,
  input  logic               rst_ni,
  input  logic [95:0]        dna_i,
  input  logic [31:0]        node_id_i,
  // Wishbone slave, classic cycles, already decoded to this device.
  input  logic               wb_cyc_i,
  input  logic               wb_stb_i,
  input  logic               wb_we_i,
  input  logic [OffsetW-1:0] wb_adr_i,
  output logic [31:0]        wb_dat_o,
  output logic               wb_ack_o,
  output logic               wb_err_o
);

  localparam logic [31:0] MAGIC   = 32'h4D49_5352;
  localparam logic [31:0] VERSION = 32'd1;

  logic        req;
  logic [63:0] cycle_d, cycle_q;
  logic [31:0] cycle_hi_d, cycle_hi_q;
  logic        hit;

  assign req     = wb_cyc_i & wb_stb_i;
  assign cycle_d = cycle_q + 64'd1;

  always_comb begin
    hit        = 1'b0;
    wb_dat_o   = '0;
    cycle_hi_d = cycle_hi_q;
    if (req) begin
      hit = 1'b1;
      unique case (wb_adr_i)
        OffsetW'(8'h00): wb_dat_o = MAGIC;
        OffsetW'(8'h04): wb_dat_o = VERSION;
        OffsetW'(8'h08): wb_dat_o = node_id_i;
        OffsetW'(8'h0C): wb_dat_o = 32'(Depth);
        OffsetW'(8'h10): wb_dat_o = 32'(Ports);
        OffsetW'(8'h14): wb_dat_o = 32'(WindowLog2);
        OffsetW'(8'h18): wb_dat_o = dna_i[31:0];
        OffsetW'(8'h1C): wb_dat_o = dna_i[63:32];
        OffsetW'(8'h20): wb_dat_o = dna_i[95:64];
        OffsetW'(8'h28): begin
          wb_dat_o = cycle_q[31:0];
          if (!wb_we_i) cycle_hi_d = cycle_q[63:32];
        end
        OffsetW'(8'h2C): wb_dat_o = cycle_hi_q;
        default: hit = 1'b0;
      endcase
    end
  end

  assign wb_ack_o = req & hit & ~wb_we_i;
  assign wb_err_o = req & ~(hit & ~wb_we_i);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      cycle_q    <= '0;
      cycle_hi_q <= '0;
    end else begin
      cycle_q    <= cycle_d;
      cycle_hi_q <= cycle_hi_d;
    end
  end

endmodule
