package main

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// notify_nice (0-19, default 10) in the file and as flags; errors name
// the key (or flag) and the range.
func TestConfigNotifyNice(t *testing.T) {
	file := func(top string) string { return oneInstanceFile(t, top) }
	flags := []string{"-iface", "eth0", "-vrid", "1"}
	ok := []struct {
		args []string
		nice int
	}{
		{[]string{"-config", file("")}, 10},
		{[]string{"-config", file("notify_nice = 0\n")}, 0},
		{[]string{"-config", file("notify_nice = 19\n")}, 19},
		{[]string{"-config", file("notify_nice = 5\n"), "-notify-nice", "7"}, 7},
		{append(flags, "10.0.0.100"), 10},
		{append(flags, "-notify-nice", "0", "10.0.0.100"), 0},
	}
	for _, c := range ok {
		cfg, err := parseFlags(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if cfg.NotifyNice != c.nice {
			t.Errorf("%q: notify_nice %d; want %d", c.args, cfg.NotifyNice, c.nice)
		}
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"-config", file("notify_nice = 20\n")}, "notify_nice = 20: want a niceness 0-19 (0: vrrpd's own; default 10)"},
		{[]string{"-config", file("notify_nice = -1\n")}, "notify_nice = -1: want a niceness 0-19 (0: vrrpd's own; default 10)"},
		{append(flags, "-notify-nice", "20", "10.0.0.100"), "-notify-nice 20: want a niceness 0-19 (0: vrrpd's own; default 10)"},
	}
	for _, c := range bad {
		checkConfigError(t, c.args, c.want)
	}
}

// The notifier runs its commands at its niceness (withNice), changed by
// setNice for the commands after; 0 asks for none.
func TestNotifierPassesNice(t *testing.T) {
	ran := make(chan int)
	run := func(ctx context.Context, cmd string, args []string) error {
		ran <- niceFrom(ctx)
		return nil
	}
	n := newNotifier(run, time.Second, slog.New(slog.DiscardHandler))
	for _, nice := range []int{10, 0, 3} {
		n.setNice(nice)
		n.notify("/bin/true", nil)
		if got := <-ran; got != nice {
			t.Errorf("setNice(%d): the command ran at niceness %d", nice, got)
		}
	}
	n.close()
}
