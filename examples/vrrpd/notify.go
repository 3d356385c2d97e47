package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
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
// A ctx from withNice runs the command at that niceness, from its start
// (startNiced); its children inherit it.
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
	nice := niceFrom(ctx)
	start := func(c *exec.Cmd) (*exec.Cmd, error) {
		setProcessGroup(c)
		c.Stdout, c.Stderr = w, w
		if nice != 0 {
			return c, startNiced(c, nice)
		}
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

// ReadFrom reads r to its end as Write would take it: io.Copy's path from
// a command's output pipe. Without it io.Copy takes a 32 kB buffer for
// every command, nearly always for no output at all: 8,188 commands, 268
// MB of garbage, when a master of 4,094 links starts (issue 12). It reads
// into the kept output's own room, grown as output comes (256 bytes
// first), and beyond max into a small buffer of its own.
func (b *cappedBuffer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	var spill []byte
	for {
		var p []byte
		if len(b.buf) < b.max {
			if len(b.buf) == cap(b.buf) {
				b.buf = slices.Grow(b.buf, min(max(cap(b.buf), 256), b.max-len(b.buf)))
			}
			p = b.buf[len(b.buf):min(cap(b.buf), b.max)]
		} else {
			if spill == nil {
				spill = make([]byte, 512)
			}
			p = spill
		}
		n, err := r.Read(p)
		total += int64(n)
		if len(b.buf) < b.max {
			b.buf = b.buf[:len(b.buf)+n]
		} else {
			b.dropped += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
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

// notifyJob is a queued notify command: small and of a fixed size (64
// bytes, no allocation of its own) for keepalived's arguments, which it
// keeps as fields and makes into the command's arguments when it runs. A
// takeover storm queued hundreds of thousands (issue 12, scale run I).
type notifyJob struct {
	cmd  string
	name string   // $2; for other arguments, jobKey(args)
	args []string // other arguments than keepalived's (notifyRaw); else nil
	kind uint8    // notifyRaw, notifyInstance or notifyGroup
	// state is an index into notifyStates; prio is $4.
	state, prio uint8
}

const (
	notifyRaw uint8 = iota
	notifyInstance
	notifyGroup
)

// notifyStates are the states a notify command gets as $3.
var notifyStates = [...]string{"MASTER", "BACKUP", "FAULT", "STOP"}

func stateIndex(state string) (uint8, bool) {
	for i, s := range notifyStates {
		if s == state {
			return uint8(i), true
		}
	}
	return 0, false
}

// notifyKey is what orders notify commands: those of one virtual router
// (or sync group) run one at a time, in order. keepalived's arguments
// are ($1 INSTANCE|GROUP, $2 name, ...); commands with other arguments
// are keyed by jobKey.
type notifyKey struct {
	kind uint8
	name string
}

func (j *notifyJob) key() notifyKey { return notifyKey{j.kind, j.name} }

// argv returns the command's arguments.
func (j *notifyJob) argv() []string {
	if j.kind == notifyRaw {
		return j.args
	}
	return notifyArgs(j.kind == notifyGroup, j.name, notifyStates[j.state], j.prio)
}

// newJob returns the job of cmd with args, compact when args are
// keepalived's four.
func newJob(cmd string, args []string) notifyJob {
	if len(args) == 4 && (args[0] == "INSTANCE" || args[0] == "GROUP") {
		st, ok := stateIndex(args[2])
		prio, err := strconv.ParseUint(args[3], 10, 8)
		if ok && err == nil && strconv.Itoa(int(prio)) == args[3] {
			kind := notifyInstance
			if args[0] == "GROUP" {
				kind = notifyGroup
			}
			return notifyJob{cmd: cmd, name: args[1], kind: kind, state: st, prio: uint8(prio)}
		}
	}
	return notifyJob{cmd: cmd, name: jobKey(args), args: args}
}

// jobKey keys commands with other arguments than keepalived's: by their
// first two; commands with fewer arguments share one key.
func jobKey(args []string) string {
	if len(args) < 2 {
		return ""
	}
	return args[0] + " " + args[1]
}

// notifyQueueMax bounds the notify queue: beyond it the oldest queued
// commands of the virtual routers (and sync groups) that have a later one
// queued are dropped, counted and logged (notifyDropLogEvery), down to
// 3/4 of it, so that the queue holds at most notifyQueueMax commands (or,
// with more virtual routers and sync groups than that each with one
// queued, at most a quarter of it more than them). Every transition's command runs
// while fewer are queued (TestDaemonSlowNotifyLosesNoTransition: 1,201
// at once), and the last state of each virtual router always reaches its
// command: a flapping virtual router loses the commands of states it has
// left since (keepalived starts a process per notify at once and loses
// those it cannot start). At about 70 commands a second (run I's backup,
// 2 cores), the cap is 8 minutes of commands; 4,094 virtual routers
// starting queue 8,188.
const notifyQueueMax = 1 << 15

// notifyDropLogEvery is how often at most the notifier logs commands it
// dropped.
const notifyDropLogEvery = 10 * time.Second

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
// at a time and in order (notifyKey). keepalived runs its notify scripts
// all at once, in no order. Like keepalived, it runs every notify,
// however many virtual routers change state at once, until shutdown
// (close bounds the time the commands still queued or running then take,
// all together, by the notify timeout), except in a storm that queues
// more than notifyQueueMax: then the oldest commands of states a virtual
// router has since left are dropped.
type notifier struct {
	run  runFunc
	log  *slog.Logger
	done chan struct{} // closed once closed, the queue drained and no worker left

	// stop is cancelled when close's deadline passes: the commands
	// running then are killed with their process groups.
	stop       context.Context
	cancelStop context.CancelFunc

	mu      sync.Mutex
	timeout time.Duration
	nice    int // Config.NotifyNice
	q       []notifyJob
	busy    map[notifyKey]bool // keys with a command running
	// count is the number of queued commands by key, and busyQueued
	// how many of them wait for their key's running command: when all
	// do, no worker looks through the queue (one virtual router
	// flapping, the others quiet, queued up to notifyQueueMax).
	count      map[notifyKey]int
	busyQueued int
	// countPeak is the most keys count had since it was last made: once
	// the queue drains after a burst of more than maxKeptKeys, count is
	// made again (a map's deletes keep its buckets).
	countPeak  int
	workers    int // worker goroutines running
	maxWorkers int // notifyWorkers; shutdownWorkers once closed
	closed     bool
	cut        bool   // close's deadline passed: nothing more starts
	killed     int    // commands running when the deadline passed
	notRun     int    // commands queued when the deadline passed
	failed     uint64 // commands that failed or timed out (snapshot.go)
	// dropped counts the commands dropped beyond notifyQueueMax;
	// dropLogged is how many of them were logged, at dropLogAt.
	dropped, dropLogged uint64
	dropLogAt           time.Time
	// dropAt is the queue length of the next drop pass beyond
	// notifyQueueMax, when the last could not get down to 3/4 of it
	// (every key had one command left).
	dropAt int
}

// maxKeptKeys is the most keys whose room the notifier's map of queued
// commands keeps once the queue drains.
const maxKeptKeys = 1024

func newNotifier(run runFunc, timeout time.Duration, log *slog.Logger) *notifier {
	stop, cancel := context.WithCancel(context.Background())
	return &notifier{run: run, log: log, timeout: timeout, done: make(chan struct{}), busy: map[notifyKey]bool{}, count: map[notifyKey]int{},
		stop: stop, cancelStop: cancel, maxWorkers: notifyWorkers}
}

func (n *notifier) setTimeout(d time.Duration) {
	n.mu.Lock()
	n.timeout = d
	n.mu.Unlock()
}

// setNice sets the niceness of the notify commands started from now on
// (Config.NotifyNice).
func (n *notifier) setNice(nice int) {
	n.mu.Lock()
	n.nice = nice
	n.mu.Unlock()
}

// niceKey is the context key of the niceness a command is run at
// (withNice).
type niceKey struct{}

// withNice returns ctx asking shellRun to run its command at niceness
// nice (1-19; 0: the niceness vrrpd has, as keepalived runs its
// scripts).
func withNice(ctx context.Context, nice int) context.Context {
	if nice == 0 {
		return ctx
	}
	return context.WithValue(ctx, niceKey{}, nice)
}

// niceFrom returns the niceness withNice put in ctx, 0 if none.
func niceFrom(ctx context.Context) int {
	n, _ := ctx.Value(niceKey{}).(int)
	return n
}

// nextLocked takes the first queued job whose key has no command running
// and marks its key busy; ok is false when there is none. Called with
// n.mu held.
func (n *notifier) nextLocked() (j notifyJob, ok bool) {
	if n.cut || n.busyQueued >= len(n.q) {
		return notifyJob{}, false
	}
	var busy notifyKey // the last key found busy: a flapping one's jobs queue together
	for i := range n.q {
		if k := n.q[i].key(); i > 0 && k == busy || n.busy[k] {
			busy = k
			continue
		}
		j = n.q[i]
		// Take it out: shift the jobs ahead of it (of keys with a
		// command running) by one, not the queue behind it.
		copy(n.q[1:i+1], n.q[:i])
		n.q[0] = notifyJob{}
		n.q = n.q[1:]
		k := j.key()
		n.uncountLocked(k)
		if len(n.q) == 0 {
			// Let a burst's memory go: the queue's backing array, and
			// the map of its keys (empty now) if it grew large.
			n.q = nil
			n.dropAt = 0
			if n.countPeak > maxKeptKeys && len(n.count) == 0 {
				n.count, n.countPeak = map[notifyKey]int{}, 0
			}
		}
		n.busy[k] = true
		n.busyQueued += n.count[k]
		return j, true
	}
	return notifyJob{}, false
}

// uncountLocked counts a queued command of key k out.
func (n *notifier) uncountLocked(k notifyKey) {
	if c := n.count[k]; c > 1 {
		n.count[k] = c - 1
	} else {
		delete(n.count, k)
	}
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
		d, nice := n.timeout, n.nice
		n.mu.Unlock()
		ctx, cancel := context.WithTimeout(n.stop, d)
		args := j.argv()
		err := n.run(withNice(ctx, nice), j.cmd, args)
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
			n.log.Warn("notify command failed", "cmd", j.cmd, "args", strings.Join(args, " "), "err", err)
		case err == nil:
			n.log.Debug("notify command done", "cmd", j.cmd, "args", strings.Join(args, " "))
		}
		n.mu.Lock()
		delete(n.busy, j.key())
		n.busyQueued -= n.count[j.key()]
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

// notify queues cmd with args; it never blocks. Beyond notifyQueueMax
// it drops superseded commands (notifyQueueMax).
func (n *notifier) notify(cmd string, args []string) {
	if cmd == "" {
		return
	}
	n.enqueue(newJob(cmd, args))
}

// notifyState queues cmd with keepalived's arguments (notifyArgs)
// without making them: the queued job keeps the fields.
func (n *notifier) notifyState(cmd string, group bool, name, state string, prio uint8) {
	if cmd == "" {
		return
	}
	st, ok := stateIndex(state)
	if !ok {
		n.notify(cmd, notifyArgs(group, name, state, prio))
		return
	}
	kind := notifyInstance
	if group {
		kind = notifyGroup
	}
	n.enqueue(notifyJob{cmd: cmd, name: name, kind: kind, state: st, prio: prio})
}

func (n *notifier) enqueue(j notifyJob) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.log.Warn("notify after shutdown, not run", "cmd", j.cmd, "args", strings.Join(j.argv(), " "))
		return
	}
	n.q = append(n.q, j)
	k := j.key()
	n.count[k]++
	n.countPeak = max(n.countPeak, len(n.count))
	if n.busy[k] {
		n.busyQueued++
	}
	if len(n.q) > max(notifyQueueMax, n.dropAt) {
		n.dropLocked()
	}
	n.startLocked()
}

// dropLocked drops the oldest queued commands whose key has a later one
// queued, down to 3/4 of notifyQueueMax (or until every key has one
// left), keeping the order of the others; counts and logs them (at most
// every notifyDropLogEvery). One pass over the queue for a quarter of
// its length of commands queued.
func (n *notifier) dropLocked() {
	excess := len(n.q) - notifyQueueMax*3/4
	later := make(map[notifyKey]int, 1024)
	for i := range n.q {
		later[n.q[i].key()]++
	}
	kept := n.q[:0]
	dropped := 0
	for _, j := range n.q {
		k := j.key()
		c := later[k]
		later[k] = c - 1
		if dropped < excess && c > 1 {
			dropped++
			n.uncountLocked(k)
			if n.busy[k] {
				n.busyQueued--
			}
			continue
		}
		kept = append(kept, j)
	}
	clear(n.q[len(kept):])
	n.q = kept
	n.dropAt = len(n.q) + notifyQueueMax/4
	n.dropped += uint64(dropped)
	if dropped == 0 {
		return
	}
	if now := time.Now(); n.dropLogAt.IsZero() || now.Sub(n.dropLogAt) >= notifyDropLogEvery {
		n.log.Warn("notify commands dropped: the queue is full; each virtual router's latest state is kept",
			"dropped", n.dropped-n.dropLogged, "dropped_total", n.dropped, "queued", len(n.q), "limit", notifyQueueMax)
		n.dropLogAt, n.dropLogged = now, n.dropped
	}
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
	if n.dropped > n.dropLogged {
		n.log.Warn("notify commands dropped: the queue is full; each virtual router's latest state is kept",
			"dropped", n.dropped-n.dropLogged, "dropped_total", n.dropped, "queued", len(n.q), "limit", notifyQueueMax)
		n.dropLogged = n.dropped
	}
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
	clear(n.count)
	n.busyQueued = 0
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
