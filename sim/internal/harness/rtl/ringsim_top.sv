// SPDX-License-Identifier: Apache-2.0
//
// ringsim_top: the harness's wrapper around a node (the user's ringsim_node, the port
// contract in docs/port-contract.md). It adds what the real link puts around the ring
// buffers (SPEC section 8) as firmware-visible registers: per port, the receiving end's
// elastic buffer (occupancy, sticky flags, auto-centre, adjustments) and UGN capture. The
// FIFOs, clocks and link bring-up are modelled by the C++ harness, which drives this
// wrapper's status inputs and reads its control outputs every cycle; the registers live
// here so that they appear in waveforms and the register map (internal/regmap) covers them.
//
// Clocks: the node's clock is clk_i | (tick_i ^ tick_q). For models with assertions, and
// while a waveform, a drive or a recording runs, the harness drives clk_i low and high,
// one evaluation each, with tick_i held. Otherwise it holds clk_i low and toggles tick_i
// once per cycle, evaluating once: the clock rises with the new inputs and falls again in
// the same evaluation (tick_q follows tick_i at the edge), so a cycle costs one evaluation
// instead of two. What the harness samples before the edge (the bus response, the link
// registers' pulses) is then taken from sampled_*_o, registered at the edge: both ways see
// the same values in the same cycle (harness.cpp, kOneEval).
//
// Bus routing: the windows of ringsim_regs_pkg::link_window(Ports, p) go to the link
// registers when link_en_i is set (the real link); every other access goes to the node.
// On the ideal link (link_en_i = 0) the node sees every access, as without the wrapper.
// Models for the ideal link are built with RealLink = 0, which leaves the link registers
// out altogether (they would cost every cycle for nothing); the ports stay, unused.
module ringsim_top #(
  parameter int unsigned Depth    = 16,
  parameter int unsigned Ports    = 1,
  parameter bit          RealLink = 1'b0
) (
  input  logic                 clk_i,
  input  logic                 tick_i,
  input  logic                 rst_ni,
  input  logic [95:0]          dna_i,
  input  logic [31:0]          node_id_i,
  input  logic                 wb_cyc_i,
  input  logic                 wb_stb_i,
  input  logic                 wb_we_i,
  input  logic [31:0]          wb_adr_i,
  input  logic [31:0]          wb_dat_i,
  input  logic [3:0]           wb_sel_i,
  output logic [31:0]          wb_dat_o,
  output logic                 wb_ack_o,
  output logic                 wb_err_o,
  // The bus response as it was before the last clock edge (what the master sampled then).
  output logic [31:0]          sampled_dat_o,
  output logic                 sampled_ack_o,
  output logic                 sampled_err_o,
  output logic [Ports*64-1:0]  tx_frames_o,
  input  logic [Ports*64-1:0]  rx_frames_i,
  // Link status from the harness (real link only).
  input  logic                 link_en_i,
  input  logic [Ports*32-1:0]  eb_count_i,
  input  logic [Ports-1:0]     eb_underflow_i,
  input  logic [Ports-1:0]     eb_overflow_i,
  input  logic [Ports-1:0]     ac_idle_i,
  input  logic [Ports*32-1:0]  ac_total_i,
  input  logic [Ports-1:0]     link_up_i,
  input  logic [Ports-1:0]     captured_i,
  input  logic [Ports*64-1:0]  ugn_local_i,
  input  logic [Ports*64-1:0]  ugn_remote_i,
  // Link control to the harness: register values, and pulses in the cycle of a write.
  output logic [Ports-1:0]     ac_enable_o,
  output logic [Ports*16-1:0]  ac_margin_o,
  output logic [Ports-1:0]     adj_valid_o,
  output logic [Ports*32-1:0]  adj_value_o,
  output logic [Ports-1:0]     clear_o,
  output logic [Ports*32-1:0]  eb_delta_o,
  // The pulses as they were before the last clock edge (the write that made them).
  output logic [Ports-1:0]     sampled_adj_valid_o,
  output logic [Ports*32-1:0]  sampled_adj_value_o,
  output logic [Ports-1:0]     sampled_clear_o
);

  logic clk;
  logic tick_q;
  assign clk = clk_i | (tick_i ^ tick_q);

  always_ff @(posedge clk) begin
    tick_q              <= tick_i;
    sampled_dat_o       <= wb_dat_o;
    sampled_ack_o       <= wb_ack_o;
    sampled_err_o       <= wb_err_o;
    sampled_adj_valid_o <= adj_valid_o;
    sampled_adj_value_o <= adj_value_o;
    sampled_clear_o     <= clear_o;
  end

  localparam int unsigned WindowLog2 = ringsim_regs_pkg::window_log2(Depth);
  localparam int unsigned FirstLink  = ringsim_regs_pkg::link_window(Ports, 0);
  localparam int unsigned DevW       = 32 - WindowLog2;

  logic            req;
  logic [DevW-1:0] win;
  logic            to_link;
  logic [31:0]     link_port;

  assign req       = wb_cyc_i & wb_stb_i;
  assign win       = wb_adr_i[31:WindowLog2];
  assign link_port = 32'(win) - 32'(FirstLink);
  assign to_link   = RealLink && link_en_i && (32'(win) >= 32'(FirstLink)) && (link_port < 32'(Ports));

  logic [31:0] node_dat, link_dat;
  logic        node_ack, node_err, link_ack, link_err;

  ringsim_node #(
    .Depth (Depth),
    .Ports (Ports)
  ) u_node (
    .clk_i       (clk),
    .rst_ni      (rst_ni),
    .dna_i       (dna_i),
    .node_id_i   (node_id_i),
    .wb_cyc_i    (wb_cyc_i),
    .wb_stb_i    (wb_stb_i & ~to_link),
    .wb_we_i     (wb_we_i),
    .wb_adr_i    (wb_adr_i),
    .wb_dat_i    (wb_dat_i),
    .wb_sel_i    (wb_sel_i),
    .wb_dat_o    (node_dat),
    .wb_ack_o    (node_ack),
    .wb_err_o    (node_err),
    .tx_frames_o (tx_frames_o),
    .rx_frames_i (rx_frames_i)
  );

  if (RealLink) begin : g_link
    ringsim_link_regs #(
      .Ports      (Ports),
      .WindowLog2 (WindowLog2)
    ) u_link (
      .clk_i          (clk),
      .rst_ni         (rst_ni),
      .req_i          (req & to_link),
      .we_i           (wb_we_i),
      .port_i         (link_port),
      .offset_i       (wb_adr_i[WindowLog2-1:0]),
      .dat_i          (wb_dat_i),
      .sel_i          (wb_sel_i),
      .dat_o          (link_dat),
      .ack_o          (link_ack),
      .err_o          (link_err),
      .eb_count_i     (eb_count_i),
      .eb_underflow_i (eb_underflow_i),
      .eb_overflow_i  (eb_overflow_i),
      .ac_idle_i      (ac_idle_i),
      .ac_total_i     (ac_total_i),
      .link_up_i      (link_up_i),
      .captured_i     (captured_i),
      .ugn_local_i    (ugn_local_i),
      .ugn_remote_i   (ugn_remote_i),
      .ac_enable_o    (ac_enable_o),
      .ac_margin_o    (ac_margin_o),
      .adj_valid_o    (adj_valid_o),
      .adj_value_o    (adj_value_o),
      .clear_o        (clear_o),
      .eb_delta_o     (eb_delta_o)
    );
  end else begin : g_no_link
    assign link_dat    = '0;
    assign link_ack    = 1'b0;
    assign link_err    = 1'b0;
    assign ac_enable_o = '0;
    assign ac_margin_o = '0;
    assign adj_valid_o = '0;
    assign adj_value_o = '0;
    assign clear_o     = '0;
    assign eb_delta_o  = '0;
  end

  assign wb_dat_o = to_link ? link_dat : node_dat;
  assign wb_ack_o = to_link ? link_ack : node_ack;
  assign wb_err_o = to_link ? link_err : node_err;

endmodule
