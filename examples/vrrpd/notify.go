package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// maxOutput is how much of a command's output (stdout and stderr
// together) is kept to be logged; the rest is read and dropped, and the
// log says how much.
const maxOutput = 4 << 10

// outputGrace is how long the output is still read after the command's
// process group is gone: only a process that left the group (setsid)
// can still hold the pipe, and it is not waited for.
const outputGrace = 100 * time.Millisecond

// shellRun runs cmd through /bin/sh with args appended as "$@", so that a
// command like "/etc/vrrpd/notify.sh --verbose" gets keepalived's
// arguments after its own. A command that is a program's path and plain
// words (directArgv) is started directly instead, as /bin/sh would run
// it, without starting /bin/sh first: starting a process is most of a
// notify command's cost, and thousands of them run when thousands of
// virtual routers start or stop (issue 12, BenchmarkNotifyThroughput).
//
// The command runs in a process group of its own. When ctx is done
// (timeout, shutdown) the whole group is killed (SIGKILL), not only the
// shell, and the error matches ctx.Err() (errors.Is(err,
// context.DeadlineExceeded) for a timeout). Whatever the command leaves
// running in its group when it exits is killed too: a notify command or
// a track script must not leave processes behind (one that starts a
// lasting service must detach it with setsid). The first maxOutput bytes
// of its output are kept for the error of a failing command; the rest is
// read and dropped.
func shellRun(ctx context.Context, cmd string, args []string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	start := func(c *exec.Cmd) (*exec.Cmd, error) {
		setProcessGroup(c)
		c.Stdout, c.Stderr = w, w
		return c, startCommand(c)
	}
	var c *exec.Cmd
	if argv, ok := directArgv(cmd); ok {
		c, err = start(exec.Command(argv[0], append(argv[1:], args...)...))
		if errors.Is(err, syscall.ENOEXEC) {
			// A script without "#!": /bin/sh runs it as a shell script.
			c, err = start(shellCommand(cmd, args))
		}
	} else {
		c, err = start(shellCommand(cmd, args))
	}
	w.Close()
	if err != nil {
		r.Close()
		return err
	}
	out := &cappedBuffer{max: maxOutput}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, r)
	}()
	waited := make(chan error, 1)
	go func() { waited <- c.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		killProcessGroup(c)
		<-waited
		err = fmt.Errorf("killed with its process group: %w", ctx.Err())
	}
	// What the command left behind in its group goes with it.
	killProcessGroup(c)
	t := time.NewTimer(outputGrace)
	select {
	case <-copied:
	case <-t.C:
		_ = r.SetReadDeadline(time.Now())
		<-copied
	}
	t.Stop()
	r.Close()
	if err != nil {
		if s := out.String(); s != "" {
			return &cmdError{err: err, out: s}
		}
		return err
	}
	return nil
}

// shellCommand runs cmd through /bin/sh with args appended as "$@".
func shellCommand(cmd string, args []string) *exec.Cmd {
	return exec.Command("/bin/sh", append([]string{"-c", cmd + ` "$@"`, "vrrpd-notify"}, args...)...)
}

// directArgv returns cmd's words when /bin/sh would run cmd "$@" as one
// program with those words and "$@" as its arguments: words of
// characters the shell takes as they are (kaparse.go's shellSafe: no
// quoting, expansion, globbing, redirection, separator or comment)
// separated by spaces or tabs, the first of them a path (it has a "/":
// no builtin, function or PATH lookup) and no assignment (no "=").
// keepalived's notify scripts are such commands: keepalived runs them
// without a shell.
func directArgv(cmd string) ([]string, bool) {
	words := strings.FieldsFunc(cmd, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(words) == 0 || !strings.Contains(words[0], "/") || strings.Contains(words[0], "=") {
		return nil, false
	}
	for _, w := range words {
		if !shellSafe.MatchString(w) {
			return nil, false
		}
	}
	return words, true
}

// cappedBuffer keeps the first max bytes written to it and counts the
// others.
type cappedBuffer struct {
	buf     []byte
	max     int
	dropped int64
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	n := min(len(p), b.max-len(b.buf))
	b.buf = append(b.buf, p[:n]...)
	b.dropped += int64(len(p) - n)
	return len(p), nil
}

// String is the output kept, trimmed, with a note of what was dropped.
func (b *cappedBuffer) String() string {
	s := strings.TrimSpace(string(b.buf))
	if b.dropped > 0 {
		s += fmt.Sprintf(" [... %d more bytes of output dropped]", b.dropped)
	}
	return s
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
	key  string // jobKey(args)
}

// jobKey is what orders notify commands: those of one virtual router (or
// sync group) run one at a time, in order. keepalived's arguments are
// ($1 INSTANCE|GROUP, $2 name, ...); commands with fewer arguments share
// one key.
func jobKey(args []string) string {
	if len(args) < 2 {
		return ""
	}
	return args[0] + " " + args[1]
}

// notifyWorkers is how many notify commands run at once. One at a time,
// the STOP commands of 1,000 virtual routers at shutdown took over 20 s
// on a loaded host (about 25 ms each to start /bin/sh), and so did the
// BACKUP and MASTER ones at start-up (issue 12). 8 at a time ran about
// 30 a second on this 2-core machine under load (load average 10-30);
// more at once ran no more a second there (BenchmarkNotifyThroughput:
// starting a process costs CPU, and the machine had none to spare) and
// leaves the protocol less of it. keepalived starts them all at once.
const notifyWorkers = 8

// shutdownWorkers is how many notify commands run at once once the
// notifier closes (shutdown): the protocol is done by then, and commands
// that wait rather than compute (a service stopped, a message sent) then
// take the shutdown's time together, not one after another.
const shutdownWorkers = 64

// notifier runs notify commands on goroutines of its own, each bounded by
// a timeout, so the protocol never waits for a script: up to
// notifyWorkers at once, those of one virtual router (or sync group) one
// at a time and in order (jobKey). keepalived runs its notify scripts
// all at once, in no order. Its queue is unbounded: like keepalived, it
// runs every notify, however many virtual routers change state at once,
// until shutdown: close bounds the time the commands still queued or
// running then take, all together, by the notify timeout.
type notifier struct {
	run  runFunc
	log  *slog.Logger
	done chan struct{} // closed once closed, the queue drained and no worker left

	// stop is cancelled when close's deadline passes: the commands
	// running then are killed with their process groups.
	stop       context.Context
	cancelStop context.CancelFunc

	mu         sync.Mutex
	timeout    time.Duration
	q          []notifyJob
	busy       map[string]bool // keys with a command running
	workers    int             // worker goroutines running
	maxWorkers int             // notifyWorkers; shutdownWorkers once closed
	closed     bool
	cut        bool   // close's deadline passed: nothing more starts
	killed     int    // commands running when the deadline passed
	notRun     int    // commands queued when the deadline passed
	failed     uint64 // commands that failed or timed out (snapshot.go)
}

func newNotifier(run runFunc, timeout time.Duration, log *slog.Logger) *notifier {
	stop, cancel := context.WithCancel(context.Background())
	return &notifier{run: run, log: log, timeout: timeout, done: make(chan struct{}), busy: map[string]bool{},
		stop: stop, cancelStop: cancel, maxWorkers: notifyWorkers}
}

func (n *notifier) setTimeout(d time.Duration) {
	n.mu.Lock()
	n.timeout = d
	n.mu.Unlock()
}

// nextLocked takes the first queued job whose key has no command running
// and marks its key busy; ok is false when there is none. Called with
// n.mu held.
func (n *notifier) nextLocked() (j notifyJob, ok bool) {
	if n.cut {
		return notifyJob{}, false
	}
	for i := range n.q {
		if n.busy[n.q[i].key] {
			continue
		}
		j = n.q[i]
		copy(n.q[i:], n.q[i+1:])
		n.q[len(n.q)-1] = notifyJob{}
		n.q = n.q[:len(n.q)-1]
		if len(n.q) == 0 {
			n.q = nil // let a burst's backing array go
		}
		n.busy[j.key] = true
		return j, true
	}
	return notifyJob{}, false
}

// startLocked starts workers for the jobs that can run now, up to
// maxWorkers in all. Called with n.mu held.
func (n *notifier) startLocked() {
	for n.workers < n.maxWorkers {
		j, ok := n.nextLocked()
		if !ok {
			return
		}
		n.workers++
		go n.worker(j)
	}
}

// worker runs jobs until none can run now (the queue is empty, or every
// queued job waits for its key), then exits. A job waiting for its key is
// run by the worker that runs the key's current one, when it is done.
func (n *notifier) worker(j notifyJob) {
	for {
		n.mu.Lock()
		d := n.timeout
		n.mu.Unlock()
		ctx, cancel := context.WithTimeout(n.stop, d)
		err := n.run(ctx, j.cmd, j.args)
		cancel()
		if err != nil {
			n.countFailure()
		}
		n.mu.Lock()
		// Killed at close's deadline: close logs them in one line.
		cut := n.cut && errors.Is(err, context.Canceled)
		if cut {
			n.killed++
		}
		n.mu.Unlock()
		switch {
		case err != nil && !cut:
			n.log.Warn("notify command failed", "cmd", j.cmd, "args", strings.Join(j.args, " "), "err", err)
		case err == nil:
			n.log.Debug("notify command done", "cmd", j.cmd, "args", strings.Join(j.args, " "))
		}
		n.mu.Lock()
		delete(n.busy, j.key)
		var ok bool
		if j, ok = n.nextLocked(); !ok {
			n.workers--
			n.finishLocked()
			n.mu.Unlock()
			return
		}
		n.mu.Unlock()
	}
}

// finishLocked closes done once the notifier is closed and idle (or cut
// at its deadline: what is still queued then is not run).
func (n *notifier) finishLocked() {
	if n.closed && n.workers == 0 && (len(n.q) == 0 || n.cut) {
		select {
		case <-n.done:
		default:
			close(n.done)
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
	n.q = append(n.q, notifyJob{cmd: cmd, args: args, key: jobKey(args)})
	n.startLocked()
}

// close runs what is queued, shutdownWorkers at a time (those of one
// virtual router still one at a time and in order), and waits for the
// workers to finish, for at most the notify timeout in all: when it
// passes, the commands still running are killed with their process
// groups, those still queued are not run, and one log line says how
// many. keepalived's notify commands are not waited for at all: it sends
// SIGTERM to the scripts still running when it exits (keepalived.conf(5),
// "scripts"); here the STOP commands get the time one notify command
// gets, and the shutdown its bound (4,094 STOP commands took minutes,
// 8 at a time on a loaded host, past systemd's and vrrpdtest's stop
// timeouts; issue 12).
func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	n.maxWorkers = shutdownWorkers
	n.startLocked()
	n.finishLocked()
	d := n.timeout
	n.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-n.done:
		n.cancelStop()
		return
	case <-t.C:
	}
	n.mu.Lock()
	n.cut = true
	n.notRun = len(n.q)
	n.q = nil
	n.cancelStop() // under n.mu: a worker that sees cut sees its command's context cancelled
	n.finishLocked()
	n.mu.Unlock()
	<-n.done
	n.mu.Lock()
	killed, notRun := n.killed, n.notRun
	n.mu.Unlock()
	if killed > 0 || notRun > 0 {
		n.log.Warn("shutdown: notify commands cut at the deadline", "deadline", d,
			"killed", killed, "not_run", notRun)
	}
}
