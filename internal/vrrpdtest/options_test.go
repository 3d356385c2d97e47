package vrrpdtest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOptionsArgs(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		want []string
	}{
		{"zero", Options{VRID: 1, Priority: 100}, []string{"-iface", "eth0", "-vrid", "1", "-priority", "100"}},
		{"all", Options{
			VRID: 51, Priority: 200, Version: 2, Interval: time.Second, NoPreempt: true,
			PreemptDelay: 3 * time.Second, AuthPass: "secret", Src: netip.MustParseAddr("10.99.0.1"),
			Peers:    []netip.Addr{netip.MustParseAddr("10.99.0.2"), netip.MustParseAddr("10.99.0.3")},
			Checksum: "rfc9568", VMAC: true, LogLevel: "debug",
			VIPs: []netip.Prefix{netip.MustParsePrefix("10.99.0.100/24"), netip.MustParsePrefix("fd99::7/64")},
		}, []string{
			"-iface", "eth0", "-vrid", "51", "-priority", "200", "-version", "2", "-interval", "1s",
			"-nopreempt", "-preempt-delay", "3s", "-auth-pass", "secret",
			"-peer", "10.99.0.2", "-peer", "10.99.0.3", "-src", "10.99.0.1",
			"-checksum", "rfc9568", "-vmac", "-log-level", "debug", "10.99.0.100/24", "fd99::7/64",
		}},
	} {
		if diff := cmp.Diff(c.want, c.o.Args("eth0")); diff != "" {
			t.Errorf("%s: Args (-want +got):\n%s", c.name, diff)
		}
	}
}
