package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/govrrp/govrrp/internal/dheap"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
)

// RawRouter is the deterministic core of the runtime, as etcd-io/raft's
// RawNode is of its Node: a synchronous value, used from one goroutine,
// that owns the Machines of any number of virtual routers, the registry
// and the demultiplexing of received packets to them, the deadline heap,
// sync groups and fault holds. It starts no goroutine, reads no clock,
// touches no socket and takes no lock: every input carries the time
// (now), and everything it wants done is collected in one ordered output,
// Ready, which the caller executes and then acknowledges with Advance.
// Router is the goroutine shell over it; the seeded simulation drives
// RawRouters directly.
//
// The transport.Conn of a VirtualRouter is only a key here: RawRouter
// never calls its methods. Packets are handed in with the Conn they came
// on (Receive), and the advertisements to write come out with the Conn to
// write them on (Ready.Sends).
//
// The usual loop (see Router.Run):
//
//	for {
//		wait until Deadline(), a packet or a control call
//		call Tick(now), Receive(...) or the control method
//		rd := Ready()
//		write rd.Sends; run rd.Host in order; close rd.Closed
//		Advance()
//	}
type RawRouter struct {
	logLimit   int
	notes      bool // produce Ready.Notes at all
	debugNotes bool // and the Debug-level ones (unknown VRIDs)
	batch      bool // RawConfig.BatchAdvertisements

	// started: StartAll was called and ShutdownAll was not; virtual
	// routers added meanwhile start at once.
	started bool
	vrs     map[string]*vrt
	order   []*vrt
	conns   map[transport.Conn]*rconn
	last    *rconn           // the Conn of the last Receive, to skip the map lookup
	heap    dheap.Heap[*vrt] // virtual routers with a running timer, by deadline

	stats    RouterStats
	discards discardTable
	sums     summaries
	rd       Ready
	arena    []byte
	adv      packet.Advertisement
	// acts is the action buffer every machine of the RawRouter uses in
	// turn (newMachineShared): each call of a machine's method is
	// followed by apply (or receive) with its actions, done before the
	// next machine is called.
	acts []Action
	// sendAdv is the advertisement every machine of the RawRouter fills
	// in to be sent (Machine.Advertisement), marshalled before the next
	// machine is called; adv above is the one received.
	sendAdv packet.Advertisement
	// The room reserve keeps in rd.Host and the arena.
	roomHost, roomBytes int
}

// RawConfig configures a RawRouter. The zero value is usable.
type RawConfig struct {
	// LogLimit is the most Notes per second per virtual router (and per
	// Conn for packets of unknown virtual routers); RFC 9568 section 7.1
	// asks for rate limiting. If zero, 10. If negative, unlimited.
	LogLimit int
	// Notes asks for Ready.Notes about dropped packets and anomalies;
	// DebugNotes also for packets of a VRID this RawRouter does not run
	// (normal on a shared LAN). Without them nothing is noted, and the
	// rate limits are not consumed.
	Notes, DebugNotes bool
	// BatchAdvertisements lets Tick send a master's advertisement up to
	// 1/16 of its Advertisement_Interval early (advertSlack: 62.5 ms at
	// 1 s, 6.25 ms at 100 ms, 625 us at 10 ms) when it runs for an earlier
	// timer anyway, so that the advertisements of many virtual routers go
	// out in one Ready, one write per Conn, and the caller wakes up about
	// 16 times an interval instead of once per virtual router (issue 12:
	// 4,094 on one Conn; 1/64 before, with a few percent more CPU on both
	// sides, BENCHMARKS.md). Early is harmless to a backup: its
	// Master_Down_Timer restarts sooner. The Adver_Timer still counts from
	// its deadline (RFC 9568 section 6.4.3), so the schedule does not
	// drift; a backup's timers are never moved. If false (the zero value),
	// every timer fires at its deadline.
	BatchAdvertisements bool
}

// Ready is what a RawRouter asks its caller to do, in this order: write
// Sends (on each Conn in order), then hand Host to the host in order,
// then close Closed. Its slices are owned by the RawRouter and valid
// until Advance.
type Ready struct {
	// Sends are the advertisements to write, grouped by Conn in the order
	// each Conn was first used.
	Sends []Outbound
	// Host are the transitions and the host's work (take, release and
	// announce the virtual addresses, and the registry changes Added and
	// Removed), in the order they happened. A Release follows the
	// priority-0 advertisement of the same step in Sends: the next master
	// takes over Skew_Time after it, not at once.
	Host []HostAction
	// Notes are the dropped packets and anomalies to log, within the
	// rate limit (RawConfig).
	Notes []Note
	// Closed are the Conns no virtual router uses any longer: close them
	// (after writing Sends).
	Closed []transport.Conn
}

// Empty reports whether rd asks for nothing.
func (rd *Ready) Empty() bool {
	return len(rd.Sends) == 0 && len(rd.Host) == 0 && len(rd.Notes) == 0 && len(rd.Closed) == 0
}

// Outbound is a batch of advertisements to write on one Conn
// (transport.BatchWriter.WriteBatch, or WriteTo each).
type Outbound struct {
	Conn transport.Conn
	Msgs []transport.Message
	// Interface is the interface of the first virtual router on Conn, for
	// logs.
	Interface string
}

// HostKind is the kind of a HostAction.
type HostKind uint8

const (
	// HostAdded: the virtual router VR was added (RawRouter.Add).
	HostAdded HostKind = iota + 1
	// HostTransition: VR changed state (Event).
	HostTransition
	// HostTake: VR became master; install its addresses (Hook.Take).
	HostTake
	// HostRelease: VR is no longer master (Hook.Release).
	HostRelease
	// HostAnnounce: announce VR's addresses (Hook.Announce).
	HostAnnounce
	// HostRemoved: VR was removed (RawRouter.Remove); nothing of it need
	// be kept.
	HostRemoved
)

func (k HostKind) String() string {
	switch k {
	case HostAdded:
		return "added"
	case HostTransition:
		return "transition"
	case HostTake:
		return "take"
	case HostRelease:
		return "release"
	case HostAnnounce:
		return "announce"
	case HostRemoved:
		return "removed"
	}
	return fmt.Sprintf("HostKind(%d)", uint8(k))
}

// HostAction is one step of Ready.Host.
type HostAction struct {
	Kind HostKind
	// VR is the virtual router, with its priority at the time.
	VR VRInfo
	// Event is the transition (HostTransition only).
	Event Event

	done chan struct{} // the Router's barrier (Kind 0): closed when reached
}

// Note is a dropped packet or an anomaly, for the log.
type Note struct {
	// Name is the virtual router the packet was for; empty when none was
	// found (Why says why).
	Name string
	// Interface is that of the Conn, for a packet of no virtual router.
	Interface string
	VRID      uint8
	// Src and TTL are the packet's.
	Src netip.Addr
	TTL int
	// Kind is ActDrop or ActNotice for an anomaly the Machine found
	// (Anomaly), else zero.
	Kind    ActionKind
	Anomaly Anomaly
	// Err is the parse error of a packet that did not parse.
	Err error
	// Why says why the front door dropped a packet (Name empty), and
	// Debug that it is normal on a shared LAN (an unknown VRID).
	Why   string
	Debug bool
	// Repeats, when not zero, makes this a summary: the note above (the
	// first of its virtual router, source and reason, noted Period
	// earlier or at the end of the previous summary) repeated Repeats
	// times more in the last Period; the repeats were not noted one by
	// one (see SummaryPeriod).
	Repeats uint64
	Period  time.Duration
	// SecondMaster says that the virtual router Name, master, heard
	// another router, Src, advertise its VRID with priority Priority: a
	// split brain, or a master about to take over or hand over. Noted
	// once per episode (see Stats.SecondMaster).
	SecondMaster bool
	Priority     uint8
}

// vrt is the RawRouter's side of one virtual router.
//
// Of its VirtualRouter it keeps the fields other than Config: the
// configuration, with defaults, is its Machine's (m.cfg), one copy per
// virtual router (issue 12: vrt held two more, 192 B).
//
// Its size is a size class of Go's allocator, 256 B (issue 12: one per
// link, 4,094 in one process): VirtualRouter.Conn is c.c, and the small
// fields share a word.
type vrt struct {
	name      string
	iface     string       // VirtualRouter.Interface
	ifIndex   int          // VirtualRouter.IfIndex
	peers     []netip.Addr // VirtualRouter.Peers, a copy (setPeers)
	syncGroup string       // VirtualRouter.SyncGroup
	m         *Machine
	c         *rconn       // VirtualRouter.Conn is c.c
	dsts      []netip.Addr // group or peers
	hidx      int          // index in the deadline heap, -1 if absent
	// when is the machine's Deadline as the heap has it. Compare with
	// it, not with the heap's own copy: it keeps the monotonic clock
	// reading, so a step of the wall clock does not make a timer look due.
	when time.Time
	lim  rateLimiter
	sm   secondMaster

	family  Family
	removed bool
	// Why the machine is held in Fault: its interface is down
	// (InterfaceDown), or its owner said so (SetFault, tracking).
	linkDown, faulted bool
}

// demuxKey is a virtual router's place on its Conn: family index, VRID
// and interface index.
type demuxKey struct {
	f, vrid uint8
	ifIndex int
}

// lookup returns the virtual router of family index f and VRID vrid on
// interface ifIndex (0: any): with a virtual router of interface index 0
// (the Conn's only one of that VRID), that one, else the one of ifIndex.
// Add keeps them unambiguous (ErrDuplicate).
func (c *rconn) lookup(f int, vrid uint8, ifIndex int) *vrt {
	list := c.demux[f][vrid]
	switch {
	case len(list) == 0:
		return nil
	case ifIndex == 0 || list[0].ifIndex == 0:
		return list[0]
	}
	return c.byIf[demuxKey{uint8(f), vrid, ifIndex}]
}

// rconn is one transport.Conn and the virtual routers on it.
//
// The small fields come first and the 12 kB demux table last, so that
// what a takeover touches (out, for its first advertisement) shares a
// page with what every packet touches: out, after the table, was the
// first write to a page of its own, and that first touch of fresh
// memory (a page fault, an exit to the hypervisor in a VM) cost the
// takeover 50-200 us (internal/measure's Takeover; TestRconnLayout).
type rconn struct {
	c    transport.Conn
	name string // interface of the first virtual router, for logs
	refs int
	out  int // index in Ready.Sends + 1, 0 if none
	// msgs is the Msgs array of its Outbound, kept from step to step
	// (reserve).
	msgs []transport.Message
	lim  rateLimiter
	// byIf indexes demux's virtual routers of a non-zero interface index:
	// a shared Conn holds thousands of one VRID (issue 12), which
	// frontDoor would otherwise scan for every packet.
	byIf  map[demuxKey]*vrt
	demux [2][256][]*vrt // [family][VRID], one per interface index
	// The receive queue's drops (transport.Meta.Drops): the count last
	// seen (dropsSeen: one was), when the current run of drops began
	// (lossFrom) and was last seen (lastDrop), and lost, the latest drop
	// that holds the backups' timers (within maxLossHold of lossFrom).
	drops              uint32
	dropsSeen          bool
	lossFrom, lastDrop time.Time
	lost               time.Time
}

// maxLossHold bounds how long one run of receive queue drops on a Conn
// (drops seen less than maxLossHold apart) holds its backups'
// Master_Down_Timers: a host that keeps dropping still learns, after
// it, that a master it cannot hear is gone.
const maxLossHold = maxBehind

// noteDrops records what a packet that arrived at now says of c's
// receive queue (transport.Meta.Drops).
func (r *RawRouter) noteDrops(now time.Time, c *rconn, drops uint32) {
	if !c.dropsSeen {
		c.drops, c.dropsSeen = drops, true
		return
	}
	// Serial number arithmetic: the count wraps, and a packet queued
	// before drops that QueueDropped already reported carries a smaller
	// one.
	d := int32(drops - c.drops)
	if d <= 0 {
		return
	}
	r.stats.QueueDrops += uint64(d)
	c.drops = drops
	if c.lossFrom.IsZero() || now.Sub(c.lastDrop) >= maxLossHold {
		c.lossFrom = now
	}
	c.lastDrop = now
	if now.Sub(c.lossFrom) < maxLossHold {
		c.lost = now
	}
}

// QueueDropped tells the RawRouter that conn's receive queue had dropped
// drops packets in all (wrapping at 2^32) by now: the count
// transport.Meta.Drops carries, read from the Conn without a packet
// (transport.DropCounter), as Router does when its reader has caught up
// with the socket. An increase is a loss on this host: for maxLossHold
// from the first of a run of them, a backup on conn whose
// Master_Down_Timer would fire within Master_Down_Interval of the latest
// restarts it from that loss instead (RouterStats.LossHolds), since the
// advertisements that would have stopped it may be among those dropped.
// The first count seen on a Conn (here or in a packet's Meta) is its
// baseline.
func (r *RawRouter) QueueDropped(now time.Time, conn transport.Conn, drops uint32) {
	if c := r.conns[conn]; c != nil {
		r.noteDrops(now, c, drops)
	}
}

// holdForLoss restarts v's Master_Down_Timer from its Conn's latest
// receive queue drop when that drop fell within the silence that makes
// it fire (Machine.holdForLoss).
func (r *RawRouter) holdForLoss(v *vrt) {
	if c := v.c; c != nil && !c.lost.IsZero() && v.m.holdForLoss(c.lost) {
		r.stats.LossHolds++
	}
}

// NewRawRouter returns a RawRouter with no virtual routers.
func NewRawRouter(cfg RawConfig) *RawRouter {
	r := &RawRouter{
		logLimit:   cfg.LogLimit,
		notes:      cfg.Notes || cfg.DebugNotes,
		debugNotes: cfg.DebugNotes,
		batch:      cfg.BatchAdvertisements,
		vrs:        make(map[string]*vrt),
		conns:      make(map[transport.Conn]*rconn),
		// Room for the actions of any one input (a takeover is four),
		// so that none allocates.
		acts: make([]Action, 0, 8),
	}
	if r.logLimit == 0 {
		r.logLimit = defLogLimit
	}
	return r
}

// newVRT checks vr and builds its runtime side; its machine's actions go
// to acts (newMachineShared).
func newVRT(vr VirtualRouter, acts *[]Action, adv *packet.Advertisement) (*vrt, error) {
	cfg, fam, err := checkVR(vr)
	if err != nil {
		return nil, err
	}
	v := &vrt{name: vr.Name, iface: vr.Interface, ifIndex: vr.IfIndex, syncGroup: vr.SyncGroup,
		m: newMachineShared(cfg, acts, adv), hidx: -1, family: fam}
	v.setPeers(vr.Peers)
	return v, nil
}

// checkVR checks vr as newVRT does, without building anything (Router.Add
// checks on its caller's goroutine, before the owner's newVRT: a Machine
// and a vrt built there and dropped were half of the objects of their
// size classes when thousands were added, and the live half left those
// spans half empty; issue 12). It returns vr's Config with its defaults
// filled in, and its family.
func checkVR(vr VirtualRouter) (Config, Family, error) {
	if vr.Name == "" {
		return Config{}, 0, &ConfigError{Field: "VirtualRouter.Name", Value: `""`, Allowed: "a non-empty name"}
	}
	if vr.Conn == nil {
		return Config{}, 0, &ConfigError{Field: "VirtualRouter.Conn", Value: "nil", Allowed: "a transport.Conn"}
	}
	cfg := vr.Config
	if err := cfg.setDefaults(); err != nil {
		return Config{}, 0, fmt.Errorf("virtual router %q: %w", vr.Name, err)
	}
	fam := IPv6
	if cfg.Primary.Is4() {
		fam = IPv4
	}
	if err := checkPeers(vr.Peers, fam); err != nil {
		return Config{}, 0, fmt.Errorf("virtual router %q: %w", vr.Name, err)
	}
	return cfg, fam, nil
}

// checkPeers checks unicast peers (VirtualRouter.Peers) for a virtual
// router of family f: each a specified unicast address of f, no two
// alike. The error is a *ConfigError naming the peer's index.
func checkPeers(peers []netip.Addr, f Family) error {
	for i, p := range peers {
		field := fmt.Sprintf("VirtualRouter.Peers[%d]", i)
		const allowed = "a unicast address of the family of Config.Addrs"
		switch {
		case !p.IsValid():
			return &ConfigError{Field: field, Value: "unset", Allowed: allowed}
		case p.Is4() != (f == IPv4), p.IsUnspecified(), p.IsMulticast():
			return &ConfigError{Field: field, Value: p.String(), Allowed: allowed}
		}
		for _, q := range peers[:i] {
			if p == q {
				return &ConfigError{Field: field, Value: p.String(), Allowed: "distinct peers"}
			}
		}
	}
	return nil
}

// The destinations of a virtual router without peers, shared by all of
// them (read only): its family's VRRP group.
var (
	groupDsts4 = []netip.Addr{packet.GroupIPv4}
	groupDsts6 = []netip.Addr{packet.GroupIPv6}
)

// setPeers makes peers (checked) v's destinations: a copy of them, or the
// VRRP group of v's family when there are none.
func (v *vrt) setPeers(peers []netip.Addr) {
	v.peers = append([]netip.Addr(nil), peers...)
	v.dsts = v.peers
	if len(v.dsts) == 0 {
		if v.family == IPv4 {
			v.dsts = groupDsts4
		} else {
			v.dsts = groupDsts6
		}
	}
}

// Add adds a virtual router (Ready.Host gets HostAdded). After StartAll it
// starts at once (Machine.Start) without disturbing the others. Config
// errors are *ConfigError (errors.Is ErrConfig); a name, or a VRID, family
// and interface on the same Conn, that exists already is ErrDuplicate.
// Config.Primary is required (Router.Add fills it in from a
// transport.Sourcer).
func (r *RawRouter) Add(now time.Time, vr VirtualRouter) error {
	v, err := newVRT(vr, &r.acts, &r.sendAdv)
	if err != nil {
		return err
	}
	if _, ok := r.vrs[v.name]; ok {
		return fmt.Errorf("%w: name %q", ErrDuplicate, v.name)
	}
	c := r.conns[vr.Conn]
	if c != nil {
		list := c.demux[fidx(v.family)][v.m.cfg.VRID]
		o := c.byIf[demuxKey{uint8(fidx(v.family)), v.m.cfg.VRID, v.ifIndex}]
		if len(list) > 0 && (list[0].ifIndex == 0 || v.ifIndex == 0) {
			o = list[0]
		}
		if o != nil {
			return fmt.Errorf("%w: %q and %q both %v VRID %d on the same Conn and interface", ErrDuplicate, o.name, v.name, v.family, v.m.cfg.VRID)
		}
	} else {
		c = &rconn{c: vr.Conn, name: v.iface}
		r.conns[vr.Conn] = c
		// Removed and added again before Advance: not to be closed.
		for i, cc := range r.rd.Closed {
			if cc == vr.Conn {
				r.rd.Closed = append(r.rd.Closed[:i], r.rd.Closed[i+1:]...)
				break
			}
		}
	}
	c.refs++
	v.c = c
	r.vrs[v.name] = v
	r.order = append(r.order, v)
	f, id := fidx(v.family), v.m.cfg.VRID
	c.demux[f][id] = append(c.demux[f][id], v)
	if v.ifIndex != 0 {
		if c.byIf == nil {
			c.byIf = make(map[demuxKey]*vrt)
		}
		c.byIf[demuxKey{uint8(f), id, v.ifIndex}] = v
	}
	r.host(v, HostAdded)
	r.reserve(v)
	// A new member of a sync group with a member in fault is held in
	// Fault (before it starts, so that it starts there).
	r.holdGroup(now, v.syncGroup)
	if r.started {
		r.apply(now, v, v.m.Start(now))
	}
	return nil
}

// Remove shuts the named virtual router down (a master sends a priority-0
// advertisement and releases its addresses) and removes it; Ready.Host
// ends with HostRemoved, and Ready.Closed holds its Conn if no other
// virtual router uses it.
func (r *RawRouter) Remove(now time.Time, name string) error {
	v, err := r.lookup(name)
	if err != nil {
		return err
	}
	r.apply(now, v, v.m.Shutdown(now))
	r.remove(v)
	// A member whose fault held its group in Fault is gone.
	r.holdGroup(now, v.syncGroup)
	return nil
}

// remove unregisters v.
func (r *RawRouter) remove(v *vrt) {
	v.removed = true
	if v.hidx >= 0 {
		r.heap.Remove(v.hidx)
	}
	delete(r.vrs, v.name)
	for i, o := range r.order {
		if o == v {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	c := v.c
	f, id := fidx(v.family), v.m.cfg.VRID
	list := c.demux[f][id]
	for i, o := range list {
		if o == v {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		list = nil
	}
	c.demux[f][id] = list
	if v.ifIndex != 0 {
		delete(c.byIf, demuxKey{uint8(f), id, v.ifIndex})
	}
	r.host(v, HostRemoved)
	r.unreserve(v)
	r.sums.forget(v)
	c.refs--
	if c.refs == 0 {
		r.sums.forget(c)
		delete(r.conns, c.c)
		if r.last == c {
			r.last = nil
		}
		r.rd.Closed = append(r.rd.Closed, c.c)
	}
}

// SetPriority changes the priority of the named virtual router
// (Machine.SetPriority).
func (r *RawRouter) SetPriority(now time.Time, name string, prio uint8) error {
	v, err := r.lookup(name)
	if err != nil {
		return err
	}
	v.m.SetPriority(prio)
	r.heapFix(v)
	return nil
}

// SetPeers changes the unicast peers of the named virtual router
// (VirtualRouter.Peers, keepalived's unicast_peer): every advertisement
// it queues from now on goes to each of peers. Nothing else changes: its
// Machine keeps its state, timers and counters (no transition, no
// advertisement of its own; a master's next one goes out when its
// Adver_Timer fires, RFC 9568 section 6.4.3), and a packet from a former
// peer is still handled like any other (filtering by source is the
// Conn's, see transport.PeerSetter and Router.SetPeers).
//
// peers are checked as Add checks VirtualRouter.Peers: an error is a
// *ConfigError (errors.Is ErrConfig) naming the element at fault. A
// virtual router cannot switch live between multicast (no peers) and
// unicast: that changes what its Conn must receive (the group joined or
// not), which a Conn shared with other virtual routers cannot do for one
// of them; SetPeers refuses it with a *ConfigError, and the caller
// Removes and Adds the virtual router (with a Conn opened for the new
// mode) instead.
func (r *RawRouter) SetPeers(now time.Time, name string, peers []netip.Addr) error {
	v, err := r.lookup(name)
	if err != nil {
		return err
	}
	if err := v.checkNewPeers(peers); err != nil {
		return err
	}
	// The room reserved for v's sends follows its destinations.
	r.unreserve(v)
	v.setPeers(peers)
	r.reserve(v)
	return nil
}

// checkNewPeers checks peers as v's new unicast peers (SetPeers).
func (v *vrt) checkNewPeers(peers []netip.Addr) error {
	if err := checkPeers(peers, v.family); err != nil {
		return fmt.Errorf("virtual router %q: %w", v.name, err)
	}
	switch {
	case len(v.peers) == 0 && len(peers) > 0:
		return fmt.Errorf("virtual router %q: %w", v.name, &ConfigError{Field: "VirtualRouter.Peers", Value: fmt.Sprint(peers),
			Allowed: "none: it runs multicast, and a switch to unicast needs Remove and Add"})
	case len(v.peers) > 0 && len(peers) == 0:
		return fmt.Errorf("virtual router %q: %w", v.name, &ConfigError{Field: "VirtualRouter.Peers", Value: "[]",
			Allowed: "one or more unicast peers: it runs unicast, and a switch to multicast needs Remove and Add"})
	}
	return nil
}

// Peers returns a copy of the unicast peers of the named virtual router;
// none means multicast.
func (r *RawRouter) Peers(name string) ([]netip.Addr, error) {
	v, err := r.lookup(name)
	if err != nil {
		return nil, err
	}
	return append([]netip.Addr(nil), v.peers...), nil
}

// connPeers returns the unicast peers of every virtual router on conn
// but skip, with peers in skip's place, each once: what conn must admit.
// ok is false when a virtual router on conn runs multicast, when there
// is no single set to admit.
func (r *RawRouter) connPeers(conn transport.Conn, skip string, peers []netip.Addr) (all []netip.Addr, ok bool) {
	all = append(all, peers...)
	for _, o := range r.order {
		if o.c.c != conn || o.name == skip {
			continue
		}
		if len(o.peers) == 0 {
			return nil, false
		}
		for _, p := range o.peers {
			if !slices.Contains(all, p) {
				all = append(all, p)
			}
		}
	}
	return all, true
}

// Shutdown stops the named virtual router gracefully (Machine.Shutdown)
// and leaves it in Initialize; Start starts it again.
func (r *RawRouter) Shutdown(now time.Time, name string) error {
	v, err := r.lookup(name)
	if err != nil {
		return err
	}
	r.apply(now, v, v.m.Shutdown(now))
	return nil
}

// Start starts the named virtual router again after Shutdown. Before
// StartAll, and for a running virtual router, it does nothing.
func (r *RawRouter) Start(now time.Time, name string) error {
	v, err := r.lookup(name)
	if err != nil {
		return err
	}
	if r.started {
		r.apply(now, v, v.m.Start(now))
	}
	return nil
}

// StartAll starts every virtual router (Machine.Start), in the order they
// were added; those added later start when added.
func (r *RawRouter) StartAll(now time.Time) {
	r.started = true
	for _, v := range r.order {
		r.apply(now, v, v.m.Start(now))
	}
}

// ShutdownAll shuts every virtual router down (Machine.Shutdown: each
// master sends a priority-0 advertisement and releases its addresses);
// they stay registered. Those added later wait for StartAll.
func (r *RawRouter) ShutdownAll(now time.Time) {
	r.started = false
	for _, v := range r.order {
		r.apply(now, v, v.m.Shutdown(now))
	}
}

// InterfaceDown moves every virtual router whose Interface is ifname to
// Fault (Machine.InterfaceDown), and holds the other members of their sync
// groups in Fault with them.
func (r *RawRouter) InterfaceDown(now time.Time, ifname string) error {
	return r.onInterface(now, ifname, func(v *vrt) {
		v.linkDown = true
		r.apply(now, v, v.m.InterfaceDown(now))
	})
}

// InterfaceUp brings every virtual router whose Interface is ifname out of
// Fault (Machine.InterfaceUp), except those SetFault or a member of their
// sync group holds there.
func (r *RawRouter) InterfaceUp(now time.Time, ifname string) error {
	return r.onInterface(now, ifname, func(v *vrt) {
		v.linkDown = false
		r.apply(now, v, v.m.InterfaceUp(now))
	})
}

// SetFault holds the named virtual router in Fault (fault true) or lets
// it leave (false); see Router.SetFault.
func (r *RawRouter) SetFault(now time.Time, name string, fault bool) error {
	v, err := r.lookup(name)
	if err != nil {
		return err
	}
	if v.faulted == fault {
		return nil
	}
	v.faulted = fault
	r.apply(now, v, v.m.SetFault(now, fault))
	r.holdGroup(now, v.syncGroup)
	return nil
}

func (r *RawRouter) onInterface(now time.Time, ifname string, f func(*vrt)) error {
	found := false
	var groups []string
	for _, v := range r.order {
		if v.iface == ifname {
			found = true
			f(v)
			if g := v.syncGroup; g != "" && !contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	// In a stable order: that of the groups' first members.
	for _, v := range r.order {
		if g := v.syncGroup; g != "" && contains(groups, g) {
			groups = remove(groups, g)
			r.holdGroup(now, g)
		}
	}
	if !found {
		return fmt.Errorf("%w on interface %q", ErrNoVirtualRouter, ifname)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func remove(list []string, s string) []string {
	for i, x := range list {
		if x == s {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// ownFault reports whether v is in Fault for a reason of its own: its
// interface is down, or SetFault holds it.
func (v *vrt) ownFault() bool { return v.linkDown || v.faulted }

// holdGroup holds in Fault every member of the sync group whose other
// members include one in a fault of its own (keepalived holds a whole
// vrrp_sync_group in FAULT), and releases the others
// (Machine.SetGroupFault). Called whenever a member's own fault changes
// and when the group's membership does.
func (r *RawRouter) holdGroup(now time.Time, group string) {
	if group == "" {
		return
	}
	for _, o := range r.order {
		if o.syncGroup != group || o.removed {
			continue
		}
		held := false
		for _, p := range r.order {
			if p != o && p.syncGroup == group && !p.removed && p.ownFault() {
				held = true
				break
			}
		}
		r.apply(now, o, o.m.SetGroupFault(now, held))
	}
}

func (r *RawRouter) lookup(name string) (*vrt, error) {
	v, ok := r.vrs[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoVirtualRouter, name)
	}
	return v, nil
}

// Deadline returns when Tick must be called next: the earliest timer of
// any virtual router, or the zero Time when none runs.
func (r *RawRouter) Deadline() time.Time {
	if r.heap.Len() == 0 {
		return time.Time{}
	}
	return r.heap.Min().when
}

// heapFix moves v to its place in the deadline heap, or out of it.
func (r *RawRouter) heapFix(v *vrt) {
	d := v.m.Deadline()
	switch {
	case v.removed || d.IsZero():
		if v.hidx >= 0 {
			r.heap.Remove(v.hidx)
		}
	case v.hidx < 0:
		v.when = d
		r.heap.Push(d, 0, v, &v.hidx)
	default:
		v.when = d
		r.heap.Fix(v.hidx, d)
	}
}

// nextIsDown reports whether the earliest timer is a backup's (a
// Master_Down_Timer or the end of a preempt delay), for the Router's
// precise wake-up.
func (r *RawRouter) nextIsDown() bool {
	return r.heap.Len() > 0 && r.heap.Min().m.State() == Backup
}

// Tick fires every timer due at or before now, earliest first.
func (r *RawRouter) Tick(now time.Time) {
	if r.notes {
		r.rd.Notes = r.sums.flush(now, r.rd.Notes)
	}
	// A machine whose deadline does not move past now after Tick would
	// loop forever; bound the work to a few rounds of the heap.
	for budget := 4*r.heap.Len() + 4; r.heap.Len() > 0 && budget > 0; budget-- {
		v := r.heap.Min()
		if v.when.After(now) {
			if !r.batch || v.m.State() != Master || v.when.After(now.Add(v.m.cfg.AdvertInterval/advertSlack)) {
				return
			}
			// A master's Adver_Timer due within its slack
			// (RawConfig.BatchAdvertisements): its advertisement goes
			// out with this step's, the machine at its deadline.
			r.apply(v.when, v, v.m.Tick(v.when))
			continue
		}
		r.holdForLoss(v)
		r.apply(now, v, v.m.Tick(now))
	}
}

// advertSlack is the fraction of its Advertisement_Interval by which Tick
// may send a master's advertisement early (RawConfig.BatchAdvertisements).
const advertSlack = 16

// Receive handles one packet read from conn at now (its arrival time:
// timers due before it fire first, at their own time, as Tick would). It
// performs the checks of RFC 9568 section 7.1 (version, VRID known on
// that Conn, family and interface, TTL 255, then packet.Unmarshal and
// the Machine's), counting and noting what fails, and hands the
// advertisement to its virtual router. b is not kept.
func (r *RawRouter) Receive(now time.Time, conn transport.Conn, b []byte, m transport.Meta) {
	c := r.last
	if c == nil || c.c != conn {
		c = r.conns[conn]
		if c == nil {
			return // a Conn no virtual router uses any longer
		}
		r.last = c
	}
	if m.Drops != c.drops || !c.dropsSeen {
		// Before the timers due by now fire (below): the drops were
		// before this packet.
		r.noteDrops(now, c, m.Drops)
	}
	v := r.frontDoor(now, c, b, m)
	if v == nil {
		return
	}
	r.Tick(now)
	r.receive(now, v, b, m)
}

// frontDoor performs the cheap checks of RFC 9568 section 7.1 and
// returns the virtual router the packet is for, or nil when it was
// dropped (and counted).
func (r *RawRouter) frontDoor(now time.Time, c *rconn, b []byte, m transport.Meta) *vrt {
	if len(b) < 2 || !m.Src.IsValid() {
		r.stats.ShortPackets++
		r.noteFront(now, c, false, "short packet or no source", m)
		return nil
	}
	if ver := b[0] >> 4; ver != 2 && ver != 3 {
		r.stats.VersionErrors++
		r.discards.add(now, m.Src.Unmap(), AnomalyVersion.String(), "", b[1], c.name)
		r.noteFront(now, c, false, "version is not 2 or 3", m)
		return nil
	}
	f := 1
	if m.Src.Unmap().Is4() {
		f = 0
	}
	v := c.lookup(f, b[1], m.IfIndex)
	if v == nil {
		r.stats.VRIDErrors++
		r.noteFront(now, c, true, "unknown VRID", m)
		return nil
	}
	if m.TTL != packet.TTL {
		r.stats.TTLErrors++
		// RFC 6527: counted as the Machine would (IPTTLErrors), and the
		// last protocol error is ipTtlError.
		v.m.stats.IPTTLErrors++
		v.m.stats.ProtoErrReason = ProtoErrTTL
		r.discards.add(now, m.Src.Unmap(), AnomalyTTL.String(), v.name, v.m.cfg.VRID, v.iface)
		r.noteFront(now, c, false, "TTL is not 255", m)
		return nil
	}
	return v
}

// noteFront notes a packet the front door dropped, within c's rate limit.
func (r *RawRouter) noteFront(now time.Time, c *rconn, debug bool, why string, m transport.Meta) {
	if !r.notes || debug && !r.debugNotes {
		return
	}
	r.note(now, summaryKey{owner: c, src: m.Src, why: why}, &c.lim, Note{Interface: c.name, Src: m.Src, TTL: m.TTL, Why: why, Debug: debug})
}

// note notes n, the first of key k in a SummaryPeriod, within the rate
// limit lim; a repeat is counted for the summary instead (summaries).
func (r *RawRouter) note(now time.Time, k summaryKey, lim *rateLimiter, n Note) {
	if r.sums.repeat(k) || !lim.allow(now, r.logLimit) {
		return
	}
	r.sums.track(now, k, &n)
	r.rd.Notes = append(r.rd.Notes, n)
}

// receive parses a packet the front door passed for v and hands it to v's
// machine.
func (r *RawRouter) receive(now time.Time, v *vrt, b []byte, m transport.Meta) {
	r.stats.Received++
	info, err := r.adv.Unmarshal(b, m.Src, m.Dst)
	if err != nil {
		switch {
		case errors.Is(err, packet.ErrChecksum):
			r.stats.ChecksumErrors++
		case errors.Is(err, packet.ErrVersion):
			r.stats.VersionErrors++
		}
		v.m.CountError(err)
		why := parseReason(err)
		r.discards.add(now, m.Src.Unmap(), why, v.name, v.m.cfg.VRID, v.iface)
		if r.notes {
			r.note(now, summaryKey{owner: v, src: m.Src, why: why}, &v.lim, Note{Name: v.name, VRID: v.m.cfg.VRID, Src: m.Src, TTL: m.TTL, Err: err})
		}
		return
	}
	// An IPv4 packet seen through an IPv6 socket has an IPv4-mapped
	// source; the front door routed it as IPv4, and so does the machine.
	src := m.Src.Unmap()
	master := v.m.State() == Master
	acts := v.m.Receive(now, &r.adv, src, m.TTL, info)
	dropped := false
	for _, a := range acts {
		if a.Kind == ActDrop {
			dropped = true
			r.discards.add(now, src, a.Anomaly.String(), v.name, v.m.cfg.VRID, v.iface)
		}
	}
	r.noteAnomalies(now, v, src, acts)
	r.apply(now, v, acts)
	if master && !dropped && src != v.m.cfg.Primary {
		r.heardMaster(now, v, src)
	}
}

// heardMaster counts an advertisement of v's VRID from src, another
// router, received while v was master (Stats.SecondMaster), and notes the
// first of an episode if v is master still (else the advertisement made
// it step down: a preemption, which its transition logs): an episode ends
// after secondMasterEpisodes advertisement intervals (the longer of v's
// and src's) without such an advertisement.
func (r *RawRouter) heardMaster(now time.Time, v *vrt, src netip.Addr) {
	if v.m.State() != Master {
		v.sm.count++
		return
	}
	// Within v's rate limit: a flood of forged advertisements from ever
	// new sources would start an episode each.
	if v.sm.heard(now, src, v.m.cfg.AdvertInterval, r.adv.Interval()) && r.notes && v.lim.allow(now, r.logLimit) {
		r.rd.Notes = append(r.rd.Notes, Note{Name: v.name, VRID: v.m.cfg.VRID, Src: src, SecondMaster: true, Priority: r.adv.Priority})
	}
}

// noteAnomalies notes the ActDrop and ActNotice actions of the
// advertisement from src, within v's rate limit (RFC 9568 section 7.1:
// "log the event (subject to rate-limiting)").
func (r *RawRouter) noteAnomalies(now time.Time, v *vrt, src netip.Addr, acts []Action) {
	if !r.notes {
		return
	}
	for _, a := range acts {
		if a.Kind != ActDrop && a.Kind != ActNotice {
			continue
		}
		r.note(now, summaryKey{owner: v, src: src, kind: a.Kind, anom: a.Anomaly}, &v.lim, Note{Name: v.name, VRID: v.m.cfg.VRID, Src: src, Kind: a.Kind, Anomaly: a.Anomaly})
	}
}

// apply executes the actions of v's machine, updates v's place in the
// deadline heap and propagates transitions to v's sync group.
func (r *RawRouter) apply(now time.Time, v *vrt, acts []Action) {
	sync := State(255)
	for _, a := range acts {
		switch a.Kind {
		case ActSend:
			r.queueSend(v, a.Priority)
		case ActTakeAddrs:
			r.host(v, HostTake)
		case ActReleaseAddrs:
			r.host(v, HostRelease)
		case ActAnnounce:
			r.host(v, HostAnnounce)
		case ActDrop, ActNotice:
			// Noted by receive, which knows the packet's source.
		case ActTransition:
			r.host(v, HostTransition)
			h := &r.rd.Host[len(r.rd.Host)-1]
			h.Event = Event{Time: now, Name: v.name, VRID: v.m.cfg.VRID, Family: v.family, From: a.From, To: a.To, Reason: a.Reason, MasterReason: a.MasterReason, Peer: a.Peer, PeerPriority: a.PeerPriority}
			if a.Reason != ReasonSyncGroup && v.syncGroup != "" {
				// Fault is not passed on here: holdGroup holds the
				// group from the members' own faults.
				switch {
				case a.To == Master:
					sync = Master
				case a.From == Master && a.To == Backup:
					sync = Backup
				}
			}
		}
	}
	r.heapFix(v)
	if sync == State(255) {
		return
	}
	for _, o := range r.order {
		if o != v && o.syncGroup == v.syncGroup {
			r.apply(now, o, o.m.Sync(now, sync))
		}
	}
}

// host appends a HostAction for v.
//
// Beyond the reserved room (thousands of virtual routers taking over in
// one step) the array quadruples, up to the three entries (transition,
// take, announce) of every virtual router, and doubles after that: append
// grows a large array by a quarter, and the intermediate arrays, about
// five times the final one in all, were garbage that the GC running
// during the takeover marked live (issue 12: 10 MB at 4,094 links;
// TestRawRouterTakeoverBurstAllocates). Advance lets the grown array go
// (reuseBurstRoom).
func (r *RawRouter) host(v *vrt, k HostKind) {
	if n := cap(r.rd.Host); len(r.rd.Host) == n {
		r.rd.Host = grow(r.rd.Host, max(min(3*n, 3*len(r.order)-n), n, 64))
	}
	r.rd.Host = append(r.rd.Host, HostAction{Kind: k, VR: v.info()})
}

func (v *vrt) info() VRInfo {
	return VRInfo{
		Name:       v.name,
		Interface:  v.iface,
		IfIndex:    v.ifIndex,
		VRID:       v.m.cfg.VRID,
		Version:    v.m.cfg.Version,
		Addrs:      v.m.cfg.Addrs,
		Priority:   v.m.Priority(),
		AcceptMode: v.m.cfg.AcceptMode,
	}
}

// queueSend marshals an advertisement of v into the arena and queues it
// on v's Conn.
func (r *RawRouter) queueSend(v *vrt, prio uint8) {
	adv := v.m.Advertisement(prio)
	for _, dst := range v.dsts {
		start := len(r.arena)
		b, err := adv.Append(r.arena, v.m.cfg.Primary, dst, v.m.cfg.Checksum)
		if err != nil {
			r.stats.SendErrors++
			if r.notes {
				r.rd.Notes = append(r.rd.Notes, Note{Name: v.name, VRID: v.m.cfg.VRID, Err: fmt.Errorf("marshal: %w", err)})
			}
			continue
		}
		r.arena = b
		c := v.c
		if c.out == 0 {
			n := len(r.rd.Sends)
			if n < cap(r.rd.Sends) {
				r.rd.Sends = r.rd.Sends[:n+1]
			} else {
				r.rd.Sends = append(r.rd.Sends, Outbound{})
			}
			o := &r.rd.Sends[n]
			// The Conn's own array, with room for all its virtual
			// routers (reserve).
			o.Conn, o.Interface, o.Msgs = c.c, c.name, c.msgs[:0]
			c.out = n + 1
		}
		o := &r.rd.Sends[c.out-1]
		if n := cap(o.Msgs); len(o.Msgs) == n {
			// Beyond the reserved room (takeoverRoom): as Ready.Host
			// (host), quadrupled up to a message per virtual router
			// and destination on the Conn.
			o.Msgs = grow(o.Msgs, max(min(3*n, c.refs*len(v.dsts)-n), n, 64))
		}
		o.Msgs = append(o.Msgs, transport.Message{
			Buf:  b[start:len(b):len(b)],
			Meta: transport.Meta{Src: v.m.cfg.Primary, Dst: dst, IfIndex: v.ifIndex},
		})
	}
}

// Ready returns what the inputs since the last Advance ask for. It stays
// valid, and grows with further inputs, until Advance.
func (r *RawRouter) Ready() *Ready { return &r.rd }

// Advance says the caller has done what Ready asked; its buffers are
// reused.
func (r *RawRouter) Advance() {
	for i := range r.rd.Sends {
		o := &r.rd.Sends[i]
		clear(o.Msgs)
		if c := r.conns[o.Conn]; c != nil {
			c.out = 0
			if cap(o.Msgs) >= cap(c.msgs) {
				// Grown, if it had to: kept while steps use it (masters of
				// thousands of links that send together every interval), let
				// go after a burst (reuseRoom).
				c.msgs = reuseRoom(o.Msgs, takeoverRoom)
			}
		}
		*o = Outbound{}
	}
	r.rd.Sends = r.rd.Sends[:0]
	r.rd.Host = reuseBurstRoom(r.rd.Host, r.hostRoom())
	clear(r.rd.Notes)
	r.rd.Notes = r.rd.Notes[:0]
	clear(r.rd.Closed)
	r.rd.Closed = r.rd.Closed[:0]
	r.arena = r.arena[:0]
}

// State returns the state of the named virtual router.
func (r *RawRouter) State(name string) (State, error) {
	v, err := r.lookup(name)
	if err != nil {
		return 0, err
	}
	return v.m.State(), nil
}

// Stats returns the statistics of the named virtual router (Machine.Stats;
// IPTTLErrors includes the packets dropped at the front door for their
// TTL).
func (r *RawRouter) Stats(name string) (Stats, error) {
	v, err := r.lookup(name)
	if err != nil {
		return Stats{}, err
	}
	return v.stats(), nil
}

// stats returns v's statistics: its machine's, with the second masters
// the RawRouter counted.
func (v *vrt) stats() Stats {
	s := v.m.Stats()
	s.SecondMaster = v.sm.count
	return s
}

// Master returns the primary address of the named virtual router's
// current master as far as it knows (Machine.Master).
func (r *RawRouter) Master(name string) (netip.Addr, error) {
	v, err := r.lookup(name)
	if err != nil {
		return netip.Addr{}, err
	}
	return v.m.Master(), nil
}

// status returns the named virtual router's State, Master and Stats
// (Router.Status).
func (r *RawRouter) status(name string) VRStatus {
	v, err := r.lookup(name)
	if err != nil {
		return VRStatus{Err: err}
	}
	return VRStatus{State: v.m.State(), Master: v.m.Master(), Stats: v.stats()}
}

// Info returns the named virtual router's VRInfo.
func (r *RawRouter) Info(name string) (VRInfo, error) {
	v, err := r.lookup(name)
	if err != nil {
		return VRInfo{}, err
	}
	return v.info(), nil
}

// Discards appends to dst the rows of the table of discarded
// advertisements, largest count first: the sources whose advertisements
// were dropped (RFC 9568 section 7.1 checks, and the Machine's), by
// reason and virtual router, at most DiscardTableLen rows (see Discard).
// Unknown VRIDs are not in it (normal on a shared LAN; RouterStats
// counts them).
func (r *RawRouter) Discards(dst []Discard) []Discard { return r.discards.list(dst) }

// Len returns the number of virtual routers.
func (r *RawRouter) Len() int { return len(r.order) }

// RouterStats returns the counters of what the RawRouter handled:
// ChecksumErrors, VersionErrors, VRIDErrors, TTLErrors, ShortPackets,
// Received, and in SendErrors the advertisements that did not marshal.
// QueueDrops and LossHolds; Sent, ReadErrors and EventsDropped are the
// caller's (Router's).
func (r *RawRouter) RouterStats() RouterStats { return r.stats }

func fidx(f Family) int {
	if f == IPv4 {
		return 0
	}
	return 1
}

// rateLimiter allows limit events per second (negative: unlimited).
type rateLimiter struct {
	start time.Time
	n     int
}

func (l *rateLimiter) allow(now time.Time, limit int) bool {
	if limit < 0 {
		return true
	}
	if now.Sub(l.start) >= time.Second || now.Before(l.start) {
		l.start, l.n = now, 0
	}
	if l.n >= limit {
		return false
	}
	l.n++
	return true
}
