package main

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/govrrp/govrrp/vrrp"
)

// FuzzConfig feeds arbitrary text to the configuration file parser and,
// line by line, to the flag parser: bad input is an error that matches
// ErrUsage, never a panic, and whatever is accepted makes virtual routers
// that vrrp.NewMachine accepts too (the daemon's validation is at least as
// strict as the library's).
func FuzzConfig(f *testing.F) {
	if b, err := os.ReadFile("vrrpd.example.toml"); err == nil {
		f.Add(string(b))
	}
	f.Add("[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 51\npriority = 100\nvips = [\"10.0.0.1/24\"]\n")
	f.Add("[[instance]]\nname = \"b\"\ninterface = \"eth0\"\nvrid = 7\nversion = 2\ninterval = \"1s\"\nauth_pass = \"secret\"\nvips = [\"192.0.2.1\"]\n")
	f.Add("-iface\neth0\n-vrid\n51\n-priority\n150\n-interval\n10ms\nfe80::1\n2001:db8::1")
	f.Add("-iface\neth0\n-vrid\n0\n10.0.0.1")
	f.Add("garp_master_delay = \"2s\"\nnotify_fifo = \"/run/f\"\n[[track_file]]\nname = \"f\"\nfile = \"/x\"\n" +
		"[[track_process]]\nname = \"p\"\nprocess = \"x\"\nquorum_max = 0\n" +
		"[[instance]]\nname = \"a\"\nstate = \"MASTER\"\ninterface = \"eth0\"\nvrid = 5\nvips = [\"10.0.0.1\"]\n" +
		"garp_lower_prio_repeat = 0\ntrack_file = [{ name = \"f\", weight = -3 }]\ntrack_process = [{ name = \"p\" }]\nnotify_master = \"m\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		check := func(what string, cfg Config, err error) {
			if err != nil {
				if !errors.Is(err, ErrUsage) {
					t.Errorf("%s: error %q does not match ErrUsage", what, err)
				}
				return
			}
			for _, in := range cfg.Instances {
				primary := netip.MustParseAddr("192.0.2.254")
				if in.Family() == vrrp.IPv6 {
					primary = netip.MustParseAddr("fe80::fe")
				}
				if _, err := vrrp.NewMachine(in.VRRPConfig(primary)); err != nil {
					t.Errorf("%s: instance %q accepted by vrrpd but not by vrrp.NewMachine: %v", what, in.Name, err)
				}
				// Only addresses a host can use as its gateway (issue 15).
				for _, p := range in.VIPs {
					a := p.Addr()
					if a.IsLoopback() || a.IsMulticast() || a.IsUnspecified() || a.Is4In6() ||
						a.Is4() && (a.IsLinkLocalUnicast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
						t.Errorf("%s: instance %q: VIP %v accepted", what, in.Name, p)
					}
				}
			}
			if cfg.StatusMode > 0o777 || cfg.StatusMode != 0 && !strings.HasPrefix(cfg.Status, "unix:") {
				t.Errorf("%s: status_mode %v accepted with status %q", what, cfg.StatusMode, cfg.Status)
			}
		}
		cfg, err := parseTOML("fuzz.toml", text)
		check("config file", cfg, err)
		args := strings.Split(text, "\n")
		for _, a := range args {
			if strings.Contains(a, "config") {
				// -config FILE reads a file: what it contains is fuzzed
				// above, and reading whatever path the fuzzer invents
				// (a device, a FIFO) is not.
				return
			}
		}
		cfg, err = parseFlags(args)
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		check("flags", cfg, err)
	})
}
