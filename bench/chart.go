package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartPanelW = 420
	chartPanelH = 300
	chartLeft   = 70
	chartTop    = 50
	chartGap    = 110
	chartBottom = 110
)

// seriesColor gives each system one colour in every chart.
var seriesColor = map[string]string{
	"faka":             "#d62728",
	"pessimistic":      "#1f77b4",
	"pessimistic-pool": "#17becf",
	"rowlock":          "#9467bd",
	"redis":            "#2ca02c",
	"floor":            "#7f7f7f",
}

// series is one system's figure at each level.
type series struct {
	name   string
	points []float64 // one per level; NaN when missing
}

// WriteChart writes an SVG with two panels against concurrency: attempts/s
// and p99 latency, both on log scales, one line per system.
func (r *Result) WriteChart(w io.Writer) error {
	if len(r.Levels) == 0 {
		return fmt.Errorf("bench: chart: no drops measured")
	}
	xs := make([]string, len(r.Levels))
	for i, l := range r.Levels {
		xs[i] = fmt.Sprint(l.Concurrency)
	}
	names := r.Levels[0].systems()
	rate := make([]series, len(names))
	p99 := make([]series, len(names))
	for i, n := range names {
		rate[i], p99[i] = series{name: n}, series{name: n}
		for _, l := range r.Levels {
			f, ok := l.Faka, true
			if n != "faka" {
				f, ok = l.Baselines[n]
			}
			if !ok {
				rate[i].points = append(rate[i].points, math.NaN())
				p99[i].points = append(p99[i].points, math.NaN())
				continue
			}
			rate[i].points = append(rate[i].points, f.AttemptsPerSec)
			p99[i].points = append(p99[i].points, f.P99MS)
		}
	}
	width := chartLeft + 2*chartPanelW + chartGap + 30
	height := chartTop + chartPanelH + chartBottom
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", chartLeft,
		html.EscapeString(fmt.Sprintf("faka bench (%s): drop of %d attempts for %d keys — %d CPUs, %s",
			r.Backend, r.Attempts, r.Keys, r.Machine.CPUs, r.Started.Format("2006-01-02"))))
	panel(&b, chartLeft, "order attempts per second (log)", xs, rate)
	panel(&b, chartLeft+chartPanelW+chartGap, "p99 latency, ms (log)", xs, p99)
	// Legend.
	ly := chartTop + chartPanelH + 55
	for i, s := range rate {
		x := chartLeft + i*130
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, x, ly, x+24, ly, seriesColor[s.name])
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", x+30, ly+4, html.EscapeString(s.name))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">concurrent buyers (c); the machine is shared and noisy: compare within one run</text>`+"\n",
		chartLeft, ly+30)
	b.WriteString("</svg>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("bench: chart: %w", err)
	}
	return nil
}

// panel draws one log-scale panel at x0 with categorical x positions.
func panel(b *strings.Builder, x0 int, title string, xs []string, ss []series) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, v := range s.points {
			if v > 0 && !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 10
	}
	dlo, dhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dhi <= dlo {
		dhi = dlo + 1
	}
	y := func(v float64) float64 {
		return float64(chartTop+chartPanelH) - (math.Log10(v)-dlo)/(dhi-dlo)*chartPanelH
	}
	x := func(i int) float64 {
		if len(xs) == 1 {
			return float64(x0) + chartPanelW/2
		}
		return float64(x0) + 30 + float64(i)*(chartPanelW-60)/float64(len(xs)-1)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, chartTop-12, html.EscapeString(title))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", x0, chartTop, chartPanelW, chartPanelH)
	for d := dlo; d <= dhi; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if math.Log10(v) > dhi+1e-9 {
				break
			}
			yy := y(v)
			stroke := "#eee"
			if m == 1 {
				stroke = "#ccc"
			}
			fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`, x0, yy, x0+chartPanelW, yy, stroke)
			fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", x0-6, yy+4, tickLabel(v))
		}
	}
	for i, l := range xs {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x(i), chartTop+chartPanelH+18, l)
	}
	for _, s := range ss {
		col := seriesColor[s.name]
		var pts []string
		for i, v := range s.points {
			if v > 0 && !math.IsNaN(v) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
				fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`, x(i), y(v), col)
			}
		}
		if len(pts) > 1 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(pts, " "), col)
		}
		b.WriteString("\n")
	}
}

// tickLabel writes an axis value compactly: 500, 2k, 10k, 0.5.
func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	default:
		return fmt.Sprintf("%g", v)
	}
}
