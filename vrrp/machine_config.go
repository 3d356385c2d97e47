package vrrp

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/govrrp/govrrp/packet"
)

// Defaults applied by NewMachine to zero Config fields.
const (
	// DefaultPriority is the priority of a backup, RFC 9568 section 5.2.4.
	DefaultPriority = 100
	// DefaultAdvertInterval is the Advertisement_Interval, RFC 9568
	// section 5.2.7.
	DefaultAdvertInterval = time.Second
	// MaxPreemptDelay is the largest Config.PreemptDelay (keepalived's
	// limit).
	MaxPreemptDelay = 1000 * time.Second
)

func cfgErr(field, value, allowed string) *ConfigError {
	return &ConfigError{Field: field, Value: value, Allowed: allowed}
}

// setDefaults fills in defaults and validates c, returning a *ConfigError
// for the first field at fault. It copies Addrs, so the caller may reuse
// its slice.
func (c *Config) setDefaults() error {
	if c.VRID == 0 {
		return cfgErr("VRID", "0", "1-255")
	}
	if c.Priority == 0 {
		c.Priority = DefaultPriority
	}
	switch c.Version {
	case 0:
		c.Version = 3
	case 2, 3:
	default:
		return cfgErr("Version", strconv.Itoa(int(c.Version)), "2 or 3 (0 means 3)")
	}
	if c.AdvertInterval == 0 {
		c.AdvertInterval = DefaultAdvertInterval
	}
	d := c.AdvertInterval
	if c.Version == 2 {
		if d%time.Second != 0 || d < time.Second || d > 255*time.Second {
			return cfgErr("AdvertInterval", d.String(), "whole seconds from 1s to 255s for VRRPv2 (0 means 1s)")
		}
	} else if d%(10*time.Millisecond) != 0 || d < 10*time.Millisecond || d > 4095*10*time.Millisecond {
		return cfgErr("AdvertInterval", d.String(), "a multiple of 10ms from 10ms to 40.95s for VRRPv3 (0 means 1s)")
	}

	if c.ElectionOnly {
		if err := c.electionAddrs(); err != nil {
			return err
		}
	}
	if len(c.Addrs) == 0 {
		return cfgErr("Addrs", "[]", "1-255 virtual addresses of one family (or none with ElectionOnly)")
	}
	if len(c.Addrs) > packet.MaxAddrs {
		return cfgErr("Addrs", fmt.Sprintf("%d addresses", len(c.Addrs)), "1-255 virtual addresses of one family")
	}
	// Zones are not carried on the wire: a zoned address could never
	// equal the addresses of a received advertisement.
	c.Addrs = append([]netip.Addr(nil), c.Addrs...)
	for i, a := range c.Addrs {
		c.Addrs[i] = a.WithZone("")
	}
	first := c.Addrs[0]
	for i, a := range c.Addrs {
		field := fmt.Sprintf("Addrs[%d]", i)
		switch {
		case !a.IsValid():
			return cfgErr(field, "unset", "a specified IPv4 or IPv6 address")
		case a.IsUnspecified():
			return cfgErr(field, a.String(), "a specified IPv4 or IPv6 address")
		case a.Is4In6():
			return cfgErr(field, a.String(), "a plain IPv4 address, not IPv4-mapped IPv6")
		case a.Is4() != first.Is4():
			return cfgErr(field, a.String(), "the family of Addrs[0] ("+first.String()+"): one family per virtual router")
		case c.Version == 2 && !a.Is4():
			return cfgErr(field, a.String(), "an IPv4 address: VRRPv2 is IPv4 only")
		}
		for _, b := range c.Addrs[:i] {
			if a == b {
				return cfgErr(field, a.String(), "distinct addresses")
			}
		}
	}
	c.Addrs = append([]netip.Addr(nil), c.Addrs...)
	// RFC 9568 section 5.2.9: over IPv6 the first address MUST be the
	// virtual router's link-local address. Move the first configured
	// link-local address to the front; the others keep their order.
	if first.Is6() {
		if i := slices.IndexFunc(c.Addrs, netip.Addr.IsLinkLocalUnicast); i > 0 {
			ll := c.Addrs[i]
			copy(c.Addrs[1:i+1], c.Addrs[:i])
			c.Addrs[0] = ll
		}
	}

	p := c.Primary
	switch {
	case !p.IsValid():
		return cfgErr("Primary", "unset", "this router's own specified address on the interface")
	case p.IsUnspecified():
		return cfgErr("Primary", p.String(), "this router's own specified address on the interface")
	case p.Is4In6():
		return cfgErr("Primary", p.String(), "a plain IPv4 address, not IPv4-mapped IPv6")
	case p.Is4() != first.Is4():
		return cfgErr("Primary", p.String(), "an address of the family of Addrs")
	}

	if c.PreemptDelay < 0 || c.PreemptDelay > MaxPreemptDelay {
		return cfgErr("PreemptDelay", c.PreemptDelay.String(), "0s-1000s")
	}

	if c.Version == 3 {
		if c.AuthType != packet.AuthNone {
			return cfgErr("AuthType", strconv.Itoa(int(c.AuthType)), "AuthNone for VRRPv3 (authentication is VRRPv2 only)")
		}
		if c.AuthData != ([packet.AuthDataLen]byte{}) {
			return cfgErr("AuthData", fmt.Sprintf("%q", c.AuthData[:]), "empty for VRRPv3 (authentication is VRRPv2 only)")
		}
	} else {
		switch c.AuthType {
		case packet.AuthNone:
			if c.AuthData != ([packet.AuthDataLen]byte{}) {
				return cfgErr("AuthData", fmt.Sprintf("%q", c.AuthData[:]), "empty unless AuthType is AuthPass")
			}
		case packet.AuthPass:
		default:
			return cfgErr("AuthType", strconv.Itoa(int(c.AuthType)), "AuthNone (0) or AuthPass (1)")
		}
	}

	switch {
	case c.Checksum > packet.ChecksumPseudoHeader:
		return cfgErr("Checksum", strconv.Itoa(int(c.Checksum)), "ChecksumUnknown, ChecksumMessage or ChecksumPseudoHeader")
	case c.Version == 2:
		if c.Checksum == packet.ChecksumPseudoHeader {
			return cfgErr("Checksum", "ChecksumPseudoHeader", "ChecksumMessage for VRRPv2 (or ChecksumUnknown)")
		}
		c.Checksum = packet.ChecksumMessage
	case !first.Is4():
		if c.Checksum == packet.ChecksumMessage {
			return cfgErr("Checksum", "ChecksumMessage", "ChecksumPseudoHeader for VRRPv3 over IPv6 (or ChecksumUnknown)")
		}
		c.Checksum = packet.ChecksumPseudoHeader
	case c.Checksum == packet.ChecksumUnknown:
		c.Checksum = packet.ChecksumPseudoHeader
	}
	return nil
}

// electionAddrs sets the Addrs of an ElectionOnly configuration to its
// Primary, the one address its advertisements carry.
func (c *Config) electionAddrs() error {
	p := c.Primary.WithZone("")
	if len(c.Addrs) > 1 || len(c.Addrs) == 1 && c.Addrs[0].WithZone("") != p {
		return cfgErr("Addrs", fmt.Sprint(c.Addrs), "none with ElectionOnly (the advertisements carry Primary)")
	}
	switch {
	case !p.IsValid():
		return cfgErr("Primary", "unset", "this router's own specified address on the interface (with ElectionOnly, the address its advertisements carry)")
	case p.IsUnspecified():
		return cfgErr("Primary", p.String(), "this router's own specified address on the interface")
	case p.Is4In6():
		return cfgErr("Primary", p.String(), "a plain IPv4 address, not IPv4-mapped IPv6")
	case c.Version == 2 && !p.Is4():
		return cfgErr("Primary", p.String(), "an IPv4 address: VRRPv2 is IPv4 only")
	}
	c.Addrs = []netip.Addr{p}
	return nil
}
