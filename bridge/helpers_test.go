package bridge_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/app"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/bridge/pcap"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/simtest"
)

var (
	_ bridge.Machine = (*sim.Engine)(nil)
	_ bridge.Machine = (*simtest.Machine)(nil)
)

// machine starts the reference machine (sim/simtest) for a test: the firmware's tests run
// on it, fast and under -race. internal/conformance checks that the firmware runs on it
// exactly as on the Verilated RTL (TestReferenceMachineRunsTheFirmwareLikeRTL).
func machine(t testing.TB, cfg hw.Config) *simtest.Machine {
	t.Helper()
	m, err := simtest.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("simtest.New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// engine starts the Verilated engine, for the benchmarks of the co-simulation's speed.
func engine(t testing.TB, cfg hw.Config) *sim.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e, err := sim.New(ctx, cfg, sim.Options{})
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
	framing    framing.Codec
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
	topo := hw.Pair(tc.latency)
	for i := range topo.Links {
		topo.Links[i].Faults = hw.Faults{BitFlip: tc.ber}
	}
	e := machine(t, hw.Config{Topology: topo, Depth: tc.depth, Seed: tc.seed})
	app := app.NewTransfer(tc.bytes, tc.seed)
	deadline := tc.deadline
	if deadline == 0 {
		deadline = 400_000_000
	}
	cfg := bridge.Config{Machine: e, Wiring: topo.Wiring(), Framing: tc.framing, Cost: tc.cost,
		DropRate: tc.drop, Seed: tc.seed, App: app, Deadline: deadline, Addressing: tc.addressing,
		LinkLatency: uint64(tc.latency)}
	if tc.pcapDir != "" {
		cfg.Pcap = func(ep hw.Endpoint, _ float64) (bridge.PacketWriter, error) {
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
