package keepalived

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrConfig is wrapped by every error that Config.Validate and Render return.
var ErrConfig = errors.New("keepalived: invalid config")

// A Config describes one keepalived.conf: its global_defs, one or more
// vrrp_instance blocks and optional vrrp_sync_group blocks. Render turns it
// into the configuration text.
//
// The zero value of every optional field leaves the keyword out, so that
// keepalived's own default applies; those defaults are noted per field.
type Config struct {
	// RouterID is global_defs router_id. Empty: "govrrp-test".
	RouterID string

	// Version is global_defs vrrp_version, 2 or 3. Zero leaves the keyword
	// out (keepalived's default is 2). A VRRPInstance may override it.
	Version int

	// GARPMasterDelay is global_defs vrrp_garp_master_delay: seconds after
	// becoming master before the second burst of gratuitous ARPs / unsolicited
	// NAs. Nil leaves it out (keepalived's default is 5); a pointer to 0
	// turns the second burst off.
	GARPMasterDelay *int

	// GARPMasterRepeat is global_defs vrrp_garp_master_repeat: how many
	// gratuitous ARPs / NAs per address in each burst. Zero leaves it out
	// (keepalived's default is 5).
	GARPMasterRepeat int

	// GARPInterval is global_defs vrrp_garp_interval, the delay between
	// gratuitous ARPs of one burst. Zero leaves it out (keepalived: none).
	GARPInterval time.Duration

	// GNAInterval is global_defs vrrp_gna_interval, the delay between
	// unsolicited NAs of one burst. Zero leaves it out (keepalived: none).
	GNAInterval time.Duration

	// Strict is global_defs vrrp_strict: strict RFC compliance. keepalived
	// then refuses authentication and unicast peers, and installs nftables /
	// iptables rules in the namespace it runs in.
	Strict bool

	// NotifyScript, when set, is configured as "notify NotifyScript" in every
	// vrrp_instance and vrrp_sync_group. keepalived runs it with the
	// arguments TYPE NAME STATE PRIORITY (TYPE is INSTANCE or GROUP) at each
	// transition. Start sets it to a script of its own when it is empty.
	NotifyScript string

	// GlobalExtra lines are copied verbatim into global_defs, for
	// keywords this type does not model (vrrp_rt_priority, vrrp_no_swap).
	GlobalExtra []string

	// Instances are the vrrp_instance blocks; at least one is required.
	Instances []VRRPInstance

	// SyncGroups are the vrrp_sync_group blocks.
	SyncGroups []SyncGroup
}

// A VRRPInstance is one keepalived vrrp_instance: one virtual router on one
// interface.
type VRRPInstance struct {
	// Name is the vrrp_instance name. Empty: "VI_<VRID>".
	Name string

	// Interface is the interface keepalived sends and receives on. Empty:
	// "eth0".
	Interface string

	// VRID is virtual_router_id, 1..255.
	VRID int

	// Priority is priority, 1..255. Zero: 100 (keepalived's default).
	// keepalived is started in state BACKUP, except at priority 255 (the
	// address owner), which starts in state MASTER.
	Priority int

	// AdvertInterval is advert_int. Zero leaves it out (keepalived's default
	// is 1 s). VRRPv3 accepts 10 ms to 40.95 s in steps of 10 ms; VRRPv2
	// accepts whole seconds from 1 to 255.
	AdvertInterval time.Duration

	// Version is the per-instance "version" keyword, 2 or 3. Zero inherits
	// Config.Version.
	Version int

	// V3ChecksumAsV2 sets v3_checksum_as_v2: the VRRPv3 over IPv4 checksum
	// covers the VRRP message only, as RFC 9568 Section 5.2.8 says, instead
	// of keepalived's default, which includes the IPv4 pseudo-header. The
	// instance must run VRRPv3 over IPv4. keepalived 2.2.8 and later only:
	// 2.2.7 (Debian 12) does not know the keyword (see StartBinary and
	// RFC9568Binary). keepalived 2.3.3 then also stops verifying the
	// checksum of what it receives (vrrp.c, vrrp_check_packet).
	V3ChecksumAsV2 bool

	// NoPreempt sets nopreempt.
	NoPreempt bool

	// PreemptDelay is preempt_delay, 0 to 1000 s in steps of 10 ms. Zero
	// leaves it out.
	PreemptDelay time.Duration

	// AuthPass, when set, configures "authentication { auth_type PASS
	// auth_pass AuthPass }" (RFC 2338 simple text password; VRRPv2 only, at
	// most 8 characters).
	AuthPass string

	// UnicastSrc is unicast_src_ip. Invalid: left out (keepalived uses the
	// interface's primary address).
	UnicastSrc netip.Addr

	// UnicastPeers is the unicast_peer list. Empty: multicast.
	UnicastPeers []netip.Addr

	// VIPs is the virtual_ipaddress list; at least one, all of one address
	// family. IPv6 VIPs make keepalived run the instance over IPv6
	// (keepalived 2.2.7 derives the family from the addresses and logs a
	// warning unless the first one is link-local; with Strict, that is an
	// error).
	VIPs []netip.Prefix

	// NativeIPv6 sets native_ipv6: the instance runs over IPv6 even before
	// any IPv6 VIP is seen. Redundant when VIPs are IPv6.
	NativeIPv6 bool

	// GARPMasterDelay is the per-instance garp_master_delay (seconds); nil
	// inherits the global setting, a pointer to 0 turns the second burst off.
	GARPMasterDelay *int

	// GARPMasterRepeat is the per-instance garp_master_repeat. Zero inherits.
	GARPMasterRepeat int

	// GARPMasterRefresh is garp_master_refresh: resend gratuitous ARPs / NAs
	// this often (whole seconds) while master. Zero: never.
	GARPMasterRefresh time.Duration

	// UseVMAC sets use_vmac: keepalived creates a macvlan with the virtual
	// router MAC 00-00-5E-00-01-{VRID} (IPv6: 00-00-5E-00-02-{VRID}) and
	// sends from it. VMACName names that interface; empty lets keepalived
	// choose ("vrrp.<VRID>").
	UseVMAC  bool
	VMACName string

	// VMACXmitBase sets vmac_xmit_base: with UseVMAC, send adverts from the
	// base interface instead of the macvlan.
	VMACXmitBase bool

	// Extra lines are copied verbatim into the vrrp_instance block, for
	// keywords this type does not model.
	Extra []string
}

// A SyncGroup is a keepalived vrrp_sync_group: instances that change state
// together.
type SyncGroup struct {
	// Name is the vrrp_sync_group name; required.
	Name string
	// Instances names the member vrrp_instances (VRRPInstance.Name, after
	// defaults); at least one.
	Instances []string
}

// name returns the instance name after defaults.
func (v *VRRPInstance) name() string {
	if v.Name != "" {
		return v.Name
	}
	return "VI_" + strconv.Itoa(v.VRID)
}

// version returns the effective VRRP version of v under c.
func (c *Config) version(v *VRRPInstance) int {
	switch {
	case v.Version != 0:
		return v.Version
	case c.Version != 0:
		return c.Version
	}
	return 2
}

// InstanceName returns the vrrp_instance name of Instances[i] after defaults.
func (c *Config) InstanceName(i int) string { return c.Instances[i].name() }

// VIPs returns every virtual address of every instance.
func (c *Config) VIPs() []netip.Addr {
	var out []netip.Addr
	for i := range c.Instances {
		for _, p := range c.Instances[i].VIPs {
			out = append(out, p.Addr())
		}
	}
	return out
}

var (
	// keepalived splits on white space and treats '#' and '!' as comments
	// and '{' '}' as block delimiters: names may not contain any of them.
	wordRE = regexp.MustCompile(`^[A-Za-z0-9_.:/@+=-]+$`)
)

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
}

// Validate reports the first field that keepalived would reject or that this
// package cannot render. Its errors wrap ErrConfig and name the field and the
// allowed range.
func (c *Config) Validate() error {
	if c.RouterID != "" && !wordRE.MatchString(c.RouterID) {
		return fieldErr("RouterID", "%q: want letters, digits and _.:/@+=-", c.RouterID)
	}
	if c.Version != 0 && c.Version != 2 && c.Version != 3 {
		return fieldErr("Version", "%d: want 0 (default), 2 or 3", c.Version)
	}
	if c.GARPMasterDelay != nil && (*c.GARPMasterDelay < 0 || *c.GARPMasterDelay > 255) {
		return fieldErr("GARPMasterDelay", "%d: want 0..255 seconds", *c.GARPMasterDelay)
	}
	if c.GARPMasterRepeat < 0 || c.GARPMasterRepeat > 255 {
		return fieldErr("GARPMasterRepeat", "%d: want 0 (default)..255", c.GARPMasterRepeat)
	}
	if c.GARPInterval < 0 || c.GARPInterval%time.Millisecond != 0 {
		return fieldErr("GARPInterval", "%v: want >= 0 in whole milliseconds", c.GARPInterval)
	}
	if c.GNAInterval < 0 || c.GNAInterval%time.Millisecond != 0 {
		return fieldErr("GNAInterval", "%v: want >= 0 in whole milliseconds", c.GNAInterval)
	}
	if c.NotifyScript != "" && !wordRE.MatchString(c.NotifyScript) {
		return fieldErr("NotifyScript", "%q: want a path without spaces or quotes", c.NotifyScript)
	}
	for _, l := range c.GlobalExtra {
		if strings.ContainsAny(l, "\n{}") {
			return fieldErr("GlobalExtra", "%q: want one line without braces", l)
		}
	}
	if len(c.Instances) == 0 {
		return fieldErr("Instances", "empty: want at least one vrrp_instance")
	}
	names := map[string]bool{}
	for i := range c.Instances {
		v := &c.Instances[i]
		if err := c.validateInstance(i, v); err != nil {
			return err
		}
		if names[v.name()] {
			return fieldErr(fmt.Sprintf("Instances[%d].Name", i), "%q used twice", v.name())
		}
		names[v.name()] = true
	}
	for i, g := range c.SyncGroups {
		f := fmt.Sprintf("SyncGroups[%d]", i)
		if !wordRE.MatchString(g.Name) {
			return fieldErr(f+".Name", "%q: want a non-empty word", g.Name)
		}
		if names[g.Name] {
			return fieldErr(f+".Name", "%q is also a vrrp_instance name", g.Name)
		}
		if len(g.Instances) == 0 {
			return fieldErr(f+".Instances", "empty: want at least one vrrp_instance name")
		}
		for _, n := range g.Instances {
			if !names[n] {
				return fieldErr(f+".Instances", "%q: no vrrp_instance of that name", n)
			}
		}
	}
	return nil
}

func (c *Config) validateInstance(i int, v *VRRPInstance) error {
	// field names the field of the instance: "Instances[0] (VI_1).VRID".
	field := func(name, format string, args ...any) error {
		return fieldErr(fmt.Sprintf("Instances[%d] (%s).%s", i, v.name(), name), format, args...)
	}
	if v.Name != "" && !wordRE.MatchString(v.Name) {
		return field("Name", "%q: want letters, digits and _.:/@+=-", v.Name)
	}
	if v.Interface != "" && !wordRE.MatchString(v.Interface) {
		return field("Interface", "%q: want an interface name", v.Interface)
	}
	if v.VRID < 1 || v.VRID > 255 {
		return field("VRID", "%d: want 1..255", v.VRID)
	}
	if v.Priority < 0 || v.Priority > 255 {
		return field("Priority", "%d: want 0 (default 100) or 1..255", v.Priority)
	}
	if v.Version != 0 && v.Version != 2 && v.Version != 3 {
		return field("Version", "%d: want 0 (inherit), 2 or 3", v.Version)
	}
	ver := c.version(v)
	if a := v.AdvertInterval; a != 0 {
		if ver == 3 && (a < 10*time.Millisecond || a > 40950*time.Millisecond || a%(10*time.Millisecond) != 0) {
			return field("AdvertInterval", "%v: VRRPv3 wants 10ms..40.95s in steps of 10ms", a)
		}
		if ver == 2 && (a < time.Second || a > 255*time.Second || a%time.Second != 0) {
			return field("AdvertInterval", "%v: VRRPv2 wants 1s..255s in whole seconds", a)
		}
	}
	if d := v.PreemptDelay; d < 0 || d > 1000*time.Second || d%(10*time.Millisecond) != 0 {
		return field("PreemptDelay", "%v: want 0..1000s in steps of 10ms", d)
	}
	if v.AuthPass != "" {
		if ver != 2 {
			return field("AuthPass", "authentication needs VRRPv2, instance runs VRRPv%d", ver)
		}
		if len(v.AuthPass) > 8 || !wordRE.MatchString(v.AuthPass) {
			return field("AuthPass", "%q: want 1..8 characters from letters, digits and _.:/@+=-", v.AuthPass)
		}
		if c.Strict {
			return field("AuthPass", "vrrp_strict forbids authentication")
		}
	}
	if v.UnicastSrc.IsValid() && v.UnicastSrc.Zone() != "" {
		return field("UnicastSrc", "%v: want an address without zone", v.UnicastSrc)
	}
	for _, p := range v.UnicastPeers {
		if !p.IsValid() || p.Zone() != "" {
			return field("UnicastPeers", "%v: want valid addresses without zone", p)
		}
	}
	if c.Strict && len(v.UnicastPeers) > 0 {
		return field("UnicastPeers", "vrrp_strict forbids unicast peers")
	}
	if len(v.VIPs) == 0 {
		return field("VIPs", "empty: want at least one virtual address")
	}
	is6 := v.VIPs[0].Addr().Is6()
	for _, p := range v.VIPs {
		if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return field("VIPs", "%v: want a valid IPv4 or IPv6 prefix without zone", p)
		}
		if p.Addr().Is6() != is6 {
			return field("VIPs", "%v: all virtual addresses of an instance must be of one family", p)
		}
	}
	if v.V3ChecksumAsV2 && ver != 3 {
		return field("V3ChecksumAsV2", "needs VRRPv3, instance runs VRRPv%d", ver)
	}
	if v.V3ChecksumAsV2 && (is6 || v.NativeIPv6) {
		return field("V3ChecksumAsV2", "needs IPv4: the IPv6 checksum always includes the pseudo-header")
	}
	if (is6 || v.NativeIPv6) && ver == 2 {
		return field("Version", "VRRPv2 (RFC 3768) is IPv4 only; IPv6 needs version 3")
	}
	if is6 && c.Strict && !v.VIPs[0].Addr().IsLinkLocalUnicast() {
		return field("VIPs", "%v: with vrrp_strict keepalived wants a link-local address first (RFC 9568 Section 5.2.9)", v.VIPs[0])
	}
	if v.NativeIPv6 && !is6 {
		return field("NativeIPv6", "set with IPv4 VIPs")
	}
	for _, a := range append([]netip.Addr{v.UnicastSrc}, v.UnicastPeers...) {
		if a.IsValid() && a.Is6() != is6 {
			return field("UnicastPeers", "%v: not of the VIPs' address family", a)
		}
	}
	if v.GARPMasterDelay != nil && (*v.GARPMasterDelay < 0 || *v.GARPMasterDelay > 255) {
		return field("GARPMasterDelay", "%d: want 0..255 seconds", *v.GARPMasterDelay)
	}
	if v.GARPMasterRepeat < 0 || v.GARPMasterRepeat > 255 {
		return field("GARPMasterRepeat", "%d: want 0 (inherit)..255", v.GARPMasterRepeat)
	}
	if r := v.GARPMasterRefresh; r < 0 || r%time.Second != 0 {
		return field("GARPMasterRefresh", "%v: want >= 0 in whole seconds", r)
	}
	if v.VMACName != "" && (!v.UseVMAC || !wordRE.MatchString(v.VMACName) || len(v.VMACName) > 15) {
		return field("VMACName", "%q: want an interface name of at most 15 characters, with UseVMAC", v.VMACName)
	}
	if v.VMACXmitBase && !v.UseVMAC {
		return field("VMACXmitBase", "set without UseVMAC")
	}
	for _, l := range v.Extra {
		if strings.ContainsAny(l, "\n{}") {
			return field("Extra", "%q: want one line without braces", l)
		}
	}
	return nil
}

// seconds formats d as keepalived's decimal seconds ("1", "0.1", "0.01").
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// Render validates c and returns the keepalived.conf text. It is a pure
// function of c: the same Config always renders the same bytes.
func Render(c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var b strings.Builder
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("    ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	w(0, "# Generated by github.com/govrrp/govrrp/internal/keepalived for keepalived 2.2.")
	w(0, "global_defs {")
	rid := c.RouterID
	if rid == "" {
		rid = "govrrp-test"
	}
	w(1, "router_id %s", rid)
	if c.Version != 0 {
		w(1, "vrrp_version %d", c.Version)
	}
	if c.Strict {
		w(1, "vrrp_strict")
	}
	if c.GARPMasterDelay != nil {
		w(1, "vrrp_garp_master_delay %d", *c.GARPMasterDelay)
	}
	if c.GARPMasterRepeat != 0 {
		w(1, "vrrp_garp_master_repeat %d", c.GARPMasterRepeat)
	}
	if c.GARPInterval != 0 {
		w(1, "vrrp_garp_interval %s", seconds(c.GARPInterval))
	}
	if c.GNAInterval != 0 {
		w(1, "vrrp_gna_interval %s", seconds(c.GNAInterval))
	}
	if c.NotifyScript != "" {
		// Scripts run as root; say so, or keepalived looks for the user
		// keepalived_script and warns.
		w(1, "script_user root")
	}
	for _, l := range c.GlobalExtra {
		w(1, "%s", l)
	}
	w(0, "}")

	for _, g := range c.SyncGroups {
		w(0, "")
		w(0, "vrrp_sync_group %s {", g.Name)
		w(1, "group {")
		for _, n := range g.Instances {
			w(2, "%s", n)
		}
		w(1, "}")
		if c.NotifyScript != "" {
			w(1, "notify %s", c.NotifyScript)
		}
		w(0, "}")
	}

	for i := range c.Instances {
		v := &c.Instances[i]
		w(0, "")
		w(0, "vrrp_instance %s {", v.name())
		state := "BACKUP"
		if v.Priority == 255 {
			state = "MASTER"
		}
		w(1, "state %s", state)
		ifname := v.Interface
		if ifname == "" {
			ifname = "eth0"
		}
		w(1, "interface %s", ifname)
		if v.UseVMAC {
			if v.VMACName != "" {
				w(1, "use_vmac %s", v.VMACName)
			} else {
				w(1, "use_vmac")
			}
			if v.VMACXmitBase {
				w(1, "vmac_xmit_base")
			}
		}
		if v.Version != 0 {
			w(1, "version %d", v.Version)
		}
		if v.NativeIPv6 {
			w(1, "native_ipv6")
		}
		if v.V3ChecksumAsV2 {
			w(1, "v3_checksum_as_v2")
		}
		w(1, "virtual_router_id %d", v.VRID)
		if v.Priority != 0 {
			w(1, "priority %d", v.Priority)
		}
		if v.AdvertInterval != 0 {
			w(1, "advert_int %s", seconds(v.AdvertInterval))
		}
		if v.NoPreempt {
			w(1, "nopreempt")
		}
		if v.PreemptDelay != 0 {
			w(1, "preempt_delay %s", seconds(v.PreemptDelay))
		}
		if v.GARPMasterDelay != nil {
			w(1, "garp_master_delay %d", *v.GARPMasterDelay)
		}
		if v.GARPMasterRepeat != 0 {
			w(1, "garp_master_repeat %d", v.GARPMasterRepeat)
		}
		if v.GARPMasterRefresh != 0 {
			w(1, "garp_master_refresh %s", seconds(v.GARPMasterRefresh))
		}
		if v.AuthPass != "" {
			w(1, "authentication {")
			w(2, "auth_type PASS")
			w(2, "auth_pass %s", v.AuthPass)
			w(1, "}")
		}
		if v.UnicastSrc.IsValid() {
			w(1, "unicast_src_ip %s", v.UnicastSrc)
		}
		if len(v.UnicastPeers) > 0 {
			w(1, "unicast_peer {")
			for _, p := range v.UnicastPeers {
				w(2, "%s", p)
			}
			w(1, "}")
		}
		w(1, "virtual_ipaddress {")
		for _, p := range v.VIPs {
			w(2, "%s", p)
		}
		w(1, "}")
		if c.NotifyScript != "" {
			w(1, "notify %s", c.NotifyScript)
		}
		for _, l := range v.Extra {
			w(1, "%s", l)
		}
		w(0, "}")
	}
	return []byte(b.String()), nil
}
