package job

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/internal/htmlreport"
	"github.com/ringsim/ringsim/internal/svgplot"
)

// WriteHTML writes the job's report as one self-contained page (internal/htmlreport): the
// verdict and configuration, every link end's protocol phases on a timeline, goodput and
// retransmissions over time, and on the real link every node's clock and every elastic
// buffer's occupancy over time; then the per-link counters. generator names the program.
func (r *Result) WriteHTML(path string, s Spec, generator string) error {
	var b bytes.Buffer
	if err := htmlreport.Write(&b, r.page(s, generator)); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func (r *Result) page(s Spec, generator string) htmlreport.Page {
	rep := r.Report
	c := s.Sim
	var verdict bytes.Buffer
	r.WriteVerdict(&verdict, s)
	lines := strings.Split(strings.TrimRight(verdict.String(), "\n"), "\n")
	head := strings.TrimPrefix(strings.TrimPrefix(lines[0], "PASS: "), "FAIL: ")
	p := htmlreport.Page{
		Title:     fmt.Sprintf("ringsim run: %s, %d nodes, seed %d", c.Topology.Name, c.Topology.Nodes, c.Seed),
		Pass:      r.Passed(),
		Verdict:   head,
		Generator: generator,
	}
	for _, l := range lines[1:] {
		p.Details = append(p.Details, strings.TrimSpace(l))
	}
	if r.RealLink != nil {
		for _, l := range r.RealLink.BrokenLinks() {
			p.Details = append(p.Details, fmt.Sprintf("link %d (%v->%v): the firmware believes it aligned, but TX word i lands at RX word i%+d since cycle %d: %s",
				l.Link, l.From, l.To, l.Offset, l.Broken.Cycle, l.Broken.Cause))
		}
	}
	hz := c.ClockHz
	if hz == 0 {
		hz = hw.DefaultClockHz
	}
	kv := func(k, v string) { p.Config = append(p.Config, htmlreport.KV{Key: k, Value: v}) }
	kv("topology", fmt.Sprintf("%s: %d nodes, %d ports each, %d links", c.Topology.Name, c.Topology.Nodes, c.Topology.Ports, len(c.Topology.Links)))
	kv("ring buffer depth", strconv.Itoa(c.Depth))
	kv("link", c.Link.String())
	if c.Link == hw.LinkReal {
		rl := c.Real
		ctl := "off"
		if rl.Control {
			ctl = "on"
			if rl.Settled {
				ctl += ", settled start"
			}
		}
		offsets := fmt.Sprintf("offsets %s ppm", floats(rl.PPM))
		if rl.PPM == nil {
			rng := rl.PPMRange
			if rng == 0 {
				rng = hw.DefaultPPMRange
			}
			offsets = fmt.Sprintf("offsets seeded within +-%g ppm", rng)
		}
		kv("clocks", fmt.Sprintf("%s; clock control %s", offsets, ctl))
		eb := rl.EBDepth
		if eb == 0 {
			eb = hw.DefaultEBDepth
		}
		kv("elastic buffers", fmt.Sprintf("depth %d; auto-centre %s; firmware recovery %s", eb, onOff(s.AutoCentre), onOff(!s.NoRecovery)))
		if len(rl.Flaps) > 0 {
			var f []string
			for _, x := range rl.Flaps {
				f = append(f, fmt.Sprintf("link %d down %d-%d", x.Link, x.Down, x.Up))
			}
			kv("flaps", strings.Join(f, "; "))
		}
	}
	kv("firmware", s.Firmware.String())
	kv("application", fmt.Sprintf("%s, %s each way", s.app(), Human(s.Bytes)))
	kv("framing and addressing", fmt.Sprintf("%s, %s", s.codec(), s.Addressing))
	if len(c.Topology.Links) > 0 {
		f := c.Topology.Links[0].Faults
		kv("faults", fmt.Sprintf("bit flips %g, zeroed frames %g per frame, packet drops %g", f.BitFlip, f.FrameZero, s.Drop))
	}
	kv("seed, clock", fmt.Sprintf("%d, %.0f MHz", c.Seed, hz/1e6))
	kv("simulated", fmt.Sprintf("%d cycles (%.3f ms) in %.2f s of wall time", rep.Cycles, rep.SimSeconds*1e3, rep.WallSeconds))

	// The timeline: each link end's alignment phases, its re-alignments, its packet phase.
	tl := &svgplot.Timeline{Title: "Link ends: alignment, packets, re-alignments", XLabel: "cycle", Class: "timeline"}
	for _, l := range rep.Links {
		row := svgplot.Row{Label: fmt.Sprintf("%v->%v", l.Peer, l.Local)}
		order := []bridge.Phase{bridge.FindingAlignment, bridge.AcknowledgingAlignment, bridge.WaitingForZeroes, bridge.Aligned}
		for i, ph := range order[:len(order)-1] {
			start, ok := l.PhaseCycles[ph.String()]
			if !ok {
				continue
			}
			end := rep.Cycles
			for _, next := range order[i+1:] {
				if c, ok := l.PhaseCycles[next.String()]; ok {
					end = c
					break
				}
			}
			row.Spans = append(row.Spans, svgplot.Span{Start: float64(start), End: float64(end), Label: ph.String()})
		}
		if l.AlignedCycle > 0 {
			row.Spans = append(row.Spans, svgplot.Span{Start: float64(l.AlignedCycle), End: float64(rep.Cycles), Label: "packets"})
		}
		for _, rc := range l.Recoveries {
			if rc.Kind != bridge.Realigned {
				continue
			}
			end := rc.Done
			if end == 0 {
				end = rep.Cycles
			}
			row.Spans = append(row.Spans, svgplot.Span{Start: float64(rc.Cycle), End: float64(end), Label: "re-aligning"})
		}
		tl.Rows = append(tl.Rows, row)
	}
	p.Timeline = tl

	// Over time.
	if len(r.Samples) > 1 {
		good := svgplot.Series{Label: "all links"}
		retr := svgplot.Series{Label: "all nodes"}
		for i := 1; i < len(r.Samples); i++ {
			a, b := r.Samples[i-1], r.Samples[i]
			if b.Cycle <= a.Cycle {
				continue
			}
			good.X = append(good.X, float64(b.Cycle))
			good.Y = append(good.Y, float64(b.Received-a.Received)/float64(b.Cycle-a.Cycle))
			retr.X = append(retr.X, float64(b.Cycle))
			retr.Y = append(retr.Y, float64(b.Retransmissions))
		}
		good.X, good.Y = thin(good.X, good.Y)
		retr.X, retr.Y = thin(retr.X, retr.Y)
		p.Charts = append(p.Charts,
			svgplot.Chart{Title: "Goodput", XLabel: "cycle", YLabel: "application bytes received per cycle", Class: "goodput",
				Series: []svgplot.Series{good}},
			svgplot.Chart{Title: "TCP retransmissions", XLabel: "cycle", YLabel: "retransmissions so far", Class: "retransmissions",
				Series: []svgplot.Series{retr}, Step: true})
	}
	if rl := r.RealLink; rl != nil {
		clocks := svgplot.Chart{Title: "Clock offsets", XLabel: "cycle", YLabel: "ppm", Class: "clocks", Step: true}
		for _, cs := range rl.Clocks {
			s := svgplot.Series{Label: fmt.Sprintf("node %d", cs.Node)}
			for i := range cs.Cycles {
				s.X = append(s.X, float64(cs.Cycles[i]))
				s.Y = append(s.Y, cs.PPM[i])
			}
			clocks.Series = append(clocks.Series, s)
		}
		occ := svgplot.Chart{Title: "Elastic buffer occupancy", XLabel: "cycle", YLabel: "frames in the buffer", Class: "occupancy"}
		for _, o := range rl.Occupancy {
			l := c.Topology.Links[o.Link]
			s := svgplot.Series{Label: fmt.Sprintf("link %d %v->%v", o.Link, l.From, l.To)}
			for i := range o.Cycles {
				s.X = append(s.X, float64(o.Cycles[i]))
				s.Y = append(s.Y, float64(o.Occupancy[i]))
			}
			occ.Series = append(occ.Series, s)
		}
		p.Charts = append(p.Charts, clocks, occ)
		t := htmlreport.Table{Title: "The real link's truth", Head: []string{"link", "up at", "downs", "adjustments", "empty reads",
			"frames lost", "at the end", "firmware"}}
		for _, lt := range rl.Links {
			end := "TX word i at RX word i"
			if !lt.Probed {
				end = "not probed"
			} else if !lt.Aligned {
				end = fmt.Sprintf("TX word i at RX word i%+d", lt.Offset)
			}
			fw := "believes aligned"
			if !lt.FirmwareAligned {
				fw = "not aligned"
			}
			t.Rows = append(t.Rows, []string{fmt.Sprintf("%d %v->%v", lt.Link, lt.From, lt.To), uints(lt.Ups), uints(lt.Downs),
				strconv.Itoa(len(lt.Adjustments)), strconv.FormatUint(lt.Empty, 10), strconv.FormatUint(lt.Lost, 10), end, fw})
		}
		p.Tables = append(p.Tables, t)
	}
	t := htmlreport.Table{Title: "Frames per link end", Head: []string{"link", "aligned at", "sent", "accepted", "repeats",
		"bad CRC", "bad length", "lost", "torn TX", "torn RX", "compensated", "re-aligned"}}
	for _, l := range rep.Links {
		fr := l.Frames
		comp, re := l.RecoveryCounts()
		t.Rows = append(t.Rows, []string{fmt.Sprintf("%v->%v", l.Peer, l.Local), strconv.FormatUint(l.AlignedCycle, 10),
			u(fr.Sent), u(fr.Accepted), u(fr.Repeats), u(fr.BadCRC), u(fr.BadLength), u(fr.Lost), u(fr.TornTX), u(fr.TornRX),
			strconv.Itoa(comp), strconv.Itoa(re)})
	}
	p.Tables = append(p.Tables, t)
	return p
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }

func uints(v []uint64) string {
	var s []string
	for _, x := range v {
		s = append(s, u(x))
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

func floats(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.FormatFloat(math.Round(x*1000)/1000, 'f', -1, 64))
	}
	return strings.Join(s, ", ")
}
