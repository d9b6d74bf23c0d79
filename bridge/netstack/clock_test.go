package netstack_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringsim/ringsim/bridge/netstack"
)

func TestClockOrder(t *testing.T) {
	tests := []struct {
		name  string
		setup func(c *netstack.Clock, log func(string) func())
		to    int64
		want  string
	}{
		{
			name: "same deadline fires in insertion order",
			setup: func(c *netstack.Clock, log func(string) func()) {
				for i := range 5 {
					c.AfterFunc(10, log(fmt.Sprint(i)))
				}
			},
			to:   10,
			want: "0@10 1@10 2@10 3@10 4@10",
		},
		{
			name: "earlier deadline first, clock reads the deadline",
			setup: func(c *netstack.Clock, log func(string) func()) {
				c.AfterFunc(30, log("c"))
				c.AfterFunc(10, log("a"))
				c.AfterFunc(20, log("b"))
				c.AfterFunc(31, log("late"))
			},
			to:   30,
			want: "a@10 b@20 c@30",
		},
		{
			name: "reset moves a timer behind others with the same deadline",
			setup: func(c *netstack.Clock, log func(string) func()) {
				a := c.AfterFunc(5, log("a"))
				c.AfterFunc(5, log("b"))
				a.Reset(5)
			},
			to:   5,
			want: "b@5 a@5",
		},
		{
			name: "stopped timer does not fire",
			setup: func(c *netstack.Clock, log func(string) func()) {
				a := c.AfterFunc(5, log("a"))
				c.AfterFunc(6, log("b"))
				if !a.Stop() {
					panic("stop of a pending timer returned false")
				}
				if a.Stop() {
					panic("second stop returned true")
				}
			},
			to:   10,
			want: "b@6",
		},
		{
			name: "timers scheduled by callbacks fire in the same advance when due",
			setup: func(c *netstack.Clock, log func(string) func()) {
				var chain func()
				n := 0
				chain = func() {
					log(fmt.Sprintf("chain%d", n))()
					n++
					c.AfterFunc(4, chain)
				}
				c.AfterFunc(4, chain)
				c.AfterFunc(0, log("zero"))
			},
			to:   12,
			want: "zero@0 chain0@4 chain1@8 chain2@12",
		},
		{
			name: "negative delay counts as zero",
			setup: func(c *netstack.Clock, log func(string) func()) {
				c.AfterFunc(-time.Second, log("neg"))
			},
			to:   0,
			want: "neg@0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := netstack.NewClock()
			var got []string
			log := func(s string) func() {
				return func() { got = append(got, fmt.Sprintf("%s@%d", s, c.Nanos())) }
			}
			tt.setup(c, log)
			c.Advance(tt.to)
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("fired %q, want %q", g, tt.want)
			}
			if c.Nanos() != tt.to {
				t.Errorf("clock reads %d ns after Advance(%d), want %d", c.Nanos(), tt.to, tt.to)
			}
		})
	}
}

func TestClockNextDeadline(t *testing.T) {
	c := netstack.NewClock()
	if d, ok := c.NextDeadline(); ok {
		t.Fatalf("NextDeadline of an empty clock = %d, true; want false", d)
	}
	c.Advance(100)
	a := c.AfterFunc(50*time.Nanosecond, func() {})
	c.AfterFunc(70*time.Nanosecond, func() {})
	if d, ok := c.NextDeadline(); !ok || d != 150 {
		t.Errorf("NextDeadline = %d, %v; want 150, true", d, ok)
	}
	a.Reset(100 * time.Nanosecond)
	if d, ok := c.NextDeadline(); !ok || d != 170 {
		t.Errorf("NextDeadline after Reset = %d, %v; want 170, true", d, ok)
	}
	if got, want := c.Now(), time.Unix(0, 100).UTC(); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
	if got := c.NowMonotonic().Sub(netstack.NewClock().NowMonotonic()); got != 100 {
		t.Errorf("NowMonotonic - 0 = %v, want 100ns", got)
	}
	c.Advance(200)
	if n := c.Pending(); n != 0 {
		t.Errorf("Pending after firing all = %d, want 0", n)
	}
}

func TestClockBackwardsPanics(t *testing.T) {
	c := netstack.NewClock()
	c.Advance(10)
	defer func() {
		if recover() == nil {
			t.Errorf("Advance(5) after Advance(10) did not panic")
		}
	}()
	c.Advance(5)
}
