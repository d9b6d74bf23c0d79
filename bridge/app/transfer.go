package app

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"sort"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/netstack"
	"github.com/ringsim/ringsim/hw"
)

// Transfer is the main job's application: on every link, each end sends Bytes bytes of
// seeded pseudo-random data while it receives the peer's, then checks the SHA-256 of what
// arrived against the peer's data, and closes the connection.
type Transfer struct {
	Bytes int64
	Seed  uint64

	ends     map[hw.Endpoint]*transferEnd
	order    []hw.Endpoint
	start    uint64 // first step: all connections established
	recvDone uint64 // every byte arrived on every link
	end      uint64 // every connection closed
}

type transferEnd struct {
	c        *bridge.Conn
	src      *rand.ChaCha8 // the data this end sends
	buf      []byte        // generated but not yet accepted by the send buffer
	sent     int64
	sum      hash.Hash // SHA-256 of what this end sent
	recvSum  hash.Hash // SHA-256 of what arrived
	received int64
	eof      bool
	shut     bool
	closed   bool
	rbuf     []byte
}

// NewTransfer returns a transfer of n bytes each way on every link.
func NewTransfer(n int64, seed uint64) *Transfer {
	return &Transfer{Bytes: n, Seed: seed, ends: map[hw.Endpoint]*transferEnd{}}
}

func (t *Transfer) dataSeed(e hw.Endpoint) [32]byte {
	var s [32]byte
	h := sha256.Sum256([]byte(fmt.Sprintf("ringsim transfer %d %d %d", t.Seed, e.Node, e.Port)))
	copy(s[:], h[:])
	return s
}

// Open implements bridge.App.Open.
func (t *Transfer) Open(c *bridge.Conn) error {
	e := &transferEnd{c: c, src: rand.NewChaCha8(t.dataSeed(c.Local)), sum: sha256.New(),
		recvSum: sha256.New(), rbuf: make([]byte, 64<<10)}
	t.ends[c.Local] = e
	t.order = append(t.order, c.Local)
	sort.Slice(t.order, func(i, j int) bool {
		a, b := t.order[i], t.order[j]
		return a.Node < b.Node || a.Node == b.Node && a.Port < b.Port
	})
	return nil
}

// Step implements bridge.App.Step: it feeds every send buffer, drains every receive buffer, and
// closes each direction when done.
func (t *Transfer) Step(now uint64) (bool, error) {
	if t.start == 0 {
		t.start = now
	}
	finished, received := true, true
	for _, ep := range t.order {
		e := t.ends[ep]
		if err := t.pump(e); err != nil {
			return false, fmt.Errorf("link end %v: %w", ep, err)
		}
		finished = finished && e.closed
		received = received && e.received == t.Bytes
	}
	if received && t.recvDone == 0 {
		t.recvDone = now
	}
	if finished && t.end == 0 {
		t.end = now
	}
	return finished, nil
}

func (t *Transfer) pump(e *transferEnd) error {
	for e.sent < t.Bytes {
		if len(e.buf) == 0 {
			n := min(int64(32<<10), t.Bytes-e.sent)
			e.buf = make([]byte, n)
			e.src.Read(e.buf)
			e.sum.Write(e.buf)
		}
		n, err := e.c.Write(e.buf)
		e.sent += int64(n)
		e.buf = e.buf[n:]
		if errors.Is(err, netstack.ErrWouldBlock) {
			break
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if e.sent == t.Bytes && !e.shut {
		if err := e.c.CloseWrite(); err != nil {
			return fmt.Errorf("close write: %w", err)
		}
		e.shut = true
	}
	for !e.eof {
		n, err := e.c.Read(e.rbuf)
		e.recvSum.Write(e.rbuf[:n])
		e.received += int64(n)
		if errors.Is(err, io.EOF) {
			e.eof = true
			break
		}
		if errors.Is(err, netstack.ErrWouldBlock) {
			break
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if e.received > t.Bytes {
			return fmt.Errorf("received %d bytes, more than the %d sent", e.received, t.Bytes)
		}
	}
	if e.eof && e.shut && !e.closed {
		e.c.Close()
		e.closed = true
	}
	return nil
}

// Progress reports bytes received so far and expected, on all links.
func (t *Transfer) Progress() (int64, int64) {
	var done int64
	for _, e := range t.ends {
		done += e.received
	}
	return done, t.Bytes * int64(len(t.ends))
}

// Pending describes the ends that have not finished.
func (t *Transfer) Pending() string {
	for _, ep := range t.order {
		e := t.ends[ep]
		if !e.closed {
			return fmt.Sprintf("link end %v: sent %d of %d bytes, received %d, eof %v (TCP %v)",
				ep, e.sent, t.Bytes, e.received, e.eof, e.c.State())
		}
	}
	return "waiting for connections"
}

// Verify compares what every end received with what its peer sent. It returns nil if all
// of it arrived intact.
func (t *Transfer) Verify() error {
	for _, ep := range t.order {
		e := t.ends[ep]
		peer, ok := t.ends[e.c.Peer]
		if !ok {
			return fmt.Errorf("link end %v: peer %v never connected", ep, e.c.Peer)
		}
		if e.received != t.Bytes {
			return fmt.Errorf("link end %v: received %d bytes, want %d", ep, e.received, t.Bytes)
		}
		if !bytes.Equal(e.recvSum.Sum(nil), peer.sum.Sum(nil)) {
			return fmt.Errorf("link end %v: SHA-256 of the received data %x differs from the sent data's %x",
				ep, e.recvSum.Sum(nil), peer.sum.Sum(nil))
		}
	}
	return nil
}

// Summary implements the report hook.
func (t *Transfer) Summary() bridge.AppSummary {
	s := bridge.AppSummary{Start: t.start, End: t.recvDone, Closed: t.end}
	for _, e := range t.ends {
		s.BytesSent += e.sent
		s.BytesReceived += e.received
	}
	s.SHA256Match = len(t.ends) > 0 && t.Verify() == nil
	return s
}
