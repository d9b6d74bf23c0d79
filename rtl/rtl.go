// Package rtl embeds ringsim's SystemVerilog node RTL so that the ringsim binary can build
// simulation models without a source checkout.
package rtl

import "embed"

// FS holds the RTL sources (*.sv) and the Verilator configuration (*.vlt).
//
//go:embed *.sv *.vlt
var FS embed.FS
