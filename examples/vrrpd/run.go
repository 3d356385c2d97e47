package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/govrrp/govrrp/transport/raw"
)

// defaultHostEnv is the real host: netlink, the process environment,
// /bin/sh.
func defaultHostEnv() hostEnv {
	return hostEnv{newSystem: newSystem, getenv: os.Getenv, pid: os.Getpid(), run: shellRun}
}

// hostEnv is what run takes from the host: tests give a fake system and
// environment.
type hostEnv struct {
	newSystem func(*slog.Logger) (system, error)
	getenv    func(string) string
	pid       int
	run       runFunc
}

// runEnv is the daemon's command line (everything but what cli handles
// first): parse, start, reload on hup, stop when ctx is done, on the host
// env gives. It returns the exit status: 0 after a clean shutdown (or
// -h), 2 for bad flags or configuration, 1 when the daemon cannot run.
func runEnv(ctx context.Context, args []string, stderr io.Writer, hup <-chan os.Signal, env hostEnv) int {
	cfg, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, strings.TrimPrefix(err.Error(), flag.ErrHelp.Error()+"\n"))
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "vrrpd: %v\nrun 'vrrpd -h' for usage\n", err)
		return 2
	}
	// The reload closure keeps the file name, not cfg: the parsed
	// instances are the daemon's to keep or drop (issue 12).
	file := cfg.File
	return runDaemon(ctx, cfg, func() (Config, error) {
		if file == "" {
			return Config{}, errNothingToReload
		}
		return parseFlags(args)
	}, stderr, hup, env)
}

// errNothingToReload: SIGHUP without a configuration file.
var errNothingToReload = errors.New("nothing to reload without -config")

// runDaemon runs the daemon on cfg until ctx is done, applying what reload
// returns on every SIGHUP (hup); both the TOML and the keepalived.conf
// front ends run through it. It returns the exit status: 0 after a clean
// shutdown, 1 when the daemon cannot run.
func runDaemon(ctx context.Context, cfg Config, reload func() (Config, error), stderr io.Writer, hup <-chan os.Signal, env hostEnv) int {
	level := new(slog.LevelVar)
	level.Set(cfg.LogLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// systemd's readiness protocol ($NOTIFY_SOCKET); a bad one is logged
	// and the daemon runs without it.
	sd, err := newSDNotifier(env.getenv, env.pid)
	if err != nil {
		log.Warn("sd_notify off", "err", err)
		sd = nil
	}
	defer sd.Close()
	if cfg.LockMemory {
		// keepalived's vrrp_no_swap: before the daemon allocates its
		// buffers, and for all it allocates later (MCL_FUTURE).
		if err := lockMemory(); err != nil {
			fmt.Fprintf(stderr, "vrrpd: lock_memory: %v\n", err)
			return 1
		}
		log.Info("memory locked (mlockall)")
	}
	if cfg.RTPriority > 0 {
		// keepalived's vrrp_rt_priority: every thread of the daemon, the
		// Go runtime's included; the commands it starts stay SCHED_OTHER.
		if err := setProcessRealtime(cfg.RTPriority); err != nil {
			fmt.Fprintf(stderr, "vrrpd: rt_priority: %v\n", err)
			return 1
		}
		log.Info("real-time scheduling", "policy", "SCHED_RR", "priority", cfg.RTPriority)
	}
	sys, err := env.newSystem(log)
	if err != nil {
		fmt.Fprintf(stderr, "vrrpd: %v\n", err)
		return 1
	}
	if ss, ok := sys.(sendPathSetter); ok {
		ss.SetSendPath(cfg.SendPath)
	}
	setGCPolicy(env.getenv, log)
	d := newDaemon(cfg, sys, log, level, env.run)
	d.sd = sd
	d.releaseStartup = releaseStartup
	d.trimHeap = trimHeap

	reloadDone := make(chan struct{})
	stopReload := make(chan struct{})
	go func() {
		defer close(reloadDone)
		for {
			select {
			case <-stopReload:
				return
			case <-hup:
			}
			// RELOADING=1 then READY=1, whatever the outcome: systemd
			// waits for both (Type=notify-reload).
			if err := sd.Reloading(); err != nil {
				log.Warn("sd_notify RELOADING", "err", err)
			}
			applyReload(d, reload, log)
			d.sdReady()
		}
	}()
	err = d.Run(ctx)
	close(stopReload)
	<-reloadDone
	if err != nil {
		fmt.Fprintf(stderr, "vrrpd: %v\n", err)
		return 1
	}
	log.Info("vrrpd stopped")
	return 0
}

// applyReload re-reads the configuration on SIGHUP and applies it.
func applyReload(d *daemon, reload func() (Config, error), log *slog.Logger) {
	c, err := reload()
	if errors.Is(err, errNothingToReload) {
		log.Warn("SIGHUP: " + err.Error())
		return
	}
	if err != nil {
		log.Error("SIGHUP: configuration not reloaded", "err", err)
		return
	}
	if err := d.Reload(c); err != nil {
		log.Error("SIGHUP: reload incomplete", "err", err)
	}
}

// sendPathSetter is a system whose sockets take send_path
// (linuxSystem).
type sendPathSetter interface {
	SetSendPath(raw.SendPath)
}
