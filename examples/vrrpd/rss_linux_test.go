package main

import (
	"bufio"
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/scale"
)

// rssN is TestRSSBreakdown's number of instances; 0 (the default) skips
// it: it runs in real time (the RSS is the process's, not a bubble's).
var rssN = flag.Int("rss.n", 0, "TestRSSBreakdown: number of instances (0: skip); issue 12's is 4094")

// rssProfile is where TestRSSBreakdown writes the heap profile taken 10 s
// after every instance became master (a collection first).
var rssProfile = flag.String("rss.profile", "", "TestRSSBreakdown: file for the heap profile 10 s after the takeover")

// rssNoTrim leaves vrrpd's periodic trimHeap out of TestRSSBreakdown.
var rssNoTrim = flag.Bool("rss.notrim", false, "TestRSSBreakdown: without vrrpd's periodic trimHeap")

// rssRow is one line of TestRSSBreakdown's table: /proc/self/status
// (kB) and runtime/metrics' memory classes (bytes).
type rssRow struct {
	phase                   string
	vmRSS, rssAnon, rssFile uint64 // kB
	classes                 map[string]uint64
	gcCPU, cpu              float64 // seconds so far
}

var rssClasses = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/os-stacks:bytes",
	"/memory/classes/metadata/other:bytes",
	"/memory/classes/metadata/mspan/inuse:bytes",
	"/memory/classes/metadata/mspan/free:bytes",
	"/memory/classes/metadata/mcache/inuse:bytes",
	"/memory/classes/metadata/mcache/free:bytes",
	"/memory/classes/profiling/buckets:bytes",
	"/memory/classes/other:bytes",
	"/memory/classes/total:bytes",
	"/gc/heap/live:bytes",
	"/gc/heap/goal:bytes",
	"/gc/gomemlimit:bytes",
	"/gc/cycles/total:gc-cycles",
}

func readRSS(t *testing.T, phase string) rssRow {
	t.Helper()
	r := rssRow{phase: phase, classes: map[string]uint64{}}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			r.vmRSS = n
		case "RssAnon":
			r.rssAnon = n
		case "RssFile":
			r.rssFile = n
		}
	}
	s := make([]metrics.Sample, len(rssClasses))
	for i, n := range rssClasses {
		s[i].Name = n
	}
	metrics.Read(s)
	for _, x := range s {
		r.classes[x.Name] = x.Value.Uint64()
	}
	r.gcCPU = readMetric("/cpu/classes/gc/total:cpu-seconds").Float64()
	r.cpu = processCPU().Seconds()
	return r
}

func (r rssRow) String() string {
	c := func(n string) string { return strconv.FormatFloat(mb(r.classes[n]), 'f', 1, 64) }
	meta := r.classes["/memory/classes/metadata/other:bytes"] + r.classes["/memory/classes/metadata/mspan/inuse:bytes"] +
		r.classes["/memory/classes/metadata/mspan/free:bytes"] + r.classes["/memory/classes/metadata/mcache/inuse:bytes"] +
		r.classes["/memory/classes/metadata/mcache/free:bytes"]
	return "| " + r.phase + " | " + strconv.FormatFloat(float64(r.vmRSS)/1024, 'f', 1, 64) +
		" | " + strconv.FormatFloat(float64(r.rssAnon)/1024, 'f', 1, 64) +
		" | " + strconv.FormatFloat(float64(r.rssFile)/1024, 'f', 1, 64) +
		" | " + c("/memory/classes/heap/objects:bytes") + " | " + c("/gc/heap/live:bytes") +
		" | " + c("/memory/classes/heap/free:bytes") + " | " + c("/memory/classes/heap/released:bytes") +
		" | " + c("/memory/classes/heap/unused:bytes") +
		" | " + strconv.FormatFloat(mb(r.classes["/memory/classes/heap/stacks:bytes"]+r.classes["/memory/classes/os-stacks:bytes"]), 'f', 1, 64) +
		" | " + strconv.FormatFloat(mb(meta), 'f', 1, 64) + " | " + c("/memory/classes/other:bytes") +
		" | " + c("/memory/classes/total:bytes") + " | " + c("/gc/heap/goal:bytes") +
		" | " + strconv.FormatUint(r.classes["/gc/cycles/total:gc-cycles"], 10) +
		" | " + strconv.FormatFloat(r.gcCPU*1000, 'f', 0, 64) + " | " + strconv.FormatFloat(r.cpu*1000, 'f', 0, 64) + " |"
}

// TestRSSBreakdown runs vrrpd's daemon with the scale lab's configuration
// of -rss.n instances on memSys (as TestMemoryPerInstance, but in real
// time, outside a synctest bubble) under vrrpd's GC policy, and prints
// the process's RSS (/proc/self/status) and the runtime's memory classes
// at start-up's end, after releaseStartup, as master, and after reads of
// /status and /metrics (issue 12: 32 MB per side at 4,094 links). The
// test binary's code and data are in RssFile (larger than vrrpd's).
//
//	go test ./examples/vrrpd -run TestRSSBreakdown -v -count=1 -rss.n 4094
func TestRSSBreakdown(t *testing.T) {
	n := *rssN
	if n == 0 {
		t.Skip("a measurement: -rss.n 4094")
	}
	setGCPolicy(os.Getenv, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var rows []rssRow
	row := func(phase string) { rows = append(rows, readRSS(t, phase)) }
	runtime.GC()
	row("before the configuration")
	cfg, err := parseTOML("scale.toml", string(scale.VrrpdConfig(n, time.Second, scale.BackupPriority)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Instances {
		cfg.Instances[i].Notify = "/usr/local/bin/vrrp-notify"
	}
	run := func(context.Context, string, []string) error { return nil }
	d := newDaemon(cfg, &memSys{host: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, run)
	cfg = Config{}
	started := make(chan struct{})
	d.releaseStartup = func() {
		row("every instance started")
		releaseStartup()
		row("after releaseStartup")
		close(started)
	}
	if !*rssNoTrim {
		d.trimHeap = trimHeap
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Minute):
		t.Fatal("the instances have not all started in 5 minutes")
	}
	time.Sleep(10 * time.Second) // every instance master (3.6 s)
	row("master, 10 s")
	if *rssProfile != "" {
		f, err := os.Create(*rssProfile)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		err = pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	h := d.observeHandler(statusHandler(d.streamStatus))
	get := func(path string) {
		if code, _, err := serve(h, "GET", path, "", &discardResponse{}); code != 200 || err != nil {
			t.Fatalf("GET %s: %d, %v", path, code, err)
		}
	}
	get("/status")
	row("after a /status read")
	get("/metrics")
	row("after a /metrics read")
	for range 3 {
		get("/status")
		get("/metrics")
	}
	row("after 3 more of each")
	time.Sleep(30 * time.Second)
	row("30 s later")
	time.Sleep(trimInterval)
	row("one trim interval more")
	var b strings.Builder
	b.WriteString("| phase | VmRSS | RssAnon | RssFile | heap objects | live heap | heap free | heap released | heap unused | stacks | GC metadata | other | total from OS | heap goal | GC cycles | GC CPU ms | process CPU ms |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		b.WriteString(r.String() + "\n")
	}
	t.Logf("%d instances, MB:\n%s", n, b.String())
}
