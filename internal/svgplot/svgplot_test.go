package svgplot

import (
	"encoding/xml"
	"math"
	"strings"
	"testing"
)

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0.6000000000000001: "0.6", 0: "0", 125e6: "1.25e+08", 1500: "1500", 0.25: "0.25", 1e-6: "1e-06"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestNiceRange(t *testing.T) {
	lo, hi, ticks := niceRange(0.05, 0.57)
	if lo != 0 || hi != 0.6 || len(ticks) != 4 || ticks[len(ticks)-1] != 0.6 {
		t.Fatalf("niceRange(0.05, 0.57) = %v, %v, %v", lo, hi, ticks)
	}
}

type svgDoc struct {
	Groups []struct {
		Class    string `xml:"class,attr"`
		Label    string `xml:"data-label,attr"`
		Polyline []struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
		Rects []struct {
			Class string `xml:"class,attr"`
		} `xml:"rect"`
	} `xml:"g"`
}

// TestChart checks the chart is XML with a group per series, gaps where Y is NaN, and
// escaped labels.
func TestChart(t *testing.T) {
	c := Chart{Title: "a <b>", Series: []Series{
		{Label: "one & two", X: []float64{0, 1, 2, 3}, Y: []float64{1, 2, math.NaN(), 4}},
		{Label: "steps", X: []float64{0, 2}, Y: []float64{5, 6}},
	}}
	var d svgDoc
	if err := xml.Unmarshal([]byte(c.SVG()), &d); err != nil {
		t.Fatal(err)
	}
	var series []string
	for _, g := range d.Groups {
		if g.Class == "series" {
			series = append(series, g.Label)
			if g.Label == "one & two" && len(g.Polyline) != 1 {
				t.Errorf("series with a gap: %d polylines, want 1 (a single point draws no line)", len(g.Polyline))
			}
		}
	}
	if strings.Join(series, "|") != "one & two|steps" {
		t.Errorf("series %q", series)
	}
	c.Step = true
	if err := xml.Unmarshal([]byte(c.SVG()), &d); err != nil {
		t.Fatal(err)
	}
}

func TestTimeline(t *testing.T) {
	tl := Timeline{Title: "phases", Rows: []Row{
		{Label: "link 0", Spans: []Span{{0, 10, "finding"}, {10, 30, "aligned"}}},
		{Label: "link 1", Spans: []Span{{5, 12, "finding"}}},
	}}
	var d svgDoc
	if err := xml.Unmarshal([]byte(tl.SVG()), &d); err != nil {
		t.Fatal(err)
	}
	spans := 0
	for _, g := range d.Groups {
		for _, r := range g.Rects {
			if r.Class == "span" {
				spans++
			}
		}
	}
	if spans != 3 {
		t.Fatalf("%d spans, want 3", spans)
	}
}
