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
)

// run is the whole program: parse, start, reload on hup, stop when ctx is
// done. It returns the exit status: 0 after a clean shutdown (or -h), 2
// for bad flags or configuration, 1 when the daemon cannot run.
func run(ctx context.Context, args []string, stderr io.Writer, hup <-chan os.Signal) int {
	cfg, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, strings.TrimPrefix(err.Error(), flag.ErrHelp.Error()+"\n"))
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "vrrpd: %v\nrun 'vrrpd -h' for usage\n", err)
		return 2
	}
	level := new(slog.LevelVar)
	level.Set(cfg.LogLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	sys, err := newSystem(log)
	if err != nil {
		fmt.Fprintf(stderr, "vrrpd: %v\n", err)
		return 1
	}
	d := newDaemon(cfg, sys, log, level, shellRun)

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
			if cfg.File == "" {
				log.Warn("SIGHUP: nothing to reload without -config")
				continue
			}
			c, err := parseFlags(args)
			if err != nil {
				log.Error("SIGHUP: configuration not reloaded", "err", err)
				continue
			}
			if err := d.Reload(c); err != nil {
				log.Error("SIGHUP: reload incomplete", "err", err)
			}
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
