package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNgBlocks checks the pcapng layout: every block starts and ends with its total length,
// a multiple of 4, and the blocks come as section header, interface, names, packet.
func TestNgBlocks(t *testing.T) {
	var b bytes.Buffer
	w, err := NewNgWriter(&b, Interface{Name: "node0-port0", Description: "a link"}, "ringsim")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteNames([]Name{{netip.MustParseAddr("10.0.0.1"), "node0-port0"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(5_000_000_000_123, []byte{0x45, 1, 2}); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	data := b.Bytes()
	var types []uint32
	for len(data) > 0 {
		if len(data) < 12 {
			t.Fatalf("%d bytes left, want a whole block", len(data))
		}
		typ, n := le.Uint32(data), le.Uint32(data[4:])
		if n%4 != 0 || int(n) > len(data) || le.Uint32(data[n-4:]) != n {
			t.Fatalf("block %#x: length %d (trailer %d), %d bytes left", typ, n, le.Uint32(data[n-4:]), len(data))
		}
		if typ == blockEPB {
			if hi, lo := le.Uint32(data[12:]), le.Uint32(data[16:]); uint64(hi)<<32|uint64(lo) != 5_000_000_000_123 {
				t.Errorf("packet timestamp %d, want 5000000000123 ns", uint64(hi)<<32|uint64(lo))
			}
		}
		types = append(types, typ)
		data = data[n:]
	}
	if diff := cmp.Diff([]uint32{blockSHB, blockIDB, blockNRB, blockEPB}, types); diff != "" {
		t.Errorf("block types (-want +got):\n%s", diff)
	}
	if err := w.WritePacket(-1, []byte{0x45}); !errors.Is(err, ErrTimestamp) {
		t.Errorf("negative timestamp: %v, want ErrTimestamp", err)
	}
	if err := w.WriteNames([]Name{{Name: "x"}}); err == nil {
		t.Error("a name without an address: no error")
	}
}

// TestNgTshark checks that tshark reads a pcapng file as ringsim writes it: the interface's
// name and description, each address resolved to its name from the file (-N n), and the
// simulated timestamps to the nanosecond. CI installs tshark (scripts/setup.sh); without
// it the test fails rather than pass unchecked.
func TestNgTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark not installed (%v): scripts/setup.sh installs it", err)
	}
	path := filepath.Join(t.TempDir(), "node0-port0.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewNgWriter(f, Interface{Name: "node0-port0", Description: "ringsim link end node 0 port 0"}, "ringsim")
	if err != nil {
		t.Fatal(err)
	}
	a, b := [4]byte{10, 1, 2, 3}, [4]byte{10, 4, 5, 6}
	if err := w.WriteNames([]Name{{netip.AddrFrom4(a), "node0-port0"}, {netip.AddrFrom4(b), "node1-port0"}}); err != nil {
		t.Fatal(err)
	}
	stamps := []int64{1_000, 5_234_567_891_000} // the second past 2^32 ns
	for i, ts := range stamps {
		src, dst := a, b
		if i == 1 {
			src, dst = b, a
		}
		if err := w.WritePacket(ts, ipv4UDP(src, dst, fmt.Sprint("packet ", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-r", path, "-N", "n", "-T", "fields", "-e", "frame.interface_name",
		"-e", "frame.interface_description", "-e", "ip.src_host", "-e", "ip.dst_host", "-e", "frame.time_epoch")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.Bytes())
	}
	want := []string{
		"node0-port0\tringsim link end node 0 port 0\tnode0-port0\tnode1-port0\t0.000001000",
		"node0-port0\tringsim link end node 0 port 0\tnode1-port0\tnode0-port0\t5234.567891000",
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tshark fields (-want +got):\n%s\nstderr:\n%s", diff, stderr.Bytes())
	}
}
