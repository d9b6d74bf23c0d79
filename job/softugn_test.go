package job

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim"
)

// shortSoftUGN is the soft-UGN demo with waits a thousand times shorter than upstream's:
// every node still aligns long before the first message (the job checks it).
var shortSoftUGN = bridge.SoftUGNTiming{Settle: 100_000, StartDelay: 48_000, Events: 1000}

// truthMachine keeps the engine's state at the end of a run, before the job closes it: the
// release cycles, each link's UGN capture and each node's clock.
type truthMachine struct {
	*sim.Engine
	links  []hw.LinkState
	clocks []hw.NodeClock
}

func (m *truthMachine) Close() error {
	if m.Engine.Info().Config.Link == hw.LinkReal {
		for i := range m.Engine.Info().Config.Topology.Links {
			st, err := m.LinkState(i)
			if err != nil {
				return err
			}
			m.links = append(m.links, st)
		}
		for n := 0; n < m.Nodes(); n++ {
			c, err := m.NodeClock(n)
			if err != nil {
				return err
			}
			m.clocks = append(m.clocks, c)
		}
	}
	return m.Engine.Close()
}

// TestRTLSoftUGNCriterion runs upstream's soft-UGN demo on the Verilated RTL at upstream's
// depth (D = 4000) and judges it by upstream's criterion computed here from the engine's
// state, not from the firmware's numbers or the job's verdict: each link direction's
// hardware UGN is the latency plus the sender's release minus the receiver's (ideal link),
// or the engine's UGN capture, checked against the nodes' clocks, phases and releases and
// the latency (real link); the receiver's software UGN must be that + 1 (the RX read
// latency), the sender's view of it (returned in the receiver's acknowledge) the same, and
// each end's round trip the two hardware UGNs + 2.
func TestRTLSoftUGNCriterion(t *testing.T) {
	tests := []struct {
		name string
		sim  hw.Config
	}{
		{"pair/ideal", hw.Config{Topology: hw.Pair(16), Depth: 4000, Seed: 3, NoAssert: true}},
		{"ring3/ideal", hw.Config{Topology: hw.Ring(3, 20), Depth: 4000, Seed: 4, NoAssert: true}},
		{"pair/real-settled", hw.Config{Topology: hw.Pair(16), Depth: 4000, Seed: 5, NoAssert: true, Link: hw.LinkReal,
			Real: hw.RealLink{Control: true, Settled: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tm *truthMachine
			start := func(ctx context.Context, cfg hw.Config) (Machine, error) {
				e, err := sim.New(ctx, cfg, sim.Options{})
				if err != nil {
					return nil, err
				}
				tm = &truthMachine{Engine: e}
				return tm, nil
			}
			timing := shortSoftUGN
			spec := Spec{Sim: tt.sim, Firmware: bridge.Firmware{Default: bridge.UpstreamSoftUGN}, App: AppSoftUGN, SoftUGN: &timing}
			res, err := Run(context.Background(), spec, Options{Start: start})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Passed() {
				t.Fatalf("run failed: %v", res.Err)
			}
			t.Logf("%d cycles, %.2f s", res.Cycles, res.WallSeconds)
			hwUGN := map[[2]hw.Endpoint]int64{}
			for i, l := range tt.sim.Topology.Links {
				var h int64
				if tt.sim.Link == hw.LinkReal {
					st := tm.links[i]
					if !st.Captured || st.Adjustments != 0 || st.Shift != 0 {
						t.Fatalf("link %d: %+v: want a capture and no adjustment since", i, st)
					}
					h = int64(st.UGNLocal - st.UGNRemote)
					// The capture, from the clocks: the sender's first frame leaves at one of
					// its edges and arrives the latency later; the receiver reads it once the
					// elastic buffer holds 16 frames (its centre), at its next edge.
					s, r := tm.clocks[l.From.Node], tm.clocks[l.To.Node]
					p := float64(r.Period) / (1 << 32)
					if math.Abs(float64(s.Period)/float64(r.Period)-1) > 1e-6 {
						t.Fatalf("settled clocks differ: periods %d and %d", s.Period, r.Period)
					}
					x := (float64(l.Latency)+(float64(s.Phase)-float64(r.Phase))/(1<<32))/p + 15 + float64(s.Released) - float64(r.Released)
					if float64(h) < math.Floor(x)-1 || float64(h) > math.Ceil(x)+2 {
						t.Errorf("link %d: captured UGN %d, the clocks say %.2f to %.2f", i, h, x, x+1)
					}
				} else {
					h = int64(l.Latency) + int64(tm.Release(l.From.Node)) - int64(tm.Release(l.To.Node))
				}
				hwUGN[[2]hw.Endpoint{l.From, l.To}] = h
			}
			ports := map[hw.Endpoint]bridge.SoftUGNPort{}
			for _, n := range res.Report.SoftUGN {
				if n.Iterations != timing.Events || n.Missed() != 0 {
					t.Errorf("%v", n)
				}
				for _, p := range n.Ports {
					ports[hw.Endpoint{Node: n.Node, Port: p.Port}] = p
				}
			}
			for _, l := range tt.sim.Topology.Links {
				h := hwUGN[[2]hw.Endpoint{l.From, l.To}]
				in, out := ports[l.To].Incoming, ports[l.From].Outgoing
				if in == nil || out == nil {
					t.Errorf("%v: incoming %v, outgoing %v", l, in, out)
					continue
				}
				if in.UGN != h+1 || out.UGN != h+1 {
					t.Errorf("%v: software UGN %d at the receiver, %d at the sender; hardware %d, want hardware + 1", l, in.UGN, out.UGN, h)
				}
				back := hwUGN[[2]hw.Endpoint{l.To, l.From}]
				for _, ep := range []hw.Endpoint{l.From, l.To} {
					if rt := ports[ep].RoundTrip; rt == nil || *rt != h+back+2 {
						t.Errorf("%v: round trip at %v is %v, want %d", l, ep, rt, h+back+2)
					}
				}
			}
		})
	}
}

// TestSoftUGNCriterionFails shows the criterion failing, on the reference machine: a CPU
// whose polling loop takes longer than a whole buffer misses its deadlines, and waits too
// short for the nodes to align before the first message are caught.
func TestSoftUGNCriterionFails(t *testing.T) {
	pair := hw.Config{Topology: hw.Pair(16), Depth: 128, Seed: 1}
	// Node 2 leaves reset long after the others: node 0, whose only link faces node 1,
	// aligns and starts its messages while node 1 still aligns its other link.
	late := hw.Config{Topology: hw.Line(3, 16), Depth: 128, Seed: 1, Release: []uint64{0, 0, 400_000}}
	tests := []struct {
		name   string
		sim    hw.Config
		cost   bridge.Cost
		timing bridge.SoftUGNTiming
		want   string
	}{
		{"slow CPU", pair, bridge.Cost{Poll: 400}, shortSoftUGN, "deadlines missed"},
		{"no wait", late, bridge.DefaultCost, bridge.SoftUGNTiming{Settle: 1, StartDelay: 0, Events: 1000}, "before every link aligned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timing := tt.timing
			spec := Spec{Sim: tt.sim, Firmware: bridge.Firmware{Default: bridge.UpstreamSoftUGN}, App: AppSoftUGN, SoftUGN: &timing, Cost: tt.cost}
			res, err := Run(context.Background(), spec, Options{Start: reference})
			if err != nil {
				t.Fatal(err)
			}
			if !errors.Is(res.Err, ErrSoftUGN) || !strings.Contains(res.Err.Error(), tt.want) {
				t.Fatalf("got %v, want a soft-UGN failure saying %q", res.Err, tt.want)
			}
			if res.SoftUGN == nil || res.SoftUGN.Passed {
				t.Errorf("report %+v, want it failed", res.SoftUGN)
			}
		})
	}
}
