package vipaddr

import (
	"fmt"
	"net/netip"
	"strings"
)

// TablePrefix starts the name of every nftables table a Filter creates.
const TablePrefix = "govrrp_"

// TableName is the nftables table (family inet) a Filter uses for the
// virtual router with this interface, VRID and family: stable across
// runs, so that a table left by a process that crashed is replaced by the
// next Block of the same virtual router rather than piling up.
//
//	govrrp_eth0_v4_51
func TableName(ifname string, vrid uint8, ipv6 bool) string {
	fam := "v4"
	if ipv6 {
		fam = "v6"
	}
	return fmt.Sprintf("%s%s_%s_%d", TablePrefix, ifname, fam, vrid)
}

// FilterError is the error of a Filter operation: it names the interface,
// the table and, for permission failures, the missing capability.
//
//	vipaddr: accept-mode filter govrrp_eth0_v4_51 (dev eth0): operation not permitted (needs CAP_NET_ADMIN)
type FilterError struct {
	Op        string // "block", "unblock", "remove stale", "open"
	Interface string
	Table     string
	Addrs     []netip.Addr
	Cap       string // set for permission errors
	Err       error
}

func (e *FilterError) Error() string {
	s := "vipaddr: accept-mode filter"
	if e.Table != "" {
		s += " " + e.Table
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
