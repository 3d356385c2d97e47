//go:build linux

package raw

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestIfaceLookups checks the targeted lookups against the standard
// library on the loopback interface of the test's namespace.
func TestIfaceLookups(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	idx, err := ifIndexByName("lo")
	if err != nil || idx != lo.Index {
		t.Errorf("ifIndexByName(lo) = %d, %v; want %d", idx, err, lo.Index)
	}
	name, err := ifNameByIndex(lo.Index)
	if err != nil || name != "lo" {
		t.Errorf("ifNameByIndex(%d) = %q, %v; want lo", lo.Index, name, err)
	}
	if mac, err := ifHardwareAddr("lo"); err != nil || mac != nil {
		t.Errorf("ifHardwareAddr(lo) = %v, %v; want nil (not Ethernet)", mac, err)
	}
	for _, bad := range []string{"gv-nonexistent", ""} {
		if _, err := ifIndexByName(bad); !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EINVAL) {
			t.Errorf("ifIndexByName(%q) = %v; want ENODEV", bad, err)
		}
	}
	if _, err := ifNameByIndex(1 << 30); !errors.Is(err, unix.ENODEV) {
		t.Errorf("ifNameByIndex(2^30) = %v; want ENODEV", err)
	}
	if _, err := ifNameByIndex(0); !errors.Is(err, unix.ENODEV) {
		t.Errorf("ifNameByIndex(0) = %v; want ENODEV", err)
	}
	want := map[netip.Prefix]bool{}
	addrs, err := lo.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ipn := a.(*net.IPNet)
		ip, _ := netip.AddrFromSlice(ipn.IP)
		ones, _ := ipn.Mask.Size()
		want[netip.PrefixFrom(ip.Unmap(), ones)] = true
	}
	got, err := ifAddrs(lo.Index, unix.AF_UNSPEC)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("ifAddrs(lo) = %v; want %v", got, want)
	}
	for _, a := range got {
		if !want[a.Prefix] {
			t.Errorf("ifAddrs(lo): %v not in %v", a.Prefix, want)
		}
	}
	if v4, err := ifAddrs(lo.Index, unix.AF_INET); err != nil {
		t.Fatal(err)
	} else {
		for _, a := range v4 {
			if !a.Prefix.Addr().Is4() {
				t.Errorf("ifAddrs(lo, AF_INET) returned %v", a.Prefix)
			}
		}
	}
	if none, err := ifAddrs(1<<30, unix.AF_UNSPEC); err != nil && !errors.Is(err, unix.ENODEV) || len(none) != 0 {
		t.Errorf("ifAddrs(no such index) = %v, %v; want none", none, err)
	}
}
