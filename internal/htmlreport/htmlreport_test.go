package htmlreport

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringsim/ringsim/internal/svgplot"
)

// EvidenceDir is where browser tests leave their screenshots: $RINGSIM_EVIDENCE, or out/evidence
// at the repository root.
func evidenceDir(t *testing.T) string {
	if d := os.Getenv("RINGSIM_EVIDENCE"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "out", "evidence")
}

func samplePage() Page {
	return Page{
		Title: "ringsim run <seed 7>", Pass: false, Verdict: "link 0.0->1.0 lost alignment in cycle 1234 & never recovered",
		Details:   []string{"an adjustment of +2 frames at cycle 1200"},
		Config:    []KV{{"topology", "pair"}, {"depth", "256"}},
		Generator: "ringsim test",
		Timeline: &svgplot.Timeline{Title: "phases", XLabel: "cycle", Class: "timeline", Rows: []svgplot.Row{
			{Label: "0.0->1.0", Spans: []svgplot.Span{{Start: 0, End: 100, Label: "finding"}, {Start: 100, End: 180, Label: "acknowledging"}, {Start: 180, End: 900, Label: "aligned"}}},
			{Label: "1.0->0.0", Spans: []svgplot.Span{{Start: 0, End: 120, Label: "finding"}, {Start: 120, End: 900, Label: "aligned"}}},
		}},
		Charts: []svgplot.Chart{
			{Title: "goodput", XLabel: "cycle", YLabel: "bytes/cycle", Class: "goodput",
				Series: []svgplot.Series{{Label: "all links", X: []float64{0, 300, 600, 900}, Y: []float64{0, 0.4, 0.5, 0.45}}}},
			{Title: "clocks", XLabel: "cycle", YLabel: "ppm", Class: "clocks", Step: true,
				Series: []svgplot.Series{{Label: "node 0", X: []float64{0, 450, 900}, Y: []float64{10, 5, 1}},
					{Label: "node 1", X: []float64{0, 450, 900}, Y: []float64{-10, -5, -1}}}},
		},
		Tables: []Table{{Title: "Frames per link", Head: []string{"link", "sent", "accepted"}, Rows: [][]string{{"0.0->1.0", "12", "11"}}}},
	}
}

// TestPageInBrowser writes a report and opens it in headless Chromium: every chart must
// have been drawn with a size, every line with a length, the timeline with its spans. The
// screenshot is left in the evidence directory. Chromium is a set-up dependency
// (scripts/setup.sh): without it the test fails.
func TestPageInBrowser(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, samplePage()); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{"FAIL: link 0.0-&gt;1.0 lost alignment in cycle 1234 &amp; never recovered",
		"ringsim run &lt;seed 7&gt;", `<svg xmlns="http://www.w3.org/2000/svg" class="goodput"`} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://"} {
		if i := strings.Index(strings.ReplaceAll(s, "http://www.w3.org/2000/svg", ""), bad); i >= 0 {
			t.Errorf("page refers to the network: %q", s[max(0, i-40):i+40])
		}
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(evidenceDir(t), "htmlreport-sample.png")
	drawn, err := OpenInBrowser(context.Background(), path, shot)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	if len(drawn) != 3 {
		t.Fatalf("browser drew %d charts, want 3: %+v", len(drawn), drawn)
	}
	for _, d := range drawn {
		if d.Width < 100 || d.Height < 100 {
			t.Errorf("chart %q drawn %gx%g", d.Class, d.Width, d.Height)
		}
		switch d.Class {
		case "timeline":
			if d.Spans != 5 {
				t.Errorf("timeline: %d spans drawn, want 5", d.Spans)
			}
		case "clocks":
			if len(d.Lines) != 2 || d.Lines[0] <= 0 || d.Lines[1] <= 0 {
				t.Errorf("clocks: lines %v, want two with a length", d.Lines)
			}
		case "goodput":
			if len(d.Lines) != 1 || d.Lines[0] <= 0 {
				t.Errorf("goodput: lines %v", d.Lines)
			}
		default:
			t.Errorf("unexpected chart %q", d.Class)
		}
	}
}
