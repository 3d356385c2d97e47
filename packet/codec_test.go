package packet_test

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/packet"
)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func join(bs [][]byte) []byte { return bytes.Join(bs, nil) }

// vectors are field-by-field test vectors. A-D are the vectors of
// VECTORS.md (checksums computed independently; B, C and D are keepalived
// 2.2.7 packets from the captures), each in every form its version and
// family have. E was cross-checked with tshark (TestTsharkChecksum), F by
// an independent RFC 1071 sum.
var vectors = []struct {
	name     string
	src, dst netip.Addr
	form     packet.Checksum
	fields   [][]byte
	adv      packet.Advertisement
	info     packet.Info
}{
	{
		name: "A v3 IPv4 pseudo-header",
		src:  ip("192.168.0.220"), dst: ip("224.0.0.18"), form: packet.ChecksumPseudoHeader,
		fields: [][]byte{
			{0x31},       // version 3, type 1 (ADVERTISEMENT)
			{0xf0},       // VRID 240
			{0x64},       // priority 100
			{0x01},       // count IPvX addr 1
			{0x00, 0x64}, // reserved 0, max adver int 100 cs
			{0x06, 0x08}, // checksum with the IPv4 pseudo-header
			{192, 168, 0, 230},
		},
		adv:  packet.Advertisement{Version: 3, Type: 1, VRID: 240, Priority: 100, MaxAdvertInt: 100, Addrs: addrs("192.168.0.230"), Checksum: 0x0608},
		info: packet.Info{Checksum: packet.ChecksumPseudoHeader, Len: 12},
	},
	{
		name: "A v3 IPv4 message only",
		src:  ip("192.168.0.220"), dst: ip("224.0.0.18"), form: packet.ChecksumMessage,
		fields: [][]byte{
			{0x31}, {0xf0}, {0x64}, {0x01}, {0x00, 0x64},
			{0xa8, 0x1b}, // checksum over the message alone (RFC 9568 section 5.2.8)
			{192, 168, 0, 230},
		},
		adv:  packet.Advertisement{Version: 3, Type: 1, VRID: 240, Priority: 100, MaxAdvertInt: 100, Addrs: addrs("192.168.0.230"), Checksum: 0xa81b},
		info: packet.Info{Checksum: packet.ChecksumMessage, Len: 12},
	},
	{
		name: "B v3 IPv4 pseudo-header, 2 addresses",
		src:  ip("10.99.0.1"), dst: ip("224.0.0.18"), form: packet.ChecksumPseudoHeader,
		fields: [][]byte{
			{0x31},       // version 3, type 1
			{0x33},       // VRID 51
			{0x96},       // priority 150
			{0x02},       // count 2
			{0x00, 0x64}, // max adver int 100 cs
			{0x37, 0xe0}, // checksum, pseudo-header form
			{10, 99, 0, 100},
			{10, 99, 0, 101},
		},
		adv:  packet.Advertisement{Version: 3, Type: 1, VRID: 51, Priority: 150, MaxAdvertInt: 100, Addrs: addrs("10.99.0.100", "10.99.0.101"), Checksum: 0x37e0},
		info: packet.Info{Checksum: packet.ChecksumPseudoHeader, Len: 16},
	},
	{
		name: "B v3 IPv4 message only, 2 addresses",
		src:  ip("10.99.0.1"), dst: ip("224.0.0.18"), form: packet.ChecksumMessage,
		fields: [][]byte{
			{0x31}, {0x33}, {0x96}, {0x02}, {0x00, 0x64},
			{0x22, 0xd7}, // checksum, message-only form
			{10, 99, 0, 100},
			{10, 99, 0, 101},
		},
		adv:  packet.Advertisement{Version: 3, Type: 1, VRID: 51, Priority: 150, MaxAdvertInt: 100, Addrs: addrs("10.99.0.100", "10.99.0.101"), Checksum: 0x22d7},
		info: packet.Info{Checksum: packet.ChecksumMessage, Len: 16},
	},
	{
		name: "C v3 IPv6",
		src:  ip("fe80::ff:fe00:1"), dst: ip("ff02::12"), form: packet.ChecksumPseudoHeader,
		fields: [][]byte{
			{0x31},       // version 3, type 1
			{0x34},       // VRID 52
			{0x96},       // priority 150
			{0x01},       // count 1
			{0x00, 0x64}, // max adver int 100 cs
			{0x3c, 0xad}, // checksum with the IPv6 pseudo-header
			{0xfd, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00}, // fd99::100
		},
		adv: packet.Advertisement{Version: 3, Type: 1, VRID: 52, Priority: 150, MaxAdvertInt: 100, Addrs: addrs("fd99::100"), Checksum: 0x3cad},
		// keepalived sends no link-local address first.
		info: packet.Info{Checksum: packet.ChecksumPseudoHeader, Len: 24, NoLinkLocalFirst: true},
	},
	{
		name: "D v2 simple password",
		src:  ip("10.99.0.1"), dst: ip("224.0.0.18"), form: packet.ChecksumMessage,
		fields: [][]byte{
			{0x21},       // version 2, type 1
			{0x35},       // VRID 53
			{0x96},       // priority 150
			{0x01},       // count 1
			{0x01},       // auth type 1, simple text password
			{0x01},       // adver int 1 s
			{0xcf, 0xb2}, // checksum over the message
			{10, 99, 0, 102},
			[]byte("secret1\x00"), // authentication data
		},
		adv:  packet.Advertisement{Version: 2, Type: 1, VRID: 53, Priority: 150, MaxAdvertInt: 1, AuthType: packet.AuthPass, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1'}, Addrs: addrs("10.99.0.102"), Checksum: 0xcfb2},
		info: packet.Info{Checksum: packet.ChecksumMessage, Len: 20},
	},
	{
		name: "E v3 IPv6 link-local first",
		src:  ip("fe80::ff:fe00:1"), dst: ip("ff02::12"), form: packet.ChecksumPseudoHeader,
		fields: [][]byte{
			{0x31}, {0x34}, {0x96},
			{0x02},       // count 2
			{0x00, 0x64}, // 100 cs
			{0x3e, 0x1a}, // checksum
			{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01},    // fe80::1
			{0xfd, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00}, // fd99::100
		},
		adv:  packet.Advertisement{Version: 3, Type: 1, VRID: 52, Priority: 150, MaxAdvertInt: 100, Addrs: addrs("fe80::1", "fd99::100"), Checksum: 0x3e1a},
		info: packet.Info{Checksum: packet.ChecksumPseudoHeader, Len: 40},
	},
	{
		name: "F v2 no auth, owner, 3 addresses, 255 s",
		src:  ip("192.0.2.1"), dst: ip("224.0.0.18"), form: packet.ChecksumMessage,
		fields: [][]byte{
			{0x21},       // version 2, type 1
			{0x01},       // VRID 1
			{0xff},       // priority 255 (owner)
			{0x03},       // count 3
			{0x00},       // auth type 0
			{0xff},       // adver int 255 s
			{0x30, 0xbc}, // checksum
			{192, 0, 2, 1},
			{192, 0, 2, 2},
			{198, 51, 100, 7},
			{0, 0, 0, 0, 0, 0, 0, 0}, // authentication data
		},
		adv:  packet.Advertisement{Version: 2, Type: 1, VRID: 1, Priority: 255, MaxAdvertInt: 255, Addrs: addrs("192.0.2.1", "192.0.2.2", "198.51.100.7"), Checksum: 0x30bc},
		info: packet.Info{Checksum: packet.ChecksumMessage, Len: 28},
	},
}

func TestVectors(t *testing.T) {
	for _, tt := range vectors {
		t.Run(tt.name, func(t *testing.T) {
			wire := join(tt.fields)
			a, info, err := packet.Parse(wire, tt.src, tt.dst)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(&tt.adv, a, addrCmp); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.info, info); diff != "" {
				t.Errorf("Parse Info (-want +got):\n%s", diff)
			}

			in := tt.adv
			in.Checksum = 0
			in.Type = 0 // Append writes ADVERTISEMENT for 0
			prefix := []byte{0xaa, 0xbb}
			got, err := in.Append(prefix, tt.src, tt.dst, tt.form)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if diff := cmp.Diff(append([]byte{0xaa, 0xbb}, wire...), got); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
			if in.Checksum != tt.adv.Checksum {
				t.Errorf("Append set Checksum %#04x, want %#04x", in.Checksum, tt.adv.Checksum)
			}

			// ChecksumUnknown is the pseudo-header form for VRRPv3 and
			// the message form for VRRPv2.
			def, err := in.Append(nil, tt.src, tt.dst, packet.ChecksumUnknown)
			if err != nil {
				t.Fatalf("Append default form: %v", err)
			}
			if _, info, err := packet.Parse(def, tt.src, tt.dst); err != nil || (info.Checksum == packet.ChecksumPseudoHeader) != (tt.adv.Version == 3) {
				t.Errorf("default form parses as %v, %v", info.Checksum, err)
			}
		})
	}
}

// TestPadding checks that bytes after the message, such as Ethernet
// padding of a short frame, are ignored and never read as addresses.
func TestPadding(t *testing.T) {
	for _, tt := range vectors {
		t.Run(tt.name, func(t *testing.T) {
			for _, pad := range [][]byte{make([]byte, 14), bytes.Repeat([]byte{0xa5}, 16), {1, 2, 3}} {
				wire := append(join(tt.fields), pad...)
				a, info, err := packet.Parse(wire, tt.src, tt.dst)
				if err != nil {
					t.Fatalf("Parse with %d bytes of padding: %v", len(pad), err)
				}
				if diff := cmp.Diff(&tt.adv, a, addrCmp); diff != "" {
					t.Errorf("Parse with padding (-want +got):\n%s", diff)
				}
				if info.Len != len(wire)-len(pad) {
					t.Errorf("Info.Len %d, want %d", info.Len, len(wire)-len(pad))
				}
			}
		})
	}
}

// TestZeroSource checks that with a zero src the family comes from the
// exact length, and that a zero src and dst count as zero bytes in the
// pseudo-header.
func TestZeroSource(t *testing.T) {
	var zero netip.Addr
	msgA := join(vectors[1].fields) // A, message-only form: verifies without addresses
	a, info, err := packet.Parse(msgA, zero, zero)
	if err != nil || info.Checksum != packet.ChecksumMessage || !a.Addrs[0].Is4() {
		t.Errorf("A message form, zero src: %v %v %v; want IPv4, ChecksumMessage", a.Addrs, info.Checksum, err)
	}
	// C needs its pseudo-header: the family is still inferred, the fields
	// are filled in, and the checksum fails.
	msgC := join(vectors[4].fields)
	a, _, err = packet.Parse(msgC, zero, zero)
	if !errors.Is(err, packet.ErrChecksum) {
		t.Fatalf("C, zero src: %v, want ErrChecksum", err)
	}
	if diff := cmp.Diff(vectors[4].adv.Addrs, a.Addrs, addrCmp); diff != "" {
		t.Errorf("C, zero src, addresses (-want +got):\n%s", diff)
	}
	// Marshalled with zero addresses, it verifies with zero addresses.
	b, err := a.Append(nil, zero, zero, packet.ChecksumPseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	if _, info, err := packet.Parse(b, zero, zero); err != nil || info.Checksum != packet.ChecksumPseudoHeader {
		t.Errorf("C marshalled with zero addresses: %v %v", info.Checksum, err)
	}
	// VRRPv2 is IPv4 whatever the length, so padding is tolerated.
	if _, _, err := packet.Parse(append(join(vectors[5].fields), 0, 0, 0, 0), zero, zero); err != nil {
		t.Errorf("D padded, zero src: %v", err)
	}
	// An IPv4-mapped source counts as IPv4.
	if _, _, err := packet.Parse(join(vectors[2].fields), ip("::ffff:10.99.0.1"), ip("::ffff:224.0.0.18")); err != nil {
		t.Errorf("B from an IPv4-mapped source: %v", err)
	}
}

// TestFamilyInference checks how the family is chosen when src is zero:
// from dst when it is valid, else from the length, preferring an exact
// match and reading a length up to MaxPaddedIPv4Len as a padded IPv4
// message, so that Ethernet padding is never read as an address.
func TestFamilyInference(t *testing.T) {
	var zero netip.Addr
	dst4, dst6 := packet.GroupIPv4, packet.GroupIPv6
	pad := func(b []byte, n int, fill byte) []byte { return append(b, bytes.Repeat([]byte{fill}, n-len(b))...) }
	msgA := join(vectors[1].fields) // v3 IPv4, 1 address, message-only form: 12 bytes
	msgB := join(vectors[3].fields) // v3 IPv4, 2 addresses, message-only form: 16 bytes
	msgC := join(vectors[4].fields) // v3 IPv6, 1 address: 24 bytes
	tests := []struct {
		name     string
		b        []byte
		dst      netip.Addr
		want     error
		v6       bool
		infoLen  int
		wantAddr netip.Addr
	}{
		// Ethernet pads the payload of a short IPv4 packet to 26 bytes.
		{"A padded to 26 with zeros", pad(msgA, packet.MaxPaddedIPv4Len, 0), zero, nil, false, 12, ip("192.168.0.230")},
		{"A padded to 26 with 0xa5", pad(msgA, packet.MaxPaddedIPv4Len, 0xa5), zero, nil, false, 12, ip("192.168.0.230")},
		{"B padded to 26", pad(msgB, packet.MaxPaddedIPv4Len, 0), zero, nil, false, 16, ip("10.99.0.100")},
		{"A with 1 byte of padding", pad(msgA, 13, 0), zero, nil, false, 12, ip("192.168.0.230")},
		{"A padded to 26, IPv4 dst", pad(msgA, packet.MaxPaddedIPv4Len, 0), dst4, nil, false, 12, ip("192.168.0.230")},
		// A valid dst gives the family as a valid src would: IPv4
		// tolerates any trailing bytes except an exact IPv6 length.
		{"A padded to 40, IPv4 dst", pad(msgA, 40, 0), dst4, nil, false, 12, ip("192.168.0.230")},
		{"A padded to 24, IPv4 dst", pad(msgA, 24, 0), dst4, packet.ErrFamily, false, 0, netip.Addr{}},
		{"A, IPv6 dst", msgA, dst6, packet.ErrFamily, false, 0, netip.Addr{}},
		{"A padded to 26, IPv6 dst", pad(msgA, packet.MaxPaddedIPv4Len, 0), dst6, packet.ErrChecksum, true, 24, ip("c0a8:e6::")},
		// Exact lengths decide without dst.
		{"A exact", msgA, zero, nil, false, 12, ip("192.168.0.230")},
		{"C exact (pseudo-header needs the real addresses)", msgC, zero, packet.ErrChecksum, true, 24, ip("fd99::100")},
		// Exactly an IPv6 length is IPv6, even if it is an IPv4 message
		// and 12 bytes more: no link layer pads to that length.
		{"A and 12 more bytes", pad(msgA, 24, 0), zero, packet.ErrChecksum, true, 24, ip("c0a8:e6::")},
		// Longer than padding and neither length: refused.
		{"A padded to 27", pad(msgA, packet.MaxPaddedIPv4Len+1, 0), zero, packet.ErrFamily, false, 0, netip.Addr{}},
		// An IPv6 payload is never padded, so 26 bytes are IPv4 (here
		// with a bad checksum: it is an IPv6 message).
		{"C and 2 more bytes", pad(msgC, packet.MaxPaddedIPv4Len, 0), zero, packet.ErrChecksum, false, 12, ip("253.153.0.0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a packet.Advertisement
			info, err := a.Unmarshal(tt.b, zero, tt.dst)
			if err != tt.want {
				t.Fatalf("Unmarshal: %v, want %v", err, tt.want)
			}
			if err != nil && err != packet.ErrChecksum {
				return
			}
			if info.Len != tt.infoLen || len(a.Addrs) == 0 || a.Addrs[0].Is6() != tt.v6 || a.Addrs[0] != tt.wantAddr {
				t.Errorf("Info.Len %d, addresses %v; want %d, IPv6 %v, first %v", info.Len, a.Addrs, tt.infoLen, tt.v6, tt.wantAddr)
			}
		})
	}
}

// msg builds a message from a header and a tail.
func msg(hdr [8]byte, tail ...byte) []byte { return append(hdr[:], tail...) }

// TestParseErrors has one case per validation failure, each mapping onto
// one RFC 6527 counter, plus cases showing the order of the checks.
func TestParseErrors(t *testing.T) {
	src4, dst4 := ip("10.99.0.1"), ip("224.0.0.18")
	src6, dst6 := ip("fe80::1"), ip("ff02::12")
	var zero netip.Addr
	v3 := [8]byte{0x31, 1, 100, 1, 0, 100, 0, 0}
	v2 := [8]byte{0x21, 1, 100, 1, 0, 1, 0, 0}
	addr4 := []byte{192, 0, 2, 1}
	auth := make([]byte, 8)
	with := func(h [8]byte, i int, v byte) [8]byte { h[i] = v; return h }
	badSum := join(vectors[2].fields)
	badSum[7] ^= 1

	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		want     error
	}{
		{"empty", nil, src4, dst4, packet.ErrShortHeader},
		{"7 bytes", join(vectors[0].fields)[:7], src4, dst4, packet.ErrShortHeader},
		{"version 0", msg(with(v3, 0, 0x01), addr4...), src4, dst4, packet.ErrVersion},
		{"version 1", msg(with(v3, 0, 0x11), addr4...), src4, dst4, packet.ErrVersion},
		{"version 4", msg(with(v3, 0, 0x41), addr4...), src4, dst4, packet.ErrVersion},
		{"version 15", msg(with(v3, 0, 0xf1), addr4...), src4, dst4, packet.ErrVersion},
		{"type 0", msg(with(v3, 0, 0x30), addr4...), src4, dst4, packet.ErrType},
		{"type 2", msg(with(v3, 0, 0x32), addr4...), src4, dst4, packet.ErrType},
		{"v2 type 15", msg(with(v2, 0, 0x2f), append(addr4, auth...)...), src4, dst4, packet.ErrType},
		{"count 0", msg(with(v3, 3, 0)), src4, dst4, packet.ErrNoAddrs},
		{"v2 count 0", msg(with(v2, 3, 0), auth...), src4, dst4, packet.ErrNoAddrs},
		{"interval 0", msg(with(v3, 5, 0), addr4...), src4, dst4, packet.ErrZeroInterval},
		// The reserved bits are not part of the interval.
		{"interval 0, reserved bits set", msg(with(with(v3, 4, 0xf0), 5, 0), addr4...), src4, dst4, packet.ErrZeroInterval},
		{"v2 interval 0", msg(with(v2, 5, 0), append(addr4, auth...)...), src4, dst4, packet.ErrZeroInterval},
		{"v2 from IPv6", msg(v2, append(addr4, auth...)...), src6, dst6, packet.ErrFamily},
		{"IPv4 src, IPv6 dst", msg(v3, addr4...), src4, dst6, packet.ErrFamily},
		{"IPv6 src, IPv4 dst", join(vectors[4].fields), src6, dst4, packet.ErrFamily},
		{"zero src, length fits neither family, longer than padding", msg(with(v3, 3, 2), make([]byte, 24)...), zero, zero, packet.ErrFamily},
		{"zero src, IPv6 length, IPv4 dst", join(vectors[4].fields), zero, dst4, packet.ErrFamily},
		{"count 2, 1 IPv4 address", msg(with(v3, 3, 2), addr4...), src4, dst4, packet.ErrShortAddrs},
		// A length that is exactly the other family's is a family error.
		{"IPv6 src, 4-byte address", msg(v3, addr4...), src6, dst6, packet.ErrFamily},
		{"IPv6 src, count 2, 2 IPv4 addresses", msg(with(v3, 3, 2), append(addr4, addr4...)...), src6, dst6, packet.ErrFamily},
		{"IPv6 dst, zero src, 4-byte address", msg(v3, addr4...), zero, dst6, packet.ErrFamily},
		{"IPv4 src, one IPv6 address", join(vectors[4].fields), src4, dst4, packet.ErrFamily},
		{"IPv4 src, count 2, 2 IPv6 addresses", join(vectors[6].fields), src4, dst4, packet.ErrFamily},
		{"IPv4 dst, zero src, one IPv6 address", join(vectors[4].fields), zero, dst4, packet.ErrFamily},
		{"IPv6 src, 4-byte address and 4 more", msg(v3, append(addr4, addr4...)...), src6, dst6, packet.ErrShortAddrs},
		{"IPv6 src, 15 bytes", msg(v3, make([]byte, 15)...), src6, dst6, packet.ErrShortAddrs},
		{"zero src, shorter than IPv4", msg(with(v3, 3, 2), addr4...), zero, zero, packet.ErrShortAddrs},
		{"v2 count 2, 1 address", msg(with(v2, 3, 2), append(addr4, auth...)...), src4, dst4, packet.ErrShortAuth},
		{"v2 no auth data", msg(v2, addr4...), src4, dst4, packet.ErrShortAuth},
		{"v2 7 bytes of auth data", msg(v2, append(addr4, auth[:7]...)...), src4, dst4, packet.ErrShortAuth},
		{"checksum", badSum, src4, dst4, packet.ErrChecksum},
		{"v2 checksum", msg(v2, append(addr4, auth...)...), src4, dst4, packet.ErrChecksum},
		{"v3 pseudo-header form, other source", join(vectors[0].fields), ip("192.168.0.221"), dst4, packet.ErrChecksum},
		// 0x39cc is the message-only checksum of C, which IPv6 does not accept.
		{"v3 IPv6 in the message-only form", joinSum(vectors[4].fields, 0x39cc), src6, dst6, packet.ErrChecksum},

		// Order: the first failing check wins.
		{"order: version before short", []byte{0x41, 1, 1, 5, 0, 1, 0, 0}, src4, dst4, packet.ErrVersion},
		{"order: type before count", msg(with(with(v3, 0, 0x32), 3, 0)), src4, dst4, packet.ErrType},
		{"order: count before interval", msg(with(with(v3, 3, 0), 5, 0)), src4, dst4, packet.ErrNoAddrs},
		{"order: interval before family", msg(with(v2, 5, 0), append(addr4, auth...)...), src6, dst6, packet.ErrZeroInterval},
		{"order: family before length", msg(v2), src6, dst6, packet.ErrFamily},
		{"order: addresses before auth", msg(with(v2, 3, 3), addr4...), src4, dst4, packet.ErrShortAddrs},
		{"order: length before checksum", msg(with(v3, 3, 2), addr4...), src4, dst4, packet.ErrShortAddrs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a packet.Advertisement
			_, err := a.Unmarshal(tt.b, tt.src, tt.dst)
			if err != tt.want {
				t.Fatalf("Unmarshal: %v, want %v", err, tt.want)
			}
			// ErrFamily is counted with the length errors (RFC 6527
			// vrrpv3StatisticsPacketLengthErrors).
			isLen := err == packet.ErrShortHeader || err == packet.ErrShortAddrs || err == packet.ErrShortAuth || err == packet.ErrFamily
			if errors.Is(err, packet.ErrLength) != isLen {
				t.Errorf("errors.Is(%v, ErrLength) = %v, want %v", err, !isLen, isLen)
			}
		})
	}
}

// joinSum joins fields and overwrites the checksum.
func joinSum(fields [][]byte, sum uint16) []byte {
	b := join(fields)
	b[6], b[7] = byte(sum>>8), byte(sum)
	return b
}

// TestChecksumErrorFields checks that on ErrChecksum the fields and the
// Info are filled in, for vrrpdump and the receive counters.
func TestChecksumErrorFields(t *testing.T) {
	for _, tt := range vectors {
		t.Run(tt.name, func(t *testing.T) {
			b := join(tt.fields)
			b[7] ^= 0x40
			want := tt.adv
			want.Checksum ^= 0x40
			a, info, err := packet.Parse(b, tt.src, tt.dst)
			if !errors.Is(err, packet.ErrChecksum) {
				t.Fatalf("Parse: %v, want ErrChecksum", err)
			}
			if diff := cmp.Diff(&want, a, addrCmp); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			wantInfo := tt.info
			wantInfo.Checksum = packet.ChecksumUnknown
			if diff := cmp.Diff(wantInfo, info); diff != "" {
				t.Errorf("Info (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppendFieldErrors(t *testing.T) {
	v4 := packet.Advertisement{Version: 3, VRID: 1, Priority: 100, MaxAdvertInt: 100, Addrs: addrs("192.0.2.1")}
	v6 := packet.Advertisement{Version: 3, VRID: 1, Priority: 100, MaxAdvertInt: 100, Addrs: addrs("fe80::1")}
	v2 := packet.Advertisement{Version: 2, VRID: 1, Priority: 100, MaxAdvertInt: 1, Addrs: addrs("192.0.2.1")}
	src4, dst4 := ip("192.0.2.10"), packet.GroupIPv4
	src6, dst6 := ip("fe80::10"), packet.GroupIPv6
	many := make([]netip.Addr, 256)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, 1, byte(i)})
	}
	tests := []struct {
		name     string
		a        packet.Advertisement
		edit     func(*packet.Advertisement)
		src, dst netip.Addr
		form     packet.Checksum
		field    string
	}{
		{"version 0", v4, func(a *packet.Advertisement) { a.Version = 0 }, src4, dst4, 0, "Version"},
		{"version 4", v4, func(a *packet.Advertisement) { a.Version = 4 }, src4, dst4, 0, "Version"},
		{"type 2", v4, func(a *packet.Advertisement) { a.Type = 2 }, src4, dst4, 0, "Type"},
		{"v3 interval 0", v4, func(a *packet.Advertisement) { a.MaxAdvertInt = 0 }, src4, dst4, 0, "MaxAdvertInt"},
		{"v3 interval 4096", v4, func(a *packet.Advertisement) { a.MaxAdvertInt = 4096 }, src4, dst4, 0, "MaxAdvertInt"},
		{"v2 interval 0", v2, func(a *packet.Advertisement) { a.MaxAdvertInt = 0 }, src4, dst4, 0, "MaxAdvertInt"},
		{"v2 interval 256", v2, func(a *packet.Advertisement) { a.MaxAdvertInt = 256 }, src4, dst4, 0, "MaxAdvertInt"},
		{"no addresses", v4, func(a *packet.Advertisement) { a.Addrs = nil }, src4, dst4, 0, "Addrs"},
		{"256 addresses", v4, func(a *packet.Advertisement) { a.Addrs = many }, src4, dst4, 0, "Addrs"},
		{"invalid address", v4, func(a *packet.Advertisement) { a.Addrs = []netip.Addr{{}} }, src4, dst4, 0, "Addrs[0]"},
		{"invalid second address", v4, func(a *packet.Advertisement) { a.Addrs = []netip.Addr{ip("192.0.2.1"), {}} }, src4, dst4, 0, "Addrs[1]"},
		{"mixed families", v4, func(a *packet.Advertisement) { a.Addrs = addrs("192.0.2.1", "2001:db8::1") }, src4, dst4, 0, "Addrs[1]"},
		{"v2 IPv6", v2, func(a *packet.Advertisement) { a.Addrs = addrs("2001:db8::1") }, src6, dst6, 0, "Addrs[0]"},
		{"v3 auth type", v4, func(a *packet.Advertisement) { a.AuthType = packet.AuthPass }, src4, dst4, 0, "AuthType"},
		{"v3 auth data", v4, func(a *packet.Advertisement) { a.AuthData[0] = 'x' }, src4, dst4, 0, "AuthData"},
		{"IPv6 src for IPv4", v4, nil, src6, dst4, 0, "src"},
		{"IPv4 dst for IPv6", v6, nil, src6, dst4, 0, "dst"},
		{"v2 pseudo-header form", v2, nil, src4, dst4, packet.ChecksumPseudoHeader, "form"},
		{"v3 IPv6 message-only form", v6, nil, src6, dst6, packet.ChecksumMessage, "form"},
		{"unknown form", v4, nil, src4, dst4, packet.Checksum(3), "form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			a.Addrs = append([]netip.Addr(nil), tt.a.Addrs...)
			if tt.edit != nil {
				tt.edit(&a)
			}
			buf := []byte{1, 2, 3}
			got, err := a.Append(buf, tt.src, tt.dst, tt.form)
			var fe *packet.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, packet.ErrField) {
				t.Fatalf("Append: %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || fe.Allowed == "" || fe.Value == "" {
				t.Errorf("FieldError %+v, want field %q with value and allowed range", fe, tt.field)
			}
			if diff := cmp.Diff([]byte{1, 2, 3}, got); diff != "" {
				t.Errorf("buffer changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterval(t *testing.T) {
	tests := []struct {
		version uint8
		d       time.Duration
		wire    uint16
		ok      bool
	}{
		{3, 10 * time.Millisecond, 1, true},
		{3, time.Second, 100, true},
		{3, 40950 * time.Millisecond, 4095, true},
		{3, 0, 0, false},
		{3, 15 * time.Millisecond, 0, false},
		{3, 41 * time.Second, 0, false},
		{2, time.Second, 1, true},
		{2, 255 * time.Second, 255, true},
		{2, 1500 * time.Millisecond, 0, false},
		{2, 256 * time.Second, 0, false},
	}
	for _, tt := range tests {
		a := packet.Advertisement{Version: tt.version}
		err := a.SetInterval(tt.d)
		if (err == nil) != tt.ok {
			t.Errorf("v%d SetInterval(%v): %v, want ok=%v", tt.version, tt.d, err, tt.ok)
			continue
		}
		if !tt.ok {
			if !errors.Is(err, packet.ErrField) {
				t.Errorf("v%d SetInterval(%v): %v, want ErrField", tt.version, tt.d, err)
			}
			continue
		}
		if a.MaxAdvertInt != tt.wire || a.Interval() != tt.d {
			t.Errorf("v%d SetInterval(%v): wire %d, Interval %v; want %d", tt.version, tt.d, a.MaxAdvertInt, a.Interval(), tt.wire)
		}
	}
}

func TestAllocs(t *testing.T) {
	for _, tt := range vectors {
		wire := join(tt.fields)
		var a packet.Advertisement
		if _, err := a.Unmarshal(wire, tt.src, tt.dst); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = a.Unmarshal(wire, tt.src, tt.dst) }); n != 0 {
			t.Errorf("%s: Unmarshal into a reused value: %v allocs, want 0", tt.name, n)
		}
		buf := make([]byte, 0, 64)
		if n := testing.AllocsPerRun(100, func() { _, _ = a.Append(buf[:0], tt.src, tt.dst, tt.form) }); n != 0 {
			t.Errorf("%s: Append into a buffer with capacity: %v allocs, want 0", tt.name, n)
		}
	}
}

// TestChecksumNegativeZero checks that a checksum field of 0xffff, the
// other one's complement zero, verifies where Append computes 0x0000
// (RFC 1071 section 1), and that Append writes 0x0000.
func TestChecksumNegativeZero(t *testing.T) {
	src, dst := ip("192.0.2.1"), packet.GroupIPv4
	a := packet.Advertisement{Version: 2, MaxAdvertInt: 1, Addrs: addrs("192.0.2.100")}
	for vrid := range 256 {
		for prio := range 256 {
			a.VRID, a.Priority = uint8(vrid), uint8(prio)
			b, err := a.Append(nil, src, dst, 0)
			if err != nil {
				t.Fatal(err)
			}
			if a.Checksum != 0 {
				continue
			}
			if _, _, err := packet.Parse(b, src, dst); err != nil {
				t.Fatalf("checksum 0x0000: %v", err)
			}
			b[6], b[7] = 0xff, 0xff
			if _, _, err := packet.Parse(b, src, dst); err != nil {
				t.Fatalf("checksum 0xffff: %v", err)
			}
			return
		}
	}
	t.Fatal("no VRID and priority give a zero checksum")
}

// TestZones checks that zones, which are not carried on the wire, change
// neither the bytes nor the checksum, and that they cost no allocation
// however long they are.
func TestZones(t *testing.T) {
	tt := vectors[6] // E: IPv6, two addresses
	const zone = "a-long-interface-name.0123456789"
	in := tt.adv
	in.Checksum = 0
	want, err := in.Append(nil, tt.src, tt.dst, tt.form)
	if err != nil {
		t.Fatal(err)
	}
	zoned := in
	zoned.Addrs = nil
	for _, a := range in.Addrs {
		zoned.Addrs = append(zoned.Addrs, a.WithZone(zone))
	}
	src, dst := tt.src.WithZone(zone), tt.dst.WithZone(zone)
	got, err := zoned.Append(nil, src, dst, tt.form)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Append with zones:\n%x\nwant\n%x", got, want)
	}
	var a packet.Advertisement
	if _, err := a.Unmarshal(got, src, dst); err != nil {
		t.Fatalf("Unmarshal with a zoned src and dst: %v", err)
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { _, _ = zoned.Append(buf[:0], src, dst, tt.form) }); n != 0 {
		t.Errorf("Append with zones: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = a.Unmarshal(got, src, dst) }); n != 0 {
		t.Errorf("Unmarshal with zones: %v allocs, want 0", n)
	}
}
