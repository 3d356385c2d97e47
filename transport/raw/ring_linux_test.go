//go:build linux

package raw

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/govrrp/govrrp/transport"
	"golang.org/x/sys/unix"
)

var (
	ringSrc6 = netip.MustParseAddr("fe80::1")
	ringSrc4 = netip.MustParseAddr("10.99.0.1")
)

// ipv6Packet returns an IPv6 packet from ringSrc6 to groupV6, hop limit
// 255, whose first next header is next, followed by ext and payload.
func ipv6Packet(next byte, ext, payload []byte) []byte {
	p := make([]byte, 40, 40+len(ext)+len(payload))
	p[0] = 6 << 4
	binary.BigEndian.PutUint16(p[4:6], uint16(len(ext)+len(payload)))
	p[6], p[7] = next, 255
	copy(p[8:24], ringSrc6.AsSlice())
	copy(p[24:40], groupV6.AsSlice())
	return append(append(p, ext...), payload...)
}

// fragHeader is an IPv6 Fragment header (RFC 8200 section 4.5): next
// header, reserved, fragment offset (in 8-octet units) with M, an
// identification.
func fragHeader(next byte, offset uint16, more bool, res byte) []byte {
	v := offset<<3 | uint16(res&3)<<1
	if more {
		v |= 1
	}
	h := []byte{next, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef}
	binary.BigEndian.PutUint16(h[2:4], v)
	return h
}

// TestParseIPv6 checks what the ring delivers of IPv6 packets: an atomic
// fragment (offset 0, M = 0) is a whole packet, as on the protocol-112
// socket (RFC 8200 section 4.5, RFC 6946); a real fragment is dropped.
func TestParseIPv6(t *testing.T) {
	dstOpts := []byte{unix.IPPROTO_FRAGMENT, 0, 1, 4, 0, 0, 0, 0} // PadN, next: Fragment
	for _, c := range []struct {
		name string
		pkt  []byte
		ok   bool
	}{
		{"plain", ipv6Packet(vrrpProto, nil, vecC), true},
		{"atomic fragment", ipv6Packet(unix.IPPROTO_FRAGMENT, fragHeader(vrrpProto, 0, false, 0), vecC), true},
		{"atomic fragment, reserved bits set", ipv6Packet(unix.IPPROTO_FRAGMENT, fragHeader(vrrpProto, 0, false, 3), vecC), true},
		{"destination options, atomic fragment", ipv6Packet(unix.IPPROTO_DSTOPTS, append(dstOpts, fragHeader(vrrpProto, 0, false, 0)...), vecC), true},
		{"first fragment (M = 1)", ipv6Packet(unix.IPPROTO_FRAGMENT, fragHeader(vrrpProto, 0, true, 0), vecC), false},
		{"last fragment (offset 1)", ipv6Packet(unix.IPPROTO_FRAGMENT, fragHeader(vrrpProto, 1, false, 0), vecC), false},
		{"middle fragment", ipv6Packet(unix.IPPROTO_FRAGMENT, fragHeader(vrrpProto, 8191, true, 0), vecC), false},
		{"atomic fragment of another protocol", ipv6Packet(unix.IPPROTO_FRAGMENT, fragHeader(unix.IPPROTO_UDP, 0, false, 0), vecC), false},
		{"truncated fragment header", ipv6Packet(unix.IPPROTO_FRAGMENT, fragHeader(vrrpProto, 0, false, 0)[:7], nil), false},
		{"not VRRP", ipv6Packet(unix.IPPROTO_UDP, nil, vecC), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			payload, m, ok := parseIPv6(c.pkt)
			if ok != c.ok {
				t.Fatalf("parseIPv6 ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if !bytes.Equal(payload, vecC) {
				t.Errorf("payload %x, want %x", payload, vecC)
			}
			if m.Src != ringSrc6 || m.Dst != groupV6 || m.TTL != 255 {
				t.Errorf("meta %+v, want %v -> %v, hop limit 255", m, ringSrc6, groupV6)
			}
		})
	}
}

// ipv4Packet returns an IPv4 packet from ringSrc4 to groupV4, TTL 255,
// protocol 112, with the flags and fragment offset field frag.
func ipv4Packet(frag uint16, payload []byte) []byte {
	p := make([]byte, 20, 20+len(payload))
	p[0] = 4<<4 | 5
	binary.BigEndian.PutUint16(p[2:4], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(p[6:8], frag)
	p[8], p[9] = 255, vrrpProto
	copy(p[12:16], ringSrc4.AsSlice())
	copy(p[16:20], groupV4.AsSlice())
	return append(p, payload...)
}

// TestParseIPv4: DF is no fragment; MF or an offset is.
func TestParseIPv4(t *testing.T) {
	for _, c := range []struct {
		name string
		frag uint16
		ok   bool
	}{
		{"no flags", 0, true},
		{"DF", 0x4000, true},
		{"MF", 0x2000, false},
		{"offset", 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			payload, m, ok := parseIPv4(ipv4Packet(c.frag, vecA))
			if ok != c.ok {
				t.Fatalf("parseIPv4 ok = %v, want %v", ok, c.ok)
			}
			if ok && (!bytes.Equal(payload, vecA) || m.Src != ringSrc4 || m.Dst != groupV4 || m.TTL != 255) {
				t.Errorf("parseIPv4 = %x, %+v", payload, m)
			}
		})
	}
}

// FuzzParseIP: no input makes the ring's parsers panic or return a
// message outside the packet.
func FuzzParseIP(f *testing.F) {
	f.Add(ipv6Packet(unix.IPPROTO_FRAGMENT, fragHeader(vrrpProto, 0, false, 0), vecC))
	f.Add(ipv6Packet(unix.IPPROTO_HOPOPTS, []byte{unix.IPPROTO_FRAGMENT, 0, 1, 4, 0, 0, 0, 0}, vecC))
	f.Add(ipv4Packet(0x4000, vecA))
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, parse := range []func([]byte) ([]byte, transport.Meta, bool){parseIPv4, parseIPv6} {
			payload, _, ok := parse(p)
			if ok && (len(payload) > len(p) || (len(payload) > 0 && !bytes.Contains(p, payload))) {
				t.Fatalf("payload %x not in the packet %x", payload, p)
			}
		}
	})
}
