package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// linkLAN is a fake of issue 12's lab, in memory: two hosts (1 and 2)
// joined by any number of links l1, l2, ... (interface index k+1 for
// l<k>, addresses 10.<k/256>.<k%256>.<host>). Each host serves the
// multicast instances of every link on a shared transport (multiSystem,
// as linuxSystem does with raw.ListenMulti) and a unicast instance on a
// transport of its own. A packet a host writes on link k reaches the
// other host's transports that joined link k (multicast), or the one of
// link k holding the destination address (unicast).
type linkLAN struct {
	mu    sync.Mutex
	conns [3][]*linkConn // by host
}

// linkConn is a host's transport on the linkLAN.
type linkConn struct {
	lan     *linkLAN
	host    int
	unicast bool
	q       chan linkPkt
	done    chan struct{}
	once    sync.Once
	// Guarded by lan.mu: the link indexes joined (multicast) or the one
	// link (unicast).
	links map[int]bool
	drops int
}

type linkPkt struct {
	b []byte
	m transport.Meta
}

var groupV4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})

// linkAddr is host's address on link k.
func linkAddr(k, host int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(k >> 8), byte(k), byte(host)})
}

// linkOf returns the k of interface "l<k>".
func linkOf(ifname string) (int, error) {
	k, err := strconv.Atoi(strings.TrimPrefix(ifname, "l"))
	if err != nil || !strings.HasPrefix(ifname, "l") || k < 1 || k > 65534 {
		return 0, fmt.Errorf("interface %q: no such interface", ifname)
	}
	return k, nil
}

func (l *linkLAN) open(host int, unicast bool) *linkConn {
	c := &linkConn{lan: l, host: host, unicast: unicast, q: make(chan linkPkt, 1<<14),
		done: make(chan struct{}), links: map[int]bool{}}
	l.mu.Lock()
	l.conns[host] = append(l.conns[host], c)
	l.mu.Unlock()
	return c
}

func (c *linkConn) ReadFrom(b []byte) (int, transport.Meta, error) {
	select {
	case p := <-c.q:
		return copy(b, p.b), p.m, nil
	case <-c.done:
		return 0, transport.Meta{}, transport.Closed(errors.New("linkConn closed"))
	}
}

func (c *linkConn) WriteTo(b []byte, m transport.Meta) error {
	l := c.lan
	l.mu.Lock()
	defer l.mu.Unlock()
	k := m.IfIndex - 1
	if m.IfIndex == 0 {
		for i := range c.links {
			k = i // a unicast transport's only link
		}
	}
	if !c.links[k] {
		return fmt.Errorf("link %d: not joined", k)
	}
	dst := m.Dst
	if !dst.IsValid() {
		dst = groupV4
	}
	other := 3 - c.host
	for _, r := range l.conns[other] {
		if !r.links[k] || r.unicast != !dst.IsMulticast() || r.unicast && dst != linkAddr(k, other) {
			continue
		}
		p := linkPkt{b: slices.Clone(b), m: transport.Meta{Src: linkAddr(k, c.host), Dst: dst, TTL: 255, IfIndex: k + 1}}
		select {
		case r.q <- p:
		default:
			r.drops++
		}
	}
	return nil
}

func (c *linkConn) Close() error {
	c.once.Do(func() {
		c.lan.mu.Lock()
		c.lan.conns[c.host] = slices.DeleteFunc(c.lan.conns[c.host], func(o *linkConn) bool { return o == c })
		c.lan.mu.Unlock()
		close(c.done)
	})
	return nil
}

// linkSys is one host of a linkLAN: a system and a multiSystem that
// records every host action by instance and every group join and leave
// by interface.
type linkSys struct {
	lan  *linkLAN
	host int

	mu      sync.Mutex
	actions map[string][]string // by instance: "take", "release", "announce"
	joins   map[string][]string // by interface: "open", "join", "leave"
}

func newLinkSys(lan *linkLAN, host int) *linkSys {
	return &linkSys{lan: lan, host: host, actions: map[string][]string{}, joins: map[string][]string{}}
}

func (s *linkSys) note(m map[string][]string, key, what string) {
	s.mu.Lock()
	m[key] = append(m[key], what)
	s.mu.Unlock()
}

func (s *linkSys) RemoveStale(*Instance) error { return nil }

func (s *linkSys) Open(in *Instance) (transport.Conn, int, netip.Addr, error) {
	k, err := linkOf(in.Interface)
	if err != nil {
		return nil, 0, netip.Addr{}, err
	}
	c := s.lan.open(s.host, len(in.Peers) > 0)
	s.lan.mu.Lock()
	c.links[k] = true
	s.lan.mu.Unlock()
	s.note(s.joins, in.Interface, "open")
	return c, k + 1, linkAddr(k, s.host), nil
}

func (s *linkSys) OpenMulti(fam vrrp.Family, in *Instance) (transport.Conn, error) {
	if _, err := linkOf(in.Interface); err != nil {
		return nil, err
	}
	return s.lan.open(s.host, false), nil
}

func (s *linkSys) JoinMulti(c transport.Conn, joined int, in *Instance) (int, netip.Addr, error) {
	k, err := linkOf(in.Interface)
	if err != nil {
		return 0, netip.Addr{}, err
	}
	s.lan.mu.Lock()
	c.(*linkConn).links[k] = true
	s.lan.mu.Unlock()
	s.note(s.joins, in.Interface, "join")
	return k + 1, linkAddr(k, s.host), nil
}

func (s *linkSys) LeaveMulti(c transport.Conn, in *Instance) error {
	k, err := linkOf(in.Interface)
	if err != nil {
		return err
	}
	s.lan.mu.Lock()
	delete(c.(*linkConn).links, k)
	s.lan.mu.Unlock()
	s.note(s.joins, in.Interface, "leave")
	return nil
}

func (s *linkSys) Take(in *Instance, vr vrrp.VRInfo) error {
	s.note(s.actions, vr.Name, "take")
	return nil
}

func (s *linkSys) Release(in *Instance, vr vrrp.VRInfo) error {
	s.note(s.actions, vr.Name, "release")
	return nil
}

func (s *linkSys) Announce(in *Instance, vr vrrp.VRInfo) error {
	s.note(s.actions, vr.Name, "announce")
	return nil
}

func (s *linkSys) LinkUp(name string) (bool, error) {
	_, err := linkOf(name)
	return err == nil, nil
}

func (s *linkSys) WatchLinks(ctx context.Context, f func(string, bool)) error {
	<-ctx.Done()
	return nil
}

func (s *linkSys) Close() error { return nil }

var _ multiSystem = (*linkSys)(nil)

// linkInst is the instance of host on link k: VRID 1, VRRPv3, 1 s, VIP
// 10.<k/256>.<k%256>.100, priority 150 on host 1 and 100 on host 2 (issue
// 12's lab). Every 50th link is unicast (each host the other's peer).
func linkInst(k, host int) Instance {
	in := Instance{
		Name: fmt.Sprintf("VI_%d", k), Interface: fmt.Sprintf("l%d", k), VRID: 1, Version: 3,
		Priority: 150, Interval: time.Second, Notify: "notify", Accept: true,
		VIPs: []netip.Prefix{netip.PrefixFrom(linkAddr(k, 100), 32)},
	}
	if host == 2 {
		in.Priority = 100
	}
	if k%50 == 0 {
		in.Peers = []netip.Addr{linkAddr(k, 3-host)}
	}
	return in
}

// linkHost is a daemon on a linkLAN.
type linkHost struct {
	sys *linkSys
	rec *recorder
	d   *daemon
	cfg Config
}

func startLinkHost(t testing.TB, lan *linkLAN, host int, cfg Config) *linkHost {
	t.Helper()
	h := &linkHost{sys: newLinkSys(lan, host), rec: &recorder{}, cfg: cfg}
	h.d = newDaemon(cfg, h.sys, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, h.rec.run)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("host %d: Run: %v", host, err)
		}
	})
	return h
}

func (h *linkHost) reload(t testing.TB, cfg Config) {
	t.Helper()
	if err := h.d.Reload(cfg); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	h.cfg = cfg
}

// linkSnap is what a host shows of each instance: the record of the
// running instance (a Remove / Add replaces it), its state and counters,
// its host actions, notify commands and group joins.
type linkSnap map[string]linkSeen

type linkSeen struct {
	v        *vrInst
	state    string
	prio     uint8
	masters  uint64
	actions  int
	notifies int
	joins    int
}

func (h *linkHost) snap() linkSnap {
	s := linkSnap{}
	notes := map[string]int{}
	for _, n := range h.rec.notified() {
		if f := strings.Fields(n); len(f) > 2 {
			notes[f[2]]++
		}
	}
	st := h.d.status()
	h.d.mu.Lock()
	h.sys.mu.Lock()
	for _, is := range st.Instances {
		s[is.Name] = linkSeen{
			v: h.d.vrs[is.Name], state: is.State, prio: is.Priority, masters: is.Stats.MasterTransitions,
			actions: len(h.sys.actions[is.Name]), notifies: notes[is.Name], joins: len(h.sys.joins[is.Interface]),
		}
	}
	h.sys.mu.Unlock()
	h.d.mu.Unlock()
	return s
}

// untouched reports the instances of before, except those in moved, that
// are not as they were in after.
func untouched(t testing.TB, who string, before, after linkSnap, moved map[string]bool) {
	t.Helper()
	bad := 0
	for name, b := range before {
		if moved[name] {
			continue
		}
		a, ok := after[name]
		if !ok || a != b {
			bad++
			if bad <= 5 {
				t.Errorf("%s: %s moved: before %+v, after %+v", who, name, b, a)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d instances moved in all", who, bad)
	}
}

func linkCfg(host int, ks ...[2]int) Config {
	c := Config{NotifyTimeout: time.Second, ProbeInterval: 0}
	for _, r := range ks {
		for k := r[0]; k <= r[1]; k++ {
			c.Instances = append(c.Instances, linkInst(k, host))
		}
	}
	return c
}

func cloneCfg(c Config) Config {
	c.Instances = slices.Clone(c.Instances)
	return c
}

// settle lets the protocol run for d of the bubble's time.
func settle(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

var reloadScale = flag.Bool("reload.scale", false, "TestReloadAtScale with issue 12's sizes: 4,094 links, 1,000 added and removed")

// Issue 12: "A SIGHUP that changes one instance out of 4,094 moves
// nothing else; adding or removing 1,000 instances by SIGHUP moves no
// other instance." Two daemons on n links (one instance each, a master
// and a backup; some unicast), then reloads of the master's side: one
// instance's priority, another's unicast peers (both in place: that
// instance does not move either), a third's VIPs (that one restarts,
// and its link's backup takes over meanwhile), m instances added on new
// links, m removed. After each, every other instance on both sides is
// as it was: the same running record (no Remove / Add), state, priority,
// master transitions, host actions (take, release, announce: VIPs,
// gratuitous ARP), notify commands and group joins. Sized for go test;
// -reload.scale runs issue 12's sizes.
func TestReloadAtScale(t *testing.T) {
	n, m := 300, 100
	if *reloadScale {
		n, m = 4094, 1000
	}
	synctest.Test(t, func(t *testing.T) {
		lan := &linkLAN{}
		a := startLinkHost(t, lan, 1, linkCfg(1, [2]int{1, n}))
		b := startLinkHost(t, lan, 2, linkCfg(2, [2]int{1, n}))
		settle(6 * time.Second)
		for host, h := range map[string]*linkHost{"master": a, "backup": b} {
			want := map[bool]string{true: "MASTER", false: "BACKUP"}[host == "master"]
			for name, s := range h.snap() {
				if s.state != want {
					t.Fatalf("%s: %s %s before the reloads; want %s", host, name, s.state, want)
				}
			}
		}
		// movedA and movedB are the instances of the master's and the
		// backup's side that may move.
		step := func(what string, cfg Config, movedA, movedB map[string]bool, check func(before, after linkSnap)) {
			t.Helper()
			ba, bb := a.snap(), b.snap()
			a.reload(t, cfg)
			settle(6 * time.Second)
			aa, ab := a.snap(), b.snap()
			untouched(t, what+", master", ba, aa, movedA)
			untouched(t, what+", backup", bb, ab, movedB)
			if check != nil {
				check(ba, aa)
			}
		}

		// One instance's priority, in place: it does not move either.
		c := cloneCfg(a.cfg)
		c.Instances[6].Priority = 140
		step("priority of VI_7", c, map[string]bool{"VI_7": true}, nil, func(before, after linkSnap) {
			want := before["VI_7"]
			want.prio = 140
			if got := after["VI_7"]; got != want {
				t.Errorf("VI_7 after a change of its priority: %+v; want %+v", got, want)
			}
		})

		// One instance's unicast peers, in place (SetPeers).
		c = cloneCfg(a.cfg)
		c.Instances[49].Peers = append(slices.Clone(c.Instances[49].Peers), linkAddr(50, 9))
		step("peers of VI_50", c, nil, nil, nil)
		if ps, err := a.d.router.Peers("VI_50"); err != nil || len(ps) != 2 {
			t.Errorf("VI_50's peers after the reload: %v, %v; want 2", ps, err)
		}

		// One instance's VIPs: it restarts (Remove, Add), the rest not.
		c = cloneCfg(a.cfg)
		c.Instances[9].VIPs = append(slices.Clone(c.Instances[9].VIPs), netip.MustParsePrefix("10.0.10.101/32"))
		vi10 := map[string]bool{"VI_10": true} // its link's backup takes over meanwhile
		step("VIPs of VI_10", c, vi10, vi10, func(before, after linkSnap) {
			if before["VI_10"].v == after["VI_10"].v || after["VI_10"].state != "MASTER" {
				t.Errorf("VI_10 after a change of its VIPs: restarted %v, %s; want restarted, MASTER",
					before["VI_10"].v != after["VI_10"].v, after["VI_10"].state)
			}
		})

		// m instances added on new links (no peer there: they become
		// master), then m of the first removed.
		c = cloneCfg(a.cfg)
		added := map[string]bool{}
		for k := n + 1; k <= n+m; k++ {
			c.Instances = append(c.Instances, linkInst(k, 1))
			added[fmt.Sprintf("VI_%d", k)] = true
		}
		step(fmt.Sprintf("%d added", m), c, added, nil, func(_, after linkSnap) {
			for name := range added {
				if after[name].state != "MASTER" {
					t.Errorf("added %s: %s; want MASTER", name, after[name].state)
					break
				}
			}
		})
		c = cloneCfg(a.cfg)
		removed := map[string]bool{}
		for _, in := range c.Instances[n-m : n] {
			removed[in.Name] = true
		}
		c.Instances = slices.Delete(c.Instances, n-m, n)
		step(fmt.Sprintf("%d removed", m), c, removed, removed, func(_, after linkSnap) {
			for name := range removed {
				if _, ok := after[name]; ok {
					t.Errorf("removed %s still runs", name)
					break
				}
			}
			if len(after) != n {
				t.Errorf("%d instances after the removal; want %d", len(after), n)
			}
		})
	})
}

// linkTOML is the configuration file of host 1 on links from..to (as
// linkInst), with priority prio7 for VI_7.
func linkTOML(from, to, prio7 int) string {
	var b strings.Builder
	b.WriteString("notify_timeout = \"1s\"\nprobe_interval = \"off\"\n")
	for k := from; k <= to; k++ {
		in := linkInst(k, 1)
		prio := int(in.Priority)
		if k == 7 {
			prio = prio7
		}
		fmt.Fprintf(&b, "\n[[instance]]\nname = %q\ninterface = %q\nvrid = 1\npriority = %d\ninterval = \"1s\"\naccept = true\nnotify = \"notify\"\nvips = [%q]\n",
			in.Name, in.Interface, prio, in.VIPs[0].String())
		if len(in.Peers) > 0 {
			fmt.Fprintf(&b, "peers = [%q]\n", in.Peers[0].String())
		}
	}
	return b.String()
}

// waitMasters waits, in real time, until h runs n instances, all MASTER.
func waitMasters(b *testing.B, h *linkHost, n int) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, masters := h.d.status(), 0
		for _, is := range st.Instances {
			if is.State == "MASTER" {
				masters++
			}
		}
		if len(st.Instances) == n && masters == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d instances, %d MASTER after 60 s; want %d MASTER", len(st.Instances), masters, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkReload is issue 12's SIGHUP at scale, in process and in real
// time: one daemon (host 1 of a linkLAN, alone: every instance master)
// with n instances, n = 4,094 by default (-reload.n); one op is what a
// SIGHUP does, reading the file (loadFile) and applying it (Reload):
// "one-changed" changes one instance's priority, "add-1000" adds 1,000
// instances on new links, "remove-1000" removes 1,000 masters. The way
// back (and, for remove, the wait until the re-added instances are
// master again) is not timed. "parse" is loadFile of the n-instance file
// alone. Run with -benchtime 5x: an op takes a fraction of a second.
// parse-ns/op and apply-ns/op split an op into loadFile and Reload;
// cpu-ns/op is the process's CPU time in it (all goroutines), less moved
// by the load of other processes than the wall clock.
func BenchmarkReload(b *testing.B) {
	n, m := *reloadN, 1000
	write := func(b *testing.B, name, text string) string {
		p := b.TempDir() + "/" + name
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
		return p
	}
	load := func(b *testing.B, p string) Config {
		c, err := loadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	b.Run("parse", func(b *testing.B) {
		p := write(b, "n.toml", linkTOML(1, n, 150))
		for b.Loop() {
			load(b, p)
		}
	})
	// start: the daemon's start-up with the n instances, up to the last
	// one added (before the Router runs): the Adds a reload of 1,000 makes
	// are the same 4,094 times.
	b.Run("start", func(b *testing.B) {
		cfg := load(b, write(b, "n.toml", linkTOML(1, n, 150)))
		for range b.N {
			h := &linkHost{sys: newLinkSys(&linkLAN{}, 1), rec: &recorder{}}
			h.d = newDaemon(cfg, h.sys, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, h.rec.run)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- h.d.Run(ctx) }()
			for {
				h.d.mu.Lock()
				added := len(h.d.order)
				h.d.mu.Unlock()
				if added == n {
					break
				}
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			cancel()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	cases := []struct {
		name       string
		from, to   int // the links of the running configuration
		want       int // instances after the op
		timed, way string
		masters    bool // wait for every instance to be master before each op
	}{
		{"one-changed", 1, n, n, linkTOML(1, n, 140), linkTOML(1, n, 150), false},
		{fmt.Sprintf("add-%d", m), 1, n - m, n, linkTOML(1, n, 150), linkTOML(1, n-m, 150), false},
		{fmt.Sprintf("remove-%d", m), 1, n, n - m, linkTOML(1, n-m, 150), linkTOML(1, n, 150), true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			timed, back := write(b, "timed.toml", tc.timed), write(b, "back.toml", tc.way)
			h := startLinkHost(b, &linkLAN{}, 1, load(b, back))
			waitMasters(b, h, tc.to-tc.from+1)
			var parse, apply, cpu time.Duration
			b.ResetTimer()
			for range b.N {
				c0 := cpuTime()
				t0 := time.Now()
				c := load(b, timed)
				t1 := time.Now()
				if err := h.d.Reload(c); err != nil {
					b.Fatal(err)
				}
				parse, apply = parse+t1.Sub(t0), apply+time.Since(t1)
				// The Router's goroutines may still be at the work the
				// reload queued (the added instances' start): counted
				// up to here only.
				cpu += cpuTime() - c0
				b.StopTimer()
				if n := len(h.d.status().Instances); n != tc.want {
					b.Fatalf("%d instances after the op; want %d", n, tc.want)
				}
				if err := h.d.Reload(load(b, back)); err != nil {
					b.Fatal(err)
				}
				if tc.masters {
					waitMasters(b, h, tc.to-tc.from+1)
				}
				b.StartTimer()
			}
			// The op's two parts: loadFile, and Reload (diff and apply).
			b.ReportMetric(float64(parse.Nanoseconds())/float64(b.N), "parse-ns/op")
			b.ReportMetric(float64(apply.Nanoseconds())/float64(b.N), "apply-ns/op")
			// The process's CPU time (every goroutine, the GC) in the op.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

var reloadN = flag.Int("reload.n", 4094, "BenchmarkReload's number of instances")
