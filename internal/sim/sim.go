// Package sim is a deterministic discrete-event simulator of VRRP routers
// on one LAN segment. It drives vrrp.Machine directly on a single
// goroutine with a virtual clock: no goroutines, no wall clock, no map
// iteration, so a run is a pure function of its seed and its script.
//
// Every advertisement is marshalled with packet.Append (TTL 255, the
// checksum form of the sender's config) and parsed at each receiver with
// packet.Unmarshal before the receiver's Machine sees it, so the simulator
// exercises the wire path as well as the state machine. The fate of each
// (packet, receiver) pair (loss, duplication, delay, jitter, which
// reorders) is drawn with memnet.Decide from memnet.NewRand(seed), the
// same fault model as the in-memory LAN transport. A timer that falls due
// at the instant a packet arrives fires before the packet is handed over,
// as Machine.Receive would fire it.
//
// The faults a script can inject: partitions and healing, crashes (the
// node stops at once: no Shutdown, nothing sent, its machines are
// discarded) and restarts (new machines, Start), graceful shutdowns (RFC
// 9568 section 6.4.3: a master sends a priority-0 advertisement), priority
// changes, interface down/up (keepalived's FAULT), and per-link loss,
// duplication, delay and jitter.
//
// The simulator records a trace of every transition and every
// advertisement sent, with the virtual time, node, virtual router and
// reason, and with Config.RecordReceives every advertisement a machine
// accepted, with its sender; see Record.
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
	case KindSend, KindSetPriority:
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
	scratch      packet.Advertisement
	errs         NodeErrors
}

// slot is one virtual router on one node, across incarnations.
type slot struct {
	n     *node
	vr    VR
	cfg   vrrp.Config
	m     *vrrp.Machine // nil while the node is down
	gen   uint64        // invalidates armed timer events
	armed time.Time     // deadline of the pending timer event

	retired   vrrp.Stats // counters of past incarnations, summed
	delivered Delivered
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
	s.nodes = append(s.nodes, n)
	s.byName[name] = n
	return nil
}

// AddVR adds a virtual router to a node. cfg.Primary, if zero, is the
// node's address of the family of cfg.Addrs. The config is validated with
// vrrp.NewMachine. A node runs at most one virtual router per VR.
// Adding to a running node starts the machine at once.
func (s *Sim) AddVR(name string, cfg vrrp.Config) error {
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
	for _, sl := range n.slots {
		if sl.vr == vr {
			return fmt.Errorf("sim: AddVR %s: %v exists", name, vr)
		}
	}
	sl := &slot{n: n, vr: vr, cfg: cfg}
	n.slots = append(n.slots, sl)
	if n.up {
		s.startSlot(sl)
	}
	return nil
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
	for _, sl := range n.slots {
		if sl.vr == vr {
			return sl
		}
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

// VRs returns the virtual routers of a node in the order they were added.
func (s *Sim) VRs(name string) []VR {
	n := s.node(name)
	vrs := make([]VR, len(n.slots))
	for i, sl := range n.slots {
		vrs[i] = sl.vr
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
	sl   *slot
	gen  uint64
	from *node
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
			s.fire(e.sl, e.gen)
		case evDeliver:
			s.deliver(e.from, e.to, e.p)
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

// --- machines ---

// arm schedules a timer event for the machine's deadline if it moved.
func (s *Sim) arm(sl *slot) {
	var d time.Time
	if sl.m != nil {
		d = sl.m.Deadline()
	}
	if d.Equal(sl.armed) {
		return
	}
	sl.gen++
	sl.armed = d
	if !d.IsZero() {
		s.push(event{at: d, kind: evTimer, sl: sl, gen: sl.gen})
	}
}

func (s *Sim) fire(sl *slot, gen uint64) {
	if gen != sl.gen || sl.m == nil {
		return // stale: the deadline moved or the machine is gone
	}
	sl.armed = time.Time{}
	s.exec(sl, sl.m.Tick(s.now))
	if d := sl.m.Deadline(); !d.IsZero() && !d.After(s.now) {
		s.errorf("%s %v: deadline %v did not advance past %v after Tick", sl.n.name, sl.vr, d.Sub(s.epoch), s.Now())
		sl.armed = d // do not re-arm: it would spin
		return
	}
	s.arm(sl)
}

// exec carries out a machine's actions in order. Kinds it has no use for
// (taking and releasing the addresses, and any kind a newer Machine adds)
// are ignored.
func (s *Sim) exec(sl *slot, acts []vrrp.Action) {
	for _, a := range acts {
		switch a.Kind {
		case vrrp.ActTransition:
			s.record(Record{Kind: KindTransition, Node: sl.n.name, VR: sl.vr, From: a.From, To: a.To, Reason: a.Reason})
		case vrrp.ActSend:
			s.send(sl, a.Priority)
		case vrrp.ActAnnounce:
			s.record(Record{Kind: KindAnnounce, Node: sl.n.name, VR: sl.vr})
		}
	}
}

func (s *Sim) send(sl *slot, prio uint8) {
	n := sl.n
	s.record(Record{Kind: KindSend, Node: n.name, VR: sl.vr, Priority: prio})
	mc := sl.m.Config()
	dst := packet.GroupIPv4
	if sl.vr.V6 {
		dst = packet.GroupIPv6
	}
	p := &pkt{src: mc.Primary, dst: dst, ttl: n.ttl}
	b, err := sl.m.Advertisement(prio).Append(p.buf[:0], mc.Primary, dst, mc.Checksum)
	if err != nil {
		s.errorf("%s %v: marshal: %v", n.name, sl.vr, err)
		return
	}
	if !n.up || n.ifDown {
		return // nothing leaves a down interface
	}
	p.b = b
	for _, r := range s.nodes {
		if r == n || !r.up || r.ifDown || !s.connected(n, r) {
			continue
		}
		f := memnet.Decide(s.rng, s.link(n, r))
		for i := 0; i < f.Copies; i++ {
			s.push(event{at: s.now.Add(f.Delay[i]), kind: evDeliver, from: n, to: r, p: p})
		}
	}
}

func (s *Sim) deliver(from, to *node, p *pkt) {
	// The link is checked again on arrival: a packet in flight is lost if
	// the receiver crashed, its interface went down, or a partition
	// separated the two meanwhile.
	if !to.up || to.ifDown || !s.connected(from, to) {
		return
	}
	var sl *slot
	if len(p.b) >= 2 {
		vr := VR{V6: p.src.Is6(), VRID: p.b[1]}
		for _, c := range to.slots {
			if c.vr == vr {
				sl = c
				break
			}
		}
	}
	info, err := to.scratch.Unmarshal(p.b, p.src, p.dst)
	if err != nil {
		if sl != nil && sl.m != nil {
			sl.m.CountError(err)
		} else {
			to.errs.ParseErrors++
		}
		return
	}
	if sl == nil {
		to.errs.VRIDErrors++
		return
	}
	if sl.m == nil {
		return
	}
	if st := sl.m.State(); st == vrrp.Backup || st == vrrp.Master {
		sl.delivered.Adverts++
		if to.scratch.Priority == 0 {
			sl.delivered.PriorityZero++
		}
	}
	// A timer due at the packet's arrival fires first (the Machine's
	// Receive would fire it itself): its records then precede the
	// packet's in the trace, in the order the machine saw the two.
	if d := sl.m.Deadline(); !d.IsZero() && !d.After(s.now) {
		s.fire(sl, sl.gen)
	}
	var before uint64
	if s.cfg.RecordReceives {
		before = sl.m.Stats().RcvdAdvertisements
	}
	prio := to.scratch.Priority
	acts := sl.m.Receive(s.now, &to.scratch, p.src, p.ttl, info)
	if s.cfg.RecordReceives && sl.m.Stats().RcvdAdvertisements != before {
		s.record(Record{Kind: KindReceive, Node: to.name, VR: sl.vr, Sender: from.name, Priority: prio})
	}
	s.exec(sl, acts)
	s.arm(sl)
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

func (s *Sim) startSlot(sl *slot) {
	m, err := vrrp.NewMachine(sl.cfg)
	if err != nil {
		s.errorf("%s %v: %v", sl.n.name, sl.vr, err)
		return
	}
	sl.m = m
	if sl.n.ifDown {
		m.InterfaceDown(s.now)
	}
	s.exec(sl, m.Start(s.now))
	s.arm(sl)
}

func (s *Sim) retire(sl *slot) {
	if sl.m == nil {
		return
	}
	sl.retired = AddStats(sl.retired, sl.m.Stats())
	sl.m = nil
	s.arm(sl)
}

// Start starts a node's machines (RFC 9568 section 6.4.1, Startup) now.
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
	for _, sl := range n.slots {
		s.startSlot(sl)
	}
}

// Restart starts new machines on a crashed or shut-down node, with the
// priorities last given to SetPriority (as a tracking script would set
// them again). It is Start under another name in the trace.
func (s *Sim) Restart(name string) { s.Start(name) }

// Crash stops a node at once: no Shutdown, nothing sent, its machines
// discarded (their counters are kept, see TotalStats), packets in flight
// to it lost.
func (s *Sim) Crash(name string) {
	n := s.node(name)
	if !n.up {
		return
	}
	n.up = false
	s.record(Record{Kind: KindCrash, Node: name})
	for _, sl := range n.slots {
		s.retire(sl)
	}
}

// Shutdown stops a node gracefully: every machine gets the Shutdown event
// (a master sends a priority-0 advertisement, RFC 9568 section 6.4.3),
// then the node stops like Crash.
func (s *Sim) Shutdown(name string) {
	n := s.node(name)
	if !n.up {
		return
	}
	s.record(Record{Kind: KindShutdown, Node: name})
	for _, sl := range n.slots {
		if sl.m != nil {
			s.exec(sl, sl.m.Shutdown(s.now))
		}
	}
	n.up = false
	for _, sl := range n.slots {
		s.retire(sl)
	}
}

// SetPriority changes a virtual router's priority (Machine.SetPriority).
// The new priority survives a restart.
func (s *Sim) SetPriority(name string, vr VR, prio uint8) {
	sl := s.slot(name, vr)
	if sl.cfg.Priority == 255 {
		return // the owner's priority is fixed
	}
	prio = min(max(prio, 1), 254)
	sl.cfg.Priority = prio
	s.record(Record{Kind: KindSetPriority, Node: name, VR: vr, Priority: prio})
	if sl.m != nil {
		sl.m.SetPriority(prio)
		s.arm(sl)
	}
}

// InterfaceDown takes a node's interface down: its machines go to Fault
// (Machine.InterfaceDown), and nothing is sent or received until
// InterfaceUp. The carrier is gone, so a master's priority-0
// advertisement is counted as sent but reaches nobody.
func (s *Sim) InterfaceDown(name string) {
	n := s.node(name)
	if n.ifDown {
		return
	}
	n.ifDown = true
	s.record(Record{Kind: KindIfDown, Node: name})
	for _, sl := range n.slots {
		if sl.m != nil {
			s.exec(sl, sl.m.InterfaceDown(s.now))
			s.arm(sl)
		}
	}
}

// InterfaceUp brings a node's interface back (Machine.InterfaceUp).
func (s *Sim) InterfaceUp(name string) {
	n := s.node(name)
	if !n.ifDown {
		return
	}
	n.ifDown = false
	s.record(Record{Kind: KindIfUp, Node: name})
	for _, sl := range n.slots {
		if sl.m != nil {
			s.exec(sl, sl.m.InterfaceUp(s.now))
			s.arm(sl)
		}
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

// Masters returns the running nodes whose machine for vr is Master, in
// the order the nodes were added.
func (s *Sim) Masters(vr VR) []string {
	var out []string
	for _, n := range s.nodes {
		for _, sl := range n.slots {
			if sl.vr == vr && sl.m != nil && sl.m.State() == vrrp.Master {
				out = append(out, n.name)
			}
		}
	}
	return out
}

// Up reports whether a node is running (started, not crashed or shut
// down) with its interface up.
func (s *Sim) Up(name string) bool {
	n := s.node(name)
	return n.up && !n.ifDown
}

// State returns the state of a node's machine for vr; Initialize while
// the node is down.
func (s *Sim) State(name string, vr VR) vrrp.State {
	if sl := s.slot(name, vr); sl.m != nil {
		return sl.m.State()
	}
	return vrrp.Initialize
}

// Priority returns a node's current priority for vr.
func (s *Sim) Priority(name string, vr VR) uint8 {
	sl := s.slot(name, vr)
	if sl.m != nil {
		return sl.m.Priority()
	}
	return sl.cfg.Priority
}

// Config returns the config of a node's virtual router, with the priority
// last set.
func (s *Sim) Config(name string, vr VR) vrrp.Config { return s.slot(name, vr).cfg }

// Machine returns a node's current machine for vr, nil while the node is
// down, for inspection (State, Deadline, Stats, Master). Feeding it
// inputs would desynchronise the simulator.
func (s *Sim) Machine(name string, vr VR) *vrrp.Machine { return s.slot(name, vr).m }

// Stats returns the statistics of a node's current machine for vr (the
// zero Stats while the node is down).
func (s *Sim) Stats(name string, vr VR) vrrp.Stats {
	if sl := s.slot(name, vr); sl.m != nil {
		return sl.m.Stats()
	}
	return vrrp.Stats{}
}

// TotalStats returns the counters of every incarnation of a node's
// machine for vr summed (see AddStats).
func (s *Sim) TotalStats(name string, vr VR) vrrp.Stats {
	sl := s.slot(name, vr)
	if sl.m != nil {
		return AddStats(sl.retired, sl.m.Stats())
	}
	return sl.retired
}

// Delivered returns what the simulator handed to a node's machines for vr
// while they were in Backup or Master.
func (s *Sim) Delivered(name string, vr VR) Delivered { return s.slot(name, vr).delivered }

// NodeErrors returns the packets a node could not attribute to a virtual
// router.
func (s *Sim) NodeErrors(name string) NodeErrors { return s.node(name).errs }

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
