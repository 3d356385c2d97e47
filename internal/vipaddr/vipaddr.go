// Package vipaddr adds virtual IP addresses to network interfaces and
// removes them again, remembering which ones it added so that it never
// removes an address somebody else configured (keepalived's behaviour for
// virtual_ipaddress). On Linux it talks netlink (RTM_NEWADDR /
// RTM_DELADDR) and needs CAP_NET_ADMIN; elsewhere every call returns
// ErrUnsupported.
//
// Filter keeps a master without Accept_Mode from accepting packets
// addressed to the virtual addresses (an nftables table per virtual
// router, through netlink), as RFC 9568 section 6.4.3 requires of a
// non-owner.
package vipaddr

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrUnsupported is returned on systems other than Linux.
var ErrUnsupported = fmt.Errorf("vipaddr: %w", errors.ErrUnsupported)

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
