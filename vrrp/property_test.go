package vrrp_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/vrrp"
)

// propertyConfigs are the machines the property test drives.
func propertyConfigs() []vrrp.Config {
	v3 := mtConfig()
	v6 := mtConfig()
	v6.Addrs, v6.Primary = []netip.Addr{mtVIP6LL, mtVIP6}, mtSelf6
	v2 := mtConfigV2()
	v2.AuthType = packet.AuthPass
	copy(v2.AuthData[:], "pw")
	owner := mtConfig()
	owner.Priority = 255
	owner2 := mtConfigV2()
	owner2.Priority = 255
	nopre := mtConfig()
	nopre.NoPreempt = true
	delay := mtConfig()
	delay.Priority, delay.PreemptDelay = 200, 5*time.Second
	fast := mtConfig()
	fast.AdvertInterval, fast.RFC5798 = 10*time.Millisecond, true
	return []vrrp.Config{v3, v6, v2, owner, owner2, nopre, delay, fast}
}

// propertyStep applies one random input to m and returns a description
// and the actions (copied).
func propertyStep(r *rand.Rand, m *vrrp.Machine, cfg vrrp.Config, now time.Time) (string, []vrrp.Action, bool) {
	clone := func(a []vrrp.Action) []vrrp.Action { return append([]vrrp.Action(nil), a...) }
	switch n := r.IntN(100); {
	case n < 5:
		return "Start", clone(m.Start(now)), false
	case n < 8:
		return "Shutdown", clone(m.Shutdown(now)), false
	case n < 30:
		return "Tick", clone(m.Tick(now)), true
	case n < 33:
		p := uint8(r.IntN(256))
		return fmt.Sprintf("SetPriority(%d)", p), func() []vrrp.Action { m.SetPriority(p); return nil }(), false
	case n < 36:
		return "InterfaceDown", clone(m.InterfaceDown(now)), false
	case n < 40:
		return "InterfaceUp", clone(m.InterfaceUp(now)), false
	case n < 42:
		to := vrrp.State(r.IntN(5))
		return fmt.Sprintf("Sync(%v)", to), clone(m.Sync(now, to)), false
	case n < 43:
		held := r.IntN(2) == 0
		return fmt.Sprintf("SetGroupFault(%v)", held), clone(m.SetGroupFault(now, held)), false
	case n < 46:
		errs := []error{packet.ErrShortHeader, packet.ErrShortAddrs, packet.ErrShortAuth, packet.ErrVersion, packet.ErrType,
			packet.ErrNoAddrs, packet.ErrZeroInterval, packet.ErrFamily, packet.ErrChecksum, errors.New("other"), nil,
			fmt.Errorf("wrapped: %w", packet.ErrLength)}
		err := errs[r.IntN(len(errs))]
		m.CountError(err)
		return fmt.Sprintf("CountError(%v)", err), nil, false
	default:
		adv, src, ttl, info := propertyAdv(r, cfg)
		return fmt.Sprintf("Receive(v%d type %d vrid %d prio %d int %d addrs %v auth %d from %v ttl %d info %+v)", adv.Version, adv.Type, adv.VRID, adv.Priority, adv.MaxAdvertInt, adv.Addrs, adv.AuthType, src, ttl, info), clone(m.Receive(now, adv, src, ttl, info)), false
	}
}

// propertyAdv is a random advertisement: mostly valid, often malformed in
// one or several fields.
func propertyAdv(r *rand.Rand, cfg vrrp.Config) (*packet.Advertisement, netip.Addr, int, packet.Info) {
	adv := mtAdv(cfg, []uint8{0, 1, 50, 99, 100, 101, 150, 200, 254, 255}[r.IntN(10)])
	srcs := []netip.Addr{mtLower, mtHigher, mtSelf, mtSelf6, mtPeer6, netip.MustParseAddr("fe80::"), {}, netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("::ffff:10.0.0.2")}
	src := srcs[r.IntN(len(srcs))]
	if cfg.Primary.Is6() && r.IntN(2) == 0 {
		src = []netip.Addr{mtPeer6, netip.MustParseAddr("fe80::ffff"), netip.MustParseAddr("fe80::0:1")}[r.IntN(3)]
	}
	ttl := 255
	info := packet.Info{Checksum: packet.Checksum(r.IntN(4)), NoLinkLocalFirst: r.IntN(4) == 0}
	for range r.IntN(3) {
		switch r.IntN(10) {
		case 0:
			adv.VRID = uint8(r.IntN(3))
		case 1:
			adv.MaxAdvertInt = []uint16{0, 1, 4095, 4096, 65535, 100, 2}[r.IntN(7)]
		case 2:
			adv.Addrs = [][]netip.Addr{nil, {}, {mtVIP6}, {mtVIP, mtVIP6}, {mtOther}, {{}}, {mtVIP, mtVIP}}[r.IntN(7)]
		case 3:
			ttl = []int{0, 1, 254, 256, -1}[r.IntN(5)]
		case 4:
			adv.Version = uint8(r.IntN(5))
		case 5:
			adv.Type = packet.Type(r.IntN(4))
		case 6:
			adv.AuthType = packet.AuthType(r.IntN(3))
			adv.AuthData[r.IntN(8)] = byte(r.IntN(256))
		case 7:
			adv.Priority = uint8(r.IntN(256))
		}
	}
	return adv, src, ttl, info
}

// counters returns the uint64 fields of s by name.
func counters(s vrrp.Stats) map[string]uint64 {
	out := map[string]uint64{}
	v := reflect.ValueOf(s)
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Uint64 {
			out[v.Type().Field(i).Name] = f.Uint()
		}
	}
	return out
}

// TestMachineProperties drives machines with random inputs and random
// time (standing still, creeping, jumping far, going backwards) and checks
// invariants after every step.
func TestMachineProperties(t *testing.T) {
	seeds, steps := 150, 400
	if testing.Short() {
		seeds = 30
	}
	cfgs := propertyConfigs()
	for seed := range seeds {
		for ci, cfg := range cfgs {
			r := rand.New(rand.NewPCG(uint64(seed), uint64(ci)))
			m := mtNew(t, cfg)
			owner := m.Config().Priority == 255
			now := mt0
			held := false
			var trace []string
			fail := func(format string, args ...any) {
				t.Helper()
				n := len(trace)
				t.Fatalf("seed %d config %d after %d steps (last: %v): %s", seed, ci, n, trace[max(0, n-5):], fmt.Sprintf(format, args...))
			}
			for range steps {
				switch k := r.IntN(20); {
				case k < 8:
					if d := m.Deadline(); !d.IsZero() && r.IntN(2) == 0 {
						now = d
					}
				case k < 12:
					now = now.Add(time.Duration(r.Int64N(int64(2 * time.Second))))
				case k < 14:
					now = now.Add(time.Duration(r.Int64N(int64(1000 * time.Hour))))
				case k < 16:
					now = now.Add(-time.Duration(r.Int64N(int64(10 * time.Second))))
				case k == 16:
					now = now.Add(time.Nanosecond)
				}
				before, beforeStats := m.State(), counters(m.Stats())
				desc, acts, isTick := propertyStep(r, m, cfg, now)
				trace = append(trace, desc)
				after := m.State()

				// The transition actions chain from the state before to
				// the state after: one per state change (two when a
				// Receive first fires an overdue timer), each naming the
				// change; a transition to Master carries its RFC 6527
				// reason. Other actions fit the state they occur in. A
				// dropped advertisement ends the input: it changes
				// nothing (a timer fired before it may have).
				var trans []vrrp.Action
				sends, masters := 0, 0
				cur := before
				isRecv := strings.HasPrefix(desc, "Receive(")
				for i, a := range acts {
					switch a.Kind {
					case vrrp.ActTransition:
						trans = append(trans, a)
						if a.From != cur || a.To == cur {
							fail("transition %v in state %v: %v", a, cur, acts)
						}
						cur = a.To
						if a.To == vrrp.Master {
							masters++
							switch a.MasterReason {
							case vrrp.ReasonPriority, vrrp.ReasonPreempted, vrrp.ReasonMasterNoResponse:
							default:
								fail("transition to Master with RFC 6527 reason %v", a.MasterReason)
							}
						} else if a.MasterReason != vrrp.ReasonNone {
							fail("transition %v carries a master reason", a)
						}
					case vrrp.ActTakeAddrs:
						if held || cur != vrrp.Master {
							fail("take while held=%v in %v: %v", held, cur, acts)
						}
						held = true
					case vrrp.ActReleaseAddrs:
						if !held {
							fail("release while not held: %v", acts)
						}
						held = false
					case vrrp.ActSend:
						sends++
						if a.Priority == 0 && !(cur == vrrp.Master && after != vrrp.Master) {
							fail("priority-0 advertisement without leaving Master: %v", acts)
						}
						if a.Priority != 0 && (a.Priority != m.Priority() || cur != vrrp.Master) {
							fail("sent priority %d in %v, machine priority %d", a.Priority, cur, m.Priority())
						}
					case vrrp.ActAnnounce:
						if cur != vrrp.Master {
							fail("announce in %v", cur)
						}
					case vrrp.ActDrop:
						if !isRecv || i != len(acts)-1 || a.Anomaly == vrrp.AnomalyNone {
							fail("drop %v not the last action of a Receive: %v", a, acts)
						}
					case vrrp.ActNotice:
						if !isRecv || a.Anomaly == vrrp.AnomalyNone {
							fail("notice %v outside Receive: %v", a, acts)
						}
					default:
						fail("unknown action %v", a)
					}
				}
				if cur != after {
					fail("transitions %v end in %v, state is %v", trans, cur, after)
				}
				if len(trans) > 2 || len(trans) == 2 && !isRecv {
					fail("transitions %v for one input", trans)
				}
				if held != (after == vrrp.Master) {
					fail("addresses held=%v in state %v", held, after)
				}

				// Timers by state.
				d := m.Deadline()
				switch after {
				case vrrp.Master, vrrp.Backup:
					if d.IsZero() {
						fail("%v without a deadline", after)
					}
					if isTick && !d.After(now) {
						fail("after Tick(%v) the deadline %v has passed", now.Sub(mt0), d.Sub(mt0))
					}
				default:
					if !d.IsZero() {
						fail("%v with deadline %v", after, d)
					}
				}

				// Counters only grow; sends are counted.
				st := m.Stats()
				afterStats := counters(st)
				for k, v := range afterStats {
					if v < beforeStats[k] {
						fail("%s went from %d to %d", k, beforeStats[k], v)
					}
				}
				if got := afterStats["SentAdvertisements"] - beforeStats["SentAdvertisements"]; got != uint64(sends) {
					fail("SentAdvertisements grew by %d for %d sends", got, sends)
				}
				if got := afterStats["MasterTransitions"] - beforeStats["MasterTransitions"]; got != uint64(masters) {
					fail("MasterTransitions grew by %d, want %d", got, masters)
				}

				// Priority and master.
				p := m.Priority()
				if owner && p != 255 || !owner && (p < 1 || p > 254) {
					fail("priority %d (owner %v)", p, owner)
				}
				if after == vrrp.Master && m.Master() != cfg.Primary {
					fail("Master() = %v as master", m.Master())
				}
				if (after == vrrp.Initialize || after == vrrp.Fault) && m.Master().IsValid() {
					fail("Master() = %v in %v", m.Master(), after)
				}
				// The owner leaves Master for Backup only when another
				// owner with a greater primary address beats it (RFC
				// 9568 erratum 8298); VRRPv2 owners discard adverts.
				if owner && before != vrrp.Backup && after == vrrp.Backup &&
					!(before == vrrp.Master && cfg.Version != 2 && len(trans) == 1 && trans[0].Reason == vrrp.ReasonHigherPriority) {
					fail("owner entered Backup: %v", acts)
				}
			}
		}
	}
}
