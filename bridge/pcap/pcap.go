// Package pcap writes raw IP packets to a pcap file stamped with simulated time, so
// that the same run gives the same file byte for byte.
//
// The file is classic pcap (not pcapng) in little-endian byte order, with nanosecond
// timestamps (magic 0xa1b23c4d), link type LINKTYPE_RAW (101: each record is an IPv4
// or IPv6 packet with no link header) and a snapshot length of 65535. Wireshark,
// tshark and tcpdump read it.
package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// Magic is the magic number of a pcap file with nanosecond timestamps.
	Magic = 0xa1b23c4d
	// VersionMajor is the major part of the pcap format version written (2.4).
	VersionMajor = 2
	// VersionMinor is the minor part of the pcap format version written.
	VersionMinor = 4
	// SnapLen is the longest packet stored whole; longer ones are cut to it, with
	// their original length recorded.
	SnapLen = 65535
	// LinkTypeRaw is LINKTYPE_RAW: records start with an IPv4 or IPv6 header.
	LinkTypeRaw = 101
	// FileHeaderLen is the length of the file header.
	FileHeaderLen = 24
	// RecordHeaderLen is the length of the header before each packet.
	RecordHeaderLen = 16
)

// maxSeconds is the largest timestamp the 32-bit seconds field holds.
const maxSeconds = 1<<32 - 1

var (
	// ErrTimestamp reports a timestamp the format cannot hold: negative, or past
	// 2^32 seconds.
	ErrTimestamp = errors.New("timestamp out of range")
)

// Writer writes a pcap file of raw IP packets. It is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte // record header and packet, so that a record is one Write
}

// NewWriter writes the pcap file header to w and returns a Writer for the packets.
// Buffering, if any, is the caller's: wrap a file in a bufio.Writer and flush it when
// done.
func NewWriter(w io.Writer) (*Writer, error) {
	var h [FileHeaderLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:4], Magic)
	le.PutUint16(h[4:6], VersionMajor)
	le.PutUint16(h[6:8], VersionMinor)
	// h[8:16]: time zone offset and timestamp accuracy, both 0.
	le.PutUint32(h[16:20], SnapLen)
	le.PutUint32(h[20:24], LinkTypeRaw)
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("write pcap file header: %w", err)
	}
	return &Writer{w: w}, nil
}

// WritePacket writes one packet with a timestamp of tsNanos nanoseconds of simulated
// time (the simulation's cycle count over its clock frequency, never the wall clock),
// which is shown as that long after the Unix epoch. A packet longer than SnapLen is
// cut to SnapLen bytes. pkt is not kept. It fails with ErrTimestamp when tsNanos is
// negative or 2^32 seconds or more, and with the underlying writer's error.
func (w *Writer) WritePacket(tsNanos int64, pkt []byte) error {
	const nano = 1_000_000_000
	if tsNanos < 0 || tsNanos/nano > maxSeconds {
		return fmt.Errorf("write pcap packet at %d ns: %w", tsNanos, ErrTimestamp)
	}
	incl := min(len(pkt), SnapLen)
	le := binary.LittleEndian
	w.buf = le.AppendUint32(w.buf[:0], uint32(tsNanos/nano))
	w.buf = le.AppendUint32(w.buf, uint32(tsNanos%nano))
	w.buf = le.AppendUint32(w.buf, uint32(incl))
	w.buf = le.AppendUint32(w.buf, uint32(len(pkt)))
	w.buf = append(w.buf, pkt[:incl]...)
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("write pcap packet at %d ns: %w", tsNanos, err)
	}
	return nil
}
