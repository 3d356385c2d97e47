package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govrrp/govrrp/clock"
	"github.com/govrrp/govrrp/packet"
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
	// Logger receives transitions (Info), hook and send errors (Warn) and
	// rate-limited receive errors (Debug). If nil, logs are discarded.
	Logger *slog.Logger
	// Hook is told about address changes and announcements; combine
	// several with MultiHook. If nil, none.
	Hook Hook
	// EventBuffer is the capacity of the Events channel. If zero, 256. If
	// negative, no events are produced and Events returns nil.
	EventBuffer int
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

const (
	rxBufSize    = packet.HeaderLen + packet.MaxAddrs*16 + packet.AuthDataLen + 64
	rxBatchLen   = 16 // packets per receive batch
	rxBatchesPer = 4  // receive batches per Conn
	rxQueueLen   = 64 // batches waiting for the owner goroutine
	defEvents    = 256
	defLogLimit  = 10
)

// Router is the runtime: it drives any number of virtual routers (any
// VRIDs, both families, several interfaces and transports) from one owner
// goroutine, Run, with one timer armed for the earliest Machine deadline
// and a reader goroutine per transport.Conn.
//
// The reader goroutines do the cheap receive checks of RFC 9568 section
// 7.1 (version, VRID known on that interface and family, TTL 255) and
// drop and count what fails, so a flood of foreign packets costs little.
// A reader hands over up to 16 packets at a time (all it got from one
// transport.BatchReader call), and the owner goroutine fires due timers
// before it handles them, then parses each (packet.Unmarshal into a
// reused Advertisement); timers a packet restarts count from its arrival
// (transport.Meta.Time where the Conn knows it, else when it was read),
// not from when the owner got to it. Advertisements due at the same
// instant are marshalled into reused buffers and written together
// (transport.BatchWriter when the Conn implements it).
//
// Every method is safe to call from any goroutine, before, during and
// after Run, except from a Hook (which runs on the owner goroutine): there
// only State, RouterStats and Events may be used.
type Router struct {
	clk      clock.Clock
	log      *slog.Logger
	hook     Hook
	events   chan Event
	logLimit int

	mu    sync.Mutex // guards phase; while idle or stopped, also the owner state
	phase int
	ctl   chan func(now time.Time)
	done  chan struct{} // closed when Run returns
	stop  chan struct{} // closed when Run's loop ends, to stop the readers
	rx    chan *rxBatch
	wake  chan struct{}
	index sync.Map // name -> *vrt, for State

	stats routerCounters
	wg    sync.WaitGroup // reader goroutines

	// Owner state: touched by the owner goroutine while running, under mu
	// otherwise.
	running bool
	vrs     map[string]*vrt
	order   []*vrt
	conns   map[transport.Conn]*rconn
	// precise is set with the real clock: wake early for down timers
	// (spinUntilDue). earlyFor is the deadline the timer was last armed
	// early for: a second arming for it (the spin gave up) is exact.
	precise  bool
	earlyFor time.Time
	// after holds the Take and Announce hook calls that run after the
	// next flush, once the advertisements are written.
	after []deferredHook
	heap  []*vrt
	timer clock.Timer
	armed time.Time
	arena []byte
	dirty []*rconn
	adv   packet.Advertisement
}

const (
	phaseIdle = iota
	phaseRunning
	phaseStopped
)

type routerCounters struct {
	checksum, version, vrid, ttl, short atomic.Uint64
	received, sent, sendErrs, readErrs  atomic.Uint64
	eventsDropped                       atomic.Uint64
}

// vrt is the runtime side of one virtual router.
type vrt struct {
	name    string
	vr      VirtualRouter
	cfg     Config // with defaults
	m       *Machine
	c       *rconn
	family  Family
	dsts    []netip.Addr // group or peers
	hidx    int          // index in Router.heap, -1 if absent
	when    time.Time    // heap key
	removed bool
	lim     rateLimiter

	// Why the machine is held in Fault: its interface is down
	// (InterfaceDown), or its owner said so (SetFault, tracking).
	linkDown, faulted bool

	state   atomic.Uint32 // State, for Router.State
	ttlErrs atomic.Uint64 // front-door TTL errors
}

// rconn is one transport.Conn and the virtual routers on it.
type rconn struct {
	c      transport.Conn
	bw     transport.BatchWriter
	name   string // interface of the first virtual router, for logs
	refs   int
	demux  atomic.Pointer[demuxTable]
	br     transport.BatchReader // nil: read one packet at a time
	free   chan *rxBatch
	msgs   []transport.Message // batch being built (owner)
	reader bool                // reader goroutine started
	closed bool
	lim    rateLimiter // reader-owned
}

// demuxTable maps [family][VRID] to the virtual routers (one per
// interface index) of a Conn. It is replaced, never modified, so readers
// load it atomically.
type demuxTable [2][256][]*vrt

// rxBatch is what a reader goroutine hands to the owner in one channel
// send: up to rxBatchLen packets read together (transport.BatchReader),
// each with the virtual router the front door found for it.
type rxBatch struct {
	c    *rconn
	n    int // packets in msgs and vs
	msgs [rxBatchLen]transport.Message
	vs   [rxBatchLen]*vrt
	// at is when the reader read the batch: timers restarted by its
	// packets (the Master_Down_Timer) count from their arrival, not from
	// when the owner goroutine got to them.
	at   time.Time
	bufs [rxBatchLen][rxBufSize]byte
}

func newRxBatch(c *rconn) *rxBatch {
	b := &rxBatch{c: c}
	for i := range b.msgs {
		b.msgs[i].Buf = b.bufs[i][:]
	}
	return b
}

// NewRouter returns a Router with no virtual routers. Add them, then call
// Run.
func NewRouter(cfg RouterConfig) *Router {
	r := &Router{
		clk:      cfg.Clock,
		log:      cfg.Logger,
		hook:     cfg.Hook,
		logLimit: cfg.LogLimit,
		ctl:      make(chan func(time.Time)),
		done:     make(chan struct{}),
		stop:     make(chan struct{}),
		rx:       make(chan *rxBatch, rxQueueLen),
		wake:     make(chan struct{}, 1),
		vrs:      make(map[string]*vrt),
		conns:    make(map[transport.Conn]*rconn),
	}
	if r.clk == nil {
		r.clk = clock.Real()
	}
	r.precise = r.clk == clock.Real()
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.hook == nil {
		r.hook = nopHook{}
	}
	switch {
	case cfg.EventBuffer == 0:
		r.events = make(chan Event, defEvents)
	case cfg.EventBuffer > 0:
		r.events = make(chan Event, cfg.EventBuffer)
	}
	if r.logLimit == 0 {
		r.logLimit = defLogLimit
	}
	return r
}

// Events returns the channel of state transitions, in order. It never
// blocks the protocol: when the buffer (RouterConfig.EventBuffer) is full
// the oldest event is dropped to make room, and counted in
// RouterStats.EventsDropped, so a slow consumer sees the latest state. The
// channel is closed when Run returns, after the shutdown transitions.
func (r *Router) Events() <-chan Event { return r.events }

// RouterStats returns the Router-wide counters.
func (r *Router) RouterStats() RouterStats {
	s := &r.stats
	return RouterStats{
		ChecksumErrors: s.checksum.Load(),
		VersionErrors:  s.version.Load(),
		VRIDErrors:     s.vrid.Load(),
		TTLErrors:      s.ttl.Load(),
		ShortPackets:   s.short.Load(),
		Received:       s.received.Load(),
		Sent:           s.sent.Load(),
		SendErrors:     s.sendErrs.Load(),
		ReadErrors:     s.readErrs.Load(),
		EventsDropped:  s.eventsDropped.Load(),
	}
}

// State returns the state of the named virtual router, from a snapshot the
// owner goroutine updates after every input.
func (r *Router) State(name string) (State, error) {
	v, ok := r.index.Load(name)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrNoVirtualRouter, name)
	}
	return State(v.(*vrt).state.Load()), nil
}

// Stats returns the statistics of the named virtual router (see Stats;
// IPTTLErrors includes the packets the Router dropped at the front door
// for their TTL).
func (r *Router) Stats(name string) (Stats, error) {
	var s Stats
	err := r.do(true, func(time.Time) error {
		v, err := r.lookup(name)
		if err != nil {
			return err
		}
		s = v.m.Stats()
		s.IPTTLErrors += v.ttlErrs.Load()
		return nil
	})
	return s, err
}

// Master returns the primary address of the named virtual router's current
// master as far as it knows (Machine.Master): its own as master, the
// source of the last accepted advertisement as backup, or the zero Addr.
func (r *Router) Master(name string) (netip.Addr, error) {
	var a netip.Addr
	err := r.do(true, func(time.Time) error {
		v, err := r.lookup(name)
		if err != nil {
			return err
		}
		a = v.m.Master()
		return nil
	})
	return a, err
}

// Add adds a virtual router. Before Run it waits for Run to start it;
// during Run it starts at once (Machine.Start) without disturbing the
// others. Config errors are *ConfigError (errors.Is ErrConfig).
func (r *Router) Add(vr VirtualRouter) error {
	if vr.Name == "" {
		return &ConfigError{Field: "VirtualRouter.Name", Value: `""`, Allowed: "a non-empty name"}
	}
	if vr.Conn == nil {
		return &ConfigError{Field: "VirtualRouter.Conn", Value: "nil", Allowed: "a transport.Conn"}
	}
	if !vr.Config.Primary.IsValid() {
		// The transport knows which address it sends from (the interface's
		// primary IPv4 address or IPv6 link-local address, RFC 9568
		// section 5.1): use it as Primary.
		if s, ok := vr.Conn.(transport.Sourcer); ok {
			if src, err := s.Source(vr.IfIndex); err == nil {
				vr.Config.Primary = src
			}
		}
	}
	m, err := NewMachine(vr.Config)
	if err != nil {
		return fmt.Errorf("virtual router %q: %w", vr.Name, err)
	}
	cfg := m.Config()
	v := &vrt{name: vr.Name, vr: vr, cfg: cfg, m: m, hidx: -1, family: IPv6}
	if cfg.Primary.Is4() {
		v.family = IPv4
	}
	v.vr.Peers = append([]netip.Addr(nil), vr.Peers...)
	v.vr.Config = cfg
	for _, p := range vr.Peers {
		if !p.IsValid() || p.Is4() != cfg.Primary.Is4() {
			return fmt.Errorf("virtual router %q: %w", vr.Name, &ConfigError{Field: "VirtualRouter.Peers", Value: p.String(), Allowed: "unicast addresses of the family of Config.Addrs"})
		}
	}
	v.dsts = v.vr.Peers
	if len(v.dsts) == 0 {
		if v.family == IPv4 {
			v.dsts = []netip.Addr{packet.GroupIPv4}
		} else {
			v.dsts = []netip.Addr{packet.GroupIPv6}
		}
	}
	return r.do(false, func(now time.Time) error { return r.add(now, v) })
}

// Remove shuts the named virtual router down (a master sends a priority-0
// advertisement and releases its addresses) and removes it. Its Conn is
// closed if no other virtual router uses it.
func (r *Router) Remove(name string) error {
	return r.do(false, func(now time.Time) error {
		v, err := r.lookup(name)
		if err != nil {
			return err
		}
		r.apply(now, v, v.m.Shutdown(now))
		r.flush()
		r.remove(v)
		// A member whose fault held its group in Fault is gone.
		r.holdGroup(now, v.vr.SyncGroup)
		return nil
	})
}

// SetPriority changes the priority of the named virtual router
// (Machine.SetPriority).
func (r *Router) SetPriority(name string, prio uint8) error {
	return r.control(name, func(now time.Time, m *Machine) []Action { return m.SetPriority(now, prio) })
}

// Shutdown stops the named virtual router gracefully (Machine.Shutdown: a
// master sends a priority-0 advertisement so a backup takes over after
// Skew_Time) and leaves it in Initialize; Start starts it again.
func (r *Router) Shutdown(name string) error {
	return r.control(name, func(now time.Time, m *Machine) []Action { return m.Shutdown(now) })
}

// Start starts the named virtual router again after Shutdown. During Run
// it does nothing to a running virtual router.
func (r *Router) Start(name string) error {
	return r.do(false, func(now time.Time) error {
		v, err := r.lookup(name)
		if err != nil {
			return err
		}
		if r.running {
			r.apply(now, v, v.m.Start(now))
		}
		return nil
	})
}

// InterfaceDown moves every virtual router whose Interface is ifname to
// Fault (Machine.InterfaceDown), and holds the other members of their sync
// groups in Fault with them.
func (r *Router) InterfaceDown(ifname string) error {
	return r.onInterface(ifname, func(now time.Time, v *vrt) {
		v.linkDown = true
		r.apply(now, v, v.m.InterfaceDown(now))
	})
}

// InterfaceUp brings every virtual router whose Interface is ifname out of
// Fault (Machine.InterfaceUp), except those SetFault or a member of their
// sync group holds there.
func (r *Router) InterfaceUp(ifname string) error {
	return r.onInterface(ifname, func(now time.Time, v *vrt) {
		v.linkDown = false
		if !v.faulted {
			r.apply(now, v, v.m.InterfaceUp(now))
		}
	})
}

// SetFault holds the named virtual router in Fault (fault true) or lets
// it leave (false): keepalived's FAULT state from tracking (a tracked
// interface or check script with weight 0). Entering Fault, a master
// releases its addresses and sends a priority-0 advertisement, and the
// other members of its sync group are held in Fault with it; leaving, it
// starts again as Machine.InterfaceUp does, unless its interface is down
// (InterfaceDown) or another member of its group is in a fault of its
// own, either of which holds it in Fault.
func (r *Router) SetFault(name string, fault bool) error {
	return r.do(false, func(now time.Time) error {
		v, err := r.lookup(name)
		if err != nil {
			return err
		}
		if v.faulted == fault {
			return nil
		}
		v.faulted = fault
		switch {
		case fault:
			r.apply(now, v, v.m.InterfaceDown(now))
		case !v.linkDown:
			r.apply(now, v, v.m.InterfaceUp(now))
		}
		r.holdGroup(now, v.vr.SyncGroup)
		return nil
	})
}

// ownFault reports whether v is in Fault for a reason of its own: its
// interface is down, or SetFault holds it.
func (v *vrt) ownFault() bool { return v.linkDown || v.faulted }

// holdGroup holds in Fault every member of the sync group whose other
// members include one in a fault of its own (keepalived holds a whole
// vrrp_sync_group in FAULT), and releases the others
// (Machine.SetGroupFault). Called whenever a member's own fault changes
// and when the group's membership does.
func (r *Router) holdGroup(now time.Time, group string) {
	if group == "" {
		return
	}
	for _, o := range r.order {
		if o.vr.SyncGroup != group || o.removed {
			continue
		}
		held := false
		for _, p := range r.order {
			if p != o && p.vr.SyncGroup == group && !p.removed && p.ownFault() {
				held = true
				break
			}
		}
		r.apply(now, o, o.m.SetGroupFault(now, held))
	}
}

func (r *Router) control(name string, f func(time.Time, *Machine) []Action) error {
	return r.do(false, func(now time.Time) error {
		v, err := r.lookup(name)
		if err != nil {
			return err
		}
		r.apply(now, v, f(now, v.m))
		return nil
	})
}

func (r *Router) onInterface(ifname string, f func(time.Time, *vrt)) error {
	return r.do(false, func(now time.Time) error {
		found := false
		groups := map[string]bool{}
		for _, v := range r.order {
			if v.vr.Interface == ifname {
				found = true
				f(now, v)
				groups[v.vr.SyncGroup] = true
			}
		}
		for _, v := range r.order { // in a stable order
			if groups[v.vr.SyncGroup] {
				delete(groups, v.vr.SyncGroup)
				r.holdGroup(now, v.vr.SyncGroup)
			}
		}
		if !found {
			return fmt.Errorf("%w on interface %q", ErrNoVirtualRouter, ifname)
		}
		return nil
	})
}

func (r *Router) lookup(name string) (*vrt, error) {
	v, ok := r.vrs[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoVirtualRouter, name)
	}
	return v, nil
}

// do runs f on the owner state: inline under mu before Run (and after it
// for read-only f), else on the owner goroutine, waiting for the result.
func (r *Router) do(readOnly bool, f func(now time.Time) error) error {
	r.mu.Lock()
	switch r.phase {
	case phaseIdle:
		defer r.mu.Unlock()
		return f(r.clk.Now())
	case phaseStopped:
		defer r.mu.Unlock()
		if readOnly {
			return f(r.clk.Now())
		}
		return ErrRouterStopped
	}
	r.mu.Unlock()
	reply := make(chan error, 1)
	select {
	case r.ctl <- func(now time.Time) { reply <- f(now) }:
		return <-reply
	case <-r.done:
		if readOnly {
			return r.do(readOnly, f)
		}
		return ErrRouterStopped
	}
}

// add registers v. Owner state.
func (r *Router) add(now time.Time, v *vrt) error {
	if _, ok := r.vrs[v.name]; ok {
		return fmt.Errorf("%w: name %q", ErrDuplicate, v.name)
	}
	c := r.conns[v.vr.Conn]
	if c != nil {
		for _, o := range c.demux.Load()[fidx(v.family)][v.cfg.VRID] {
			if o.vr.IfIndex == 0 || v.vr.IfIndex == 0 || o.vr.IfIndex == v.vr.IfIndex {
				return fmt.Errorf("%w: %q and %q both %v VRID %d on the same Conn and interface", ErrDuplicate, o.name, v.name, v.family, v.cfg.VRID)
			}
		}
	} else {
		c = &rconn{c: v.vr.Conn, name: v.vr.Interface, free: make(chan *rxBatch, rxBatchesPer)}
		c.bw, _ = v.vr.Conn.(transport.BatchWriter)
		c.br, _ = v.vr.Conn.(transport.BatchReader)
		c.demux.Store(new(demuxTable))
		for range rxBatchesPer {
			c.free <- newRxBatch(c)
		}
		r.conns[v.vr.Conn] = c
	}
	c.refs++
	v.c = c
	r.vrs[v.name] = v
	r.order = append(r.order, v)
	r.index.Store(v.name, v)
	r.rebuildDemux(c)
	// A new member of a sync group with a member in fault is held in
	// Fault (before it starts, so that it starts there).
	r.holdGroup(now, v.vr.SyncGroup)
	if r.running {
		if !c.reader {
			r.startReader(c)
		}
		r.apply(now, v, v.m.Start(now))
	}
	return nil
}

// remove unregisters v. Owner state.
func (r *Router) remove(v *vrt) {
	v.removed = true
	r.heapRemove(v)
	delete(r.vrs, v.name)
	r.index.Delete(v.name)
	for i, o := range r.order {
		if o == v {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	c := v.c
	c.refs--
	r.rebuildDemux(c)
	if c.refs == 0 {
		delete(r.conns, c.c)
		c.closed = true
		if err := c.c.Close(); err != nil {
			r.log.Warn("closing transport", "interface", c.name, "err", err)
		}
	}
}

func fidx(f Family) int {
	if f == IPv4 {
		return 0
	}
	return 1
}

func (r *Router) rebuildDemux(c *rconn) {
	t := new(demuxTable)
	for _, v := range r.order {
		if v.c == c {
			f, id := fidx(v.family), v.cfg.VRID
			t[f][id] = append(t[f][id], v)
		}
	}
	c.demux.Store(t)
}

// Run runs the virtual routers until ctx is cancelled, then shuts every
// one down gracefully (Machine.Shutdown: each master sends a priority-0
// advertisement and releases its addresses, hooks run), closes every Conn
// it was given, waits for its reader goroutines to exit, closes the Events
// channel and returns nil. A Router runs once: later calls return
// ErrRouterStopped (or ErrRouterRunning during Run).
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	switch r.phase {
	case phaseRunning:
		r.mu.Unlock()
		return ErrRouterRunning
	case phaseStopped:
		r.mu.Unlock()
		return ErrRouterStopped
	}
	r.phase = phaseRunning
	r.running = true
	now := r.clk.Now()
	for _, v := range r.order {
		if !v.c.reader {
			r.startReader(v.c)
		}
	}
	for _, v := range r.order {
		r.apply(now, v, v.m.Start(now))
	}
	r.flush()
	r.rearm()
	r.mu.Unlock()

	for {
		var (
			f   func(time.Time)
			b   *rxBatch
			got int
		)
		select {
		case <-ctx.Done():
			r.shutdown()
			return nil
		case <-r.wake:
			r.armed = time.Time{}
			r.spinUntilDue()
		case f = <-r.ctl:
			got = 1
		case b = <-r.rx:
			got = 2
		}
		now := r.clk.Now()
		// Packets that are waiting first, each after the timers due
		// before it arrived, then the timers due since, then the
		// control call: a timer that ran out while this goroutine was
		// busy must not fire ahead of an advertisement that arrived in
		// time to stop it.
		if got == 2 {
			r.receiveBatch(now, b)
		}
		r.drainRx(now)
		r.fireDue(now)
		if got == 1 {
			f(now)
		}
		r.flush()
		r.rearm()
	}
}

func (r *Router) shutdown() {
	now := r.clk.Now()
	for _, v := range r.order {
		r.apply(now, v, v.m.Shutdown(now))
	}
	r.flush()
	close(r.stop)
	for _, c := range r.conns {
		c.closed = true
		if err := c.c.Close(); err != nil {
			r.log.Warn("closing transport", "interface", c.name, "err", err)
		}
	}
	r.wg.Wait()
	if r.timer != nil {
		r.timer.Stop()
	}
	// Return the buffers of packets nobody will handle.
	for {
		select {
		case b := <-r.rx:
			b.c.free <- b
			continue
		default:
		}
		break
	}
	r.mu.Lock()
	r.phase = phaseStopped
	r.running = false
	r.mu.Unlock()
	if r.events != nil {
		close(r.events)
	}
	close(r.done)
}

// fireDue ticks every machine whose deadline is at or before now.
func (r *Router) fireDue(now time.Time) {
	// A machine whose deadline does not move past now after Tick would
	// loop forever; bound the work to a few rounds of the heap.
	for budget := 4*len(r.heap) + 4; len(r.heap) > 0 && budget > 0; budget-- {
		v := r.heap[0]
		if v.when.After(now) {
			return
		}
		r.apply(now, v, v.m.Tick(now))
	}
}

func (r *Router) wakeup() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// timerSlack is how late the Go runtime may fire a timer when the process
// is idle: on Linux it sleeps in epoll_wait, whose timeout is in whole
// milliseconds. Measured here, a bare
// Router took over ~0.7 ms after Master_Down_Interval at a 10 ms interval
// (+2%) before it woke up early for down timers.
const timerSlack = time.Millisecond

// spinUntilDue waits, without sleeping, for the earliest deadline when it
// is a backup's Master_Down_Timer less than timerSlack away, so that the
// takeover happens on time. It stops early when a packet is waiting (it
// may be the advertisement that restarts the timer), and gives up when
// the clock does not move (a fake clock, or a testing/synctest bubble,
// where rearm then arms the timer for the deadline itself).
func (r *Router) spinUntilDue() {
	if !r.precise || len(r.heap) == 0 || r.heap[0].m.State() != Backup {
		return
	}
	at := r.heap[0].when
	last := r.clk.Now()
	if at.Sub(last) > timerSlack {
		return
	}
	for still := 0; still < 100; {
		if len(r.rx) > 0 {
			return
		}
		now := r.clk.Now()
		if !now.Before(at) {
			return
		}
		if now.Equal(last) {
			still++
		} else {
			still, last = 0, now
		}
		runtime.Gosched()
	}
}

// rearm points the timer at the earliest deadline.
func (r *Router) rearm() {
	if len(r.heap) == 0 {
		if !r.armed.IsZero() {
			r.timer.Stop()
			r.armed = time.Time{}
		}
		return
	}
	at := r.heap[0].when
	if at.Equal(r.armed) {
		return
	}
	// Measure from a fresh reading: time may have moved while this round
	// ran (a fake clock advanced by another goroutine, or a slow round).
	now := r.clk.Now()
	d := at.Sub(now)
	if d > 0 && r.precise && !at.Equal(r.earlyFor) && r.heap[0].m.State() == Backup {
		// A Master_Down_Timer: wake up timerSlack early and wait out the
		// rest in spinUntilDue, so that a takeover is not late by the
		// runtime's timer granularity (see timerSlack).
		r.earlyFor = at
		d -= timerSlack
	}
	if d <= 0 {
		// Due already: go round the loop again rather than rely on a
		// timer (a fake clock would fire it only at its next Advance).
		if r.timer != nil {
			r.timer.Stop()
		}
		r.armed = time.Time{}
		r.wakeup()
		return
	}
	r.armed = at
	if r.timer == nil {
		r.timer = r.clk.AfterFunc(d, r.wakeup)
		return
	}
	r.timer.Reset(d)
}

// apply executes the actions of v's machine, updates v's place in the
// deadline heap and propagates transitions to v's sync group.
func (r *Router) apply(now time.Time, v *vrt, acts []Action) {
	sync := State(255)
	for _, a := range acts {
		switch a.Kind {
		case ActSend:
			r.queueSend(v, a.Priority)
		case ActTakeAddrs:
			// After the advertisement is on the wire, like Announce:
			// installing addresses (netlink) can take milliseconds, and
			// the advertisement is what ends the election (RFC 9568
			// section 6.4.2: "Send an ADVERTISEMENT" comes first).
			r.after = append(r.after, deferredHook{v, ActTakeAddrs})
		case ActReleaseAddrs:
			// At once, before the priority-0 advertisement that follows
			// it, so that a new master never overlaps with this one; a
			// Take still queued from this round runs first.
			if len(r.after) > 0 {
				r.runDeferred()
			}
			r.runHook(v, "release", r.hook.Release)
		case ActAnnounce:
			// After the advertisement is on the wire (flush): RFC 9568
			// section 6.4.1 and 6.4.2 send the advertisement first, then
			// the gratuitous ARP / unsolicited NA.
			r.after = append(r.after, deferredHook{v, ActAnnounce})
		case ActDrop, ActNotice:
			// Logged by receive, which knows the packet's source.
		case ActTransition:
			v.state.Store(uint32(a.To))
			if a.To == Master {
				r.log.Info("vrrp transition", "vr", v.name, "vrid", v.cfg.VRID, "family", v.family,
					"from", a.From, "to", a.To, "reason", a.Reason, "master_reason", a.MasterReason)
			} else {
				r.log.Info("vrrp transition", "vr", v.name, "vrid", v.cfg.VRID, "family", v.family,
					"from", a.From, "to", a.To, "reason", a.Reason)
			}
			r.emit(Event{Time: now, Name: v.name, VRID: v.cfg.VRID, Family: v.family, From: a.From, To: a.To, Reason: a.Reason, MasterReason: a.MasterReason})
			if a.Reason != ReasonSyncGroup && v.vr.SyncGroup != "" {
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
		if o != v && o.vr.SyncGroup == v.vr.SyncGroup {
			r.apply(now, o, o.m.Sync(now, sync))
		}
	}
}

// logAnomalies logs the ActDrop and ActNotice actions of the advertisement
// from src, within v's log rate limit (RFC 9568 section 7.1: "log the
// event (subject to rate-limiting)").
func (r *Router) logAnomalies(now time.Time, v *vrt, src netip.Addr, acts []Action) {
	for _, a := range acts {
		if a.Kind != ActDrop && a.Kind != ActNotice {
			continue
		}
		if !r.log.Enabled(context.Background(), slog.LevelWarn) || !v.lim.allow(now, r.logLimit) {
			return
		}
		msg := "vrrp advertisement differs from the configuration"
		if a.Kind == ActDrop {
			msg = "vrrp advertisement dropped"
		}
		r.log.Warn(msg, "vr", v.name, "vrid", v.cfg.VRID, "src", src, "reason", a.Anomaly)
	}
}

func (r *Router) runHook(v *vrt, what string, f func(VRInfo) error) {
	info := VRInfo{
		Name:       v.name,
		Interface:  v.vr.Interface,
		IfIndex:    v.vr.IfIndex,
		VRID:       v.cfg.VRID,
		Version:    v.cfg.Version,
		Addrs:      v.cfg.Addrs,
		Priority:   v.m.Priority(),
		AcceptMode: v.cfg.AcceptMode,
	}
	if err := f(info); err != nil {
		r.log.Warn("vrrp hook failed", "vr", v.name, "hook", what, "err", err)
	}
}

// emit delivers ev without blocking, dropping the oldest event if the
// channel is full.
func (r *Router) emit(ev Event) {
	if r.events == nil {
		return
	}
	for {
		select {
		case r.events <- ev:
			return
		default:
		}
		select {
		case <-r.events:
			r.stats.eventsDropped.Add(1)
		default:
		}
	}
}

// queueSend marshals an advertisement of v into the arena and queues it
// on v's Conn for the next flush.
func (r *Router) queueSend(v *vrt, prio uint8) {
	if v.c.closed {
		return
	}
	adv := v.m.Advertisement(prio)
	for _, dst := range v.dsts {
		start := len(r.arena)
		b, err := adv.Append(r.arena, v.cfg.Primary, dst, v.cfg.Checksum)
		if err != nil {
			r.stats.sendErrs.Add(1)
			r.log.Warn("vrrp marshal failed", "vr", v.name, "err", err)
			continue
		}
		r.arena = b
		c := v.c
		if len(c.msgs) == 0 {
			r.dirty = append(r.dirty, c)
		}
		c.msgs = append(c.msgs, transport.Message{
			Buf:  b[start:len(b):len(b)],
			Meta: transport.Meta{Src: v.cfg.Primary, Dst: dst, IfIndex: v.vr.IfIndex},
		})
	}
}

// flush writes the queued advertisements, one batch per Conn.
func (r *Router) flush() {
	for _, c := range r.dirty {
		if c.closed {
			c.msgs = c.msgs[:0]
			continue
		}
		var err error
		sent := 0
		if c.bw != nil {
			sent, err = c.bw.WriteBatch(c.msgs)
		} else {
			for i := range c.msgs {
				if err = c.c.WriteTo(c.msgs[i].Buf, c.msgs[i].Meta); err != nil {
					break
				}
				sent++
			}
		}
		r.stats.sent.Add(uint64(sent))
		if sent < len(c.msgs) {
			r.stats.sendErrs.Add(uint64(len(c.msgs) - sent))
			r.log.Warn("vrrp send failed", "interface", c.name, "unsent", len(c.msgs)-sent, "err", err)
		}
		clear(c.msgs)
		c.msgs = c.msgs[:0]
	}
	clear(r.dirty)
	r.dirty = r.dirty[:0]
	r.arena = r.arena[:0]
	r.runDeferred()
}

// runDeferred runs the Take and Announce hooks queued by apply, in order.
func (r *Router) runDeferred() {
	for _, d := range r.after {
		if d.kind == ActTakeAddrs {
			r.runHook(d.v, "take", r.hook.Take)
		} else {
			r.runHook(d.v, "announce", r.hook.Announce)
		}
	}
	clear(r.after)
	r.after = r.after[:0]
}

// deferredHook is a Take or Announce hook call that runs after the next
// flush.
type deferredHook struct {
	v    *vrt
	kind ActionKind
}

// drainRx handles the batches already queued by the readers, without
// waiting for more.
func (r *Router) drainRx(now time.Time) {
	for range rxQueueLen {
		select {
		case b := <-r.rx:
			r.receiveBatch(now, b)
		default:
			return
		}
	}
}

// receiveBatch hands the packets of b to their machines, in order, and
// gives b back to its reader. Owner goroutine.
func (r *Router) receiveBatch(now time.Time, b *rxBatch) {
	for i := range b.n {
		at := r.arrival(now, b.at, b.msgs[i].Meta.Time)
		// A timer due before the packet arrived fires first, at its own
		// time: the packet cannot have stopped it (a backup whose
		// Master_Down_Timer ran out before the master's advertisement
		// arrived takes over, as the RFC's state machine would).
		r.fireDue(at)
		r.receive(now, at, b.vs[i], &b.msgs[i])
	}
	clear(b.vs[:b.n])
	b.n = 0
	b.c.free <- b
}

// arrival returns when a packet arrived on the Router's clock: read is
// when its reader read it, kernel the arrival time the Conn reported (wall
// clock; zero if unknown), now the owner's current time. The kernel time
// is used with the real clock only, the one it can be compared with.
func (r *Router) arrival(now, read, kernel time.Time) time.Time {
	at := read
	if r.precise && !kernel.IsZero() && !read.IsZero() {
		// read carries a monotonic reading; its wall part is what the
		// kernel's stamp compares with.
		if age := read.Round(0).Sub(kernel); age > 0 && age < time.Second {
			at = read.Add(-age)
		}
	}
	if at.IsZero() || at.After(now) {
		at = now
	}
	return at
}

// receive parses a packet the front door passed for v and hands it to v's
// machine. Owner goroutine.
func (r *Router) receive(now, at time.Time, v *vrt, m *transport.Message) {
	if v.removed {
		return
	}
	r.stats.received.Add(1)
	info, err := r.adv.Unmarshal(m.Buf, m.Meta.Src, m.Meta.Dst)
	if err != nil {
		switch {
		case errors.Is(err, packet.ErrChecksum):
			r.stats.checksum.Add(1)
		case errors.Is(err, packet.ErrVersion):
			r.stats.version.Add(1)
		}
		v.m.CountError(err)
		if r.log.Enabled(context.Background(), slog.LevelWarn) && v.lim.allow(now, r.logLimit) {
			r.log.Warn("vrrp packet dropped", "vr", v.name, "src", m.Meta.Src, "err", err)
		}
		return
	}
	// An IPv4 packet seen through an IPv6 socket has an IPv4-mapped
	// source; the front door routed it as IPv4, and so does the machine.
	src := m.Meta.Src.Unmap()
	acts := v.m.Receive(at, &r.adv, src, m.Meta.TTL, info)
	r.logAnomalies(now, v, src, acts)
	r.apply(now, v, acts)
}

func (r *Router) startReader(c *rconn) {
	c.reader = true
	r.wg.Add(1)
	go r.read(c)
}

// closedConn reports whether err says the Conn was closed: it matches
// transport.ErrClosed, as the module's transports' errors do. For a Conn
// from elsewhere that returns net.ErrClosed alone, its text ("use of
// closed network connection", unchanged since Go 1.0, and what code
// matched before Go 1.16 added net.ErrClosed) is recognised too, so that
// the reader exits instead of retrying a socket that is gone; comparing
// text keeps package net, and the network stack behind it, out of vrrp's
// dependencies (see TestDependencyBoundary).
func closedConn(err error) bool {
	if errors.Is(err, transport.ErrClosed) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "use of closed network connection" {
			return true
		}
	}
	return false
}

// read is the reader goroutine of one Conn. It exits when the Conn is
// closed or the Router stops. With a transport.BatchReader it reads up to
// rxBatchLen packets per call (one system call and one hand-off to the
// owner for a whole burst of advertisements); otherwise one at a time.
func (r *Router) read(c *rconn) {
	defer r.wg.Done()
	for {
		var b *rxBatch
		select {
		case b = <-c.free:
		case <-r.stop:
			return
		}
		for i := range b.msgs {
			b.msgs[i].Buf = b.msgs[i].Buf[:cap(b.msgs[i].Buf)]
		}
		var n int
		var err error
		if c.br != nil {
			n, err = c.br.ReadBatch(b.msgs[:])
		} else {
			var size int
			size, b.msgs[0].Meta, err = c.c.ReadFrom(b.msgs[0].Buf)
			b.msgs[0].Buf = b.msgs[0].Buf[:max(size, 0)]
			n = 1
		}
		at := r.clk.Now()
		if err != nil {
			c.free <- b
			if closedConn(err) {
				return
			}
			r.stats.readErrs.Add(1)
			r.log.Warn("vrrp read failed", "interface", c.name, "err", err)
			// Do not spin on a persistent error.
			pause := make(chan struct{})
			t := r.clk.AfterFunc(10*time.Millisecond, func() { close(pause) })
			select {
			case <-pause:
			case <-r.stop:
				t.Stop()
				return
			}
			continue
		}
		// Keep what passes the front door, moved to the front (the
		// dropped packets' buffers stay in the batch).
		k := 0
		for i := range n {
			v := r.frontDoor(c, b.msgs[i].Buf, b.msgs[i].Meta)
			if v == nil {
				continue
			}
			b.msgs[k], b.msgs[i] = b.msgs[i], b.msgs[k]
			b.vs[k] = v
			k++
		}
		if k == 0 {
			c.free <- b
			continue
		}
		b.n, b.at = k, at
		select {
		case r.rx <- b:
		case <-r.stop:
			return
		}
	}
}

// frontDoor performs the cheap checks of RFC 9568 section 7.1 in the
// reader goroutine and returns the virtual router the packet is for, or
// nil when it was dropped (and counted).
func (r *Router) frontDoor(c *rconn, b []byte, m transport.Meta) *vrt {
	if len(b) < 2 || !m.Src.IsValid() {
		r.stats.short.Add(1)
		r.logFront(c, slog.LevelWarn, "short packet or no source", m)
		return nil
	}
	if ver := b[0] >> 4; ver != 2 && ver != 3 {
		r.stats.version.Add(1)
		r.logFront(c, slog.LevelWarn, "version is not 2 or 3", m)
		return nil
	}
	f := 1
	if m.Src.Unmap().Is4() {
		f = 0
	}
	var v *vrt
	for _, o := range c.demux.Load()[f][b[1]] {
		if o.vr.IfIndex == 0 || m.IfIndex == 0 || o.vr.IfIndex == m.IfIndex {
			v = o
			break
		}
	}
	if v == nil {
		r.stats.vrid.Add(1)
		r.logFront(c, slog.LevelDebug, "unknown VRID", m)
		return nil
	}
	if m.TTL != packet.TTL {
		r.stats.ttl.Add(1)
		v.ttlErrs.Add(1)
		r.logFront(c, slog.LevelWarn, "TTL is not 255", m)
		return nil
	}
	return v
}

// logFront logs a packet the front door dropped, within c's rate limit:
// at Debug for a VRID this Router does not run (other virtual routers on
// a shared LAN are normal), at Warn for a malformed packet.
func (r *Router) logFront(c *rconn, level slog.Level, why string, m transport.Meta) {
	if !r.log.Enabled(context.Background(), level) || !c.lim.allow(r.clk.Now(), r.logLimit) {
		return
	}
	r.log.Log(context.Background(), level, "vrrp packet dropped", "interface", c.name, "src", m.Src, "ttl", m.TTL, "reason", why)
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

// The deadline heap: virtual routers with a running timer, by deadline.

func (r *Router) heapFix(v *vrt) {
	d := v.m.Deadline()
	if v.removed || d.IsZero() {
		r.heapRemove(v)
		return
	}
	v.when = d
	if v.hidx < 0 {
		v.hidx = len(r.heap)
		r.heap = append(r.heap, v)
		r.heapUp(v.hidx)
		return
	}
	r.heapDown(v.hidx)
	r.heapUp(v.hidx)
}

func (r *Router) heapRemove(v *vrt) {
	i := v.hidx
	if i < 0 {
		return
	}
	last := len(r.heap) - 1
	if i != last {
		r.heapSwap(i, last)
	}
	r.heap[last] = nil
	r.heap = r.heap[:last]
	v.hidx = -1
	if i != last {
		r.heapDown(i)
		r.heapUp(i)
	}
}

func (r *Router) heapSwap(i, j int) {
	h := r.heap
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}

func (r *Router) heapUp(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !r.heap[i].when.Before(r.heap[p].when) {
			return
		}
		r.heapSwap(i, p)
		i = p
	}
}

func (r *Router) heapDown(i int) {
	n := len(r.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if rr := l + 1; rr < n && r.heap[rr].when.Before(r.heap[l].when) {
			m = rr
		}
		if !r.heap[m].when.Before(r.heap[i].when) {
			return
		}
		r.heapSwap(i, m)
		i = m
	}
}
