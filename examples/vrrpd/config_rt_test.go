package main

import (
	"errors"
	"testing"
)

// Issue 14: rt_priority (0-99) and lock_memory, in the file and as flags;
// errors name the key (or flag) and the range.
func TestConfigRealtime(t *testing.T) {
	file := func(top string) string { return oneInstanceFile(t, top) }
	ok := []struct {
		args []string
		prio int
		lock bool
	}{
		{[]string{"-config", file("")}, 0, false},
		{[]string{"-config", file("rt_priority = 10\nlock_memory = true\n")}, 10, true},
		{[]string{"-config", file("rt_priority = 99\n")}, 99, false},
		{[]string{"-config", file("rt_priority = 10\n"), "-rt-priority", "20", "-lock-memory"}, 20, true},
		{[]string{"-iface", "eth0", "-vrid", "1", "-rt-priority", "1", "10.0.0.100"}, 1, false},
		{[]string{"-iface", "eth0", "-vrid", "1", "-rt-priority", "0", "10.0.0.100"}, 0, false},
	}
	for _, c := range ok {
		cfg, err := parseFlags(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if cfg.RTPriority != c.prio || cfg.LockMemory != c.lock {
			t.Errorf("%q: rt_priority %d, lock_memory %v; want %d, %v", c.args, cfg.RTPriority, cfg.LockMemory, c.prio, c.lock)
		}
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"-config", file("rt_priority = 100\n")}, "rt_priority = 100: want 0 (off) or a SCHED_RR priority 1-99"},
		{[]string{"-config", file("rt_priority = -1\n")}, "rt_priority = -1: want 0 (off) or a SCHED_RR priority 1-99"},
		{[]string{"-iface", "eth0", "-vrid", "1", "-rt-priority", "100", "10.0.0.100"}, "-rt-priority 100: want 0 (off) or a SCHED_RR priority 1-99"},
	}
	for _, c := range bad {
		checkConfigError(t, c.args, c.want)
	}
}

// oneInstanceFile writes a configuration file of top-level keys top and
// one instance, and returns its path.
func oneInstanceFile(t *testing.T, top string) string {
	t.Helper()
	const inst = `
[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 1
vips = ["10.0.0.100"]
`
	return writeTemp(t, "vrrpd.toml", top+inst)
}

// checkConfigError checks that parseFlags(args) fails with a ConfigError
// that reads "KEY = VALUE: want ALLOWED" (a file) or "-FLAG VALUE: want
// ALLOWED" as want.
func checkConfigError(t *testing.T, args []string, want string) {
	t.Helper()
	_, err := parseFlags(args)
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrUsage) {
		t.Errorf("%q: %v; want a ConfigError", args, err)
		return
	}
	if got := ce.Key + map[bool]string{true: " ", false: " = "}[ce.Flag] + ce.Value + ": want " + ce.Allowed; got != want {
		t.Errorf("%q: %q; want %q", args, got, want)
	}
}
