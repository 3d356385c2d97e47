package packet_test

import (
	"net/netip"
	"testing"

	"github.com/govrrp/govrrp/packet"
)

// The benchmarks parse (checksum verification included) into a reused
// Advertisement and marshal (checksum included) into a reused buffer, one
// address each. Compare runs with benchstat:
//
//	go test -run '^$' -bench . -count 5 ./packet/

var (
	benchV2     = packet.Advertisement{Version: 2, VRID: 53, Priority: 150, MaxAdvertInt: 1, AuthType: packet.AuthPass, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1'}, Addrs: addrs("10.99.0.102")}
	benchV3IPv4 = packet.Advertisement{Version: 3, VRID: 240, Priority: 100, MaxAdvertInt: 100, Addrs: addrs("192.168.0.230")}
	benchV3IPv6 = packet.Advertisement{Version: 3, VRID: 52, Priority: 150, MaxAdvertInt: 100, Addrs: addrs("fd99::100")}
	bsrc4       = ip("10.99.0.1")
	bsrc6       = ip("fe80::ff:fe00:1")
)

func benchParse(b *testing.B, adv packet.Advertisement, src, dst netip.Addr) {
	wire, err := adv.Append(nil, src, dst, packet.ChecksumUnknown)
	if err != nil {
		b.Fatal(err)
	}
	var a packet.Advertisement
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if _, err := a.Unmarshal(wire, src, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMarshal(b *testing.B, adv packet.Advertisement, src, dst netip.Addr) {
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := adv.Append(buf[:0], src, dst, packet.ChecksumUnknown)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}

func BenchmarkParseV2(b *testing.B)     { benchParse(b, benchV2, bsrc4, packet.GroupIPv4) }
func BenchmarkParseV3IPv4(b *testing.B) { benchParse(b, benchV3IPv4, bsrc4, packet.GroupIPv4) }
func BenchmarkParseV3IPv6(b *testing.B) { benchParse(b, benchV3IPv6, bsrc6, packet.GroupIPv6) }

func BenchmarkMarshalV2(b *testing.B)     { benchMarshal(b, benchV2, bsrc4, packet.GroupIPv4) }
func BenchmarkMarshalV3IPv4(b *testing.B) { benchMarshal(b, benchV3IPv4, bsrc4, packet.GroupIPv4) }
func BenchmarkMarshalV3IPv6(b *testing.B) { benchMarshal(b, benchV3IPv6, bsrc6, packet.GroupIPv6) }
