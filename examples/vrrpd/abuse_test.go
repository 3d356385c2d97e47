package main

// Tests for the defects of issue 15 ("The daemon, abused").

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/transport/memnet"
)

// logRec records every log line: level, message and attributes.
type logRec struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRec) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRec) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRec) WithGroup(string) slog.Handler            { return l }
func (l *logRec) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}

// matching returns the lines containing every one of subs.
func (l *logRec) matching(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if !slices.ContainsFunc(subs, func(s string) bool { return !strings.Contains(line, s) }) {
			out = append(out, line)
		}
	}
	return out
}

// Issue 15 item 11: addresses that can never be a virtual router's are
// refused, in a file and on the command line, with the key named and
// what is allowed.
func TestVIPRefused(t *testing.T) {
	bad := []string{
		"255.255.255.255", "255.255.255.255/32", "169.254.1.1", "169.254.1.1/16",
		"127.0.0.1", "127.0.0.1/8", "0.0.0.0", "224.0.0.18", "239.1.1.1/32",
		"10.0.0.255/24", // the directed broadcast of its own prefix
		"::1", "::", "ff02::12", "ff05::1/128", "::ffff:10.0.0.1",
	}
	for _, v := range bad {
		text := "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"" + v + "\"]\n"
		_, err := parseTOML("f.toml", text)
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrUsage) {
			t.Errorf("vips = [%q]: err = %v; want a ConfigError", v, err)
			continue
		}
		if ce.Key != "vips" || ce.Value != v || !strings.Contains(ce.Allowed, "unicast") ||
			!strings.HasPrefix(err.Error(), `f.toml: instance[0] "A": vips = `+v+`: want `) {
			t.Errorf("vips = [%q]: %v; want the instance, key, value and what is allowed", v, err)
		}
		_, err = parseFlags([]string{"-iface", "eth0", "-vrid", "1", v})
		if !errors.As(err, &ce) || ce.Key != "VIP argument" || ce.Value != v {
			t.Errorf("argument %q: err = %v; want a ConfigError naming the VIP argument", v, err)
		}
	}
	good := []string{"10.0.0.1", "10.0.0.254/24", "10.0.0.255/23", "10.0.0.1/31", "10.0.0.1/32",
		"192.0.2.255", "fe80::1", "2001:db8::1/64"}
	for _, v := range good {
		text := "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"" + v + "\"]\n"
		if _, err := parseTOML("f.toml", text); err != nil {
			t.Errorf("vips = [%q]: %v; want it accepted", v, err)
		}
	}
}

// Issue 15 item 6: instances share a transport only when they agree on
// ring: one that did not ask for the ring (which bypasses the host
// firewall) never receives through another's.
func TestRingNotShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		plain := inst("VI_1", 1, 100, "10.0.0.100")
		ring := inst("VI_2", 2, 100, "10.0.0.200")
		ring.Ring = true
		same := inst("VI_3", 3, 100, "10.0.0.201")
		h := startHost(t, lan, 1, cfgOf(plain, ring, same))
		time.Sleep(time.Second)
		synctest.Wait()
		h.sys.mu.Lock()
		opens := h.sys.opens
		h.sys.mu.Unlock()
		if opens != 2 {
			t.Errorf("%d transports opened for a ring and two plain instances; want 2", opens)
		}
		h.d.mu.Lock()
		if h.d.vrs["VI_1"].conn == h.d.vrs["VI_2"].conn || h.d.vrs["VI_1"].conn != h.d.vrs["VI_3"].conn {
			t.Errorf("VI_1 (no ring) shares with VI_2 (ring) or not with VI_3 (no ring)")
		}
		h.d.mu.Unlock()
	})
}

// Issue 15 item 8: a track script's default timeout leaves room on a
// loaded machine: its interval, but at least 5s.
func TestScriptDefaultTimeout(t *testing.T) {
	for _, tc := range []struct {
		interval, timeout string
		want              time.Duration
	}{
		{"", "", 5 * time.Second},
		{"10ms", "", 5 * time.Second},
		{"1s", "", 5 * time.Second},
		{"30s", "", 30 * time.Second},
		{"1s", "200ms", 200 * time.Millisecond},
	} {
		text := "[[script]]\nname = \"s\"\ncommand = \"true\"\n"
		if tc.interval != "" {
			text += "interval = \"" + tc.interval + "\"\n"
		}
		if tc.timeout != "" {
			text += "timeout = \"" + tc.timeout + "\"\n"
		}
		text += "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.1\"]\ntrack_script = [\"s\"]\n"
		cfg, err := parseTOML("f.toml", text)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Scripts[0].Timeout; got != tc.want {
			t.Errorf("interval %q, timeout %q: timeout %v; want %v", tc.interval, tc.timeout, got, tc.want)
		}
	}
}

// Issue 15 item 8: a flapping track script does not flood the log: its
// first change is logged, the next ones within scriptLogEvery are
// summarised in one line.
func TestScriptLogRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		var runs atomic.Int64
		run := func(ctx context.Context, cmd string, args []string) error {
			if cmd == "flap" && runs.Add(1)%2 == 0 {
				return errors.New("exit status 1")
			}
			return nil
		}
		cfg := cfgOf(inst("VI_1", 1, 100, "10.0.0.100"))
		cfg.Instances[0].TrackScripts = []string{"flap"}
		cfg.Scripts = []Script{{Name: "flap", Command: "flap", Interval: 100 * time.Millisecond,
			Timeout: time.Second, Weight: -10, Rise: 1, Fall: 1}}
		rec := &logRec{}
		sys := newFakeSys(lan, 1)
		d := newDaemon(cfg, sys, slog.New(rec), nil, run)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		d.notif.close()

		changes := rec.matching("script=flap")
		// About 300 changes in 30 s: one line each before; now one
		// line, then one summary per 10 s.
		if len(changes) > 8 || len(changes) < 2 {
			t.Errorf("%d log lines about a script flapping for 30s; want 2-8:\n%s", len(changes), strings.Join(changes, "\n"))
		}
		if s := rec.matching("track script flapping", "script=flap", "left_out="); len(s) == 0 {
			t.Errorf("no summary of the lines left out in:\n%s", strings.Join(changes, "\n"))
		}
	})
}

// Issue 15 items 8 and 14: a track script killed at its timeout is
// reported as a timeout, at warn level, not as "signal: killed" at info.
func TestScriptTimeoutWarns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		run := func(ctx context.Context, cmd string, args []string) error {
			<-ctx.Done() // hangs until killed; shellRun's error
			return errors.Join(errors.New("killed with its process group"), ctx.Err())
		}
		cfg := cfgOf(inst("VI_1", 1, 100, "10.0.0.100"))
		cfg.Instances[0].TrackScripts = []string{"hang"}
		cfg.Scripts = []Script{{Name: "hang", Command: "hang", Interval: time.Second,
			Timeout: 2 * time.Second, Weight: 0, Rise: 1, Fall: 1}}
		rec := &logRec{}
		d := newDaemon(cfg, newFakeSys(lan, 1), slog.New(rec), nil, run)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		d.notif.close()
		if got := rec.matching("WARN", "track script timed out", "script=hang", "timeout=2s"); len(got) == 0 {
			t.Errorf("no warning of the timeout in:\n%s", strings.Join(rec.matching("script=hang"), "\n"))
		}
	})
}

// Issue 15 item 9: status_mode / -status-mode set the unix socket's
// mode; bad modes and a mode without a unix socket are refused.
func TestStatusModeConfig(t *testing.T) {
	inst := "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.1\"]\n"
	cfg, err := parseTOML("f.toml", "status = \"unix:/run/v.sock\"\nstatus_mode = \"0660\"\n"+inst)
	if err != nil || cfg.StatusMode != 0o660 {
		t.Errorf("status_mode 0660: %v, %v", cfg.StatusMode, err)
	}
	cfg, err = parseFlags([]string{"-iface", "eth0", "-vrid", "1", "-status", "unix:/run/v.sock", "-status-mode", "640", "10.0.0.1"})
	if err != nil || cfg.StatusMode != 0o640 {
		t.Errorf("-status-mode 640: %v, %v", cfg.StatusMode, err)
	}
	for _, tc := range []struct{ text, want string }{
		{"status = \"unix:/s\"\nstatus_mode = \"0999\"\n", `f.toml: status_mode = 0999: want an octal mode`},
		{"status = \"unix:/s\"\nstatus_mode = \"01777\"\n", `f.toml: status_mode = 01777: want an octal mode`},
		{"status = \"unix:/s\"\nstatus_mode = \"0444\"\n", `f.toml: status_mode = 0444: want an octal mode from 0200 to 0777 with the owner's write bit`},
	} {
		_, err := parseTOML("f.toml", tc.text+inst)
		if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want %q", tc.text, err, tc.want)
		}
	}
	_, err = parseFlags([]string{"-iface", "eth0", "-vrid", "1", "-status", "127.0.0.1:8080", "-status-mode", "0600", "10.0.0.1"})
	if err == nil || !strings.Contains(err.Error(), "-status-mode 0600: want no status_mode without a unix:/path status address") {
		t.Errorf("-status-mode with a TCP status address: %v", err)
	}
}

// countCalls counts what's calls ("take-failed", "take", ...) of name.
func countCalls(s *fakeSys, name, what string) int {
	n := 0
	for _, c := range s.callsOf(name) {
		if c == what {
			n++
		}
	}
	return n
}

// Issue 15 item 1: a failed Take or Release (the fd limit reached, say)
// is retried with backoff until it succeeds or the state changes, off the
// Router's goroutine, and the status shows it.
func TestHostOpRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		sys := newFakeSys(lan, 1)
		sys.setFail(3, 0)
		d := newDaemon(cfgOf(inst("VI_1", 1, 200, "10.0.0.100/24")), sys, discard(), nil, (&recorder{}).run)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		defer func() {
			cancel()
			<-done
			d.notif.close()
		}()
		vips := []string{"eth0 10.0.0.100/24"}

		// Master at about 0.3s; its take fails, and so do two retries.
		time.Sleep(time.Second)
		synctest.Wait()
		is := d.status().Instances[0]
		if is.State != "MASTER" || is.HostPending != "take" || !strings.Contains(is.HostError, "too many open files") {
			t.Errorf("while the take fails: state %s, host_pending %q, host_error %q; want MASTER, take, the error",
				is.State, is.HostPending, is.HostError)
		}
		if got := sys.installed(); len(got) != 0 {
			t.Fatalf("installed %v while the take fails", got)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff(vips, sys.installed()); diff != "" {
			t.Errorf("after the retries (-want +got):\n%s", diff)
		}
		is = d.status().Instances[0]
		if is.HostPending != "" || is.HostError != "" || is.HostRetries != 3 {
			t.Errorf("after the take succeeded: host_pending %q, host_error %q, host_retries %d; want none, none, 3",
				is.HostPending, is.HostError, is.HostRetries)
		}
		if calls := sys.callsOf("VI_1"); !slices.Equal(calls[len(calls)-2:], []string{"take", "announce"}) {
			t.Errorf("calls %v; want the retried take announced", calls)
		}

		// A peer takes over; the release fails twice, then succeeds.
		sys.setFail(0, 2)
		peer := startHost(t, lan, 2, cfgOf(inst("VI_1", 1, 250, "10.0.0.100/24")))
		// It preempts at about 0.3s; the Router retries the release
		// 100ms and 300ms after it fails.
		time.Sleep(350 * time.Millisecond)
		synctest.Wait()
		is = d.status().Instances[0]
		if is.State != "BACKUP" || is.HostPending != "release" {
			t.Errorf("while the release fails: state %s, host_pending %q; want BACKUP, release", is.State, is.HostPending)
		}
		time.Sleep(10*time.Second - 350*time.Millisecond)
		synctest.Wait()
		if got := sys.installed(); len(got) != 0 {
			t.Errorf("backup still holds %v after the release retries", got)
		}
		if is = d.status().Instances[0]; is.HostPending != "" || is.HostRetries != 5 {
			t.Errorf("after the release succeeded: host_pending %q, host_retries %d; want none, 5", is.HostPending, is.HostRetries)
		}

		// The peer leaves: the take fails for good... until the state
		// changes again (a peer comes back): then no more take is tried.
		sys.setFail(1<<30, 0)
		peer.stop()
		<-peer.err
		peer.err <- nil // for its Cleanup
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if is = d.status().Instances[0]; is.State != "MASTER" || is.HostPending != "take" {
			t.Errorf("take failing for good: state %s, host_pending %q", is.State, is.HostPending)
		}
		startHost(t, lan, 3, cfgOf(inst("VI_1", 1, 250, "10.0.0.100/24")))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if is = d.status().Instances[0]; is.State != "BACKUP" || is.HostPending != "" {
			t.Errorf("after losing master: state %s, host_pending %q; want BACKUP and nothing pending", is.State, is.HostPending)
		}
		failed := countCalls(sys, "VI_1", "take-failed")
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := countCalls(sys, "VI_1", "take-failed"); n != failed {
			t.Errorf("%d more takes tried after the instance left master", n-failed)
		}
	})
}

// Issue 15 item 4: an instance whose VIP the system refuses (the host's
// own address) does not start: the daemon fails, naming the instance,
// the key and the address.
func TestOwnAddressVIPRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		sys := newFakeSys(lan, 1)
		sys.own = []netip.Addr{sys.addr4}
		d := newDaemon(cfgOf(inst("VI_1", 1, 100, "10.0.0.1")), sys, discard(), nil, (&recorder{}).run)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		cancel()
		err := <-done
		d.notif.close()
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `instance "VI_1": vips = 10.0.0.1/32: want an address not configured on eth0`) {
			t.Errorf("Run = %v; want the instance, key and address named", err)
		}
		if n := len(sys.callsOf("VI_1")); n != 0 {
			t.Errorf("the refused instance ran: %v", sys.callsOf("VI_1"))
		}

	})
}
