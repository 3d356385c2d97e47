package arpnd

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The field-by-field checker of the tests: decodeFrame splits an ARP or
// ICMPv6 Neighbor Advertisement frame into named wire fields, written from
// RFC 826, RFC 8200 and RFC 4861 independently of the package's builders
// and parsers; the *Fields functions give the fields a frame must have.
// The builder tests check that decodeFrame agrees with their hand-written
// byte layouts, and the tests of frames sent through the fake connection
// compare decodeFrame of each frame with the expected fields, so a
// mismatch names the field.

// decodeFrame returns the fields of b as "name=value" strings. Bytes it
// cannot interpret are reported as a "rest=" field, so that nothing is
// skipped.
func decodeFrame(b []byte) []string {
	var f []string
	add := func(name string, format string, args ...any) {
		f = append(f, name+"="+fmt.Sprintf(format, args...))
	}
	mac := func(b []byte) string { return net.HardwareAddr(b).String() }
	if len(b) < 14 {
		add("short", "%x", b)
		return f
	}
	add("eth.dst", "%s", mac(b[0:6]))
	add("eth.src", "%s", mac(b[6:12]))
	et := binary.BigEndian.Uint16(b[12:14])
	add("eth.type", "%#04x", et)
	p := b[14:]
	switch et {
	case 0x0806:
		if len(p) < 28 {
			add("rest", "%x", p)
			return f
		}
		add("arp.htype", "%d", binary.BigEndian.Uint16(p[0:2]))
		add("arp.ptype", "%#04x", binary.BigEndian.Uint16(p[2:4]))
		add("arp.hlen", "%d", p[4])
		add("arp.plen", "%d", p[5])
		add("arp.op", "%d", binary.BigEndian.Uint16(p[6:8]))
		add("arp.sha", "%s", mac(p[8:14]))
		add("arp.spa", "%s", netip.AddrFrom4([4]byte(p[14:18])))
		add("arp.tha", "%s", mac(p[18:24]))
		add("arp.tpa", "%s", netip.AddrFrom4([4]byte(p[24:28])))
		add("eth.pad", "%x", p[28:])
	case 0x86dd:
		if len(p) < 40 {
			add("rest", "%x", p)
			return f
		}
		add("ip6.vtcfl", "%08x", binary.BigEndian.Uint32(p[0:4]))
		plen := int(binary.BigEndian.Uint16(p[4:6]))
		add("ip6.plen", "%d", plen)
		add("ip6.nh", "%d", p[6])
		add("ip6.hlim", "%d", p[7])
		src, dst := netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
		add("ip6.src", "%s", src)
		add("ip6.dst", "%s", dst)
		p = p[40:]
		if plen != len(p) || len(p) < 24 || p[0] != 136 {
			add("rest", "%x", p)
			return f
		}
		add("icmp6.type", "%d", p[0])
		add("icmp6.code", "%d", p[1])
		add("icmp6.checksum_ok", "%v", refChecksum(src, dst, p) == 0)
		add("na.R", "%d", p[4]>>7)
		add("na.S", "%d", p[4]>>6&1)
		add("na.O", "%d", p[4]>>5&1)
		add("na.reserved", "%x", []byte{p[4] & 0x1f, p[5], p[6], p[7]})
		add("na.target", "%s", netip.AddrFrom16([16]byte(p[8:24])))
		for o := p[24:]; len(o) > 0; {
			if len(o) < 2 || o[1] == 0 || len(o) < 8*int(o[1]) {
				add("rest", "%x", o)
				break
			}
			n := 8 * int(o[1])
			add("opt", "type=%d len=%d value=%x", o[0], o[1], o[2:n])
			o = o[n:]
		}
	default:
		add("rest", "%x", p)
	}
	return f
}

// arpFields are the fields of an ARP frame (Ethernet/IPv4, RFC 826),
// padded to the 60-byte minimum.
func arpFields(ethDst, ethSrc net.HardwareAddr, op int, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []string {
	return []string{
		"eth.dst=" + ethDst.String(), "eth.src=" + ethSrc.String(), "eth.type=0x0806",
		"arp.htype=1", "arp.ptype=0x0800", "arp.hlen=6", "arp.plen=4",
		fmt.Sprintf("arp.op=%d", op),
		"arp.sha=" + sha.String(), "arp.spa=" + spa.String(),
		"arp.tha=" + tha.String(), "arp.tpa=" + tpa.String(),
		"eth.pad=" + strings.Repeat("00", 18),
	}
}

// garpFields are the fields of the gratuitous ARP for vip from mac: the
// request form, broadcast, sender = target = vip, target hardware address
// broadcast (as keepalived sends it).
func garpFields(mac net.HardwareAddr, vip netip.Addr) []string {
	bc := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	return arpFields(bc, mac, 1, mac, vip, bc, vip)
}

// naFields are the fields of a Neighbor Advertisement for target with a
// Target Link-Layer Address option carrying mac, sent from mac, hop limit
// 255, Router and Override set, Solicited as given, with a valid checksum.
func naFields(ethDst, mac net.HardwareAddr, src, dst, target netip.Addr, solicited bool) []string {
	s := 0
	if solicited {
		s = 1
	}
	return []string{
		"eth.dst=" + ethDst.String(), "eth.src=" + mac.String(), "eth.type=0x86dd",
		"ip6.vtcfl=60000000", "ip6.plen=32", "ip6.nh=58", "ip6.hlim=255",
		"ip6.src=" + src.String(), "ip6.dst=" + dst.String(),
		"icmp6.type=136", "icmp6.code=0", "icmp6.checksum_ok=true",
		"na.R=1", fmt.Sprintf("na.S=%d", s), "na.O=1", "na.reserved=00000000",
		"na.target=" + target.String(),
		fmt.Sprintf("opt=type=2 len=1 value=%x", []byte(mac)),
	}
}

// unsolicitedNAFields are the fields of the unsolicited NA for vip from
// mac and src, to ff02::1.
func unsolicitedNAFields(mac net.HardwareAddr, src, vip netip.Addr) []string {
	return naFields(allNodesMAC, mac, src, netip.MustParseAddr("ff02::1"), vip, false)
}

// checkFrame fails t unless frame has exactly the fields want.
func checkFrame(t testing.TB, what string, want []string, frame []byte) {
	t.Helper()
	if diff := cmp.Diff(want, decodeFrame(frame)); diff != "" {
		t.Errorf("%s: fields (-want +got):\n%s", what, diff)
	}
}

// checkSent fails t unless the frames sent through a fake connection are
// n copies of want (the fields) to dst.
func checkSent(t testing.TB, what string, frames []sentFrame, dst string, wants ...[]string) {
	t.Helper()
	if len(frames) != len(wants) {
		t.Errorf("%s: %d frames, want %d", what, len(frames), len(wants))
	}
	for i, f := range frames {
		if i >= len(wants) {
			break
		}
		checkFrame(t, fmt.Sprintf("%s: frame %d", what, i), wants[i], f.Frame)
		if f.Dst != dst {
			t.Errorf("%s: frame %d sent to %s, want %s", what, i, f.Dst, dst)
		}
	}
}

// times repeats fields n times, for checkSent.
func times(fields []string, n int) [][]string {
	r := make([][]string, n)
	for i := range r {
		r[i] = fields
	}
	return r
}

// TestDecodeFrameCatchesEveryField: a change of any byte of a gratuitous
// ARP or an unsolicited NA changes the decoded fields, so a check with
// decodeFrame covers the whole frame.
func TestDecodeFrameCatchesEveryField(t *testing.T) {
	garp, err := MarshalGratuitousARP(VirtualMAC(7, false), vip4)
	if err != nil {
		t.Fatal(err)
	}
	na, err := MarshalUnsolicitedNA(VirtualMAC(7, true), ll1, vip6)
	if err != nil {
		t.Fatal(err)
	}
	for _, frame := range [][]byte{garp, na} {
		want := decodeFrame(frame)
		for i := range frame {
			b := append([]byte(nil), frame...)
			b[i] ^= 0x01
			if cmp.Equal(want, decodeFrame(b)) {
				t.Errorf("flipping a bit of byte %d of %x leaves the decoded fields unchanged", i, frame)
			}
		}
	}
}
