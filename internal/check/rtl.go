package check

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ringsim/ringsim/rtl"
)

// rtlSource is the RTL under test: the files of one directory (non-recursive), as the
// simulator reads them (docs/port-contract.md).
type rtlSource struct {
	name  string // for reports
	dir   string // absolute directory, or "" for ringsim's embedded RTL
	hash  string // hex SHA-256 of the files' names and contents
	files map[string][]byte
}

// rtlExts are the file types the RTL consists of.
var rtlExts = []string{".sv", ".v", ".svh", ".vh", ".vlt"}

// loadRTL reads the RTL under test; dir "" means ringsim's own.
func loadRTL(dir string) (*rtlSource, error) {
	src := &rtlSource{name: "ringsim (embedded rtl/)", files: map[string][]byte{}}
	var fsys fs.FS = rtl.FS
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoRTL, err)
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%w: %s is not a directory", ErrNoRTL, dir)
		}
		src.name, src.dir, fsys = abs, abs, os.DirFS(abs)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrNoRTL, src.name, err)
	}
	h := sha256.New()
	for _, ent := range entries {
		if ent.IsDir() || !hasExt(ent.Name(), rtlExts...) {
			continue
		}
		data, err := fs.ReadFile(fsys, ent.Name())
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoRTL, err)
		}
		src.files[ent.Name()] = data
		fmt.Fprintf(h, "%s\x00%d\x00%s", ent.Name(), len(data), data)
	}
	if len(src.list(".sv", ".v")) == 0 {
		return nil, fmt.Errorf("%w: no *.sv or *.v files in %s", ErrNoRTL, src.name)
	}
	src.hash = hex.EncodeToString(h.Sum(nil))
	return src, nil
}

func hasExt(name string, exts ...string) bool {
	for _, e := range exts {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// list returns the sorted names of the files with the given extensions.
func (s *rtlSource) list(exts ...string) []string {
	var out []string
	for n := range s.files {
		if hasExt(n, exts...) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// materialize writes the files into dir, for the tools that read files.
func (s *rtlSource) materialize(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write rtl copy: %w", err)
	}
	for n, data := range s.files {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
			return fmt.Errorf("write rtl copy: %w", err)
		}
	}
	return nil
}

// OverlayRTL writes ringsim's own RTL into dst and then the files of overlay over it: a
// variant of our RTL that differs in a few files (testdata/broken keeps only those).
func OverlayRTL(dst, overlay string) error {
	entries, err := rtl.FS.ReadDir(".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := rtl.FS.ReadFile(e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			return fmt.Errorf("overlay rtl: %w", err)
		}
	}
	over, err := os.ReadDir(overlay)
	if err != nil {
		return fmt.Errorf("overlay rtl: %w", err)
	}
	for _, e := range over {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(overlay, e.Name()))
		if err != nil {
			return fmt.Errorf("overlay rtl: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			return fmt.Errorf("overlay rtl: %w", err)
		}
	}
	return nil
}
