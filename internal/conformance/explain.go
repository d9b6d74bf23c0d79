package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/ringsim/ringsim/sim/bus"
)

// BusLog keeps each node's last bus batch as the RTL answered it, so that a failure can be
// told in the RTL's terms (which register, ACK or ERR, in which cycle) without parsing the
// text of the error that reported it. Traced fills it when its Limits name one. It is safe
// for concurrent use.
type BusLog struct {
	mu      sync.Mutex
	batches map[int]*Batch // protected by mu
}

// Batch is one batch of a node's bus master: its operations, the cycle it was submitted in
// and, once it completed, the RTL's results.
type Batch struct {
	Ops       []bus.Op
	Submitted uint64
	Results   []bus.Result // nil until the batch completed
}

func (l *BusLog) submitted(node int, ops []bus.Op, cycle uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.batches == nil {
		l.batches = map[int]*Batch{}
	}
	l.batches[node] = &Batch{Ops: ops, Submitted: cycle}
}

func (l *BusLog) completed(node int, res []bus.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.batches[node]; b != nil {
		b.Results = res
	}
}

// Last returns node's last batch, or nil.
func (l *BusLog) Last(node int) *Batch {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.batches[node]
	if b == nil {
		return nil
	}
	c := *b
	return &c
}

// FirstErr returns the index of the first operation of the batch that the RTL answered
// with ERR.
func (b *Batch) FirstErr() (int, bool) {
	for i, r := range b.Results {
		if r.Err {
			return i, true
		}
	}
	return 0, false
}

// UnexpectedErr describes the first ERR in node's last batch in the RTL's terms, if the
// SPEC answers that access with ACK: "write of 0x00000001 to node 1 port 0 RX enable
// (address 0x300, offset 0x80): RTL ERR in cycle 55, SPEC ACK". Firmware that stopped on a
// bus error (bridge) leaves that batch last.
func (l *BusLog) UnexpectedErr(m bus.Map, node int) (string, uint64, bool) {
	b := l.Last(node)
	if b == nil {
		return "", 0, false
	}
	i, ok := b.FirstErr()
	if !ok || SpecAnswersErr(m, b.Ops[i]) {
		return "", 0, false
	}
	r := b.Results[i]
	return fmt.Sprintf("%s: RTL ERR in cycle %d, SPEC ACK", OpString(m, node, b.Ops[i]), r.Cycle), r.Cycle, true
}

// ExplainDiff restates a divergence of the differential test (node 0, as Differential
// reports it) in the RTL's terms, from the batch the log kept: the operation and its
// register by name, ACK or ERR on each side. It returns d unchanged when the log does not
// hold the batch d is about (a divergence of the TX frames, for example, is renamed only).
func ExplainDiff(d *Divergence, m bus.Map, log *BusLog) *Divergence {
	out := *d
	var p int
	if _, err := fmt.Sscanf(d.What, "TX frame of port %d", &p); err == nil {
		out.What = fmt.Sprintf("node 0 port %d TX frame sent in cycle %d", p, d.Cycle)
		return &out
	}
	// What is "op I (DESCRIPTION) ASPECT" (diff.go's compareResults).
	var i int
	if _, err := fmt.Sscanf(d.What, "op %d (", &i); err != nil {
		return &out
	}
	_, aspect, ok := strings.Cut(d.What, ") ")
	b := log.Last(0)
	if !ok || b == nil || i < 0 || i >= len(b.Ops) {
		return &out
	}
	op := b.Ops[i]
	out.What = OpString(m, 0, op)
	var res *bus.Result
	if i < len(b.Results) {
		res = &b.Results[i]
	}
	specErr := SpecAnswersErr(m, op)
	switch {
	case aspect == "completion cycle":
		got, err1 := strconv.ParseUint(d.Got, 10, 64)
		want, err2 := strconv.ParseUint(d.Want, 10, 64)
		if err1 != nil || err2 != nil || res == nil {
			return &out
		}
		out.Got, out.Want = answer(res.Err, got), answer(specErr, want)
	case aspect == "bus error":
		if res != nil {
			out.Got, out.Want = answer(res.Err, res.Cycle), answer(!res.Err, res.Cycle)
		}
	case aspect == "read data":
		out.What += fmt.Sprintf(" answered in cycle %d: read data", d.Cycle)
	case strings.HasPrefix(aspect, "word "):
		var k int
		if _, err := fmt.Sscanf(aspect, "word %d", &k); err == nil {
			out.What = fmt.Sprintf("%s: 32-bit word %d, %s", OpString(m, 0, op), k, RegName(m, 0, op.Addr+4*uint32(k)))
		}
	default:
		out.What += ": " + aspect
	}
	return &out
}
