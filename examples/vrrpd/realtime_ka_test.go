package main

import (
	"slices"
	"strings"
	"testing"
)

// TestKeepalivedRealtime: global_defs vrrp_rt_priority and vrrp_no_swap
// map to rt_priority and lock_memory (keepalived clamps the priority to
// SCHED_RR's 1-99).
func TestKeepalivedRealtime(t *testing.T) {
	const inst = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n"
	for _, tc := range []struct {
		defs string
		prio int
		lock bool
		warn string
	}{
		{"vrrp_rt_priority 50\n vrrp_no_swap", 50, true, ""},
		{"vrrp_rt_priority 150", 99, false, "t.conf:2: global_defs vrrp_rt_priority 150: set to 99"},
		{"vrrp_rt_priority 0", 1, false, "t.conf:2: global_defs vrrp_rt_priority 0: set to 1"},
		{"vrrp_no_swap", 0, true, ""},
	} {
		kc, err := convertKeepalivedText("t.conf", "global_defs {\n "+tc.defs+"\n}\n"+inst, "")
		if err != nil {
			t.Fatalf("%q: %v", tc.defs, err)
		}
		cfg, err := kc.build()
		if err != nil {
			t.Fatalf("%q: %v", tc.defs, err)
		}
		if cfg.RTPriority != tc.prio || cfg.LockMemory != tc.lock {
			t.Errorf("%q: rt_priority %d lock_memory %v; want %d %v", tc.defs, cfg.RTPriority, cfg.LockMemory, tc.prio, tc.lock)
		}
		if tc.warn != "" && !slices.ContainsFunc(kc.warnings, func(s string) bool { return strings.Contains(s, tc.warn) }) {
			t.Errorf("%q: no warning %q in %q", tc.defs, tc.warn, kc.warnings)
		}
		if slices.ContainsFunc(kc.warnings, func(s string) bool { return strings.Contains(s, "not supported") }) {
			t.Errorf("%q: still \"not supported\": %q", tc.defs, kc.warnings)
		}
		roundTrip(t, kc, cfg)
	}
	if _, err := convertKeepalivedText("t.conf", "global_defs {\n vrrp_rt_priority high\n}\n"+inst, ""); err == nil ||
		!strings.Contains(err.Error(), "t.conf:2: vrrp_rt_priority: \"high\"") {
		t.Errorf("vrrp_rt_priority high: err %v", err)
	}
}
