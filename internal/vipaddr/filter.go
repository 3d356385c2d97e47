package vipaddr

import (
	"fmt"
	"net/netip"
	"strings"
)

// TablePrefix starts the name of every nftables table a Filter creates
// or removes.
const TablePrefix = "govrrp_"

// FilterTable is the one nftables table (family inet) that the Filters of
// every process in a network namespace share: one input chain, and per
// family one set of the blocked addresses and one set of records (which
// virtual router blocks which address), for all virtual routers. The
// netfilter core allows at most 1,024 base chains on one hook, so a chain
// per virtual router (as before) stopped there with E2BIG ("argument list
// too long"); set elements have no such limit, and a packet costs one
// hash lookup however many there are.
const FilterTable = TablePrefix + "accept"

// FilterError is the error of a Filter operation: it names the table, the
// interface, the VRID and, for permission failures, the missing
// capability.
//
//	vipaddr: accept-mode filter govrrp_accept (dev eth0, VRID 51): block 10.99.0.100: operation not permitted (needs CAP_NET_ADMIN)
type FilterError struct {
	Op        string // "block", "unblock", "prepare", "remove stale", "close", "open"
	Interface string
	Table     string
	VRID      uint8 // 0 for an operation on no one virtual router
	Addrs     []netip.Addr
	Cap       string // set for permission errors
	Err       error
}

func (e *FilterError) Error() string {
	s := "vipaddr: accept-mode filter"
	if e.Table != "" {
		s += " " + e.Table
	}
	switch {
	case e.Interface != "" && e.VRID != 0:
		s += fmt.Sprintf(" (dev %s, VRID %d)", e.Interface, e.VRID)
	case e.Interface != "":
		s += " (dev " + e.Interface + ")"
	}
	s += ": " + e.Op
	if len(e.Addrs) > 0 {
		as := make([]string, len(e.Addrs))
		for i, a := range e.Addrs {
			as[i] = a.String()
		}
		s += " " + strings.Join(as, ",")
	}
	s += ": " + e.Err.Error()
	if e.Cap != "" {
		s += " (needs " + e.Cap + ")"
	}
	return s
}

func (e *FilterError) Unwrap() error { return e.Err }
