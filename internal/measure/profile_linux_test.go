//go:build linux

package measure

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/raw"
	"github.com/govrrp/govrrp/vrrp"
)

// TestProfile takes CPU profiles of the library as the vrrpd example
// runs it, with 255 virtual routers at 100 ms, VRRPv3 over IPv4: a
// vrrp.Router on the raw transport, in this process, on one lab host,
// against a vrrpd process on the other. vrrpd has no profiling flag, so
// this is how its steady-state CPU is broken down; the Hook does nothing
// (no virtual addresses, no ARP), which changes nothing once converged.
// Gated like TestMeasure:
//
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/measure -run TestProfile -measure -v
//
// It writes profile-master.pprof and profile-backup.pprof into
// -measure.out and logs `go tool pprof -top` of each.
func TestProfile(t *testing.T) {
	gate(t)
	bin := buildVrrpd(t, netlab.TempDir(t))
	im := vrrpdImpl(bin)
	for _, side := range []string{"backup", "master"} {
		t.Run(side, func(t *testing.T) {
			profileSide(t, im, side, *vrsFlag, 100*time.Millisecond, *windowFlag)
		})
	}
}

func profileSide(t *testing.T, im impl, side string, n int, interval, window time.Duration) {
	lab := netlab.New(t, "mp", 2)
	self, peer := lab.Host(2), lab.Host(1)
	selfPrio, peerPrio, want := 100, 200, vrrp.Backup
	if side == "master" {
		self, peer = lab.Host(1), lab.Host(2)
		selfPrio, peerPrio, want = 200, 100, vrrp.Master
	}
	var conn transport.Conn
	if err := self.Do(func() error {
		c, err := raw.Listen(self.Iface, &raw.Config{Family: 4})
		conn = c
		return err
	}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := vrrp.NewRouter(vrrp.RouterConfig{Logger: log, Hook: vrrp.HookFuncs{}})
	for id := 1; id <= n; id++ {
		err := r.Add(vrrp.VirtualRouter{
			Name: fmt.Sprintf("VI_%d", id), Conn: conn, Interface: self.Iface, IfIndex: self.IfIndex,
			Config: vrrp.Config{VRID: uint8(id), Priority: uint8(selfPrio), Version: 3, AdvertInterval: interval,
				Addrs:   []netip.Addr{netip.AddrFrom4([4]byte{10, 99, 1, byte(id)})},
				Primary: self.Addr4},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	if side == "backup" {
		// The master first, as in the CPU measurement.
		d := im.startMany(t, peer, n, peerPrio, interval)
		waitAll(t, im, d, n, "MASTER")
	}
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Router.Run: %v", err)
		}
	}()
	if side == "master" {
		// Let the in-process routers win, then start the backup.
		waitRouter(t, r, n, want)
		d := im.startMany(t, peer, n, peerPrio, interval)
		waitAll(t, im, d, n, "BACKUP")
	}
	waitRouter(t, r, n, want)
	time.Sleep(7 * time.Second)

	file := outPath(t, "profile-"+side+".pprof")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	t0 := time.Now()
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	time.Sleep(window)
	pprof.StopCPUProfile()
	wall := time.Since(t0)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	f.Close()
	cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime)-syscall.TimevalToNsec(ru0.Utime)) +
		time.Duration(syscall.TimevalToNsec(ru1.Stime)-syscall.TimevalToNsec(ru0.Stime))
	waitRouter(t, r, n, want) // still converged: the window is valid
	st := r.RouterStats()
	t.Logf("%s, in process: %v CPU in %v (%.2f%% of a core; includes the profiler's own cost); router stats %+v",
		side, cpu, wall.Round(time.Millisecond), 100*cpu.Seconds()/wall.Seconds(), st)
	exe, _ := os.Executable()
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=35", exe, file).CombinedOutput()
	if err != nil {
		t.Logf("go tool pprof: %v", err)
	}
	t.Logf("go tool pprof -top %s:\n%s", file, out)
	cum, _ := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=35", exe, file).CombinedOutput()
	t.Logf("go tool pprof -top -cum %s:\n%s", file, cum)
}

// waitRouter waits until n virtual routers of r are in state want.
func waitRouter(t *testing.T, r *vrrp.Router, n int, want vrrp.State) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := 0
		for id := 1; id <= n; id++ {
			if s, err := r.State(fmt.Sprintf("VI_%d", id)); err == nil && s == want {
				got++
			}
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d virtual routers %v after 30s", got, n, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
