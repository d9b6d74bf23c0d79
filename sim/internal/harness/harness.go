// Package harness embeds the C++ harness that ringsim compiles together with a Verilated
// node model into a loadable shared object (csrc/rs_api.h is its C interface).
package harness

import "embed"

// FS holds csrc/: the harness, its C API header and the standalone benchmark loop.
//
//go:embed csrc
var FS embed.FS
