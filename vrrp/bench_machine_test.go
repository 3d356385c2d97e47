package vrrp_test

import (
	"testing"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// BenchmarkMachineReceiveBackup: a backup handling its master's
// advertisement (validation, learning, Master_Down_Timer restart).
// Goal: <= 50 ns/op, 0 allocs/op.
func BenchmarkMachineReceiveBackup(b *testing.B) {
	cfg := mtConfig()
	m := mtStartBackup(b, cfg)
	adv := mtAdv(cfg, 200)
	now := mt0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		m.Receive(now, adv, mtHigher, 255, mtPseudo)
	}
	if m.State() != vrrp.Backup {
		b.Fatalf("state %v", m.State())
	}
}

// BenchmarkMachineReceiveMaster: a master handling a lower-priority
// advertisement (RFC 9568 immediate re-advertisement).
// Goal: <= 50 ns/op, 0 allocs/op.
func BenchmarkMachineReceiveMaster(b *testing.B) {
	cfg := mtConfig()
	cfg.Priority = 200
	m, now := mtStartMaster(b, cfg)
	adv := mtAdv(cfg, 100)
	b.ReportAllocs()
	for b.Loop() {
		m.Receive(now, adv, mtHigher, 255, mtPseudo)
	}
	if m.State() != vrrp.Master {
		b.Fatalf("state %v", m.State())
	}
}

// BenchmarkMachineTickMaster: a master's Adver_Timer firing.
func BenchmarkMachineTickMaster(b *testing.B) {
	m, _ := mtStartMaster(b, mtConfig())
	b.ReportAllocs()
	for b.Loop() {
		m.Tick(m.Deadline())
	}
}

// TestMachineHotPathsDoNotAllocate pins the 0 allocs/op of the benchmarks
// (a deterministic count, not a timing).
func TestMachineHotPathsDoNotAllocate(t *testing.T) {
	cfg := mtConfig()
	backup := mtStartBackup(t, cfg)
	master, now := mtStartMaster(t, cfg)
	good, lower := mtAdv(cfg, 200), mtAdv(cfg, 50)
	bad := mtAdv(cfg, 200)
	bad.VRID = 9
	higher := mtAdv(cfg, 250)
	cycle, cnow := mtStartMaster(t, cfg)
	for name, f := range map[string]func(){
		"backup receive": func() { backup.Receive(now, good, mtHigher, 255, mtPseudo) },
		"master receive": func() { master.Receive(now, lower, mtHigher, 255, mtPseudo) },
		"bad vrid":       func() { backup.Receive(now, bad, mtHigher, 255, mtPseudo) },
		"master tick":    func() { master.Tick(master.Deadline()) },
		"advertisement":  func() { master.Advertisement(100) },
		"stats":          func() { _ = master.Stats() },
		"step down and take over": func() {
			cycle.Receive(cnow, higher, mtHigher, 255, mtPseudo)
			cnow = cycle.Deadline()
			cycle.Tick(cnow)
		},
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, n)
		}
	}
	if got := cycle.Stats().MasterTransitions; got < 100 {
		t.Errorf("cycle: %d master transitions, want >= 100", got)
	}
}
