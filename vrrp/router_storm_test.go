package vrrp_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// costlyHandler is a slog.Handler whose every record at Warn or above
// costs per of the logging goroutine's time (sleeps: virtual time in a
// synctest bubble), as a log line written to a slow pipe (journald under
// load) does, and is counted.
type costlyHandler struct {
	per   time.Duration
	warns *atomic.Int64
	infos *atomic.Int64
}

func (h costlyHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h costlyHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.warns.Add(1)
		time.Sleep(h.per)
	} else {
		h.infos.Add(1)
	}
	return nil
}
func (h costlyHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h costlyHandler) WithGroup(string) slog.Handler      { return h }

// stormHook is a TransitionHook whose every call costs per, and that
// keeps the host's state: which virtual routers' addresses it holds.
type stormHook struct {
	per   time.Duration
	mu    sync.Mutex
	held  map[string]bool
	state map[string]vrrp.State
	calls int
	trans int
	bad   []string
}

func newStormHook(per time.Duration) *stormHook {
	return &stormHook{per: per, held: map[string]bool{}, state: map[string]vrrp.State{}}
}

func (h *stormHook) cost() {
	time.Sleep(h.per)
	h.mu.Lock()
	h.calls++
	h.mu.Unlock()
}

func (h *stormHook) Take(vr vrrp.VRInfo) error {
	h.cost()
	h.mu.Lock()
	h.held[vr.Name] = true
	h.mu.Unlock()
	return nil
}

func (h *stormHook) Release(vr vrrp.VRInfo) error {
	h.cost()
	h.mu.Lock()
	delete(h.held, vr.Name)
	h.mu.Unlock()
	return nil
}

func (h *stormHook) Announce(vrrp.VRInfo) error { h.cost(); return nil }

func (h *stormHook) Transition(ev vrrp.Event) {
	h.cost()
	h.mu.Lock()
	defer h.mu.Unlock()
	if prev, ok := h.state[ev.Name]; ok && prev != ev.From || !ok && ev.From != vrrp.Initialize {
		h.bad = append(h.bad, fmt.Sprintf("%s: %v->%v after %v", ev.Name, ev.From, ev.To, prev))
	}
	h.state[ev.Name] = ev.To
	h.trans++
}

// TestRouterTakeoverStormEnds: issue 12, scale run I, where a load spike
// made a backup of 1,000 links at 100 ms fall behind, its virtual routers
// took over, and the takeover storm sustained itself for the rest of the
// 10-minute window. Here 1,000 virtual routers at 100 ms (four LANs of
// 250) run between a master (priority 150) and a backup (100) whose host
// work costs 1 ms a call and whose log costs 1 ms a warning line on the
// protocol goroutine (a log written to a slow pipe); every advertisement
// to the backup is lost for 1 s, so that every backup takes over. Within
// a few Master_Down_Intervals of the loss ending there must be one master
// per virtual router, the master, and then no transition for 20 s; the
// backup's host ends holding no address, and its TransitionHook saw every
// transition in order.
func TestRouterTakeoverStormEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			lans   = 4
			perLAN = 250
			ival   = 100 * time.Millisecond
		)
		var warns, infos, aWarns, aInfos atomic.Int64
		logger := slog.New(costlyHandler{per: time.Millisecond, warns: &warns, infos: &infos})
		hook := newStormHook(time.Millisecond)
		a := rtNewNode(t, vrrp.RouterConfig{EventBuffer: -1, Logger: slog.New(costlyHandler{per: time.Millisecond, warns: &aWarns, infos: &aInfos})})
		b := rtNewNode(t, vrrp.RouterConfig{EventBuffer: 1 << 20, Hook: hook, Logger: logger})
		type lanEPs struct {
			lan    *memnet.Network
			ea, eb *memnet.Endpoint
		}
		var ls []lanEPs
		for l := range lans {
			// 2 kB of socket buffer per link (vrrpd's buffer was 4 MB for
			// 1,000 links in run I): two advertisement intervals.
			lan := memnet.New(memnet.Config{QueueLen: 2 * perLAN})
			defer lan.Close()
			ea, eb := rtAttach(lan, fmt.Sprint("a", l), rtIP4(1)), rtAttach(lan, fmt.Sprint("b", l), rtIP4(2))
			ls = append(ls, lanEPs{lan, ea, eb})
			for i := 1; i <= perLAN; i++ {
				name := fmt.Sprintf("vr%d_%d", l, i)
				ca, cb := rtCfg4(uint8(i), 150, rtIP4(1)), rtCfg4(uint8(i), 100, rtIP4(2))
				ca.AdvertInterval, cb.AdvertInterval = ival, ival
				a.add(vrrp.VirtualRouter{Name: name, Conn: ea, Config: ca})
				b.add(vrrp.VirtualRouter{Name: name, Conn: eb, Config: cb})
			}
		}
		a.start(false)
		time.Sleep(2 * time.Second) // the master first
		b.start(true)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		names := func(yield func(string) bool) {
			for l := range lans {
				for i := 1; i <= perLAN; i++ {
					if !yield(fmt.Sprintf("vr%d_%d", l, i)) {
						return
					}
				}
			}
		}
		notBackup := func() int {
			n := 0
			for name := range names {
				if s := b.state(name); s != vrrp.Backup {
					n++
				}
			}
			return n
		}
		if n := notBackup(); n > 0 {
			t.Errorf("before the loss: %d of the backup's virtual routers not Backup", n)
		}
		// Transitions as the protocol made them (Events: the hook's
		// calls lag behind by the host work's queue).
		nevents := func() int {
			b.mu.Lock()
			defer b.mu.Unlock()
			return len(b.events)
		}
		before := nevents()

		// Every advertisement to the backup lost for 1 s.
		for _, l := range ls {
			l.lan.SetLoss(l.ea, l.eb, 1)
		}
		time.Sleep(time.Second)
		for _, l := range ls {
			l.lan.SetLoss(l.ea, l.eb, 0)
		}
		end := time.Now()
		during := nevents() - before
		if during < lans*perLAN {
			t.Errorf("%d transitions on the backup during the loss; want every backup to take over", during)
		}

		// A few Master_Down_Intervals (0.36 s) to settle, then quiet.
		const settle = 2 * time.Second
		time.Sleep(settle)
		synctest.Wait()
		if masters := notBackup(); masters > 0 {
			t.Errorf("%v after the loss ended: %d of the backup's virtual routers not Backup", settle, masters)
		}
		settled := nevents()
		time.Sleep(20 * time.Second)
		synctest.Wait()
		later := nevents() - settled
		if later > 0 {
			t.Errorf("%d transitions on the backup from %v to %v after the loss ended; want none", later, settle, settle+20*time.Second)
		}
		hook.mu.Lock()
		calls := hook.calls
		if len(hook.held) > 0 {
			t.Errorf("%v after the loss ended the backup's host holds %d virtual routers' addresses", settle+20*time.Second, len(hook.held))
		}
		hook.mu.Unlock()
		for name := range names {
			if s := a.state(name); s != vrrp.Master {
				t.Errorf("master's %s is %v", name, s)
				break
			}
		}
		t.Logf("backup: %d transitions during the 1 s loss, %d in the %v after it; %d hook calls; %d warning and %d info log lines (master: %d warning lines); %v since the loss ended",
			during, settled-before-during, settle, calls, warns.Load(), infos.Load(), aWarns.Load(), time.Since(end))
		b.stop()
		a.stop()
		// Everything the hook was asked has run: the host holds no
		// address of a backup, and the TransitionHook saw a consistent
		// history.
		hook.mu.Lock()
		defer hook.mu.Unlock()
		if len(hook.bad) > 0 {
			t.Errorf("TransitionHook saw %d inconsistent transitions, first: %s", len(hook.bad), hook.bad[0])
		}
		if len(hook.held) > 0 {
			t.Errorf("after the stop the backup's host holds %d virtual routers' addresses", len(hook.held))
		}
	})
}
