// SPDX-License-Identifier: Apache-2.0
//
// Node block: read-only identity and geometry registers and the free-running 64-bit cycle
// counter that firmware uses as its timer. The register map (MAGIC, VERSION, NODE_ID,
// DEPTH, PORTS, WINDOW_LOG2, DNA0-2, CYCLE_LO/HI) is ringsim_regs_pkg's, generated from
// internal/regmap/regmap.json. All reads are answered in the cycle they are presented;
// writes and other offsets ERR.
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
        OffsetW'(ringsim_regs_pkg::NODE_MAGIC_OFFSET):
          wb_dat_o = ringsim_regs_pkg::NODE_MAGIC_VALUE;
        OffsetW'(ringsim_regs_pkg::NODE_VERSION_OFFSET):
          wb_dat_o = ringsim_regs_pkg::NODE_VERSION_VALUE;
        OffsetW'(ringsim_regs_pkg::NODE_NODE_ID_OFFSET):
          wb_dat_o = node_id_i;
        OffsetW'(ringsim_regs_pkg::NODE_DEPTH_OFFSET):
          wb_dat_o = 32'(Depth);
        OffsetW'(ringsim_regs_pkg::NODE_PORTS_OFFSET):
          wb_dat_o = 32'(Ports);
        OffsetW'(ringsim_regs_pkg::NODE_WINDOW_LOG2_OFFSET):
          wb_dat_o = 32'(WindowLog2);
        OffsetW'(ringsim_regs_pkg::NODE_DNA0_OFFSET):
          wb_dat_o = dna_i[31:0];
        OffsetW'(ringsim_regs_pkg::NODE_DNA1_OFFSET):
          wb_dat_o = dna_i[63:32];
        OffsetW'(ringsim_regs_pkg::NODE_DNA2_OFFSET):
          wb_dat_o = dna_i[95:64];
        OffsetW'(ringsim_regs_pkg::NODE_CYCLE_LO_OFFSET): begin
          wb_dat_o = cycle_q[31:0];
          if (!wb_we_i) cycle_hi_d = cycle_q[63:32];
        end
        OffsetW'(ringsim_regs_pkg::NODE_CYCLE_HI_OFFSET):
          wb_dat_o = cycle_hi_q;
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
