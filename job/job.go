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
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/app"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/hw"
)

// DefaultDeadline bounds a job in cycles when Spec.Deadline is 0.
const DefaultDeadline = 2_000_000_000

// The applications a job can run.
const (
	AppTransfer = "transfer" // Bytes each way on every link, SHA-256 checked
	AppHello    = "hello"    // upstream's simultaneous-open greeting
	AppExchange = "exchange" // upstream's DNA and port exchange; the manager collects the report
)

// Apps lists the application names.
var Apps = []string{AppTransfer, AppHello, AppExchange}

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
	Cost       bridge.Cost
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
	// App is the application (AppTransfer, AppHello, AppExchange); empty means transfer.
	App string
	// Bytes is what the transfer sends each way on every link.
	Bytes int64
	// Manager is the node that collects the exchange's report.
	Manager int
	// PcapDir, if set, receives one pcap per linked port (node<N>-port<P>.pcap).
	PcapDir string
	// Trace, if set, is an FST dump of every node (embedded engine only; Sim.Waveforms is
	// set by Run).
	Trace string
}

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
	switch s.app() {
	case AppTransfer, AppHello:
	case AppExchange:
		if s.Manager < 0 || s.Manager >= s.Sim.Topology.Nodes {
			return bad("exchange manager node %d outside %d nodes", s.Manager, s.Sim.Topology.Nodes)
		}
	default:
		return bad("app %q: want transfer, hello or exchange", s.App)
	}
	if s.Bytes < 0 {
		return bad("%d bytes", s.Bytes)
	}
	return nil
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
}

// Result is a job's outcome: the firmware's report, the application's results, and why it
// failed, if it did. It marshals to the `ringsim run --json` report.
type Result struct {
	*bridge.Report
	// Edges is the exchange manager's report (the exchange app only).
	Edges []app.Edge `json:"edges,omitempty"`
	// Err is why the job failed (nil: it passed).
	Err error `json:"-"`
	// Stack is the firmware's stack if it panicked.
	Stack string `json:"-"`
	// FlippedBits and ZeroedFrames are what the links' fault injectors did (all links).
	FlippedBits  uint64 `json:"-"`
	ZeroedFrames uint64 `json:"-"`
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
	}
	bc := bridge.Config{
		Machine: m, Wiring: spec.Sim.Topology.Wiring(), Framing: spec.codec(), Cost: spec.Cost,
		Pacing: spec.Pacing, DropRate: spec.Drop, Guard: spec.Guard, Addressing: spec.Addressing,
		Seed: spec.Sim.Seed, MinRTO: spec.MinRTO, Window: spec.Window, Deadline: m.Cycle() + deadline,
		LinkLatency: uint64(spec.Sim.Topology.MaxLinkLatency()), App: a, Logger: opt.Logger,
		Progress: opt.Progress,
	}
	if spec.PcapDir != "" {
		if err := os.MkdirAll(spec.PcapDir, 0o755); err != nil {
			return nil, fmt.Errorf("pcap directory: %w", err)
		}
		bc.Pcap = func(ep hw.Endpoint, _ float64) (bridge.PacketWriter, error) {
			return CreatePcap(filepath.Join(spec.PcapDir, fmt.Sprintf("node%d-port%d.pcap", ep.Node, ep.Port)))
		}
	}
	rt, err := bridge.New(bc)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	res.Report, res.Stack, res.Err = RunFirmware(ctx, rt)
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
	if x, ok := a.(*app.Exchange); ok && res.Err == nil {
		res.Edges = x.Report()
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
		x := app.NewExchange(s.Manager, nil)
		return x, func() error {
			if got, want := len(x.Report()), len(s.Sim.Topology.Links); got != want {
				return fmt.Errorf("the manager's report has %d edges, want one per link end: %d", got, want)
			}
			return nil
		}
	}
	t := app.NewTransfer(s.Bytes, s.Sim.Seed)
	return t, t.Verify
}
