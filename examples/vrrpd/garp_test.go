package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/arpnd"
	"github.com/govrrp/govrrp/transport/memnet"
)

// TestGARPConfig: the garp_* keys at the top (defaults) and per instance,
// with keepalived's defaults; the lower-priority values default to the
// top-level ones, not to the instance's master values (as keepalived's
// global vrrp_garp_lower_prio_*).
func TestGARPConfig(t *testing.T) {
	text := `
garp_master_delay = "2s"
garp_master_repeat = 3
gna_interval = "10ms"

[[instance]]
name = "A"
interface = "eth0"
vrid = 1
vips = ["10.0.0.1"]

[[instance]]
name = "B"
interface = "eth0"
vrid = 2
vips = ["10.0.0.2"]
garp_master_delay = "0s"
garp_master_repeat = 1
garp_master_refresh = "1m"
garp_master_refresh_repeat = 2
garp_interval = "1ms"

[[instance]]
name = "C"
interface = "eth0"
vrid = 3
vips = ["10.0.0.3"]
garp_lower_prio_repeat = 0
garp_lower_prio_delay = "7s"
`
	cfg, err := parseTOML("f.toml", text)
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	want := map[string]garpSchedule{
		"A": {MasterDelay: 2 * time.Second, MasterRepeat: 3, MasterRefreshRepeat: 1, LowerPrioDelay: 2 * time.Second, LowerPrioRepeat: 3, GNAInterval: 10 * ms},
		"B": {MasterDelay: 0, MasterRepeat: 1, MasterRefresh: time.Minute, MasterRefreshRepeat: 2, LowerPrioDelay: 2 * time.Second, LowerPrioRepeat: 3,
			GARPInterval: ms, GNAInterval: 10 * ms},
		"C": {MasterDelay: 2 * time.Second, MasterRepeat: 3, MasterRefreshRepeat: 1, LowerPrioDelay: 7 * time.Second, LowerPrioRepeat: 0, GNAInterval: 10 * ms},
	}
	for _, in := range cfg.Instances {
		if in.GARP != want[in.Name] {
			t.Errorf("%s: GARP %+v\nwant %+v", in.Name, in.GARP, want[in.Name])
		}
	}
	// arpnd's zero is its default: vrrpd's zeros (none) go as negatives.
	b := cfg.Instances[1].GARP.arpnd()
	if b.MasterDelay >= 0 || b.MasterRepeat != 1 || b.MasterRefresh != time.Minute || b.MasterRefreshRepeat != 2 {
		t.Errorf("B as arpnd.Schedule: %+v", b)
	}
	c := cfg.Instances[2].GARP.arpnd()
	if c.LowerPrioRepeat >= 0 || c.LowerPrioDelay != 7*time.Second {
		t.Errorf("C as arpnd.Schedule: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}

	// Without any key: keepalived's defaults, the same as arpnd's.
	cfg, err = parseTOML("f.toml", "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.1\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Instances[0].GARP != defaultGARP {
		t.Errorf("defaults: %+v", cfg.Instances[0].GARP)
	}
	d := cfg.Instances[0].GARP.arpnd()
	var zero arpnd.Config
	if got, want := d, (arpnd.Schedule{MasterRepeat: 5, MasterDelay: 5 * time.Second, MasterRefreshRepeat: 1, LowerPrioRepeat: 5, LowerPrioDelay: 5 * time.Second}); got != want {
		t.Errorf("defaults as arpnd.Schedule: %+v, want %+v (arpnd's own defaults: %+v)", got, want, zero.Schedule())
	}
}

func TestGARPConfigErrors(t *testing.T) {
	inst := func(body string) string {
		return "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.1\"]\n" + body
	}
	for _, tc := range []struct{ text, want string }{
		{inst("garp_master_repeat = 0"), `instance[0] "A": garp_master_repeat = 0: want 1 to 1000`},
		{inst("garp_master_refresh_repeat = 1001"), `instance[0] "A": garp_master_refresh_repeat = 1001: want 1 to 1000`},
		{inst("garp_lower_prio_repeat = -1"), `instance[0] "A": garp_lower_prio_repeat = -1: want 0 to 1000 (0: none`},
		{inst("garp_master_delay = \"-1s\""), `instance[0] "A": garp_master_delay = -1s: want a Go duration from 0s to 1h0m0s (0s: no second burst`},
		{inst("garp_interval = \"soon\""), `instance[0] "A": garp_interval = soon: want a Go duration from 0s to 10s`},
		{"gna_interval = \"1m\"\n" + inst(""), `f.toml: gna_interval = 1m: want a Go duration from 0s to 10s`},
		{"garp_master_refresh = \"48h\"\n" + inst(""), `f.toml: garp_master_refresh = 48h: want a Go duration from 0s to 24h0m0s`},
	} {
		_, err := parseTOML("f.toml", tc.text)
		if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v\nwant %q", tc.text, err, tc.want)
		}
	}
}

// TestKeepalivedGARP: global_defs vrrp_garp_* / vrrp_gna_interval /
// vrrp_min_garp, the instance's garp_*, garp_group and strict mode, as
// keepalived resolves them.
func TestKeepalivedGARP(t *testing.T) {
	text := `global_defs {
  vrrp_garp_master_delay 3
  vrrp_garp_master_repeat 0
  vrrp_garp_lower_prio_repeat 2
  vrrp_garp_interval 0.001
  vrrp_gna_interval 0.000250
  vrrp_garp_master_refresh 120
  vrrp_garp_master_refresh_repeat 2
}
garp_group {
  garp_interval 0.005
  interfaces {
    eth1
  }
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  garp_master_repeat 4
  garp_master_delay 0
  garp_lower_prio_delay 9
  garp_interval 0.5
  virtual_ipaddress {
    10.0.0.1
  }
}
vrrp_instance B {
  interface eth1
  virtual_router_id 2
  virtual_ipaddress {
    10.0.1.1
  }
}
vrrp_instance S {
  interface eth0
  virtual_router_id 3
  strict_mode
  garp_lower_prio_repeat 3
  virtual_ipaddress {
    10.0.0.3
  }
}
`
	kc, err := convertKeepalivedText("t.conf", text, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kc.build()
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, kc, cfg)
	ms, us := time.Millisecond, time.Microsecond
	want := map[string]garpSchedule{
		// The instance's own master values; the lower-priority repeat is
		// the global one, its delay its own; garp_interval is not an
		// instance keyword in keepalived (ignored).
		"A": {MasterDelay: 0, MasterRepeat: 4, MasterRefresh: 2 * time.Minute, MasterRefreshRepeat: 2,
			LowerPrioDelay: 9 * time.Second, LowerPrioRepeat: 2, GARPInterval: ms, GNAInterval: 250 * us},
		// garp_group on eth1; repeat 0 is 1, as keepalived sets it.
		"B": {MasterDelay: 3 * time.Second, MasterRepeat: 1, MasterRefresh: 2 * time.Minute, MasterRefreshRepeat: 2,
			LowerPrioDelay: 3 * time.Second, LowerPrioRepeat: 2, GARPInterval: 5 * ms, GNAInterval: 250 * us},
		// strict_mode: no lower-priority bursts.
		"S": {MasterDelay: 3 * time.Second, MasterRepeat: 1, MasterRefresh: 2 * time.Minute, MasterRefreshRepeat: 2,
			LowerPrioDelay: 0, LowerPrioRepeat: 0, GARPInterval: ms, GNAInterval: 250 * us},
	}
	for _, in := range cfg.Instances {
		if in.GARP != want[in.Name] {
			t.Errorf("%s: GARP %+v\nwant %+v", in.Name, in.GARP, want[in.Name])
		}
	}
	for _, w := range []string{"t.conf:3: global_defs vrrp_garp_master_repeat 0: set to 1", "t.conf:22: vrrp_instance A garp_interval ignored",
		"t.conf:10: garp_group: vrrpd spaces", "garp_lower_prio_repeat: set to 0: strict mode"} {
		if !slices.ContainsFunc(kc.warnings, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("no warning %q in %q", w, kc.warnings)
		}
	}

	// vrrp_min_garp: one round, no second burst, unless set.
	kc, err = convertKeepalivedText("t.conf", "global_defs {\n vrrp_min_garp\n vrrp_garp_master_repeat 2\n}\n"+
		"vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n", "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = kc.build(); err != nil {
		t.Fatal(err)
	}
	if g := cfg.Instances[0].GARP; g.MasterRepeat != 2 || g.MasterDelay != 0 || g.LowerPrioRepeat != 2 || g.LowerPrioDelay != 0 {
		t.Errorf("vrrp_min_garp: %+v", g)
	}

	for _, tc := range []struct{ text, want string }{
		{"global_defs {\n vrrp_garp_master_delay 1.5\n}\n", "t.conf:2: vrrp_garp_master_delay: \"1.5\": want whole seconds from 0 to 3600"},
		{"global_defs {\n vrrp_garp_interval 11\n}\n", "t.conf:2: vrrp_garp_interval: \"11\": want seconds from 0 to 10"},
		{"garp_group {\n garp_interval 0.1\n}\n", "t.conf:1: garp_group: no interface"},
		{"garp_group {\n interface eth0\n}\ngarp_group {\n interface eth0\n}\n", "t.conf:4: garp_group: interface eth0 is in another garp_group"},
		{"vrrp_instance A {\n garp_lower_prio_repeat 1001\n}\n", "t.conf:2: garp_lower_prio_repeat: \"1001\": want 0 to 1000"},
	} {
		_, err := convertKeepalivedText("t.conf", tc.text, "")
		if err == nil || !errors.Is(err, ErrKeepalived) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v\nwant %q", tc.text, err, tc.want)
		}
	}
}

// TestDaemonReloadGARPInPlace: a reload that changes only an instance's
// garp_* schedule applies it in place (no release, no transition), and
// the next takeover announces with it.
func TestDaemonReloadGARPInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		one := inst("VI_1", 1, 150, "10.0.0.100")
		one.GARP = defaultGARP
		h := startHost(t, lan, 1, cfgOf(one))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if states(h)["VI_1"] != "MASTER" {
			t.Fatalf("before reload: %v", states(h))
		}
		two := one
		two.GARP.MasterRepeat, two.GARP.MasterDelay = 1, 0
		if err := h.d.Reload(cfgOf(two)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if diff := cmp.Diff([]string{"take", "announce"}, h.sys.callsOf("VI_1")); diff != "" {
			t.Errorf("a garp_* change restarted the instance (-want +got):\n%s", diff)
		}
		// A new takeover (its interface down and up again) uses it.
		h.sys.setLink("eth0", false)
		time.Sleep(time.Second)
		h.sys.setLink("eth0", true)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		h.sys.mu.Lock()
		garps := slices.Clone(h.sys.garps)
		h.sys.mu.Unlock()
		if diff := cmp.Diff([]garpSchedule{one.GARP, two.GARP}, garps); diff != "" {
			t.Errorf("schedules given to Take (-want +got):\n%s", diff)
		}
	})
}
