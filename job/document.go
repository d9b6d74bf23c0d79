package job

import (
	"bytes"
	"encoding/json"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
)

// SchemaVersion is the version of the `ringsim run --json` report format, which
// docs/run-report.schema.json describes field by field. It changes when a field changes
// meaning or disappears; added fields keep it.
const SchemaVersion = 1

// Document is the `ringsim run --json` report: what produced it, the verdict, the complete
// effective configuration, then the run's report. Fields that only the transfer app
// measures are present for it alone.
type Document struct {
	SchemaVersion int        `json:"schema_version"`
	Ringsim       Provenance `json:"ringsim"`
	Verdict       Verdict    `json:"verdict"`
	Config        DocConfig  `json:"config"`
	*Result
	// The transfer app's results; these shadow the report's fields of the same names,
	// which other apps leave at zero.
	BytesSent      *int64   `json:"bytes_sent,omitempty"`
	BytesReceived  *int64   `json:"bytes_received,omitempty"`
	SHA256Match    *bool    `json:"sha256_match,omitempty"`
	Goodput        *float64 `json:"goodput_bytes_per_cycle,omitempty"`
	GoodputBound   *float64 `json:"goodput_bound_bytes_per_cycle,omitempty"`
	GoodputShare   *float64 `json:"goodput_share_of_bound,omitempty"`
	TransferCycles *uint64  `json:"transfer_cycles,omitempty"`
}

// Provenance is what produced a report: ringsim's version and, for the Verilated engine,
// the model (RTL hash, Verilator and compiler versions).
type Provenance struct {
	Version string        `json:"version"`
	Go      string        `json:"go"`
	Model   *hw.ModelInfo `json:"model,omitempty"`
}

// Verdict is pass or fail and why, as the console's first verdict line says it.
type Verdict struct {
	Passed bool   `json:"passed"`
	Reason string `json:"reason"`
}

// DocConfig is the job's complete effective configuration: defaults filled in and seeded
// values drawn.
type DocConfig struct {
	App string `json:"app"`
	// Bytes is what each end of every link sends (transfer only).
	Bytes int64 `json:"bytes,omitempty"`
	// Manager is the node that collects the exchange's report (exchange only).
	Manager *int `json:"manager,omitempty"`
	// Firmware is every node's firmware profile, by node.
	Firmware   []string `json:"firmware"`
	Framing    string   `json:"framing"`
	Addressing string   `json:"addressing"`
	// Sim is the simulation's configuration as the simulator reports it (topology with
	// every link's latency and fault rates, depth, seed, reset releases, DNA, clock, link
	// model and the real link's parameters); the requested one when the simulator cannot
	// say (a remote server).
	Sim            hw.Config   `json:"sim"`
	Pacing         uint64      `json:"pacing_cycles"`
	Guard          uint64      `json:"guard_cycles"`
	Cost           bridge.Cost `json:"cpu_cost"`
	MinRTONanos    int64       `json:"tcp_min_rto_ns"`
	Window         int         `json:"tcp_window_packets"`
	Drop           float64     `json:"drop"`
	DeadlineCycles uint64      `json:"deadline_cycles"`
	// RunSeed seeds what happens after the aligned boundary (0: the seed does).
	RunSeed    uint64 `json:"run_seed,omitempty"`
	AutoCentre bool   `json:"auto_centre"`
	Recover    bool   `json:"recover"`
	// SoftUGN is the soft-UGN demo's timing (softugn only).
	SoftUGN *bridge.SoftUGNTiming `json:"soft_ugn,omitempty"`
}

// Version is ringsim's version from the Go build information: the module version for an
// installed release, else the VCS revision (with "+dirty" for a modified tree), else
// "devel".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return rev + dirty
}

// Document returns the report document of a job run with spec.
func (r *Result) Document(spec Spec) *Document {
	d := &Document{SchemaVersion: SchemaVersion, Result: r}
	d.Ringsim = Provenance{Version: Version(), Go: runtime.Version()}
	if r.info != nil && r.info.Model.Key != "" {
		m := r.info.Model
		m.Path, m.Cached = "", false // where this machine cached it, and whether: not the run's
		d.Ringsim.Model = &m
	}
	var v bytes.Buffer
	r.WriteVerdict(&v, spec)
	line, _, _ := strings.Cut(v.String(), "\n")
	d.Verdict = Verdict{Passed: r.Passed(), Reason: strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(line, "PASS: "), "FAIL: "), ":")}

	// AutoCentre and NoRecovery are settings of ringsim's firmware.
	ours := spec.Firmware.Runs(spec.Sim.Topology.Nodes, bridge.Ringsim)
	c := DocConfig{App: spec.app(), Manager: nil, Sim: spec.Sim, Cost: spec.Cost, Drop: spec.Drop, RunSeed: spec.RunSeed,
		DeadlineCycles: r.deadline, AutoCentre: spec.Sim.Link == hw.LinkReal && spec.AutoCentre && ours,
		Recover: spec.Sim.Link == hw.LinkReal && !spec.NoRecovery && ours}
	if r.info != nil {
		c.Sim = r.info.Config
	}
	// Left out: whether the model dumps waveforms or has assertions (they do not change
	// what a run does), and the bound the release cycles were drawn below (release_cycles
	// are the values drawn). A remote server does not report them either.
	c.Sim.Waveforms, c.Sim.NoAssert, c.Sim.MaxSkew, c.Sim.RTLDir = false, false, 0, spec.Sim.RTLDir
	if r.Report != nil {
		c.Framing, c.Addressing, c.Pacing, c.Guard, c.Cost = r.Framing, r.Addressing, r.Pacing, r.Guard, r.Cost
	}
	for n := 0; n < spec.Sim.Topology.Nodes; n++ {
		c.Firmware = append(c.Firmware, string(spec.Firmware.Of(n)))
	}
	c.MinRTONanos = int64(spec.MinRTO)
	if spec.MinRTO == 0 {
		c.MinRTONanos = int64(bridge.DefaultMinRTO / time.Nanosecond)
	}
	c.Window = spec.Window
	if c.Window == 0 {
		c.Window = bridge.DefaultWindow
	}
	switch c.App {
	case AppTransfer:
		c.Bytes = spec.Bytes
		if rep := r.Report; rep != nil {
			d.BytesSent, d.BytesReceived, d.SHA256Match = &rep.BytesSent, &rep.BytesReceived, &rep.SHA256Match
			d.Goodput, d.GoodputBound, d.GoodputShare = &rep.GoodputBytesPerCycle, &rep.GoodputBound, &rep.GoodputShare
			d.TransferCycles = &rep.TransferCycles
		}
	case AppExchange:
		m := spec.ManagerNode()
		c.Manager = &m
	case AppSoftUGN:
		t := spec.softUGNTiming(c.Sim.ClockHz)
		c.SoftUGN = &t
	}
	d.Config = c
	return d
}

// WriteJSON writes the report document (Document) of a job run with spec to path.
func (r *Result) WriteJSON(path string, spec Spec) error {
	b, err := json.MarshalIndent(r.Document(spec), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
