package main

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govrrp/govrrp/arpnd"
	"github.com/govrrp/govrrp/vrrp"
)

// Second responders. While an instance is MASTER, vrrpd probes each of
// its virtual addresses every probe_interval (arpnd.Prober: an RFC 5227
// ARP probe for IPv4, a Neighbor Solicitation to the solicited-node group
// for IPv6) and raises an alarm for an address when a MAC that is not
// this router's answers: not the interface's MAC, not the virtual MAC of
// the instance's VRID (arpnd.VirtualMAC; -vmac's macvlan carries it). That
// is a host still holding the address (a stale configuration, a backup
// that did not release it, another cluster): neighbours then send part of
// the virtual router's traffic there, and no VRRP packet shows it.
//
// The alarm is raised as soon as the answer arrives, logged at warn once
// per episode (with the address, the MAC and the interface; another MAC
// joining the episode is a line at info), shown in the
// status (InstanceStatus.SecondResponders) and the metrics
// (vrrp_second_responder, _episodes_total, _answers_total); it clears,
// with a line at info, after two whole rounds in a row without such an
// answer (quietToClear: at most three intervals after the other host let
// the address go; one lost answer does not make two episodes), or when
// the instance stops being master.
//
// Probing runs on a goroutine of its own, never on the Router's: a round
// sends the probes of every master instance together
// (arpnd.Prober.SendBatch: one sendmmsg per 128 probes on Linux), answers
// come on the Prober's reader goroutine, and neither ever waits for the
// protocol.

// probeSystem is implemented by a system that can probe the link for the
// holders of an address (linuxSystem, with arpnd.Prober).
type probeSystem interface {
	// Prober returns the system's prober, made on the first call; the
	// system's Close closes it.
	Prober() (*arpnd.Prober, error)
}

// Probe interval: probe_interval / -probe-interval.
const (
	defaultProbeInterval = 2 * time.Second
	minProbeInterval     = 100 * time.Millisecond
	maxProbeInterval     = 10 * time.Second
	probeIntervalAllowed = `"off" or 0 (no probing), or a Go duration 100ms-10s (default 2s)`
)

// parseProbeInterval parses a probe_interval value: "off", "0" or a
// duration of 0 turn probing off (0 returned).
func parseProbeInterval(s string) (time.Duration, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "off", "0":
		return 0, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > 0 && (d < minProbeInterval || d > maxProbeInterval) {
		return 0, false
	}
	return d, true
}

// instProbe is what vrrpd probes for an instance, and what it found.
type instProbe struct {
	// master is set by the Transition hook: probe only while master.
	master atomic.Bool

	mu      sync.Mutex
	removed bool        // the instance is gone: never probe again
	addErr  bool        // an Add failed during this mastership (logged once)
	vips    []*vipProbe // while master and probing; nil otherwise
	// Totals of the Probes closed so far, so that counters never go back.
	sent, sendErrs, answers, episodes uint64
}

// vipProbe is one virtual address being probed.
type vipProbe struct {
	addr netip.Addr
	pr   *arpnd.Probe
	// The alarm: a MAC not ours answered, and not quietToClear quiet
	// rounds since (quiet counts them).
	alarm bool
	// sent: the probe of the current round went out (a round without
	// one is not quiet, it is unknown). Beside alarm: 96 B in all, not
	// 104 in the 112 B size class (one per virtual address, issue 12).
	sent  bool
	quiet int
	since time.Time
	macs  []string // at most maxAlarmMACs, first heard first
}

const maxAlarmMACs = 4

// quietToClear is how many rounds in a row without an answer from another
// MAC clear an alarm: two, so that one lost or late answer (a loaded
// host, a lossy link) does not end an episode and start another.
const quietToClear = 2

// SecondResponder is an address of InstanceStatus.SecondResponders: a MAC
// that is not this router's answers for it.
type SecondResponder struct {
	Address string `json:"address"`
	// MACs are the MACs that answered in this episode (at most 4).
	MACs  []string  `json:"macs"`
	Since time.Time `json:"since"`
}

// ProbeStatus is InstanceStatus.Probe: the probing's counters.
type ProbeStatus struct {
	// Sent counts probes sent, SendErrors those that failed; Answers
	// counts answers from MACs not ours; Episodes counts alarms raised.
	Sent       uint64 `json:"sent"`
	SendErrors uint64 `json:"send_errors"`
	Answers    uint64 `json:"answers"`
	Episodes   uint64 `json:"episodes"`
}

// probeSnap is an instance's probing in a snapshot.
type probeSnap struct {
	On     bool // probing is configured and the system can probe
	Status ProbeStatus
	// Alarms are the addresses a second responder answers for.
	Alarms []SecondResponder
}

// figures returns ip's counters and alarms.
func (ip *instProbe) figures() (ProbeStatus, []SecondResponder) {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	st := ProbeStatus{Sent: ip.sent, SendErrors: ip.sendErrs, Answers: ip.answers, Episodes: ip.episodes}
	var alarms []SecondResponder
	for _, vp := range ip.vips {
		ps := vp.pr.Stats()
		st.Sent += ps.Sent
		st.SendErrors += ps.SendErrors
		st.Answers += ps.Answers
		if vp.alarm {
			alarms = append(alarms, SecondResponder{Address: vp.addr.String(), MACs: slices.Clone(vp.macs), Since: vp.since})
		}
	}
	return st, alarms
}

// probing reports whether the daemon probes at all: a probe interval and
// a system that can.
func (d *daemon) probing() bool {
	_, ok := d.sys.(probeSystem)
	return ok && d.probeEvery.Load() > 0
}

// probeLoop probes the virtual addresses of every master instance each
// probe interval until ctx is done, then stops every probe. A reload
// that changes the interval wakes it (d.probeWake).
func (d *daemon) probeLoop(ctx context.Context) {
	ps, ok := d.sys.(probeSystem)
	if !ok {
		return
	}
	defer d.stopProbes("vrrpd stopping")
	var (
		p       *arpnd.Prober
		errSeen bool
		round   probeRound
	)
	for {
		every := time.Duration(d.probeEvery.Load())
		if every <= 0 {
			d.stopProbes("probing turned off")
			select {
			case <-ctx.Done():
				return
			case <-d.probeWake:
				continue
			}
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-d.probeWake:
			t.Stop()
			continue
		case <-t.C:
		}
		if p == nil {
			var err error
			if p, err = ps.Prober(); err != nil {
				if !errSeen {
					d.log.Warn("second-responder probing unavailable; retrying every probe interval", "err", err)
					errSeen = true
				}
				p = nil
				continue
			}
			d.prober.Store(p)
		}
		d.probeRound(p, &round, time.Now())
	}
}

// probeRound is the probe loop's scratch, reused from round to round so
// that a quiet round allocates nothing once it has grown (issue 12: 4,094
// addresses every 2 s by default): the instances, and the probes of a
// chunk of the round (probeChunk), their instances and their results.
type probeRound struct {
	vs   []*vrInst
	prs  []*arpnd.Probe
	refs []probeRef
	res  []arpnd.ProbeResult
}

// probeChunk is how many probes of a round go to arpnd.Prober.SendBatch
// at once: a multiple of its 128 frames per sendmmsg, so that a round
// takes as many system calls as in one call. The round's scratch is
// that large, not as large as the round: 4,094 addresses at once held
// 470 kB of it between rounds (issue 12).
const probeChunk = 256

// probeRef is a probe of a round: its address and its instance.
type probeRef struct {
	v  *vrInst
	vp *vipProbe
}

// probeRound runs one round over every instance: it stops the probes of
// an instance that is no longer master, starts those of a new master,
// then ends the round of every address of every master and sends their
// probes, probeChunk at a time (arpnd.Prober.SendBatch: a few sendmmsg
// rather than a sendto per address), taking each chunk's results
// (probeResultLocked).
func (d *daemon) probeRound(p *arpnd.Prober, r *probeRound, now time.Time) {
	d.mu.Lock()
	r.vs = r.vs[:0]
	for _, name := range d.order {
		r.vs = append(r.vs, d.vrs[name])
	}
	d.mu.Unlock()
	r.prs, r.refs = r.prs[:0], r.refs[:0]
	for _, v := range r.vs {
		ip := &v.probe
		ip.mu.Lock()
		switch {
		case ip.removed:
		case !ip.master.Load():
			d.stopProbeLocked(v, "not master")
		default:
			if ip.vips == nil {
				d.startProbeLocked(p, v)
			}
			for _, vp := range ip.vips {
				r.prs = append(r.prs, vp.pr)
				r.refs = append(r.refs, probeRef{v, vp})
			}
		}
		ip.mu.Unlock()
		if len(r.prs) >= probeChunk {
			d.probeSend(p, r, probeChunk, now)
		}
	}
	for len(r.prs) > 0 {
		d.probeSend(p, r, min(len(r.prs), probeChunk), now)
	}
	// Keep no instance alive until the next round.
	clear(r.vs)
}

// probeSend sends the first n probes of r.prs and takes their results,
// leaving the others at the front of r.prs and r.refs.
func (d *daemon) probeSend(p *arpnd.Prober, r *probeRound, n int, now time.Time) {
	if cap(r.res) < n {
		r.res = make([]arpnd.ProbeResult, n)
	}
	res := r.res[:n]
	p.SendBatch(r.prs[:n], res)
	refs := r.refs[:n]
	for i := 0; i < n; {
		v := refs[i].v
		v.probe.mu.Lock()
		for ; i < n && refs[i].v == v; i++ {
			d.probeResultLocked(v, refs[i].vp, res[i], now)
		}
		v.probe.mu.Unlock()
	}
	// Keep no closed Probe, instance or MAC alive until the next round.
	clear(res)
	k := copy(r.prs, r.prs[n:])
	copy(r.refs, r.refs[n:])
	clear(r.prs[k:])
	clear(r.refs[k:])
	r.prs, r.refs = r.prs[:k], r.refs[:k]
}

// probeResultLocked takes the result of vp's probe in a round: the MACs
// heard in the round it ended raise the alarm (OnAnswer raised it
// already, normally), and a round that had its probe and heard no other
// MAC counts towards clearing it (quietToClear). A vp that stopped
// meanwhile (v no longer master) is ignored. Called with v.probe.mu held.
func (d *daemon) probeResultLocked(v *vrInst, vp *vipProbe, r arpnd.ProbeResult, now time.Time) {
	if !slices.Contains(v.probe.vips, vp) {
		return
	}
	probed := vp.sent // the round ending now had its probe
	vp.sent = r.Err == nil
	if r.Err != nil {
		d.logProbeErr(v, vp.addr, r.Err)
	}
	switch {
	case len(r.Heard) > 0:
		for _, m := range r.Heard {
			d.raiseLocked(v, vp, m.String(), now)
		}
	case vp.alarm && probed:
		if vp.quiet++; vp.quiet < quietToClear {
			break
		}
		vp.alarm, vp.quiet = false, 0
		d.log.Info("second responder gone: only this router answers for the address again", "vr", v.in.Name,
			"interface", v.in.Interface, "address", vp.addr, "macs", strings.Join(vp.macs, ","), "for", now.Sub(vp.since).Round(time.Millisecond))
		vp.macs = nil
	}
}

// stopProbes stops probing every instance (why: for the log of an alarm
// that clears with it).
func (d *daemon) stopProbes(why string) {
	d.mu.Lock()
	vs := make([]*vrInst, 0, len(d.vrs))
	for _, v := range d.vrs {
		vs = append(vs, v)
	}
	d.mu.Unlock()
	for _, v := range vs {
		v.probe.mu.Lock()
		d.stopProbeLocked(v, why)
		v.probe.mu.Unlock()
	}
}

// forgetProbe stops probing a removed instance for good.
func (d *daemon) forgetProbe(v *vrInst) {
	v.probe.mu.Lock()
	defer v.probe.mu.Unlock()
	v.probe.removed = true
	d.stopProbeLocked(v, "instance removed")
}

// stopProbeLocked closes v's probes, keeping their counts, and clears its
// alarms with a line each. Called with v.probe.mu held.
func (d *daemon) stopProbeLocked(v *vrInst, why string) {
	ip := &v.probe
	for _, vp := range ip.vips {
		vp.pr.Close()
		ps := vp.pr.Stats()
		ip.sent += ps.Sent
		ip.sendErrs += ps.SendErrors
		ip.answers += ps.Answers
		if vp.alarm {
			d.log.Info("second responder no longer watched", "vr", v.in.Name, "interface", v.in.Interface,
				"address", vp.addr, "macs", strings.Join(vp.macs, ","), "why", why, "for", time.Since(vp.since).Round(time.Millisecond))
		}
	}
	ip.vips = nil
	ip.addErr = false
}

// startProbeLocked adds a probe for each of v's virtual addresses.
// Called with v.probe.mu held.
func (d *daemon) startProbeLocked(p *arpnd.Prober, v *vrInst) {
	ip := &v.probe
	ip.vips = []*vipProbe{}
	own := []net.HardwareAddr{arpnd.VirtualMAC(v.in.VRID, v.in.Family() == vrrp.IPv6)}
	for _, pfx := range v.in.VIPs {
		vp := &vipProbe{addr: pfx.Addr()}
		pr, err := p.Add(arpnd.ProbeTarget{IfIndex: v.conn.ifIndex, Addr: vp.addr, Own: own,
			OnAnswer: func(mac net.HardwareAddr) { d.probeAnswer(v, vp, mac) }})
		if err != nil {
			if !ip.addErr {
				d.log.Warn("cannot probe a virtual address for second responders", "vr", v.in.Name,
					"interface", v.in.Interface, "address", vp.addr, "err", err)
				ip.addErr = true
			}
			continue
		}
		vp.pr = pr
		ip.vips = append(ip.vips, vp)
	}
}

// probeAnswer is a Probe's OnAnswer: a MAC not ours answered for vp.
func (d *daemon) probeAnswer(v *vrInst, vp *vipProbe, mac net.HardwareAddr) {
	v.probe.mu.Lock()
	defer v.probe.mu.Unlock()
	if !slices.Contains(v.probe.vips, vp) {
		return // stopped meanwhile
	}
	d.raiseLocked(v, vp, mac.String(), time.Now())
}

// raiseLocked records that mac answered for vp: the first answer of an
// episode raises the alarm and logs it. Called with v.probe.mu held.
func (d *daemon) raiseLocked(v *vrInst, vp *vipProbe, mac string, now time.Time) {
	vp.quiet = 0
	if !vp.alarm {
		vp.alarm, vp.since, vp.macs = true, now, []string{mac}
		v.probe.episodes++
		d.log.Warn("second responder: another MAC answers for a virtual address of this master", "vr", v.in.Name,
			"interface", v.in.Interface, "vrid", v.in.VRID, "address", vp.addr, "mac", mac)
		return
	}
	if !slices.Contains(vp.macs, mac) && len(vp.macs) < maxAlarmMACs {
		vp.macs = append(vp.macs, mac)
		// The episode's warning is logged: another MAC in it is info.
		d.log.Info("second responder: one more MAC answers for a virtual address of this master", "vr", v.in.Name,
			"interface", v.in.Interface, "vrid", v.in.VRID, "address", vp.addr, "mac", mac)
	}
}

// logProbeErr logs a failed probe at debug level, at most once a second
// per daemon (the counters have them all).
func (d *daemon) logProbeErr(v *vrInst, addr netip.Addr, err error) {
	now := time.Now()
	last := d.probeErrLog.Load()
	if last != 0 && now.UnixNano()-last < int64(time.Second) {
		return
	}
	d.probeErrLog.Store(now.UnixNano())
	d.log.Debug("probe not sent", "vr", v.in.Name, "address", addr, "err", err)
}
