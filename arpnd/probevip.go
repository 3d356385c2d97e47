package arpnd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// A Prober asks the link who answers for a virtual address, to find a
// second responder: a host that still holds a virtual address (a stale
// configuration, a backup that did not release it, another cluster with
// the same addresses) and so takes part of the virtual router's traffic
// while this router is master. The master probes each of its virtual
// addresses (Probe.Send) and the Prober reports the answers whose
// link-layer address is not one of the router's own (ProbeTarget.Own).
//
// IPv4: an ARP probe as RFC 5227 section 2.1.1 defines it: an ARP request
// broadcast from the interface MAC, sender hardware address the interface
// MAC, sender protocol address 0.0.0.0, target hardware address zero,
// target protocol address the virtual address. Sender 0.0.0.0 is chosen
// over one of our own addresses because (1) it needs no IPv4 address on
// the interface (a VRRP router may have none but the virtual ones), (2) a
// request with a real sender address updates the ARP cache of every host
// on the link that has an entry for it (RFC 826), while a probe changes no
// cache (RFC 5227 section 2.1.1: "to avoid polluting ARP caches"), and
// (3) the virtual address itself as sender would be a gratuitous ARP,
// which hosts do not answer. Hosts answer a probe for an address they
// hold with a unicast ARP reply (Linux does, arpnd's responder does), so
// the answers come to the interface MAC alone.
//
// IPv6: a Neighbor Solicitation for the virtual address (RFC 4861 section
// 7.2.2): to its solicited-node group (RFC 4291 section 2.7.1), from the
// interface's link-local address with a Source Link-Layer Address option,
// hop limit 255. A holder answers with a solicited Neighbor Advertisement
// unicast to the interface MAC. Without a link-local address the
// solicitation comes from the unspecified address without the option (the
// duplicate address detection form, RFC 4862 section 5.4.2), and answers
// go to ff02::1.
//
// Answers: an ARP reply whose sender protocol address is a probed address,
// and a Neighbor Advertisement (solicited or not) whose target is one,
// valid as RFC 4861 section 7.1.2 asks (hop limit 255, code 0, checksum,
// no multicast target, Solicited clear to a multicast destination, no
// option of length 0), received on the probed interface. The MAC of an
// answer is the one it binds the address to: the ARP sender hardware
// address, the NA's Target Link-Layer Address option (the Ethernet source
// without one). Gratuitous ARP requests are not answers (a router that
// just stepped down may still send its last ones). Anything else is
// dropped; malformed frames are counted (ProberStats) and logged at debug
// level at most once a second.
//
// One Prober serves every interface: it has one AF_PACKET socket per
// family for all its probes (opened with the first probe of that family,
// bound to no interface; a frame's interface comes with it), so probing
// thousands of links costs two sockets. The IPv4 socket's filter passes
// incoming ARP replies only, the IPv6 one incoming ICMPv6 Neighbor
// Advertisements only. The probe frames are built once, at Add: sending a
// probe allocates nothing, nor does receiving an answer from one of our
// own MACs or a frame that is not an answer. SendBatch sends a round of
// many probes in a few system calls (sendmmsg on Linux).
type Prober struct {
	log  *slog.Logger
	open func(v6 bool) (ProbeConn, error)
	// lookup fills in a target's interface MAC and link-local address;
	// nil with NewProberConn.
	lookup func(t *ProbeTarget) error
	// closeNS releases what NewProber holds (its namespace handle).
	closeNS func()

	mu     sync.RWMutex
	closed bool
	conns  [2]ProbeConn // IPv4 (ARP), IPv6
	// probes holds the Probes of each interface and address: the first
	// added, the others linked from it through Probe.next. There is
	// nearly always one, and a slice per key cost an array and a larger
	// map entry per Probe (issue 12).
	probes map[probeKey]*Probe
	wg     sync.WaitGroup

	// SendBatch's scratch, reused from one call to the next so that a
	// round allocates nothing once they have grown: the frames of one
	// family and the index in the caller's slice of each.
	bmu     sync.Mutex
	bframes []ProbeFrame
	bidx    []int

	malformed atomic.Uint64
	readErrs  atomic.Uint64
	logMu     sync.Mutex
	lastLog   time.Time
}

// ProbeConn is the packet connection a Prober sends probes and receives
// answers on: on Linux an AF_PACKET socket bound to no interface, in tests
// a fake. ReadFrame returns a received frame and the index of the
// interface it came in on; it is called from one goroutine per connection
// and Close must make a blocked ReadFrame return. WriteFrame sends a whole
// Ethernet frame on an interface; it may be called concurrently.
type ProbeConn interface {
	ReadFrame(b []byte) (n, ifindex int, err error)
	WriteFrame(b []byte, ifindex int) error
	Close() error
}

// ProbeFrame is a frame of ProbeBatchConn.WriteFrames: a whole Ethernet
// frame and the index of the interface to send it on.
type ProbeFrame struct {
	B       []byte
	IfIndex int
}

// ProbeBatchConn is a ProbeConn that sends several frames in one call (on
// Linux one sendmmsg(2) on the AF_PACKET socket). Prober.SendBatch uses
// it when a connection implements it, in calls of at most probeBatchMax
// frames; otherwise it writes the frames one by one.
type ProbeBatchConn interface {
	ProbeConn
	// WriteFrames sends fs in order and returns how many it sent. When
	// that is fewer than len(fs), err is the error of fs[n], which was
	// not sent, and the frames after it were not tried.
	WriteFrames(fs []ProbeFrame) (n int, err error)
}

// probeBatchMax is the most frames one WriteFrames call carries: 4,094
// probes in 32 system calls.
const probeBatchMax = 128

// ProberConfig configures a Prober.
type ProberConfig struct {
	// Logger receives debug messages about dropped frames and read
	// errors (at most one a second); nil discards them.
	Logger *slog.Logger
	// Interface, if not nil, looks up the interface of a target that lacks
	// its HardwareAddr or (IPv6) LinkLocal. Nil: NewProber looks the
	// host's interfaces up; NewProberConn needs targets that carry them.
	Interface func(index int) (Interface, error)
}

// ProberStats are a Prober's counters.
type ProberStats struct {
	// Malformed counts received frames of the probed kinds (ARP
	// replies, Neighbor Advertisements) that failed validation.
	Malformed uint64
	// ReadErrors counts failed reads of the Prober's sockets.
	ReadErrors uint64
}

// ProbeTarget is a virtual address to probe on one interface.
type ProbeTarget struct {
	// IfIndex is the index of the interface to probe on.
	IfIndex int
	// Addr is the virtual address (IPv4 or IPv6, not multicast nor
	// unspecified; a zone is ignored).
	Addr netip.Addr
	// HardwareAddr is the interface's MAC: the source of the probes, and
	// one of ours. Nil: the Prober of NewProber looks it up.
	HardwareAddr net.HardwareAddr
	// LinkLocal is the source of IPv6 probes. Invalid: the Prober of
	// NewProber looks the interface's first link-local address up; without
	// one (or with NewProberConn) the probes come from the unspecified
	// address.
	LinkLocal netip.Addr
	// Own are the router's other MACs on the link, whose answers are not a
	// second responder: the virtual MAC of the virtual router
	// (VirtualMAC), the MACs of macvlans that answer for the address.
	Own []net.HardwareAddr
	// OnAnswer, if not nil, is called when a MAC not ours answers, once per
	// MAC per round (see Probe.Send), on the Prober's reader goroutine: it
	// must not block. mac is the caller's.
	OnAnswer func(mac net.HardwareAddr)
}

// Probe is a ProbeTarget added to a Prober. Its life is in rounds: Send
// ends the current round (reporting what it heard) and starts the next
// with a probe.
//
// A daemon holds one per virtual address of each master (issue 12: 4,094
// links), so the fields are laid out for a small size class (144 bytes).
type Probe struct {
	p *Prober
	// next is the next Probe of the same key in the Prober's index, in
	// the order they were added; guarded by the Prober's mu.
	next     *Probe
	onAnswer func(net.HardwareAddr)
	key      probeKey
	// buf holds the probe frame, buf[:flen], and then the router's own
	// MACs, 6 bytes each, the interface's first: one array for both.
	// Never changed after Add.
	buf  []byte
	flen uint8

	mu     sync.Mutex
	closed bool
	more   bool // more MACs than maxHeard answered this round
	nHeard uint8
	heard  [maxHeard][6]byte

	sent     atomic.Uint64
	sendErrs atomic.Uint64
	answers  atomic.Uint64
}

// frame returns the probe frame.
func (pr *Probe) frame() []byte { return pr.buf[:pr.flen:pr.flen] }

// v6 reports whether pr probes an IPv6 address.
func (pr *Probe) v6() bool { return pr.key.addr.Is6() }

// own reports whether mac is one of the router's own MACs.
func (pr *Probe) own(mac [6]byte) bool {
	for o := pr.buf[pr.flen:]; len(o) >= 6; o = o[6:] {
		if [6]byte(o) == mac {
			return true
		}
	}
	return false
}

// maxHeard is how many different foreign MACs a round remembers.
const maxHeard = 4

type probeKey struct {
	ifindex int
	addr    netip.Addr
}

// ProbeStats are a Probe's counters.
type ProbeStats struct {
	// Sent counts probes sent; SendErrors those that failed.
	Sent, SendErrors uint64
	// Answers counts answers from MACs that are not ours.
	Answers uint64
}

// Errors of the Prober, matched with errors.Is.
var (
	// ErrProberClosed: the Prober or the Probe is closed.
	ErrProberClosed = errors.New("arpnd: prober closed")
	// ErrBadProbeTarget: a ProbeTarget is not usable (no interface, an
	// address that cannot be probed, a MAC that is not Ethernet).
	ErrBadProbeTarget = errors.New("arpnd: bad probe target")
)

// NewProberConn returns a Prober that uses the given connections, arp for
// IPv4 and nd for IPv6 (either may be nil: that family cannot be probed).
// The Prober owns them and closes them in Close. Targets must carry their
// HardwareAddr unless ProberConfig.Interface is set. This is the layer
// below NewProber; tests use it with fake connections.
func NewProberConn(cfg ProberConfig, arp, nd ProbeConn) *Prober {
	p := newProber(cfg)
	p.open = func(v6 bool) (ProbeConn, error) {
		c := arp
		if v6 {
			c = nd
		}
		if c == nil {
			return nil, fmt.Errorf("%w: no connection for the family", ErrUnsupported)
		}
		return c, nil
	}
	// Connections given are the Prober's from the start, used or not.
	p.mu.Lock()
	p.conns = [2]ProbeConn{arp, nd}
	for _, c := range p.conns {
		if c != nil {
			p.startReader(c)
		}
	}
	p.mu.Unlock()
	return p
}

func newProber(cfg ProberConfig) *Prober {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Prober{log: log, probes: make(map[probeKey]*Probe)}
	if f := cfg.Interface; f != nil {
		p.lookup = func(t *ProbeTarget) error {
			ifi, err := f(t.IfIndex)
			if err != nil {
				return fmt.Errorf("arpnd: interface index %d: %w", t.IfIndex, err)
			}
			if t.HardwareAddr == nil {
				t.HardwareAddr = ifi.HardwareAddr
			}
			if !t.LinkLocal.IsValid() {
				t.LinkLocal = ifi.LinkLocal
			}
			return nil
		}
	}
	return p
}

// Add registers a target and returns its Probe; nothing is sent until
// Send. It opens the Prober's socket of the address's family if it is
// not open yet.
func (p *Prober) Add(t ProbeTarget) (*Probe, error) {
	addr := t.Addr.Unmap().WithZone("")
	if t.IfIndex <= 0 {
		return nil, fmt.Errorf("%w: interface index %d", ErrBadProbeTarget, t.IfIndex)
	}
	if !addr.IsValid() || addr.IsUnspecified() || addr.IsMulticast() {
		return nil, fmt.Errorf("%w: address %v", ErrBadProbeTarget, t.Addr)
	}
	t.Addr = addr
	if p.lookup != nil && (t.HardwareAddr == nil || addr.Is6() && !t.LinkLocal.IsValid()) {
		if err := p.lookup(&t); err != nil {
			return nil, err
		}
	}
	if err := checkMAC(t.HardwareAddr); err != nil {
		return nil, fmt.Errorf("%w: interface %d: %w", ErrBadProbeTarget, t.IfIndex, err)
	}
	pr := &Probe{p: p, key: probeKey{t.IfIndex, addr}, onAnswer: t.OnAnswer}
	for _, m := range t.Own {
		if err := checkMAC(m); err != nil {
			return nil, fmt.Errorf("%w: own MAC: %w", ErrBadProbeTarget, err)
		}
	}
	var (
		frame []byte
		err   error
	)
	if pr.v6() {
		frame, err = MarshalNSProbe(t.HardwareAddr, t.LinkLocal, addr)
	} else {
		frame, err = MarshalARPProbe(t.HardwareAddr, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadProbeTarget, err)
	}
	if len(frame) > math.MaxUint8 {
		// Not reached: a probe is 86 bytes at most.
		return nil, fmt.Errorf("%w: a probe frame of %d bytes", ErrBadProbeTarget, len(frame))
	}
	pr.buf = make([]byte, 0, len(frame)+6*(1+len(t.Own)))
	pr.buf = append(pr.buf, frame...)
	pr.flen = uint8(len(frame))
	pr.buf = append(pr.buf, t.HardwareAddr...)
	for _, m := range t.Own {
		pr.buf = append(pr.buf, m...)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrProberClosed
	}
	fam := famIndex(pr.v6())
	if p.conns[fam] == nil {
		c, err := p.open(pr.v6())
		if err != nil {
			return nil, err
		}
		p.conns[fam] = c
		p.startReader(c)
	}
	if q := p.probes[pr.key]; q == nil {
		p.probes[pr.key] = pr
	} else {
		for q.next != nil {
			q = q.next
		}
		q.next = pr
	}
	return pr, nil
}

func famIndex(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}

// Send ends the current round and sends a probe, which starts the next.
// It returns the MACs not ours that answered in the round it ended (at
// most maxHeard of them, first heard first; nil when none did, without
// allocating), and the error of sending the probe. Rounds of one Probe
// are sequential: call Send from one goroutine at a time.
func (pr *Probe) Send() (heard []net.HardwareAddr, err error) {
	heard, ok := pr.endRound()
	if !ok {
		return nil, ErrProberClosed
	}
	p := pr.p
	p.mu.RLock()
	c := p.conns[famIndex(pr.v6())]
	p.mu.RUnlock()
	if c == nil {
		return heard, ErrProberClosed
	}
	return heard, pr.sendResult(c.WriteFrame(pr.frame(), pr.key.ifindex))
}

// endRound ends the current round: it returns the MACs not ours heard in
// it (nil when none, without allocating) and starts the next; false when
// the Probe is closed.
func (pr *Probe) endRound() (heard []net.HardwareAddr, ok bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.closed {
		return nil, false
	}
	if pr.nHeard > 0 {
		heard = make([]net.HardwareAddr, pr.nHeard)
		for i := range heard {
			heard[i] = cloneMAC(pr.heard[i][:])
		}
	}
	pr.nHeard, pr.more = 0, false
	return heard, true
}

// sendResult counts the write of pr's probe that returned err and returns
// Send's error for it.
func (pr *Probe) sendResult(err error) error {
	if err != nil {
		pr.sendErrs.Add(1)
		return fmt.Errorf("arpnd: probe %v on interface %d: %w", pr.key.addr, pr.key.ifindex, err)
	}
	pr.sent.Add(1)
	return nil
}

// ProbeResult is one Probe's outcome in Prober.SendBatch: what Send
// returns.
type ProbeResult struct {
	// Heard are the MACs not ours that answered in the round that ended
	// (nil when none did).
	Heard []net.HardwareAddr
	// Err is the error of sending the probe that starts the next round
	// (ErrProberClosed for a closed Probe, or one of another Prober).
	Err error
}

// SendBatch is Send for each of prs, a probe round of many addresses at
// once: res[i] is prs[i]'s outcome (res must be at least as long as prs).
// The probes of a family go out in calls of up to probeBatchMax frames on
// a connection that implements ProbeBatchConn (one sendmmsg each on
// Linux: 4,094 probes in 32 system calls rather than 4,094 sendto), one
// by one otherwise; a frame that fails is that probe's error alone, and
// the frames after it are still sent. It allocates nothing but the
// results' Heard and Err (once its scratch has grown to the size of a
// round). Like Send, a Probe must not be in two rounds at once; calls of
// SendBatch are serialised.
func (p *Prober) SendBatch(prs []*Probe, res []ProbeResult) {
	if len(res) < len(prs) {
		panic("arpnd: SendBatch: res shorter than prs")
	}
	p.bmu.Lock()
	defer p.bmu.Unlock()
	for fam := range p.conns {
		p.bframes, p.bidx = p.bframes[:0], p.bidx[:0]
		for i, pr := range prs {
			if famIndex(pr.v6()) != fam {
				continue
			}
			if pr.p != p {
				res[i] = ProbeResult{Err: fmt.Errorf("%w: probe of another Prober", ErrProberClosed)}
				continue
			}
			heard, ok := pr.endRound()
			res[i] = ProbeResult{Heard: heard}
			if !ok {
				res[i].Err = ErrProberClosed
				continue
			}
			p.bframes = append(p.bframes, ProbeFrame{B: pr.frame(), IfIndex: pr.key.ifindex})
			p.bidx = append(p.bidx, i)
		}
		if len(p.bframes) == 0 {
			continue
		}
		p.mu.RLock()
		c := p.conns[fam]
		p.mu.RUnlock()
		if c == nil {
			for _, i := range p.bidx {
				res[i].Err = ErrProberClosed
			}
			continue
		}
		bc, batch := c.(ProbeBatchConn)
		for k := 0; k < len(p.bframes); {
			var (
				n   int
				err error
			)
			if batch {
				chunk := p.bframes[k:min(k+probeBatchMax, len(p.bframes))]
				n, err = bc.WriteFrames(chunk)
				n = max(0, min(n, len(chunk)))
				switch { // a connection that breaks its contract
				case n < len(chunk) && err == nil:
					err = io.ErrShortWrite
				case n == len(chunk):
					err = nil
				}
			} else {
				err = c.WriteFrame(p.bframes[k].B, p.bframes[k].IfIndex)
				if err == nil {
					n = 1
				}
			}
			for _, i := range p.bidx[k : k+n] {
				_ = prs[i].sendResult(nil)
			}
			k += n
			if err == nil {
				continue
			}
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
				for _, i := range p.bidx[k:] { // the Prober closed meanwhile
					res[i].Err = ErrProberClosed
				}
				break
			}
			i := p.bidx[k]
			res[i].Err = prs[i].sendResult(err)
			k++
		}
		clear(p.bframes) // do not keep the frames of closed Probes alive
	}
}

// Heard returns the MACs not ours that answered in the current round so
// far (nil when none did).
func (pr *Probe) Heard() []net.HardwareAddr {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.nHeard == 0 {
		return nil
	}
	heard := make([]net.HardwareAddr, pr.nHeard)
	for i := range heard {
		heard[i] = cloneMAC(pr.heard[i][:])
	}
	return heard
}

// Addr returns the probed address; IfIndex the interface's index.
func (pr *Probe) Addr() netip.Addr { return pr.key.addr }
func (pr *Probe) IfIndex() int     { return pr.key.ifindex }

// Stats returns the Probe's counters.
func (pr *Probe) Stats() ProbeStats {
	return ProbeStats{Sent: pr.sent.Load(), SendErrors: pr.sendErrs.Load(), Answers: pr.answers.Load()}
}

// Close removes the Probe from its Prober: it sends nothing more and its
// OnAnswer is not called once Close returns (unless Close is called from
// OnAnswer itself). Closing twice is harmless.
func (pr *Probe) Close() {
	p := pr.p
	p.mu.Lock()
	if q := p.probes[pr.key]; q == pr {
		if pr.next == nil {
			delete(p.probes, pr.key)
		} else {
			p.probes[pr.key] = pr.next
		}
	} else {
		for ; q != nil; q = q.next {
			if q.next == pr {
				q.next = pr.next
				break
			}
		}
	}
	pr.next = nil
	p.mu.Unlock()
	pr.mu.Lock()
	pr.closed = true
	pr.mu.Unlock()
}

// Stats returns the Prober's counters.
func (p *Prober) Stats() ProberStats {
	return ProberStats{Malformed: p.malformed.Load(), ReadErrors: p.readErrs.Load()}
}

// Close closes the Prober's sockets and waits for its readers; every
// Probe is closed with it.
func (p *Prober) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var errs []error
	for i, c := range p.conns {
		if c != nil {
			errs = append(errs, c.Close())
		}
		p.conns[i] = nil
	}
	var all []*Probe
	for _, pr := range p.probes {
		for ; pr != nil; pr = pr.next {
			all = append(all, pr)
		}
	}
	clear(p.probes)
	p.mu.Unlock()
	for _, pr := range all {
		pr.mu.Lock()
		pr.closed = true
		pr.mu.Unlock()
	}
	p.wg.Wait()
	if p.closeNS != nil {
		p.closeNS()
	}
	return errors.Join(errs...)
}

// readErrPause spaces the reads of a socket that keeps failing.
const readErrPause = 100 * time.Millisecond

// startReader reads c until it is closed. Called with p.mu held.
func (p *Prober) startReader(c ProbeConn) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 1600)
		for {
			n, ifindex, err := c.ReadFrame(buf)
			if err != nil {
				p.mu.RLock()
				closed := p.closed
				p.mu.RUnlock()
				if closed || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
					return
				}
				p.readErrs.Add(1)
				p.logLimited("arpnd: prober read failed", "err", err)
				time.Sleep(readErrPause)
				continue
			}
			p.handle(buf[:n], ifindex)
		}
	}()
}

// handle takes one received frame: an answer for a probed address on
// its interface from a MAC not ours is recorded in the current round of
// each Probe of the address, and their OnAnswer called.
func (p *Prober) handle(frame []byte, ifindex int) {
	addr, mac, err := parseProbeAnswer(frame)
	switch {
	case errors.Is(err, errMalformed):
		p.malformed.Add(1)
		p.logLimited("arpnd: prober dropped a frame", "ifindex", ifindex, "err", err)
		return
	case err != nil:
		return
	}
	var fireBuf [4]*Probe
	fire := fireBuf[:0]
	p.mu.RLock()
	for pr := p.probes[probeKey{ifindex, addr}]; pr != nil; pr = pr.next {
		if pr.record(mac) && pr.onAnswer != nil {
			fire = append(fire, pr)
		}
	}
	p.mu.RUnlock()
	for _, pr := range fire {
		pr.onAnswer(cloneMAC(mac[:]))
	}
}

// record counts an answer from mac and reports whether it is a MAC not
// ours heard for the first time this round.
func (pr *Probe) record(mac [6]byte) bool {
	if pr.own(mac) {
		return false
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.closed {
		return false
	}
	pr.answers.Add(1)
	for i := range pr.nHeard {
		if pr.heard[i] == mac {
			return false
		}
	}
	if pr.nHeard == maxHeard {
		first := !pr.more
		pr.more = true
		return first
	}
	pr.heard[pr.nHeard] = mac
	pr.nHeard++
	return true
}

func (p *Prober) logLimited(msg string, args ...any) {
	p.logMu.Lock()
	now := time.Now()
	if !p.lastLog.IsZero() && now.Sub(p.lastLog) < time.Second {
		p.logMu.Unlock()
		return
	}
	p.lastLog = now
	p.logMu.Unlock()
	p.log.Debug(msg, args...)
}

func cloneMAC(h []byte) net.HardwareAddr { return append(net.HardwareAddr(nil), h...) }

// MarshalARPProbe returns the Ethernet frame of an ARP probe for vip from
// src (RFC 5227 section 2.1.1): broadcast, operation request, sender
// hardware address src, sender protocol address 0.0.0.0, target hardware
// address zero, target protocol address vip, zero padded to 60 bytes.
func MarshalARPProbe(src net.HardwareAddr, vip netip.Addr) ([]byte, error) {
	if !vip.Is4() {
		return nil, fmt.Errorf("%w: %v", ErrNotIPv4, vip)
	}
	return marshalARP(1, ethernet.Broadcast, src, netip.IPv4Unspecified(), make(net.HardwareAddr, 6), vip)
}

// MarshalNSProbe returns the Ethernet frame of a Neighbor Solicitation
// for vip from src (RFC 4861 section 7.2.2): to vip's solicited-node
// group and its Ethernet address, hop limit 255, from srcIP with a Source
// Link-Layer Address option carrying src; from the unspecified address
// without the option when srcIP is invalid or unspecified (RFC 4861
// section 4.3: the option "MUST NOT be included when the source IP
// address is the unspecified address").
func MarshalNSProbe(src net.HardwareAddr, srcIP, vip netip.Addr) ([]byte, error) {
	if !vip.Is6() || vip.Is4In6() {
		return nil, fmt.Errorf("%w: %v", ErrNotIPv6, vip)
	}
	vip = vip.WithZone("")
	ns := &ndp.NeighborSolicitation{TargetAddress: vip}
	if !srcIP.IsValid() || srcIP.IsUnspecified() {
		srcIP = netip.IPv6Unspecified()
	} else {
		srcIP = srcIP.WithZone("")
		ns.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: src}}
	}
	group := solicitedNode(vip)
	return marshalND(multicastMAC(group), src, srcIP, group, ns)
}

// ICMPv6 Neighbor Advertisement (RFC 4861 section 4.4).
const (
	icmpTypeNA  = 136
	naFlagS     = 0x40 // Solicited
	optTargetLL = 2    // Target Link-Layer Address option
)

// parseProbeAnswer parses frame as an answer to a probe: an ARP reply
// (the address is its sender protocol address, the MAC its sender
// hardware address) or an ICMPv6 Neighbor Advertisement (its target, and
// its Target Link-Layer Address option or else the Ethernet source). It
// returns errNotForUs for frames of other kinds and errMalformed for
// invalid ones: a truncated frame, ARP that is not Ethernet/IPv4, a
// multicast or zero MAC, or an NA that fails RFC 4861 section 7.1.2. It
// allocates nothing.
func parseProbeAnswer(frame []byte) (netip.Addr, [6]byte, error) {
	var mac [6]byte
	if len(frame) < ethHeaderLen {
		return netip.Addr{}, mac, fmt.Errorf("%w: %d bytes", errMalformed, len(frame))
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherTypeARP:
		a := frame[ethHeaderLen:]
		if len(a) < 28 {
			return netip.Addr{}, mac, errMalformedARP
		}
		if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != 0x0800 || a[4] != 6 || a[5] != 4 {
			return netip.Addr{}, mac, errNotEthIPv4
		}
		if binary.BigEndian.Uint16(a[6:8]) != 2 {
			return netip.Addr{}, mac, errNotForUs // a request: not an answer
		}
		copy(mac[:], a[8:14])
		addr := netip.AddrFrom4([4]byte(a[14:18]))
		if !validAnswerMAC(mac) {
			return netip.Addr{}, mac, errBadAnswerMAC
		}
		if addr.IsUnspecified() {
			return netip.Addr{}, mac, errNotForUs
		}
		return addr, mac, nil
	case etherTypeIPv6:
		return parseNA(frame)
	}
	return netip.Addr{}, mac, errNotForUs
}

// Preallocated errors of parseProbeAnswer, so that dropping a frame
// allocates nothing.
var (
	errMalformedARP  = fmt.Errorf("%w: short ARP", errMalformed)
	errNotEthIPv4    = fmt.Errorf("%w: ARP not Ethernet/IPv4", errMalformed)
	errBadAnswerMAC  = fmt.Errorf("%w: multicast or zero link-layer address", errMalformed)
	errIPv6Header    = fmt.Errorf("%w: IPv6 header", errMalformed)
	errIPv6Length    = fmt.Errorf("%w: IPv6 payload length", errMalformed)
	errNAHopLimit    = fmt.Errorf("%w: NA hop limit not 255", errMalformed)
	errNALength      = fmt.Errorf("%w: NA too short", errMalformed)
	errNACode        = fmt.Errorf("%w: NA code not 0", errMalformed)
	errNAChecksum    = fmt.Errorf("%w: NA checksum", errMalformed)
	errNATarget      = fmt.Errorf("%w: NA target multicast or unspecified", errMalformed)
	errNASolicited   = fmt.Errorf("%w: solicited NA to a multicast address", errMalformed)
	errNAOption      = fmt.Errorf("%w: NA option length", errMalformed)
	errNATargetLLLen = fmt.Errorf("%w: NA target link-layer option not Ethernet", errMalformed)
)

func parseNA(frame []byte) (netip.Addr, [6]byte, error) {
	var mac [6]byte
	b := frame[ethHeaderLen:]
	if len(b) < ipv6HeaderLen || b[0]>>4 != 6 {
		return netip.Addr{}, mac, errIPv6Header
	}
	if b[6] != protoICMPv6 {
		return netip.Addr{}, mac, errNotForUs
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if ipv6HeaderLen+plen > len(b) {
		return netip.Addr{}, mac, errIPv6Length
	}
	icmp := b[ipv6HeaderLen : ipv6HeaderLen+plen]
	if len(icmp) < 1 || icmp[0] != icmpTypeNA {
		return netip.Addr{}, mac, errNotForUs
	}
	if b[7] != hopLimitND {
		return netip.Addr{}, mac, errNAHopLimit
	}
	if len(icmp) < 24 {
		return netip.Addr{}, mac, errNALength
	}
	if icmp[1] != 0 {
		return netip.Addr{}, mac, errNACode
	}
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	if icmpv6Checksum(src, dst, icmp) != 0 {
		return netip.Addr{}, mac, errNAChecksum
	}
	target := netip.AddrFrom16([16]byte(icmp[8:24]))
	if target.IsMulticast() || target.IsUnspecified() {
		return netip.Addr{}, mac, errNATarget
	}
	if dst.IsMulticast() && icmp[4]&naFlagS != 0 {
		return netip.Addr{}, mac, errNASolicited
	}
	copy(mac[:], frame[6:12]) // the Ethernet source, unless the option says
	for opts := icmp[24:]; len(opts) > 0; {
		if len(opts) < 2 || opts[1] == 0 || int(opts[1])*8 > len(opts) {
			return netip.Addr{}, mac, errNAOption
		}
		l := int(opts[1]) * 8
		if opts[0] == optTargetLL {
			if l != 8 {
				return netip.Addr{}, mac, errNATargetLLLen
			}
			copy(mac[:], opts[2:8])
		}
		opts = opts[l:]
	}
	if !validAnswerMAC(mac) {
		return netip.Addr{}, mac, errBadAnswerMAC
	}
	return target, mac, nil
}

// validAnswerMAC reports whether mac can hold an address: not zero, not
// multicast (nor broadcast).
func validAnswerMAC(mac [6]byte) bool {
	return mac[0]&1 == 0 && mac != [6]byte{}
}
