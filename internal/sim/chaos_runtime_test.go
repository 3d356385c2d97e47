package sim

// The runtime chaos test: what the RawRouter adds to the Machine, under
// the same kind of seeded chaos as TestChaos. Every node runs two
// virtual routers, ipv4/1 and ipv6/2 (VRRPv3), as one sync group "g"
// (keepalived's vrrp_sync_group), with one priority for both (a group
// whose members prefer different nodes would pull itself apart, which is
// a configuration error, not a protocol fault). During the chaos phase
// the script crashes, restarts and shuts down nodes, changes priorities
// (of the group or of one member), holds members in Fault (SetFault) and
// lets them go, takes interfaces down and up, removes members and adds
// them back while their node runs, partitions and heals the segment, and
// changes links (loss in the lossy class). The quiet phase heals
// everything: every node restarts if it is down, its interface comes up,
// every hold is let go, every removed member is added back and each
// node's members get one priority again.
//
// Invariants, checked on the trace and on each node's hook log:
//   - "converged" and "counters add up", as in TestChaos, with a longer
//     settling time. A sync group chains the two virtual routers: a
//     member that waits for a master may hear one that the other member
//     of its node then pulls down (Sync) because it stepped down for a
//     better master, and wait a Master_Down_Interval again; a member added
//     while the other is master starts in Backup and waits too. Each such
//     wait ends with a master on a better node (the nodes are ordered the
//     same way in both families: one priority per node, and addresses in
//     the same order), so there are at most as many as nodes: the check
//     allows nodes+1 waits of 4I + 2D on top of TestChaos's 5I + 7D (I
//     the longest interval, D the quiet phase's delay). This bound is
//     argued, not proved as TestChaos's is; 20,000 seeds kept within it.
//     The end is 4I after it.
//   - "no takeover without a cause" (lossless class), as in TestChaos,
//     with the same chain of waits added to its windows, while the group
//     is consistent (see check);
//   - "group together": after the network settled, no node whose
//     priority is unique has one member Master and the other Backup at
//     the end of any instant (tied nodes may share the two virtual
//     routers: see tied in check);
//   - "fault holds the group": at the end of every instant, on a running
//     node, while a member is held in Fault (SetFault) or the interface
//     is down, every member there is in Fault; while none is, none is in
//     Fault; and no member of a running node is in Initialize;
//   - "removed is silent": a removed virtual router sends, changes state
//     and announces nothing after the instant of its removal, and its
//     hook log has HostRemoved for each removal and nothing between it
//     and the next HostAdded;
//   - "hooks in order": a transition to Master is followed by HostTake,
//     and one from Master is preceded by HostRelease, for the same
//     virtual router.

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

var (
	flagRTSeed  = flag.Int64("rtseed", -1, "TestChaosRuntime: replay only the scenario of this seed (with -v: print its trace)")
	flagRTSeeds = flag.Int("rtseeds", 0, "TestChaosRuntime: number of scenarios, seeds 1..N (default 2000; 200 with -short or -race)")
)

func rtSeeds() int {
	switch {
	case *flagRTSeeds > 0:
		return *flagRTSeeds
	case testing.Short() || raceEnabled:
		return 200 // the race detector's run checks the races, not the seeds
	}
	return 2000
}

// rtVRs are the members of every node's sync group.
var rtVRs = [2]VR{vr4, vr6}

const rtGroup = "g"

type rtScenario struct {
	seed     uint64
	r        *rand.Rand
	nodes    int
	prios    []uint8
	iv       [2]time.Duration
	lossless bool
	dup      bool
	dmax, dq time.Duration
	imin     time.Duration
	imax     time.Duration
	faults   int
	chaosEnd time.Duration
	quiet    time.Duration
	settled  time.Duration // see check
	end      time.Duration
	// counts of what the chaos phase did, for the test's own check that
	// it does something
	did map[string]int
}

func (sc *rtScenario) String() string {
	class := "lossy"
	if sc.lossless {
		class = "lossless"
	}
	return fmt.Sprintf("%d nodes, prios %v, intervals %v, %s, dup=%v, max delay %v (quiet %v), %d faults until %v, end %v",
		sc.nodes, sc.prios, sc.iv, class, sc.dup, sc.dmax, sc.dq, sc.faults, sc.chaosEnd, sc.end)
}

func newRTScenario(seed uint64) *rtScenario {
	r := rand.New(rand.NewPCG(seed, 0x5eed6))
	sc := &rtScenario{seed: seed, r: r, nodes: 2 + r.IntN(3), lossless: r.IntN(10) < 3, did: map[string]int{}}
	cs := func() time.Duration {
		return time.Duration(float64(10*time.Millisecond) * float64(int(1+100*r.Float64()*r.Float64())))
	}
	sc.iv[0] = cs()
	sc.iv[1] = min(sc.iv[0]*time.Duration(1+r.IntN(2)), time.Second)
	sc.imin, sc.imax = sc.iv[0], sc.iv[1]
	for i := 0; i < sc.nodes; i++ {
		p := uint8(1 + r.IntN(254))
		if i > 0 && r.IntN(6) == 0 {
			p = sc.prios[r.IntN(i)] // a tie: the higher address wins, in both families
		}
		sc.prios = append(sc.prios, p)
	}
	return sc
}

func (sc *rtScenario) link() memnet.Link {
	r := sc.r
	var l memnet.Link
	if r.IntN(3) == 0 {
		l.Dup = 0.3 * r.Float64()
		sc.dup = true
	}
	if sc.lossless {
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

func (sc *rtScenario) run() (*Sim, []string) {
	r := sc.r
	s := New(sc.seed, Config{Link: sc.link()})
	var bad []string
	for i := 0; i < sc.nodes; i++ {
		if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
			return s, []string{err.Error()}
		}
		for k, vr := range rtVRs {
			if err := s.AddGroupVR(nodeName(i), rtGroup, vrConfig(vr, 3, sc.prios[i], sc.iv[k])); err != nil {
				return s, []string{err.Error()}
			}
		}
	}
	names := s.Nodes()
	pick := func() string { return names[r.IntN(len(names))] }
	for _, n := range names {
		s.At(time.Duration(r.Int64N(int64(2*sc.imax))), func() { s.Start(n) })
	}
	sc.chaosEnd = 2*sc.imax + 30*sc.imax
	sc.faults = 3 + r.IntN(25)
	for range sc.faults {
		s.At(2*sc.imax+time.Duration(r.Int64N(int64(30*sc.imax))), func() {
			n := pick()
			vr := rtVRs[r.IntN(2)]
			switch k := r.IntN(20); {
			case k < 2:
				s.Crash(n)
				sc.did["crash"]++
			case k < 4:
				s.Restart(n)
				sc.did["restart"]++
			case k < 5:
				s.Shutdown(n)
				sc.did["shutdown"]++
			case k < 7:
				p := uint8(1 + r.IntN(254))
				if r.IntN(2) == 0 {
					s.SetPriority(n, vr, p) // one member only
				} else {
					for _, v := range rtVRs {
						s.SetPriority(n, v, p)
					}
				}
				sc.did["priority"]++
			case k < 10:
				if !s.Removed(n, vr) {
					s.SetFault(n, vr, !faultedIn(s, n, vr))
					sc.did["fault"]++
				}
			case k < 13:
				if s.Removed(n, vr) {
					cfg := s.Config(n, vr)
					if err := s.AddGroupVR(n, rtGroup, cfg); err != nil {
						bad = append(bad, err.Error())
					}
					sc.did["add"]++
				} else {
					if err := s.RemoveVR(n, vr); err != nil {
						bad = append(bad, err.Error())
					}
					sc.did["remove"]++
				}
			case k < 15:
				perm := r.Perm(len(names))
				cut := 1 + r.IntN(len(names)-1)
				var a, b []string
				for i, p := range perm {
					if i < cut {
						a = append(a, names[p])
					} else if r.IntN(5) != 0 {
						b = append(b, names[p])
					}
				}
				s.Partition(a, b)
			case k < 16:
				s.Heal()
			case k < 17:
				s.InterfaceDown(n)
				sc.did["ifdown"]++
			case k < 18:
				s.InterfaceUp(n)
			default:
				if r.IntN(3) == 0 {
					s.SetLink("", "", sc.link())
				} else {
					s.SetLink(pick(), pick(), sc.link())
				}
			}
		})
	}
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
			s.Restart(n)
			s.InterfaceUp(n)
			for _, vr := range rtVRs {
				if s.Removed(n, vr) {
					if err := s.AddGroupVR(n, rtGroup, s.Config(n, vr)); err != nil {
						bad = append(bad, err.Error())
					}
				}
				s.SetFault(n, vr, false)
			}
			if p := s.Priority(n, rtVRs[0]); s.Priority(n, rtVRs[1]) != p {
				s.SetPriority(n, rtVRs[1], p)
			}
		}
	})
	s.Run(sc.chaosEnd)
	sc.quiet = sc.chaosEnd + sc.dmax
	sc.settled = sc.quiet + time.Duration(sc.nodes+1)*(4*sc.imax+2*sc.dq) + 5*sc.imax + 7*sc.dq
	sc.end = sc.settled + 4*sc.imax
	s.Run(sc.end)
	return s, append(bad, sc.check(s)...)
}

// faultedIn reports whether the trace says SetFault holds (n, vr).
func faultedIn(s *Sim, n string, vr VR) bool {
	on := false
	for _, rec := range s.Trace() {
		if rec.Kind == KindSetFault && rec.Node == n && rec.VR == vr {
			on = rec.Note == "on"
		}
		if rec.Kind == KindAddVR && rec.Node == n && rec.VR == vr {
			on = false // AddGroupVR starts without a hold
		}
	}
	return on
}

// rtNode is the check's view of one node, rebuilt from the trace.
type rtNode struct {
	up, ifDown bool
	removed    [2]bool
	faulted    [2]bool
	state      [2]vrrp.State
	removedAt  [2]time.Duration
}

func (sc *rtScenario) check(s *Sim) []string {
	var bad []string
	badf := func(format string, args ...any) {
		if len(bad) < 20 {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	if err := s.Err(); err != nil {
		badf("simulator: %v", err)
	}
	trace := s.Trace()
	names := s.Nodes()
	idx := func(vr VR) int {
		if vr == rtVRs[0] {
			return 0
		}
		return 1
	}
	D := max(sc.dmax, sc.dq)
	settled := sc.settled

	// tied reports whether another node has the priority of node n at the
	// end (the quiet phase fixes them). With a tie, RFC 9568 section
	// 6.4.2 lets a backup keep an equal master (it resets its timer on
	// priority >= its own), so ipv4/1 and ipv6/2 may rest on two tied
	// nodes, each node's group split: a configuration that sync groups
	// cannot keep together, not a fault.
	tied := func(n string) bool {
		for _, o := range names {
			if o != n && s.Up(o) && s.Priority(o, rtVRs[0]) == s.Priority(n, rtVRs[0]) {
				return true
			}
		}
		return false
	}

	// Walk the trace instant by instant.
	nodes := map[string]*rtNode{}
	for _, n := range names {
		nodes[n] = &rtNode{}
	}
	endOfInstant := func(t time.Duration) {
		for _, name := range names {
			n := nodes[name]
			if !n.up {
				continue
			}
			held := n.ifDown
			present := 0
			for k := range rtVRs {
				if !n.removed[k] {
					present++
					held = held || n.faulted[k]
				}
			}
			for k, vr := range rtVRs {
				if n.removed[k] {
					continue
				}
				st := n.state[k]
				switch {
				case st == vrrp.Initialize:
					badf("%v %s %v: Initialize on a running node", t, name, vr)
				case held && st != vrrp.Fault:
					badf("%v %s %v: %v while its group is held in Fault (ifDown=%v faulted=%v removed=%v)", t, name, vr, st, n.ifDown, n.faulted, n.removed)
				case !held && st == vrrp.Fault:
					badf("%v %s %v: Fault with no hold", t, name, vr)
				}
			}
			if t > settled && present == 2 && n.state[0] != n.state[1] && !tied(name) {
				badf("%v %s: sync group split after the network settled at %v: %v %v, %v %v", t, name, settled, rtVRs[0], n.state[0], rtVRs[1], n.state[1])
			}
		}
	}
	for i, rec := range trace {
		n := nodes[rec.Node]
		switch rec.Kind {
		case KindStart, KindRestart:
			n.up = true
			for k := range rtVRs {
				if !n.removed[k] {
					n.state[k] = vrrp.Initialize // until its transition
				}
			}
		case KindCrash:
			n.up = false
		case KindShutdown:
			n.up = false
			// Its records follow at this instant; the node is checked
			// no more.
		case KindIfDown:
			n.ifDown = true
		case KindIfUp:
			n.ifDown = false
		case KindSetFault:
			n.faulted[idx(rec.VR)] = rec.Note == "on"
		case KindRemoveVR:
			k := idx(rec.VR)
			n.removed[k], n.removedAt[k] = true, rec.At
		case KindAddVR:
			k := idx(rec.VR)
			n.removed[k], n.faulted[k] = false, false
			n.state[k] = vrrp.Initialize
		case KindTransition, KindSend, KindAnnounce:
			k := idx(rec.VR)
			if n.removed[k] && rec.At > n.removedAt[k] {
				badf("%s %v: removed at %v, then %v", rec.Node, rec.VR, n.removedAt[k], rec)
			}
			if rec.Kind == KindTransition {
				if rec.From != n.state[k] && n.up {
					badf("%v: from %v, the trace had it in %v", rec, rec.From, n.state[k])
				}
				n.state[k] = rec.To
			}
		}
		if i+1 == len(trace) || trace[i+1].At != rec.At {
			endOfInstant(rec.At)
		}
	}

	// Converged, counters, lossless causality: per virtual router.
	for _, vr := range rtVRs {
		var live []string
		top := -1
		for _, n := range names {
			if s.Up(n) {
				live = append(live, n)
				top = max(top, int(s.Priority(n, vr)))
			}
		}
		masters := s.Masters(vr)
		switch {
		case len(live) > 0 && len(masters) != 1:
			badf("%v: masters %v at the end, want exactly one of %v", vr, masters, live)
		case len(live) > 0 && int(s.Priority(masters[0], vr)) != top:
			badf("%v: master %s has priority %d, the top live priority is %d", vr, masters[0], s.Priority(masters[0], vr), top)
		}
		for _, rec := range trace {
			if rec.Kind == KindTransition && rec.VR == vr && rec.At > settled {
				badf("%v: transition after the network settled at %v: %v", vr, settled, rec)
				break
			}
		}
		if sc.lossless {
			// As TestChaos, with the runtime's faults, while the group is
			// consistent: on every node both members or neither, of one
			// priority. A group whose members prefer different nodes (a
			// member's priority changed alone, or a member removed)
			// flaps every Master_Down_Interval with no fault at all: the
			// member that prefers this node takes over and brings the
			// other along, which steps down for the better master and
			// brings the first back (keepalived's sync groups do the
			// same). Becoming consistent again counts as a fault.
			// The windows are TestChaos's, plus the chain of waits a
			// sync group adds (see the settling time above).
			chain := time.Duration(sc.nodes+1) * (4*sc.imax + 2*D)
			window := chain + 5*sc.imax + 8*D
			takeoverWindow := chain + 4*sc.imax + 3*D
			last := time.Duration(-1)
			prio := map[string]*[2]uint8{}
			removed := map[string]*[2]bool{}
			for i, n := range names {
				prio[n] = &[2]uint8{sc.prios[i], sc.prios[i]}
				removed[n] = &[2]bool{}
			}
			consistent := func() bool {
				for _, n := range names {
					r, p := removed[n], prio[n]
					if r[0] != r[1] || !r[0] && p[0] != p[1] {
						return false
					}
				}
				return true
			}
			ok := true
			for _, rec := range trace {
				switch rec.Kind {
				case KindTransition, KindSend, KindAnnounce:
				default:
					last = rec.At
				}
				switch rec.Kind {
				case KindSetPriority:
					prio[rec.Node][idx(rec.VR)] = rec.Priority
				case KindAddVR:
					prio[rec.Node][idx(rec.VR)] = rec.Priority
					removed[rec.Node][idx(rec.VR)] = false
				case KindRemoveVR:
					removed[rec.Node][idx(rec.VR)] = true
				}
				if c := consistent(); c != ok {
					ok = c
					last = rec.At
				}
				if rec.Kind != KindTransition || rec.VR != vr || !ok {
					continue
				}
				w := window
				if rec.To == vrrp.Master {
					w = takeoverWindow
				}
				if last < 0 || rec.At-last > w {
					badf("%v: %v with no fault in the %v before it (last fault at %v)", vr, rec, w, last)
					break
				}
			}
		}
		var sent, rcvd uint64
		for _, n := range names {
			st := s.TotalStats(n, vr)
			var toMaster, sends, sends0 uint64
			for _, rec := range trace {
				if rec.Node != n || rec.VR != vr {
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
			d := s.Delivered(n, vr)
			if st.MasterTransitions != toMaster || st.SentAdvertisements != sends || st.SentPriZeroPackets != sends0 {
				badf("%s %v: stats MasterTransitions=%d Sent=%d SentPriZero=%d, trace %d %d %d",
					n, vr, st.MasterTransitions, st.SentAdvertisements, st.SentPriZeroPackets, toMaster, sends, sends0)
			}
			if st.RcvdAdvertisements != d.Adverts || st.RcvdPriZeroPackets != d.PriorityZero {
				badf("%s %v: stats Rcvd=%d RcvdPriZero=%d, delivered %d %d", n, vr, st.RcvdAdvertisements, st.RcvdPriZeroPackets, d.Adverts, d.PriorityZero)
			}
			if st.IPTTLErrors+st.AddressListErrors+st.AdvIntervalErrors+st.PacketLengthErrors+st.AuthErrors+st.RcvdInvalidTypePackets != 0 {
				badf("%s %v: error counters moved: %+v", n, vr, st)
			}
			sent += st.SentAdvertisements
			rcvd += d.Adverts
		}
		if !sc.dup && rcvd > sent*uint64(len(names)-1) {
			badf("%v: %d advertisements delivered, more than %d sent times %d other routers", vr, rcvd, sent, len(names)-1)
		}
	}

	// The hook logs.
	for _, n := range names {
		hooks := s.Hooks(n)
		last := map[VR]int{}
		gone := map[VR]bool{}
		removals := map[VR]int{} // while the node ran (a RawRouter to remove it from)
		up := false
		for _, rec := range trace {
			if rec.Node != n {
				continue
			}
			switch rec.Kind {
			case KindStart, KindRestart:
				up = true
			case KindCrash, KindShutdown:
				up = false
			case KindRemoveVR:
				if up {
					removals[rec.VR]++
				}
			}
		}
		for i, h := range hooks {
			if h.Kind == vrrp.HostRemoved {
				removals[h.VR]--
			}
			if gone[h.VR] && h.Kind != vrrp.HostAdded {
				badf("%s %v: hook %v after HostRemoved", n, h.VR, h)
			}
			switch h.Kind {
			case vrrp.HostRemoved:
				gone[h.VR] = true
			case vrrp.HostAdded:
				gone[h.VR] = false
			case vrrp.HostTransition:
				if h.To == vrrp.Master {
					j := i + 1
					for j < len(hooks) && hooks[j].VR != h.VR {
						j++
					}
					if j == len(hooks) || hooks[j].Kind != vrrp.HostTake {
						badf("%s %v: %v not followed by HostTake", n, h.VR, h)
					}
				}
				if h.From == vrrp.Master {
					if j, ok := last[h.VR]; !ok || hooks[j].Kind != vrrp.HostRelease {
						badf("%s %v: %v not preceded by HostRelease", n, h.VR, h)
					}
				}
			}
			last[h.VR] = i
		}
		for vr, d := range removals {
			if d != 0 {
				badf("%s %v: %d more RemoveVR on the running node than HostRemoved", n, vr, d)
			}
		}
	}
	for _, n := range names {
		if e := s.NodeErrors(n); e.ParseErrors != 0 {
			badf("%s: %d packets failed to parse", n, e.ParseErrors)
		}
	}
	return bad
}

func TestChaosRuntime(t *testing.T) {
	if *flagRTSeed >= 0 {
		sc := newRTScenario(uint64(*flagRTSeed))
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
		return
	}
	n := rtSeeds()
	type result struct {
		sc  *rtScenario
		bad []string
	}
	results := make([]result, n+1)
	seeds := make(chan uint64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	did := map[string]int{}
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				sc := newRTScenario(seed)
				_, bad := sc.run()
				results[seed] = result{sc, bad}
				mu.Lock()
				for k, v := range sc.did {
					did[k] += v
				}
				mu.Unlock()
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
		if r.sc == nil || len(r.bad) == 0 {
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
		t.Errorf("runtime chaos seed %d failed: %s\n\t%s\n\treplay: go test ./internal/sim -run 'TestChaosRuntime$' -rtseed %d -v",
			r.sc.seed, r.sc, strings.Join(bad, "\n\t"), r.sc.seed)
	}
	if failed > 0 {
		t.Errorf("%d of %d scenarios failed", failed, n)
	}
	// The chaos must do what it claims: every kind of fault, often.
	for _, k := range []string{"crash", "restart", "shutdown", "priority", "fault", "add", "remove", "ifdown"} {
		if did[k] < n/10 {
			t.Errorf("%d %s faults in %d scenarios: the chaos does too little", did[k], k, n)
		}
	}
}

// Same seed, same trace and hook logs.
func TestDeterminismRuntime(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		a, _ := newRTScenario(seed).run()
		b, _ := newRTScenario(seed).run()
		if diff := cmp.Diff(a.Trace(), b.Trace()); diff != "" {
			t.Fatalf("seed %d: two runs differ (-first +second):\n%s", seed, diff)
		}
		for _, n := range a.Nodes() {
			if diff := cmp.Diff(a.Hooks(n), b.Hooks(n)); diff != "" {
				t.Fatalf("seed %d %s: two runs' hook logs differ (-first +second):\n%s", seed, n, diff)
			}
		}
	}
}
