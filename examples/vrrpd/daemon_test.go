package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// fakeSys is a host on an in-memory LAN: transports are memnet
// endpoints, installed addresses and hook calls are recorded, interface
// state is set by the test.
type fakeSys struct {
	lan   *memnet.Network
	addr4 netip.Addr
	addr6 netip.Addr

	mu    sync.Mutex
	vips  map[string]bool // "iface prefix"
	calls []string        // "take VI_1", "release VI_1", "announce VI_1"
	links map[string]bool
	watch func(string, bool)
	opens int
	own   []netip.Addr // the host's own addresses
	// failTake and failRelease make the next that many Take (Release)
	// calls fail, as with the fd limit reached.
	failTake, failRelease int
	// garps are the garp_* schedules Take was given, in order.
	garps []garpSchedule
}

func newFakeSys(lan *memnet.Network, n int) *fakeSys {
	return &fakeSys{
		lan:   lan,
		addr4: netip.AddrFrom4([4]byte{10, 0, 0, byte(n)}),
		addr6: netip.MustParseAddr(fmt.Sprintf("fe80::%d", n)),
		vips:  map[string]bool{},
		links: map[string]bool{"eth0": true, "eth1": true},
	}
}

// RemoveStale refuses a non-owner VIP that is one of the host's own
// addresses (own), as linuxSystem does.
func (s *fakeSys) RemoveStale(in *Instance) error {
	if in.Priority == 255 {
		return nil
	}
	for _, p := range in.VIPs {
		if slices.Contains(s.own, p.Addr()) {
			return notOursError(in, p, errors.New("not an address vipaddr added"))
		}
	}
	return nil
}

func (s *fakeSys) Open(in *Instance) (transport.Conn, int, netip.Addr, error) {
	if in.Interface == "missing0" {
		return nil, 0, netip.Addr{}, errors.New(`interface "missing0": no such interface`)
	}
	ep, err := s.lan.Attach(memnet.EndpointConfig{Name: s.addr4.String(), Addrs: []netip.Addr{s.addr4, s.addr6}})
	if err != nil {
		return nil, 0, netip.Addr{}, err
	}
	s.mu.Lock()
	s.opens++
	s.mu.Unlock()
	if in.Family() == vrrp.IPv4 {
		return ep, 1, s.addr4, nil
	}
	return ep, 1, s.addr6, nil
}

func (s *fakeSys) record(what string, in *Instance, vr vrrp.VRInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, what+" "+vr.Name)
	for _, p := range in.VIPs {
		switch what {
		case "take":
			s.vips[in.Interface+" "+p.String()] = true
		case "release":
			delete(s.vips, in.Interface+" "+p.String())
		}
	}
}

func (s *fakeSys) Take(in *Instance, vr vrrp.VRInfo) error {
	if s.fail(&s.failTake, "take", vr) {
		return errors.New("netlink: too many open files")
	}
	s.record("take", in, vr)
	s.mu.Lock()
	s.garps = append(s.garps, in.GARP)
	s.mu.Unlock()
	return nil
}

func (s *fakeSys) Release(in *Instance, vr vrrp.VRInfo) error {
	if s.fail(&s.failRelease, "release", vr) {
		return errors.New("netlink: too many open files")
	}
	s.record("release", in, vr)
	return nil
}

// fail reports whether a call must fail (*n > 0), recording it.
func (s *fakeSys) fail(n *int, what string, vr vrrp.VRInfo) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *n <= 0 {
		return false
	}
	*n--
	s.calls = append(s.calls, what+"-failed "+vr.Name)
	return true
}

func (s *fakeSys) setFail(take, release int) {
	s.mu.Lock()
	s.failTake, s.failRelease = take, release
	s.mu.Unlock()
}

func (s *fakeSys) Announce(in *Instance, vr vrrp.VRInfo) error {
	s.record("announce", in, vr)
	return nil
}

func (s *fakeSys) LinkUp(name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.links[name], nil
}

func (s *fakeSys) WatchLinks(ctx context.Context, f func(string, bool)) error {
	s.mu.Lock()
	s.watch = f
	s.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (s *fakeSys) setLink(name string, up bool) {
	s.mu.Lock()
	s.links[name] = up
	f := s.watch
	s.mu.Unlock()
	f(name, up)
}

func (s *fakeSys) Close() error { return nil }

func (s *fakeSys) installed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.vips {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (s *fakeSys) callsOf(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if strings.HasSuffix(c, " "+name) {
			out = append(out, strings.TrimSuffix(c, " "+name))
		}
	}
	return out
}

// recorder records notify commands and answers check scripts.
type recorder struct {
	mu      sync.Mutex
	notes   []string
	failing atomic.Bool // check scripts fail while set
	delay   time.Duration
}

func (r *recorder) run(_ context.Context, cmd string, args []string) error {
	switch cmd {
	case "check":
		if r.failing.Load() {
			return errors.New("exit status 1")
		}
		return nil
	case "fail":
		return errors.New("exit status 1")
	}
	time.Sleep(r.delay) // a notify command that takes its time
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, cmd+" "+strings.Join(args, " "))
	return nil
}

func (r *recorder) notified() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notes)
}

// host is one daemon on the LAN.
type host struct {
	sys  *fakeSys
	rec  *recorder
	d    *daemon
	stop context.CancelFunc
	err  chan error
}

func startHost(t *testing.T, lan *memnet.Network, n int, cfg Config) *host {
	t.Helper()
	return startHostRec(t, lan, n, cfg, &recorder{})
}

func startHostRec(t *testing.T, lan *memnet.Network, n int, cfg Config, rec *recorder) *host {
	t.Helper()
	h := &host{sys: newFakeSys(lan, n), rec: rec, err: make(chan error, 1)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tWriter{t, n}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h.d = newDaemon(cfg, h.sys, log, nil, h.rec.run)
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.err <- h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.err
	})
	return h
}

type tWriter struct {
	t *testing.T
	n int
}

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Logf("h%d: %s", w.n, strings.TrimSpace(string(b)))
	return len(b), nil
}

func states(h *host) map[string]string {
	out := map[string]string{}
	for _, is := range h.d.status().Instances {
		out[is.Name] = is.State
	}
	return out
}

func inst(name string, vrid, prio uint8, vips ...string) Instance {
	in := Instance{Name: name, Interface: "eth0", VRID: vrid, Priority: prio, Version: 3,
		Interval: 100 * time.Millisecond, Notify: "notify"}
	for _, v := range vips {
		p, err := parseVIP(v)
		if err != nil {
			panic(err)
		}
		in.VIPs = append(in.VIPs, p)
	}
	return in
}

func cfgOf(ins ...Instance) Config {
	return Config{NotifyTimeout: time.Second, Instances: ins}
}

func TestDaemonElectionAndShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		a := startHost(t, lan, 1, cfgOf(inst("VI_1", 1, 200, "10.0.0.100/24", "10.0.0.101")))
		b := startHost(t, lan, 2, cfgOf(inst("VI_1", 1, 100, "10.0.0.100/24", "10.0.0.101")))
		time.Sleep(2 * time.Second)
		synctest.Wait()

		vips := []string{"eth0 10.0.0.100/24", "eth0 10.0.0.101/32"}
		if diff := cmp.Diff(vips, a.sys.installed()); diff != "" {
			t.Errorf("master's addresses (-want +got):\n%s", diff)
		}
		if got := b.sys.installed(); len(got) != 0 {
			t.Errorf("backup holds addresses %v", got)
		}
		if diff := cmp.Diff(map[string]string{"VI_1": "MASTER"}, states(a)); diff != "" {
			t.Errorf("a (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"VI_1": "BACKUP"}, states(b)); diff != "" {
			t.Errorf("b (-want +got):\n%s", diff)
		}

		// SIGTERM path: cancel a's context.
		a.stop()
		if err := <-a.err; err != nil {
			t.Fatalf("Run: %v", err)
		}
		a.err <- nil // for Cleanup
		if got := a.sys.installed(); len(got) != 0 {
			t.Errorf("stopped daemon still holds %v", got)
		}
		want := []string{"notify INSTANCE VI_1 BACKUP 200", "notify INSTANCE VI_1 MASTER 200", "notify INSTANCE VI_1 STOP 200"}
		if diff := cmp.Diff(want, a.rec.notified()); diff != "" {
			t.Errorf("a's notify commands (-want +got):\n%s", diff)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if diff := cmp.Diff(vips, b.sys.installed()); diff != "" {
			t.Errorf("new master's addresses (-want +got):\n%s", diff)
		}
		want = []string{"notify INSTANCE VI_1 BACKUP 100", "notify INSTANCE VI_1 MASTER 100"}
		if diff := cmp.Diff(want, b.rec.notified()); diff != "" {
			t.Errorf("b's notify commands (-want +got):\n%s", diff)
		}
		st := b.d.status()
		if st.Instances[0].Stats.MasterTransitions != 1 || st.Instances[0].Master != "10.0.0.2" {
			t.Errorf("b status: %+v", st.Instances[0])
		}
	})
}

func TestDaemonReloadTouchesOnlyChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		one := inst("VI_1", 1, 150, "10.0.0.100")
		two := inst("VI_2", 2, 150, "10.0.0.200")
		three := inst("VI_3", 3, 150, "10.0.0.250")
		h := startHost(t, lan, 1, cfgOf(one, two, three))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff(map[string]string{"VI_1": "MASTER", "VI_2": "MASTER", "VI_3": "MASTER"}, states(h)); diff != "" {
			t.Fatalf("before reload (-want +got):\n%s", diff)
		}
		calls1, notes := h.sys.callsOf("VI_1"), h.rec.notified()

		// VI_2 changes its addresses (remove + add), VI_3 only its
		// priority (in place), VI_4 is new, VI_1 is unchanged.
		two.VIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.201/32")}
		three.Priority = 120
		four := inst("VI_4", 4, 150, "10.0.0.44")
		if err := h.d.Reload(cfgOf(one, two, three, four)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()

		if diff := cmp.Diff(calls1, h.sys.callsOf("VI_1")); diff != "" {
			t.Errorf("unchanged VI_1 was touched (-want +got):\n%s", diff)
		}
		newNotes := slices.Clone(h.rec.notified()[len(notes):])
		want := []string{
			"notify INSTANCE VI_2 STOP 150",
			"notify INSTANCE VI_2 BACKUP 150",
			"notify INSTANCE VI_4 BACKUP 150",
			"notify INSTANCE VI_2 MASTER 150",
			"notify INSTANCE VI_4 MASTER 150",
		}
		if diff := cmp.Diff(want, newNotes, cmpSorted); diff != "" {
			t.Errorf("notify after reload (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"take", "announce"}, h.sys.callsOf("VI_3")); diff != "" {
			t.Errorf("VI_3 (priority change only) was restarted (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"take", "announce", "release", "take", "announce"}, h.sys.callsOf("VI_2")); diff != "" {
			t.Errorf("VI_2 calls (-want +got):\n%s", diff)
		}
		want = []string{"eth0 10.0.0.100/32", "eth0 10.0.0.201/32", "eth0 10.0.0.250/32", "eth0 10.0.0.44/32"}
		if diff := cmp.Diff(want, h.sys.installed()); diff != "" {
			t.Errorf("addresses (-want +got):\n%s", diff)
		}
		for _, is := range h.d.status().Instances {
			if is.Name == "VI_3" && (is.Priority != 120 || is.Stats.MasterTransitions != 1) {
				t.Errorf("VI_3 after a priority change: priority %d, %d master transitions; want 120, 1", is.Priority, is.Stats.MasterTransitions)
			}
		}

		// Removing an instance releases it; the transports were shared.
		if err := h.d.Reload(cfgOf(one, three)); err != nil {
			t.Fatal(err)
		}
		want = []string{"eth0 10.0.0.100/32", "eth0 10.0.0.250/32"}
		if diff := cmp.Diff(want, h.sys.installed()); diff != "" {
			t.Errorf("addresses after removal (-want +got):\n%s", diff)
		}
		if h.sys.opens != 1 {
			t.Errorf("opened %d transports for instances on one interface and family; want 1 shared", h.sys.opens)
		}
	})
}

var cmpSorted = cmp.Transformer("sort", func(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
})

func TestDaemonTrackScript(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		ca := cfgOf(inst("VI_1", 1, 100, "10.0.0.100"))
		ca.Instances[0].TrackScripts = []string{"chk"}
		ca.Scripts = []Script{{Name: "chk", Command: "check", Interval: time.Second, Timeout: time.Second, Weight: -30, Rise: 2, Fall: 2}}
		a := startHost(t, lan, 1, ca)
		b := startHost(t, lan, 2, cfgOf(inst("VI_1", 1, 90, "10.0.0.100")))
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if states(a)["VI_1"] != "MASTER" || states(b)["VI_1"] != "BACKUP" {
			t.Fatalf("before the check fails: a %v, b %v", states(a), states(b))
		}
		a.rec.failing.Store(true)
		time.Sleep(1500 * time.Millisecond) // one failure: fall is 2
		synctest.Wait()
		if got := a.d.status().Instances[0].Priority; got != 100 {
			t.Errorf("priority after one failure (fall 2) = %d; want 100", got)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := a.d.status().Instances[0].Priority; got != 70 {
			t.Errorf("priority with the check failing = %d; want 70", got)
		}
		if states(a)["VI_1"] != "BACKUP" || states(b)["VI_1"] != "MASTER" {
			t.Errorf("after the check failed: a %v, b %v; want b to preempt", states(a), states(b))
		}
		a.rec.failing.Store(false)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if states(a)["VI_1"] != "MASTER" || a.d.status().Instances[0].Priority != 100 {
			t.Errorf("after recovery: a %v prio %d", states(a), a.d.status().Instances[0].Priority)
		}
	})
}

func TestDaemonTrackInterfaceFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		ca := cfgOf(inst("VI_1", 1, 200, "10.0.0.100"))
		ca.Instances[0].TrackInterfaces = []TrackInterface{{Name: "eth1", Weight: 0}}
		a := startHost(t, lan, 1, ca)
		b := startHost(t, lan, 2, cfgOf(inst("VI_1", 1, 100, "10.0.0.100")))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if states(a)["VI_1"] != "MASTER" {
			t.Fatalf("a: %v", states(a))
		}
		a.sys.setLink("eth1", false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if states(a)["VI_1"] != "FAULT" || states(b)["VI_1"] != "MASTER" {
			t.Errorf("tracked interface down: a %v, b %v", states(a), states(b))
		}
		if got := a.sys.installed(); len(got) != 0 {
			t.Errorf("faulted router holds %v", got)
		}
		if n := a.rec.notified(); n[len(n)-1] != "notify INSTANCE VI_1 FAULT 200" {
			t.Errorf("last notify %q; want FAULT", n[len(n)-1])
		}
		a.sys.setLink("eth1", true)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if states(a)["VI_1"] != "MASTER" || states(b)["VI_1"] != "BACKUP" {
			t.Errorf("tracked interface up again: a %v, b %v", states(a), states(b))
		}

		// The instance's own interface going down is the Router's Fault.
		a.sys.setLink("eth0", false)
		synctest.Wait()
		if states(a)["VI_1"] != "FAULT" {
			t.Errorf("own interface down: a %v", states(a))
		}
	})
}

func TestDaemonSyncGroupNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		c := cfgOf(inst("VI_1", 1, 150, "10.0.0.100"), inst("VI_6", 1, 150, "fe80::100"))
		c.Instances[0].SyncGroup, c.Instances[1].SyncGroup = "G", "G"
		c.Groups = []Group{{Name: "G", Members: []string{"VI_1", "VI_6"}, Notify: "gnotify"}}
		h := startHost(t, lan, 1, c)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		var got []string
		for _, n := range h.rec.notified() {
			if strings.HasPrefix(n, "gnotify") {
				got = append(got, n)
			}
		}
		want := []string{"gnotify GROUP G BACKUP 0", "gnotify GROUP G MASTER 0"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("group notify (-want +got):\n%s", diff)
		}
	})
}

func TestDaemonStartError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		bad := inst("VI_2", 2, 100, "10.0.0.2")
		bad.Interface = "missing0"
		sys := newFakeSys(lan, 1)
		d := newDaemon(cfgOf(inst("VI_1", 1, 100, "10.0.0.1"), bad), sys, slog.New(slog.DiscardHandler), nil, (&recorder{}).run)
		err := d.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), `instance "VI_2": interface "missing0": no such interface`) {
			t.Errorf("Run = %v; want the missing interface named", err)
		}
	})
}

// groupNotes returns the group notify commands h ran.
func groupNotes(h *host) []string {
	var out []string
	for _, n := range h.rec.notified() {
		if strings.HasPrefix(n, "gnotify") {
			out = append(out, n)
		}
	}
	return out
}

// A track script of weight 0 failing puts its instance in FAULT (not
// STOP), and its sync group follows it out of Master, into FAULT as in
// keepalived: the peer takes over the whole group, and nothing flaps
// while the fault lasts (a member left in Backup would preempt the
// peer's lower-priority member, and the peer's group would drag the
// faulted instance's peer along). When the script recovers, the group
// comes back.
func TestDaemonSyncGroupTrackingFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		group := func(prio uint8, track bool) Config {
			c := cfgOf(inst("VI_1", 1, prio, "10.0.0.100"), inst("VI_2", 2, prio, "10.0.0.200"))
			c.Instances[0].SyncGroup, c.Instances[1].SyncGroup = "G", "G"
			c.Groups = []Group{{Name: "G", Members: []string{"VI_1", "VI_2"}, Notify: "gnotify"}}
			if track {
				c.Instances[0].TrackScripts = []string{"chk"}
				c.Scripts = []Script{{Name: "chk", Command: "check", Interval: time.Second, Timeout: time.Second, Weight: 0, Rise: 1, Fall: 1}}
			}
			return c
		}
		a := startHost(t, lan, 1, group(150, true))
		b := startHost(t, lan, 2, group(100, false))
		time.Sleep(3 * time.Second)
		synctest.Wait()
		both := func(s string) map[string]string { return map[string]string{"VI_1": s, "VI_2": s} }
		if diff := cmp.Diff(both("MASTER"), states(a)); diff != "" {
			t.Fatalf("a before the fault (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(both("BACKUP"), states(b)); diff != "" {
			t.Fatalf("b before the fault (-want +got):\n%s", diff)
		}
		aNotes, aGroup := len(a.rec.notified()), len(groupNotes(a))

		a.rec.failing.Store(true)
		time.Sleep(2 * time.Second) // the next check fails
		synctest.Wait()
		// Well past Master_Down_Interval several times over: a flapping
		// group would show here.
		for range 10 {
			time.Sleep(time.Second)
			synctest.Wait()
			if diff := cmp.Diff(both("FAULT"), states(a)); diff != "" {
				t.Errorf("a during the fault (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(both("MASTER"), states(b)); diff != "" {
				t.Errorf("b during a's fault (-want +got):\n%s", diff)
			}
		}
		for _, is := range b.d.status().Instances {
			if is.Stats.MasterTransitions != 1 {
				t.Errorf("b's %s: %d master transitions; want 1 (no flapping)", is.Name, is.Stats.MasterTransitions)
			}
		}
		if got := a.sys.installed(); len(got) != 0 {
			t.Errorf("a holds %v with its group faulted", got)
		}
		notes := a.rec.notified()[aNotes:]
		if !slices.Contains(notes, "notify INSTANCE VI_1 FAULT 150") || slices.ContainsFunc(notes, func(s string) bool { return strings.Contains(s, "STOP") }) {
			t.Errorf("a's notify commands during the fault: %q; want VI_1 FAULT, no STOP", notes)
		}
		if g := groupNotes(a)[aGroup:]; len(g) == 0 || g[0] != "gnotify GROUP G FAULT 0" {
			t.Errorf("a's group notify during the fault: %q; want GROUP G FAULT", g)
		}
		for _, is := range a.d.status().Instances {
			// VI_1's own check failed; VI_2 is held by its group.
			if want := is.Name == "VI_1"; is.State != "FAULT" || is.TrackFault != want {
				t.Errorf("a's status for %s: state %q track_fault %v; want FAULT, %v", is.Name, is.State, is.TrackFault, want)
			}
		}
		aGroup = len(groupNotes(a))

		a.rec.failing.Store(false)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff(both("MASTER"), states(a)); diff != "" {
			t.Errorf("a after recovery (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(both("BACKUP"), states(b)); diff != "" {
			t.Errorf("b after a's recovery (-want +got):\n%s", diff)
		}
		if g := groupNotes(a)[aGroup:]; len(g) == 0 || g[len(g)-1] != "gnotify GROUP G MASTER 0" {
			t.Errorf("a's group notify after recovery: %q; want it to end with GROUP G MASTER", g)
		}
	})
}

// 300 instances in one sync group change state together, with notify
// commands slower than the transitions: every transition of every
// instance is notified, in order per instance, and the Router loses no
// event.
func TestDaemonManyInstancesNotifyAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		var c Config
		var names []string
		for i := range 300 {
			vrid := uint8(i%150 + 1)
			vip := fmt.Sprintf("10.0.%d.%d", i/150+1, vrid)
			if i >= 150 {
				vip = fmt.Sprintf("fd00::%d", vrid)
			}
			in := inst(fmt.Sprintf("VI_%d", i), vrid, 150, vip)
			in.SyncGroup = "G"
			c.Instances = append(c.Instances, in)
			names = append(names, in.Name)
		}
		c.NotifyTimeout = time.Second
		c.Groups = []Group{{Name: "G", Members: names, Notify: "gnotify"}}
		h := startHostRec(t, lan, 1, c, &recorder{delay: 10 * time.Millisecond})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		for name, s := range states(h) {
			if s != "MASTER" {
				t.Fatalf("%s: %s; want every member MASTER", name, s)
			}
		}
		h.stop()
		if err := <-h.err; err != nil {
			t.Fatal(err)
		}
		h.err <- nil // for Cleanup

		per := map[string][]string{}
		var group []string
		for _, n := range h.rec.notified() {
			f := strings.Fields(n)
			if f[1] == "GROUP" {
				group = append(group, f[3])
				continue
			}
			per[f[2]] = append(per[f[2]], f[3])
		}
		for _, name := range names {
			if diff := cmp.Diff([]string{"BACKUP", "MASTER", "STOP"}, per[name]); diff != "" {
				t.Errorf("%s notify (-want +got):\n%s", name, diff)
				break
			}
		}
		if diff := cmp.Diff([]string{"BACKUP", "MASTER", "STOP"}, group); diff != "" {
			t.Errorf("group notify (-want +got):\n%s", diff)
		}
		if n := h.d.router.RouterStats().EventsDropped; n != 0 {
			t.Errorf("the Router dropped %d events", n)
		}
	})
}

// prioLog records the daemon's "priority changed by tracking" lines.
type prioLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *prioLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *prioLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *prioLog) WithGroup(string) slog.Handler            { return l }
func (l *prioLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "priority changed by tracking" {
		return nil
	}
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}

func (l *prioLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// A SIGHUP that changes one [[script]] leaves the status of the others
// alone, and the changed one keeps its status until its first new result:
// no instance sees its priority change back and forth (which could hand
// the master role to a peer for nothing).
func TestDaemonReloadKeepsScriptStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		up := Script{Name: "up", Command: "check", Interval: time.Second, Timeout: time.Second, Weight: 55, Rise: 1, Fall: 1}
		down := Script{Name: "down", Command: "fail", Interval: time.Second, Timeout: time.Second, Weight: -30, Rise: 1, Fall: 1}
		one, two := inst("VI_1", 1, 100, "10.0.0.100"), inst("VI_2", 2, 100, "10.0.0.200")
		one.TrackScripts, two.TrackScripts = []string{"up"}, []string{"down"}
		cfg := cfgOf(one, two)
		cfg.Scripts = []Script{up, down}

		pl := &prioLog{}
		rec := &recorder{}
		d := newDaemon(cfg, newFakeSys(lan, 1), slog.New(pl), nil, rec.run)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		defer func() { cancel(); <-done }()
		// A peer at 120: VI_1 at 155 is master only while "up" counts.
		startHost(t, lan, 2, cfgOf(inst("VI_1", 1, 120, "10.0.0.100")))
		time.Sleep(3 * time.Second)
		synctest.Wait()
		prio := func() map[string]uint8 {
			m := map[string]uint8{}
			for _, is := range d.status().Instances {
				m[is.Name] = is.Priority
			}
			return m
		}
		if diff := cmp.Diff(map[string]uint8{"VI_1": 155, "VI_2": 70}, prio()); diff != "" {
			t.Fatalf("priorities before the reload (-want +got):\n%s", diff)
		}
		before := len(pl.get())

		// "down" changes (its interval), a new unused script appears;
		// "up" is the same.
		down2 := down
		down2.Interval = 2 * time.Second
		cfg2 := cfgOf(one, two)
		cfg2.Scripts = []Script{up, down2, {Name: "extra", Command: "check", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}}
		if err := d.Reload(cfg2); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]uint8{"VI_1": 155, "VI_2": 70}, prio()); diff != "" {
			t.Errorf("priorities just after the reload (-want +got):\n%s", diff)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff(map[string]uint8{"VI_1": 155, "VI_2": 70}, prio()); diff != "" {
			t.Errorf("priorities after the reload (-want +got):\n%s", diff)
		}
		if got := pl.get()[before:]; len(got) != 0 {
			t.Errorf("priority changes caused by a reload that changed no result: %q", got)
		}
		for _, is := range d.status().Instances {
			if is.State != "MASTER" || is.Stats.MasterTransitions != 1 {
				t.Errorf("%s: %s after %d master transitions; want MASTER after 1", is.Name, is.State, is.Stats.MasterTransitions)
			}
		}

		// A changed script whose first new result differs changes the
		// priority once, directly.
		before = len(pl.get())
		down3 := down2
		down3.Command = "check"
		cfg3 := cfgOf(one, two)
		cfg3.Scripts = []Script{up, down3}
		if err := d.Reload(cfg3); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		want := []string{"priority changed by tracking vr=VI_2 from=70 to=100"}
		if diff := cmp.Diff(want, pl.get()[before:]); diff != "" {
			t.Errorf("after the script's result changed (-want +got):\n%s", diff)
		}
	})
}

// An instance whose tracking says Fault when the daemon starts starts in
// FAULT (the Router starts it there): no BACKUP or MASTER first.
func TestDaemonStartsInTrackingFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		c := cfgOf(inst("VI_1", 1, 200, "10.0.0.100"))
		c.Instances[0].TrackInterfaces = []TrackInterface{{Name: "eth9", Weight: 0}} // missing: down
		h := startHost(t, lan, 1, c)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff(map[string]string{"VI_1": "FAULT"}, states(h)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"notify INSTANCE VI_1 FAULT 200"}, h.rec.notified()); diff != "" {
			t.Errorf("notify (-want +got):\n%s", diff)
		}
		if got := h.sys.installed(); len(got) != 0 {
			t.Errorf("holds %v", got)
		}
	})
}
