//go:build linux

package arpnd

import (
	"errors"
	"fmt"
	"net"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The responder in ModeVirtualMAC answers ARP / ND with the virtual MAC,
// so the neighbours send the virtual router's traffic to that MAC. The
// kernel marks a frame whose destination is not the interface's own MAC
// PACKET_OTHERHOST, and the IP stack drops such frames (ip_rcv,
// ipv6_rcv). While a virtual router is master, an nftables table of the
// netdev family with an ingress chain on its interface sets the packet
// type of frames to the virtual MAC to host (`ether daddr VMAC meta
// pkttype set host`), so that they reach the IP stack like frames to the
// interface MAC. One table per virtual router, named by vmacTableName
// (the interface index, family and VRID), created at Take and deleted at
// Release and Close; a table of that name left by a run that did not
// Close is replaced at Take, and removed by Announcer.RemoveStale.

// vmacTableName names the nftables table of a virtual router:
// "govrrp_arpnd_{4,6}_{ifindex}_{vrid}".
func vmacTableName(ifindex int, vrid uint8, v6 bool) string {
	fam := 4
	if v6 {
		fam = 6
	}
	return fmt.Sprintf("govrrp_arpnd_%d_%d_%d", fam, ifindex, vrid)
}

// vmacChain is the name of the ingress chain in the table.
const vmacChain = "vmac_ingress"

func (p *linuxPlatform) nftConn() (*nftables.Conn, error) {
	return nftables.New(nftables.WithNetNSFd(int(p.ns)))
}

// addVMACRule installs (or replaces) the table of vr on its interface.
// Called in p's namespace.
func (p *linuxPlatform) addVMACRule(vr *vrState) error {
	ifi := vr.link.ifi
	c, err := p.nftConn()
	if err != nil {
		return privErr(ifi.Name, "nftables", "CAP_NET_ADMIN", err)
	}
	tbl := &nftables.Table{Name: vmacTableName(ifi.Index, vr.key.vrid, vr.key.v6), Family: nftables.TableFamilyNetdev}
	// Add (a no-op if it exists), delete and add again: one transaction
	// that replaces a leftover.
	c.AddTable(tbl)
	c.DelTable(tbl)
	c.AddTable(tbl)
	ch := c.AddChain(&nftables.Chain{
		Name:     vmacChain,
		Table:    tbl,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookIngress,
		Priority: nftables.ChainPriorityFilter,
		Device:   ifi.Name,
	})
	c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: vmacExprs(vr.hwAddr())})
	if err := c.Flush(); err != nil {
		return privErr(ifi.Name, fmt.Sprintf("install nftables table netdev %s (ether daddr %v meta pkttype set host)", tbl.Name, vr.hwAddr()), "CAP_NET_ADMIN", err)
	}
	return nil
}

// vmacExprs is `ether daddr MAC meta pkttype set host`.
func vmacExprs(mac net.HardwareAddr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 0, Len: 6},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(mac)},
		&expr.Immediate{Register: 1, Data: []byte{unix.PACKET_HOST}},
		&expr.Meta{Key: expr.MetaKeyPKTTYPE, SourceRegister: true, Register: 1},
	}
}

// delVMACRule deletes the table of vr, if it is there. Called in p's
// namespace.
func (p *linuxPlatform) delVMACRule(vr *vrState) error {
	ifi := vr.link.ifi
	_, err := p.delVMACTable(ifi.Name, ifi.Index, vr.key.vrid, vr.key.v6)
	return err
}

// delVMACTable deletes the table of a virtual router on the interface
// ifname (index ifindex), if it is there, and reports whether it was.
// Called in p's namespace.
func (p *linuxPlatform) delVMACTable(ifname string, ifindex int, vrid uint8, v6 bool) (bool, error) {
	c, err := p.nftConn()
	if err != nil {
		return false, privErr(ifname, "nftables", "CAP_NET_ADMIN", err)
	}
	tbl := &nftables.Table{Name: vmacTableName(ifindex, vrid, v6), Family: nftables.TableFamilyNetdev}
	c.DelTable(tbl)
	if err := c.Flush(); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, privErr(ifname, "delete nftables table netdev "+tbl.Name, "CAP_NET_ADMIN", err)
	}
	return true, nil
}
