package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestStateTOML: state = "MASTER" without a priority is the address
// owner; with nopreempt or preempt_delay it is refused; "BACKUP" for the
// owner is refused (RFC 9568 section 6.4.1 starts it as Master).
func TestStateTOML(t *testing.T) {
	inst := func(body string) string {
		return "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.1\"]\n" + body
	}
	for _, tc := range []struct {
		body string
		prio uint8
	}{
		{`state = "MASTER"`, 255},
		{"state = \"MASTER\"\npriority = 150", 150},
		{`state = "BACKUP"`, 100},
		{"state = \"backup\"\npriority = 254", 254},
		{"state = \"MASTER\"\npreempt_delay = \"0s\"", 255},
	} {
		cfg, err := parseTOML("f.toml", inst(tc.body))
		if err != nil {
			t.Errorf("%q: %v", tc.body, err)
			continue
		}
		if p := cfg.Instances[0].Priority; p != tc.prio {
			t.Errorf("%q: priority %d, want %d", tc.body, p, tc.prio)
		}
	}
	for _, tc := range []struct{ body, want string }{
		{"state = \"MASTER\"\nnopreempt = true", `instance[0] "A": nopreempt = true: want false with state = "MASTER"`},
		{"state = \"MASTER\"\npreempt_delay = \"5s\"", `instance[0] "A": preempt_delay = 5s: want nothing with state = "MASTER"`},
		{"state = \"BACKUP\"\npriority = 255", `instance[0] "A": state = BACKUP: want "MASTER" or nothing for the address owner`},
		{`state = "LEADER"`, `instance[0] "A": state = LEADER: want "MASTER" or "BACKUP"`},
	} {
		_, err := parseTOML("f.toml", inst(tc.body))
		if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v\nwant %q", tc.body, err, tc.want)
		}
	}
}

// TestKeepalivedStateOwnerBackup: an owner with state BACKUP converts
// with a warning (vrrpd starts it as Master); a non-owner's state MASTER
// is kept without one (keepalived starts it as Backup too).
func TestKeepalivedStateOwnerBackup(t *testing.T) {
	for _, tc := range []struct {
		body, warn string
	}{
		{"state BACKUP\npriority 255", "t.conf:4: vrrp_instance V state BACKUP: priority 255: vrrpd starts the address owner as Master"},
		{"state MASTER\npriority 150", ""},
	} {
		text := "vrrp_instance V {\ninterface eth0\nvirtual_router_id 1\n" + tc.body + "\nvirtual_ipaddress {\n10.0.0.1\n}\n}\n"
		kc, err := convertKeepalivedText("t.conf", text, "")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := kc.build()
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, kc, cfg)
		has := slices.ContainsFunc(kc.warnings, func(s string) bool { return strings.Contains(s, "state") })
		if tc.warn == "" && has {
			t.Errorf("%q: warnings %q, want none about the state", tc.body, kc.warnings)
		}
		if tc.warn != "" && !slices.ContainsFunc(kc.warnings, func(s string) bool { return strings.Contains(s, tc.warn) }) {
			t.Errorf("%q: no warning %q in %q", tc.body, tc.warn, kc.warnings)
		}
	}
}
