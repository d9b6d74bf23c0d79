package bus

import "fmt"

// expr is depth*D + ports*P + c (see internal/regmap.Expr).
type expr struct{ depth, ports, c int }

func (e expr) eval(m Map) int { return e.depth*m.Depth + e.ports*m.Ports + e.c }

// windowGroup is devices with consecutive windows, once per node or once per port.
type windowGroup struct {
	perPort bool
	devices []int // indexes into devices
}

// deviceDesc describes one kind of device window.
type deviceDesc struct {
	name, title string
	regs        []regDesc
}

// regDesc describes one register: its offset and size in the window, whether it is an
// array of words, the accesses it allows and the most cycles after presentation in which
// the SPEC answers each.
type regDesc struct {
	name                      string
	offset, size              expr
	array, read, write        bool
	readLatency, writeLatency expr
}

// Reg is what a node's address holds, as Decode finds it in the register map.
type Reg struct {
	// Addr is the decoded address.
	Addr uint32
	// Device names the device window the address falls in ("node block", "TX", "RX"); it
	// is "" for an address past the last window.
	Device string
	// Port is the port of a per-port device (TX, RX), -1 for a per-node one.
	Port int
	// Name is the register's name ("clear_at_count"); "" for an unmapped offset.
	Name string
	// Word is the 32-bit word of an array register (TX and RX data: word 2i is the low
	// half of 64-bit word i), -1 for other registers.
	Word int
	// Readable and Writable say which accesses are legal; illegal ones answer ERR in the
	// cycle they are presented.
	Readable, Writable bool
	// ReadLatency and WriteLatency are the most cycles after the cycle a legal access is
	// presented in by which the SPEC answers it.
	ReadLatency, WriteLatency int
}

// Decode finds the device and register that hold addr.
func (m Map) Decode(addr uint32) Reg {
	r := Reg{Addr: addr, Port: -1, Word: -1}
	w := m.WindowLog2()
	win := int(uint64(addr) >> w)
	off := int(addr & (1<<w - 1))
	for _, g := range layout {
		n := len(g.devices)
		if g.perPort {
			n *= m.Ports
		}
		if win >= n {
			win -= n
			continue
		}
		d := &devices[g.devices[win%len(g.devices)]]
		r.Device = d.title
		if g.perPort {
			r.Port = win / len(g.devices)
		}
		for i := range d.regs {
			reg := &d.regs[i]
			o := reg.offset.eval(m)
			hit := off == o
			if reg.array {
				hit = off >= o && off < o+reg.size.eval(m)
			}
			if !hit {
				continue
			}
			r.Name, r.Readable, r.Writable = reg.name, reg.read, reg.write
			r.ReadLatency, r.WriteLatency = reg.readLatency.eval(m), reg.writeLatency.eval(m)
			if reg.array {
				r.Word = (off - o) / 4
			}
			return r
		}
		return r
	}
	return r
}

// Latency is the most cycles after the cycle an access is presented in by which the SPEC
// answers it: the register's latency for a legal access, 0 (ERR at once) otherwise.
func (r Reg) Latency(write bool) int {
	switch {
	case write && r.Writable:
		return r.WriteLatency
	case !write && r.Readable:
		return r.ReadLatency
	}
	return 0
}

// String names the register and its address: "port 0 RX clear_at_count (0x288)",
// "node block MAGIC (0x0)", "port 1 TX data word 3 (0x50c)".
func (r Reg) String() string {
	where := r.Device
	if r.Port >= 0 {
		where = fmt.Sprintf("port %d %s", r.Port, r.Device)
	}
	switch {
	case r.Device == "":
		return fmt.Sprintf("unmapped address %#x", r.Addr)
	case r.Name == "":
		return fmt.Sprintf("%s unmapped offset (%#x)", where, r.Addr)
	case r.Word >= 0:
		return fmt.Sprintf("%s %s word %d (%#x)", where, r.Name, r.Word, r.Addr)
	}
	return fmt.Sprintf("%s %s (%#x)", where, r.Name, r.Addr)
}

// Name names the register at addr as Reg.String does.
func (m Map) Name(addr uint32) string { return m.Decode(addr).String() }
