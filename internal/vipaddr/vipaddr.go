// Package vipaddr adds virtual IP addresses to network interfaces and
// removes them again, remembering which ones it added so that it never
// removes an address somebody else configured (keepalived's behaviour for
// virtual_ipaddress). It marks the addresses it adds (the IPv4 label
// "IFACE:vip", IPv6 without duplicate address detection) so that after a
// crash the next run removes only addresses it can prove a Manager added
// (Manager.RemoveStale). On Linux it talks netlink (RTM_NEWADDR /
// RTM_DELADDR) and needs CAP_NET_ADMIN; elsewhere every call returns
// ErrUnsupported.
//
// Filter keeps a master without Accept_Mode from accepting packets
// addressed to the virtual addresses (set elements in one nftables
// table, FilterTable, through netlink), as RFC 9568 section 6.4.3
// requires of a non-owner.
package vipaddr

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrUnsupported is returned on systems other than Linux.
var ErrUnsupported = fmt.Errorf("vipaddr: %w", errors.ErrUnsupported)

// ErrNotAdded matches the error of Manager.RemoveStale for an address it
// cannot prove a Manager added, and so leaves in place: the host's own
// address, say.
var ErrNotAdded = errors.New("not an address vipaddr added")

var (
	errNotMarked = fmt.Errorf("%w (it has no vipaddr mark: label IFACE%s for IPv4, nodad for IPv6), left in place", ErrNotAdded, labelSuffix)
	// errOnlyAddress: a stale virtual address is never the interface's
	// only one of its family (the host's own is there too).
	errOnlyAddress = fmt.Errorf("%w (the only address of its family on the interface), left in place", ErrNotAdded)
)

// labelSuffix makes the label that marks the IPv4 addresses a Manager
// adds: "eth0" + labelSuffix.
const labelSuffix = ":vip"

// Label returns the label a Manager gives the IPv4 addresses it adds on
// interface ifname, which is how RemoveStale knows them after a restart;
// "" when ifname is too long for one (labels are at most 15 bytes): those
// addresses are not marked, and never removed as stale.
func Label(ifname string) string {
	if len(ifname)+len(labelSuffix) > 15 {
		return ""
	}
	return ifname + labelSuffix
}

// Entry is one address on one interface.
type Entry struct {
	Interface string
	Prefix    netip.Prefix
}

func (e Entry) String() string { return e.Prefix.String() + " dev " + e.Interface }

// HostPrefix returns a as a single-address prefix, /32 or /128, the form
// keepalived installs a virtual address without a prefix length in.
func HostPrefix(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a.WithZone(""), a.BitLen())
}

// Error is the error of an address operation. It names the interface, the
// address and, for permission failures, the missing capability:
//
//	vipaddr: add 10.0.0.1/32 dev eth0: operation not permitted (needs CAP_NET_ADMIN)
//
// It unwraps to the underlying error (errors.Is(err, os.ErrPermission)).
type Error struct {
	Op    string // "add", "delete", "list", "lookup"
	Entry Entry
	Cap   string // set for permission errors
	Err   error
}

func (e *Error) Error() string {
	s := "vipaddr: " + e.Op + " "
	if e.Entry.Prefix.IsValid() {
		s += e.Entry.String()
	} else {
		s += "dev " + e.Entry.Interface
	}
	s += ": " + e.Err.Error()
	if e.Cap != "" {
		s += " (needs " + e.Cap + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }
