package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
)

// zoneSys is a fakeSys whose transports report link-local sources with
// the interface as zone, as transport/raw does.
type zoneSys struct{ *fakeSys }

type zoneConn struct {
	transport.Conn // Conn's methods only
	zone           string
}

func (c zoneConn) ReadFrom(b []byte) (int, transport.Meta, error) {
	n, m, err := c.Conn.ReadFrom(b)
	if m.Src.Is6() && m.Src.IsLinkLocalUnicast() {
		m.Src = m.Src.WithZone(c.zone)
	}
	return n, m, err
}

func (s zoneSys) Open(in *Instance) (transport.Conn, int, netip.Addr, error) {
	c, idx, primary, err := s.fakeSys.Open(in)
	if err != nil {
		return nil, 0, netip.Addr{}, err
	}
	return zoneConn{c, in.Interface}, idx, primary, nil
}

// Issue 14: the IPv6 master address is written in one form on master and
// backup: without a zone (the backup's came from the advertisement's
// source, fe80::1%eth0, before).
func TestStatusIPv6MasterOneForm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		var ds []*daemon
		for n, prio := range map[int]uint8{1: 200, 2: 100} {
			d := newDaemon(cfgOf(inst("VI_6", 1, prio, "fe80::100")), zoneSys{newFakeSys(lan, n)},
				slog.New(slog.NewTextHandler(io.Discard, nil)), nil, (&recorder{}).run)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			if prio == 200 {
				ds = append([]*daemon{d}, ds...)
			} else {
				ds = append(ds, d)
			}
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		m, b := ds[0].status().Instances[0], ds[1].status().Instances[0]
		if m.State != "MASTER" || b.State != "BACKUP" {
			t.Fatalf("states %s, %s; want MASTER, BACKUP", m.State, b.State)
		}
		if m.Master != "fe80::1" || b.Master != "fe80::1" {
			t.Errorf("master as the master writes it %q, as the backup does %q; want both fe80::1", m.Master, b.Master)
		}
		if b.Election.Master != b.Master {
			t.Errorf("backup's election.master %q; want %q", b.Election.Master, b.Master)
		}
	})
}

// Issue 14: the status shows each tracked script's status and weight,
// and the sync group's state.
func TestStatusTrackScriptsAndSyncGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		c := cfgOf(inst("VI_1", 1, 150, "10.0.0.100"), inst("VI_2", 2, 150, "10.0.0.200"))
		c.Instances[0].SyncGroup, c.Instances[1].SyncGroup = "G", "G"
		c.Instances[0].TrackScripts = []string{"chk"}
		c.Groups = []Group{{Name: "G", Members: []string{"VI_1", "VI_2"}}}
		c.Scripts = []Script{{Name: "chk", Command: "check", Interval: time.Second, Timeout: time.Second, Weight: 0, Rise: 1, Fall: 1}}
		h := startHost(t, lan, 1, c)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		type row struct {
			State, Group string
			Scripts      []TrackStatus
		}
		get := func() map[string]row {
			out := map[string]row{}
			for _, is := range h.d.status().Instances {
				out[is.Name] = row{is.State, is.SyncGroupState, is.TrackScripts}
			}
			return out
		}
		want := map[string]row{
			"VI_1": {"MASTER", "MASTER", []TrackStatus{{Name: "chk", Weight: 0, Status: "succeeding"}}},
			"VI_2": {"MASTER", "MASTER", nil},
		}
		if diff := cmp.Diff(want, get()); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
		h.rec.failing.Store(true) // weight 0: FAULT, and the group with it
		time.Sleep(2 * time.Second)
		synctest.Wait()
		want = map[string]row{
			"VI_1": {"FAULT", "FAULT", []TrackStatus{{Name: "chk", Weight: 0, Status: "failing"}}},
			"VI_2": {"FAULT", "FAULT", nil},
		}
		if diff := cmp.Diff(want, get()); diff != "" {
			t.Errorf("status with the script failing (-want +got):\n%s", diff)
		}
	})
}
