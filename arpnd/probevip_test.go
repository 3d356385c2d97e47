package arpnd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// fakeProbeConn is a ProbeConn in memory: frames pushed into in are
// read, frames written are kept.
type fakeProbeConn struct {
	in     chan probeFrame
	closed chan struct{}
	once   sync.Once

	mu   sync.Mutex
	sent []probeFrame
	err  error
}

type probeFrame struct {
	b       []byte
	ifindex int
}

func newFakeProbeConn() *fakeProbeConn {
	return &fakeProbeConn{in: make(chan probeFrame), closed: make(chan struct{})}
}

func (c *fakeProbeConn) ReadFrame(b []byte) (int, int, error) {
	select {
	case f := <-c.in:
		return copy(b, f.b), f.ifindex, nil
	case <-c.closed:
		return 0, 0, net.ErrClosed
	}
}

func (c *fakeProbeConn) WriteFrame(b []byte, ifindex int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.sent = append(c.sent, probeFrame{bytes.Clone(b), ifindex})
	return nil
}

func (c *fakeProbeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeProbeConn) frames() []probeFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]probeFrame(nil), c.sent...)
}

// push delivers a frame and returns once the reader took it; the next
// push (or the sync below) returns only after handle ended for it.
func (c *fakeProbeConn) push(t *testing.T, b []byte, ifindex int) {
	t.Helper()
	select {
	case c.in <- probeFrame{b, ifindex}:
	case <-time.After(10 * time.Second):
		t.Fatal("the prober's reader does not read")
	}
}

// sync waits until the reader handled every frame pushed before: it
// reads one more (which is not an answer) only after that.
func (c *fakeProbeConn) sync(t *testing.T) {
	t.Helper()
	c.push(t, arpRequest(1, vip4, vip4), 0)
	c.push(t, arpRequest(1, vip4, vip4), 0)
}

// arpReplyFrame is an ARP reply from sha binding spa, to hostMAC.
func arpReplyFrame(sha net.HardwareAddr, spa netip.Addr) []byte {
	return join(hostMAC, sha, []byte{0x08, 0x06},
		[]byte{0, 1, 0x08, 0x00, 6, 4, 0, 2}, sha, spa.AsSlice(), hostMAC, make([]byte, 4), make([]byte, 18))
}

// naFrame is a Neighbor Advertisement for target from src (Ethernet
// source esrc) to dst, with a target link-layer option when tll is set.
func naFrame(t testing.TB, esrc net.HardwareAddr, src, dst, target netip.Addr, solicited bool, tll net.HardwareAddr) []byte {
	t.Helper()
	na := &ndp.NeighborAdvertisement{Solicited: solicited, Override: true, TargetAddress: target}
	if tll != nil {
		na.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: tll}}
	}
	dmac := hostMAC
	if dst.IsMulticast() {
		dmac = multicastMAC(dst)
	}
	b, err := marshalND(dmac, esrc, src, dst, na)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMarshalARPProbe(t *testing.T) {
	b, err := MarshalARPProbe(hostMAC, vip4)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 60 {
		t.Errorf("length %d, want 60 (padded)", len(b))
	}
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Destination, ethernet.Broadcast) || !bytes.Equal(f.Source, hostMAC) || f.EtherType != ethernet.EtherTypeARP {
		t.Errorf("ethernet %v -> %v type %v", f.Source, f.Destination, f.EtherType)
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		t.Fatal(err)
	}
	// RFC 5227 section 2.1.1.
	if p.Operation != arp.OperationRequest || !bytes.Equal(p.SenderHardwareAddr, hostMAC) ||
		p.SenderIP != netip.IPv4Unspecified() || !bytes.Equal(p.TargetHardwareAddr, make([]byte, 6)) || p.TargetIP != vip4 {
		t.Errorf("ARP probe %+v", p)
	}
	if _, err := MarshalARPProbe(hostMAC, vip6); !errors.Is(err, ErrNotIPv4) {
		t.Errorf("IPv6 address: %v, want ErrNotIPv4", err)
	}
	if _, err := MarshalARPProbe(net.HardwareAddr{1, 2}, vip4); !errors.Is(err, ErrBadMAC) {
		t.Errorf("short MAC: %v, want ErrBadMAC", err)
	}
}

func TestMarshalNSProbe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		src   netip.Addr
		want  netip.Addr
		sllOK bool
	}{
		{"from link-local", ll1, ll1, true},
		{"no link-local", netip.Addr{}, netip.IPv6Unspecified(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := MarshalNSProbe(hostMAC, tc.src, vip6)
			if err != nil {
				t.Fatal(err)
			}
			sn := solicitedNode(vip6)
			if !bytes.Equal(b[0:6], multicastMAC(sn)) || !bytes.Equal(b[6:12], hostMAC) {
				t.Errorf("ethernet %x", b[0:12])
			}
			_, src, dst, icmp, err := icmpv6In(b, icmpTypeNS, 24)
			if err != nil {
				t.Fatalf("not a valid NS: %v", err)
			}
			if src != tc.want || dst != sn {
				t.Errorf("IPv6 %v -> %v, want %v -> %v", src, dst, tc.want, sn)
			}
			m, err := ndp.ParseMessage(icmp)
			if err != nil {
				t.Fatal(err)
			}
			ns := m.(*ndp.NeighborSolicitation)
			if ns.TargetAddress != vip6 {
				t.Errorf("target %v", ns.TargetAddress)
			}
			hasSLL := false
			for _, o := range ns.Options {
				if l, ok := o.(*ndp.LinkLayerAddress); ok && l.Direction == ndp.Source && bytes.Equal(l.Addr, hostMAC) {
					hasSLL = true
				}
			}
			if hasSLL != tc.sllOK {
				t.Errorf("source link-layer option %v, want %v", hasSLL, tc.sllOK)
			}
		})
	}
	if _, err := MarshalNSProbe(hostMAC, ll1, vip4); !errors.Is(err, ErrNotIPv6) {
		t.Errorf("IPv4 address: %v, want ErrNotIPv6", err)
	}
}

// TestProbeAnsweredByResponder: the answers that arpnd's own responder
// (and Linux, which answers the same way) gives to our probes are
// recognised, with the address and the answering MAC.
func TestProbeAnsweredByResponder(t *testing.T) {
	ap, _ := MarshalARPProbe(hostMAC, vip4)
	reply, _, err := arpReply(ap, answerFor(vip4, peerMAC))
	if err != nil {
		t.Fatalf("responder does not answer the ARP probe: %v", err)
	}
	if addr, mac, err := parseProbeAnswer(reply); err != nil || addr != vip4 || net.HardwareAddr(mac[:]).String() != peerMAC.String() {
		t.Errorf("ARP answer: %v %x %v", addr, mac, err)
	}
	for _, src := range []netip.Addr{ll1, {}} {
		np, _ := MarshalNSProbe(hostMAC, src, vip6)
		reply, _, err := naReply(np, answerFor(vip6, peerMAC))
		if err != nil {
			t.Fatalf("responder does not answer the NS probe from %v: %v", src, err)
		}
		if addr, mac, err := parseProbeAnswer(reply); err != nil || addr != vip6 || net.HardwareAddr(mac[:]).String() != peerMAC.String() {
			t.Errorf("NA answer to a probe from %v: %v %x %v", src, addr, mac, err)
		}
	}
}

func TestParseProbeAnswer(t *testing.T) {
	other := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x77}
	peer := netip.MustParseAddr("fe80::99")
	good := naFrame(t, peerMAC, peer, ll1, vip6, true, peerMAC)
	mangle := func(b []byte, f func([]byte)) []byte { b = bytes.Clone(b); f(b); return b }
	for _, tc := range []struct {
		name  string
		frame []byte
		addr  netip.Addr
		mac   net.HardwareAddr
		err   error
	}{
		{"ARP reply", arpReplyFrame(peerMAC, vip4), vip4, peerMAC, nil},
		{"ARP request", arpRequest(1, vip4, vip4), netip.Addr{}, nil, errNotForUs},
		{"ARP reply from 0.0.0.0", arpReplyFrame(peerMAC, netip.IPv4Unspecified()), netip.Addr{}, nil, errNotForUs},
		{"ARP reply zero MAC", arpReplyFrame(make(net.HardwareAddr, 6), vip4), netip.Addr{}, nil, errMalformed},
		{"ARP reply broadcast MAC", arpReplyFrame(ethernet.Broadcast, vip4), netip.Addr{}, nil, errMalformed},
		{"ARP short", arpReplyFrame(peerMAC, vip4)[:30], netip.Addr{}, nil, errMalformed},
		{"ARP not Ethernet", mangle(arpReplyFrame(peerMAC, vip4), func(b []byte) { b[15] = 6 }), netip.Addr{}, nil, errMalformed},
		{"short frame", []byte{1, 2, 3}, netip.Addr{}, nil, errMalformed},
		{"IPv4 frame", mangle(arpReplyFrame(peerMAC, vip4), func(b []byte) { b[12], b[13] = 8, 0 }), netip.Addr{}, nil, errNotForUs},
		{"NA solicited", good, vip6, peerMAC, nil},
		{"NA target option wins", naFrame(t, other, peer, ll1, vip6, true, peerMAC), vip6, peerMAC, nil},
		{"NA without option", naFrame(t, other, peer, ll1, vip6, true, nil), vip6, other, nil},
		{"NA unsolicited to all-nodes", naFrame(t, peerMAC, peer, allNodes, vip6, false, peerMAC), vip6, peerMAC, nil},
		{"NA solicited to multicast", naFrame(t, peerMAC, peer, allNodes, vip6, true, peerMAC), netip.Addr{}, nil, errMalformed},
		{"NA multicast target", naFrame(t, peerMAC, peer, ll1, allNodes, true, peerMAC), netip.Addr{}, nil, errMalformed},
		{"NA hop limit 64", mangle(good, func(b []byte) { b[21] = 64 }), netip.Addr{}, nil, errMalformed},
		{"NA bad checksum", mangle(good, func(b []byte) { b[56] ^= 0xff }), netip.Addr{}, nil, errMalformed},
		{"NA code 1", mangle(good, func(b []byte) { b[55] = 1 }), netip.Addr{}, nil, errMalformed},
		{"NA option length 0", mangle(good, func(b []byte) { b[54+24+1] = 0 }), netip.Addr{}, nil, errMalformed},
		{"NA truncated", mangle(good, func(b []byte) { binary.BigEndian.PutUint16(b[18:20], 200) }), netip.Addr{}, nil, errMalformed},
		{"NS", nsFrame(t, peer, solicitedNode(vip6), vip6, peerMAC), netip.Addr{}, nil, errNotForUs},
		{"IPv6 not ICMPv6", mangle(good, func(b []byte) { b[20] = 17 }), netip.Addr{}, nil, errNotForUs},
		{"IPv6 short", good[:30], netip.Addr{}, nil, errMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, mac, err := parseProbeAnswer(tc.frame)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || addr != tc.addr || net.HardwareAddr(mac[:]).String() != tc.mac.String() {
				t.Fatalf("%v %v %v, want %v %v", addr, net.HardwareAddr(mac[:]), err, tc.addr, tc.mac)
			}
		})
	}
}

// TestProberRounds: a probe goes out on its interface; answers from a
// MAC not ours are reported once per MAC per round (OnAnswer) and by
// the Send that ends the round; answers from our MACs, for another
// address or on another interface are not; every Probe of an address
// hears them; a closed Probe hears nothing.
func TestProberRounds(t *testing.T) {
	c4, c6 := newFakeProbeConn(), newFakeProbeConn()
	p := NewProberConn(ProberConfig{}, c4, c6)
	defer p.Close()
	vmac := VirtualMAC(7, false)
	var mu sync.Mutex
	var got []string
	cb := func(tag string) func(net.HardwareAddr) {
		return func(m net.HardwareAddr) {
			mu.Lock()
			got = append(got, tag+" "+m.String())
			mu.Unlock()
		}
	}
	took := func() []string {
		mu.Lock()
		defer mu.Unlock()
		g := got
		got = nil
		return g
	}
	pr, err := p.Add(ProbeTarget{IfIndex: 3, Addr: vip4, HardwareAddr: hostMAC, Own: []net.HardwareAddr{vmac}, OnAnswer: cb("a")})
	if err != nil {
		t.Fatal(err)
	}
	pr2, err := p.Add(ProbeTarget{IfIndex: 3, Addr: vip4, HardwareAddr: hostMAC, OnAnswer: cb("b")})
	if err != nil {
		t.Fatal(err)
	}
	heard, err := pr.Send()
	if err != nil || heard != nil {
		t.Fatalf("first Send: %v %v", heard, err)
	}
	fs := c4.frames()
	want, _ := MarshalARPProbe(hostMAC, vip4)
	if len(fs) != 1 || fs[0].ifindex != 3 || !bytes.Equal(fs[0].b, want) {
		t.Fatalf("sent %+v, want the ARP probe on interface 3", fs)
	}

	other := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x77}
	c4.push(t, arpReplyFrame(hostMAC, vip4), 3)                              // ours
	c4.push(t, arpReplyFrame(vmac, vip4), 3)                                 // ours (pr only)
	c4.push(t, arpReplyFrame(peerMAC, vip4), 4)                              // another interface
	c4.push(t, arpReplyFrame(peerMAC, netip.MustParseAddr("192.0.2.11")), 3) // another address
	c4.push(t, arpReplyFrame(peerMAC, vip4), 3)
	c4.push(t, arpReplyFrame(peerMAC, vip4), 3) // again: reported once
	c4.push(t, arpReplyFrame(other, vip4), 3)
	c4.sync(t)
	g := took()
	wantCB := map[string]bool{"a " + peerMAC.String(): true, "a " + other.String(): true,
		"b " + peerMAC.String(): true, "b " + other.String(): true, "b " + vmac.String(): true}
	if len(g) != len(wantCB) {
		t.Errorf("OnAnswer calls %q, want %v", g, wantCB)
	}
	for _, s := range g {
		if !wantCB[s] {
			t.Errorf("unexpected OnAnswer %q", s)
		}
	}
	if h := pr.Heard(); len(h) != 2 {
		t.Errorf("Heard %v, want 2 MACs", h)
	}
	heard, err = pr.Send()
	if err != nil || len(heard) != 2 || heard[0].String() != peerMAC.String() || heard[1].String() != other.String() {
		t.Errorf("Send ending the round: %v %v, want [%v %v]", heard, err, peerMAC, other)
	}
	if s := pr.Stats(); s.Sent != 2 || s.Answers != 3 {
		t.Errorf("stats %+v, want 2 sent, 3 answers", s)
	}
	// A new round of pr: the same MAC is reported again; pr2's round
	// goes on, where it was heard already.
	c4.push(t, arpReplyFrame(peerMAC, vip4), 3)
	c4.sync(t)
	if g := took(); len(g) != 1 || g[0] != "a "+peerMAC.String() {
		t.Errorf("next round OnAnswer %q, want pr's only", g)
	}
	heard, _ = pr.Send()
	if len(heard) != 1 {
		t.Errorf("heard %v", heard)
	}
	// A quiet round.
	if heard, _ = pr.Send(); heard != nil {
		t.Errorf("quiet round heard %v", heard)
	}
	pr2.Close()
	pr2.Close()
	c4.push(t, arpReplyFrame(peerMAC, vip4), 3)
	c4.sync(t)
	if g := took(); len(g) != 1 || g[0] != "a "+peerMAC.String() {
		t.Errorf("after closing b: %q", g)
	}
	if _, err := pr2.Send(); !errors.Is(err, ErrProberClosed) {
		t.Errorf("Send on a closed probe: %v", err)
	}

	// IPv6 on the other connection.
	pr6, err := p.Add(ProbeTarget{IfIndex: 3, Addr: vip6, HardwareAddr: hostMAC, LinkLocal: ll1, OnAnswer: cb("6")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr6.Send(); err != nil {
		t.Fatal(err)
	}
	want6, _ := MarshalNSProbe(hostMAC, ll1, vip6)
	if fs := c6.frames(); len(fs) != 1 || !bytes.Equal(fs[0].b, want6) {
		t.Errorf("IPv6 probe %x, want %x", fs, want6)
	}
	c6.push(t, naFrame(t, peerMAC, netip.MustParseAddr("fe80::99"), ll1, vip6, true, peerMAC), 3)
	c6.push(t, mangleChecksum(naFrame(t, other, netip.MustParseAddr("fe80::99"), ll1, vip6, true, other)), 3)
	c6.sync(t)
	if g := took(); len(g) != 1 || g[0] != "6 "+peerMAC.String() {
		t.Errorf("IPv6 answers %q", g)
	}
	if s := p.Stats(); s.Malformed != 1 {
		t.Errorf("malformed %d, want 1", s.Malformed)
	}

	// A send error is returned and counted.
	c4.mu.Lock()
	c4.err = errors.New("boom")
	c4.mu.Unlock()
	if _, err := pr.Send(); err == nil {
		t.Error("send error not returned")
	}
	if s := pr.Stats(); s.SendErrors != 1 {
		t.Errorf("send errors %d", s.SendErrors)
	}
	p.Close()
	if _, err := pr.Send(); !errors.Is(err, ErrProberClosed) {
		t.Errorf("Send after the Prober's Close: %v", err)
	}
	if _, err := p.Add(ProbeTarget{IfIndex: 3, Addr: vip4, HardwareAddr: hostMAC}); !errors.Is(err, ErrProberClosed) {
		t.Errorf("Add after Close: %v", err)
	}
}

func mangleChecksum(b []byte) []byte { b[56] ^= 0x55; return b }

func TestProberAddErrors(t *testing.T) {
	p := NewProberConn(ProberConfig{}, newFakeProbeConn(), nil)
	defer p.Close()
	for _, tc := range []struct {
		name string
		t    ProbeTarget
		err  error
	}{
		{"no interface", ProbeTarget{Addr: vip4, HardwareAddr: hostMAC}, ErrBadProbeTarget},
		{"no address", ProbeTarget{IfIndex: 1, HardwareAddr: hostMAC}, ErrBadProbeTarget},
		{"multicast", ProbeTarget{IfIndex: 1, Addr: netip.MustParseAddr("224.0.0.18"), HardwareAddr: hostMAC}, ErrBadProbeTarget},
		{"unspecified", ProbeTarget{IfIndex: 1, Addr: netip.IPv4Unspecified(), HardwareAddr: hostMAC}, ErrBadProbeTarget},
		{"no MAC", ProbeTarget{IfIndex: 1, Addr: vip4}, ErrBadProbeTarget},
		{"bad own MAC", ProbeTarget{IfIndex: 1, Addr: vip4, HardwareAddr: hostMAC, Own: []net.HardwareAddr{{1}}}, ErrBadProbeTarget},
		{"no IPv6 connection", ProbeTarget{IfIndex: 1, Addr: vip6, HardwareAddr: hostMAC}, ErrUnsupported},
	} {
		if _, err := p.Add(tc.t); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	// A v4-mapped address is probed as IPv4.
	pr, err := p.Add(ProbeTarget{IfIndex: 1, Addr: netip.MustParseAddr("::ffff:192.0.2.10"), HardwareAddr: hostMAC})
	if err != nil || pr.Addr() != vip4 {
		t.Errorf("v4-mapped: %v %v", pr, err)
	}
}

// TestProbeAllocs: sending a probe and dropping frames that are not a
// second responder's answer allocate nothing (the hot path of a quiet
// link).
func TestProbeAllocs(t *testing.T) {
	c4 := newFakeProbeConn()
	p := NewProberConn(ProberConfig{}, c4, nil)
	defer p.Close()
	pr, err := p.Add(ProbeTarget{IfIndex: 3, Addr: vip4, HardwareAddr: hostMAC, OnAnswer: func(net.HardwareAddr) {}})
	if err != nil {
		t.Fatal(err)
	}
	nop := nopProbeConn{}
	p.mu.Lock()
	p.conns[0] = nop // sending into the void: the fake's capture allocates
	p.mu.Unlock()
	if n := testing.AllocsPerRun(100, func() { _, _ = pr.Send() }); n != 0 {
		t.Errorf("Send allocates %v times", n)
	}
	own := arpReplyFrame(hostMAC, vip4)
	unknown := arpReplyFrame(peerMAC, netip.MustParseAddr("192.0.2.99"))
	request := arpRequest(1, vip4, vip4)
	na := naFrame(t, peerMAC, netip.MustParseAddr("fe80::99"), ll1, vip6, true, peerMAC)
	bad := mangleChecksum(bytes.Clone(na))
	for name, f := range map[string][]byte{"own answer": own, "other address": unknown, "request": request, "NA not probed": na, "bad NA": bad} {
		if n := testing.AllocsPerRun(100, func() { p.handle(f, 3) }); n != 0 {
			t.Errorf("%s: handle allocates %v times", name, n)
		}
	}
	c4.Close()
}

type nopProbeConn struct{}

func (nopProbeConn) ReadFrame([]byte) (int, int, error) { return 0, 0, net.ErrClosed }
func (nopProbeConn) WriteFrame([]byte, int) error       { return nil }
func (nopProbeConn) Close() error                       { return nil }

// FuzzProbeAnswer feeds arbitrary frames to the answer parser: it must
// not panic, and what it accepts must be an ARP reply or a valid NA
// binding the address it returns to a unicast MAC.
func FuzzProbeAnswer(f *testing.F) {
	f.Add(arpReplyFrame(peerMAC, vip4))
	f.Add(naFrame(f, peerMAC, netip.MustParseAddr("fe80::99"), ll1, vip6, true, peerMAC))
	f.Add(naFrame(f, peerMAC, netip.MustParseAddr("fe80::99"), allNodes, vip6, false, nil))
	f.Add(arpRequest(1, netip.IPv4Unspecified(), vip4))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		addr, mac, err := parseProbeAnswer(b)
		if err != nil {
			if !errors.Is(err, errMalformed) && !errors.Is(err, errNotForUs) {
				t.Fatalf("error %v is neither malformed nor not-for-us", err)
			}
			return
		}
		if !validAnswerMAC(mac) || !addr.IsValid() || addr.IsUnspecified() {
			t.Fatalf("accepted %x: %v %x", b, addr, mac)
		}
		switch binary.BigEndian.Uint16(b[12:14]) {
		case etherTypeARP:
			if b[21] != 2 || !addr.Is4() || !bytes.Equal(b[22:28], mac[:]) || !bytes.Equal(b[28:32], addr.AsSlice()) {
				t.Fatalf("accepted ARP %x as %v %x", b, addr, mac)
			}
		case etherTypeIPv6:
			plen := int(binary.BigEndian.Uint16(b[18:20]))
			src, dst := netip.AddrFrom16([16]byte(b[22:38])), netip.AddrFrom16([16]byte(b[38:54]))
			if b[21] != 255 || b[54] != icmpTypeNA || refChecksum(src, dst, b[54:54+plen]) != 0 || addr.IsMulticast() ||
				!bytes.Equal(b[54+8:54+24], addr.AsSlice()) {
				t.Fatalf("accepted NA %x as %v", b, addr)
			}
		default:
			t.Fatalf("accepted EtherType %x", b[12:14])
		}
	})
}

// TestProberInterfaceLookup: ProberConfig.Interface fills in what a
// target lacks.
func TestProberInterfaceLookup(t *testing.T) {
	c6 := newFakeProbeConn()
	p := NewProberConn(ProberConfig{Interface: func(i int) (Interface, error) {
		if i != 3 {
			return Interface{}, errors.New("no such interface")
		}
		return Interface{Name: "eth0", Index: 3, HardwareAddr: hostMAC, LinkLocal: ll1}, nil
	}}, nil, c6)
	defer p.Close()
	pr, err := p.Add(ProbeTarget{IfIndex: 3, Addr: vip6})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Send(); err != nil {
		t.Fatal(err)
	}
	want, _ := MarshalNSProbe(hostMAC, ll1, vip6)
	if fs := c6.frames(); len(fs) != 1 || !bytes.Equal(fs[0].b, want) {
		t.Errorf("sent %x, want %x", fs, want)
	}
	if _, err := p.Add(ProbeTarget{IfIndex: 4, Addr: vip6}); err == nil {
		t.Error("unknown interface: no error")
	}
}

// BenchmarkProberRound: one round over 4096 addresses on 4096 interfaces
// (Send each), then an answer from our own MAC and one that is not an
// answer for each: the per-address cost of probing thousands of links
// through the Prober's two sockets (here a connection that discards).
func BenchmarkProberRound(b *testing.B) {
	p := NewProberConn(ProberConfig{}, nopProbeConn{}, nil)
	defer p.Close()
	const n = 4096
	prs := make([]*Probe, n)
	own := make([][]byte, n)
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
		pr, err := p.Add(ProbeTarget{IfIndex: i + 1, Addr: a, HardwareAddr: hostMAC, OnAnswer: func(net.HardwareAddr) {}})
		if err != nil {
			b.Fatal(err)
		}
		prs[i] = pr
		own[i] = arpReplyFrame(hostMAC, a)
	}
	other := arpRequest(1, vip4, vip4)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i, pr := range prs {
			_, _ = pr.Send()
			p.handle(own[i], i+1)
			p.handle(other, i+1)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/address")
}
