package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/transport/memnet"
)

func TestParseTrackValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"5", 5, true}, {"  -12\n", -12, true}, {"+7", 7, true}, {"0x1f", 31, true},
		{"010", 8, true}, {"09", 0, true}, {"42 trailing", 42, true}, {"abc", 0, true}, {"0", 0, true},
		{"2147483648", 2147483648, true}, {"2147483649", 0, false}, {"-2147483649", 0, false},
		{"99999999999999999999999", 0, false},
	} {
		got, ok := parseTrackValue([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseTrackValue(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestFileTracked: keepalived's track_file rules on the priority.
func TestFileTracked(t *testing.T) {
	for _, tc := range []struct {
		value   int64
		weight  int
		reverse bool
		prio    uint8
		fault   bool
	}{
		{0, 0, false, 100, false},
		{3, 0, false, 100, true}, // weight 0: non-zero is FAULT
		{0, 0, true, 100, true},  // reversed: zero is FAULT
		{3, 0, true, 100, false},
		{5, 2, false, 110, false},    // value * weight added
		{-5, 2, false, 90, false},    // negative subtracts
		{5, 2, true, 90, false},      // reverse negates the weight
		{100, 10, false, 254, false}, // capped at 254 (253 added)
		{-127, 2, false, 100, true},  // -254: FAULT
		{-50, 2, false, 1, false},    // -100 from 100: at least 1
	} {
		prio, fault := effectivePriority(100, []tracked{fileTracked(tc.value, tc.weight, tc.reverse)})
		if prio != tc.prio || fault != tc.fault {
			t.Errorf("value %d weight %d reverse %v: priority %d fault %v; want %d %v", tc.value, tc.weight, tc.reverse, prio, fault, tc.prio, tc.fault)
		}
	}
	// The address owner keeps 255 but can be put in FAULT.
	if p, f := effectivePriority(255, []tracked{fileTracked(3, 0, false)}); p != 255 || !f {
		t.Errorf("owner: %d %v", p, f)
	}
}

func TestTrackProcessMatch(t *testing.T) {
	e := func(comm string, argv ...string) procEntry { return procEntry{comm: comm, argv: argv} }
	for _, tc := range []struct {
		p    TrackProcess
		e    procEntry
		want bool
	}{
		{TrackProcess{Process: "haproxy"}, e("haproxy"), true},
		{TrackProcess{Process: "haproxy"}, e("haproxy-wrapper"), false},
		{TrackProcess{Process: "ssh"}, e("sshd"), false}, // exact, as keepalived (not pgrep)
		{TrackProcess{Process: "/usr/sbin/haproxy", FullCommand: true}, e("haproxy", "/usr/sbin/haproxy", "-f", "x"), true},
		{TrackProcess{Process: "/usr/sbin/haproxy", FullCommand: true}, e("haproxy", "haproxy"), false},
		{TrackProcess{Process: "sleep", Params: []string{"100"}}, e("sleep", "sleep", "100"), true},
		{TrackProcess{Process: "sleep", Params: []string{"100"}}, e("sleep", "sleep", "100", "x"), false},
		{TrackProcess{Process: "sleep", Params: []string{"100"}, ParamMatch: "partial"}, e("sleep", "sleep", "100", "x"), true},
		{TrackProcess{Process: "sleep", Params: []string{"10"}, ParamMatch: "partial"}, e("sleep", "sleep", "100"), false},
		{TrackProcess{Process: "sleep", Params: []string{"10"}, ParamMatch: "initial"}, e("sleep", "sleep", "100"), true},
		{TrackProcess{Process: "sleep", Params: []string{"a", "10"}, ParamMatch: "initial"}, e("sleep", "sleep", "b", "100"), false},
		{TrackProcess{Process: "sleep", ParamMatch: "exact"}, e("sleep", "sleep"), true}, // no parameters at all
		{TrackProcess{Process: "sleep", ParamMatch: "exact"}, e("sleep", "sleep", "1"), false},
	} {
		if got := tc.p.matches(tc.e); got != tc.want {
			t.Errorf("%+v matches %+v = %v, want %v", tc.p, tc.e, got, tc.want)
		}
	}
}

// TestProcStateQuorumDelays: the quorum window and keepalived's fork and
// terminate delays (a bounce shorter than the delay changes nothing).
func TestProcStateQuorumDelays(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	s := &procState{def: TrackProcess{Quorum: 2, QuorumMax: 3, ForkDelay: time.Second, TerminateDelay: 2 * time.Second}}
	steps := []struct {
		t       float64
		n       int
		changed bool
		status  int8
	}{
		{0, 2, true, statusUp},      // the first observation decides at once
		{1, 4, false, statusUp},     // above quorum_max: lost, terminate_delay starts
		{2, 3, false, statusUp},     // back within 2s: nothing happened
		{3, 1, false, statusUp},     // lost again
		{4.5, 0, false, statusUp},   //
		{5, 0, true, statusDown},    // 2s after: down
		{6, 2, false, statusDown},   // gained: fork_delay
		{6.5, 1, false, statusDown}, // lost before 1s: forgotten
		{7, 3, false, statusDown},   // gained again
		{8, 3, true, statusUp},      // 1s after: up
	}
	for _, st := range steps {
		if got := s.observe(at(st.t), st.n); got != st.changed || s.status != st.status {
			t.Errorf("t=%gs n=%d: changed %v status %d; want %v %d", st.t, st.n, got, s.status, st.changed, st.status)
		}
	}
	// quorum_max 0: up while none runs.
	s = &procState{def: TrackProcess{Quorum: 0, QuorumMax: 0}}
	if s.observe(t0, 0); s.status != statusUp {
		t.Error("quorum_max 0, none running: want up")
	}
	if s.observe(t0, 1); s.status != statusDown {
		t.Error("quorum_max 0, one running: want down")
	}
}

// TestScanProcsFindsChild: a sleep child of the test's own is counted by
// name and by command line while it runs, and not once killed (a zombie
// is not counted either).
func TestScanProcsFindsChild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc (Linux)")
	}
	arg := uniqueSleepArg()
	c := exec.Command("sleep", arg)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.Process.Kill()
		c.Wait()
	}()
	count := func(p TrackProcess) int {
		procs, err := scanProcs("/proc", p.byCommand())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range procs {
			if p.matches(e) {
				n++
			}
		}
		return n
	}
	byArgs := TrackProcess{Process: "sleep", Params: []string{arg}}
	deadline := time.Now().Add(10 * time.Second) // a hang guard: exec takes a moment
	for count(byArgs) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the sleep child (pid %d) is not found by its command line", c.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(TrackProcess{Process: "sleep"}); n < 1 {
		t.Errorf("by name: %d sleep processes", n)
	}
	// Killed by PID, not yet reaped: a zombie, not counted.
	if err := c.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for count(byArgs) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the killed sleep child (pid %d) is still counted", c.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTrackObjectsConfig(t *testing.T) {
	text := `
[[track_file]]
name = "maint"
file = "/run/maint"
weight = -10
init_file = 0

[[track_file]]
name = "down"
file = "/run/down"
weight = 0

[[track_process]]
name = "haproxy"
process = "haproxy"
quorum = 2
quorum_max = 4
delay = "1s"
terminate_delay = "3s"
weight = -20

[[track_process]]
name = "nginx"
process = "/usr/sbin/nginx"
params = ["-g", "daemon off;"]
param_match = "partial"

[[instance]]
name = "A"
interface = "eth0"
vrid = 1
vips = ["10.0.0.1"]
track_file = [{ name = "maint" }, { name = "down", reverse = true }]
track_process = [{ name = "haproxy", weight = 30 }, { name = "nginx" }]
`
	cfg, err := parseTOML("f.toml", text)
	if err != nil {
		t.Fatal(err)
	}
	wantF := []TrackFile{
		{Name: "maint", Path: "/run/maint", Weight: -10, Init: true},
		{Name: "down", Path: "/run/down", Weight: 0},
	}
	wantP := []TrackProcess{
		{Name: "haproxy", Process: "haproxy", Quorum: 2, QuorumMax: 4, ForkDelay: time.Second, TerminateDelay: 3 * time.Second, Weight: -20},
		{Name: "nginx", Process: "/usr/sbin/nginx", Params: []string{"-g", "daemon off;"}, ParamMatch: "partial", Quorum: 1, QuorumMax: math.MaxInt},
	}
	if diff := cmp.Diff(wantF, cfg.TrackFiles); diff != "" {
		t.Errorf("track files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantP, cfg.TrackProcesses); diff != "" {
		t.Errorf("track processes (-want +got):\n%s", diff)
	}
	in := cfg.Instances[0]
	if diff := cmp.Diff([]TrackRef{{"maint", -10, false}, {"down", 0, true}}, in.TrackFiles); diff != "" {
		t.Errorf("instance track_file (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]TrackRef{{"haproxy", 30, false}, {"nginx", 0, false}}, in.TrackProcesses); diff != "" {
		t.Errorf("instance track_process (-want +got):\n%s", diff)
	}

	inst := "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.1\"]\n"
	for _, tc := range []struct{ text, want string }{
		{"[[track_file]]\nname = \"f\"\n" + inst, `track_file[0] "f": file: want the path`},
		{"[[track_file]]\nname = \"f\"\nfile = \"/x\"\nweight = 300\n" + inst, `track_file[0] "f": weight = 300: want -254 to 254`},
		{"[[track_file]]\nname = \"f\"\nfile = \"/x\"\n[[track_file]]\nname = \"f\"\nfile = \"/y\"\n" + inst, `track_file[1].name = f: want a name no other track_file has`},
		{"[[track_process]]\nname = \"p\"\n" + inst, `track_process[0] "p": process: want a process name`},
		{"[[track_process]]\nname = \"p\"\nprocess = \"a-very-long-process-name\"\n" + inst, `process = a-very-long-process-name: want at most 15 bytes`},
		{"[[track_process]]\nname = \"p\"\nprocess = \"x\"\nquorum = 3\nquorum_max = 2\n" + inst, `quorum_max = 2: want 3 (quorum) to 65535, or 0 (down while any runs) with quorum at most 1`},
		{"[[track_process]]\nname = \"p\"\nprocess = \"x\"\nquorum = 2\nquorum_max = 0\n" + inst, `quorum_max = 0: want 2 (quorum) to 65535, or 0`},
		{"[[track_process]]\nname = \"p\"\nprocess = \"x\"\nparam_match = \"fuzzy\"\n" + inst, `param_match = fuzzy: want exact, partial or initial`},
		{"[[track_process]]\nname = \"p\"\nprocess = \"x\"\ndelay = \"-1s\"\n" + inst, `delay = -1s: want a Go duration from 0s to 1h`},
		{inst + "track_file = [{ name = \"nope\" }]", `instance[0] "A": track_file[0].name = nope: want the name of a [[track_file]]`},
		{"[[track_process]]\nname = \"p\"\nprocess = \"x\"\n" + inst + "track_process = [{ name = \"p\", reverse = true }]", `track_process[0].reverse = true: want no reverse`},
	} {
		_, err := parseTOML("f.toml", tc.text)
		if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v\nwant %q", tc.text, err, tc.want)
		}
	}
}

// TestDaemonTrackFile: the value in the file moves the priority (value *
// weight), a weight-0 file with a non-zero value holds the instance in
// FAULT, init_file writes the file at start; the status shows them.
func TestDaemonTrackFile(t *testing.T) {
	dir := t.TempDir()
	prioFile, faultFile := filepath.Join(dir, "prio"), filepath.Join(dir, "fault")
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		c := cfgOf(inst("VI_1", 1, 100, "10.0.0.100"))
		c.TrackFiles = []TrackFile{
			{Name: "prio", Path: prioFile, Weight: 5, Init: true, InitValue: 2},
			{Name: "fault", Path: faultFile, Weight: 0},
		}
		c.Instances[0].TrackFiles = []TrackRef{{"prio", 5, false}, {"fault", 0, false}}
		h := startHost(t, lan, 1, c)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if b, _ := os.ReadFile(prioFile); string(b) != "2\n" {
			t.Errorf("init_file wrote %q, want \"2\\n\"", b)
		}
		is := h.d.status().Instances[0]
		if is.Priority != 110 || is.State != "MASTER" {
			t.Errorf("value 2 * weight 5: priority %d state %s; want 110 MASTER", is.Priority, is.State)
		}
		os.WriteFile(prioFile, []byte("-4\n"), 0o644)
		time.Sleep(time.Second)
		synctest.Wait()
		if is := h.d.status().Instances[0]; is.Priority != 80 {
			t.Errorf("value -4 * weight 5: priority %d, want 80", is.Priority)
		}
		_, text := scrape(t, h.d.snapshot(), "")
		if want := `vrrp_track_file_value{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",track_file="prio"} -4` + "\n"; !strings.Contains(string(text), want) {
			t.Errorf("metrics: no %s", want)
		}
		os.WriteFile(faultFile, []byte("1"), 0o644)
		time.Sleep(time.Second)
		synctest.Wait()
		is = h.d.status().Instances[0]
		if is.State != "FAULT" || !is.TrackFault {
			t.Errorf("weight 0 file with 1: state %s track_fault %v; want FAULT", is.State, is.TrackFault)
		}
		if len(is.TrackFiles) != 2 || is.TrackFiles[1].Status != "fault" || *is.TrackFiles[0].Value != -4 {
			t.Errorf("status track_files %+v", is.TrackFiles)
		}
		os.Remove(faultFile) // missing: 0
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if is := h.d.status().Instances[0]; is.State != "MASTER" {
			t.Errorf("fault file removed: state %s, want MASTER", is.State)
		}
	})
}

// TestDaemonTrackProcess: a process tracked by its command line (a sleep
// child the test starts and kills by PID): its weight applies while it
// runs, and with weight 0 its end is a FAULT.
func TestDaemonTrackProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc (Linux)")
	}
	arg := uniqueSleepArg()
	c := exec.Command("sleep", arg)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.Process.Kill()
		c.Wait()
	}()
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		cf := cfgOf(inst("VI_1", 1, 100, "10.0.0.100"), inst("VI_2", 2, 100, "10.0.0.200"))
		cf.TrackProcesses = []TrackProcess{{Name: "sleep", Process: "sleep", Params: []string{arg}, Quorum: 1, QuorumMax: math.MaxInt}}
		cf.Instances[0].TrackProcesses = []TrackRef{{Name: "sleep", Weight: 20}}
		cf.Instances[1].TrackProcesses = []TrackRef{{Name: "sleep", Weight: 0}}
		h := startHost(t, lan, 1, cf)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		// exec may not have replaced the child's image yet: wait (virtual
		// time) until it is seen.
		for i := 0; i < 100 && h.d.status().Instances[0].Priority != 120; i++ {
			time.Sleep(time.Second)
			synctest.Wait()
		}
		st := h.d.status()
		if st.Instances[0].Priority != 120 || st.Instances[1].State != "MASTER" {
			t.Fatalf("sleep running: VI_1 priority %d (want 120), VI_2 %s (want MASTER)", st.Instances[0].Priority, st.Instances[1].State)
		}
		_, text := scrape(t, h.d.snapshot(), "")
		for _, want := range []string{
			`vrrp_track_process_up{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",track_process="sleep"} 1` + "\n",
			`vrrp_track_process_count{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",track_process="sleep"} 1` + "\n",
		} {
			if !strings.Contains(string(text), want) {
				t.Errorf("metrics: no %s", want)
			}
		}
		if p := st.Instances[0].TrackProcesses; len(p) != 1 || p[0].Status != "up" || *p[0].Value != 1 {
			t.Errorf("status track_processes %+v (value %d)", p, *p[0].Value)
		}
		if err := c.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100 && h.d.status().Instances[1].State != "FAULT"; i++ {
			time.Sleep(time.Second)
			synctest.Wait()
		}
		st = h.d.status()
		if st.Instances[0].Priority != 100 || st.Instances[1].State != "FAULT" {
			t.Errorf("sleep killed: VI_1 priority %d (want 100), VI_2 %s (want FAULT)", st.Instances[0].Priority, st.Instances[1].State)
		}
	})
}

// uniqueSleepArg is a sleep duration no other process runs with: the
// test's PID and the time, so that a sleep left by another run is never
// counted.
func uniqueSleepArg() string {
	return fmt.Sprintf("%d.%09d", 1000000+os.Getpid(), time.Now().Nanosecond())
}

// TestKeepalivedTrackObjects: track_file / vrrp_track_file and
// vrrp_track_process blocks, their references in an instance (weights,
// reverse) and in a sync group (every member; weight 0 without
// sync_group_tracking_weight, as keepalived).
func TestKeepalivedTrackObjects(t *testing.T) {
	text := `track_file maint {
  file "/run/maint"
  weight -3 reverse
  init_file 5 overwrite
}
vrrp_track_file down {
  file /run/down
}
vrrp_track_process haproxy {
  process /usr/sbin/haproxy -f "/etc/haproxy/haproxy.cfg"
  param_match partial
  quorum 2
  quorum_max 3
  delay 0.5
  terminate_delay 2
  weight 10
}
vrrp_track_process sshd {
  process sshd
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  track_file {
    maint
    down weight 4 noreverse
  }
  track_process {
    haproxy weight -20
  }
  virtual_ipaddress {
    10.0.0.1
  }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress {
    10.0.0.2
  }
}
vrrp_instance C {
  interface eth0
  virtual_router_id 3
  virtual_ipaddress {
    10.0.0.3
  }
}
vrrp_sync_group G {
  group {
    B
    C
  }
  track_file {
    down
  }
  track_process {
    sshd
  }
}
`
	kc, err := convertKeepalivedText("t.conf", text, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kc.build()
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, kc, cfg)
	wantF := []TrackFile{
		{Name: "maint", Path: "/run/maint", Weight: -3, Reverse: true, Init: true, InitValue: 5, InitOverwrite: true},
		{Name: "down", Path: "/run/down", Weight: 1},
	}
	wantP := []TrackProcess{
		{Name: "haproxy", Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/haproxy/haproxy.cfg"}, ParamMatch: "partial",
			Quorum: 2, QuorumMax: 3, ForkDelay: 500 * time.Millisecond, TerminateDelay: 2 * time.Second, Weight: 10},
		{Name: "sshd", Process: "sshd", Quorum: 1, QuorumMax: math.MaxInt},
	}
	if diff := cmp.Diff(wantF, cfg.TrackFiles); diff != "" {
		t.Errorf("track files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantP, cfg.TrackProcesses); diff != "" {
		t.Errorf("track processes (-want +got):\n%s", diff)
	}
	want := map[string][2][]TrackRef{
		"A": {{{"maint", -3, true}, {"down", 4, false}}, {{"haproxy", -20, false}}},
		"B": {{{"down", 0, false}}, {{"sshd", 0, false}}}, // in G: weight 0
		"C": {{{"down", 0, false}}, {{"sshd", 0, false}}},
	}
	for _, in := range cfg.Instances {
		if diff := cmp.Diff(want[in.Name], [2][]TrackRef{in.TrackFiles, in.TrackProcesses}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", in.Name, diff)
		}
	}
	// down's own weight (1) was dropped for B and C: a warning each.
	n := 0
	for _, w := range kc.warnings {
		if strings.Contains(w, "track_file down weight") && strings.Contains(w, "without sync_group_tracking_weight") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d warnings about down's weight in the group, want 2: %q", n, kc.warnings)
	}

	// With sync_group_tracking_weight the weights stay.
	kc, err = convertKeepalivedText("t.conf", strings.Replace(text, "  track_file {\n    down\n  }\n  track_process", "  sync_group_tracking_weight\n  track_file {\n    down\n  }\n  track_process", 1), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = kc.build(); err != nil {
		t.Fatal(err)
	}
	if tf := cfg.Instances[1].TrackFiles; len(tf) != 1 || tf[0].Weight != 1 {
		t.Errorf("with sync_group_tracking_weight: %+v", tf)
	}
}

// TestTrackFileBadValueLoggedOnce: a number out of range keeps the last
// value and is logged once, not at every poll.
func TestTrackFileBadValueLoggedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v")
	os.WriteFile(path, []byte("3"), 0o644)
	rec := &logRecorder{}
	d := &daemon{log: slog.New(rec)}
	fs := &fileState{def: TrackFile{Name: "f", Path: path, Weight: 1}}
	if !d.readTrackFile(fs) || fs.value != 3 {
		t.Fatalf("first read: %+v", fs)
	}
	os.WriteFile(path, []byte("99999999999"), 0o644)
	for range 5 {
		if d.readTrackFile(fs) {
			t.Error("an out-of-range number changed the value")
		}
	}
	if fs.value != 3 {
		t.Errorf("value %d, want the last good one, 3", fs.value)
	}
	if n := rec.count("number out of range"); n != 1 {
		t.Errorf("logged %d times, want once", n)
	}
	// /proc unreadable: logged once too.
	d.trk = trackers{procs: map[string]*procState{"p": {def: TrackProcess{Process: "x", Quorum: 1, QuorumMax: math.MaxInt}}},
		proc: filepath.Join(t.TempDir(), "nope"), now: time.Now}
	for range 5 {
		d.pollProcsLocked()
	}
	if n := rec.count("reading the process list"); n != 1 {
		t.Errorf("scan error logged %d times, want once", n)
	}
}

// logRecorder is a slog.Handler that keeps the messages.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) count(sub string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// BenchmarkScanProcs is what one poll of the tracked processes costs
// (it runs with the daemon's lock held).
func BenchmarkScanProcs(b *testing.B) {
	for _, argv := range []bool{false, true} {
		b.Run(fmt.Sprintf("argv=%v", argv), func(b *testing.B) {
			for b.Loop() {
				if _, err := scanProcs("/proc", argv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDaemonReloadTrackFile: a reload changes a tracked file's weight in
// place (no restart), reads a file whose path changed, and forgets one no
// longer tracked.
func TestDaemonReloadTrackFile(t *testing.T) {
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	os.WriteFile(one, []byte("2"), 0o644)
	os.WriteFile(two, []byte("1"), 0o644)
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		c := cfgOf(inst("VI_1", 1, 100, "10.0.0.100"))
		c.TrackFiles = []TrackFile{{Name: "f", Path: one, Weight: 5}}
		c.Instances[0].TrackFiles = []TrackRef{{Name: "f", Weight: 5}}
		h := startHost(t, lan, 1, c)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		prio := func() uint8 { return h.d.status().Instances[0].Priority }
		if p := prio(); p != 110 {
			t.Fatalf("priority %d, want 110", p)
		}
		calls := h.sys.callsOf("VI_1")

		// A new Config each time: the daemon holds the old one.
		reload := func(files []TrackFile, refs []TrackRef) {
			t.Helper()
			c := cfgOf(inst("VI_1", 1, 100, "10.0.0.100"))
			c.TrackFiles, c.Instances[0].TrackFiles = files, refs
			if err := h.d.Reload(c); err != nil {
				t.Fatal(err)
			}
		}
		reload([]TrackFile{{Name: "f", Path: one, Weight: 5}}, []TrackRef{{Name: "f", Weight: 10}})
		if p := prio(); p != 120 {
			t.Errorf("after the weight changed: priority %d, want 120", p)
		}
		reload([]TrackFile{{Name: "f", Path: two, Weight: 5}}, []TrackRef{{Name: "f", Weight: 10}})
		if p := prio(); p != 110 {
			t.Errorf("after the path changed (value 1, weight 10): priority %d, want 110", p)
		}
		reload(nil, nil)
		if p := prio(); p != 100 {
			t.Errorf("no longer tracked: priority %d, want 100", p)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if diff := cmp.Diff(calls, h.sys.callsOf("VI_1")); diff != "" {
			t.Errorf("the reloads restarted the instance (-want +got):\n%s", diff)
		}
		h.d.mu.Lock()
		n := len(h.d.trk.files)
		h.d.mu.Unlock()
		if n != 0 {
			t.Errorf("%d tracked files still followed", n)
		}
	})
}
