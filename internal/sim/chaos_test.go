package sim

// The chaos test: thousands of seeded random scenarios, each checked
// against invariants that are theorems of the protocol, not heuristics.
//
// A scenario has 2-5 nodes and two or three virtual routers (VRRPv3 IPv4,
// VRRPv3 IPv6, sometimes VRRPv2), each run by a random subset of 2-5
// nodes with random priorities (sometimes tied, sometimes an owner at
// 255), intervals from 10 ms to 1 s. During the chaos phase the script
// crashes, restarts, shuts down nodes, changes priorities, partitions and
// heals the segment, takes interfaces down and up, and (in the lossy
// class) changes links: loss 0-50%, duplication, delay and jitter
// (reordering). Then the quiet phase: the segment heals, every link
// becomes lossless with a delay below a tenth of the shortest interval.
// Preemption is on and there is no preempt delay (both would make the
// expected master depend on history).
//
// The convergence theorem. Let I be a virtual router's interval (all its
// routers share it, so the Master_Adv_Interval a VRRPv3 backup learns is
// I too) and D < I the largest delay plus jitter of any link. Take any
// state at time T after which no fault happens and no packet sent before
// T is still in flight. Every running Master_Down_Timer ends by T + 4I
// (it was set to at most Master_Down_Interval = 3I + Skew_Time < 4I;
// VRRPv2's skew is under 1 s <= I). Let P be the top priority among the
// live routers. A backup of priority P resets its timer only on an
// advertisement of priority >= P, that is from a master of priority P, so
// by T + 4I some router of priority P is master. From then on one always
// is (a priority-P master steps down only for a priority-P master with a
// higher address), every lower master steps down within I + D of its
// first advertisement, a backup that has heard it never times out again
// (advertisements reach it at most I + D < 3I apart), and conflicting
// priority-P masters resolve in favour of the higher address, each step
// taking at most D before the next advertisement: with at most 5 routers,
// all within 5I + 6D. After T + 5I + 6D the state does not change. So:
//
//   - Invariant "converged": at the end (T + 12I_max >= T + 4
//     Master_Down_Intervals) each virtual router has exactly one master
//     among its live routers, of the top priority (the only one of it if
//     that priority is unique), and it made no transition after
//     T + 5I + 7D.
//   - Invariant "no takeover without a cause" (lossless class: no loss
//     at any time): a fault is a crash, start, restart, shutdown or
//     interface change of one of the virtual router's routers, a change
//     of its priority, a partition, a heal or a link change. A backup C
//     whose Master_Down_Timer fires at t set it at s >= t - 4I: at its
//     start or interface up (a fault at s); on a priority-0
//     advertisement (sent by a shutdown or interface down, a fault at
//     s - D); or on hearing at s a master M of priority >= C's (on an
//     advertisement, or stepping down for one). M's next advertisement
//     reaches C by s + I + D < t and resets the timer, unless by then M
//     crashed, shut down, lost its interface, was partitioned away or
//     changed priority (faults), or stepped down for a better master,
//     whose advertisements reset C's timer in turn. So every transition
//     to Master happens within 4I + 2D after a fault (checked with
//     4I + 3D). Applying the convergence theorem from each fault
//     (T = fault + D), every transition of any kind happens within
//     5I + 7D after one (checked with 5I + 8D).
//   - Invariant "counters add up": MasterTransitions, SentAdvertisements
//     and SentPriZeroPackets equal the trace's counts; RcvdAdvertisements
//     and RcvdPriZeroPackets equal what the simulator delivered to the
//     machine in Backup or Master (every packet is valid); no error
//     counter moved; the checksum forms add up; and without duplication
//     the receivers of a virtual router got no more than its senders
//     sent times the other routers.

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

var (
	flagSeed  = flag.Int64("seed", -1, "TestChaos: replay only the scenario of this seed (with -v: print its trace)")
	flagSeeds = flag.Int("seeds", 0, "TestChaos: number of scenarios, seeds 1..N (default 2000; 200 with -short or -race)")
)

func chaosSeeds() int {
	switch {
	case *flagSeeds > 0:
		return *flagSeeds
	case testing.Short() || raceEnabled:
		return 200 // the race detector's run checks the races, not the seeds
	}
	return 2000
}

func TestChaos(t *testing.T) {
	if *flagSeed >= 0 {
		seed := uint64(*flagSeed)
		sc := newScenario(seed)
		s, bad := sc.run()
		t.Logf("scenario %s", sc)
		if testing.Verbose() {
			for _, r := range s.Trace() {
				t.Log(r)
			}
		}
		for _, b := range bad {
			t.Error(b)
		}
		if len(bad) > 0 {
			t.Logf("replay: %s", sc.replay())
		}
		return
	}
	n := chaosSeeds()
	type result struct {
		sc  *scenario
		bad []string
	}
	results := make([]result, n+1)
	seeds := make(chan uint64)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				sc := newScenario(seed)
				_, bad := sc.run()
				if len(bad) > 0 {
					results[seed] = result{sc, bad}
				}
			}
		}()
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		seeds <- seed
	}
	close(seeds)
	wg.Wait()
	failed := 0
	for _, r := range results {
		if r.sc == nil {
			continue
		}
		failed++
		if failed > 10 {
			continue
		}
		bad := r.bad
		if len(bad) > 5 {
			bad = append(bad[:5:5], fmt.Sprintf("... and %d more", len(r.bad)-5))
		}
		t.Errorf("chaos seed %d failed: %s\n\t%s\n\treplay: %s", r.sc.seed, r.sc, strings.Join(bad, "\n\t"), r.sc.replay())
	}
	if failed > 0 {
		t.Errorf("%d of %d scenarios failed", failed, n)
	}
}

// Same seed, same trace; different seeds, different traces.
func TestDeterminism(t *testing.T) {
	var prev []Record
	for seed := uint64(1); seed <= 20; seed++ {
		a, _ := newScenario(seed).run()
		b, _ := newScenario(seed).run()
		if diff := cmp.Diff(a.Trace(), b.Trace()); diff != "" {
			t.Fatalf("seed %d: two runs differ (-first +second):\n%s", seed, diff)
		}
		if len(a.Trace()) < 10 {
			t.Fatalf("seed %d: only %d trace records", seed, len(a.Trace()))
		}
		if cmp.Equal(prev, a.Trace()) {
			t.Errorf("seeds %d and %d gave the same trace", seed-1, seed)
		}
		prev = a.Trace()
	}
}

type chaosVR struct {
	vr       VR
	version  uint8
	interval time.Duration
	members  []int
	prios    []uint8
	rfc5798  bool
	forms    []packet.Checksum // per member, VRRPv3 IPv4 only
}

type scenario struct {
	seed     uint64
	r        *rand.Rand
	nodes    int
	vrs      []chaosVR
	lossless bool
	dup      bool          // some link duplicates
	dmax     time.Duration // largest delay + jitter in the chaos phase
	dq       time.Duration // largest delay + jitter in the quiet phase
	imin     time.Duration
	imax     time.Duration
	faults   int
	chaosEnd time.Duration
	quiet    time.Duration // T of the theorem for the quiet phase
	end      time.Duration
}

func (sc *scenario) String() string {
	var b strings.Builder
	class := "lossy"
	if sc.lossless {
		class = "lossless"
	}
	fmt.Fprintf(&b, "%d nodes, %s, dup=%v, max delay %v (quiet %v), %d faults until %v, end %v;", sc.nodes, class, sc.dup, sc.dmax, sc.dq, sc.faults, sc.chaosEnd, sc.end)
	for _, v := range sc.vrs {
		fmt.Fprintf(&b, " v%d %v every %v", v.version, v.vr, v.interval)
		if v.rfc5798 {
			b.WriteString(" rfc5798")
		}
		b.WriteString(" {")
		for i, m := range v.members {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s:%d", nodeName(m), v.prios[i])
		}
		b.WriteString("};")
	}
	return strings.TrimSuffix(b.String(), ";")
}

func (sc *scenario) replay() string {
	return fmt.Sprintf("go test ./internal/sim -run 'TestChaos$' -seed %d -v", sc.seed)
}

// newScenario draws the static part of a scenario from its seed; run
// draws the faults as it goes, from the same stream.
func newScenario(seed uint64) *scenario {
	r := rand.New(rand.NewPCG(seed, 0xc4a05))
	sc := &scenario{seed: seed, r: r, nodes: 2 + r.IntN(4), lossless: r.IntN(10) < 3}
	// Intervals: VRRPv3 from 10 ms to 1 s, log-uniform, in centiseconds.
	cs := func() time.Duration {
		return time.Duration(float64(10*time.Millisecond) * float64(int(1+100*r.Float64()*r.Float64())))
	}
	base := cs()
	sc.vrs = []chaosVR{
		{vr: VR{VRID: 1}, version: 3, interval: base},
		{vr: VR{V6: true, VRID: 2}, version: 3, interval: min(base*time.Duration(1+r.IntN(3)), time.Second)},
	}
	if r.IntN(2) == 0 {
		sc.vrs = append(sc.vrs, chaosVR{vr: VR{VRID: 3}, version: 2, interval: time.Second})
	}
	sc.imin, sc.imax = time.Hour, 0
	for i := range sc.vrs {
		v := &sc.vrs[i]
		sc.imin, sc.imax = min(sc.imin, v.interval), max(sc.imax, v.interval)
		v.members = r.Perm(sc.nodes)[:2+r.IntN(sc.nodes-1)]
		slices.Sort(v.members)
		v.rfc5798 = v.version == 3 && r.IntN(4) == 0
		owner := r.IntN(10) == 0
		for j := range v.members {
			p := uint8(1 + r.IntN(254))
			switch {
			case owner && j == 0:
				p = 255
			case j > 0 && r.IntN(6) == 0:
				p = v.prios[r.IntN(j)] // a tie
				if p == 255 {
					p = 254
				}
			}
			v.prios = append(v.prios, p)
			form := packet.ChecksumUnknown
			if v.version == 3 && !v.vr.V6 {
				form = []packet.Checksum{packet.ChecksumMessage, packet.ChecksumPseudoHeader}[r.IntN(2)]
			}
			v.forms = append(v.forms, form)
		}
	}
	return sc
}

// link draws a link for the chaos phase.
func (sc *scenario) link() memnet.Link {
	r := sc.r
	var l memnet.Link
	if r.IntN(3) == 0 {
		l.Dup = 0.3 * r.Float64()
		sc.dup = true
	}
	if sc.lossless {
		// Lossless: delay + jitter below a tenth of the shortest interval.
		l.Delay = time.Duration(r.Int64N(int64(sc.imin / 20)))
		l.Jitter = time.Duration(r.Int64N(int64(sc.imin / 20)))
	} else {
		l.Loss = 0.5 * r.Float64()
		l.Delay = time.Duration(r.Int64N(int64(sc.imin)))
		if r.IntN(2) == 0 {
			l.Jitter = time.Duration(r.Int64N(int64(sc.imin)))
		}
	}
	sc.dmax = max(sc.dmax, l.Delay+l.Jitter)
	return l
}

func (sc *scenario) run() (*Sim, []string) {
	r := sc.r
	s := New(sc.seed, Config{Link: sc.link()})
	for i := 0; i < sc.nodes; i++ {
		if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
			return s, []string{err.Error()}
		}
	}
	for _, v := range sc.vrs {
		for j, m := range v.members {
			cfg := vrConfig(v.vr, v.version, v.prios[j], v.interval)
			cfg.RFC5798 = v.rfc5798
			cfg.Checksum = v.forms[j]
			if err := s.AddVR(nodeName(m), cfg); err != nil {
				return s, []string{err.Error()}
			}
		}
	}
	names := s.Nodes()
	pick := func() string { return names[r.IntN(len(names))] }
	for _, n := range names {
		s.At(time.Duration(r.Int64N(int64(2*sc.imax))), func() { s.Start(n) })
	}

	// The chaos phase: faults at random times, drawn as they happen.
	sc.chaosEnd = 2*sc.imax + 30*sc.imax
	sc.faults = 3 + r.IntN(25)
	for range sc.faults {
		s.At(2*sc.imax+time.Duration(r.Int64N(int64(30*sc.imax))), func() {
			switch k := r.IntN(16); {
			case k < 2:
				s.Crash(pick())
			case k < 5:
				s.Restart(pick())
			case k < 6:
				s.Shutdown(pick())
			case k < 9:
				v := sc.vrs[r.IntN(len(sc.vrs))]
				j := r.IntN(len(v.members))
				p := uint8(1 + r.IntN(254))
				if r.IntN(3) == 0 { // make a tie
					p = s.Priority(nodeName(v.members[r.IntN(len(v.members))]), v.vr)
				}
				s.SetPriority(nodeName(v.members[j]), v.vr, p)
			case k < 11:
				perm := r.Perm(len(names))
				cut := 1 + r.IntN(len(names)-1)
				var a, b []string
				for i, p := range perm {
					if i < cut {
						a = append(a, names[p])
					} else if r.IntN(5) != 0 { // sometimes isolate a node
						b = append(b, names[p])
					}
				}
				s.Partition(a, b)
			case k < 12:
				s.Heal()
			case k < 13:
				s.InterfaceDown(pick())
			case k < 14:
				s.InterfaceUp(pick())
			default:
				if r.IntN(3) == 0 {
					s.SetLink("", "", sc.link())
				} else {
					s.SetLink(pick(), pick(), sc.link())
				}
			}
		})
	}

	// The quiet phase.
	dq := time.Duration(r.Int64N(int64(sc.imin/20) + 1))
	jq := time.Duration(r.Int64N(int64(sc.imin/20) + 1))
	sc.dq = dq + jq
	quietDup := 0.0
	if r.IntN(4) == 0 {
		quietDup = 0.2
		sc.dup = true
	}
	s.At(sc.chaosEnd, func() {
		s.Heal()
		s.SetLink("", "", memnet.Link{Delay: dq, Jitter: jq, Dup: quietDup})
		for _, n := range names {
			if r.IntN(2) == 0 {
				s.Restart(n)
			}
			if r.IntN(2) == 0 {
				s.InterfaceUp(n)
			}
		}
	})
	s.Run(sc.chaosEnd)
	// Packets sent before the quiet phase arrive within dmax.
	sc.quiet = sc.chaosEnd + sc.dmax
	sc.end = sc.quiet + 12*sc.imax
	s.Run(sc.end)
	return s, sc.check(s)
}

func (sc *scenario) check(s *Sim) []string {
	var bad []string
	badf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if err := s.Err(); err != nil {
		badf("simulator: %v", err)
	}
	trace := s.Trace()
	for _, v := range sc.vrs {
		// Converged.
		var live []string
		top := -1
		for _, m := range v.members {
			n := nodeName(m)
			if s.Up(n) {
				live = append(live, n)
				top = max(top, int(s.Priority(n, v.vr)))
			}
		}
		masters := s.Masters(v.vr)
		switch {
		case len(live) == 0 && len(masters) != 0:
			badf("%v: masters %v with no live router", v.vr, masters)
		case len(live) > 0 && len(masters) != 1:
			badf("%v: masters %v at the end, want exactly one of %v", v.vr, masters, live)
		case len(live) > 0 && int(s.Priority(masters[0], v.vr)) != top:
			badf("%v: master %s has priority %d, the top live priority is %d", v.vr, masters[0], s.Priority(masters[0], v.vr), top)
		}
		settled := sc.quiet + 5*v.interval + 7*sc.dq
		for _, rec := range trace {
			if rec.Kind == KindTransition && rec.VR == v.vr && rec.At > settled {
				badf("%v: transition after the network settled at %v: %v", v.vr, settled, rec)
				break
			}
		}

		// No takeover without a cause.
		if sc.lossless {
			D := max(sc.dmax, sc.dq)
			window := 5*v.interval + 8*D
			takeoverWindow := 4*v.interval + 3*D
			last := time.Duration(-1)
			isMember := func(n string) bool {
				for _, m := range v.members {
					if nodeName(m) == n {
						return true
					}
				}
				return false
			}
			for _, rec := range trace {
				switch rec.Kind {
				case KindTransition, KindSend, KindAnnounce:
				case KindSetPriority:
					if rec.VR == v.vr {
						last = rec.At
					}
				case KindPartition, KindHeal, KindSetLink:
					last = rec.At
				default: // node faults
					if isMember(rec.Node) {
						last = rec.At
					}
				}
				if rec.Kind != KindTransition || rec.VR != v.vr {
					continue
				}
				w := window
				if rec.To == vrrp.Master {
					w = takeoverWindow
				}
				if last < 0 || rec.At-last > w {
					badf("%v: %v with no fault in the %v before it (last fault at %v)", v.vr, rec, w, last)
					break
				}
			}
		}

		// Counters add up.
		var sent, rcvd uint64
		for j, m := range v.members {
			n := nodeName(m)
			st := s.TotalStats(n, v.vr)
			var toMaster, sends, sends0 uint64
			for _, rec := range trace {
				if rec.Node != n || rec.VR != v.vr {
					continue
				}
				switch {
				case rec.Kind == KindTransition && rec.To == vrrp.Master:
					toMaster++
				case rec.Kind == KindSend:
					sends++
					if rec.Priority == 0 {
						sends0++
					}
				}
			}
			d := s.Delivered(n, v.vr)
			owner := v.prios[j] == 255
			wantRcvd := d.Adverts
			if owner && v.version == 2 {
				wantRcvd = 0 // RFC 3768 section 7.1: the owner drops them
			}
			if st.MasterTransitions != toMaster || st.SentAdvertisements != sends || st.SentPriZeroPackets != sends0 {
				badf("%s %v: stats MasterTransitions=%d Sent=%d SentPriZero=%d, trace %d %d %d",
					n, v.vr, st.MasterTransitions, st.SentAdvertisements, st.SentPriZeroPackets, toMaster, sends, sends0)
			}
			if st.RcvdAdvertisements != wantRcvd || (!(owner && v.version == 2) && st.RcvdPriZeroPackets != d.PriorityZero) {
				badf("%s %v: stats Rcvd=%d RcvdPriZero=%d, delivered %d %d", n, v.vr, st.RcvdAdvertisements, st.RcvdPriZeroPackets, d.Adverts, d.PriorityZero)
			}
			if owner && st.OwnerRcvdAdvertisements != d.Adverts {
				badf("%s %v: owner counted %d advertisements, %d delivered", n, v.vr, st.OwnerRcvdAdvertisements, d.Adverts)
			}
			if st.IPTTLErrors+st.AddressListErrors+st.AdvIntervalErrors+st.PacketLengthErrors+st.AuthErrors+st.RcvdInvalidTypePackets != 0 {
				badf("%s %v: error counters moved: %+v", n, v.vr, st)
			}
			if v.version == 3 && !v.vr.V6 && st.RcvdChecksumMessage+st.RcvdChecksumPseudo != st.RcvdAdvertisements {
				badf("%s %v: checksum forms %d + %d != %d received", n, v.vr, st.RcvdChecksumMessage, st.RcvdChecksumPseudo, st.RcvdAdvertisements)
			}
			sent += st.SentAdvertisements
			rcvd += d.Adverts
		}
		if !sc.dup && rcvd > sent*uint64(len(v.members)-1) {
			badf("%v: %d advertisements delivered, more than %d sent times %d other routers", v.vr, rcvd, sent, len(v.members)-1)
		}
	}
	for _, n := range s.Nodes() {
		if e := s.NodeErrors(n); e.ParseErrors != 0 {
			badf("%s: %d packets failed to parse", n, e.ParseErrors)
		}
	}
	return bad
}
