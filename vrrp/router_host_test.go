package vrrp_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// TestRouterSlowHooksDelayNoAdvertisement: issue 15 item 5, where 10,200
// take hooks running one after another on the protocol goroutine delayed
// the first advertisement by 62 s. Here 200 owners start together and
// every Take takes 100 ms (20 s in all): each owner's advertisements
// still leave at 0 s, 1 s, 2 s, ..., on time.
func TestRouterSlowHooksDelayNoAdvertisement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 200
		lan := memnet.New(memnet.Config{QueueLen: 4 * n})
		sn := rtNewSniffer(t, lan, rtIP4(9))
		var takes int
		var mu sync.Mutex
		slow := vrrp.HookFuncs{TakeFunc: func(vrrp.VRInfo) error {
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			takes++
			mu.Unlock()
			return nil
		}}
		a := rtNewNode(t, vrrp.RouterConfig{Hook: slow, EventBuffer: -1})
		ep := rtAttach(lan, "a", rtIP4(1))
		for i := 1; i <= n; i++ {
			a.add(vrrp.VirtualRouter{Name: fmt.Sprint("vr", i), Conn: ep, Config: rtCfg4(uint8(i), 255, rtIP4(1))})
		}
		a.start(false)
		time.Sleep(3*time.Second + time.Millisecond)
		synctest.Wait()
		perSecond := map[time.Duration]int{}
		for _, s := range sn.all() {
			perSecond[s.At]++
		}
		for sec := range 4 {
			if got := perSecond[time.Duration(sec)*time.Second]; got != n {
				t.Errorf("%d advertisements at %ds, want %d (all on time)", got, sec, n)
			}
		}
		if len(perSecond) != 4 {
			t.Errorf("advertisements at %d distinct times, want 4: %v", len(perSecond), perSecond)
		}
		// Every Take runs (20 s of them) while the owners are master; a
		// Take still waiting at the stop would be superseded by the
		// stop's Release (TestHostWorkerCoalescesFlaps).
		time.Sleep(18 * time.Second)
		synctest.Wait()
		mu.Lock()
		if takes != n {
			t.Errorf("%d takes ran, want %d", takes, n)
		}
		mu.Unlock()
		a.stop()
		sn.close()
	})
}

// transitionLog is a TransitionHook that checks the history it sees is
// consistent: each transition of a virtual router starts where the last
// one ended. It is slow (300 ms per transition) on purpose.
type transitionLog struct {
	vrrp.HookFuncs
	t    *testing.T
	mu   sync.Mutex
	last map[string]vrrp.State
	n    int
	bad  []string
}

func (l *transitionLog) Transition(ev vrrp.Event) {
	time.Sleep(300 * time.Millisecond)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ev.From != l.last[ev.Name] {
		l.bad = append(l.bad, fmt.Sprintf("%s: %v->%v after a transition to %v", ev.Name, ev.From, ev.To, l.last[ev.Name]))
	}
	l.last[ev.Name] = ev.To
	l.n++
}

// TestRouterTransitionHookLosesNothing: with EventBuffer 2 and a consumer
// that takes 300 ms per transition, the TransitionHook still sees every
// transition of every virtual router in order (each From is the previous
// To, the count matches the machines' own), and it ends in the state
// State reports. Router.Events, lossy, would show gaps here (see
// TestRouterSlowConsumer).
func TestRouterTransitionHookLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		log := &transitionLog{t: t, last: map[string]vrrp.State{}}
		a := rtNewNode(t, vrrp.RouterConfig{Hook: log, EventBuffer: 2})
		b := rtNewNode(t, vrrp.RouterConfig{EventBuffer: 2})
		epA, epB := rtAttach(lan, "a", rtIP4(1)), rtAttach(lan, "b", rtIP4(2))
		for i := 1; i <= 5; i++ {
			a.add(vrrp.VirtualRouter{Name: fmt.Sprint("vr", i), Conn: epA, Interface: "eth0", SyncGroup: "g", Config: rtCfg4(uint8(i), 150, rtIP4(1))})
			b.add(vrrp.VirtualRouter{Name: fmt.Sprint("vr", i), Conn: epB, Config: rtCfg4(uint8(i), 100, rtIP4(2))})
		}
		a.start(false)
		b.start(false)
		time.Sleep(5 * time.Second)
		// Flap: fault, priority below the peer's, recover, and back.
		for range 3 {
			if err := a.r.InterfaceDown("eth0"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(700 * time.Millisecond)
			if err := a.r.InterfaceUp("eth0"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Second)
			if err := a.r.SetFault("vr3", true); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if err := a.r.SetFault("vr3", false); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Second)
		}
		a.stop()
		b.stop()
		log.mu.Lock()
		defer log.mu.Unlock()
		for _, s := range log.bad {
			t.Error(s)
		}
		if got := a.r.RouterStats().EventsDropped; got == 0 {
			t.Errorf("EventsDropped = 0: the Events buffer never overflowed, the test proves nothing")
		}
		want := 0
		for i := 1; i <= 5; i++ {
			name := fmt.Sprint("vr", i)
			if got, _ := a.r.State(name); log.last[name] != got {
				t.Errorf("%s: last transition to %v, State %v", name, log.last[name], got)
			}
			want++ // the shutdown at the end
		}
		if log.n < 5*2*3 {
			t.Errorf("saw %d transitions, want at least %d", log.n, 5*2*3)
		}
	})
}

// failingTake fails the first k Takes of each virtual router, and records
// every hook call.
type failingTake struct {
	mu    sync.Mutex
	k     int
	tries map[string]int
	calls []string
}

func (f *failingTake) rec(what string, vr vrrp.VRInfo) {
	f.calls = append(f.calls, fmt.Sprintf("%s %s at %v", what, vr.Name, time.Now().Round(0).Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))))
}

func (f *failingTake) Take(vr vrrp.VRInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries[vr.Name]++
	if f.tries[vr.Name] <= f.k {
		f.rec("take-failed", vr)
		return errors.New("no room")
	}
	f.rec("take", vr)
	return nil
}

func (f *failingTake) Release(vr vrrp.VRInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("release", vr)
	return nil
}

func (f *failingTake) Announce(vr vrrp.VRInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("announce", vr)
	return nil
}

// TestRouterRetriesFailedTake: a Take that fails is retried with backoff
// (100 ms, 200 ms, ...) until it succeeds; no Announce runs while the
// addresses are not taken, one runs when the retry succeeds; a state
// change ends the retries.
func TestRouterRetriesFailedTake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		h := &failingTake{k: 2, tries: map[string]int{}}
		r := vrrp.NewRouter(vrrp.RouterConfig{Hook: h})
		if err := r.Add(vrrp.VirtualRouter{Name: "o", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(1, 255, rtIP4(1))}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		h.mu.Lock()
		got := append([]string(nil), h.calls...)
		h.mu.Unlock()
		want := []string{"take-failed o at 0s", "take-failed o at 100ms", "take o at 300ms", "announce o at 300ms"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("hook calls %q, want %q", got, want)
		}
		// A Take that never succeeds is given up when the state changes.
		h.mu.Lock()
		h.k, h.tries, h.calls = 1000, map[string]int{}, nil
		h.mu.Unlock()
		if err := r.Shutdown("o"); err != nil {
			t.Fatal(err)
		}
		// The Release runs before the Start's Take is queued: a Release
		// still waiting then would be superseded by it (the host keeps
		// the addresses; TestHostWorkerCoalescesFlaps).
		synctest.Wait()
		if err := r.Start("o"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
		if err := r.Shutdown("o"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		h.mu.Lock()
		got = append([]string(nil), h.calls...)
		h.mu.Unlock()
		want = []string{"release o at 1.001s", "take-failed o at 1.001s", "take-failed o at 1.101s", "release o at 1.251s"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("hook calls %q, want %q", got, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// registry is a hook that keeps per-virtual-router state from Added to
// Removed, as package arpnd does.
type registry struct {
	vrrp.HookFuncs
	mu  sync.Mutex
	vrs map[string][]byte
}

func (g *registry) Added(vr vrrp.VRInfo) {
	g.mu.Lock()
	g.vrs[vr.Name] = make([]byte, 1024)
	g.mu.Unlock()
}

func (g *registry) Removed(vr vrrp.VRInfo) {
	g.mu.Lock()
	delete(g.vrs, vr.Name)
	g.mu.Unlock()
}

// TestRouterAddRemoveLeavesNothing: 10,000 Add / Remove cycles while the
// Router runs leave its heap, its goroutines and a RegistryHook's
// registry where they started.
func TestRouterAddRemoveLeavesNothing(t *testing.T) {
	lan := memnet.New(memnet.Config{})
	g := &registry{vrs: map[string][]byte{}}
	r := vrrp.NewRouter(vrrp.RouterConfig{Hook: g, EventBuffer: -1})
	base := rtAttach(lan, "base", rtIP4(1))
	if err := r.Add(vrrp.VirtualRouter{Name: "base", Conn: base, Config: rtCfg4(1, 255, rtIP4(1))}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	// Most cycles share a Conn (the Router's own cost per virtual
	// router); every 100th has a Conn of its own, which the Router
	// starts a reader for and closes on Remove.
	shared := rtAttach(lan, "shared", rtIP4(2))
	if err := r.Add(vrrp.VirtualRouter{Name: "keeps-shared-open", Conn: shared, Config: rtCfg4(1, 100, rtIP4(2))}); err != nil {
		t.Fatal(err)
	}
	cycle := func(i int) {
		name := fmt.Sprint("vr", i)
		var ep transport.Conn = shared
		if i%100 == 0 {
			ep = rtAttach(lan, name, rtIP4(2))
		}
		if err := r.Add(vrrp.VirtualRouter{Name: name, Conn: ep, Config: rtCfg4(uint8(2+i%250), 255, rtIP4(2))}); err != nil {
			t.Fatal(err)
		}
		if err := r.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
	measure := func() (uint64, int) {
		// Let the host-work goroutine catch up.
		for range 100 {
			g.mu.Lock()
			n := len(g.vrs)
			g.mu.Unlock()
			if n == 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, runtime.NumGoroutine()
	}
	for i := range 100 { // warm up: buffers grow to their size
		cycle(i)
	}
	heap0, gor0 := measure()
	for i := range 10000 {
		cycle(i)
	}
	heap1, gor1 := measure()
	if gor1 > gor0 {
		t.Errorf("goroutines: %d before, %d after", gor0, gor1)
	}
	// 10,000 virtual routers left behind would hold megabytes (their
	// Machines, and 1 KiB each in the registry).
	if heap1 > heap0+512<<10 {
		t.Errorf("heap: %d bytes before, %d after 10,000 cycles", heap0, heap1)
	}
	g.mu.Lock()
	if len(g.vrs) != 2 {
		t.Errorf("the registry holds %d virtual routers, want 2", len(g.vrs))
	}
	g.mu.Unlock()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = netip.Addr{}
}

// TestMultiHookTakeStopsAtFailure: when the first hook's Take fails (the
// addresses could not be installed), the hooks after it are not told to
// take, and the Router calls no Announce: no gratuitous ARP for an address
// the host does not hold. Release still reaches every hook.
func TestMultiHookTakeStopsAtFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		addrs := &failingTake{k: 1000, tries: map[string]int{}}
		var mu sync.Mutex
		var arp []string
		rec := func(what string) func(vrrp.VRInfo) error {
			return func(vr vrrp.VRInfo) error {
				mu.Lock()
				arp = append(arp, what+" "+vr.Name)
				mu.Unlock()
				return nil
			}
		}
		announcer := vrrp.HookFuncs{TakeFunc: rec("take"), ReleaseFunc: rec("release"), AnnounceFunc: rec("announce")}
		h := vrrp.MultiHook(addrs, announcer)
		if err := h.Take(vrrp.VRInfo{Name: "direct"}); err == nil {
			t.Error("MultiHook.Take succeeded although the first hook failed")
		}
		r := vrrp.NewRouter(vrrp.RouterConfig{Hook: h})
		if err := r.Add(vrrp.VirtualRouter{Name: "o", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(1, 255, rtIP4(1))}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(5 * time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if want := []string{"release o"}; fmt.Sprint(arp) != fmt.Sprint(want) {
			t.Errorf("the second hook saw %q, want %q", arp, want)
		}
	})
}

// TestRouterEventReasons: issue 15 item 7, a tracking fault (SetFault)
// was reported as interfaceDown; and a takeover after a priority-0
// handover and one after a crash both said masterNoResponse and nothing
// more. Now a tracking fault has ReasonTracking, and a takeover carries
// the master last heard and its priority (Event.Handover).
func TestRouterEventReasons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
		epA := rtAttach(lan, "a", rtIP4(1))
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: epA, Config: rtCfg4(7, 200, rtIP4(1))})
		b.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "b", rtIP4(2)), Config: rtCfg4(7, 100, rtIP4(2))})
		a.start(true)
		b.start(true)
		time.Sleep(5 * time.Second)
		// A tracking fault: a hands over to b.
		if err := a.r.SetFault("vr", true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		if err := a.r.SetFault("vr", false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second) // a preempts b
		// a crashes: its Conn is gone, nothing more leaves it.
		epA.Close()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		a.stop()
		b.stop()
		type ev struct {
			From, To     vrrp.State
			Reason       vrrp.Reason
			Peer         netip.Addr
			PeerPriority uint8
			Handover     bool
		}
		pick := func(n *rtNode) []ev {
			n.mu.Lock()
			defer n.mu.Unlock()
			var out []ev
			for _, e := range n.events {
				out = append(out, ev{e.From, e.To, e.Reason, e.Peer, e.PeerPriority, e.Handover()})
			}
			return out
		}
		wantA := []ev{
			{I, B, vrrp.ReasonStart, netip.Addr{}, 0, false},
			{B, M, vrrp.ReasonMasterNoResponse, netip.Addr{}, 0, false},
			{M, F, vrrp.ReasonTracking, netip.Addr{}, 0, false},
			{F, B, vrrp.ReasonTracking, netip.Addr{}, 0, false},
			{B, M, vrrp.ReasonPreempted, rtIP4(2), 100, false},
			{M, I, vrrp.ReasonShutdown, netip.Addr{}, 0, false},
		}
		wantB := []ev{
			{I, B, vrrp.ReasonStart, netip.Addr{}, 0, false},
			{B, M, vrrp.ReasonMasterNoResponse, rtIP4(1), 0, true},    // the handover
			{M, B, vrrp.ReasonHigherPriority, rtIP4(1), 200, false},   // a preempts
			{B, M, vrrp.ReasonMasterNoResponse, rtIP4(1), 200, false}, // the crash
			{M, I, vrrp.ReasonShutdown, netip.Addr{}, 0, false},
		}
		eq := cmp.Comparer(func(x, y netip.Addr) bool { return x == y })
		if diff := cmp.Diff(wantA, pick(a), eq); diff != "" {
			t.Errorf("a's events (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantB, pick(b), eq); diff != "" {
			t.Errorf("b's events (-want +got):\n%s", diff)
		}
	})
}

// TestRouterHookCallsRouter: a hook may call the Router's methods, also
// while Run shuts down (the Release of the shutdown), without a deadlock.
func TestRouterHookCallsRouter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		var r *vrrp.Router
		var stats []error
		h := vrrp.HookFuncs{
			TakeFunc: func(vr vrrp.VRInfo) error {
				_, err := r.Stats(vr.Name)
				stats = append(stats, err)
				return r.SetPriority(vr.Name, 100)
			},
			ReleaseFunc: func(vr vrrp.VRInfo) error {
				_, err := r.Stats(vr.Name)
				stats = append(stats, err)
				if err := r.SetPriority(vr.Name, 100); !errors.Is(err, vrrp.ErrRouterStopped) {
					t.Errorf("SetPriority from the shutdown's Release = %v, want ErrRouterStopped", err)
				}
				return nil
			},
		}
		r = vrrp.NewRouter(vrrp.RouterConfig{Hook: h})
		if err := r.Add(vrrp.VirtualRouter{Name: "o", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(1, 255, rtIP4(1))}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if len(stats) != 2 || stats[0] != nil || stats[1] != nil {
			t.Errorf("Stats from the hooks: %v", stats)
		}
	})
}

// TestRouterRemoveWaitsForHostWork: Remove returns after the removed
// virtual router's Release (and RegistryHook.Removed) ran, however slow,
// so a caller may reuse its name and addresses at once (vrrpd's reload).
func TestRouterRemoveWaitsForHostWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		var mu sync.Mutex
		var calls []string
		g := &registry{vrs: map[string][]byte{}}
		g.ReleaseFunc = func(vr vrrp.VRInfo) error {
			time.Sleep(time.Second)
			mu.Lock()
			calls = append(calls, "release "+vr.Name)
			mu.Unlock()
			return nil
		}
		r := vrrp.NewRouter(vrrp.RouterConfig{Hook: g})
		if err := r.Add(vrrp.VirtualRouter{Name: "o", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(1, 255, rtIP4(1))}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(time.Second)
		if err := r.Remove("o"); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := fmt.Sprint(calls)
		mu.Unlock()
		g.mu.Lock()
		left := len(g.vrs)
		g.mu.Unlock()
		if got != "[release o]" || left != 0 {
			t.Errorf("when Remove returned: calls %s, %d in the registry; want [release o], 0", got, left)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// failingRelease is a hook whose first k Releases of each virtual router
// fail.
type failingRelease struct {
	failingTake
	releaseFails int
}

func (f *failingRelease) Release(vr vrrp.VRInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.releaseFails > 0 {
		f.releaseFails--
		f.rec("release-failed", vr)
		return errors.New("too many open files")
	}
	f.rec("release", vr)
	return nil
}

// TestRouterRetriesFailedRelease: a master that loses to a higher
// priority and fails to release its addresses retries the Release until
// it succeeds. The RawRouter lists the Release before the transition, and
// the host worker used to drop every retry on a transition, so a failed
// Release was never retried: the backup kept the virtual address.
func TestRouterRetriesFailedRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		h := &failingRelease{failingTake: failingTake{tries: map[string]int{}}, releaseFails: 2}
		r := vrrp.NewRouter(vrrp.RouterConfig{Hook: h})
		if err := r.Add(vrrp.VirtualRouter{Name: "o", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(1, 100, rtIP4(1))}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(5 * time.Second) // master alone
		synctest.Wait()

		peer := vrrp.NewRouter(vrrp.RouterConfig{})
		if err := peer.Add(vrrp.VirtualRouter{Name: "p", Conn: rtAttach(lan, "b", rtIP4(2)), Config: rtCfg4(1, 200, rtIP4(2))}); err != nil {
			t.Fatal(err)
		}
		pctx, pcancel := context.WithCancel(context.Background())
		pdone := make(chan error)
		go func() { pdone <- peer.Run(pctx) }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if s, _ := r.State("o"); s != vrrp.Backup {
			t.Fatalf("o is %v, want Backup", s)
		}
		h.mu.Lock()
		var rel []string
		for _, c := range h.calls {
			if strings.HasPrefix(c, "release") {
				rel = append(rel, strings.Fields(c)[0])
			}
		}
		h.mu.Unlock()
		if want := []string{"release-failed", "release-failed", "release"}; fmt.Sprint(rel) != fmt.Sprint(want) {
			t.Errorf("release calls %q, want %q", rel, want)
		}
		pcancel()
		<-pdone
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
