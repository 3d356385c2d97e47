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

// Router Advertisements are opt-in: with Config.RouterAdvertisements the
// master of an IPv6 virtual router advertises it as the default router
// from its link-local virtual address, which goes first in the address
// list (RFC 9568 section 5.2.9), and answers Router Solicitations; the
// backups stay silent. Give every router of the virtual router the same
// RAConfig. Not run: it needs CAP_NET_RAW and CAP_NET_ADMIN.
func ExampleRAConfig() {
	a, err := arpnd.New(arpnd.Config{
		Interface: "eth0",
		Mode:      arpnd.ModeMacvlan,
		RouterAdvertisements: &arpnd.RAConfig{
			// RFC 4861 defaults: every 200 to 600 s, a default router
			// for 1800 s; hosts autoconfigure addresses in the prefix.
			Prefixes: []arpnd.RAPrefix{{Prefix: netip.MustParsePrefix("2001:db8:1::/64")}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	vr := vrrp.VRInfo{Interface: "eth0", VRID: 52, Addrs: []netip.Addr{
		netip.MustParseAddr("fe80::52"), netip.MustParseAddr("2001:db8:1::1"),
	}}
	_ = a.Take(vr)    // first Router Advertisement now, from fe80::52 and 00:00:5e:00:02:34
	_ = a.Release(vr) // no more, and no zero-lifetime one: the new master takes over
}

func ExampleMarshalRouterAdvertisement() {
	b, err := arpnd.MarshalRouterAdvertisement(arpnd.VirtualMAC(52, true), netip.MustParseAddr("fe80::52"), arpnd.RAConfig{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ICMPv6 type %d, hop limit %d, router lifetime %ds\n", b[54], b[21], int(b[60])<<8|int(b[61]))
	// Output:
	// ICMPv6 type 134, hop limit 255, router lifetime 1800s
}
