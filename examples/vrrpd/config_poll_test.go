package main

import (
	"fmt"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/transport/memnet"
)

// receive_poll (raw.Config.Poll): in the file and as a flag, copied into
// every instance but those with ring; errors name the key (or flag), the
// range, and the instance whose interval it exceeds a tenth of.
func TestConfigReceivePoll(t *testing.T) {
	file := func(top string) string { return oneInstanceFile(t, top) }
	ring := writeTemp(t, "ring.toml", `receive_poll = "5ms"
[[instance]]
name = "A"
interface = "eth0"
vrid = 1
interval = "100ms"
vips = ["10.0.0.100"]
[[instance]]
name = "B"
interface = "eth1"
vrid = 1
ring = true
interval = "10ms"
vips = ["10.0.1.100"]
`)
	type okCase struct {
		args []string
		want []time.Duration // Config.ReceivePoll, then each instance's
	}
	ok := []okCase{
		{[]string{"-config", file("")}, []time.Duration{0, 0}},
		{[]string{"-config", file(`receive_poll = "5ms"` + "\n")}, []time.Duration{5 * time.Millisecond, 5 * time.Millisecond}},
		{[]string{"-config", file(`receive_poll = "100ms"` + "\n")}, []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}},
		{[]string{"-config", file(`receive_poll = "5ms"` + "\n"), "-receive-poll", "0"}, []time.Duration{0, 0}},
		{[]string{"-iface", "eth0", "-vrid", "1", "-receive-poll", "1ms", "10.0.0.100"}, []time.Duration{time.Millisecond, time.Millisecond}},
		// A ring instance receives through its ring, whatever its
		// interval.
		{[]string{"-config", ring}, []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 0}},
	}
	// "auto", the default: polled from 1,000 advertisements a second.
	many := func(n int, interval string, top string) string {
		text := top
		for i := range n {
			text += fmt.Sprintf("[[instance]]\nname = \"I%d\"\ninterface = \"eth%d\"\nvrid = 1\ninterval = %q\nvips = [\"10.1.%d.%d\"]\n", i, i, interval, i/200, i%200+1)
		}
		return writeTemp(t, "many.toml", text)
	}
	dup := func(d time.Duration, n int) []time.Duration {
		out := []time.Duration{d}
		for range n {
			out = append(out, d)
		}
		return out
	}
	ok = append(ok,
		okCase{[]string{"-config", many(99, "100ms", "")}, dup(0, 99)},
		okCase{[]string{"-config", many(100, "100ms", "")}, dup(5*time.Millisecond, 100)},
		okCase{[]string{"-config", many(100, "100ms", `receive_poll = "auto"`+"\n")}, dup(5*time.Millisecond, 100)},
		okCase{[]string{"-config", many(100, "100ms", `receive_poll = "off"`+"\n")}, dup(0, 100)},
		okCase{[]string{"-config", many(100, "100ms", ""), "-receive-poll", "off"}, dup(0, 100)},
		// A tenth of the shortest interval when that is less than 5ms.
		okCase{[]string{"-config", many(10, "10ms", "")}, dup(time.Millisecond, 10)},
		okCase{[]string{"-config", many(9, "10ms", "")}, dup(0, 9)},
		// auto counts and polls only the instances on the shared
		// sockets: one with unicast peers has a socket of its own.
		okCase{[]string{"-config", mixed(t, "")}, append(dup(5*time.Millisecond, 100), 0)},
		okCase{[]string{"-config", mixed(t, `receive_poll = "5ms"`+"\n")}, dup(5*time.Millisecond, 101)},
	)
	for _, c := range ok {
		cfg, err := parseFlags(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		got := []time.Duration{cfg.ReceivePoll}
		for _, in := range cfg.Instances {
			got = append(got, in.ReceivePoll)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%q: receive_poll, then each instance's (-want +got):\n%s", c.args, diff)
		}
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"-config", file(`receive_poll = "500us"` + "\n")}, "receive_poll = 500us: want " + receivePollAllowed},
		{[]string{"-config", file(`receive_poll = "101ms"` + "\n")}, "receive_poll = 101ms: want " + receivePollAllowed},
		{[]string{"-config", file(`receive_poll = "soon"` + "\n")}, "receive_poll = soon: want " + receivePollAllowed},
		{[]string{"-config", file(`receive_poll = "-1ms"` + "\n")}, "receive_poll = -1ms: want " + receivePollAllowed},
		{[]string{"-iface", "eth0", "-vrid", "1", "-interval", "50ms", "-receive-poll", "10ms", "10.0.0.100"},
			`-receive-poll 10ms: want ` + receivePollAllowed + ` (instance "VI_1": interval 50ms)`},
	}
	for _, c := range bad {
		checkConfigError(t, c.args, c.want)
	}
}

// mixed writes a file of top-level keys top, 100 multicast instances at
// 100 ms and one with a unicast peer, and returns its path.
func mixed(t *testing.T, top string) string {
	text := top
	for i := range 100 {
		text += fmt.Sprintf("[[instance]]\nname = \"I%d\"\ninterface = \"eth%d\"\nvrid = 1\ninterval = \"100ms\"\nvips = [\"10.1.0.%d\"]\n", i, i, i+1)
	}
	text += "[[instance]]\nname = \"U\"\ninterface = \"ethu\"\nvrid = 1\ninterval = \"100ms\"\npeers = [\"10.2.0.2\"]\nvips = [\"10.2.0.100\"]\n"
	return writeTemp(t, "mixed.toml", text)
}

// Instances share a socket only when they agree on receive_poll (a polled
// socket is opened with raw.Config.Poll).
func TestReceivePollSockets(t *testing.T) {
	lan := memnet.New(memnet.Config{})
	defer lan.Close()
	sys := &multiSys{fakeSys: newFakeSys(lan, 1), limit: 8}
	d := newDaemon(Config{}, sys, slog.New(slog.DiscardHandler), nil, (&recorder{}).run)
	d.mu.Lock()
	for i, name := range []string{"P1", "Q1", "Q2", "P2"} {
		in := instOn(name, fmt.Sprintf("eth%d", i+1), 1, fmt.Sprintf("10.0.%d.100", i+1))
		if name[0] == 'Q' {
			in.ReceivePoll = 5 * time.Millisecond
		}
		if err := d.addLocked(in); err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
	}
	want := []string{
		"open 4 s1", "join s1 eth1",
		"open 4 poll 5ms s2", "join s2 eth2", "join s2 eth3",
		"join s1 eth4",
	}
	if diff := cmp.Diff(want, sys.take()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	d.mu.Unlock()
}

// A reload that changes receive_poll keeps the running value: every
// instance would otherwise look changed and be stopped and started again
// on a socket of the new kind.
func TestReceivePollReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		sys := &multiSys{fakeSys: newFakeSys(lan, 1), limit: 8}
		cfgWith := func(poll time.Duration) Config {
			return instancesOn(3, func(cfg *Config) {
				cfg.ReceivePoll = poll
				for i := range cfg.Instances {
					cfg.Instances[i].ReceivePoll = poll
				}
			})
		}
		logs := &logRec{}
		d := newDaemon(cfgWith(5*time.Millisecond), sys, slog.New(logs), nil, (&recorder{}).run)
		runInBubble(t, d)
		time.Sleep(time.Second)
		synctest.Wait()
		want := []string{"open 4 poll 5ms s1", "join s1 eth1", "join s1 eth2", "join s1 eth3"}
		if diff := cmp.Diff(want, sys.take()); diff != "" {
			t.Fatalf("calls at start (-want +got):\n%s", diff)
		}
		if err := d.Reload(cfgWith(0)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := sys.take(); len(got) != 0 {
			t.Errorf("a reload that changed only receive_poll: calls %q; want none", got)
		}
		d.mu.Lock()
		if d.cfg.ReceivePoll != 5*time.Millisecond {
			t.Errorf("after the reload: receive_poll %v; want the running 5ms", d.cfg.ReceivePoll)
		}
		d.mu.Unlock()
		if got := logs.matching("receive_poll changes only on restart", "running=5ms", "configured=0s"); len(got) != 1 {
			t.Errorf("reload log: %q; want one line saying the running receive_poll stays", got)
		}
		// An instance added with an interval under ten times the running
		// value goes on the polled socket too, and the log says so.
		fast := instOn("FAST", "eth9", 1, "10.0.9.100")
		fast.Interval = 30 * time.Millisecond
		cfg := cfgWith(0)
		cfg.Instances = append(cfg.Instances, fast)
		if err := d.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if diff := cmp.Diff([]string{"join s1 eth9"}, sys.take()); diff != "" {
			t.Errorf("calls adding FAST (-want +got):\n%s", diff)
		}
		if got := logs.matching("more than a tenth of the instance's interval", "vr=FAST", "interval=30ms"); len(got) != 1 {
			t.Errorf("reload log: %q; want one line for FAST", got)
		}
	})
}
