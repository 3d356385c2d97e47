//go:build linux

package interop

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/vrrpdtest"
	"github.com/govrrp/govrrp/packet"
)

// waitTimeout bounds every wait for a state; it is a hang guard, not a
// timing assertion (those are made on the capture).
const waitTimeout = 20 * time.Second

// runNeed is the longest one run of a scenario (one setup, one pairing)
// can take on a loaded machine: a lifecycle takes about 25 s (VRRPv2) on
// an idle one, and its hang guards add up to a few times waitTimeout.
const runNeed = 2 * time.Minute

// A node is one VRRP speaker of a test, vrrpd or keepalived.
type node interface {
	Kind() string // "vrrpd" or "keepalived"
	Host() *netlab.Host
	Priority() int
	// State is the last state the daemon reported: "MASTER", "BACKUP",
	// or "INIT" before any.
	State() string
	WaitState(ctx context.Context, state string) (time.Time, error)
	HasVIP(netip.Addr) bool
	// States returns every state the daemon reported, in order.
	States() []string
	// Stop ends the daemon gracefully (SIGTERM: priority 0 advert, VIPs
	// removed) and waits for it to exit; Kill crashes it (SIGKILL by PID).
	Stop()
	Kill()
	PID() int
}

// watch makes probe sample how long n waits for a CPU, and returns n.
func watch(probe *keepalived.SchedProbe, n node) node {
	probe.Watch(n.PID(), fmt.Sprintf("%s on %s", n.Kind(), n.Host().Name))
	return n
}

// kaNode adapts a keepalived.Instance.
type kaNode struct {
	*keepalived.Instance
	prio int
}

func (k kaNode) Kind() string       { return "keepalived" }
func (k kaNode) Host() *netlab.Host { return k.Instance.Host }
func (k kaNode) Priority() int      { return k.prio }

var enteringRE = regexp.MustCompile(`\((\S+)\) Entering (\w+) STATE`)

// States parses keepalived's "(VI_51) Entering MASTER STATE" log lines.
func (k kaNode) States() []string {
	var out []string
	for _, l := range k.Log() {
		if m := enteringRE.FindStringSubmatch(l.Text); m != nil && m[1] == k.Config.InstanceName(0) {
			out = append(out, m[2])
		}
	}
	return out
}

func waitState(t testing.TB, n node, state string) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	at, err := n.WaitState(ctx, state)
	if err != nil {
		t.Fatalf("%s on %s (priority %d): %v", n.Kind(), n.Host().Name, n.Priority(), err)
	}
	return at
}

// A setup is one way of running a virtual router: version, family,
// interval, authentication, unicast, checksum form.
type setup struct {
	name     string
	version  int
	ipv6     bool
	interval time.Duration
	authPass string // VRRPv2 simple text password (RFC 2338)
	unicast  bool   // unicast peers: the other VRRP host and the observer
	vrid     int
	vip      netip.Prefix
	// csA and csB are the -checksum forms vrrpd sends on hosts 1 and 2
	// (VRRPv3 over IPv4 only). Against keepalived 2.2.7, which only
	// speaks the pseudo-header form, vrrpd always sends "pseudo".
	csA, csB string
	// kaRFC9568: keepalived in this setup is not the system's 2.2.7 but
	// the keepalived 2.2.8 or later that GOVRRP_KEEPALIVED_RFC9568 names
	// (keepalived.RFC9568Binary), run with v3_checksum_as_v2: it sends the
	// RFC 9568 message-only checksum form (VRRPv3 over IPv4 only).
	kaRFC9568 bool
	// vrrpdOnly: keepalived does not take part (host 1 sends the RFC 9568
	// form, host 2 the pseudo-header form; keepalived 2.2.7 rejects the
	// former, and keepalived with v3_checksum_as_v2 checks neither).
	vrrpdOnly bool
}

// parallel: the VRRPv2 runs (1 s intervals, margins of 120 ms and more)
// mostly wait, so they run in parallel; the 100 ms VRRPv3 runs, whose
// margins are 50 ms, run one at a time.
func (s setup) parallel() bool { return s.version == 2 }

// pause is how long a test lets things run after a state change before
// it checks them: three intervals, at most 1.5 s.
func (s setup) pause() time.Duration { return min(3*s.interval, 1500*time.Millisecond) }

// src returns the address host h sends advertisements from: its primary
// IPv4 address, or its link-local address for IPv6 (RFC 9568 Section
// 5.1.2.1).
func (s setup) src(h *netlab.Host) netip.Addr {
	if s.ipv6 {
		return h.LinkLocal()
	}
	return h.Addr4
}

// peers returns the unicast peers of VRRP host i (1 or 2): the other VRRP
// host and the observer, host 3, so that the observer's capture sees the
// unicast adverts (the bridge forwards unicast frames only to their
// destination). The observer runs no VRRP.
func (s setup) peers(lab *netlab.Lab, i int) []netip.Addr {
	if !s.unicast {
		return nil
	}
	var out []netip.Addr
	for _, j := range []int{1, 2, 3} {
		if j != i {
			out = append(out, s.addrOf(lab.Host(j)))
		}
	}
	return out
}

func (s setup) addrOf(h *netlab.Host) netip.Addr {
	if s.ipv6 {
		return h.Addr6
	}
	return h.Addr4
}

// skew is Skew_Time for priority prio with Master_Adv_Interval equal to
// the configured interval: RFC 9568 Section 6.1, ((256 - Priority) *
// Master_Adv_Interval) / 256; RFC 3768 Section 6.1, (256 - Priority) /
// 256 seconds.
func (s setup) skew(prio int) time.Duration {
	if s.version == 2 {
		return time.Duration(256-prio) * time.Second / 256
	}
	return time.Duration(256-prio) * s.interval / 256
}

// masterDown is Master_Down_Interval: 3 * Master_Adv_Interval + Skew_Time
// (RFC 9568 Section 6.1; RFC 3768 Section 6.1 with Advertisement_Interval).
func (s setup) masterDown(prio int) time.Duration { return 3*s.interval + s.skew(prio) }

// margin is the slack every timing assertion allows on top of the RFC
// figure: max(50 ms, 20% of it).
func margin(bound time.Duration) time.Duration { return max(50*time.Millisecond, bound/5) }

// form returns the checksum form the node on host i (1 or 2) of kind
// sends, and the -checksum flag vrrpd gets for it ("" for none).
func (s setup) form(kind string, i int) (packet.Checksum, string) {
	switch {
	case s.version == 2:
		return packet.ChecksumMessage, ""
	case s.ipv6:
		return packet.ChecksumPseudoHeader, ""
	case kind == "keepalived" && s.kaRFC9568:
		return packet.ChecksumMessage, ""
	case kind == "keepalived":
		return packet.ChecksumPseudoHeader, ""
	}
	cs := s.csA
	if i == 2 {
		cs = s.csB
	}
	switch cs {
	case "rfc9568":
		return packet.ChecksumMessage, cs
	case "pseudo":
		return packet.ChecksumPseudoHeader, cs
	}
	panic("setup " + s.name + ": no checksum form for vrrpd on host " + fmt.Sprint(i))
}

// start runs kind ("vrrpd" or "keepalived") on host i of lab with
// priority prio.
func (s setup) start(t testing.TB, lab *netlab.Lab, i int, kind string, prio int, nopreempt bool) node {
	t.Helper()
	h := lab.Host(i)
	var src netip.Addr
	if s.unicast {
		src = s.addrOf(h)
	}
	switch kind {
	case "vrrpd":
		_, cs := s.form(kind, i)
		return startVrrpd(t, h, vrrpdtest.Options{
			VRID: s.vrid, Priority: prio, Version: s.version, Interval: s.interval,
			NoPreempt: nopreempt, AuthPass: s.authPass, Peers: s.peers(lab, i), Src: src,
			Checksum: cs, VIPs: []netip.Prefix{s.vip},
		})
	case "keepalived":
		cfg := keepalived.Config{
			Version:         s.version,
			GARPMasterDelay: new(int), // no second GARP burst 5 s later
			Instances: []keepalived.VRRPInstance{{
				VRID: s.vrid, Priority: prio, AdvertInterval: s.interval, NoPreempt: nopreempt,
				AuthPass: s.authPass, UnicastSrc: src, UnicastPeers: s.peers(lab, i),
				V3ChecksumAsV2: s.kaRFC9568,
				VIPs:           []netip.Prefix{s.vip},
			}},
		}
		if s.kaRFC9568 {
			return kaNode{keepalived.StartBinary(t, h, keepalived.RFC9568Binary(t), cfg), prio}
		}
		return kaNode{keepalived.Start(t, h, cfg), prio}
	}
	panic("unknown kind " + kind)
}

// announcerMACs returns the source MACs a gratuitous ARP / unsolicited NA
// of host h may come from: its own, or the virtual router MAC
// (00-00-5E-00-01-{VRID}, IPv6 00-00-5E-00-02-{VRID}; RFC 9568 Section 7.3).
func (s setup) announcerMACs(h *netlab.Host) []string {
	v := net.HardwareAddr{0, 0, 0x5e, 0, 1, byte(s.vrid)}
	if s.ipv6 {
		v[4] = 2
	}
	return []string{h.MAC.String(), v.String()}
}

// checkRoles checks that master reports MASTER and backup BACKUP, and
// that the VIP is (within a short hang guard) on the master's host only.
func (s setup) checkRoles(t testing.TB, master, backup node) {
	t.Helper()
	if got := master.State(); got != "MASTER" {
		t.Errorf("%s on %s (priority %d): state %s, want MASTER", master.Kind(), master.Host().Name, master.Priority(), got)
	}
	if got := backup.State(); got != "BACKUP" {
		t.Errorf("%s on %s (priority %d): state %s, want BACKUP", backup.Kind(), backup.Host().Name, backup.Priority(), got)
	}
	vip := s.vip.Addr()
	eventually(t, 2*time.Second, func() error {
		var errs []string
		if !master.HasVIP(vip) {
			errs = append(errs, fmt.Sprintf("master %s on %s lacks VIP %v", master.Kind(), master.Host().Name, vip))
		}
		if backup.HasVIP(vip) {
			errs = append(errs, fmt.Sprintf("backup %s on %s holds VIP %v", backup.Kind(), backup.Host().Name, vip))
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s", strings.Join(errs, "; "))
		}
		return nil
	})
}

// eventually polls cond until it returns nil or within has passed (a hang
// guard), and reports its last error then.
func eventually(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%v (still, after %v)", err, within)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leftMaster returns the earliest time at which n, master before after,
// recorded that it had left MASTER after after, and where that record
// comes from: the daemon's own log when it has one (vrrpd's "vrrp
// transition" line, stamped by vrrpd; keepalived's "Entering BACKUP
// STATE", stamped when the test read it), else notified, the time its
// notify script recorded BACKUP. Every one of these comes after the
// daemon processed the advertisement that made it leave.
func leftMaster(n node, after, notified time.Time) (time.Time, string) {
	at, how := notified, "its notify script"
	if l, ok := n.(interface {
		loggedLeftMaster(after time.Time) (time.Time, bool)
	}); ok {
		if x, ok := l.loggedLeftMaster(after); ok && x.Before(at) {
			at, how = x, "its log"
		}
	}
	return at, how
}

// vrrpdTransitionRE matches vrrpd's log line of a transition out of
// MASTER (slog's text format; the time has milliseconds).
var vrrpdTransitionRE = regexp.MustCompile(`^time=(\S+) .*msg="vrrp transition" .*\bfrom=Master to=(\w+)`)

// loggedLeftMaster returns the time of vrrpd's first log line of a
// transition out of MASTER after after, rounded up to the next
// millisecond (slog truncates it).
func (d vrrpd) loggedLeftMaster(after time.Time) (time.Time, bool) {
	return parseLeftMaster(d.Log(), after)
}

func parseLeftMaster(log string, after time.Time) (time.Time, bool) {
	for _, l := range strings.Split(log, "\n") {
		m := vrrpdTransitionRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		at = at.Truncate(time.Millisecond).Add(time.Millisecond)
		if at.After(after) {
			return at, true
		}
	}
	return time.Time{}, false
}

// loggedLeftMaster returns the time the test read keepalived's first
// "Entering BACKUP STATE" (or FAULT) line of its instance after after.
func (k kaNode) loggedLeftMaster(after time.Time) (time.Time, bool) {
	for _, l := range k.Log() {
		m := enteringRE.FindStringSubmatch(l.Text)
		if m != nil && m[1] == k.Config.InstanceName(0) && m[2] != "MASTER" && l.Time.After(after) {
			return l.Time, true
		}
	}
	return time.Time{}, false
}

// handledStop returns when n, sent SIGTERM at term, recorded handling it,
// and where that record comes from: vrrpd's log line of its transition
// out of MASTER (to Initialize), keepalived's "Stopping" as the test read
// it. Without either it returns term itself: nothing may then go out
// after SIGTERM but the priority 0 advertisement.
func handledStop(n node, term time.Time) (time.Time, string) {
	switch d := n.(type) {
	case vrrpd:
		if at, ok := parseLeftMaster(d.Log(), term); ok {
			return at, "its log"
		}
	case kaNode:
		for _, l := range d.Log() {
			if l.Time.After(term) && (strings.TrimSpace(l.Text) == "Stopping" || strings.HasSuffix(l.Text, ": Stopping")) {
				return l.Time, "its log"
			}
		}
	}
	return term, "SIGTERM"
}

// masterAgain returns the spans in which n, which left MASTER at left,
// was master again by its own log before until: from each transition to
// MASTER to the next one out of it (or until). vrrpd stamps its lines
// (to the millisecond, rounded to include the whole millisecond);
// keepalived's are stamped when the test read them.
func masterAgain(n node, left, until time.Time) []span {
	type tr struct {
		at       time.Time
		toMaster bool
	}
	var trs []tr
	switch d := n.(type) {
	case vrrpd:
		for _, l := range strings.Split(d.Log(), "\n") {
			m := vrrpdAnyTransitionRE.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil {
				continue
			}
			at = at.Truncate(time.Millisecond)
			if m[3] == "Master" {
				trs = append(trs, tr{at, true})
			} else if m[2] == "Master" {
				trs = append(trs, tr{at.Add(time.Millisecond), false})
			}
		}
	case kaNode:
		for _, l := range d.Log() {
			if m := enteringRE.FindStringSubmatch(l.Text); m != nil && m[1] == d.Config.InstanceName(0) {
				trs = append(trs, tr{l.Time, m[2] == "MASTER"})
			}
		}
	}
	var out []span
	var start time.Time
	for _, x := range trs {
		if !x.at.After(left) || x.at.After(until) {
			continue
		}
		switch {
		case x.toMaster && start.IsZero():
			start = x.at
		case !x.toMaster && !start.IsZero():
			out = append(out, span{start, x.at})
			start = time.Time{}
		}
	}
	if !start.IsZero() {
		out = append(out, span{start, until})
	}
	return out
}

// vrrpdAnyTransitionRE matches every vrrpd transition log line.
var vrrpdAnyTransitionRE = regexp.MustCompile(`^time=(\S+) .*msg="vrrp transition" .*\bfrom=(\w+) to=(\w+)`)
