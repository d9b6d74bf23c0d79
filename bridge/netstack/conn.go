package netstack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// State is a TCP connection state; String returns its RFC 793 name
// ("ESTABLISHED", "SYN-SENT", ...).
type State = tcp.EndpointState

// The TCP states a Conn or Listener can be in. StateError means the
// connection failed (see Conn.Err); StateInitial, StateBound and
// StateConnecting are gVisor-internal states before the first SYN.
const (
	StateInitial     = tcp.StateInitial
	StateBound       = tcp.StateBound
	StateConnecting  = tcp.StateConnecting
	StateListen      = tcp.StateListen
	StateSynSent     = tcp.StateSynSent
	StateSynRecv     = tcp.StateSynRecv
	StateEstablished = tcp.StateEstablished
	StateFinWait1    = tcp.StateFinWait1
	StateFinWait2    = tcp.StateFinWait2
	StateCloseWait   = tcp.StateCloseWait
	StateClosing     = tcp.StateClosing
	StateLastAck     = tcp.StateLastAck
	StateTimeWait    = tcp.StateTimeWait
	StateClose       = tcp.StateClose
	StateError       = tcp.StateError
)

// listenBacklog is the accept queue length of a Listener.
const listenBacklog = 16

// Listener is a listening TCP endpoint. Its methods never block; call them from
// the simulation goroutine, between barriers.
type Listener struct {
	st     *Stack
	ep     tcpip.Endpoint
	addr   netip.AddrPort
	closed bool
}

// Listen listens on local (address and non-zero port). If nic is not 0 the
// listener is bound to that NIC (SO_BINDTODEVICE) and only accepts
// connections arriving on it.
func (s *Stack) Listen(nic NIC, local netip.AddrPort) (*Listener, error) {
	return s.listen(nic, local, false)
}

// listen is Listen, sharing the port with other endpoints if reusePort.
func (s *Stack) listen(nic NIC, local netip.AddrPort, reusePort bool) (*Listener, error) {
	op := fmt.Sprintf("listen on nic %d %v", nic, local)
	if s.closed {
		return nil, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	if !local.Addr().IsValid() || local.Port() == 0 {
		return nil, fmt.Errorf("%s: need an address and a port: %w", op, ErrInvalidArgument)
	}
	ep, err := s.newEndpoint(op, nic, local.Addr())
	if err != nil {
		return nil, err
	}
	ep.SocketOptions().SetReuseAddress(true)
	ep.SocketOptions().SetReusePort(reusePort)
	if terr := ep.Bind(fullAddress(nic, local)); terr != nil {
		ep.Close()
		return nil, convertError(op+": bind", terr)
	}
	if terr := ep.Listen(listenBacklog); terr != nil {
		ep.Close()
		return nil, convertError(op, terr)
	}
	return &Listener{st: s, ep: ep, addr: local}, nil
}

// Accept returns the next established connection, or ErrWouldBlock (not
// wrapped) if there is none yet.
func (l *Listener) Accept() (*Conn, error) {
	if l.closed {
		return nil, fmt.Errorf("accept on %v: %w", l.addr, ErrClosed)
	}
	l.st.markWork()
	ep, _, terr := l.ep.Accept(nil)
	if terr != nil {
		if _, ok := terr.(*tcpip.ErrWouldBlock); ok {
			return nil, ErrWouldBlock
		}
		return nil, convertError(fmt.Sprintf("accept on %v", l.addr), terr)
	}
	return &Conn{st: l.st, ep: ep}, nil
}

// Addr returns the address the listener is bound to.
func (l *Listener) Addr() netip.AddrPort { return l.addr }

// Close stops listening; connections not yet accepted are reset. Safe to call
// twice.
func (l *Listener) Close() {
	if l.closed {
		return
	}
	l.closed = true
	l.st.markWork()
	l.ep.Close()
}

// Dial starts a connection from local to remote and returns at once, with the
// connection in SYN-SENT; poll Conn.State after barriers until it is
// StateEstablished (or StateError, see Conn.Err).
//
// If nic is not 0 the connection is bound to that NIC (SO_BINDTODEVICE). If
// local has a port, the connection is bound to local (address and port) before
// connecting, which is what a TCP simultaneous open needs: in addressing mode
// B both ends call Dial(nic, a:p, a:p) with the same address a and port p.
// If one end's SYN arrives before the other end has dialed, the other stack
// answers with a RST and the early end fails with ErrConnectionRefused;
// OpenSymmetric handles that. In mode A a dialer that is refused because the
// peer is not listening yet must Dial again later.
// A zero local picks the NIC's address and an ephemeral port.
func (s *Stack) Dial(nic NIC, local, remote netip.AddrPort) (*Conn, error) {
	return s.dial(nic, local, remote, false)
}

// dial is Dial, sharing the local port with other endpoints if reusePort.
func (s *Stack) dial(nic NIC, local, remote netip.AddrPort, reusePort bool) (*Conn, error) {
	op := fmt.Sprintf("dial on nic %d %v -> %v", nic, local, remote)
	if s.closed {
		return nil, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	if !remote.Addr().IsValid() || remote.Port() == 0 {
		return nil, fmt.Errorf("%s: need a remote address and port: %w", op, ErrInvalidArgument)
	}
	if local.Addr().IsValid() && local.Addr().Unmap().Is4() != remote.Addr().Unmap().Is4() {
		return nil, fmt.Errorf("%s: address families differ: %w", op, ErrInvalidArgument)
	}
	ep, err := s.newEndpoint(op, nic, remote.Addr())
	if err != nil {
		return nil, err
	}
	ep.SocketOptions().SetReusePort(reusePort)
	if local.Port() != 0 || local.Addr().IsValid() {
		if terr := ep.Bind(fullAddress(nic, local)); terr != nil {
			ep.Close()
			return nil, convertError(op+": bind", terr)
		}
	}
	if terr := ep.Connect(fullAddress(nic, remote)); terr != nil {
		if _, ok := terr.(*tcpip.ErrConnectStarted); !ok {
			ep.Close()
			return nil, convertError(op, terr)
		}
	}
	return &Conn{st: s, ep: ep}, nil
}

// newEndpoint creates a TCP endpoint for addresses of a's family, bound to nic
// if it is not 0. Readiness is polled (Read, Write and Accept return
// ErrWouldBlock), so the waiter queue gVisor requires has no entries.
func (s *Stack) newEndpoint(op string, nic NIC, a netip.Addr) (tcpip.Endpoint, error) {
	s.markWork()
	ep, terr := s.s.NewEndpoint(tcp.ProtocolNumber, netProto(a.Unmap()), &waiter.Queue{})
	if terr != nil {
		return nil, convertError(op+": new endpoint", terr)
	}
	if nic != 0 {
		if terr := ep.SocketOptions().SetBindToDevice(int32(nic)); terr != nil {
			ep.Close()
			return nil, convertError(op+": bind to device", terr)
		}
	}
	return ep, nil
}

// Conn is a TCP connection. Its methods never block; call them from the
// simulation goroutine, between barriers. Reads and writes move data between
// the caller and gVisor's buffers; the resulting segments are sent at once or
// during the next Barrier or timer.
type Conn struct {
	st     *Stack
	ep     tcpip.Endpoint
	err    error // first hard error seen (reset, timeout, ...)
	closed bool  // Close or Abort was called
}

// State returns the connection's TCP state.
func (c *Conn) State() State {
	return State(c.ep.State())
}

// Established reports whether the connection is in StateEstablished.
func (c *Conn) Established() bool {
	return c.State() == StateEstablished
}

// Write queues as much of p as the send buffer takes and returns the number of
// bytes taken. It returns ErrWouldBlock (not wrapped) if it took nothing
// because the buffer is full or the handshake has not completed, and an error
// wrapping ErrClosed after CloseWrite or Close.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.st.markWork()
	n, terr := c.ep.Write(bytes.NewReader(p), tcpip.WriteOptions{})
	if terr != nil {
		if _, ok := terr.(*tcpip.ErrWouldBlock); ok {
			return 0, ErrWouldBlock
		}
		return int(n), c.record(convertError("write", terr))
	}
	return int(n), nil
}

// Read copies up to len(p) received bytes into p. It returns ErrWouldBlock
// (not wrapped) when no data is available yet, and io.EOF once the peer has
// closed its side and all data was read.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w := tcpip.SliceWriter(p)
	res, terr := c.ep.Read(&w, tcpip.ReadOptions{})
	if terr != nil {
		switch terr.(type) {
		case *tcpip.ErrWouldBlock:
			// Nothing was read, so TCP has nothing to do (no window update): no barrier.
			return 0, ErrWouldBlock
		case *tcpip.ErrClosedForReceive:
			c.st.markWork()
			return 0, io.EOF
		}
		c.st.markWork()
		return 0, c.record(convertError("read", terr))
	}
	c.st.markWork()
	return res.Count, nil
}

// CloseWrite sends a FIN after the queued data (shutdown for writing). Reading
// continues until the peer closes too.
func (c *Conn) CloseWrite() error {
	c.st.markWork()
	if terr := c.ep.Shutdown(tcpip.ShutdownWrite); terr != nil {
		return c.record(convertError("close write", terr))
	}
	return nil
}

// Close closes the connection: a FIN is sent after the queued data (or a RST
// if received data was left unread) and the connection finishes closing in the
// background (FIN-WAIT, TIME-WAIT) driven by barriers and the clock. State
// stays readable. Safe to call twice.
func (c *Conn) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.st.markWork()
	c.ep.Close()
}

// Abort resets the connection (sends a RST if it is connected) and releases
// it. Abort after Close does nothing.
func (c *Conn) Abort() {
	if c.closed {
		return
	}
	c.closed = true
	c.st.markWork()
	c.ep.Abort()
}

// Err returns the error that ended the connection (wrapping
// ErrConnectionReset, ErrConnectionRefused, ErrTimeout, ...), or nil.
func (c *Conn) Err() error {
	if c.err == nil && c.State() == StateError {
		c.st.markWork()
		if terr := c.ep.LastError(); terr != nil {
			c.err = convertError("connection", terr)
		}
	}
	return c.err
}

// LocalAddr returns the local address and port (zero before they are chosen).
func (c *Conn) LocalAddr() netip.AddrPort {
	c.st.markWork()
	a, terr := c.ep.GetLocalAddress()
	if terr != nil {
		return netip.AddrPort{}
	}
	return addrPort(a)
}

// RemoteAddr returns the remote address and port (zero if unknown).
func (c *Conn) RemoteAddr() netip.AddrPort {
	c.st.markWork()
	a, terr := c.ep.GetRemoteAddress()
	if terr != nil {
		return netip.AddrPort{}
	}
	return addrPort(a)
}

// record remembers err as the connection's error if it ended the connection,
// and returns err.
func (c *Conn) record(err error) error {
	if c.err == nil {
		for _, fatal := range []error{ErrConnectionReset, ErrConnectionRefused, ErrConnectionAborted, ErrTimeout, ErrUnreachable} {
			if errors.Is(err, fatal) {
				c.err = err
				break
			}
		}
	}
	return err
}

// fullAddress converts ap to a gVisor address on nic; an invalid address part
// becomes the unspecified address.
func fullAddress(nic NIC, ap netip.AddrPort) tcpip.FullAddress {
	fa := tcpip.FullAddress{NIC: tcpip.NICID(nic), Port: ap.Port()}
	if a := ap.Addr().Unmap(); a.IsValid() {
		fa.Addr = tcpip.AddrFromSlice(a.AsSlice())
	}
	return fa
}

// addrPort converts a gVisor address to a netip.AddrPort.
func addrPort(fa tcpip.FullAddress) netip.AddrPort {
	a, ok := netip.AddrFromSlice(fa.Addr.AsSlice())
	if !ok {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, fa.Port)
}

// SymmetricOpen opens a mode B connection: both ends use the same address and
// port. It listens on the address and, sharing the port (SO_REUSEPORT), dials
// from the address to itself. If the peer dials at about the same time the
// SYNs cross (TCP simultaneous open; an exactly matching connection takes
// precedence over the listener). If the peer has not dialed yet it refuses the
// SYN, and its later SYN reaches the listener instead. Either way exactly one
// connection results, whichever end starts first and however late.
//
// gVisor limitation: on a stack with several NICs using the same address and
// port, a SYN arriving on one NIC is refused while another NIC holds an
// established connection with the same addresses and ports (the demuxer finds
// the exact match first, and it is bound to the other NIC). Use a different
// port (or address) per link when links can open at different times.
type SymmetricOpen struct {
	addr netip.AddrPort
	dial *Conn     // the dialed connection, nil after it failed
	ln   *Listener // nil once a connection was returned
	conn *Conn     // the connection returned by Poll
}

// OpenSymmetric starts a mode B open on nic at addr (the address and port both
// ends use). Poll it after barriers until it returns the connection.
func (s *Stack) OpenSymmetric(nic NIC, addr netip.AddrPort) (*SymmetricOpen, error) {
	ln, err := s.listen(nic, addr, true)
	if err != nil {
		return nil, fmt.Errorf("open symmetric: %w", err)
	}
	c, err := s.dial(nic, addr, addr, true)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("open symmetric: %w", err)
	}
	return &SymmetricOpen{addr: addr, dial: c, ln: ln}, nil
}

// Poll advances the open. It returns the connection once it is ESTABLISHED
// (and the same connection on every later call), or ErrWouldBlock (not
// wrapped) until then. A dial that is refused or times out is dropped in
// favour of the listener, so Poll fails only if the listener fails.
func (o *SymmetricOpen) Poll() (*Conn, error) {
	if o.conn != nil {
		return o.conn, nil
	}
	if o.dial != nil {
		switch st := o.dial.State(); {
		case st == StateError || st == StateClose:
			o.dial.Close()
			o.dial = nil
		case st == StateEstablished || st == StateCloseWait || st == StateFinWait1 ||
			st == StateFinWait2 || st == StateClosing || st == StateLastAck || st == StateTimeWait:
			o.conn = o.dial
			o.dial = nil
			o.ln.Close()
			o.ln = nil
			return o.conn, nil
		}
	}
	c, err := o.ln.Accept()
	if err != nil {
		if errors.Is(err, ErrWouldBlock) {
			return nil, ErrWouldBlock
		}
		return nil, fmt.Errorf("open symmetric %v: %w", o.addr, err)
	}
	o.conn = c
	o.ln.Close()
	o.ln = nil
	if o.dial != nil {
		o.dial.Abort()
		o.dial = nil
	}
	return o.conn, nil
}

// Close abandons the open: the listener and an unfinished dial are closed. A
// connection Poll returned is not touched. Safe to call twice.
func (o *SymmetricOpen) Close() {
	if o.ln != nil {
		o.ln.Close()
		o.ln = nil
	}
	if o.dial != nil {
		o.dial.Abort()
		o.dial = nil
	}
}
