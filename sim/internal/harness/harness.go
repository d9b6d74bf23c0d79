// Package harness embeds the C++ harness that ringsim compiles together with a Verilated
// node model into a loadable shared object (csrc/rs_api.h is its C interface).
package harness

import "embed"

// FS holds csrc/: the harness, its C API header and the standalone benchmark loop; and
// rtl/: ringsim_top, the wrapper around the user's node that holds the real link's
// registers (the model's top module), and its register device.
//
//go:embed csrc rtl
var FS embed.FS

// Top is the model's top module, the wrapper in rtl/.
const Top = "ringsim_top"
