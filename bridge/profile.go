package bridge

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ringsim/ringsim/sim/bus"
)

// Profile names a firmware profile: which alignment protocol, packet device and TCP
// settings a node's firmware runs (docs/firmware.md says what each reproduces).
type Profile string

// The firmware profiles.
const (
	// Ringsim is ringsim's own firmware: every link aligned at once, a guard before the
	// first packet, a paced packet device that waits for the RX write counter, TCP tuned
	// for the ring buffer link.
	Ringsim Profile = "ringsim"
	// UpstreamAsync is upstream's async-comms demo (branch lucas/ringbuffer-smoltcp,
	// 811196ed): serial alignment in port order, its smoltcp packet device, 256-byte TCP
	// buffers and 1 s exchange deadlines.
	UpstreamAsync Profile = "upstream-async"
	// UpstreamSoftUGN is upstream's soft-UGN demo (main, 26adae95): two-phase alignment, TX
	// and RX enabled once and never toggled, then time-triggered messages at ring-aligned
	// cycles that measure every link's UGN in software (no TCP).
	UpstreamSoftUGN Profile = "upstream-softugn"
)

// Profiles lists the firmware profiles.
var Profiles = []Profile{Ringsim, UpstreamAsync, UpstreamSoftUGN}

// ParseProfile parses a profile name.
func ParseProfile(s string) (Profile, error) {
	for _, p := range Profiles {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: firmware %q: want %s", ErrBadConfig, s, profileNames())
}

func profileNames() string {
	var s []string
	for _, p := range Profiles {
		s = append(s, string(p))
	}
	return strings.Join(s, ", ")
}

// Firmware says which profile each node runs: Default (empty: Ringsim) unless Nodes names
// another for the node. The zero value runs ringsim's firmware everywhere.
type Firmware struct {
	Default Profile
	Nodes   map[int]Profile
}

// Of returns node's profile.
func (f Firmware) Of(node int) Profile {
	if p, ok := f.Nodes[node]; ok {
		return p
	}
	if f.Default == "" {
		return Ringsim
	}
	return f.Default
}

// Uniform reports whether every node of a run of nodes nodes runs the same profile, and
// which.
func (f Firmware) Uniform(nodes int) (Profile, bool) {
	p := f.Of(0)
	for n := 1; n < nodes; n++ {
		if f.Of(n) != p {
			return "", false
		}
	}
	return p, true
}

// Runs reports whether some node of a run of nodes nodes runs profile p.
func (f Firmware) Runs(nodes int, p Profile) bool {
	for n := 0; n < nodes; n++ {
		if f.Of(n) == p {
			return true
		}
	}
	return false
}

// String returns the form ParseFirmware reads: "ringsim", "upstream-async,3=ringsim".
func (f Firmware) String() string {
	parts := []string{string(f.Of(-1))}
	nodes := make([]int, 0, len(f.Nodes))
	for n := range f.Nodes {
		nodes = append(nodes, n)
	}
	sort.Ints(nodes)
	for _, n := range nodes {
		parts = append(parts, fmt.Sprintf("%d=%s", n, f.Nodes[n]))
	}
	return strings.Join(parts, ",")
}

// Validate checks the profiles and that every node named is one of nodes nodes.
func (f Firmware) Validate(nodes int) error {
	if f.Default != "" {
		if _, err := ParseProfile(string(f.Default)); err != nil {
			return err
		}
	}
	for n, p := range f.Nodes {
		if n < 0 || n >= nodes {
			return fmt.Errorf("%w: firmware for node %d outside %d nodes", ErrBadConfig, n, nodes)
		}
		if _, err := ParseProfile(string(p)); err != nil {
			return err
		}
	}
	return nil
}

// ParseFirmware parses a comma-separated list of profiles: a bare name is every node's
// profile, N=name node N's ("upstream-async", "0=upstream-async,1=ringsim",
// "upstream-async,3=ringsim"). Nodes not named run the bare name, or ringsim.
func ParseFirmware(s string) (Firmware, error) {
	var f Firmware
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		node, name, perNode := strings.Cut(item, "=")
		if !perNode {
			name = node
		}
		p, err := ParseProfile(name)
		if err != nil {
			return Firmware{}, err
		}
		if !perNode {
			if f.Default != "" {
				return Firmware{}, fmt.Errorf("%w: firmware %q: two defaults (%s and %s)", ErrBadConfig, s, f.Default, p)
			}
			f.Default = p
			continue
		}
		n, err := strconv.Atoi(node)
		if err != nil || n < 0 {
			return Firmware{}, fmt.Errorf("%w: firmware %q: %q is not a node number", ErrBadConfig, s, node)
		}
		if f.Nodes == nil {
			f.Nodes = map[int]Profile{}
		}
		if _, dup := f.Nodes[n]; dup {
			return Firmware{}, fmt.Errorf("%w: firmware %q: node %d named twice", ErrBadConfig, s, n)
		}
		f.Nodes[n] = p
	}
	return f, nil
}

// HasTCP reports whether profile p runs packets and TCP after alignment. UpstreamSoftUGN
// does not: its phase after alignment is the soft-UGN demo's messages.
func (p Profile) HasTCP() bool { fp := profileOf(p); return fp.packets != nil && !fp.messages }

// TCPSettings are what a profile sets around the gVisor stack, which every profile keeps:
// a profile changes the firmware around TCP, not the TCP implementation.
type TCPSettings struct {
	// ReceiveWindow, if non-zero, clamps the window the node advertises on every connection
	// to this many bytes. gVisor's receive buffer cannot go below 4096 bytes, so the clamp
	// rewrites the window field of the segments the node sends (an emulation: the stack
	// still has room for 4096).
	ReceiveWindow int `json:"receive_window_bytes,omitempty"`
	// SendLimit, if non-zero, is the most bytes the application may have written on a
	// connection that the peer has not yet acknowledged (an emulation of a send buffer of
	// that size; gVisor's cannot go below 4096 bytes either).
	SendLimit int `json:"send_limit_bytes,omitempty"`
	// ExchangeTimeout, if non-zero, is how long each step of the exchange application may
	// take (the DNA and port exchange; the manager's request and the report).
	ExchangeTimeout time.Duration `json:"exchange_timeout,omitempty"`
}

// Settings returns the profile's TCP settings.
func (p Profile) Settings() TCPSettings { return profileOf(p).tcp }

// firmwareProfile is a profile as one strategy per phase of a node's firmware: before
// alignment, the per-link alignment protocol, the node's alignment loop, the packet phase
// (device and main loop) and the TCP settings. ringsim's recovery firmware for real links
// is one more value of it, not more switches in the runtime.
type firmwareProfile struct {
	name Profile
	// prepare runs once before alignment (nil: nothing).
	prepare func(rt *Runtime, n *nodeState, c *cpu) error
	// protocol is the per-link alignment state machine.
	protocol alignProtocol
	// schedule is how the node's alignment loop steps its links.
	schedule alignSchedule
	// alignTimeout applies Config.AlignTimeout's default bound to the alignment; upstream's
	// firmware has none (it loops until aligned), so its profiles are bounded only by an
	// explicit Config.AlignTimeout, the stall detectors and the run's Deadline.
	alignTimeout bool
	// packets is the packet phase; nil means the profile has none.
	packets packetPhase
	// messages says the packet phase is the soft-UGN demo's messages, not TCP.
	messages bool
	// tcp are the settings around the gVisor stack.
	tcp TCPSettings
}

// upstreamTCPBuffer is the async-comms demo's TCP socket buffer size, RX and TX, per link:
// TCP_BUFFER_SIZE in its main.rs:28 (used at l.186-187).
const upstreamTCPBuffer = 256

var profiles = map[Profile]*firmwareProfile{
	Ringsim: {
		name:         Ringsim,
		protocol:     ringsimAlign{},
		schedule:     allLinks{},
		alignTimeout: true,
		packets:      ringsimPackets{},
	},
	UpstreamAsync: {
		name:     UpstreamAsync,
		prepare:  stopAutoCentre,
		protocol: upstreamAlign{},
		schedule: portOrder{},
		packets:  upstreamPackets{},
		tcp: TCPSettings{ReceiveWindow: upstreamTCPBuffer, SendLimit: upstreamTCPBuffer,
			ExchangeTimeout: time.Second},
	},
	UpstreamSoftUGN: {
		name:     UpstreamSoftUGN,
		prepare:  softUGNPrepare,
		protocol: softUGNAlign{},
		schedule: allLinks{},
		packets:  softUGNMessages{},
		messages: true,
	},
}

// profileOf returns profile p's strategies; an unknown name is a broken invariant (Config
// and ParseProfile check names).
func profileOf(p Profile) *firmwareProfile {
	if p == "" {
		p = Ringsim
	}
	fp, ok := profiles[p]
	if !ok {
		panic(fmt.Sprintf("bridge: unknown firmware profile %q", p))
	}
	return fp
}

// stopAutoCentre is upstream's step before alignment: stop every elastic buffer's
// auto-centring, wait until it is idle and record its total adjustments as the UGN
// compensation (async-comms main.rs:111-124; soft-UGN main.rs:65-88), so that no
// adjustment shifts a link after it aligned. The ideal link has no elastic buffers: there
// it does nothing.
func stopAutoCentre(rt *Runtime, n *nodeState, c *cpu) error {
	if !rt.cfg.RealLink {
		return nil
	}
	for _, l := range n.links {
		p := l.port
		res := c.exec(p.SetAutoCentre(false),
			bus.Poll(p.LinkAddr(bus.LinkACIsIdle), bus.UntilEqual, 1, 1, n.cost.Poll, 1<<16),
			p.AutoCentreTotal())
		if err := checkOK(n.id, "stop auto-centre", res); err != nil {
			return err
		}
		if err := checkOK(n.id, "UGN compensation", c.exec(bus.Write(p.LinkAddr(bus.LinkEBDelta), res[2].Value))); err != nil {
			return err
		}
	}
	return nil
}

// softUGNPrepare is the soft-UGN demo's step before alignment. On the real link its Rust
// prelude waits until every link is up (main.rs:41-46), stops auto-centring (as
// stopAutoCentre) and reads every link's UGN capture (main.rs:68-82); then the C part
// enables RX and TX on every port, which the alignment never touches again
// (main.c:97-100).
func softUGNPrepare(rt *Runtime, n *nodeState, c *cpu) error {
	if rt.cfg.RealLink {
		if err := waitLinksUp(n, c); err != nil {
			return err
		}
	}
	if err := stopAutoCentre(rt, n, c); err != nil {
		return err
	}
	if rt.cfg.RealLink {
		for _, l := range n.links {
			// The capture latches the link's first frame out of the elastic buffer, once it
			// filled to its centre: shortly after the link came up.
			if err := waitLinkStatus(n, c, l, linkCaptured, "UGN capture status"); err != nil {
				return err
			}
			if err := rt.readUGN(n, c, l); err != nil {
				return err
			}
			// Upstream's hardware UGN adds the elastic buffer delta the prelude recorded:
			// the frames auto-centring added since the capture (main.rs:77-82, read back in
			// Utils/Ugn.hs:463-476 as local + eb_delta - remote). 0 unless the auto-centre
			// ran, which it does not from reset.
			res := c.exec(bus.Read(l.port.LinkAddr(bus.LinkEBDelta)))
			if err := checkOK(n.id, "elastic buffer delta", res); err != nil {
				return err
			}
			if l.ugn != nil {
				u := *l.ugn + int64(int32(res[0].Value))
				l.ugn = &u
			}
		}
	}
	for _, l := range n.links {
		res := c.exec(l.port.SetRXEnable(true), l.port.SetTXEnable(true))
		if err := checkOK(n.id, "soft-UGN enable", res); err != nil {
			return err
		}
		l.al.txOn, l.al.txOnSince = true, res[1].Cycle
	}
	return nil
}
