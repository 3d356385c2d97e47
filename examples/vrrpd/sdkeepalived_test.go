package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govrrp/govrrp/transport/memnet"
)

// TestKeepalivedSDNotifyReady: vrrpd -keepalived FILE speaks systemd's
// readiness protocol as vrrpd -config does. It had a run loop of its own
// that never sent READY=1, so under the shipped unit (Type=notify)
// systemd would have killed it at its start timeout.
func TestKeepalivedSDNotifyReady(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	l := sdListener(t, sock)
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(`vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.0.0.100
    }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	lan := memnet.New(memnet.Config{})
	defer lan.Close()
	sys := newFakeSys(lan, 1)
	env := hostEnv{
		newSystem: func(*slog.Logger) (system, error) { return sys, nil },
		getenv: func(k string) string {
			if k == "NOTIFY_SOCKET" {
				return sock
			}
			return ""
		},
		pid: os.Getpid(),
		run: (&recorder{}).run,
	}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- cliEnv(ctx, []string{"-keepalived", conf}, io.Discard, io.Discard, make(chan os.Signal), env)
	}()
	for {
		m := recvNotify(t, l)
		if strings.HasPrefix(m[0], "STATUS=") {
			continue
		}
		if m[0] != "READY=1" {
			t.Fatalf("first notification %q, want READY=1", m)
		}
		break
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit status %d, want 0", c)
	}
	if m := recvNotify(t, l); m[0] != "STOPPING=1" {
		t.Errorf("after cancel: %q, want STOPPING=1", m)
	}
}
