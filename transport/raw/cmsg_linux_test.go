//go:build linux

package raw

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func int32Bytes(v int32) []byte {
	return binary.NativeEndian.AppendUint32(nil, uint32(v))
}

func TestParseCmsgs(t *testing.T) {
	cmpAddr := cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
	pi4 := unix.PktInfo4(&unix.Inet4Pktinfo{Ifindex: 7, Spec_dst: [4]byte{10, 99, 0, 2}, Addr: [4]byte{224, 0, 0, 18}})
	pi6 := unix.PktInfo6(&unix.Inet6Pktinfo{Addr: netip.MustParseAddr("ff02::12").As16(), Ifindex: 9})
	tests := []struct {
		name string
		oob  []byte
		want rcvInfo
	}{
		{name: "empty", want: rcvInfo{ttl: -1}},
		{
			name: "ipv4",
			oob:  append(cmsg(unix.IPPROTO_IP, unix.IP_TTL, int32Bytes(255)), pi4...),
			want: rcvInfo{ttl: 255, dst: netip.MustParseAddr("224.0.0.18"), ifIndex: 7},
		},
		{
			name: "ipv6",
			oob:  append(pi6, cmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, int32Bytes(1))...),
			want: rcvInfo{ttl: 1, dst: netip.MustParseAddr("ff02::12"), ifIndex: 9},
		},
		{
			name: "unknown and short ignored",
			oob: append(append(cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMP, make([]byte, 16)),
				cmsg(unix.IPPROTO_IP, unix.IP_TTL, []byte{1})...), cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, make([]byte, 4))...),
			want: rcvInfo{ttl: -1},
		},
		{
			name: "drop count",
			oob:  append(cmsg(unix.IPPROTO_IP, unix.IP_TTL, int32Bytes(255)), cmsg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, int32Bytes(-2))...),
			want: rcvInfo{ttl: 255, drops: 1<<32 - 2},
		},
		{
			name: "truncated header stops",
			oob:  append(cmsg(unix.IPPROTO_IP, unix.IP_TTL, int32Bytes(64)), 1, 2, 3),
			want: rcvInfo{ttl: 64},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseCmsgs(tt.oob)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(rcvInfo{}), cmpAddr); diff != "" {
				t.Errorf("parseCmsgs (-want +got):\n%s", diff)
			}
		})
	}
	oob := append(cmsg(unix.IPPROTO_IP, unix.IP_TTL, int32Bytes(255)), pi4...)
	if a := testing.AllocsPerRun(100, func() { parseCmsgs(oob) }); a != 0 {
		t.Errorf("parseCmsgs allocates %v times per call", a)
	}
}

func TestParseIPv4Header(t *testing.T) {
	h := []byte{
		0x45, 0x00, 0x00, 0x20, // version 4, IHL 5, length 32
		0, 0, 0, 0,
		255, 112, 0, 0, // TTL 255, protocol 112
		10, 99, 0, 1, // source
		224, 0, 0, 18, // destination
	}
	hlen, ttl, src, dst, ok := parseIPv4Header(h, 32)
	if !ok || hlen != 20 || ttl != 255 || src != netip.MustParseAddr("10.99.0.1") || dst != netip.MustParseAddr("224.0.0.18") {
		t.Errorf("parseIPv4Header = %d, %d, %v, %v, %v", hlen, ttl, src, dst, ok)
	}
	opts := append([]byte{0x46}, h[1:]...) // IHL 6: 4 bytes of options
	if hlen, _, _, _, ok := parseIPv4Header(opts, 32); !ok || hlen != 24 {
		t.Errorf("IHL 6: hlen %d ok %v", hlen, ok)
	}
	for _, bad := range []struct {
		name string
		h    []byte
		n    int
	}{
		{"short read", h, 19},
		{"IHL beyond read", opts, 22},
		{"IHL < 5", append([]byte{0x44}, h[1:]...), 32},
		{"version 6", append([]byte{0x65}, h[1:]...), 32},
	} {
		if _, _, _, _, ok := parseIPv4Header(bad.h, bad.n); ok {
			t.Errorf("%s: ok", bad.name)
		}
	}
}
