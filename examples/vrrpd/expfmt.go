package main

import (
	"bufio"
	"io"
	"math"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small writer of the Prometheus text exposition format 0.0.4 and of
// OpenMetrics 1.0 text, enough for vrrpd's figures: counters, gauges and
// info metrics, without timestamps, exemplars or histograms.
//
// vrrpd writes the format itself rather than use
// github.com/prometheus/client_golang: every figure is already counted by
// vrrp.Router (Router.Stats, RouterStats) or the daemon and only read at
// scrape time, so the library's registry, metric objects and collectors
// would add a dozen modules (client_model, common, procfs, protobuf, ...)
// to a module that has none of them, to do what 200 lines do. Its output
// is checked by promtool (Prometheus text) and by a real Prometheus
// server, which asks for OpenMetrics (metrics_test.go,
// metrics_linux_test.go).

// Content types of the two formats.
const (
	contentTypeText        = "text/plain; version=0.0.4; charset=utf-8"
	contentTypeOpenMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8"
)

// metricType is the TYPE of a metric family.
type metricType uint8

const (
	counterType metricType = iota
	gaugeType
	infoType
)

// label is one label pair.
type label struct{ name, value string }

// sample is one sample of a family: its labels and value: count when
// exact is set (a counter, written as an integer, exactly), else value.
type sample struct {
	// base are labels written first, escaped and joined by joinLabels
	// ("" none): the same string for every sample of an instance.
	base   string
	labels []label
	value  float64
	count  uint64
	exact  bool
}

// family is a metric family. name is the OpenMetrics family name: without
// the _total of a counter or the _info of an info metric, which the
// writer appends to the samples (and, for Prometheus text, to the TYPE
// and HELP lines).
type family struct {
	name    string
	typ     metricType
	help    string
	samples []sample
}

// wantOpenMetrics reports whether the Accept header asks for OpenMetrics
// rather than the Prometheus text format: the media range with the
// highest q wins, OpenMetrics on a tie only when listed first. No Accept
// header, */* or anything else: Prometheus text 0.0.4.
func wantOpenMetrics(accept string) bool {
	om, text := -1.0, -1.0
	omFirst := false
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		switch mt {
		case "application/openmetrics-text":
			if v := params["version"]; v != "" && v != "1.0.0" && v != "0.0.1" {
				continue
			}
			if om < 0 && text < 0 {
				omFirst = true
			}
			om = max(om, q)
		case "text/plain", "*/*", "text/*":
			text = max(text, q)
		}
	}
	if om <= 0 {
		return false
	}
	return om > text || om == text && omFirst
}

// expositionBuffer is the size of the buffer between writeExposition and
// its writer (the connection): the exposition goes out in pieces of this
// size.
const expositionBuffer = 32 << 10

// writeExposition writes the families in OpenMetrics text (om) or
// Prometheus text 0.0.4.
func writeExposition(w io.Writer, om bool, fams []family) error {
	b := bufio.NewWriterSize(w, expositionBuffer)
	if err := writeFamilies(b, om, fams); err != nil {
		return err
	}
	if om {
		b.WriteString("# EOF\n")
	}
	return b.Flush()
}

// writeFamilies writes the families to b, without OpenMetrics' # EOF;
// the error is b's.
func writeFamilies(b *bufio.Writer, om bool, fams []family) error {
	var num [32]byte
	for i := range fams {
		f := &fams[i]
		if len(f.samples) == 0 {
			continue
		}
		writeFamilyHead(b, om, f)
		sampleName := f.sampleName()
		for j := range f.samples {
			s := &f.samples[j]
			b.WriteString(sampleName)
			if s.base != "" || len(s.labels) > 0 {
				b.WriteByte('{')
				b.WriteString(s.base)
				writeLabels(b, s.base != "", s.labels)
				b.WriteByte('}')
			}
			writeSampleValue(b, s, &num)
		}
	}
	_, err := b.Write(nil)
	return err
}

// sampleName is the name of f's samples: with the _total of a counter,
// the _info of an info metric.
func (f *family) sampleName() string {
	switch f.typ {
	case counterType:
		return f.name + "_total"
	case infoType:
		return f.name + "_info"
	}
	return f.name
}

// writeFamilyHead writes the HELP and TYPE lines of f.
func writeFamilyHead(b *bufio.Writer, om bool, f *family) {
	metaName, typ := f.sampleName(), "gauge"
	switch {
	case om && f.typ == counterType:
		metaName, typ = f.name, "counter"
	case om && f.typ == infoType:
		metaName, typ = f.name, "info"
	case f.typ == counterType:
		typ = "counter"
	}
	b.WriteString("# HELP ")
	b.WriteString(metaName)
	b.WriteByte(' ')
	b.WriteString(escapeHelp(f.help, om))
	b.WriteString("\n# TYPE ")
	b.WriteString(metaName)
	b.WriteByte(' ')
	b.WriteString(typ)
	b.WriteByte('\n')
}

// writeLabels writes ls as name="value" pairs, comma-separated, with a
// comma first if after (labels were written before them).
func writeLabels(b *bufio.Writer, after bool, ls []label) {
	for i, l := range ls {
		if i > 0 || after {
			b.WriteByte(',')
		}
		b.WriteString(l.name)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(l.value))
		b.WriteByte('"')
	}
}

// writeSampleValue writes the value of s and the end of its line.
func writeSampleValue(b *bufio.Writer, s *sample, num *[32]byte) {
	b.WriteByte(' ')
	if s.exact {
		b.Write(strconv.AppendUint(num[:0], s.count, 10))
	} else {
		b.Write(appendValue(num[:0], s.value))
	}
	b.WriteByte('\n')
}

// joinLabels returns the labels ls as a sample writes them between its
// braces: name="value" (escaped), comma-separated.
func joinLabels(ls ...label) string {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.name)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(l.value))
		b.WriteByte('"')
	}
	return b.String()
}

// escapeLabel escapes a label value: backslash, double quote, newline
// (the same in both formats); invalid UTF-8, which both formats forbid,
// becomes U+FFFD.
func escapeLabel(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '"' || c == '\n' || c >= utf8.RuneSelf {
			return escapeLabelAll(s)
		}
	}
	return s // the usual case: ASCII, nothing to escape
}

// escapeLabelAll is escapeLabel of a value that may need it.
func escapeLabelAll(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return labelEscaper.Replace(s)
}

// labelEscaper and helpEscaper escape label values and Prometheus text
// HELP (a Replacer is safe for concurrent use; built once, not per
// value).
var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

// escapeHelp escapes a HELP text: backslash and newline, and in
// OpenMetrics the double quote too.
func escapeHelp(s string, om bool) string {
	if om {
		return escapeLabel(s)
	}
	return helpEscaper.Replace(s)
}

// appendValue appends v to dst: integers exactly (counters up to 2^53),
// other values in the shortest form that reads back the same.
func appendValue(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.AppendInt(dst, int64(v), 10)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}
