// Package job runs ringsim's main job from configuration to report: it starts a machine
// (the embedded Verilated engine, a `ringsim serve`, or any other), runs every node's
// firmware and an application over the TCP connections, checks the application's result
// and renders the report. `ringsim run` and the gate's protocol soak both run jobs; the
// commands only parse flags and print.
package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/app"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/hw"
)

// DefaultDeadline bounds a job in cycles when Spec.Deadline is 0.
const DefaultDeadline = 2_000_000_000

// UpstreamDemoSeconds bounds a job whose nodes all run upstream-async when Spec.Deadline is
// 0: upstream's pass criterion for the async-comms demo, every node done within 60 s
// (bittide-instances/src/Bittide/Instances/Hitl/AsyncCommsDemo/Driver.hs:113-121, branch
// lucas/ringbuffer-smoltcp 811196ed).
const UpstreamDemoSeconds = 60

// The applications a job can run.
const (
	AppTransfer = "transfer" // Bytes each way on every link, SHA-256 checked
	AppHello    = "hello"    // upstream's simultaneous-open greeting
	AppExchange = "exchange" // upstream's DNA and port exchange; the manager collects the report
	AppAlign    = "align"    // align every link and stop: no packets, no TCP
	AppSoftUGN  = "softugn"  // upstream's soft-UGN demo: time-triggered messages, software UGNs
)

// Apps lists the application names.
var Apps = []string{AppTransfer, AppHello, AppExchange, AppAlign, AppSoftUGN}

// DefaultManager is the node that collects the exchange's report on topology t when
// Spec.Manager is nil: the rig's manager (hw.RigManager, node 6) on the rig, node 0
// elsewhere.
func DefaultManager(t hw.Topology) int {
	if t.Name == "rig" {
		return hw.RigManager
	}
	return 0
}

// ErrBadSpec is wrapped by every error Spec.Validate returns.
var ErrBadSpec = errors.New("bad job")

// Spec is one job: the simulation, the firmware's settings, the application and where its
// artefacts go.
type Spec struct {
	// Sim is the simulation; its topology carries each link's faults.
	Sim hw.Config
	// Framing is the packet framing; nil means framing.CRC.
	Framing    framing.Codec
	Addressing bridge.Addressing
	// Firmware says which firmware profile each node runs; the zero value is ringsim's
	// everywhere (docs/firmware.md).
	Firmware bridge.Firmware
	Cost     bridge.Cost
	// Pacing, Guard, MinRTO and Window override the firmware's defaults (see bridge.Config).
	Pacing uint64
	Guard  int64
	MinRTO time.Duration
	Window int
	// Drop is the probability that a link's packet device drops a packet it received
	// intact (injected frame loss).
	Drop float64
	// Deadline bounds the run in cycles from its start; 0 means DefaultDeadline.
	Deadline uint64
	// App is the application (AppTransfer, AppHello, AppExchange, AppAlign); empty means
	// transfer.
	App string
	// Bytes is what the transfer sends each way on every link.
	Bytes int64
	// Manager is the node that collects the exchange's report; nil means the topology's
	// default (DefaultManager: 6 on the rig, 0 elsewhere).
	Manager *int
	// PcapDir, if set, receives one pcapng per linked port (node<N>-port<P>.pcapng).
	PcapDir string
	// Trace, if set, is an FST dump of every node (embedded engine only; Sim.Waveforms is
	// set by Run).
	Trace string
	// AutoCentre (real link) has ringsim's firmware turn every elastic buffer's auto-centre
	// on at boot and leave it on (bridge.Config.AutoCentre).
	AutoCentre bool
	// Resume starts the firmware at the aligned boundary from a snapshot that
	// Options.SaveAtAligned produced, on a machine restored from the checkpoint saved with
	// it (ringsim's firmware only).
	Resume *bridge.Snapshot
	// RunSeed, if not 0, seeds what happens after the aligned boundary (faults, TCP, drops,
	// the transfer's data); Sim.Seed then fixes the set-up only (bridge.Config.RunSeed).
	RunSeed uint64
	// NoRecovery (real link) turns ringsim's firmware's recovery off (bridge.Config.NoRecovery).
	NoRecovery bool
	// SoftUGN is the soft-UGN demo's timing (AppSoftUGN); nil means upstream's
	// (bridge.DefaultSoftUGNTiming).
	SoftUGN *bridge.SoftUGNTiming
}

// SampleEvery is how often, in cycles, a job samples the run for its charts.
const SampleEvery = 10_000

// ErrRelationBroken: the firmware believes a link aligned, and TX word i does not land at
// RX word i (the real link's truth).
var ErrRelationBroken = errors.New("frame relation broken")

// Validate checks the job's own limits; the simulation's are the contract's
// (hw.Config.Validate), which the machine applies.
func (s Spec) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadSpec}, a...)...)
	}
	c := s.codec()
	if _, err := c.MTU(s.Sim.Depth); err != nil {
		return bad("framing %s at depth %d: %v", c, s.Sim.Depth, err)
	}
	if !(s.Drop >= 0 && s.Drop <= 1) {
		return bad("drop rate %v is not a probability in [0, 1]", s.Drop)
	}
	if err := s.Firmware.Validate(s.Sim.Topology.Nodes); err != nil {
		return bad("%v", err)
	}
	switch s.app() {
	case AppTransfer, AppHello, AppAlign:
	case AppSoftUGN:
		for n := 0; n < s.Sim.Topology.Nodes; n++ {
			if p := s.Firmware.Of(n); p != bridge.UpstreamSoftUGN {
				return bad("app softugn is upstream's soft-UGN demo: it needs firmware upstream-softugn on every node, node %d runs %s", n, p)
			}
		}
		if t := s.SoftUGN; t != nil {
			switch {
			case t.Events <= 0:
				return bad("soft-UGN demo with %d events: want at least 1", t.Events)
			case t.Settle > MaxSoftUGNWait || t.StartDelay > MaxSoftUGNWait:
				return bad("soft-UGN demo waits %d and %d cycles: at most %d each", t.Settle, t.StartDelay, uint64(MaxSoftUGNWait))
			}
		}
	case AppExchange:
		if m := s.ManagerNode(); m < 0 || m >= s.Sim.Topology.Nodes {
			return bad("exchange manager node %d outside %d nodes", m, s.Sim.Topology.Nodes)
		}
	default:
		return bad("app %q: want transfer, hello, exchange, align or softugn", s.App)
	}
	if s.app() != AppAlign && s.app() != AppSoftUGN {
		for n := 0; n < s.Sim.Topology.Nodes; n++ {
			if p := s.Firmware.Of(n); !p.HasTCP() {
				return bad("app %s needs TCP, but node %d's firmware %s has none (its phase after alignment is the soft-UGN demo's messages): use app softugn or align", s.app(), n, p)
			}
		}
	}
	if s.Bytes < 0 {
		return bad("%d bytes", s.Bytes)
	}
	if s.RunSeed != 0 || s.Resume != nil {
		if err := s.BoundaryError(); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

// BoundaryError says why the job cannot stop at the aligned boundary (to save there, be
// resumed from there, or take a run seed), or nil (bridge.BoundaryError).
func (s Spec) BoundaryError() error {
	profiles := make([]bridge.Profile, s.Sim.Topology.Nodes)
	for n := range profiles {
		profiles[n] = s.Firmware.Of(n)
	}
	return bridge.BoundaryError(profiles, s.app() == AppAlign)
}

func (s Spec) codec() framing.Codec {
	if s.Framing == nil {
		return framing.CRC
	}
	return s.Framing
}

func (s Spec) app() string {
	if s.App == "" {
		return AppTransfer
	}
	return s.App
}

// ManagerNode is the node that collects the exchange's report: Manager, or the topology's
// default.
func (s Spec) ManagerNode() int {
	if s.Manager != nil {
		return *s.Manager
	}
	return DefaultManager(s.Sim.Topology)
}

// Machine is what a job runs on: the firmware's bus machine, the fault counters and a way
// to end it. *sim.Engine, *client.Client and *simtest.Machine satisfy it.
type Machine interface {
	bridge.Machine
	Close() error
}

// faultCounter is what a machine that counts injected faults offers.
type faultCounter interface {
	FaultCounts(link int) (flips, zeroed uint64, err error)
}

// waveformer is what a machine that dumps waveforms offers.
type waveformer interface {
	StartWaveform(path string) error
	StopWaveform() error
}

// Options say how a job runs.
type Options struct {
	// Start starts the machine for the simulation. It is required: `ringsim run` passes the
	// embedded engine or a gRPC client, the gate its traced engine, tests the reference
	// machine.
	Start func(ctx context.Context, cfg hw.Config) (Machine, error)
	// Logger is defaulted when nil.
	Logger hclog.Logger
	// Progress, if set, is called with each step and periodically during the application.
	Progress func(bridge.Progress)
	// SaveAtAligned, if set, holds the nodes at the aligned boundary and calls it with the
	// machine (no batch in flight) and the firmware's snapshot, to checkpoint both
	// (bridge.Config.SaveAtAligned).
	SaveAtAligned func(m Machine, s bridge.Snapshot) error
}

// Result is a job's outcome: the firmware's report, the application's results, and why it
// failed, if it did. It marshals to the `ringsim run --json` report.
type Result struct {
	*bridge.Report
	// Manager and Edges are the exchange manager and its report (the exchange app only).
	Manager *int         `json:"manager,omitempty"`
	Edges   []ReportEdge `json:"edges,omitempty"`
	// DeadlinesMissed are the exchange steps that took longer than the firmware allows
	// (upstream-async: 1 s); upstream logs them and goes on, and so does the job.
	DeadlinesMissed []app.MissedDeadline `json:"exchange_deadlines_missed,omitempty"`
	// Completion is when each node completed the exchange (every link end closed):
	// upstream's demo passes when every node completes within 60 s.
	Completion []NodeCompletion `json:"exchange_completion,omitempty"`
	// SoftUGN is the soft-UGN demo judged by upstream's criterion (AppSoftUGN).
	SoftUGN *SoftUGNReport `json:"soft_ugn,omitempty"`
	// RealLink is the real link's truth (the embedded simulator on the real link only).
	RealLink *RealLinkReport `json:"real_link,omitempty"`
	// Samples are the run over time, every SampleEvery cycles or so (the HTML report's
	// charts).
	Samples []bridge.Sample `json:"-"`
	// Err is why the job failed (nil: it passed).
	Err error `json:"-"`
	// Stack is the firmware's stack if it panicked.
	Stack string `json:"-"`
	// FlippedBits and ZeroedFrames are what the links' fault injectors did (all links).
	FlippedBits  uint64 `json:"-"`
	ZeroedFrames uint64 `json:"-"`
	// info is the simulator's effective configuration and model, when it says (Document).
	info *hw.Info
	// deadline is the run's bound in cycles from its start.
	deadline uint64
}

// Passed reports whether the job passed.
func (r *Result) Passed() bool { return r.Err == nil }

// Run runs the job. It returns an error if the job could not run (a bad spec, a machine
// that does not start, an unwritable pcap directory); a job that ran and failed returns a
// Result whose Err says why.
func Run(ctx context.Context, spec Spec, opt Options) (*Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if opt.Start == nil {
		return nil, fmt.Errorf("%w: no machine to run on", ErrBadSpec)
	}
	if opt.Logger == nil {
		opt.Logger = hclog.NewNullLogger()
	}
	cfg := spec.Sim
	if spec.Trace != "" {
		cfg.Waveforms = true
	}
	m, err := opt.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var info *hw.Info
	if im, ok := m.(interface{ Info() hw.Info }); ok {
		if i := im.Info(); i.Config.Topology.Nodes > 0 {
			info = &i
		}
	}
	if spec.Trace != "" {
		w, ok := m.(waveformer)
		if !ok {
			return nil, fmt.Errorf("%w: this machine cannot dump waveforms", ErrBadSpec)
		}
		if err := w.StartWaveform(spec.Trace); err != nil {
			return nil, err
		}
	}
	a, verify := spec.newApp()
	deadline := spec.Deadline
	if deadline == 0 {
		deadline = DefaultDeadline
		if p, ok := spec.Firmware.Uniform(spec.Sim.Topology.Nodes); ok && p == bridge.UpstreamAsync {
			deadline = uint64(UpstreamDemoSeconds * m.ClockHz())
		}
	}
	zeroing := false
	for _, l := range spec.Sim.Topology.Links {
		zeroing = zeroing || l.Faults.FrameZero > 0
	}
	bc := bridge.Config{
		Machine: m, Wiring: spec.Sim.Topology.Wiring(), Framing: spec.codec(), Cost: spec.Cost,
		Pacing: spec.Pacing, DropRate: spec.Drop, Guard: spec.Guard, Addressing: spec.Addressing,
		Seed: spec.Sim.Seed, MinRTO: spec.MinRTO, Window: spec.Window, Deadline: runStart(m, spec) + deadline,
		LinkLatency: uint64(spec.Sim.Topology.MaxLinkLatency()), App: a, Logger: opt.Logger,
		Progress: opt.Progress, Firmware: spec.Firmware, ZeroingLinks: zeroing,
		AlignOnly: spec.app() == AppAlign, SoftUGN: spec.softUGNTiming(m.ClockHz()),
		RealLink: spec.Sim.Link == hw.LinkReal, AutoCentre: spec.AutoCentre, NoRecovery: spec.NoRecovery,
	}
	rlm, isReal := m.(realLinkMachine)
	isReal = isReal && spec.Sim.Link == hw.LinkReal
	var samples *sampler
	if isReal {
		samples = newSampler(rlm, len(spec.Sim.Topology.Links))
	} else {
		samples = newSampler(nil, 0)
	}
	bc.Sample, bc.SampleEvery = samples.sample, SampleEvery
	if spec.PcapDir != "" {
		if err := os.MkdirAll(spec.PcapDir, 0o755); err != nil {
			return nil, fmt.Errorf("pcap directory: %w", err)
		}
		wiring := bc.Wiring
		bc.Pcap = func(ep hw.Endpoint, _ float64) (bridge.PacketWriter, error) {
			return CreatePcap(filepath.Join(spec.PcapDir, fmt.Sprintf("node%d-port%d.pcapng", ep.Node, ep.Port)), ep, wiring[ep])
		}
	}
	bc.Resume, bc.RunSeed = spec.Resume, spec.RunSeed
	if spec.Sim.Link == hw.LinkReal {
		// The alignment timeout allows for the links' bring-up (and a flap's downtime).
		bc.BringUp = spec.Sim.Real.BringUp
		if bc.BringUp == 0 {
			bc.BringUp = hw.DefaultBringUpCycles
		}
		for _, u := range spec.Sim.Real.Up {
			bc.BringUp = max(bc.BringUp, u)
		}
		for _, f := range spec.Sim.Real.Flaps {
			bc.BringUp = max(bc.BringUp, f.Up)
		}
	}
	if opt.SaveAtAligned != nil {
		bc.SaveAtAligned = func(s bridge.Snapshot) error { return opt.SaveAtAligned(m, s) }
	}
	rt, err := bridge.New(bc)
	if err != nil {
		return nil, err
	}
	res := &Result{info: info, deadline: deadline}
	res.Report, res.Stack, res.Err = RunFirmware(ctx, rt)
	if r := res.Report; r != nil && r.Framing == "" {
		// The firmware panicked before a report: what the run was configured with.
		r.Seed, r.Framing, r.Addressing, r.Cost = spec.Sim.Seed, bc.Framing.String(), bc.Addressing.String(), bc.Cost
		r.Depth, r.Nodes, r.ClockHz = m.Depth(), m.Nodes(), m.ClockHz()
	}
	if w, ok := m.(waveformer); ok && spec.Trace != "" {
		if err := w.StopWaveform(); err != nil && res.Err == nil {
			res.Err = err
		}
	}
	if res.Err == nil {
		if err := verify(); err != nil {
			res.Err = fmt.Errorf("verify: %w", err)
		}
	}
	res.Samples = samples.samples
	if isReal {
		rl, err := truth(rlm, spec, res.Report, samples.occ)
		if err != nil {
			return nil, fmt.Errorf("real link report: %w", err)
		}
		if pm, ok := m.(probeMachine); ok && res.Stack == "" {
			if err := drain(m); err != nil {
				return nil, fmt.Errorf("real link probe: %w", err)
			}
			if err := probe(pm, spec, rl); err != nil {
				return nil, fmt.Errorf("real link probe: %w", err)
			}
			explain(rl)
		}
		res.RealLink = rl
		if b := rl.BrokenLinks(); len(b) > 0 && res.Err == nil {
			l := b[0]
			res.Err = fmt.Errorf("%w: link %d (%s->%s): the firmware believes it aligned since cycle %d, but TX word i lands at RX word i%+d: %s at cycle %d",
				ErrRelationBroken, l.Link, l.From, l.To, l.FirmwareSince, l.Offset, l.Broken.Cause, l.Broken.Cycle)
		}
	}
	if spec.app() == AppSoftUGN && res.Report != nil && res.Stack == "" {
		res.SoftUGN = judgeSoftUGN(spec, res.Report, releases(m, info, spec.Sim.Topology.Nodes), bc.SoftUGN)
		if !res.SoftUGN.Passed && res.Err == nil {
			res.Err = fmt.Errorf("%w: %s", ErrSoftUGN, res.SoftUGN.failureLine())
		}
	}
	if x, ok := a.(*app.Exchange); ok {
		res.DeadlinesMissed = x.Missed()
		done := x.Completed()
		for n := 0; n < spec.Sim.Topology.Nodes; n++ {
			c, ok := done[n]
			nc := NodeCompletion{Node: n, Completed: ok}
			if ok {
				nc.Cycle, nc.SimSeconds = c, float64(c)/m.ClockHz()
			}
			res.Completion = append(res.Completion, nc)
		}
		if res.Err == nil {
			mgr := spec.ManagerNode()
			res.Manager = &mgr
			res.Edges = LabelEdges(x, res.Report)
		}
	}
	if res.Err != nil {
		res.Report.Error = res.Err.Error()
	}
	if fc, ok := m.(faultCounter); ok {
		for i := range spec.Sim.Topology.Links {
			f, z, _ := fc.FaultCounts(i)
			res.FlippedBits, res.ZeroedFrames = res.FlippedBits+f, res.ZeroedFrames+z
		}
	}
	return res, nil
}

// runStart is the cycle a job's deadline counts from: the machine's cycle, or reset for a
// run resumed at the aligned boundary (it continues a run that began there).
func runStart(m Machine, spec Spec) uint64 {
	if spec.Resume != nil {
		return 0
	}
	return m.Cycle()
}

// RunFirmware runs the firmware, turning a firmware panic (a bug) into an error and its
// stack, so that a gate or a sweep reports it as a failed case instead of dying.
func RunFirmware(ctx context.Context, rt *bridge.Runtime) (rep *bridge.Report, stack string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err, stack = fmt.Errorf("firmware panicked: %v", r), string(debug.Stack())
			if rep == nil {
				rep = &bridge.Report{Error: err.Error()}
			}
		}
	}()
	rep, err = rt.Run(ctx)
	return rep, "", err
}

// newApp returns the application and the check that it did its job.
func (s Spec) newApp() (bridge.App, func() error) {
	switch s.app() {
	case AppHello:
		h := app.NewHello(3)
		return h, h.Verify
	case AppExchange:
		x := app.NewExchange(s.ManagerNode(), nil)
		return x, func() error {
			if got, want := len(x.Report()), len(s.Sim.Topology.Links); got != want {
				return fmt.Errorf("the manager's report has %d edges, want one per link end: %d", got, want)
			}
			return nil
		}
	case AppAlign, AppSoftUGN:
		return nil, func() error { return nil }
	}
	seed := s.Sim.Seed
	if s.RunSeed != 0 {
		seed = s.RunSeed
	}
	t := app.NewTransfer(s.Bytes, seed)
	return t, t.Verify
}

// MaxSoftUGNWait bounds each of the soft-UGN demo's waits in cycles (2^40: about 2.4 hours
// at 125 MHz), far beyond any run, so that the schedule's sums cannot wrap.
const MaxSoftUGNWait = 1 << 40

// softUGNTiming is the soft-UGN demo's timing for a clock of clockHz.
func (s Spec) softUGNTiming(clockHz float64) bridge.SoftUGNTiming {
	if s.SoftUGN != nil {
		return *s.SoftUGN
	}
	return bridge.DefaultSoftUGNTiming(clockHz)
}

// releases returns the nodes' release cycles from the simulator's effective configuration
// or the machine, nil when neither says.
func releases(m Machine, info *hw.Info, nodes int) []uint64 {
	if info != nil && len(info.Config.Release) == nodes {
		return info.Config.Release
	}
	r, ok := m.(interface{ Release(node int) uint64 })
	if !ok {
		return nil
	}
	out := make([]uint64, nodes)
	for n := range out {
		out[n] = r.Release(n)
	}
	return out
}

// NodeCompletion is when a node completed the exchange.
type NodeCompletion struct {
	Node       int     `json:"node"`
	Completed  bool    `json:"completed"`
	Cycle      uint64  `json:"cycle,omitempty"`
	SimSeconds float64 `json:"sim_seconds,omitempty"`
}

// ReportEdge is one edge of the exchange manager's report, labelled: the link ends by node
// and port (the manager maps the DNAs on the wire to nodes as upstream maps them to rig
// positions), the DNAs, the alignment offset the edge carries, and the hardware UGN.
type ReportEdge struct {
	// Src is the link end that recorded the edge (upstream's src), Dst its peer. Node -1: a
	// DNA no link end opened with.
	Src    hw.Endpoint `json:"src"`
	Dst    hw.Endpoint `json:"dst"`
	SrcDNA string      `json:"src_dna"`
	DstDNA string      `json:"dst_dna"`
	// AlignmentOffset is the total clear_at_count shift of Src's RX (its LinkReport.Offset):
	// what ringsim puts in the edge's latency field until the engine captures UGNs.
	AlignmentOffset int64 `json:"alignment_offset"`
	// HardwareUGN is the edge's hardware UGN (local minus remote counter), what upstream's
	// async-comms demo reports; null: not available, the engine does not capture UGNs yet.
	HardwareUGN *int64 `json:"hardware_ugn"`
}

// String returns "node 0 port 1 -> node 3 port 1: alignment offset 11, hardware UGN n/a".
func (e ReportEdge) String() string {
	ugn := "n/a (the ideal link has no UGN capture)"
	if e.HardwareUGN != nil {
		ugn = fmt.Sprint(*e.HardwareUGN)
	}
	return fmt.Sprintf("node %d port %d -> node %d port %d: alignment offset %d, hardware UGN %s (DNA %s -> %s)",
		e.Src.Node, e.Src.Port, e.Dst.Node, e.Dst.Port, e.AlignmentOffset, ugn, e.SrcDNA, e.DstDNA)
}

// LabelEdges returns the exchange's report with node numbers and ports, sorted by source
// end. rep, if not nil, is the firmware's report: each edge then also gets its source end's
// alignment offset and hardware UGN as the firmware measured and read them, whichever of
// the two went over the wire (upstream-async sends the hardware UGN, ringsim the offset).
func LabelEdges(x *app.Exchange, rep *bridge.Report) []ReportEdge {
	node := func(dna [12]byte) int {
		if n, ok := x.Node(dna); ok {
			return n
		}
		return -1
	}
	ends := map[hw.Endpoint]bridge.LinkReport{}
	if rep != nil {
		for _, l := range rep.Links {
			ends[l.Local] = l
		}
	}
	var out []ReportEdge
	for _, e := range x.Report() {
		re := ReportEdge{
			Src:    hw.Endpoint{Node: node(e.SrcDNA), Port: int(e.SrcPort)},
			Dst:    hw.Endpoint{Node: node(e.DstDNA), Port: int(e.DstPort)},
			SrcDNA: fmt.Sprintf("%x", e.SrcDNA), DstDNA: fmt.Sprintf("%x", e.DstDNA),
			AlignmentOffset: e.Latency,
		}
		if l, ok := ends[re.Src]; ok {
			re.AlignmentOffset = int64(l.Offset)
			re.HardwareUGN = l.HardwareUGN
		}
		out = append(out, re)
	}
	slices.SortStableFunc(out, func(a, b ReportEdge) int {
		if c := cmpEndpoint(a.Src, b.Src); c != 0 {
			return c
		}
		return cmpEndpoint(a.Dst, b.Dst)
	})
	return out
}

func cmpEndpoint(a, b hw.Endpoint) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}
