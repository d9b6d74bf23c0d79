package bridge_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/bridge/pcap"
	"github.com/ringsim/ringsim/sim"
)

var _ bridge.Machine = (*sim.Engine)(nil)

// peers returns the bridge's wiring plan for a topology.
func peers(t sim.Topology) map[bridge.Endpoint]bridge.Endpoint {
	m := map[bridge.Endpoint]bridge.Endpoint{}
	for _, l := range t.Links {
		m[bridge.Endpoint{Node: l.To.Node, Port: l.To.Port}] = bridge.Endpoint{Node: l.From.Node, Port: l.From.Port}
	}
	return m
}

// engine starts a simulation for a test.
func engine(t testing.TB, cfg sim.Config) *sim.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e, err := sim.New(ctx, cfg)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// transferCase is one bridge run of the transfer app.
type transferCase struct {
	depth      int
	latency    uint32
	seed       uint64
	framing    framing.Kind
	ber        float64
	drop       float64
	bytes      int64
	cost       bridge.Cost
	pcapDir    string
	deadline   uint64
	addressing bridge.Addressing
}

// runTransfer runs a pair through the whole job and returns the report and the error.
func runTransfer(t testing.TB, tc transferCase) (*bridge.Report, error) {
	t.Helper()
	topo := sim.Pair(tc.latency)
	for i := range topo.Links {
		topo.Links[i].Faults = sim.Faults{BitFlip: tc.ber}
	}
	e := engine(t, sim.Config{Topology: topo, Depth: tc.depth, Seed: tc.seed})
	app := bridge.NewTransfer(tc.bytes, tc.seed)
	deadline := tc.deadline
	if deadline == 0 {
		deadline = 400_000_000
	}
	cfg := bridge.Config{Machine: e, Peers: peers(topo), Framing: tc.framing, Cost: tc.cost,
		DropRate: tc.drop, Seed: tc.seed, App: app, Deadline: deadline, Addressing: tc.addressing}
	if tc.pcapDir != "" {
		cfg.Pcap = func(ep bridge.Endpoint, _ float64) (bridge.PacketWriter, error) {
			f, err := os.Create(filepath.Join(tc.pcapDir, ep.String()+".pcap"))
			if err != nil {
				return nil, err
			}
			w, err := pcap.NewWriter(f)
			if err != nil {
				return nil, err
			}
			return pcapCloser{w, f}, nil
		}
	}
	rt, err := bridge.New(cfg)
	if err != nil {
		t.Fatalf("bridge.New: %v", err)
	}
	rt.SetGuardLatency(uint64(tc.latency))
	rep, err := rt.Run(context.Background())
	if err == nil {
		err = app.Verify()
	}
	return rep, err
}

type pcapCloser struct {
	*pcap.Writer
	f *os.File
}

func (p pcapCloser) Close() error { return p.f.Close() }

// stableJSON is the report as JSON without the wall-clock fields.
func stableJSON(t testing.TB, r *bridge.Report) []byte {
	t.Helper()
	c := *r
	c.WallSeconds, c.CyclesPerSecond = 0, 0
	b, err := json.MarshalIndent(&c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
