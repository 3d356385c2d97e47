package vrrp_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/vrrp"
)

// FuzzMachine drives a Machine with a program of inputs decoded from the
// fuzzer's bytes: received packets (arbitrary bytes through packet's
// parser, from one of three sources, with any TTL), timer expiries, time
// passing, priority changes, interface down / up, shutdown and start.
// Whatever the program, the Machine must not panic; a packet the parser
// rejects must leave the state and the deadline alone (RFC 9568 section
// 7.1: it is discarded); the deadline must move past a Tick's time; and a
// machine that is not running has no deadline.
func FuzzMachine(f *testing.F) {
	src := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.9")}
	grp := packet.GroupIPv4
	vip := netip.MustParseAddr("192.0.2.100")
	advert := func(prio uint8, from netip.Addr) []byte {
		a := packet.Advertisement{Version: 3, Type: packet.TypeAdvertisement, VRID: 7, Priority: prio, Addrs: []netip.Addr{vip}}
		if err := a.SetInterval(100 * time.Millisecond); err != nil {
			f.Fatal(err)
		}
		b, err := a.Append(nil, from, grp, packet.ChecksumPseudoHeader)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	// A program: op byte, then its operands; packets are length-prefixed.
	seed := func(ops ...[]byte) []byte {
		var b []byte
		for _, o := range ops {
			b = append(b, o...)
		}
		return b
	}
	pkt := func(from byte, ttl byte, p []byte) []byte {
		return append([]byte{0, from, ttl, byte(len(p))}, p...)
	}
	f.Add(seed(pkt(0, 255, advert(200, src[0])), []byte{1}, []byte{2, 50}, pkt(0, 255, advert(0, src[0])), []byte{1}))
	f.Add(seed([]byte{2, 255}, []byte{1}, pkt(1, 255, advert(50, src[1])), []byte{3, 0}, []byte{4}, []byte{5}, []byte{6}))
	f.Add(seed(pkt(2, 64, advert(255, src[2])), pkt(0, 255, []byte{0x31, 7}), []byte{7}, []byte{8}))
	f.Fuzz(func(t *testing.T, prog []byte) {
		m, err := vrrp.NewMachine(vrrp.Config{VRID: 7, Priority: 150, AdvertInterval: 100 * time.Millisecond,
			Primary: src[1], Addrs: []netip.Addr{vip}})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		m.Start(now)
		var adv packet.Advertisement
		next := func() (byte, bool) {
			if len(prog) == 0 {
				return 0, false
			}
			b := prog[0]
			prog = prog[1:]
			return b, true
		}
		for len(prog) > 0 {
			op, _ := next()
			switch op % 9 {
			case 0: // a packet
				from, _ := next()
				ttl, _ := next()
				n, _ := next()
				b := prog[:min(int(n), len(prog))]
				prog = prog[len(b):]
				s := src[int(from)%len(src)]
				info, err := adv.Unmarshal(b, s, grp)
				if err != nil {
					st, dl := m.State(), m.Deadline()
					m.CountError(err)
					if m.State() != st || !m.Deadline().Equal(dl) {
						t.Fatalf("a malformed packet (%v) moved the machine: %v %v -> %v %v", err, st, dl, m.State(), m.Deadline())
					}
					continue
				}
				m.Receive(now, &adv, s, int(ttl), info)
			case 1: // the timer fires
				if dl := m.Deadline(); !dl.IsZero() {
					if dl.After(now) {
						now = dl
					}
					m.Tick(now)
					if d := m.Deadline(); !d.IsZero() && !d.After(now) {
						t.Fatalf("after Tick(%v) the deadline is %v, not later", now, d)
					}
				}
			case 2: // time passes
				d, _ := next()
				now = now.Add(time.Duration(d) * 10 * time.Millisecond)
			case 3:
				p, _ := next()
				m.SetPriority(p)
			case 4:
				m.InterfaceDown(now)
			case 5:
				m.InterfaceUp(now)
			case 6:
				m.Shutdown(now)
			case 7:
				m.Start(now)
			case 8:
				to, _ := next()
				m.Sync(now, []vrrp.State{vrrp.Backup, vrrp.Master}[to%2])
			}
			switch m.State() {
			case vrrp.Backup, vrrp.Master:
				if m.Deadline().IsZero() {
					t.Fatalf("%v with no deadline", m.State())
				}
			case vrrp.Initialize:
				if !m.Deadline().IsZero() {
					t.Fatalf("Initialize with deadline %v", m.Deadline())
				}
			}
		}
	})
}
