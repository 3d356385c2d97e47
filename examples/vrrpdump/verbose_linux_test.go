//go:build linux

package main

import (
	"net/netip"
	"testing"

	govrrp "github.com/govrrp/govrrp/packet"
	"golang.org/x/net/bpf"
)

// TestVerboseFilter runs the -v socket filter in the BPF interpreter.
func TestVerboseFilter(t *testing.T) {
	vm, err := bpf.NewVM(verboseFilter)
	if err != nil {
		t.Fatal(err)
	}
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), govrrp.GroupIPv4
	src6, dst6 := netip.MustParseAddr("fe80::1"), govrrp.GroupIPv6
	hbh := ipPacket(src6, dst6, 255, 0, []byte{112, 0, 5, 2, 0, 0, 1, 0, 0x31})
	arp := []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1}
	tests := []struct {
		name string
		b    []byte
		keep bool
	}{
		{"IPv4 VRRP", ipPacket(src4, dst4, 255, 112, []byte{0x31}), true},
		{"IPv6 VRRP", ipPacket(src6, dst6, 255, 112, []byte{0x31}), true},
		{"IPv6 hop-by-hop", hbh, true},
		{"ICMPv6", ipPacket(src6, netip.MustParseAddr("ff02::1"), 255, 58, make([]byte, 24)), true},
		{"ARP", arp, true},
		{"ARP for another protocol", append([]byte{0, 1, 0x86, 0xdd}, arp[4:]...), false},
		{"IPv4 UDP", ipPacket(src4, dst4, 255, 17, make([]byte, 8)), false},
		{"IPv4 ICMP", ipPacket(src4, dst4, 255, 1, make([]byte, 8)), false},
		{"IPv6 UDP", ipPacket(src6, dst6, 255, 17, make([]byte, 8)), false},
		{"other", []byte{0x10, 0, 0, 0}, false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		n, err := vm.Run(tt.b)
		if err != nil && len(tt.b) > 0 {
			t.Errorf("%s: %v", tt.name, err)
		}
		if (n > 0) != tt.keep {
			t.Errorf("%s: filter returned %d, want keep=%v", tt.name, n, tt.keep)
		}
	}
}
