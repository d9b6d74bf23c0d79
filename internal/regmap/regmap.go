// Package regmap is the one description of a ringsim node's register map (regmap.json) and
// the generator of everything derived from it: the SystemVerilog package the RTL uses, the
// Go constants and address map of sim/bus, the harness's C header, and the register table
// of docs/port-contract.md. TestGenerated fails when a generated file is stale.
//
// To change the map, edit regmap.json and run `go generate ./internal/regmap`. A new
// register is one more entry in its device's "registers"; a new device is one more entry
// in "devices" and a place in "layout" (after the existing groups, so the windows of the
// ring buffers do not move).
package regmap

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

//go:generate go run ./regmapgen -root ../..

// Description is regmap.json, the register description the generated files come from.
//
//go:embed regmap.json
var Description []byte

// ErrBadDescription is wrapped by every error about an invalid description.
var ErrBadDescription = errors.New("bad register description")

// Expr is an offset, size or latency that depends linearly on the ring buffer depth D and
// the port count P: Depth*D + Ports*P + Const. In the description it is written like
// "8*Depth+8", "Depth-1" or "0x2C".
type Expr struct {
	Depth, Ports, Const int64
}

var termRE = regexp.MustCompile(`^(?:(0[xX][0-9a-fA-F_]+|[0-9_]+)\s*\*\s*)?(Depth|Ports)$|^(0[xX][0-9a-fA-F_]+|[0-9_]+)$`)

// ParseExpr parses an expression of the description.
func ParseExpr(s string) (Expr, error) {
	var e Expr
	rest := strings.TrimSpace(s)
	if rest == "" {
		return e, fmt.Errorf("%w: empty expression", ErrBadDescription)
	}
	sign := int64(1)
	if rest[0] == '-' {
		sign, rest = -1, strings.TrimSpace(rest[1:])
	}
	for {
		i := strings.IndexAny(rest, "+-")
		term := rest
		if i >= 0 {
			term = rest[:i]
		}
		m := termRE.FindStringSubmatch(strings.TrimSpace(term))
		if m == nil {
			return e, fmt.Errorf("%w: expression %q: bad term %q (want N, N*Depth or N*Ports)", ErrBadDescription, s, term)
		}
		switch {
		case m[3] != "":
			n, err := parseInt(m[3])
			if err != nil {
				return e, fmt.Errorf("%w: expression %q: %v", ErrBadDescription, s, err)
			}
			e.Const += sign * n
		default:
			n := int64(1)
			if m[1] != "" {
				var err error
				if n, err = parseInt(m[1]); err != nil {
					return e, fmt.Errorf("%w: expression %q: %v", ErrBadDescription, s, err)
				}
			}
			if m[2] == "Depth" {
				e.Depth += sign * n
			} else {
				e.Ports += sign * n
			}
		}
		if i < 0 {
			return e, nil
		}
		sign = 1
		if rest[i] == '-' {
			sign = -1
		}
		rest = strings.TrimSpace(rest[i+1:])
	}
}

func parseInt(s string) (int64, error) {
	return strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
}

// Eval is the expression's value for depth D and P ports.
func (e Expr) Eval(depth, ports int64) int64 { return e.Depth*depth + e.Ports*ports + e.Const }

// IsConst reports whether the expression depends on neither the depth nor the ports.
func (e Expr) IsConst() bool { return e.Depth == 0 && e.Ports == 0 }

// format writes the expression with the given names for D and P, the given multiplication
// sign, and the constant in hex when hex is set.
func (e Expr) format(depth, ports, mul string, hex bool) string {
	var parts []string
	term := func(k int64, name string) {
		switch {
		case k == 0:
			return
		case k == 1:
			parts = append(parts, "+"+name)
		case k == -1:
			parts = append(parts, "-"+name)
		case k < 0:
			parts = append(parts, fmt.Sprintf("-%d%s%s", -k, mul, name))
		default:
			parts = append(parts, fmt.Sprintf("+%d%s%s", k, mul, name))
		}
	}
	term(e.Depth, depth)
	term(e.Ports, ports)
	if e.Const != 0 || len(parts) == 0 {
		c, neg := e.Const, e.Const < 0
		if neg {
			c = -c
		}
		s := strconv.FormatInt(c, 10)
		if hex && len(parts) == 0 {
			s = fmt.Sprintf("0x%02X", c)
		}
		if neg {
			parts = append(parts, "-"+s)
		} else {
			parts = append(parts, "+"+s)
		}
	}
	out := strings.Join(parts, "")
	return strings.TrimPrefix(out, "+")
}

// String writes the expression as the docs do: "8*D+8".
func (e Expr) String() string { return e.format("D", "P", "*", false) }

// Access is what a register allows.
type Access string

// The register access kinds.
const (
	RO Access = "ro" // read only; writes answer ERR
	RW Access = "rw" // read and write
	WO Access = "wo" // write only; reads answer ERR
)

// Readable reports whether reads are legal.
func (a Access) Readable() bool { return a == RO || a == RW }

// Writable reports whether writes are legal.
func (a Access) Writable() bool { return a == WO || a == RW }

// Register is one register of a device.
type Register struct {
	// Name is the register's name as the SPEC and docs write it ("clear_at_count").
	Name string `json:"name"`
	// Offset is the byte offset inside the device's window.
	Offset string `json:"offset"`
	// Count makes the register an array of Count words of Stride bytes ("Depth").
	Count  string `json:"count,omitempty"`
	Stride int64  `json:"stride,omitempty"`
	// Bytes is the size of a scalar register's slot; only its first 32-bit word is mapped.
	Bytes int64 `json:"bytes,omitempty"`
	// Access is "ro", "rw" or "wo".
	Access Access `json:"access"`
	// Value is the constant a read-only register always reads.
	Value string `json:"value,omitempty"`
	// Reset is the value after reset, for the docs ("0", "undefined").
	Reset string `json:"reset,omitempty"`
	// ReadLatency and WriteLatency are the most cycles after the cycle an access is presented
	// in which the SPEC answers it (empty: 0, answered in the same cycle). Illegal accesses
	// answer ERR in the cycle they are presented.
	ReadLatency  string `json:"read_latency,omitempty"`
	WriteLatency string `json:"write_latency,omitempty"`
	// Go is the Go name of the register's offset in sim/bus: a constant when the offset is
	// constant and the register is a scalar, a method of Map otherwise.
	Go string `json:"go,omitempty"`
	// GoValue is the Go name of Value in sim/bus.
	GoValue string `json:"go_value,omitempty"`
	// Doc says what the register holds, in a phrase.
	Doc string `json:"doc"`

	offset, count, size, readLat, writeLat Expr
	value                                  uint32
}

// IsArray reports whether the register is an array of words.
func (r *Register) IsArray() bool { return r.Count != "" }

// OffsetExpr is the register's byte offset.
func (r *Register) OffsetExpr() Expr { return r.offset }

// SizeExpr is the bytes the register occupies (its whole array, or its slot).
func (r *Register) SizeExpr() Expr { return r.size }

// Latency is the most cycles after presentation in which the SPEC answers a legal access.
func (r *Register) Latency(write bool) Expr {
	if write {
		return r.writeLat
	}
	return r.readLat
}

// Device is one kind of device window.
type Device struct {
	// Name identifies the device in the layout and prefixes its SystemVerilog names.
	Name string `json:"name"`
	// Title is how messages name it ("RX"); LongTitle, if set, how prose does ("RX ring
	// buffer").
	Title     string `json:"title"`
	LongTitle string `json:"long_title,omitempty"`
	// Go, if set, names the Map method that returns the device's base address.
	Go string `json:"go,omitempty"`
	// Doc says what the device is.
	Doc       string     `json:"doc"`
	Registers []Register `json:"registers"`

	extent Expr // bytes the device needs, for the window size (see Map.extents)
}

// Group is one entry of the layout: devices that get consecutive windows, once per node or
// once per port (port p's devices after port p-1's).
type Group struct {
	PerPort bool     `json:"per_port,omitempty"`
	Devices []string `json:"devices"`
	// Harness marks devices the harness's wrapper around the node holds (the real link's
	// registers), not the node: they come after the node's windows, and the node's count of
	// windows (num_windows, Map.Windows) leaves them out.
	Harness bool `json:"harness,omitempty"`
}

// Map is the parsed, checked description.
type Map struct {
	// Name names the map in generated comments.
	Name string `json:"name"`
	// SVPackage is the SystemVerilog package's name (and its file's, in rtl/).
	SVPackage string `json:"sv_package"`
	// MinWindowLog2 is the smallest window size's log2.
	MinWindowLog2 int `json:"min_window_log2"`
	// Layout orders the device windows: window 0 is the first group's first device.
	Layout  []Group  `json:"layout"`
	Devices []Device `json:"devices"`
}

// Load parses and checks a description.
func Load(data []byte) (*Map, error) {
	var m Map
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadDescription, err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Default returns the description in regmap.json.
func Default() (*Map, error) { return Load(Description) }

var (
	svNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	regRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	goNameRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
)

// sample geometries at which the description must make sense.
var sampleDepths, samplePorts = []int64{2, 3, 4, 13, 16, 128, 200, 4000, 4096, 1 << 20}, []int64{1, 2, 7, 64}

func (m *Map) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadDescription, fmt.Sprintf(format, args...))
	}
	if !svNameRE.MatchString(m.SVPackage) {
		return bad("sv_package %q is not a lower_snake_case name", m.SVPackage)
	}
	if m.MinWindowLog2 < 2 || m.MinWindowLog2 > 24 {
		return bad("min_window_log2 %d outside [2, 24]", m.MinWindowLog2)
	}
	devs := map[string]*Device{}
	goNames := map[string]string{} // Go name -> what it names, to catch clashes
	claim := func(name, what string) error {
		if name == "" {
			return nil
		}
		if !goNameRE.MatchString(name) {
			return bad("%s: Go name %q is not exported", what, name)
		}
		if prev, ok := goNames[name]; ok && prev != what {
			return bad("Go name %s names both %s and %s", name, prev, what)
		}
		goNames[name] = what
		return nil
	}
	for i := range m.Devices {
		d := &m.Devices[i]
		if !svNameRE.MatchString(d.Name) || d.Title == "" {
			return bad("device %d: need a lower_snake_case name and a title", i)
		}
		if devs[d.Name] != nil {
			return bad("device %s declared twice", d.Name)
		}
		devs[d.Name] = d
		if err := claim(d.Go, "the base of device "+d.Name); err != nil {
			return err
		}
		if len(d.Registers) == 0 {
			return bad("device %s has no registers", d.Name)
		}
		names := map[string]bool{}
		for j := range d.Registers {
			r := &d.Registers[j]
			where := d.Name + "." + r.Name
			if !regRE.MatchString(r.Name) || names[strings.ToLower(r.Name)] {
				return bad("device %s: register %d: bad or duplicate name %q", d.Name, j, r.Name)
			}
			names[strings.ToLower(r.Name)] = true
			if r.Doc == "" {
				return bad("%s: no doc", where)
			}
			var err error
			if r.offset, err = ParseExpr(r.Offset); err != nil {
				return fmt.Errorf("%s offset: %w", where, err)
			}
			switch r.Access {
			case RO, RW, WO:
			default:
				return bad("%s: access %q (want ro, rw or wo)", where, r.Access)
			}
			if r.IsArray() {
				if r.count, err = ParseExpr(r.Count); err != nil {
					return fmt.Errorf("%s count: %w", where, err)
				}
				if r.Stride != 4 && r.Stride != 8 || r.Bytes != 0 {
					return bad("%s: an array needs stride 4 or 8 and no bytes", where)
				}
				r.size = Expr{Depth: r.count.Depth * r.Stride, Ports: r.count.Ports * r.Stride, Const: r.count.Const * r.Stride}
			} else {
				if r.Bytes != 4 && r.Bytes != 8 || r.Stride != 0 {
					return bad("%s: a scalar needs bytes 4 or 8 and no stride", where)
				}
				r.size = Expr{Const: r.Bytes}
			}
			for _, l := range []struct {
				s   string
				dst *Expr
				ok  bool
			}{{r.ReadLatency, &r.readLat, r.Access.Readable()}, {r.WriteLatency, &r.writeLat, r.Access.Writable()}} {
				if l.s == "" {
					continue
				}
				if !l.ok {
					return bad("%s: a latency for an access the register does not allow", where)
				}
				if *l.dst, err = ParseExpr(l.s); err != nil {
					return fmt.Errorf("%s latency: %w", where, err)
				}
			}
			if r.Value != "" {
				v, err := strconv.ParseUint(strings.ReplaceAll(r.Value, "_", ""), 0, 32)
				if err != nil || r.Access != RO || r.IsArray() {
					return bad("%s: value %q must be a 32-bit constant of a read-only scalar", where, r.Value)
				}
				r.value = uint32(v)
			} else if r.GoValue != "" {
				return bad("%s: go_value without a value", where)
			}
			if r.Go == "" && r.GoValue != "" {
				return bad("%s: go_value without go", where)
			}
			if err := claim(r.GoValue, "the value of "+where); err != nil {
				return err
			}
		}
	}
	// Registers that share a Go name must mean the same offset.
	goRegs := map[string]*Register{}
	for i := range m.Devices {
		for j := range m.Devices[i].Registers {
			r := &m.Devices[i].Registers[j]
			if r.Go == "" {
				continue
			}
			if prev, ok := goRegs[r.Go]; ok {
				if prev.offset != r.offset || prev.IsArray() != r.IsArray() || prev.Stride != r.Stride {
					return bad("Go name %s names registers at different offsets", r.Go)
				}
				continue
			}
			goRegs[r.Go] = r
			if err := claim(r.Go, "the offset of register "+r.Name); err != nil {
				return err
			}
		}
	}
	if len(m.Layout) == 0 || len(m.Layout[0].Devices) == 0 || m.Layout[0].PerPort {
		return bad("layout: the first group must be per node and not empty (window 0)")
	}
	used := map[string]bool{}
	harness := false
	for _, g := range m.Layout {
		if len(g.Devices) == 0 {
			return bad("layout: empty group")
		}
		if harness && !g.Harness {
			return bad("layout: the node's devices come before the harness's (their windows are the node's first)")
		}
		harness = harness || g.Harness
		for _, name := range g.Devices {
			if devs[name] == nil || used[name] {
				return bad("layout: device %q unknown or placed twice", name)
			}
			used[name] = true
		}
	}
	if len(used) != len(m.Devices) {
		return bad("layout: every device needs a window")
	}
	for i := range m.Devices {
		d := &m.Devices[i]
		d.extent = Expr{}
		for _, depth := range sampleDepths {
			for _, ports := range samplePorts {
				if err := d.checkAt(depth, ports); err != nil {
					return bad("device %s at D=%d, P=%d: %v", d.Name, depth, ports, err)
				}
			}
		}
	}
	return nil
}

// checkAt checks a device's registers at one geometry: aligned, non-negative, no overlaps,
// non-negative latencies.
func (d *Device) checkAt(depth, ports int64) error {
	type span struct {
		name     string
		from, to int64
	}
	var spans []span
	for j := range d.Registers {
		r := &d.Registers[j]
		off, size := r.offset.Eval(depth, ports), r.size.Eval(depth, ports)
		if off < 0 || off%4 != 0 || size <= 0 {
			return fmt.Errorf("register %s: offset %d, size %d (want aligned, >= 0, non-empty)", r.Name, off, size)
		}
		if r.readLat.Eval(depth, ports) < 0 || r.writeLat.Eval(depth, ports) < 0 {
			return fmt.Errorf("register %s: negative latency", r.Name)
		}
		for _, s := range spans {
			if off < s.to && s.from < off+size {
				return fmt.Errorf("registers %s and %s overlap", s.name, r.Name)
			}
		}
		spans = append(spans, span{r.Name, off, off + size})
	}
	return nil
}

// Long is the device's name in prose.
func (d *Device) Long() string {
	if d.LongTitle != "" {
		return d.LongTitle
	}
	return d.Title
}

// Device returns the device called name, or nil.
func (m *Map) Device(name string) *Device {
	for i := range m.Devices {
		if m.Devices[i].Name == name {
			return &m.Devices[i]
		}
	}
	return nil
}

// Extents are the bytes each device needs (offset + size of its last register), one
// expression per register end; the window is the smallest power of two above all of them.
func (d *Device) Extents() []Expr {
	var out []Expr
	seen := map[Expr]bool{}
	for j := range d.Registers {
		r := &d.Registers[j]
		e := Expr{Depth: r.offset.Depth + r.size.Depth, Ports: r.offset.Ports + r.size.Ports, Const: r.offset.Const + r.size.Const}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// extents returns every device's extents, constants merged into their maximum.
func (m *Map) extents() []Expr {
	var out []Expr
	var maxConst int64
	seen := map[Expr]bool{}
	for i := range m.Devices {
		for _, e := range m.Devices[i].Extents() {
			switch {
			case e.IsConst():
				maxConst = max(maxConst, e.Const)
			case !seen[e]:
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	// Drop the extents another one always exceeds (all its coefficients are larger).
	var kept []Expr
	for i, e := range out {
		dominated := false
		for k, f := range out {
			if k != i && f.Depth >= e.Depth && f.Ports >= e.Ports && f.Const >= e.Const && f != e {
				dominated = true
			}
		}
		if !dominated {
			kept = append(kept, e)
		}
	}
	return append([]Expr{{Const: maxConst}}, kept...)
}

// WindowLog2 is the window size's log2 at a geometry, as the generated code computes it.
func (m *Map) WindowLog2(depth, ports int64) int {
	var need int64
	for _, e := range m.extents() {
		need = max(need, e.Eval(depth, ports))
	}
	w := m.MinWindowLog2
	for int64(1)<<w < need {
		w++
	}
	return w
}

// window is where a device's windows are: window = Base + Stride*port for per-port devices
// (Stride 0 for per-node ones), with Base depending on the port count when per-port groups
// come first.
type window struct {
	Base    Expr
	Stride  int64
	PerPort bool
}

// windowOf returns the windows of device name.
func (m *Map) windowOf(name string) window {
	var base Expr
	for _, g := range m.Layout {
		for k, n := range g.Devices {
			if n == name {
				w := window{Base: base, PerPort: g.PerPort}
				w.Base.Const += int64(k)
				if g.PerPort {
					w.Stride = int64(len(g.Devices))
				}
				return w
			}
		}
		if g.PerPort {
			base.Ports += int64(len(g.Devices))
		} else {
			base.Const += int64(len(g.Devices))
		}
	}
	panic("regmap: device not in the layout: " + name) // check() guarantees it is
}

// windows is the number of windows, an expression in the port count.
func (m *Map) windows() Expr {
	var n Expr
	for _, g := range m.Layout {
		if g.Harness {
			continue
		}
		if g.PerPort {
			n.Ports += int64(len(g.Devices))
		} else {
			n.Const += int64(len(g.Devices))
		}
	}
	return n
}

// layoutSentence describes the layout in words: "window 0 is the node block, window 1+2p
// the TX of port p and window 2+2p its RX".
func (m *Map) layoutSentence() string {
	var parts []string
	for _, g := range m.Layout {
		for _, name := range g.Devices {
			d, w := m.Device(name), m.windowOf(name)
			idx := w.Base.format("D", "P", "*", false)
			if w.PerPort {
				idx = fmt.Sprintf("%s+%dp", idx, w.Stride)
				if w.Base == (Expr{}) {
					idx = fmt.Sprintf("%dp", w.Stride)
				}
				parts = append(parts, fmt.Sprintf("window %s the %s of port p", idx, d.Long()))
			} else {
				parts = append(parts, fmt.Sprintf("window %s the %s", idx, d.Long()))
			}
		}
	}
	return strings.Join(parts, ", ")
}
