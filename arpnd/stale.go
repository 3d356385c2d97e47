package arpnd

import (
	"fmt"

	"github.com/govrrp/govrrp/vrrp"
)

// staleRemover is implemented by the platforms that leave something on
// the host when a process dies without Close (New's).
type staleRemover interface {
	// removeStale removes what a previous run left for the virtual
	// router, except what a holds. Called with a's lock held.
	removeStale(a *Announcer, info vrrp.VRInfo, v6 bool) error
}

// RemoveStale removes what a previous run left on the host for the
// virtual router info when it did not Close (kill -9, a crash): in
// ModeMacvlan its macvlan (MacvlanName) with the virtual addresses on
// it, restoring the parent's arp_ignore as Close does (from the
// macvlan's marker); in ModeVirtualMAC its nftables table (see
// ModeVirtualMAC; a run with Config.Responder installs it). A router that starts again starts
// as backup and calls no hook, so without this a leftover macvlan stays
// up with the virtual addresses and answers ARP / ND with the virtual MAC
// beside the real master, until this host is master again. Call it
// before the virtual router runs (before adding it to a Router).
//
// It never touches what this Announcer holds: a macvlan it made (from the
// first Take of the virtual router until Close) or a table it installed.
// It does nothing in ModeInterfaceMAC, for an Announcer from NewConn
// (which creates nothing on the host), or for a virtual router on
// another interface than Config.Interface. A missing interface is not an
// error.
func (a *Announcer) RemoveStale(info vrrp.VRInfo) error {
	if len(info.Addrs) == 0 {
		return fmt.Errorf("arpnd: virtual router %q (VRID %d) has no addresses", info.Name, info.VRID)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errClosed
	}
	if a.cfg.Interface != "" && info.Interface != "" && info.Interface != a.cfg.Interface {
		return nil
	}
	sr, ok := a.plat.(staleRemover)
	if !ok {
		return nil
	}
	v6 := info.Addrs[0].Is6() && !info.Addrs[0].Is4In6()
	return sr.removeStale(a, info, v6)
}
