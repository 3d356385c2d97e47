package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govrrp/govrrp/arpnd"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// system is what the daemon needs from the host. linuxSystem implements
// it with raw sockets, netlink and arpnd; tests use an in-memory LAN.
type system interface {
	// Open returns a transport for in, the interface index and this
	// router's primary address (the advertisements' source) on it. The
	// daemon shares one transport between instances with the same
	// interface, family, source, peers and ring (connKey).
	Open(in *Instance) (conn transport.Conn, ifIndex int, primary netip.Addr, err error)
	// RemoveStale removes what a previous run of in left on the host
	// when it was killed before it could clean up: its Accept_Mode
	// filter table, its macvlan (-vmac), and, for a non-owner, its VIPs
	// on the interface. The instance starts as backup, which must hold
	// none of them. Called before Open, so that a stale VIP is never
	// taken for the primary address. It never removes an address it
	// cannot prove a run of vrrpd added; an error matching ErrUsage (a
	// VIP that is an address of the host's own) refuses the instance.
	RemoveStale(in *Instance) error
	// Take, Release and Announce act on the host for the virtual router
	// (vrrp.Hook): install or remove the virtual addresses, announce them.
	// They run on the Router's goroutine and must not block.
	Take(in *Instance, vr vrrp.VRInfo) error
	Release(in *Instance, vr vrrp.VRInfo) error
	Announce(in *Instance, vr vrrp.VRInfo) error
	// LinkUp reports whether the interface is up and running; a missing
	// interface is down, without error.
	LinkUp(ifname string) (bool, error)
	// WatchLinks calls f for every interface state change until ctx is
	// done.
	WatchLinks(ctx context.Context, f func(ifname string, up bool)) error
	// Close removes what the system added (addresses, macvlans).
	Close() error
}

// connKey identifies a shareable transport: instances share one only
// when they agree on everything the transport is opened with. ring is in
// it so that an instance that did not ask for the TPACKET_V3 ring (which
// the host firewall does not filter) never receives through one another
// instance asked for, nor the other way round.
//
// It is 48 B: the daemon's map of transports has an entry per interface,
// 4,094 at issue 12's scale, and the source address and the peers (a
// netip.Addr and a string, 40 B) are unset on nearly all of them: they
// share one string, unicast.
type connKey struct {
	iface string
	// unicast is the source address and the sorted unicast peers,
	// "SRC|PEER,PEER"; empty for a multicast instance that sends from
	// the interface's own address.
	unicast string
	poll    time.Duration
	fam     vrrp.Family
	ring    bool
}

func keyOf(in *Instance) connKey {
	k := connKey{iface: in.Interface, fam: in.Family(), ring: in.Ring, poll: in.ReceivePoll}
	if !in.Src.IsValid() && len(in.Peers) == 0 {
		return k
	}
	ps := make([]string, len(in.Peers))
	for i, p := range in.Peers {
		ps[i] = p.String()
	}
	slices.Sort(ps)
	var src string
	if in.Src.IsValid() {
		src = in.Src.String()
	}
	k.unicast = src + "|" + strings.Join(ps, ",")
	return k
}

type sharedConn struct {
	key     connKey
	conn    transport.Conn
	ifIndex int
	primary netip.Addr
	refs    int // virtual routers using it; the Router closes it at 0
	// multi is the shared transport of the family conn is, when the
	// interface was joined on one (multiSystem); nil when conn is the
	// instance's own.
	multi *multiConn
}

// vrInst is one running instance.
type vrInst struct {
	// in is the instance as it was added: the fields that need a Remove /
	// Add to change (and Peers as they were then: cur has the current
	// ones). Immutable; read by hooks.
	in   *Instance
	conn *sharedConn

	// cur is the current configuration (priority, tracking, notify and
	// unicast peers may have been updated in place): in until the first
	// update in place, then a copy of its own (an Instance is a few
	// hundred bytes: one per instance, not two, issue 12). The Instance
	// it points to is never changed. Guarded by daemon.mu.
	cur *Instance

	notify atomic.Pointer[string]
	prio   atomic.Uint32 // effective priority
	fault  atomic.Bool   // its own tracking says Fault
	// held is whether it is held in Fault with Router.SetFault for its
	// own tracking fault. Guarded by daemon.mu.
	held bool
	// host is the state of its Take / Release, retried when they fail.
	host hostState
	// garp is cur.GARP, for Take (a reload changes it in place).
	garp atomic.Pointer[garpSchedule]
	// probe is its second-responder probing (probe.go).
	probe instProbe
}

// daemon runs the virtual routers of a Config on a vrrp.Router.
type daemon struct {
	log    *slog.Logger
	level  *slog.LevelVar
	sys    system
	router *vrrp.Router
	notif  *notifier
	check  runFunc // runs track scripts

	groups atomic.Pointer[map[string]Group]
	fifo   atomic.Pointer[notifyFIFO] // notify_fifo; nil: none

	mu sync.Mutex // guards the fields below; never taken by hooks
	// cfg is the configuration applied; its Instances only until Run
	// has added them: then names holds their names in configuration
	// order, and vrs[name].cur each one's configuration (not a copy of
	// every Instance more, issue 12).
	cfg        Config
	names      []string
	vrs        map[string]*vrInst
	order      []string
	conns      map[connKey]*sharedConn
	multi      []*multiConn // the shared transports (sockets.go)
	links      map[string]int8
	scripts    map[string]*scriptState
	trk        trackers        // tracked files and processes (trackobj.go)
	scriptSeq  int             // numbers script goroutines
	scriptCtx  context.Context // parent of every script goroutine's
	stopScript context.CancelFunc
	stopped    bool           // Run is returning: no more reloads
	wg         sync.WaitGroup // script and link goroutines
	// shared holds the one copy of each notify command and garp schedule
	// the instances publish to the hooks (setNotifyGARPLocked); made
	// again at each reload, so that it keeps only the values in use.
	// Never changed through its pointers.
	shared struct {
		notify map[string]*string
		garp   map[garpSchedule]*garpSchedule
	}

	// reg is the hook's registry of the instances the Router runs
	// (registry.go): an instance is in it from the Router's Added to its
	// Removed, so that its last transitions and Release find it, and
	// nothing is kept after.
	reg registry
	// configured is the set of instance names of the configuration being
	// applied (Reload sets it before removing anything): the record of an
	// instance the Router removes is forgotten unless a reload restarts
	// it. Sorted, for isConfigured: 16 B per instance, where a map was 57
	// (issue 12).
	configured atomic.Pointer[[]string]

	obs observer // who is master and why (observe.go)

	// probeEvery is the probe interval in nanoseconds (0: off), set from
	// the configuration at start and reload; probeWake tells probeLoop
	// it changed. probeErrLog is when a failed probe was last logged.
	probeEvery  atomic.Int64
	probeWake   chan struct{}
	probeErrLog atomic.Int64
	// prober is the system's prober once probeLoop got it.
	prober atomic.Pointer[arpnd.Prober]

	// sd speaks systemd's readiness protocol (sdwire.go); nil: not run
	// by systemd. Set before Run.
	sd    *sdNotifier
	start startGate // READY=1 waits for it
	// releaseStartup, if not nil, is called once every instance has
	// started (memory.go: runDaemon sets it; tests leave it nil, as it
	// collects the whole test process's heap). Set before Run.
	releaseStartup func()
	// trimHeap, if not nil, is called every trimInterval once every
	// instance has started (memory.go; nil in tests, as releaseStartup).
	// Set before Run.
	trimHeap func()
}

// newDaemon returns a daemon for cfg. level, if not nil, is set on
// reload. run runs notify commands and check scripts (shellRun).
func newDaemon(cfg Config, sys system, log *slog.Logger, level *slog.LevelVar, run runFunc) *daemon {
	detachStrings(&cfg)
	d := &daemon{
		log:     log,
		level:   level,
		sys:     sys,
		check:   run,
		vrs:     make(map[string]*vrInst),
		conns:   make(map[connKey]*sharedConn),
		links:   make(map[string]int8),
		scripts: make(map[string]*scriptState),
		// probeWake holds one wake-up: a reload never blocks on it.
		probeWake: make(chan struct{}, 1),
	}
	d.probeEvery.Store(int64(cfg.ProbeInterval))
	// Transitions come through the hook (vrrp.TransitionHook), in order
	// and without loss: vrrpd does not read the lossy Events channel.
	rc := vrrp.RouterConfig{Logger: log, Hook: hook{d}, EventBuffer: -1}
	if p := cfg.RTPriority; p > 0 {
		// The protocol loop's thread runs under SCHED_RR (with
		// SCHED_RESET_ON_FORK) even in a daemon built without runDaemon;
		// runDaemon puts every other thread under it too
		// (setProcessRealtime), while notify commands and scripts keep
		// the normal policy.
		rc.LockOSThread = func() error { return setThreadRealtime(p) }
	}
	d.router = vrrp.NewRouter(rc)
	d.notif = newNotifier(run, cfg.NotifyTimeout, log)
	d.notif.setNice(cfg.NotifyNice)
	d.setGroups(cfg.Groups)
	d.setConfigured(cfg.Instances)
	d.cfg = cfg
	return d
}

func (d *daemon) setConfigured(ins []Instance) {
	names := make([]string, len(ins))
	for i := range ins {
		names[i] = ins[i].Name
	}
	slices.Sort(names)
	d.configured.Store(&names)
}

// isConfigured reports whether the configuration being applied has an
// instance of this name (setConfigured).
func (d *daemon) isConfigured(name string) bool {
	_, ok := slices.BinarySearch(*d.configured.Load(), name)
	return ok
}

func (d *daemon) setGroups(gs []Group) {
	m := make(map[string]Group, len(gs))
	for _, g := range gs {
		m[g.Name] = g
	}
	d.groups.Store(&m)
}

func (d *daemon) lookup(name string) *vrInst { return d.reg.get(name) }

// hook routes the Router's hook calls to the system with the instance. It
// is also a vrrp.TransitionHook (notify commands, the observer) and a
// vrrp.RegistryHook (the registry).
type hook struct{ d *daemon }

var (
	_ vrrp.TransitionHook = hook{}
	_ vrrp.RegistryHook   = hook{}
)

func (h hook) do(vr vrrp.VRInfo, f func(*Instance, vrrp.VRInfo) error) error {
	v := h.d.lookup(vr.Name)
	if v == nil {
		return fmt.Errorf("unknown virtual router %q", vr.Name)
	}
	return f(v.in, vr)
}

// Take and Release are retried when they fail (daemon.hostDo).
func (h hook) Take(vr vrrp.VRInfo) error     { return h.d.hostDo(vr, opTake) }
func (h hook) Release(vr vrrp.VRInfo) error  { return h.d.hostDo(vr, opRelease) }
func (h hook) Announce(vr vrrp.VRInfo) error { return h.do(vr, h.d.sys.Announce) }

// Run runs the virtual routers until ctx is cancelled, then shuts them
// down (priority-0 advertisements, addresses removed), runs the pending
// notify commands and returns. An error is returned when the
// configuration cannot start (missing interface, missing capability).
func (d *daemon) Run(ctx context.Context) error {
	linkCtx, stopLinks := context.WithCancel(context.Background())
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.sys.WatchLinks(linkCtx, d.linkChanged); err != nil && linkCtx.Err() == nil {
			d.log.Warn("interface watch stopped: interface tracking is off", "err", err)
		}
	}()
	// Second-responder probing, off the Router's goroutines; it stops
	// with the link watch, before the system closes (probe.go).
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.probeLoop(linkCtx)
	}()

	if p := d.cfg.ReceivePoll; p > 0 {
		d.log.Info("reading the VRRP sockets every receive_poll, not on every packet", "receive_poll", p)
	}
	d.mu.Lock()
	err := d.openFIFOLocked()
	for _, in := range d.cfg.Instances {
		if err != nil {
			break
		}
		if err = d.addLocked(in); err != nil {
			err = fmt.Errorf("instance %q: %w", in.Name, err)
			break
		}
	}
	if err == nil {
		for _, in := range d.cfg.Instances {
			d.names = append(d.names, in.Name)
		}
		d.cfg.Instances = nil
		d.startScriptsLocked()
		d.startTrackersLocked()
	}
	d.mu.Unlock()

	var status *statusServer
	if err == nil && d.cfg.Status != "" {
		status, err = startStatus(d.cfg.Status, statusOpts{mode: d.cfg.StatusMode}, d, d.log)
	}
	if err != nil {
		d.mu.Lock()
		d.removeManyLocked(slices.Clone(d.order))
		d.mu.Unlock()
		stopLinks()
		d.stopScripts()
		d.wg.Wait()
		d.notif.close()
		d.closeFIFO()
		return errors.Join(err, d.sys.Close())
	}

	d.mu.Lock()
	d.start.arm(d.order)
	d.mu.Unlock()
	runErr := make(chan error, 1)
	go func() { runErr <- d.router.Run(ctx) }()
	sdDone, trimDone := make(chan struct{}), make(chan struct{})
	select {
	case <-d.start.done:
		// Run has started every instance (each left Initialize).
		d.log.Info("vrrpd running", "instances", len(d.names))
		if d.releaseStartup != nil {
			d.releaseStartup()
		}
		d.sdReady()
		go func() {
			defer close(sdDone)
			d.sdLoop(ctx, "")
		}()
		go func() {
			defer close(trimDone)
			trimLoop(ctx, d.trimHeap)
		}()
	case <-ctx.Done():
		close(trimDone)
		close(sdDone)
		if e := d.sd.Stopping(); e != nil {
			d.log.Warn("sd_notify STOPPING", "err", e)
		}
	case err = <-runErr:
		runErr <- err
		close(trimDone)
		close(sdDone)
	}
	err = <-runErr
	<-sdDone
	<-trimDone
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	// Run returned after the hooks of the shutdown ran: every STOP is
	// queued for the notifier.
	stopLinks()
	d.stopScripts()
	d.wg.Wait()
	// A release still failing when the Router stopped is left to the
	// system's Close.
	// What vrrpd added to the host goes first (macvlans, filter tables;
	// the addresses went with each Release); then the notify commands
	// still queued run, for at most the notify timeout in all (close).
	err = errors.Join(err, d.sys.Close())
	d.closeFIFO() // the STOP lines are queued
	d.notif.close()
	if status != nil {
		status.close()
	}
	return err
}

// addLocked opens (or shares) a transport and adds in to the Router.
func (d *daemon) addLocked(in Instance) error {
	if err := d.sys.RemoveStale(&in); errors.Is(err, ErrUsage) {
		return err // a VIP that is the host's own address
	} else if err != nil {
		d.log.Warn("removing virtual addresses a previous run left", "vr", in.Name, "err", err)
	}
	key := keyOf(&in)
	sc := d.conns[key]
	if sc == nil {
		var err error
		if ms, ok := d.sys.(multiSystem); ok && shareable(&in) {
			sc, err = d.joinMultiLocked(ms, key, &in)
		} else {
			var conn transport.Conn
			var idx int
			var primary netip.Addr
			conn, idx, primary, err = d.sys.Open(&in)
			sc = &sharedConn{key: key, conn: conn, ifIndex: idx, primary: primary}
		}
		if err != nil {
			return err
		}
		d.conns[key] = sc
	}
	// One copy of in, that v.in and v.cur share; notify and garp point to
	// copies of their own, not into an Instance (which they would keep).
	ip := &in
	v := &vrInst{in: ip, cur: ip, conn: sc}
	d.setNotifyGARPLocked(v, ip)
	prio, fault := d.computeLocked(v)
	v.prio.Store(uint32(prio))
	v.fault.Store(fault)
	// The Router's Added takes it from there (before any other hook
	// call for it), whether it comes before Add returns or after.
	d.reg.expect(v)

	cfg := in.VRRPConfig(sc.primary)
	cfg.Priority = prio
	err := d.router.Add(vrrp.VirtualRouter{
		Name:      in.Name,
		Conn:      sc.conn,
		Interface: in.Interface,
		IfIndex:   sc.ifIndex,
		Config:    cfg,
		Peers:     in.Peers,
		SyncGroup: in.SyncGroup,
	})
	if err != nil {
		d.reg.unexpect(v)
		d.releaseConnLocked(sc, false)
		return err
	}
	sc.refs++
	if sc.multi != nil {
		sc.multi.refs++
	}
	d.vrs[in.Name] = v
	d.order = append(d.order, in.Name)
	if d.links[in.Interface] == statusDown {
		d.router.InterfaceDown(in.Interface)
	}
	// Held in Fault by its own tracking (the Router adds its group's):
	// before Run the Router starts it in Fault; during Run it leaves the
	// Backup state Add started it in. The others are as applied already:
	// only v (O(1) per Add, not a walk of every instance: issue 12).
	d.applyFaultLocked(v)
	d.log.Debug("instance added", "vr", in.Name, "interface", in.Interface, "vrid", in.VRID,
		"family", in.Family(), "priority", prio, "primary", sc.primary)
	return nil
}

// removeLocked removes a running instance (a master sends priority 0 and
// releases its addresses).
func (d *daemon) removeLocked(name string) {
	if d.dropLocked(name) {
		d.order = slices.DeleteFunc(d.order, func(s string) bool { return s == name })
	}
}

// removeManyLocked removes the running instances of names, as
// removeLocked does one by one, but walks the instance order once for
// all of them: removing 1,000 instances out of 4,094 by reload would
// otherwise walk it 1,000 times (issue 12).
func (d *daemon) removeManyLocked(names []string) {
	for _, name := range names {
		d.dropLocked(name)
	}
	d.compactOrderLocked()
}

// compactOrderLocked takes the instances dropLocked removed out of
// d.order.
func (d *daemon) compactOrderLocked() {
	d.order = slices.DeleteFunc(d.order, func(s string) bool { return d.vrs[s] == nil })
}

// dropLocked removes the running instance name from the Router and
// d.vrs, and reports whether there was one; the caller takes it out of
// d.order (compactOrderLocked) before anything else reads d.order and
// before releasing d.mu.
func (d *daemon) dropLocked(name string) bool {
	v := d.vrs[name]
	if v == nil {
		return false
	}
	if err := d.router.Remove(name); err != nil && !errors.Is(err, vrrp.ErrRouterStopped) {
		d.log.Warn("removing instance", "vr", name, "err", err)
	}
	d.forgetProbe(v)
	d.releaseConnLocked(v.conn, true)
	delete(d.vrs, name)
	return true
}

// setNotifyGARPLocked publishes in's notify command and garp schedule to
// the hooks, as copies (a pointer into in would keep the whole
// Instance), one of each value for every instance that has it
// (daemon.shared): a copy per instance was 80 B each (issue 12: 4,094
// instances, mostly of one notify command and keepalived's schedule).
// Called with d.mu held.
func (d *daemon) setNotifyGARPLocked(v *vrInst, in *Instance) {
	if d.shared.notify == nil {
		d.shared.notify = make(map[string]*string)
		d.shared.garp = make(map[garpSchedule]*garpSchedule)
	}
	notify := d.shared.notify[in.Notify]
	if notify == nil {
		notify = new(in.Notify)
		d.shared.notify[in.Notify] = notify
	}
	garp := d.shared.garp[in.GARP]
	if garp == nil {
		garp = new(in.GARP)
		d.shared.garp[in.GARP] = garp
	}
	v.notify.Store(notify)
	v.garp.Store(garp)
}

// updateLocked applies an in-place change (priority, notify, tracking,
// unicast peers). A change of peers goes to the Router (SetPeers: the
// next advertisements go to the new peers, the transport admits them, no
// transition); if the Router refuses it, nothing is changed and the
// error is returned.
func (d *daemon) updateLocked(in Instance) error {
	v := d.vrs[in.Name]
	if v == nil {
		return nil
	}
	if peersChanged(*v.cur, in) {
		if err := d.router.SetPeers(in.Name, in.Peers); err != nil {
			return err
		}
	}
	old := v.cur
	v.cur = &in
	d.setNotifyGARPLocked(v, &in)
	if peersChanged(*old, in) {
		d.rekeyLocked(v.conn)
	}
	d.recomputeLocked(v)
	return nil
}

// rekeyLocked files sc again after the peers of an instance on it
// changed in place: under the key of the instances that use it if they
// all agree and no other transport has that key, else under none, so
// that an instance added later opens a transport of its own rather than
// share one whose peers are not its own.
func (d *daemon) rekeyLocked(sc *sharedConn) {
	if d.conns[sc.key] == sc {
		delete(d.conns, sc.key)
	}
	var key *connKey
	for _, v := range d.vrs {
		if v.conn != sc {
			continue
		}
		k := keyOf(v.cur)
		if key != nil && *key != k {
			return
		}
		key = &k
	}
	if key == nil {
		return
	}
	sc.key = *key
	if d.conns[sc.key] == nil {
		d.conns[sc.key] = sc
	}
}

// linkStatusLocked returns the known status of an interface, asking the
// system the first time.
func (d *daemon) linkStatusLocked(name string) int8 {
	if s, ok := d.links[name]; ok {
		return s
	}
	up, err := d.sys.LinkUp(name)
	if err != nil {
		d.log.Warn("interface state unknown", "interface", name, "err", err)
		return statusUnknown
	}
	s := statusDown
	if up {
		s = statusUp
	}
	d.links[name] = s
	return s
}

func (d *daemon) computeLocked(v *vrInst) (uint8, bool) {
	d.linkStatusLocked(v.in.Interface)
	var ts []tracked
	for _, t := range v.cur.TrackInterfaces {
		ts = append(ts, tracked{weight: t.Weight, status: d.linkStatusLocked(t.Name)})
	}
	for _, name := range v.cur.TrackScripts {
		st := statusUnknown
		if s := d.scripts[name]; s != nil {
			st = s.status
		}
		w := 0
		for _, s := range d.cfg.Scripts {
			if s.Name == name {
				w = s.Weight
			}
		}
		ts = append(ts, tracked{weight: w, status: st})
	}
	ts = append(ts, d.trackedObjectsLocked(v)...)
	return effectivePriority(v.cur.Priority, ts)
}

// recomputeLocked applies the tracked objects to v: a new priority, or
// entering / leaving Fault.
func (d *daemon) recomputeLocked(v *vrInst) {
	prio, fault := d.computeLocked(v)
	name := v.in.Name
	if old := uint8(v.prio.Load()); old != prio {
		v.prio.Store(uint32(prio))
		d.log.Info("priority changed by tracking", "vr", name, "from", old, "to", prio)
		if err := d.router.SetPriority(name, prio); err != nil && !errors.Is(err, vrrp.ErrRouterStopped) {
			d.log.Warn("setting priority", "vr", name, "err", err)
		}
	}
	if v.fault.Load() == fault {
		return
	}
	v.fault.Store(fault)
	if fault {
		d.log.Info("tracking fault", "vr", name)
	} else {
		d.log.Info("tracking fault cleared", "vr", name)
	}
	// Only v changed: the others are as applied (a reload recomputing
	// every instance does not walk them all again for each, issue 12).
	d.applyFaultLocked(v)
}

// applyFaultsLocked holds in Fault (Router.SetFault) every instance whose
// tracking says Fault. The Router holds the other members of its sync
// group in Fault with it, as keepalived does (left in Backup, they would
// take Master back from the peer that took over the group, which would
// then pull the faulted member's peer back out of Master, and so on), and
// releases them when no member is in a fault of its own (tracking or its
// interface down). Entering Fault, a master sends priority 0 and releases
// its addresses; leaving it, an instance starts as at startup.
func (d *daemon) applyFaultsLocked() {
	for _, name := range d.order {
		d.applyFaultLocked(d.vrs[name])
	}
}

// applyFaultLocked is applyFaultsLocked for v alone.
func (d *daemon) applyFaultLocked(v *vrInst) {
	want := v.fault.Load()
	if want == v.held {
		return
	}
	v.held = want
	name := v.in.Name
	if want {
		d.log.Info("holding virtual router in FAULT", "vr", name, "sync_group", v.in.SyncGroup)
	} else {
		d.log.Info("virtual router tracking fault over", "vr", name)
	}
	if err := d.router.SetFault(name, want); err != nil && !errors.Is(err, vrrp.ErrRouterStopped) {
		d.log.Warn("tracking fault", "vr", name, "fault", want, "err", err)
	}
}

// linkChanged is called by the interface watcher.
func (d *daemon) linkChanged(ifname string, up bool) {
	s := statusDown
	if up {
		s = statusUp
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.links[ifname]; ok && old == s {
		return
	}
	d.links[ifname] = s
	own := false
	for _, name := range d.order {
		v := d.vrs[name]
		if v.in.Interface == ifname {
			own = true
		}
		if slices.ContainsFunc(v.cur.TrackInterfaces, func(t TrackInterface) bool { return t.Name == ifname }) {
			d.recomputeLocked(v)
		}
	}
	if !own {
		return
	}
	d.log.Info("interface state changed", "interface", ifname, "up", up)
	var err error
	if up {
		err = d.router.InterfaceUp(ifname)
	} else {
		err = d.router.InterfaceDown(ifname)
	}
	if err != nil && !errors.Is(err, vrrp.ErrRouterStopped) {
		d.log.Warn("interface state", "interface", ifname, "err", err)
	}
	// The Router holds the sync groups of its instances in FAULT with them.
}

// startScriptsLocked runs one goroutine per script tracked by some
// instance, and stops those of scripts no longer tracked or defined. A
// script whose definition did not change keeps running untouched, with
// its status. A changed one is restarted but keeps its last status until
// its first new result, which decides at once (as at startup): the
// instances tracking it never see it pass through unknown, so a reload
// never moves their priority back and forth.
func (d *daemon) startScriptsLocked() {
	if d.scriptCtx == nil {
		d.scriptCtx, d.stopScript = context.WithCancel(context.Background())
	}
	used := map[string]bool{}
	for _, name := range d.order {
		for _, s := range d.vrs[name].cur.TrackScripts {
			used[s] = true
		}
	}
	defs := map[string]Script{}
	for _, s := range d.cfg.Scripts {
		defs[s.Name] = s
	}
	for name, st := range d.scripts {
		if _, ok := defs[name]; !ok || !used[name] {
			st.cancel()
			st.stopSummary()
			delete(d.scripts, name)
		}
	}
	for _, s := range d.cfg.Scripts {
		if !used[s.Name] {
			continue
		}
		st := d.scripts[s.Name]
		switch {
		case st == nil:
			st = &scriptState{}
			d.scripts[s.Name] = st
		case reflect.DeepEqual(st.def, s):
			continue
		default:
			st.cancel()
			st.restart()
			d.log.Info("track script changed: keeping its status until its first result", "script", s.Name)
		}
		d.scriptSeq++
		st.run, st.def = d.scriptSeq, s
		var ctx context.Context
		ctx, st.cancel = context.WithCancel(d.scriptCtx)
		d.wg.Add(1)
		go d.runScript(ctx, st.run, s)
	}
}

func (d *daemon) stopScripts() {
	d.mu.Lock()
	if d.stopScript != nil {
		d.stopScript()
	}
	for _, st := range d.scripts {
		st.stopSummary()
	}
	d.mu.Unlock()
}

func (d *daemon) runScript(ctx context.Context, run int, s Script) {
	defer d.wg.Done()
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, s.Timeout)
		err := d.check(cctx, s.Command, nil)
		cancel()
		if ctx.Err() != nil {
			return
		}
		d.scriptResult(run, s, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scriptLogEvery is how often a track script's changes and timeouts are
// logged at most: the first is logged at once, those that follow within
// scriptLogEvery are counted and summarised in one line when it ends.
const scriptLogEvery = 10 * time.Second

// scriptResult records a result of the goroutine run of script s;
// results of a goroutine since stopped or replaced are ignored. A status
// change is logged (at warn when the run was killed at its timeout), and
// so is every timeout, both rate-limited (scriptLogEvery).
func (d *daemon) scriptResult(run int, s Script, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.scripts[s.Name]
	if st == nil || st.run != run {
		return
	}
	changed := st.record(err == nil, s.Rise, s.Fall)
	timedOut := errors.Is(err, context.DeadlineExceeded)
	switch {
	case timedOut:
		st.timeouts++
		d.scriptLogLocked(st, s, slog.LevelWarn, "track script timed out: killed, counted as a failure",
			"timeout", s.Timeout, "status", statusWord(st.status), "err", err)
	case changed && err != nil:
		d.scriptLogLocked(st, s, slog.LevelInfo, "track script failing", "err", err)
	case changed:
		d.scriptLogLocked(st, s, slog.LevelInfo, "track script succeeding")
	}
	if !changed {
		return
	}
	st.changes++
	for _, name := range d.order {
		v := d.vrs[name]
		if slices.Contains(v.cur.TrackScripts, s.Name) {
			d.recomputeLocked(v)
		}
	}
}

func statusWord(s int8) string {
	switch s {
	case statusUp:
		return "succeeding"
	case statusDown:
		return "failing"
	}
	return "unknown"
}

// scriptLogLocked logs msg for script s unless a line about it was
// logged less than scriptLogEvery ago; then it is counted, and one
// summary line says, when the period ends, how many lines were left out
// and the script's status then.
func (d *daemon) scriptLogLocked(st *scriptState, s Script, level slog.Level, msg string, args ...any) {
	now := time.Now()
	if st.logged.IsZero() || now.Sub(st.logged) >= scriptLogEvery {
		st.logged = now
		d.log.Log(context.Background(), level, msg, append([]any{"script", s.Name}, args...)...)
		return
	}
	if st.quiet == 0 {
		st.quietFrom = st.changes
		st.quietTimeouts = st.timeouts
	}
	st.quiet++
	if st.summary != nil {
		return
	}
	st.summary = time.AfterFunc(st.logged.Add(scriptLogEvery).Sub(now), func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.scripts[s.Name] != st || st.summary == nil {
			return // stopped
		}
		st.summary = nil
		lvl := slog.LevelInfo
		if st.timeouts > st.quietTimeouts {
			lvl = slog.LevelWarn
		}
		d.log.Log(context.Background(), lvl, "track script flapping: lines left out", "script", s.Name,
			"left_out", st.quiet, "changes", st.changes-st.quietFrom, "timeouts", st.timeouts-st.quietTimeouts,
			"period", scriptLogEvery, "status", statusWord(st.status))
		st.quiet = 0
		st.logged = time.Now()
	})
}

// Transition implements vrrp.TransitionHook: the Router calls it with
// every transition, in order and without loss, on its host-work
// goroutine. It records the transition (observer), queues the instance's
// notify command and, when its sync group reaches a common state, the
// group's; queueing never blocks.
func (h hook) Transition(ev vrrp.Event) {
	d := h.d
	d.obs.record(ev)
	if ev.From == vrrp.Initialize && ev.To != vrrp.Initialize {
		d.start.started(ev.Name)
	}
	v := d.lookup(ev.Name)
	if v == nil {
		return // not a virtual router of the daemon's: never happens
	}
	// Tracking faults are the Router's Fault state (SetFault), so the
	// state is FAULT as for a down interface, and STOP is only a
	// shutdown or a removal.
	v.probe.master.Store(ev.To == vrrp.Master) // probeLoop probes masters only
	state := stateName(ev.To)
	prio := uint8(v.prio.Load())
	d.notif.notifyState(*v.notify.Load(), false, ev.Name, state, prio)
	fifo := d.fifo.Load()
	if fifo != nil {
		fifo.send(fifoLine(false, ev.Name, state, prio))
	}

	gname := v.in.SyncGroup
	if gname == "" {
		return
	}
	g, ok := (*d.groups.Load())[gname]
	if gs := d.reg.memberState(ev.Name, gname, state, g.Members); ok && gs != "" {
		d.log.Info("sync group state", "group", gname, "state", gs)
		// A group's priority is 0, as keepalived passes it.
		d.notif.notifyState(g.Notify, true, gname, gs, 0)
		if fifo != nil {
			fifo.send(fifoLine(true, gname, gs, 0))
		}
	}
}

// Added implements vrrp.RegistryHook.
func (h hook) Added(vr vrrp.VRInfo) {
	if !h.d.reg.added(vr.Name) {
		h.d.log.Warn("the Router added a virtual router vrrpd did not", "vr", vr.Name)
	}
}

// Removed implements vrrp.RegistryHook: the instance is forgotten, and
// so is its record of transitions unless the configuration being applied
// still has it (a reload restarts it: it keeps its counts by reason).
func (h hook) Removed(vr vrrp.VRInfo) {
	h.d.reg.removed(vr.Name)
	if !h.d.isConfigured(vr.Name) {
		h.d.obs.forget(vr.Name)
	}
}

// groupState returns the state of a sync group from its members' states:
// FAULT if any member is in fault, else the common state of all members,
// else "" (in transition).
func groupState(members []string, states map[string]string) string {
	for _, m := range members {
		if states[m] == "FAULT" {
			return "FAULT"
		}
	}
	common := ""
	for i, m := range members {
		s, ok := states[m]
		if !ok || i > 0 && s != common {
			return ""
		}
		common = s
	}
	return common
}

// plan is what a reload changes.
type plan struct {
	// Remove are stopped (a Remove from the Router); Add are started.
	// An instance whose wire configuration changed is in both.
	Remove []string
	Add    []Instance
	// Update changed only in ways applied in place: priority (not to or
	// from 255), notify, tracking, the garp_* schedule (from the next
	// takeover), unicast peers (not to or from none: that changes the
	// transport between multicast and unicast).
	Update []Instance
	// Keep are unchanged.
	Keep []string
}

// wireKey is an instance without the fields updateLocked applies in place.
func wireKey(in Instance) Instance {
	in.Notify = ""
	in.GARP = garpSchedule{}
	in.TrackInterfaces = nil
	in.TrackScripts = nil
	in.TrackFiles, in.TrackProcesses = nil, nil
	if in.Priority != 255 {
		in.Priority = 1
	}
	return in
}

// sameWire reports whether o and in differ only in what updateLocked
// applies in place: wireKey's fields, and the unicast peers when both
// have some (vrrp.Router.SetPeers).
func sameWire(o, in Instance) bool {
	ko, kn := wireKey(o), wireKey(in)
	if len(ko.Peers) > 0 && len(kn.Peers) > 0 {
		ko.Peers, kn.Peers = nil, nil
	}
	return reflect.DeepEqual(ko, kn)
}

// peersChanged reports whether a reload changes the unicast peers of an
// instance in place.
func peersChanged(o, in Instance) bool {
	return len(o.Peers) > 0 && len(in.Peers) > 0 && !slices.Equal(o.Peers, in.Peers)
}

// diffInstances plans a reload from old to new: unchanged instances keep
// running untouched (no transition, no announcement).
func diffInstances(old, new []Instance) plan {
	var p plan
	byName := make(map[string]Instance, len(old))
	for _, in := range old {
		byName[in.Name] = in
	}
	seen := map[string]bool{}
	for _, in := range new {
		seen[in.Name] = true
		o, ok := byName[in.Name]
		switch {
		case !ok:
			p.Add = append(p.Add, in)
		case reflect.DeepEqual(o, in):
			p.Keep = append(p.Keep, in.Name)
		case sameWire(o, in):
			p.Update = append(p.Update, in)
		default:
			p.Remove = append(p.Remove, in.Name)
			p.Add = append(p.Add, in)
		}
	}
	for _, in := range old {
		if !seen[in.Name] {
			p.Remove = append(p.Remove, in.Name)
		}
	}
	return p
}

// Reload applies a new configuration, touching only what changed.
// Instances that fail to start are logged, left out and retried at the
// next reload; the error joins their errors.
func (d *daemon) Reload(cfg Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return errors.New("shutting down")
	}
	detachStrings(&cfg)
	d.shared.notify, d.shared.garp = nil, nil // the values of the new configuration only
	old := d.cfg
	if cfg.SendPath != old.SendPath {
		d.log.Warn("send_path changes only on restart: keeping the running value", "running", old.SendPath, "configured", cfg.SendPath)
		cfg.SendPath = old.SendPath
	}
	if cfg.ReceivePoll != old.ReceivePoll {
		// Before the comparison below: otherwise every instance would
		// look changed, and be stopped and started again. ("auto" can
		// come to another value with the instances changed.)
		d.log.Warn("receive_poll changes only on restart: keeping the running value", "running", old.ReceivePoll, "configured", cfg.ReceivePoll)
		cfg.ReceivePoll, cfg.ReceivePollAuto = old.ReceivePoll, old.ReceivePollAuto
		for i := range cfg.Instances {
			in := &cfg.Instances[i]
			if in.ReceivePoll = 0; !pollable(in, old.ReceivePollAuto) {
				continue
			}
			in.ReceivePoll = old.ReceivePoll
			if 10*in.ReceivePoll > in.Interval {
				d.log.Warn("receive_poll is more than a tenth of the instance's interval until a restart: it may react that much later", "vr", in.Name, "interval", in.Interval, "receive_poll", in.ReceivePoll)
			}
		}
	}
	d.setConfigured(cfg.Instances)
	// Compare against what is actually running, in the order of the
	// configuration applied: each instance's current configuration is
	// the one applied (added, kept or updated in place to it).
	var running []Instance
	for _, name := range d.names {
		if v := d.vrs[name]; v != nil {
			running = append(running, *v.cur)
		}
	}
	p := diffInstances(running, cfg.Instances)
	if d.level != nil {
		d.level.Set(cfg.LogLevel)
	}
	d.notif.setTimeout(cfg.NotifyTimeout)
	d.notif.setNice(cfg.NotifyNice)
	d.setGroups(cfg.Groups)
	if cfg.Status != old.Status || cfg.StatusMode != old.StatusMode {
		d.log.Warn("the status address and socket mode change only on restart", "running", old.Status, "configured", cfg.Status)
		cfg.Status, cfg.StatusMode = old.Status, old.StatusMode
	}
	d.cfg.Scripts = cfg.Scripts
	d.reloadFIFOLocked(&cfg)
	if cfg.ProbeInterval != old.ProbeInterval {
		d.probeEvery.Store(int64(cfg.ProbeInterval))
		select {
		case d.probeWake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	if cfg.RTPriority != old.RTPriority || cfg.LockMemory != old.LockMemory {
		d.log.Warn("rt_priority and lock_memory change only on restart", "rt_priority", old.RTPriority, "lock_memory", old.LockMemory)
		cfg.RTPriority, cfg.LockMemory = old.RTPriority, old.LockMemory
	}

	// Out of d.order once for all of them: removing 1,000 instances out
	// of 4,094 does not walk it 1,000 times (issue 12).
	for _, name := range p.Remove {
		d.log.Info("reload: removing instance", "vr", name)
		d.dropLocked(name)
	}
	d.compactOrderLocked()
	var errs []error
	for _, in := range p.Add {
		d.log.Info("reload: adding instance", "vr", in.Name)
		if err := d.addLocked(in); err != nil {
			d.log.Error("reload: instance not started", "vr", in.Name, "err", err)
			errs = append(errs, fmt.Errorf("instance %q: %w", in.Name, err))
		}
	}
	for _, in := range p.Update {
		if v := d.vrs[in.Name]; v != nil && peersChanged(*v.cur, in) {
			d.log.Info("reload: unicast peers changed in place", "vr", in.Name, "peers", in.Peers, "was", v.cur.Peers)
		} else {
			d.log.Info("reload: updating instance in place", "vr", in.Name)
		}
		if err := d.updateLocked(in); err != nil {
			// Not in place, then: as any other change of the wire.
			d.log.Warn("reload: restarting instance: its peers could not change in place", "vr", in.Name, "err", err)
			d.removeLocked(in.Name)
			if err := d.addLocked(in); err != nil {
				d.log.Error("reload: instance not started", "vr", in.Name, "err", err)
				errs = append(errs, fmt.Errorf("instance %q: %w", in.Name, err))
			}
		}
	}
	var now []string
	for _, in := range cfg.Instances {
		if d.vrs[in.Name] != nil {
			now = append(now, in.Name)
		}
	}
	d.names = now
	cfg.Instances = nil
	d.cfg = cfg
	// Scripts whose definition did not change keep running with their
	// status; changed ones keep their status until their first result.
	d.startScriptsLocked()
	d.startTrackersLocked()
	for _, name := range d.order {
		d.recomputeLocked(d.vrs[name])
	}
	d.applyFaultsLocked() // a removed or added member may change its group's FAULT
	d.log.Info("configuration reloaded", "kept", len(p.Keep), "updated", len(p.Update),
		"removed", len(p.Remove), "added", len(p.Add))
	return errors.Join(errs...)
}
