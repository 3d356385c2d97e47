package arpnd

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/govrrp/govrrp/vrrp"
)

// liveHeap returns the heap marked reachable by a collection run now,
// after one more that empties the sync.Pools (a collection keeps their
// contents for one more cycle).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// warmGoroutines makes the runtime hold n idle goroutine descriptors
// for the timers' goroutines to reuse: it never frees one, so those a
// measurement's timers started, up to one per virtual router when they
// all run out at once, would count as held (0 to 400 B per virtual
// router from one run to the next).
func warmGoroutines(n int) {
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range n {
		wg.Go(func() { <-release })
	}
	close(release)
	wg.Wait()
}

// heldVRs is the number of virtual routers of the held-heap tests: more
// than one table of a map takes (896 entries) would make the tables'
// share depend on how the map's random seed splits the keys, 20 B per
// virtual router from one run to the next.
const heldVRs = 800

// heldVRInfos returns n IPv4 virtual routers with one virtual address
// each, one per interface as vrrpd runs them.
func heldVRInfos(n int) []vrrp.VRInfo {
	vrs := make([]vrrp.VRInfo, n)
	for i := range vrs {
		vrs[i] = vrrp.VRInfo{Name: fmt.Sprint("VI_", i+1), Interface: fmt.Sprint("l", i+1), IfIndex: i + 1,
			VRID: uint8(1 + i%255), Version: 3, Priority: 100,
			Addrs: []netip.Addr{netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}}
	}
	return vrs
}

// Bounds of the live heap the Announcer holds per IPv4 virtual router of
// one virtual address, master, in vrrpd's configuration
// (ModeInterfaceMAC, keepalived's schedule), the link aside: while its
// second burst is pending, and once the schedule is over (issue 12:
// vrrpd at 4,094 links).
//
// Before (Go 1.26, amd64): 890-908 B pending, 601-628 B settled; a
// 224-byte vrState, a map per virtual router for its pending tasks (48
// B, and a 144-byte group kept from the first task on), a copy of the
// schedule in every vrState and in the closure of a pending burst, the
// frames' slice of slices. Now 538-556 B and 314-332 B: a 144-byte
// vrState with the tasks on a list, the schedule shared, the frames in
// one array (what is left settled: vrState 144, the Announcer's map
// entry ~60, the frame 64, the address 24).
const (
	maxHeldPerVRPending = 640
	maxHeldPerVRSettled = 400
)

// TestAnnouncerHeldPerVirtualRouter bounds the live heap the Announcer
// holds per virtual router, the link aside (NewConn's one link serves
// them all): its state and its entry in the Announcer's table, the
// addresses and their announcement frames, and the pending tasks and
// their timers. Deterministic up to the runtime's own caches: live bytes
// after a collection, in a bubble whose clock only moves when told.
func TestAnnouncerHeldPerVirtualRouter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vrs := heldVRInfos(heldVRs)
		a, err := NewConn(Config{}, Interface{HardwareAddr: hostMAC}, discardConn{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		warmGoroutines(2 * heldVRs)
		base := liveHeap()
		for _, vr := range vrs {
			if err := a.Take(vr); err != nil {
				t.Fatal(err)
			}
			if err := a.Announce(vr); err != nil {
				t.Fatal(err)
			}
		}
		if p := a.Pending(); p != heldVRs {
			t.Fatalf("%d tasks pending after the takeovers, want %d (the second bursts)", p, heldVRs)
		}
		pending := (float64(liveHeap()) - float64(base)) / heldVRs
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if p := a.Pending(); p != 0 {
			t.Fatalf("%d tasks pending after the schedule, want 0", p)
		}
		settled := (float64(liveHeap()) - float64(base)) / heldVRs
		t.Logf("held per virtual router: %.0f B with its second burst pending, %.0f B once settled", pending, settled)
		if want := uint64(2 * 5 * heldVRs); a.Stats().GARPs != want {
			t.Errorf("%d gratuitous ARPs sent, want %d", a.Stats().GARPs, want)
		}
		if raceEnabled {
			return
		}
		if pending > maxHeldPerVRPending {
			t.Errorf("%.0f B held per virtual router with its second burst pending, want at most %d", pending, maxHeldPerVRPending)
		}
		if settled > maxHeldPerVRSettled {
			t.Errorf("%.0f B held per settled virtual router, want at most %d", settled, maxHeldPerVRSettled)
		}
		runtime.KeepAlive(vrs)
	})
}

// maxHeldPerProbe bounds the live heap a Prober holds per IPv4 Probe
// with one MAC of the router's own besides the interface's, as vrrpd
// adds them (issue 12). Before (Go 1.26, amd64): 362-380 B; a 192-byte
// Probe, its frame (64 B) and own MACs (16 B) apart, a slice per key in
// the index (its array, and 56-byte map slots). Now 285-303 B: a
// 144-byte Probe, one array for the frame and the MACs (80 B), the index
// of one Probe per key (40-byte slots).
const maxHeldPerProbe = 330

// TestProberHeldPerProbe bounds the live heap a Prober holds per Probe:
// the Probe, its frame and own MACs, its entry in the Prober's index.
// Deterministic: live bytes after a collection.
func TestProberHeldPerProbe(t *testing.T) {
	vrs := heldVRInfos(heldVRs)
	own := []net.HardwareAddr{VirtualMAC(1, false)}
	onAnswer := make([]func(net.HardwareAddr), heldVRs) // the caller's
	for i := range onAnswer {
		onAnswer[i] = func(net.HardwareAddr) { _ = i }
	}
	prs := make([]*Probe, 0, heldVRs)
	p := NewProberConn(ProberConfig{}, nopProbeConn{}, nil)
	defer p.Close()
	base := liveHeap()
	for i, vr := range vrs {
		pr, err := p.Add(ProbeTarget{IfIndex: vr.IfIndex, Addr: vr.Addrs[0], HardwareAddr: hostMAC, Own: own, OnAnswer: onAnswer[i]})
		if err != nil {
			t.Fatal(err)
		}
		prs = append(prs, pr)
	}
	per := (float64(liveHeap()) - float64(base)) / heldVRs
	t.Logf("held per probe: %.0f B", per)
	if !raceEnabled && per > maxHeldPerProbe {
		t.Errorf("%.0f B held per probe of %d, want at most %d", per, heldVRs, maxHeldPerProbe)
	}
	runtime.KeepAlive(vrs)
	runtime.KeepAlive(onAnswer)
	runtime.KeepAlive(prs)
}

// TestHeldSizes pins the size of the structures a daemon holds one of
// per link or virtual address (issue 12), so that a new field that
// takes one into the next size class shows here, not only as a few
// bytes more in the tests above. 64-bit sizes; smaller elsewhere.
func TestHeldSizes(t *testing.T) {
	for _, tt := range []struct {
		name      string
		size, max uintptr
	}{
		{"vrState", unsafe.Sizeof(vrState{}), 144},
		{"link", unsafe.Sizeof(link{}), 112},
		{"Probe", unsafe.Sizeof(Probe{}), 144},
		{"task", unsafe.Sizeof(task{}), 32},
	} {
		if tt.size > tt.max {
			t.Errorf("%s is %d bytes; want at most %d (a size class of the runtime)", tt.name, tt.size, tt.max)
		}
	}
}
