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
		hdr, err := json.Marshal(runCheckpointHeader{Args: args, Firmware: s})
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
		if _, err := cp.WriteTo(w); err != nil {
			f.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp, r.f.saveAligned); err != nil {
			return err
		}
		if !r.quiet {
			fmt.Fprintf(r.out, "  cycle %10d  saved the aligned boundary to %s\n", s.Cycle, r.f.saveAligned)
		}
		return nil
	}
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
	if cp.Cycle != hdr.Firmware.Cycle {
		return nil, nil, fmt.Errorf("%s: the machine was saved at cycle %d, the firmware at %d", path, cp.Cycle, hdr.Firmware.Cycle)
	}
	return &hdr, cp, nil
}
