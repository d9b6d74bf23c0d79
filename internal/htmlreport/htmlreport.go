// Package htmlreport writes a run's report as one self-contained HTML page: the verdict
// and configuration, a timeline of each link's protocol phases, charts over time (goodput,
// retransmissions, and on the real link every node's clock and every elastic buffer's
// occupancy) and per-link counters. Charts are inline SVG (internal/svgplot); the page
// fetches nothing, so it opens offline and can be attached to a CI run as it is.
package htmlreport

import (
	"html/template"
	"io"

	"github.com/ringsim/ringsim/internal/svgplot"
)

// KV is a row of the configuration table.
type KV struct{ Key, Value string }

// Table is a table of counters.
type Table struct {
	Title string
	Head  []string
	Rows  [][]string
}

// Page is what the report shows.
type Page struct {
	Title   string
	Pass    bool
	Verdict string // one line: what passed, or why it failed
	Details []string
	Config  []KV
	// Timeline is each link's protocol phases; nil leaves it out.
	Timeline *svgplot.Timeline
	Charts   []svgplot.Chart
	Tables   []Table
	// Generator names what wrote the page (program and version).
	Generator string
}

// svg inserts a chart: its SVG is generated, with every text escaped, by internal/svgplot.
func svg(s string) template.HTML { return template.HTML(s) } //nolint:gosec // generated, escaped

var page = template.Must(template.New("report").Funcs(template.FuncMap{"svg": svg}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="{{.Generator}}">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.5em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.verdict { padding: 0.8em 1em; border-radius: 4px; font-weight: bold; }
.pass { background: #e6f4ea; border: 1px solid #34a853; }
.fail { background: #fce8e6; border: 1px solid #d93025; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; font-size: 0.9em; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
ul.details { font-size: 0.9em; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="verdict {{if .Pass}}pass{{else}}fail{{end}}" id="verdict">{{if .Pass}}PASS{{else}}FAIL{{end}}: {{.Verdict}}</p>
{{- if .Details}}
<ul class="details">{{range .Details}}<li>{{.}}</li>{{end}}</ul>
{{- end}}
<h2>Configuration</h2>
<table id="config">{{range .Config}}<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>{{end}}</table>
{{- with .Timeline}}
<h2>Protocol phases</h2>
<figure class="chart timeline">{{svg .SVG}}</figure>
{{- end}}
{{- if .Charts}}
<h2>Over time</h2>
{{- range .Charts}}
<figure class="chart">{{svg .SVG}}</figure>
{{- end}}
{{- end}}
{{- range .Tables}}
<h2>{{.Title}}</h2>
<table class="counters"><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}<tr>{{range .}}<td class="num">{{.}}</td>{{end}}</tr>{{end}}</table>
{{- end}}
<script>
// Measures what the browser drew, for tests and for anyone checking the page: each chart's
// size and each line's length, in the body's data-rendered attribute.
window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll("figure.chart > svg").forEach(function (svg) {
    var r = svg.getBoundingClientRect(), lines = [];
    svg.querySelectorAll("polyline").forEach(function (p) { lines.push(p.getTotalLength()); });
    out.push({cls: svg.getAttribute("class"), width: r.width, height: r.height, lines: lines,
              spans: svg.querySelectorAll("rect.span").length});
  });
  document.body.setAttribute("data-rendered", JSON.stringify(out));
});
</script>
</body>
</html>
`))

// Write writes the page.
func Write(w io.Writer, p Page) error { return page.Execute(w, p) }
