// Package measure holds the harness that measures the vrrpd example daemon
// against keepalived in the same run (project issues 4 and 7): takeover
// time after a crash of the master, priority-0 handover time, and CPU and
// memory with 255 virtual routers. The figures are in RESULTS.md beside
// this file.
//
// The measurements are Go test functions that run only with the -measure
// flag (or GOVRRP_MEASURE=1): they take minutes, need root, keepalived,
// tcpdump and tshark, and are measurements, not tests. Without the flag
// they are skipped by design, also under CI=true. Run all of them with
//
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/measure -run TestMeasure -measure -v -timeout 60m
//
// or one part with -run TestMeasure/Takeover, TestMeasure/Handover or
// TestMeasure/CPU. Flags (after the package): -measure.trials (30),
// -measure.intervals ("10ms,100ms,1s"), -measure.vrs (255),
// -measure.window (30s), -measure.out (directory for tables.md, the raw
// samples and the SVG plots; default testdata), -measure.inproc (true),
// -measure.baseline PATH: a vrrpd binary built from older code, timed as
// "vrrpd-baseline" in the takeover and handover trials, which then run
// interleaved trial by trial with the other implementations (one lab
// each), so that a before/after comparison shares the machine's load.
//
// TestRealtimeLoad (issue 14) is the exception: it runs in the privileged
// suite (GOVRRP_PRIVILEGED=1) as a 20 s version under CPU hogs, and the
// measurement in BENCHMARKS.md, "Real-time scheduling under CPU hogs", is
// its 5-minute version: -measure.rtload 5m (or GOVRRP_RTLOAD=5m). It needs
// keepalived 2.3.3 (internal/keepalived.RFC9568Binary).
//
// The package's non-test code is pure: order statistics, the RFC 9568
// bounds and a small hand-written SVG plotter; it is unit-tested by the
// ordinary `go test`.
package measure
