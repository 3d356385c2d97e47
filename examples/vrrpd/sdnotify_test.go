package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sdListener is systemd's end of the protocol: a unixgram socket.
func sdListener(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recvNotify(t *testing.T, c *net.UnixConn) []string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second)) // a hang guard, not a timing check
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n")
}

func TestSDNotify(t *testing.T) {
	for _, kind := range []string{"path", "abstract"} {
		t.Run(kind, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "notify.sock")
			if kind == "abstract" {
				name = fmt.Sprintf("@govrrp-test-%d-%d", time.Now().UnixNano(), len(kind))
			}
			l := sdListener(t, name)
			env := map[string]string{"NOTIFY_SOCKET": name}
			n, err := newSDNotifier(func(k string) string { return env[k] }, 42)
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if n.WatchdogInterval() != 0 {
				t.Errorf("watchdog interval %v without WATCHDOG_USEC", n.WatchdogInterval())
			}

			if err := n.Ready("2 instances"); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"READY=1", "STATUS=2 instances"}, recvNotify(t, l)); diff != "" {
				t.Errorf("Ready (-want +got):\n%s", diff)
			}
			if err := n.Reloading(); err != nil {
				t.Fatal(err)
			}
			got := recvNotify(t, l)
			if len(got) != 3 || got[0] != "RELOADING=1" || !strings.HasPrefix(got[1], "MONOTONIC_USEC=") {
				t.Fatalf("Reloading sent %q, want RELOADING=1, MONOTONIC_USEC=..., STATUS=...", got)
			}
			us, err := strconv.ParseInt(strings.TrimPrefix(got[1], "MONOTONIC_USEC="), 10, 64)
			now, _ := monotonicUsec()
			if err != nil || us <= 0 || us > now {
				t.Errorf("MONOTONIC_USEC %q: want CLOCK_MONOTONIC in microseconds, at most %d", got[1], now)
			}
			if err := n.Stopping(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"STOPPING=1", "STATUS=stopping"}, recvNotify(t, l)); diff != "" {
				t.Errorf("Stopping (-want +got):\n%s", diff)
			}
			if err := n.Watchdog(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"WATCHDOG=1"}, recvNotify(t, l)); diff != "" {
				t.Errorf("Watchdog (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSDNotifyEnv(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "n.sock")
	sdListener(t, sock)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    time.Duration
		wantErr string
		wantNil bool
	}{
		{name: "not under systemd", env: map[string]string{}, wantNil: true},
		{name: "watchdog", env: map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "10000000"}, want: 5 * time.Second},
		{name: "watchdog for this pid", env: map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "42"}, want: time.Second},
		{name: "watchdog for another pid", env: map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "7"}, want: 0},
		{name: "bad watchdog", env: map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "soon"}, wantErr: "WATCHDOG_USEC"},
		{name: "relative socket", env: map[string]string{"NOTIFY_SOCKET": "n.sock"}, wantErr: "NOTIFY_SOCKET"},
		{name: "no such socket", env: map[string]string{"NOTIFY_SOCKET": sock + ".gone"}, wantErr: "NOTIFY_SOCKET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := newSDNotifier(func(k string) string { return tc.env[k] }, 42)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if (n == nil) != tc.wantNil {
				t.Fatalf("notifier %v, want nil: %v", n, tc.wantNil)
			}
			if got := n.WatchdogInterval(); got != tc.want {
				t.Errorf("watchdog interval %v, want %v", got, tc.want)
			}
			// A nil notifier accepts every call.
			if err := n.Ready("x"); err != nil {
				t.Error(err)
			}
		})
	}
}
