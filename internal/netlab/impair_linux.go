//go:build linux

package netlab

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// An ImpairedLink is a host's LAN link with faults injected by a relay in
// user space: delay, jitter, duplication, reordering and loss (see
// Impairment), for kernels without sch_netem. Create it with Host.Impair.
//
// # How
//
// Normally the host's eth0 is one end of a veth pair whose other end, the
// host's Port (vN), is a port of the lab bridge. Impair takes vN off the
// bridge and puts a second veth pair beside it, rN and pN, both in the
// lab's bridge namespace: pN becomes the host's bridge port and rN stays
// unattached. A relay reads every frame arriving at vN (what the host
// sends) and at rN (what the bridge delivers to the host) through
// AF_PACKET sockets and writes it, impaired, on the other one:
//
//	eth0 (host ns) ==veth== vN <-relay-> rN ==veth== pN -- br0 (bridge ns)
//
// One goroutine per socket reads and draws the faults from a seeded
// generator (one per direction); one more writes the frames when their
// time comes, in the order of a timer heap. The sockets carry the virtio
// net header (PACKET_VNET_HDR), so checksum offload and segmentation
// offload (TSO/GSO) pass through the relay as they pass through the
// bridge: TCP, UDP and VRRP frames arrive intact, frames up to the
// interfaces' MTU (rN and pN get vN's) and offloaded super-frames alike.
// Multicast and broadcast cross like any frame; the mcast_flood setting of
// SetMcastFlood moves to pN. The frames are copied only inside namespaces
// the lab created.
//
// What it does not carry over: carrier. The host setting eth0 down takes
// vN's carrier away but not pN's, so the bridge keeps forwarding to a
// link that drops the frames.
//
// Putting the relay in place and removing it cut the link for the time of
// one or two netlink requests (a relay that overlapped the bridge would
// duplicate frames instead). Remove drops the frames the relay still
// holds, as deleting a netem qdisc does.
type ImpairedLink struct {
	// Host is the host whose link this is.
	Host *Host

	relayPort, bridgePort string // rN, pN in the bridge namespace
	// nl is a netlink handle in the bridge namespace: the switch-over
	// steps use it rather than `ip`, to keep the link's cut short.
	nl    *netlink.Handle
	conns [2]*packet.Conn
	// out[d] is the socket the frames of direction d are written to.
	out [2]*packet.Conn

	mu     sync.Mutex
	cfg    [2]Impairment
	rng    [2]*rand.Rand
	q      frameHeap
	held   [2]int
	stats  [2]ImpairStats
	seq    uint64
	closed bool

	kick       chan struct{} // a frame was queued
	stop       chan struct{} // closed by Remove
	wg         sync.WaitGroup
	removeOnce sync.Once
	removeErr  error
}

// relayBuf is the read buffer of the relay: the virtio net header and the
// largest GSO super-frame the kernel hands a packet socket (64 KiB plus
// headers; more with BIG TCP, which the lab does not turn on).
const relayBuf = 256 << 10

// vnetHdrLen is the size of struct virtio_net_hdr, which PACKET_VNET_HDR
// puts in front of every frame read and expects in front of every frame
// written.
const vnetHdrLen = 10

// Impair puts the fault injector described on ImpairedLink between the
// host and the bridge, with imp in both directions and a random generator
// seeded with seed, and returns it. A Cleanup on t removes it (also when
// the test failed); Remove does so earlier. Set and SetDirections change
// the faults while it runs. Errors fail t. A host has at most one
// impaired link at a time.
//
// Call it from the test goroutine, while nothing else changes the lab's
// bridge ports.
func (h *Host) Impair(t testing.TB, seed uint64, imp Impairment) *ImpairedLink {
	t.Helper()
	if err := imp.Validate(); err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
	l, err := h.impair(seed, imp)
	if err != nil {
		t.Fatalf("netlab: %s: impair link: %v", h.Name, err)
	}
	t.Cleanup(func() {
		if err := l.Remove(); err != nil {
			t.Errorf("netlab: %s: remove impaired link: %v", h.Name, err)
		}
	})
	return l
}

func (h *Host) impair(seed uint64, imp Impairment) (*ImpairedLink, error) {
	lab := h.lab
	br := lab.BridgeNS
	l := &ImpairedLink{
		Host:       h,
		relayPort:  "r" + strconv.Itoa(h.N),
		bridgePort: "p" + strconv.Itoa(h.N),
		cfg:        [2]Impairment{imp, imp},
		rng: [2]*rand.Rand{
			rand.New(rand.NewPCG(seed, uint64(FromHost)+0x1a2b)),
			rand.New(rand.NewPCG(seed, uint64(ToHost)+0x1a2b)),
		},
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
	}

	lab.mu.Lock()
	if h.impaired != nil {
		lab.mu.Unlock()
		return nil, errors.New("already impaired: call Set on the ImpairedLink, or Remove it first")
	}
	mcastOff := h.mcastOff
	lab.mu.Unlock()

	var mtu int
	if err := doIn("bridge", br, func() error {
		ifi, err := net.InterfaceByName(h.Port)
		if err != nil {
			return err
		}
		mtu = ifi.MTU
		return nil
	}); err != nil {
		return nil, err
	}
	nsh, err := netns.GetFromName(br)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", br, err)
	}
	l.nl, err = netlink.NewHandleAt(nsh)
	nsh.Close()
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", br, err)
	}
	// Every step below is undone by undo, whatever it reached.
	undo := func() {
		for _, c := range l.conns {
			if c != nil {
				c.Close()
			}
		}
		l.nl.Close()
		_ = ipCmd("-n", br, "link", "set", h.Port, "master", "br0")
		_ = ipCmd("-n", br, "link", "del", l.relayPort)
		if mcastOff {
			_ = setMcastFlood(br, h.Port, false)
		}
	}
	fail := func(err error) (*ImpairedLink, error) {
		undo()
		return nil, err
	}

	if err := ipCmd("-n", br, "link", "add", l.relayPort, "mtu", strconv.Itoa(mtu), "type", "veth",
		"peer", "name", l.bridgePort, "mtu", strconv.Itoa(mtu)); err != nil {
		return fail(err)
	}
	// No IPv6 on the new links: the bridge namespace must not send
	// router solicitations or MLD reports of its own into the LAN.
	if err := doIn("bridge", br, func() error {
		for _, dev := range []string{l.relayPort, l.bridgePort} {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6", []byte("1"), 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	for _, dev := range []string{l.relayPort, l.bridgePort} {
		if err := ipCmd("-n", br, "link", "set", dev, "up"); err != nil {
			return fail(err)
		}
	}
	vN, err1 := l.nl.LinkByName(h.Port)
	pN, err2 := l.nl.LinkByName(l.bridgePort)
	br0, err3 := l.nl.LinkByName("br0")
	if err := errors.Join(err1, err2, err3); err != nil {
		return fail(err)
	}
	// Both sockets open deaf. rN hears nothing until pN joins the bridge;
	// vN's socket starts listening only once vN has left the bridge, so
	// that no frame takes both ways. The cut lasts from vN leaving the
	// bridge to pN joining it: two netlink requests.
	if l.conns[ToHost], err = openRelaySocket(br, l.relayPort); err != nil {
		return fail(err)
	}
	if l.conns[FromHost], err = openRelaySocket(br, h.Port); err != nil {
		return fail(err)
	}
	if err := listenAll(l.conns[ToHost]); err != nil {
		return fail(err)
	}
	if err := l.nl.LinkSetNoMaster(vN); err != nil {
		return fail(fmt.Errorf("%s nomaster: %w", h.Port, err))
	}
	if err := listenAll(l.conns[FromHost]); err != nil {
		return fail(err)
	}
	if err := l.nl.LinkSetMaster(pN, br0); err != nil {
		return fail(fmt.Errorf("%s master br0: %w", l.bridgePort, err))
	}
	if mcastOff {
		if err := setMcastFlood(br, l.bridgePort, false); err != nil {
			return fail(err)
		}
	}
	l.out[FromHost], l.out[ToHost] = l.conns[ToHost], l.conns[FromHost]

	lab.mu.Lock()
	h.impaired = l
	lab.mu.Unlock()

	l.wg.Add(3)
	go l.read(FromHost)
	go l.read(ToHost)
	go l.write()
	return l, nil
}

// openRelaySocket opens a raw AF_PACKET socket for every protocol on dev
// in namespace ns, with the virtio net header, not seeing its own
// transmissions (PACKET_IGNORE_OUTGOING). It is bound with a filter that
// takes nothing, so that no frame arrives without the header: listenAll
// lifts it.
func openRelaySocket(ns, dev string) (*packet.Conn, error) {
	var c *packet.Conn
	err := doIn("bridge", ns, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, &packet.Config{
			Filter: []bpf.RawInstruction{{Op: unix.BPF_RET | unix.BPF_K, K: 0}},
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", dev, err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for _, o := range []int{unix.PACKET_VNET_HDR, unix.PACKET_IGNORE_OUTGOING} {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, o, 1); serr != nil {
				serr = fmt.Errorf("setsockopt %d: %w", o, serr)
				return
			}
		}
	}); err != nil || serr != nil {
		c.Close()
		return nil, fmt.Errorf("packet socket on %s: %w", dev, errors.Join(err, serr))
	}
	return c, nil
}

// listenAll makes a socket of openRelaySocket take every frame.
func listenAll(c *packet.Conn) error {
	if err := c.SetBPF([]bpf.RawInstruction{{Op: unix.BPF_RET | unix.BPF_K, K: 1<<31 - 1}}); err != nil {
		return fmt.Errorf("packet socket filter: %w", err)
	}
	return nil
}

// read relays the frames arriving on the socket of direction d until
// Remove.
func (l *ImpairedLink) read(d Direction) {
	defer l.wg.Done()
	buf := make([]byte, relayBuf)
	for {
		n, _, err := l.conns[d].ReadFrom(buf)
		if err != nil {
			select {
			case <-l.stop:
				return
			default:
			}
			l.mu.Lock()
			l.stats[d].ReadErrors++
			l.mu.Unlock()
			// Not closing: a transient error (ENETDOWN after the link
			// went down, say). Do not spin on a lasting one.
			select {
			case <-l.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		if n <= vnetHdrLen {
			continue
		}
		l.enqueue(d, buf[:n], time.Now())
	}
}

// enqueue draws the faults for one frame and queues its copies.
func (l *ImpairedLink) enqueue(d Direction, frame []byte, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	c, r, st := l.cfg[d], l.rng[d], &l.stats[d]
	st.Received++
	if c.Loss > 0 && r.Float64() < c.Loss {
		st.Lost++
		return
	}
	copies := 1
	if c.Duplicate > 0 && r.Float64() < c.Duplicate {
		copies = 2
		st.Duplicated++
	}
	data := bytes.Clone(frame)
	queued := false
	for range copies {
		delay := c.Delay
		if c.Jitter > 0 {
			delay += time.Duration(r.Int64N(int64(2*c.Jitter)+1)) - c.Jitter
			delay = max(delay, 0)
		}
		if c.Reorder > 0 && r.Float64() < c.Reorder {
			delay += c.ReorderDelay
			st.Reordered++
		}
		if l.held[d] >= c.limit() {
			st.Overflow++
			continue
		}
		l.seq++
		heap.Push(&l.q, relayFrame{at: now.Add(delay), seq: l.seq, dir: d, data: data})
		l.held[d]++
		queued = true
	}
	if queued {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// write sends the queued frames when they are due, until Remove.
func (l *ImpairedLink) write() {
	defer l.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []relayFrame
	for {
		l.mu.Lock()
		now := time.Now()
		due = due[:0]
		for len(l.q) > 0 && !l.q[0].at.After(now) {
			f := heap.Pop(&l.q).(relayFrame)
			l.held[f.dir]--
			due = append(due, f)
		}
		var next time.Time
		if len(l.q) > 0 {
			next = l.q[0].at
		}
		l.mu.Unlock()

		if len(due) > 0 {
			for _, f := range due {
				// The destination address is not used for SOCK_RAW: the
				// frame carries its own header.
				_, err := l.out[f.dir].WriteTo(f.data, &packet.Addr{HardwareAddr: ethernetBroadcast})
				l.mu.Lock()
				if err != nil {
					l.stats[f.dir].WriteErrors++
				} else {
					l.stats[f.dir].Sent++
				}
				l.mu.Unlock()
			}
			continue // writing took time: look again before sleeping
		}

		var fire <-chan time.Time
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			fire = timer.C
		}
		select {
		case <-l.stop:
			return
		case <-l.kick:
		case <-fire:
		}
	}
}

var ethernetBroadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Set changes the faults of both directions to imp; frames already held
// keep the delay they were given. An invalid imp is an error and changes
// nothing.
func (l *ImpairedLink) Set(imp Impairment) error { return l.SetDirections(imp, imp) }

// SetDirections is Set with different faults for the frames the host
// sends (fromHost) and those it receives (toHost).
func (l *ImpairedLink) SetDirections(fromHost, toHost Impairment) error {
	if err := errors.Join(fromHost.Validate(), toHost.Validate()); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = [2]Impairment{fromHost, toHost}
	return nil
}

// Stats returns the counters of direction d so far.
func (l *ImpairedLink) Stats(d Direction) ImpairStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats[d]
}

// Remove stops the relay (its goroutines have returned when Remove
// returns), drops the frames it still holds (counted in Flushed), deletes
// rN and pN and puts the host's Port back on the bridge, with the
// mcast_flood setting it had. Later calls return the first call's error.
func (l *ImpairedLink) Remove() error {
	l.removeOnce.Do(func() {
		h := l.Host
		br := h.lab.BridgeNS
		close(l.stop)
		var errs []error
		for _, c := range l.conns {
			if err := c.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		l.wg.Wait()
		l.mu.Lock()
		l.closed = true
		for _, f := range l.q {
			l.stats[f.dir].Flushed++
		}
		l.q, l.held = nil, [2]int{}
		l.mu.Unlock()

		lab := h.lab
		lab.mu.Lock()
		defer lab.mu.Unlock()
		// vN back on the bridge first (the cut ends there), then rN and
		// pN go; `ip` is the fallback should netlink fail.
		if err := l.relink(h.Port, "br0"); err != nil {
			errs = append(errs, ipCmd("-n", br, "link", "set", h.Port, "master", "br0"))
		}
		if h.mcastOff {
			errs = append(errs, setMcastFlood(br, h.Port, false))
		}
		if rN, err := l.nl.LinkByName(l.relayPort); err != nil || l.nl.LinkDel(rN) != nil {
			errs = append(errs, ipCmd("-n", br, "link", "del", l.relayPort))
		}
		l.nl.Close()
		h.impaired = nil
		l.removeErr = errors.Join(errs...)
	})
	return l.removeErr
}

// relink puts dev on the bridge master through the netlink handle.
func (l *ImpairedLink) relink(dev, master string) error {
	d, err := l.nl.LinkByName(dev)
	if err != nil {
		return err
	}
	m, err := l.nl.LinkByName(master)
	if err != nil {
		return err
	}
	return l.nl.LinkSetMaster(d, m)
}

// A relayFrame is one copy of a frame waiting in the relay.
type relayFrame struct {
	at   time.Time
	seq  uint64 // FIFO among frames due at the same instant
	dir  Direction
	data []byte
}

// frameHeap orders relayFrames by due time, then arrival.
type frameHeap []relayFrame

func (q frameHeap) Len() int { return len(q) }
func (q frameHeap) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q frameHeap) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *frameHeap) Push(x any)   { *q = append(*q, x.(relayFrame)) }
func (q *frameHeap) Pop() any {
	old := *q
	f := old[len(old)-1]
	old[len(old)-1] = relayFrame{}
	*q = old[:len(old)-1]
	return f
}
