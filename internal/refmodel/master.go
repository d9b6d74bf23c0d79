package refmodel

import (
	"fmt"

	"github.com/ringsim/ringsim/sim/bus"
)

// Master is the node's CPU bus master. It executes one batch of bus.Op at a time with the
// timing of the C++ Master in sim/internal/harness/csrc/harness.cpp:
//
//   - an operation starts in the cycle after the previous one completed; the first one in
//     the first cycle the master is stepped after Submit (System: and the node is out of
//     reset);
//   - Read, Write: one request, held until ACK or ERR;
//   - ReadBlock, WriteBlock: one word transaction after another (the next word's request
//     in the cycle after the previous word's ACK); the first ERR ends the operation with
//     Result.N = words done before it;
//   - Idle(n): no request for n cycles, completes in the last of them;
//   - Poll: read Addr; after each ACK, if cond(value&PollMask, Value) holds or Count reads
//     were done it completes, else Interval idle cycles follow and it reads again.
//
// Result.Cycle is the cycle in which the operation completed (ACK or ERR cycle, or the last
// idle cycle). Result.Value is the (last) word read by Read and Poll; ReadBlock fills
// Result.Words with the N words read (nil if none, as the engine reports it; nil for every
// other kind); Result.N counts block words or poll reads. On ERR, N is the
// harness's word counter, so a failed Poll reports N = 0, and Value keeps its last value.
//
// Per cycle the owner calls Request, presents it to the node, and passes the node's
// response to Sample. Neither allocates.
type Master struct {
	ops      []bus.Op
	results  []bus.Result
	rbuf     []uint32 // read-block words of the whole batch
	cur      int      // operation in progress
	word     uint32   // block operations: words done
	idleLeft uint64   // non-zero during Idle and between the reads of a Poll
	busy     bool     // a batch is in flight
	done     bool     // a batch completed and was not taken yet
}

// NewMaster returns an idle master.
func NewMaster() *Master { return &Master{} }

// Busy reports whether a batch is in flight.
func (m *Master) Busy() bool { return m.busy }

// Done reports whether a batch completed and its results were not taken yet.
func (m *Master) Done() bool { return m.done }

// Submit queues a batch. It copies ops (and their Words), so the caller may reuse them. It
// checks the ops as rs_submit does (kind, empty block, block past the end of the address
// space, zero idle, zero poll, poll condition). Like bus.Op.Validate it lets misaligned
// single reads, writes and polls through (the RTL answers them with ERR); unlike it, it
// lets misaligned blocks through too (Validate, which the engine applies first, refuses
// them) and uses only bits 3..0 of Mask (wb_sel_i is 4 bits wide).
func (m *Master) Submit(ops []bus.Op) error {
	if m.busy || m.done {
		return fmt.Errorf("submit batch: %w", ErrBusy)
	}
	if len(ops) == 0 {
		return fmt.Errorf("submit batch: %w", ErrEmptyBatch)
	}
	nw, nr := 0, 0
	for i, op := range ops {
		if err := check(op); err != nil {
			return fmt.Errorf("submit batch: op %d: %w", i, err)
		}
		switch op.Kind {
		case bus.KindWriteBlock:
			nw += len(op.Words)
		case bus.KindReadBlock:
			nr += int(op.Count)
		}
	}
	m.ops = append(m.ops[:0], ops...)
	wbuf := make([]uint32, 0, nw)
	for i := range m.ops {
		if m.ops[i].Kind == bus.KindWriteBlock {
			k := len(wbuf)
			wbuf = append(wbuf, m.ops[i].Words...)
			m.ops[i].Words = wbuf[k:len(wbuf):len(wbuf)]
		} else {
			m.ops[i].Words = nil
		}
	}
	m.results = make([]bus.Result, len(ops))
	m.rbuf = make([]uint32, nr)
	off := 0
	for i := range m.ops {
		if m.ops[i].Kind == bus.KindReadBlock {
			c := int(m.ops[i].Count)
			m.results[i].Words = m.rbuf[off : off : off+c]
			off += c
		}
	}
	m.cur = 0
	m.busy = true
	m.startOp()
	return nil
}

// check mirrors the checks of rs_submit.
func check(op bus.Op) error {
	switch op.Kind {
	case bus.KindRead, bus.KindWrite:
	case bus.KindReadBlock, bus.KindWriteBlock:
		n := uint64(op.BlockWords())
		if n == 0 {
			return fmt.Errorf("%v at %#x: %w", op.Kind, op.Addr, bus.ErrEmptyBlock)
		}
		if uint64(op.Addr)+4*(n-1) > 0xFFFFFFFF {
			return fmt.Errorf("%v at %#x: %w", op.Kind, op.Addr, bus.ErrAddrWrap)
		}
	case bus.KindIdle:
		if op.Count == 0 {
			return bus.ErrZeroIdle
		}
	case bus.KindPoll:
		if op.Count == 0 {
			return fmt.Errorf("%v at %#x: %w", op.Kind, op.Addr, bus.ErrZeroPoll)
		}
		if op.Cond != bus.UntilEqual && op.Cond != bus.UntilNotEqual {
			return fmt.Errorf("%v at %#x: %w %d", op.Kind, op.Addr, bus.ErrBadCond, op.Cond)
		}
	default:
		return fmt.Errorf("%w: %d", bus.ErrBadKind, uint8(op.Kind))
	}
	return nil
}

// Take returns the results of a completed batch and frees the master for the next one.
// The results (and their Words) belong to the caller.
func (m *Master) Take() ([]bus.Result, error) {
	if !m.done {
		return nil, fmt.Errorf("take results: %w", ErrNoResults)
	}
	r := m.results
	m.results, m.rbuf, m.done = nil, nil, false
	return r, nil
}

func (m *Master) startOp() {
	m.word = 0
	m.idleLeft = 0
	if op := &m.ops[m.cur]; op.Kind == bus.KindIdle {
		m.idleLeft = uint64(op.Count)
	}
}

// Request returns the bus request of the current cycle (Stb false when the master is not
// on the bus).
func (m *Master) Request() Request {
	if !m.busy || m.idleLeft != 0 {
		return Request{}
	}
	op := &m.ops[m.cur]
	switch op.Kind {
	case bus.KindRead, bus.KindPoll:
		return Request{Stb: true, Addr: op.Addr}
	case bus.KindWrite:
		return Request{Stb: true, We: true, Addr: op.Addr, Data: op.Value, Sel: op.Mask & 0xF}
	case bus.KindReadBlock:
		return Request{Stb: true, Addr: op.Addr + 4*m.word}
	case bus.KindWriteBlock:
		return Request{Stb: true, We: true, Addr: op.Addr + 4*m.word, Data: op.Words[m.word], Sel: 0xF}
	}
	panic(fmt.Sprintf("refmodel: master: op kind %v in flight", op.Kind))
}

// Sample takes the node's response in cycle c, the cycle of the last Request, and
// reports whether the batch completed in it.
func (m *Master) Sample(resp Response, c uint64) bool {
	if !m.busy {
		return false
	}
	op := &m.ops[m.cur]
	r := &m.results[m.cur]
	if op.Kind == bus.KindIdle {
		if m.idleLeft--; m.idleLeft != 0 {
			return false
		}
		return m.complete(r, c)
	}
	if m.idleLeft != 0 { // a poll between reads
		m.idleLeft--
		return false
	}
	if resp.Err {
		r.Err = true
		r.N = int(m.word)
		return m.complete(r, c)
	}
	if !resp.Ack {
		return false
	}
	switch op.Kind {
	case bus.KindRead:
		r.Value = resp.Data
		return m.complete(r, c)
	case bus.KindWrite:
		return m.complete(r, c)
	case bus.KindPoll:
		r.Value = resp.Data
		r.N++
		eq := resp.Data&op.PollMask == op.Value
		if eq == (op.Cond == bus.UntilEqual) || uint64(r.N) == uint64(op.Count) {
			return m.complete(r, c)
		}
		m.idleLeft = uint64(op.Interval)
		return false
	case bus.KindReadBlock:
		r.Words = append(r.Words, resp.Data)
	}
	if m.word++; m.word < uint32(op.BlockWords()) {
		return false
	}
	r.N = int(m.word)
	return m.complete(r, c)
}

func (m *Master) complete(r *bus.Result, c uint64) bool {
	r.Cycle, r.Local = c, c // one clock: a node's own cycles are global cycles
	if len(r.Words) == 0 {
		r.Words = nil // as the engine's copy of no words
	}
	if m.cur++; m.cur < len(m.ops) {
		m.startOp()
		return false
	}
	m.busy = false
	m.done = true
	return true
}
