package main

import (
	"encoding/csv"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// sweepCSV is the sweep as a table: one row per point, the axes' values, the seed and the
// figures.
func sweepCSV(r *sweepResult) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	head := []string{"index"}
	for _, a := range r.Plan.Axes {
		head = append(head, a.Flag)
	}
	head = append(head, "seed", "passed", "goodput_bytes_per_cycle", "goodput_share_of_bound", "tcp_retransmissions",
		"corrupted_accepted", "bytes_received", "transfer_cycles", "cycles", "wall_seconds", "error")
	w.Write(head)
	for _, p := range r.Points {
		row := []string{strconv.Itoa(p.Index)}
		for _, a := range r.Plan.Axes {
			row = append(row, p.Params[a.Flag])
		}
		row = append(row, strconv.FormatUint(p.Seed, 10), strconv.FormatBool(p.Passed),
			strconv.FormatFloat(p.Goodput, 'g', 6, 64), strconv.FormatFloat(p.GoodputShare, 'g', 4, 64),
			strconv.FormatUint(p.TCPRetransmissions, 10), strconv.FormatUint(p.CorruptedAccepted, 10),
			strconv.FormatInt(p.BytesReceived, 10), strconv.FormatUint(p.TransferCycles, 10),
			strconv.FormatUint(p.Cycles, 10), strconv.FormatFloat(p.WallSeconds, 'f', 2, 64), p.Error)
		w.Write(row)
	}
	w.Flush()
	return b.String()
}

// sweepPlots draws, for every axis with two or more values, goodput and retransmissions
// against that axis: one line per combination of the other axes' values, each point the
// mean over the seeds that passed (a failed seed is left out and counted in the legend).
// The pages are self-contained SVG.
func sweepPlots(r *sweepResult) map[string]string {
	out := map[string]string{}
	for a, ax := range r.Plan.Axes {
		if len(ax.Values) < 2 {
			continue
		}
		for _, m := range []struct {
			file, title, unit string
			get               func(sweepPoint) float64
		}{
			{"goodput", "goodput", "bytes per cycle, all links", func(p sweepPoint) float64 { return p.Goodput }},
			{"retransmissions", "TCP retransmissions", "per run", func(p sweepPoint) float64 { return float64(p.TCPRetransmissions) }},
		} {
			out[fmt.Sprintf("%s-vs-%s.svg", m.file, ax.Flag)] = plotAxis(r, a, m.title, m.unit, m.get)
		}
	}
	return out
}

// series is one line of a plot.
type series struct {
	label  string
	y      []float64 // per value of the axis; NaN where no seed passed
	failed int
}

func plotAxis(r *sweepResult, axis int, title, unit string, get func(sweepPoint) float64) string {
	ax := r.Plan.Axes[axis]
	// Group the points by the other axes' values.
	key := func(p sweepPoint) string {
		var parts []string
		for b, other := range r.Plan.Axes {
			if b != axis {
				parts = append(parts, other.Flag+"="+p.Params[other.Flag])
			}
		}
		return strings.Join(parts, " ")
	}
	var order []string
	sums := map[string][]float64{}
	counts := map[string][]int{}
	failed := map[string]int{}
	for _, p := range r.Points {
		k := key(p)
		if _, ok := sums[k]; !ok {
			order = append(order, k)
			sums[k] = make([]float64, len(ax.Values))
			counts[k] = make([]int, len(ax.Values))
		}
		if !p.Passed {
			failed[k]++
			continue
		}
		for i, v := range ax.Values {
			if p.Params[ax.Flag] == v {
				sums[k][i] += get(p)
				counts[k][i]++
			}
		}
	}
	var lines []series
	ymax := 0.0
	for _, k := range order {
		s := series{label: k, failed: failed[k], y: make([]float64, len(ax.Values))}
		if s.label == "" {
			s.label = "all points"
		}
		for i := range ax.Values {
			s.y[i] = math.NaN()
			if counts[k][i] > 0 {
				s.y[i] = sums[k][i] / float64(counts[k][i])
				ymax = math.Max(ymax, s.y[i])
			}
		}
		lines = append(lines, s)
	}
	if ymax == 0 {
		ymax = 1
	}
	ymax = niceCeil(ymax)

	const w, h, left, right, top, bottom = 720.0, 420.0, 80.0, 240.0, 50.0, 60.0
	pw, ph := w-left-right, h-top-bottom
	x := func(i int) float64 { return left + pw*(float64(i)+0.5)/float64(len(ax.Values)) }
	y := func(v float64) float64 { return top + ph*(1-v/ymax) }
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf", "#bcbd22"}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<title>%s against -%s (sweep %s)</title>`+"\n", html.EscapeString(title), html.EscapeString(ax.Flag), r.ID)
	fmt.Fprintf(&b, `<rect width="%g" height="%g" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%g" y="24" font-size="15">%s against -%s</text>`+"\n", left, html.EscapeString(title), html.EscapeString(ax.Flag))
	// Axes, ticks and grid.
	fmt.Fprintf(&b, `<g class="axes" stroke="#333"><line x1="%g" y1="%g" x2="%g" y2="%g"/><line x1="%g" y1="%g" x2="%g" y2="%g"/></g>`+"\n",
		left, top, left, top+ph, left, top+ph, left+pw, top+ph)
	for t := 0; t <= 4; t++ {
		v := ymax * float64(t) / 4
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n",
			left, y(v), left+pw, y(v), left-6, y(v)+4, strconv.FormatFloat(v, 'g', 4, 64))
	}
	for i, v := range ax.Values {
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x(i), top+ph+18, html.EscapeString(v))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">-%s</text>`+"\n", left+pw/2, top+ph+42, html.EscapeString(ax.Flag))
	fmt.Fprintf(&b, `<text transform="translate(18 %g) rotate(-90)" text-anchor="middle">%s (%s)</text>`+"\n",
		top+ph/2, html.EscapeString(title), html.EscapeString(unit))
	// Lines: a polyline per run of consecutive values with data, and a mark per value.
	for k, s := range lines {
		c := colors[k%len(colors)]
		fmt.Fprintf(&b, `<g class="series" data-label="%s" stroke="%s" fill="%s">`+"\n", html.EscapeString(s.label), c, c)
		var run []string
		flush := func() {
			if len(run) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke-width="2" points="%s"/>`+"\n", strings.Join(run, " "))
			}
			run = nil
		}
		for i, v := range s.y {
			if math.IsNaN(v) {
				flush()
				continue
			}
			run = append(run, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5"><title>%s = %s: %s</title></circle>`+"\n",
				x(i), y(v), html.EscapeString(ax.Flag), html.EscapeString(r.Plan.Axes[axis].Values[i]),
				strconv.FormatFloat(v, 'g', 5, 64))
		}
		flush()
		label := s.label
		if s.failed > 0 {
			label += fmt.Sprintf(" (%d failed)", s.failed)
		}
		ly := top + 14 + 18*float64(k)
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="12" height="4"/><text x="%g" y="%g" stroke="none" fill="#333">%s</text>`+"\n",
			left+pw+16, ly-4, left+pw+34, ly+1, html.EscapeString(label))
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
