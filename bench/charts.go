package bench

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"regexp"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Charts are drawn with gonum/plot into SVG and inlined in report.html, so
// the report is one file that opens offline: no script, no web font, no URL.

var (
	blue   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	red    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	orange = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	green  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	grey   = color.RGBA{R: 120, G: 120, B: 120, A: 255}
)

// svgProlog matches what vgsvg writes before the <svg> element, which must
// not appear inside an HTML document.
var svgProlog = regexp.MustCompile(`(?s)^.*?(<svg)`)

// renderSVG draws p and returns an inline <svg> element.
func renderSVG(p *plot.Plot, w, h vg.Length) (string, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	return svgProlog.ReplaceAllString(buf.String(), "$1"), nil
}

// line makes a coloured line, optionally dashed.
func line(xys plotter.XYs, c color.Color, dashed bool) (*plotter.Line, error) {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	l.Color = c
	l.Width = vg.Points(1.2)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	return l, nil
}

// markChaos draws a dashed vertical line at each chaos event, to ymax.
func markChaos(p *plot.Plot, evs []ChaosEvent, ymax float64) error {
	for _, e := range evs {
		l, err := line(plotter.XYs{{X: e.AtS, Y: 0}, {X: e.AtS, Y: ymax}}, grey, true)
		if err != nil {
			return err
		}
		p.Add(l)
		if e.RevertedS > 0 {
			l, err := line(plotter.XYs{{X: e.RevertedS, Y: 0}, {X: e.RevertedS, Y: ymax}}, green, true)
			if err != nil {
				return err
			}
			p.Add(l)
		}
	}
	return nil
}

// ThroughputChart: requests/s and failures/s per second, chaos marked.
func ThroughputChart(r *Results) (string, error) {
	p, err := throughputPlot(r)
	if p == nil || err != nil {
		return "", err
	}
	return renderSVG(p, 18*vg.Centimeter, 8*vg.Centimeter)
}

func throughputPlot(r *Results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Throughput and errors (per second of intended send time)"
	p.X.Label.Text = "s"
	p.Y.Label.Text = "requests/s"
	var ok, failed, req plotter.XYs
	ymax := 1.0
	for _, t := range r.Timeline {
		if float64(t.Second) >= r.DurationS {
			continue // a request due at the very end: not a whole second
		}
		x := float64(t.Second) + 0.5
		ok = append(ok, plotter.XY{X: x, Y: float64(t.Count - t.Failed)})
		failed = append(failed, plotter.XY{X: x, Y: float64(t.Failed)})
		req = append(req, plotter.XY{X: x, Y: t.RateRequested})
		ymax = math.Max(ymax, math.Max(float64(t.Count), t.RateRequested))
	}
	if len(ok) == 0 {
		return nil, nil
	}
	lr, _ := line(req, grey, false)
	lo, _ := line(ok, blue, false)
	lf, _ := line(failed, red, false)
	p.Add(lr, lo, lf)
	p.Legend.Add("requested", lr)
	p.Legend.Add("succeeded", lo)
	p.Legend.Add("failed", lf)
	p.Legend.Top = true
	// Room above the lines for the legend.
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, ymax*1.35
	return p, markChaos(p, r.Chaos, ymax)
}

// LatencyChart: P50/P90/P99 per second, chaos marked.
func LatencyChart(r *Results) (string, error) {
	p, err := latencyPlot(r)
	if p == nil || err != nil {
		return "", err
	}
	return renderSVG(p, 18*vg.Centimeter, 8*vg.Centimeter)
}

func latencyPlot(r *Results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Latency percentiles per second"
	p.X.Label.Text = "s"
	p.Y.Label.Text = "ms"
	var p50, p90, p99 plotter.XYs
	ymax := 1.0
	for _, t := range r.Timeline {
		if t.Count == 0 || float64(t.Second) >= r.DurationS {
			continue
		}
		x := float64(t.Second) + 0.5
		p50 = append(p50, plotter.XY{X: x, Y: t.P50Ms})
		p90 = append(p90, plotter.XY{X: x, Y: t.P90Ms})
		p99 = append(p99, plotter.XY{X: x, Y: t.P99Ms})
		ymax = math.Max(ymax, t.P99Ms)
	}
	if len(p50) == 0 {
		return nil, nil
	}
	l1, _ := line(p50, blue, false)
	l2, _ := line(p90, orange, false)
	l3, _ := line(p99, red, false)
	p.Add(l1, l2, l3)
	p.Legend.Add("p50", l1)
	p.Legend.Add("p90", l2)
	p.Legend.Add("p99", l3)
	p.Legend.Top = true
	if r.SLO.P99Ms > 0 && r.SLO.P99Ms < 3*ymax {
		slo, _ := line(plotter.XYs{{X: 0, Y: r.SLO.P99Ms}, {X: r.DurationS, Y: r.SLO.P99Ms}}, red, true)
		p.Add(slo)
		p.Legend.Add(fmt.Sprintf("SLO p99 %.0f ms", r.SLO.P99Ms), slo)
		ymax = math.Max(ymax, r.SLO.P99Ms)
	}
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, ymax*1.35
	return p, markChaos(p, r.Chaos, ymax)
}

// DistChart draws a distribution as bars from its percentiles (p50…max),
// which is what results.json keeps.
func DistChart(title string, d Dist) (string, error) {
	if d.Count == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "ms"
	vals := plotter.Values{d.Min, d.P50, d.P90, d.P95, d.P99, d.P999, d.Max}
	bars, err := plotter.NewBarChart(vals, vg.Points(22))
	if err != nil {
		return "", err
	}
	bars.Color = blue
	p.Add(bars)
	p.NominalX("min", "p50", "p90", "p95", "p99", "p99.9", "max")
	return renderSVG(p, 9*vg.Centimeter, 7*vg.Centimeter)
}

// ShareChart: traffic share per upstream.
func ShareChart(r *Results) (string, error) {
	if len(r.Upstreams) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = "Traffic share per upstream"
	p.Y.Label.Text = "%"
	var vals plotter.Values
	var names []string
	for _, u := range r.Upstreams {
		vals = append(vals, 100*u.Share)
		names = append(names, u.Name)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return "", err
	}
	bars.Color = green
	p.Add(bars)
	p.NominalX(names...)
	return renderSVG(p, 9*vg.Centimeter, 7*vg.Centimeter)
}
