package sim

/*
#cgo CFLAGS: -I${SRCDIR}/internal/harness/csrc
#include "rslib.h"
*/
import "C"

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ringsim/ringsim/sim/bus"
)

// StopKind says what stopped a simulation.
type StopKind uint8

// The kinds of stop.
const (
	// StopAssertion is a named assertion (rtl/ringsim_assert.svh) that failed: the stop
	// carries its name, message, source line and scope.
	StopAssertion StopKind = C.RS_STOP_ASSERTION
	// StopRTLError is $error, $fatal or $stop, or an assertion without a name (Verilator
	// 5.006 reports these alike): the stop carries the RTL's message and, if known, its line.
	StopRTLError StopKind = C.RS_STOP_ERROR
	// StopFinish is $finish.
	StopFinish StopKind = C.RS_STOP_FINISH
	// StopBusTimeout is a bus access that got neither ACK nor ERR long after the SPEC
	// says it is answered: the stop carries the access and the register it addressed.
	StopBusTimeout StopKind = C.RS_STOP_BUS_TIMEOUT
	// StopFatal is Verilator's runtime giving up (a loop that did not converge).
	StopFatal StopKind = C.RS_STOP_FATAL
)

// BusSlack bounds the answer to every access: within BusSlack cycles after the cycle it is
// presented in (the SPEC answers in 0 cycles, data reads in 1), clear_at_count within D-1.
// An access not answered by then stops the simulation with StopBusTimeout; an answer that
// is late but within the bound stays a timing difference that the conformance checks
// report at its exact cycle.
const BusSlack = C.RS_BUS_SLACK

// String names the kind.
func (k StopKind) String() string {
	switch k {
	case StopAssertion:
		return "assertion"
	case StopRTLError:
		return "error"
	case StopFinish:
		return "$finish"
	case StopBusTimeout:
		return "bus timeout"
	case StopFatal:
		return "fatal"
	}
	return fmt.Sprintf("stop(%d)", uint8(k))
}

// StopError is the error Run (and so Step and Execute) returns when the simulation has
// stopped: an RTL assertion, $error, $fatal or $finish, or a bus that did not answer. It
// wraps ErrStopped. Once stopped, a simulation stays stopped and every Run returns the
// same StopError.
type StopError struct {
	Kind StopKind
	// Node is the node whose RTL or bus stopped the simulation; -1 if unknown.
	Node int
	// Port and Device ("TX", "RX") locate an assertion inside a ring buffer, or a timed out
	// access's register; Port is -1 and Device "" elsewhere.
	Port   int
	Device string
	// Cycle is the cycle in which the simulation stopped (global time).
	Cycle uint64
	// Local is, on the real link, the stopping node's own cycle (what the RTL's messages
	// print as $time); 0 on the ideal link.
	Local uint64
	// Assertion is the failed assertion's name (StopAssertion).
	Assertion string
	// Message is the RTL's message (the assertion's, or what $error printed).
	Message string
	// File and Line are the source location, when known (Line 0: unknown).
	File string
	Line int
	// Scope is the assertion's hierarchical scope (StopAssertion).
	Scope string

	// StopBusTimeout: the access (Mask: byte lanes of a write), the register it addressed
	// as bus.Map.Name names it, the cycle it was presented in and the last cycle in which
	// the SPEC answers it.
	Addr      uint32
	Write     bool
	Data      uint32
	Mask      uint8
	Register  string
	Presented uint64
	Deadline  uint64
}

// Error is one sentence: "node 1 port 0 RX: assertion RxCounterAdvances_A failed in cycle
// 169: write counter did not advance by one".
func (e *StopError) Error() string {
	var where []string
	if e.Node >= 0 {
		where = append(where, fmt.Sprintf("node %d", e.Node))
	}
	switch {
	case e.Kind == StopBusTimeout:
		where = append(where, e.Register)
	case e.Port >= 0:
		where = append(where, fmt.Sprintf("port %d %s", e.Port, e.Device))
	}
	prefix := ""
	if len(where) > 0 {
		prefix = strings.Join(where, " ") + ": "
	}
	at := ""
	if e.File != "" {
		at = " (" + filepath.Base(e.File)
		if e.Line > 0 {
			at += fmt.Sprintf(":%d", e.Line)
		}
		at += ")"
	}
	switch e.Kind {
	case StopAssertion:
		return fmt.Sprintf("%sassertion %s failed in cycle %d%s: %s", prefix, e.Assertion, e.Cycle, e.local(), e.Message)
	case StopRTLError:
		return fmt.Sprintf("%sRTL error in cycle %d%s%s: %s", prefix, e.Cycle, e.local(), at, e.Message)
	case StopFinish:
		return fmt.Sprintf("%sRTL called $finish in cycle %d%s", prefix, e.Cycle, at)
	case StopBusTimeout:
		op := "read"
		if e.Write {
			op = "write"
		}
		return fmt.Sprintf("%sbus timeout: %s presented in cycle %d got neither ACK nor ERR by cycle %d; %s",
			prefix, op, e.Presented, e.Cycle, e.expected())
	case StopFatal:
		return fmt.Sprintf("%sVerilator stopped the simulation in cycle %d%s: %s", prefix, e.Cycle, at, e.Message)
	}
	return fmt.Sprintf("%s%v in cycle %d: %s", prefix, e.Kind, e.Cycle, e.Message)
}

// expected says when the SPEC answers the timed out access.
func (e *StopError) expected() string {
	switch d := e.Deadline - e.Presented; d {
	case 0:
		return "the SPEC answers it in the cycle it is presented"
	case 1:
		return fmt.Sprintf("the SPEC answers it one cycle later, in cycle %d", e.Deadline)
	default:
		return fmt.Sprintf("the SPEC answers it within %d cycles, by cycle %d", d, e.Deadline)
	}
}

// Unwrap returns ErrStopped.
func (e *StopError) Unwrap() error { return ErrStopped }

// newStopError converts the harness's record of a stop; m names a timed out access's
// register.
func newStopError(st *C.rs_stop, m bus.Map) *StopError {
	e := &StopError{
		Kind:      StopKind(st.kind),
		Node:      int(st.node),
		Port:      int(st.port),
		Cycle:     uint64(st.cycle),
		Local:     uint64(st.local_cycle),
		Assertion: C.GoString(&st.name[0]),
		Message:   C.GoString(&st.message[0]),
		File:      C.GoString(&st.file[0]),
		Line:      int(st.line),
		Scope:     C.GoString(&st.scope[0]),
	}
	switch st.device {
	case C.RS_DEV_TX:
		e.Device = "TX"
	case C.RS_DEV_RX:
		e.Device = "RX"
	}
	if e.Kind == StopBusTimeout {
		r := m.Decode(uint32(st.addr))
		e.Addr, e.Write, e.Data, e.Mask = uint32(st.addr), st.write != 0, uint32(st.data), uint8(st.sel)
		e.Register, e.Port, e.Device = r.String(), r.Port, ""
		if r.Port >= 0 {
			e.Device = r.Device
		}
		e.Presented = uint64(st.presented)
		e.Deadline = e.Presented + uint64(st.latency)
	}
	return e
}

// stopError returns why the simulation stopped: a *StopError, or ErrStopped with the
// harness's message if it recorded none.
func (e *Engine) stopError() error {
	var st C.rs_stop
	if C.rsl_stop_info(e.lib.c, e.sim, &st) != C.RS_OK || st.kind == C.RS_STOP_NONE {
		return fmt.Errorf("%w: %s", ErrStopped, e.cerr())
	}
	return newStopError(&st, bus.Map{Depth: e.Depth(), Ports: e.Ports()})
}

// local names the node's own cycle on the real link.
func (e *StopError) local() string {
	if e.Local == 0 {
		return ""
	}
	return fmt.Sprintf(" (the node's own cycle %d)", e.Local)
}
