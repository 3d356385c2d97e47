//go:build linux

package keepalived

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/proc"
)

// startTimeout bounds how long Start waits for keepalived's "Startup
// complete", and stopTimeout how long Stop waits for it to exit.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
)

// An Instance is one keepalived process tree (the parent and its VRRP
// child) running in a lab host's network namespace. Create it with Start.
// Its methods may be called from any goroutine.
type Instance struct {
	// Host is the lab host keepalived runs on.
	Host *netlab.Host
	// Binary is the keepalived program that runs: "keepalived" (found on
	// PATH) or the path given to StartBinary.
	Binary string
	// Config is the configuration keepalived was started with (after
	// Start's defaults).
	Config Config
	// Dir holds keepalived.conf, keepalived.log (its console output, each
	// line prefixed with the time it was read), notify.sh, notify.log and
	// the pid files.
	Dir string

	t       testing.TB
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd.Wait returns
	waitErr error         // set before done is closed

	log *logSink
}

// Start writes cfg to a fresh temporary directory and runs the system's
// keepalived (the one on PATH; Debian 12: 2.2.7) with it inside h's
// network namespace (`ip netns exec`, never keepalived's
// own --namespace), in the foreground (--dont-fork), VRRP only, logging to
// the console, with its own pid files. It returns once keepalived logs
// "Startup complete". A Cleanup on t kills whatever is left of the process
// tree by PID.
//
// Start skips t when keepalived is not installed or the process is not
// privileged (and fails it under GOVRRP_PRIVILEGED=1), and
// fails t when cfg is invalid or keepalived does not come up.
func Start(t testing.TB, h *netlab.Host, cfg Config) *Instance {
	t.Helper()
	return StartBinary(t, h, "keepalived", cfg)
}

// StartBinary is Start with the keepalived program bin: a name looked up
// on PATH or a path, for example the keepalived 2.3.3 RFC9568Binary
// returns. It skips t (or fails it under GOVRRP_PRIVILEGED=1)
// when bin is not found.
func StartBinary(t testing.TB, h *netlab.Host, bin string, cfg Config) *Instance {
	t.Helper()
	netlab.RequirePriv(t)
	netlab.RequireTool(t, bin)

	dir := netlab.TempDir(t)
	k := &Instance{Host: h, Binary: bin, Dir: dir, t: t, done: make(chan struct{})}
	if cfg.NotifyScript == "" {
		script, err := WriteNotifyScript(dir)
		if err != nil {
			t.Fatalf("keepalived: %v", err)
		}
		cfg.NotifyScript = script
	}
	for i := range cfg.Instances {
		if cfg.Instances[i].Interface == "" {
			cfg.Instances[i].Interface = h.Iface
		}
	}
	k.Config = cfg
	text, err := Render(cfg)
	if err != nil {
		t.Fatalf("keepalived: %s: %v", h.Name, err)
	}
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, text, 0o600); err != nil {
		t.Fatalf("keepalived: %v", err)
	}
	lf, err := os.Create(filepath.Join(dir, "keepalived.log"))
	if err != nil {
		t.Fatalf("keepalived: %v", err)
	}
	k.log = newLogSink(lf)

	args := []string{
		"--dont-fork", "--log-console", "--log-detail", "--no-syslog",
		"--use-file", conf,
		"--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "vrrp.pid"),
	}
	// A VRRP-only build (build-keepalived.sh: no LVS, no BFD) knows
	// neither --vrrp nor the other subsystems' pid files, and runs VRRP
	// only anyway.
	opts, err := options(bin)
	if err != nil {
		t.Fatalf("keepalived: %v", err)
	}
	if opts["--vrrp"] {
		args = append(args, "--vrrp")
	}
	if opts["--checkers_pid"] {
		args = append(args, "--checkers_pid", filepath.Join(dir, "checkers.pid"))
	}
	if opts["--bfd_pid"] {
		args = append(args, "--bfd_pid", filepath.Join(dir, "bfd.pid"))
	}
	k.cmd = h.Command(context.Background(), bin, args...)
	k.cmd.Stdout, k.cmd.Stderr = k.log, k.log
	// Do not let a straggler holding the output pipe open block Wait.
	k.cmd.WaitDelay = 2 * time.Second
	if err := k.cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("keepalived: %s: %v", h.Name, err)
	}
	go func() {
		k.waitErr = k.cmd.Wait()
		lf.Close()
		close(k.done)
	}()
	t.Cleanup(k.cleanup)

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	started := func(lines []LogLine) bool {
		for _, l := range lines {
			if strings.Contains(l.Text, "Startup complete") {
				return true
			}
		}
		return false
	}
	if err := k.waitLines(ctx, started); err != nil {
		t.Fatalf("keepalived: %s: not started: %v\n%s", h.Name, err, k.log.text())
	}
	return k
}

// helpOptions caches options: bin -> *helpResult.
var helpOptions sync.Map

type helpResult struct {
	once sync.Once
	opts map[string]bool
	err  error
}

var longOptionRE = regexp.MustCompile(`--[a-z][a-z_-]*`)

// options returns the long options `bin --help` lists.
func options(bin string) (map[string]bool, error) {
	v, _ := helpOptions.LoadOrStore(bin, &helpResult{})
	r := v.(*helpResult)
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// keepalived --help prints to stderr and exits with status 0.
		out, err := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
		if err != nil {
			r.err = fmt.Errorf("%s --help: %v: %s", bin, err, bytes.TrimSpace(out))
			return
		}
		r.opts = map[string]bool{}
		for _, o := range longOptionRE.FindAll(out, -1) {
			r.opts[string(o)] = true
		}
	})
	return r.opts, r.err
}

// PID returns the PID of the keepalived parent process.
func (k *Instance) PID() int { return k.cmd.Process.Pid }

// Running reports whether the keepalived parent process is still running.
func (k *Instance) Running() bool {
	select {
	case <-k.done:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM to keepalived, which makes its masters send a
// priority 0 advertisement (RFC 9568 Section 6.4.3) and remove their
// virtual addresses, and waits for it to exit. After stopTimeout it kills
// the process tree.
func (k *Instance) Stop() {
	if !k.Running() {
		return
	}
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(stopTimeout):
		k.t.Errorf("keepalived: %s: no exit %v after SIGTERM; killing", k.Host.Name, stopTimeout)
		k.Kill()
	}
}

// Kill crashes keepalived: the parent is stopped (SIGSTOP, so it can
// neither respawn its VRRP child nor pass anything on), then every
// descendant and finally the parent get SIGKILL, by PID. Nothing is sent
// on the wire and the virtual addresses stay on the interface, as after a
// real crash. Kill returns once the parent has been reaped.
func (k *Instance) Kill() {
	if !k.Running() {
		return
	}
	tree := proc.KillTree(k.PID())
	<-k.done
	// SIGKILL is delivered asynchronously: the children may still be
	// exiting. Return only once none can send anything any more.
	if p := proc.WaitGone(tree, stopTimeout); p != 0 {
		k.t.Errorf("keepalived: %s: process %d still alive %v after SIGKILL", k.Host.Name, p, stopTimeout)
	}
}

func (k *Instance) cleanup() {
	k.Kill()
	if k.t.Failed() {
		k.t.Logf("keepalived (%s) on %s (%s), configuration:\n%s\nlog:\n%s", k.Binary, k.Host.Name, k.Host.NS, k.conf(), k.log.text())
	}
}

func (k *Instance) conf() string {
	b, _ := os.ReadFile(filepath.Join(k.Dir, "keepalived.conf"))
	return string(b)
}

// Log returns keepalived's console output so far.
func (k *Instance) Log() []LogLine { return k.log.lines() }

// LateTimers returns keepalived's own log lines saying that it ran late
// ("A thread timer expired 1.1 seconds ago": its scheduler woke up that
// long after a timer was due, as on a loaded machine), read in [from,
// to]. Tests report rather than fail a late keepalived with such lines.
func (k *Instance) LateTimers(from, to time.Time) []LogLine {
	var out []LogLine
	for _, l := range k.log.lines() {
		if strings.Contains(l.Text, "thread timer expired") && !l.Time.Before(from) && !l.Time.After(to) {
			out = append(out, l)
		}
	}
	return out
}

// State returns the state keepalived last logged for its first
// vrrp_instance ("INIT" before any): "BACKUP", "MASTER" or "FAULT".
func (k *Instance) State() string { return k.StateOf(k.Config.InstanceName(0)) }

// StateOf is State for the vrrp_instance called name.
func (k *Instance) StateOf(name string) string {
	st := "INIT"
	for _, l := range k.log.lines() {
		if n, s, ok := entering(l.Text); ok && n == name {
			st = s
		}
	}
	return st
}

// WaitState waits until the first vrrp_instance is in state, as keepalived
// logs it, and returns the time the log line was read. It fails when ctx
// ends or keepalived exits first.
func (k *Instance) WaitState(ctx context.Context, state string) (time.Time, error) {
	return k.WaitStateOf(ctx, k.Config.InstanceName(0), state)
}

// WaitStateOf is WaitState for the vrrp_instance called name.
func (k *Instance) WaitStateOf(ctx context.Context, name, state string) (time.Time, error) {
	var at time.Time
	err := k.waitLines(ctx, func(lines []LogLine) bool {
		// Only the latest state counts: "MASTER, then BACKUP" does not
		// satisfy a wait for MASTER.
		cur := "INIT"
		for _, l := range lines {
			if n, s, ok := entering(l.Text); ok && n == name {
				cur, at = s, l.Time
			}
		}
		return cur == state
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("keepalived: %s: %s: waiting for %s (now %s): %w", k.Host.Name, name, state, k.StateOf(name), err)
	}
	return at, nil
}

// waitLines waits until cond holds for the log so far. It fails when ctx
// ends or keepalived exits before.
func (k *Instance) waitLines(ctx context.Context, cond func([]LogLine) bool) error {
	for {
		lines, changed := k.log.snapshot()
		if cond(lines) {
			return nil
		}
		select {
		case <-changed:
		case <-k.done:
			// Every line written before the exit is in by now.
			if cond(k.log.lines()) {
				return nil
			}
			return fmt.Errorf("keepalived exited (%v)", k.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Transitions returns what keepalived's notify script recorded so far.
// keepalived runs the script asynchronously: the times are when the script
// ran, a few milliseconds after the transition, and two quick transitions
// may appear out of order. Use State / WaitState for the order.
func (k *Instance) Transitions() ([]Transition, error) {
	return ReadNotifyLog(k.Dir)
}

// HasVIP reports whether addr is assigned to any interface of the host
// (keepalived adds the virtual addresses of a master). Errors running ip
// are reported with t.Errorf and yield false.
func (k *Instance) HasVIP(addr netip.Addr) bool {
	ok, err := HasAddr(k.Host, addr)
	if err != nil {
		k.t.Errorf("keepalived: %v", err)
	}
	return ok
}

// HasAllVIPs reports whether every virtual address of every vrrp_instance
// is assigned on the host.
func (k *Instance) HasAllVIPs() bool {
	for _, a := range k.Config.VIPs() {
		if !k.HasVIP(a) {
			return false
		}
	}
	return true
}

// HasAddr reports whether addr is assigned to an interface of h, from
// `ip -n NS -o addr show`.
func HasAddr(h *netlab.Host, addr netip.Addr) (bool, error) {
	out, err := exec.Command("ip", "-n", h.NS, "-o", "addr", "show").CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("%s: ip -n %s addr show: %v: %s", h.Name, h.NS, err, bytes.TrimSpace(out))
	}
	return addrListed(out, addr), nil
}

// logSink is the io.Writer keepalived's output goes to: it splits lines,
// stamps them, keeps them in memory and appends them to a file.
type logSink struct {
	mu      sync.Mutex
	f       *os.File
	partial []byte
	all     []LogLine
	changed chan struct{} // closed and replaced at every new line
}

func newLogSink(f *os.File) *logSink {
	return &logSink{f: f, changed: make(chan struct{})}
}

func (s *logSink) Write(b []byte) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		l := LogLine{Time: now, Text: string(s.partial[:i])}
		s.partial = s.partial[i+1:]
		s.all = append(s.all, l)
		fmt.Fprintf(s.f, "%s %s\n", now.Format("15:04:05.000000"), l.Text)
		added = true
	}
	if added {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return len(b), nil
}

func (s *logSink) snapshot() ([]LogLine, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all[:len(s.all):len(s.all)], s.changed
}

func (s *logSink) lines() []LogLine {
	l, _ := s.snapshot()
	return l
}

func (s *logSink) text() string {
	var b strings.Builder
	for _, l := range s.lines() {
		fmt.Fprintf(&b, "%s %s\n", l.Time.Format("15:04:05.000000"), l.Text)
	}
	return b.String()
}
