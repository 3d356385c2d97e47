//go:build linux

package ifaceio

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
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
	idx, err := IndexByName("lo")
	if err != nil || idx != lo.Index {
		t.Errorf("IndexByName(lo) = %d, %v; want %d", idx, err, lo.Index)
	}
	name, err := NameByIndex(lo.Index)
	if err != nil || name != "lo" {
		t.Errorf("NameByIndex(%d) = %q, %v; want lo", lo.Index, name, err)
	}
	if mac, err := HardwareAddr("lo"); err != nil || mac != nil {
		t.Errorf("HardwareAddr(lo) = %v, %v; want nil (not Ethernet)", mac, err)
	}
	for _, bad := range []string{"gv-nonexistent", ""} {
		if _, err := IndexByName(bad); !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EINVAL) {
			t.Errorf("IndexByName(%q) = %v; want ENODEV", bad, err)
		}
	}
	if _, err := NameByIndex(1 << 30); !errors.Is(err, unix.ENODEV) {
		t.Errorf("NameByIndex(2^30) = %v; want ENODEV", err)
	}
	if _, err := NameByIndex(0); !errors.Is(err, unix.ENODEV) {
		t.Errorf("NameByIndex(0) = %v; want ENODEV", err)
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
	got, err := Addrs(lo.Index, unix.AF_UNSPEC)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("Addrs(lo) = %v; want %v", got, want)
	}
	for _, a := range got {
		if !want[a.Prefix] {
			t.Errorf("Addrs(lo): %v not in %v", a.Prefix, want)
		}
	}
	if v4, err := Addrs(lo.Index, unix.AF_INET); err != nil {
		t.Fatal(err)
	} else {
		for _, a := range v4 {
			if !a.Prefix.Addr().Is4() {
				t.Errorf("Addrs(lo, AF_INET) returned %v", a.Prefix)
			}
		}
	}
	if none, err := Addrs(1<<30, unix.AF_UNSPEC); err != nil && !errors.Is(err, unix.ENODEV) || len(none) != 0 {
		t.Errorf("Addrs(no such index) = %v, %v; want none", none, err)
	}
}

// TestAddrsAllocs: a lookup allocates what it returns, not a 32 kB
// receive buffer each time (thousands of lookups at start-up with
// thousands of links made 400 MB of garbage, issue 12).
func TestAddrsAllocs(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatalf("no loopback interface: %v", err)
	}
	if _, err := Addrs(lo.Index, unix.AF_UNSPEC); err != nil {
		t.Fatal(err)
	}
	const calls = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range calls {
		if _, err := Addrs(lo.Index, unix.AF_UNSPEC); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / calls; per > 16<<10 {
		t.Errorf("Addrs allocated %d B per call; want at most 16 kB (half the buffer it allocated each time before; the race detector makes sync.Pool drop some)", per)
	}
}

// TestOnRouteSocket: the index lookup by ioctl on a route socket (the
// device layer answers it) and the dump into a kept buffer agree with
// the throw-away-socket versions.
func TestOnRouteSocket(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	fd, err := OpenRouteSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if idx, err := IndexByNameOn(fd, "lo"); err != nil || idx != lo.Index {
		t.Errorf("IndexByNameOn(lo) = %d, %v; want %d", idx, err, lo.Index)
	}
	if _, err := IndexByNameOn(fd, "gv-nonexistent"); !errors.Is(err, unix.ENODEV) {
		t.Errorf("IndexByNameOn(gv-nonexistent) = %v; want ENODEV", err)
	}
	want, err := Addrs(lo.Index, unix.AF_UNSPEC)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, DumpBufferSize)
	for seq, b := range [][]byte{buf, buf, nil} { // kept, reused, too short
		got, err := AddrsInto(fd, uint32(seq+1), lo.Index, unix.AF_UNSPEC, b)
		if err != nil || len(got) != len(want) {
			t.Errorf("AddrsInto #%d = %v, %v; want %v", seq, got, err, want)
		}
		for i := range got {
			if i < len(want) && got[i] != want[i] {
				t.Errorf("AddrsInto #%d [%d] = %v; want %v", seq, i, got[i], want[i])
			}
		}
	}
}
