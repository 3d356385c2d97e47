package vrrp

import (
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
	// PacketLengthErrors counts packets too short for what they claim.
	PacketLengthErrors uint64
	// RefreshRate is the advertisement interval in use: ours as master,
	// the learned Master_Adv_Interval as backup (RFC 6527, in
	// milliseconds there).
	RefreshRate time.Duration
	// DiscontinuityTime is when the counters were last reset (the machine
	// was created).
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
	// received (logged, RFC 9568 errata 8298).
	OwnerRcvdAdvertisements uint64
	// NoLinkLocalFirst counts IPv6 advertisements whose first address is
	// not link-local (RFC 9568 section 5.2.9; keepalived sends them).
	NoLinkLocalFirst uint64
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
type Machine struct {
	// TODO(issue 3): implementation.
	_ int
}

// NewMachine validates cfg, fills in its defaults and returns a machine in
// state Initialize. Errors are *ConfigError naming the field.
func NewMachine(cfg Config) (*Machine, error) { panic("TODO") }

// Config returns the machine's configuration with defaults filled in.
func (m *Machine) Config() Config { panic("TODO") }

// State returns the current state.
func (m *Machine) State() State { panic("TODO") }

// Priority returns the current priority (after SetPriority).
func (m *Machine) Priority() uint8 { panic("TODO") }

// Master returns the primary address of the current master as far as this
// machine knows: its own Primary as master, the source of the last
// accepted advertisement as backup, or the zero Addr.
func (m *Machine) Master() netip.Addr { panic("TODO") }

// Stats returns a snapshot of the statistics.
func (m *Machine) Stats() Stats { panic("TODO") }

// Deadline returns when the next timer fires (Adver_Timer as master,
// Master_Down_Timer or the end of the preempt delay as backup), or the
// zero Time when no timer runs (Initialize, Fault). Call Tick at or after
// it.
func (m *Machine) Deadline() time.Time { panic("TODO") }

// Start is the Startup event, RFC 9568 section 6.4.1.
func (m *Machine) Start(now time.Time) []Action { panic("TODO") }

// Shutdown is the Shutdown event, RFC 9568 sections 6.4.2 and 6.4.3: a
// master sends a priority-0 advertisement, releases its addresses and
// becomes Initialize.
func (m *Machine) Shutdown(now time.Time) []Action { panic("TODO") }

// Tick fires every timer whose deadline is at or before now.
func (m *Machine) Tick(now time.Time) []Action { panic("TODO") }

// Receive processes an advertisement that parsed and passed its checksum,
// with the IP source and TTL / hop limit it arrived with, and info from
// packet.Unmarshal. It performs the rest of the receive validation of RFC
// 9568 section 7.1 (TTL, version, VRID, v2 authentication and interval,
// address list) and the state machine's reaction.
func (m *Machine) Receive(now time.Time, adv *packet.Advertisement, src netip.Addr, ttl int, info packet.Info) []Action {
	panic("TODO")
}

// CountError counts a packet for this virtual router that failed to parse,
// in the RFC 6527 statistic that err (from packet.Unmarshal) maps to.
func (m *Machine) CountError(err error) { panic("TODO") }

// SetPriority changes the priority (tracking scripts, interface weights);
// 1-254 for a non-owner. A master whose priority falls keeps mastership
// until a better advertisement arrives; a backup whose priority rises
// above the master's preempts at its next opportunity.
func (m *Machine) SetPriority(now time.Time, prio uint8) []Action { panic("TODO") }

// InterfaceDown moves the machine to Fault (keepalived's FAULT): a master
// sends a priority-0 advertisement (as keepalived does) and releases its
// addresses.
func (m *Machine) InterfaceDown(now time.Time) []Action { panic("TODO") }

// InterfaceUp leaves Fault as Startup would.
func (m *Machine) InterfaceUp(now time.Time) []Action { panic("TODO") }

// Sync moves the machine to Master or Backup because another member of its
// sync group did (keepalived's vrrp_sync_group). Other targets are
// ignored; so is a machine in Initialize or Fault.
func (m *Machine) Sync(now time.Time, to State) []Action { panic("TODO") }

// Advertisement returns the advertisement to send for an ActSend with the
// given priority. The returned value is owned by the machine and valid
// until the next call.
func (m *Machine) Advertisement(prio uint8) *packet.Advertisement { panic("TODO") }
