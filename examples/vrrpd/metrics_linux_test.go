//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

// A real Prometheus server scrapes two vrrpd around a forced failover and
// sees the right deltas: advertisements sent by the master and received
// by the backup, nothing sent by the backup, one transition of each
// router with the right reason, the priorities and the new master.
//
// h1 (priority 200, tracking a script of weight -150) and h2 (priority
// 100), advertising every second (a 3.6 s Master_Down_Interval: no false
// takeover on a loaded machine, which 100 ms gave), serve their status
// on loopback, the only addresses vrrpd allows; a Prometheus server in
// each host's namespace scrapes it every 500 ms (it asks for
// OpenMetrics, so this checks that format as the golden file checks the
// Prometheus text). The failover: the script starts failing, h1's
// priority drops to 50, h2 preempts it.
//
//	sudo GOVRRP_PRIVILEGED=1 go test ./examples/vrrpd/ -run IntegrationPrometheus -v
func TestIntegrationPrometheus(t *testing.T) {
	netlab.RequireTool(t, "prometheus")
	dir := netlab.TempDir(t) // before the lab: removed after its processes are gone
	lab := netlab.New(t, "vrm", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	const port = "9650"

	fail := filepath.Join(dir, "fail")
	conf := filepath.Join(dir, "h1.toml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `
[[script]]
name = "chk"
command = "test ! -e %s"
interval = "100ms"
timeout = "2s"
weight = -150

[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
priority = 200
interval = "1s"
vips = ["10.99.0.100/24"]
track_script = ["chk"]
`, fail), 0o644); err != nil {
		t.Fatal(err)
	}
	const status = "127.0.0.1:" + port
	p1 := startVrrpd(t, h1, "prio 200", "-config", conf, "-status", status)
	conf2 := filepath.Join(dir, "h2.toml")
	if err := os.WriteFile(conf2, []byte(`
[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
priority = 100
interval = "1s"
vips = ["10.99.0.100/24"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := p1.WaitState(ctx, "VI_1", "MASTER"); err != nil {
		t.Fatal(err)
	}
	p2 := startVrrpd(t, h2, "prio 100", "-config", conf2, "-status", status)
	if _, err := p2.WaitState(ctx, "VI_1", "BACKUP"); err != nil {
		t.Fatal(err)
	}

	// The status server listens on loopback only: one Prometheus in each
	// host's namespace.
	const t1, t2 = "h1", "h2"
	proms := map[string]*promServer{
		t1: startPrometheus(t, h1, filepath.Join(dir, t1), status),
		t2: startPrometheus(t, h2, filepath.Join(dir, t2), status),
	}
	// get returns the value of q on each host, at time at.
	get := func(q string, at time.Time) map[string]float64 {
		t.Helper()
		out := map[string]float64{}
		for host, p := range proms {
			v, err := p.values(ctx, q, at)
			if err != nil {
				t.Fatal(err)
			}
			if len(v) > 1 {
				t.Fatalf("%s: %s: several series: %v", host, q, v)
			}
			if x, ok := v[status]; ok {
				out[host] = x
			}
		}
		return out
	}
	// scraped waits until both servers scraped vrrpd successfully at or
	// after since, and returns a time to query at which sees those
	// scrapes.
	scraped := func(since time.Time) time.Time {
		t.Helper()
		var now time.Time
		waitFor(t, "Prometheus to scrape vrrpd", func() bool {
			now = time.Now()
			up, ts := get("up", now), get("timestamp(up)", now)
			return up[t1] == 1 && up[t2] == 1 && ts[t1] >= unixSeconds(since) && ts[t2] >= unixSeconds(since)
		})
		return now
	}
	// rate checks that the counter q of host grew between the scrapes
	// seen at times from and to as one advertisement a second over the
	// time between those scrapes would, give or take 2 (the counter is
	// read up to a scrape timeout after the scrape's timestamp).
	rate := func(what, q, host string, from, to time.Time) {
		t.Helper()
		d := get(q, to)[host] - get(q, from)[host]
		secs := get("timestamp("+q+")", to)[host] - get("timestamp("+q+")", from)[host]
		if want := secs; d < want-2 || d > want+2 {
			t.Errorf("%s: %s on %s grew by %v in %.2f s between scrapes, want about %.0f", what, q, host, d, secs, want)
		}
	}
	sent := `vrrp_advertisement_sent_total{vrrp_instance="VI_1"}`
	rcvd := `vrrp_advertisement_rcvd_total{vrrp_instance="VI_1"}`
	// transitions returns the counts by host and "from->to reason".
	transitions := func(at time.Time) map[string]float64 {
		t.Helper()
		out := map[string]float64{}
		for host, p := range proms {
			rs, err := p.query(ctx, `vrrp_transitions_total{vrrp_instance="VI_1"}`, at)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				out[host+" "+r.Metric["from"]+"->"+r.Metric["to"]+" "+r.Metric["reason"]] = r.value(t)
			}
		}
		return out
	}

	// Steady: h1 sends one advertisement a second, h2 receives them and
	// sends none; no transition.
	a := scraped(time.Now())
	time.Sleep(6 * time.Second)
	b := scraped(time.Now())
	rate("steady", sent, t1, a, b)
	rate("steady", rcvd, t2, a, b)
	if d := get(sent, b)[t2] - get(sent, a)[t2]; d != 0 {
		t.Errorf("steady: backup h2 sent %v advertisements", d)
	}
	trA, trB := transitions(a), transitions(b)
	for k := range merge(trA, trB) {
		if trA[k] != trB[k] {
			t.Errorf("steady: transitions %s went from %v to %v", k, trA[k], trB[k])
		}
	}

	// The failover.
	if err := os.WriteFile(fail, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p2.WaitState(ctx, "VI_1", "MASTER"); err != nil {
		t.Fatal(err)
	}
	if _, err := p1.WaitState(ctx, "VI_1", "BACKUP"); err != nil {
		t.Fatal(err)
	}
	c := scraped(time.Now())
	trC := transitions(c)
	want := map[string]float64{
		t1 + " master->backup higherPriority": 1,
		t2 + " backup->master preempted":      1,
	}
	for k := range merge(trB, trC) {
		if d := trC[k] - trB[k]; d != want[k] {
			t.Errorf("failover: transitions %s grew by %v, want %v", k, d, want[k])
		}
	}
	for host, want := range map[string]float64{t1: 0, t2: 1} {
		if d := get(`vrrp_master_transitions_total`, c)[host] - get(`vrrp_master_transitions_total`, b)[host]; d != want {
			t.Errorf("failover: %s's master transitions grew by %v, want %v", host, d, want)
		}
	}
	for q, want := range map[string]map[string]float64{
		`vrrp_priority`:                                                        {t1: 200, t2: 100},
		`vrrp_effective_priority`:                                              {t1: 50, t2: 100},
		`vrrp_track_script_up{track_script="chk"}`:                             {t1: 0},
		`vrrp_state{state="master"}`:                                           {t1: 0, t2: 1},
		`vrrp_state{state="backup"}`:                                           {t1: 1, t2: 0},
		`vrrp_last_adv_source_info{last_adv_source="10.99.0.2"}`:               {t1: 1, t2: 1},
		`vrrp_new_master_reason_info{new_master_reason="preempted"}`:           {t2: 1},
		`vrrp_last_event_info{last_event="vrrp-event-higher-priority-backup"}`: {t1: 1},
		`vrrp_last_event_info{last_event="vrrp-event-lower-priority-master"}`:  {t2: 1},
	} {
		got := get(q, c)
		for host, v := range want {
			if got[host] != v {
				t.Errorf("after the failover: %s on %s = %v, want %v (all: %v)", q, host, got[host], v, got)
			}
		}
	}

	// After it: h2 sends, h1 receives and sends nothing.
	time.Sleep(5 * time.Second)
	e := scraped(time.Now())
	if d := get(sent, e)[t1] - get(sent, c)[t1]; d != 0 {
		t.Errorf("after: backup h1 sent %v advertisements", d)
	}
	rate("after", sent, t2, c, e)
	rate("after", rcvd, t1, c, e)
	// The notify records agree: one transition each since the first.
	if got := p1.States("VI_1"); strings.Join(got, " ") != "BACKUP MASTER BACKUP" {
		t.Errorf("h1 notified %v", got)
	}
	if got := p2.States("VI_1"); strings.Join(got, " ") != "BACKUP MASTER" {
		t.Errorf("h2 notified %v", got)
	}
}

func merge(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// promServer is a Prometheus server running on a lab host, queried over
// its HTTP API inside the host's namespace.
type promServer struct {
	h *netlab.Host
}

// startPrometheus runs prometheus on h, scraping targets' /metrics every
// 500 ms, with its database in dir. It is stopped (SIGTERM to its process
// group, then SIGKILL) when t ends.
func startPrometheus(t *testing.T, h *netlab.Host, dir string, targets ...string) *promServer {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `global:
  scrape_interval: 500ms
  scrape_timeout: 500ms
scrape_configs:
  - job_name: vrrpd
    static_configs:
      - targets: ['%s']
`, strings.Join(targets, "', '")), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := h.Command(context.Background(), "prometheus", "--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address=127.0.0.1:9090",
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("prometheus: %v", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	p := &promServer{h: h}
	// Ready when its API answers.
	waitFor(t, "prometheus to answer", func() bool {
		select {
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("prometheus exited (%v):\n%s", waitErr, b)
		default:
		}
		_, err := p.query(context.Background(), "up", time.Now())
		return err == nil
	})
	return p
}

// promResult is one series of an instant query.
type promResult struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (r promResult) value(t *testing.T) float64 {
	t.Helper()
	s, _ := r.Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("value %v: %v", r.Value, err)
	}
	return v
}

// query runs an instant query at time at, with promtool inside the
// host's namespace (the server listens on its loopback). A test process
// must not enter the namespace itself with netlab's Host.Do: the thread
// Do locks exits afterwards, and a child that the Go runtime forked on
// that thread earlier (vrrpd, prometheus: PR_SET_PDEATHSIG) is then
// killed.
func (p *promServer) query(ctx context.Context, q string, at time.Time) ([]promResult, error) {
	out, err := p.h.Run(ctx, "promtool", "query", "instant", "-o", "json",
		"--time="+strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64), "http://127.0.0.1:9090", q)
	if err != nil {
		return nil, err
	}
	var rs []promResult
	if err := json.Unmarshal(out, &rs); err != nil {
		return nil, fmt.Errorf("prometheus: %s: %v: %s", q, err, out)
	}
	return rs, nil
}

// values runs an instant query whose series differ only by target and
// returns the values by target ("instance" label).
func (p *promServer) values(ctx context.Context, q string, at time.Time) (map[string]float64, error) {
	rs, err := p.query(ctx, q, at)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, r := range rs {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("prometheus: %s: value %v", q, r.Value)
		}
		if _, dup := out[r.Metric["instance"]]; dup {
			return nil, fmt.Errorf("prometheus: %s: several series for %s", q, r.Metric["instance"])
		}
		out[r.Metric["instance"]] = v
	}
	return out, nil
}
