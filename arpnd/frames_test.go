package arpnd

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/ndp"
)

var (
	hostMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	peerMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}
	vip4    = netip.MustParseAddr("192.0.2.10")
	vip6    = netip.MustParseAddr("2001:db8::10")
	ll1     = netip.MustParseAddr("fe80::1")
)

// join concatenates wire fields.
func join(fields ...[]byte) []byte { return bytes.Join(fields, nil) }

// refChecksum is an independent RFC 1071 sum over the IPv6 pseudo-header
// (RFC 8200 section 8.1) and msg, written from the RFCs for the tests.
func refChecksum(src, dst netip.Addr, msg []byte) uint16 {
	s, d := src.As16(), dst.As16()
	var ph []byte
	ph = append(ph, s[:]...)
	ph = append(ph, d[:]...)
	ph = binary.BigEndian.AppendUint32(ph, uint32(len(msg)))
	ph = append(ph, 0, 0, 0, 58)
	ph = append(ph, msg...)
	if len(ph)%2 == 1 {
		ph = append(ph, 0)
	}
	var sum uint64
	for i := 0; i < len(ph); i += 2 {
		sum += uint64(binary.BigEndian.Uint16(ph[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// TestRefChecksumKeepalivedCapture checks the reference checksum against
// the unsolicited NA keepalived 2.2.7 sent (shared/captures, frame 11 of
// keepalived-v2-v3-ipv4-ipv6-handover.pcap): the message with its
// checksum field must sum to zero.
func TestRefChecksumKeepalivedCapture(t *testing.T) {
	frame, err := hex.DecodeString(strings.Join([]string{
		"333300000001", "020000000001", "86dd",
		"60000000", "0020", "3a", "ff",
		"fd990000000000000000000000000100",
		"ff020000000000000000000000000001",
		"8800576b", "20000000", "fd990000000000000000000000000100", "0201020000000001",
	}, ""))
	if err != nil {
		t.Fatal(err)
	}
	src, dst := netip.AddrFrom16([16]byte(frame[22:38])), netip.AddrFrom16([16]byte(frame[38:54]))
	if got := refChecksum(src, dst, frame[54:]); got != 0 {
		t.Fatalf("refChecksum over keepalived's NA = %#04x, want 0", got)
	}
	if got := icmpv6Checksum(src, dst, frame[54:]); got != 0 {
		t.Fatalf("icmpv6Checksum over keepalived's NA = %#04x, want 0", got)
	}
}

func TestVirtualMAC(t *testing.T) {
	tests := []struct {
		vrid uint8
		v6   bool
		want string
	}{
		{1, false, "00:00:5e:00:01:01"},
		{7, false, "00:00:5e:00:01:07"},
		{255, false, "00:00:5e:00:01:ff"},
		{1, true, "00:00:5e:00:02:01"},
		{52, true, "00:00:5e:00:02:34"},
	}
	for _, tt := range tests {
		if got := VirtualMAC(tt.vrid, tt.v6).String(); got != tt.want {
			t.Errorf("VirtualMAC(%d, %v) = %s, want %s", tt.vrid, tt.v6, got, tt.want)
		}
	}
}

func TestMarshalGratuitousARP(t *testing.T) {
	vmac := VirtualMAC(7, false)
	got, err := MarshalGratuitousARP(vmac, vip4)
	if err != nil {
		t.Fatal(err)
	}
	want := join(
		// Ethernet
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // destination: broadcast
		[]byte{0x00, 0x00, 0x5e, 0x00, 0x01, 0x07}, // source: virtual MAC, VRID 7
		[]byte{0x08, 0x06},                         // EtherType ARP
		// ARP (RFC 826)
		[]byte{0x00, 0x01}, // hardware type Ethernet
		[]byte{0x08, 0x00}, // protocol type IPv4
		[]byte{0x06},       // hardware address length
		[]byte{0x04},       // protocol address length
		[]byte{0x00, 0x01}, // operation: request
		[]byte{0x00, 0x00, 0x5e, 0x00, 0x01, 0x07}, // sender hardware address
		[]byte{192, 0, 2, 10},                      // sender IP: the virtual address
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // target hardware address: broadcast, as keepalived
		[]byte{192, 0, 2, 10},                      // target IP: the virtual address
		make([]byte, 18),                           // padding to the 60-byte minimum frame
	)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gratuitous ARP mismatch (-want +got):\n%s", diff)
	}
	checkFrame(t, "gratuitous ARP", garpFields(vmac, vip4), want)
	checkFrame(t, "gratuitous ARP", garpFields(vmac, vip4), got)

	if _, err := MarshalGratuitousARP(vmac, vip6); !errors.Is(err, ErrNotIPv4) {
		t.Errorf("IPv6 address: err = %v, want ErrNotIPv4", err)
	}
	if _, err := MarshalGratuitousARP(net.HardwareAddr{1, 2, 3}, vip4); !errors.Is(err, ErrBadMAC) {
		t.Errorf("short MAC: err = %v, want ErrBadMAC", err)
	}
}

func TestMarshalUnsolicitedNA(t *testing.T) {
	vmac := VirtualMAC(7, true)
	got, err := MarshalUnsolicitedNA(vmac, ll1, vip6)
	if err != nil {
		t.Fatal(err)
	}
	want := join(
		// Ethernet
		[]byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, // destination: ff02::1 (RFC 2464 section 7)
		[]byte{0x00, 0x00, 0x5e, 0x00, 0x02, 0x07}, // source: virtual MAC (IPv6), VRID 7
		[]byte{0x86, 0xdd},                         // EtherType IPv6
		// IPv6 (RFC 8200)
		[]byte{0x60, 0x00, 0x00, 0x00}, // version 6, traffic class 0, flow label 0
		[]byte{0x00, 0x20},             // payload length 32
		[]byte{0x3a},                   // next header ICMPv6
		[]byte{0xff},                   // hop limit 255 (RFC 4861 section 7.1.2)
		[]byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}, // source fe80::1
		[]byte{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}, // destination ff02::1
		// ICMPv6 Neighbor Advertisement (RFC 4861 section 4.4)
		[]byte{0x88},                   // type 136
		[]byte{0x00},                   // code 0
		[]byte{0x4a, 0x4d},             // checksum, computed independently (Python, RFC 1071)
		[]byte{0xa0, 0x00, 0x00, 0x00}, // R=1 S=0 O=1, reserved
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}, // target 2001:db8::10
		// Target Link-Layer Address option (RFC 4861 section 4.6.1)
		[]byte{0x02}, // type 2: target link-layer address
		[]byte{0x01}, // length 1 (8 bytes)
		[]byte{0x00, 0x00, 0x5e, 0x00, 0x02, 0x07}, // the virtual MAC
	)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unsolicited NA mismatch (-want +got):\n%s", diff)
	}
	checkFrame(t, "unsolicited NA", unsolicitedNAFields(vmac, ll1, vip6), want)
	checkFrame(t, "unsolicited NA", unsolicitedNAFields(vmac, ll1, vip6), got)
	icmp := got[ethHeaderLen+ipv6HeaderLen:]
	if c := refChecksum(ll1, allNodes, icmp); c != 0 {
		t.Errorf("ICMPv6 checksum does not verify: residue %#04x", c)
	}
	m, err := ndp.ParseMessage(icmp)
	if err != nil {
		t.Fatal(err)
	}
	wantNA := &ndp.NeighborAdvertisement{Router: true, Override: true, TargetAddress: vip6,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: vmac}}}
	if diff := cmp.Diff(wantNA, m, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("parsed NA mismatch (-want +got):\n%s", diff)
	}

	if _, err := MarshalUnsolicitedNA(vmac, ll1, vip4); err == nil {
		t.Error("IPv4 target: no error")
	}
	if _, err := MarshalUnsolicitedNA(vmac, vip4, vip6); !errors.Is(err, ErrNotIPv6) {
		t.Errorf("IPv4 source: err = %v, want ErrNotIPv6", err)
	}
}

// arpRequest returns the frame of an ARP request from peerMAC/spa for tpa.
func arpRequest(op byte, spa, tpa netip.Addr) []byte {
	return join(
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, peerMAC, []byte{0x08, 0x06},
		[]byte{0, 1, 0x08, 0x00, 6, 4, 0, op}, peerMAC, spa.AsSlice(), make([]byte, 6), tpa.AsSlice(),
		make([]byte, 18),
	)
}

func answerFor(ip netip.Addr, mac net.HardwareAddr) func(netip.Addr) (net.HardwareAddr, bool) {
	return func(a netip.Addr) (net.HardwareAddr, bool) { return mac, a == ip }
}

func TestARPReply(t *testing.T) {
	vmac := VirtualMAC(7, false)
	peer := netip.MustParseAddr("192.0.2.99")
	got, target, err := arpReply(arpRequest(1, peer, vip4), answerFor(vip4, vmac))
	if err != nil {
		t.Fatal(err)
	}
	if target != vip4 {
		t.Errorf("target = %v, want %v", target, vip4)
	}
	want := join(
		// Ethernet
		[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}, // destination: the requester
		[]byte{0x00, 0x00, 0x5e, 0x00, 0x01, 0x07}, // source: virtual MAC
		[]byte{0x08, 0x06},                         // EtherType ARP
		// ARP
		[]byte{0x00, 0x01},                         // hardware type Ethernet
		[]byte{0x08, 0x00},                         // protocol type IPv4
		[]byte{0x06, 0x04},                         // address lengths
		[]byte{0x00, 0x02},                         // operation: reply
		[]byte{0x00, 0x00, 0x5e, 0x00, 0x01, 0x07}, // sender hardware address: virtual MAC
		[]byte{192, 0, 2, 10},                      // sender IP: the virtual address
		[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}, // target hardware address: the requester
		[]byte{192, 0, 2, 99},                      // target IP: the requester
		make([]byte, 18),                           // padding
	)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ARP reply mismatch (-want +got):\n%s", diff)
	}
	wantFields := arpFields(peerMAC, vmac, 2, vmac, vip4, peerMAC, peer)
	checkFrame(t, "ARP reply", wantFields, want)
	checkFrame(t, "ARP reply", wantFields, got)

	other := netip.MustParseAddr("192.0.2.11")
	for _, tt := range []struct {
		name  string
		frame []byte
		want  error
	}{
		{"other address", arpRequest(1, peer, other), errNotForUs},
		{"reply", arpRequest(2, peer, vip4), errNotForUs},
		{"gratuitous", arpRequest(1, vip4, vip4), errNotForUs},
		{"short", arpRequest(1, peer, vip4)[:20], errMalformed},
		{"not ethernet/ipv4", func() []byte { b := arpRequest(1, peer, vip4); b[15] = 6; return b }(), errMalformed},
	} {
		if _, _, err := arpReply(tt.frame, answerFor(vip4, vmac)); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}

	// An RFC 5227 probe (sender IP 0.0.0.0) is answered, to defend.
	got, _, err = arpReply(arpRequest(1, netip.IPv4Unspecified(), vip4), answerFor(vip4, vmac))
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	checkFrame(t, "probe reply", arpFields(peerMAC, vmac, 2, vmac, vip4, peerMAC, netip.IPv4Unspecified()), got)
}

// nsFrame builds a Neighbor Solicitation from src to dst for target, with
// a source link-layer option when sll is set.
func nsFrame(t testing.TB, src, dst, target netip.Addr, sll net.HardwareAddr) []byte {
	t.Helper()
	ns := &ndp.NeighborSolicitation{TargetAddress: target}
	if sll != nil {
		ns.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: sll}}
	}
	dmac := hostMAC
	if dst.IsMulticast() {
		dmac = multicastMAC(dst)
	}
	b, err := marshalND(dmac, peerMAC, src, dst, ns)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNAReply(t *testing.T) {
	vmac := VirtualMAC(7, true)
	peer := netip.MustParseAddr("fe80::99")
	sn := solicitedNode(vip6)
	if want := netip.MustParseAddr("ff02::1:ff00:10"); sn != want {
		t.Fatalf("solicitedNode(%v) = %v, want %v", vip6, sn, want)
	}
	got, target, err := naReply(nsFrame(t, peer, sn, vip6, peerMAC), answerFor(vip6, vmac))
	if err != nil {
		t.Fatal(err)
	}
	if target != vip6 {
		t.Errorf("target = %v", target)
	}
	want := join(
		// Ethernet
		[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}, // destination: the solicitor's link-layer address
		[]byte{0x00, 0x00, 0x5e, 0x00, 0x02, 0x07}, // source: virtual MAC
		[]byte{0x86, 0xdd},                         // EtherType IPv6
		// IPv6
		[]byte{0x60, 0x00, 0x00, 0x00}, // version 6
		[]byte{0x00, 0x20},             // payload length 32
		[]byte{0x3a},                   // next header ICMPv6
		[]byte{0xff},                   // hop limit 255
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}, // source: the target, as Linux sends it
		[]byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99},       // destination: the solicitor
		// ICMPv6 Neighbor Advertisement
		[]byte{0x88, 0x00},             // type 136, code 0
		[]byte{0xda, 0xef},             // checksum, computed independently (Python, RFC 1071)
		[]byte{0xe0, 0x00, 0x00, 0x00}, // R=1 S=1 O=1
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}, // target
		[]byte{0x02, 0x01},                         // target link-layer address option, 8 bytes
		[]byte{0x00, 0x00, 0x5e, 0x00, 0x02, 0x07}, // the virtual MAC
	)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("solicited NA mismatch (-want +got):\n%s", diff)
	}
	wantFields := naFields(peerMAC, vmac, vip6, peer, vip6, true)
	checkFrame(t, "solicited NA", wantFields, want)
	checkFrame(t, "solicited NA", wantFields, got)
	if c := refChecksum(vip6, peer, got[54:]); c != 0 {
		t.Errorf("checksum residue %#04x", c)
	}

	// Without a source link-layer option: to the frame's source MAC.
	got, _, err = naReply(nsFrame(t, peer, sn, vip6, nil), answerFor(vip6, vmac))
	if err != nil {
		t.Fatal(err)
	}
	checkFrame(t, "reply to an NS without SLLA", naFields(peerMAC, vmac, vip6, peer, vip6, true), got)

	// DAD (source ::): to ff02::1, Solicited clear.
	got, _, err = naReply(nsFrame(t, netip.IPv6Unspecified(), sn, vip6, nil), answerFor(vip6, vmac))
	if err != nil {
		t.Fatal(err)
	}
	// Every field: from the virtual MAC and the target itself, to
	// ff02::1 (RFC 4861 section 7.2.4), hop limit 255, R=1 S=0 O=1, the
	// target, its link-layer address option, a valid checksum.
	checkFrame(t, "DAD reply", naFields(allNodesMAC, vmac, vip6, allNodes, vip6, false), got)

	good := nsFrame(t, peer, sn, vip6, peerMAC)
	mut := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	for _, tt := range []struct {
		name  string
		frame []byte
		want  error
	}{
		{"other target", nsFrame(t, peer, sn, netip.MustParseAddr("2001:db8::11"), peerMAC), errNotForUs},
		{"hop limit 64", mut(func(b []byte) { b[21] = 64 }), errMalformed},
		{"bad checksum", mut(func(b []byte) { b[56] ^= 0xff }), errMalformed},
		{"code 1", mut(func(b []byte) { b[55] = 1 }), errMalformed},
		{"truncated", good[:70], errMalformed},
		{"not ICMPv6", mut(func(b []byte) { b[20] = 17 }), errNotForUs},
		{"DAD with SLLA", nsFrame(t, netip.IPv6Unspecified(), sn, vip6, peerMAC), errMalformed},
		{"DAD not to solicited-node", nsFrame(t, netip.IPv6Unspecified(), allNodes, vip6, nil), errMalformed},
		{"unsolicited NA", func() []byte { b, _ := MarshalUnsolicitedNA(peerMAC, peer, vip6); return b }(), errNotForUs},
		{"ARP", arpRequest(1, vip4, vip4), errNotForUs},
	} {
		if _, _, err := naReply(tt.frame, answerFor(vip6, vmac)); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestMacvlanName(t *testing.T) {
	for _, tt := range []struct {
		idx  int
		vrid uint8
		v6   bool
		want string
	}{
		{2, 51, false, "vr4.2.51"},
		{2, 51, true, "vr6.2.51"},
		{9999999, 255, true, "vr6.9999999.255"},
	} {
		got, err := macvlanName(tt.idx, tt.vrid, tt.v6)
		if err != nil || got != tt.want {
			t.Errorf("macvlanName(%d, %d, %v) = %q, %v; want %q", tt.idx, tt.vrid, tt.v6, got, err, tt.want)
		}
		if len(got) > 15 {
			t.Errorf("%q longer than IFNAMSIZ-1", got)
		}
	}
	if _, err := macvlanName(10000000, 255, true); err == nil {
		t.Error("8-digit ifindex: no error")
	}
	if _, err := macvlanName(0, 1, false); err == nil {
		t.Error("ifindex 0: no error")
	}
}

// FuzzResponder feeds arbitrary frames to the responder's parsers: they
// must not panic, every reply they build must be a well-formed answer for
// the owned address, and every Router Solicitation accepted must be one.
func FuzzResponder(f *testing.F) {
	peer6 := netip.MustParseAddr("fe80::99")
	f.Add(arpRequest(1, netip.MustParseAddr("192.0.2.99"), vip4))
	f.Add(arpRequest(1, netip.IPv4Unspecified(), vip4))
	f.Add(nsFrame(f, peer6, solicitedNode(vip6), vip6, peerMAC))
	f.Add(nsFrame(f, netip.IPv6Unspecified(), solicitedNode(vip6), vip6, nil))
	f.Add(rsFrame(f, peer6, peerMAC))
	f.Add(rsFrame(f, netip.IPv6Unspecified(), nil))
	f.Add([]byte{})
	vmac4, vmac6 := VirtualMAC(7, false), VirtualMAC(7, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, ip, err := arpReply(b, answerFor(vip4, vmac4)); err == nil {
			if ip != vip4 || !bytes.Equal(r[6:12], vmac4) || r[21] != 2 || !bytes.Equal(r[28:32], vip4.AsSlice()) {
				t.Fatalf("bad ARP reply %x for %v", r, ip)
			}
		}
		if r, ip, err := naReply(b, answerFor(vip6, vmac6)); err == nil {
			if ip != vip6 || !bytes.Equal(r[6:12], vmac6) || r[54] != 136 {
				t.Fatalf("bad NA reply %x for %v", r, ip)
			}
			src, dst := netip.AddrFrom16([16]byte(r[22:38])), netip.AddrFrom16([16]byte(r[38:54]))
			if c := refChecksum(src, dst, r[54:]); c != 0 {
				t.Fatalf("NA reply checksum residue %#04x", c)
			}
		}
		if err := parseRS(b); err == nil {
			if !isICMPv6Type(b, icmpTypeRS) || b[21] != 255 {
				t.Fatalf("accepted %x as a router solicitation", b)
			}
			src, dst := netip.AddrFrom16([16]byte(b[22:38])), netip.AddrFrom16([16]byte(b[38:54]))
			plen := int(binary.BigEndian.Uint16(b[18:20]))
			if c := refChecksum(src, dst, b[54:54+plen]); c != 0 {
				t.Fatalf("accepted a router solicitation with checksum residue %#04x", c)
			}
		}
	})
}
