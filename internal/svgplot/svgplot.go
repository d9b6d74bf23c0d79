// Package svgplot draws the small charts ringsim's reports need as self-contained SVG:
// line charts (goodput over time, a sweep's figures against a parameter) and timelines
// (each link's protocol phases). No scripts, fonts or images are fetched: a page that
// embeds them opens offline.
package svgplot

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Series is one line of a chart. A NaN Y leaves a gap.
type Series struct {
	Label string
	X, Y  []float64
}

// Tick is a labelled position on the x axis.
type Tick struct {
	X     float64
	Label string
}

// Chart is a line chart.
type Chart struct {
	Title, XLabel, YLabel string
	// XTicks, if set, are the x axis's only ticks (categories: X is the index); otherwise
	// ticks are chosen from the data.
	XTicks []Tick
	Series []Series
	// Step draws each series as a step function (a value holds until the next point),
	// for quantities that change in steps, as a clock's frequency.
	Step bool
	// Class is the svg element's class attribute, for pages and tests to find it.
	Class string
}

// Palette is the series' colours, in order.
var Palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
	"#7f7f7f", "#17becf", "#bcbd22"}

const (
	width, height            = 760.0, 400.0
	left, right, top, bottom = 84.0, 220.0, 44.0, 58.0
)

// SVG renders the chart.
func (c Chart) SVG() string {
	pw, ph := width-left-right, height-top-bottom
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), 0.0, math.Inf(-1)
	for _, s := range c.Series {
		for i, x := range s.X {
			if i >= len(s.Y) || math.IsNaN(s.Y[i]) || math.IsNaN(x) {
				continue
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			ymin, ymax = math.Min(ymin, s.Y[i]), math.Max(ymax, s.Y[i])
		}
	}
	if len(c.XTicks) > 0 {
		xmin, xmax = -0.5, float64(len(c.XTicks))-0.5
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	if math.IsInf(ymax, 0) {
		ymax = 1
	}
	ylo, yhi, yticks := niceRange(ymin, ymax)
	x := func(v float64) float64 { return left + pw*(v-xmin)/(xmax-xmin) }
	y := func(v float64) float64 { return top + ph*(1-(v-ylo)/(yhi-ylo)) }

	var b strings.Builder
	openSVG(&b, c.Class, c.Title)
	fmt.Fprintf(&b, `<text x="%g" y="24" font-size="15">%s</text>`+"\n", left, esc(c.Title))
	for _, t := range yticks {
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n",
			left, y(t), left+pw, y(t), left-6, y(t)+4, num(t))
	}
	xt := c.XTicks
	if len(xt) == 0 {
		_, _, vals := niceRange(xmin, xmax)
		for _, v := range vals {
			if v >= xmin && v <= xmax {
				xt = append(xt, Tick{X: v, Label: num(v)})
			}
		}
	} else {
		for i := range xt {
			xt[i].X = float64(i)
		}
	}
	for _, t := range xt {
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x(t.X), top+ph+18, esc(t.Label))
	}
	fmt.Fprintf(&b, `<g stroke="#333"><line x1="%g" y1="%g" x2="%g" y2="%g"/><line x1="%g" y1="%g" x2="%g" y2="%g"/></g>`+"\n",
		left, top, left, top+ph, left, top+ph, left+pw, top+ph)
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", left+pw/2, top+ph+42, esc(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(18 %g) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+ph/2, esc(c.YLabel))
	for k, s := range c.Series {
		col := Palette[k%len(Palette)]
		fmt.Fprintf(&b, `<g class="series" data-label="%s" stroke="%s" fill="%s">`+"\n", esc(s.Label), col, col)
		var run []string
		flush := func() {
			if len(run) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke-width="2" points="%s"/>`+"\n", strings.Join(run, " "))
			}
			run = nil
		}
		marks := len(s.X) <= 40
		for i, xv := range s.X {
			if i >= len(s.Y) || math.IsNaN(s.Y[i]) {
				flush()
				continue
			}
			if c.Step && len(run) > 0 {
				prev := s.Y[i-1]
				run = append(run, fmt.Sprintf("%.1f,%.1f", x(xv), y(prev)))
			}
			run = append(run, fmt.Sprintf("%.1f,%.1f", x(xv), y(s.Y[i])))
			if marks {
				label := num(xv)
				if len(c.XTicks) > 0 && i < len(c.XTicks) {
					label = c.XTicks[i].Label
				}
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5"><title>%s: %s</title></circle>`+"\n",
					x(xv), y(s.Y[i]), esc(label), num(s.Y[i]))
			}
		}
		flush()
		ly := top + 14 + 18*float64(k)
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="12" height="4"/><text x="%g" y="%g" stroke="none" fill="#333">%s</text>`+"\n",
			left+pw+16, ly-4, left+pw+34, ly+1, esc(s.Label))
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// Span is a stretch of a timeline row.
type Span struct {
	Start, End float64
	Label      string
}

// Row is a timeline row.
type Row struct {
	Label string
	Spans []Span
}

// Timeline is a chart of rows of labelled spans over a shared x axis (cycles). Spans with
// the same label share a colour, listed in the legend in order of first use.
type Timeline struct {
	Title, XLabel string
	Rows          []Row
	Class         string
}

// SVG renders the timeline.
func (t Timeline) SVG() string {
	const rowH = 22.0
	pw := width - left - right
	h := top + rowH*float64(len(t.Rows)) + bottom
	xmin, xmax := math.Inf(1), math.Inf(-1)
	var labels []string
	colour := map[string]string{}
	for _, r := range t.Rows {
		for _, s := range r.Spans {
			xmin, xmax = math.Min(xmin, s.Start), math.Max(xmax, s.End)
			if _, ok := colour[s.Label]; !ok {
				colour[s.Label] = Palette[len(labels)%len(Palette)]
				labels = append(labels, s.Label)
			}
		}
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	x := func(v float64) float64 { return left + pw*(v-xmin)/(xmax-xmin) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="%s" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n",
		esc(t.Class), width, h, width, h)
	fmt.Fprintf(&b, `<title>%s</title><rect width="%g" height="%g" fill="white"/>`+"\n", esc(t.Title), width, h)
	fmt.Fprintf(&b, `<text x="%g" y="24" font-size="15">%s</text>`+"\n", left, esc(t.Title))
	for i, r := range t.Rows {
		ry := top + rowH*float64(i)
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, ry+rowH/2+4, esc(r.Label))
		fmt.Fprintf(&b, `<g class="row" data-label="%s">`+"\n", esc(r.Label))
		for _, s := range r.Spans {
			w := math.Max(1, x(s.End)-x(s.Start))
			fmt.Fprintf(&b, `<rect class="span" data-label="%s" x="%.1f" y="%.1f" width="%.1f" height="%g" fill="%s"><title>%s: %s to %s</title></rect>`+"\n",
				esc(s.Label), x(s.Start), ry+3, w, rowH-6, colour[s.Label], esc(s.Label), num(s.Start), num(s.End))
		}
		b.WriteString("</g>\n")
	}
	base := top + rowH*float64(len(t.Rows))
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#333"/>`+"\n", left, base, left+pw, base)
	_, _, ticks := niceRange(xmin, xmax)
	for _, v := range ticks {
		if v >= xmin && v <= xmax {
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x(v), base+18, num(v))
		}
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", left+pw/2, base+42, esc(t.XLabel))
	for k, l := range labels {
		ly := top + 14 + 18*float64(k)
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="12" height="10" fill="%s"/><text x="%g" y="%g">%s</text>`+"\n",
			left+pw+16, ly-8, colour[l], left+pw+34, ly+1, esc(l))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func openSVG(b *strings.Builder, class, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="%s" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n",
		esc(class), width, height, width, height)
	fmt.Fprintf(b, `<title>%s</title><rect width="%g" height="%g" fill="white"/>`+"\n", esc(title), width, height)
}

func esc(s string) string { return html.EscapeString(s) }

// num formats a value for a label: short, and without exponent for everyday magnitudes.
func num(v float64) string {
	v = clean(v)
	a := math.Abs(v)
	if a != 0 && (a >= 1e7 || a < 1e-3) {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// niceRange widens [lo, hi] to round numbers (0 included when lo >= 0) and returns about
// five ticks in it.
func niceRange(lo, hi float64) (float64, float64, []float64) {
	if lo > 0 {
		lo = 0
	}
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	first, last := math.Floor(lo/step), math.Ceil(hi/step)
	var ticks []float64
	for k := first; k <= last; k++ {
		ticks = append(ticks, clean(k*step))
	}
	return clean(first * step), clean(last * step), ticks
}

// clean drops float noise: 3 * 0.2 is 0.6, not 0.6000000000000001.
func clean(v float64) float64 {
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 10, 64), 64)
	return v
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}
