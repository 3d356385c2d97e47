package packet

import (
	"encoding/binary"
	"net/netip"
)

// This file holds the Internet checksum of RFC 1071 as VRRP uses it: RFC
// 3768 section 5.3.8 (VRRPv2, the message only) and RFC 9568 section 5.2.8
// (VRRPv3, with the pseudo-header of RFC 8200 section 8.1 over IPv6 and, as
// keepalived and FRR read RFC 5798, of RFC 768 over IPv4).
//
// The sum is accumulated as 32-bit words (RFC 1071 section 2: the sum of
// 32-bit words folded to 16 bits equals the 16-bit one's complement sum)
// into a 64-bit accumulator, and folded to 16 bits once at the end
// ("deferred carries"). Unmarshal and Append add the words as they decode
// or encode the fields, so the message is not read twice. VRRP messages
// are at most 8+255*16+8 bytes, so the accumulator cannot overflow.

// sum64 returns the sum of a 64-bit big-endian word as two 32-bit words.
func sum64(x uint64) uint64 { return x>>32 + x&0xffffffff }

// fold reduces a 64-bit accumulation to the 16-bit one's complement sum.
func fold(acc uint64) uint16 {
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	return uint16(acc)
}

// pseudoSum4 and pseudoSum6 return the sum of the IPv4 or IPv6
// pseudo-header for a VRRP message of length n: for IPv4 (RFC 768) source,
// destination, a zero byte, protocol 112 and the 16-bit length; for IPv6
// (RFC 8200 section 8.1) source, destination, the 32-bit length, three zero
// bytes and next header 112. A zero (invalid) address contributes zero
// bytes; both addresses must already be of the family or zero.
func pseudoSum4(src, dst netip.Addr, n int) uint64 {
	acc := uint64(Protocol) + uint64(n)
	if src.IsValid() {
		s := src.As4()
		acc += uint64(binary.BigEndian.Uint32(s[:]))
	}
	if dst.IsValid() {
		d := dst.As4()
		acc += uint64(binary.BigEndian.Uint32(d[:]))
	}
	return acc
}

// pseudoSum6: see pseudoSum4.
func pseudoSum6(src, dst netip.Addr, n int) uint64 {
	acc := uint64(Protocol) + uint64(n)
	if src.IsValid() {
		hi, lo := addr16(src)
		acc += sum64(hi) + sum64(lo)
	}
	switch {
	case dst == GroupIPv6:
		// The usual destination: its sum is a constant.
		acc += groupIPv6Sum
	case dst.IsValid():
		hi, lo := addr16(dst)
		acc += sum64(hi) + sum64(lo)
	}
	return acc
}

// groupIPv6Sum is the checksum sum of ff02::12, the destination of every
// multicast VRRP advertisement over IPv6.
var groupIPv6Sum = func() uint64 {
	hi, lo := addr16(GroupIPv6)
	return sum64(hi) + sum64(lo)
}()

// sum16 returns the sum of a 16-byte address as four 32-bit words.
func sum16(a *[16]byte) uint64 {
	return sum64(binary.BigEndian.Uint64(a[:8])) + sum64(binary.BigEndian.Uint64(a[8:]))
}

// addr16 returns the 16 bytes of an IPv6 address as two big-endian words;
// a must be an IPv6 address (its zone, if any, is not part of the result).
//
// It goes through AsSlice, which the compiler inlines and keeps on the
// stack: two 8-byte stores read back by two 8-byte loads, which the CPU
// forwards. As16 is slower: its array result is copied with one 16-byte
// load from the two 8-byte stores, a store-forwarding stall (about 12 ns
// against 3 here, measured with the two forms side by side). AppendBinary
// into a stack buffer avoids the stall too but also looks up the zone and
// checks capacity three times.
func addr16(a netip.Addr) (hi, lo uint64) {
	s := a.AsSlice()
	return binary.BigEndian.Uint64(s[:8]), binary.BigEndian.Uint64(s[8:16])
}
