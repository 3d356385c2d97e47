package main

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport/memnet"
)

// Issue 11: while the notify path is stuck (its queue's lock held, as by
// a slow notifier), an interface flapping 600 times makes 1200
// transitions. Every one of them is notified once the path moves again,
// in order: the daemon takes transitions from the Router's
// TransitionHook, not from its lossy Events channel (whose buffer of
// 8n+1024 events dropped the oldest beyond it).
func TestDaemonSlowNotifyLosesNoTransition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		h := startHost(t, lan, 1, cfgOf(inst("VI_1", 1, 150, "10.0.0.100")))
		synctest.Wait() // started: BACKUP
		const flaps = 600
		h.d.notif.mu.Lock()
		for range flaps {
			h.sys.setLink("eth0", false)
			h.sys.setLink("eth0", true)
		}
		// No synctest.Wait here: a goroutine blocked on a mutex is not
		// durably blocked.
		h.d.notif.mu.Unlock()
		synctest.Wait()

		want := []string{"BACKUP"}
		for range flaps {
			want = append(want, "FAULT", "BACKUP")
		}
		var got []string
		for _, n := range h.rec.notified() {
			got = append(got, strings.Fields(n)[3])
		}
		if len(got) != len(want) {
			t.Fatalf("%d notify commands; want %d (one per transition)", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("notify %d: %s; want %s", i, got[i], want[i])
			}
		}
		_, _, ts := h.d.obs.get("VI_1")
		var n uint64
		for _, c := range ts {
			n += c
		}
		if n != uint64(len(want)) {
			t.Errorf("observer counted %d transitions; want %d", n, len(want))
		}
	})
}

// Issue 11: instances that reloads add, restart and remove leave nothing
// behind in the daemon's maps: the hook's registry, the sync group
// states and the observer's records hold the running instances only,
// without a status or metrics request to prune them.
func TestDaemonReloadCyclesLeaveNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		base := inst("VI_0", 200, 150, "10.0.0.200")
		h := startHost(t, lan, 1, cfgOf(base))
		time.Sleep(time.Second)
		synctest.Wait()
		for cycle := range 20 {
			c := cfgOf(base)
			var names []string
			for i := range 3 {
				in := inst(fmt.Sprintf("C%d_%d", cycle, i), uint8(10+i), 150, fmt.Sprintf("10.0.1.%d", 10+i))
				in.SyncGroup = fmt.Sprintf("G%d", cycle)
				c.Instances = append(c.Instances, in)
				names = append(names, in.Name)
			}
			c.Groups = []Group{{Name: fmt.Sprintf("G%d", cycle), Members: names, Notify: "gnotify"}}
			if err := h.d.Reload(c); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // they become master
			synctest.Wait()
			// base restarted (its VRID changes) every other cycle.
			if cycle%2 == 0 {
				base.VRID = 201 - base.VRID%2
			}
			if err := h.d.Reload(cfgOf(base)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		time.Sleep(time.Second)
		synctest.Wait()
		live, pending, states, groups := h.d.reg.sizes()
		if live != 1 || pending != 0 || states != 0 || groups != 0 {
			t.Errorf("registry after the cycles: %d live, %d pending, %d member and %d group states; want 1, 0, 0, 0", live, pending, states, groups)
		}
		if n := h.d.obs.size(); n != 1 {
			t.Errorf("observer keeps %d records; want 1 (VI_0)", n)
		}
		if got := h.d.reg.get("VI_0"); got == nil || got.in.VRID != base.VRID {
			t.Errorf("registry's VI_0: %+v; want the running one (VRID %d)", got, base.VRID)
		}
		// The restarted base kept its counts by reason across restarts.
		_, _, ts := h.d.obs.get("VI_0")
		var n uint64
		for _, c := range ts {
			n += c
		}
		if n < 20 {
			t.Errorf("VI_0's record counts %d transitions after 10 restarts; want its whole history", n)
		}
	})
}

// TestRegistryPendingReleased: the pending map of a start-up of
// thousands of instances goes once they are all added: a Go map never
// shrinks, and it kept their room (1.5 MB at 4,094, issue 12).
func TestRegistryPendingReleased(t *testing.T) {
	var r registry
	for i := range 1000 {
		r.expect(&vrInst{in: &Instance{Name: fmt.Sprintf("VI_%d", i)}})
	}
	for i := range 1000 {
		if !r.added(fmt.Sprintf("VI_%d", i)) {
			t.Fatalf("VI_%d not pending", i)
		}
	}
	if r.pending != nil {
		t.Errorf("pending map kept (%d entries) after every instance was added", len(r.pending))
	}
}
