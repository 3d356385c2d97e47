package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/govrrp/govrrp/packet"
)

// State is the state of a virtual router, RFC 9568 section 6.4, plus
// keepalived's FAULT.
type State uint8

const (
	// Initialize: not started, shut down, or waiting for Startup
	// (RFC 9568 section 6.4.1).
	Initialize State = iota
	// Backup: monitoring the master (RFC 9568 section 6.4.2).
	Backup
	// Master: the Active Router, forwarding for the virtual addresses
	// (RFC 9568 section 6.4.3).
	Master
	// Fault: the interface is down, or the embedder holds it there
	// (keepalived's FAULT state). The machine neither sends nor listens
	// until InterfaceUp, SetFault or SetGroupFault lets it leave.
	Fault
)

func (s State) String() string {
	switch s {
	case Initialize:
		return "Initialize"
	case Backup:
		return "Backup"
	case Master:
		return "Master"
	case Fault:
		return "Fault"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Reason says why a transition happened. The values of the first four
// follow RFC 6527 vrrpv3StatisticsNewMasterReason (notMaster, priority,
// preempted, masterNoResponse); the rest explain transitions that do not
// create a master.
type Reason uint8

const (
	// ReasonNone: not a master (RFC 6527 notMaster).
	ReasonNone Reason = iota
	// ReasonPriority: became master because it is the address owner or has
	// the highest priority (RFC 6527 priority).
	ReasonPriority
	// ReasonPreempted: became master by preempting a lower-priority master
	// (RFC 6527 preempted).
	ReasonPreempted
	// ReasonMasterNoResponse: became master because Master_Down_Timer
	// expired (RFC 6527 masterNoResponse). A takeover after a priority-0
	// advertisement is this reason too.
	ReasonMasterNoResponse
	// ReasonStart: leaving Initialize on Startup (to Backup, or to Master
	// for the address owner).
	ReasonStart
	// ReasonShutdown: -> Initialize on Shutdown.
	ReasonShutdown
	// ReasonHigherPriority: Master -> Backup on hearing a better master.
	ReasonHigherPriority
	// ReasonInterfaceDown: -> Fault.
	ReasonInterfaceDown
	// ReasonInterfaceUp: Fault -> Backup (or Master for the owner).
	ReasonInterfaceUp
	// ReasonSyncGroup: a member of the same sync group changed state.
	ReasonSyncGroup
	// ReasonTracking: -> Fault because the embedder said so
	// (Machine.SetFault, Router.SetFault: a tracked interface or check
	// script), and out of Fault when it no longer does.
	ReasonTracking
)

var reasonNames = [...]string{
	ReasonNone:             "none",
	ReasonPriority:         "priority",
	ReasonPreempted:        "preempted",
	ReasonMasterNoResponse: "masterNoResponse",
	ReasonStart:            "start",
	ReasonShutdown:         "shutdown",
	ReasonHigherPriority:   "higherPriority",
	ReasonInterfaceDown:    "interfaceDown",
	ReasonInterfaceUp:      "interfaceUp",
	ReasonSyncGroup:        "syncGroup",
	ReasonTracking:         "tracking",
}

// MarshalText implements encoding.TextMarshaler, so that JSON shows the
// name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalText implements encoding.TextMarshaler: the RFC 6527 name for
// the first four reasons, a short word for the others.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for the names
// MarshalText writes.
func (s *State) UnmarshalText(b []byte) error {
	for c := Initialize; c <= Fault; c++ {
		if c.String() == string(b) {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("vrrp: unknown state %q", b)
}

// UnmarshalText implements encoding.TextUnmarshaler for the names
// MarshalText writes.
func (r *Reason) UnmarshalText(b []byte) error {
	for i, n := range reasonNames {
		if n == string(b) {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("vrrp: unknown reason %q", b)
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// ActionKind is the kind of an Action.
type ActionKind uint8

const (
	// ActSend: send an advertisement now with Action.Priority. Build it
	// with Machine.Advertisement.
	ActSend ActionKind = iota + 1
	// ActAnnounce: announce the virtual addresses (gratuitous ARP for IPv4,
	// unsolicited Neighbor Advertisements for IPv6), RFC 9568 sections
	// 6.4.1 and 6.4.2. Emitted on becoming master, and (this library's
	// addition, not the RFC's, as keepalived's garp_lower_prio_repeat) by
	// a master of either version that hears a lower-priority
	// advertisement, to repair what a short-lived second master did to
	// host caches.
	ActAnnounce
	// ActTransition: the state changed from Action.From to Action.To for
	// Action.Reason.
	ActTransition
	// ActTakeAddrs: start accepting / answering for the virtual addresses.
	ActTakeAddrs
	// ActReleaseAddrs: stop accepting / answering for them.
	ActReleaseAddrs
	// ActDrop: the advertisement given to Receive was discarded for
	// Action.Anomaly (RFC 9568 section 7.1, RFC 3768 section 7.1). It is
	// already counted in Stats; the caller logs it, rate-limited.
	ActDrop
	// ActNotice: the advertisement was processed, but differs from this
	// router's configuration as Action.Anomaly says: what RFC 9568
	// section 7.1 says to log and process (interval, address list, the
	// owner receiving one) and IPv6 lists without a link-local address
	// first. Counted in Stats; the caller logs it, rate-limited.
	ActNotice
)

func (k ActionKind) String() string {
	switch k {
	case ActSend:
		return "send"
	case ActAnnounce:
		return "announce"
	case ActTransition:
		return "transition"
	case ActTakeAddrs:
		return "take"
	case ActReleaseAddrs:
		return "release"
	case ActDrop:
		return "drop"
	case ActNotice:
		return "notice"
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// Action is one output of the Machine, to be executed by the caller in the
// order returned. Actions that take or release addresses precede the
// advertisement that claims them:
//
//   - becoming Master: ActTransition, ActTakeAddrs, ActSend, ActAnnounce;
//   - leaving Master for Initialize or Fault (Shutdown, InterfaceDown):
//     ActReleaseAddrs, ActSend with priority 0, ActTransition;
//   - leaving Master for Backup (a better advertisement, Sync):
//     ActReleaseAddrs, ActTransition;
//   - a master hearing a lower priority: ActSend (VRRPv3 unless
//     Config.RFC5798), ActAnnounce;
//   - a received advertisement that is discarded: one ActDrop; one that
//     is processed despite a mismatch: an ActNotice per mismatch, before
//     the actions of its processing.
//
// Every state change carries exactly one ActTransition. Receive at or
// past Deadline fires the due timer first (as Tick would), so the timer's
// actions precede those of the advertisement.
type Action struct {
	Kind ActionKind
	// Priority of the advertisement to send (ActSend).
	Priority uint8
	// From, To and Reason of a transition (ActTransition).
	From, To State
	Reason   Reason
	// MasterReason is, for a transition to Master, why this router became
	// master in the terms of RFC 6527 vrrpv3StatisticsNewMasterReason:
	// ReasonPriority, ReasonPreempted or ReasonMasterNoResponse (Reason
	// says what triggered the transition, e.g. ReasonStart for the
	// owner). ReasonNone otherwise.
	MasterReason Reason
	// Anomaly is what was wrong with a received advertisement (ActDrop,
	// ActNotice).
	Anomaly Anomaly
	// Peer and PeerPriority are, for a transition out of Backup or to
	// Backup on a better advertisement, the master this router last heard
	// (the source of its last accepted advertisement) and the priority it
	// advertised; a zero Peer if none was heard. A takeover
	// (ReasonMasterNoResponse) with PeerPriority 0 follows a priority-0
	// advertisement: the master handed over (RFC 9568 section 6.4.2); with
	// a non-zero PeerPriority the master stopped advertising (it crashed,
	// or the path to it failed).
	Peer         netip.Addr
	PeerPriority uint8
}

func (a Action) String() string {
	switch a.Kind {
	case ActSend:
		return fmt.Sprintf("send prio=%d", a.Priority)
	case ActTransition:
		if a.To == Master && a.MasterReason != a.Reason {
			return fmt.Sprintf("transition %v->%v reason=%v master=%v", a.From, a.To, a.Reason, a.MasterReason)
		}
		return fmt.Sprintf("transition %v->%v reason=%v", a.From, a.To, a.Reason)
	case ActDrop, ActNotice:
		return fmt.Sprintf("%v %v", a.Kind, a.Anomaly)
	}
	return a.Kind.String()
}

// Anomaly says what was wrong with a received advertisement: why it was
// dropped (ActDrop) or what was logged about it (ActNotice). Each one
// matches the Stats counter it is counted in.
type Anomaly uint8

const (
	AnomalyNone Anomaly = iota
	// AnomalyTTL: TTL / hop limit not 255 (IPTTLErrors).
	AnomalyTTL
	// AnomalyVersion: another VRRP version (ProtoErrReason versionError).
	AnomalyVersion
	// AnomalyVRID: another VRID (ProtoErrReason vrIdError).
	AnomalyVRID
	// AnomalyType: type not ADVERTISEMENT (RcvdInvalidTypePackets).
	AnomalyType
	// AnomalyFamily: a source or address of another family than the
	// virtual router's, or an IPv4-mapped IPv6 source
	// (PacketLengthErrors).
	AnomalyFamily
	// AnomalyNoAddrs: an empty address list (AddressListErrors).
	AnomalyNoAddrs
	// AnomalyZeroInterval: Max Advertise Interval 0 (AdvIntervalErrors).
	AnomalyZeroInterval
	// AnomalyAuth: VRRPv2 authentication type or data differ (AuthErrors).
	AnomalyAuth
	// AnomalyInterval: an interval other than ours (AdvIntervalErrors;
	// VRRPv2 drops, VRRPv3 logs and processes).
	AnomalyInterval
	// AnomalyAddrList: an address list other than ours
	// (AddressListErrors; VRRPv2 drops unless from the owner, VRRPv3 logs
	// and processes).
	AnomalyAddrList
	// AnomalyOwner: the address owner received an advertisement
	// (OwnerRcvdAdvertisements; VRRPv2 drops, VRRPv3 logs and processes).
	AnomalyOwner
	// AnomalyNoLinkLocalFirst: an IPv6 address list whose first address
	// is not link-local (NoLinkLocalFirst; processed, see Stats).
	AnomalyNoLinkLocalFirst
)

var anomalyNames = [...]string{
	AnomalyNone:             "none",
	AnomalyTTL:              "ttl",
	AnomalyVersion:          "version",
	AnomalyVRID:             "vrid",
	AnomalyType:             "type",
	AnomalyFamily:           "family",
	AnomalyNoAddrs:          "noAddresses",
	AnomalyZeroInterval:     "zeroInterval",
	AnomalyAuth:             "authentication",
	AnomalyInterval:         "intervalMismatch",
	AnomalyAddrList:         "addressListMismatch",
	AnomalyOwner:            "ownerReceived",
	AnomalyNoLinkLocalFirst: "noLinkLocalFirst",
}

func (a Anomaly) String() string {
	if int(a) < len(anomalyNames) {
		return anomalyNames[a]
	}
	return fmt.Sprintf("Anomaly(%d)", uint8(a))
}

// MarshalText implements encoding.TextMarshaler with the name String
// returns.
func (a Anomaly) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// ErrConfig matches every *ConfigError.
var ErrConfig = errors.New("vrrp: invalid config")

// A ConfigError names the Config field at fault and its allowed range.
type ConfigError struct {
	Field   string
	Value   string
	Allowed string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("vrrp: config %s=%s: want %s", e.Field, e.Value, e.Allowed)
}

// Is makes errors.Is(err, ErrConfig) true for every ConfigError.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

// Config configures one virtual router. The zero value of every field but
// VRID, Addrs and Primary is a usable default.
type Config struct {
	// VRID is the Virtual Router Identifier, 1-255. Required.
	VRID uint8
	// Priority is this router's priority, 1-255; 255 means this router
	// owns the virtual addresses (the owner becomes master at Start and
	// yields only to another owner with a greater primary address, RFC
	// 9568 erratum 8298; Addrs need not contain Primary, as in
	// keepalived).
	// If zero, 100 (RFC 9568 section 5.2.4). Machine.SetPriority moves a
	// non-owner's priority within 1-254.
	Priority uint8
	// Version is 2 (RFC 3768, IPv4 only) or 3 (RFC 9568). If zero, 3.
	Version uint8
	// AdvertInterval is Advertisement_Interval: for VRRPv3 a multiple of
	// 10ms from 10ms to 40.95s, for VRRPv2 whole seconds from 1s to 255s.
	// If zero, 1s.
	AdvertInterval time.Duration
	// Addrs are the virtual addresses: 1-255 distinct addresses, all of
	// one family, IPv4 for VRRPv2. For IPv6, RFC 9568 section 5.2.9 wants
	// the link-local virtual address first: NewMachine moves the first
	// link-local address to the front (keepalived sends none; peers that
	// require one, such as Arista, drop advertisements without it).
	// Required, except with ElectionOnly. NewMachine copies the slice.
	Addrs []netip.Addr
	// Primary is this router's own address on the interface: the source of
	// its advertisements (RFC 9568 section 7.2) and, for a master, the
	// tie-breaker on equal priority (RFC 9568 section 6.4.3; a backup
	// accepts an equal priority whatever the address, section 6.4.2). For
	// IPv6 it is the interface's link-local address.
	// Required by NewMachine; same family as Addrs. Router.Add fills it in
	// when it is zero and the Conn tells its source address
	// (transport.Sourcer, as transport/raw does).
	Primary netip.Addr
	// NoPreempt turns Preempt_Mode off (keepalived's nopreempt): a
	// higher-priority backup does not take over from a working master. The
	// owner (priority 255) always preempts. Zero value: preempt.
	NoPreempt bool
	// PreemptDelay, with preemption on, is how long after Start (or
	// InterfaceUp) a backup waits before it preempts a lower-priority
	// master (keepalived's preempt_delay). If zero, no delay. At most
	// 1000s.
	PreemptDelay time.Duration
	// AcceptMode makes a non-owner master accept packets addressed to the
	// virtual addresses (RFC 9568 section 6.1, Accept_Mode). The machine
	// only reports it (VRInfo.AcceptMode); the host's address handling
	// acts on it. Zero value: off, as both RFCs want. VRRPv2 has no
	// Accept_Mode: a master "MUST NOT accept packets addressed to the IP
	// address(es) associated with the virtual router if it is not the IP
	// address owner" (RFC 3768 section 6.4.3). Setting it with VRRPv2 is
	// an explicit departure from RFC 3768 that keepalived makes by default
	// (its "accept"), for services that listen on a virtual address.
	AcceptMode bool
	// AuthType and AuthData are VRRPv2 authentication (RFC 2338 section
	// 5.3.6; keepalived's auth_type PASS): AuthNone (the zero value) or
	// AuthPass with the password zero-padded in AuthData. Advertisements
	// whose type or data differ are dropped and counted. Must be AuthNone
	// with empty AuthData for VRRPv3.
	AuthType packet.AuthType
	AuthData [packet.AuthDataLen]byte
	// Checksum is the VRRPv3-over-IPv4 checksum form to send. If
	// ChecksumUnknown, ChecksumPseudoHeader (what keepalived and FRR send
	// and expect). ChecksumMessage is the RFC 9568 section 5.2.8 form.
	// Both forms are accepted on receive whatever this says. VRRPv2 has
	// only ChecksumMessage and VRRPv3 over IPv6 only ChecksumPseudoHeader;
	// NewMachine fills those in and rejects the other form.
	Checksum packet.Checksum
	// ElectionOnly runs the election without virtual addresses, for
	// programs that only need one master among replicas (a leader for a
	// job, see examples/leader), so that none has to invent an address
	// it will never install. Addrs stays empty (or holds Primary alone):
	// NewMachine sets it to Primary, and every advertisement carries the
	// sender's own primary address as its one address, since RFC 9568
	// section 5.2.5 (and RFC 3768 section 5.3.5 in practice) wants at
	// least one; the sender holds that address already, so the
	// advertisement claims nothing another host holds. The machine asks
	// for no address work (no ActTakeAddrs, ActReleaseAddrs or
	// ActAnnounce: a Router's Hook sees only transitions), and it accepts
	// a received address list that is exactly the sender's source
	// address instead of comparing it with Addrs (any other list is an
	// address list error: a notice for VRRPv3, a drop for VRRPv2, as in
	// RFC 9568 and RFC 3768 section 7.1). Every router of the virtual
	// router must set it. Interoperability: it is govrrp's own use of the
	// protocol; keepalived refuses a VRRPv3 instance without a
	// virtual_ipaddress ("No VIP specified; at least one is required")
	// and would log an address list mismatch for these advertisements.
	ElectionOnly bool
	// RFC5798 restores RFC 5798 behaviour where RFC 9568 changed it: a
	// master that hears a lower-priority advertisement ignores it instead
	// of sending an advertisement at once. Zero value: RFC 9568. VRRPv2
	// always discards it (RFC 3768 section 6.4.3).
	RFC5798 bool
}
