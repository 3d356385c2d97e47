package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata (keepalived conversions, metrics, ietf-vrrp)")

// roundTrip checks that the TOML printed for kc reads back as cfg.
func roundTrip(t *testing.T, kc *kaConverted, cfg Config) {
	t.Helper()
	back, err := parseTOML("printed.toml", kc.toml())
	if err != nil {
		t.Fatalf("printed TOML does not read back: %v\n%s", err, kc.toml())
	}
	back.File = cfg.File
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("printed TOML reads back differently:\n got %+v\nwant %+v\n%s", back, cfg, kc.toml())
	}
}

// TestKeepalivedGolden converts the field-style configurations in
// testdata/keepalived (each also accepted by keepalived 2.2.7's
// --config-test, interfaces aside) and compares the TOML with the golden
// file beside it (go test -run TestKeepalivedGolden -update rewrites
// them); the TOML reads back as the same Config.
func TestKeepalivedGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/keepalived/*.conf")
	if len(files) < 6 {
		t.Fatalf("want the testdata configurations, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, kc, err := loadKeepalived(f, "lb1")
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(f, ".conf") + ".toml"
			got := kc.toml()
			if *updateGolden {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("TOML differs from %s:\n%s", golden, got)
			}
			roundTrip(t, kc, cfg)
		})
	}
}

// TestKeepalivedSemantics checks the conversion's meaning where it
// follows keepalived's rules rather than vrrpd's defaults.
func TestKeepalivedSemantics(t *testing.T) {
	load := func(name, id string) (Config, *kaConverted) {
		t.Helper()
		cfg, kc, err := loadKeepalived("testdata/keepalived/"+name, id)
		if err != nil {
			t.Fatal(err)
		}
		return cfg, kc
	}
	inst := func(cfg Config, name string) Instance {
		t.Helper()
		for _, in := range cfg.Instances {
			if in.Name == name {
				return in
			}
		}
		t.Fatalf("no instance %s in %+v", name, cfg.Instances)
		return Instance{}
	}

	cfg, kc := load("haproxy-unicast.conf", "")
	in := inst(cfg, "VI_1")
	if in.Version != 2 || in.Priority != 101 || in.Interval != time.Second || !in.Accept {
		t.Errorf("VI_1: version %d priority %d interval %v accept %v; want keepalived's defaults: 2, 101, 1s, accept", in.Version, in.Priority, in.Interval, in.Accept)
	}
	if in.AuthPass != "s3cr3tpa" {
		t.Errorf("auth_pass %q: want its first 8 bytes, as keepalived", in.AuthPass)
	}
	if !slices.Equal(in.Peers, []netip.Addr{netip.MustParseAddr("10.0.0.12")}) || in.Src != netip.MustParseAddr("10.0.0.11") {
		t.Errorf("peers %v src %v", in.Peers, in.Src)
	}
	if len(cfg.Scripts) != 1 || cfg.Scripts[0].Command != "/usr/bin/killall -0 haproxy" || cfg.Scripts[0].Weight != -20 ||
		cfg.Scripts[0].Timeout != time.Second || cfg.Scripts[0].Interval != 2*time.Second || cfg.Scripts[0].Rise != 2 {
		t.Errorf("scripts %+v", cfg.Scripts)
	}
	// global_defs vrrp_garp_*: the instances' schedule; the lower-priority
	// delay follows the global master delay, as in keepalived.
	wantGARP := garpSchedule{MasterDelay: time.Second, MasterRepeat: 5, MasterRefresh: time.Minute, MasterRefreshRepeat: 1,
		LowerPrioDelay: time.Second, LowerPrioRepeat: 5}
	if in.GARP != wantGARP {
		t.Errorf("GARP %+v, want %+v", in.GARP, wantGARP)
	}
	for _, w := range []string{"router_id", "label eth0:vip"} {
		if !slices.ContainsFunc(kc.warnings, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("no warning about %s in %q", w, kc.warnings)
		}
	}

	// Sync group: weights are 0 (keepalived, without
	// sync_group_tracking_weight); no_accept; notify_stop.
	cfg, _ = load("sync-group.conf", "")
	out := inst(cfg, "OUTSIDE")
	if out.TrackInterfaces[0].Weight != 0 || cfg.Scripts[0].Weight != 0 {
		t.Errorf("weights in a sync group: %+v %+v; want 0", out.TrackInterfaces, cfg.Scripts)
	}
	if inst(cfg, "INSIDE").Accept {
		t.Error("no_accept: accept")
	}
	if len(cfg.Groups) != 1 || !slices.Equal(cfg.Groups[0].Members, []string{"OUTSIDE", "INSIDE"}) || out.SyncGroup != "ROUTER" {
		t.Errorf("groups %+v", cfg.Groups)
	}

	// A script tracked with two weights runs as two scripts.
	cfg, _ = load("main-include.conf", "")
	if a, b := inst(cfg, "WEB_A"), inst(cfg, "WEB_B"); len(cfg.Scripts) != 2 || a.TrackScripts[0] == b.TrackScripts[0] {
		t.Errorf("scripts %+v, tracked %v %v", cfg.Scripts, a.TrackScripts, b.TrackScripts)
	}

	// vrrp_strict: accept off unless asked; version 3 from global_defs;
	// advert_int 0.1; the owner rule.
	cfg, _ = load("ipv6-v3.conf", "")
	v6, v4 := inst(cfg, "VI_6"), inst(cfg, "VI_4")
	if v6.Accept || !v4.Accept || v6.Version != 3 || v6.Interval != 100*time.Millisecond || v4.PreemptDelay != 0 {
		t.Errorf("VI_6 %+v\nVI_4 %+v", v6, v4)
	}

	// @ conditionals follow the config id.
	for id, prio := range map[string]uint8{"lb1": 200, "lb2": 100} {
		cfg, _ := load("vars-conditional.conf", id)
		in := inst(cfg, "VI_eth0")
		if in.Priority != prio || in.VIPs[0] != netip.MustParsePrefix("203.0.113.5/24") {
			t.Errorf("config id %s: priority %d VIPs %v; want %d", id, in.Priority, in.VIPs, prio)
		}
		if (in.Notify != "") != (id == "lb1") {
			t.Errorf("config id %s: notify %q", id, in.Notify)
		}
	}
}

// TestKeepalivedStateMaster: keepalived's vrrp_complete_instance rules.
func TestKeepalivedStateMaster(t *testing.T) {
	for _, tc := range []struct {
		body      string
		prio      uint8
		nopreempt bool
		delay     time.Duration
	}{
		{"state MASTER", 255, false, 0},                          // no priority: the owner
		{"state BACKUP", 100, false, 0},                          // no priority: 100
		{"state MASTER\npriority 150\nnopreempt", 150, false, 0}, // nopreempt cleared
		{"state BACKUP\npriority 150\nnopreempt", 150, true, 0},
		{"priority 150\npreempt_delay 2.5", 150, false, 2500 * time.Millisecond},
		{"priority 150\nnopreempt\npreempt_delay 3", 150, true, 0},
	} {
		text := "vrrp_instance V {\ninterface eth0\nvirtual_router_id 1\n" + tc.body + "\nvirtual_ipaddress {\n10.0.0.1\n}\n}\n"
		kc, err := convertKeepalivedText("t.conf", text, "")
		if err != nil {
			t.Fatalf("%q: %v", tc.body, err)
		}
		cfg, err := kc.build()
		if err != nil {
			t.Fatalf("%q: %v", tc.body, err)
		}
		in := cfg.Instances[0]
		if in.Priority != tc.prio || in.NoPreempt != tc.nopreempt || in.PreemptDelay != tc.delay {
			t.Errorf("%q: priority %d nopreempt %v delay %v; want %d %v %v", tc.body, in.Priority, in.NoPreempt, in.PreemptDelay, tc.prio, tc.nopreempt, tc.delay)
		}
	}
}

// TestKeepalivedErrors: what vrrpd cannot honour is an error naming the
// file, the line and the keyword, matching ErrKeepalived and ErrUsage.
func TestKeepalivedErrors(t *testing.T) {
	inst := func(lines ...string) string {
		return "vrrp_instance V {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress {\n    10.0.0.1\n  }\n" +
			strings.Join(lines, "\n") + "\n}\n"
	}
	for _, tc := range []struct {
		text, want string
	}{
		{inst("  virtual_routes {", "    10.1.0.0/16 via 10.0.0.254", "  }"), "t.conf:7: virtual_routes: "},
		{inst("  virtual_ipaddress_excluded {", "    10.0.0.2", "  }"), "t.conf:7: virtual_ipaddress_excluded: "},
		{inst("  authentication {", "    auth_type AH", "    auth_pass x", "  }"), "t.conf:8: auth_type: AH"},
		{inst("  track_file {", "    f weight 2", "  }"), "t.conf:8: track_file: \"f\": no track_file of that name"},
		{"vrrp_track_process p {\n  process x\n  weight 2 reverse\n}\n" + inst(), "t.conf:3: weight: reverse is not supported"},
		{inst("  priority 300"), "t.conf:7: priority: \"300\": want 1 to 255"},
		{inst("  advert_int fast"), "t.conf:7: advert_int: "},
		{inst("  notify_master /x.sh nobody"), "t.conf:7: notify_master: user/group \"nobody\""},
		{inst("  dont_track_primary"), "t.conf:7: dont_track_primary: "},
		{inst("  frobnicate 3"), "t.conf:7: frobnicate: unknown in vrrp_instance"},
		{inst("  track_script {", "    nosuch", "  }"), "t.conf:8: track_script: \"nosuch\": no vrrp_script"},
		{inst("  unicast_peer {", "    10.0.0.300", "  }"), "t.conf:8: unicast_peer: "},
		{inst("  version 2", "  virtual_ipaddress {", "    2001:db8::1", "  }"), "t.conf:1: "}, // vrrpd's rule: one family
		{strings.Replace(inst(), "10.0.0.1", "10.0.0.1 dev eth1", 1), "t.conf:5: virtual_ipaddress: 10.0.0.1 dev eth1"},
		{strings.Replace(inst(), "10.0.0.1", "10.0.0.1 scope host", 1), "t.conf:5: virtual_ipaddress: 10.0.0.1 scope host"},
		{"global_defs {\n  script_user keepalived_script\n}\n" + inst(), "t.conf:2: script_user: "},
		{"global_defs {\n  notify_fifo /run/a.fifo\n  vrrp_notify_fifo /run/k.fifo\n}\n" + inst(), "t.conf:3: vrrp_notify_fifo: a second notify FIFO (the first at t.conf:2)"},
		{"global_defs {\n  vrrp_notify_fifo /run/k.fifo nobody\n}\n" + inst(), "t.conf:2: vrrp_notify_fifo: user/group \"nobody\""},
		{"global_defs {\n  vrrp_mcast_group4 224.0.0.19\n}\n" + inst(), "t.conf:2: vrrp_mcast_group4: "},
		{"global_defs {\n  vrrp_strict\n}\n" + inst("  unicast_peer {", "    10.0.0.2", "  }"), "t.conf:4: vrrp_strict: "},
		{"vrrp_script s {\n  script \"x\"\n  weight 2 reverse\n}\n" + inst(), "t.conf:3: weight: reverse"},
		{"vrrp_script s {\n  interval 2\n}\n", "t.conf:1: vrrp_script: s: no script command"},
		{"net_namespace blue\n" + inst(), "t.conf:1: net_namespace: "},
		{"vrrp_instance V {\n  interface eth0\n", "t.conf:1: vrrp_instance: block not closed"},
		{inst() + "}\n", "t.conf:9: }: no block to close"},
		{"vrrp_instance V {\n  notify \"unterminated\n}\n", "t.conf:2: unterminated quoted string"},
		{"vrrp_instance V {\n  virtual_router_id 1\n  virtual_ipaddress {\n 10.0.0.1\n }\n}\n", "t.conf:1: vrrp_instance: V: no interface"},
		{"~SEQ(N,1,1,3)\n", "t.conf:1: ~SEQ: "},
		{"$M=a\\\nb\n", "t.conf:1: $M: multi-line"},
		{"@ vrrp_instance x\n", "t.conf:1: @: "},
		{"lvs_magic {\n}\n", "t.conf:1: lvs_magic: unknown keyword at the top level"},
		{"global_defs {\n  router_id x\n}\n", "t.conf:1: vrrp_instance: no vrrp_instance"},
		{"vrrp_sync_group G {\n  group {\n    A\n  }\n}\n" + inst(), "t.conf:3: A: no vrrp_instance of that name"},
		{inst() + "vrrp_instance V {\n}\n", "t.conf:9: vrrp_instance: \"V\" defined twice"},
	} {
		kc, err := convertKeepalivedText("t.conf", tc.text, "")
		if err == nil {
			_, err = kc.build()
		}
		if err == nil {
			t.Errorf("accepted, want %q:\n%s", tc.want, tc.text)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("error %q, want it to begin %q:\n%s", err, tc.want, tc.text)
		}
		if !errors.Is(err, ErrKeepalived) || !errors.Is(err, ErrUsage) {
			t.Errorf("%q: not ErrKeepalived and ErrUsage", err)
		}
	}
}

// TestKeepalivedInclude: relative to the including file, globs sorted,
// errors placed in the included file, loops bounded.
func TestKeepalivedInclude(t *testing.T) {
	dir := netlab.TempDir(t)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("sub/b.conf", "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n  10.0.0.2\n }\n}\n")
	write("sub/a.conf", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  include ../vips.inc\n }\n}\n")
	write("vips.inc", "10.0.0.1\n10.0.0.3\n")
	main := write("main.conf", "include sub/*.conf\n")
	cfg, _, err := loadKeepalived(main, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Instances) != 2 || cfg.Instances[0].Name != "A" || len(cfg.Instances[0].VIPs) != 2 {
		t.Errorf("instances %+v", cfg.Instances)
	}

	write("sub/c.conf", "vrrp_instance C {\n interface eth0\n bogus\n}\n")
	_, _, err = loadKeepalived(main, "")
	if want := filepath.Join(dir, "sub/c.conf") + ":3: bogus: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it to begin %q", err, want)
	}

	loop := write("loop.conf", "include loop.conf\n")
	_, _, err = loadKeepalived(loop, "")
	if err == nil || !strings.Contains(err.Error(), "loop.conf:1: include: nested more than") {
		t.Errorf("include loop: %v", err)
	}
	dev := write("dev.conf", "include /dev/zero\n")
	_, _, err = loadKeepalived(dev, "")
	if err == nil || !strings.Contains(err.Error(), "dev.conf:1: include: /dev/zero: not a regular file") {
		t.Errorf("include /dev/zero: %v", err)
	}
	missing := write("missing.conf", "include nosuch.conf\n")
	_, _, err = loadKeepalived(missing, "")
	if err == nil || !strings.Contains(err.Error(), "missing.conf:1: include: ") {
		t.Errorf("missing include: %v", err)
	}
}

// TestKeepalivedSyntax: comments (# and !) outside quotes, quoted strings
// with blanks, braces on the keyword's line or the next, one-line blocks.
func TestKeepalivedSyntax(t *testing.T) {
	text := `! comment
vrrp_script "chk one" # the name is quoted
{
    script "/bin/test -e '/tmp/a b'" ! trailing comment
}
vrrp_instance V { interface eth0
  virtual_router_id 9 ; priority 1
}
`
	_, err := convertKeepalivedText("t.conf", text, "")
	if err == nil || !strings.HasPrefix(err.Error(), "t.conf:7: virtual_router_id: want 1 to 255") {
		t.Errorf("a ';' is not a separator in keepalived: %v", err)
	}
	text = `vrrp_script "chk one"
{
    script "/bin/test -e '/tmp/a b'" ! trailing comment
}
vrrp_instance V { interface eth0
  virtual_router_id 9
  virtual_ipaddress { 10.0.0.9 } track_script { "chk one" }
  notify "/bin/echo \"#not a comment\""
}`
	kc, err := convertKeepalivedText("t.conf", text, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kc.build()
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Instances[0]
	if in.Name != "V" || in.VRID != 9 || in.VIPs[0] != netip.MustParsePrefix("10.0.0.9/32") || in.TrackScripts[0] != "chk one" {
		t.Errorf("instance %+v", in)
	}
	if got, want := cfg.Scripts[0].Command, `/bin/test -e '/tmp/a b'`; got != want {
		t.Errorf("script %q, want %q", got, want)
	}
	if got, want := in.Notify, `/bin/echo '#not a comment'`; got != want {
		t.Errorf("notify %q, want %q", got, want)
	}
	roundTrip(t, kc, cfg)
}

// TestKeepalivedNotifyRuns runs the converted notify command through the
// daemon's shellRun: notify_STATE without arguments, then notify with
// keepalived's four, each word as keepalived would pass it (no shell
// expansion of $ or quotes inside the keepalived string).
func TestKeepalivedNotifyRuns(t *testing.T) {
	dir := netlab.TempDir(t)
	log := filepath.Join(dir, "log")
	script := filepath.Join(dir, "n.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done >> "+log+"\necho >> "+log+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`vrrp_instance V {
  interface eth0
  virtual_router_id 9
  virtual_ipaddress { 10.0.0.9 }
  notify_master "%[1]s master '$HOME x'"
  notify_fault %[1]s
  notify "%[1]s all"
}`, script)
	kc, err := convertKeepalivedText("t.conf", text, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kc.build()
	if err != nil {
		t.Fatal(err)
	}
	cmd := cfg.Instances[0].Notify
	for _, state := range []string{"MASTER", "BACKUP", "FAULT"} {
		if err := shellRun(context.Background(), cmd, notifyArgs(false, "V", state, 100)); err != nil {
			t.Fatalf("%s: %v (%s)", state, err, cmd)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := "[master][$HOME x]\n[all][INSTANCE][V][MASTER][100]\n" +
		"[all][INSTANCE][V][BACKUP][100]\n" +
		"\n[all][INSTANCE][V][FAULT][100]\n"
	if string(b) != want {
		t.Errorf("notify ran:\n%s\nwant:\n%s", b, want)
	}
}

// TestKeepalivedDebianSamples converts the samples keepalived ships
// (Debian: /usr/share/doc/keepalived/samples): each is accepted or
// refused with file:line as listed. It skips where keepalived's
// documentation is not installed (apt-get install keepalived), and fails
// there in the privileged suite (GOVRRP_PRIVILEGED=1), which .ci/deps
// equips.
func TestKeepalivedDebianSamples(t *testing.T) {
	const dir = "/usr/share/doc/keepalived/samples"
	if _, err := os.Stat(dir); err != nil {
		netlab.SkipOrFail(t, "%s: %v (apt-get install keepalived)", dir, err)
	}
	// Accepted: instances, groups, scripts. Refused: the error's start.
	accepted := map[string][3]int{
		"keepalived.conf.sample":          {1, 0, 0},
		"keepalived.conf.vrrp":            {4, 0, 0},
		"keepalived.conf.vrrp.localcheck": {9, 0, 5},
		"keepalived.conf.vrrp.scripts":    {3, 1, 0},
		"keepalived.conf.vrrp.sync":       {9, 2, 0},
	}
	refused := map[string]string{
		"keepalived.conf.SSL_GET":               ":20: auth_type: AH is not supported",
		"keepalived.conf.conditional_conf":      ":6: vrrp_script: check_VI_0: no script command", // no @ line applies
		"keepalived.conf.track_interface":       ":28: virtual_routes: ",
		"keepalived.conf.vrrp.lvs_syncd":        ":4: VI_2: unknown in vrrp_sync_group", // keepalived: "Unknown keyword 'VI_2'"
		"keepalived.conf.vrrp.routes":           ":25: virtual_routes: ",
		"keepalived.conf.vrrp.rules":            ":24: virtual_rules: ",
		"keepalived.conf.vrrp.static_ipaddress": ":21: virtual_routes: ",
	}
	files, _ := filepath.Glob(dir + "/keepalived.conf.*")
	if len(files) == 0 {
		t.Fatalf("no samples in %s", dir)
	}
	for _, f := range files {
		name := filepath.Base(f)
		cfg, kc, err := loadKeepalived(f, "")
		switch want, ok := accepted[name]; {
		case ok:
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if got := [3]int{len(cfg.Instances), len(cfg.Groups), len(cfg.Scripts)}; got != want {
				t.Errorf("%s: instances, groups, scripts %v; want %v", name, got, want)
			}
			roundTrip(t, kc, cfg)
		case refused[name] != "":
			if err == nil || !strings.HasPrefix(err.Error(), f+refused[name]) {
				t.Errorf("%s: error %v; want %s%s", name, err, f, refused[name])
			}
		default:
			// LVS-only samples: nothing for vrrpd to run.
			if err == nil || !strings.HasPrefix(err.Error(), f+":1: vrrp_instance: no vrrp_instance") {
				t.Errorf("%s: error %v; want no vrrp_instance", name, err)
			}
		}
	}
	// With -config-id high, conditional_conf still needs net_namespace.
	if _, _, err := loadKeepalived(dir+"/keepalived.conf.conditional_conf", "high"); err == nil ||
		!strings.Contains(err.Error(), ":3: net_namespace: ") {
		t.Errorf("conditional_conf -i high: %v", err)
	}
}

// FuzzKeepalived: any text is converted or refused with an error matching
// ErrKeepalived (never a panic), and what is accepted prints as TOML that
// reads back as the same configuration.
func FuzzKeepalived(f *testing.F) {
	files, _ := filepath.Glob("testdata/keepalived/*.conf")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("vrrp_instance V { interface eth0\nvirtual_router_id 1\nvirtual_ipaddress { 10.0.0.1 }\nnotify \"a\\\"b\" }\n")
	f.Add("$A=1\n@x $B=2\nvrrp_instance V${A} {\n}\n")
	f.Add("global_defs {\n vrrp_garp_master_delay 3\n vrrp_gna_interval 0.001\n vrrp_min_garp\n vrrp_rt_priority 50\n vrrp_no_swap\n" +
		" vrrp_notify_fifo /run/f \n vrrp_notify_fifo_script \"/bin/r -x\"\n}\ngarp_group {\n garp_interval 0.01\n interface eth0\n}\n" +
		"track_file tf {\n file \"/run/t f\"\n weight -2 reverse\n init_file 3 overwrite\n}\n" +
		"vrrp_track_process tp {\n process /usr/bin/x \"a b\" c\n param_match initial\n quorum 2\n quorum_max 4\n delay 0.5\n weight 5\n}\n" +
		"vrrp_instance V {\n state MASTER\n interface eth0\n virtual_router_id 1\n garp_master_repeat 2\n garp_lower_prio_repeat 0\n" +
		" track_file {\n tf weight 3 noreverse\n }\n track_process {\n tp\n }\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n")
	f.Fuzz(func(t *testing.T, text string) {
		kc, err := convertKeepalivedText("f.conf", text, "x")
		if err != nil {
			if !errors.Is(err, ErrKeepalived) {
				t.Fatalf("error %q does not match ErrKeepalived", err)
			}
			return
		}
		cfg, err := kc.build()
		if err != nil {
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("error %q does not match ErrUsage", err)
			}
			return
		}
		roundTrip(t, kc, cfg)
	})
}

// TestKeepalivedAcceptsTestdata runs keepalived's own --config-test on
// the testdata configurations: they are real keepalived configurations.
// What keepalived says about them is only what the conversion warns about
// too, or that the lab's interfaces do not exist here.
func TestKeepalivedAcceptsTestdata(t *testing.T) {
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		netlab.SkipOrFail(t, "keepalived not installed: %v", err)
	}
	benign := []string{
		"doesn't exist", "Non-existent interface", // the test machine's interfaces
		"SECURITY VIOLATION",            // no enable_script_security: vrrpd runs scripts as root anyway
		"Truncating auth_pass",          // converted: first 8 bytes, a warning
		"Cannot specify scope for IPv6", // fe80:: scope link: accepted
		"preempt_delay is incompatible", // converted: reset, a warning
		"Config files missing",          // converted: a warning
		"Virtual server [",              // LVS defaults: ignored, a warning
	}
	files, _ := filepath.Glob("testdata/keepalived/*.conf")
	for _, f := range files {
		out, _ := exec.Command(bin, "--config-test", "--use-file", f, "--config-id", "lb1", "--log-console", "--dont-fork").CombinedOutput()
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && !slices.ContainsFunc(benign, func(b string) bool { return strings.Contains(l, b) }) {
				t.Errorf("%s: keepalived --config-test: %s", f, l)
			}
		}
	}
}

// Definitions that each use the previous one twice double at every line:
// 40 lines asked for terabytes, and FuzzKeepalived's worker ran out of
// memory. The conversion refuses the line that grows past the bound,
// naming it, at once; a long but bounded expansion still works.
func TestKeepalivedExpansionBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("$V0=0123456789abcdef\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "$V%d=${V%d}${V%d}\n", i, i-1, i-1)
	}
	b.WriteString("vrrp_instance V {\n interface ${V40}\n}\n")
	start := time.Now()
	_, err := convertKeepalivedText("f.conf", b.String(), "x")
	if !errors.Is(err, ErrKeepalived) || !strings.Contains(err.Error(), "f.conf:14:") || !strings.Contains(err.Error(), "once expanded") {
		t.Errorf("doubling definitions: %v; want an error at f.conf:14 (the first definition past 65536 bytes)", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing took %v", d) // a hang guard: it takes microseconds
	}
	// 11 doublings of 16 bytes: a 32 kB line is fine.
	var ok strings.Builder
	ok.WriteString("$V0=0123456789abcdef\n")
	for i := 1; i <= 11; i++ {
		fmt.Fprintf(&ok, "$V%d=${V%d}${V%d}\n", i, i-1, i-1)
	}
	ok.WriteString("vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n notify_master \"/bin/true ${V11}\"\n}\n")
	if _, err := convertKeepalivedText("f.conf", ok.String(), "x"); err != nil {
		t.Errorf("a 32 kB expansion: %v", err)
	}
}
