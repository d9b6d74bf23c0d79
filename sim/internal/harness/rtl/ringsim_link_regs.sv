// SPDX-License-Identifier: Apache-2.0
//
// ringsim_link_regs: the per-port link registers of ringsim_top (ringsim_regs_pkg's "link"
// device, one window per port). Read-only registers show the harness's status inputs;
// ac_enable, ac_margin and elastic_buffer_delta are held here; writes to eb_adjust and
// eb_clear_status are pulses to the harness in the cycle of the write. Every access is
// answered in the cycle it is presented: ACK, or ERR for a write to a read-only register,
// a read of a write-only one, a partial write, or an offset with no register.
module ringsim_link_regs #(
  parameter int unsigned Ports      = 1,
  parameter int unsigned WindowLog2 = 8
) (
  input  logic                  clk_i,
  input  logic                  rst_ni,
  input  logic                  req_i,
  input  logic                  we_i,
  input  logic [31:0]           port_i,
  input  logic [WindowLog2-1:0] offset_i,
  input  logic [31:0]           dat_i,
  input  logic [3:0]            sel_i,
  output logic [31:0]           dat_o,
  output logic                  ack_o,
  output logic                  err_o,
  input  logic [Ports*32-1:0]   eb_count_i,
  input  logic [Ports-1:0]      eb_underflow_i,
  input  logic [Ports-1:0]      eb_overflow_i,
  input  logic [Ports-1:0]      ac_idle_i,
  input  logic [Ports*32-1:0]   ac_total_i,
  input  logic [Ports-1:0]      link_up_i,
  input  logic [Ports-1:0]      captured_i,
  input  logic [Ports*64-1:0]   ugn_local_i,
  input  logic [Ports*64-1:0]   ugn_remote_i,
  output logic [Ports-1:0]      ac_enable_o,
  output logic [Ports*16-1:0]   ac_margin_o,
  output logic [Ports-1:0]      adj_valid_o,
  output logic [Ports*32-1:0]   adj_value_o,
  output logic [Ports-1:0]      clear_o,
  output logic [Ports*32-1:0]   eb_delta_o
);

  logic [Ports-1:0]    enable_q;
  logic [15:0]         margin_q [Ports];
  logic [31:0]         delta_q [Ports];
  logic                full;
  logic [Ports-1:0]    sel_port;
  // Write strobes for the held registers, applied at this cycle's edge. The next-state logic
  // sits in the clocked block, so an idle bus does not copy every register every cycle.
  logic [Ports-1:0]    enable_wr, margin_lo_wr, margin_hi_wr, delta_wr;

  assign full = sel_i == 4'hF;

  always_comb begin
    dat_o       = '0;
    ack_o       = 1'b0;
    err_o       = 1'b0;
    enable_wr    = '0;
    margin_lo_wr = '0;
    margin_hi_wr = '0;
    delta_wr     = '0;
    adj_valid_o = '0;
    adj_value_o = '0;
    clear_o     = '0;
    sel_port    = '0;
    if (req_i) begin
      for (int unsigned p = 0; p < Ports; p++) begin
        sel_port[p] = port_i == 32'(p);
      end
      err_o = 1'b1;  // unless a register below takes the access
      for (int unsigned p = 0; p < Ports; p++) begin
        if (sel_port[p]) begin
          unique case (32'(offset_i))
            ringsim_regs_pkg::LINK_EB_DATA_COUNT_OFFSET: if (!we_i) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = eb_count_i[32*p +: 32];
            end
            ringsim_regs_pkg::LINK_EB_UNDERFLOW_OFFSET: if (!we_i) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = {31'b0, eb_underflow_i[p]};
            end
            ringsim_regs_pkg::LINK_EB_OVERFLOW_OFFSET: if (!we_i) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = {31'b0, eb_overflow_i[p]};
            end
            ringsim_regs_pkg::LINK_EB_CLEAR_STATUS_OFFSET: if (we_i && full) begin
              ack_o = 1'b1; err_o = 1'b0; clear_o[p] = dat_i[0];
            end
            ringsim_regs_pkg::LINK_AC_ENABLE_OFFSET: begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = {31'b0, enable_q[p]};
              if (we_i && sel_i[0]) enable_wr[p] = 1'b1;
            end
            ringsim_regs_pkg::LINK_AC_MARGIN_OFFSET: begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = {16'b0, margin_q[p]};
              if (we_i && sel_i[0]) margin_lo_wr[p] = 1'b1;
              if (we_i && sel_i[1]) margin_hi_wr[p] = 1'b1;
            end
            ringsim_regs_pkg::LINK_AC_IS_IDLE_OFFSET: if (!we_i) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = {31'b0, ac_idle_i[p]};
            end
            ringsim_regs_pkg::LINK_AC_TOTAL_ADJUSTMENTS_OFFSET: if (!we_i) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = ac_total_i[32*p +: 32];
            end
            ringsim_regs_pkg::LINK_EB_ADJUST_OFFSET: if (we_i && full) begin
              ack_o = 1'b1; err_o = 1'b0; adj_valid_o[p] = 1'b1; adj_value_o[32*p +: 32] = dat_i;
            end
            ringsim_regs_pkg::LINK_ELASTIC_BUFFER_DELTA_OFFSET: if (!we_i || full) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = delta_q[p];
              if (we_i) delta_wr[p] = 1'b1;
            end
            ringsim_regs_pkg::LINK_UGN_LOCAL_LO_OFFSET: if (!we_i) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = ugn_local_i[64*p +: 32];
            end
            ringsim_regs_pkg::LINK_UGN_LOCAL_HI_OFFSET: if (!we_i) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = ugn_local_i[64*p+32 +: 32];
            end
            ringsim_regs_pkg::LINK_UGN_REMOTE_LO_OFFSET: if (!we_i) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = ugn_remote_i[64*p +: 32];
            end
            ringsim_regs_pkg::LINK_UGN_REMOTE_HI_OFFSET: if (!we_i) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = ugn_remote_i[64*p+32 +: 32];
            end
            ringsim_regs_pkg::LINK_STATUS_OFFSET: if (!we_i) begin
              ack_o = 1'b1; err_o = 1'b0; dat_o = {30'b0, captured_i[p], link_up_i[p]};
            end
            default: ;
          endcase
        end
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      enable_q <= '0;
      for (int unsigned p = 0; p < Ports; p++) begin
        margin_q[p] <= 16'(ringsim_regs_pkg::LINK_AC_MARGIN_RESET);
        delta_q[p]  <= '0;
      end
    end else begin
      for (int unsigned p = 0; p < Ports; p++) begin
        if (enable_wr[p]) enable_q[p] <= dat_i[0];
        if (margin_lo_wr[p] || margin_hi_wr[p]) begin
          margin_q[p] <= {margin_hi_wr[p] ? dat_i[15:8] : margin_q[p][15:8],
                          margin_lo_wr[p] ? dat_i[7:0] : margin_q[p][7:0]};
        end
        if (delta_wr[p]) delta_q[p] <= dat_i;
      end
    end
  end

  for (genvar p = 0; p < Ports; p++) begin : g_out
    assign ac_margin_o[16*p +: 16] = margin_q[p];
    assign eb_delta_o[32*p +: 32]  = delta_q[p];
  end
  assign ac_enable_o = enable_q;

endmodule
