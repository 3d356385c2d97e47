package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/transport/raw"
)

// send_path (raw.Config.Send): "auto" by default in files and flags, set
// in the file or by the flag (the flag wins); a bad value names the key
// or flag and the values allowed.
func TestConfigSendPath(t *testing.T) {
	file := func(top string) string { return oneInstanceFile(t, top) }
	ok := []struct {
		args []string
		want raw.SendPath
	}{
		{[]string{"-config", file("")}, raw.SendAuto},
		{[]string{"-config", file(`send_path = "auto"` + "\n")}, raw.SendAuto},
		{[]string{"-config", file(`send_path = "link"` + "\n")}, raw.SendLink},
		{[]string{"-config", file(`send_path = "socket"` + "\n")}, raw.SendSocket},
		{[]string{"-config", file(`send_path = "link"` + "\n"), "-send-path", "socket"}, raw.SendSocket},
		{[]string{"-iface", "eth0", "-vrid", "1", "10.0.0.100"}, raw.SendAuto},
		{[]string{"-iface", "eth0", "-vrid", "1", "-send-path", "link", "10.0.0.100"}, raw.SendLink},
	}
	for _, c := range ok {
		cfg, err := parseFlags(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if cfg.SendPath != c.want {
			t.Errorf("%q: send_path %v, want %v", c.args, cfg.SendPath, c.want)
		}
	}
	checkConfigError(t, []string{"-config", file(`send_path = "packet"` + "\n")}, "send_path = packet: want "+sendPathAllowed)
	checkConfigError(t, []string{"-iface", "eth0", "-vrid", "1", "-send-path", "ip", "10.0.0.100"}, "-send-path ip: want "+sendPathAllowed)
}

// A reload that changes send_path keeps the running value, and says so:
// the sockets are open already.
func TestSendPathReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		sys := &multiSys{fakeSys: newFakeSys(lan, 1), limit: 8}
		cfgWith := func(p raw.SendPath) Config {
			return instancesOn(2, func(cfg *Config) { cfg.SendPath = p })
		}
		logs := &logRec{}
		d := newDaemon(cfgWith(raw.SendAuto), sys, slog.New(logs), nil, (&recorder{}).run)
		runInBubble(t, d)
		time.Sleep(time.Second)
		synctest.Wait()
		sys.take()
		if err := d.Reload(cfgWith(raw.SendSocket)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := sys.take(); len(got) != 0 {
			t.Errorf("a reload that changed only send_path: calls %q; want none", got)
		}
		d.mu.Lock()
		if d.cfg.SendPath != raw.SendAuto {
			t.Errorf("after the reload: send_path %v; want the running auto", d.cfg.SendPath)
		}
		d.mu.Unlock()
		if got := logs.matching("send_path changes only on restart", "running=auto", "configured=socket"); len(got) != 1 {
			t.Errorf("reload log: %q; want one line saying the running send_path stays", got)
		}
	})
}

// instancesOn returns the configuration of n multicast instances, VI_1
// on eth1 to VI_n on ethN, VRID 1 and a VIP each, with set applied.
func instancesOn(n int, set func(*Config)) Config {
	var ins []Instance
	for i := range n {
		ins = append(ins, instOn(fmt.Sprintf("VI_%d", i+1), fmt.Sprintf("eth%d", i+1), 1, fmt.Sprintf("10.0.%d.100", i+1)))
	}
	cfg := cfgOf(ins...)
	set(&cfg)
	return cfg
}

// runInBubble runs d until the test ends (in a synctest bubble: its
// cleanup cancels d and waits for Run to return).
func runInBubble(t *testing.T, d *daemon) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// With -keepalived, send_path is auto (keepalived.conf has no such
// setting), and -send-path overrides it; a bad value names the flag.
func TestKeepalivedSendPath(t *testing.T) {
	const ka = "testdata/keepalived/haproxy-unicast.conf"
	for _, c := range []struct {
		args []string
		want raw.SendPath
	}{
		{nil, raw.SendAuto},
		{[]string{"-send-path", "socket"}, raw.SendSocket},
		{[]string{"-send-path=link"}, raw.SendLink},
	} {
		f, err := parseKAFlags(c.args)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		cfg, _, err := loadKeepalivedFlags(cliOpts{keepalived: ka, configIDSet: true}, f)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if cfg.SendPath != c.want {
			t.Errorf("-keepalived %q: send_path %v, want %v", c.args, cfg.SendPath, c.want)
		}
	}
	f, err := parseKAFlags([]string{"-send-path", "fast"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadKeepalivedFlags(cliOpts{keepalived: ka, configIDSet: true}, f); err == nil || !strings.Contains(err.Error(), "-send-path fast: want "+sendPathAllowed) {
		t.Errorf("-send-path fast: %v; want an error naming the flag and the values", err)
	}
}
