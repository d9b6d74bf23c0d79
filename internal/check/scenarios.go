package check

import (
	"context"
	"fmt"
	"strings"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/job"
)

// upstreamDemoSeconds is the async-comms demo's pass bound: every node done within 60 s.
const upstreamDemoSeconds = job.UpstreamDemoSeconds

func scenarioTask(sc Scenario) task {
	return task{check: Scenarios, name: sc.Name, seed: 1, run: sc.run}
}

// run runs the scenario as `ringsim run` would (seed 1, latency 16) and judges it by
// upstream's criteria, or by the diagnosis it must stop with.
func (sc Scenario) run(ctx context.Context, e *env, ev *evidence) outcome {
	topo := hw.Rig(16)
	if sc.Topology == "ring3" {
		topo = topology("ring3", 16)
	}
	fw, err := bridge.ParseFirmware(sc.Firmware)
	if err != nil {
		return errorOutcome(err)
	}
	spec := job.Spec{Sim: hw.Config{Topology: topo, Depth: sc.Depth, Seed: 1}, Firmware: fw, App: sc.App, Cost: bridge.DefaultCost,
		SoftUGN: sc.SoftUGN}
	if p, ok := fw.Uniform(topo.Nodes); ok && p == bridge.UpstreamAsync {
		spec.Addressing = bridge.Upstream
	}
	if sc.Real {
		spec.Sim.Link, spec.Sim.Real = hw.LinkReal, hw.RealLink{Settled: true}
		spec.AutoCentre = true
	}
	start := func(ctx context.Context, cfg hw.Config) (job.Machine, error) {
		m, err := e.newMachine(ctx, cfg, ev)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	res, err := job.Run(ctx, spec, job.Options{Start: start, Logger: e.log})
	if err != nil {
		return setupError(err)
	}
	rep := res.Report
	details := map[string]any{"cycles": rep.Cycles, "edges": len(res.Edges)}
	var last float64
	var notDone []string
	for _, c := range res.Completion {
		if !c.Completed {
			notDone = append(notDone, fmt.Sprint(c.Node))
		}
		last = max(last, c.SimSeconds)
	}
	details["last_node_completed_seconds"] = last
	if st := rep.Stall; st != nil {
		details["stall"] = st.Cause
	}
	if ctx.Err() != nil {
		return outcome{status: Error, reason: fmt.Sprint(res.Err), details: details}
	}
	if s := res.SoftUGN; s != nil {
		details["soft_ugn_edges"], details["deadlines_missed"] = len(s.Edges), s.Missed
		if res.Err != nil {
			return failAt(rep.Cycles, res.Err.Error(), details)
		}
		return pass(details)
	}
	if sc.Stall != "" {
		if st := rep.Stall; st != nil && st.Cause == sc.Stall {
			return pass(details)
		}
		return failAt(rep.Cycles, fmt.Sprintf("want the diagnosis %q, got: %v", sc.Stall, res.Err), details)
	}
	switch {
	case res.Err != nil:
		return failAt(rep.Cycles, res.Err.Error(), details)
	case len(notDone) > 0:
		return failAt(rep.Cycles, "node(s) "+strings.Join(notDone, ", ")+" did not complete the exchange", details)
	case last > upstreamDemoSeconds:
		return failAt(rep.Cycles, fmt.Sprintf("the last node completed after %.3f s, upstream's demo allows %d s", last, upstreamDemoSeconds), details)
	case len(res.Edges) != topo.Nodes*(topo.Nodes-1):
		return failAt(rep.Cycles, fmt.Sprintf("the manager's report has %d edges, the full mesh %d", len(res.Edges), topo.Nodes*(topo.Nodes-1)), details)
	}
	if sc.Real {
		// Every edge carries a hardware UGN, and each link's two directions add up to a
		// positive round trip.
		ugn := map[[2]hw.Endpoint]int64{}
		for _, ed := range res.Edges {
			if ed.HardwareUGN == nil {
				return failAt(rep.Cycles, fmt.Sprintf("edge %v has no hardware UGN on the real link", ed), details)
			}
			ugn[[2]hw.Endpoint{ed.Src, ed.Dst}] = *ed.HardwareUGN
		}
		for k, there := range ugn {
			if back, ok := ugn[[2]hw.Endpoint{k[1], k[0]}]; !ok || there+back <= 0 {
				return failAt(rep.Cycles, fmt.Sprintf("the UGNs of link %v<->%v add up to %d, not a positive round trip", k[0], k[1], there+back), details)
			}
		}
	}
	return pass(details)
}
