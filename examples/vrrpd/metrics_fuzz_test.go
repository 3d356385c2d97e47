package main

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// Whatever the names (instance, interface, script: free strings in the
// configuration) and the Accept header, the exposition keeps one sample
// per line, with every label value escaped, and the same lines as with
// plain names.
func FuzzMetricsNames(f *testing.F) {
	f.Add("VI_1", "eth0", "chk", "application/openmetrics-text")
	f.Add("a\"b\\c\nd", "e\nth0", `\"`, "text/plain;q=0.5,application/openmetrics-text;version=1.0.0")
	f.Add("", "", "", ";;q=2,,*/*")
	f.Add("\xffVI", "eth\xc3", "\xed\xa0\x80", "")
	f.Fuzz(func(t *testing.T, name, iface, script, accept string) {
		s := fixedSnapshot()
		plain := fixedSnapshot()
		s.Instances[0].Name, s.Instances[0].Interface = name, iface
		s.Instances[0].TrackScripts[0].Name = script
		om := wantOpenMetrics(accept)
		var got, want bytes.Buffer
		if err := writeExposition(&got, om, metricFamilies(s)); err != nil {
			t.Fatal(err)
		}
		if err := writeExposition(&want, om, metricFamilies(plain)); err != nil {
			t.Fatal(err)
		}
		if g, w := strings.Count(got.String(), "\n"), strings.Count(want.String(), "\n"); g != w {
			t.Fatalf("%d lines, want %d:\n%s", g, w, got.String())
		}
		for line := range strings.SplitSeq(strings.TrimSuffix(got.String(), "\n"), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			// A sample: NAME{labels} VALUE, the labels' quotes balanced
			// once escapes are removed.
			un := strings.NewReplacer(`\\`, "", `\"`, "").Replace(line)
			if strings.Count(un, `"`)%2 != 0 || !strings.HasPrefix(line, "vrrp") || !utf8.ValidString(line) {
				t.Fatalf("bad sample line %q", line)
			}
		}
	})
}
