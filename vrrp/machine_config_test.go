package vrrp_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/vrrp"
)

func TestNewMachineDefaults(t *testing.T) {
	addrs := []netip.Addr{mtVIP}
	m := mtNew(t, vrrp.Config{VRID: 1, Addrs: addrs, Primary: mtSelf})
	want := vrrp.Config{
		VRID: 1, Priority: 100, Version: 3, AdvertInterval: time.Second,
		Addrs: []netip.Addr{mtVIP}, Primary: mtSelf, Checksum: packet.ChecksumPseudoHeader,
	}
	if diff := cmp.Diff(want, m.Config(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Config() (-want +got):\n%s", diff)
	}
	addrs[0] = mtOther
	if m.Config().Addrs[0] != mtVIP {
		t.Error("NewMachine did not copy Addrs")
	}

	v2 := mtNew(t, vrrp.Config{VRID: 1, Version: 2, Addrs: []netip.Addr{mtVIP}, Primary: mtSelf}).Config()
	if v2.Checksum != packet.ChecksumMessage || v2.AdvertInterval != time.Second {
		t.Errorf("VRRPv2 defaults: %+v", v2)
	}
	v6 := mtNew(t, vrrp.Config{VRID: 1, Addrs: []netip.Addr{mtVIP6}, Primary: mtSelf6}).Config()
	if v6.Checksum != packet.ChecksumPseudoHeader {
		t.Errorf("IPv6 checksum default %v", v6.Checksum)
	}
	msg := mtNew(t, vrrp.Config{VRID: 1, Addrs: []netip.Addr{mtVIP}, Primary: mtSelf, Checksum: packet.ChecksumMessage}).Config()
	if msg.Checksum != packet.ChecksumMessage {
		t.Errorf("ChecksumMessage not kept: %v", msg.Checksum)
	}
	// The owner need not list its primary address among Addrs.
	mtNew(t, vrrp.Config{VRID: 1, Priority: 255, Addrs: []netip.Addr{mtVIP}, Primary: mtSelf})
	// Limits that are allowed.
	mtNew(t, vrrp.Config{VRID: 255, Priority: 1, AdvertInterval: 10 * time.Millisecond, Addrs: []netip.Addr{mtVIP}, Primary: mtSelf})
	mtNew(t, vrrp.Config{VRID: 1, AdvertInterval: 40950 * time.Millisecond, Addrs: []netip.Addr{mtVIP}, Primary: mtSelf, PreemptDelay: 1000 * time.Second})
	mtNew(t, vrrp.Config{VRID: 1, Version: 2, AdvertInterval: 255 * time.Second, Addrs: []netip.Addr{mtVIP}, Primary: mtSelf})
	many := make([]netip.Addr, 255)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})
	}
	mtNew(t, vrrp.Config{VRID: 1, Addrs: many, Primary: mtSelf})
}

func TestNewMachineConfigErrors(t *testing.T) {
	base := mtConfig
	pw := [8]byte{'p'}
	tooMany := make([]netip.Addr, 256)
	for i := range tooMany {
		tooMany[i] = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	}
	for _, tc := range []struct {
		field, allowed string
		edit           func(*vrrp.Config)
	}{
		{"VRID", "1-255", func(c *vrrp.Config) { c.VRID = 0 }},
		{"Version", "2 or 3", func(c *vrrp.Config) { c.Version = 1 }},
		{"AdvertInterval", "10ms to 40.95s", func(c *vrrp.Config) { c.AdvertInterval = 5 * time.Millisecond }},
		{"AdvertInterval", "10ms to 40.95s", func(c *vrrp.Config) { c.AdvertInterval = 40960 * time.Millisecond }},
		{"AdvertInterval", "10ms", func(c *vrrp.Config) { c.AdvertInterval = 1001 * time.Millisecond }},
		{"AdvertInterval", "10ms", func(c *vrrp.Config) { c.AdvertInterval = -time.Second }},
		{"AdvertInterval", "1s to 255s", func(c *vrrp.Config) { c.Version, c.AdvertInterval = 2, 500*time.Millisecond }},
		{"Addrs", "1-255", func(c *vrrp.Config) { c.Addrs = nil }},
		{"Addrs", "1-255", func(c *vrrp.Config) { c.Addrs = tooMany }},
		{"Addrs[0]", "specified", func(c *vrrp.Config) { c.Addrs = []netip.Addr{{}} }},
		{"Addrs[0]", "specified", func(c *vrrp.Config) { c.Addrs = []netip.Addr{netip.IPv4Unspecified()} }},
		{"Addrs[0]", "IPv4-mapped", func(c *vrrp.Config) { c.Addrs = []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.100")} }},
		{"Addrs[1]", "one family", func(c *vrrp.Config) { c.Addrs = []netip.Addr{mtVIP, mtVIP6} }},
		{"Addrs[1]", "distinct", func(c *vrrp.Config) { c.Addrs = []netip.Addr{mtVIP, mtVIP} }},
		{"Addrs[0]", "IPv4", func(c *vrrp.Config) { c.Version, c.Addrs, c.Primary = 2, []netip.Addr{mtVIP6}, mtSelf6 }},
		{"Primary", "own", func(c *vrrp.Config) { c.Primary = netip.Addr{} }},
		{"Primary", "own", func(c *vrrp.Config) { c.Primary = netip.IPv4Unspecified() }},
		{"Primary", "family", func(c *vrrp.Config) { c.Primary = mtSelf6 }},
		{"PreemptDelay", "0s-1000s", func(c *vrrp.Config) { c.PreemptDelay = -time.Second }},
		{"PreemptDelay", "0s-1000s", func(c *vrrp.Config) { c.PreemptDelay = 1001 * time.Second }},
		{"AuthType", "VRRPv2 only", func(c *vrrp.Config) { c.AuthType = packet.AuthPass }},
		{"AuthData", "VRRPv2 only", func(c *vrrp.Config) { c.AuthData = pw }},
		{"AuthType", "AuthPass", func(c *vrrp.Config) { c.Version, c.AuthType = 2, packet.AuthAH }},
		{"AuthData", "AuthPass", func(c *vrrp.Config) { c.Version, c.AuthData = 2, pw }},
		{"Checksum", "ChecksumPseudoHeader", func(c *vrrp.Config) { c.Checksum = 7 }},
		{"Checksum", "ChecksumMessage for VRRPv2", func(c *vrrp.Config) { c.Version, c.Checksum = 2, packet.ChecksumPseudoHeader }},
		{"Checksum", "IPv6", func(c *vrrp.Config) {
			c.Addrs, c.Primary, c.Checksum = []netip.Addr{mtVIP6}, mtSelf6, packet.ChecksumMessage
		}},
	} {
		cfg := base()
		tc.edit(&cfg)
		m, err := vrrp.NewMachine(cfg)
		if err == nil {
			t.Errorf("%s: NewMachine(%+v) = %v, want an error", tc.field, cfg, m)
			continue
		}
		var ce *vrrp.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, vrrp.ErrConfig) {
			t.Errorf("%s: error %v is not a *ConfigError matching ErrConfig", tc.field, err)
			continue
		}
		if ce.Field != tc.field || !strings.Contains(ce.Allowed, tc.allowed) {
			t.Errorf("error %q: want field %s, allowed containing %q", err, tc.field, tc.allowed)
		}
	}
}

// TestConfigLinkLocalFirst: RFC 9568 section 5.2.9, "the first address
// MUST be the IPv6 link-local address associated with the Virtual Router".
func TestConfigLinkLocalFirst(t *testing.T) {
	in := []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::2")}
	m, err := vrrp.NewMachine(vrrp.Config{VRID: 1, Addrs: in, Primary: netip.MustParseAddr("fe80::10")})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("fe80::1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("fe80::2")}
	if diff := cmp.Diff(want, m.Config().Addrs, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Addrs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, m.Advertisement(100).Addrs, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("advertised Addrs (-want +got):\n%s", diff)
	}
	if in[0] != netip.MustParseAddr("2001:db8::1") {
		t.Error("NewMachine reordered the caller's slice")
	}
}

// TestConfigAddrsZoneDropped: zones of virtual addresses are not carried
// on the wire, so NewMachine drops them; otherwise no advertisement's list
// would ever equal the configured one.
func TestConfigAddrsZoneDropped(t *testing.T) {
	cfg := vrrp.Config{VRID: 1, Primary: netip.MustParseAddr("fe80::1"),
		Addrs: []netip.Addr{netip.MustParseAddr("fe80::100%eth0"), netip.MustParseAddr("2001:db8::100")}}
	m, err := vrrp.NewMachine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Config().Addrs[0]; got.Zone() != "" {
		t.Fatalf("Config().Addrs[0] = %v, want no zone", got)
	}
	if cfg.Addrs[0].Zone() != "eth0" {
		t.Error("NewMachine changed the caller's slice")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.Start(now)
	adv := &packet.Advertisement{Version: 3, Type: packet.TypeAdvertisement, VRID: 1, Priority: 200, MaxAdvertInt: 100,
		Addrs: []netip.Addr{netip.MustParseAddr("fe80::100"), netip.MustParseAddr("2001:db8::100")}}
	m.Receive(now.Add(time.Second), adv, netip.MustParseAddr("fe80::2"), 255, packet.Info{})
	if s := m.Stats(); s.AddressListErrors != 0 || s.RcvdAdvertisements != 1 {
		t.Errorf("stats %+v, want the list to match", s)
	}
}
