package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/httpd"
	"github.com/govrrp/govrrp/vrrp"
)

func TestNotifyArgs(t *testing.T) {
	tests := []struct {
		group bool
		name  string
		state vrrp.State
		prio  uint8
		want  []string
	}{
		{false, "VI_1", vrrp.Master, 150, []string{"INSTANCE", "VI_1", "MASTER", "150"}},
		{false, "VI_1", vrrp.Backup, 100, []string{"INSTANCE", "VI_1", "BACKUP", "100"}},
		{false, "VI_1", vrrp.Fault, 1, []string{"INSTANCE", "VI_1", "FAULT", "1"}},
		{false, "VI_1", vrrp.Initialize, 255, []string{"INSTANCE", "VI_1", "STOP", "255"}},
		{true, "G1", vrrp.Master, 0, []string{"GROUP", "G1", "MASTER", "0"}},
	}
	for _, tt := range tests {
		got := notifyArgs(tt.group, tt.name, stateName(tt.state), tt.prio)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("notifyArgs(%v, %q, %v, %d) (-want +got):\n%s", tt.group, tt.name, tt.state, tt.prio, diff)
		}
	}
}

// shellRun appends keepalived's arguments after the command's own.
func TestShellRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	err := shellRun(context.Background(), "printf '%s|' own >"+out+"; printf '%s|' >>"+out,
		notifyArgs(false, "VI 1", "MASTER", 100))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if got, want := string(b), "own|INSTANCE|VI 1|MASTER|100|"; got != want {
		t.Errorf("script saw %q; want %q", got, want)
	}
	err = shellRun(context.Background(), "echo oops; exit 3", nil)
	if err == nil || !strings.Contains(err.Error(), "exit status 3: oops") {
		t.Errorf("failing command: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := shellRun(ctx, "sleep 10", nil); err == nil {
		t.Error("a command past its timeout did not fail")
	}
}

func TestNotifierOrderAndTimeout(t *testing.T) {
	var mu sync.Mutex
	var got []string
	var deadlines []bool
	n := newNotifier(func(ctx context.Context, cmd string, args []string) error {
		_, ok := ctx.Deadline()
		mu.Lock()
		got = append(got, cmd+" "+strings.Join(args, " "))
		deadlines = append(deadlines, ok)
		mu.Unlock()
		return errors.New("logged, not fatal")
	}, time.Second, discard())
	n.notify("a", []string{"1"})
	n.notify("", []string{"skipped"})
	n.notify("b", []string{"2"})
	n.close()
	if diff := cmp.Diff([]string{"a 1", "b 2"}, got); diff != "" {
		t.Errorf("notify order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{true, true}, deadlines); diff != "" {
		t.Errorf("commands without a timeout (-want +got):\n%s", diff)
	}
}

func TestEffectivePriority(t *testing.T) {
	tests := []struct {
		name      string
		base      uint8
		ts        []tracked
		want      uint8
		wantFault bool
	}{
		{"nothing", 100, nil, 100, false},
		{"positive up adds", 100, []tracked{{20, statusUp}}, 120, false},
		{"positive down adds nothing", 100, []tracked{{20, statusDown}}, 100, false},
		{"negative down subtracts", 100, []tracked{{-30, statusDown}}, 70, false},
		{"negative up subtracts nothing", 100, []tracked{{-30, statusUp}}, 100, false},
		{"unknown is neutral", 100, []tracked{{20, statusUnknown}, {-30, statusUnknown}, {0, statusUnknown}}, 100, false},
		{"zero down faults", 100, []tracked{{0, statusDown}}, 100, true},
		{"zero up", 100, []tracked{{0, statusUp}}, 100, false},
		{"clamped high", 250, []tracked{{100, statusUp}}, 254, false},
		{"clamped low", 10, []tracked{{-100, statusDown}}, 1, false},
		{"owner not adjusted", 255, []tracked{{-100, statusDown}}, 255, false},
		{"owner can fault", 255, []tracked{{0, statusDown}}, 255, true},
		{"sum", 100, []tracked{{10, statusUp}, {-25, statusDown}, {5, statusUp}}, 90, false},
	}
	for _, tt := range tests {
		p, f := effectivePriority(tt.base, tt.ts)
		if p != tt.want || f != tt.wantFault {
			t.Errorf("%s: effectivePriority = %d, %v; want %d, %v", tt.name, p, f, tt.want, tt.wantFault)
		}
	}
}

func TestScriptRiseFall(t *testing.T) {
	var s scriptState
	type step struct {
		ok      bool
		changed bool
		status  int8
	}
	steps := []step{
		{true, true, statusUp}, // first result decides at once
		{false, false, statusUp},
		{true, false, statusUp},
		{false, false, statusUp},
		{false, true, statusDown}, // fall 2
		{true, false, statusDown},
		{true, false, statusDown},
		{true, true, statusUp}, // rise 3
	}
	for i, st := range steps {
		if got := s.record(st.ok, 3, 2); got != st.changed || s.status != st.status {
			t.Errorf("step %d (ok=%v): changed %v status %d; want %v %d", i, st.ok, got, s.status, st.changed, st.status)
		}
	}
}

func TestGroupState(t *testing.T) {
	m := []string{"A", "B"}
	tests := []struct {
		states map[string]string
		want   string
	}{
		{map[string]string{"A": "MASTER"}, ""},
		{map[string]string{"A": "MASTER", "B": "BACKUP"}, ""},
		{map[string]string{"A": "MASTER", "B": "MASTER"}, "MASTER"},
		{map[string]string{"A": "BACKUP", "B": "BACKUP"}, "BACKUP"},
		{map[string]string{"A": "FAULT"}, "FAULT"},
		{map[string]string{"A": "MASTER", "B": "FAULT"}, "FAULT"},
		{map[string]string{"A": "STOP", "B": "STOP"}, "STOP"},
	}
	for _, tt := range tests {
		if got := groupState(m, tt.states); got != tt.want {
			t.Errorf("groupState(%v) = %q; want %q", tt.states, got, tt.want)
		}
	}
}

func TestDiffInstances(t *testing.T) {
	a := inst("A", 1, 100, "10.0.0.1")
	b := inst("B", 2, 100, "10.0.0.2")
	c := inst("C", 3, 100, "10.0.0.3")
	mod := func(in Instance, f func(*Instance)) Instance { f(&in); return in }
	names := func(ins []Instance) []string {
		var s []string
		for _, in := range ins {
			s = append(s, in.Name)
		}
		return s
	}
	type summary struct{ Remove, Add, Update, Keep []string }
	tests := []struct {
		name     string
		old, new []Instance
		want     summary
	}{
		{"identical", []Instance{a, b}, []Instance{a, b}, summary{Keep: []string{"A", "B"}}},
		{"added", []Instance{a}, []Instance{a, b}, summary{Add: []string{"B"}, Keep: []string{"A"}}},
		{"removed", []Instance{a, b}, []Instance{b}, summary{Remove: []string{"A"}, Keep: []string{"B"}}},
		{"priority in place", []Instance{a, b}, []Instance{mod(a, func(i *Instance) { i.Priority = 120 }), b},
			summary{Update: []string{"A"}, Keep: []string{"B"}}},
		{"notify in place", []Instance{a}, []Instance{mod(a, func(i *Instance) { i.Notify = "x" })}, summary{Update: []string{"A"}}},
		{"tracking in place", []Instance{a}, []Instance{mod(a, func(i *Instance) {
			i.TrackInterfaces = []TrackInterface{{"eth1", -10}}
			i.TrackScripts = []string{"s"}
		})}, summary{Update: []string{"A"}}},
		{"garp schedule in place", []Instance{a}, []Instance{mod(a, func(i *Instance) { i.GARP.MasterRepeat = 1 })}, summary{Update: []string{"A"}}},
		{"to owner restarts", []Instance{a}, []Instance{mod(a, func(i *Instance) { i.Priority = 255 })},
			summary{Remove: []string{"A"}, Add: []string{"A"}}},
		{"VIPs restart", []Instance{a, c}, []Instance{a, mod(c, func(i *Instance) { i.VIPs = pfx("10.0.0.33") })},
			summary{Remove: []string{"C"}, Add: []string{"C"}, Keep: []string{"A"}}},
		{"interval restarts", []Instance{a}, []Instance{mod(a, func(i *Instance) { i.Interval = time.Second })},
			summary{Remove: []string{"A"}, Add: []string{"A"}}},
		{"sync group restarts", []Instance{a}, []Instance{mod(a, func(i *Instance) { i.SyncGroup = "G" })},
			summary{Remove: []string{"A"}, Add: []string{"A"}}},
		{"interface restarts", []Instance{a}, []Instance{mod(a, func(i *Instance) { i.Interface = "eth1" })},
			summary{Remove: []string{"A"}, Add: []string{"A"}}},
		{"peers in place", []Instance{mod(a, func(i *Instance) { i.Peers = addrs("10.0.0.7") }), b},
			[]Instance{mod(a, func(i *Instance) { i.Peers = addrs("10.0.0.7", "10.0.0.8") }), b},
			summary{Update: []string{"A"}, Keep: []string{"B"}}},
		{"peers and priority in place", []Instance{mod(a, func(i *Instance) { i.Peers = addrs("10.0.0.7") })},
			[]Instance{mod(a, func(i *Instance) { i.Peers = addrs("10.0.0.8"); i.Priority = 90 })},
			summary{Update: []string{"A"}}},
		{"multicast to unicast restarts", []Instance{a}, []Instance{mod(a, func(i *Instance) { i.Peers = addrs("10.0.0.7") })},
			summary{Remove: []string{"A"}, Add: []string{"A"}}},
		{"unicast to multicast restarts", []Instance{mod(a, func(i *Instance) { i.Peers = addrs("10.0.0.7") })}, []Instance{a},
			summary{Remove: []string{"A"}, Add: []string{"A"}}},
		{"peers and VIPs restart", []Instance{mod(a, func(i *Instance) { i.Peers = addrs("10.0.0.7") })},
			[]Instance{mod(a, func(i *Instance) { i.Peers = addrs("10.0.0.8"); i.VIPs = pfx("10.0.0.11") })},
			summary{Remove: []string{"A"}, Add: []string{"A"}}},
		{"peers and source restart", []Instance{mod(a, func(i *Instance) { i.Peers = addrs("10.0.0.7") })},
			[]Instance{mod(a, func(i *Instance) { i.Peers = addrs("10.0.0.8"); i.Src = addrs("10.0.0.9")[0] })},
			summary{Remove: []string{"A"}, Add: []string{"A"}}},
	}
	for _, tt := range tests {
		p := diffInstances(tt.old, tt.new)
		got := summary{p.Remove, names(p.Add), names(p.Update), p.Keep}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestStatusHandler(t *testing.T) {
	st := Status{Instances: []InstanceStatus{{Name: "VI_1", VRID: 1, Family: "IPv4", State: "MASTER",
		Master: "10.0.0.1", Priority: 150, Stats: statsOf(vrrp.Stats{MasterTransitions: 2, RefreshRate: 1230 * time.Millisecond})}}}
	st.Router.Sent = 7
	h := statusHandler(func(w io.Writer) error { return writeStatus(w, &st) })
	// What a client decodes: the interval in milliseconds only.
	want := st
	want.Instances = slices.Clone(st.Instances)
	want.Instances[0].Stats.Stats.RefreshRate = 0
	for _, path := range []string{"/", "/status"} {
		code, ct, body := get(t, h, path, "")
		if code != 200 || ct != "application/json" {
			t.Fatalf("GET %s: %d %q", path, code, ct)
		}
		var got Status
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", path, diff)
		}
		for _, key := range []string{`"name"`, `"vrid"`, `"family"`, `"state"`, `"master"`, `"priority"`, `"stats"`, `"router"`,
			`"MasterTransitions": 2`, `"RefreshRateMs": 1230`} {
			if !strings.Contains(string(body), key) {
				t.Errorf("GET %s: no %s in %s", path, key, body)
			}
		}
		// RFC 6527 gives the refresh rate in milliseconds; no nanoseconds.
		if strings.Contains(string(body), `"RefreshRate"`) || strings.Contains(string(body), "1230000000") {
			t.Errorf("GET %s: the refresh rate in nanoseconds in %s", path, body)
		}
		// A Go program can still decode the stats into a vrrp.Stats.
		var plain struct {
			Instances []struct{ Stats vrrp.Stats } `json:"instances"`
		}
		if err := json.Unmarshal(body, &plain); err != nil || plain.Instances[0].Stats.MasterTransitions != 2 {
			t.Errorf("GET %s: decoding into vrrp.Stats: %+v, %v", path, plain, err)
		}
	}
	if code, _, _ := get(t, h, "/nope", ""); code != 404 {
		t.Errorf("GET /nope: %d", code)
	}
	// Other methods than GET and HEAD: 405, with the allowed ones.
	for _, path := range []string{"/", "/status"} {
		if resp := h(&httpd.Request{Method: "POST", Path: path, Proto: "HTTP/1.1"}); resp.Status != 405 || resp.Allow != "GET, HEAD" {
			t.Errorf("POST %s: %d, Allow %q; want 405, Allow GET, HEAD", path, resp.Status, resp.Allow)
		}
	}
}

func TestStatusServerUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	lan := newFakeSys(nil, 1)
	d := newDaemon(cfgOf(), lan, discard(), nil, (&recorder{}).run)
	s, err := startStatus("unix:"+path, statusOpts{}, d, discard())
	if err != nil {
		t.Fatal(err)
	}
	c := http.Client{Transport: &http.Transport{DialContext: unixDial(path)}}
	resp, err := c.Get("http://vrrpd/status")
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Instances == nil {
		t.Errorf("status over unix socket: %+v, %v", st, err)
	}
	s.close()
	d.notif.close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
}

// The notify queue drops nothing below its cap (notifyQueueMax, 32,768
// commands; TestNotifierQueueBounded for beyond it): a burst far beyond
// any channel buffer, queued while a command is still running, runs
// completely and in order.
func TestNotifierNeverDrops(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	n := newNotifier(func(ctx context.Context, cmd string, args []string) error {
		<-release
		mu.Lock()
		got = append(got, args[0])
		mu.Unlock()
		return nil
	}, time.Minute, discard())
	var want []string
	for i := range 5000 {
		s := strconv.Itoa(i)
		want = append(want, s)
		n.notify("cmd", []string{s})
	}
	close(release)
	n.close()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notify commands run (-want +got):\n%s", diff)
	}
}

// TestNotifierParallel: notify commands of different virtual routers run
// notifyWorkers at a time, so the STOP commands of 1,000 virtual routers
// at shutdown take 1,000 / notifyWorkers command times, not 1,000 (over
// 20 s on a loaded host, issue 12); those of one virtual router still run
// one at a time, in order. Time is the bubble's fake clock.
func TestNotifierParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const cmdTime = 25 * time.Millisecond
		var mu sync.Mutex
		running := map[string]bool{}
		var overlap []string
		perKey := map[string][]string{}
		n := newNotifier(func(ctx context.Context, cmd string, args []string) error {
			key := args[1]
			mu.Lock()
			if running[key] {
				overlap = append(overlap, key)
			}
			running[key] = true
			perKey[key] = append(perKey[key], args[2])
			mu.Unlock()
			time.Sleep(cmdTime)
			mu.Lock()
			running[key] = false
			mu.Unlock()
			return nil
		}, time.Second, discard())
		const vrs = 1000
		for i := range vrs {
			n.notify("notify", notifyArgs(false, fmt.Sprintf("VI_%d", i), "STOP", 100))
		}
		// Three of one virtual router, queued behind the others.
		for _, s := range []string{"BACKUP", "MASTER", "STOP"} {
			n.notify("notify", notifyArgs(false, "VI_0", s, 100))
		}
		start := time.Now()
		n.close()
		took := time.Since(start)
		// The 1,003 commands on 8 workers (notifyWorkers), VI_0's last
		// three one after another: 126 command times, and some slack. One
		// at a time they took 1,003.
		const workers = 8
		if limit := ((vrs+3)/workers + 4) * cmdTime; took > limit {
			t.Errorf("%d notify commands of %v each took %v; want at most %v (%d at a time)", vrs+3, cmdTime, took, limit, workers)
		}
		if len(overlap) > 0 {
			t.Errorf("commands of one virtual router ran at once: %v", overlap)
		}
		if diff := cmp.Diff([]string{"STOP", "BACKUP", "MASTER", "STOP"}, perKey["VI_0"]); diff != "" {
			t.Errorf("VI_0's commands (-want +got):\n%s", diff)
		}
		if len(perKey) != vrs {
			t.Errorf("%d virtual routers notified; want %d", len(perKey), vrs)
		}
	})
}
