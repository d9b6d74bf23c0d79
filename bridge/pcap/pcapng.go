package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// pcapng block types and option codes (draft-ietf-opsawg-pcapng).
const (
	blockSHB = 0x0A0D0D0A // section header
	blockIDB = 0x00000001 // interface description
	blockNRB = 0x00000004 // name resolution
	blockEPB = 0x00000006 // enhanced packet

	byteOrderMagic = 0x1A2B3C4D

	optEnd         = 0
	optShbUserAppl = 4
	optIfName      = 2
	optIfDesc      = 3
	optIfTsresol   = 9

	nrbEnd  = 0
	nrbIPv4 = 1
	nrbIPv6 = 2
)

// Interface describes the one interface of a pcapng file: its name (if_name, which
// Wireshark shows as the capture interface) and a description (if_description).
type Interface struct {
	Name        string
	Description string
}

// Name maps an address to a name in the file's name resolution block, which Wireshark
// and tshark show in place of the address when name resolution from the capture file is
// on (tshark -N n... or Wireshark's "Use captured DNS packet data", on by default).
type Name struct {
	Addr netip.Addr
	Name string
}

// NgWriter writes a pcapng file of raw IP packets: one section, one interface of link
// type LINKTYPE_RAW with nanosecond timestamps, name resolution blocks, and an enhanced
// packet block per packet. Like Writer, its bytes depend only on what it is given. It is
// not safe for concurrent use.
type NgWriter struct {
	w   io.Writer
	buf []byte
}

// NewNgWriter writes the section header and the interface description to w.
func NewNgWriter(w io.Writer, iface Interface, app string) (*NgWriter, error) {
	ng := &NgWriter{w: w}
	le := binary.LittleEndian
	// Section header: byte-order magic, version 1.0, section length unknown (-1).
	body := le.AppendUint32(nil, byteOrderMagic)
	body = le.AppendUint16(body, 1)
	body = le.AppendUint16(body, 0)
	body = le.AppendUint64(body, ^uint64(0))
	if app != "" {
		body = appendOption(body, optShbUserAppl, []byte(app))
	}
	body = appendOption(body, optEnd, nil)
	if err := ng.block(blockSHB, body); err != nil {
		return nil, fmt.Errorf("write pcapng section header: %w", err)
	}
	body = le.AppendUint16(nil, LinkTypeRaw)
	body = le.AppendUint16(body, 0)
	body = le.AppendUint32(body, SnapLen)
	if iface.Name != "" {
		body = appendOption(body, optIfName, []byte(iface.Name))
	}
	if iface.Description != "" {
		body = appendOption(body, optIfDesc, []byte(iface.Description))
	}
	body = appendOption(body, optIfTsresol, []byte{9}) // 10^-9 s
	body = appendOption(body, optEnd, nil)
	if err := ng.block(blockIDB, body); err != nil {
		return nil, fmt.Errorf("write pcapng interface description: %w", err)
	}
	return ng, nil
}

// WriteNames writes a name resolution block with names. Names with an invalid or
// unmapped address are refused.
func (ng *NgWriter) WriteNames(names []Name) error {
	le := binary.LittleEndian
	var body []byte
	for _, n := range names {
		a := n.Addr.Unmap()
		if !a.IsValid() || n.Name == "" {
			return fmt.Errorf("pcapng name %q for %v: want a valid address and a name", n.Name, n.Addr)
		}
		typ := uint16(nrbIPv4)
		if a.Is6() {
			typ = nrbIPv6
		}
		v := append(a.AsSlice(), append([]byte(n.Name), 0)...)
		body = le.AppendUint16(body, typ)
		body = le.AppendUint16(body, uint16(len(v)))
		body = append(body, v...)
		body = pad4(body)
	}
	body = le.AppendUint16(body, nrbEnd)
	body = le.AppendUint16(body, 0)
	if err := ng.block(blockNRB, body); err != nil {
		return fmt.Errorf("write pcapng names: %w", err)
	}
	return nil
}

// WritePacket writes one packet with a timestamp of tsNanos nanoseconds of simulated time,
// as Writer.WritePacket does; pcapng's 64-bit timestamps hold any non-negative time.
func (ng *NgWriter) WritePacket(tsNanos int64, pkt []byte) error {
	if tsNanos < 0 {
		return fmt.Errorf("write pcapng packet at %d ns: %w", tsNanos, ErrTimestamp)
	}
	incl := min(len(pkt), SnapLen)
	le := binary.LittleEndian
	b := le.AppendUint32(ng.buf[:0], blockEPB)
	b = le.AppendUint32(b, 0) // the total length, below
	b = le.AppendUint32(b, 0) // interface 0
	b = le.AppendUint32(b, uint32(uint64(tsNanos)>>32))
	b = le.AppendUint32(b, uint32(tsNanos))
	b = le.AppendUint32(b, uint32(incl))
	b = le.AppendUint32(b, uint32(len(pkt)))
	b = pad4(append(b, pkt[:incl]...))
	ng.buf = b
	if err := ng.write(b); err != nil {
		return fmt.Errorf("write pcapng packet at %d ns: %w", tsNanos, err)
	}
	return nil
}

// block writes one block of type typ around body (a multiple of 4 bytes).
func (ng *NgWriter) block(typ uint32, body []byte) error {
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = append(append(b, 0, 0, 0, 0), body...)
	return ng.write(b)
}

// write completes block b (its type, a length field to fill, its body) with its total
// length at both ends, and writes it in one call: a packet's block is built in place.
func (ng *NgWriter) write(b []byte) error {
	n := uint32(len(b) + 4)
	binary.LittleEndian.PutUint32(b[4:], n)
	_, err := ng.w.Write(binary.LittleEndian.AppendUint32(b, n))
	return err
}

func appendOption(b []byte, code uint16, v []byte) []byte {
	le := binary.LittleEndian
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return pad4(b)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// Packet is one packet of a capture: its timestamp in nanoseconds and its bytes.
type Packet struct {
	TsNanos int64
	Data    []byte
}

// ReadNg reads the packets of a pcapng file as NgWriter writes it (one section, little
// endian, interfaces with nanosecond timestamps): the enhanced packet blocks' timestamps
// and captured bytes, in order. Other blocks are skipped.
func ReadNg(r io.Reader) ([]Packet, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	var out []Packet
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			return nil, fmt.Errorf("pcapng: %d bytes at offset %d are not a block", len(b)-off, off)
		}
		typ, n := le.Uint32(b[off:]), int(le.Uint32(b[off+4:]))
		if n < 12 || n%4 != 0 || n > len(b)-off || int(le.Uint32(b[off+n-4:])) != n {
			return nil, fmt.Errorf("pcapng: bad block length %d at offset %d", n, off)
		}
		if off == 0 && (typ != blockSHB || le.Uint32(b[8:]) != byteOrderMagic) {
			return nil, errors.New("pcapng: not a little-endian pcapng file")
		}
		if typ == blockEPB {
			body := b[off+8 : off+n-4]
			if len(body) < 20 || int(le.Uint32(body[12:])) > len(body)-20 {
				return nil, fmt.Errorf("pcapng: bad packet block at offset %d", off)
			}
			ts := int64(uint64(le.Uint32(body[4:]))<<32 | uint64(le.Uint32(body[8:])))
			incl := le.Uint32(body[12:])
			out = append(out, Packet{TsNanos: ts, Data: append([]byte(nil), body[20:20+incl]...)})
		}
		off += n
	}
	return out, nil
}
