package netstack

import (
	"container/heap"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// Clock is a simulated clock for gVisor stacks. Its time is set by the caller
// (simulated cycles divided by the clock frequency), never by the wall clock.
//
// Timers created with AfterFunc fire only inside Advance, on the goroutine that
// calls Advance, in order of (deadline, creation or last Reset). While a timer
// fires, the clock reads its deadline. Several stacks may share one Clock.
//
// All methods are safe for concurrent use (gVisor's TCP processor goroutine
// schedules timers while a Barrier runs), but Advance must be called from one
// goroutine at a time and never from inside a timer callback.
type Clock struct {
	mu     sync.Mutex
	now    int64     // protected by mu; nanoseconds since the epoch
	seq    uint64    // protected by mu; insertion counter for tie breaking
	timers timerHeap // protected by mu; pending timers
}

var _ tcpip.Clock = (*Clock)(nil)

// NewClock returns a Clock reading 0 ns with no timers.
func NewClock() *Clock {
	return &Clock{}
}

// Now implements tcpip.Clock.Now. Simulated time 0 is the Unix epoch, in UTC.
func (c *Clock) Now() time.Time {
	return time.Unix(0, c.Nanos()).UTC()
}

// NowMonotonic implements tcpip.Clock.NowMonotonic.
func (c *Clock) NowMonotonic() tcpip.MonotonicTime {
	return tcpip.MonotonicTime{}.Add(time.Duration(c.Nanos()))
}

// Nanos returns the simulated time in nanoseconds.
func (c *Clock) Nanos() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements tcpip.Clock.AfterFunc. f runs inside a later Advance
// whose target is at least the current time plus d (a negative d counts as 0),
// on the goroutine that calls Advance.
func (c *Clock) AfterFunc(d time.Duration, f func()) tcpip.Timer {
	return c.afterFunc(nil, d, f)
}

// afterFunc is AfterFunc with an owner tag used to cancel a stack's timers.
func (c *Clock) afterFunc(owner *timerOwner, d time.Duration, f func()) *clockTimer {
	t := &clockTimer{clock: c, owner: owner, f: f, index: -1}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scheduleLocked(t, d)
	return t
}

// NextDeadline returns the deadline of the earliest pending timer in
// nanoseconds, and false when no timer is pending.
func (c *Clock) NextDeadline() (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return 0, false
	}
	return c.timers[0].when, true
}

// Pending returns the number of pending timers.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock to the time to (nanoseconds) and fires, in order,
// every timer whose deadline is <= to, including timers that fired callbacks
// schedule within that window. Time never goes backwards: Advance panics if to
// is before the current time. Advance(Nanos()) fires timers that are due now.
func (c *Clock) Advance(to int64) {
	c.mu.Lock()
	if to < c.now {
		now := c.now
		c.mu.Unlock()
		panic(fmt.Sprintf("netstack: clock advanced backwards from %d ns to %d ns", now, to))
	}
	for len(c.timers) > 0 && c.timers[0].when <= to {
		t := heap.Pop(&c.timers).(*clockTimer)
		if t.when > c.now {
			c.now = t.when
		}
		f := t.f
		c.mu.Unlock()
		f()
		c.mu.Lock()
	}
	c.now = to
	c.mu.Unlock()
}

// stopOwned cancels every pending timer created for owner, and all timers the
// owner creates or resets later.
func (c *Clock) stopOwned(owner *timerOwner) {
	c.mu.Lock()
	defer c.mu.Unlock()
	owner.closed = true
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.owner == owner {
			t.index = -1
			continue
		}
		t.index = len(kept)
		kept = append(kept, t)
	}
	for i := len(kept); i < len(c.timers); i++ {
		c.timers[i] = nil
	}
	c.timers = kept
	heap.Init(&c.timers)
}

// scheduleLocked (re)inserts t with a deadline d from now.
// A timer of a closed stack is not scheduled.
func (c *Clock) scheduleLocked(t *clockTimer, d time.Duration) {
	if t.owner != nil && t.owner.closed {
		return
	}
	if d < 0 {
		d = 0
	}
	when := c.now + int64(d)
	if when < c.now { // overflow
		when = math.MaxInt64
	}
	c.seq++
	t.when = when
	t.seq = c.seq
	heap.Push(&c.timers, t)
}

// timerOwner tags the timers of one stack and records that one fired.
type timerOwner struct {
	work   atomic.Bool // set when the stack may have TCP work queued
	closed bool        // protected by the Clock's mu; the stack is closed
}

// ownedClock is the tcpip.Clock a Stack sees: its timers are tagged so that
// Stack.Close can cancel them on a shared Clock.
type ownedClock struct {
	*Clock
	owner *timerOwner
}

// AfterFunc implements tcpip.Clock.AfterFunc. Firing the timer marks the
// owner's stack as having work for its next Barrier.
func (c ownedClock) AfterFunc(d time.Duration, f func()) tcpip.Timer {
	owner := c.owner
	return c.Clock.afterFunc(owner, d, func() {
		f()
		owner.work.Store(true)
	})
}

// clockTimer is a timer of a Clock.
type clockTimer struct {
	clock *Clock
	owner *timerOwner
	f     func()
	when  int64  // protected by clock.mu
	seq   uint64 // protected by clock.mu
	index int    // protected by clock.mu; position in the heap, -1 if not pending
}

var _ tcpip.Timer = (*clockTimer)(nil)

// Stop implements tcpip.Timer.Stop. It returns true if the timer was pending.
func (t *clockTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&c.timers, t.index)
	return true
}

// Reset implements tcpip.Timer.Reset. It reschedules the timer d from now,
// whether it is pending, stopped or has fired.
func (t *clockTimer) Reset(d time.Duration) {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.index >= 0 {
		heap.Remove(&c.timers, t.index)
	}
	c.scheduleLocked(t, d)
}

// timerHeap orders timers by (when, seq).
type timerHeap []*clockTimer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	t := x.(*clockTimer)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}
