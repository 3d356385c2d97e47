package measure

import (
	"bytes"
	"encoding/xml"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMasterDownInterval(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		prio     int
		skew     time.Duration
		down     time.Duration
	}{
		// (256-100)/256 = 0.609375 of the interval.
		{10 * time.Millisecond, 100, 6093750 * time.Nanosecond, 36093750 * time.Nanosecond},
		{100 * time.Millisecond, 100, 60937500 * time.Nanosecond, 360937500 * time.Nanosecond},
		{time.Second, 100, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{time.Second, 255, time.Second / 256, 3*time.Second + time.Second/256},
		{time.Second, 1, 255 * time.Second / 256, 3*time.Second + 255*time.Second/256},
	} {
		if got := SkewTime(tc.interval, tc.prio); got != tc.skew {
			t.Errorf("SkewTime(%v, %d) = %v, want %v", tc.interval, tc.prio, got, tc.skew)
		}
		if got := MasterDownInterval(tc.interval, tc.prio); got != tc.down {
			t.Errorf("MasterDownInterval(%v, %d) = %v, want %v", tc.interval, tc.prio, got, tc.down)
		}
	}
}

func TestSummarize(t *testing.T) {
	var in []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, reversed
		in = append(in, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(in, 50*time.Millisecond)
	got := []time.Duration{s.Min, s.P50, s.P90, s.P99, s.Max, s.Mean}
	// Type 7: p50 = x[49.5] = 50.5 ms, p90 = x[89.1] = 90.1 ms,
	// p99 = x[98.01] = 99.01 ms.
	want := []time.Duration{time.Millisecond, 50500 * time.Microsecond, 90100 * time.Microsecond, 99010 * time.Microsecond, 100 * time.Millisecond, 50500 * time.Microsecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Summarize (-want +got):\n%s", diff)
	}
	if in[0] != 100*time.Millisecond {
		t.Errorf("Summarize sorted its argument in place")
	}
	if got := s.Over(s.P50); math.Abs(got-1) > 1e-9 {
		t.Errorf("Over(p50) = %v%%, want 1%%", got)
	}
	if got := Summarize(nil, time.Second); got.N != 0 || got.Max != 0 {
		t.Errorf("Summarize(nil) = %+v, want zero statistics", got)
	}
	if got := Quantile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("Quantile of one sample = %v, want 7ns", got)
	}
}

func TestRatios(t *testing.T) {
	s := Summarize([]time.Duration{30, 10, 20}, 20)
	if diff := cmp.Diff([]float64{0.5, 1, 1.5}, s.Ratios()); diff != "" {
		t.Errorf("Ratios (-want +got):\n%s", diff)
	}
	if got := Summarize([]time.Duration{30}, 0).Ratios(); got != nil {
		t.Errorf("Ratios without a bound = %v, want nil", got)
	}
}

// TestTrialPanels checks the plot values: every sample over the RFC bound
// of its interval and kind, sorted, one series per implementation in
// legend order (the baseline beside vrrpd).
func TestTrialPanels(t *testing.T) {
	down := int64(MasterDownInterval(10*time.Millisecond, 100))
	raw := map[string]map[string][]int64{"10ms": {
		"keepalived":     {down},
		"vrrpd-baseline": {2 * down, down},
		"vrrpd":          {down / 2},
	}}
	panels, err := trialPanels("Takeover", raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(panels) != 1 {
		t.Fatalf("%d panels, want 1", len(panels))
	}
	var names []string
	var vals [][]float64
	for _, s := range panels[0].Series {
		names = append(names, s.Name)
		vals = append(vals, s.Values)
	}
	if diff := cmp.Diff([]string{"vrrpd", "vrrpd-baseline", "keepalived"}, names); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]float64{{0.5}, {1, 2}, {1}}, vals); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if _, err := trialPanels("Takeover", map[string]map[string][]int64{"soon": nil}); err == nil {
		t.Error("trialPanels accepted the interval \"soon\"")
	}
}

func TestWriteECDFSVG(t *testing.T) {
	var b bytes.Buffer
	panels := []Panel{{
		Title: "10 ms & <co>", XLabel: "takeover / bound",
		Series: []Series{{Name: "vrrpd", Color: "#1f77b4", Values: []float64{1.01, 1.0, 1.02}},
			{Name: "keepalived", Color: "#ff7f0e", Values: []float64{1.03}}},
		Marks: []float64{1, 1.01}, MarkLabels: []string{"bound", "+1%"},
	}, {Title: "empty"}}
	if err := WriteECDFSVG(&b, "takeover", panels); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, one curve per non-empty series.
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	paths := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed XML: %v\n%s", err, b.String())
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "path" {
			paths++
		}
	}
	if paths != 2 {
		t.Errorf("SVG has %d paths, want 2", paths)
	}
	if !strings.Contains(b.String(), "10 ms &amp; &lt;co&gt;") {
		t.Errorf("panel title not escaped:\n%s", b.String())
	}
}
