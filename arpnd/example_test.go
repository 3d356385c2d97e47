package arpnd_test

import (
	"fmt"
	"log"
	"net/netip"

	"github.com/govrrp/govrrp/arpnd"
	"github.com/govrrp/govrrp/vrrp"
)

// An Announcer is a vrrp.Hook: hand it to the runtime and every takeover
// announces the virtual addresses. Not run: it needs CAP_NET_RAW and
// CAP_NET_ADMIN.
func ExampleNew() {
	a, err := arpnd.New(arpnd.Config{
		Interface: "eth0",
		Mode:      arpnd.ModeMacvlan, // the virtual MAC on macvlan vr4.{ifindex}.{vrid}
	})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	var hook vrrp.Hook = a // add to the Router's hooks
	vr := vrrp.VRInfo{Interface: "eth0", VRID: 51, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}
	_ = hook.Take(vr)     // addresses on the macvlan
	_ = hook.Announce(vr) // 5 gratuitous ARPs now, 5 more after 5s
}

func ExampleVirtualMAC() {
	fmt.Println(arpnd.VirtualMAC(51, false))
	fmt.Println(arpnd.VirtualMAC(51, true))
	// Output:
	// 00:00:5e:00:01:33
	// 00:00:5e:00:02:33
}

func ExampleMarshalGratuitousARP() {
	b, err := arpnd.MarshalGratuitousARP(arpnd.VirtualMAC(51, false), netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", b[:42]) // 18 bytes of padding follow
	// Output:
	// ff ff ff ff ff ff 00 00 5e 00 01 33 08 06 00 01 08 00 06 04 00 01 00 00 5e 00 01 33 c0 00 02 01 ff ff ff ff ff ff c0 00 02 01
}
