package bridge

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ringsim/ringsim/bridge/netstack"
	"github.com/ringsim/ringsim/hw"
)

// connect advances the TCP opens of links whose devices are up.
func (rt *Runtime) connect() error {
	for _, l := range rt.links {
		if l.conn != nil || rt.nodes[l.ep.Node].stack == nil || l.ep4 == nil {
			continue
		}
		c, err := rt.pollOpen(l)
		if err != nil {
			return err
		}
		if c == nil {
			continue
		}
		n := rt.nodes[l.ep.Node]
		l.conn = &Conn{Local: l.ep, Peer: l.peer, DNA: n.boot.DNA, Offset: l.al.offset, Firmware: n.prof.name,
			HardwareUGN: l.ugn, Conn: c, limits: l.limits}
		if d := n.prof.tcp.ExchangeTimeout; d > 0 {
			l.conn.ExchangeTimeout = uint64(d.Seconds()*rt.m.ClockHz() + 0.5)
		}
		l.estab = rt.now()
		rt.log.Debug("connection established", "link", l.ep.String()+"-"+l.peer.String(), "cycle", l.estab)
		if rt.cfg.App != nil {
			if err := rt.cfg.App.Open(l.conn); err != nil {
				return fmt.Errorf("%w: open on %v: %w", ErrApp, l.ep, err)
			}
		}
	}
	if rt.allConnected() {
		rt.mark("established", rt.lastEstablished(), "")
	}
	return nil
}

func (rt *Runtime) lastEstablished() uint64 {
	var c uint64
	for _, l := range rt.links {
		c = max(c, l.estab)
	}
	return c
}

func (rt *Runtime) pollOpen(l *linkState) (*netstack.Conn, error) {
	switch {
	case l.sym != nil:
		c, err := l.sym.Poll()
		if errors.Is(err, netstack.ErrWouldBlock) {
			return nil, nil
		}
		return c, err
	case l.ln != nil:
		c, err := l.ln.Accept()
		if errors.Is(err, netstack.ErrWouldBlock) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("accept on %v: %w", l.ep, err)
		}
		l.ln.Close()
		l.ln = nil
		return c, nil
	case l.dial != nil:
		st := l.dial.State()
		switch {
		case st == netstack.StateError || st == netstack.StateClose:
			// Refused (the listener was not there yet) or timed out: dial again.
			l.dial.Close()
			l.dial = nil
			l.dialErr++
			return nil, rt.dial(l)
		case l.dial.Established():
			c := l.dial
			l.dial = nil
			return c, nil
		}
	}
	return nil, nil
}

func (rt *Runtime) portID(ep hw.Endpoint) netstack.PortID {
	return netstack.PortID{DNA: rt.nodes[ep.Node].boot.DNA, Port: uint32(ep.Port)}
}

func (rt *Runtime) dial(l *linkState) error {
	st := rt.nodes[l.ep.Node].stack
	local := netip.AddrPortFrom(rt.portID(l.ep).Addr(), 0)
	remote := netip.AddrPortFrom(rt.portID(l.peer).Addr(), ListenPort)
	c, err := st.Dial(l.nicID, local, remote)
	if err != nil {
		return fmt.Errorf("dial on %v: %w", l.ep, err)
	}
	l.dial = c
	return nil
}

// ipv4MinimumMTU is the smallest link MTU IPv4 allows (RFC 791; gVisor's
// header.IPv4MinimumMTU): every host must take a 68-byte packet unfragmented.
const ipv4MinimumMTU = 68

// upstreamAddr is the address both ends of every link use in upstream addressing.
var upstreamAddr = netip.AddrFrom4([4]byte{10, 0, 0, 1})

// attach gives a node's link a NIC and starts its TCP open (listen, dial or symmetric).
// Called by the firmware when the link's device is up; the peer has booted by then.
func (rt *Runtime) attach(n *nodeState, l *linkState) error {
	if mtu := l.dev.MTU(); mtu < ipv4MinimumMTU {
		// gVisor refuses to send IPv4 over a link that carries less (RFC 791's minimum MTU):
		// the stack would send nothing, and TCP would wait for ever.
		return &tooLarge{node: n.id, port: l.ep.Port, size: ipv4MinimumMTU, mtu: mtu, depth: l.port.Depth, minimum: true}
	}
	if n.stack == nil {
		seed := rt.runSeed()*0x9E3779B97F4A7C15 + uint64(n.id+1)*0xBF58476D1CE4E5B9
		win := rt.cfg.Window
		if win == 0 {
			win = DefaultWindow
		}
		minRTO := rt.cfg.MinRTO
		if minRTO == 0 {
			minRTO = DefaultMinRTO
		}
		rcvBuf := max(win*l.dev.MTU(), minReceiveBuffer)
		if n.prof.tcp.ReceiveWindow > 0 {
			// The window is clamped on the wire (bufferLimits); the smallest buffer gVisor
			// takes keeps its window scale at 0.
			rcvBuf = minReceiveBuffer
		}
		st, err := netstack.New(netstack.Options{Seed: seed, Clock: rt.clock, MinRTO: minRTO,
			ReceiveBuffer: rcvBuf, DisableRACK: !rt.cfg.RACK})
		if err != nil {
			return err
		}
		n.stack = st
	}
	l.ep4 = netstack.NewLinkEndpoint(uint32(l.dev.MTU()), linkQueue)
	l.tally.nic = stackNIC{l.ep4}
	if t := n.prof.tcp; t.ReceiveWindow > 0 || t.SendLimit > 0 {
		l.limits = &bufferLimits{nested: nested{stackNIC{l.ep4}}, window: t.ReceiveWindow, sendLimit: t.SendLimit}
		l.tally.nic = l.limits
	}
	l.dev.attach(l.nic)
	local, peer := rt.portID(l.ep).Addr(), rt.portID(l.peer).Addr()
	if rt.cfg.Addressing == Upstream {
		local, peer = upstreamAddr, upstreamAddr
	}
	l.localAddr, l.peerAddr = local, peer
	if nm, ok := l.pcap.(PacketNamer); ok {
		if err := nm.Names(l.ep, l.peer, local, peer); err != nil {
			return fmt.Errorf("node %d port %d: pcap names: %w", n.id, l.ep.Port, err)
		}
	}
	id, err := n.stack.AddLink(l.ep4, local, peer)
	if err != nil {
		return fmt.Errorf("node %d port %d: %w", n.id, l.ep.Port, err)
	}
	l.nicID = id
	switch {
	case rt.cfg.Addressing == Upstream:
		port := uint16(UpstreamPort + rt.linkIndex(l))
		l.sym, err = n.stack.OpenSymmetric(id, netip.AddrPortFrom(upstreamAddr, port))
	case netstack.Connects(rt.portID(l.ep), rt.portID(l.peer)):
		err = rt.dial(l)
	default:
		l.ln, err = n.stack.Listen(id, netip.AddrPortFrom(local, ListenPort))
	}
	if err != nil {
		return fmt.Errorf("node %d port %d: open: %w", n.id, l.ep.Port, err)
	}
	return nil
}

// linkIndex numbers the link l belongs to: the rank of its lower endpoint among the lower
// endpoints of all links. Both ends compute the same number.
func (rt *Runtime) linkIndex(l *linkState) int {
	low := func(a, b hw.Endpoint) hw.Endpoint {
		if b.Node < a.Node || b.Node == a.Node && b.Port < a.Port {
			return b
		}
		return a
	}
	mine := low(l.ep, l.peer)
	i := 0
	for _, m := range rt.links {
		e := low(m.ep, m.peer)
		if m.ep == e && (e.Node < mine.Node || e.Node == mine.Node && e.Port < mine.Port) {
			i++
		}
	}
	return i
}
