//go:build linux

package interop

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
)

// TestAnnounceWindow checks the preemption check's window on synthetic
// captures: the old master's announcements pass until it had left MASTER
// (it cannot know of the new master before it has read its first
// advertisement), and fail after.
func TestAnnounceWindow(t *testing.T) {
	vip := netip.MustParseAddr("10.99.0.103")
	newMAC, _ := net.ParseMAC("02:00:00:00:00:01")
	vMAC, _ := net.ParseMAC("00:00:5e:00:01:39")
	oldMAC, _ := net.ParseMAC("02:00:00:00:00:02")
	otherMAC, _ := net.ParseMAC("02:00:00:00:00:03")
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	garp := func(ms int, mac net.HardwareAddr) keepalived.Packet {
		return keepalived.Packet{Time: at(ms), Kind: keepalived.KindARP, SrcMAC: mac, ARPSender: vip, ARPTarget: vip, Gratuitous: true}
	}
	// The new master's first advertisement is at 0 ms; the old master
	// recorded leaving MASTER at 3 ms.
	w := announceWindow{vip: vip, from: at(-1), to: at(5000), newMACs: []string{newMAC.String(), vMAC.String()},
		newName: "h1", oldMAC: oldMAC.String(), oldMaster: []span{{at(-1), at(3)}}}
	for _, tt := range []struct {
		name    string
		pkts    keepalived.Packets
		n       int
		wantErr string // "" for none
	}{
		{"new master only", keepalived.Packets{garp(1, newMAC), garp(2, vMAC)}, 2, ""},
		// The interop failure of issue 15: the old master's delayed
		// second burst about 1 ms after the new master's first advert.
		{"old master's burst before it read the advert", keepalived.Packets{garp(1, oldMAC), garp(2, newMAC), garp(3, oldMAC)}, 1, ""},
		{"old master announcing after it left MASTER", keepalived.Packets{garp(1, newMAC), garp(4, oldMAC)}, 1, "after it had left MASTER"},
		{"old master announcing much later", keepalived.Packets{garp(1, newMAC), garp(1000, oldMAC)}, 1, "after it had left MASTER"},
		{"a third host", keepalived.Packets{garp(1, newMAC), garp(2, otherMAC)}, 1, "want one of"},
		{"nothing from the new master", keepalived.Packets{garp(1, oldMAC)}, 0, "no gratuitous ARP"},
		{"outside the window", keepalived.Packets{garp(-5, otherMAC), garp(1, newMAC), garp(6000, oldMAC)}, 1, ""},
	} {
		n, errs := w.check(tt.pkts)
		if n != tt.n {
			t.Errorf("%s: %d announcements from the new master, want %d", tt.name, n, tt.n)
		}
		got := strings.Join(errs, "; ")
		if tt.wantErr == "" && got != "" || tt.wantErr != "" && !strings.Contains(got, tt.wantErr) {
			t.Errorf("%s: errors %q, want %q", tt.name, got, tt.wantErr)
		}
	}

	// The old master took over again, by its own record, from 100 to
	// 200 ms (it missed the new master's adverts): it may announce then.
	w.oldMaster = append(w.oldMaster, span{at(100), at(200)})
	for _, tt := range []struct {
		name    string
		pkts    keepalived.Packets
		n       int
		wantErr string
	}{
		{"old master master again", keepalived.Packets{garp(1, newMAC), garp(150, oldMAC)}, 1, ""},
		{"old master between its spans", keepalived.Packets{garp(1, newMAC), garp(50, oldMAC)}, 1, "after it had left MASTER"},
		{"old master after its second span", keepalived.Packets{garp(1, newMAC), garp(201, oldMAC)}, 1, "after it had left MASTER"},
	} {
		n, errs := w.check(tt.pkts)
		if n != tt.n {
			t.Errorf("%s: %d announcements from the new master, want %d", tt.name, n, tt.n)
		}
		got := strings.Join(errs, "; ")
		if tt.wantErr == "" && got != "" || tt.wantErr != "" && !strings.Contains(got, tt.wantErr) {
			t.Errorf("%s: errors %q, want %q", tt.name, got, tt.wantErr)
		}
	}

	// Without an old master (crash, priority 0) its MAC is a stranger's.
	w.oldMAC = ""
	if _, errs := w.check(keepalived.Packets{garp(1, newMAC), garp(2, oldMAC)}); len(errs) != 1 || !strings.Contains(errs[0], "want one of") {
		t.Errorf("no old master: errors %q, want one 'want one of'", errs)
	}
}

// TestParseLeftMaster checks the reading of vrrpd's transition log lines.
func TestParseLeftMaster(t *testing.T) {
	log := `time=2026-12-05T10:00:00.100Z level=INFO msg="vrrp transition" vr=vr51 vrid=51 family=IPv4 from=Backup to=Master reason=masterNoResponse master_reason=masterNoResponse
time=2026-12-05T10:00:05.000Z level=DEBUG msg="something else" from=Master to=Backup
time=2026-12-05T10:00:07.250Z level=INFO msg="vrrp transition" vr=vr51 vrid=51 family=IPv4 from=Master to=Backup reason=priority
time=2026-12-05T10:00:09.000Z level=INFO msg="vrrp transition" vr=vr51 vrid=51 family=IPv4 from=Master to=Initialize reason=shutdown
`
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		after time.Time
		want  time.Time
		ok    bool
	}{
		{t0, t0.Add(7251 * time.Millisecond), true},
		{t0.Add(7251 * time.Millisecond), t0.Add(9001 * time.Millisecond), true},
		{t0.Add(10 * time.Second), time.Time{}, false},
	} {
		got, ok := parseLeftMaster(log, tt.after)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("after %v: %v %v, want %v %v", tt.after.Format(tsFormat), got, ok, tt.want, tt.ok)
		}
	}
}
