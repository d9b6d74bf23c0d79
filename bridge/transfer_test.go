package bridge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/app"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/hw"
)

// TestReliability moves data over both framings while the links flip bits (up to 1e-5 per
// bit) and the devices drop frames (up to 5 %), on several seeds: every byte must arrive
// intact. It logs, per framing, how many corrupted reads the framing caught, how many
// corrupted frames it let through to the stack and how many IP/TCP then dropped.
func TestReliability(t *testing.T) {
	tests := []struct {
		name string
		kind framing.Codec
		ber  float64
		drop float64
	}{
		{"crc/ber1e-5", framing.CRC, 1e-5, 0},
		{"crc/drop5%", framing.CRC, 0, 0.05},
		{"crc/ber1e-6+drop2%", framing.CRC, 1e-6, 0.02},
		{"ip/ber1e-5", framing.IP, 1e-5, 0},
		{"ip/drop5%", framing.IP, 0, 0.05},
		{"ip/ber1e-6+drop2%", framing.IP, 1e-6, 0.02},
	}
	type tally struct{ caught, corrupted, stack, frames uint64 }
	tallies := map[framing.Codec]*tally{framing.CRC: {}, framing.IP: {}}
	for _, tt := range tests {
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("%s/seed%d", tt.name, seed), func(t *testing.T) {
				rep, err := runTransfer(t, transferCase{depth: 256, latency: 16, seed: seed, framing: tt.kind,
					ber: tt.ber, drop: tt.drop, bytes: 128 << 10, cost: bridge.DefaultCost})
				if err != nil {
					t.Fatalf("transfer failed: %v", err)
				}
				if !rep.SHA256Match || rep.BytesReceived != 2*128<<10 {
					t.Fatalf("got %d bytes, sha256 match %v; want %d intact", rep.BytesReceived, rep.SHA256Match, 2*128<<10)
				}
				var dropped, caught uint64
				ta := tallies[tt.kind]
				for _, l := range rep.Links {
					dropped += l.Frames.Dropped
					caught += l.Frames.BadCRC + l.Frames.BadLength + l.Frames.Unconfirmed
					ta.frames += l.Frames.Accepted
				}
				if tt.drop > 0 && dropped == 0 {
					t.Errorf("drop rate %v: no frame dropped", tt.drop)
				}
				if tt.ber >= 1e-5 && caught == 0 {
					t.Errorf("BER %v: the framing caught no corrupted read", tt.ber)
				}
				if rep.CorruptedAccepted != 0 {
					t.Errorf("%v framing let %d corrupted frames through, want 0", tt.kind, rep.CorruptedAccepted)
				}
				ta.caught += caught
				ta.corrupted += rep.CorruptedAccepted
				ta.stack += rep.StackDropped
				t.Logf("%d cycles, %d retransmissions, caught by the framing %d, dropped %d, corrupted accepted %d, IP/TCP drops %d",
					rep.Cycles, rep.TCPRetransmissions, caught, dropped, rep.CorruptedAccepted, rep.StackDropped)
			})
		}
	}
	for _, k := range []framing.Codec{framing.CRC, framing.IP} {
		ta := tallies[k]
		t.Logf("%s framing: %d frames accepted; %d corrupted reads caught by the framing, %d let through to the stack, %d dropped by IP/TCP",
			k, ta.frames, ta.caught, ta.corrupted, ta.stack)
	}
}

// TestSeedFramingReadOnce runs the seed framing's receiver as the design note describes it
// (take a packet on its first read, leave corruption to IP and TCP) at a bit-error rate of
// 1e-5: corrupted frames reach the stack and its checksums catch most but not all of
// them; the report counts both. This is why the default ip receiver confirms each packet
// with a second read.
func TestSeedFramingReadOnce(t *testing.T) {
	var through, caught uint64
	for _, seed := range []uint64{1, 2} {
		topo := hw.Pair(16)
		for i := range topo.Links {
			topo.Links[i].Faults = hw.Faults{BitFlip: 1e-5}
		}
		e := machine(t, hw.Config{Topology: topo, Depth: 256, Seed: seed})
		rt, err := bridge.New(bridge.Config{Machine: e, Wiring: topo.Wiring(), Framing: framing.IP,
			Cost: bridge.DefaultCost, Seed: seed, IPReadOnce: true, App: app.NewTransfer(64<<10, seed),
			Deadline: 200_000_000})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := rt.Run(context.Background())
		t.Logf("seed %d: %d corrupted frames let through, %d dropped by IP/TCP, sha256 match %v (%v)",
			seed, rep.CorruptedAccepted, rep.StackDropped, rep.SHA256Match, err)
		through += rep.CorruptedAccepted
		caught += rep.StackDropped
	}
	if through == 0 {
		t.Fatalf("no corrupted frame reached the stack at BER 1e-5: the read-once receiver is not exercised")
	}
	if caught == 0 {
		t.Errorf("IP/TCP dropped none of %d corrupted frames", through)
	}
}

// TestDeterminism runs the same job twice: the same seed gives the same pcap bytes and
// the same report (wall-clock fields aside); another seed gives different ones.
func TestDeterminism(t *testing.T) {
	run := func(seed uint64) (map[string][]byte, []byte) {
		dir := t.TempDir()
		rep, err := runTransfer(t, transferCase{depth: 256, latency: 16, seed: seed, framing: framing.CRC,
			ber: 1e-6, drop: 0.01, bytes: 64 << 10, cost: bridge.DefaultCost, pcapDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = b
		}
		if len(files) != 2 {
			t.Fatalf("got %d pcap files, want 2", len(files))
		}
		return files, stableJSON(t, rep)
	}
	p1, j1 := run(5)
	p2, j2 := run(5)
	p3, j3 := run(6)
	names := make([]string, 0, len(p1))
	for n := range p1 {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !bytes.Equal(p1[n], p2[n]) {
			t.Errorf("seed 5 twice: %s differs (%d and %d bytes)", n, len(p1[n]), len(p2[n]))
		}
		if bytes.Equal(p1[n], p3[n]) {
			t.Errorf("seeds 5 and 6: %s is the same", n)
		}
		if len(p1[n]) < 10_000 {
			t.Errorf("%s has %d bytes: too small for a 64 KiB transfer", n, len(p1[n]))
		}
	}
	if !bytes.Equal(j1, j2) {
		t.Errorf("seed 5 twice: reports differ:\n%s\n---\n%s", j1, j2)
	}
	if bytes.Equal(j1, j3) {
		t.Errorf("seeds 5 and 6: reports are the same")
	}
}

// TestZeroCost runs with a CPU that takes no time at all: only bus cycles count. Alignment
// and the transfer must still work.
func TestZeroCost(t *testing.T) {
	rep, err := runTransfer(t, transferCase{depth: 256, latency: 16, seed: 3, framing: framing.CRC,
		bytes: 64 << 10, cost: bridge.Cost{}})
	if err != nil {
		t.Fatalf("zero-cost CPU: %v", err)
	}
	if len(rep.Links) != 2 || rep.Links[0].AlignedCycle == 0 || rep.Links[1].AlignedCycle == 0 {
		t.Errorf("links not aligned: %+v", rep.Links)
	}
}

// TestAlignmentGuard shows the SPEC's pitfall and the guard: node 1's CPU is slow (it
// polls every 3000 cycles) and node 0 opens TCP the moment its link is aligned. Without
// the guard node 0's SYN reaches node 1's RX word 0 before node 1 saw the zero word it
// waits for, and node 1 never leaves WaitingForZeroes: the stall detector says so as soon
// as node 1 reads the SYN's word there, long before the alignment timeout. With the
// default guard sized for that polling period, both align and connect.
func TestAlignmentGuard(t *testing.T) {
	slow := bridge.Cost{Poll: 3000, PerByte16: 16, PerPacket: 300}
	const depth, latency = 256, 16
	tests := []struct {
		name  string
		guard int64
		ok    bool
	}{
		{"no guard", -1, false},
		{"guard", int64(bridge.GuardCycles(depth, latency, slow)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo := hw.Pair(latency)
			e := machine(t, hw.Config{Topology: topo, Depth: depth, Seed: 1, Release: []uint64{0, 0}})
			rt, err := bridge.New(bridge.Config{Machine: e, Wiring: topo.Wiring(), Framing: framing.CRC,
				Cost: bridge.DefaultCost, NodeCost: map[int]bridge.Cost{1: slow}, Guard: tt.guard,
				Addressing: bridge.Upstream, Seed: 1, AlignTimeout: 2_000_000, Deadline: 5_000_000})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := rt.Run(context.Background())
			if tt.ok {
				if err != nil {
					t.Fatalf("with the guard: %v", err)
				}
				return
			}
			if !errors.Is(err, bridge.ErrStalled) || rep.Stall == nil || rep.Stall.Cause != bridge.StallHeldZeroes {
				t.Fatalf("without the guard: got %v (stall %+v), want an endless WaitingForZeroes; links %+v", err, rep.Stall, rep.Links)
			}
			w := rep.Stall.Chain[0]
			if w.Node != 1 || w.Port != 0 || w.Phase != bridge.WaitingForZeroes.String() || !strings.Contains(w.WaitsFor, "node 0 port 0 sends packets since cycle") {
				t.Errorf("without the guard: chain starts with %v, want node 1 port 0 in WaitingForZeroes held by node 0's packets", w)
			}
			if rep.Stall.Cycle >= 2_000_000 {
				t.Errorf("diagnosed at cycle %d, want before the alignment timeout (2000000)", rep.Stall.Cycle)
			}
			t.Logf("without the guard:\n%s", rep.Stall)
		})
	}
}

// failingCapture is a packet capture whose disk fills after n packets.
type failingCapture struct{ n int }

func (f *failingCapture) WritePacket(int64, []byte) error {
	if f.n == 0 {
		return errors.New("disk full")
	}
	f.n--
	return nil
}

func (*failingCapture) Close() error { return nil }

// TestCaptureFailureFailsRun checks that a capture that could not write every packet fails
// the run with the link end and the cause, instead of leaving a short pcap behind a pass.
func TestCaptureFailureFailsRun(t *testing.T) {
	topo := hw.Pair(16)
	e := machine(t, hw.Config{Topology: topo, Depth: 64, Seed: 1})
	a := app.NewTransfer(4096, 1)
	cfg := bridge.Config{Machine: e, Wiring: topo.Wiring(), Cost: bridge.DefaultCost, Seed: 1, App: a,
		Deadline: 50_000_000, LinkLatency: 16,
		Pcap: func(hw.Endpoint, float64) (bridge.PacketWriter, error) { return &failingCapture{n: 3}, nil }}
	rt, err := bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rt.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "capture of link end") || !strings.Contains(err.Error(), "disk full") ||
		rep == nil || rep.Error != err.Error() {
		t.Fatalf("run error %v (report %v): want the capture's failure", err, rep)
	}
}
