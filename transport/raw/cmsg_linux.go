//go:build linux

package raw

import (
	"encoding/binary"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rcvInfo is what the receive control messages carry.
type rcvInfo struct {
	ttl     int        // IP_TTL / IPV6_HOPLIMIT; -1 if absent
	dst     netip.Addr // IP_PKTINFO ipi_addr / IPV6_PKTINFO ipi6_addr
	ifIndex int        // IP_PKTINFO ipi_ifindex / IPV6_PKTINFO ipi6_ifindex
	time    time.Time  // SCM_TIMESTAMPNS; zero if absent
	drops   uint32     // SO_RXQ_OVFL: the socket's drops so far; 0 if absent
}

// longSize is the size of a C long.
const longSize = int(unsafe.Sizeof(uintptr(0)))

// parseCmsgs extracts the TTL or hop limit, the destination address, the
// interface index, the arrival time and the socket's drop count from the
// control messages of a received packet (IP_RECVTTL + IP_PKTINFO, or
// IPV6_RECVHOPLIMIT + IPV6_RECVPKTINFO, and SO_TIMESTAMPNS and
// SO_RXQ_OVFL where enabled). It
// does not allocate; unknown and malformed messages are ignored.
func parseCmsgs(oob []byte) rcvInfo {
	info := rcvInfo{ttl: -1}
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		oob = rest
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TTL && len(data) >= 4:
			info.ttl = int(int32(binary.NativeEndian.Uint32(data)))
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
			info.ifIndex = int(int32(binary.NativeEndian.Uint32(data)))
			info.dst = netip.AddrFrom4([4]byte(data[8:12]))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			info.ttl = int(int32(binary.NativeEndian.Uint32(data)))
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= 2*longSize:
			// struct timespec { long tv_sec; long tv_nsec; }
			if longSize == 8 {
				info.time = time.Unix(int64(binary.NativeEndian.Uint64(data)), int64(binary.NativeEndian.Uint64(data[8:])))
			} else {
				info.time = time.Unix(int64(int32(binary.NativeEndian.Uint32(data))), int64(int32(binary.NativeEndian.Uint32(data[4:]))))
			}
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			info.drops = binary.NativeEndian.Uint32(data)
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo { in6_addr ipi6_addr; int ipi6_ifindex; }
			info.dst = netip.AddrFrom16([16]byte(data[:16]))
			info.ifIndex = int(binary.NativeEndian.Uint32(data[16:20]))
		}
	}
	return info
}

// parseIPv4Header returns the header length, TTL, source and destination
// of the IPv4 header at the start of h (at least 20 bytes), or ok=false
// when it is not a well-formed IPv4 header within n received bytes.
func parseIPv4Header(h []byte, n int) (hlen, ttl int, src, dst netip.Addr, ok bool) {
	if n < 20 || len(h) < 20 || h[0]>>4 != 4 {
		return 0, 0, netip.Addr{}, netip.Addr{}, false
	}
	hlen = int(h[0]&0x0f) * 4
	if hlen < 20 || n < hlen {
		return 0, 0, netip.Addr{}, netip.Addr{}, false
	}
	return hlen, int(h[8]), netip.AddrFrom4([4]byte(h[12:16])), netip.AddrFrom4([4]byte(h[16:20])), true
}
