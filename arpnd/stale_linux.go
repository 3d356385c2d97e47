//go:build linux

package arpnd

import (
	"errors"
	"fmt"
	"os"

	"github.com/govrrp/govrrp/vrrp"
	"github.com/vishvananda/netlink"
)

func (p *linuxPlatform) removeStale(a *Announcer, info vrrp.VRInfo, v6 bool) error {
	return p.do(func() error {
		var (
			pl  netlink.Link
			err error
		)
		if info.Interface != "" {
			pl, err = netlink.LinkByName(info.Interface)
		} else {
			pl, err = netlink.LinkByIndex(info.IfIndex)
		}
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				return nil // nothing can be left on it
			}
			if info.Interface != "" {
				return fmt.Errorf("arpnd: interface %q: %w", info.Interface, err)
			}
			return fmt.Errorf("arpnd: interface index %d: %w", info.IfIndex, err)
		}
		switch {
		case p.cfg.Mode == ModeMacvlan:
			return p.removeStaleMacvlan(a, pl, info.VRID, v6)
		case p.cfg.Mode == ModeVirtualMAC && p.cfg.Responder:
			return p.removeStaleVMACTable(a, pl, info.VRID, v6)
		case p.cfg.Mode == ModeVirtualMAC:
			// A run with the responder may have left one; this
			// Announcer needs no nftables access otherwise, so lacking
			// it is not an error here.
			if err := p.removeStaleVMACTable(a, pl, info.VRID, v6); err != nil && !errors.Is(err, os.ErrPermission) {
				return err
			}
		}
		return nil
	})
}

// removeStaleMacvlan deletes a leftover macvlan of the virtual router on
// the parent pl, unless it is p's, and restores the parent's arp_ignore
// as createMacvlan and close do. Called in p's namespace.
func (p *linuxPlatform) removeStaleMacvlan(a *Announcer, pl netlink.Link, vrid uint8, v6 bool) error {
	name, err := macvlanName(pl.Attrs().Index, vrid, v6)
	if err != nil {
		return err
	}
	for _, m := range p.macvlans {
		if m.nl.Attrs().Name == name {
			return nil // ours, down while not master
		}
	}
	parentMu.Lock()
	defer parentMu.Unlock()
	if _, err := netlink.LinkByName(name); err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("arpnd: interface %q: %w", name, err)
	}
	parent, parentIdx := pl.Attrs().Name, pl.Attrs().Index
	// holdParent takes the original arp_ignore from the leftover's marker
	// (or from p's own macvlans on the parent) before it goes; dropParent
	// writes it back once no marked macvlan is left on the parent.
	if _, err := p.holdParent(pl); err != nil {
		return err
	}
	removed, err := delLeftoverMacvlan(pl, name)
	p.dropParent(parent, parentIdx)
	if removed {
		a.log.Warn("arpnd: removed a macvlan a previous run left (it did not exit cleanly?)", "macvlan", name, "interface", parent, "vrid", vrid)
	}
	return err
}

// removeStaleVMACTable deletes a leftover nftables table of the virtual
// router on the interface pl, unless p installed it. Called in p's
// namespace.
func (p *linuxPlatform) removeStaleVMACTable(a *Announcer, pl netlink.Link, vrid uint8, v6 bool) error {
	ifname, ifindex := pl.Attrs().Name, pl.Attrs().Index
	name := vmacTableName(ifindex, vrid, v6)
	for vr := range p.vmacVRs {
		if vmacTableName(vr.link.ifi.Index, vr.key.vrid, vr.key.v6) == name {
			return nil // ours, installed while master
		}
	}
	removed, err := p.delVMACTable(ifname, ifindex, vrid, v6)
	if removed {
		a.log.Warn("arpnd: removed an nftables table a previous run left (it did not exit cleanly?)", "table", "netdev "+name, "interface", ifname, "vrid", vrid)
	}
	return err
}
