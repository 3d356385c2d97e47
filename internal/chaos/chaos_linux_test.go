//go:build linux

package chaos

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/vrrpdtest"
)

const (
	chaosVRID     = 51
	chaosInterval = 100 * time.Millisecond
	// chaosEvents is the number of faults per run.
	chaosEvents = 8
	// settleTimeout bounds every wait for the LAN to settle: a hang
	// guard, not a timing assertion (those are made on the capture).
	settleTimeout = 5 * time.Second
)

// A chaosNet is the address family of a chaos run: its virtual addresses
// (key is the one checked on the hosts).
type chaosNet struct {
	v6   bool
	vips []netip.Prefix
}

var (
	chaosNet4 = chaosNet{vips: []netip.Prefix{netip.MustParsePrefix("10.99.0.100/24")}}
	chaosNet6 = chaosNet{v6: true, vips: []netip.Prefix{
		netip.MustParsePrefix("fe80::51:1/64"), netip.MustParsePrefix("fd99::100/64"),
	}}
)

// key is the virtual address whose presence the tests check.
func (n chaosNet) key() netip.Addr { return n.vips[len(n.vips)-1].Addr() }

// src is the source address of h's advertisements.
func (n chaosNet) src(h *netlab.Host) netip.Addr {
	if n.v6 {
		return h.LinkLocal()
	}
	return h.Addr4
}

// A peer is one VRRP speaker of the chaos LAN: vrrpd or keepalived.
type peer struct {
	t    *testing.T
	net  chaosNet
	h    *netlab.Host
	prio int
	kind string // "vrrpd" or "keepalived"
	d    *vrrpdtest.Proc
	k    *keepalived.Instance

	probe *keepalived.SchedProbe // watches every process the peer starts
}

func (p *peer) String() string { return fmt.Sprintf("%s(%s,%d)", p.h.Name, p.kind, p.prio) }

func (p *peer) start() {
	p.t.Helper()
	if p.kind == "keepalived" {
		zero := 0
		p.k = keepalived.Start(p.t, p.h, keepalived.Config{
			Version:         3,
			GARPMasterDelay: &zero,
			Instances: []keepalived.VRRPInstance{{
				VRID: chaosVRID, Priority: p.prio, AdvertInterval: chaosInterval,
				VIPs: p.net.vips,
			}},
		})
		p.probe.Watch(p.k.PID(), p.String())
		return
	}
	p.d = startVrrpd(p.t, p.h, vrrpdtest.Options{VRID: chaosVRID, Priority: p.prio, Interval: chaosInterval, VIPs: p.net.vips})
	p.probe.Watch(p.d.PID(), p.String())
}

func (p *peer) running() bool {
	if p.kind == "keepalived" {
		return p.k.Running()
	}
	return p.d.Running()
}

func (p *peer) kill() {
	if p.kind == "keepalived" {
		p.k.Kill()
	} else {
		p.d.Kill()
	}
}

func (p *peer) stop() {
	if p.kind == "keepalived" {
		p.k.Stop()
	} else {
		p.d.Stop()
	}
}

// state is "MASTER", "BACKUP", "FAULT", ... or "DEAD".
func (p *peer) state() string {
	if !p.running() {
		return "DEAD"
	}
	if p.kind == "keepalived" {
		return p.k.State()
	}
	return p.d.State("")
}

// A takeover is a fault after which taker must start advertising as
// master within its Master_Down_Interval (plus the margin) of old's last
// advertisement before at.
type takeover struct {
	what       string
	at         time.Time
	old, taker *peer
}

type killRec struct {
	p  *peer
	at time.Time
}

// A quiet window is a fault during which nobody but master may advertise.
type quiet struct {
	what     string
	from, to time.Time
	master   *peer
}

// chaosSeed returns GOVRRP_CHAOS_SEED, or a fresh seed.
func chaosSeed(t *testing.T) uint64 {
	if s := os.Getenv("GOVRRP_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GOVRRP_CHAOS_SEED=%q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// TestChaos runs three VRRP speakers (priorities 200, 150, 100; VRRPv3,
// 100 ms advertisements, one IPv4 virtual address) and an observer that
// captures the LAN through a seeded sequence of faults: kill -9 and
// restart of the master, carrier loss on the master, 20-50% VRRP loss on
// one host, a partition of the master from the others, multicast flooding
// turned off towards one host. After each fault (and after it is healed)
// the LAN must settle with the virtual address on exactly one live host,
// the one with the highest priority. From the capture: every takeover
// happened within the taker's Master_Down_Interval plus max(100ms, 50%)
// of the old master's last advertisement, every host that started
// advertising as master sent a gratuitous ARP for the address, and
// nothing was sent by a killed daemon. After the daemons stop nothing is
// left: no address, no process, no macvlan.
//
// "vrrpd" runs three vrrpd; "keepalived" replaces the lowest priority one
// with keepalived; "vrrpd-IPv6" runs three vrrpd over IPv6 (a link-local
// and a global virtual address, unsolicited NAs). Set GOVRRP_CHAOS_SEED
// to replay a sequence.
func TestChaos(t *testing.T) {
	requireTools(t, "nft", "tcpdump", "tshark")
	seed := chaosSeed(t)
	for _, c := range []struct {
		name string
		net  chaosNet
		ka   bool
	}{{"vrrpd", chaosNet4, false}, {"keepalived", chaosNet4, true}, {"vrrpd-IPv6", chaosNet6, false}} {
		t.Run(c.name, func(t *testing.T) {
			if c.ka {
				netlab.RequireTool(t, "keepalived")
			}
			keepalived.RequireTime(t, chaosNeed)
			runChaos(t, seed, c.net, c.ka)
		})
	}
}

func runChaos(t *testing.T, seed uint64, cn chaosNet, withKeepalived bool) {
	t.Logf("seed %d (replay with GOVRRP_CHAOS_SEED=%d)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("FAILED with seed %d: replay with GOVRRP_CHAOS_SEED=%d", seed, seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	lab := netlab.New(t, "cha", 4)
	obs := lab.Host(4)
	capture := keepalived.StartCapture(t, obs)
	probe := keepalived.StartSchedProbeT(t)

	peers := []*peer{
		{t: t, net: cn, h: lab.Host(1), prio: 200, kind: "vrrpd", probe: probe},
		{t: t, net: cn, h: lab.Host(2), prio: 150, kind: "vrrpd", probe: probe},
		{t: t, net: cn, h: lab.Host(3), prio: 100, kind: "vrrpd", probe: probe},
	}
	if withKeepalived {
		peers[2].kind = "keepalived"
	}
	for _, p := range peers {
		p.start()
	}

	var (
		takeovers []takeover
		quiets    []quiet
		lossy     []quiet   // loss windows, for the log
		kills     []killRec // kill -9 times
		restarts  []killRec // restart times
	)

	// best returns the live peer of highest priority among ps.
	best := func(ps []*peer) *peer {
		var b *peer
		for _, p := range ps {
			if p.running() && (b == nil || p.prio > b.prio) {
				b = p
			}
		}
		return b
	}
	// without returns the peers but x (all of them for nil).
	without := func(x *peer) []*peer {
		var out []*peer
		for _, p := range peers {
			if p != x {
				out = append(out, p)
			}
		}
		return out
	}
	// settle waits until, among group, want is the only live peer holding
	// the VIP and in MASTER and the other live ones are BACKUP.
	settle := func(what string, group []*peer, want *peer) {
		t.Helper()
		var last string
		took, ok := waitFor(settleTimeout, func() bool {
			var b strings.Builder
			good := true
			for _, p := range group {
				if !p.running() {
					continue
				}
				st, vip := p.state(), vrrpdtest.HasAddr(t, p.h, cn.key())
				fmt.Fprintf(&b, " %v=%s/vip:%v", p, st, vip)
				if p == want {
					good = good && st == "MASTER" && vip
				} else {
					good = good && st == "BACKUP" && !vip
				}
			}
			last = b.String()
			return good
		})
		if !ok {
			t.Fatalf("%s: not settled on %v after %v:%s", what, want, took, last)
		}
		t.Logf("%s: settled on %v in %v", what, want, took)
	}

	settle("start", peers, peers[0])
	for i := range chaosEvents {
		master := best(peers)
		switch kind := rng.IntN(5); kind {
		case 0: // kill -9 of the master (and, half the time, of its successor), restart
			victims := []*peer{master}
			if rng.IntN(2) == 0 {
				victims = append(victims, best(without(master)))
			}
			var dead []*peer
			for _, v := range victims {
				what := fmt.Sprintf("event %d: kill -9 %v", i, v)
				v.kill()
				// Once reaped it sends nothing: its last advert is the
				// last before now (killing takes a while under load, and
				// a master advertises until then).
				at := time.Now()
				dead = append(dead, v)
				alive := without(nil)
				for _, d := range dead {
					alive = slices.DeleteFunc(alive, func(p *peer) bool { return p == d })
				}
				next := best(alive)
				takeovers = append(takeovers, takeover{what, at, v, next})
				settle(what, alive, next)
				kills = append(kills, killRec{v, at})
			}
			time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
			for _, v := range dead {
				what := fmt.Sprintf("event %d: restart %v", i, v)
				// The crash left the address behind; a reboot clears it.
				for _, a := range cn.vips {
					if !vrrpdtest.RemoveAddr(t, v.h, a.Addr()) {
						t.Errorf("%s: no stale address %v on the killed host (expected after SIGKILL)", what, a)
					}
				}
				restarts = append(restarts, killRec{v, time.Now()})
				v.start()
				settle(what, peers, best(peers))
			}
		case 1: // carrier loss on the master
			what := fmt.Sprintf("event %d: link down on %v", i, master)
			at := time.Now()
			if err := master.h.SetLink(false); err != nil {
				t.Fatal(err)
			}
			next := best(without(master))
			takeovers = append(takeovers, takeover{what, at, master, next})
			settle(what, without(master), next)
			if _, ok := waitFor(settleTimeout, func() bool {
				return master.state() == "FAULT" && !vrrpdtest.HasAddr(t, master.h, cn.key())
			}); !ok {
				t.Errorf("%s: %v in %s, holds the address: %v; want FAULT without it", what, master, master.state(), vrrpdtest.HasAddr(t, master.h, cn.key()))
			}
			time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
			if err := master.h.SetLink(true); err != nil {
				t.Fatal(err)
			}
			settle(what+", link up", peers, best(peers))
		case 2: // random VRRP loss on one host
			h := peers[rng.IntN(len(peers))]
			pct := 20 + rng.IntN(31)
			hold := time.Duration(1000+rng.IntN(1500)) * time.Millisecond
			what := fmt.Sprintf("event %d: %d%% VRRP loss on %v for %v", i, pct, h, hold)
			if err := h.h.LossVRRP(pct); err != nil {
				t.Fatal(err)
			}
			from := time.Now()
			time.Sleep(hold)
			if err := h.h.UnblockVRRP(); err != nil {
				t.Fatal(err)
			}
			lossy = append(lossy, quiet{what, from, time.Now(), master})
			settle(what+", healed", peers, best(peers))
		case 3: // partition of the master from the others
			what := fmt.Sprintf("event %d: partition %v | others", i, master)
			var others []int
			for _, p := range without(master) {
				others = append(others, p.h.N)
			}
			if err := lab.Partition([]int{master.h.N}, others); err != nil {
				t.Fatal(err)
			}
			at := time.Now()
			next := best(without(master))
			takeovers = append(takeovers, takeover{what, at, master, next})
			// Split brain is expected: each side has its master.
			settle(what, without(master), next)
			time.Sleep(time.Duration(rng.IntN(700)) * time.Millisecond)
			if err := lab.Heal(); err != nil {
				t.Fatal(err)
			}
			settle(what+", healed", peers, best(peers))
		case 4: // multicast flooding off towards one host
			p := peers[rng.IntN(len(peers))]
			what := fmt.Sprintf("event %d: multicast flood off towards %v", i, p)
			if err := lab.SetMcastFlood(p.h.N, false); err != nil {
				t.Fatal(err)
			}
			at := time.Now()
			hold := time.Duration(800+rng.IntN(700)) * time.Millisecond
			if p == master {
				// The master hears nothing but needs nothing: no change.
				time.Sleep(hold)
				quiets = append(quiets, quiet{what, at, time.Now(), master})
				if st := master.state(); st != "MASTER" {
					t.Errorf("%s: master now %s", what, st)
				}
			} else {
				// p no longer hears the master and takes over on its side.
				takeovers = append(takeovers, takeover{what, at, master, p})
				if _, ok := waitFor(settleTimeout, func() bool {
					return p.state() == "MASTER" && vrrpdtest.HasAddr(t, p.h, cn.key()) && master.state() == "MASTER"
				}); !ok {
					t.Errorf("%s: %v in %s; want MASTER beside %v (%s)", what, p, p.state(), master, master.state())
				}
				time.Sleep(hold)
			}
			if err := lab.SetMcastFlood(p.h.N, true); err != nil {
				t.Fatal(err)
			}
			settle(what+", healed", peers, best(peers))
		default:
			t.Fatalf("event kind %d", kind)
		}
		time.Sleep(3 * chaosInterval)
	}

	for _, p := range peers {
		p.stop()
	}
	stopped := time.Now()
	checkNothingLeft(t, []*netlab.Host{lab.Host(1), lab.Host(2), lab.Host(3)}, []netip.Addr{cn.vips[0].Addr(), cn.key()})
	pkts := capture.Stop()
	checkChaosCapture(t, probe, cn, pkts, peers, takeovers, quiets, lossy, stopped)
	// Nothing from a killed daemon until its restart.
	for _, k := range kills {
		var until time.Time
		for _, r := range restarts {
			if r.p == k.p && r.at.After(k.at) {
				until = r.at
				break
			}
		}
		for _, a := range pkts.Adverts(cn.src(k.p.h)) {
			if a.Time.After(k.at.Add(50*time.Millisecond)) && a.Time.Before(until) {
				t.Errorf("killed %v sent an advert %v after the kill", k.p, a.Time.Sub(k.at))
			}
		}
	}
}

// checkChaosCapture checks the takeover times, the quiet windows and the
// gratuitous ARPs on the observer's capture.
func checkChaosCapture(t *testing.T, probe *keepalived.SchedProbe, cn chaosNet, pkts keepalived.Packets, peers []*peer, tos []takeover, qs []quiet, lossy []quiet, stopped time.Time) {
	t.Helper()
	vip := cn.key()
	var lats []string
	for _, to := range tos {
		last, ok := pkts.LastAdvertBefore(cn.src(to.old.h), to.at)
		if !ok {
			t.Errorf("%s: no advert of %v before the fault in the capture", to.what, to.old)
			continue
		}
		var first keepalived.Packet
		found := false
		for _, a := range pkts.Adverts(cn.src(to.taker.h)) {
			if a.Time.After(to.at) && a.Priority > 0 && a.VRID == chaosVRID {
				first, found = a, true
				break
			}
		}
		if !found {
			t.Errorf("%s: no advert of %v after the fault", to.what, to.taker)
			continue
		}
		lat := first.Time.Sub(last.Time)
		bound := takeoverBound(to.taker.prio, chaosInterval)
		lats = append(lats, fmt.Sprintf("%s -> %v: %v (bound %v)", to.what, to.taker, lat.Round(time.Millisecond), bound))
		if lat > bound {
			lateOrLoaded(t, probe, last.Time, first.Time, lat-bound, "%s: %v took over %v after %v's last advert; Master_Down_Interval %v plus margin is %v",
				to.what, to.taker, lat, to.old, masterDownInterval(to.taker.prio, chaosInterval), bound)
		}
	}
	t.Logf("takeovers measured on the wire (last advert of the old master -> first of the new):\n  %s", strings.Join(lats, "\n  "))

	for _, q := range qs {
		for _, p := range peers {
			if p == q.master {
				continue
			}
			for _, a := range pkts.Adverts(cn.src(p.h)) {
				if a.Time.After(q.from) && a.Time.Before(q.to) {
					t.Errorf("%s: %v advertised (priority %d) while %v was a working master", q.what, p, a.Priority, q.master)
					break
				}
			}
		}
		// The master kept advertising on time.
		var prev time.Time
		for _, a := range pkts.Adverts(cn.src(q.master.h)) {
			if a.Time.After(q.from) && a.Time.Before(q.to) {
				if gap := a.Time.Sub(prev); !prev.IsZero() && gap > 2*chaosInterval {
					lateOrLoaded(t, probe, prev, a.Time, gap-2*chaosInterval, "%s: gap of %v between adverts of %v", q.what, gap, q.master)
				}
				prev = a.Time
			}
		}
	}

	// Every start of advertising as master (first advert after a silence
	// of 3 intervals) is followed by a gratuitous ARP from that host.
	becomings, garps := 0, 0
	flaps := make([]int, len(lossy))
	for _, p := range peers {
		var prev time.Time
		for _, a := range pkts.Adverts(cn.src(p.h)) {
			silent := prev.IsZero() || a.Time.Sub(prev) > 3*chaosInterval
			prev = a.Time
			if !silent || a.Priority == 0 || a.Time.After(stopped) {
				continue
			}
			becomings++
			for i, l := range lossy {
				if a.Time.After(l.from) && a.Time.Before(l.to.Add(3*chaosInterval)) {
					flaps[i]++
				}
			}
			ok := false
			for _, g := range pkts.GARPs(vip) {
				if g.SrcMAC.String() == p.h.MAC.String() && !g.Time.Before(a.Time.Add(-100*time.Millisecond)) && g.Time.Before(a.Time.Add(time.Second)) {
					ok = true
					break
				}
			}
			if ok {
				garps++
			} else {
				t.Errorf("%v started advertising as master at %s without a gratuitous ARP / unsolicited NA for %v within 1s",
					p, a.Time.Format("15:04:05.000"), vip)
			}
		}
	}
	t.Logf("%d starts of mastership on the wire, %d followed by a gratuitous ARP / unsolicited NA", becomings, garps)
	for i, l := range lossy {
		t.Logf("%s: %d spurious masters during the loss", l.what, flaps[i])
	}
}
