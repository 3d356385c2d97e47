package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/govrrp/govrrp/packet"
)

// Stats is a snapshot of one virtual router's statistics: the RFC 6527
// vrrpv3StatisticsTable, plus the VRRPv2 authentication counters of RFC
// 2787 and a few telemetry counters of this library. Counters only grow.
type Stats struct {
	// MasterTransitions counts transitions to Master.
	MasterTransitions uint64
	// NewMasterReason is why this router last became master.
	NewMasterReason Reason
	// RcvdAdvertisements counts advertisements received and accepted for
	// processing.
	RcvdAdvertisements uint64
	// AdvIntervalErrors counts advertisements whose interval differs from
	// ours (VRRPv2: dropped; VRRPv3: logged and processed) or is 0.
	AdvIntervalErrors uint64
	// IPTTLErrors counts advertisements whose TTL / hop limit is not 255.
	IPTTLErrors uint64
	// ProtoErrReason is the reason of the last protocol error (RFC 6527:
	// noError, ipTtlError, versionError, checksumError, vrIdError).
	ProtoErrReason ProtoErr
	// RcvdPriZeroPackets and SentPriZeroPackets count priority-0
	// advertisements.
	RcvdPriZeroPackets uint64
	SentPriZeroPackets uint64
	// RcvdInvalidTypePackets counts packets whose type is not
	// ADVERTISEMENT.
	RcvdInvalidTypePackets uint64
	// AddressListErrors counts advertisements whose address list differs
	// from ours, or is empty.
	AddressListErrors uint64
	// PacketLengthErrors counts packets too short for what they claim, and
	// packets whose address family is not the virtual router's.
	PacketLengthErrors uint64
	// RefreshRate is the advertisement interval in use: ours as master,
	// the learned Master_Adv_Interval as backup (RFC 6527, in
	// milliseconds there), zero in Initialize and Fault.
	RefreshRate time.Duration
	// DiscontinuityTime is when the counters were last reset: the time of
	// the machine's first Start (NewMachine takes no time). Zero before.
	DiscontinuityTime time.Time

	// SentAdvertisements counts advertisements sent, priority 0 included.
	SentAdvertisements uint64
	// AuthErrors counts VRRPv2 advertisements dropped because their
	// authentication type or data differ from ours (RFC 2787
	// vrrpStatsAuthFailures + vrrpStatsInvalidAuthType +
	// vrrpStatsAuthTypeMismatch).
	AuthErrors uint64
	// RcvdChecksumPseudo and RcvdChecksumMessage count accepted VRRPv3
	// IPv4 advertisements by checksum form (interop telemetry).
	RcvdChecksumPseudo  uint64
	RcvdChecksumMessage uint64
	// OwnerRcvdAdvertisements counts advertisements the address owner
	// received (VRRPv3: logged and processed, RFC 9568 section 7.1 as
	// corrected by erratum 8298; VRRPv2: discarded, RFC 3768 section 7.1).
	OwnerRcvdAdvertisements uint64
	// NoLinkLocalFirst counts IPv6 advertisements whose first address is
	// not link-local. RFC 9568 section 5.2.9 (and section 7.1 as corrected
	// by erratum 8300) says to discard them; keepalived sends them, so the
	// Machine counts and processes them for interoperability.
	NoLinkLocalFirst uint64
	// SecondMaster counts the advertisements of this VRID heard from
	// another router while master, whatever the priority comparison
	// decided: two masters at once (a split brain, or the moment of a
	// preemption or handover). Counted by the RawRouter, which logs the
	// first of each episode (Note.SecondMaster); the Machine leaves it
	// zero.
	SecondMaster uint64
}

// ProtoErr is RFC 6527 vrrpv3StatisticsProtoErrReason.
type ProtoErr uint8

const (
	ProtoErrNone     ProtoErr = iota // noError
	ProtoErrTTL                      // ipTtlError
	ProtoErrVersion                  // versionError
	ProtoErrChecksum                 // checksumError
	ProtoErrVRID                     // vrIdError
)

// MarshalText implements encoding.TextMarshaler with the RFC 6527 name.
func (p ProtoErr) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for the names
// MarshalText writes.
func (p *ProtoErr) UnmarshalText(b []byte) error {
	for c := ProtoErrNone; c <= ProtoErrVRID; c++ {
		if c.String() == string(b) {
			*p = c
			return nil
		}
	}
	return fmt.Errorf("vrrp: unknown protocol error reason %q", b)
}

func (p ProtoErr) String() string {
	switch p {
	case ProtoErrNone:
		return "noError"
	case ProtoErrTTL:
		return "ipTtlError"
	case ProtoErrVersion:
		return "versionError"
	case ProtoErrChecksum:
		return "checksumError"
	case ProtoErrVRID:
		return "vrIdError"
	}
	return "ProtoErr(?)"
}

// Machine is the state machine of one virtual router, RFC 9568 section 6
// (VRRPv3) and RFC 3768 section 6 (VRRPv2). It is pure: it never reads a
// clock, sleeps, starts a goroutine or touches a socket. Every input takes
// the current time; every output is an Action for the caller to execute.
// Deadline says when to call Tick next.
//
// A Machine is not safe for concurrent use. The slice of actions an input
// returns is valid until the next input.
//
// Behaviour beyond the RFC's pseudo-code, in short:
//
//   - Timers run at full nanosecond precision (see the package doc).
//     VRRPv3 learns Master_Adv_Interval from the master it accepts; VRRPv2
//     uses its configured interval and Skew_Time = (256-Priority)/256 s,
//     independent of the interval (RFC 3768 section 6.1).
//   - A VRRPv3 master that hears a lower priority (or an equal one from a
//     lower primary address) sends an advertisement at once without
//     resetting Adver_Timer (RFC 9568 section 6.4.3); Config.RFC5798 and
//     VRRPv2 (RFC 3768 section 6.4.3) discard it instead. In every
//     version the master also announces its addresses (ActAnnounce; this
//     library's addition, as keepalived's garp_lower_prio_repeat: it
//     repairs host ARP / neighbor caches a short-lived second master may
//     have changed).
//   - Receive reports what it discards (ActDrop) and what RFC 9568
//     section 7.1 says to log (ActNotice), each with an Anomaly, so that
//     the caller can log them; and a Receive at or past Deadline fires
//     the due timer first, as Tick would have.
//   - The VRRPv3 address owner (priority 255) becomes master at Start and
//     processes the advertisements it receives like any router, counting
//     them in OwnerRcvdAdvertisements (RFC 9568 section 7.1 as corrected
//     by erratum 8298): a second, misconfigured owner with a greater
//     primary address makes it step down to Backup, so that two owners
//     elect one master instead of both staying master. The VRRPv2 owner
//     discards every advertisement (RFC 3768 section 7.1). The owner does
//     not leave Master for Sync, and its priority cannot be changed.
//   - Preempt delay (keepalived's preempt_delay): for Config.PreemptDelay
//     after Start or InterfaceUp a backup accepts lower-priority masters as
//     if preemption were off. Deadline includes the end of the delay.
//   - Fault (InterfaceDown) is keepalived's FAULT: a master leaving for it
//     releases its addresses and sends a priority-0 advertisement.
//   - In Initialize and Fault, Receive ignores advertisements and counts
//     nothing; CountError always counts.
type Machine struct {
	cfg   Config
	owner bool // cfg.Priority == 255

	state State
	prio  uint8

	// Timers as absolute deadlines; zero when not running.
	adverTimer   time.Time // Master: Adver_Timer
	downTimer    time.Time // Backup: Master_Down_Timer
	preemptUntil time.Time // Backup: end of the preempt delay

	masterAdvInt time.Duration // Master_Adv_Interval
	skew         time.Duration // Skew_Time
	downInterval time.Duration // Master_Down_Interval

	master     netip.Addr // current master as far as known
	peer       netip.Addr // source of the last accepted advertisement
	peerPrio   uint8      // and its priority
	preempting bool       // a lower-priority advert was discarded since the last accepted one
	ifDown     bool       // InterfaceDown without InterfaceUp
	groupFault bool       // SetGroupFault(true): its sync group is in Fault
	tracked    bool       // SetFault(true): the embedder holds it in Fault
	started    bool       // DiscontinuityTime set

	stats Stats
	acts  []Action
	// shared, when set, is the action buffer of the RawRouter the machine
	// belongs to, which all its machines use in turn (newMachineShared):
	// each machine of 4,094 kept one of its own, 160 B (issue 12). The
	// RawRouter is done with one machine's actions before it calls
	// another machine. nil: acts is the machine's own.
	shared *[]Action
	// adv is the advertisement Advertisement fills in and returns: the
	// RawRouter's one for all its machines (each of 4,094 kept one of
	// its own, 48 B, issue 12), or the machine's own (NewMachine).
	adv *packet.Advertisement
}

// NewMachine validates cfg, fills in its defaults and returns a machine in
// state Initialize. Errors are *ConfigError naming the field.
func NewMachine(cfg Config) (*Machine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	m := newMachineShared(cfg, nil, new(packet.Advertisement))
	m.acts = make([]Action, 0, 4) // grows when an input needs more (issue 12: 160 B per virtual router less)
	return m, nil
}

// newMachineShared is NewMachine, for a configuration with its defaults
// filled in (Config.setDefaults), and for a RawRouter's machine: its
// actions go to the RawRouter's buffer acts, which every machine of the
// RawRouter shares (Machine.shared); nil acts: a buffer of its own, made
// by the first action. Advertisement fills in adv, which the machines of
// a RawRouter share too.
func newMachineShared(cfg Config, acts *[]Action, adv *packet.Advertisement) *Machine {
	m := &Machine{
		cfg:    cfg,
		owner:  cfg.Priority == 255,
		prio:   cfg.Priority,
		shared: acts,
		adv:    adv,
	}
	m.masterAdvInt = cfg.AdvertInterval
	m.recompute()
	return m
}

// Config returns the machine's configuration with defaults filled in.
// Its Addrs must not be modified.
func (m *Machine) Config() Config { return m.cfg }

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority returns the current priority (after SetPriority).
func (m *Machine) Priority() uint8 { return m.prio }

// Master returns the primary address of the current master as far as this
// machine knows: its own Primary as master, the source of the last
// accepted advertisement as backup, or the zero Addr.
func (m *Machine) Master() netip.Addr {
	switch m.state {
	case Master:
		return m.cfg.Primary
	case Backup:
		return m.master
	}
	return netip.Addr{}
}

// Stats returns a snapshot of the statistics.
func (m *Machine) Stats() Stats {
	s := m.stats
	switch m.state {
	case Master:
		s.RefreshRate = m.cfg.AdvertInterval
	case Backup:
		s.RefreshRate = m.masterAdvInt
	}
	return s
}

// Deadline returns when the next timer fires (Adver_Timer as master,
// Master_Down_Timer or the end of the preempt delay as backup), or the
// zero Time when no timer runs (Initialize, Fault). Call Tick at or after
// it.
func (m *Machine) Deadline() time.Time {
	switch m.state {
	case Master:
		return m.adverTimer
	case Backup:
		if !m.preemptUntil.IsZero() && m.preemptUntil.Before(m.downTimer) {
			return m.preemptUntil
		}
		return m.downTimer
	}
	return time.Time{}
}

// Start is the Startup event, RFC 9568 section 6.4.1: the owner becomes
// Master (sending an advertisement and announcing its addresses), any
// other router Backup with Master_Down_Timer running. If the interface is
// down (InterfaceDown before Start) the machine goes to Fault instead.
// Start outside Initialize does nothing.
func (m *Machine) Start(now time.Time) []Action {
	m.resetActs()
	if m.state != Initialize {
		return m.acts
	}
	if !m.started {
		m.started = true
		m.stats.DiscontinuityTime = now
	}
	switch {
	case m.ifDown:
		m.becomeFault(ReasonInterfaceDown)
	case m.tracked:
		m.becomeFault(ReasonTracking)
	case m.groupFault:
		m.becomeFault(ReasonSyncGroup)
	default:
		m.startup(now, ReasonStart)
	}
	return m.acts
}

// startup is the common part of Start and InterfaceUp.
func (m *Machine) startup(now time.Time, reason Reason) {
	m.peer, m.peerPrio = netip.Addr{}, 0
	if m.owner {
		m.becomeMaster(now, reason, ReasonPriority)
		return
	}
	m.masterAdvInt = m.cfg.AdvertInterval
	m.recompute()
	m.master = netip.Addr{}
	if m.cfg.PreemptDelay > 0 && !m.cfg.NoPreempt {
		m.preemptUntil = now.Add(m.cfg.PreemptDelay)
	}
	m.becomeBackup(now, reason)
}

// Shutdown is the Shutdown event, RFC 9568 sections 6.4.2 and 6.4.3: a
// master releases its addresses, sends a priority-0 advertisement and
// becomes Initialize; a backup (or a machine in Fault) just becomes
// Initialize.
func (m *Machine) Shutdown(now time.Time) []Action {
	m.resetActs()
	switch m.state {
	case Master:
		m.leaveMaster()
		m.becomeInitialize()
	case Backup, Fault:
		m.becomeInitialize()
	}
	return m.acts
}

// Tick fires every timer whose deadline is at or before now.
func (m *Machine) Tick(now time.Time) []Action {
	m.resetActs()
	m.fire(now)
	return m.acts
}

// fire fires the timers due at now, appending to m.acts.
func (m *Machine) fire(now time.Time) {
	switch m.state {
	case Master:
		m.tickMaster(now)
	case Backup:
		m.tickBackup(now)
	}
}

// tickMaster: RFC 9568 section 6.4.3, "If the Adver_Timer fires".
func (m *Machine) tickMaster(now time.Time) {
	if now.Before(m.adverTimer) {
		return
	}
	m.send(m.prio)
	m.adverTimer = now.Add(m.cfg.AdvertInterval)
}

// tickBackup: the end of the preempt delay, and RFC 9568 section 6.4.2,
// "If the Active_Down_Timer fires".
func (m *Machine) tickBackup(now time.Time) {
	if !m.preemptUntil.IsZero() && !now.Before(m.preemptUntil) {
		m.preemptUntil = time.Time{}
	}
	if now.Before(m.downTimer) {
		return
	}
	reason := ReasonMasterNoResponse
	if m.preempting {
		reason = ReasonPreempted
	}
	m.becomeMaster(now, reason, reason)
}

// holdForLoss restarts a Backup's Master_Down_Timer from lost when it
// would fire sooner than a full Master_Down_Interval after it, and
// reports whether it did. lost is when the receive queue of the Conn the
// advertisements arrive on was last seen to have dropped packets
// (transport.Meta.Drops): a silence that includes the drop proves
// nothing about the master, only about this host (a process stalled
// while its socket filled). Outside the RFC's state machine, which
// assumes every advertisement sent is either received or lost on the
// link; the RawRouter bounds how long a run of drops can hold the timer
// (maxLossHold). Not in Backup: nothing.
func (m *Machine) holdForLoss(lost time.Time) bool {
	if m.state != Backup {
		return false
	}
	until := lost.Add(m.downInterval)
	if !m.downTimer.Before(until) {
		return false
	}
	m.downTimer = until
	return true
}

// Receive processes an advertisement that parsed and passed its checksum,
// with the IP source and TTL / hop limit it arrived with, and info from
// packet.Unmarshal. It performs the rest of the receive validation of RFC
// 9568 section 7.1 (TTL, version, VRID, v2 authentication and interval,
// address list) and the state machine's reaction.
//
// Dropped without counting: anything in Initialize or Fault, and
// advertisements from our own Primary (looped back). Dropped and counted:
// TTL not 255 (IPTTLErrors, ipTtlError), another version (versionError),
// another VRID (vrIdError), a type other than ADVERTISEMENT (a zero Type
// counts as ADVERTISEMENT, as packet.Append treats it), a source or address
// of another family (PacketLengthErrors, as packet.ErrFamily), no
// addresses (AddressListErrors), interval 0 (AdvIntervalErrors), and for
// VRRPv2 an authentication mismatch (AuthErrors), an interval other than
// ours (AdvIntervalErrors), an address list other than ours from a
// non-owner (AddressListErrors) and any advertisement received by the
// owner (OwnerRcvdAdvertisements), all per RFC 3768 section 7.1. Counted
// and processed (VRRPv3): an interval other than ours, an address list
// other than ours (RFC 9568 section 7.1: "SHOULD log"), an advertisement
// received by the owner (erratum 8298), and, deliberately against
// erratum 8300 for keepalived interoperability, an IPv6 list without a
// link-local first address (NoLinkLocalFirst).
func (m *Machine) Receive(now time.Time, adv *packet.Advertisement, src netip.Addr, ttl int, info packet.Info) []Action {
	m.resetActs()
	if adv == nil || (m.state != Backup && m.state != Master) {
		return m.acts
	}
	// A timer that fell due before the advertisement arrived fires first:
	// the caller ought to have called Tick, and the order of events is
	// what the RFC's state machine sees.
	m.fire(now)
	if !m.validate(adv, src, ttl, info) {
		return m.acts
	}
	if m.state == Master {
		m.stepMaster(now, adv, src)
	} else {
		m.stepBackup(now, adv, src)
	}
	return m.acts
}

// validate performs the receive checks of RFC 9568 section 7.1 and RFC
// 3768 section 7.1 that packet.Unmarshal cannot, counting failures, and
// counts an accepted advertisement.
func (m *Machine) validate(adv *packet.Advertisement, src netip.Addr, ttl int, info packet.Info) bool {
	c := &m.cfg
	if src.WithZone("") == c.Primary.WithZone("") {
		return false // our own advertisement, looped back
	}
	if ttl != packet.TTL {
		m.stats.IPTTLErrors++
		m.stats.ProtoErrReason = ProtoErrTTL
		return m.drop(AnomalyTTL)
	}
	if adv.Version != c.Version {
		m.stats.ProtoErrReason = ProtoErrVersion
		return m.drop(AnomalyVersion)
	}
	if adv.VRID != c.VRID {
		m.stats.ProtoErrReason = ProtoErrVRID
		return m.drop(AnomalyVRID)
	}
	if adv.Type != packet.TypeAdvertisement && adv.Type != 0 {
		m.stats.RcvdInvalidTypePackets++
		return m.drop(AnomalyType)
	}
	v4 := c.Primary.Is4()
	// An IPv4-mapped IPv6 source is an IPv4 packet seen through an IPv6
	// socket: not a VRRP-over-IPv6 advertisement.
	if !src.IsValid() || src.Is4() != v4 || src.Is4In6() {
		m.stats.PacketLengthErrors++
		return m.drop(AnomalyFamily)
	}
	if len(adv.Addrs) == 0 {
		m.stats.AddressListErrors++
		return m.drop(AnomalyNoAddrs)
	}
	for _, a := range adv.Addrs {
		if !a.IsValid() || a.Is4() != v4 || a.Is4In6() {
			m.stats.PacketLengthErrors++
			return m.drop(AnomalyFamily)
		}
	}
	if adv.MaxAdvertInt == 0 {
		m.stats.AdvIntervalErrors++
		return m.drop(AnomalyZeroInterval)
	}
	sameAddrs := equalAddrs(adv.Addrs, c.Addrs)
	if c.ElectionOnly {
		// Each router advertises its own primary address.
		sameAddrs = len(adv.Addrs) == 1 && adv.Addrs[0] == src.WithZone("")
	}
	if c.Version == 2 {
		// RFC 3768 section 7.1.
		if m.owner {
			m.stats.OwnerRcvdAdvertisements++
			return m.drop(AnomalyOwner)
		}
		if adv.AuthType != c.AuthType || (c.AuthType == packet.AuthPass && adv.AuthData != c.AuthData) {
			m.stats.AuthErrors++
			return m.drop(AnomalyAuth)
		}
		if !sameAddrs {
			m.stats.AddressListErrors++
			if adv.Priority != 255 {
				return m.drop(AnomalyAddrList)
			}
			// "MAY" be accepted from the owner: processed, and logged.
			m.notice(AnomalyAddrList)
		}
		if adv.Interval() != c.AdvertInterval {
			m.stats.AdvIntervalErrors++
			return m.drop(AnomalyInterval)
		}
	} else {
		// RFC 9568 section 7.1: log (count) and process.
		if !sameAddrs {
			m.stats.AddressListErrors++
			m.notice(AnomalyAddrList)
		}
		if adv.Interval() != c.AdvertInterval {
			m.stats.AdvIntervalErrors++
			m.notice(AnomalyInterval)
		}
		if m.owner {
			m.stats.OwnerRcvdAdvertisements++
			m.notice(AnomalyOwner)
		}
		if v4 {
			switch info.Checksum {
			case packet.ChecksumPseudoHeader:
				m.stats.RcvdChecksumPseudo++
			case packet.ChecksumMessage:
				m.stats.RcvdChecksumMessage++
			}
		} else if info.NoLinkLocalFirst {
			m.stats.NoLinkLocalFirst++
			m.notice(AnomalyNoLinkLocalFirst)
		}
	}
	m.stats.RcvdAdvertisements++
	if adv.Priority == 0 {
		m.stats.RcvdPriZeroPackets++
	}
	return true
}

// stepBackup is the Backup state's handling of an accepted advertisement,
// RFC 9568 section 6.4.2 and RFC 3768 section 6.4.2.
func (m *Machine) stepBackup(now time.Time, adv *packet.Advertisement, src netip.Addr) {
	if adv.Priority == 0 {
		// "Set the Active_Down_Timer to Skew_Time."
		m.downTimer = now.Add(m.skew)
		m.preempting = false
		m.peer, m.peerPrio = src, 0
		return
	}
	m.peer, m.peerPrio = src, adv.Priority
	if !m.preemptNow(now) || adv.Priority >= m.prio {
		m.learn(adv)
		m.downTimer = now.Add(m.downInterval)
		m.master = src
		m.preempting = false
		return
	}
	// Preempt_Mode and a lower priority: discard; Master_Down_Timer will
	// fire and this router preempts.
	m.preempting = true
}

// preemptNow reports whether Preempt_Mode is in force: on unless
// NoPreempt (the owner always preempts), and not during the preempt delay.
func (m *Machine) preemptNow(now time.Time) bool {
	if m.owner {
		return true
	}
	if m.cfg.NoPreempt {
		return false
	}
	return m.preemptUntil.IsZero() || !now.Before(m.preemptUntil)
}

// stepMaster is the Master state's handling of an accepted advertisement,
// RFC 9568 section 6.4.3 and RFC 3768 section 6.4.3.
func (m *Machine) stepMaster(now time.Time, adv *packet.Advertisement, src netip.Addr) {
	if adv.Priority == 0 {
		// "Send an ADVERTISEMENT; Reset the Adver_Timer."
		m.send(m.prio)
		m.adverTimer = now.Add(m.cfg.AdvertInterval)
		return
	}
	// "If the Priority in the ADVERTISEMENT is greater than the local
	// Priority or the Priority in the ADVERTISEMENT is equal to the local
	// Priority and the primary IPvX address of the sender is greater than
	// the local primary IPvX address (based on an unsigned integer
	// comparison of the IPvX addresses in network byte order)". For two
	// addresses of one family netip.Addr.Compare is exactly that. This
	// applies to the owner too (erratum 8298): only a second owner can
	// beat it.
	better := adv.Priority > m.prio ||
		adv.Priority == m.prio && src.WithZone("").Compare(m.cfg.Primary.WithZone("")) > 0
	if better {
		m.learn(adv)
		m.master = src
		m.peer, m.peerPrio = src, adv.Priority
		m.releaseAddrs()
		m.becomeBackup(now, ReasonHigherPriority)
		return
	}
	// RFC 3768 / RFC 5798: "Discard ADVERTISEMENT". RFC 9568: "Discard
	// the ADVERTISEMENT" and "Send an ADVERTISEMENT immediately to assert
	// the {Active} state to the sending VRRP Router and to update any
	// learning bridges with the correct Active VRRP Router path." The RFC
	// does not reset Adver_Timer here. The announce, in every version, is
	// this library's addition (see the Machine doc).
	if m.cfg.Version == 3 && !m.cfg.RFC5798 {
		m.send(m.prio)
	}
	m.emit(Action{Kind: ActAnnounce})
}

// learn sets Master_Adv_Interval from adv (VRRPv3 only) and recomputes
// Skew_Time and Master_Down_Interval, RFC 9568 section 6.4.2.
func (m *Machine) learn(adv *packet.Advertisement) {
	if m.cfg.Version == 3 {
		m.masterAdvInt = adv.Interval()
	}
	m.recompute()
}

// recompute sets Skew_Time and Master_Down_Interval from the priority and
// Master_Adv_Interval, in nanoseconds (RFC 9568 section 6.1; for VRRPv2
// the skew is (256-Priority)/256 seconds, RFC 3768 section 6.1).
func (m *Machine) recompute() {
	unit := m.masterAdvInt
	if m.cfg.Version == 2 {
		unit = time.Second
	}
	m.skew = time.Duration(256-int64(m.prio)) * unit / 256
	m.downInterval = 3*m.masterAdvInt + m.skew
}

// CountError counts a packet for this virtual router that failed to parse,
// in the RFC 6527 statistic that err (from packet.Unmarshal) maps to:
// packet.ErrLength and packet.ErrFamily to PacketLengthErrors, ErrType to
// RcvdInvalidTypePackets, ErrNoAddrs to AddressListErrors,
// ErrZeroInterval to AdvIntervalErrors, ErrVersion and ErrChecksum to
// ProtoErrReason (the global vrrpv3RouterVersionErrors and
// vrrpv3RouterChecksumErrors are the Router's). Other errors are ignored.
func (m *Machine) CountError(err error) {
	switch {
	case err == nil:
	case errors.Is(err, packet.ErrLength): // packet.ErrFamily matches it too
		m.stats.PacketLengthErrors++
	case errors.Is(err, packet.ErrType):
		m.stats.RcvdInvalidTypePackets++
	case errors.Is(err, packet.ErrNoAddrs):
		m.stats.AddressListErrors++
	case errors.Is(err, packet.ErrZeroInterval):
		m.stats.AdvIntervalErrors++
	case errors.Is(err, packet.ErrVersion):
		m.stats.ProtoErrReason = ProtoErrVersion
	case errors.Is(err, packet.ErrChecksum):
		m.stats.ProtoErrReason = ProtoErrChecksum
	}
}

// SetFault holds the machine in Fault (fault true) because its embedder
// says so (keepalived's FAULT from tracking: a tracked interface or a
// check script with weight 0), or lets it leave (false), with
// ReasonTracking. Held, a master releases its addresses and sends a
// priority-0 advertisement, as InterfaceDown does, and a machine in
// Initialize goes to Fault when it starts. Released, a machine in Fault
// starts as InterfaceUp does unless InterfaceDown or SetGroupFault holds
// it. The three holds are independent: the machine is in Fault (once
// started) while any says so.
func (m *Machine) SetFault(now time.Time, fault bool) []Action {
	m.resetActs()
	if m.tracked == fault {
		return m.acts
	}
	m.tracked = fault
	switch {
	case fault && m.state == Master:
		m.leaveMaster()
		m.becomeFault(ReasonTracking)
	case fault && m.state == Backup:
		m.becomeFault(ReasonTracking)
	case !fault && m.state == Fault && !m.ifDown && !m.groupFault:
		m.startup(now, ReasonTracking)
	}
	return m.acts
}

// SetPriority changes the priority (tracking scripts, interface weights).
// For a non-owner it is clamped to 1-254 (0 is reserved for a leaving
// master, 255 for the owner); the owner's priority stays 255 and the call
// does nothing. It recomputes Skew_Time and Master_Down_Interval, which
// take effect when Master_Down_Timer is next set; a running timer is not
// moved. A master whose priority falls keeps mastership, sending the new
// priority, until a better advertisement arrives. A backup whose priority
// rises above the master's preempts at its next opportunity: it discards
// the master's next (now lower-priority) advertisement and its
// Master_Down_Timer fires (ReasonPreempted). Nothing happens at once, so
// SetPriority has no actions (and needs no time).
func (m *Machine) SetPriority(prio uint8) {
	if m.owner {
		return
	}
	m.prio = min(max(prio, 1), 254)
	m.recompute()
}

// InterfaceDown moves the machine to Fault (keepalived's FAULT): a master
// releases its addresses and sends a priority-0 advertisement (as
// keepalived does). In Initialize it only remembers the interface is down,
// so that Start goes to Fault.
func (m *Machine) InterfaceDown(now time.Time) []Action {
	m.resetActs()
	m.ifDown = true
	switch m.state {
	case Master:
		m.leaveMaster()
		m.becomeFault(ReasonInterfaceDown)
	case Backup:
		m.becomeFault(ReasonInterfaceDown)
	}
	return m.acts
}

// InterfaceUp leaves Fault as Startup would (the owner to Master, others
// to Backup, restarting the preempt delay), with ReasonInterfaceUp, unless
// SetGroupFault holds it there. In Initialize it only clears the down
// flag.
func (m *Machine) InterfaceUp(now time.Time) []Action {
	m.resetActs()
	m.ifDown = false
	if m.state == Fault && !m.groupFault && !m.tracked {
		m.startup(now, ReasonInterfaceUp)
	}
	return m.acts
}

// Sync moves the machine to Master or Backup because another member of its
// sync group did (keepalived's vrrp_sync_group), with ReasonSyncGroup.
// Backup to Master behaves as if Master_Down_Timer fired (NewMasterReason
// priority); Master to Backup releases the addresses, sends nothing and
// starts Master_Down_Timer with Master_Down_Interval for the configured
// interval. The owner does not leave Master. Other targets are ignored; so
// is a machine in Initialize or Fault (see SetGroupFault).
func (m *Machine) Sync(now time.Time, to State) []Action {
	m.resetActs()
	switch {
	case m.state == Backup && to == Master:
		m.becomeMaster(now, ReasonSyncGroup, ReasonPriority)
	case m.state == Master && to == Backup && !m.owner:
		m.masterAdvInt = m.cfg.AdvertInterval
		m.recompute()
		m.master = netip.Addr{}
		m.releaseAddrs()
		m.becomeBackup(now, ReasonSyncGroup)
	}
	return m.acts
}

// SetGroupFault holds the machine in Fault (held true) because another
// member of its sync group is in a fault of its own, as keepalived holds
// a whole vrrp_sync_group in FAULT, or releases that hold (false), with
// ReasonSyncGroup. Held, a master releases its addresses and sends a
// priority-0 advertisement, as InterfaceDown does, and a machine in
// Initialize goes to Fault when it starts. Released, a machine in Fault
// starts as InterfaceUp does unless its own interface is down or SetFault
// holds it. The hold, SetFault and InterfaceDown are independent: the machine is in Fault (once
// started) while either says so.
func (m *Machine) SetGroupFault(now time.Time, held bool) []Action {
	m.resetActs()
	if m.groupFault == held {
		return m.acts
	}
	m.groupFault = held
	switch {
	case held && m.state == Master:
		m.leaveMaster()
		m.becomeFault(ReasonSyncGroup)
	case held && m.state == Backup:
		m.becomeFault(ReasonSyncGroup)
	case !held && m.state == Fault && !m.ifDown && !m.tracked:
		m.startup(now, ReasonSyncGroup)
	}
	return m.acts
}

// Advertisement returns the advertisement to send for an ActSend with the
// given priority: VRRPv3 with the interval in centiseconds, VRRPv2 in
// seconds with the authentication fields. The returned value (and its
// Addrs, which are the configured addresses) is owned by the machine and
// valid until the next call; do not modify it.
func (m *Machine) Advertisement(prio uint8) *packet.Advertisement {
	maxInt := uint16(m.cfg.AdvertInterval / (10 * time.Millisecond))
	if m.cfg.Version == 2 {
		maxInt = uint16(m.cfg.AdvertInterval / time.Second)
	}
	*m.adv = packet.Advertisement{
		Version:      m.cfg.Version,
		Type:         packet.TypeAdvertisement,
		VRID:         m.cfg.VRID,
		Priority:     prio,
		MaxAdvertInt: maxInt,
		Addrs:        m.cfg.Addrs,
		AuthType:     m.cfg.AuthType,
		AuthData:     m.cfg.AuthData,
	}
	return m.adv
}

// becomeMaster enters Master: transition, take the addresses, send an
// advertisement, announce (RFC 9568 sections 6.4.1 and 6.4.2), start
// Adver_Timer.
func (m *Machine) becomeMaster(now time.Time, reason, newMasterReason Reason) {
	from := m.state
	m.state = Master
	m.downTimer, m.preemptUntil = time.Time{}, time.Time{}
	m.preempting = false
	m.master = m.cfg.Primary
	m.adverTimer = now.Add(m.cfg.AdvertInterval)
	m.stats.MasterTransitions++
	m.stats.NewMasterReason = newMasterReason
	m.emit(Action{Kind: ActTransition, From: from, To: Master, Reason: reason, MasterReason: newMasterReason, Peer: m.peer, PeerPriority: m.peerPrio})
	m.emit(Action{Kind: ActTakeAddrs})
	m.send(m.prio)
	m.emit(Action{Kind: ActAnnounce})
}

// becomeBackup enters Backup with Master_Down_Timer set to
// Master_Down_Interval from now; the caller has set Master_Adv_Interval.
func (m *Machine) becomeBackup(now time.Time, reason Reason) {
	from := m.state
	m.state = Backup
	m.adverTimer = time.Time{}
	m.preempting = false
	m.downTimer = now.Add(m.downInterval)
	a := Action{Kind: ActTransition, From: from, To: Backup, Reason: reason}
	if reason == ReasonHigherPriority {
		a.Peer, a.PeerPriority = m.peer, m.peerPrio
	}
	m.emit(a)
}

// becomeInitialize enters Initialize, stopping every timer.
func (m *Machine) becomeInitialize() {
	m.leave()
	from := m.state
	m.state = Initialize
	m.emit(Action{Kind: ActTransition, From: from, To: Initialize, Reason: ReasonShutdown})
}

// becomeFault enters Fault, stopping every timer.
func (m *Machine) becomeFault(reason Reason) {
	m.leave()
	from := m.state
	m.state = Fault
	m.emit(Action{Kind: ActTransition, From: from, To: Fault, Reason: reason})
}

func (m *Machine) leave() {
	m.adverTimer, m.downTimer, m.preemptUntil = time.Time{}, time.Time{}, time.Time{}
	m.preempting = false
	m.master = netip.Addr{}
}

// leaveMaster: release the addresses and send a priority-0 advertisement.
func (m *Machine) leaveMaster() {
	m.releaseAddrs()
	m.send(0)
}

func (m *Machine) releaseAddrs() { m.emit(Action{Kind: ActReleaseAddrs}) }

func (m *Machine) send(prio uint8) {
	m.stats.SentAdvertisements++
	if prio == 0 {
		m.stats.SentPriZeroPackets++
	}
	m.emit(Action{Kind: ActSend, Priority: prio})
}

func (m *Machine) emit(a Action) {
	if m.cfg.ElectionOnly {
		switch a.Kind {
		case ActTakeAddrs, ActReleaseAddrs, ActAnnounce:
			return // no addresses (Config.ElectionOnly)
		}
	}
	m.acts = append(m.acts, a)
	if m.shared != nil {
		*m.shared = m.acts // keep what append grew
	}
}

// resetActs empties the action buffer for the actions of a new input:
// the machine's own, or the shared one (Machine.shared).
func (m *Machine) resetActs() {
	if m.shared != nil {
		m.acts = (*m.shared)[:0]
		return
	}
	m.acts = m.acts[:0]
}

// drop reports a discarded advertisement; it returns false for validate.
func (m *Machine) drop(a Anomaly) bool {
	m.emit(Action{Kind: ActDrop, Anomaly: a})
	return false
}

// notice reports a processed advertisement's mismatch.
func (m *Machine) notice(a Anomaly) { m.emit(Action{Kind: ActNotice, Anomaly: a}) }

// equalAddrs reports whether a and b hold the same addresses, in any order.
func equalAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	inOrder := true
	for i := range a {
		if a[i] != b[i] {
			inOrder = false
			break
		}
	}
	return inOrder || subset(a, b) && subset(b, a)
}

func subset(a, b []netip.Addr) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
