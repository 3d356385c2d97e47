package packet_test

import (
	"fmt"
	"net/netip"

	"github.com/govrrp/govrrp/packet"
)

// Marshal a VRRPv3 advertisement for IPv4 in the RFC 9568 message-only
// checksum form, then parse it as a receiver would.
func Example() {
	src := netip.MustParseAddr("192.168.0.220")
	a := packet.Advertisement{
		Version:      3,
		VRID:         240,
		Priority:     100,
		MaxAdvertInt: 100, // centiseconds: 1s
		Addrs:        []netip.Addr{netip.MustParseAddr("192.168.0.230")},
	}
	buf := make([]byte, 0, 64) // reuse across sends: Append does not allocate
	buf, err := a.Append(buf, src, packet.GroupIPv4, packet.ChecksumMessage)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% x\n", buf)

	var got packet.Advertisement // reuse across receives
	info, err := got.Unmarshal(buf, src, packet.GroupIPv4)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("v%d vrid=%d prio=%d interval=%v addrs=%v checksum=%#04x form=%v\n",
		got.Version, got.VRID, got.Priority, got.Interval(), got.Addrs, got.Checksum, info.Checksum)
	// Output:
	// 31 f0 64 01 00 64 a8 1b c0 a8 00 e6
	// v3 vrid=240 prio=100 interval=1s addrs=[192.168.0.230] checksum=0xa81b form=ChecksumMessage
}
