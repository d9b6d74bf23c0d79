package conformance

import (
	"fmt"

	"github.com/ringsim/ringsim/sim/bus"
)

// Names in the RTL's terms: every address a failure mentions is named by the register map
// (bus.Map.Decode, generated from internal/regmap), with its node, port, device and offset,
// so that "0x288" reads "node 0 port 0 RX clear_at_count (address 0x288, offset 0x88)".

// RegName names the register of node at addr: "node 0 port 0 RX clear_at_count (address
// 0x288, offset 0x88)", "node 1 port 0 TX data word 3 high half (address 0x11c, offset
// 0x1c)", "node 0 node block MAGIC (address 0x0, offset 0x0)".
func RegName(m bus.Map, node int, addr uint32) string {
	r := m.Decode(addr)
	off := addr & (uint32(1)<<m.WindowLog2() - 1)
	where := fmt.Sprintf("node %d", node)
	if r.Port >= 0 {
		where += fmt.Sprintf(" port %d", r.Port)
	}
	switch {
	case r.Device == "":
		return fmt.Sprintf("node %d unmapped address %#x (past the last window)", node, addr)
	case r.Name == "":
		return fmt.Sprintf("%s %s unmapped offset (address %#x, offset %#x)", where, r.Device, addr, off)
	case r.Word >= 0:
		return fmt.Sprintf("%s %s %s word %d %s half (address %#x, offset %#x)", where, r.Device, r.Name,
			r.Word/2, [2]string{"low", "high"}[r.Word%2], addr, off)
	}
	return fmt.Sprintf("%s %s %s (address %#x, offset %#x)", where, r.Device, r.Name, addr, off)
}

// OpString describes a bus operation of node in the RTL's terms: "write of 0x00000005 to
// node 0 port 0 RX clear_at_count (address 0x288, offset 0x88)", "read of ...", "masked
// write (lanes 0001) of ...", "read-block of 32 words from ...".
func OpString(m bus.Map, node int, op bus.Op) string {
	at := RegName(m, node, op.Addr)
	switch op.Kind {
	case bus.KindRead:
		return "read of " + at
	case bus.KindWrite:
		if op.Mask != 0xF {
			return fmt.Sprintf("masked write (lanes %04b) of %#08x to %s", op.Mask, op.Value, at)
		}
		return fmt.Sprintf("write of %#08x to %s", op.Value, at)
	case bus.KindReadBlock:
		return fmt.Sprintf("read-block of %d words from %s", op.Count, at)
	case bus.KindWriteBlock:
		return fmt.Sprintf("write-block of %d words to %s", len(op.Words), at)
	case bus.KindPoll:
		return "poll of " + at
	case bus.KindIdle:
		return fmt.Sprintf("idle for %d cycles", op.Count)
	}
	return fmt.Sprintf("%v at %s", op.Kind, at)
}

// specAnswersErr reports whether the SPEC answers a single access with ERR: a write to a
// read-only register, a read of a write-only one, an unmapped offset or window, and a
// clear_at_count write that is partial or of a value >= D (docs/port-contract.md).
func specAnswersErr(m bus.Map, write bool, addr, value uint32, mask uint8) bool {
	r := m.Decode(addr)
	switch {
	case r.Name == "":
		return true
	case write && !r.Writable, !write && !r.Readable:
		return true
	case write && r.Device == "RX" && r.Name == "clear_at_count":
		return mask != 0xF || value >= uint32(m.Depth)
	}
	return false
}

// SpecAnswersErr reports whether the SPEC answers op with ERR: for a block, whether one of
// its accesses is illegal (the block then ends there).
func SpecAnswersErr(m bus.Map, op bus.Op) bool {
	switch op.Kind {
	case bus.KindRead, bus.KindPoll:
		return specAnswersErr(m, false, op.Addr, 0, 0)
	case bus.KindWrite:
		return specAnswersErr(m, true, op.Addr, op.Value, op.Mask)
	case bus.KindReadBlock:
		for k := 0; k < int(op.Count); k++ {
			if specAnswersErr(m, false, op.Addr+4*uint32(k), 0, 0) {
				return true
			}
		}
	case bus.KindWriteBlock:
		for k, w := range op.Words {
			if specAnswersErr(m, true, op.Addr+4*uint32(k), w, 0xF) {
				return true
			}
		}
	}
	return false
}

// answer is "ACK in cycle 6" or "ERR in cycle 6".
func answer(err bool, cycle uint64) string { return fmt.Sprintf("%s in cycle %d", errStr(err), cycle) }

// Headline is the divergence as one sentence in the RTL's terms: what differed, what the
// RTL did and what by (the SPEC, the reference model) says: "read of node 0 port 0 RX
// enable (address 0x280, offset 0x80): RTL 0xffffffff, SPEC 0x00000001". The first
// failing cycle is d.Cycle; Headline leaves it to the caller, which states it once.
func (d *Divergence) Headline(by string) string {
	return fmt.Sprintf("%s: RTL %s, %s %s", d.What, d.Got, by, d.Want)
}
