//go:build linux

package vipaddr

import (
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Filter keeps a non-owner master without Accept_Mode from accepting
// packets addressed to its virtual addresses (RFC 9568 section 6.4.3:
// such a master "MUST NOT accept packets addressed to the IPvX
// address(es) associated with the virtual router"; RFC 3768 section 6.4.3
// says it of every VRRPv2 non-owner master). The caller decides which
// masters it blocks: vrrp.Config.AcceptMode is allowed with VRRPv2 too,
// as keepalived's accept, an explicit departure from RFC 3768, and such a
// master is not blocked. While a virtual router is blocked, an nftables
// table of family inet (TableName) has an input chain that drops every
// packet whose destination is one of the addresses, with two exceptions:
//
//   - ICMPv6 Neighbor Solicitations and Advertisements (types 135, 136),
//     which the master "MUST NOT drop" (same section): neighbours must
//     still resolve the address;
//   - packets arriving on lo, which the host sends itself (a local health
//     check of the address, for instance) and nobody on the LAN sees.
//
// ARP is not IP, so the input hook never sees it: the address still
// resolves. The table is created and changed through netlink
// (github.com/google/nftables), which needs CAP_NET_ADMIN.
//
// A Filter works in the network namespace it was created in. It is safe
// for concurrent use.
type Filter struct {
	log *slog.Logger

	mu     sync.Mutex
	c      *nftables.Conn
	tables map[string]string // table -> interface, for the tables this Filter made
	closed bool
}

// NewFilter returns a Filter bound to the calling thread's network
// namespace. A nil logger discards.
func NewFilter(log *slog.Logger) (*Filter, error) {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, filterErr("open", "", "", nil, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Filter{log: log, c: c, tables: map[string]string{}}, nil
}

func filterErr(op, ifname, table string, addrs []netip.Addr, err error) error {
	if err == nil {
		return nil
	}
	fe := &FilterError{Op: op, Interface: ifname, Table: table, Addrs: addrs, Err: err}
	if errors.Is(err, os.ErrPermission) {
		fe.Cap = "CAP_NET_ADMIN"
	}
	return fe
}

// replace queues, in the Conn's batch, the deletion of the table if it
// exists (a leftover from a crashed run or an earlier Block), leaving it
// created and empty.
func (f *Filter) replace(t *nftables.Table) {
	f.c.AddTable(t) // no-op when present, so that the deletion cannot fail
	f.c.DelTable(t)
	f.c.AddTable(t)
}

// ifnameBytes is an interface name as nftables compares it: NUL-padded
// to IFNAMSIZ.
func ifnameBytes(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

// Block makes the virtual router's table (TableName) drop packets
// addressed to addrs, replacing what it held: a table left by a crashed
// process, or an earlier Block. addrs are of one family.
func (f *Filter) Block(ifname string, vrid uint8, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	v6 := addrs[0].Is6() && !addrs[0].Is4In6()
	name := TableName(ifname, vrid, v6)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return filterErr("block", ifname, name, addrs, errors.New("filter closed"))
	}
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	f.replace(t)
	ch := f.c.AddChain(&nftables.Chain{
		Name:     "input",
		Table:    t,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: nftables.ChainPriorityFilter,
	})
	notLo := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifnameBytes("lo")},
	}
	nfproto, off, n := byte(unix.NFPROTO_IPV4), uint32(16), uint32(4) // IPv4 destination
	if v6 {
		nfproto, off, n = unix.NFPROTO_IPV6, 24, 16 // IPv6 destination
		for _, typ := range []byte{135, 136} {      // Neighbor Solicitation, Advertisement
			f.c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{nfproto}},
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{typ}},
				&expr.Verdict{Kind: expr.VerdictAccept},
			}})
		}
	}
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		exprs := append(slices.Clone(notLo),
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{nfproto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictDrop},
		)
		f.c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	}
	if err := f.c.Flush(); err != nil {
		return filterErr("block", ifname, name, addrs, err)
	}
	f.tables[name] = ifname
	f.log.Debug("accept-mode filter: dropping packets addressed to the virtual addresses", "table", name, "interface", ifname, "addrs", addrs)
	return nil
}

// Unblock removes the virtual router's table, if there is one (made by
// this Filter or left by a crashed process).
func (f *Filter) Unblock(ifname string, vrid uint8, ipv6 bool) error {
	name := TableName(ifname, vrid, ipv6)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	if err := f.del(name, ifname); err != nil {
		return err
	}
	f.log.Debug("accept-mode filter removed", "table", name, "interface", ifname)
	return nil
}

// RemoveStale removes the virtual router's table (TableName) if a
// process that did not exit cleanly (kill -9, a crash) left it, and
// reports whether there was one; a table this Filter made is left alone.
// Block replaces a leftover, but only at a takeover, and a virtual router
// that is not filtered (Accept_Mode, or the address owner) never calls
// it: the leftover would go on dropping the packets addressed to the
// virtual addresses (for an owner, the interface's own), so call it when
// a virtual router starts, whatever its Accept_Mode.
func (f *Filter) RemoveStale(ifname string, vrid uint8, ipv6 bool) (bool, error) {
	name := TableName(ifname, vrid, ipv6)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false, filterErr("remove stale", ifname, name, nil, errors.New("filter closed"))
	}
	if _, ok := f.tables[name]; ok {
		return false, nil
	}
	f.c.DelTable(&nftables.Table{Name: name, Family: nftables.TableFamilyINet})
	if err := f.c.Flush(); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, filterErr("remove stale", ifname, name, nil, err)
	}
	f.log.Warn("removed an accept-mode filter table a previous run left (it did not exit cleanly?)", "table", name, "interface", ifname)
	return true, nil
}

func (f *Filter) del(name, ifname string) error {
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	f.c.AddTable(t)
	f.c.DelTable(t)
	if err := f.c.Flush(); err != nil {
		return filterErr("unblock", ifname, name, nil, err)
	}
	delete(f.tables, name)
	return nil
}

// Close removes every table this Filter made and closes its netlink
// socket. Later calls do nothing.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	var errs []error
	for name, ifname := range f.tables {
		errs = append(errs, f.del(name, ifname))
	}
	f.closed = true
	errs = append(errs, f.c.CloseLasting())
	return errors.Join(errs...)
}
