package main

import (
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ringsim/ringsim/internal/svgplot"
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
		"corrupted_accepted", "bytes_received", "transfer_cycles", "cycles", "adjustments", "compensations", "realignments",
		"wall_seconds", "error")
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
			strconv.FormatUint(p.Cycles, 10), strconv.Itoa(p.Adjustments), strconv.Itoa(p.Compensations),
			strconv.Itoa(p.Realignments), strconv.FormatFloat(p.WallSeconds, 'f', 2, 64), p.Error)
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
	c := svgplot.Chart{Title: fmt.Sprintf("%s against -%s", title, ax.Flag), XLabel: "-" + ax.Flag,
		YLabel: fmt.Sprintf("%s (%s)", title, unit), Class: "sweep-plot"}
	for _, v := range ax.Values {
		c.XTicks = append(c.XTicks, svgplot.Tick{Label: v})
	}
	for _, k := range order {
		s := svgplot.Series{Label: k}
		if s.Label == "" {
			s.Label = "all points"
		}
		if failed[k] > 0 {
			s.Label += fmt.Sprintf(" (%d failed)", failed[k])
		}
		for i := range ax.Values {
			s.X = append(s.X, float64(i))
			y := math.NaN()
			if counts[k][i] > 0 {
				y = sums[k][i] / float64(counts[k][i])
			}
			s.Y = append(s.Y, y)
		}
		c.Series = append(c.Series, s)
	}
	return c.SVG()
}
