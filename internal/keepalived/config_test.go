package keepalived

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "update golden files in testdata")

func ptr(v int) *int { return &v }

var renderCases = []struct {
	name string
	cfg  Config
	// rfc9568: the configuration needs keepalived 2.2.8 or later
	// (v3_checksum_as_v2): TestRenderAcceptedByKeepalived checks it with
	// the build RFC9568Binary names, not with the system keepalived.
	rfc9568 bool
}{
	{
		name: "minimal",
		cfg: Config{Instances: []VRRPInstance{{
			VRID: 1, VIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.100/24")},
		}}},
	},
	{
		name: "v3-ipv4-fast",
		cfg: Config{
			RouterID: "h1", Version: 3, GARPMasterDelay: ptr(0), GARPMasterRepeat: 2,
			GARPInterval: 10 * time.Millisecond, GNAInterval: 1500 * time.Microsecond * 2,
			NotifyScript: "/tmp/x/notify.sh",
			Instances: []VRRPInstance{{
				Name: "fast", Interface: "eth0", VRID: 51, Priority: 150,
				AdvertInterval: 10 * time.Millisecond, PreemptDelay: 2500 * time.Millisecond,
				VIPs: []netip.Prefix{
					netip.MustParsePrefix("10.99.0.100/24"),
					netip.MustParsePrefix("10.99.0.101/32"),
				},
			}},
		},
	},
	{
		name: "v2-auth-unicast-nopreempt",
		cfg: Config{Instances: []VRRPInstance{{
			VRID: 52, Priority: 100, AdvertInterval: 2 * time.Second, Version: 2, NoPreempt: true,
			AuthPass:     "secret1",
			UnicastSrc:   netip.MustParseAddr("10.99.0.1"),
			UnicastPeers: []netip.Addr{netip.MustParseAddr("10.99.0.2"), netip.MustParseAddr("10.99.0.3")},
			VIPs:         []netip.Prefix{netip.MustParsePrefix("10.99.0.102/24")},
		}}},
	},
	{
		name: "v3-ipv6-owner-vmac",
		cfg: Config{Instances: []VRRPInstance{{
			VRID: 53, Priority: 255, Version: 3, NativeIPv6: true,
			UseVMAC: true, VMACName: "vrrp6.53", VMACXmitBase: true,
			GARPMasterDelay: ptr(1), GARPMasterRepeat: 3, GARPMasterRefresh: 10 * time.Second,
			VIPs: []netip.Prefix{
				netip.MustParsePrefix("fe80::53/64"),
				netip.MustParsePrefix("fd99::100/64"),
			},
			Extra: []string{"dont_track_primary"},
		}}},
	},
	{
		name: "v3-ipv4-rfc9568-checksum",
		cfg: Config{Version: 3, Instances: []VRRPInstance{{
			VRID: 54, Priority: 150, AdvertInterval: 100 * time.Millisecond, V3ChecksumAsV2: true,
			VIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.104/24")},
		}}},
		rfc9568: true,
	},
	{
		name: "v3-realtime",
		cfg: Config{
			Version: 3, GlobalExtra: []string{"vrrp_rt_priority 10", "vrrp_no_swap"},
			Instances: []VRRPInstance{{
				VRID: 55, Priority: 150, AdvertInterval: 100 * time.Millisecond,
				VIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.105/24")},
			}},
		},
	},
	{
		name: "sync-group",
		cfg: Config{
			Version: 3, Strict: true, NotifyScript: "/tmp/x/notify.sh",
			Instances: []VRRPInstance{
				{VRID: 61, Priority: 150, VIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.110/24")}},
				{VRID: 62, Priority: 150, VIPs: []netip.Prefix{
					netip.MustParsePrefix("fe80::110/64"),
					netip.MustParsePrefix("fd99::110/64"),
				}},
			},
			SyncGroups: []SyncGroup{{Name: "G1", Instances: []string{"VI_61", "VI_62"}}},
		},
	},
}

// TestRenderGolden compares Render's output with testdata/NAME.conf; run
// with -update to rewrite the files after checking the diff.
func TestRenderGolden(t *testing.T) {
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.cfg)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			file := filepath.Join("testdata", tc.name+".conf")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Render(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
			again, _ := Render(tc.cfg)
			if string(again) != string(got) {
				t.Error("Render is not deterministic")
			}
		})
	}
}

func TestValidate(t *testing.T) {
	vip4 := []netip.Prefix{netip.MustParsePrefix("10.99.0.100/24")}
	vip6 := []netip.Prefix{netip.MustParsePrefix("fd99::100/64")}
	one := func(v VRRPInstance) Config {
		if v.VRID == 0 {
			v.VRID = 1
		}
		if v.VIPs == nil {
			v.VIPs = vip4
		}
		return Config{Instances: []VRRPInstance{v}}
	}
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error, naming the field and range
	}{
		{"no instances", Config{}, "Instances: empty"},
		{"global version", Config{Version: 4, Instances: one(VRRPInstance{}).Instances}, "Version: 4: want 0 (default), 2 or 3"},
		{"vrid 0", Config{Instances: []VRRPInstance{{VIPs: vip4}}}, "VRID: 0: want 1..255"},
		{"vrid 256", one(VRRPInstance{VRID: 256}), "VRID: 256: want 1..255"},
		{"priority", one(VRRPInstance{Priority: 256}), "Priority: 256"},
		{"v2 fractional interval", one(VRRPInstance{AdvertInterval: 1500 * time.Millisecond}), "AdvertInterval: 1.5s: VRRPv2 wants 1s..255s in whole seconds"},
		{"v3 5ms", one(VRRPInstance{Version: 3, AdvertInterval: 5 * time.Millisecond}), "AdvertInterval: 5ms: VRRPv3 wants 10ms..40.95s"},
		{"v3 41s", one(VRRPInstance{Version: 3, AdvertInterval: 41 * time.Second}), "AdvertInterval: 41s: VRRPv3"},
		{"v3 15ms", one(VRRPInstance{Version: 3, AdvertInterval: 15 * time.Millisecond}), "steps of 10ms"},
		{"auth v3", one(VRRPInstance{Version: 3, AuthPass: "x"}), "AuthPass: authentication needs VRRPv2"},
		{"auth long", one(VRRPInstance{AuthPass: "123456789"}), "AuthPass: \"123456789\": want 1..8"},
		{"auth space", one(VRRPInstance{AuthPass: "a b"}), "AuthPass"},
		{"no vips", Config{Instances: []VRRPInstance{{VRID: 1}}}, "VIPs: empty"},
		{"mixed vips", one(VRRPInstance{Version: 3, VIPs: append(vip4, vip6...)}), "one family"},
		{"v2 ipv6", one(VRRPInstance{VIPs: vip6}), "VRRPv2 (RFC 3768) is IPv4 only"},
		{"native_ipv6 v4", one(VRRPInstance{Version: 3, NativeIPv6: true}), "Version: VRRPv2|NativeIPv6: set with IPv4"},
		{"peer family", one(VRRPInstance{UnicastPeers: []netip.Addr{netip.MustParseAddr("fd99::2")}}), "UnicastPeers: fd99::2: not of the VIPs' address family"},
		{"strict unicast", Config{Strict: true, Instances: one(VRRPInstance{UnicastPeers: []netip.Addr{netip.MustParseAddr("10.99.0.2")}}).Instances}, "vrrp_strict forbids unicast"},
		{"strict auth", Config{Strict: true, Instances: one(VRRPInstance{AuthPass: "x"}).Instances}, "vrrp_strict forbids authentication"},
		{"preempt delay", one(VRRPInstance{PreemptDelay: 1001 * time.Second}), "PreemptDelay: 16m41s: want 0..1000s"},
		{"garp delay", Config{GARPMasterDelay: ptr(-1), Instances: one(VRRPInstance{}).Instances}, "GARPMasterDelay: -1: want 0..255"},
		{"refresh", one(VRRPInstance{GARPMasterRefresh: 1500 * time.Millisecond}), "GARPMasterRefresh"},
		{"vmac name without vmac", one(VRRPInstance{VMACName: "v"}), "VMACName"},
		{"xmit base without vmac", one(VRRPInstance{VMACXmitBase: true}), "VMACXmitBase: set without UseVMAC"},
		{"bad name", one(VRRPInstance{Name: "a b"}), "Name: \"a b\""},
		{"brace in extra", one(VRRPInstance{Extra: []string{"x {"}}), "Extra"},
		{"brace in global extra", Config{GlobalExtra: []string{"x }"}, Instances: one(VRRPInstance{}).Instances}, "GlobalExtra"},
		{"duplicate name", Config{Instances: []VRRPInstance{{VRID: 1, VIPs: vip4}, {Name: "VI_1", VRID: 2, VIPs: vip4}}}, "Instances[1].Name: \"VI_1\" used twice"},
		{"group unknown", Config{Instances: one(VRRPInstance{}).Instances, SyncGroups: []SyncGroup{{Name: "G", Instances: []string{"VI_9"}}}}, "SyncGroups[0].Instances: \"VI_9\": no vrrp_instance"},
		{"group empty", Config{Instances: one(VRRPInstance{}).Instances, SyncGroups: []SyncGroup{{Name: "G"}}}, "SyncGroups[0].Instances: empty"},
		{"strict ipv6 link-local", Config{Strict: true, Instances: one(VRRPInstance{Version: 3, VIPs: vip6}).Instances}, "VIPs: fd99::100/64: with vrrp_strict keepalived wants a link-local address first"},
		{"v3_checksum_as_v2 v2", one(VRRPInstance{V3ChecksumAsV2: true}), "V3ChecksumAsV2: needs VRRPv3, instance runs VRRPv2"},
		{"v3_checksum_as_v2 ipv6", one(VRRPInstance{Version: 3, V3ChecksumAsV2: true, VIPs: vip6}), "V3ChecksumAsV2: needs IPv4"},
		{"notify path", Config{NotifyScript: "/a b", Instances: one(VRRPInstance{}).Instances}, "NotifyScript"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrConfig", err)
			}
			ok := false
			for _, w := range strings.Split(tc.want, "|") {
				ok = ok || strings.Contains(err.Error(), w)
			}
			if !ok {
				t.Errorf("Validate() = %q, want it to contain %q", err, tc.want)
			}
			if _, rerr := Render(tc.cfg); rerr == nil {
				t.Error("Render accepted a config Validate rejects")
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "1", 100 * time.Millisecond: "0.1", 10 * time.Millisecond: "0.01",
		40950 * time.Millisecond: "40.95", 2500 * time.Millisecond: "2.5", 3 * time.Millisecond: "0.003",
	} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestValidateNamesInstanceField checks that an instance's error names
// the instance and its field in one path, after the ErrConfig prefix
// (staticcheck ST1005: no capitalised error string of its own).
func TestValidateNamesInstanceField(t *testing.T) {
	vip4 := []netip.Prefix{netip.MustParsePrefix("10.99.0.100/24")}
	cfg := Config{Instances: []VRRPInstance{{VRID: 1, VIPs: vip4}, {VRID: 2, Priority: 300, VIPs: vip4}}}
	err := cfg.Validate()
	want := "keepalived: invalid config: Instances[1] (VI_2).Priority: 300: want 0 (default 100) or 1..255"
	if !errors.Is(err, ErrConfig) || err.Error() != want {
		t.Errorf("Validate() = %v, want %q wrapping ErrConfig", err, want)
	}
}
