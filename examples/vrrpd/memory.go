package main

import (
	"context"
	"log/slog"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// The Go heap's growth policy of vrrpd (issue 12: RSS at most 32 MB per
// side at 4,094 links). The heap grows to (1 + GOGC/100) times the live
// heap between collections; at Go's default GOGC of 100, twice it, and
// the RSS with it. vrrpd allocates little once its instances run (a few
// hundred bytes per instance and second; BENCHMARKS.md "Memory per
// instance"), so collecting more often costs little CPU: its default is
// defaultGOGC. The operator's GOGC (and GOMEMLIMIT, which vrrpd leaves
// to the runtime) in the environment win.

// defaultGOGC is vrrpd's GOGC when the environment sets none: the heap
// grows to 1.25 times the live heap between collections, not twice.
const defaultGOGC = 25

// setGCPolicy sets vrrpd's default GOGC unless getenv("GOGC") says
// otherwise (the runtime has applied the operator's then), and logs the
// policy in effect.
func setGCPolicy(getenv func(string) string, log *slog.Logger) {
	if v := getenv("GOGC"); v != "" {
		log.Debug("GC policy from the environment", "GOGC", v, "GOMEMLIMIT", getenv("GOMEMLIMIT"))
		return
	}
	debug.SetGCPercent(defaultGOGC)
	log.Debug("GC policy", "GOGC", strconv.Itoa(defaultGOGC)+" (vrrpd's default; set GOGC to change it)", "GOMEMLIMIT", getenv("GOMEMLIMIT"))
}

// releaseStartup returns the start-up garbage to the operating system
// once every instance runs (debug.FreeOSMemory: a collection, then every
// free page of the heap released). Parsing the configuration and adding
// thousands of instances allocates several times the heap they leave
// live (26 kB per instance against 3-4 kB); without it, the runtime's
// background scavenger gives those pages back over minutes, and the RSS
// stays at the start-up peak meanwhile.
func releaseStartup() { debug.FreeOSMemory() }

// trimInterval is how often a running vrrpd returns its heap's free
// pages to the operating system (trimHeap).
//
// Once running, vrrpd allocates too little for its GC to run often: a
// collection that ran while something large was held for a moment (the
// takeover of thousands of instances at once, a /status read at 4,094
// instances, 4.5 MB) sets the heap goal, and with it the RSS, above the
// live heap until the runtime's forced collection (2 minutes), after
// which its scavenger gives the pages back at its own pace. At 4,094
// instances a trim is one collection of a 13 MB heap and the madvise of
// its free pages, about 10-20 ms of CPU: a few hundredths of a percent of
// a core at one a minute (BENCHMARKS.md "RSS at 4,094 instances").
const trimInterval = time.Minute

// trimHeap is vrrpd's periodic trim: a collection, then every free page
// of the heap released (debug.FreeOSMemory).
func trimHeap() { debug.FreeOSMemory() }

// trimLoop calls trim every trimInterval until ctx is done; nil trim:
// it returns at once.
func trimLoop(ctx context.Context, trim func()) {
	if trim == nil {
		return
	}
	t := time.NewTicker(trimInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			trim()
		}
	}
}

// detachStrings copies every string of cfg (its exported fields, through
// slices and pointers) out of the text it was parsed from: the TOML
// decoder's strings are substrings of the whole file, and one kept name
// keeps the whole text (140 B per instance at 4,094, issue 12).
// Identical strings share one copy (a notify command every instance
// names is kept once). It changes cfg's slices' elements in place.
func detachStrings(cfg *Config) {
	detach(reflect.ValueOf(cfg).Elem(), make(map[string]string))
}

func detach(v reflect.Value, seen map[string]string) {
	switch v.Kind() {
	case reflect.String:
		if !v.CanSet() || v.Len() == 0 {
			return
		}
		s := v.String()
		c, ok := seen[s]
		if !ok {
			c = strings.Clone(s)
			seen[s] = c
		}
		v.SetString(c)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				detach(v.Field(i), seen)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			detach(v.Index(i), seen)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			detach(v.Elem(), seen)
		}
	}
}
