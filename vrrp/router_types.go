package vrrp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/govrrp/govrrp/clock"
	"github.com/govrrp/govrrp/transport"
)

// Family is the address family of a virtual router.
type Family uint8

const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// MarshalText implements encoding.TextMarshaler ("IPv4", "IPv6").
func (f Family) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler ("IPv4", "IPv6").
func (f *Family) UnmarshalText(b []byte) error {
	switch string(b) {
	case "IPv4":
		*f = IPv4
	case "IPv6":
		*f = IPv6
	default:
		return fmt.Errorf("vrrp: unknown family %q", b)
	}
	return nil
}

func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("Family(%d)", uint8(f))
}

// RouterConfig configures a Router. The zero value is usable.
type RouterConfig struct {
	// Clock is the time source. If nil, clock.Real(). Tests may instead
	// run the Router under testing/synctest with the real clock.
	Clock clock.Clock
	// Logger receives transitions, second masters, hook and send errors
	// and dropped or mismatched advertisements (Warn: rate-limited, and
	// repeats summarised every SummaryPeriod), and packets of unknown
	// VRIDs (Debug). If nil, logs are discarded.
	Logger *slog.Logger
	// Hook is told about address changes and announcements; combine
	// several with MultiHook. If nil, none.
	Hook Hook
	// EventBuffer is the capacity of the Events channel. If zero, 256. If
	// negative, no events are produced and Events returns nil.
	EventBuffer int
	// LockOSThread, if not nil, prepares the thread of the protocol loop:
	// Run locks the goroutine it was called on (the one that runs the
	// loop: timers, received advertisements, control calls) to its OS
	// thread with runtime.LockOSThread, then calls LockOSThread on it,
	// before it starts anything. This is where a program gives that one
	// thread real-time scheduling (sched_setattr SCHED_RR, as keepalived's
	// vrrp_rt_priority), so that on a loaded host a master's
	// advertisements do not wait for a CPU (RFC 9568 section 6.1: backups
	// take over after Master_Down_Interval without one). If it returns an
	// error, Run unlocks the goroutine and returns the error at once,
	// without starting: the Router can still be Run. Run never unlocks
	// the goroutine after a successful call: run Run on a goroutine of
	// its own, which the Go runtime ends with its thread when Run
	// returns, so that no other goroutine inherits what was set on it.
	//
	// One thread is not the whole path: the Go runtime's other threads
	// fire the loop's timer, poll the sockets and run the Router's
	// socket readers, and under CPU hogs they wait for a CPU at normal
	// priority (measured: 45 s of waiting in 5 minutes, advertisement gaps
	// of 330 ms at a 100 ms interval). A program that needs the bound on a
	// loaded host sets the policy for every thread of the process, as
	// examples/vrrpd's rt_priority does (see BENCHMARKS.md, "Real-time
	// scheduling under CPU hogs (issue 14)"), and starts child processes from a
	// thread kept at normal priority.
	LockOSThread func() error
	// ExactTimers makes every master send each advertisement at its
	// Adver_Timer's deadline. If false (the zero value), a master's
	// advertisement may leave up to 1/16 of its Advertisement_Interval
	// early (62.5 ms at 1 s, 6.25 ms at 100 ms) with others the Router
	// sends anyway, so that with thousands of virtual routers they go out
	// in about 16 batches an interval rather than one at a time
	// (RawConfig.BatchAdvertisements). The schedule does not drift, and a
	// backup's timers are exact either way.
	ExactTimers bool
	// LogLimit is the most receive-error log lines per second per virtual
	// router (and per transport for packets of unknown virtual routers),
	// RFC 9568 section 7.1 asks for rate limiting. If zero, 10. If
	// negative, unlimited.
	LogLimit int
}

// VirtualRouter is one virtual router to run: a Config plus where it
// runs.
type VirtualRouter struct {
	// Name identifies the virtual router in the Router's API, events and
	// logs. Required, unique within a Router.
	Name string
	// Conn carries its advertisements. Several virtual routers may share
	// one Conn: received packets are demultiplexed by family, VRID and
	// interface index. The Router owns the Conn from Add on: it closes it
	// when the last virtual router using it is removed, or when Run
	// returns. Required.
	Conn transport.Conn
	// Interface is the interface name, for logs, hooks and
	// InterfaceDown / InterfaceUp.
	Interface string
	// IfIndex is the interface index written with every advertisement and
	// matched against received packets; 0 matches packets from any
	// interface (a Conn with one interface).
	IfIndex int
	// Config is the protocol configuration; the family is that of
	// Config.Addrs.
	Config Config
	// Peers, if any, are unicast destinations (keepalived's unicast_peer):
	// each advertisement is sent to every peer instead of the multicast
	// group. Same family as Config.Addrs.
	Peers []netip.Addr
	// SyncGroup names a group of virtual routers that change state
	// together (keepalived's vrrp_sync_group): when one member becomes
	// Master the others are moved to Master (Machine.Sync), when one leaves
	// Master for Backup the others go to Backup, and while any member is
	// in Fault (its interface down, or SetFault) the whole group is held
	// in Fault, so that a group never has some members master on one host
	// and the rest on another. Empty: no group.
	SyncGroup string
}

// Event is a state transition of one virtual router, for the embedding
// program.
type Event struct {
	// Time is when the transition happened, on the Router's clock.
	Time time.Time
	// Name, VRID and Family identify the virtual router.
	Name   string
	VRID   uint8
	Family Family
	// From, To and Reason describe the transition.
	From, To State
	Reason   Reason
	// MasterReason is, for a transition to Master, the RFC 6527
	// vrrpv3StatisticsNewMasterReason (Action.MasterReason).
	MasterReason Reason
	// Peer and PeerPriority are, for a transition out of Backup or to
	// Backup on a better advertisement, the master last heard and the
	// priority it advertised (Action.Peer): see Handover.
	Peer         netip.Addr
	PeerPriority uint8
}

// Handover reports whether ev is a takeover after the master handed over
// with a priority-0 advertisement (it shut down or left for Fault), as
// opposed to one after it stopped advertising (it crashed, or the path to
// it failed). Both have MasterReason ReasonMasterNoResponse, the RFC
// 6527 value.
func (ev Event) Handover() bool {
	return ev.To == Master && ev.Reason == ReasonMasterNoResponse && ev.Peer.IsValid() && ev.PeerPriority == 0
}

// RouterStats are the Router-wide counters: the RFC 6527 global
// statistics (vrrpv3RouterChecksumErrors, vrrpv3RouterVersionErrors,
// vrrpv3RouterVrIdErrors) and the runtime's own.
type RouterStats struct {
	// ChecksumErrors counts packets whose checksum did not verify.
	ChecksumErrors uint64
	// VersionErrors counts packets whose version is neither 2 nor 3.
	VersionErrors uint64
	// VRIDErrors counts packets for a VRID (of that family on that
	// interface) that no virtual router here has.
	VRIDErrors uint64
	// TTLErrors counts packets of a known virtual router dropped at the
	// front door because their TTL / hop limit was not 255 (also added to
	// that router's Stats.IPTTLErrors).
	TTLErrors uint64
	// ShortPackets counts packets too short to carry a version and VRID,
	// or without a valid source address.
	ShortPackets uint64
	// Received counts packets handed to a virtual router (parsed or
	// counted as a parse error by it).
	Received uint64
	// Sent counts advertisements written without error; SendErrors those
	// that failed (transport or marshal errors).
	Sent       uint64
	SendErrors uint64
	// ReadErrors counts transport read errors other than closing.
	ReadErrors uint64
	// EventsDropped counts events discarded because the consumer of
	// Events fell behind (the oldest are dropped).
	EventsDropped uint64
	// QueueDrops counts the packets the Conns' receive queues dropped
	// while full, as the Conns report them (transport.Meta.Drops): this
	// host fell behind its sockets, not the network. LossHolds counts
	// the Master_Down_Timers restarted because of such drops instead of
	// firing: a backup does not take over from a master whose
	// advertisements its own socket dropped (see transport.Meta.Drops).
	QueueDrops, LossHolds uint64
}

// Errors of the Router's control methods, usable with errors.Is.
var (
	// ErrRouterStopped: Run has returned; the Router cannot be used again.
	ErrRouterStopped = errors.New("vrrp: router stopped")
	// ErrRouterRunning: Run was called twice.
	ErrRouterRunning = errors.New("vrrp: router already running")
	// ErrNoVirtualRouter: no virtual router (or interface) of that name.
	ErrNoVirtualRouter = errors.New("vrrp: no such virtual router")
	// ErrDuplicate: a virtual router of that name, or with the same VRID,
	// family and interface on the same Conn, exists already.
	ErrDuplicate = errors.New("vrrp: duplicate virtual router")
)
