package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// The daemon's side of systemd's readiness protocol (sdnotify.go):
// READY=1 once the Router's Run has started every instance, STOPPING=1
// when the context ends, STATUS= lines, and WATCHDOG=1 only after the
// Router's protocol goroutine answered a control call: a stuck protocol
// loop starves the watchdog and systemd restarts vrrpd. run.go sends
// RELOADING=1 / READY=1 around a SIGHUP reload.

// sdStatusEvery is how often the STATUS= line is refreshed (when it
// changed) when the unit has no watchdog, or a slower one.
const sdStatusEvery = 5 * time.Second

// startGate is closed once every instance added before Run has left
// Initialize (the hook saw its first transition): the Router runs them.
type startGate struct {
	mu   sync.Mutex
	wait map[string]bool
	done chan struct{}
}

func (g *startGate) arm(names []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = make(chan struct{})
	g.wait = make(map[string]bool, len(names))
	for _, n := range names {
		g.wait[n] = true
	}
	if len(g.wait) == 0 {
		close(g.done)
	}
}

// started notes that name left Initialize.
func (g *startGate) started(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.wait == nil || !g.wait[name] {
		return
	}
	delete(g.wait, name)
	if len(g.wait) == 0 {
		g.wait = nil
		close(g.done)
	}
}

// sdStatus is the STATUS= line: "N instances: M master, B backup, F
// fault".
func (d *daemon) sdStatus() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var n, m, b, f int
	for _, name := range d.order {
		s, err := d.router.State(name)
		if err != nil {
			continue
		}
		n++
		switch s {
		case vrrp.Master:
			m++
		case vrrp.Backup:
			b++
		case vrrp.Fault:
			f++
		}
	}
	return fmt.Sprintf("%d instances: %d master, %d backup, %d fault", n, m, b, f)
}

// sdReady sends READY=1 with the status line.
func (d *daemon) sdReady() {
	if err := d.sd.Ready(d.sdStatus()); err != nil {
		d.log.Warn("sd_notify READY", "err", err)
	}
}

// routerAlive makes a cheap control call that the Router's protocol
// goroutine answers (Stats of a name no virtual router has): it returns
// only when that goroutine runs its loop; false once Run returned.
func (d *daemon) routerAlive() bool {
	_, err := d.router.Stats("")
	return !errors.Is(err, vrrp.ErrRouterStopped) && errors.Is(err, vrrp.ErrNoVirtualRouter)
}

// sdLoop runs until ctx is done, then sends STOPPING=1. Each round it
// asks the Router's protocol goroutine a control call and sends
// WATCHDOG=1 only when it answered, and refreshes STATUS= when it
// changed.
func (d *daemon) sdLoop(ctx context.Context, last string) {
	every := sdStatusEvery
	wd := d.sd.WatchdogInterval()
	if wd > 0 && wd < every {
		every = wd
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := d.sd.Stopping(); err != nil {
				d.log.Warn("sd_notify STOPPING", "err", err)
			}
			return
		case <-t.C:
		}
		if !d.routerAlive() {
			if ctx.Err() == nil {
				d.log.Warn("the Router did not answer: no watchdog keep-alive")
			}
			continue
		}
		if wd > 0 {
			if err := d.sd.Watchdog(); err != nil {
				d.log.Warn("sd_notify WATCHDOG", "err", err)
			}
		}
		if s := d.sdStatus(); s != last {
			last = s
			if err := d.sd.Status(s); err != nil {
				d.log.Warn("sd_notify STATUS", "err", err)
			}
		}
	}
}
