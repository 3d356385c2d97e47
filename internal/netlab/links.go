package netlab

import (
	"net/netip"
	"strconv"
)

// MaxLinks is the most links NewLinks builds: one per 802.1Q VLAN ID
// (1-4094), the scale a data-centre or ISP edge runs VRRP at.
const MaxLinks = 4094

// LinkName is the name of link i (1-based) on both hosts: "l<i>".
func LinkName(i int) string { return "l" + strconv.Itoa(i) }

// LinkPrefix is the IPv4 subnet of link i (1 to MaxLinks):
// 10.<i/256>.<i%256>.0/24.
func LinkPrefix(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i / 256), byte(i % 256), 0}), 24)
}

// LinkAddr is address .host of link i's subnet (LinkPrefix): host 1 holds
// .1, host 2 holds .2; the others are free (for virtual addresses, say).
func LinkAddr(i, host int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i / 256), byte(i % 256), byte(host)})
}
