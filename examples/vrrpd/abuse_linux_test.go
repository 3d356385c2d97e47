//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/transport/memnet"
)

// alive returns the processes of pids that still run (not gone, not
// zombies), and those in process group pgid.
func alive(t *testing.T, pgid int, pids []int) []string {
	t.Helper()
	var out []string
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid && pgid > 0 {
			out = append(out, "pid "+e.Name()+" in group "+f[2])
			continue
		}
		for _, p := range pids {
			if p == pid {
				out = append(out, "pid "+e.Name())
			}
		}
	}
	return out
}

// waitGone waits (up to a generous bound: killed processes die quickly,
// even on a loaded machine) for the group and pids to be gone.
func waitGone(t *testing.T, pgid int, pids []int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		left := alive(t, pgid, pids)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range pids {
				_ = syscallKill(p)
			}
			t.Fatalf("processes left behind: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

func readPids(path string) []int {
	b, _ := os.ReadFile(path)
	var pids []int
	for _, l := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(l); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// Issue 15 item 2: a command stopped by its context (timeout, shutdown)
// is killed with its whole process group: the shell's children do not
// survive it.
func TestShellRunKillsProcessGroup(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pids")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- shellRun(ctx, "echo $$ >"+pidFile+"; sleep 100 & echo $! >>"+pidFile+"; sleep 100", nil)
		}()
		// Cancel once both processes run (however long the machine takes).
		for len(readPids(pidFile)) < 2 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v; want context.Canceled", err)
		}
		pids := readPids(pidFile)
		waitGone(t, pids[0], pids)
	})
	t.Run("timeout", func(t *testing.T) {
		// A deadline that passes once the command's processes run (not
		// after a fixed time a loaded machine may need to start them).
		pidFile := filepath.Join(t.TempDir(), "pids")
		ctx := &deadlineCtx{Context: context.Background(), done: make(chan struct{})}
		go func() {
			for len(readPids(pidFile)) < 2 {
				time.Sleep(10 * time.Millisecond)
			}
			close(ctx.done)
		}()
		err := shellRun(ctx, "echo $$ >"+pidFile+"; sh -c 'sleep 100 & echo $! >>"+pidFile+"; sleep 100'", nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v; want context.DeadlineExceeded", err)
		}
		pids := readPids(pidFile)
		waitGone(t, pids[0], pids)
	})
	t.Run("left behind after exit", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pids")
		if err := shellRun(context.Background(), "sleep 100 & echo $! >"+pidFile+"; exit 0", nil); err != nil {
			t.Fatal(err)
		}
		pids := readPids(pidFile)
		waitGone(t, pids[0], pids)
	})
}

// deadlineCtx is a context whose deadline passes when done is closed.
type deadlineCtx struct {
	context.Context
	done chan struct{}
}

func (c *deadlineCtx) Done() <-chan struct{} { return c.done }
func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// Issue 15 item 2: shutting down the notifier while a command that
// outlives its timeout is queued returns once the timeout kills it, and
// leaves none of its processes behind.
func TestNotifierShutdownKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	n := newNotifier(shellRun, 2*time.Second, discard())
	n.notify("echo $$ >>"+pidFile+"; sh -c 'echo $$ >>"+pidFile+"; sleep 100 & echo $! >>"+pidFile+"; sleep 100'", nil)
	closed := make(chan struct{})
	go func() { n.close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("notifier close did not return")
	}
	pids := readPids(pidFile)
	if len(pids) < 3 {
		t.Fatalf("the command recorded %v: it did not start its processes within its 2s timeout", pids)
	}
	waitGone(t, pids[0], pids)
}

// Issue 15 item 3: a command's output is bounded: the first maxOutput
// bytes are kept, the rest is drained and counted, and the memory used
// does not grow with it.
func TestShellRunBoundedOutput(t *testing.T) {
	const size = 20 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := shellRun(context.Background(), "head -c "+strconv.Itoa(size)+" /dev/zero | tr '\\0' x; exit 1", nil)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("no error from a failing command")
	}
	msg := err.Error()
	if len(msg) > maxOutput+200 {
		t.Errorf("error of %d bytes; want at most the first %d bytes of output and a note", len(msg), maxOutput)
	}
	want := "[... " + strconv.Itoa(size-maxOutput) + " more bytes of output dropped]"
	if !strings.HasPrefix(msg, "exit status 1: xxxx") || !strings.HasSuffix(msg, want) {
		t.Errorf("error %.80q...%q; want the output's start and %q", msg, msg[max(0, len(msg)-80):], want)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > size/4 {
		t.Errorf("%d bytes allocated for %d bytes of output", grew, size)
	}

	// What the notifier logs is bounded too.
	var mu sync.Mutex
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logged}, nil))
	n := newNotifier(shellRun, time.Minute, log)
	n.notify("head -c "+strconv.Itoa(size)+" /dev/zero | tr '\\0' x; exit 1", nil)
	n.close()
	mu.Lock()
	defer mu.Unlock()
	if logged.Len() > 2*maxOutput || !strings.Contains(logged.String(), "more bytes of output dropped") {
		t.Errorf("notifier logged %d bytes; want at most %d", logged.Len(), 2*maxOutput)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Issue 15 item 9: the unix status socket is owner-only whatever the
// umask, or has the configured mode.
func TestStatusSocketMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		mode, want os.FileMode
	}{{0, 0o600}, {0o660, 0o660}} {
		path := filepath.Join(t.TempDir(), "s.sock")
		d := newDaemon(cfgOf(), newFakeSys(nil, 1), discard(), nil, (&recorder{}).run)
		s, err := startStatus("unix:"+path, statusOpts{mode: tc.mode}, d, discard())
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != tc.want {
			t.Errorf("mode %04o under umask 000: socket %v; want %v", tc.mode, fi.Mode(), os.ModeSocket|tc.want)
		}
		c := http.Client{Transport: &http.Transport{DialContext: unixDial(path)}}
		resp, err := c.Get("http://vrrpd/status")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.CloseIdleConnections()
		s.close()
		d.notif.close()
		if _, err := os.Lstat(path + ".new"); !os.IsNotExist(err) {
			t.Errorf("temporary socket name left: %v", err)
		}
	}
}

// getOn sends a status request on c and reads the whole response; the
// connection stays open (keep-alive).
func getOn(c net.Conn, br *bufio.Reader) error {
	if _, err := io.WriteString(c, "GET /status HTTP/1.1\r\nHost: vrrpd\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// Issue 15 item 1: the status server serves a bounded number of
// connections at once, and closes idle keep-alive connections.
func TestStatusServerConnLimits(t *testing.T) {
	d := newDaemon(cfgOf(), newFakeSys(nil, 1), discard(), nil, (&recorder{}).run)
	defer d.notif.close()

	t.Run("max conns", func(t *testing.T) {
		s, err := startStatus("127.0.0.1:0", statusOpts{maxConns: 2, idle: time.Hour}, d, discard())
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		var conns []net.Conn
		for i := range 2 {
			c, err := net.Dial("tcp", s.addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := getOn(c, bufio.NewReader(c)); err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			conns = append(conns, c)
		}
		// A third one waits while the two stay open (idle)...
		c, err := net.Dial("tcp", s.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		got := make(chan error, 1)
		go func() { got <- getOn(c, bufio.NewReader(c)) }()
		select {
		case err := <-got:
			t.Fatalf("a third connection was served beyond the limit of 2 (%v)", err)
		case <-time.After(300 * time.Millisecond):
		}
		// ... and is served once one of them closes.
		conns[0].Close()
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the waiting connection was not served after another closed")
		}
	})

	t.Run("idle timeout", func(t *testing.T) {
		s, err := startStatus("127.0.0.1:0", statusOpts{idle: 200 * time.Millisecond}, d, discard())
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		c, err := net.Dial("tcp", s.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if err := getOn(c, br); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("idle keep-alive connection: read %v; want the server to close it (EOF)", err)
		}
	})
}

// Issue 15 item 2: at shutdown a running track script is killed with
// its whole process group: the daemon returns without waiting for it and
// leaves none of its processes behind.
func TestDaemonShutdownKillsScriptGroup(t *testing.T) {
	lan := memnet.New(memnet.Config{})
	defer lan.Close()
	pidFile := filepath.Join(t.TempDir(), "pids")
	cfg := cfgOf(inst("VI_1", 1, 100, "10.0.0.100"))
	cfg.Instances[0].TrackScripts = []string{"slow"}
	cfg.Scripts = []Script{{Name: "slow", Command: "echo $$ >>" + pidFile + "; sleep 100 & echo $! >>" + pidFile + "; sleep 100",
		Interval: time.Second, Timeout: time.Hour, Weight: -10, Rise: 1, Fall: 1}}
	d := newDaemon(cfg, newFakeSys(lan, 1), discard(), nil, shellRun)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	for len(readPids(pidFile)) < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return with a track script running")
	}
	pids := readPids(pidFile)
	waitGone(t, pids[0], pids)
}
