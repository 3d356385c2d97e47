package measure

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var replotFlag = flag.Bool("measure.replot", false, "rewrite takeover.svg and handover.svg from the stored samples (takeover.json, handover.json) in -measure.dir")

var replotDir = flag.String("measure.dir", "testdata", "directory of the stored samples for -measure.replot")

// implColors are the plot colours of the implementations the harness
// times, in legend order.
var implColors = []struct{ name, color string }{
	{"vrrpd", "#1f77b4"},
	{"vrrpd-baseline", "#9467bd"},
	{"keepalived", "#ff7f0e"},
	{"Router, no-op hook", "#2ca02c"},
}

// trialPanels builds one ECDF panel per interval from raw samples
// (interval -> implementation -> nanoseconds), each divided by the RFC
// bound of kind at priority 100.
func trialPanels(kind string, raw map[string]map[string][]int64) ([]Panel, error) {
	type iv struct {
		d time.Duration
		s string
	}
	var ivs []iv
	for s := range raw {
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, err
		}
		ivs = append(ivs, iv{d, s})
	}
	slices.SortFunc(ivs, func(a, b iv) int { return int(a.d - b.d) })
	var panels []Panel
	for _, v := range ivs {
		bound := MasterDownInterval(v.d, 100)
		if kind == "Handover" {
			bound = SkewTime(v.d, 100)
		}
		p := Panel{Title: kind + ", interval " + v.s, XLabel: "measured / bound",
			Marks: []float64{1, 1.01, 1.02}, MarkLabels: []string{"bound", "+1%", "+2%"}}
		for _, ic := range implColors {
			ns, ok := raw[v.s][ic.name]
			if !ok {
				continue
			}
			ds := make([]time.Duration, len(ns))
			for i, x := range ns {
				ds[i] = time.Duration(x)
			}
			p.Series = append(p.Series, Series{Name: ic.name, Color: ic.color, Values: Summarize(ds, bound).Ratios()})
		}
		panels = append(panels, p)
	}
	return panels, nil
}

// TestReplot redraws the plots from stored samples. It is a tool, not a
// test: it runs only with -measure.replot.
//
//	go test ./internal/measure -run TestReplot -measure.replot
func TestReplot(t *testing.T) {
	if !*replotFlag {
		t.Skip("plot tool, skipped by design: run with -measure.replot to redraw the SVGs from the stored samples")
	}
	for _, kind := range []string{"Takeover", "Handover"} {
		lower := strings.ToLower(kind)
		b, err := os.ReadFile(filepath.Join(*replotDir, lower+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]map[string][]int64
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("%s.json: %v", lower, err)
		}
		panels, err := trialPanels(kind, raw)
		if err != nil {
			t.Fatalf("%s.json: %v", lower, err)
		}
		f, err := os.Create(filepath.Join(*replotDir, lower+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteECDFSVG(f, plotTitle(kind), panels); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func plotTitle(kind string) string {
	return kind + " time / RFC 9568 bound, vrrpd vs keepalived (ECDF, VRRPv3 IPv4, priority 100)"
}
