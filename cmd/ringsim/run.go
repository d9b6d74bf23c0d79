package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/bridge/pcap"
	"github.com/ringsim/ringsim/sim"
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
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.nodes, "nodes", 2, "number of nodes (pair: 2)")
	fs.StringVar(&f.topology, "topology", "pair", "pair, line, ring, mesh or a topology .json file")
	fs.IntVar(&f.depth, "depth", 256, "ring buffer depth D in 64-bit words")
	fs.UintVar(&f.latency, "latency", 16, "link latency in cycles (built-in topologies)")
	fs.Float64Var(&f.clockHz, "clock-hz", sim.DefaultClockHz, "link clock frequency in Hz")
	fs.Uint64Var(&f.seed, "seed", 1, "seed for start offsets, DNA, faults, TCP and the data")
	fs.StringVar(&f.framing, "framing", "crc", "packet framing: crc (CRC-32C header) or ip (the seed design)")
	fs.Float64Var(&f.ber, "ber", 1e-7, "injected bit-error rate per bit on every link")
	fs.Float64Var(&f.frameZero, "frame-zero", 0, "probability that a 64-bit link frame arrives as zero")
	fs.Float64Var(&f.drop, "drop", 0, "probability that a received packet frame is dropped")
	fs.StringVar(&f.bytes, "bytes", "1MiB", "bytes to send in each direction of every link (e.g. 4096, 64KiB, 1MiB)")
	fs.StringVar(&f.addressing, "addressing", "derived", "derived (addresses from DNA and port) or upstream (same address, simultaneous open)")
	fs.Uint64Var(&f.pacing, "pacing", 0, "minimum cycles between packet writes on a link (0: the measured default)")
	fs.Int64Var(&f.guard, "guard", 0, "cycles to wait after alignment before sending packets (0: default, -1: none)")
	fs.UintVar(&f.costPoll, "cost-poll", uint(bridge.DefaultCost.Poll), "CPU cycles charged per polling loop iteration")
	fs.Float64Var(&f.costByte, "cost-byte", float64(bridge.DefaultCost.PerByte16)/16, "CPU cycles charged per packet byte copied")
	fs.UintVar(&f.costPacket, "cost-packet", uint(bridge.DefaultCost.PerPacket), "CPU cycles charged per packet processed")
	fs.DurationVar(&f.minRTO, "min-rto", 0, "TCP minimum retransmission timeout (0: 1ms, see README)")
	fs.IntVar(&f.window, "window", 0, "TCP receive window in packets (0: the default, 16)")
	fs.Uint64Var(&f.deadline, "deadline", 0, "give up after this many cycles (0: 2e9)")
	fs.StringVar(&f.simAddr, "sim", "", "use a running `ringsim serve` at this address (host:port or unix:/path) instead of the embedded simulator")
	fs.StringVar(&f.jsonPath, "json", "", "write the machine-readable report to this file")
	fs.StringVar(&f.pcapDir, "pcap", "", "write one pcap (LINKTYPE_RAW) per node link into this directory")
	fs.StringVar(&f.tracePath, "trace", "", "dump FST waveforms of every node to this file")
	fs.StringVar(&f.rtlDir, "rtl", "", "node RTL directory implementing the port contract (default: ringsim's)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: trace, debug, info, warn, error")
	fs.StringVar(&f.progress, "progress", "auto", "progress display: auto (bar on a terminal), bar, lines, none")
	fs.StringVar(&f.app, "app", "transfer", "what runs over the connections: transfer (--bytes each way, SHA-256 checked), "+
		"hello (upstream's simultaneous-open greeting) or exchange (upstream's DNA and port exchange; node 0 collects the report)")
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
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ringsim run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	job, err := f.plan()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringsim run: %v\n", err)
		return 2
	}
	return job.run(ctx)
}

// job is a validated `ringsim run`.
type job struct {
	f       runFlags
	topo    sim.Topology
	kind    framing.Kind
	addr    bridge.Addressing
	bytes   int64
	cost    bridge.Cost
	log     hclog.Logger
	out     io.Writer
	bar     bool
	quiet   bool
	machine bridge.Machine
	closeFn func() error
	engine  *sim.Engine // embedded mode only
}

func (f *runFlags) plan() (*job, error) {
	j := &job{f: *f, out: os.Stdout}
	var err error
	level := hclog.LevelFromString(f.logLevel)
	if level == hclog.NoLevel {
		return nil, fmt.Errorf("-log-level %q: want trace, debug, info, warn or error", f.logLevel)
	}
	j.log = hclog.New(&hclog.LoggerOptions{Name: "ringsim", Level: level, Output: os.Stderr})
	if f.depth < 2 {
		return nil, fmt.Errorf("-depth %d: must be at least 2", f.depth)
	}
	if j.kind, err = framing.ParseKind(f.framing); err != nil {
		return nil, fmt.Errorf("-framing: %w", err)
	}
	if _, err := framing.MTU(j.kind, f.depth); err != nil {
		return nil, fmt.Errorf("-framing %s at -depth %d: %w", f.framing, f.depth, err)
	}
	if j.addr, err = bridge.ParseAddressing(f.addressing); err != nil {
		return nil, fmt.Errorf("-addressing: %w", err)
	}
	if j.bytes, err = parseBytes(f.bytes); err != nil {
		return nil, fmt.Errorf("-bytes: %w", err)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"-ber", f.ber}, {"-frame-zero", f.frameZero}, {"-drop", f.drop}} {
		if !(r.v >= 0 && r.v <= 1) {
			return nil, fmt.Errorf("%s %v: must be a probability in [0, 1]", r.name, r.v)
		}
	}
	if !(f.clockHz >= 1e3 && f.clockHz <= 1e12) {
		return nil, fmt.Errorf("-clock-hz %v: must be in [1e3, 1e12]", f.clockHz)
	}
	if f.latency > sim.MaxLatency {
		return nil, fmt.Errorf("-latency %d: at most %d", f.latency, sim.MaxLatency)
	}
	if !(f.costByte >= 0 && f.costByte <= 1000) {
		return nil, fmt.Errorf("-cost-byte %v: must be in [0, 1000]", f.costByte)
	}
	j.cost = bridge.Cost{Poll: uint32(f.costPoll), PerByte16: uint32(f.costByte*16 + 0.5), PerPacket: uint32(f.costPacket)}
	if j.topo, err = sim.ParseTopology(f.topology, f.nodes, uint32(f.latency)); err != nil {
		return nil, fmt.Errorf("-topology: %w", err)
	}
	for i := range j.topo.Links {
		if j.topo.Links[i].Faults == (sim.Faults{}) {
			j.topo.Links[i].Faults = sim.Faults{BitFlip: f.ber, FrameZero: f.frameZero}
		}
	}
	if f.tracePath != "" && f.simAddr != "" {
		return nil, errors.New("-trace works with the embedded simulator; with -sim, call StartWaveform on the server")
	}
	switch f.app {
	case "transfer", "hello", "exchange":
	default:
		return nil, fmt.Errorf("-app %q: want transfer, hello or exchange", f.app)
	}
	switch f.progress {
	case "auto":
		j.bar = term.IsTerminal(int(os.Stdout.Fd()))
	case "bar":
		j.bar = true
	case "lines":
	case "none":
		j.quiet = true
	default:
		return nil, fmt.Errorf("-progress %q: want auto, bar, lines or none", f.progress)
	}
	return j, nil
}

// parseBytes parses "4096", "64KiB", "1MiB", "2GiB" (also KB/MB as powers of ten).
func parseBytes(s string) (int64, error) {
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
		return 0, fmt.Errorf("%q is not a byte count like 4096, 64KiB or 1MiB", s)
	}
	if n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%d%s is out of range", n, s)
	}
	return n * mult, nil
}

func (j *job) run(ctx context.Context) int {
	if err := j.start(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "ringsim run: %v\n", err)
		if errors.Is(err, sim.ErrNoVerilator) || errors.Is(err, sim.ErrBadConfig) {
			return 2
		}
		return 2
	}
	defer j.closeFn()
	peers := map[bridge.Endpoint]bridge.Endpoint{}
	var maxLatency uint64
	for _, l := range j.topo.Links {
		peers[bridge.Endpoint{Node: l.To.Node, Port: l.To.Port}] = bridge.Endpoint{Node: l.From.Node, Port: l.From.Port}
		maxLatency = max(maxLatency, uint64(l.Latency))
	}
	app, verify := j.newApp()
	deadline := j.f.deadline
	if deadline == 0 {
		deadline = 2_000_000_000
	}
	cfg := bridge.Config{
		Machine: j.machine, Peers: peers, Framing: j.kind, Cost: j.cost, Pacing: j.f.pacing,
		DropRate: j.f.drop, Guard: j.f.guard, Addressing: j.addr, Seed: j.f.seed, MinRTO: j.f.minRTO, Window: j.f.window,
		Deadline: j.machine.Cycle() + deadline, App: app, Logger: j.log, Progress: j.progressFunc(),
	}
	if j.f.pcapDir != "" {
		if err := os.MkdirAll(j.f.pcapDir, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "ringsim run: -pcap: %v\n", err)
			return 2
		}
		cfg.Pcap = func(ep bridge.Endpoint, _ float64) (bridge.PacketWriter, error) {
			return openPcap(filepath.Join(j.f.pcapDir, fmt.Sprintf("node%d-port%d.pcap", ep.Node, ep.Port)))
		}
	}
	rt, err := bridge.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringsim run: %v\n", err)
		return 2
	}
	rt.SetGuardLatency(maxLatency)
	j.header()
	rep, runErr := rt.Run(ctx)
	if j.engine != nil && j.f.tracePath != "" {
		if err := j.engine.StopWaveform(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr == nil {
		if err := verify(); err != nil {
			runErr = fmt.Errorf("verify: %w", err)
			rep.Error = runErr.Error()
		}
	}
	if x, ok := app.(*bridge.Exchange); ok && runErr == nil {
		rep.Edges = x.Report()
	}
	j.summary(rep, runErr)
	if j.f.jsonPath != "" {
		if err := writeJSON(j.f.jsonPath, rep); err != nil {
			fmt.Fprintf(os.Stderr, "ringsim run: -json: %v\n", err)
			return 2
		}
	}
	if runErr != nil {
		return 1
	}
	return 0
}

// newApp returns the application and the check that it did its job.
func (j *job) newApp() (bridge.App, func() error) {
	switch j.f.app {
	case "hello":
		h := bridge.NewHello(3)
		return h, h.Verify
	case "exchange":
		x := bridge.NewExchange(0, nil)
		return x, func() error {
			if got, want := len(x.Report()), len(j.topo.Links); got != want {
				return fmt.Errorf("the manager's report has %d edges, want one per link end: %d", got, want)
			}
			return nil
		}
	}
	t := bridge.NewTransfer(j.bytes, j.f.seed)
	return t, t.Verify
}

// start creates the machine: the embedded engine, or a session with a remote server.
func (j *job) start(ctx context.Context) error {
	if j.f.simAddr == "" {
		e, err := sim.New(ctx, sim.Config{
			Topology: j.topo, Depth: j.f.depth, Seed: j.f.seed, ClockHz: j.f.clockHz,
			Waveforms: j.f.tracePath != "", RTLDir: j.f.rtlDir, Logger: j.log, OnModelBuild: newBuildLine().event,
		})
		if err != nil {
			return err
		}
		if j.f.tracePath != "" {
			if err := e.StartWaveform(j.f.tracePath); err != nil {
				e.Close()
				return err
			}
		}
		j.engine, j.machine, j.closeFn = e, e, e.Close
		return nil
	}
	c, err := client.Dial(ctx, j.f.simAddr, client.Options{Logger: j.log})
	if err != nil {
		return err
	}
	ct := client.Topology{Nodes: j.topo.Nodes, Ports: j.topo.Ports}
	for _, l := range j.topo.Links {
		ct.Links = append(ct.Links, client.Link{
			From: client.Endpoint{Node: l.From.Node, Port: l.From.Port},
			To:   client.Endpoint{Node: l.To.Node, Port: l.To.Port}, Latency: l.Latency,
			Faults: client.Faults{BitFlip: l.Faults.BitFlip, FrameZero: l.Faults.FrameZero},
		})
	}
	if _, err := c.Reset(ctx, client.Config{Topology: ct, Depth: j.f.depth, Seed: j.f.seed,
		ClockHz: j.f.clockHz, RTLDir: j.f.rtlDir}); err != nil {
		c.Close()
		return err
	}
	j.machine, j.closeFn = c, c.Close
	return nil
}

func openPcap(path string) (bridge.PacketWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := pcap.NewWriter(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return pcapFile{w, f}, nil
}

type pcapFile struct {
	*pcap.Writer
	f *os.File
}

func (p pcapFile) Close() error { return p.f.Close() }

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (j *job) header() {
	if j.quiet {
		return
	}
	where := "embedded simulator"
	if j.f.simAddr != "" {
		where = "simulator at " + j.f.simAddr
	}
	fmt.Fprintf(j.out, "ringsim run: %d nodes (%s), D=%d, %s framing, %s addressing, seed %d, %.0f MHz, %s\n",
		j.topo.Nodes, j.topo.Name, j.f.depth, j.kind, j.addr, j.f.seed, j.f.clockHz/1e6, where)
}

func (j *job) progressFunc() func(bridge.Progress) {
	if j.quiet {
		return nil
	}
	quarter := 0 // plain lines: the last quarter of the transfer reported
	return func(p bridge.Progress) {
		if p.Step == "transfer" {
			if p.Total == 0 {
				return
			}
			if !j.bar {
				if q := int(4 * p.Done / p.Total); q > quarter && q < 4 {
					quarter = q
					fmt.Fprintf(j.out, "  cycle %10d  transfer %d%% (%s of %s)\n", p.Cycle, 25*q, human(p.Done), human(p.Total))
				}
				return
			}
			const width = 30
			k := int(float64(width) * float64(p.Done) / float64(p.Total))
			fmt.Fprintf(j.out, "\r  transfer [%s%s] %5.1f%%  %s / %s  cycle %d",
				strings.Repeat("#", k), strings.Repeat(".", width-k), 100*float64(p.Done)/float64(p.Total),
				human(p.Done), human(p.Total), p.Cycle)
			return
		}
		if j.bar {
			fmt.Fprint(j.out, "\r\033[K")
		}
		fmt.Fprintf(j.out, "  cycle %10d  %s\n", p.Cycle, p.Step)
	}
}

func human(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func (j *job) summary(r *bridge.Report, err error) {
	if j.quiet && err == nil {
		return
	}
	w := j.out
	if j.bar {
		fmt.Fprint(w, "\r\033[K")
	}
	for _, s := range r.Steps {
		if s.Name == "aligned" || s.Name == "established" {
			continue // printed as they happened
		}
		fmt.Fprintf(w, "  cycle %10d  %s\n", s.Cycle, s.Name)
	}
	switch {
	case err != nil:
		fmt.Fprintf(w, "FAIL: %v\n", err)
	case j.f.app == "hello":
		fmt.Fprintf(w, "PASS: greetings and messages exchanged and verified on %d link(s)\n", len(r.Links)/2)
	case j.f.app == "exchange":
		fmt.Fprintf(w, "PASS: node 0 collected %d edges (DNA, DNA, src port, dst port, latency):\n", len(r.Edges))
		for _, e := range r.Edges {
			fmt.Fprintf(w, "    %s\n", e)
		}
	default:
		fmt.Fprintf(w, "PASS: %s each way on %d link(s) arrived intact (SHA-256 match)\n", human(j.bytes), len(r.Links)/2)
	}
	fmt.Fprintf(w, "  %d cycles = %.3f ms simulated in %.2f s (%.2f M cycles/s)\n",
		r.Cycles, r.SimSeconds*1e3, r.WallSeconds, r.CyclesPerSecond/1e6)
	if r.GoodputBytesPerCycle > 0 {
		fmt.Fprintf(w, "  goodput %.3f bytes/cycle (%.1f MB/s at the link clock), %.0f%% of the bound %.3f\n",
			r.GoodputBytesPerCycle, r.GoodputBytesPerCycle*r.ClockHz/1e6, 100*r.GoodputShare, r.GoodputBound)
	}
	fmt.Fprintf(w, "  TCP retransmissions %d; corrupted frames accepted by the framing %d, dropped by IP/TCP %d\n",
		r.TCPRetransmissions, r.CorruptedAccepted, r.StackDropped)
	for _, l := range r.Links {
		fr := l.Frames
		fmt.Fprintf(w, "  link %v->%v aligned@%d offset %d | sent %d accepted %d repeats %d bad-crc %d bad-len %d lost %d torn-tx %d torn-rx %d",
			l.Peer, l.Local, l.AlignedCycle, l.Offset, fr.Sent, fr.Accepted, fr.Repeats, fr.BadCRC, fr.BadLength, fr.Lost, fr.TornTX, fr.TornRX)
		if fr.Dropped > 0 {
			fmt.Fprintf(w, " dropped %d", fr.Dropped)
		}
		fmt.Fprintln(w)
	}
}
