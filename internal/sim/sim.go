// Package sim is a deterministic discrete-event simulator of VRRP routers
// on one LAN segment. Each node runs one vrrp.RawRouter, the synchronous
// core of vrrp.Router, on the simulator's single goroutine with a virtual
// clock: no goroutines, no wall clock, no map iteration, so a run is a
// pure function of its seed and its script. The simulation therefore
// exercises what the runtime adds to the Machine: demultiplexing and the
// front door's checks, the deadline heap, sync groups (AddGroupVR), fault
// holds (SetFault, InterfaceDown), priority changes, and virtual routers
// added and removed while the node runs (AddVR, RemoveVR).
//
// Every advertisement a RawRouter asks to send (Ready.Sends) is put on
// the segment; the fate of each (packet, receiver) pair (loss,
// duplication, delay, jitter, which reorders) is drawn with memnet.Decide
// from memnet.NewRand(seed), the same fault model as the in-memory LAN
// transport. Each receiver's RawRouter gets the bytes with
// RawRouter.Receive, which parses them with packet.Unmarshal, so the
// simulator exercises the wire path as well as the state machine. A node
// is ticked at its RawRouter's Deadline; a timer that falls due at the
// instant a packet arrives fires before the packet is handed over, as
// RawRouter.Receive would fire it. After every input the node carries out
// its Ready: the sends, the transitions and announcements (into the
// trace), and every host action (into the node's hook log, Hooks).
//
// The faults a script can inject: partitions and healing, crashes (the
// node stops at once: no Shutdown, nothing sent, its RawRouter is
// discarded) and restarts (a new RawRouter, StartAll), graceful shutdowns
// (RFC 9568 section 6.4.3: a master sends a priority-0 advertisement),
// priority changes, fault holds, interface down/up (keepalived's FAULT),
// virtual routers added and removed, and per-link loss, duplication,
// delay and jitter.
//
// The simulator records a trace of every transition and every
// advertisement sent, with the virtual time, node, virtual router and
// reason, and with Config.RecordReceives every advertisement a virtual
// router accepted, with its sender; see Record.
package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/govrrp/govrrp/internal/dheap"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// Epoch is the virtual time at which every simulation starts, unless
// Config.Epoch says otherwise.
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Config configures a Sim. The zero value is usable.
type Config struct {
	// Epoch is the wall-clock time the machines see at virtual time 0. If
	// zero, Epoch.
	Epoch time.Time
	// Link is the default behaviour of every link (from one node to
	// another) that SetLink has not set. The zero Link delivers every
	// packet at once, exactly once.
	Link memnet.Link
	// OnRecord, if set, is called with every trace record as it is
	// recorded (for printing a timeline live). It runs on the simulator's
	// goroutine and must not call back into the Sim.
	OnRecord func(Record)
	// RecordReceives adds a KindReceive record to the trace for every
	// advertisement a machine accepted, so that a checker can tell what
	// each router actually heard (under loss, a router's timers depend on
	// it). Off by default: it is one record per packet delivered.
	RecordReceives bool
}

// VR identifies a virtual router on the segment: its address family and
// VRID (RFC 9568 section 7.1: IPv4 and IPv6 virtual routers with the same
// VRID are independent).
type VR struct {
	V6   bool
	VRID uint8
}

// String returns "ipv4/VRID" or "ipv6/VRID".
func (v VR) String() string {
	if v.V6 {
		return fmt.Sprintf("ipv6/%d", v.VRID)
	}
	return fmt.Sprintf("ipv4/%d", v.VRID)
}

// VROf returns the VR a config belongs to.
func VROf(cfg vrrp.Config) VR {
	v6 := false
	if len(cfg.Addrs) > 0 {
		v6 = cfg.Addrs[0].Is6()
	}
	return VR{V6: v6, VRID: cfg.VRID}
}

// Kind is the kind of a trace Record.
type Kind uint8

const (
	// KindTransition: a machine changed state (From, To, Reason).
	KindTransition Kind = iota + 1
	// KindSend: a machine sent an advertisement with Priority.
	KindSend
	// KindAnnounce: a machine announced its virtual addresses (gratuitous
	// ARP / unsolicited NA): on becoming master, and as an RFC 9568
	// master that heard a lower priority.
	KindAnnounce
	// KindStart: a node started its machines for the first time.
	KindStart
	// KindCrash: a node crashed.
	KindCrash
	// KindRestart: a crashed or shut-down node started new machines.
	KindRestart
	// KindShutdown: a node shut down gracefully.
	KindShutdown
	// KindSetPriority: a virtual router's priority was set to Priority.
	KindSetPriority
	// KindIfDown and KindIfUp: a node's interface went down or up.
	KindIfDown
	KindIfUp
	// KindPartition: the segment was partitioned (Note lists the groups).
	KindPartition
	// KindHeal: the partition was healed.
	KindHeal
	// KindSetLink: a link's behaviour changed (Note says how).
	KindSetLink
	// KindReceive: a machine (Node, VR) accepted an advertisement from
	// Sender with Priority: it arrived in Backup or Master and passed the
	// receive checks of RFC 9568 section 7.1 (the machine counted it in
	// RcvdAdvertisements), so section 6.4.2 or 6.4.3 processed it. It is
	// recorded just before the records of what the machine did about it
	// (a transition, a send). Only with Config.RecordReceives.
	KindReceive
	// KindAddVR: a virtual router was added to a node that has started
	// (Priority, and Note its sync group).
	KindAddVR
	// KindRemoveVR: a virtual router was removed from a node.
	KindRemoveVR
	// KindSetFault: SetFault held a virtual router in Fault (Note "on")
	// or let it go ("off").
	KindSetFault
)

var kindNames = [...]string{
	KindTransition:  "transition",
	KindSend:        "send",
	KindAnnounce:    "announce",
	KindStart:       "start",
	KindCrash:       "crash",
	KindRestart:     "restart",
	KindShutdown:    "shutdown",
	KindSetPriority: "priority",
	KindIfDown:      "ifdown",
	KindIfUp:        "ifup",
	KindPartition:   "partition",
	KindHeal:        "heal",
	KindSetLink:     "link",
	KindReceive:     "receive",
	KindAddVR:       "addvr",
	KindRemoveVR:    "removevr",
	KindSetFault:    "fault",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Record is one entry of the trace.
type Record struct {
	// At is the virtual time, since the start of the simulation.
	At   time.Duration
	Kind Kind
	// Node is the node concerned; empty for segment-wide records
	// (partition, heal, default link).
	Node string
	// VR is the virtual router concerned (transition, send, announce,
	// priority); the zero VR otherwise.
	VR VR
	// From, To and Reason of a transition.
	From, To vrrp.State
	Reason   vrrp.Reason
	// Priority of a sent or received advertisement, or the new priority.
	Priority uint8
	// Sender is the node that sent a received advertisement (KindReceive).
	Sender string
	// Note describes a partition or a link change.
	Note string
}

// String renders the record on one line.
func (r Record) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %s", r.At, r.Kind)
	if r.Node != "" {
		b.WriteString(" " + r.Node)
	}
	if r.VR != (VR{}) {
		b.WriteString(" " + r.VR.String())
	}
	switch r.Kind {
	case KindTransition:
		fmt.Fprintf(&b, " %v->%v %v", r.From, r.To, r.Reason)
	case KindSend, KindSetPriority, KindAddVR:
		fmt.Fprintf(&b, " prio=%d", r.Priority)
	case KindReceive:
		fmt.Fprintf(&b, " from=%s prio=%d", r.Sender, r.Priority)
	}
	if r.Note != "" {
		b.WriteString(" " + r.Note)
	}
	return b.String()
}

// Sim is a simulated LAN segment with its nodes. It is not safe for
// concurrent use; scripts run on the simulator's goroutine (see At).
type Sim struct {
	cfg   Config
	epoch time.Time
	now   time.Time
	rng   *rand.Rand

	q   dheap.Heap[event] // by (at, seq)
	seq uint64

	nodes  []*node
	byName map[string]*node

	links       map[[2]int]memnet.Link
	partitioned bool

	trace []Record
	errs  []error
}

type node struct {
	name         string
	idx          int
	addr4, addr6 netip.Addr
	started      bool // Start was called
	up           bool // running: started, not crashed or shut down
	ifDown       bool
	ttl          int
	group        int // partition group
	slots        []*slot

	// rr is the node's RawRouter, nil while the node is down; a restart
	// makes a new one.
	rr       *vrrp.RawRouter
	conn     *conn
	armed    time.Time // deadline of the pending timer event
	gen      uint64    // invalidates armed timer events
	sendErrs uint64    // rr's SendErrors seen
	out      []outMsg  // flush's scratch
	scratch  packet.Advertisement

	retired vrrp.RouterStats // of past incarnations, summed
	hooks   []HookRecord
}

// outMsg is an advertisement of a Ready, while flush puts it in order.
type outMsg struct {
	vr   VR
	msg  transport.Message
	done bool
}

// conn is a node's transport.Conn: only a key for its RawRouter, which
// never calls it (the simulator hands packets in and takes them out).
type conn struct{ n *node }

var errSimConn = errors.New("sim: the simulator's Conn is not read or written")

func (c *conn) ReadFrom([]byte) (int, transport.Meta, error) { return 0, transport.Meta{}, errSimConn }
func (c *conn) WriteTo([]byte, transport.Meta) error         { return errSimConn }
func (c *conn) Close() error                                 { return nil }

// ifName is the name of every node's one interface, for the RawRouter's
// InterfaceDown and InterfaceUp.
const ifName = "eth0"

// slot is one virtual router on one node, across incarnations.
type slot struct {
	n       *node
	vr      VR
	name    string // the RawRouter's name for it: vr.String()
	cfg     vrrp.Config
	group   string // sync group
	faulted bool   // SetFault holds it in Fault
	removed bool   // RemoveVR; AddVR of the same VR brings it back

	retired   vrrp.Stats // counters of past incarnations, summed
	delivered Delivered
}

// find returns the node's virtual router vr, nil if it has none (or it
// was removed).
func (n *node) find(vr VR) *slot {
	for _, sl := range n.slots {
		if sl.vr == vr && !sl.removed {
			return sl
		}
	}
	return nil
}

// byName returns the slot of a RawRouter name, removed or not.
func (n *node) byName(name string) *slot {
	for _, sl := range n.slots {
		if sl.name == name {
			return sl
		}
	}
	return nil
}

// HookRecord is one host action of a node's RawRouter (vrrp.HostAction):
// what a vrrp.Hook would have been asked to do, in order.
type HookRecord struct {
	At   time.Duration
	VR   VR
	Kind vrrp.HostKind
	// Priority is the virtual router's priority at the time.
	Priority uint8
	// From, To and Reason of a HostTransition.
	From, To vrrp.State
	Reason   vrrp.Reason
}

func (h HookRecord) String() string {
	s := fmt.Sprintf("%v %v %v", h.At, h.VR, h.Kind)
	if h.Kind == vrrp.HostTransition {
		s += fmt.Sprintf(" %v->%v %v", h.From, h.To, h.Reason)
	}
	return s
}

// Delivered counts the advertisements the simulator handed to a virtual
// router's machine while it was in Backup or Master (the states in which
// RFC 9568 section 6.4 processes advertisements), over every incarnation.
type Delivered struct {
	Adverts      uint64
	PriorityZero uint64
}

// NodeErrors counts packets a node could not hand to any virtual router:
// ones for a (family, VRID) it does not run (RFC 6527
// vrrpv3RouterVrIdErrors) and ones that failed to parse without a VRID to
// blame (vrrpv3RouterChecksumErrors, vrrpv3RouterVersionErrors, ...).
type NodeErrors struct {
	VRIDErrors  uint64
	ParseErrors uint64
}

// New returns an empty simulation whose faults are drawn from seed.
func New(seed uint64, cfg Config) *Sim {
	if cfg.Epoch.IsZero() {
		cfg.Epoch = Epoch
	}
	s := &Sim{
		cfg:    cfg,
		epoch:  cfg.Epoch,
		now:    cfg.Epoch,
		rng:    memnet.NewRand(seed),
		byName: make(map[string]*node),
		links:  make(map[[2]int]memnet.Link),
	}
	return s
}

// Now returns the virtual time since the start.
func (s *Sim) Now() time.Duration { return s.now.Sub(s.epoch) }

// Time returns the virtual time as the machines see it.
func (s *Sim) Time() time.Time { return s.now }

// AddNode adds a router with its IPv4 primary address and IPv6 link-local
// address (either may be the zero Addr if it runs no virtual router of
// that family). The node does nothing until Start.
func (s *Sim) AddNode(name string, addr4, addr6 netip.Addr) error {
	if name == "" {
		return errors.New("sim: AddNode: empty name")
	}
	if _, dup := s.byName[name]; dup {
		return fmt.Errorf("sim: AddNode: node %q exists", name)
	}
	if addr4.IsValid() && !addr4.Is4() {
		return fmt.Errorf("sim: AddNode %s: addr4 %v is not IPv4", name, addr4)
	}
	if addr6.IsValid() && (!addr6.Is6() || addr6.Is4In6()) {
		return fmt.Errorf("sim: AddNode %s: addr6 %v is not IPv6", name, addr6)
	}
	for _, o := range s.nodes {
		if addr4.IsValid() && o.addr4 == addr4 || addr6.IsValid() && o.addr6 == addr6 {
			return fmt.Errorf("sim: AddNode %s: an address is already %s's", name, o.name)
		}
	}
	n := &node{name: name, idx: len(s.nodes), addr4: addr4, addr6: addr6, ttl: packet.TTL}
	n.conn = &conn{n}
	s.nodes = append(s.nodes, n)
	s.byName[name] = n
	return nil
}

// AddVR adds a virtual router to a node. cfg.Primary, if zero, is the
// node's address of the family of cfg.Addrs. The config is validated with
// vrrp.NewMachine. A node runs at most one virtual router per VR. Adding
// to a running node adds it to the node's RawRouter, which starts it at
// once (RawRouter.Add); after the node has started, the trace records
// it (KindAddVR). A VR removed with RemoveVR may be added again: its
// counters carry on.
func (s *Sim) AddVR(name string, cfg vrrp.Config) error { return s.AddGroupVR(name, "", cfg) }

// AddGroupVR is AddVR of a member of the sync group group of the node
// (vrrp.VirtualRouter.SyncGroup; empty: none): the members change state
// together, and a member in a fault of its own holds the others in
// Fault.
func (s *Sim) AddGroupVR(name, group string, cfg vrrp.Config) error {
	n := s.node(name)
	vr := VROf(cfg)
	if !cfg.Primary.IsValid() {
		if vr.V6 {
			cfg.Primary = n.addr6
		} else {
			cfg.Primary = n.addr4
		}
	}
	if _, err := vrrp.NewMachine(cfg); err != nil {
		return fmt.Errorf("sim: AddVR %s %v: %w", name, vr, err)
	}
	if n.find(vr) != nil {
		return fmt.Errorf("sim: AddVR %s: %v exists", name, vr)
	}
	sl := n.byName(vr.String())
	if sl == nil {
		sl = &slot{n: n, vr: vr, name: vr.String()}
		n.slots = append(n.slots, sl)
	}
	sl.cfg, sl.group, sl.faulted, sl.removed = cfg, group, false, false
	if n.started {
		s.record(Record{Kind: KindAddVR, Node: name, VR: vr, Priority: cfg.Priority, Note: group})
	}
	if n.up {
		if err := n.rr.Add(s.now, s.virtualRouter(sl)); err != nil {
			s.errorf("%s %v: %v", n.name, vr, err)
		}
		if n.ifDown {
			// The interface of the node is down: so is the new one's.
			n.rr.InterfaceDown(s.now, ifName) //nolint:errcheck // it has a virtual router now
		}
		s.flush(n)
		s.arm(n)
	}
	return nil
}

// RemoveVR removes a virtual router from a running or stopped node
// (RawRouter.Remove: a master sends a priority-0 advertisement and
// releases its addresses). Its counters are kept (TotalStats).
func (s *Sim) RemoveVR(name string, vr VR) error {
	n := s.node(name)
	sl := n.find(vr)
	if sl == nil {
		return fmt.Errorf("sim: RemoveVR %s: no %v", name, vr)
	}
	s.record(Record{Kind: KindRemoveVR, Node: name, VR: vr})
	if n.rr != nil {
		// Shutdown first, so that the counters retired include the
		// priority-0 advertisement; Remove then has nothing to stop.
		n.rr.Shutdown(s.now, sl.name) //nolint:errcheck // it is there
		s.flush(n)
		s.retire(sl)
		if err := n.rr.Remove(s.now, sl.name); err != nil {
			s.errorf("%s %v: %v", name, vr, err)
		}
		s.flush(n)
		s.arm(n)
	}
	sl.removed = true
	return nil
}

// virtualRouter is the vrrp.VirtualRouter of a slot.
func (s *Sim) virtualRouter(sl *slot) vrrp.VirtualRouter {
	return vrrp.VirtualRouter{Name: sl.name, Conn: sl.n.conn, Interface: ifName, Config: sl.cfg, SyncGroup: sl.group}
}

func (s *Sim) node(name string) *node {
	n, ok := s.byName[name]
	if !ok {
		panic(fmt.Sprintf("sim: no node %q", name))
	}
	return n
}

func (s *Sim) slot(name string, vr VR) *slot {
	n := s.node(name)
	if sl := n.byName(vr.String()); sl != nil {
		return sl
	}
	panic(fmt.Sprintf("sim: node %q has no virtual router %v", name, vr))
}

// Nodes returns the node names in the order they were added.
func (s *Sim) Nodes() []string {
	names := make([]string, len(s.nodes))
	for i, n := range s.nodes {
		names[i] = n.name
	}
	return names
}

// VRs returns the virtual routers of a node in the order they were first
// added, without those removed.
func (s *Sim) VRs(name string) []VR {
	n := s.node(name)
	var vrs []VR
	for _, sl := range n.slots {
		if !sl.removed {
			vrs = append(vrs, sl.vr)
		}
	}
	return vrs
}

// --- scheduling ---

const (
	evFunc = iota
	evTimer
	evDeliver
)

type event struct {
	at   time.Time
	seq  uint64
	kind uint8
	fn   func()
	n    *node // the timer's node, or the sender of a packet
	gen  uint64
	to   *node
	p    *pkt
}

type pkt struct {
	b        []byte
	src, dst netip.Addr
	ttl      int
	buf      [64]byte // holds b for advertisements of up to 3 IPv6 addresses
}

func (s *Sim) push(e event) {
	if e.at.Before(s.now) {
		e.at = s.now
	}
	s.seq++
	e.seq = s.seq
	s.q.Push(e.at, e.seq, e, nil)
}

// At schedules fn at virtual time t (since the start); a time in the past
// means now. Events at the same time run in the order they were scheduled.
func (s *Sim) At(t time.Duration, fn func()) {
	s.push(event{at: s.epoch.Add(t), kind: evFunc, fn: fn})
}

// After schedules fn d after the current virtual time.
func (s *Sim) After(d time.Duration, fn func()) {
	s.push(event{at: s.now.Add(d), kind: evFunc, fn: fn})
}

// maxSameInstant bounds the events processed at one instant: more means
// a livelock (a timer that does not advance), reported instead of hanging.
const maxSameInstant = 1 << 20

// Run processes every event up to and including virtual time until (since
// the start), then sets the clock to until.
func (s *Sim) Run(until time.Duration) {
	end := s.epoch.Add(until)
	same := 0
	for s.q.Len() > 0 && !s.q.Min().at.After(end) {
		e := s.q.Pop()
		if e.at.Equal(s.now) {
			same++
			if same > maxSameInstant {
				s.errorf("livelock: more than %d events at %v", maxSameInstant, s.Now())
				for s.q.Len() > 0 {
					s.q.Pop()
				}
				break
			}
		} else {
			same = 0
		}
		s.now = e.at
		switch e.kind {
		case evFunc:
			e.fn()
		case evTimer:
			s.fire(e.n, e.gen)
		case evDeliver:
			s.deliver(e.n, e.to, e.p)
		}
	}
	if end.After(s.now) {
		s.now = end
	}
}

// RunFor runs for d more virtual time.
func (s *Sim) RunFor(d time.Duration) { s.Run(s.Now() + d) }

// Pending reports the number of scheduled events (timers, packets in
// flight, script functions).
func (s *Sim) Pending() int { return s.q.Len() }

// --- nodes ---

// arm schedules a timer event for the node's RawRouter deadline if it
// moved.
func (s *Sim) arm(n *node) {
	var d time.Time
	if n.rr != nil {
		d = n.rr.Deadline()
	}
	if d.Equal(n.armed) {
		return
	}
	n.gen++
	n.armed = d
	if !d.IsZero() {
		s.push(event{at: d, kind: evTimer, n: n, gen: n.gen})
	}
}

func (s *Sim) fire(n *node, gen uint64) {
	if gen != n.gen || n.rr == nil {
		return // stale: the deadline moved or the node is down
	}
	n.armed = time.Time{}
	n.rr.Tick(s.now)
	s.flush(n)
	if d := n.rr.Deadline(); !d.IsZero() && !d.After(s.now) {
		s.errorf("%s: deadline %v did not advance past %v after Tick", n.name, d.Sub(s.epoch), s.Now())
		n.armed = d // do not re-arm: it would spin
		return
	}
	s.arm(n)
}

// flush executes what the node's RawRouter asks for (Ready) and
// acknowledges it (Advance): the advertisements go onto the segment, the
// transitions and announcements into the trace, and every host action
// into the node's hook log.
//
// The trace keeps the order of the Machine's actions. Ready lists the
// sends apart from the host actions, so each send is put back at its
// place: a Machine emits the advertisement of becoming master right
// after taking the addresses, the priority-0 advertisement of leaving
// Master right after releasing them, and the RFC 9568 re-advertisement
// to a lower priority right before announcing; the others (Adver_Timer,
// the answer to a priority-0 advertisement) are steps of their own, and
// follow the host actions of the same Ready in the order they were sent.
func (s *Sim) flush(n *node) {
	rd := n.rr.Ready()
	n.out = n.out[:0]
	for _, o := range rd.Sends {
		for _, m := range o.Msgs {
			if len(m.Buf) < 3 {
				s.errorf("%s: short advertisement %x", n.name, m.Buf)
				continue
			}
			n.out = append(n.out, outMsg{vr: VR{V6: m.Meta.Src.Is6(), VRID: m.Buf[1]}, msg: m})
		}
	}
	// pull sends the first unsent advertisement of vr whose priority is
	// zero (or not zero).
	pull := func(vr VR, zero bool) {
		for i := range n.out {
			o := &n.out[i]
			if !o.done && o.vr == vr && (o.msg.Buf[2] == 0) == zero {
				o.done = true
				s.send(n, o.vr, o.msg)
				return
			}
		}
	}
	took := map[VR]bool(nil)
	for _, h := range rd.Host {
		sl := n.byName(h.VR.Name)
		if sl == nil {
			s.errorf("%s: host action %v for unknown virtual router %q", n.name, h.Kind, h.VR.Name)
			continue
		}
		hr := HookRecord{At: s.Now(), VR: sl.vr, Kind: h.Kind, Priority: h.VR.Priority}
		if h.Kind == vrrp.HostTransition {
			hr.From, hr.To, hr.Reason = h.Event.From, h.Event.To, h.Event.Reason
		}
		n.hooks = append(n.hooks, hr)
		switch h.Kind {
		case vrrp.HostTransition:
			s.record(Record{Kind: KindTransition, Node: n.name, VR: sl.vr, From: h.Event.From, To: h.Event.To, Reason: h.Event.Reason})
		case vrrp.HostTake:
			if took == nil {
				took = make(map[VR]bool)
			}
			took[sl.vr] = true
			pull(sl.vr, false)
		case vrrp.HostRelease:
			pull(sl.vr, true)
		case vrrp.HostAnnounce:
			if !took[sl.vr] {
				pull(sl.vr, false)
			}
			delete(took, sl.vr)
			s.record(Record{Kind: KindAnnounce, Node: n.name, VR: sl.vr})
		}
	}
	for i := range n.out {
		if o := &n.out[i]; !o.done {
			o.done = true
			s.send(n, o.vr, o.msg)
		}
	}
	if st := n.rr.RouterStats(); st.SendErrors != n.sendErrs {
		s.errorf("%s: %d advertisements did not marshal", n.name, st.SendErrors-n.sendErrs)
		n.sendErrs = st.SendErrors
	}
	clear(n.out)
	n.out = n.out[:0]
	n.rr.Advance()
}

// send puts one advertisement of the node on the segment.
func (s *Sim) send(n *node, vr VR, m transport.Message) {
	s.record(Record{Kind: KindSend, Node: n.name, VR: vr, Priority: m.Buf[2]})
	if !n.up || n.ifDown {
		return // nothing leaves a down interface
	}
	p := &pkt{src: m.Meta.Src, dst: m.Meta.Dst, ttl: n.ttl}
	p.b = append(p.buf[:0], m.Buf...)
	for _, r := range s.nodes {
		if r == n || !r.up || r.ifDown || !s.connected(n, r) {
			continue
		}
		f := memnet.Decide(s.rng, s.link(n, r))
		for i := 0; i < f.Copies; i++ {
			s.push(event{at: s.now.Add(f.Delay[i]), kind: evDeliver, n: n, to: r, p: p})
		}
	}
}

func (s *Sim) deliver(from, to *node, p *pkt) {
	// The link is checked again on arrival: a packet in flight is lost if
	// the receiver crashed, its interface went down, or a partition
	// separated the two meanwhile.
	if !to.up || to.ifDown || !s.connected(from, to) || to.rr == nil {
		return
	}
	var sl *slot
	if len(p.b) >= 2 {
		sl = to.find(VR{V6: p.src.Is6(), VRID: p.b[1]})
	}
	if sl != nil {
		if st, _ := to.rr.State(sl.name); st == vrrp.Backup || st == vrrp.Master {
			if _, err := to.scratch.Unmarshal(p.b, p.src, p.dst); err == nil {
				sl.delivered.Adverts++
				if to.scratch.Priority == 0 {
					sl.delivered.PriorityZero++
				}
			}
		}
	}
	// A timer due at the packet's arrival fires first (RawRouter.Receive
	// would fire it itself): its records then precede the packet's in the
	// trace, in the order the router saw the two.
	if d := to.rr.Deadline(); !d.IsZero() && !d.After(s.now) {
		s.fire(to, to.gen)
	}
	var before uint64
	record := s.cfg.RecordReceives && sl != nil
	if record {
		st, _ := to.rr.Stats(sl.name)
		before = st.RcvdAdvertisements
	}
	to.rr.Receive(s.now, to.conn, p.b, transport.Meta{Src: p.src, Dst: p.dst, TTL: p.ttl})
	if record {
		if st, _ := to.rr.Stats(sl.name); st.RcvdAdvertisements != before {
			s.record(Record{Kind: KindReceive, Node: to.name, VR: sl.vr, Sender: from.name, Priority: p.b[2]})
		}
	}
	s.flush(to)
	s.arm(to)
}

func (s *Sim) connected(a, b *node) bool { return !s.partitioned || a.group == b.group }

func (s *Sim) link(a, b *node) memnet.Link {
	if l, ok := s.links[[2]int{a.idx, b.idx}]; ok {
		return l
	}
	return s.cfg.Link
}

func (s *Sim) record(r Record) {
	r.At = s.Now()
	s.trace = append(s.trace, r)
	if s.cfg.OnRecord != nil {
		s.cfg.OnRecord(r)
	}
}

func (s *Sim) errorf(format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf("sim: at %v: "+format, append([]any{s.Now()}, args...)...))
}

// Err reports internal faults seen so far: an advertisement that would
// not marshal, a machine deadline that did not advance, a livelock. A
// correct Machine and packet never cause one.
func (s *Sim) Err() error { return errors.Join(s.errs...) }

// --- node lifecycle ---

// startNode gives a node a new RawRouter with its virtual routers, their
// fault holds and its interface's state, and starts it.
func (s *Sim) startNode(n *node) {
	rr := vrrp.NewRawRouter(vrrp.RawConfig{})
	n.rr, n.sendErrs = rr, 0
	for _, sl := range n.slots {
		if sl.removed {
			continue
		}
		if err := rr.Add(s.now, s.virtualRouter(sl)); err != nil {
			s.errorf("%s %v: %v", n.name, sl.vr, err)
		}
		if sl.faulted {
			rr.SetFault(s.now, sl.name, true) //nolint:errcheck // just added
		}
	}
	if n.ifDown && rr.Len() > 0 {
		rr.InterfaceDown(s.now, ifName) //nolint:errcheck // it has virtual routers
	}
	rr.StartAll(s.now)
	s.flush(n)
	s.arm(n)
}

// retire adds the counters of sl's current machine to its retired ones.
func (s *Sim) retire(sl *slot) {
	if sl.n.rr == nil || sl.removed {
		return
	}
	st, err := sl.n.rr.Stats(sl.name)
	if err != nil {
		s.errorf("%s %v: %v", sl.n.name, sl.vr, err)
		return
	}
	sl.retired = AddStats(sl.retired, st)
}

// stopNode discards a node's RawRouter, keeping its counters.
func (s *Sim) stopNode(n *node) {
	n.up = false
	if n.rr == nil {
		return
	}
	for _, sl := range n.slots {
		s.retire(sl)
	}
	n.retired = addRouterStats(n.retired, n.rr.RouterStats())
	n.rr = nil
	s.arm(n)
}

// Start starts a node (RFC 9568 section 6.4.1, Startup) now: a new
// RawRouter with the node's virtual routers (RawRouter.StartAll).
// Starting a running node does nothing; use Restart after Crash or
// Shutdown.
func (s *Sim) Start(name string) {
	n := s.node(name)
	if n.up {
		return
	}
	kind := KindStart
	if n.started {
		kind = KindRestart
	}
	n.started, n.up = true, true
	s.record(Record{Kind: kind, Node: name})
	s.startNode(n)
}

// Restart starts a new RawRouter on a crashed or shut-down node, with the
// priorities last given to SetPriority (as a tracking script would set
// them again) and the fault holds of SetFault. It is Start under another
// name in the trace.
func (s *Sim) Restart(name string) { s.Start(name) }

// Crash stops a node at once: no Shutdown, nothing sent, its RawRouter
// discarded (the counters are kept, see TotalStats), packets in flight
// to it lost.
func (s *Sim) Crash(name string) {
	n := s.node(name)
	if !n.up {
		return
	}
	s.record(Record{Kind: KindCrash, Node: name})
	s.stopNode(n)
}

// Shutdown stops a node gracefully (RawRouter.ShutdownAll: a master sends
// a priority-0 advertisement, RFC 9568 section 6.4.3), then the node
// stops like Crash.
func (s *Sim) Shutdown(name string) {
	n := s.node(name)
	if !n.up {
		return
	}
	s.record(Record{Kind: KindShutdown, Node: name})
	n.rr.ShutdownAll(s.now)
	s.flush(n)
	s.stopNode(n)
}

// SetPriority changes a virtual router's priority (RawRouter.SetPriority).
// The new priority survives a restart.
func (s *Sim) SetPriority(name string, vr VR, prio uint8) {
	sl := s.slot(name, vr)
	if sl.cfg.Priority == 255 {
		return // the owner's priority is fixed
	}
	prio = min(max(prio, 1), 254)
	sl.cfg.Priority = prio
	s.record(Record{Kind: KindSetPriority, Node: name, VR: vr, Priority: prio})
	if n := sl.n; n.rr != nil && !sl.removed {
		n.rr.SetPriority(s.now, sl.name, prio) //nolint:errcheck // it is there
		s.flush(n)
		s.arm(n)
	}
}

// SetFault holds a virtual router in Fault (fault true) or lets it leave
// (RawRouter.SetFault, a tracking script's verdict); the members of its
// sync group are held with it. The hold survives a restart.
func (s *Sim) SetFault(name string, vr VR, fault bool) {
	sl := s.slot(name, vr)
	if sl.faulted == fault {
		return
	}
	sl.faulted = fault
	note := "off"
	if fault {
		note = "on"
	}
	s.record(Record{Kind: KindSetFault, Node: name, VR: vr, Note: note})
	if n := sl.n; n.rr != nil && !sl.removed {
		n.rr.SetFault(s.now, sl.name, fault) //nolint:errcheck // it is there
		s.flush(n)
		s.arm(n)
	}
}

// InterfaceDown takes a node's interface down: its virtual routers go to
// Fault (RawRouter.InterfaceDown), and nothing is sent or received until
// InterfaceUp. The carrier is gone, so a master's priority-0
// advertisement is counted as sent but reaches nobody.
func (s *Sim) InterfaceDown(name string) {
	n := s.node(name)
	if n.ifDown {
		return
	}
	n.ifDown = true
	s.record(Record{Kind: KindIfDown, Node: name})
	if n.rr != nil && n.rr.Len() > 0 {
		n.rr.InterfaceDown(s.now, ifName) //nolint:errcheck // it has virtual routers
		s.flush(n)
		s.arm(n)
	}
}

// InterfaceUp brings a node's interface back (RawRouter.InterfaceUp).
func (s *Sim) InterfaceUp(name string) {
	n := s.node(name)
	if !n.ifDown {
		return
	}
	n.ifDown = false
	s.record(Record{Kind: KindIfUp, Node: name})
	if n.rr != nil && n.rr.Len() > 0 {
		n.rr.InterfaceUp(s.now, ifName) //nolint:errcheck // it has virtual routers
		s.flush(n)
		s.arm(n)
	}
}

// SetTTL sets the TTL / hop limit of a node's advertisements (255 by
// default; anything else is an RFC 9568 section 7.1 TTL error at the
// receivers).
func (s *Sim) SetTTL(name string, ttl int) { s.node(name).ttl = ttl }

// --- the segment ---

// Partition splits the segment: nodes in different groups cannot reach
// each other, and a node named in no group reaches nobody. Packets in
// flight between separated nodes are lost. It replaces any earlier
// partition.
func (s *Sim) Partition(groups ...[]string) {
	for _, n := range s.nodes {
		n.group = -1 - n.idx // alone
	}
	var desc []string
	for i, g := range groups {
		for _, name := range g {
			s.node(name).group = i
		}
		desc = append(desc, "{"+strings.Join(g, " ")+"}")
	}
	s.partitioned = true
	s.record(Record{Kind: KindPartition, Note: strings.Join(desc, " | ")})
}

// Heal ends the partition.
func (s *Sim) Heal() {
	if !s.partitioned {
		return
	}
	s.partitioned = false
	s.record(Record{Kind: KindHeal})
}

// SetLink sets the behaviour of the link from one node to another (one
// direction). An empty name is a wildcard: SetLink("", "", l) sets the
// default for every link and clears every per-link setting.
func (s *Sim) SetLink(from, to string, l memnet.Link) {
	if from == "" && to == "" {
		s.cfg.Link = l
		clear(s.links)
		s.record(Record{Kind: KindSetLink, Note: "* -> * " + linkString(l)})
		return
	}
	for _, a := range s.nodes {
		if from != "" && a.name != from {
			continue
		}
		for _, b := range s.nodes {
			if a == b || to != "" && b.name != to {
				continue
			}
			s.links[[2]int{a.idx, b.idx}] = l
		}
	}
	if from == "" {
		from = "*"
	}
	if to == "" {
		to = "*"
	}
	s.record(Record{Kind: KindSetLink, Note: from + " -> " + to + " " + linkString(l)})
}

func linkString(l memnet.Link) string {
	return fmt.Sprintf("loss=%g dup=%g delay=%v jitter=%v", l.Loss, l.Dup, l.Delay, l.Jitter)
}

// Link returns the behaviour of the link from one node to another.
func (s *Sim) Link(from, to string) memnet.Link { return s.link(s.node(from), s.node(to)) }

// --- observation ---

// Trace returns the trace so far. The slice is the simulator's; do not
// modify it.
func (s *Sim) Trace() []Record { return s.trace }

// Masters returns the running nodes whose virtual router vr is Master,
// in the order the nodes were added.
func (s *Sim) Masters(vr VR) []string {
	var out []string
	for _, n := range s.nodes {
		if st, ok := n.state(vr); ok && st == vrrp.Master {
			out = append(out, n.name)
		}
	}
	return out
}

// state returns the state of the node's virtual router vr, and false if
// the node is down or has no such virtual router.
func (n *node) state(vr VR) (vrrp.State, bool) {
	if n.rr == nil {
		return vrrp.Initialize, false
	}
	sl := n.find(vr)
	if sl == nil {
		return vrrp.Initialize, false
	}
	st, err := n.rr.State(sl.name)
	return st, err == nil
}

// Up reports whether a node is running (started, not crashed or shut
// down) with its interface up.
func (s *Sim) Up(name string) bool {
	n := s.node(name)
	return n.up && !n.ifDown
}

// State returns the state of a node's virtual router vr; Initialize while
// the node is down or after RemoveVR.
func (s *Sim) State(name string, vr VR) vrrp.State {
	s.slot(name, vr)
	st, _ := s.node(name).state(vr)
	return st
}

// Priority returns a node's current priority for vr.
func (s *Sim) Priority(name string, vr VR) uint8 {
	sl := s.slot(name, vr)
	if sl.n.rr != nil && !sl.removed {
		if info, err := sl.n.rr.Info(sl.name); err == nil {
			return info.Priority
		}
	}
	return sl.cfg.Priority
}

// Config returns the config of a node's virtual router, with the priority
// last set.
func (s *Sim) Config(name string, vr VR) vrrp.Config { return s.slot(name, vr).cfg }

// Removed reports whether RemoveVR removed a node's virtual router vr
// (and AddVR did not add it again).
func (s *Sim) Removed(name string, vr VR) bool { return s.slot(name, vr).removed }

// Stats returns the statistics of a node's current virtual router vr (the
// zero Stats while the node is down or after RemoveVR).
func (s *Sim) Stats(name string, vr VR) vrrp.Stats {
	sl := s.slot(name, vr)
	if sl.n.rr != nil && !sl.removed {
		st, _ := sl.n.rr.Stats(sl.name)
		return st
	}
	return vrrp.Stats{}
}

// TotalStats returns the counters of every incarnation of a node's
// virtual router vr summed (see AddStats).
func (s *Sim) TotalStats(name string, vr VR) vrrp.Stats {
	sl := s.slot(name, vr)
	if sl.n.rr != nil && !sl.removed {
		st, _ := sl.n.rr.Stats(sl.name)
		return AddStats(sl.retired, st)
	}
	return sl.retired
}

// Delivered returns what the simulator handed to a node's virtual router
// vr while it was in Backup or Master.
func (s *Sim) Delivered(name string, vr VR) Delivered { return s.slot(name, vr).delivered }

// NodeErrors returns the packets a node's RawRouters could not attribute
// to a virtual router, over every incarnation.
func (s *Sim) NodeErrors(name string) NodeErrors {
	n := s.node(name)
	st := n.retired
	if n.rr != nil {
		st = addRouterStats(st, n.rr.RouterStats())
	}
	return NodeErrors{VRIDErrors: st.VRIDErrors, ParseErrors: st.ShortPackets + st.VersionErrors + st.ChecksumErrors}
}

// Hooks returns a node's hook log: every host action of its RawRouters
// (added, transition, take, release, announce, removed), in order. The
// slice is the simulator's; do not modify it.
func (s *Sim) Hooks(name string) []HookRecord { return s.node(name).hooks }

func addRouterStats(a, b vrrp.RouterStats) vrrp.RouterStats {
	a.ChecksumErrors += b.ChecksumErrors
	a.VersionErrors += b.VersionErrors
	a.VRIDErrors += b.VRIDErrors
	a.TTLErrors += b.TTLErrors
	a.ShortPackets += b.ShortPackets
	a.Received += b.Received
	a.SendErrors += b.SendErrors
	return a
}

// AddStats returns a with b's counters added; the non-counter fields
// (NewMasterReason, ProtoErrReason, RefreshRate, DiscontinuityTime) are
// b's.
func AddStats(a, b vrrp.Stats) vrrp.Stats {
	b.MasterTransitions += a.MasterTransitions
	b.RcvdAdvertisements += a.RcvdAdvertisements
	b.AdvIntervalErrors += a.AdvIntervalErrors
	b.IPTTLErrors += a.IPTTLErrors
	b.RcvdPriZeroPackets += a.RcvdPriZeroPackets
	b.SentPriZeroPackets += a.SentPriZeroPackets
	b.RcvdInvalidTypePackets += a.RcvdInvalidTypePackets
	b.AddressListErrors += a.AddressListErrors
	b.PacketLengthErrors += a.PacketLengthErrors
	b.SentAdvertisements += a.SentAdvertisements
	b.AuthErrors += a.AuthErrors
	b.RcvdChecksumPseudo += a.RcvdChecksumPseudo
	b.RcvdChecksumMessage += a.RcvdChecksumMessage
	b.OwnerRcvdAdvertisements += a.OwnerRcvdAdvertisements
	b.NoLinkLocalFirst += a.NoLinkLocalFirst
	return b
}

// SkewTime returns Skew_Time for a priority and Master_Adv_Interval at
// full precision: (256-Priority)*interval/256 for VRRPv3 (RFC 9568
// section 6.1) and (256-Priority)/256 s for VRRPv2 (RFC 3768 section
// 6.1). It is computed here independently of the Machine, so that tests
// can check the Machine against it.
func SkewTime(version uint8, prio uint8, interval time.Duration) time.Duration {
	unit := interval
	if version == 2 {
		unit = time.Second
	}
	return time.Duration(256-int64(prio)) * unit / 256
}

// MasterDownInterval returns 3*interval + SkewTime (RFC 9568 section 6.1,
// RFC 3768 section 6.1).
func MasterDownInterval(version uint8, prio uint8, interval time.Duration) time.Duration {
	return 3*interval + SkewTime(version, prio, interval)
}
