// Package pbconv converts between the contract's real-link types (package hw) and their
// ringsim.v1 messages, for the server and the client alike.
package pbconv

import (
	"fmt"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
)

// LinkModel converts a link model; UNSPECIFIED is the ideal link.
func LinkModel(m pb.LinkModel) (hw.LinkModel, error) {
	switch m {
	case pb.LinkModel_LINK_MODEL_UNSPECIFIED, pb.LinkModel_LINK_MODEL_IDEAL:
		return hw.LinkIdeal, nil
	case pb.LinkModel_LINK_MODEL_REAL:
		return hw.LinkReal, nil
	}
	return 0, fmt.Errorf("unknown link model %v", m)
}

// ToLinkModel converts a link model; never UNSPECIFIED.
func ToLinkModel(m hw.LinkModel) pb.LinkModel {
	if m == hw.LinkReal {
		return pb.LinkModel_LINK_MODEL_REAL
	}
	return pb.LinkModel_LINK_MODEL_IDEAL
}

func fill(f pb.Fill) (hw.Fill, error) {
	switch f {
	case pb.Fill_FILL_UNSPECIFIED, pb.Fill_FILL_RANDOM:
		return hw.FillRandom, nil
	case pb.Fill_FILL_ZERO:
		return hw.FillZero, nil
	}
	return 0, fmt.Errorf("unknown fill %v", f)
}

func toFill(f hw.Fill) pb.Fill {
	if f == hw.FillZero {
		return pb.Fill_FILL_ZERO
	}
	return pb.Fill_FILL_RANDOM
}

// RealLink converts a real-link configuration. Its errors name the message's field
// ("rx_memory: ..."); the values themselves are checked by hw.Config.Validate.
func RealLink(m *pb.RealLinkConfig) (hw.RealLink, error) {
	if m == nil {
		return hw.RealLink{}, nil
	}
	r := hw.RealLink{
		PPMRange: m.GetPpmRange(), Drift: m.GetDriftPpmPerS(), Control: m.GetClockControl(), Settled: m.GetSettled(),
		StepPPB: m.GetStepPpb(), UpdateCycles: m.GetUpdateCycles(), Gain: m.GetGain(), BringUp: m.GetBringUpCycles(),
	}
	if d := m.GetEbDepth(); d > hw.MaxEBDepth {
		r.EBDepth = hw.MaxEBDepth + 1 // out of range either way; keeps the int conversion honest
	} else {
		r.EBDepth = int(d)
	}
	if v := m.GetPpm(); len(v) > 0 {
		r.PPM = append([]float64(nil), v...)
	}
	if v := m.GetDriftRates(); len(v) > 0 {
		r.DriftRates = append([]float64(nil), v...)
	}
	if v := m.GetUpCycles(); len(v) > 0 {
		r.Up = append([]uint64(nil), v...)
	}
	for i, f := range m.GetFlaps() {
		if f == nil {
			return hw.RealLink{}, fmt.Errorf("flaps[%d]: missing", i)
		}
		r.Flaps = append(r.Flaps, hw.Flap{Link: int(min(f.GetLink(), 1<<30)), Down: f.GetDownCycle(), Up: f.GetUpCycle()})
	}
	var err error
	if r.RXMemory, err = fill(m.GetRxMemory()); err != nil {
		return hw.RealLink{}, fmt.Errorf("rx_memory: %w", err)
	}
	if r.NoData, err = fill(m.GetNoData()); err != nil {
		return hw.RealLink{}, fmt.Errorf("no_data: %w", err)
	}
	return r, nil
}

// ToRealLink converts a real-link configuration.
func ToRealLink(r hw.RealLink) *pb.RealLinkConfig {
	m := &pb.RealLinkConfig{
		Ppm: r.PPM, PpmRange: r.PPMRange, DriftPpmPerS: r.Drift, DriftRates: r.DriftRates, ClockControl: r.Control,
		Settled: r.Settled, StepPpb: r.StepPPB, UpdateCycles: r.UpdateCycles, Gain: r.Gain, EbDepth: uint32(r.EBDepth),
		BringUpCycles: r.BringUp, UpCycles: r.Up, RxMemory: toFill(r.RXMemory), NoData: toFill(r.NoData),
	}
	for _, f := range r.Flaps {
		m.Flaps = append(m.Flaps, &pb.Flap{Link: uint32(f.Link), DownCycle: f.Down, UpCycle: f.Up})
	}
	return m
}

// ToLinkStatus converts link i's state.
func ToLinkStatus(i int, s hw.LinkState) *pb.LinkStatus {
	return &pb.LinkStatus{
		Link: uint32(i), Up: s.Up, Captured: s.Captured, Occupancy: uint32(s.Occupancy), Underflow: s.Underflow,
		Overflow: s.Overflow, AutoCenterTotal: int64(s.AutoCenterTotal), UgnLocal: s.UGNLocal, UgnRemote: s.UGNRemote,
		Inserted: s.Inserted, Drained: s.Drained, Lost: s.Lost, Empty: s.Empty, Adjustments: s.Adjustments,
		Shift: s.Shift, DomainDifference: s.DomainDifference, UpCycle: s.UpCycle,
	}
}

// LinkStatus converts a link's state.
func LinkStatus(m *pb.LinkStatus) hw.LinkState {
	return hw.LinkState{
		Up: m.GetUp(), Captured: m.GetCaptured(), Occupancy: int(m.GetOccupancy()), Underflow: m.GetUnderflow(),
		Overflow: m.GetOverflow(), AutoCenterTotal: int(m.GetAutoCenterTotal()), UGNLocal: m.GetUgnLocal(),
		UGNRemote: m.GetUgnRemote(), Inserted: m.GetInserted(), Drained: m.GetDrained(), Lost: m.GetLost(),
		Empty: m.GetEmpty(), Adjustments: m.GetAdjustments(), Shift: m.GetShift(),
		DomainDifference: m.GetDomainDifference(), UpCycle: m.GetUpCycle(),
	}
}

// ToNodeClock converts node n's clock.
func ToNodeClock(n int, c hw.NodeClock) *pb.NodeClock {
	return &pb.NodeClock{Node: uint32(n), Ppm: c.PPM, Requests: c.Requests, LocalCycle: c.Local, ReleasedLocalCycle: c.Released}
}

// NodeClock converts a node's clock. The period and phase stay on the server.
func NodeClock(m *pb.NodeClock) hw.NodeClock {
	return hw.NodeClock{PPM: m.GetPpm(), Requests: m.GetRequests(), Local: m.GetLocalCycle(), Released: m.GetReleasedLocalCycle()}
}

// ToEvent converts an event.
func ToEvent(e hw.Event) *pb.LinkEvent {
	return &pb.LinkEvent{
		Kind: pb.LinkEventKind(e.Kind), Cycle: e.Cycle, LocalCycle: e.Local, Node: uint32(e.Node), Port: uint32(e.Port),
		Link: uint32(e.Link), Frames: int32(e.Frames), Firmware: e.Firmware, Ppm: e.PPM,
	}
}

// Event converts an event.
func Event(m *pb.LinkEvent) hw.Event {
	return hw.Event{
		Kind: hw.EventKind(m.GetKind()), Cycle: m.GetCycle(), Local: m.GetLocalCycle(), Node: int(m.GetNode()),
		Port: int(m.GetPort()), Link: int(m.GetLink()), Frames: int(m.GetFrames()), Firmware: m.GetFirmware(), PPM: m.GetPpm(),
	}
}

// The event kinds' numbers are the contract's: each index is 0 or the build fails.
var (
	_ = [1]struct{}{}[int(hw.EventAdjust)-int(pb.LinkEventKind_LINK_EVENT_KIND_ADJUST)]
	_ = [1]struct{}{}[int(hw.EventLinkUp)-int(pb.LinkEventKind_LINK_EVENT_KIND_LINK_UP)]
	_ = [1]struct{}{}[int(hw.EventLinkDown)-int(pb.LinkEventKind_LINK_EVENT_KIND_LINK_DOWN)]
	_ = [1]struct{}{}[int(hw.EventClock)-int(pb.LinkEventKind_LINK_EVENT_KIND_CLOCK)]
)
