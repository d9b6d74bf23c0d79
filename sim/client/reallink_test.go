package client_test

import (
	"reflect"
	"testing"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/bus"
	"github.com/ringsim/ringsim/sim/server"
)

// machine is what the engine and the client share for batches.
type machine interface {
	Submit(node int, ops []bus.Op) error
	Run(until uint64) ([]int, error)
	Busy(node int) bool
	Cycle() uint64
}

// TestRTLRealLinkClient runs the same real-link simulation in process and through the
// client: the configuration the server reports, the bus results with their local cycles,
// the links' state, the clocks and the events must all be the engine's.
func TestRTLRealLinkClient(t *testing.T) {
	cfg := testConfig(5)
	cfg.Link = hw.LinkReal
	cfg.Real = hw.RealLink{Control: true, UpdateCycles: 2000, Flaps: []hw.Flap{{Link: 0, Down: 30_000, Up: 31_000}}}
	e := newMachine(t, rtlSim, cfg).(*sim.Engine)
	c := newBufconnClient(t, server.Options{New: rtlSim})
	info, err := c.Reset(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.Info().Config.Real; !reflect.DeepEqual(info.Config.Real, want) || info.Config.Link != hw.LinkReal {
		t.Fatalf("client's real link %+v, want the engine's %+v", info.Config.Real, want)
	}
	m := bus.Map{Depth: testDepth, Ports: 1}
	ops := []bus.Op{bus.Idle(40_000), bus.Read(m.Link(0) + bus.LinkStatus), bus.Read(m.Link(0) + bus.LinkUGNLocalLo),
		bus.Write(m.Link(0)+bus.LinkEBAdjust, uint32(0xffff_fffe))}
	var got, want [2][]bus.Result
	for node := 0; node < 2; node++ {
		for _, s := range []machine{e, c} {
			if err := s.Submit(node, ops); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range []machine{e, c} {
		for busy := true; busy; {
			if _, err := s.Run(s.Cycle() + 10_000); err != nil {
				t.Fatal(err)
			}
			busy = s.Busy(0) || s.Busy(1)
		}
	}
	for node := 0; node < 2; node++ {
		if want[node], err = e.Results(node); err != nil {
			t.Fatal(err)
		}
		if got[node], err = c.Results(node); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("client results %+v\nengine results %+v", got, want)
	}
	if want[0][1].Local == want[0][1].Cycle && want[1][1].Local == want[1][1].Cycle {
		t.Fatalf("no node's local cycle differs from the global one: %+v", want)
	}

	links, _, err := c.LinkStatus(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for l := range links {
		w, err := e.LinkState(l)
		if err != nil {
			t.Fatal(err)
		}
		if links[l] != w {
			t.Errorf("link %d: client %+v, engine %+v", l, links[l], w)
		}
	}
	clocks, _, err := c.NodeClocks(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for n, got := range clocks {
		w, _ := e.NodeClock(n)
		w.Period, w.Phase = 0, 0 // the server keeps these
		if got != w {
			t.Errorf("node %d clock: client %+v, engine %+v", n, got, w)
		}
	}
	evs, err := c.LinkEvents(testCtx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	wantEv, _ := e.Events(0, 0)
	if !reflect.DeepEqual(evs, wantEv) {
		t.Fatalf("client events %+v\nengine events %+v", evs, wantEv)
	}
	var flaps, clockEvents int
	for _, ev := range wantEv {
		switch ev.Kind {
		case hw.EventLinkDown:
			flaps++
		case hw.EventClock:
			clockEvents++
		}
	}
	if flaps != 1 || clockEvents == 0 {
		t.Fatalf("events %+v: want the flap and clock-control periods", wantEv)
	}
}
