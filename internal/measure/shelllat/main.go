// Command shelllat measures, in one process and without a network, how
// late vrrp.Router sends a takeover's first advertisement: a fake
// transport.Conn hands a backup one advertisement of a priority-200
// master (10 ms interval) stamped T0 as the kernel stamps arrivals
// (transport.Meta.Time), then nothing; the backup's Master_Down_Timer
// runs out at T0 + Master_Down_Interval (36.094 ms at priority 100), and
// the Conn records when the Router writes its first advertisement. A
// Hook that does nothing records when Announce is called (where a daemon
// sends its gratuitous ARP). Each trial prints the lateness of the
// advertisement and the time from it to the Announce, in microseconds:
// "LABEL US ANNOUNCE_US".
//
// It uses only the Router's public API of before and after the RawRouter
// (issue 11), so the same file builds against an older commit, to compare
// the two interleaved (BENCHMARKS.md, crash takeover):
//
//	shelllat -n 10 -label new
//
// With -n 1 per process each trial is the process's first takeover, as
// for a daemon (a backup that never sent before).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

var (
	self = netip.MustParseAddr("192.0.2.1")
	peer = netip.MustParseAddr("192.0.2.2")
	vip  = netip.MustParseAddr("192.0.2.100")
)

// conn is the fake transport.Conn of one trial.
type conn struct {
	pkt    []byte
	feed   chan time.Time // the arrival time of the one advertisement
	closed chan struct{}
	once   sync.Once
	sent   chan time.Time // when the takeover advertisement was written

	mu    sync.Mutex
	armed bool
}

func (c *conn) ReadFrom(b []byte) (int, transport.Meta, error) {
	select {
	case t0 := <-c.feed:
		return copy(b, c.pkt), transport.Meta{Src: peer, Dst: packet.GroupIPv4, TTL: packet.TTL, Time: t0}, nil
	case <-c.closed:
		return 0, transport.Meta{}, transport.ErrClosed
	}
}

func (c *conn) WriteTo(b []byte, _ transport.Meta) error {
	now := time.Now()
	c.mu.Lock()
	armed := c.armed && len(b) > 2 && b[2] == 100 // this router's priority: the takeover
	if armed {
		c.armed = false
	}
	c.mu.Unlock()
	if armed {
		c.sent <- now
	}
	return nil
}

func (c *conn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

// hook records when Announce is first called.
type hook struct{ announced chan time.Time }

func (hook) Take(vrrp.VRInfo) error    { return nil }
func (hook) Release(vrrp.VRInfo) error { return nil }
func (h hook) Announce(vrrp.VRInfo) error {
	select {
	case h.announced <- time.Now():
	default:
	}
	return nil
}

func main() {
	n := flag.Int("n", 10, "trials, each with a new Router")
	label := flag.String("label", "router", "label printed before each figure")
	flag.Parse()
	adv := packet.Advertisement{Version: 3, Type: packet.TypeAdvertisement, VRID: 1, Priority: 200, Addrs: []netip.Addr{vip}}
	if err := adv.SetInterval(10 * time.Millisecond); err != nil {
		panic(err)
	}
	pkt, err := adv.Append(nil, peer, packet.GroupIPv4, packet.ChecksumPseudoHeader)
	if err != nil {
		panic(err)
	}
	// RFC 9568 section 6.1: 3 x Master_Adv_Interval + Skew_Time, in
	// centiseconds as the packet carries them.
	const mdi = 30*time.Millisecond + (256-100)*10*time.Millisecond/256
	for range *n {
		c := &conn{pkt: pkt, feed: make(chan time.Time, 1), closed: make(chan struct{}), sent: make(chan time.Time, 1)}
		h := hook{announced: make(chan time.Time, 1)}
		r := vrrp.NewRouter(vrrp.RouterConfig{Hook: h})
		err := r.Add(vrrp.VirtualRouter{Name: "vr", Conn: c, Interface: "eth0", Config: vrrp.Config{
			VRID: 1, Priority: 100, AdvertInterval: 10 * time.Millisecond, Addrs: []netip.Addr{vip}, Primary: self}})
		if err != nil {
			fmt.Fprintln(os.Stderr, "shelllat:", err)
			os.Exit(1)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(5 * time.Millisecond) // a backup, its timer running from its start
		c.mu.Lock()
		c.armed = true
		c.mu.Unlock()
		t0 := time.Now()
		c.feed <- t0
		select {
		case s := <-c.sent:
			a := <-h.announced
			fmt.Printf("%s %.1f %.1f\n", *label, float64(s.Sub(t0.Add(mdi)))/1e3, float64(a.Sub(s))/1e3)
		case <-time.After(2 * time.Second):
			fmt.Fprintln(os.Stderr, "shelllat: no takeover within 2s")
		}
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "shelllat:", err)
		}
		time.Sleep(20*time.Millisecond + time.Duration(time.Now().UnixNano()%int64(20*time.Millisecond)))
	}
}
