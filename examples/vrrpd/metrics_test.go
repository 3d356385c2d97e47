package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// update is keepalived_test.go's -update flag: it rewrites every golden file.
var update = updateGolden

// transitionCounts returns ts as instSnap.Transitions holds them: in
// compareTransitions order.
func transitionCounts(ts map[transitionKey]uint64) []transitionCount {
	var cs []transitionCount
	for k, n := range ts {
		cs = append(cs, transitionCount{k, n})
	}
	slices.SortFunc(cs, func(a, b transitionCount) int { return compareTransitions(a.key, b.key) })
	return cs
}

// fixedSnapshot is a snapshot with every kind of figure, for the golden
// files.
func fixedSnapshot() snapshot {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	return snapshot{
		Time:          t0.Add(90 * time.Second),
		Started:       t0,
		NotifyQueue:   2,
		NotifyFailed:  1,
		NotifyDropped: 11,
		Probing:       true,
		ProbeDropped:  3,
		Discards: []vrrp.Discard{
			{Src: netip.MustParseAddr("10.0.0.66"), Reason: "ttl", Name: "VI_1", VRID: 51, Interface: "eth0", Count: 120, First: t0, Last: t0.Add(89 * time.Second)},
			{Src: netip.MustParseAddr("fe80::77"), Reason: "addressListMismatch", Name: "VI_6", VRID: 52, Interface: "eth0", Count: 3, First: t0, Last: t0.Add(80 * time.Second)},
		},
		Router: vrrp.RouterStats{ChecksumErrors: 1, VersionErrors: 2, VRIDErrors: 3, TTLErrors: 4, ShortPackets: 5,
			Received: 600, Sent: 700, SendErrors: 8, ReadErrors: 9, EventsDropped: 10},
		Instances: []instSnap{{
			Name: "VI_1", Interface: "eth0", IfIndex: 2, VRID: 51, Family: vrrp.IPv4, Version: 3,
			Running: true, State: vrrp.Master, Master: netip.MustParseAddr("10.0.0.1"), Primary: netip.MustParseAddr("10.0.0.1"),
			Priority: 130, Base: 150, LinkStatus: statusUp, Interval: time.Second,
			VIPs:         []netip.Prefix{netip.MustParsePrefix("10.0.0.100/24")},
			TrackIfaces:  []trackSnap{{Name: "eth1", Weight: -20, Status: statusDown}},
			TrackScripts: []trackSnap{{Name: "chk \"web\"", Weight: 10, Status: statusUnknown}},
			Stats: vrrp.Stats{MasterTransitions: 2, NewMasterReason: vrrp.ReasonMasterNoResponse, RcvdAdvertisements: 40,
				AdvIntervalErrors: 1, IPTTLErrors: 5, ProtoErrReason: vrrp.ProtoErrTTL, RcvdPriZeroPackets: 1, SentPriZeroPackets: 3,
				RcvdInvalidTypePackets: 6, AddressListErrors: 7, PacketLengthErrors: 8, RefreshRate: time.Second,
				DiscontinuityTime: t0, SentAdvertisements: 1 << 60, AuthErrors: 9, RcvdChecksumPseudo: 30, RcvdChecksumMessage: 10,
				OwnerRcvdAdvertisements: 11, NoLinkLocalFirst: 12, SecondMaster: 13},
			Last: vrrp.Event{Time: t0.Add(60 * time.Second), Name: "VI_1", From: vrrp.Backup, To: vrrp.Master,
				Reason: vrrp.ReasonMasterNoResponse, MasterReason: vrrp.ReasonMasterNoResponse},
			Up: t0.Add(time.Second),
			Transitions: transitionCounts(map[transitionKey]uint64{
				{vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart}:        1,
				{vrrp.Backup, vrrp.Master, vrrp.ReasonMasterNoResponse}: 2,
				{vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority}:   1,
			}),
			Probe: probeSnap{On: true, Status: ProbeStatus{Sent: 45, SendErrors: 1, Answers: 7, Episodes: 2},
				Alarms: []SecondResponder{{Address: "10.0.0.100", MACs: []string{"02:00:00:00:00:66"}, Since: t0.Add(80 * time.Second)}}},
		}, {
			Name: "VI_6", Interface: "eth0", IfIndex: 2, VRID: 52, Family: vrrp.IPv6, Version: 3,
			Running: true, State: vrrp.Backup, Primary: netip.MustParseAddr("fe80::1"),
			Priority: 100, Base: 100, LinkStatus: statusUp, Interval: 100 * time.Millisecond,
			VIPs: []netip.Prefix{netip.MustParsePrefix("fe80::100/128"), netip.MustParsePrefix("2001:db8::100/64")},
		}},
	}
}

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// scrape serves GET /metrics with accept and returns the content type and
// body.
func scrape(t *testing.T, s snapshot, accept string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	resp := metricsResponse(accept, func() snapshot { return s })
	if err := resp.Body(&b); err != nil || resp.Status != 0 {
		t.Fatalf("GET /metrics: %d, %v", resp.Status, err)
	}
	return resp.ContentType, b.Bytes()
}

// The exposition of a fixed snapshot, in both formats, is the golden
// file's, and promtool accepts the Prometheus text.
func TestMetricsExposition(t *testing.T) {
	s := fixedSnapshot()
	ct, text := scrape(t, s, "")
	if ct != contentTypeText {
		t.Errorf("Content-Type %q, want %q", ct, contentTypeText)
	}
	golden(t, "metrics.prom", text)
	// What Prometheus 2.x sends.
	ct, om := scrape(t, s, "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	if ct != contentTypeOpenMetrics {
		t.Errorf("Content-Type %q, want %q", ct, contentTypeOpenMetrics)
	}
	golden(t, "metrics.om", om)
	for _, want := range []string{
		`vrrp_advertisement_rcvd_total{vrrp_instance="VI_1",interface="eth0",vrid="51",family="ipv4"} 40`,
		// Counters are exact beyond 2^53.
		`vrrp_advertisement_sent_total{vrrp_instance="VI_1",interface="eth0",vrid="51",family="ipv4"} 1152921504606846976`,
		`vrrp_transitions_total{vrrp_instance="VI_1",interface="eth0",vrid="51",family="ipv4",from="backup",to="master",reason="masterNoResponse"} 2`,
		`vrrp_last_adv_source_info{vrrp_instance="VI_1",interface="eth0",vrid="51",family="ipv4",last_adv_source="10.0.0.1"} 1`,
		`vrrp_state{vrrp_instance="VI_6",interface="eth0",vrid="52",family="ipv6",state="backup"} 1`,
		`vrrp_track_script_up{vrrp_instance="VI_1",interface="eth0",vrid="51",family="ipv4",track_script="chk \"web\""} -1`,
		`vrrp_seconds_since_last_transition{vrrp_instance="VI_1",interface="eth0",vrid="51",family="ipv4"} 30`,
		"vrrp_checksum_errors_total 1\n",
		"vrrp_ip_ttl_errors_total 4\n",
		"vrrpd_notify_queue_length 2\n",
		"vrrpd_notify_failures_total 1\n",
		"vrrpd_notify_dropped_total 11\n",
	} {
		for name, b := range map[string][]byte{"text": text, "openmetrics": om} {
			if !bytes.Contains(b, []byte(want+"\n")) && !bytes.Contains(b, []byte(want)) {
				t.Errorf("%s: no %s", name, want)
			}
		}
	}
	for _, want := range []string{"# TYPE vrrp_advertisement_rcvd_total counter\n", "# TYPE vrrp_last_adv_source_info gauge\n"} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("text: no %q", want)
		}
	}
	for _, want := range []string{"# TYPE vrrp_advertisement_rcvd counter\n", "# TYPE vrrp_last_adv_source info\n"} {
		if !bytes.Contains(om, []byte(want)) {
			t.Errorf("openmetrics: no %q", want)
		}
	}
	if !bytes.HasSuffix(om, []byte("\n# EOF\n")) || bytes.Contains(text, []byte("# EOF")) {
		t.Errorf("# EOF: only at the end of OpenMetrics")
	}
	t.Run("promtool", func(t *testing.T) { promtoolCheck(t, text) })
}

// promtoolCheck runs `promtool check metrics` on a Prometheus text
// exposition: it must be valid and free of lint problems.
func promtoolCheck(t *testing.T, text []byte) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		netlab.SkipOrFail(t, "promtool not found on PATH (Debian package prometheus)")
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestWantOpenMetrics(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                             false,
		"*/*":                          false,
		"text/plain":                   false,
		"text/plain;version=0.0.4":     false,
		"application/openmetrics-text": true,
		"application/openmetrics-text; version=1.0.0; charset=utf-8": true,
		"application/openmetrics-text;version=0.0.1":                 true,
		"application/openmetrics-text;version=2.0.0":                 false,
		"application/openmetrics-text;q=0.5,text/plain":              false,
		"text/plain;q=0.5,application/openmetrics-text":              true,
		"application/openmetrics-text,text/plain":                    true,
		"text/plain,application/openmetrics-text":                    false,
		"application/openmetrics-text;q=0":                           false,
		"application/json":                                           false,
		"garbage;;;=,":                                               false,
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1": true,
	} {
		if got := wantOpenMetrics(accept); got != want {
			t.Errorf("wantOpenMetrics(%q) = %v, want %v", accept, got, want)
		}
	}
}

// A daemon's own exposition, through the status server's handler: the
// figures follow the election (two hosts, the master stops, the backup
// takes over), promtool accepts it, and the JSON status says who is
// master and why.
func TestMetricsDaemon(t *testing.T) {
	var before, after []byte
	var exported bytes.Buffer
	var st Status
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		ca := cfgOf(inst("VI_1", 1, 200, "10.0.0.100/24"))
		ca.Instances[0].TrackInterfaces = []TrackInterface{{Name: "eth1", Weight: -10}}
		a := startHost(t, lan, 1, ca)
		b := startHost(t, lan, 2, cfgOf(inst("VI_1", 1, 100, "10.0.0.100/24")))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		get := func(h *host, path string) []byte {
			code, _, body := get(t, h.d.observeHandler(statusHandler(h.d.streamStatus)), path, "")
			if code != 200 {
				t.Fatalf("GET %s: %d", path, code)
			}
			return body
		}
		before = get(b, "/metrics")
		am := get(a, "/metrics")
		for _, want := range []string{
			`vrrp_state{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",state="master"} 1`,
			`vrrp_transitions_total{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",from="initialize",to="backup",reason="start"} 1`,
			`vrrp_transitions_total{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",from="backup",to="master",reason="masterNoResponse"} 1`,
			`vrrp_track_interface_up{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",track_interface="eth1"} 1`,
			`vrrp_new_master_reason_info{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",new_master_reason="masterNoResponse"} 1`,
		} {
			if !bytes.Contains(am, []byte(want+"\n")) {
				t.Errorf("master's metrics lack %s", want)
			}
		}

		a.stop()
		<-a.err
		a.err <- nil
		time.Sleep(time.Second)
		synctest.Wait()
		after = get(b, "/metrics")
		exportRouter(&exported, b.d.router, "VI_1")
		if err := json.Unmarshal(get(b, "/status"), &st); err != nil {
			t.Fatal(err)
		}
	})
	// b: Backup, then Master after a's priority 0 (masterNoResponse).
	for _, want := range []string{
		`vrrp_state{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",state="backup"} 1`,
		`vrrp_last_adv_source_info{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",last_adv_source="10.0.0.1"} 1`,
		`vrrp_advertisement_sent_total{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4"} 0`,
	} {
		if !bytes.Contains(before, []byte(want+"\n")) {
			t.Errorf("backup's metrics lack %s:\n%s", want, before)
		}
	}
	for _, want := range []string{
		`vrrp_state{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",state="master"} 1`,
		`vrrp_priority_zero_pkts_rcvd_total{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4"} 1`,
		`vrrp_transitions_total{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",from="backup",to="master",reason="masterNoResponse"} 1`,
		`vrrp_last_event_info{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",last_event="vrrp-event-master-timeout",reason="masterNoResponse",from="backup",to="master"} 1`,
		`vrrp_last_adv_source_info{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",last_adv_source="10.0.0.2"} 1`,
		`vrrp_master_transitions_total{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4"} 1`,
	} {
		if !bytes.Contains(after, []byte(want+"\n")) {
			t.Errorf("new master's metrics lack %s:\n%s", want, after)
		}
	}
	// 1 s at 100 ms: about 10 advertisements sent since it took over.
	if n := sampleValue(t, after, `vrrp_advertisement_sent_total{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4"}`); n < 8 || n > 12 {
		t.Errorf("new master sent %v advertisements in 1 s at 100 ms", n)
	}
	t.Run("promtool", func(t *testing.T) { promtoolCheck(t, after) })

	// An embedder's few lines (example_metrics_test.go) export the same
	// counters from the Router.
	for line := range strings.SplitSeq(strings.TrimSpace(exported.String()), "\n") {
		name, rest, ok := strings.Cut(line, `{vrrp_instance="VI_1"} `)
		if !ok {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(rest, &v); err != nil {
			t.Fatal(line, err)
		}
		if got := sampleValue(t, after, name+`{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4"}`); got != v {
			t.Errorf("exportRouter: %s; vrrpd: %v", line, got)
		}
	}

	el := st.Instances[0].Election
	if el.Master != "10.0.0.2" || !el.SelfMaster || el.NewMasterReason != "masterNoResponse" || el.LastEvent == nil ||
		el.LastEvent.From != "BACKUP" || el.LastEvent.To != "MASTER" || el.LastEvent.Reason != "masterNoResponse" ||
		el.LastEvent.MasterReason != "masterNoResponse" || el.LastEvent.IETFEvent != "ietf-vrrp:vrrp-event-master-timeout" ||
		el.SinceLastTransitionMs < 500 || el.SinceLastTransitionMs > 1000 {
		t.Errorf("election: %+v %+v", el, el.LastEvent)
	}
	if diff := cmp.Diff(map[string]uint64{"STOP->BACKUP start": 1, "BACKUP->MASTER masterNoResponse": 1}, el.Transitions); diff != "" {
		t.Errorf("election transitions (-want +got):\n%s", diff)
	}
}

// sampleValue returns the value of the sample whose name and labels are
// series.
func sampleValue(t *testing.T, exposition []byte, series string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(string(exposition), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in\n%s", series, exposition)
	return 0
}

// The notify queue's length and failures reach the metrics.
func TestNotifierFigures(t *testing.T) {
	release := make(chan struct{})
	n := newNotifier(func(ctx context.Context, cmd string, args []string) error {
		<-release
		if cmd == "fail" {
			return errors.New("exit status 1")
		}
		return nil
	}, time.Minute, discard())
	for _, cmd := range []string{"ok", "fail", "ok", "fail", "fail"} {
		n.notify(cmd, nil)
	}
	// The first is running: four wait.
	deadline := time.Now().Add(10 * time.Second)
	for q, _ := n.figures(); q != 4; q, _ = n.figures() {
		if time.Now().After(deadline) {
			t.Fatalf("queue length %d, want 4", q)
		}
		time.Sleep(time.Millisecond)
	}
	s := snapshot{}
	s.NotifyQueue, s.NotifyFailed = n.figures()
	_, text := scrape(t, s, "")
	if !bytes.Contains(text, []byte("vrrpd_notify_queue_length 4\n")) {
		t.Errorf("no queue length 4 in\n%s", text)
	}
	close(release)
	n.close()
	if q, failed := n.figures(); q != 0 || failed != 3 {
		t.Errorf("after: queue %d, failed %d; want 0, 3", q, failed)
	}
}

// The notify commands dropped beyond the queue's cap (notifyQueueMax)
// are counted in /metrics (vrrpd_notify_dropped_total) and in the status
// document's daemon-wide part (notify.dropped).
func TestNotifyDroppedShown(t *testing.T) {
	release := make(chan struct{})
	n := newNotifier(func(ctx context.Context, cmd string, args []string) error {
		<-release
		return nil
	}, time.Minute, discard())
	// Every virtual router flaps: beyond the cap, the states each has
	// since left are dropped.
	const vrs, rounds = 100, 400
	for r := range rounds {
		notifyFlapRound(n, vrs, r)
	}
	dropped := n.droppedCount()
	if dropped == 0 {
		t.Fatalf("%d commands queued, none dropped (cap %d)", vrs*rounds, notifyQueueMax)
	}
	s := snapshot{}
	s.NotifyQueue, s.NotifyFailed = n.figures()
	s.NotifyDropped = n.droppedCount()
	for _, accept := range []string{"", "application/openmetrics-text;version=1.0.0"} {
		_, text := scrape(t, s, accept)
		if want := fmt.Sprintf("vrrpd_notify_dropped_total %d\n", dropped); !bytes.Contains(text, []byte(want)) {
			t.Errorf("Accept %q: no %q in the exposition", accept, want)
		}
	}
	close(release)
	n.close()

	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		h := startHost(t, lan, 1, cfgOf(inst("VI_1", 1, 200, "10.0.0.100/24")))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		h.d.notif.mu.Lock()
		h.d.notif.dropped += 5
		h.d.notif.mu.Unlock()
		for _, path := range []string{"/status", "/metrics"} {
			code, _, body := get(t, h.d.observeHandler(statusHandler(h.d.streamStatus)), path, "")
			if code != 200 {
				t.Fatalf("GET %s: %d", path, code)
			}
			if path == "/metrics" {
				if !bytes.Contains(body, []byte("vrrpd_notify_dropped_total 5\n")) {
					t.Errorf("GET /metrics: no vrrpd_notify_dropped_total 5")
				}
				continue
			}
			var st Status
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatalf("GET /status: %v", err)
			}
			if st.Notify.Dropped != 5 {
				t.Errorf("GET /status: notify.dropped %d; want 5", st.Notify.Dropped)
			}
			if !bytes.Contains(body, []byte(`"dropped": 5`)) {
				t.Errorf("GET /status: no \"dropped\": 5 in\n%s", body)
			}
		}
	})
}
