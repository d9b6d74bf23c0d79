package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/job"
	"github.com/ringsim/ringsim/sim"
)

// runCheckpointMagic starts a `ringsim run --save-aligned` file; the number is the format's
// version. The file is that line, a JSON header line (the job's flags and the firmware's
// snapshot), then the engine's checkpoint file (sim.Checkpoint.WriteTo).
const runCheckpointMagic = "ringsim run checkpoint 1\n"

// maxRunCheckpointHeader bounds the header line.
const maxRunCheckpointHeader = 64 << 20

// runCheckpointHeader is the header line.
type runCheckpointHeader struct {
	// Args are the `ringsim run` flags that define the job, as given; a restore runs the
	// same job.
	Args     []string        `json:"args"`
	Firmware bridge.Snapshot `json:"firmware"`
	// Version is the ringsim that saved it: the job's defaults are that build's.
	Version string `json:"ringsim_version"`
}

// outputFlags are the flags a restored run may set: where and how it reports, not what it
// runs. Everything else comes from the checkpoint.
var outputFlags = map[string]bool{"json": true, "pcap": true, "html": true, "progress": true, "log-level": true,
	"threads": true, "restore": true, "run-seed": true}

// saveAligned returns the job option that writes the checkpoint at the aligned boundary.
func (r *runCmd) saveAligned(args []string) func(m job.Machine, s bridge.Snapshot) error {
	return func(m job.Machine, s bridge.Snapshot) error {
		e, ok := m.(*sim.Engine)
		if !ok {
			return errors.New("only the embedded simulator can be saved")
		}
		cp, err := e.Save()
		if err != nil {
			return err
		}
		hdr, err := json.Marshal(runCheckpointHeader{Args: args, Firmware: s, Version: version()})
		if err != nil {
			return err
		}
		tmp := r.f.saveAligned + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		w.WriteString(runCheckpointMagic)
		w.Write(hdr)
		w.WriteByte('\n')
		_, err = cp.WriteTo(w)
		if err == nil {
			err = w.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, r.f.saveAligned)
		}
		if err != nil {
			os.Remove(tmp)
			return err
		}
		if !r.quiet {
			fmt.Fprintf(r.out, "  cycle %10d  saved the aligned boundary to %s\n", s.Cycle, r.f.saveAligned)
		}
		return nil
	}
}

// sameJob checks that the job a restore rebuilt from the checkpoint's flags simulates what
// the checkpoint's machine did: the topology (a file may have changed since), the depth,
// the seed, the link model and the clock.
func sameJob(want, saved hw.Config) error {
	bad := func(what string, a, b any) error {
		return fmt.Errorf("the checkpoint's machine has %s %v, its flags now give %v (a topology file changed since?)", what, b, a)
	}
	switch {
	case want.Depth != saved.Depth:
		return bad("depth", want.Depth, saved.Depth)
	case want.Seed != saved.Seed:
		return bad("seed", want.Seed, saved.Seed)
	case want.Link != saved.Link:
		return bad("link model", want.Link, saved.Link)
	case want.ClockHz != 0 && want.ClockHz != saved.ClockHz:
		return bad("clock", want.ClockHz, saved.ClockHz)
	case want.Topology.Nodes != saved.Topology.Nodes || want.Topology.Ports != saved.Topology.Ports:
		return bad("nodes x ports", fmt.Sprintf("%dx%d", want.Topology.Nodes, want.Topology.Ports),
			fmt.Sprintf("%dx%d", saved.Topology.Nodes, saved.Topology.Ports))
	case len(want.Topology.Links) != len(saved.Topology.Links):
		return bad("links", len(want.Topology.Links), len(saved.Topology.Links))
	}
	for i, l := range want.Topology.Links {
		s := saved.Topology.Links[i]
		if l.From != s.From || l.To != s.To || l.Latency != s.Latency {
			return bad(fmt.Sprintf("link %d", i), fmt.Sprintf("%v->%v latency %d", l.From, l.To, l.Latency),
				fmt.Sprintf("%v->%v latency %d", s.From, s.To, s.Latency))
		}
	}
	return nil
}

// readRunCheckpoint reads a `ringsim run --save-aligned` file.
func readRunCheckpoint(path string) (*runCheckpointHeader, *sim.Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic := make([]byte, len(runCheckpointMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != runCheckpointMagic {
		if strings.HasPrefix(string(magic), "ringsim run checkpoint ") {
			return nil, nil, fmt.Errorf("%s: a checkpoint of another format (%q); this ringsim reads %q",
				path, strings.TrimSpace(string(magic)), strings.TrimSpace(runCheckpointMagic))
		}
		return nil, nil, fmt.Errorf("%s: not a ringsim run checkpoint (made with ringsim run --save-aligned)", path)
	}
	line, err := br.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, nil, fmt.Errorf("%s: header cut short: %w", path, err)
	}
	var buf bytes.Buffer
	buf.Write(line)
	for errors.Is(err, bufio.ErrBufferFull) {
		if buf.Len() > maxRunCheckpointHeader {
			return nil, nil, fmt.Errorf("%s: header longer than %d bytes", path, maxRunCheckpointHeader)
		}
		line, err = br.ReadSlice('\n')
		buf.Write(line)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, nil, fmt.Errorf("%s: header cut short: %w", path, err)
		}
	}
	var hdr runCheckpointHeader
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hdr); err != nil {
		return nil, nil, fmt.Errorf("%s: header: %w", path, err)
	}
	cp, err := sim.ReadCheckpoint(br)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if v := version(); hdr.Version != v && !(hdr.Version == "devel" && v == "devel") {
		return nil, nil, fmt.Errorf("%s: saved by ringsim %s; this is ringsim %s (its defaults may make another job)", path, hdr.Version, v)
	}
	if cp.Cycle != hdr.Firmware.Cycle {
		return nil, nil, fmt.Errorf("%s: the machine was saved at cycle %d, the firmware at %d", path, cp.Cycle, hdr.Firmware.Cycle)
	}
	return &hdr, cp, nil
}
