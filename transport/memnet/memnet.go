// Package memnet is an in-memory LAN segment for tests and simulations:
// any number of endpoints, each a transport.Conn (and
// transport.BatchWriter), share one segment. Multicast to the VRRP group
// (224.0.0.18, ff02::12; in fact any multicast address) reaches every other
// endpoint with an address of the same family; unicast reaches the
// endpoint that holds the destination address; a sender never receives
// its own packets.
//
// Faults are set per link (from one endpoint to another, with nil as a
// wildcard), like the network of etcd raft's raft_test.go: loss,
// duplication, delay with jitter (which reorders), partitions, crashed
// endpoints. The fate of each packet is drawn from a random source seeded
// by Config.Seed, receiver by receiver in attach order, packet by packet in
// send order, so a run whose sends happen in a deterministic order (one
// goroutine, or a testing/synctest bubble whose goroutines send in a fixed
// order) replays exactly for a seed. Decide is that decision as a pure
// function, for a single-threaded simulator.
//
// Delayed packets are delivered by one timer of the injected clock
// (Config.Clock), in order of arrival time, then send order. Receive queues
// are bounded: a packet that finds its receiver's queue full is dropped and
// counted (EndpointStats.QueueDrops), like a full socket buffer.
//
// The receive queues are channels, so a goroutine blocked in ReadFrom is
// durably blocked in a testing/synctest bubble when the Network was
// created inside it.
package memnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/govrrp/govrrp/clock"
	"github.com/govrrp/govrrp/internal/dheap"
	"github.com/govrrp/govrrp/transport"
)

// The VRRP multicast groups, RFC 9568 section 5.1.1.2 and 5.1.2.2: the
// destination of a write whose Meta.Dst is zero.
var (
	groupIPv4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	groupIPv6 = netip.MustParseAddr("ff02::12")
)

// errClosed is what a closed Endpoint returns: it matches net.ErrClosed,
// as a closed socket's error does, and transport.ErrClosed.
var errClosed = transport.Closed(net.ErrClosed)

// Config configures a Network. The zero value is usable.
type Config struct {
	// Clock drives delayed delivery. If nil, clock.Real().
	Clock clock.Clock
	// Seed seeds the random source that decides loss, duplication and
	// jitter. Zero is a valid seed.
	Seed uint64
	// QueueLen is the default receive queue length of an endpoint, in
	// packets. If zero, 256.
	QueueLen int
}

// Network is one LAN segment. It is safe for concurrent use.
type Network struct {
	clk      clock.Clock
	queueLen int

	mu      sync.Mutex
	rng     *rand.Rand
	eps     []*Endpoint // attached, in attach order
	links   map[linkKey]linkRule
	group   map[*Endpoint]int    // partition group; nil: no partition
	pending dheap.Heap[delivery] // by (at, seq)
	seq     uint64
	timer   clock.Timer
	armedAt time.Time // deadline timer is armed for; zero: not armed
	closed  bool
}

// New returns an empty segment.
func New(cfg Config) *Network {
	n := &Network{
		clk:      cfg.Clock,
		queueLen: cfg.QueueLen,
		rng:      NewRand(cfg.Seed),
		links:    make(map[linkKey]linkRule),
	}
	if n.clk == nil {
		n.clk = clock.Real()
	}
	if n.queueLen <= 0 {
		n.queueLen = 256
	}
	return n
}

// EndpointConfig configures an endpoint.
type EndpointConfig struct {
	// Name identifies the endpoint in errors. Optional.
	Name string
	// Addrs are the endpoint's addresses: an IPv4 address and/or an IPv6
	// link-local address (several of each are allowed). The first of each
	// family is the source of writes whose Meta.Src is zero; unicast to any
	// of them reaches this endpoint. Required.
	Addrs []netip.Addr
	// IfIndex is reported as Meta.IfIndex of every packet received. If
	// zero, 1.
	IfIndex int
	// QueueLen is the receive queue length in packets. If zero, the
	// Network's Config.QueueLen.
	QueueLen int
	// TTL is the TTL / hop limit this endpoint's packets arrive with. If
	// zero, 255. Change it with SetTTL to test TTL errors.
	TTL int
}

// ErrNoAddrs is returned by Attach for an endpoint without addresses.
var ErrNoAddrs = errors.New("memnet: endpoint needs at least one address")

// Attach adds an endpoint to the segment.
func (n *Network) Attach(cfg EndpointConfig) (*Endpoint, error) {
	if len(cfg.Addrs) == 0 {
		return nil, fmt.Errorf("memnet: endpoint %q: %w", cfg.Name, ErrNoAddrs)
	}
	e := &Endpoint{
		n:       n,
		name:    cfg.Name,
		ifIndex: cfg.IfIndex,
		ttl:     cfg.TTL,
		closed:  make(chan struct{}),
	}
	for _, a := range cfg.Addrs {
		if !a.IsValid() {
			return nil, fmt.Errorf("memnet: endpoint %q: invalid address in Addrs", cfg.Name)
		}
		a = a.Unmap().WithZone("")
		e.addrs = append(e.addrs, a)
		if a.Is4() && !e.src4.IsValid() {
			e.src4 = a
		}
		if a.Is6() && !e.src6.IsValid() {
			e.src6 = a
		}
	}
	if e.ifIndex == 0 {
		e.ifIndex = 1
	}
	if e.ttl == 0 {
		e.ttl = 255
	}
	ql := cfg.QueueLen
	if ql <= 0 {
		ql = n.queueLen
	}
	e.q = make(chan *pkt, ql)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errClosed
	}
	e.attached = true
	n.eps = append(n.eps, e)
	return e, nil
}

// MustAttach is Attach for tests: it panics on error.
func (n *Network) MustAttach(cfg EndpointConfig) *Endpoint {
	e, err := n.Attach(cfg)
	if err != nil {
		panic(err)
	}
	return e
}

// Close closes every endpoint and drops the packets in flight.
func (n *Network) Close() error {
	n.mu.Lock()
	eps := append([]*Endpoint(nil), n.eps...)
	n.closed = true
	for n.pending.Len() > 0 {
		putPkt(n.pending.Pop().p)
	}
	if n.timer != nil {
		n.timer.Stop()
	}
	n.mu.Unlock()
	for _, e := range eps {
		e.Close()
	}
	return nil
}

type linkKey struct{ from, to *Endpoint }

const (
	hasLoss = 1 << iota
	hasDup
	hasDelay
)

type linkRule struct {
	Link
	has uint8
}

func (n *Network) setRule(from, to *Endpoint, has uint8, f func(*Link)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := linkKey{from, to}
	r := n.links[k]
	f(&r.Link)
	r.has |= has
	n.links[k] = r
}

// SetLoss makes packets from -> to get lost with probability p (0 to 1).
// A nil from or to matches every endpoint; the most specific rule wins,
// field by field: (from, to), then (from, nil), (nil, to), (nil, nil).
func (n *Network) SetLoss(from, to *Endpoint, p float64) {
	n.setRule(from, to, hasLoss, func(l *Link) { l.Loss = p })
}

// SetDup makes packets from -> to be delivered twice with probability p.
// nil is a wildcard as for SetLoss.
func (n *Network) SetDup(from, to *Endpoint, p float64) {
	n.setRule(from, to, hasDup, func(l *Link) { l.Dup = p })
}

// SetDelay delays packets from -> to by d plus a uniform [0, jitter).
// nil is a wildcard as for SetLoss.
func (n *Network) SetDelay(from, to *Endpoint, d, jitter time.Duration) {
	n.setRule(from, to, hasDelay, func(l *Link) { l.Delay, l.Jitter = d, jitter })
}

// SetLink sets every field of the link from -> to at once. nil is a
// wildcard as for SetLoss.
func (n *Network) SetLink(from, to *Endpoint, l Link) {
	n.setRule(from, to, hasLoss|hasDup|hasDelay, func(x *Link) { *x = l })
}

func (n *Network) link(from, to *Endpoint) Link {
	var l Link
	if len(n.links) == 0 {
		return l
	}
	var have uint8
	for _, k := range [4]linkKey{{from, to}, {from, nil}, {nil, to}, {nil, nil}} {
		r, ok := n.links[k]
		if !ok {
			continue
		}
		if r.has&hasLoss != 0 && have&hasLoss == 0 {
			l.Loss = r.Loss
		}
		if r.has&hasDup != 0 && have&hasDup == 0 {
			l.Dup = r.Dup
		}
		if r.has&hasDelay != 0 && have&hasDelay == 0 {
			l.Delay, l.Jitter = r.Delay, r.Jitter
		}
		have |= r.has
	}
	return l
}

// Partition splits the segment: packets pass only between endpoints of
// the same group. Endpoints named in no group form one more group
// together, so Partition([]*Endpoint{a}) isolates a. A new Partition
// replaces the previous one.
func (n *Network) Partition(groups ...[]*Endpoint) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.group = make(map[*Endpoint]int)
	for i, g := range groups {
		for _, e := range g {
			n.group[e] = i + 1
		}
	}
}

// Heal removes the partition and every link rule (loss, duplication,
// delay). Crashed endpoints stay crashed until Restore; packets in flight
// still arrive.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.group = nil
	clear(n.links)
}

// Crash makes e fail silently, like a host that lost power: its writes
// succeed but go nowhere, and nothing reaches it (not even packets already
// in flight), until Restore. Its reader stays blocked.
func (n *Network) Crash(e *Endpoint) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e.crashed = true
}

// Restore undoes Crash.
func (n *Network) Restore(e *Endpoint) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e.crashed = false
}

func (n *Network) reachable(a, b *Endpoint) bool {
	return n.group == nil || n.group[a] == n.group[b]
}

// EndpointStats counts what happened to an endpoint's packets.
type EndpointStats struct {
	// Sent counts packets written (whether or not anyone received them).
	Sent uint64
	// Received counts packets put in the receive queue.
	Received uint64
	// Lost counts copies of packets to this endpoint dropped by loss, a
	// partition, or a crash of either end.
	Lost uint64
	// Duplicated counts extra copies delivered to this endpoint.
	Duplicated uint64
	// QueueDrops counts packets dropped because the receive queue was
	// full.
	QueueDrops uint64
}

// Endpoint is one interface attached to a Network. It implements
// transport.Conn, transport.BatchWriter and transport.BatchReader.
type Endpoint struct {
	n       *Network
	name    string
	addrs   []netip.Addr
	src4    netip.Addr
	src6    netip.Addr
	ifIndex int
	q       chan *pkt
	closed  chan struct{}
	once    sync.Once

	// Guarded by n.mu.
	attached bool
	crashed  bool
	ttl      int
	stats    EndpointStats
}

var (
	_ transport.Conn        = (*Endpoint)(nil)
	_ transport.BatchWriter = (*Endpoint)(nil)
	_ transport.BatchReader = (*Endpoint)(nil)
)

// Name returns the endpoint's name.
func (e *Endpoint) Name() string { return e.name }

// Addrs returns the endpoint's addresses. Do not modify.
func (e *Endpoint) Addrs() []netip.Addr { return e.addrs }

// IfIndex returns the interface index reported on receive.
func (e *Endpoint) IfIndex() int { return e.ifIndex }

// SetTTL sets the TTL / hop limit the endpoint's packets arrive with from
// now on (255 for valid VRRP; anything else tests TTL errors).
func (e *Endpoint) SetTTL(ttl int) {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	e.ttl = ttl
}

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() EndpointStats {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	return e.stats
}

// ReadFrom implements transport.Conn. A packet longer than b is truncated.
func (e *Endpoint) ReadFrom(b []byte) (int, transport.Meta, error) {
	select {
	case <-e.closed:
		return 0, transport.Meta{}, errClosed
	default:
	}
	select {
	case p := <-e.q:
		n := copy(b, p.b)
		m := p.meta
		putPkt(p)
		return n, m, nil
	case <-e.closed:
		return 0, transport.Meta{}, errClosed
	}
}

// ReadBatch implements transport.BatchReader: it blocks for one packet,
// then takes those already queued, up to len(ms). A packet longer than
// its buffer is truncated.
func (e *Endpoint) ReadBatch(ms []transport.Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	n, m, err := e.ReadFrom(ms[0].Buf)
	if err != nil {
		return 0, err
	}
	ms[0].Buf, ms[0].Meta = ms[0].Buf[:n], m
	i := 1
	for ; i < len(ms); i++ {
		select {
		case p := <-e.q:
			n := copy(ms[i].Buf, p.b)
			ms[i].Buf, ms[i].Meta = ms[i].Buf[:n], p.meta
			putPkt(p)
			continue
		default:
		}
		break
	}
	return i, nil
}

// Close implements transport.Conn: it detaches the endpoint from the
// segment and makes ReadFrom return an error matching net.ErrClosed and
// transport.ErrClosed.
func (e *Endpoint) Close() error {
	e.once.Do(func() {
		e.n.mu.Lock()
		e.attached = false
		for i, x := range e.n.eps {
			if x == e {
				e.n.eps = append(e.n.eps[:i], e.n.eps[i+1:]...)
				break
			}
		}
		e.n.mu.Unlock()
		close(e.closed)
	})
	return nil
}

// WriteTo implements transport.Conn. A zero m.Src is the endpoint's first
// address of the family; a zero m.Dst the VRRP group of the family. The
// family is that of m.Dst, else m.Src, else the endpoint's only family.
// m.TTL and m.IfIndex are ignored: packets arrive with the endpoint's TTL
// (SetTTL) and the receiver's IfIndex.
func (e *Endpoint) WriteTo(b []byte, m transport.Meta) error {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	return e.write(b, m)
}

// WriteBatch implements transport.BatchWriter: the messages are sent in
// order, as WriteTo would, under one lock.
func (e *Endpoint) WriteBatch(ms []transport.Message) (int, error) {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	for i := range ms {
		if err := e.write(ms[i].Buf, ms[i].Meta); err != nil {
			return i, err
		}
	}
	return len(ms), nil
}

// errFamily is returned by WriteTo when the family cannot be chosen.
var errFamily = errors.New("memnet: write needs Meta.Src or Meta.Dst: endpoint has addresses of both families")

// write sends one packet. n.mu is held.
func (e *Endpoint) write(b []byte, m transport.Meta) error {
	n := e.n
	if !e.attached {
		return errClosed
	}
	src, dst := m.Src.Unmap(), m.Dst.Unmap()
	var v4 bool
	switch {
	case dst.IsValid():
		v4 = dst.Is4()
	case src.IsValid():
		v4 = src.Is4()
	case e.src4.IsValid() && e.src6.IsValid():
		return errFamily
	default:
		v4 = e.src4.IsValid()
	}
	if !src.IsValid() {
		if src = e.src6; v4 {
			src = e.src4
		}
		if !src.IsValid() {
			return fmt.Errorf("memnet: endpoint %q has no address of the destination's family", e.name)
		}
	}
	if !dst.IsValid() {
		if dst = groupIPv6; v4 {
			dst = groupIPv4
		}
	}
	if src.Is4() != v4 {
		return fmt.Errorf("memnet: source %v and destination %v differ in family", src, dst)
	}
	e.stats.Sent++
	meta := transport.Meta{Src: src, Dst: dst, TTL: e.ttl}
	dstKey := dst.WithZone("")
	multi := dst.IsMulticast()
	now := time.Time{}
	for _, r := range n.eps {
		if r == e || !r.wants(v4, multi, dstKey) {
			continue
		}
		if e.crashed || r.crashed || !n.reachable(e, r) {
			r.stats.Lost++
			continue
		}
		f := Decide(n.rng, n.link(e, r))
		if f.Copies == 0 {
			r.stats.Lost++
			continue
		}
		if f.Copies == 2 {
			r.stats.Duplicated++
		}
		meta.IfIndex = r.ifIndex
		for i := 0; i < f.Copies; i++ {
			if f.Delay[i] <= 0 {
				r.enqueue(newPkt(b, meta))
				continue
			}
			if now.IsZero() {
				now = n.clk.Now()
			}
			n.seq++
			n.pending.Push(now.Add(f.Delay[i]), n.seq, delivery{at: now.Add(f.Delay[i]), to: r, p: newPkt(b, meta)}, nil)
		}
	}
	if !now.IsZero() {
		n.arm()
	}
	return nil
}

// wants reports whether e receives a packet of the family to dst.
func (e *Endpoint) wants(v4, multi bool, dst netip.Addr) bool {
	if multi {
		if v4 {
			return e.src4.IsValid()
		}
		return e.src6.IsValid()
	}
	for _, a := range e.addrs {
		if a == dst {
			return true
		}
	}
	return false
}

// enqueue delivers p to e's queue. n.mu is held.
func (e *Endpoint) enqueue(p *pkt) {
	if !e.attached || e.crashed {
		e.stats.Lost++
		putPkt(p)
		return
	}
	select {
	case e.q <- p:
		e.stats.Received++
	default:
		e.stats.QueueDrops++
		putPkt(p)
	}
}

// arm delivers the delayed packets that are due and sets the delivery
// timer to the earliest of the others. n.mu is held.
func (n *Network) arm() {
	if n.pending.Len() == 0 || n.closed {
		return
	}
	// A fresh reading: a fake clock may have been advanced by another
	// goroutine since the caller looked.
	now := n.clk.Now()
	for n.pending.Len() > 0 && !n.pending.Min().at.After(now) {
		d := n.pending.Pop()
		d.to.enqueue(d.p)
	}
	if n.pending.Len() == 0 {
		return
	}
	at := n.pending.Min().at
	if !n.armedAt.IsZero() && !at.Before(n.armedAt) {
		return // armed for an earlier or equal time already
	}
	n.armedAt = at
	if n.timer == nil {
		n.timer = n.clk.AfterFunc(at.Sub(now), n.deliverDue)
		return
	}
	n.timer.Reset(at.Sub(now))
}

// deliverDue is the timer function: it delivers every packet due.
func (n *Network) deliverDue() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.armedAt = time.Time{}
	n.arm()
}

// InFlight returns the number of delayed packets not yet delivered.
func (n *Network) InFlight() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pending.Len()
}

type pkt struct {
	b    []byte
	meta transport.Meta
}

var pktPool = sync.Pool{New: func() any { return new(pkt) }}

func newPkt(b []byte, m transport.Meta) *pkt {
	p := pktPool.Get().(*pkt)
	p.b = append(p.b[:0], b...)
	p.meta = m
	return p
}

func putPkt(p *pkt) {
	p.meta = transport.Meta{}
	pktPool.Put(p)
}

// delivery is a packet in flight to one endpoint, due at at (with the
// clock's monotonic reading, unlike the heap's copy).
type delivery struct {
	at time.Time
	to *Endpoint
	p  *pkt
}
