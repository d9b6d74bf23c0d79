package modelbuild

import "testing"

// TestIsPackage checks which sources Verilator reads first: packages, by name or content.
func TestIsPackage(t *testing.T) {
	tests := []struct {
		name, file, src string
		want            bool
	}{
		{"named _pkg", "ringsim_regs_pkg.sv", "// generated\n", true},
		{"declares a package", "defs.sv", "// types\npackage my_defs;\n  localparam int X = 1;\nendpackage\n", true},
		{"indented declaration", "defs.sv", "  package my_defs ;\nendpackage\n", true},
		{"module", "ringsim_node.sv", "module ringsim_node;\nendmodule\n", false},
		{"package only in a comment", "top.sv", "// see package foo\nmodule top;\nendmodule\n", false},
		{"import is not a declaration", "top.sv", "module top;\n  import foo_pkg::*;\nendmodule\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPackage(tt.file, []byte(tt.src)); got != tt.want {
				t.Errorf("IsPackage(%q) = %v, want %v", tt.file, got, tt.want)
			}
		})
	}
}
