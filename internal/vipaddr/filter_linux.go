//go:build linux

package vipaddr

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"maps"
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
// master is not blocked.
//
// Every blocked virtual router shares one nftables table of family inet,
// FilterTable:
//
//	table inet govrrp_accept {
//		set drop4 { type ipv4_addr }      # every blocked IPv4 address
//		set drop6 { type ipv6_addr }      # every blocked IPv6 address
//		set v4_eth0_51 { type ipv4_addr } # one record per virtual router
//		chain input {
//			type filter hook input priority filter;
//			icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
//			iifname != "lo" ip daddr @drop4 counter drop
//			iifname != "lo" ip6 daddr @drop6 counter drop
//		}
//	}
//
// so that blocking or unblocking a virtual router adds or deletes set
// elements, in one netlink transaction, and a packet costs one hash
// lookup, however many virtual routers there are. (A base chain per
// virtual router, as before, stops at 1,024: the netfilter core refuses
// more hooks on the input hook, E2BIG.) The record sets (SetName) are in
// no rule: they say, in the kernel, which virtual router blocks which
// addresses, so that the next run finds what a crashed one left. The
// input chain drops every packet whose destination is a blocked address,
// with two exceptions:
//
//   - ICMPv6 Neighbor Solicitations and Advertisements (types 135, 136),
//     which the master "MUST NOT drop" (same section): neighbours must
//     still resolve the address;
//   - packets arriving on lo, which the host sends itself (a local health
//     check of the address, for instance) and nobody on the LAN sees.
//
// ARP is not IP, so the input hook never sees it: the address still
// resolves. The table is created and changed through netlink
// (github.com/google/nftables), which needs CAP_NET_ADMIN. It is created
// with the first Block and deleted when the last record goes.
//
// An address two virtual routers of this Filter block stays blocked
// until both are unblocked. The Filters of two processes in one network
// namespace share the table but do not count each other's holds on an
// address: unblocking a virtual router unblocks its addresses unless
// another virtual router of the same Filter blocks them (two processes
// holding one address is a misconfiguration anyway), and a process that
// unblocks its last virtual router at the very moment another blocks its
// first can delete the table under it.
//
// A Filter works in the network namespace it was created in. It is safe
// for concurrent use.
type Filter struct {
	log *slog.Logger

	mu     sync.Mutex
	c      *nftables.Conn
	vrs    map[vrKey][]netip.Addr // the virtual routers this Filter blocks
	refs   map[netip.Addr]int     // how many of vrs block each address
	ready  bool                   // the table, its chain and drop sets are in place
	closed bool
}

// vrKey names a virtual router.
type vrKey struct {
	ifname string
	vrid   uint8
	v6     bool
}

func (k vrKey) set() string { return SetName(k.ifname, k.vrid, k.v6) }

const (
	inputChain = "input"
	dropSet4   = "drop4" // cannot clash with SetName, which starts v4_ or v6_
	dropSet6   = "drop6"
	// tableBaseUse is FilterTable's use count (NFTA_TABLE_USE: its chains
	// and sets) when it records no virtual router: the input chain and
	// the two drop sets.
	tableBaseUse = 3
	// batchMax bounds the messages or set elements of one netlink
	// message batch, which must fit in the socket's buffers.
	batchMax = 256
)

var filterTable = &nftables.Table{Name: FilterTable, Family: nftables.TableFamilyINet}

func keyType(v6 bool) nftables.SetDatatype {
	if v6 {
		return nftables.TypeIP6Addr
	}
	return nftables.TypeIPAddr
}

func dropSet(v6 bool) *nftables.Set {
	name := dropSet4
	if v6 {
		name = dropSet6
	}
	return &nftables.Set{Table: filterTable, Name: name, KeyType: keyType(v6)}
}

func recordSet(k vrKey) *nftables.Set {
	return &nftables.Set{Table: filterTable, Name: k.set(), KeyType: keyType(k.v6)}
}

func elements(addrs []netip.Addr) []nftables.SetElement {
	es := make([]nftables.SetElement, len(addrs))
	for i, a := range addrs {
		es[i] = nftables.SetElement{Key: a.AsSlice()}
	}
	return es
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
	return &Filter{log: log, c: c, vrs: map[vrKey][]netip.Addr{}, refs: map[netip.Addr]int{}}, nil
}

func filterErr(op, ifname, set string, addrs []netip.Addr, err error) error {
	if err == nil {
		return nil
	}
	fe := &FilterError{Op: op, Interface: ifname, Table: FilterTable, Set: set, Addrs: addrs, Err: err}
	if errors.Is(err, os.ErrPermission) {
		fe.Cap = "CAP_NET_ADMIN"
	}
	return fe
}

// ifnameBytes is an interface name as nftables compares it: NUL-padded
// to IFNAMSIZ.
func ifnameBytes(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

// queueStructure queues, in the Conn's batch, the table, its input chain,
// the drop sets and the chain's rules. It is idempotent: what exists is
// kept (with the sets' elements), and the chain's rules are flushed and
// added again in the same transaction, so that no packet sees the chain
// half made.
func (f *Filter) queueStructure() error {
	f.c.AddTable(filterTable)
	ch := f.c.AddChain(&nftables.Chain{
		Name:     inputChain,
		Table:    filterTable,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: nftables.ChainPriorityFilter,
	})
	sets := [2]*nftables.Set{dropSet(false), dropSet(true)}
	for _, s := range sets {
		if err := f.c.AddSet(s, nil); err != nil {
			return err
		}
	}
	f.c.FlushChain(ch)
	for _, typ := range []byte{135, 136} { // Neighbor Solicitation, Advertisement
		f.c.AddRule(&nftables.Rule{Table: filterTable, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV6}},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{typ}},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}})
	}
	for i, fam := range []struct {
		nfproto byte
		off, n  uint32 // the destination address in the network header
	}{{unix.NFPROTO_IPV4, 16, 4}, {unix.NFPROTO_IPV6, 24, 16}} {
		f.c.AddRule(&nftables.Rule{Table: filterTable, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifnameBytes("lo")},
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam.nfproto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: fam.off, Len: fam.n},
			&expr.Lookup{SourceRegister: 1, SetName: sets[i].Name, SetID: sets[i].ID},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
	}
	return nil
}

// normalize returns addrs unmapped, without zones, sorted and without
// duplicates, and whether they are IPv6; an error if they mix families.
func normalize(addrs []netip.Addr) ([]netip.Addr, bool, error) {
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = a.Unmap().WithZone("")
		if out[i].Is6() != out[0].Is6() {
			return nil, false, errors.New("addresses of both families")
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out), out[0].Is6(), nil
}

// Block makes the filter drop packets addressed to addrs for the
// virtual router with this interface and VRID, replacing what it blocked
// for it: an earlier Block, or the record of a crashed process. addrs are
// of one family; the change is one netlink transaction, whatever else is
// blocked.
func (f *Filter) Block(ifname string, vrid uint8, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	norm, v6, err := normalize(addrs)
	k := vrKey{ifname, vrid, v6}
	if err != nil {
		return filterErr("block", ifname, k.set(), addrs, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return filterErr("block", ifname, k.set(), addrs, errors.New("filter closed"))
	}
	old, own := f.vrs[k]
	if !own {
		if old, _, err = f.recorded(k); err != nil {
			return filterErr("block", ifname, k.set(), addrs, err)
		}
	}
	try := func() error {
		if !f.ready {
			if err := f.queueStructure(); err != nil {
				return err
			}
		}
		rec := recordSet(k)
		if err := f.c.AddSet(rec, nil); err != nil {
			return err
		}
		f.c.FlushSet(rec)
		if err := f.c.SetAddElements(rec, elements(norm)); err != nil {
			return err
		}
		if err := f.c.SetAddElements(dropSet(v6), elements(norm)); err != nil {
			return err
		}
		return f.c.Flush()
	}
	err = try()
	if err != nil && f.ready && errors.Is(err, unix.ENOENT) {
		// The table went away under us (nft flush ruleset, say): make
		// it again.
		f.ready = false
		err = try()
	}
	if err != nil {
		return filterErr("block", ifname, k.set(), addrs, err)
	}
	f.ready = true
	if own {
		f.release(old)
	}
	for _, a := range norm {
		f.refs[a]++
	}
	f.vrs[k] = norm
	if err := f.unDrop(v6, f.unheld(old)); err != nil {
		return filterErr("block", ifname, k.set(), addrs, err)
	}
	f.log.Debug("accept-mode filter: dropping packets addressed to the virtual addresses",
		"table", FilterTable, "set", k.set(), "interface", ifname, "addrs", norm)
	return nil
}

// release drops this Filter's holds on addrs (a virtual router's).
func (f *Filter) release(addrs []netip.Addr) {
	for _, a := range addrs {
		if f.refs[a]--; f.refs[a] <= 0 {
			delete(f.refs, a)
		}
	}
}

// unheld returns those of addrs no virtual router of this Filter blocks.
func (f *Filter) unheld(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if f.refs[a] == 0 {
			out = append(out, a)
		}
	}
	return out
}

// recorded returns the addresses FilterTable records for k, and whether
// it has a record.
func (f *Filter) recorded(k vrKey) ([]netip.Addr, bool, error) {
	if _, err := f.c.GetSetByName(filterTable, k.set()); err != nil {
		if errors.Is(err, unix.ENOENT) { // no such set, or no table
			return nil, false, nil
		}
		return nil, false, err
	}
	es, err := f.c.GetSetElements(recordSet(k))
	if err != nil {
		return nil, true, err
	}
	addrs := make([]netip.Addr, 0, len(es))
	for _, e := range es {
		if a, ok := netip.AddrFromSlice(e.Key); ok {
			addrs = append(addrs, a.Unmap())
		}
	}
	return addrs, true, nil
}

// unDrop deletes addrs from the drop set of their family. An address
// that is not there (deleted by hand, or by the removal of another
// record that held it) is skipped.
func (f *Filter) unDrop(v6 bool, addrs []netip.Addr) error {
	for chunk := range slices.Chunk(addrs, batchMax) {
		if err := f.c.SetDeleteElements(dropSet(v6), elements(chunk)); err != nil {
			return err
		}
		err := f.c.Flush()
		if !errors.Is(err, unix.ENOENT) {
			if err != nil {
				return err
			}
			continue
		}
		// One of them is missing and the transaction was aborted:
		// again one at a time.
		for _, a := range chunk {
			if err := f.c.SetDeleteElements(dropSet(v6), elements([]netip.Addr{a})); err != nil {
				return err
			}
			if err := f.c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
				return err
			}
		}
	}
	return nil
}

// remove deletes k's record, and from the drop set the addresses (old)
// that no other virtual router of this Filter blocks; then the table if
// nothing is left in it.
func (f *Filter) remove(k vrKey, old []netip.Addr) error {
	f.c.DelSet(recordSet(k))
	if err := f.c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	if _, own := f.vrs[k]; own {
		f.release(old)
		delete(f.vrs, k)
	}
	if err := f.unDrop(k.v6, f.unheld(old)); err != nil {
		return err
	}
	return f.delTableIfEmpty(0)
}

// delTableIfEmpty deletes FilterTable if it records no virtual router
// but this Filter's, of which there are n, and this Filter holds none
// but those. It reads the table's use count, not its sets: one message
// whatever the table holds.
func (f *Filter) delTableIfEmpty(n int) error {
	if len(f.vrs) != n {
		return nil
	}
	t, err := f.c.ListTableOfFamily(FilterTable, nftables.TableFamilyINet)
	if errors.Is(err, unix.ENOENT) {
		f.ready = false
		return nil
	}
	if err != nil {
		return err
	}
	if tableUse(t) > uint32(tableBaseUse+n) {
		return nil // another process's, or a leftover, virtual routers
	}
	f.c.DelTable(filterTable)
	if err := f.c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	f.ready = false
	return nil
}

// tableUse is t's NFTA_TABLE_USE. The attribute is big-endian, and
// github.com/google/nftables v0.3.0 decodes it in host byte order: this
// undoes that. (Should a later version decode it right, the tests that
// check the table goes with the last record fail.)
func tableUse(t *nftables.Table) uint32 {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], t.Use)
	return binary.BigEndian.Uint32(b[:])
}

// Unblock stops the filter dropping packets for the virtual router, if
// it blocked any (for this Filter or for a crashed process): its record
// goes, and its addresses from the drop set unless another virtual router
// of this Filter blocks them. The table goes with the last record.
func (f *Filter) Unblock(ifname string, vrid uint8, ipv6 bool) error {
	k := vrKey{ifname, vrid, ipv6}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	old, own := f.vrs[k]
	if !own {
		var ok bool
		var err error
		if old, ok, err = f.recorded(k); err != nil || !ok {
			return filterErr("unblock", ifname, k.set(), nil, err)
		}
	}
	if err := f.remove(k, old); err != nil {
		return filterErr("unblock", ifname, k.set(), old, err)
	}
	f.log.Debug("accept-mode filter removed", "table", FilterTable, "set", k.set(), "interface", ifname)
	return nil
}

// RemoveStale removes what a process that did not exit cleanly (kill -9,
// a crash) left in the filter for the virtual router: its record in
// FilterTable (the table with it if it was the last), or the table of
// one virtual router that versions before FilterTable made. It reports
// whether there was any; what this Filter blocks is left alone. Block
// replaces a leftover, but only at a takeover, and a virtual router that
// is not filtered (Accept_Mode, or the address owner) never calls it:
// the leftover would go on dropping the packets addressed to the virtual
// addresses (for an owner, the interface's own), so call it when a
// virtual router starts, whatever its Accept_Mode.
func (f *Filter) RemoveStale(ifname string, vrid uint8, ipv6 bool) (bool, error) {
	k := vrKey{ifname, vrid, ipv6}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false, filterErr("remove stale", ifname, k.set(), nil, errors.New("filter closed"))
	}
	if _, own := f.vrs[k]; own {
		return false, nil
	}
	legacy := legacyTableName(ifname, vrid, ipv6)
	f.c.DelTable(&nftables.Table{Name: legacy, Family: nftables.TableFamilyINet})
	err := f.c.Flush()
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return false, filterErr("remove stale", ifname, k.set(), nil, err)
	}
	found := err == nil
	if found {
		f.log.Warn("removed an accept-mode filter table a previous run left (it did not exit cleanly?)", "table", legacy, "interface", ifname)
	}
	old, ok, err := f.recorded(k)
	if err == nil && ok {
		err = f.remove(k, old)
	}
	if err != nil {
		return found, filterErr("remove stale", ifname, k.set(), old, err)
	}
	if ok {
		f.log.Warn("removed an accept-mode filter table a previous run left (it did not exit cleanly?): its virtual router's record and addresses",
			"table", FilterTable, "set", k.set(), "interface", ifname, "addrs", old)
	}
	return found || ok, nil
}

// Close removes what this Filter blocks (the table too, if nothing else
// is in it) and closes its netlink socket. Later calls do nothing.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	err := f.removeAll()
	return errors.Join(filterErr("close", "", "", nil, err), f.c.CloseLasting())
}

// removeAll removes every record of this Filter, and its addresses: the
// whole table in one message when nothing else is in it.
func (f *Filter) removeAll() error {
	if len(f.vrs) == 0 {
		return nil
	}
	if err := f.delTableIfEmpty(len(f.vrs)); err != nil {
		return err
	}
	if !f.ready { // deleted, or gone
		clear(f.vrs)
		clear(f.refs)
		return nil
	}
	keys := slices.Collect(maps.Keys(f.vrs))
	for chunk := range slices.Chunk(keys, batchMax) {
		for _, k := range chunk {
			f.c.DelSet(recordSet(k))
		}
		err := f.c.Flush()
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
		if err != nil { // one was gone, and the transaction aborted: one at a time
			for _, k := range chunk {
				f.c.DelSet(recordSet(k))
				if err := f.c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
					return err
				}
			}
		}
	}
	var v4, v6 []netip.Addr
	for a := range f.refs {
		if a.Is6() {
			v6 = append(v6, a)
		} else {
			v4 = append(v4, a)
		}
	}
	clear(f.vrs)
	clear(f.refs)
	return errors.Join(f.unDrop(false, v4), f.unDrop(true, v6), f.delTableIfEmpty(0))
}
