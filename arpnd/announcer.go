package arpnd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govrrp/govrrp/clock"
	"github.com/govrrp/govrrp/vrrp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
)

// Interface describes the link an Announcer built with NewConn sends on.
type Interface struct {
	// Name and Index identify the interface; a vrrp.VRInfo matches it when
	// its Interface equals Name or, with Name empty, its IfIndex equals
	// Index.
	Name  string
	Index int
	// HardwareAddr is the interface MAC (ModeInterfaceMAC). Required.
	HardwareAddr net.HardwareAddr
	// LinkLocal is the source address of Neighbor Advertisements. If
	// invalid, the advertised address itself is the source (as keepalived
	// sends it).
	LinkLocal netip.Addr
}

// Stats counts what an Announcer did. All counters only grow.
type Stats struct {
	// GARPs and NAs are the gratuitous ARPs and unsolicited Neighbor
	// Advertisements sent.
	GARPs, NAs uint64
	// ARPReplies and NAReplies are the responder's answers.
	ARPReplies, NAReplies uint64
	// Malformed counts received frames dropped by the responder's
	// validation (RFC 4861 section 7.1.1 for solicitations).
	Malformed uint64
	// SendErrors counts frames that failed to go out.
	SendErrors uint64
	// RAs counts the Router Advertisements sent (Config.RouterAdvertisements),
	// unsolicited and solicited; RSs the valid Router Solicitations
	// received while an IPv6 virtual router on the link was master.
	RAs, RSs uint64
}

// An Announcer announces the virtual addresses of virtual routers when they
// become master (gratuitous ARP for IPv4, unsolicited Neighbor
// Advertisements for IPv6, RFC 9568 section 6.4.1 and 6.4.2), repeats the
// announcements on keepalived's schedule, and optionally answers ARP / ND
// for them while master, and with Config.RouterAdvertisements sends ND
// Router Advertisements for IPv6 virtual routers while master. It
// implements vrrp.Hook: add it to the Router's hooks and transitions
// trigger it without glue.
//
// Its methods are safe for concurrent use. Hook methods do not block on
// the network: bursts are written at once (raw sockets do not block) and
// later frames are sent from timers of the real clock (tests run them
// under testing/synctest).
type Announcer struct {
	cfg   Config
	sched schedule
	clk   clock.Clock
	log   *slog.Logger
	plat  platform

	mu     sync.Mutex
	closed bool
	vrs    map[vrKey]*vrState
	// scheds holds the schedules SetSchedule gave, per virtual router.
	// A schedule is never changed once made: a takeover under way points
	// to its own (vrState.sched) whatever SetSchedule does meanwhile.
	scheds map[vrKey]*schedule
	// answers holds, per link and virtual address, the virtual routers
	// that are master for it there: the responder answers while one is.
	answers map[*link]map[netip.Addr]map[*vrState]struct{}
	lastLog time.Time

	// ra is Config.RouterAdvertisements resolved; nil if off. raVRs holds
	// the virtual routers advertising on each link, rand the interval
	// draw (replaced in tests).
	ra    *raParams
	raVRs map[*link]map[*vrState]struct{}
	rand  func(lo, hi time.Duration) time.Duration

	wg sync.WaitGroup // timers in flight and responder goroutines

	garps, nas, arpReplies, naReplies, malformed, sendErrs, ras, rss atomic.Uint64
}

var (
	_ vrrp.Hook         = (*Announcer)(nil)
	_ vrrp.RegistryHook = (*Announcer)(nil)
)

// link is one interface frames are sent on and received from.
type link struct {
	ifi     Interface
	arp, nd PacketConn
	// filter holds the references on the interface filter's entries,
	// made on first use (refs): only the responder and Router
	// Advertisements take any, and a daemon without them has thousands of
	// links (issue 12: three nil maps took a link from 112 bytes to 128).
	filter *linkRefs
}

// linkRefs are a link's references on its interface filter.
type linkRefs struct {
	// groups counts the references on the link-layer multicast groups
	// joined on nd, per group MAC (solicited-node, all-nodes,
	// all-routers); a group is left with its last reference.
	groups map[string]int
	// failedJoins counts, per group MAC, the failed joins of callers that
	// pair every join with a leave (see join).
	failedJoins map[string]int
	// unicast counts the references on the extra unicast MACs added to
	// the interface filter.
	unicast map[string]int
}

// refs returns l's filter references, making them on first use. Called
// with the Announcer's lock held.
func (l *link) refs() *linkRefs {
	if l.filter == nil {
		l.filter = new(linkRefs)
	}
	return l.filter
}

type vrKey struct {
	ifname string
	ifidx  int
	v6     bool
	vrid   uint8
}

// vrState is what the Announcer holds for a virtual router. A daemon
// holds thousands (issue 12: 4,094 links, one virtual router each), so
// its fields are laid out for a small size class (144 bytes): nothing
// here that can be shared (the schedule) or packed (the frames, the MAC)
// is kept per virtual router in a larger form.
type vrState struct {
	key  vrKey
	link *link
	// addrs are the virtual addresses; frames their announcements, in
	// the same order, frameLen(key.v6) bytes each in one array.
	addrs  []netip.Addr
	frames []byte
	// answering holds what the responder acquired while taken.
	answering *answering
	// sched is the schedule of the takeover under way, taken when it
	// started: Config's (the Announcer's one copy) or the one SetSchedule
	// gave; never changed through this pointer.
	sched *schedule
	// tasks are the pending tasks, a list linked through task.next: a
	// virtual router has a few at most (the second burst, the refresh, a
	// lower-priority burst, a spaced burst's next frame, the next Router
	// Advertisement), and a set of its own cost a map per virtual router
	// (192 bytes, kept once it had a task; issue 12).
	tasks *task
	// ra is the Router Advertisement state while taken, if advertising.
	ra *raState
	// mac is the MAC the virtual router's frames come from: the
	// interface's (ModeInterfaceMAC) or the virtual MAC.
	mac [6]byte
	// master: between Take and Release, whether or not the Take
	// succeeded.
	master bool
	// taken: the platform's take succeeded and the responder answers
	// (answering holds what it acquired); only ever while master. A
	// master that is not taken (its Take failed) holds nothing and
	// announces nothing; Announce retries the take.
	taken bool
	// undoFailed: the platform's release that undid a failed take
	// failed too; Release tries it again.
	undoFailed bool
	// scheduled: the takeover schedule ran since the last Take / Release,
	// so a further Announce is the lower-priority burst.
	scheduled bool
}

// hwAddr returns vr's MAC as a net.HardwareAddr: vr's own bytes, which
// nobody may change.
func (vr *vrState) hwAddr() net.HardwareAddr { return vr.mac[:] }

type taskKind uint8

const (
	taskTakeover  taskKind = iota // bursts and second burst on becoming master
	taskRefresh                   // periodic refresh
	taskLowerPrio                 // bursts after a lower-priority advertisement
	taskRA                        // the next Router Advertisement
)

// task is a pending task of a virtual router, on its list (vrState.tasks)
// from after until it runs or is cancelled.
type task struct {
	t    clock.Timer
	next *task
	kind taskKind
}

// platform is what differs between New (real interfaces, possibly
// macvlans) and NewConn (one given link).
type platform interface {
	// linkFor returns the link vr is sent on, creating it if needed; nil
	// if the Announcer does not handle vr. Called with the lock held.
	linkFor(a *Announcer, vr vrrp.VRInfo, key vrKey, mac net.HardwareAddr) (*link, error)
	// take and release assign and remove the virtual addresses where the
	// platform does that (ModeMacvlan), or install and remove the rule
	// that lets the host take frames to the virtual MAC (ModeVirtualMAC
	// with the responder, New). release with down set means vr
	// is no longer master: the platform stops sending from its interface
	// (ModeMacvlan sets the macvlan down); without, a new Take follows.
	// release with down set also undoes a take that failed part-way:
	// the Announcer calls it after every failed take, so that a failed
	// Take holds nothing.
	take(l *link, vr *vrState) error
	release(l *link, vr *vrState, down bool) error
	// forget releases what the platform made for vr alone (its macvlan,
	// ModeMacvlan; a table left installed): vr was removed from the
	// Router. Called with the lock held, after release.
	forget(vr *vrState) error
	// close releases every link and interface it made.
	close() error
}

// prober is implemented by a platform that can check, when the Announcer
// is made, what later hook calls will need (a capability, say), so that
// New reports it.
type prober interface {
	probe() error
}

// NewConn returns an Announcer that sends on one interface through the
// given packet connections: arp for EtherType 0x0806 frames, nd for
// 0x86dd; either may be nil if that family is not used. The Announcer
// owns the connections and closes them in Close. ModeMacvlan needs New.
// This is the layer below New; tests use it with fake connections.
func NewConn(cfg Config, ifi Interface, arp, nd PacketConn) (*Announcer, error) {
	if cfg.Mode == ModeMacvlan {
		return nil, fmt.Errorf("%w: ModeMacvlan needs New", ErrUnsupported)
	}
	if err := checkMAC(ifi.HardwareAddr); err != nil {
		return nil, fmt.Errorf("%w: Interface.HardwareAddr: %w", ErrConfig, err)
	}
	if cfg.Interface != "" && ifi.Name != "" && cfg.Interface != ifi.Name {
		return nil, fmt.Errorf("%w: Interface=%q: differs from the connection's interface %q", ErrConfig, cfg.Interface, ifi.Name)
	}
	l := &link{ifi: ifi, arp: arp, nd: nd}
	a, err := newAnnouncer(cfg, &connPlatform{l: l})
	if err != nil {
		closeConns(l)
		return nil, err
	}
	a.startReaders(l, a.responding(), a.responding() || a.ra != nil)
	return a, nil
}

func newAnnouncer(cfg Config, p platform) (*Announcer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &Announcer{
		cfg:     cfg,
		sched:   cfg.schedule(),
		clk:     clock.Real(),
		log:     cfg.Logger,
		plat:    p,
		vrs:     make(map[vrKey]*vrState),
		scheds:  make(map[vrKey]*schedule),
		answers: make(map[*link]map[netip.Addr]map[*vrState]struct{}),
		raVRs:   make(map[*link]map[*vrState]struct{}),
		rand:    randUniform,
	}
	if cfg.RouterAdvertisements != nil {
		p, err := cfg.RouterAdvertisements.params()
		if err != nil {
			return nil, err
		}
		a.ra = p
	}
	if pr, ok := p.(prober); ok {
		if err := pr.probe(); err != nil {
			return nil, err
		}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// connPlatform serves the single link of NewConn.
type connPlatform struct{ l *link }

func (p *connPlatform) linkFor(a *Announcer, vr vrrp.VRInfo, key vrKey, mac net.HardwareAddr) (*link, error) {
	ifi := p.l.ifi
	switch {
	case ifi.Name != "" && vr.Interface != "":
		if vr.Interface != ifi.Name {
			return nil, nil
		}
	case ifi.Index != 0 && vr.IfIndex != 0:
		if vr.IfIndex != ifi.Index {
			return nil, nil
		}
	}
	return p.l, nil
}
func (p *connPlatform) take(*link, *vrState) error          { return nil }
func (p *connPlatform) release(*link, *vrState, bool) error { return nil }
func (p *connPlatform) forget(*vrState) error               { return nil }
func (p *connPlatform) close() error                        { return closeConns(p.l) }

func closeConns(l *link) error {
	var errs []error
	if l.arp != nil {
		errs = append(errs, l.arp.Close())
	}
	if l.nd != nil {
		errs = append(errs, l.nd.Close())
	}
	return errors.Join(errs...)
}

// errClosed is returned by the hooks after Close.
var errClosed = errors.New("arpnd: announcer closed")

// vrFor returns the state of vr, creating it; nil if vr is not ours.
// Called with the lock held.
func (a *Announcer) vrFor(info vrrp.VRInfo) (*vrState, error) {
	if a.closed {
		return nil, errClosed
	}
	if len(info.Addrs) == 0 {
		return nil, fmt.Errorf("arpnd: virtual router %q (VRID %d) has no addresses", info.Name, info.VRID)
	}
	if a.cfg.Interface != "" && info.Interface != "" && info.Interface != a.cfg.Interface {
		return nil, nil
	}
	key := keyOf(info)
	if vr, ok := a.vrs[key]; ok {
		return vr, nil
	}
	v6 := key.v6
	vmac := VirtualMAC(info.VRID, v6)
	l, err := a.plat.linkFor(a, info, key, vmac)
	if err != nil || l == nil {
		return nil, err
	}
	mac := l.ifi.HardwareAddr
	if a.cfg.Mode != ModeInterfaceMAC {
		mac = vmac
	}
	if err := checkMAC(mac); err != nil {
		return nil, fmt.Errorf("arpnd: interface %q: %w", l.ifi.Name, err)
	}
	vr := &vrState{key: key, link: l, mac: [6]byte(mac)}
	a.vrs[key] = vr
	return vr, nil
}

// keyOf returns the key of info's state; info has addresses.
func keyOf(info vrrp.VRInfo) vrKey {
	v6 := info.Addrs[0].Is6() && !info.Addrs[0].Is4In6()
	key := vrKey{ifname: info.Interface, v6: v6, vrid: info.VRID}
	if info.Interface == "" {
		key.ifidx = info.IfIndex
	}
	return key
}

// Added implements vrrp.RegistryHook. The Announcer makes what it needs
// for a virtual router on its first Take or Announce, so Added does
// nothing.
func (a *Announcer) Added(vrrp.VRInfo) {}

// Removed implements vrrp.RegistryHook: vr was removed from the Router.
// Everything the Announcer holds for it goes: pending announcements and
// Router Advertisements, the responder's answers, the addresses, and in
// ModeMacvlan its macvlan (deleted, and the parent's arp_ignore restored
// with its last macvlan). Errors are logged.
func (a *Announcer) Removed(info vrrp.VRInfo) {
	if len(info.Addrs) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	key := keyOf(info)
	vr := a.vrs[key]
	if vr == nil {
		return
	}
	a.cancel(vr, taskTakeover, taskRefresh, taskLowerPrio, taskRA)
	a.stopRA(vr)
	var errs []error
	if vr.taken || vr.undoFailed {
		a.stopAnswering(vr)
		vr.taken, vr.undoFailed = false, false
		errs = append(errs, a.plat.release(vr.link, vr, true))
	}
	errs = append(errs, a.plat.forget(vr))
	delete(a.vrs, key)
	delete(a.scheds, key)
	if err := errors.Join(errs...); err != nil {
		a.log.Warn("arpnd: removing a virtual router", "vr", info.Name, "vrid", info.VRID, "err", err)
	}
}

// setAddrs makes addrs vr's addresses and builds their announcements.
// The frames go into a new array, not the old one: a spaced burst under
// way goes on with the frames it started with (see burstFrom).
func (a *Announcer) setAddrs(vr *vrState, addrs []netip.Addr) error {
	fl := frameLen(vr.key.v6)
	frames := make([]byte, 0, len(addrs)*fl)
	for _, ip := range addrs {
		var b []byte
		var err error
		if vr.key.v6 {
			if !ip.Is6() || ip.Is4In6() {
				return fmt.Errorf("arpnd: VRID %d: %w: %v", vr.key.vrid, ErrNotIPv6, ip)
			}
			src := vr.link.ifi.LinkLocal
			if !src.IsValid() {
				src = ip // as Interface.LinkLocal documents
			}
			b, err = MarshalUnsolicitedNA(vr.hwAddr(), src, ip)
		} else {
			b, err = MarshalGratuitousARP(vr.hwAddr(), ip)
		}
		if err != nil {
			return fmt.Errorf("arpnd: VRID %d: %w", vr.key.vrid, err)
		}
		if len(b) != fl {
			// Not reached: the Marshal functions make frames of one size.
			return fmt.Errorf("arpnd: VRID %d: announcement of %d bytes, want %d", vr.key.vrid, len(b), fl)
		}
		frames = append(frames, b...)
	}
	vr.addrs = append(vr.addrs[:0], addrs...)
	vr.frames = frames
	return nil
}

// frameLen returns the length of an announcement: a gratuitous ARP (42
// bytes, zero padded to Ethernet's minimum of 60) or an unsolicited
// Neighbor Advertisement (Ethernet 14, IPv6 40, the NA 24 and its Target
// Link-Layer Address option 8).
func frameLen(v6 bool) int {
	if v6 {
		return 86
	}
	return 60
}

// Take implements vrrp.Hook: vr became master. It cancels any pending
// schedule of vr, sets the macvlan up and assigns the addresses to it in
// ModeMacvlan (installs the nftables table in ModeVirtualMAC with the
// responder, New), and starts the responder for them. With
// Config.RouterAdvertisements it sends the first Router Advertisement of
// an IPv6 virtual router and starts their schedule. The announcements
// follow with Announce.
//
// Take is all or nothing. If any of it fails, Take gives back what it had
// done (the macvlan is down again, the table removed, group memberships
// and unicast filter entries dropped) and returns the error: vr is master
// but holds nothing, so it neither answers nor announces. The Announce
// that follows a Take retries it, and so does every later Announce until
// one succeeds or Release comes; an Announce whose retry fails returns the
// error and sends nothing, since announcing the virtual MAC (or the
// addresses) without answering for them would draw traffic nobody takes.
// A failure of the Router Advertisements alone does not undo the Take.
func (a *Announcer) Take(info vrrp.VRInfo) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	vr, err := a.vrFor(info)
	if err != nil || vr == nil {
		return err
	}
	a.cancel(vr, taskTakeover, taskRefresh, taskLowerPrio)
	a.stopRA(vr)
	if vr.taken {
		a.stopAnswering(vr)
		vr.taken = false
		if err := a.plat.release(vr.link, vr, false); err != nil {
			a.logLimited("arpnd: release before a new takeover failed", "interface", vr.link.ifi.Name, "vrid", vr.key.vrid, "err", err)
		}
	}
	vr.master, vr.scheduled = true, false
	if err := a.setAddrs(vr, info.Addrs); err != nil {
		return err
	}
	if err := a.acquire(vr); err != nil {
		return err
	}
	return a.startRA(vr)
}

// acquire does the platform's take and starts the responder for vr, or
// neither: on error it undoes what succeeded. Called with the lock held,
// with vr not taken.
func (a *Announcer) acquire(vr *vrState) error {
	err := a.plat.take(vr.link, vr)
	if err == nil {
		if err = a.startAnswering(vr); err == nil {
			vr.taken, vr.undoFailed = true, false
			return nil
		}
	}
	if rerr := a.plat.release(vr.link, vr, true); rerr != nil {
		vr.undoFailed = true
		err = errors.Join(err, fmt.Errorf("arpnd: undoing the failed takeover: %w", rerr))
	}
	return err
}

// Release implements vrrp.Hook: vr is no longer master. It cancels vr's
// pending announcements, stops answering for its addresses and, in
// ModeMacvlan, sets the macvlan down and removes the addresses from it, so
// that nothing leaves from the virtual MAC. Router Advertisements stop
// without a final one (see the package documentation). After a failed
// Take it has nothing left to give back, unless undoing that Take failed
// too: Release then tries again.
func (a *Announcer) Release(info vrrp.VRInfo) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	vr, err := a.vrFor(info)
	if err != nil || vr == nil {
		return err
	}
	a.cancel(vr, taskTakeover, taskRefresh, taskLowerPrio)
	a.stopRA(vr)
	vr.master, vr.scheduled = false, false
	if vr.taken || vr.undoFailed {
		a.stopAnswering(vr)
		vr.taken, vr.undoFailed = false, false
		return a.plat.release(vr.link, vr, true)
	}
	return nil
}

// Announce implements vrrp.Hook. The first Announce after Take (or one
// without a Take) starts the takeover schedule: MasterRepeat rounds now,
// MasterRepeat more after MasterDelay, and MasterRefreshRepeat every
// MasterRefresh until Release. A later Announce while master (the Router
// heard a lower-priority advertisement) sends LowerPrioRepeat rounds now
// and again after LowerPrioDelay, replacing a pending lower-priority burst.
//
// While vr is master but its Take failed, Announce first retries the take
// (see Take); if that fails again it returns the error and sends nothing.
// If new addresses cannot be answered for, vr gives back its take the
// same way and the next Announce retries.
func (a *Announcer) Announce(info vrrp.VRInfo) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	vr, err := a.vrFor(info)
	if err != nil || vr == nil {
		return err
	}
	if !equalAddrs(vr.addrs, info.Addrs) {
		if vr.taken {
			a.stopAnswering(vr)
		}
		err := a.setAddrs(vr, info.Addrs)
		if vr.taken {
			if aerr := a.startAnswering(vr); aerr != nil {
				// Hold nothing, as after a failed Take.
				a.cancel(vr, taskTakeover, taskRefresh, taskLowerPrio)
				a.stopRA(vr)
				vr.taken, vr.scheduled = false, false
				if rerr := a.plat.release(vr.link, vr, true); rerr != nil {
					vr.undoFailed = true
					aerr = errors.Join(aerr, rerr)
				}
				return errors.Join(err, aerr)
			}
			if a.ra != nil && vr.key.v6 {
				err = errors.Join(err, a.updateRA(vr))
			}
		}
		if err != nil {
			return err
		}
	}
	var raErr error
	if vr.master && !vr.taken {
		// The Take failed (or the last Announce gave it back): retry.
		if err := a.acquire(vr); err != nil {
			return fmt.Errorf("%w (virtual router %q is master but holds nothing; not announcing)", err, info.Name)
		}
		raErr = a.startRA(vr)
	}
	if !vr.scheduled {
		vr.scheduled = true
		vr.sched = &a.sched
		if s, ok := a.scheds[vr.key]; ok {
			vr.sched = s
		}
		s := vr.sched
		a.cancel(vr, taskTakeover, taskRefresh, taskLowerPrio)
		a.burst(vr, taskTakeover, s.masterRepeat)
		if s.masterDelay > 0 && s.masterRepeat > 0 {
			a.after(vr, taskTakeover, s.masterDelay, func() { a.burst(vr, taskTakeover, s.masterRepeat) })
		}
		if s.refresh > 0 {
			a.after(vr, taskRefresh, s.refresh, func() { a.refresh(vr) })
		}
		return raErr
	}
	s := vr.sched
	a.cancel(vr, taskLowerPrio)
	a.burst(vr, taskLowerPrio, s.lowerRepeat)
	if s.lowerDelay > 0 && s.lowerRepeat > 0 {
		a.after(vr, taskLowerPrio, s.lowerDelay, func() { a.burst(vr, taskLowerPrio, s.lowerRepeat) })
	}
	return nil
}

// SetSchedule gives virtual router info a schedule of its own in place of
// Config's (keepalived's garp_* keywords of a vrrp_instance); nil gives it
// Config's again. It applies from the next takeover on (the first Announce
// after a Take): a schedule under way keeps its own. Removed forgets it.
// The error matches ErrConfig for an invalid schedule (see
// Schedule.Validate) or a virtual router without addresses.
func (a *Announcer) SetSchedule(info vrrp.VRInfo, s *Schedule) error {
	if len(info.Addrs) == 0 {
		return fmt.Errorf("%w: virtual router %q (VRID %d) has no addresses", ErrConfig, info.Name, info.VRID)
	}
	if s != nil {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Config's schedule is kept as no entry: vrrpd gives every virtual
	// router its garp_* schedule at every Take, nearly always the
	// default, and an entry is about 200 bytes (issue 12: 0.8 MB on a
	// master of 4,094).
	if s == nil || s.resolve() == a.sched {
		delete(a.scheds, keyOf(info))
	} else {
		r := s.resolve()
		a.scheds[keyOf(info)] = &r
	}
	return nil
}

func equalAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (a *Announcer) refresh(vr *vrState) {
	a.burst(vr, taskRefresh, vr.sched.refreshRepeat)
	a.after(vr, taskRefresh, vr.sched.refresh, func() { a.refresh(vr) })
}

// burst sends rounds rounds of vr's frames, spaced by the family's
// interval. With a zero interval the whole burst goes out now. Called with
// the lock held.
func (a *Announcer) burst(vr *vrState, kind taskKind, rounds int) {
	n := rounds * len(vr.frames) / frameLen(vr.key.v6)
	a.burstFrom(vr, kind, vr.frames, 0, n, true)
}

// burstFrom sends frames i to n-1 of a burst over frames (vr's frames
// when it started: setAddrs does not change them), the ith being frame
// i modulo their number.
func (a *Announcer) burstFrom(vr *vrState, kind taskKind, frames []byte, i, n int, first bool) {
	iv := vr.sched.garpInterval
	if vr.key.v6 {
		iv = vr.sched.gnaInterval
	}
	fl := frameLen(vr.key.v6)
	for ; i < n; i++ {
		if !first && iv > 0 {
			next := i
			a.after(vr, kind, iv, func() { a.burstFrom(vr, kind, frames, next, n, true) })
			return
		}
		first = false
		off := i % (len(frames) / fl) * fl
		a.send(vr, frames[off:off+fl:off+fl])
	}
}

var (
	broadcastAddr = &packet.Addr{HardwareAddr: ethernet.Broadcast}
	allNodesAddr  = &packet.Addr{HardwareAddr: allNodesMAC}
)

// send writes one announcement. Called with the lock held.
func (a *Announcer) send(vr *vrState, b []byte) {
	c, dst, ctr := vr.link.arp, net.Addr(broadcastAddr), &a.garps
	if vr.key.v6 {
		c, dst, ctr = vr.link.nd, allNodesAddr, &a.nas
	}
	if c == nil {
		a.sendErrs.Add(1)
		a.logLimited("arpnd: no connection for the family", "interface", vr.link.ifi.Name, "vrid", vr.key.vrid)
		return
	}
	_, err := c.WriteTo(b, dst)
	if err != nil && isNetDown(err) {
		// A packet socket reports its interface going down once, on the
		// next call, even when the interface is back up by then (a FAULT
		// that ended, a macvlan set down at release): the retry is the
		// real send.
		_, err = c.WriteTo(b, dst)
	}
	if err != nil {
		a.sendErrs.Add(1)
		a.logLimited("arpnd: send failed", "interface", vr.link.ifi.Name, "vrid", vr.key.vrid, "err", err)
		return
	}
	ctr.Add(1)
}

// after runs f with the lock held once d has passed on the clock, unless
// the task is cancelled first. Called with the lock held.
func (a *Announcer) after(vr *vrState, kind taskKind, d time.Duration, f func()) {
	tk := &task{kind: kind, next: vr.tasks}
	vr.tasks = tk
	a.wg.Add(1)
	tk.t = a.clk.AfterFunc(d, func() {
		defer a.wg.Done()
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.closed || !vr.unlink(tk) {
			return
		}
		f()
	})
}

// unlink takes tk off vr's pending tasks and reports whether it was on
// them (it is not once cancelled). Called with the lock held.
func (vr *vrState) unlink(tk *task) bool {
	for p := &vr.tasks; *p != nil; p = &(*p).next {
		if *p == tk {
			*p, tk.next = tk.next, nil
			return true
		}
	}
	return false
}

// cancel stops vr's pending tasks of the given kinds. Called with the lock
// held.
func (a *Announcer) cancel(vr *vrState, kinds ...taskKind) {
	for p := &vr.tasks; *p != nil; {
		tk := *p
		if !slices.Contains(kinds, tk.kind) {
			p = &tk.next
			continue
		}
		*p, tk.next = tk.next, nil
		if tk.t.Stop() {
			a.wg.Done()
		}
	}
}

// Pending reports how many announcement timers are pending for all
// virtual routers; for tests and diagnostics.
func (a *Announcer) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, vr := range a.vrs {
		for tk := vr.tasks; tk != nil; tk = tk.next {
			n++
		}
	}
	return n
}

// Stats returns the counters.
func (a *Announcer) Stats() Stats {
	return Stats{
		GARPs: a.garps.Load(), NAs: a.nas.Load(),
		ARPReplies: a.arpReplies.Load(), NAReplies: a.naReplies.Load(),
		Malformed: a.malformed.Load(), SendErrors: a.sendErrs.Load(),
		RAs: a.ras.Load(), RSs: a.rss.Load(),
	}
}

// Close cancels every schedule, stops the responder, closes the
// connections and removes what the Announcer created (macvlans and the
// addresses on them, sysctls it changed, nftables tables). It waits for its goroutines and
// timers to finish. Close is idempotent.
func (a *Announcer) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	for _, vr := range a.vrs {
		a.cancel(vr, taskTakeover, taskRefresh, taskLowerPrio, taskRA)
	}
	err := a.plat.close()
	a.mu.Unlock()
	a.wg.Wait()
	return err
}

// logLimited logs at debug level at most once a second.
func (a *Announcer) logLimited(msg string, args ...any) {
	now := a.clk.Now()
	if !a.lastLog.IsZero() && now.Sub(a.lastLog) < time.Second {
		return
	}
	a.lastLog = now
	a.log.Debug(msg, args...)
}
