package main

import (
	"context"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// stateName is the state as keepalived's notify scripts receive it.
func stateName(s vrrp.State) string {
	switch s {
	case vrrp.Master:
		return "MASTER"
	case vrrp.Backup:
		return "BACKUP"
	case vrrp.Fault:
		return "FAULT"
	}
	return "STOP" // Initialize: stopped, shut down
}

// notifyArgs returns the arguments keepalived passes to a notify script:
// $1 INSTANCE or GROUP, $2 the name, $3 MASTER|BACKUP|FAULT|STOP, $4 the
// priority (keepalived.conf(5), "notify").
func notifyArgs(group bool, name string, state string, prio uint8) []string {
	kind := "INSTANCE"
	if group {
		kind = "GROUP"
	}
	return []string{kind, name, state, strconv.Itoa(int(prio))}
}

// runFunc runs one notify command with its arguments.
type runFunc func(ctx context.Context, cmd string, args []string) error

// shellRun runs cmd through /bin/sh with args appended as "$@", so that a
// command like "/etc/vrrpd/notify.sh --verbose" gets keepalived's
// arguments after its own.
func shellRun(ctx context.Context, cmd string, args []string) error {
	c := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", cmd + ` "$@"`, "vrrpd-notify"}, args...)...)
	c.WaitDelay = time.Second
	out, err := c.CombinedOutput()
	if err != nil {
		if s := strings.TrimSpace(string(out)); s != "" {
			return &cmdError{err: err, out: s}
		}
		return err
	}
	return nil
}

type cmdError struct {
	err error
	out string
}

func (e *cmdError) Error() string { return e.err.Error() + ": " + e.out }
func (e *cmdError) Unwrap() error { return e.err }

type notifyJob struct {
	cmd  string
	args []string
}

// notifier runs notify commands one at a time, in order, on its own
// goroutine, each bounded by a timeout, so the protocol never waits for a
// script. Its queue is unbounded: like keepalived, it runs every notify,
// however many virtual routers change state at once.
type notifier struct {
	run  runFunc
	log  *slog.Logger
	done chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond // signalled when q grows or closed is set
	timeout time.Duration
	q       []notifyJob
	closed  bool
	failed  uint64 // commands that failed or timed out (snapshot.go)
}

func newNotifier(run runFunc, timeout time.Duration, log *slog.Logger) *notifier {
	n := &notifier{run: run, log: log, timeout: timeout, done: make(chan struct{})}
	n.cond = sync.NewCond(&n.mu)
	go n.loop()
	return n
}

func (n *notifier) setTimeout(d time.Duration) {
	n.mu.Lock()
	n.timeout = d
	n.mu.Unlock()
}

// next waits for a job; ok is false once the notifier is closed and its
// queue drained.
func (n *notifier) next() (j notifyJob, d time.Duration, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for len(n.q) == 0 && !n.closed {
		n.cond.Wait()
	}
	if len(n.q) == 0 {
		return notifyJob{}, 0, false
	}
	j = n.q[0]
	n.q[0] = notifyJob{}
	n.q = n.q[1:]
	if len(n.q) == 0 {
		n.q = nil // let a burst's backing array go
	}
	return j, n.timeout, true
}

func (n *notifier) loop() {
	defer close(n.done)
	for {
		j, d, ok := n.next()
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		err := n.run(ctx, j.cmd, j.args)
		cancel()
		if err != nil {
			n.countFailure()
			n.log.Warn("notify command failed", "cmd", j.cmd, "args", strings.Join(j.args, " "), "err", err)
		} else {
			n.log.Debug("notify command done", "cmd", j.cmd, "args", strings.Join(j.args, " "))
		}
	}
}

// notify queues cmd with args; it never blocks and never drops.
func (n *notifier) notify(cmd string, args []string) {
	if cmd == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.log.Warn("notify after shutdown, not run", "cmd", cmd, "args", strings.Join(args, " "))
		return
	}
	n.q = append(n.q, notifyJob{cmd: cmd, args: args})
	n.cond.Signal()
}

// close runs what is queued and stops the goroutine.
func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	n.cond.Signal()
	n.mu.Unlock()
	<-n.done
}
