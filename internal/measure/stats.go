package measure

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// SkewTime is Skew_Time of RFC 9568 Section 6.1,
// ((256 - Priority) * Master_Adver_Interval) / 256, at full precision
// (nanoseconds, rounded down), not rounded to centiseconds.
func SkewTime(interval time.Duration, priority int) time.Duration {
	return time.Duration((256 - int64(priority)) * int64(interval) / 256)
}

// MasterDownInterval is Master_Down_Interval of RFC 9568 Section 6.1,
// (3 * Master_Adver_Interval) + Skew_Time: the time a backup of the given
// priority waits after the master's last advertisement before it takes
// over. It is the bound a crash takeover is compared with.
func MasterDownInterval(interval time.Duration, priority int) time.Duration {
	return 3*interval + SkewTime(interval, priority)
}

// A Summary is the order statistics of a set of durations and their
// relation to a bound.
type Summary struct {
	N                       int
	Min, P50, P90, P99, Max time.Duration
	Mean                    time.Duration
	Bound                   time.Duration // zero: no bound
	Samples                 []time.Duration
}

// Summarize sorts a copy of samples and returns its statistics. Quantiles
// interpolate linearly between the closest ranks (Hyndman and Fan's
// type 7, the default of R and numpy): with 30 samples p99 lies between
// the two largest.
func Summarize(samples []time.Duration, bound time.Duration) Summary {
	s := slices.Clone(samples)
	slices.Sort(s)
	out := Summary{N: len(s), Bound: bound, Samples: s}
	if len(s) == 0 {
		return out
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	out.Min, out.Max = s[0], s[len(s)-1]
	out.P50, out.P90, out.P99 = Quantile(s, 0.5), Quantile(s, 0.9), Quantile(s, 0.99)
	out.Mean = sum / time.Duration(len(s))
	return out
}

// Quantile returns the q-quantile (0 <= q <= 1) of sorted, interpolating
// linearly between the closest ranks (type 7). It returns 0 for no samples.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	h := q * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := h - float64(lo)
	return sorted[lo] + time.Duration(math.Round(f*float64(sorted[lo+1]-sorted[lo])))
}

// Over returns how far d is above the bound, in percent of the bound
// (negative when below). It returns NaN without a bound.
func (s Summary) Over(d time.Duration) float64 {
	if s.Bound <= 0 {
		return math.NaN()
	}
	return (float64(d)/float64(s.Bound) - 1) * 100
}

// Ratios returns every sample divided by the bound, sorted: the values of
// the ECDF plots (trialPanels). Without a bound it returns nil.
func (s Summary) Ratios() []float64 {
	if s.Bound <= 0 {
		return nil
	}
	out := make([]float64, len(s.Samples))
	for i, d := range s.Samples {
		out[i] = float64(d) / float64(s.Bound)
	}
	return out
}

// A Series is one curve of a Panel: the values of one implementation.
type Series struct {
	Name   string
	Color  string // any SVG colour
	Values []float64
}

// A Panel is one plot of an ECDF figure.
type Panel struct {
	Title  string
	XLabel string
	Series []Series
	// Marks are x positions drawn as dashed vertical reference lines,
	// with their labels.
	Marks      []float64
	MarkLabels []string
}

// Panel geometry of WriteECDFSVG, in SVG user units.
const (
	panelW  = 380
	panelH  = 280
	marginL = 48
	marginR = 14
	marginT = 46
	marginB = 44
	headerH = 48
)

// WriteECDFSVG writes a figure of panels side by side, each the empirical
// cumulative distribution of its series (a step curve: the fraction of
// samples at or below x), as a self-contained SVG document.
func WriteECDFSVG(w io.Writer, title string, panels []Panel) error {
	width := panelW * len(panels)
	height := panelH + headerH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="20" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+"\n", width/2, html.EscapeString(title))
	// One legend for the figure: every series name, in first-seen order.
	seen := map[string]bool{}
	lx := 0.0
	var legend strings.Builder
	for _, p := range panels {
		for _, s := range p.Series {
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			fmt.Fprintf(&legend, `<line x1="%.1f" y1="36" x2="%.1f" y2="36" stroke="%s" stroke-width="3"/>`+"\n", lx, lx+20, s.Color)
			fmt.Fprintf(&legend, `<text x="%.1f" y="40">%s</text>`+"\n", lx+25, html.EscapeString(s.Name))
			lx += 25 + 7*float64(len(s.Name)) + 24
		}
	}
	if lx > 0 {
		fmt.Fprintf(&b, `<g transform="translate(%.1f 0)">`+"\n%s</g>\n", (float64(width)-lx)/2, legend.String())
	}
	for i, p := range panels {
		writePanel(&b, float64(i*panelW), headerH, p)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writePanel(b *strings.Builder, ox, oy float64, p Panel) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
		for _, v := range s.Values {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for _, m := range p.Marks {
		lo, hi = math.Min(lo, m), math.Max(hi, m)
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.005, hi+0.005
	}
	pad := (hi - lo) * 0.04
	lo, hi = lo-pad, hi+pad
	pw := float64(panelW - marginL - marginR)
	ph := float64(panelH - marginT - marginB)
	x0, y0 := ox+marginL, oy+marginT
	X := func(v float64) float64 { return x0 + (v-lo)/(hi-lo)*pw }
	Y := func(f float64) float64 { return y0 + (1-f)*ph }

	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="12" font-weight="bold">%s</text>`+"\n",
		x0+pw/2, oy+16, html.EscapeString(p.Title))
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", x0, y0, pw, ph)
	// Y grid and labels.
	for _, f := range []float64{0, 0.25, 0.5, 0.75, 1} {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, Y(f), x0+pw, Y(f))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%.2g</text>`+"\n", x0-4, Y(f)+4, f)
	}
	// X ticks.
	step := niceStep((hi - lo) / 7)
	for v := math.Ceil(lo/step) * step; v <= hi+1e-12; v += step {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>`+"\n", X(v), y0+ph, X(v), y0+ph+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", X(v), y0+ph+16, trimFloat(v, step))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x0+pw/2, y0+ph+34, html.EscapeString(p.XLabel))
	fmt.Fprintf(b, `<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle">fraction of trials</text>`+"\n", ox+12, y0+ph/2)
	// Reference lines; a label too close to the previous one is left out.
	lastLabel := math.Inf(-1)
	for i, m := range p.Marks {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="4 3"/>`+"\n", X(m), y0, X(m), y0+ph)
		if i < len(p.MarkLabels) && X(m)-lastLabel >= 14 {
			lastLabel = X(m)
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#666" font-size="10">%s</text>`+"\n", X(m), y0-4-float64(i%2)*11, html.EscapeString(p.MarkLabels[i]))
		}
	}
	// Curves.
	for _, s := range p.Series {
		v := slices.Clone(s.Values)
		slices.Sort(v)
		if len(v) > 0 {
			var d strings.Builder
			fmt.Fprintf(&d, "M%.2f %.2f", X(lo), Y(0))
			for i, x := range v {
				fmt.Fprintf(&d, " H%.2f V%.2f", X(x), Y(float64(i+1)/float64(len(v))))
			}
			fmt.Fprintf(&d, " H%.2f", X(hi))
			fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.8"/>`+"\n", d.String(), s.Color)
		}
	}
}

// niceStep rounds a raw tick step to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// trimFloat formats v with as many decimals as step needs.
func trimFloat(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return fmt.Sprintf("%.*f", dec, v)
}
