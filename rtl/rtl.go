// Package rtl embeds ringsim's SystemVerilog node RTL so that the ringsim binary can build
// simulation models without a source checkout.
package rtl

import "embed"

// FS holds the RTL sources (*.sv), the assertion macros (*.svh) and the Verilator
// configuration (*.vlt).
//
//go:embed *.sv *.svh *.vlt
var FS embed.FS
