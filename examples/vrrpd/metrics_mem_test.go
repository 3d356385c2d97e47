package main

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// peakWriter is a writer that measures the live heap (after a full
// collection) at every writes-th write and keeps the largest.
type peakWriter struct {
	writes, n int
	bytes     int64
	peak      uint64
}

func (w *peakWriter) Write(p []byte) (int, error) {
	if w.n%w.writes == 0 {
		w.peak = max(w.peak, liveHeap())
	}
	w.n++
	w.bytes += int64(len(p))
	return len(p), nil
}

// checkHeld reports what w saw held live at its writes (its peak, less
// base, the live heap before) by a read of n instances, and fails the
// test beyond bound bytes.
func checkHeld(t *testing.T, what string, n int, base uint64, w *peakWriter, bound int64) {
	t.Helper()
	held := int64(w.peak) - int64(base)
	t.Logf("%d instances, %.1f MB written: at most %.0f kB held during %s", n, float64(w.bytes)/(1<<20), float64(held)/(1<<10), what)
	if held > bound {
		t.Errorf("%s of %d instances held %d B live; want at most %d", what, n, held, bound)
	}
}

// bigSnapshot is n copies of fixedSnapshot's first instance (every kind
// of figure), named VI_<i> on vl<i>.
func bigSnapshot(n int) snapshot {
	s := fixedSnapshot()
	one := s.Instances[0]
	s.Instances = s.Instances[:0]
	for i := range n {
		in := one
		in.Name = fmt.Sprintf("VI_%d", i)
		in.Interface = fmt.Sprintf("vl%d", i)
		s.Instances = append(s.Instances, in)
	}
	return s
}

// BenchmarkWriteMetrics is the exposition of a snapshot of 4,094
// instances with every kind of figure (no daemon): the CPU of building and
// writing it.
//
//	go test -run '^$' -bench WriteMetrics -benchmem ./examples/vrrpd
func BenchmarkWriteMetrics(b *testing.B) {
	s := bigSnapshot(4094)
	b.ReportAllocs()
	for b.Loop() {
		if err := writeMetrics(io.Discard, true, s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMetricsScrapeHoldsLittle: a scrape of /metrics does not hold every
// sample of every family at once (issue 12: 18 MB live during a scrape at
// 4,094 instances, which set the GC's heap goal and the RSS after it).
// Deterministic: a count of live bytes at the writes, not a timing.
func TestMetricsScrapeHoldsLittle(t *testing.T) {
	const n = 1000
	s := bigSnapshot(n)
	base := liveHeap()
	w := &peakWriter{writes: 4}
	if err := writeMetrics(w, true, s); err != nil {
		t.Fatal(err)
	}
	// A sample is 64 B and the instance has ~55 of them in ~50
	// families; before the families were built eight at a time, a scrape
	// held all of them: 4.0 MB here (1.2 MB after). Now each sample is
	// written as it is read: the buffer, 50 kB.
	checkHeld(t, "a scrape", n, base, w, 256<<10)
	runtime.KeepAlive(s)
}

// TestMetricsDaemonScrapeHoldsLittle: a daemon's GET /metrics, its
// snapshot included, holds little of its 1,000 instances (issue 12: the
// snapshot of every instance, ~1 kB each with its map of transition
// counts, and the samples of the families written together).
// Deterministic: a count of live bytes at the writes, not a timing.
func TestMetricsDaemonScrapeHoldsLittle(t *testing.T) {
	const n = 1000
	withMasters(t, n, false, func(d *daemon) {
		h := d.observeHandler(statusHandler(d.streamStatus))
		// A scrape first: what the first one allocates for good (the
		// handler's, the observer's) is not what a scrape holds.
		get(t, h, "/metrics", "")
		base := liveHeap()
		w := &peakWriter{writes: 4}
		if code, _, err := serve(h, "GET", "/metrics", "", w); code != 200 || err != nil {
			t.Fatalf("GET /metrics: %d, %v", code, err)
		}
		// Before, the snapshot with a map of transition counts per
		// instance and eight families' samples: 2.0 MB here. Now the
		// snapshot (~700 B an instance: the Router's counters, read
		// once per scrape, not once per family) and the buffer: 0.7 MB.
		checkHeld(t, "a daemon's scrape", n, base, w, 1<<20)
		runtime.KeepAlive(d)
	})
}

// writeMetrics, family by family as it reads the samples, writes what
// writeExposition writes of every family at once, in both formats.
func TestWriteMetricsIdentical(t *testing.T) {
	s := bigSnapshot(3)
	s.FIFO = &fifoStats{Written: 4, Dropped: 1}
	for _, om := range []bool{false, true} {
		var got, want bytes.Buffer
		if err := writeMetrics(&got, om, s); err != nil {
			t.Fatal(err)
		}
		if err := writeExposition(&want, om, metricFamilies(s)); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("openmetrics %v: writeMetrics wrote\n%s\nwant\n%s", om, got.String(), want.String())
		}
	}
}
