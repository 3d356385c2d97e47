package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func runOut(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var b bytes.Buffer
	code := run(args, &b)
	return code, b.String()
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q", l)
		}
	}
}

// The README's command: three routers at 1 s. The times are RFC 9568
// section 6.1 worked by hand: Master_Down_Interval is 3.21875 s for
// priority 200 and 3.4140625 s for 150, Skew_Time 0.4140625 s for 150.
func TestDefault(t *testing.T) {
	code, out := runOut(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("output has FAIL:\n%s", out)
	}
	wantLines(t, out,
		"PASS  ipv4/1 R1 became master at 3.218750000s = start + Master_Down_Interval(200) [exact]",
		"PASS  ipv6/1 R2 became master at 12.632812500s = last advertisement of R1 9.218750000s + Master_Down_Interval(150) [exact]",
		"PASS  ipv4/1 R1 became master at 23.218750000s = restart + Master_Down_Interval(200) [exact]",
		"PASS  ipv4/1 R2 became master at 30.747395833s = shutdown + Skew_Time(150) [exact]",
		"PASS  ipv4/1 at 47.632812500s the masters are (split brain) R1 R2",
		"PASS  ipv4/1 R1 re-advertised and announced at 55.632812500s on hearing priority 150 [exact]",
		"30.333333333s  R1   ipv4/1  advertises priority 0",
		"55.632812500s  R1   ipv6/1  re-advertises, announces",
		"3.218750000s  R1   ipv6/1  announces fe80::1 2001:db8::1",
		"10.000000000s  R1   -       crashes",
		"45.000000000s  -    -       partition {R1} | {R2 R3}",
		"router      VR   state  priority  master transitions  adverts sent  adverts rcvd  prio-0 sent  prio-0 rcvd",
		"R1  ipv4/1  Master       200                   3",
		"all 40 checks passed",
	)
}

// Five routers at 10 ms: priorities 200, 175, 150, 125, 100; for 175
// Master_Down_Interval is 30 ms + 81 x 10 ms / 256 = 33.1640625 ms, in
// whole nanoseconds 33.164062 ms.
func TestFiveRoutersTenMilliseconds(t *testing.T) {
	code, out := runOut(t, "-routers", "5", "-interval", "10ms")
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	wantLines(t, out,
		"R5      100",
		"PASS  ipv4/1 R1 became master at 0.032187500s = start + Master_Down_Interval(200) [exact]",
		"PASS  ipv4/1 R2 became master at 0.125351562s = last advertisement of R1 0.092187500s + Master_Down_Interval(175) [exact]",
		"partition {R1} | {R2 R3 R4 R5}",
		"all 40 checks passed",
	)
}

// With loss the run is still deterministic for a seed; the checks that
// depend on one advertisement arriving are bounds, and the quiet network
// at the end must leave one master.
func TestLoss(t *testing.T) {
	args := []string{"-loss", "0.3", "-seed", "3", "-interval", "100ms"}
	code, out := runOut(t, args...)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	wantLines(t, out, "[bound]", "== 8. Quiet network ==", "PASS  ipv6/1 at 7.443750000s the master is R1") // 60 x 100ms + 4 x (300ms + 60.9375ms)
	_, again := runOut(t, args...)
	if again != out {
		t.Error("two runs with the same seed differ")
	}
}

func TestRealtime(t *testing.T) {
	if testing.Short() {
		t.Skip("paced by real time (about 0.6 s)")
	}
	code, out := runOut(t, "-realtime", "-routers", "2", "-interval", "10ms")
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	wantLines(t, out, "real time", "all 40 checks passed")
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-routers", "1"},
		{"-routers", "21"},
		{"-interval", "15ms"},
		{"-interval", "41s"},
		{"-loss", "1"},
		{"-loss", "-0.1"},
		{"-nope"},
		{"extra"},
	} {
		if code, out := runOut(t, args...); code != 2 {
			t.Errorf("run(%q) = %d, want 2:\n%s", args, code, out)
		}
	}
	if code, _ := runOut(t, "-h"); code != 0 {
		t.Errorf("run(-h) = %d, want 0", code)
	}
}

// A check against a wrong expectation prints FAIL and makes the exit
// code 1.
func TestFailReported(t *testing.T) {
	var b bytes.Buffer
	d, err := newDemo(&b, 3, time.Second, 0, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range d.names {
		d.s.Start(n)
	}
	d.runUntil(5 * time.Second)
	d.checkTakeover(vr4, 0, "R1", 3*time.Second, false, "wrong on purpose")
	d.checkMasters(vr4, "R2")
	if d.fail != 2 || d.pass != 0 {
		t.Errorf("pass=%d fail=%d, want 0 and 2", d.pass, d.fail)
	}
	wantLines(t, b.String(),
		"FAIL  ipv4/1 R1 became master at 3.000000000s = wrong on purpose; it did at 3.218750000s [exact]",
		"FAIL  ipv4/1 at 5.000000000s the master is R2; got R1",
	)
}
