package bridge_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/sim"
)

var _ bridge.Machine = (*sim.Engine)(nil)

func peers(t sim.Topology) map[bridge.Endpoint]bridge.Endpoint {
	m := map[bridge.Endpoint]bridge.Endpoint{}
	for _, l := range t.Links {
		m[bridge.Endpoint{Node: l.To.Node, Port: l.To.Port}] = bridge.Endpoint{Node: l.From.Node, Port: l.From.Port}
	}
	return m
}

func TestTransferSmoke(t *testing.T) {
	pacing, _ := strconv.Atoi(os.Getenv("PACING"))
	topo := sim.Pair(16)
	e, err := sim.New(context.Background(), sim.Config{Topology: topo, Depth: 256, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	app := bridge.NewTransfer(1<<20, 1)
	rt, err := bridge.New(bridge.Config{Machine: e, Peers: peers(topo), Framing: framing.CRC, Cost: bridge.DefaultCost,
		Seed: 1, App: app, Deadline: 200_000_000, Pacing: uint64(pacing),
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Info})})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := rt.Run(context.Background())
	t.Logf("pacing %d wall %v cycles %d goodput %.3f bound %.3f share %.2f retrans %d links %+v", pacing, time.Since(start), rep.Cycles, rep.GoodputBytesPerCycle, rep.GoodputBound, rep.GoodputShare, rep.TCPRetransmissions, rep.Links[0].Frames)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Verify(); err != nil {
		t.Fatal(err)
	}
}
