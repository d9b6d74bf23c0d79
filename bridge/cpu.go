package bridge

import (
	"errors"
	"fmt"
	"iter"

	"github.com/ringsim/ringsim/sim/bus"
)

// Cost is the CPU cost model: software time charged in simulated cycles of the link clock,
// on top of the bus operations' own cycles. The defaults approximate a small in-order
// RISC-V management core (upstream's VexRiscv) running at the link clock: tens of cycles
// per loop iteration, about a cycle per byte for copies and checksums, a few hundred
// cycles of stack work per packet. Zero everywhere is allowed: software then takes no
// time at all, only the bus does.
type Cost struct {
	// Poll is charged per polling loop iteration (between two reads of a status word).
	Poll uint32 `json:"poll"`
	// PerByte is charged per packet byte copied in or out of a ring buffer (in 1/16 cycle:
	// 16 means one cycle per byte).
	PerByte16 uint32 `json:"per_byte_x16"`
	// PerPacket is charged per packet processed (framing, CRC, handing it to the stack).
	PerPacket uint32 `json:"per_packet"`
	// Setup is charged once between a node's alignment and its packet phase: the firmware's
	// work there besides the protocol (upstream's async-comms firmware prints log lines to
	// its UART and builds its smoltcp interfaces). 0 by default: ringsim's own firmware does
	// nothing there but its guard, and the cost of upstream's prints is not measured.
	Setup uint32 `json:"setup,omitempty"`
}

// DefaultCost is the default CPU cost model.
var DefaultCost = Cost{Poll: 20, PerByte16: 16, PerPacket: 300}

// bytes returns the cycles charged for copying n bytes.
func (c Cost) bytes(n int) uint32 { return uint32((uint64(n)*uint64(c.PerByte16) + 15) / 16) }

// idle appends an Idle operation of n cycles to ops, or nothing for n = 0.
func idle(ops []bus.Op, n uint32) []bus.Op {
	if n == 0 {
		return ops
	}
	return append(ops, bus.Idle(n))
}

// errHalted is how a firmware coroutine unwinds when the runtime stops it.
var errHalted = errors.New("firmware halted")

// cpu runs one node's firmware as a coroutine: the firmware is straight-line Go code that
// calls exec for each batch of bus operations and gets the results back, as if the bus
// were synchronous; the runtime interleaves the nodes' batches in simulated time.
type cpu struct {
	node    int
	next    func() ([]bus.Op, bool)
	stop    func()
	yield   func([]bus.Op) bool
	results []bus.Result
	err     error // why the firmware ended, if it failed
	done    bool
	// sleepable marks the batch just yielded as the end of an idle loop iteration, which the
	// runtime may stretch while the whole system is quiescent (Runtime.quiescent).
	sleepable bool
	// parked marks the firmware as waiting at the aligned boundary (Config.SaveAtAligned):
	// the runtime submits nothing for it until every node is there.
	parked bool
}

// newCPU starts firmware body for node; it runs up to its first exec when first stepped.
func newCPU(node int, body func(c *cpu) error) *cpu {
	c := &cpu{node: node}
	seq := func(yield func([]bus.Op) bool) {
		c.yield = yield
		defer func() {
			if r := recover(); r != nil {
				if r == errHalted { //nolint:errorlint // sentinel identity
					return
				}
				panic(r)
			}
		}()
		c.err = body(c)
	}
	c.next, c.stop = iter.Pull[[]bus.Op](seq)
	return c
}

// exec runs a batch and returns its results. It must be called from the firmware body.
func (c *cpu) exec(ops ...bus.Op) []bus.Result {
	if len(ops) == 0 {
		return nil
	}
	if !c.yield(ops) {
		panic(errHalted)
	}
	return c.results
}

// park yields to the runtime without a batch and returns when the runtime lets the node go
// on (Config.SaveAtAligned). It must be called from the firmware body.
func (c *cpu) park() {
	c.parked = true
	if !c.yield(nil) {
		panic(errHalted)
	}
}

// idleIteration runs ops, the rest of a main loop iteration that found nothing to do; the
// runtime may stretch it to the next stack timer while nothing in the system can change
// before then. It must be called from the firmware body.
func (c *cpu) idleIteration(ops ...bus.Op) []bus.Result {
	c.sleepable = true
	return c.exec(ops...)
}

// step resumes the firmware with the results of its last batch and returns its next batch,
// or ok == false when the firmware has returned.
func (c *cpu) step(results []bus.Result) (ops []bus.Op, ok bool) {
	c.results = results
	ops, ok = c.next()
	if !ok {
		c.done = true
	}
	return ops, ok
}

// halt stops the firmware (its pending exec unwinds). Safe to call twice.
func (c *cpu) halt() {
	c.stop()
	c.done = true
}

// busError is returned by firmware that saw an unexpected bus ERR: a driver bug or RTL that
// breaks the address map.
func busError(node int, what string, r bus.Result) error {
	return fmt.Errorf("node %d: %s: bus ERR in cycle %d", node, what, r.Cycle)
}

// checkOK returns an error naming what if any result is a bus ERR.
func checkOK(node int, what string, res []bus.Result) error {
	for _, r := range res {
		if r.Err {
			return busError(node, what, r)
		}
	}
	return nil
}
