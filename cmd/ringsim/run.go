package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/job"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/bus"
	"github.com/ringsim/ringsim/sim/client"
)

func init() {
	register(&command{name: "run", summary: "align, bring up TCP and move data between simulated nodes (the main job)", run: runMain})
}

// runFlags are `ringsim run`'s flags.
type runFlags struct {
	nodes      int
	topology   string
	depth      int
	latency    uint
	clockHz    float64
	seed       uint64
	framing    string
	ber        float64
	frameZero  float64
	drop       float64
	bytes      string
	addressing string
	pacing     uint64
	guard      int64
	costPoll   uint
	costByte   float64
	costPacket uint
	costSetup  uint
	minRTO     time.Duration
	window     int
	deadline   uint64
	simAddr    string
	jsonPath   string
	pcapDir    string
	tracePath  string
	rtlDir     string
	logLevel   string
	progress   string
	app        string
	firmware   string
	manager    int
	threads    int
	// saveAligned and restore are the checkpoint at the aligned boundary (checkpoint.go);
	// runSeed seeds what happens after it.
	runSeed     uint64
	saveAligned string
	restore     string
	assert      bool
	// The real link (docs/reallink.md).
	link         string
	ppmRange     float64
	ppm          string
	drift        float64
	clockControl bool
	settled      bool
	ebDepth      int
	bringUp      uint64
	flaps        listFlag
	rxMemory     string
	noData       string
	autoCentre   bool
	recover      bool
	htmlPath     string
	// The soft-UGN demo's timing (app softugn).
	softUGNSettle uint64
	softUGNStart  uint64
	softUGNEvents int
	// set names the flags given on the command line (some defaults depend on others).
	set map[string]bool
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.nodes, "nodes", 2, "number of nodes (pair: 2, rig: 8)")
	fs.StringVar(&f.topology, "topology", "pair", "pair, line, ring, mesh, rig (upstream's 8-node hardware rig) or a topology .json file")
	fs.IntVar(&f.depth, "depth", 256, "ring buffer depth D in 64-bit words")
	fs.UintVar(&f.latency, "latency", 16, "link latency in cycles (built-in topologies)")
	fs.Float64Var(&f.clockHz, "clock-hz", hw.DefaultClockHz, "link clock frequency in Hz")
	fs.Uint64Var(&f.seed, "seed", 1, "seed for start offsets, DNA, faults, TCP and the data")
	fs.StringVar(&f.framing, "framing", "crc", "packet framing: crc (CRC-32C header) or ip (the seed design)")
	fs.Float64Var(&f.ber, "ber", 1e-7, "injected bit-error rate per bit on every link")
	fs.Float64Var(&f.frameZero, "frame-zero", 0, "probability that a 64-bit link frame arrives as zero")
	fs.Float64Var(&f.drop, "drop", 0, "probability that a received packet frame is dropped")
	fs.StringVar(&f.bytes, "bytes", "1MiB", "bytes to send in each direction of every link (e.g. 4096, 64KiB, 1MiB)")
	fs.StringVar(&f.addressing, "addressing", "derived", "derived (addresses from DNA and port) or upstream (same address, simultaneous open; "+
		"the default when every node runs upstream-async)")
	fs.Uint64Var(&f.pacing, "pacing", 0, "minimum cycles between packet writes on a link (0: the measured default)")
	fs.Int64Var(&f.guard, "guard", 0, "cycles to wait after alignment before sending packets (0: default, -1: none)")
	fs.UintVar(&f.costPoll, "cost-poll", uint(bridge.DefaultCost.Poll), "CPU cycles charged per polling loop iteration")
	fs.Float64Var(&f.costByte, "cost-byte", float64(bridge.DefaultCost.PerByte16)/16, "CPU cycles charged per packet byte copied")
	fs.UintVar(&f.costPacket, "cost-packet", uint(bridge.DefaultCost.PerPacket), "CPU cycles charged per packet processed")
	fs.UintVar(&f.costSetup, "cost-setup", 0, "CPU cycles charged once between a node's alignment and its packet phase "+
		"(upstream-async's log lines and interface set-up; see docs/firmware.md)")
	fs.DurationVar(&f.minRTO, "min-rto", 0, "TCP minimum retransmission timeout (0: 1ms, see README)")
	fs.IntVar(&f.window, "window", 0, "TCP receive window in packets (0: the default, 16)")
	fs.Uint64Var(&f.deadline, "deadline", 0, "give up after this many cycles (0: 2e9)")
	fs.StringVar(&f.simAddr, "sim", "", "use a running 'ringsim serve' at this address (host:port or unix:/path) instead of the embedded simulator")
	fs.StringVar(&f.jsonPath, "json", "", "write the machine-readable report to this file")
	fs.StringVar(&f.htmlPath, "html", "", "write the report as one self-contained HTML page (charts over time, link timelines) to this file")
	fs.StringVar(&f.pcapDir, "pcap", "", "write one pcapng per link end into this directory (raw IPv4; interfaces and addresses named after the link ends)")
	fs.StringVar(&f.tracePath, "trace", "", "dump FST waveforms of every node to this file")
	fs.StringVar(&f.rtlDir, "rtl", "", "node RTL directory implementing the port contract (default: ringsim's)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: trace, debug, info, warn, error")
	fs.StringVar(&f.progress, "progress", "auto", "progress display: auto (bar on a terminal), bar, lines, none")
	fs.StringVar(&f.app, "app", "transfer", "what runs over the connections: transfer (--bytes each way, SHA-256 checked), "+
		"hello (upstream's simultaneous-open greeting), exchange (upstream's DNA and port exchange; --manager collects the report), "+
		"align (align every link and stop) or softugn (upstream's soft-UGN demo: time-triggered messages measure every link's UGN; "+
		"the default with firmware upstream-softugn, which it needs; on the real link it implies -clock-control -settled unless either is given; -ber defaults to 0 for it)")
	fs.StringVar(&f.firmware, "firmware", "ringsim", "firmware profile of every node: ringsim, upstream-async or upstream-softugn "+
		"(the default with app softugn); per node: 0=upstream-async,1=ringsim (a bare name sets the others); see docs/firmware.md")
	dt := bridge.DefaultSoftUGNTiming(hw.DefaultClockHz)
	fs.Uint64Var(&f.softUGNSettle, "softugn-settle", 0, "app softugn: cycles each node waits after aligning (0: upstream's 1 s)")
	fs.Uint64Var(&f.softUGNStart, "softugn-start-delay", dt.StartDelay, "app softugn: cycles from the first ring-aligned cycle after the wait to the first receive (upstream's 12,500,000: 100 ms at 125 MHz)")
	fs.IntVar(&f.softUGNEvents, "softugn-events", dt.Events, "app softugn: events the demo's loop processes (upstream's NUM_PERIODS)")
	fs.IntVar(&f.manager, "manager", -1, "node that collects the exchange's report (-1: node 6 on the rig, 0 elsewhere)")
	fs.IntVar(&f.threads, "threads", 1, "threads clocking the nodes on the ideal link; 0: one per two nodes, at most one per CPU "+
		"(fastest on an idle machine; on a loaded one the threads wait for each other). Results do not depend on it")
	fs.Uint64Var(&f.runSeed, "run-seed", 0, "seed what happens after the aligned boundary (faults, TCP, drops, the data) with this instead of -seed, "+
		"which then fixes the set-up only; the nodes wait at the boundary as with -save-aligned, and a -restore given it continues as this run would (0: -seed seeds all)")
	fs.StringVar(&f.saveAligned, "save-aligned", "", "save a checkpoint to this file at the aligned boundary (every link aligned, no packet sent yet; "+
		"the nodes that align first wait for the others), then go on; embedded simulator, ringsim's firmware")
	fs.StringVar(&f.restore, "restore", "", "continue the run saved in this -save-aligned file from its aligned boundary; the job's flags "+
		"come from the file, only -run-seed, -json, -pcap, -html, -progress, -log-level and -threads may be given")
	fs.BoolVar(&f.assert, "assert", false, "build the model with the RTL's assertions (slower; 'ringsim check' always has them)")
	fs.StringVar(&f.link, "link", "real", "the link between nodes: real (a clock per node, elastic buffers, UGN capture, "+
		"staggered bring-up; docs/reallink.md) or ideal (one clock, fixed latency, SPEC 2-6)")
	fs.Float64Var(&f.ppmRange, "ppm-range", 0, "real link: seeded clock offsets within +-this many ppm (0: 20)")
	fs.StringVar(&f.ppm, "ppm", "", "real link: each node's clock offset in ppm, comma-separated (instead of seeded)")
	fs.Float64Var(&f.drift, "drift", 0, "real link: oscillator drift bound in ppm per simulated second (0: none)")
	fs.BoolVar(&f.clockControl, "clock-control", false, "real link: clock control steers every node's frequency from its elastic buffers")
	fs.BoolVar(&f.settled, "settled", false, "real link: start with the clocks converged and every elastic buffer centred")
	fs.IntVar(&f.ebDepth, "eb-depth", 0, "real link: elastic buffer depth in frames, a power of two (0: 32)")
	fs.Uint64Var(&f.bringUp, "bring-up", 0, "real link: links come up at seeded cycles below this (0: 20000)")
	fs.Var(&f.flaps, "flap", "real link: take link LINK down at cycle DOWN and up at UP, as LINK:DOWN:UP (repeat for more)")
	fs.StringVar(&f.rxMemory, "rx-memory", "random", "real link: RX ring buffer memory at reset, random or zero")
	fs.StringVar(&f.noData, "no-data", "random", "real link: the word an RX buffer writes in a cycle without data, random or zero")
	fs.BoolVar(&f.autoCentre, "auto-centre", true, "real link: the firmware turns every elastic buffer's auto-centre on at boot and leaves it on")
	fs.BoolVar(&f.recover, "recover", true, "real link: ringsim's firmware keeps each link's frame relation after alignment "+
		"(compensates counted adjustments, re-aligns after flaps and slips); -recover=false shows what happens without")
}

// given returns the first of names given on the command line, or "".
func (f *runFlags) given(names ...string) string {
	for _, name := range names {
		if f.set[name] {
			return name
		}
	}
	return ""
}

// realLink builds the real link's configuration from the flags; it is an error to set any
// of them on the ideal link.
func (f *runFlags) realLink(nodes int) (hw.LinkModel, hw.RealLink, error) {
	model, err := hw.ParseLinkModel(f.link)
	if err != nil {
		return 0, hw.RealLink{}, fmt.Errorf("-link %q: want ideal or real", f.link)
	}
	if model == hw.LinkIdeal {
		if name := f.given("ppm-range", "ppm", "drift", "clock-control", "settled", "eb-depth", "bring-up", "flap",
			"rx-memory", "no-data", "auto-centre", "recover"); name != "" {
			return 0, hw.RealLink{}, fmt.Errorf("-%s is a real-link setting: add -link real", name)
		}
		return model, hw.RealLink{}, nil
	}
	r := hw.RealLink{PPMRange: f.ppmRange, Drift: f.drift, Control: f.clockControl, Settled: f.settled,
		EBDepth: f.ebDepth, BringUp: f.bringUp}
	if f.ppm != "" {
		for i, s := range strings.Split(f.ppm, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return 0, r, fmt.Errorf("-ppm: value %d, %q, is not a number", i, s)
			}
			r.PPM = append(r.PPM, v)
		}
		if len(r.PPM) != nodes {
			return 0, r, fmt.Errorf("-ppm: %d values for %d nodes", len(r.PPM), nodes)
		}
	}
	for _, fl := range f.flaps {
		parts := strings.Split(fl, ":")
		var v [3]uint64
		ok := len(parts) == 3
		for i := 0; ok && i < 3; i++ {
			var err error
			v[i], err = strconv.ParseUint(parts[i], 10, 64)
			ok = err == nil
		}
		if !ok || v[0] > 1<<20 {
			return 0, r, fmt.Errorf("-flap %q: want LINK:DOWN:UP (link index, cycles)", fl)
		}
		r.Flaps = append(r.Flaps, hw.Flap{Link: int(v[0]), Down: v[1], Up: v[2]})
	}
	if r.RXMemory, err = hw.ParseFill(f.rxMemory); err != nil {
		return 0, r, fmt.Errorf("-rx-memory %q: want random or zero", f.rxMemory)
	}
	if r.NoData, err = hw.ParseFill(f.noData); err != nil {
		return 0, r, fmt.Errorf("-no-data %q: want random or zero", f.noData)
	}
	return model, r, nil
}

func runMain(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("ringsim run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ringsim run [flags]\n\n"+
			"Simulates the nodes' ring buffer RTL, aligns every link, establishes TCP on each,\n"+
			"moves --bytes in both directions at once, checks SHA-256 and closes. Exit status 0\n"+
			"only if every byte arrived intact.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ringsim run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if f.restore != "" {
		return restoreMain(ctx, args, fs)
	}
	r, err := f.plan()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringsim run: %v\n", err)
		return 2
	}
	if f.saveAligned != "" {
		// The job's flags as given; a restore checks that they still make the machine the
		// checkpoint holds (a topology file may have changed) and that the same ringsim
		// restores it (its defaults make the rest of the job).
		fs.Visit(func(fl *flag.Flag) {
			if !outputFlags[fl.Name] && fl.Name != "save-aligned" || fl.Name == "run-seed" {
				r.saveArgs = append(r.saveArgs, "-"+fl.Name+"="+fl.Value.String())
			}
		})
	}
	return r.run(ctx)
}

// restoreMain is `ringsim run -restore FILE [output flags]`: the job's flags from the file,
// the machine and the firmware restored at the aligned boundary.
func restoreMain(ctx context.Context, args []string, fs *flag.FlagSet) int {
	var bad []string
	fs.Visit(func(fl *flag.Flag) {
		if !outputFlags[fl.Name] {
			bad = append(bad, "-"+fl.Name)
		}
	})
	if len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "ringsim run: -restore takes the job's flags from the checkpoint; %s cannot be given with it "+
			"(only -run-seed, -json, -pcap, -html, -progress, -log-level, -threads)\n", strings.Join(bad, ", "))
		return 2
	}
	var f runFlags
	fs2 := flag.NewFlagSet("ringsim run", flag.ContinueOnError)
	f.register(fs2)
	fs2.SetOutput(io.Discard)
	hdr, cp, err := readRunCheckpoint(restorePath(fs))
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringsim run: -restore: %v\n", err)
		return 2
	}
	if err := fs2.Parse(append(append([]string(nil), hdr.Args...), args...)); err != nil {
		fmt.Fprintf(os.Stderr, "ringsim run: -restore: the checkpoint's flags: %v\n", err)
		return 2
	}
	f.set = map[string]bool{}
	fs2.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	r, err := f.plan()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringsim run: -restore: the checkpoint's job: %v\n", err)
		return 2
	}
	if err := sameJob(r.spec.Sim, cp.Config); err != nil {
		fmt.Fprintf(os.Stderr, "ringsim run: -restore: %v\n", err)
		return 2
	}
	snap := hdr.Firmware
	r.spec.Resume, r.restoreCP = &snap, cp
	return r.run(ctx)
}

// restorePath is the -restore flag's value.
func restorePath(fs *flag.FlagSet) string { return fs.Lookup("restore").Value.String() }

// runCmd is a validated `ringsim run`: the job and how to show it.
type runCmd struct {
	f     runFlags
	spec  job.Spec
	log   hclog.Logger
	out   io.Writer
	bar   bool
	quiet bool
	where string // the machine, for the header
	// saveArgs are the job's flags a -save-aligned checkpoint records; restoreCP is the
	// machine a -restore run continues.
	saveArgs  []string
	restoreCP *sim.Checkpoint
}

func (f *runFlags) plan() (*runCmd, error) {
	r := &runCmd{f: *f, out: os.Stdout, where: "embedded simulator"}
	if f.simAddr != "" {
		r.where = "simulator at " + f.simAddr
	}
	var err error
	level := hclog.LevelFromString(f.logLevel)
	if level == hclog.NoLevel {
		return nil, fmt.Errorf("-log-level %q: want trace, debug, info, warn or error", f.logLevel)
	}
	r.log = hclog.New(&hclog.LoggerOptions{Name: "ringsim", Level: level, Output: os.Stderr})
	s := &r.spec
	if s.Framing, err = framing.Lookup(f.framing); err != nil {
		return nil, fmt.Errorf("-framing: %w", err)
	}
	firmware := f.firmware
	if f.app == job.AppSoftUGN && !f.set["firmware"] {
		firmware = string(bridge.UpstreamSoftUGN)
	}
	if s.Firmware, err = bridge.ParseFirmware(firmware); err != nil {
		return nil, fmt.Errorf("-firmware: %w", err)
	}
	if s.Addressing, err = bridge.ParseAddressing(f.addressing); err != nil {
		return nil, fmt.Errorf("-addressing: %w", err)
	}
	if s.Bytes, err = parseBytes(f.bytes); err != nil {
		return nil, fmt.Errorf("-bytes: %w", err)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"-ber", f.ber}, {"-frame-zero", f.frameZero}, {"-drop", f.drop}} {
		if !(p.v >= 0 && p.v <= 1) {
			return nil, fmt.Errorf("%s %v: must be a probability in [0, 1]", p.name, p.v)
		}
	}
	if !(f.costByte >= 0 && f.costByte <= 1000) {
		return nil, fmt.Errorf("-cost-byte %v: must be in [0, 1000]", f.costByte)
	}
	if f.costSetup > bus.MaxIdle {
		return nil, fmt.Errorf("-cost-setup %d: above %d", f.costSetup, uint64(bus.MaxIdle))
	}
	s.Cost = bridge.Cost{Poll: uint32(f.costPoll), PerByte16: uint32(f.costByte*16 + 0.5), PerPacket: uint32(f.costPacket),
		Setup: uint32(f.costSetup)}
	nodes := f.nodes
	if f.topology == "rig" && !f.set["nodes"] {
		nodes = 0 // the rig's 8
	}
	topo, err := hw.ParseTopology(f.topology, nodes, uint32(min(f.latency, hw.MaxLatency+1)))
	if err != nil {
		return nil, flagErr(err)
	}
	if err := s.Firmware.Validate(topo.Nodes); err != nil {
		return nil, fmt.Errorf("-firmware: %w", err)
	}
	if p, ok := s.Firmware.Uniform(topo.Nodes); ok && p == bridge.UpstreamAsync && !f.set["addressing"] {
		s.Addressing = bridge.Upstream
	}
	app := f.app
	if !f.set["app"] {
		if p, ok := s.Firmware.Uniform(topo.Nodes); ok && p == bridge.UpstreamSoftUGN {
			app = job.AppSoftUGN
		} else {
			for n := 0; n < topo.Nodes; n++ {
				if !s.Firmware.Of(n).HasTCP() {
					app = job.AppAlign
				}
			}
		}
	}
	if name := f.given("softugn-settle", "softugn-start-delay", "softugn-events"); name != "" && app != job.AppSoftUGN {
		return nil, fmt.Errorf("-%s is a setting of the soft-UGN demo: add -app softugn", name)
	}
	if app == job.AppSoftUGN {
		if name := f.given("bytes", "manager", "drop", "pacing", "guard", "min-rto", "window", "framing", "addressing", "pcap"); name != "" {
			return nil, fmt.Errorf("-%s does nothing in the soft-UGN demo (its messages are neither packets nor TCP)", name)
		}
		t := bridge.DefaultSoftUGNTiming(f.clockHz)
		if f.softUGNSettle != 0 {
			t.Settle = f.softUGNSettle
		}
		t.StartDelay, t.Events = f.softUGNStart, f.softUGNEvents
		if t.Events <= 0 {
			return nil, fmt.Errorf("-softugn-events %d: want at least 1", t.Events)
		}
		s.SoftUGN = &t
	}
	if f.manager >= 0 {
		m := f.manager
		s.Manager = &m
	} else if f.manager != -1 {
		return nil, fmt.Errorf("-manager %d: want a node number, or -1 for the topology's default", f.manager)
	}
	for i := range topo.Links {
		if topo.Links[i].Faults == (hw.Faults{}) {
			ber := f.ber
			if app == job.AppSoftUGN && !f.set["ber"] {
				// Upstream's messages carry no checksum: a flipped counter bit is a wrong UGN.
				// The default error rate stresses TCP; the demo gets a clean link unless asked.
				ber = 0
			}
			topo.Links[i].Faults = hw.Faults{BitFlip: ber, FrameZero: f.frameZero}
		}
	}
	s.Sim = hw.Config{Topology: topo, Depth: f.depth, Seed: f.seed, ClockHz: f.clockHz, RTLDir: f.rtlDir, NoAssert: !f.assert}
	if s.Sim.Link, s.Sim.Real, err = f.realLink(topo.Nodes); err != nil {
		return nil, err
	}
	if app == job.AppSoftUGN && s.Sim.Link == hw.LinkReal && !f.set["clock-control"] && !f.set["settled"] {
		// Upstream's soft-UGN demo starts once clock control is stable (its main.rs:48-60):
		// without it the elastic buffers drift through their depth within the demo's 1.1 s.
		s.Sim.Real.Control, s.Sim.Real.Settled = true, true
	}
	// Both are settings of ringsim's firmware: upstream's profiles stop auto-centring and
	// have no recovery.
	ours := s.Firmware.Runs(topo.Nodes, bridge.Ringsim)
	if name := f.given("auto-centre", "recover"); name != "" && !ours && s.Sim.Link == hw.LinkReal {
		return nil, fmt.Errorf("-%s is a setting of ringsim's firmware, which no node runs (upstream's profiles stop auto-centring and do not recover)", name)
	}
	s.AutoCentre = s.Sim.Link == hw.LinkReal && f.autoCentre && ours
	s.NoRecovery = s.Sim.Link == hw.LinkReal && !f.recover && ours
	if f.threads < 0 || f.threads > sim.MaxThreads {
		return nil, fmt.Errorf("-threads %d: want 0 (automatic) to %d", f.threads, sim.MaxThreads)
	}
	if err := s.Sim.Validate(); err != nil {
		return nil, flagErr(err)
	}
	s.Pacing, s.Guard, s.MinRTO, s.Window, s.Drop = f.pacing, f.guard, f.minRTO, f.window, f.drop
	s.Deadline, s.App, s.PcapDir, s.Trace = f.deadline, app, f.pcapDir, f.tracePath
	s.RunSeed = f.runSeed
	if f.tracePath != "" && f.simAddr != "" {
		return nil, errors.New("-trace works with the embedded simulator; with -sim, call StartWaveform on the server")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	// The aligned boundary: saved, restored, or re-seeded at.
	what := ""
	switch {
	case f.restore != "":
		what = "-restore"
	case f.saveAligned != "":
		what = "-save-aligned"
	case f.runSeed != 0:
		what = "-run-seed"
	}
	if what != "" {
		if err := s.BoundaryError(); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if f.simAddr != "" || f.tracePath != "" {
			return nil, fmt.Errorf("%s works with the embedded simulator and without -trace", what)
		}
	}
	switch f.progress {
	case "auto":
		r.bar = term.IsTerminal(int(os.Stdout.Fd()))
	case "bar":
		r.bar = true
	case "lines":
	case "none":
		r.quiet = true
	default:
		return nil, fmt.Errorf("-progress %q: want auto, bar, lines or none", f.progress)
	}
	return r, nil
}

// flagErr names the flag behind a configuration error: the flag of a field the flags set
// directly, -topology for the rest (a topology file's fields keep their names).
func flagErr(err error) error {
	var fe *hw.FieldError
	if errors.As(err, &fe) {
		flags := map[string]string{"depth": "-depth", "clock_hz": "-clock-hz", "rtl_dir": "-rtl",
			"nodes": "-nodes", "latency": "-latency", "topology.nodes": "-nodes",
			"real.ppm_range": "-ppm-range", "real.drift_ppm_per_s": "-drift", "real.eb_depth": "-eb-depth",
			"real.bring_up_cycles": "-bring-up"}
		if strings.HasPrefix(fe.Field, "real.ppm") {
			return fmt.Errorf("-ppm: %s", fe.Msg)
		}
		if strings.HasPrefix(fe.Field, "real.flaps") {
			return fmt.Errorf("-flap: %s: %s", strings.TrimPrefix(fe.Field, "real."), fe.Msg)
		}
		if name, ok := flags[fe.Field]; ok {
			return fmt.Errorf("%s: %s", name, fe.Msg)
		}
	}
	return fmt.Errorf("-topology: %w", err)
}

// parseBytes parses "4096", "64KiB", "1MiB", "2GiB" (also KB/MB as powers of ten).
func parseBytes(in string) (int64, error) {
	s := in
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s {
		return 0, fmt.Errorf("%q is not a byte count like 4096, 64KiB or 1MiB", in)
	}
	if n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%s is out of range (at most 1 TiB)", in)
	}
	return n * mult, nil
}

func (r *runCmd) run(ctx context.Context) int {
	opt := job.Options{Start: r.start, Logger: r.log, Progress: r.progressFunc()}
	if r.f.saveAligned != "" {
		opt.SaveAtAligned = r.saveAligned(r.saveArgs)
	}
	res, err := job.Run(ctx, r.spec, opt)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringsim run: %v\n", err)
		return 2
	}
	r.summary(res)
	if r.f.htmlPath != "" {
		if err := res.WriteHTML(r.f.htmlPath, r.spec, "ringsim "+version()); err != nil {
			fmt.Fprintf(os.Stderr, "ringsim run: -html: %v\n", err)
			return 2
		}
	}
	if r.f.jsonPath != "" {
		if err := res.WriteJSON(r.f.jsonPath, r.spec); err != nil {
			fmt.Fprintf(os.Stderr, "ringsim run: -json: %v\n", err)
			return 2
		}
	}
	if !res.Passed() {
		return 1
	}
	return 0
}

// start creates the machine, the embedded engine or a session with a remote server, and
// writes the header line once it runs.
func (r *runCmd) start(ctx context.Context, cfg hw.Config) (job.Machine, error) {
	var m job.Machine
	if r.f.simAddr == "" {
		threads := r.f.threads
		if threads == 0 {
			threads = sim.AutoThreads(cfg.Topology.Nodes)
		}
		opt := sim.Options{Logger: r.log, OnModelBuild: newBuildLine().event, Threads: threads}
		var e *sim.Engine
		var err error
		if r.restoreCP != nil {
			e, err = sim.Restore(ctx, r.restoreCP, opt)
		} else {
			e, err = sim.New(ctx, cfg, opt)
		}
		if err != nil {
			return nil, err
		}
		m = e
	} else {
		c, err := client.Dial(ctx, r.f.simAddr, client.Options{Logger: r.log})
		if err != nil {
			return nil, err
		}
		if _, err := c.Reset(ctx, cfg); err != nil {
			c.Close()
			return nil, err
		}
		m = remote{Client: c, ctx: ctx}
	}
	if !r.quiet {
		job.WriteHeader(r.out, r.spec, r.where)
	}
	return m, nil
}

func (r *runCmd) progressFunc() func(bridge.Progress) {
	if r.quiet {
		return nil
	}
	quarter := 0 // plain lines: the last quarter of the transfer reported
	return func(p bridge.Progress) {
		if p.Step == "transfer" {
			if p.Total == 0 {
				return
			}
			if !r.bar {
				if q := int(4 * p.Done / p.Total); q > quarter && q < 4 {
					quarter = q
					fmt.Fprintf(r.out, "  cycle %10d  transfer %d%% (%s of %s)\n", p.Cycle, 25*q, job.Human(p.Done), job.Human(p.Total))
				}
				return
			}
			const width = 30
			k := int(float64(width) * float64(p.Done) / float64(p.Total))
			fmt.Fprintf(r.out, "\r  transfer [%s%s] %5.1f%%  %s / %s  cycle %d",
				strings.Repeat("#", k), strings.Repeat(".", width-k), 100*float64(p.Done)/float64(p.Total),
				job.Human(p.Done), job.Human(p.Total), p.Cycle)
			return
		}
		if r.bar {
			fmt.Fprint(r.out, "\r\033[K")
		}
		fmt.Fprintf(r.out, "  cycle %10d  %s\n", p.Cycle, p.Step)
	}
}

func (r *runCmd) summary(res *job.Result) {
	if r.quiet && res.Passed() {
		res.WriteVerdict(r.out, r.spec) // the verdict, whatever -progress says
		return
	}
	if r.bar {
		fmt.Fprint(r.out, "\r\033[K")
	}
	// aligned and established were printed as they happened.
	res.WriteSummary(r.out, r.spec, map[string]bool{"aligned": true, "established": true})
}
