//go:build linux

package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/vrrp"
)

func TestCapsError(t *testing.T) {
	if err := capsError("eth0", 1<<capNetRaw|1<<capNetAdmin); err != nil {
		t.Errorf("with both capabilities: %v", err)
	}
	tests := []struct {
		caps      uint64
		want, not string
	}{
		{0, `interface "eth0": missing capabilities: CAP_NET_RAW (raw VRRP sockets, ARP / NA), CAP_NET_ADMIN`, ""},
		{1 << capNetRaw, `interface "eth0": missing capabilities: CAP_NET_ADMIN`, "CAP_NET_RAW"},
		{1 << capNetAdmin, `interface "eth0": missing capabilities: CAP_NET_RAW`, "CAP_NET_ADMIN"},
	}
	for _, tt := range tests {
		err := capsError("eth0", tt.caps)
		if err == nil || !strings.Contains(err.Error(), tt.want) || tt.not != "" && strings.Contains(err.Error(), tt.not) {
			t.Errorf("caps %#x: %v; want %q", tt.caps, err, tt.want)
		}
	}
}

// TestSharedSocketLimitPriv: on a lab of 30 links, one shared IPv4
// socket serves all of them, raising net.ipv4.igmp_max_memberships (20
// in a new namespace) once and saying so in one log line; where the
// sysctl cannot be raised, it still serves them all (transport/raw
// spreads the memberships over helper sockets under the limit; issue 12).
func TestSharedSocketLimitPriv(t *testing.T) {
	const n = 30
	lab := netlab.NewLinks(t, "sso", n)
	h := lab.Host(1)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	err := h.Do(func() error {
		if err := os.WriteFile(igmpMaxPath, []byte("20"), 0o644); err != nil {
			return err
		}
		s, err := newSystem(log)
		if err != nil {
			return err
		}
		defer s.Close()
		ls := s.(*linuxSystem)
		c, err := ls.OpenMulti(vrrp.IPv4, &Instance{Interface: netlab.LinkName(1)})
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 1; i <= n; i++ {
			in := instOn("VI", netlab.LinkName(i), 1, netlab.LinkAddr(i, 100).String())
			idx, primary, err := ls.JoinMulti(c, i-1, &in)
			if err != nil {
				return fmt.Errorf("join %d: %w", i, err)
			}
			if want := netlab.LinkAddr(i, 1); primary != want || idx == 0 {
				t.Errorf("link %d: index %d, primary %v; want %v", i, idx, primary, want)
			}
		}
		if v, err := readSysctlInt(igmpMaxPath); err != nil || v != igmpWant {
			t.Errorf("igmp_max_memberships = %d, %v; want %d", v, err, igmpWant)
		}
		if got := strings.Count(logs.String(), "raised net.ipv4.igmp_max_memberships"); got != 1 {
			t.Errorf("%d log lines about the sysctl; want 1:\n%s", got, logs.String())
		}
		if err := ls.LeaveMulti(c, &Instance{Interface: netlab.LinkName(3)}); err != nil {
			t.Errorf("LeaveMulti: %v", err)
		}

		// A limit of 12 that cannot be raised (as if tried already): 30
		// interfaces on one socket all the same.
		if err := os.WriteFile(igmpMaxPath, []byte("12"), 0o644); err != nil {
			return err
		}
		s2, err := newSystem(log)
		if err != nil {
			return err
		}
		ls2 := s2.(*linuxSystem)
		ls2.igmpRaised = true
		d := newDaemon(Config{}, ls2, log, nil, (&recorder{}).run)
		d.mu.Lock()
		defer d.mu.Unlock()
		for i := 1; i <= n; i++ {
			in := instOn(fmt.Sprintf("VI_%d", i), netlab.LinkName(i), 1, netlab.LinkAddr(i, 100).String())
			if err := d.addLocked(in); err != nil {
				return fmt.Errorf("add %d: %w", i, err)
			}
		}
		if len(d.multi) != 1 {
			t.Errorf("%d shared sockets for %d interfaces at a limit of 12; want 1", len(d.multi), n)
		}
		for i := 1; i <= n; i++ {
			d.removeLocked(fmt.Sprintf("VI_%d", i))
		}
		if len(d.multi) != 0 || len(d.conns) != 0 {
			t.Errorf("after removing all: %d shared sockets, %d conns", len(d.multi), len(d.conns))
		}
		return s2.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}
