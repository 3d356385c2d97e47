package vrrp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govrrp/govrrp/clock"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
)

const (
	rxBufSize    = packet.HeaderLen + packet.MaxAddrs*16 + packet.AuthDataLen + 64
	rxBatchLen   = 16 // packets per receive batch
	rxBatchesPer = 4  // receive batches per Conn
	rxQueueLen   = 64 // batches waiting for the owner goroutine
	defEvents    = 256
	defLogLimit  = 10
)

// Router is the runtime: the goroutine shell over a RawRouter, as
// etcd-io/raft's node is over its RawNode. It drives any number of
// virtual routers (any VRIDs, both families, several interfaces and
// transports) from one owner goroutine, Run, with one timer armed for the
// earliest deadline (RawRouter.Deadline), a reader goroutine per
// transport.Conn and a host-work goroutine for the Hook.
//
// A reader hands over up to 16 packets at a time (all it got from one
// transport.BatchReader call); the owner goroutine gives each to the
// RawRouter (RawRouter.Receive), which fires the timers due before it
// arrived first; timers a packet restarts count from its arrival
// (transport.Meta.Time where the Conn knows it, else when it was read),
// not from when the owner got to it. Advertisements due at the same
// instant are written together (transport.BatchWriter when the Conn
// implements it).
//
// Host work never delays an advertisement: the Hook's methods (and the
// optional TransitionHook and RegistryHook) run on the host-work
// goroutine, in the order the RawRouter asked for them, after the
// advertisements of the same step are written. A failed Take or Release
// is retried with backoff until it succeeds or the virtual router's state
// changes; no Announce follows a Take that failed until a retry succeeds.
// Host work a later action of the same virtual router makes moot before
// it runs is skipped (Hook), so its queue stays bounded when virtual
// routers flap faster than the hooks run.
//
// Every method is safe to call from any goroutine, before, during and
// after Run, and from a Hook except Remove (which waits for the host
// work). A control method returns once the RawRouter has handled it and
// its advertisements are written; the host work it caused runs after,
// except Remove's, which Remove waits for.
type Router struct {
	clk      clock.Clock
	log      *slog.Logger
	events   chan Event
	logLimit int
	// lockThread is RouterConfig.LockOSThread.
	lockThread func() error

	mu    sync.Mutex // guards phase; while idle or stopped, also the owner state
	phase int
	ctl   chan ctlCall
	done  chan struct{} // closed when Run returns
	stop  chan struct{} // closed when Run's loop ends, to stop the readers
	rx    chan *rxBatch
	wake  chan struct{}
	index stateIndex // for State

	stats routerCounters
	lines lineLimiter    // the owner's warning lines in a burst (router_log.go)
	wg    sync.WaitGroup // reader goroutines
	host  *hostWorker

	// Owner state: touched by the owner goroutine while running, under mu
	// otherwise.
	raw     *RawRouter
	running bool
	conns   map[transport.Conn]*rxConn
	// precise is set with the real clock: wake early for down timers
	// (spinUntilDue). earlyFor is the deadline the timer was last armed
	// early for: a second arming for it (the spin gave up) is exact.
	precise  bool
	earlyFor time.Time
	timer    clock.Timer
	armed    time.Time
	// behind counts the Conns whose rxConn.behind is set.
	behind int
}

const (
	phaseIdle = iota
	phaseRunning
	phaseStopped
)

// routerCounters are the Router's own counters and a copy of the
// RawRouter's, published after every step for RouterStats.
type routerCounters struct {
	checksum, version, vrid, ttl, short atomic.Uint64
	received, marshalErrs               atomic.Uint64
	sent, sendErrs, readErrs            atomic.Uint64
	eventsDropped                       atomic.Uint64
	queueDrops, lossHolds               atomic.Uint64
}

// rxConn is the Router's side of one transport.Conn: its reader.
type rxConn struct {
	c      transport.Conn
	bw     transport.BatchWriter
	br     transport.BatchReader // nil: read one packet at a time
	q      transport.Queuer      // nil: it cannot tell what is queued
	dc     transport.DropCounter // nil: it cannot tell what it dropped
	name   string                // interface of the first virtual router, for logs
	free   chan *rxBatch
	reader bool // reader goroutine started
	closed bool
	// behind is set while what arrived on this Conn may not all have
	// been handed to the RawRouter: the last batch the owner took was a
	// whole one (a transport.BatchReader's read that filled it: more is
	// queued), or a short one that the owner took readIdle or more after
	// it was read (more may have arrived since). It is cleared when the
	// reader is found waiting on an empty socket (drained). seen is the
	// time up to which everything that arrived was taken: the arrival of
	// the last packet taken, or the time of the read that came back
	// short (the socket was empty then). since is when, on the owner's
	// clock, the Conn went behind. See Router.horizon.
	behind bool
	seen   time.Time
	since  time.Time
	// pending counts the batches the reader handed to the owner (r.rx)
	// that the owner has not taken yet: a reader waiting on an empty
	// socket has not drained its Conn while one is in flight.
	pending atomic.Int32
	// clean is closed by the reader once what the Conn queued before it
	// started is behind it (backlog), or at once without a backlog filter.
	clean chan struct{}
	// reading is when (r.clk, UnixNano) the reader entered its current
	// read, 0 outside one: a reader that waits in a read has found the
	// socket empty, so its Conn is not behind (a read of exactly a whole
	// batch says nothing).
	reading atomic.Int64
}

// rxBatch is what a reader goroutine hands to the owner in one channel
// send: up to rxBatchLen packets read together (transport.BatchReader).
type rxBatch struct {
	c    *rxConn
	n    int // packets in msgs
	msgs [rxBatchLen]transport.Message
	// at is when the reader read the batch: timers restarted by its
	// packets (the Master_Down_Timer) count from their arrival, not from
	// when the owner goroutine got to them.
	at time.Time
	// full: the read filled the batch, so more may be queued. unsure: the
	// wall clock stepped since the reader's last read with the socket
	// empty, so the packets' kernel stamps (wall clock) may be off by the
	// step and are trusted only when recent (arrival).
	full, unsure bool
	bufs         [rxBatchLen][rxBufSize]byte
}

func newRxBatch(c *rxConn) *rxBatch {
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
		logLimit: cfg.LogLimit,
		ctl:      make(chan ctlCall),
		done:     make(chan struct{}),
		stop:     make(chan struct{}),
		rx:       make(chan *rxBatch, rxQueueLen),
		wake:     make(chan struct{}, 1),
		conns:    make(map[transport.Conn]*rxConn),
	}
	r.lockThread = cfg.LockOSThread
	if r.clk == nil {
		r.clk = clock.Real()
	}
	r.precise = r.clk == clock.Real()
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.host = newHostWorker(cfg.Hook, r.clk, r.log)
	switch {
	case cfg.EventBuffer == 0:
		r.events = make(chan Event, defEvents)
	case cfg.EventBuffer > 0:
		r.events = make(chan Event, cfg.EventBuffer)
	}
	if r.logLimit == 0 {
		r.logLimit = defLogLimit
	}
	ctx := context.Background()
	r.raw = NewRawRouter(RawConfig{
		LogLimit:   r.logLimit,
		Notes:      r.log.Enabled(ctx, slog.LevelWarn),
		DebugNotes: r.log.Enabled(ctx, slog.LevelDebug),

		BatchAdvertisements: !cfg.ExactTimers,
	})
	return r
}

// Events returns a channel of state transitions that may lose some: when
// the buffer (RouterConfig.EventBuffer) is full the oldest event is
// dropped to make room, and counted in RouterStats.EventsDropped, so a
// slow consumer sees the latest state but not every transition. Do not
// fence work on it: for every transition of every virtual router, in
// order and without loss, implement TransitionHook on the Hook. Events
// never blocks the protocol. The channel is closed when Run returns,
// after the shutdown transitions.
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
		SendErrors:     s.sendErrs.Load() + s.marshalErrs.Load(),
		ReadErrors:     s.readErrs.Load(),
		EventsDropped:  s.eventsDropped.Load(),
		QueueDrops:     s.queueDrops.Load(),
		LossHolds:      s.lossHolds.Load(),
	}
}

// publish copies the RawRouter's counters for RouterStats. Owner state.
func (r *Router) publish() {
	rs := r.raw.RouterStats()
	s := &r.stats
	s.checksum.Store(rs.ChecksumErrors)
	s.version.Store(rs.VersionErrors)
	s.vrid.Store(rs.VRIDErrors)
	s.ttl.Store(rs.TTLErrors)
	s.short.Store(rs.ShortPackets)
	s.received.Store(rs.Received)
	s.marshalErrs.Store(rs.SendErrors)
	s.queueDrops.Store(rs.QueueDrops)
	s.lossHolds.Store(rs.LossHolds)
}

// State returns the state of the named virtual router, from a snapshot the
// owner goroutine updates after every input.
func (r *Router) State(name string) (State, error) {
	s, ok := r.index.load(name)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrNoVirtualRouter, name)
	}
	return s, nil
}

// stateIndex is the state of every virtual router by name, which the
// owner goroutine writes and State reads from any goroutine. A map under
// a read-write lock, not a sync.Map: a sync.Map entry, its boxed key and
// its trie nodes held about 130 B per virtual router, this map about 60 B
// (issue 12).
type stateIndex struct {
	mu sync.RWMutex
	m  map[string]*atomic.Uint32
}

func (x *stateIndex) add(name string) {
	x.mu.Lock()
	if x.m == nil {
		x.m = make(map[string]*atomic.Uint32)
	}
	x.m[name] = new(atomic.Uint32)
	x.mu.Unlock()
}

func (x *stateIndex) remove(name string) {
	x.mu.Lock()
	delete(x.m, name)
	x.mu.Unlock()
}

// set records name's state; the state of a name not added is not kept.
func (x *stateIndex) set(name string, s State) {
	x.mu.RLock()
	if v := x.m[name]; v != nil {
		v.Store(uint32(s))
	}
	x.mu.RUnlock()
}

func (x *stateIndex) load(name string) (State, bool) {
	x.mu.RLock()
	v := x.m[name]
	x.mu.RUnlock()
	if v == nil {
		return 0, false
	}
	return State(v.Load()), true
}

// Stats returns the statistics of the named virtual router (see Stats;
// IPTTLErrors includes the packets the Router dropped at the front door
// for their TTL).
func (r *Router) Stats(name string) (Stats, error) {
	var s Stats
	err := r.do(true, func(time.Time) (err error) {
		s, err = r.raw.Stats(name)
		return err
	})
	return s, err
}

// Master returns the primary address of the named virtual router's current
// master as far as it knows (Machine.Master): its own as master, the
// source of the last accepted advertisement as backup, or the zero Addr.
func (r *Router) Master(name string) (netip.Addr, error) {
	var a netip.Addr
	err := r.do(true, func(time.Time) (err error) {
		a, err = r.raw.Master(name)
		return err
	})
	return a, err
}

// VRStatus is a virtual router's state, current master (Router.Master)
// and statistics (Router.Stats), as Router.Status reads them together.
type VRStatus struct {
	// Err is why the virtual router could not be read (ErrNoVirtualRouter:
	// the Router has none of that name); the other fields are then zero.
	Err    error
	State  State
	Master netip.Addr
	Stats  Stats
}

// Status reads the state, master and statistics of each named virtual
// router into st[i], all in one call on the Router's goroutine, as one
// consistent snapshot: what Master and Stats give, which cost a call
// each per virtual router. A status page of 4,094 virtual routers made
// 8,188 such calls, each waking the protocol's goroutine and its caller
// (issue 12). The protocol waits while Status copies: read a few hundred
// names at a time. st must be at least as long as names, else Status
// reads nothing and returns an error. A stopped Router's last state is
// read too, as by Master and Stats.
func (r *Router) Status(names []string, st []VRStatus) error {
	if len(st) < len(names) {
		return fmt.Errorf("vrrp: Status: %d results for %d names", len(st), len(names))
	}
	return r.do(true, func(time.Time) error {
		for i, name := range names {
			st[i] = r.raw.status(name)
		}
		return nil
	})
}

// Add adds a virtual router. Before Run it waits for Run to start it;
// during Run it starts at once (Machine.Start) without disturbing the
// others. A zero Config.Primary is taken from the Conn if it is a
// transport.Sourcer. Config errors are *ConfigError (errors.Is
// ErrConfig).
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
	// Check the configuration here, not on the owner goroutine.
	if _, _, err := checkVR(vr); err != nil {
		return err
	}
	return r.do(false, func(now time.Time) error {
		if err := r.raw.Add(now, vr); err != nil {
			return err
		}
		c := r.conns[vr.Conn]
		if c == nil {
			c = &rxConn{c: vr.Conn, name: vr.Interface, free: make(chan *rxBatch, rxBatchesPer)}
			c.bw, _ = vr.Conn.(transport.BatchWriter)
			c.br, _ = vr.Conn.(transport.BatchReader)
			c.q, _ = vr.Conn.(transport.Queuer)
			c.dc, _ = vr.Conn.(transport.DropCounter)
			for range rxBatchesPer {
				c.free <- newRxBatch(c)
			}
			r.conns[vr.Conn] = c
		}
		if r.running && !c.reader {
			r.startReader(c)
		}
		return nil
	})
}

// Remove shuts the named virtual router down (a master sends a priority-0
// advertisement and releases its addresses) and removes it. Its Conn is
// closed if no other virtual router uses it. Nothing of it stays in the
// Router; a RegistryHook is told (Removed) after its last Release. During
// Run, Remove returns once that host work (and any queued before it) is
// done, so that a caller may reuse the name, or the addresses, at once:
// do not call it from a hook. The protocol does not wait for it.
func (r *Router) Remove(name string) error {
	if err := r.do(false, func(now time.Time) error { return r.raw.Remove(now, name) }); err != nil {
		return err
	}
	if done := r.host.barrier(); done != nil {
		<-done
	}
	return nil
}

// SetPriority changes the priority of the named virtual router
// (Machine.SetPriority).
func (r *Router) SetPriority(name string, prio uint8) error {
	return r.do(false, func(now time.Time) error { return r.raw.SetPriority(now, name, prio) })
}

// SetPeers changes the unicast peers of the named virtual router
// (VirtualRouter.Peers, keepalived's unicast_peer) while it runs, without
// a transition: its advertisements from the next one on go to each of
// peers, and its state, timers and counters carry on (RawRouter.SetPeers).
// If its Conn is a transport.PeerSetter (the raw-socket transport, which
// admits packets from its peers only), the Conn is given the new set
// first: the peers of every virtual router on it, with peers for this
// one. If the Conn refuses, nothing changes and its error is returned.
// peers are checked as Add checks VirtualRouter.Peers (*ConfigError,
// errors.Is ErrConfig). A switch between multicast (no peers) and
// unicast is refused: Remove the virtual router and Add it with a Conn
// opened for the new mode.
func (r *Router) SetPeers(name string, peers []netip.Addr) error {
	peers = slices.Clone(peers)
	return r.do(false, func(now time.Time) error {
		v, err := r.raw.lookup(name)
		if err != nil {
			return err
		}
		if err := v.checkNewPeers(peers); err != nil {
			return err
		}
		if ps, ok := v.c.c.(transport.PeerSetter); ok && len(peers) > 0 {
			if all, ok := r.raw.connPeers(v.c.c, name, peers); ok {
				if err := ps.SetPeers(all); err != nil {
					return fmt.Errorf("virtual router %q: %w", name, err)
				}
			}
		}
		return r.raw.SetPeers(now, name, peers)
	})
}

// Peers returns the unicast peers of the named virtual router; none means
// multicast.
func (r *Router) Peers(name string) ([]netip.Addr, error) {
	var ps []netip.Addr
	err := r.do(true, func(time.Time) (err error) {
		ps, err = r.raw.Peers(name)
		return err
	})
	return ps, err
}

// Shutdown stops the named virtual router gracefully (Machine.Shutdown: a
// master sends a priority-0 advertisement so a backup takes over after
// Skew_Time) and leaves it in Initialize; Start starts it again.
func (r *Router) Shutdown(name string) error {
	return r.do(false, func(now time.Time) error { return r.raw.Shutdown(now, name) })
}

// Start starts the named virtual router again after Shutdown. During Run
// it does nothing to a running virtual router.
func (r *Router) Start(name string) error {
	return r.do(false, func(now time.Time) error { return r.raw.Start(now, name) })
}

// InterfaceDown moves every virtual router whose Interface is ifname to
// Fault (Machine.InterfaceDown), and holds the other members of their sync
// groups in Fault with them.
func (r *Router) InterfaceDown(ifname string) error {
	return r.do(false, func(now time.Time) error { return r.raw.InterfaceDown(now, ifname) })
}

// InterfaceUp brings every virtual router whose Interface is ifname out of
// Fault (Machine.InterfaceUp), except those SetFault or a member of their
// sync group holds there.
func (r *Router) InterfaceUp(ifname string) error {
	return r.do(false, func(now time.Time) error { return r.raw.InterfaceUp(now, ifname) })
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
	return r.do(false, func(now time.Time) error { return r.raw.SetFault(now, name, fault) })
}

// do runs f on the owner state, then carries out what it asked for:
// inline under mu before Run (and after it for read-only f), else on the
// owner goroutine, waiting for the result.
func (r *Router) do(readOnly bool, f func(now time.Time) error) error {
	r.mu.Lock()
	switch r.phase {
	case phaseIdle:
		defer r.mu.Unlock()
		now := r.clk.Now()
		err := f(now)
		r.process(now)
		return err
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
	case r.ctl <- ctlCall{f, reply}:
		return <-reply
	case <-r.done:
		if readOnly {
			return r.do(readOnly, f)
		}
		return ErrRouterStopped
	}
}

// ctlCall is a control method's work for the owner goroutine, which
// replies once what f asked for is carried out.
type ctlCall struct {
	f     func(now time.Time) error
	reply chan<- error
}
