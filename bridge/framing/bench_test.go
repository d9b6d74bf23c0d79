package framing

import "testing"

// benchPacketLen is the largest packet the CRC framing carries in a buffer of 188 words
// or more.
const benchPacketLen = 1492

// reportPackets adds a packets/s figure next to ns/op and MB/s.
func reportPackets(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
}

func BenchmarkEncode(b *testing.B) {
	for _, k := range []Codec{CRC, IP} {
		for _, withWrites := range []bool{false, true} {
			name := k.String()
			if withWrites {
				name += "/writes32" // and the bus writes a driver issues
			}
			b.Run(name, func(b *testing.B) {
				e := mustEncoder(b, k, 200)
				pkt := ipv4Packet(benchPacketLen, 0)
				var buf []byte
				var writes []Write32
				b.SetBytes(benchPacketLen)
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					f, err := e.Encode(buf, pkt)
					if err != nil {
						b.Fatal(err)
					}
					buf = f.Data
					if withWrites {
						writes = f.Writes32(writes[:0])
					}
					n++
				}
				reportPackets(b, n)
				if withWrites {
					b.ReportMetric(float64(len(writes)), "writes32/packet")
				}
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, k := range []Codec{CRC, IP} {
		e := mustEncoder(b, k, 200)
		// Two different frames, so every Decode accepts one.
		frames := [2][]byte{
			mustEncode(b, e, ipv4Packet(benchPacketLen, 0)).Data,
			mustEncode(b, e, ipv4Packet(benchPacketLen, 1)).Data,
		}
		b.Run(k.String()+"/accept", func(b *testing.B) {
			d := mustDecoder(b, k, 200)
			b.SetBytes(benchPacketLen)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				frame := frames[n&1]
				if _, err := d.FrameLen(frame[:HeaderLen]); err != nil {
					b.Fatal(err)
				}
				if _, v := d.Decode(frame); v != Accepted {
					b.Fatalf("got %v, want %v", v, Accepted)
				}
				n++
			}
			reportPackets(b, n)
		})
		// Polling an unchanged buffer: CRC tells from the header, IP compares the
		// whole packet.
		b.Run(k.String()+"/repeat", func(b *testing.B) {
			d := mustDecoder(b, k, 200)
			if _, v := d.Decode(frames[0]); v != Accepted {
				b.Fatalf("got %v, want %v", v, Accepted)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if l, err := d.FrameLen(frames[0][:HeaderLen]); err == nil {
					d.Decode(frames[0][:l])
				}
				n++
			}
			reportPackets(b, n)
			if got := d.Stats().Repeats; got != uint64(n) {
				b.Fatalf("got %d repeats, want %d", got, n)
			}
		})
	}
}
