package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringsim/ringsim/internal/htmlreport"
)

// TestRunHTMLInBrowser runs a real-link job with clocks apart and a flap, writes its HTML
// report and opens it in headless Chromium: the timeline and the four charts over time
// (goodput, retransmissions, clocks, elastic buffer occupancy) must have been drawn, with a
// line per node and per link, and the timeline must show the flap's re-alignments. The
// screenshot is left in out/evidence (or $RINGSIM_EVIDENCE).
func TestRunHTMLInBrowser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.html")
	args := []string{"-link", "real", "-clock-control", "-ppm", "40,-40", "-bytes", "64KiB", "-flap", "0:200000:220000",
		"-progress", "none", "-html", path}
	if code := runMain(context.Background(), args); code != 0 {
		t.Fatalf("ringsim run: exit %d", code)
	}
	dir := os.Getenv("RINGSIM_EVIDENCE")
	if dir == "" {
		dir = filepath.Join("..", "..", "out", "evidence")
	}
	shot := filepath.Join(dir, "run-report.png")
	drawn, err := htmlreport.OpenInBrowser(context.Background(), path, shot)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	lines := map[string]int{"goodput": 1, "retransmissions": 1, "clocks": 2, "occupancy": 2}
	seen := map[string]bool{}
	for _, d := range drawn {
		seen[d.Class] = true
		if d.Width < 100 || d.Height < 50 {
			t.Errorf("%s drawn %gx%g", d.Class, d.Width, d.Height)
		}
		if d.Class == "timeline" {
			// Two link ends: four phases or so each, their packet phase, a re-alignment each.
			if d.Spans < 8 {
				t.Errorf("timeline: %d spans", d.Spans)
			}
			continue
		}
		want, ok := lines[d.Class]
		if !ok {
			t.Errorf("unexpected chart %q", d.Class)
			continue
		}
		n := 0
		for _, l := range d.Lines {
			if l > 0 {
				n++
			}
		}
		if n != want {
			t.Errorf("%s: %d lines drawn with a length, want %d (%v)", d.Class, n, want, d.Lines)
		}
	}
	for _, c := range []string{"timeline", "goodput", "retransmissions", "clocks", "occupancy"} {
		if !seen[c] {
			t.Errorf("no %s chart drawn", c)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "re-aligning") {
		t.Error("the timeline shows no re-alignment for the flap")
	}
}
