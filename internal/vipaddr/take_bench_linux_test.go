//go:build linux

package vipaddr

import (
	"net/netip"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

// The benchmarks below time what vrrpd's Take does on the host at a
// takeover, one call at a time, in a lab namespace (root,
// GOVRRP_PRIVILEGED=1): the Accept_Mode filter's Block of a virtual
// router that nothing blocks yet, and the VIP's Add. The undoing
// (Unblock, Del) runs with the timer stopped. They use only the API of
// commit 3c235ed too, so that the same file builds there for an
// interleaved comparison (BENCHMARKS.md).

// startFiltered does what vrrpd does for a filtered virtual router when
// it starts: RemoveStale, then Prepare where the Filter has it (not at
// 3c235ed).
func startFiltered(b *testing.B, f *Filter) {
	if _, err := f.RemoveStale("eth0", 51, false); err != nil {
		b.Fatal(err)
	}
	if p, ok := any(f).(interface{ Prepare() error }); ok {
		if err := p.Prepare(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTakeBlock times Filter.Block of one IPv4 virtual address on
// an interface where nothing is blocked, after vrrpd's start
// (startFiltered): a takeover's filter work. Without Prepare the table
// is made by each Block and removed by the Unblock between calls.
func BenchmarkTakeBlock(b *testing.B) {
	lab := netlab.New(b, "vipbb", 1)
	h := lab.Host(1)
	var f *Filter
	if err := h.Do(func() (err error) { f, err = NewFilter(nil); return err }); err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	startFiltered(b, f)
	vip := []netip.Addr{netip.MustParseAddr("10.99.0.100")}
	b.ResetTimer()
	for range b.N {
		if err := f.Block("eth0", 51, vip); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := f.Unblock("eth0", 51, false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkTakeBlockOther is BenchmarkTakeBlock while another virtual
// router of the same Filter stays blocked (the table is kept: only the
// elements of the virtual router change).
func BenchmarkTakeBlockOther(b *testing.B) {
	lab := netlab.New(b, "vipbo", 1)
	h := lab.Host(1)
	var f *Filter
	if err := h.Do(func() (err error) { f, err = NewFilter(nil); return err }); err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Block("eth0", 52, []netip.Addr{netip.MustParseAddr("10.99.0.200")}); err != nil {
		b.Fatal(err)
	}
	vip := []netip.Addr{netip.MustParseAddr("10.99.0.100")}
	b.ResetTimer()
	for range b.N {
		if err := f.Block("eth0", 51, vip); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := f.Unblock("eth0", 51, false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkTakeAdd times Manager.Add of one IPv4 virtual address (Del
// between calls).
func BenchmarkTakeAdd(b *testing.B) {
	lab := netlab.New(b, "vipba", 1)
	h := lab.Host(1)
	var m *Manager
	if err := h.Do(func() (err error) { m, err = New(nil); return err }); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	vip := netip.MustParsePrefix("10.99.0.100/32")
	b.ResetTimer()
	for range b.N {
		if err := m.Add("eth0", vip); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := m.Del("eth0", vip); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkTake is vrrpd's Take on the host for a filtered IPv4 virtual
// router with one address: Block, then Add, as at a takeover (Unblock
// and Del between calls, the timer stopped). It reports each step's
// mean: block-us and add-us.
func BenchmarkTake(b *testing.B) {
	lab := netlab.New(b, "vipbt", 1)
	h := lab.Host(1)
	var f *Filter
	var m *Manager
	if err := h.Do(func() (err error) {
		if f, err = NewFilter(nil); err != nil {
			return err
		}
		m, err = New(nil)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	defer m.Close()
	startFiltered(b, f)
	vip := netip.MustParsePrefix("10.99.0.100/32")
	var block, add time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := f.Block("eth0", 51, []netip.Addr{vip.Addr()}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := m.Add("eth0", vip); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		block += t1.Sub(t0)
		add += t2.Sub(t1)
		b.StopTimer()
		if err := m.Del("eth0", vip); err != nil {
			b.Fatal(err)
		}
		if err := f.Unblock("eth0", 51, false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(block.Microseconds())/float64(b.N), "block-us")
	b.ReportMetric(float64(add.Microseconds())/float64(b.N), "add-us")
}
