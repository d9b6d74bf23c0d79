package sim

/*
#include <stdlib.h>
#include "rslib.h"
*/
import "C"

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"

	"github.com/ringsim/ringsim/hw"
)

// ErrBadCheckpoint: a checkpoint file is malformed, corrupt, or made by another model.
var ErrBadCheckpoint = errors.New("bad checkpoint")

// checkpointMagic starts every checkpoint file; the number is the format's version.
const checkpointMagic = "ringsim checkpoint 1\n"

// MaxCheckpointBytes bounds the state a checkpoint file may hold.
const MaxCheckpointBytes = 4 << 30

// Checkpoint is a saved simulation: the configuration it was made with (defaults filled,
// seeded values drawn, current fault rates), the model it ran, and the state of every
// model and of the harness (links in flight, fault injectors, bus masters, the real
// link's clocks and elastic buffers) at Cycle.
type Checkpoint struct {
	Config hw.Config
	Model  string // the model's cache key: a checkpoint restores into the same build only
	Cycle  uint64
	State  []byte
}

// Save checkpoints the simulation between batches: no node may have a batch in flight or
// results not taken (hw.ErrBusy), no waveform may be open, and a stopped simulation cannot
// be saved. Restore gives a simulation that continues exactly as this one does.
func (e *Engine) Save() (*Checkpoint, error) {
	if e.sim == nil {
		return nil, ErrClosed
	}
	for n, ns := range e.nodes {
		if ns.busy || ns.ready {
			return nil, fmt.Errorf("save: node %d: %w", n, ErrBusy)
		}
	}
	if e.wave != "" {
		return nil, fmt.Errorf("%w: save: stop the waveform first", ErrBadConfig)
	}
	size := int64(C.rsl_save(e.lib.c, e.sim))
	if size < 0 {
		err := fmt.Errorf("save: %s", e.cerr())
		if size == C.RS_ESTOPPED {
			return nil, fmt.Errorf("%w: %v", ErrStopped, err)
		}
		return nil, err
	}
	state := make([]byte, size)
	if size > 0 {
		if rc := C.rsl_save_copy(e.lib.c, e.sim, (*C.uint8_t)(unsafe.Pointer(&state[0])), C.size_t(size)); rc != C.RS_OK {
			return nil, fmt.Errorf("save: %s", e.cerr())
		}
	}
	return &Checkpoint{Config: e.Info().Config, Model: e.model.Key, Cycle: e.Cycle(), State: state}, nil
}

// Restore starts a simulation from a checkpoint: it builds (or loads) the same model and
// loads every state. A checkpoint from another model (other RTL, tools or shape) is
// refused with ErrBadCheckpoint. opt may differ from the saving engine's (threads).
func Restore(ctx context.Context, cp *Checkpoint, opt Options) (*Engine, error) {
	if cp == nil || len(cp.State) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadCheckpoint)
	}
	e, err := New(ctx, cp.Config, opt)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if cp.Model != e.model.Key {
		e.Close()
		return nil, fmt.Errorf("%w: made by model %s, this build of the same configuration is model %s "+
			"(the RTL, the tools or ringsim changed)", ErrBadCheckpoint, cp.Model, e.model.Key)
	}
	rc := C.rsl_restore(e.lib.c, e.sim, (*C.uint8_t)(unsafe.Pointer(&cp.State[0])), C.size_t(len(cp.State)))
	if rc != C.RS_OK {
		msg := e.cerr()
		e.Close()
		return nil, fmt.Errorf("%w: %s", ErrBadCheckpoint, msg)
	}
	if got := e.Cycle(); got != cp.Cycle {
		e.Close()
		return nil, fmt.Errorf("%w: state is at cycle %d, the header says %d", ErrBadCheckpoint, got, cp.Cycle)
	}
	return e, nil
}

// checkpointHeader is the checkpoint file's header line.
type checkpointHeader struct {
	Config      hw.Config `json:"config"`
	Model       string    `json:"model"`
	Cycle       uint64    `json:"cycle"`
	StateBytes  int64     `json:"state_bytes"`
	StateSHA256 string    `json:"state_sha256"`
}

// WriteTo writes the checkpoint as a file: a magic line, a JSON header line (configuration,
// model, cycle, the state's size and SHA-256) and the state.
func (cp *Checkpoint) WriteTo(w io.Writer) (int64, error) {
	sum := sha256.Sum256(cp.State)
	hdr, err := json.Marshal(checkpointHeader{Config: cp.Config, Model: cp.Model, Cycle: cp.Cycle,
		StateBytes: int64(len(cp.State)), StateSHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, part := range [][]byte{[]byte(checkpointMagic), hdr, {'\n'}, cp.State} {
		k, err := w.Write(part)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// ReadCheckpoint reads a checkpoint file written by WriteTo. Every error wraps
// ErrBadCheckpoint and says what is wrong.
func ReadCheckpoint(r io.Reader) (*Checkpoint, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(checkpointMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != checkpointMagic {
		if strings.HasPrefix(string(magic), "ringsim checkpoint ") {
			return nil, fmt.Errorf("%w: format %q, this ringsim reads %q", ErrBadCheckpoint,
				strings.TrimSpace(string(magic)), strings.TrimSpace(checkpointMagic))
		}
		return nil, fmt.Errorf("%w: not a ringsim checkpoint", ErrBadCheckpoint)
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadCheckpoint, err)
	}
	var h checkpointHeader
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadCheckpoint, err)
	}
	if h.StateBytes <= 0 || h.StateBytes > MaxCheckpointBytes {
		return nil, fmt.Errorf("%w: state of %d bytes", ErrBadCheckpoint, h.StateBytes)
	}
	state := make([]byte, h.StateBytes)
	if _, err := io.ReadFull(br, state); err != nil {
		return nil, fmt.Errorf("%w: state: %v (truncated?)", ErrBadCheckpoint, err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: bytes after the state", ErrBadCheckpoint)
	}
	if sum := sha256.Sum256(state); hex.EncodeToString(sum[:]) != h.StateSHA256 {
		return nil, fmt.Errorf("%w: state does not match its SHA-256 (corrupt)", ErrBadCheckpoint)
	}
	if err := h.Config.Validate(); err != nil {
		return nil, fmt.Errorf("%w: configuration: %v", ErrBadCheckpoint, err)
	}
	return &Checkpoint{Config: h.Config, Model: h.Model, Cycle: h.Cycle, State: state}, nil
}
