package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/transport/memnet"
)

// Issue 14: the daemon, run as systemd runs a Type=notify service (with
// $NOTIFY_SOCKET, on a fake system), says READY=1 once its instances
// run, RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1 when it
// shuts down, with STATUS= lines.
func TestDaemonSDNotifySequence(t *testing.T) {
	dir := netlab.TempDir(t)
	sock := filepath.Join(dir, "notify.sock")
	l := sdListener(t, sock)
	cfgFile := filepath.Join(dir, "vrrpd.toml")
	toml := `
[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 1
priority = 150
interval = "100ms"
vips = ["10.0.0.100"]
`
	if err := os.WriteFile(cfgFile, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	lan := memnet.New(memnet.Config{})
	defer lan.Close()
	sys := newFakeSys(lan, 1)
	env := hostEnv{
		newSystem: func(*slog.Logger) (system, error) { return sys, nil },
		getenv: func(k string) string {
			switch k {
			case "NOTIFY_SOCKET":
				return sock
			case "WATCHDOG_USEC":
				return "100000" // WATCHDOG=1 every 50ms
			}
			return ""
		},
		pid: os.Getpid(),
		run: (&recorder{}).run,
	}
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	code := make(chan int, 1)
	go func() { code <- runEnv(ctx, []string{"-config", cfgFile}, io.Discard, hup, env) }()
	defer func() {
		cancel()
		<-code
	}()

	// next returns the next notification that is not a bare STATUS= or
	// WATCHDOG=1.
	watchdogs := 0
	next := func() []string {
		t.Helper()
		for {
			m := recvNotify(t, l)
			if m[0] == "WATCHDOG=1" {
				watchdogs++
				continue
			}
			if !strings.HasPrefix(m[0], "STATUS=") {
				return m
			}
		}
	}
	m := next()
	if m[0] != "READY=1" || !strings.HasPrefix(m[1], "STATUS=1 instances: ") {
		t.Fatalf("first notification %q; want READY=1 with STATUS=1 instances: ...", m)
	}
	// The Router answers its control calls: the watchdog is fed.
	for watchdogs == 0 {
		if m := recvNotify(t, l); m[0] == "WATCHDOG=1" {
			watchdogs++
		}
	}
	hup <- syscall.SIGHUP
	if m = next(); m[0] != "RELOADING=1" || !strings.HasPrefix(m[1], "MONOTONIC_USEC=") {
		t.Fatalf("after SIGHUP: %q; want RELOADING=1, MONOTONIC_USEC=", m)
	}
	if m = next(); m[0] != "READY=1" {
		t.Fatalf("after the reload: %q; want READY=1", m)
	}
	cancel()
	if m = next(); m[0] != "STOPPING=1" {
		t.Fatalf("at shutdown: %q; want STOPPING=1", m)
	}
	if c := <-code; c != 0 {
		t.Errorf("exit status %d; want 0", c)
	}
	code <- 0
}

// Issue 14: the unit file passes systemd-analyze verify with its paths
// pointed at a built vrrpd.
func TestServiceUnitVerifies(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		netlab.SkipOrFail(t, "systemd-analyze not installed")
	}
	dir := netlab.TempDir(t)
	bin := filepath.Join(dir, "vrrpd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	unit, err := os.ReadFile("vrrpd.service")
	if err != nil {
		t.Fatal(err)
	}
	u := strings.ReplaceAll(string(unit), "/usr/local/bin/vrrpd", bin)
	if u == string(unit) {
		t.Fatal("the unit does not run /usr/local/bin/vrrpd")
	}
	path := filepath.Join(dir, "vrrpd.service")
	if err := os.WriteFile(path, []byte(u), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
