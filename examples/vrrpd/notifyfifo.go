package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The notify FIFO (keepalived's notify_fifo / vrrp_notify_fifo): one line
// per transition, in the order of the transitions, in keepalived's format
// (vrrp_notify.c, notify_fifo):
//
//	INSTANCE "VI_1" MASTER 100
//	GROUP "G1" BACKUP 0
//
// an instance's line with its effective priority, a group's with 0 (as
// keepalived writes it). A reader (the notify_fifo_script, started with
// the FIFO's path as its last argument, or any program) reads them.

// fifoQueueLen bounds the lines waiting for the FIFO: with the pipe's own
// buffer (64 KiB, about 2000 lines) full and no reader, further lines are
// dropped and counted rather than held without bound.
const fifoQueueLen = 1024

// fifoDrainTimeout bounds how long close waits for the queued lines to
// go into the FIFO.
const fifoDrainTimeout = time.Second

// fifoScriptGrace is how long the FIFO script has to exit after SIGTERM
// before its process group is killed.
const fifoScriptGrace = 2 * time.Second

// fifoLine formats one line of the notify FIFO.
func fifoLine(group bool, name, state string, prio uint8) string {
	kind := "INSTANCE"
	if group {
		kind = "GROUP"
	}
	return kind + ` "` + name + `" ` + state + " " + strconv.Itoa(int(prio)) + "\n"
}

// notifyFIFO writes the lines to the FIFO from its own goroutine: the
// protocol only queues them (write never blocks it).
type notifyFIFO struct {
	path, script string
	log          *slog.Logger

	f       *os.File
	created bool      // vrrpd made the FIFO: it removes it at close
	cmd     *exec.Cmd // the FIFO script, if any
	exited  chan struct{}

	q       chan string
	done    chan struct{}
	mu      sync.Mutex // guards closed against send
	closed  bool
	dropped atomic.Uint64
	written atomic.Uint64
	lastLog atomic.Int64 // unix nanoseconds of the last drop logged
}

// errNotFIFO is returned by openNotifyFIFO for a path that exists and is
// not a FIFO.
var errNotFIFO = errors.New("exists and is not a FIFO")

// openNotifyFIFO makes the FIFO at path (mode 0644) unless it exists,
// starts script (through /bin/sh, with the path as its last argument, in a
// process group of its own) and opens the FIFO for writing without
// blocking (O_RDWR, as keepalived: it opens whether or not a reader is
// there, and a reader that comes and goes never makes a write fail with
// EPIPE).
func openNotifyFIFO(path, script string, log *slog.Logger) (*notifyFIFO, error) {
	n := &notifyFIFO{path: path, script: script, log: log, q: make(chan string, fifoQueueLen), done: make(chan struct{})}
	switch err := makeFIFO(path, 0o644); {
	case err == nil:
		n.created = true
	case errors.Is(err, fs.ErrExist):
		fi, serr := os.Lstat(path)
		if serr != nil {
			return nil, fmt.Errorf("notify_fifo %s: %w", path, serr)
		}
		if fi.Mode()&fs.ModeNamedPipe == 0 {
			return nil, fmt.Errorf("notify_fifo %s: %w", path, errNotFIFO)
		}
	default:
		return nil, fmt.Errorf("notify_fifo %s: %w", path, err)
	}
	if script != "" {
		c := exec.Command("/bin/sh", "-c", script+` "$@"`, "vrrpd-notify-fifo", path)
		setProcessGroup(c)
		// As the notify commands: under SCHED_OTHER even when vrrpd's
		// threads run under SCHED_RR (rt_priority).
		if err := startCommand(c); err != nil {
			n.removeFIFO()
			return nil, fmt.Errorf("notify_fifo_script: %w", err)
		}
		n.cmd, n.exited = c, make(chan struct{})
		go func() {
			err := c.Wait()
			close(n.exited)
			n.mu.Lock()
			closing := n.closed
			n.mu.Unlock()
			if !closing {
				log.Warn("notify_fifo_script exited: nothing reads the notify FIFO", "script", script, "fifo", path, "err", err)
			}
		}()
	}
	f, err := os.OpenFile(path, os.O_RDWR|fifoOpenFlags, 0)
	if err != nil {
		n.stopScript()
		n.removeFIFO()
		return nil, fmt.Errorf("notify_fifo %s: %w", path, err)
	}
	n.f = f
	go n.loop()
	return n, nil
}

func (n *notifyFIFO) loop() {
	defer close(n.done)
	for line := range n.q {
		// The file is in the runtime's poller (O_NONBLOCK): Write waits
		// here, not in the protocol, while the pipe is full.
		if _, err := n.f.WriteString(line); err != nil {
			n.drop(1, err)
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) {
				for range n.q {
					n.drop(1, err)
				}
				return
			}
			continue
		}
		n.written.Add(1)
	}
}

// drop counts lines lost and logs it at most once a second.
func (n *notifyFIFO) drop(k int, why error) {
	total := n.dropped.Add(uint64(k))
	now := time.Now().UnixNano()
	last := n.lastLog.Load()
	if now-last >= int64(time.Second) && n.lastLog.CompareAndSwap(last, now) {
		n.log.Warn("notify FIFO: line dropped", "fifo", n.path, "dropped_total", total, "why", why)
	}
}

// errFIFOFull is why a line is dropped when the queue is full.
var errFIFOFull = errors.New("queue full: nothing reads the FIFO fast enough")

// send queues a line; it never blocks: a full queue drops it (counted).
func (n *notifyFIFO) send(line string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	select {
	case n.q <- line:
	default:
		n.drop(1, errFIFOFull)
	}
}

// close writes what is queued (for fifoDrainTimeout at most), stops the
// script (SIGTERM to its process group, SIGKILL after fifoScriptGrace),
// closes the FIFO and removes it if vrrpd made it.
func (n *notifyFIFO) close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	close(n.q)
	n.mu.Unlock()
	_ = n.f.SetWriteDeadline(time.Now().Add(fifoDrainTimeout))
	<-n.done
	// Removed first, as keepalived does, so that a script that reopens
	// the FIFO in a loop cannot open this one again.
	n.removeFIFO()
	n.stopScript()
	n.f.Close()
}

func (n *notifyFIFO) removeFIFO() {
	if n.created {
		_ = os.Remove(n.path)
		n.created = false
	}
}

func (n *notifyFIFO) stopScript() {
	if n.cmd == nil {
		return
	}
	signalProcessGroup(n.cmd, syscall.SIGTERM)
	t := time.NewTimer(fifoScriptGrace)
	select {
	case <-n.exited:
	case <-t.C:
	}
	t.Stop()
	killProcessGroup(n.cmd)
	<-n.exited
}

// fifoStats are the notify FIFO's counters (status).
type fifoStats struct {
	Path    string `json:"path"`
	Written uint64 `json:"written"`
	Dropped uint64 `json:"dropped"`
}

func (n *notifyFIFO) stats() fifoStats {
	return fifoStats{Path: n.path, Written: n.written.Load(), Dropped: n.dropped.Load()}
}

// openFIFOLocked opens the configuration's notify FIFO, if any.
func (d *daemon) openFIFOLocked() error {
	if d.cfg.NotifyFIFO == "" {
		return nil
	}
	f, err := openNotifyFIFO(d.cfg.NotifyFIFO, d.cfg.NotifyFIFOScript, d.log)
	if err != nil {
		return err
	}
	d.fifo.Store(f)
	return nil
}

// reloadFIFOLocked applies a new notify_fifo / notify_fifo_script: an
// unchanged one keeps its FIFO and script (nothing queued is lost); a
// changed one is closed and the new one opened (the old first when the
// path is the same). A new FIFO that cannot be opened is logged, and
// cfg's keys are set back to the running ones (the old FIFO is kept if
// it is still open).
func (d *daemon) reloadFIFOLocked(cfg *Config) {
	old := d.fifo.Load()
	if cfg.NotifyFIFO == d.cfg.NotifyFIFO && cfg.NotifyFIFOScript == d.cfg.NotifyFIFOScript && (old != nil) == (cfg.NotifyFIFO != "") {
		return
	}
	if old != nil && cfg.NotifyFIFO == old.path {
		d.fifo.Store(nil)
		old.close()
		old = nil
	}
	var f *notifyFIFO
	if cfg.NotifyFIFO != "" {
		var err error
		if f, err = openNotifyFIFO(cfg.NotifyFIFO, cfg.NotifyFIFOScript, d.log); err != nil {
			d.log.Error("reload: notify FIFO not opened", "err", err)
			cfg.NotifyFIFO, cfg.NotifyFIFOScript = "", ""
			if old != nil {
				cfg.NotifyFIFO, cfg.NotifyFIFOScript = old.path, old.script
			}
			return
		}
	}
	d.fifo.Store(f)
	if old != nil {
		old.close()
	}
}

// closeFIFO writes what is queued and closes the notify FIFO.
func (d *daemon) closeFIFO() {
	if f := d.fifo.Swap(nil); f != nil {
		f.close()
	}
}
