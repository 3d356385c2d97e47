package main

import (
	"fmt"
	"time"

	"github.com/govrrp/govrrp/internal/sim"
	"github.com/govrrp/govrrp/vrrp"
)

// The replay: an independent model of RFC 9568 sections 6.4.1 to 6.4.3,
// written from the RFC and not from the Machine, is run over the trace.
// For every router and virtual router it follows what the router
// accepted (sim.KindReceive records) and decides, at each instant, what
// the RFC makes it do: when Master_Down_Timer expires (Master_Down_Interval
// after the last advertisement of a priority at least its own, Skew_Time
// after a priority 0, Master_Down_Interval after startup), when it steps
// down (an advertisement of a higher priority as master), what it sends
// (every Advertisement_Interval as master; at once on a priority 0 and,
// RFC 9568 only, on a lower priority) and when it announces. Every record
// the simulator wrote must be one the model expects, at the same
// instant, and every timer the model runs must have fired. Under loss this
// is what makes a takeover "right": it is timed from what the router
// actually heard, not from what was sent.
//
// The model covers this program's configuration only: VRRPv3, Preempt_Mode
// on, no preempt delay, no address owner, one Advertisement_Interval.

type vrKey struct {
	node string
	vr   sim.VR
}

type violation struct {
	k   vrKey
	at  time.Duration
	msg string
}

func (v violation) String() string {
	return fmt.Sprintf("%s %v at %s: %s", v.k.node, v.k.vr, ts(v.at), v.msg)
}

type replayCounts struct {
	receives, transitions, sends, announces int
}

// model is the replay's state of one virtual router on one router.
type model struct {
	st         vrrp.State    // Initialize while the router is down
	timer      time.Duration // Backup: when Master_Down_Timer expires; -1 unknown
	next       time.Duration // Master: when Adver_Timer fires; -1 unknown
	preempting bool          // Backup: discarded a lower priority since the last reset
}

// replay runs the model over the trace up to and including virtual time
// upTo, which must not be after the simulator's clock, and returns every
// disagreement.
func (d *demo) replay(upTo time.Duration) ([]violation, replayCounts) {
	vs, n, _ := d.replayModels(upTo)
	return vs, n
}

// replayModels is replay that also returns the model of every virtual
// router on every router at upTo.
func (d *demo) replayModels(upTo time.Duration) ([]violation, replayCounts, map[vrKey]*model) {
	var (
		vs  []violation
		n   replayCounts
		tr  = d.s.Trace()
		ms  = map[vrKey]*model{}
		all []vrKey
	)
	for _, name := range d.names {
		for _, vr := range d.vrs {
			k := vrKey{name, vr}
			ms[k] = &model{st: vrrp.Initialize, timer: -1, next: -1}
			all = append(all, k)
		}
	}
	bad := func(k vrKey, at time.Duration, format string, args ...any) {
		vs = append(vs, violation{k, at, fmt.Sprintf(format, args...)})
	}
	// overdue reports the timers the model runs that should have fired
	// before t (or at t, if inclusive), and forgets them.
	overdue := func(t time.Duration, inclusive bool) {
		due := func(at time.Duration) bool { return at >= 0 && (at < t || inclusive && at == t) }
		for _, k := range all {
			m := ms[k]
			if m.st == vrrp.Backup && due(m.timer) {
				bad(k, m.timer, "Master_Down_Timer expired and it did not become master")
				m.timer = -1
			}
			if m.st == vrrp.Master && due(m.next) {
				bad(k, m.next, "Adver_Timer fired and it did not advertise")
				m.next = -1
			}
		}
	}
	count := func(r sim.Record) {
		switch r.Kind {
		case sim.KindReceive:
			n.receives++
		case sim.KindTransition:
			n.transitions++
		case sim.KindSend:
			n.sends++
		case sim.KindAnnounce:
			n.announces++
		}
	}
	i := 0
	// expect consumes the next record if it is k's, at t, and matches; it
	// reports a violation otherwise.
	expect := func(k vrKey, t time.Duration, what string, match func(sim.Record) bool) bool {
		if i < len(tr) && tr[i].At == t && tr[i].Node == k.node && tr[i].VR == k.vr && match(tr[i]) {
			count(tr[i])
			i++
			return true
		}
		bad(k, t, "it did not %s", what)
		return false
	}
	sends := func(prio uint8) func(sim.Record) bool {
		return func(r sim.Record) bool { return r.Kind == sim.KindSend && r.Priority == prio }
	}
	announces := func(r sim.Record) bool { return r.Kind == sim.KindAnnounce }
	// transition matches a transition to state to for reason, from any
	// state if from is to.
	transition := func(from, to vrrp.State, reason vrrp.Reason) func(sim.Record) bool {
		return func(r sim.Record) bool {
			return r.Kind == sim.KindTransition && (from == to || r.From == from) && r.To == to && r.Reason == reason
		}
	}
	for i < len(tr) && tr[i].At <= upTo {
		r := tr[i]
		i++
		count(r)
		overdue(r.At, false)
		switch r.Kind {
		case sim.KindStart, sim.KindRestart:
			// RFC 9568 section 6.4.1: a non-owner enters Backup and sets
			// Master_Down_Timer to Master_Down_Interval.
			for _, vr := range d.vrs {
				k := vrKey{r.Node, vr}
				expect(k, r.At, "enter Backup at startup", transition(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart))
				*ms[k] = model{st: vrrp.Backup, timer: r.At + d.mdi(d.prio(r.Node)), next: -1}
			}
		case sim.KindCrash:
			for _, vr := range d.vrs {
				*ms[vrKey{r.Node, vr}] = model{st: vrrp.Initialize, timer: -1, next: -1}
			}
		case sim.KindShutdown:
			// Section 6.4.3: a master that shuts down sends priority 0.
			for _, vr := range d.vrs {
				k := vrKey{r.Node, vr}
				m := ms[k]
				if m.st == vrrp.Master {
					expect(k, r.At, "send a priority-0 advertisement on shutdown", sends(0))
				}
				if m.st != vrrp.Initialize {
					expect(k, r.At, "enter Initialize on shutdown", transition(vrrp.Initialize, vrrp.Initialize, vrrp.ReasonShutdown))
				}
				*m = model{st: vrrp.Initialize, timer: -1, next: -1}
			}
		case sim.KindReceive:
			k := vrKey{r.Node, r.VR}
			m := ms[k]
			p := d.prio(r.Node)
			switch m.st {
			case vrrp.Backup:
				// Section 6.4.2.
				switch {
				case r.Priority == 0:
					m.timer, m.preempting = r.At+d.skew(p), false
				case r.Priority >= p:
					m.timer, m.preempting = r.At+d.mdi(p), false
				default: // Preempt_Mode: discard
					m.preempting = true
				}
			case vrrp.Master:
				// Section 6.4.3.
				higher := r.Priority > p || r.Priority == p &&
					d.s.Config(r.Sender, r.VR).Primary.Compare(d.s.Config(r.Node, r.VR).Primary) > 0
				switch {
				case r.Priority == 0:
					expect(k, r.At, "answer a priority-0 advertisement with an advertisement", sends(p))
					m.next = r.At + d.iv
				case higher:
					expect(k, r.At, fmt.Sprintf("step down on hearing priority %d", r.Priority), transition(vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority))
					*m = model{st: vrrp.Backup, timer: r.At + d.mdi(p), next: -1}
				default:
					expect(k, r.At, fmt.Sprintf("re-advertise at once on hearing priority %d (RFC 9568 section 6.4.3)", r.Priority), sends(p))
					expect(k, r.At, fmt.Sprintf("announce on hearing priority %d", r.Priority), announces)
				}
			default:
				bad(k, r.At, "it accepted an advertisement in state %v", m.st)
			}
		case sim.KindTransition:
			// Not a reaction to a record above: only Master_Down_Timer.
			k := vrKey{r.Node, r.VR}
			m := ms[k]
			if r.From == vrrp.Backup && r.To == vrrp.Master && m.st == vrrp.Backup && m.timer == r.At {
				want := vrrp.ReasonMasterNoResponse
				if m.preempting {
					want = vrrp.ReasonPreempted
				}
				if r.Reason != want {
					bad(k, r.At, "it became master for reason %v, want %v", r.Reason, want)
				}
				*m = model{st: vrrp.Master, timer: -1, next: r.At + d.iv}
				p := d.prio(r.Node)
				expect(k, r.At, "advertise on becoming master", sends(p))
				expect(k, r.At, "announce on becoming master", announces)
				continue
			}
			bad(k, r.At, "it went %v -> %v (%v), which nothing it received or no timer of its explains", r.From, r.To, r.Reason)
			*m = model{st: r.To, timer: -1, next: -1}
		case sim.KindSend:
			k := vrKey{r.Node, r.VR}
			m := ms[k]
			if m.st == vrrp.Master && r.Priority == d.prio(r.Node) && (m.next == r.At || m.next < 0) {
				m.next = r.At + d.iv
				continue
			}
			bad(k, r.At, "it advertised priority %d, which nothing it received or no timer of its explains", r.Priority)
		case sim.KindAnnounce:
			bad(vrKey{r.Node, r.VR}, r.At, "it announced, which nothing it received or no timer of its explains")
		}
	}
	overdue(upTo, true)
	return vs, n, ms
}

// violationsOf returns the violations of the given routers for vr.
func violationsOf(vs []violation, vr sim.VR, nodes ...string) []violation {
	var out []violation
	for _, v := range vs {
		for _, n := range nodes {
			if v.k == (vrKey{n, vr}) {
				out = append(out, v)
			}
		}
	}
	return out
}
