package packet_test

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/govrrp/govrrp/packet"
)

// ts is the capture time of the packets tests write.
var ts = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func addrs(s ...string) []netip.Addr {
	var as []netip.Addr
	for _, a := range s {
		as = append(as, netip.MustParseAddr(a))
	}
	return as
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// ipPacket wraps a VRRP message in an IPv4 or IPv6 header with TTL / hop
// limit 255 and protocol 112. The IPv4 header checksum is left zero
// (tshark does not verify it by default).
func ipPacket(src, dst netip.Addr, msg []byte) []byte {
	if src.Is4() {
		h := make([]byte, 20, 20+len(msg))
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(msg)))
		h[8], h[9] = 255, packet.Protocol
		s, d := src.As4(), dst.As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		return append(h, msg...)
	}
	h := make([]byte, 40, 40+len(msg))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(msg)))
	h[6], h[7] = packet.Protocol, 255
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, msg...)
}
