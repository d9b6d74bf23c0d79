// Command regmapgen writes the files generated from ringsim's register description
// (internal/regmap/regmap.json): the SystemVerilog package in rtl/, sim/bus/addrmap.go, the
// harness's rs_regmap.h and the register table of docs/port-contract.md.
//
// Usage, from the repository root: go generate ./internal/regmap
// (or go run ./internal/regmap/regmapgen -root .).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ringsim/ringsim/internal/regmap"
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "regmapgen:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	m, err := regmap.Default()
	if err != nil {
		return err
	}
	files, err := regmap.Generate(m, func(path string) ([]byte, error) {
		return os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
	})
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(root, filepath.FromSlash(f.Path))
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, f.Data) {
			continue
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		fmt.Println("regmapgen: wrote", f.Path)
	}
	return nil
}
