package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/netstack"
	"github.com/ringsim/ringsim/hw"
)

// Greeting returns the string a Hello end sends first: "Hello from Node N", N its node.
func Greeting(node int) string { return "Hello from Node " + strconv.Itoa(node) }

// HelloMessageLen is the length in bytes of an encoded HelloMessage.
const HelloMessageLen = 16

// HelloMagic is the first field of every HelloMessage: "rsim" read as a little-endian u32.
const HelloMagic uint32 = 0x6d697372

// HelloMessage is the small fixed-layout message a Hello end sends after its greeting.
// Encoded it is HelloMessageLen bytes, every field a little-endian u32:
//
//	bytes  0-3   magic  HelloMagic
//	bytes  4-7   node   the sender's node
//	bytes  8-11  port   the sender's port on the link
//	bytes 12-15  seq    0, 1, 2, ... on each connection
type HelloMessage struct {
	Node, Port, Seq uint32
}

// AppendBinary implements encoding.BinaryAppender.
func (m HelloMessage) AppendBinary(b []byte) ([]byte, error) {
	b = binary.LittleEndian.AppendUint32(b, HelloMagic)
	b = binary.LittleEndian.AppendUint32(b, m.Node)
	b = binary.LittleEndian.AppendUint32(b, m.Port)
	return binary.LittleEndian.AppendUint32(b, m.Seq), nil
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m HelloMessage) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, HelloMessageLen))
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: b must be exactly
// HelloMessageLen bytes starting with HelloMagic; errors wrap ErrMalformed.
func (m *HelloMessage) UnmarshalBinary(b []byte) error {
	if len(b) != HelloMessageLen {
		return fmt.Errorf("%w: hello message of %d bytes, want %d", ErrMalformed, len(b), HelloMessageLen)
	}
	if magic := binary.LittleEndian.Uint32(b); magic != HelloMagic {
		return fmt.Errorf("%w: hello message magic %#08x, want %#08x", ErrMalformed, magic, HelloMagic)
	}
	*m = HelloMessage{
		Node: binary.LittleEndian.Uint32(b[4:]),
		Port: binary.LittleEndian.Uint32(b[8:]),
		Seq:  binary.LittleEndian.Uint32(b[12:]),
	}
	return nil
}

// helloStream is what Hello sends on the link end local: its greeting, then messages
// HelloMessages numbered from 0.
func helloStream(local hw.Endpoint, messages int) []byte {
	b := []byte(Greeting(local.Node))
	for i := 0; i < messages; i++ {
		b, _ = HelloMessage{Node: uint32(local.Node), Port: uint32(local.Port), Seq: uint32(i)}.AppendBinary(b)
	}
	return b
}

// Hello is SPEC section 6's TCP simultaneous open scenario as an App. On every link each
// end sends Greeting(its node) and then Messages HelloMessages (its node and port,
// Seq 0, 1, ...), reads the peer's and checks them byte for byte against what the peer
// must send (the greeting of bridge.Conn.Peer's node and messages with its node and port), then
// closes: CloseWrite once everything is sent, Close once the peer's end of stream
// arrived, and the end is done when the close completed (TIME-WAIT or CLOSED). Other
// data than expected, more of it, or an end of stream before all of it fail the run at
// once with an error wrapping ErrMalformed or ErrUnexpected. The app works with either
// addressing; the scenario uses Upstream (simultaneous open).
//
// Like every App, its methods are called from the runtime's goroutine only and never block.
type Hello struct {
	// Messages is the number of HelloMessages each end sends after its greeting.
	Messages int

	ends  map[hw.Endpoint]*helloEnd
	order []hw.Endpoint // sorted: what the app does never depends on map order
	rbuf  []byte
}

// NewHello returns the Hello app with messages HelloMessages per end.
func NewHello(messages int) *Hello {
	return &Hello{Messages: messages}
}

// HelloResult is what one link end of the Hello app saw.
type HelloResult struct {
	Local, Peer hw.Endpoint
	// OpenState is the TCP state when the connection was handed to the app.
	OpenState netstack.State
	// Sent and Received are the bytes this end sent and received (all of them).
	Sent, Received []byte
	// EOFCycle is when the peer's end of stream arrived, DoneCycle when the close
	// completed (0: not yet).
	EOFCycle, DoneCycle uint64
	// FinalState is the TCP state when the close completed (TIME-WAIT or CLOSED), or the
	// current state if it did not.
	FinalState netstack.State
}

type helloEnd struct {
	wire
	local, peer hw.Endpoint
	openState   netstack.State
	sent        []byte // all of what this end sends
	want        []byte // all of what the peer must send
	got         []byte
	eofCycle    uint64
	done        bool // the close completed
	doneCycle   uint64
	finalState  netstack.State
}

// Open implements bridge.App.Open.
func (h *Hello) Open(c *bridge.Conn) error {
	return h.open(c.Local, c.Peer, c)
}

// open starts the link end local, whose peer is peer, on the connection s.
func (h *Hello) open(local, peer hw.Endpoint, s stream) error {
	if h.ends == nil {
		h.ends = map[hw.Endpoint]*helloEnd{}
	}
	if _, ok := h.ends[local]; ok {
		return fmt.Errorf("hello: link end %v opened twice", local)
	}
	e := &helloEnd{local: local, peer: peer, openState: s.State(),
		sent: helloStream(local, h.Messages), want: helloStream(peer, h.Messages)}
	e.s = s
	e.out = slices.Clone(e.sent)
	e.lastWord = true
	h.ends[local] = e
	h.order = insertEndpoint(h.order, local)
	return nil
}

// Step implements bridge.App.Step: it sends what each end has left to send, checks what arrived,
// and closes each connection when both directions are done. It reports true once every
// end's close completed.
func (h *Hello) Step(now uint64) (bool, error) {
	if h.rbuf == nil {
		h.rbuf = make([]byte, 4<<10)
	}
	finished := len(h.order) > 0
	for _, ep := range h.order {
		e := h.ends[ep]
		if e.done {
			continue
		}
		if err := e.step(now, h.rbuf); err != nil {
			return false, fmt.Errorf("hello on link end %v: %w", ep, err)
		}
		finished = finished && e.done
	}
	return finished, nil
}

func (e *helloEnd) step(now uint64, rbuf []byte) error {
	if err := e.flush(); err != nil {
		return err
	}
	if err := e.shutdown(); err != nil {
		return err
	}
	eof := e.eof
	if err := e.receive(rbuf, e.check); err != nil {
		return err
	}
	if e.eof && !eof {
		e.eofCycle = now
		if len(e.got) < len(e.want) {
			return fmt.Errorf("%w: peer closed its side after %d of %d bytes (%s)", ErrUnexpected,
				len(e.got), len(e.want), e.position(len(e.got)))
		}
	}
	done, err := e.finish()
	if err != nil {
		return err
	}
	if done && !e.done {
		e.done, e.doneCycle, e.finalState = true, now, e.s.State()
	}
	return nil
}

// position names the part of the stream at byte offset i.
func (e *helloEnd) position(i int) string {
	g := len(Greeting(e.peer.Node))
	if i < g {
		return fmt.Sprintf("greeting byte %d", i)
	}
	return fmt.Sprintf("message %d byte %d", (i-g)/HelloMessageLen, (i-g)%HelloMessageLen)
}

// check appends received bytes and compares them with what the peer must send.
func (e *helloEnd) check(p []byte) error {
	start := len(e.got)
	if start+len(p) > len(e.want) {
		return fmt.Errorf("%w: %d bytes after the peer's last message", ErrUnexpected, start+len(p)-len(e.want))
	}
	e.got = append(e.got, p...)
	i := start
	for i < len(e.got) && e.got[i] == e.want[i] {
		i++
	}
	if i == len(e.got) {
		return nil
	}
	g := len(Greeting(e.peer.Node))
	if i < g {
		return fmt.Errorf("%w: greeting %q, want %q", ErrUnexpected, e.got[:min(len(e.got), g)], e.want[:g])
	}
	k := (i - g) / HelloMessageLen
	lo := g + k*HelloMessageLen
	if len(e.got) < lo+HelloMessageLen {
		return fmt.Errorf("%w: %s is %#02x, want %#02x", ErrUnexpected, e.position(i), e.got[i], e.want[i])
	}
	var got, want HelloMessage
	_ = want.UnmarshalBinary(e.want[lo : lo+HelloMessageLen])
	if err := got.UnmarshalBinary(e.got[lo : lo+HelloMessageLen]); err != nil {
		return fmt.Errorf("message %d: %w", k, err)
	}
	return fmt.Errorf("%w: message %d is %+v, want %+v", ErrUnexpected, k, got, want)
}

// Results returns what every link end saw, in endpoint order.
func (h *Hello) Results() []HelloResult {
	var rs []HelloResult
	for _, ep := range h.order {
		e := h.ends[ep]
		final := e.finalState
		if !e.done {
			final = e.s.State()
		}
		rs = append(rs, HelloResult{Local: e.local, Peer: e.peer, OpenState: e.openState,
			Sent: slices.Clone(e.sent), Received: slices.Clone(e.got), EOFCycle: e.eofCycle,
			DoneCycle: e.doneCycle, FinalState: final})
	}
	return rs
}

// Verify returns nil if every end received exactly what its peer had to send and closed.
func (h *Hello) Verify() error {
	if len(h.order) == 0 {
		return errors.New("hello: no connection was opened")
	}
	for _, ep := range h.order {
		e := h.ends[ep]
		switch {
		case !bytes.Equal(e.got, e.want):
			return fmt.Errorf("hello on link end %v: received %q, want %q", ep, e.got, e.want)
		case !e.done:
			return fmt.Errorf("hello on link end %v: not closed (TCP %v)", ep, e.s.State())
		}
	}
	return nil
}

// Pending describes the first end that has not finished, for timeout messages.
func (h *Hello) Pending() string {
	for _, ep := range h.order {
		e := h.ends[ep]
		if !e.done {
			return fmt.Sprintf("hello on link end %v: sent %d of %d bytes, received %d of %d, eof %v, closed %v (TCP %v)",
				ep, len(e.sent)-len(e.out), len(e.sent), len(e.got), len(e.want), e.eof, e.closed, e.s.State())
		}
	}
	return "hello: waiting for connections"
}

// stream is the part of a TCP connection the scenario apps use; *bridge.Conn satisfies it. Its
// methods never block (netstack.Conn's contract).
type stream interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	CloseWrite() error
	Close()
	State() netstack.State
}

var _ stream = (*bridge.Conn)(nil)

// wire is the byte-stream plumbing of one link end of a scenario app: a queue of bytes
// not yet taken by the send buffer, reads handed to a parser, and the close handshake.
type wire struct {
	s        stream
	out      []byte // queued, not yet taken by the send buffer
	lastWord bool   // nothing more will be queued: CloseWrite once out is empty
	shut     bool   // CloseWrite called
	eof      bool   // the peer's end of stream arrived
	closed   bool   // Close called
}

// flush moves queued bytes into the send buffer, as many as it takes.
func (w *wire) flush() error {
	for len(w.out) > 0 {
		n, err := w.s.Write(w.out)
		w.out = w.out[n:]
		if errors.Is(err, netstack.ErrWouldBlock) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

// shutdown sends the FIN once the last bytes are queued and taken.
func (w *wire) shutdown() error {
	if w.shut || !w.lastWord || len(w.out) > 0 {
		return nil
	}
	if err := w.s.CloseWrite(); err != nil {
		return fmt.Errorf("close write: %w", err)
	}
	w.shut = true
	return nil
}

// receive reads everything that arrived and hands it to deliver, until the connection
// would block or the peer's end of stream.
func (w *wire) receive(buf []byte, deliver func([]byte) error) error {
	for !w.eof {
		n, err := w.s.Read(buf)
		if n > 0 {
			if derr := deliver(buf[:n]); derr != nil {
				return derr
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			w.eof = true
		case errors.Is(err, netstack.ErrWouldBlock):
			return nil
		case err != nil:
			return fmt.Errorf("read: %w", err)
		case n == 0:
			return nil
		}
	}
	return nil
}

// finish closes the connection once both directions ended and reports whether the close
// completed: our FIN acknowledged and the peer's received (TIME-WAIT or CLOSED).
func (w *wire) finish() (bool, error) {
	if w.shut && w.eof && !w.closed {
		w.s.Close()
		w.closed = true
	}
	if !w.closed {
		return false, nil
	}
	switch st := w.s.State(); st {
	case netstack.StateTimeWait, netstack.StateClose:
		return true, nil
	case netstack.StateError:
		return false, fmt.Errorf("close failed (TCP %v)", st)
	}
	return false, nil
}

// insertEndpoint inserts e into the sorted list eps, ordered by node then port.
func insertEndpoint(eps []hw.Endpoint, e hw.Endpoint) []hw.Endpoint {
	i, _ := slices.BinarySearchFunc(eps, e, compareEndpoints)
	return slices.Insert(eps, i, e)
}

// compareEndpoints orders endpoints by node, then port.
func compareEndpoints(a, b hw.Endpoint) int {
	if a.Node != b.Node {
		return a.Node - b.Node
	}
	return a.Port - b.Port
}
