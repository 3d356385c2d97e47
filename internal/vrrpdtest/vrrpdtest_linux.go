//go:build linux

package vrrpdtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/proc"
)

// stopTimeout bounds how long Stop waits for vrrpd to exit after SIGTERM,
// and Kill for its notify scripts to be gone after SIGKILL; it is a hang
// guard, not a timing assertion.
const stopTimeout = 20 * time.Second

// logTail is how much of its log a Proc prints when its test failed.
const logTail = 16 << 10

// A Proc is one examples/vrrpd process running in a lab host's network
// namespace. Create it with Start. Its methods may be called from any
// goroutine.
type Proc struct {
	// Host is the lab host vrrpd runs on.
	Host *netlab.Host
	// Name labels the process in messages (Start's name argument).
	Name string
	// Dir holds notify.sh, notify.log, status.sock and vrrpd.log (its
	// standard output and error).
	Dir string

	t       testing.TB
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{} // closed when cmd.Wait returns
	waitErr error         // set before done is closed
}

// Start runs the vrrpd Build made on h with args, preceded by
// `-status unix:DIR/status.sock -notify DIR/notify.sh`. It does not wait
// for any state. A Cleanup on t kills it if it still runs and, when t
// failed, logs its command line, the end of its log and its notify
// record.
func Start(t testing.TB, h *netlab.Host, name string, args ...string) *Proc {
	t.Helper()
	return StartBinary(t, Build(t), h, name, args...)
}

// StartBinary is Start with a vrrpd binary of the caller's (BuildRace's,
// say).
func StartBinary(t testing.TB, bin string, h *netlab.Host, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Host: h, Name: name, Dir: netlab.TempDir(t), t: t, done: make(chan struct{})}
	notify, err := keepalived.WriteNotifyScript(p.Dir)
	if err != nil {
		t.Fatalf("vrrpdtest: %v", err)
	}
	if p.logFile, err = os.Create(filepath.Join(p.Dir, "vrrpd.log")); err != nil {
		t.Fatalf("vrrpdtest: %v", err)
	}
	args = append([]string{"-status", "unix:" + p.StatusPath(), "-notify", notify}, args...)
	p.cmd = h.Command(context.Background(), bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.logFile, p.logFile
	if err := p.cmd.Start(); err != nil {
		p.logFile.Close()
		t.Fatalf("vrrpdtest: %s: start: %v", p, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.cleanup)
	return p
}

// String names the process for messages: "vrrpd NAME on HOST".
func (p *Proc) String() string {
	if p.Name == "" {
		return "vrrpd on " + p.Host.Name
	}
	return "vrrpd " + p.Name + " on " + p.Host.Name
}

func (p *Proc) cleanup() {
	p.Kill()
	p.logFile.Close()
	if p.t.Failed() {
		log := p.Log()
		if len(log) > logTail {
			log = fmt.Sprintf("[first %d bytes left out]\n%s", len(log)-logTail, log[len(log)-logTail:])
		}
		p.t.Logf("%s (%s): %s\nlog:\n%s\nnotify.log:\n%s", p, p.Host.NS, strings.Join(p.cmd.Args, " "), log, p.Notified())
	}
}

// PID returns vrrpd's process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Running reports whether vrrpd has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to vrrpd (SIGHUP: reload the configuration file).
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends SIGTERM (vrrpd then sends a priority 0 advertisement,
// removes its virtual addresses and exits 0) and waits for the exit. It
// fails the test when vrrpd is not running or exits with a non-zero
// status; after stopTimeout it fails it and kills vrrpd.
func (p *Proc) Stop() {
	p.t.Helper()
	if !p.Running() {
		p.t.Errorf("%s: Stop: not running (%v)", p, p.waitErr)
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.t.Errorf("%s: no exit %v after SIGTERM; killing it", p, stopTimeout)
		p.Kill()
		return
	}
	if p.waitErr != nil {
		p.t.Errorf("%s: exit after SIGTERM: %v, want status 0", p, p.waitErr)
	}
}

// Kill crashes vrrpd: SIGKILL, by PID, to vrrpd and the notify scripts it
// runs (internal/proc.KillTree), and to anything else left in its process
// group. It returns once vrrpd is reaped and its children are gone: it
// sends nothing more, and its virtual addresses stay where they are, as
// after a real crash.
func (p *Proc) Kill() {
	if !p.Running() {
		return
	}
	pid := p.PID()
	tree := proc.KillTree(pid)
	// A notify script forked after KillTree read the tree: the group ID
	// is vrrpd's PID (netlab's Command sets Setpgid).
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
	if q := proc.WaitGone(tree, stopTimeout); q != 0 {
		p.t.Errorf("%s: process %d still alive %v after SIGKILL", p, q, stopTimeout)
	}
}

// Log returns what vrrpd wrote to its standard output and error so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "vrrpd.log"))
	return string(b)
}

// Notified returns the notify record so far as text: one
// "EPOCH INSTANCE NAME STATE PRIO" line per transition.
func (p *Proc) Notified() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, keepalived.NotifyLog))
	return string(b)
}

// Transitions returns the notify record so far, in the order the script
// recorded it. A line that does not parse is an error.
func (p *Proc) Transitions() ([]keepalived.Transition, error) {
	return keepalived.ReadNotifyLog(p.Dir)
}

// States returns every state the notify script recorded for the virtual
// router called instance ("": for any), in order.
func (p *Proc) States(instance string) []string {
	tr, _ := p.Transitions()
	var out []string
	for _, x := range tr {
		if of(x, instance) {
			out = append(out, x.State)
		}
	}
	return out
}

// LastState returns the last state the notify script recorded for
// instance ("": for any), or "INIT" before any: "MASTER", "BACKUP", ...
func (p *Proc) LastState(instance string) string {
	st := p.States(instance)
	if len(st) == 0 {
		return "INIT"
	}
	return st[len(st)-1]
}

func of(x keepalived.Transition, instance string) bool {
	return instance == "" || x.Type == "INSTANCE" && x.Name == instance
}

// WaitState waits until the last state the notify script recorded for
// instance ("": for any) is state and returns the time the script
// recorded it. It fails when ctx ends or vrrpd exits first.
func (p *Proc) WaitState(ctx context.Context, instance, state string) (time.Time, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		tr, err := p.Transitions()
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %v", p, err)
		}
		var last *keepalived.Transition
		for i := range tr {
			if of(tr[i], instance) {
				last = &tr[i]
			}
		}
		if last != nil && last.State == state {
			return last.Time, nil
		}
		select {
		case <-p.done:
			return time.Time{}, fmt.Errorf("%s: exited (%v) while waiting for %s (now %s)", p, p.waitErr, state, p.LastState(instance))
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s: waiting for %s (now %s): %w", p, state, p.LastState(instance), ctx.Err())
		case <-tick.C:
		}
	}
}

// StatusPath is the unix socket vrrpd serves its status on.
func (p *Proc) StatusPath() string { return filepath.Join(p.Dir, "status.sock") }

// ReadStatus fetches the JSON status document and decodes it into v.
func (p *Proc) ReadStatus(v any) error {
	c := http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p.StatusPath())
		}},
	}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://vrrpd/status")
	if err != nil {
		return fmt.Errorf("%s: status: %w", p, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s: status: %w", p, err)
	}
	return nil
}

// Status reads the status endpoint; a document without instances is an
// error.
func (p *Proc) Status() (Status, error) {
	var s Status
	if err := p.ReadStatus(&s); err != nil {
		return s, err
	}
	if len(s.Instances) == 0 {
		return s, fmt.Errorf("%s: status: no instances", p)
	}
	return s, nil
}

// State returns the state of the virtual router called instance ("": the
// first one) from the status endpoint ("MASTER", "BACKUP", ...), "" when
// it cannot be read or has no such instance, and "DEAD" once vrrpd exited.
func (p *Proc) State(instance string) string {
	if !p.Running() {
		return "DEAD"
	}
	s, err := p.Status()
	if err != nil {
		return ""
	}
	for _, is := range s.Instances {
		if instance == "" || is.Name == instance {
			return is.State
		}
	}
	return ""
}

// HasVIP reports whether a is assigned to an interface of vrrpd's host;
// see HasAddr.
func (p *Proc) HasVIP(a netip.Addr) bool { return HasAddr(p.t, p.Host, a) }

// HasAddr reports whether a is assigned to an interface of h
// (`ip -n NS -o addr show`); errors fail t and yield false.
func HasAddr(t testing.TB, h *netlab.Host, a netip.Addr) bool {
	ok, err := keepalived.HasAddr(h, a)
	if err != nil {
		t.Errorf("vrrpdtest: %v", err)
	}
	return ok
}

// RemoveAddr deletes a from h's LAN interface if it is there (the stale
// virtual address a crashed master leaves behind: a reboot would clear
// it) and reports whether it was there. Errors running ip fail t now.
func RemoveAddr(t testing.TB, h *netlab.Host, a netip.Addr) bool {
	t.Helper()
	out, err := exec.Command("ip", "-n", h.NS, "-o", "addr", "show", "dev", h.Iface).CombinedOutput()
	if err != nil {
		t.Fatalf("vrrpdtest: %s: ip addr show: %v: %s", h.Name, err, bytes.TrimSpace(out))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" && f[i] != "inet6" {
				continue
			}
			p, err := netip.ParsePrefix(f[i+1])
			if err != nil || p.Addr() != a {
				continue
			}
			if out, err := exec.Command("ip", "-n", h.NS, "addr", "del", p.String(), "dev", h.Iface).CombinedOutput(); err != nil {
				t.Fatalf("vrrpdtest: %s: ip addr del %v: %v: %s", h.Name, p, err, bytes.TrimSpace(out))
			}
			return true
		}
	}
	return false
}
