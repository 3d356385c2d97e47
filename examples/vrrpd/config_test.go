package main

import (
	"errors"
	"flag"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport/raw"
	"github.com/govrrp/govrrp/vrrp"
)

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		p, err := parseVIP(x)
		if err != nil {
			panic(err)
		}
		out = append(out, p)
	}
	return out
}

var addrOpt = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Config
	}{{
		name: "defaults",
		args: []string{"-iface", "eth0", "-vrid", "51", "10.0.0.100"},
		want: Config{LogLevel: slog.LevelInfo, NotifyTimeout: defaultNotifyTimeout, ProbeInterval: defaultProbeInterval, NotifyNice: defaultNotifyNice, ReceivePollAuto: true, SendPath: raw.SendAuto, Instances: []Instance{{
			Name: "VI_51", Interface: "eth0", VRID: 51, Priority: 100, Version: 3, Interval: time.Second,
			Checksum: packet.ChecksumPseudoHeader, VIPs: pfx("10.0.0.100"), GARP: defaultGARP,
		}}},
	}, {
		name: "everything v3",
		args: []string{"-iface", "eth1", "-vrid", "7", "-priority", "255", "-interval", "10ms", "-nopreempt",
			"-preempt-delay", "5s", "-accept", "-peer", "10.0.0.2", "-peer", "10.0.0.3", "-src", "10.0.0.1",
			"-vmac", "-ring", "-checksum", "rfc9568", "-notify", "/bin/notify arg", "-status", "unix:/run/vrrpd.sock",
			"-log-level", "debug", "10.0.0.100/24", "10.0.0.101"},
		want: Config{LogLevel: slog.LevelDebug, Status: "unix:/run/vrrpd.sock", NotifyTimeout: defaultNotifyTimeout, ProbeInterval: defaultProbeInterval, NotifyNice: defaultNotifyNice, ReceivePollAuto: true, SendPath: raw.SendAuto,
			Instances: []Instance{{
				Name: "VI_7", Interface: "eth1", VRID: 7, Priority: 255, Version: 3, Interval: 10 * time.Millisecond,
				NoPreempt: true, PreemptDelay: 5 * time.Second, Accept: true,
				Peers: []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")},
				Src:   netip.MustParseAddr("10.0.0.1"), VMAC: true, Ring: true, Checksum: packet.ChecksumMessage,
				Notify: "/bin/notify arg", VIPs: pfx("10.0.0.100/24", "10.0.0.101"), GARP: defaultGARP,
			}}},
	}, {
		name: "v2 with password",
		args: []string{"-iface", "eth0", "-vrid", "1", "-version", "2", "-interval", "3s", "-auth-pass", "secret12",
			"-status", "127.0.0.1:8080", "-log-level", "warn", "192.168.1.1"},
		want: Config{LogLevel: slog.LevelWarn, Status: "127.0.0.1:8080", NotifyTimeout: defaultNotifyTimeout, ProbeInterval: defaultProbeInterval, NotifyNice: defaultNotifyNice, ReceivePollAuto: true, SendPath: raw.SendAuto,
			Instances: []Instance{{
				Name: "VI_1", Interface: "eth0", VRID: 1, Priority: 100, Version: 2, Interval: 3 * time.Second,
				AuthPass: "secret12", VIPs: pfx("192.168.1.1"), GARP: defaultGARP,
			}}},
	}, {
		name: "IPv6",
		args: []string{"-iface", "eth0", "-vrid", "2", "-checksum", "pseudo", "-peer", "fe80::2", "fe80::100", "2001:db8::1/64"},
		want: Config{LogLevel: slog.LevelInfo, NotifyTimeout: defaultNotifyTimeout, ProbeInterval: defaultProbeInterval, NotifyNice: defaultNotifyNice, ReceivePollAuto: true, SendPath: raw.SendAuto, Instances: []Instance{{
			Name: "VI_2", Interface: "eth0", VRID: 2, Priority: 100, Version: 3, Interval: time.Second,
			Peers: []netip.Addr{netip.MustParseAddr("fe80::2")}, VIPs: pfx("fe80::100", "2001:db8::1/64"), GARP: defaultGARP,
		}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, addrOpt); diff != "" {
				t.Errorf("parseFlags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFlagsErrors(t *testing.T) {
	base := []string{"-iface", "eth0", "-vrid", "1"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-vrid", "1", "10.0.0.1"}, "-iface: want an interface name (required)"},
		{[]string{"-iface", "eth0", "10.0.0.1"}, "-vrid 0: want 1-255 (required)"},
		{[]string{"-iface", "eth0", "-vrid", "256", "10.0.0.1"}, "-vrid 256: want 1-255 (required)"},
		{[]string{"-iface", "eth0", "-vrid", "x", "10.0.0.1"}, `invalid value "x" for flag -vrid`},
		{[]string{"-iface", "this-name-is-too-long", "-vrid", "1", "10.0.0.1"}, "-iface this-name-is-too-long: want an interface name (at most 15 bytes"},
		{with(), "VIP argument: want 1-255 virtual addresses (ADDR or ADDR/LEN)"},
		{with("-priority", "0", "10.0.0.1"), "-priority 0: want 1-255 (255: address owner; default 100)"},
		{with("-priority", "256", "10.0.0.1"), "-priority 256: want 1-255"},
		{with("-version", "4", "10.0.0.1"), "-version 4: want 2 or 3 (default 3)"},
		{with("-version", "2", "fd00::1"), "-version 2: want 3 for IPv6 virtual addresses (VRRPv2 is IPv4 only)"},
		{with("-interval", "fast", "10.0.0.1"), "-interval fast: want a Go duration like 1s or 100ms"},
		{with("-interval", "15ms", "10.0.0.1"), "-interval 15ms: want a multiple of 10ms from 10ms to 40.95s for VRRPv3"},
		{with("-interval", "41s", "10.0.0.1"), "-interval 41s: want a multiple of 10ms from 10ms to 40.95s for VRRPv3"},
		{with("-interval", "0s", "10.0.0.1"), "-interval 0s: want a multiple of 10ms"},
		{with("-version", "2", "-interval", "100ms", "10.0.0.1"), "-interval 100ms: want whole seconds from 1s to 255s for VRRPv2"},
		{with("-version", "2", "-interval", "256s", "10.0.0.1"), "-interval 4m16s: want whole seconds from 1s to 255s for VRRPv2"},
		{with("-preempt-delay", "-1s", "10.0.0.1"), "-preempt-delay -1s: want a Go duration from 0s to 1000s"},
		{with("-preempt-delay", "1001s", "10.0.0.1"), "-preempt-delay 1001s: want a Go duration from 0s to 1000s"},
		{with("-auth-pass", "x", "10.0.0.1"), "-auth-pass (secret): want no password for VRRPv3"},
		{with("-version", "2", "-auth-pass", "123456789", "10.0.0.1"), "-auth-pass (9 bytes): want at most 8 bytes"},
		{with("-checksum", "md5", "10.0.0.1"), "-checksum md5: want rfc9568 or pseudo (default)"},
		{with("-checksum", "rfc9568", "fd00::1"), "-checksum rfc9568: want pseudo or nothing"},
		{with("-version", "2", "-checksum", "pseudo", "10.0.0.1"), "-checksum pseudo: want no checksum choice for VRRPv2"},
		{with("-peer", "nope", "10.0.0.1"), "-peer nope: want a unicast IPv4 or IPv6 address"},
		{with("-peer", "fd00::2", "10.0.0.1"), "-peer fd00::2: want an address of the family of the virtual addresses"},
		{with("-peer", "224.0.0.18", "10.0.0.1"), "-peer 224.0.0.18: want a unicast address"},
		{with("-peer", "10.0.0.2", "-peer", "10.0.0.2", "10.0.0.1"), "-peer 10.0.0.2: want distinct peers"},
		{with("-src", "fd00::1", "10.0.0.1"), "-src fd00::1: want a unicast address of the family"},
		{with("10.0.0.1", "fd00::1"), "VIP argument fd00::1: want addresses of one family (10.0.0.1 came first)"},
		{with("10.0.0.1", "10.0.0.1/24"), "VIP argument 10.0.0.1/24: want distinct addresses"},
		{with("10.0.0.300"), "VIP argument 10.0.0.300: want an IPv4 or IPv6 address, optionally with /LEN (bad address)"},
		{with("10.0.0.1/33"), "VIP argument 10.0.0.1/33: want an IPv4 or IPv6 address, optionally with /LEN (bad prefix)"},
		{with("0.0.0.0"), "VIP argument 0.0.0.0: want an IPv4 or IPv6 address, optionally with /LEN (not unicast)"},
		{with("fe80::1%eth0"), "(no zone)"},
		{with("::ffff:10.0.0.1"), "(IPv4-mapped)"},
		{with("-log-level", "trace", "10.0.0.1"), "-log-level trace: want debug, info or warn"},
		{with("-status", "localhost", "10.0.0.1"), "-status localhost: want host:port"},
		{with("-status", "unix:", "10.0.0.1"), "-status unix:: want host:port"},
		// The status server has no authentication: loopback only.
		{with("-status", "0.0.0.0:1", "10.0.0.1"), "-status 0.0.0.0:1: want host:port on a loopback address"},
		{with("-status", ":8080", "10.0.0.1"), "-status :8080: want host:port on a loopback address"},
		{with("-status", "[::]:8080", "10.0.0.1"), "-status [::]:8080: want host:port on a loopback address"},
		{with("-status", "10.0.0.5:8080", "10.0.0.1"), "-status 10.0.0.5:8080: want host:port on a loopback address"},
		{with("-status", "[fe80::1%lo]:8080", "10.0.0.1"), "want host:port on a loopback address"},
		{with("-status", "example.com:8080", "10.0.0.1"), "-status example.com:8080: want host:port on a loopback address (like 127.0.0.1:8080, [::1]:8080 or localhost:8080) or unix:/path/to.sock"},
		{with("-bogus", "10.0.0.1"), "flag provided but not defined: -bogus"},
		{[]string{"-config", "x.toml", "-iface", "eth0"}, "-iface: want no -iface with -config: put it in the file"},
		{[]string{"-config", "x.toml", "10.0.0.1"}, "VIP argument 10.0.0.1: want no VIP arguments with -config"},
		{[]string{"-config", "/nonexistent/vrrpd.toml"}, "/nonexistent/vrrpd.toml: open /nonexistent/vrrpd.toml: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseFlags(tt.args)
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			if !errors.Is(err, ErrUsage) {
				t.Errorf("error %v does not match ErrUsage", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	_, err := parseFlags([]string{"-h"})
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(err.Error(), "vrrpd -config FILE") {
		t.Errorf("-h: %v", err)
	}
}

// The example file shipped beside the daemon must parse.
func TestExampleFile(t *testing.T) {
	cfg, err := parseFlags([]string{"-config", "vrrpd.example.toml", "-log-level", "debug"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != slog.LevelDebug || len(cfg.Instances) < 3 || len(cfg.Groups) != 1 || len(cfg.Scripts) != 1 {
		t.Errorf("example: %+v", cfg)
	}
}

const goodTOML = `
log_level = "warn"
status = "127.0.0.1:9000"
notify = "/bin/default-notify"
notify_timeout = "3s"

[[script]]
name = "chk"
command = "pidof nginx"
interval = "2s"
weight = -20
fall = 3

[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
priority = 150
interval = "100ms"
vips = ["10.0.0.100/24"]
track_interface = [{ name = "eth1", weight = -50 }, { name = "eth2" }]
track_script = ["chk"]

[[instance]]
name = "VI_6"
interface = "eth0"
vrid = 51
vips = ["fe80::100", "2001:db8::100/64"]
notify = "/bin/vi6"

[[instance]]
name = "VI_2"
interface = "eth0"
vrid = 2
version = 2
auth_pass = "pw"
vips = ["10.0.0.2"]

[[sync_group]]
name = "G1"
members = ["VI_1", "VI_6"]
`

func TestParseTOML(t *testing.T) {
	got, err := parseTOML("f.toml", goodTOML)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		File: "f.toml", LogLevel: slog.LevelWarn, Status: "127.0.0.1:9000", NotifyTimeout: 3 * time.Second, ProbeInterval: defaultProbeInterval, NotifyNice: defaultNotifyNice,
		ReceivePollAuto: true, SendPath: raw.SendAuto,
		Scripts: []Script{{Name: "chk", Command: "pidof nginx", Interval: 2 * time.Second, Timeout: 5 * time.Second,
			Weight: -20, Rise: 1, Fall: 3}},
		Instances: []Instance{{
			Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 150, Version: 3, Interval: 100 * time.Millisecond,
			Checksum: packet.ChecksumPseudoHeader, Notify: "/bin/default-notify", VIPs: pfx("10.0.0.100/24"), GARP: defaultGARP,
			SyncGroup:       "G1",
			TrackInterfaces: []TrackInterface{{"eth1", -50}, {"eth2", 0}}, TrackScripts: []string{"chk"},
		}, {
			Name: "VI_6", Interface: "eth0", VRID: 51, Priority: 100, Version: 3, Interval: time.Second,
			Notify: "/bin/vi6", VIPs: pfx("fe80::100", "2001:db8::100/64"), GARP: defaultGARP, SyncGroup: "G1",
		}, {
			Name: "VI_2", Interface: "eth0", VRID: 2, Priority: 100, Version: 2, Interval: time.Second,
			AuthPass: "pw", Notify: "/bin/default-notify", VIPs: pfx("10.0.0.2"), GARP: defaultGARP,
		}},
		Groups: []Group{{Name: "G1", Members: []string{"VI_1", "VI_6"}, Notify: "/bin/default-notify"}},
	}
	if diff := cmp.Diff(want, got, addrOpt); diff != "" {
		t.Errorf("parseTOML (-want +got):\n%s", diff)
	}
}

func TestParseTOMLErrors(t *testing.T) {
	inst := func(body string) string {
		return "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.1\"]\n" + body
	}
	tests := []struct {
		text string
		want string
	}{
		{"", `f.toml: instance = []: want at least one [[instance]]`},
		{"bogus = 1\n" + inst(""), `f.toml: bogus = ...: want a known key`},
		{inst("colour = \"red\""), `f.toml: instance.colour = ...: want a known key`},
		{"log_level = \"loud\"\n" + inst(""), `f.toml: log_level = loud: want debug, info or warn`},
		{"status = \"nope\"\n" + inst(""), `f.toml: status = nope: want host:port`},
		{"status = \"0.0.0.0:1\"\n" + inst(""), `f.toml: status = 0.0.0.0:1: want host:port on a loopback address`},
		{"notify_timeout = \"0s\"\n" + inst(""), `f.toml: notify_timeout = 0s: want a positive Go duration`},
		{"[[instance]]\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.1\"]", `f.toml: instance[0] "": name: want a non-empty instance name`},
		{inst("") + inst(""), `f.toml: instance[1] "A": name = A: want a name no other instance has`},
		{"[[instance]]\nname = \"A\"\nvrid = 1\nvips = [\"10.0.0.1\"]", `instance[0] "A": interface: want an interface name (required)`},
		{"[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvips = [\"10.0.0.1\"]", `instance[0] "A": vrid: want 1-255 (required)`},
		{"[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 0\nvips = [\"10.0.0.1\"]", `instance[0] "A": vrid = 0: want 1-255`},
		{"[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1", `instance[0] "A": vips: want 1-255 virtual addresses`},
		{inst("priority = 300"), `instance[0] "A": priority = 300: want 1-255`},
		{inst("version = 1"), `instance[0] "A": version = 1: want 2 or 3`},
		{inst("interval = \"5ms\""), `instance[0] "A": interval = 5ms: want a multiple of 10ms`},
		{inst("interval = 1"), `f.toml: toml: line 6 (last key "instance.interval"): incompatible types`},
		{inst("preempt_delay = \"2h\""), `instance[0] "A": preempt_delay = 2h: want a Go duration from 0s to 1000s`},
		{inst("checksum = \"crc\""), `instance[0] "A": checksum = crc: want rfc9568 or pseudo`},
		{inst("peers = [\"x\"]"), `instance[0] "A": peers = x: want a unicast IPv4 or IPv6 address`},
		{inst("src = \"fd00::1\""), `instance[0] "A": src = fd00::1: want a unicast address of the family`},
		{inst("track_interface = [{ weight = 5 }]"), `instance[0] "A": track_interface[0].name: want an interface name`},
		{inst("track_interface = [{ name = \"eth1\", weight = 255 }]"), `instance[0] "A": track_interface[0].weight = 255: want -254 to 254`},
		{inst("track_script = [\"nope\"]"), `instance[0] "A": track_script[0] = nope: want the name of a [[script]]`},
		{inst("") + "[[instance]]\nname = \"B\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.2\"]",
			`instance[1] "B": vrid = 1: want a VRID not used by instance "A" on eth0 for IPv4`},
		{"[[script]]\ncommand = \"true\"\n" + inst(""), `script[0] "": name: want a non-empty script name`},
		{"[[script]]\nname = \"s\"\n" + inst(""), `script[0] "s": command: want a command to run`},
		{"[[script]]\nname = \"s\"\ncommand = \"true\"\ninterval = \"1ms\"\n" + inst(""), `script[0] "s": interval = 1ms: want a Go duration from 10ms to 1h`},
		{"[[script]]\nname = \"s\"\ncommand = \"true\"\ntimeout = \"-1s\"\n" + inst(""), `script[0] "s": timeout = -1s: want a positive Go duration`},
		{"[[script]]\nname = \"s\"\ncommand = \"true\"\nweight = -300\n" + inst(""), `script[0] "s": weight = -300: want -254 to 254`},
		{"[[script]]\nname = \"s\"\ncommand = \"true\"\nrise = 0\n" + inst(""), `script[0] "s": rise = 0: want 1-1000`},
		{"[[script]]\nname = \"s\"\ncommand = \"true\"\nfall = 1001\n" + inst(""), `script[0] "s": fall = 1001: want 1-1000`},
		{"[[script]]\nname = \"s\"\ncommand = \"true\"\n[[script]]\nname = \"s\"\ncommand = \"true\"\n" + inst(""), `f.toml: script[1].name = s: want a name no other script has`},
		{inst("") + "[[sync_group]]\nmembers = [\"A\"]", `sync_group[0] "": name: want a non-empty group name`},
		{inst("") + "[[sync_group]]\nname = \"G\"\nmembers = [\"A\"]", `sync_group[0] "G": members = [A]: want at least two instance names`},
		{inst("") + "[[sync_group]]\nname = \"G\"\nmembers = [\"A\", \"Z\"]", `sync_group[0] "G": members[1] = Z: want the name of an [[instance]]`},
		{inst("") + "[[instance]]\nname = \"B\"\ninterface = \"eth0\"\nvrid = 2\nvips = [\"10.0.0.2\"]\n" +
			"[[sync_group]]\nname = \"G\"\nmembers = [\"A\", \"B\"]\n[[sync_group]]\nname = \"G\"\nmembers = [\"A\", \"B\"]",
			`sync_group[1] "G": name = G: want a name no other sync group has`},
		{inst("") + "[[instance]]\nname = \"B\"\ninterface = \"eth0\"\nvrid = 2\nvips = [\"10.0.0.2\"]\n" +
			"[[sync_group]]\nname = \"G\"\nmembers = [\"A\", \"B\"]\n[[sync_group]]\nname = \"H\"\nmembers = [\"A\", \"B\"]",
			`sync_group[1] "H": members[0] = A: want an instance in no other sync group (it is in "G")`},
		{"this is not toml", `f.toml: toml: line 1`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := parseTOML("f.toml", tt.text)
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			if !errors.Is(err, ErrUsage) {
				t.Errorf("error %v does not match ErrUsage", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// -config with -notify, -status and -log-level overriding the file.
func TestConfigFileOverrides(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.toml")
	text := "log_level = \"warn\"\nstatus = \"127.0.0.1:1\"\n[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.1\"]\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFlags([]string{"-config", path, "-notify", "/bin/n", "-status", "unix:/tmp/s", "-log-level", "debug"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != path || cfg.LogLevel != slog.LevelDebug || cfg.Status != "unix:/tmp/s" || cfg.Instances[0].Notify != "/bin/n" {
		t.Errorf("overrides not applied: %+v", cfg)
	}
	cfg, err = parseFlags([]string{"-config", path})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != slog.LevelWarn || cfg.Status != "127.0.0.1:1" {
		t.Errorf("file values not used: %+v", cfg)
	}
}

// The status server listens on loopback addresses and unix sockets only.
func TestStatusAddrLoopback(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:8080", "127.1.2.3:1", "[::1]:8080", "localhost:8080", "LOCALHOST:1", "unix:/run/vrrpd.sock"} {
		cfg, err := parseFlags([]string{"-iface", "eth0", "-vrid", "1", "-status", addr, "10.0.0.1"})
		if err != nil || cfg.Status != addr {
			t.Errorf("-status %s: %v (status %q)", addr, err, cfg.Status)
		}
	}
}

// TestParseFlagsAcceptV2: -accept with -version 2 is keepalived's accept
// (a departure from RFC 3768 section 6.4.3 it makes by default), passed on
// to vrrp.Config.AcceptMode.
func TestParseFlagsAcceptV2(t *testing.T) {
	cfg, err := parseFlags([]string{"-iface", "eth0", "-vrid", "1", "-version", "2", "-accept", "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Instances) != 1 || !cfg.Instances[0].Accept || cfg.Instances[0].Version != 2 {
		t.Fatalf("instances %+v, want one VRRPv2 instance with Accept", cfg.Instances)
	}
	vc := cfg.Instances[0].VRRPConfig(netip.MustParseAddr("10.0.0.2"))
	if _, err := vrrp.NewMachine(vc); err != nil || !vc.AcceptMode {
		t.Errorf("vrrp config AcceptMode %v, NewMachine: %v", vc.AcceptMode, err)
	}
}
