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
// every process in a network namespace share: one input chain and one
// set of blocked addresses per family for all virtual routers, and a
// record set per virtual router (SetName). The netfilter core allows at
// most 1,024 base chains on one hook, so a chain per virtual router would
// stop there (E2BIG, "argument list too long"); a set element has no such
// limit and costs one hash lookup per packet, however many there are.
const FilterTable = TablePrefix + "accept"

// SetName is the set in FilterTable that records the addresses a Filter
// blocks for the virtual router with this interface, VRID and family:
// stable across runs, so that the record a process that crashed left is
// found and replaced (Block) or removed (RemoveStale) by the next run.
//
//	v4_eth0_51
func SetName(ifname string, vrid uint8, ipv6 bool) string {
	fam := "v4"
	if ipv6 {
		fam = "v6"
	}
	return fmt.Sprintf("%s_%s_%d", fam, ifname, vrid)
}

// legacyTableName is the table of one virtual router that Filters made
// before FilterTable: RemoveStale removes it too, so that a run of this
// version cleans up after a crashed run of an older one.
func legacyTableName(ifname string, vrid uint8, ipv6 bool) string {
	return TablePrefix + SetName(ifname, vrid, ipv6)
}

// FilterError is the error of a Filter operation: it names the interface,
// the table, the virtual router's set and, for permission failures, the
// missing capability.
//
//	vipaddr: accept-mode filter govrrp_accept set v4_eth0_51 (dev eth0): block 10.99.0.100: operation not permitted (needs CAP_NET_ADMIN)
type FilterError struct {
	Op        string // "block", "unblock", "remove stale", "close", "open"
	Interface string
	Table     string
	Set       string // the virtual router's set (SetName)
	Addrs     []netip.Addr
	Cap       string // set for permission errors
	Err       error
}

func (e *FilterError) Error() string {
	s := "vipaddr: accept-mode filter"
	if e.Table != "" {
		s += " " + e.Table
	}
	if e.Set != "" {
		s += " set " + e.Set
	}
	if e.Interface != "" {
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
