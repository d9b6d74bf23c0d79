// SPDX-License-Identifier: Apache-2.0
//
// One bittide node as ringsim simulates it: Ports link ports, each with a TX and an RX ring
// buffer of Depth 64-bit words, a node block, and a 32-bit little-endian Wishbone slave
// with an address decoder. This module's parameters and ports are the node port contract
// (docs/port-contract.md): bring-your-own RTL implements exactly this interface.
//
// Address map (ringsim_regs_pkg, generated from internal/regmap/regmap.json): the address
// space is cut into windows of 1 << WindowLog2 bytes, WindowLog2 = max(8, clog2(8*Depth +
// 16)); window 0 is the node block, window 1 + 2p the TX ring buffer of port p and window
// 2 + 2p its RX ring buffer. Inside a ring buffer window the offsets are bittide's (data at
// 0, enable at 8*Depth, clear_at_count at 8*Depth + 8). Misaligned addresses and windows
// past the last device answer ERR in the same cycle.

`include "ringsim_assert.svh"

module ringsim_node #(
  parameter int unsigned Depth = 16,
  parameter int unsigned Ports = 1
) (
  input  logic                  clk_i,
  input  logic                  rst_ni,
  // Identity, driven by the simulator.
  input  logic [95:0]           dna_i,
  input  logic [31:0]           node_id_i,
  // Wishbone slave (classic), byte addresses.
  input  logic                  wb_cyc_i,
  input  logic                  wb_stb_i,
  input  logic                  wb_we_i,
  input  logic [31:0]           wb_adr_i,
  input  logic [31:0]           wb_dat_i,
  input  logic [3:0]            wb_sel_i,
  output logic [31:0]           wb_dat_o,
  output logic                  wb_ack_o,
  output logic                  wb_err_o,
  // Links: port p's frame is bits [64p+63:64p].
  output logic [Ports*64-1:0]   tx_frames_o,
  input  logic [Ports*64-1:0]   rx_frames_i
);

  // BROKEN (testdata): the window is sized for the data words alone, not the registers
  // after them (8*Depth + 16 bytes): one bit too small at power-of-two depths of 32 and up.
  localparam int unsigned WindowLog2 = ($clog2(8 * Depth) > 8) ? $clog2(8 * Depth) : 8;
  localparam int unsigned Devices    = ringsim_regs_pkg::num_windows(Ports);
  localparam int unsigned NodeWin    = ringsim_regs_pkg::NODE_WINDOW;
  localparam int unsigned DevW       = 32 - WindowLog2;

  logic [DevW-1:0]       dev;
  logic [WindowLog2-1:0] offset;
  logic                  aligned;
  logic                  req;

  assign dev     = wb_adr_i[31:WindowLog2];
  assign offset  = wb_adr_i[WindowLog2-1:0];
  assign aligned = wb_adr_i[1:0] == 2'b00;
  assign req     = wb_cyc_i & wb_stb_i;

  logic [Devices-1:0] dev_stb;
  logic [Devices-1:0] dev_ack;
  logic [Devices-1:0] dev_err;
  logic [31:0]        dev_dat [Devices];

  always_comb begin
    dev_stb = '0;
    if (req && aligned) begin
      for (int unsigned i = 0; i < Devices; i++) begin
        dev_stb[i] = dev == DevW'(i);
      end
    end
  end

  node_regs #(
    .Depth      (Depth),
    .Ports      (Ports),
    .WindowLog2 (WindowLog2),
    .OffsetW    (WindowLog2)
  ) u_node_regs (
    .clk_i     (clk_i),
    .rst_ni    (rst_ni),
    .dna_i     (dna_i),
    .node_id_i (node_id_i),
    .wb_cyc_i  (wb_cyc_i),
    .wb_stb_i  (dev_stb[NodeWin]),
    .wb_we_i   (wb_we_i),
    .wb_adr_i  (offset),
    .wb_dat_o  (dev_dat[NodeWin]),
    .wb_ack_o  (dev_ack[NodeWin]),
    .wb_err_o  (dev_err[NodeWin])
  );

  for (genvar p = 0; p < Ports; p++) begin : g_port
    localparam int unsigned TxWin = ringsim_regs_pkg::tx_window(p);
    localparam int unsigned RxWin = ringsim_regs_pkg::rx_window(p);

    tx_ring_buffer #(
      .Depth   (Depth),
      .OffsetW (WindowLog2)
    ) u_tx (
      .clk_i    (clk_i),
      .rst_ni   (rst_ni),
      .wb_cyc_i (wb_cyc_i),
      .wb_stb_i (dev_stb[TxWin]),
      .wb_we_i  (wb_we_i),
      .wb_adr_i (offset),
      .wb_dat_i (wb_dat_i),
      .wb_sel_i (wb_sel_i),
      .wb_dat_o (dev_dat[TxWin]),
      .wb_ack_o (dev_ack[TxWin]),
      .wb_err_o (dev_err[TxWin]),
      .frame_o  (tx_frames_o[64 * p +: 64])
    );

    rx_ring_buffer #(
      .Depth   (Depth),
      .OffsetW (WindowLog2)
    ) u_rx (
      .clk_i    (clk_i),
      .rst_ni   (rst_ni),
      .wb_cyc_i (wb_cyc_i),
      .wb_stb_i (dev_stb[RxWin]),
      .wb_we_i  (wb_we_i),
      .wb_adr_i (offset),
      .wb_dat_i (wb_dat_i),
      .wb_sel_i (wb_sel_i),
      .wb_dat_o (dev_dat[RxWin]),
      .wb_ack_o (dev_ack[RxWin]),
      .wb_err_o (dev_err[RxWin]),
      .frame_i  (rx_frames_i[64 * p +: 64])
    );
  end

  // Response mux: unselected devices drive zeroes, so an OR is enough.
  always_comb begin
    wb_dat_o = '0;
    wb_ack_o = 1'b0;
    wb_err_o = 1'b0;
    if (req) begin
      for (int unsigned i = 0; i < Devices; i++) begin
        wb_dat_o = wb_dat_o | dev_dat[i];
      end
      wb_ack_o = |dev_ack;
      // Misaligned or unmapped: no device is selected, answer ERR at once.
      wb_err_o = (|dev_err) | ~(|dev_stb);
    end
  end

`ifndef SYNTHESIS
  `RS_ASSERT(OneDeviceAnswers_A, $onehot0(dev_ack | dev_err), "two devices answered")
  `RS_ASSERT(NoAckWithErr_A, !(wb_ack_o && wb_err_o), "ACK and ERR together")
`endif

endmodule
