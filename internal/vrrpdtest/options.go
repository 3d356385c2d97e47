package vrrpdtest

import (
	"net/netip"
	"strconv"
	"time"
)

// Options are the command-line options of one vrrpd virtual router (the
// daemon's CLI is a fixed contract; see examples/vrrpd). A zero field
// leaves the daemon's default.
type Options struct {
	VRID         int
	Priority     int
	Version      int           // -version: 2 or 3
	Interval     time.Duration // -interval
	NoPreempt    bool
	PreemptDelay time.Duration
	AuthPass     string       // -auth-pass (VRRPv2)
	Peers        []netip.Addr // -peer, repeated
	Src          netip.Addr   // -src
	Checksum     string       // -checksum rfc9568|pseudo
	VMAC         bool
	LogLevel     string         // -log-level: debug, info or warn
	VIPs         []netip.Prefix // ADDR/LEN, as keepalived's virtual_ipaddress
}

// Args returns the command line for a virtual router on iface, the
// arguments to give Start.
func (o Options) Args(iface string) []string {
	a := []string{"-iface", iface, "-vrid", strconv.Itoa(o.VRID), "-priority", strconv.Itoa(o.Priority)}
	if o.Version != 0 {
		a = append(a, "-version", strconv.Itoa(o.Version))
	}
	if o.Interval != 0 {
		a = append(a, "-interval", o.Interval.String())
	}
	if o.NoPreempt {
		a = append(a, "-nopreempt")
	}
	if o.PreemptDelay != 0 {
		a = append(a, "-preempt-delay", o.PreemptDelay.String())
	}
	if o.AuthPass != "" {
		a = append(a, "-auth-pass", o.AuthPass)
	}
	for _, p := range o.Peers {
		a = append(a, "-peer", p.String())
	}
	if o.Src.IsValid() {
		a = append(a, "-src", o.Src.String())
	}
	if o.Checksum != "" {
		a = append(a, "-checksum", o.Checksum)
	}
	if o.VMAC {
		a = append(a, "-vmac")
	}
	if o.LogLevel != "" {
		a = append(a, "-log-level", o.LogLevel)
	}
	for _, v := range o.VIPs {
		a = append(a, v.String())
	}
	return a
}
