// Package refmodel is a cycle-accurate Go reference model of one ringsim node (the RTL in
// rtl/ringsim_node.sv and SPEC section 2 as executable code), used as the scoreboard of the
// differential test against the Verilated RTL.
//
// The model has three layers:
//
//   - Node is the RTL: one call of Node.Step evaluates one clock cycle (combinational bus
//     response) and applies the clock edge that ends it. Node.TX gives the registered TX
//     frames of the current cycle.
//   - Master is the node's CPU: it executes a batch of bus.Op exactly like the C++ bus
//     master of the simulation harness (struct Master in harness.cpp).
//   - System ties one Node and one Master together with the harness's reset and ordering
//     rules, and Simulate runs a whole stimulus (RX frames and op batches) in one call.
//
// None of the types is safe for concurrent use; distinct values are independent.
package refmodel

import (
	"errors"
	"fmt"

	"github.com/ringsim/ringsim/sim/bus"
)

// Errors returned by the model.
var (
	// ErrBadConfig: NewNode or NewSystem got parameters the RTL cannot have.
	ErrBadConfig = errors.New("bad node configuration")
	// ErrBusy: Submit while a batch is in flight or its results were not taken.
	ErrBusy = errors.New("a batch is in flight or its results were not taken")
	// ErrNoResults: Take without a completed batch.
	ErrNoResults = errors.New("no completed batch")
	// ErrEmptyBatch: Submit of no operations.
	ErrEmptyBatch = errors.New("empty batch")
)

// Config holds a node's parameters and its simulator-driven inputs.
type Config struct {
	Depth   int       // ring buffer depth D in 64-bit words, >= 2 (RTL parameter Depth)
	Ports   int       // link ports, >= 1 (RTL parameter Ports)
	NodeID  uint32    // node_id_i (the harness drives the node's index)
	DNA     [3]uint32 // dna_i bits [31:0], [63:32], [95:64]
	Release uint64    // first global cycle out of reset; the node is in reset before it
}

// Request is the Wishbone request presented to the node in one cycle.
type Request struct {
	Stb  bool   // wb_cyc_i && wb_stb_i: a request is presented; nothing else matters if false
	We   bool   // wb_we_i
	Addr uint32 // wb_adr_i, a byte address
	Data uint32 // wb_dat_i
	Sel  uint8  // wb_sel_i; only bits 3..0 exist in the RTL
}

// Response is the node's combinational Wishbone response in one cycle.
type Response struct {
	Ack  bool   // wb_ack_o
	Err  bool   // wb_err_o
	Data uint32 // wb_dat_o, exactly as the RTL drives it (also when Ack is false)
}

// txPort is one TX ring buffer (tx_ring_buffer.sv).
type txPort struct {
	mem      []uint64
	count    uint32 // count_q
	enable   bool   // enable_q
	frame    uint64 // frame_o = sent_enable_q ? hw_rdata_q : 0, kept as one register
	cpuRdata uint64 // cpu_rdata_q
	rdHalf   bool   // rd_half_q
}

// rxPort is one RX ring buffer (rx_ring_buffer.sv).
type rxPort struct {
	mem      []uint64
	count    uint32 // count_q
	enable   bool   // enable_q
	cpuRdata uint64 // cpu_rdata_q
	rdHalf   bool   // rd_half_q
}

// Node is the cycle-accurate model of one ringsim_node. Create it with NewNode.
//
// Per cycle t the caller reads the TX frames of cycle t with TX (they are registers, so they
// do not depend on the inputs of cycle t), then calls Step once with the bus request and RX
// frames of cycle t. Step returns the bus response of cycle t and applies the clock edge that
// ends it. Cycle reports t, the global cycle the next Step evaluates.
//
// Reset follows the harness: while Cycle() < Config.Release the node is held in reset
// (rst_ni = 0); all registers read 0 and TX frames are 0. Memories are not reset and start
// at zero.
type Node struct {
	depth      uint32
	ports      int
	windowLog2 uint
	offMask    uint32
	devices    uint32
	enableOff  uint32 // 8*Depth
	clearOff   uint32 // 8*Depth + 8
	nodeID     uint32
	dna        [3]uint32
	release    uint64

	cycle   uint64 // global cycle evaluated by the next Step
	cycleHi uint32 // node_regs cycle_hi_q
	pendDev uint32 // device whose rd_pending_q is set, or noDev
	tx      []txPort
	rx      []rxPort
}

// noDev marks "no device" in Node.pendDev.
const noDev = ^uint32(0)

// NewNode returns a node in its initial state: global cycle 0, memories zero.
func NewNode(cfg Config) (*Node, error) {
	if cfg.Depth < 2 {
		return nil, fmt.Errorf("new node: depth %d < 2: %w", cfg.Depth, ErrBadConfig)
	}
	if cfg.Ports < 1 {
		return nil, fmt.Errorf("new node: %d ports: %w", cfg.Ports, ErrBadConfig)
	}
	if cfg.Depth > 1<<26 || cfg.Ports > 1<<20 {
		return nil, fmt.Errorf("new node: depth %d, %d ports: %w", cfg.Depth, cfg.Ports, ErrBadConfig)
	}
	m := bus.Map{Depth: cfg.Depth, Ports: cfg.Ports}
	w := m.WindowLog2()
	devices := uint64(1 + 2*cfg.Ports)
	if devices<<w > 1<<32 {
		return nil, fmt.Errorf("new node: %d devices of 2^%d bytes exceed the address space: %w",
			devices, w, ErrBadConfig)
	}
	n := &Node{
		depth:      uint32(cfg.Depth),
		ports:      cfg.Ports,
		windowLog2: w,
		offMask:    uint32(1)<<w - 1,
		devices:    uint32(devices),
		enableOff:  uint32(8 * cfg.Depth),
		clearOff:   uint32(8*cfg.Depth + 8),
		nodeID:     cfg.NodeID,
		dna:        cfg.DNA,
		release:    cfg.Release,
		pendDev:    noDev,
		tx:         make([]txPort, cfg.Ports),
		rx:         make([]rxPort, cfg.Ports),
	}
	mem := make([]uint64, 2*cfg.Ports*cfg.Depth)
	for p := range cfg.Ports {
		n.tx[p].mem = mem[(2*p)*cfg.Depth : (2*p+1)*cfg.Depth : (2*p+1)*cfg.Depth]
		n.rx[p].mem = mem[(2*p+1)*cfg.Depth : (2*p+2)*cfg.Depth : (2*p+2)*cfg.Depth]
	}
	return n, nil
}

// Depth returns the ring buffer depth D.
func (n *Node) Depth() int { return int(n.depth) }

// Ports returns the number of link ports.
func (n *Node) Ports() int { return n.ports }

// Map returns the node's address map.
func (n *Node) Map() bus.Map { return bus.Map{Depth: int(n.depth), Ports: n.ports} }

// Release returns the first global cycle out of reset.
func (n *Node) Release() uint64 { return n.release }

// Cycle returns the global cycle that the next Step evaluates (the number of Steps so far).
func (n *Node) Cycle() uint64 { return n.cycle }

// InReset reports whether the node is held in reset in cycle Cycle().
func (n *Node) InReset() bool { return n.cycle < n.release }

// TX returns port p's TX frame (frame_o) in cycle Cycle(). It is a register output: it is
// valid before Step and does not depend on the inputs of the cycle.
func (n *Node) TX(p int) uint64 { return n.tx[p].frame }

// Step evaluates cycle Cycle() with bus request req and RX frames rx (rx[p] is port p's
// frame_i; a nil or short rx means zero frames), returns the bus response of that cycle,
// and applies the clock edge that ends it. Step does not allocate.
func (n *Node) Step(req Request, rx []uint64) Response {
	if !req.Stb {
		n.edge(-1, rx)
		n.pendDev = noDev
		n.endCycle()
		return Response{}
	}
	eff := effects{clearPort: -1, readDev: noDev}
	resp := n.access(req, &eff)
	n.edge(eff.clearPort, rx)
	// Then the CPU side of the edge.
	if eff.txWrite {
		w := &n.tx[eff.wrPort].mem[eff.wrIdx]
		*w = *w&^eff.wrMask | eff.wrData&eff.wrMask
	}
	switch eff.enWrite {
	case enTX:
		n.tx[eff.enPort].enable = eff.enVal
	case enRX:
		n.rx[eff.enPort].enable = eff.enVal
	}
	n.pendDev = eff.readDev
	n.endCycle()
	return resp
}

// edge applies the hardware side of the clock edge, with the memories and enables as they
// were during the cycle (both RAM ports are read-first). clearPort is the RX port whose
// clear_at_count hit in the cycle, or -1.
func (n *Node) edge(clearPort int, rx []uint64) {
	for i := range n.tx {
		t := &n.tx[i]
		if t.enable {
			t.frame = t.mem[t.count]
		} else {
			t.frame = 0
		}
		if t.count++; t.count == n.depth {
			t.count = 0
		}
	}
	for i := range n.rx {
		r := &n.rx[i]
		if r.enable && i < len(rx) {
			r.mem[r.count] = rx[i]
		} else if r.enable {
			r.mem[r.count] = 0
		}
		if i == clearPort {
			r.count = 1
		} else if r.count++; r.count == n.depth {
			r.count = 0
		}
	}
}

// endCycle holds the registers in reset if the node is in reset and moves to the next cycle.
func (n *Node) endCycle() {
	if n.cycle < n.release {
		n.holdReset()
	}
	n.cycle++
}

// holdReset clears every register with an asynchronous reset, as rst_ni = 0 does at an edge.
// Memories and the RAM read registers (cpu_rdata_q, hw_rdata_q) have no reset.
func (n *Node) holdReset() {
	for i := range n.tx {
		t := &n.tx[i]
		t.count, t.enable, t.frame, t.rdHalf = 0, false, 0, false
	}
	for i := range n.rx {
		r := &n.rx[i]
		r.count, r.enable, r.rdHalf = 0, false, false
	}
	n.pendDev = noDev
	n.cycleHi = 0
}

// Enable register targets of effects.enWrite.
const (
	enNone = iota
	enTX
	enRX
)

// effects are the state changes of a bus access that must wait for the hardware side of
// the clock edge.
type effects struct {
	txWrite   bool
	wrPort    int
	wrIdx     uint32
	wrMask    uint64
	wrData    uint64
	enWrite   int
	enPort    int
	enVal     bool
	clearPort int    // RX port whose clear_at_count hits this cycle, or -1
	readDev   uint32 // device whose data read starts this cycle (rd_pending_q's next value), or noDev
}

// access decodes a request (wb_cyc_i && wb_stb_i) and answers it. RAM read captures
// (cpu_rdata_q) happen here, before the hardware writes of the edge; the rest is left in eff.
func (n *Node) access(req Request, eff *effects) Response {
	var resp Response
	if req.Addr&3 != 0 {
		resp.Err = true // misaligned: no device is selected
		return resp
	}
	dev := req.Addr >> n.windowLog2 // windowLog2 <= 30: NewNode checks the map fits
	if dev >= n.devices {
		resp.Err = true // past the last device
		return resp
	}
	off := req.Addr & n.offMask
	if dev == 0 {
		return n.regs(off, req.We)
	}
	sel := req.Sel & 0xF
	if dev&1 == 1 {
		p := int(dev-1) / 2
		t := &n.tx[p]
		switch {
		case off < n.enableOff:
			resp.Data = half(t.cpuRdata, t.rdHalf)
			idx := off >> 3
			upper := off&4 != 0
			if req.We {
				resp.Ack = true
				eff.txWrite = true
				eff.wrPort = p
				eff.wrIdx = idx
				eff.wrMask = byteMask(sel, upper)
				eff.wrData = uint64(req.Data) | uint64(req.Data)<<32
			} else if n.pendDev == dev {
				resp.Ack = true
			} else {
				t.cpuRdata = t.mem[idx]
				t.rdHalf = upper
				eff.readDev = dev
			}
		case off == n.enableOff:
			resp.Ack = true
			resp.Data = b2u(t.enable)
			if req.We && sel&1 != 0 {
				eff.enWrite, eff.enPort, eff.enVal = enTX, p, req.Data&1 != 0
			}
		default:
			resp.Err = true
		}
		return resp
	}
	p := int(dev-2) / 2
	r := &n.rx[p]
	switch {
	case off < n.enableOff:
		resp.Data = half(r.cpuRdata, r.rdHalf)
		switch {
		case req.We:
			resp.Err = true // data is read only
		case n.pendDev == dev:
			resp.Ack = true
		default:
			r.cpuRdata = r.mem[off>>3]
			r.rdHalf = off&4 != 0
			eff.readDev = dev
		}
	case off == n.enableOff:
		resp.Ack = true
		resp.Data = b2u(r.enable)
		if req.We && sel&1 != 0 {
			eff.enWrite, eff.enPort, eff.enVal = enRX, p, req.Data&1 != 0
		}
	case off == n.clearOff:
		ok := req.We && sel == 0xF && req.Data < n.depth
		resp.Err = !ok
		if ok && r.count == req.Data {
			resp.Ack = true
			eff.clearPort = p
		}
	default:
		resp.Err = true
	}
	return resp
}

// regs answers a request to the node block (node_regs.sv).
func (n *Node) regs(off uint32, we bool) Response {
	var v uint32
	hit := true
	var cq uint64
	if n.cycle >= n.release {
		cq = n.cycle - n.release
	}
	switch off {
	case bus.RegMagic:
		v = bus.Magic
	case bus.RegVersion:
		v = bus.MapVersion
	case bus.RegNodeID:
		v = n.nodeID
	case bus.RegDepth:
		v = n.depth
	case bus.RegPorts:
		v = uint32(n.ports)
	case bus.RegWindowLog2:
		v = uint32(n.windowLog2)
	case bus.RegDNA0:
		v = n.dna[0]
	case bus.RegDNA1:
		v = n.dna[1]
	case bus.RegDNA2:
		v = n.dna[2]
	case bus.RegCycleLo:
		v = uint32(cq)
		if !we {
			n.cycleHi = uint32(cq >> 32) // visible from the next cycle on
		}
	case bus.RegCycleHi:
		v = n.cycleHi
	default:
		hit = false
	}
	ok := hit && !we
	return Response{Ack: ok, Err: !ok, Data: v}
}

// half returns the 32-bit half of w that a read with address bit 2 = upper selects.
func half(w uint64, upper bool) uint32 {
	if upper {
		return uint32(w >> 32)
	}
	return uint32(w)
}

// byteMask expands a 4-bit byte select into the 64-bit write mask of one half.
func byteMask(sel uint8, upper bool) uint64 {
	var m uint64
	for k := range 4 {
		if sel&(1<<k) != 0 {
			m |= 0xFF << (8 * k)
		}
	}
	if upper {
		m <<= 32
	}
	return m
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// Backdoor access, the counterpart of the harness's rs_peek / rs_poke. Values are the
// registers as they are in cycle Cycle() (after the last edge); a change takes effect from
// the next edge on, as a poke of the RTL does.

// TXWord returns word i of port p's TX memory.
func (n *Node) TXWord(p, i int) uint64 { return n.tx[p].mem[i] }

// SetTXWord sets word i of port p's TX memory.
func (n *Node) SetTXWord(p, i int, v uint64) { n.tx[p].mem[i] = v }

// RXWord returns word i of port p's RX memory.
func (n *Node) RXWord(p, i int) uint64 { return n.rx[p].mem[i] }

// SetRXWord sets word i of port p's RX memory.
func (n *Node) SetRXWord(p, i int, v uint64) { n.rx[p].mem[i] = v }

// TXEnable returns port p's TX enable register (enable_q).
func (n *Node) TXEnable(p int) bool { return n.tx[p].enable }

// SetTXEnable sets port p's TX enable register. In reset the next edge clears it again
// (that edge still sees it, as in the RTL).
func (n *Node) SetTXEnable(p int, on bool) { n.tx[p].enable = on }

// RXEnable returns port p's RX enable register (enable_q).
func (n *Node) RXEnable(p int) bool { return n.rx[p].enable }

// SetRXEnable sets port p's RX enable register. In reset the next edge clears it again
// (that edge still sees it, as in the RTL).
func (n *Node) SetRXEnable(p int, on bool) { n.rx[p].enable = on }

// TXCount returns port p's TX read counter in cycle Cycle().
func (n *Node) TXCount(p int) int { return int(n.tx[p].count) }

// RXCount returns port p's RX write counter in cycle Cycle().
func (n *Node) RXCount(p int) int { return int(n.rx[p].count) }
