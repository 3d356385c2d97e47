//go:build linux

package vipaddr

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
)

// costLinks is the number of links (each with an address) of the cost
// test: enough that listing every address of the namespace on each call
// allocates several times the bound below.
const costLinks = 400

// maxAddBytes bounds the heap bytes one Add (or RemoveStale) allocates,
// whatever the number of addresses in the namespace (issue 12): about
// 40 kB with the address dump filtered by interface in the kernel (most
// of it the 32 kB receive buffer); netlink.AddrList, which dumps every
// address and filters here, allocated about 200 kB per call at 400
// links, and 57% of a takeover's CPU went there at 1,000 links.
const maxAddBytes = 96 << 10

func TestAddCostPerLink(t *testing.T) {
	lab := netlab.NewLinks(t, "va", costLinks)
	h := lab.Host(1)
	var m *Manager
	if err := h.Do(func() (err error) { m, err = New(nil); return err }); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const adds = 50
	vip := func(i int) netip.Prefix { return netip.PrefixFrom(netlab.LinkAddr(costLinks-i, 100), 24) }
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range adds {
		if err := m.Add(netlab.LinkName(costLinks-i), vip(i)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / adds
	t.Logf("Add allocated %d B per call with %d links", per, costLinks)
	if per > maxAddBytes {
		t.Errorf("Add allocated %d B per call with %d links; want at most %d (no dump of every address)", per, costLinks, maxAddBytes)
	}
	if got := len(m.Owned()); got != adds {
		t.Errorf("Owned: %d entries, want %d", got, adds)
	}
	// Present already (the link's own address): not taken over.
	own := netip.PrefixFrom(netlab.LinkAddr(costLinks, 1), 24)
	if err := m.Add(netlab.LinkName(costLinks), own); err != nil {
		t.Fatal(err)
	}
	if got := len(m.Owned()); got != adds {
		t.Errorf("Owned after adding a present address: %d entries, want %d", got, adds)
	}
	// RemoveStale, from a second Manager, finds the first one's marked
	// addresses on their own links.
	var m2 *Manager
	if err := h.Do(func() (err error) { m2, err = New(nil); return err }); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	runtime.ReadMemStats(&before)
	for i := range adds {
		removed, err := m2.RemoveStale(netlab.LinkName(costLinks-i), vip(i).Addr())
		if err != nil || !removed {
			t.Fatalf("RemoveStale %v: %v, %v; want removed", vip(i), removed, err)
		}
	}
	runtime.ReadMemStats(&after)
	per = (after.TotalAlloc - before.TotalAlloc) / adds
	t.Logf("RemoveStale allocated %d B per call with %d links", per, costLinks)
	if per > maxAddBytes {
		t.Errorf("RemoveStale allocated %d B per call with %d links; want at most %d", per, costLinks, maxAddBytes)
	}
}

// maxTakeAddBytes bounds the heap bytes of one Add at a takeover: fresh
// memory costs page faults there (~12 us a page on the lab VM, 300 us at
// worst), on the way to the first gratuitous ARP. With the dump buffer
// kept by the Manager and the interface index from one ioctl, an Add
// allocates ~3 kB; it allocated ~43 kB with a 32 kB buffer per dump and
// netlink.LinkByName's parsed link (~10 kB).
const maxTakeAddBytes = 8 << 10

func TestAddAllocatesLittle(t *testing.T) {
	lab := netlab.New(t, "vipal", 1)
	h := lab.Host(1)
	var m *Manager
	if err := h.Do(func() (err error) { m, err = New(nil); return err }); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	vip := netip.MustParsePrefix("10.99.0.100/32")
	const adds = 50
	var total uint64
	var before, after runtime.MemStats
	for range adds {
		runtime.ReadMemStats(&before)
		if err := m.Add("eth0", vip); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		total += after.TotalAlloc - before.TotalAlloc
		if len(m.Owned()) != 1 {
			t.Fatalf("Owned after Add: %v", m.Owned())
		}
		if err := m.Del("eth0", vip); err != nil {
			t.Fatal(err)
		}
	}
	per := total / adds
	t.Logf("Add allocated %d B per call", per)
	if per > maxTakeAddBytes {
		t.Errorf("Add allocated %d B per call; want at most %d (no fresh dump buffer, no parsed link per call)", per, maxTakeAddBytes)
	}
}
