//go:build linux

package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/vrrpdtest"
)

// TestIntegrationSecondResponder (privileged, lab "vrdp"): h1 (master) and
// h2 (backup) run vrrpd with an IPv4 and an IPv6 instance and a short
// probe_interval; h3 is a rogue host. The pair alone raises no alarm
// (the backup does not answer for the VIPs, and does not probe while
// backup). When h3
// adds the VIPs, h1's status names h3's MAC for both within two probe
// intervals (polled with a generous margin: the bound is the deadline,
// the measured delay is logged), with one warning each; when h3 removes
// them the alarms clear (two quiet rounds: within three intervals, with
// the same margin), each with a line.
func TestIntegrationSecondResponder(t *testing.T) {
	lab := netlab.New(t, "vrdp", 3)
	h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
	const every = 300 * time.Millisecond
	// The deadline of "within two intervals": generous, for a loaded
	// machine (the race-built daemon, other tests' labs).
	margin := max(3*time.Second, 10*every)
	vip4, vip6 := "10.99.0.100", "fd99::52"
	config := func(prio int) string {
		text := fmt.Sprintf(`
probe_interval = %q

[[instance]]
name = "V4"
interface = "eth0"
vrid = 51
priority = %d
interval = "100ms"
vips = ["%s/24"]

[[instance]]
name = "V6"
interface = "eth0"
vrid = 52
priority = %d
interval = "100ms"
vips = ["fe80::52", "%s/64"]
`, every, prio, vip4, prio, vip6)
		path := filepath.Join(netlab.TempDir(t), "vrrpd.toml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// h1 first, so that h2 starts as the backup of a running master
	// (started together, h2 may be master until h1 preempts it, and
	// probe then, as a master should).
	p1 := startVrrpd(t, h1, "prio 200", "-config", config(200))
	for _, name := range []string{"V4", "V6"} {
		waitFor(t, "h1 master of "+name, func() bool { return p1.State(name) == "MASTER" })
	}
	p2 := startVrrpd(t, h2, "prio 100", "-config", config(100))
	for _, name := range []string{"V4", "V6"} {
		waitFor(t, "h2 backup of "+name, func() bool { return p2.State(name) == "BACKUP" })
	}
	status := func(p *vrrpdtest.Proc) map[string]InstanceStatus {
		t.Helper()
		st, err := getStatus(p)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]InstanceStatus{}
		for _, is := range st.Instances {
			m[is.Name] = is
		}
		return m
	}
	// alarms returns the addresses h1 raises an alarm for, with their
	// MACs.
	alarms := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, is := range status(p1) {
			for _, sr := range is.SecondResponders {
				out[sr.Address] = strings.Join(sr.MACs, ",")
			}
		}
		return out
	}

	// What h2 sent before it settled as backup (nothing, normally).
	sent2 := map[string]uint64{}
	for name, is := range status(p2) {
		if is.Probe == nil {
			t.Fatalf("h2 %s: no probe status", name)
		}
		sent2[name] = is.Probe.Sent
	}

	// The pair alone: several rounds, no alarm.
	waitFor(t, "h1 to probe a few rounds", func() bool {
		st := status(p1)
		return st["V4"].Probe != nil && st["V4"].Probe.Sent >= 5 && st["V6"].Probe != nil && st["V6"].Probe.Sent >= 10
	})
	for name, is := range status(p1) {
		if len(is.SecondResponders) != 0 || is.Probe.Answers != 0 || is.Probe.Episodes != 0 || is.Probe.SendErrors != 0 {
			t.Errorf("h1 %s with its backup only: second responders %+v, probe %+v", name, is.SecondResponders, is.Probe)
		}
	}

	// The rogue adds the VIPs.
	run := func(h *netlab.Host, args ...string) {
		t.Helper()
		if out, err := h.Run(context.Background(), "ip", args...); err != nil {
			t.Fatalf("%s: ip %v: %v: %s", h.Name, args, err, out)
		}
	}
	run(h3, "addr", "add", vip4+"/32", "dev", "eth0")
	run(h3, "addr", "add", vip6+"/128", "dev", "eth0", "nodad")
	added := time.Now()
	want := map[string]string{vip4: h3.MAC.String(), vip6: h3.MAC.String()}
	var got map[string]string
	deadline := added.Add(2*every + margin)
	for {
		if got = alarms(); len(got) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(every / 10)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("alarms %v %v after the rogue added the VIPs (deadline 2 x %v + %v), want %v", got, time.Since(added), every, margin, want)
	}
	t.Logf("alarm raised %v after the rogue added the VIPs (probe interval %v)", time.Since(added).Round(time.Millisecond), every)

	// It goes on answering: still one episode each.
	time.Sleep(3 * every)
	for name, is := range status(p1) {
		if is.Probe.Episodes != 1 || len(is.SecondResponders) != 1 {
			t.Errorf("h1 %s: probe %+v, second responders %+v: want one episode going on", name, is.Probe, is.SecondResponders)
		}
	}

	// The rogue lets them go.
	run(h3, "addr", "del", vip4+"/32", "dev", "eth0")
	run(h3, "addr", "del", vip6+"/128", "dev", "eth0")
	removed := time.Now()
	deadline = removed.Add(3*every + margin) // two quiet rounds
	for {
		if got = alarms(); len(got) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(every / 10)
	}
	if len(got) != 0 {
		t.Fatalf("alarms %v %v after the rogue removed the VIPs (deadline 3 x %v + %v)", got, time.Since(removed), every, margin)
	}
	t.Logf("alarm cleared %v after the rogue removed the VIPs", time.Since(removed).Round(time.Millisecond))

	log := p1.Log()
	for _, a := range []string{vip4, vip6} {
		warn := countLines(log, "second responder: another MAC answers", "address="+a)
		gone := countLines(log, "second responder gone", "address="+a)
		if warn != 1 || gone != 1 || !strings.Contains(log, "mac="+h3.MAC.String()) {
			t.Errorf("h1 log for %s: %d warnings and %d clearing lines, want 1 and 1 naming %v", a, warn, gone, h3.MAC)
		}
	}
	// The backup never probed nor warned.
	for name, is := range status(p2) {
		if is.State != "BACKUP" || is.Probe == nil || is.Probe.Sent != sent2[name] || len(is.SecondResponders) != 0 {
			t.Errorf("backup h2 %s: %s, probe %+v (%d sent before), second responders %+v", name, is.State, is.Probe, sent2[name], is.SecondResponders)
		}
	}
	if strings.Contains(p2.Log(), "second responder") {
		t.Error("backup h2 logged a second responder")
	}
}

func countLines(log string, subs ...string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if !slices.ContainsFunc(subs, func(s string) bool { return !strings.Contains(l, s) }) {
			n++
		}
	}
	return n
}
