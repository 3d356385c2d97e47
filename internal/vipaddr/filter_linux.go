//go:build linux

package vipaddr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
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
//		set drop4 { type ipv4_addr; }                # every blocked address
//		set drop6 { type ipv6_addr; }
//		set vrs4 { type ifname . mark . ipv4_addr; } # interface . VRID . address
//		set vrs6 { type ifname . mark . ipv6_addr; }
//		chain input {
//			type filter hook input priority filter;
//			icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
//			iifname != "lo" ip daddr @drop4 counter drop
//			iifname != "lo" ip6 daddr @drop6 counter drop
//		}
//	}
//
// Blocking or unblocking a virtual router adds or deletes set elements
// (one or two netlink transactions, whatever else is blocked), and a
// packet costs one hash lookup however many virtual routers there are. (A
// base chain per virtual router, as before, stops at 1,024: the netfilter
// core refuses more on the input hook, E2BIG.) The vrs sets are in no
// rule: they record in the kernel which virtual router blocks which
// address, so that the next run finds what a crashed one left. The input
// chain drops every packet whose destination is a blocked address, with
// two exceptions:
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
// by Prepare or the first Block and deleted with the last record, or,
// after Prepare, by Close.
//
// A Filter reads the records once, at its first operation: those of
// virtual routers it does not block are a crashed run's (RemoveStale).
// An address stays blocked while any record this Filter knows holds it.
// The Filters of two processes in one network namespace share the table
// but not this count: a virtual router unblocked by one unblocks its
// addresses even if the other blocks them too (two processes holding one
// address is a misconfiguration anyway), and a process that removes the
// last record at the very moment another adds its first can delete the
// table under it.
//
// A Filter works in the network namespace it was created in. It is safe
// for concurrent use.
type Filter struct {
	log *slog.Logger

	mu     sync.Mutex
	c      *nftables.Conn
	vrs    map[vrKey][]netip.Addr // the virtual routers this Filter blocks
	stale  map[vrKey][]netip.Addr // records of others, read at the first operation
	refs   map[netip.Addr]int     // how many records of vrs and stale hold each address
	loaded bool                   // stale is read
	ready  bool                   // the table, its chain and its sets are in place
	// prepared: Prepare made the table, which then stays while the
	// Filter is open, with no record in it too.
	prepared bool
	closed   bool
	// legacy holds the names of the older versions' tables (one per
	// virtual router, legacyTableName) in the namespace, listed at the
	// first RemoveStale (legacyListed): RemoveStale deletes one only if it
	// is there. Deleting blindly was a netlink transaction per virtual
	// router, each one a commit of the kernel's ruleset, 16 ms on a 2-core
	// VM: 65 s to start 4,094 instances (issue 12).
	legacy       map[string]bool
	legacyListed bool
	// txns counts the netlink transactions sent (flush), for tests.
	txns int
}

// flush sends the queued nftables messages as one transaction.
func (f *Filter) flush() error {
	f.txns++
	return f.c.Flush()
}

// listLegacy lists the older versions' tables once (Filter.legacy).
func (f *Filter) listLegacy() error {
	if f.legacyListed {
		return nil
	}
	ts, err := f.c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return err
	}
	f.legacy = make(map[string]bool)
	for _, t := range ts {
		if strings.HasPrefix(t.Name, TablePrefix) && t.Name != FilterTable {
			f.legacy[t.Name] = true
		}
	}
	f.legacyListed = true
	return nil
}

// vrKey names a virtual router.
type vrKey struct {
	ifname string
	vrid   uint8
	v6     bool
}

const (
	inputChain = "input"
	// batchMax bounds the set elements or messages of one netlink
	// transaction, which must fit in the socket's buffers.
	batchMax = 256
)

var filterTable = &nftables.Table{Name: FilterTable, Family: nftables.TableFamilyINet}

func addrType(v6 bool) nftables.SetDatatype {
	if v6 {
		return nftables.TypeIP6Addr
	}
	return nftables.TypeIPAddr
}

func dropSet(v6 bool) *nftables.Set {
	name := "drop4"
	if v6 {
		name = "drop6"
	}
	return &nftables.Set{Table: filterTable, Name: name, KeyType: addrType(v6)}
}

// recordSet is the set of family v6 whose elements are interface . VRID
// . address (recordKey).
func recordSet(v6 bool) *nftables.Set {
	name := "vrs4"
	if v6 {
		name = "vrs6"
	}
	t, err := nftables.ConcatSetType(nftables.TypeIFName, nftables.TypeMark, addrType(v6))
	if err != nil {
		panic(err) // three fixed types: cannot fail
	}
	return &nftables.Set{Table: filterTable, Name: name, KeyType: t}
}

// recordKey is the key of a record: the interface name NUL-padded to
// IFNAMSIZ, the VRID as a mark (host byte order, as nft shows marks), the
// address.
func recordKey(k vrKey, a netip.Addr) []byte {
	b := make([]byte, unix.IFNAMSIZ+4, unix.IFNAMSIZ+4+16)
	copy(b, k.ifname)
	binary.NativeEndian.PutUint32(b[unix.IFNAMSIZ:], uint32(k.vrid))
	return append(b, a.AsSlice()...)
}

// parseRecordKey undoes recordKey.
func parseRecordKey(b []byte, v6 bool) (vrKey, netip.Addr, bool) {
	n := 4
	if v6 {
		n = 16
	}
	if len(b) != unix.IFNAMSIZ+4+n {
		return vrKey{}, netip.Addr{}, false
	}
	name, _, _ := bytes.Cut(b[:unix.IFNAMSIZ], []byte{0})
	vrid := binary.NativeEndian.Uint32(b[unix.IFNAMSIZ:])
	a, ok := netip.AddrFromSlice(b[unix.IFNAMSIZ+4:])
	if !ok || vrid == 0 || vrid > 255 || len(name) == 0 {
		return vrKey{}, netip.Addr{}, false
	}
	return vrKey{string(name), uint8(vrid), v6}, a, true
}

func addrElements(addrs []netip.Addr) []nftables.SetElement {
	es := make([]nftables.SetElement, len(addrs))
	for i, a := range addrs {
		es[i] = nftables.SetElement{Key: a.AsSlice()}
	}
	return es
}

func recordElements(k vrKey, addrs []netip.Addr) []nftables.SetElement {
	es := make([]nftables.SetElement, len(addrs))
	for i, a := range addrs {
		es[i] = nftables.SetElement{Key: recordKey(k, a)}
	}
	return es
}

// legacyTableName is the table of one virtual router that Filters made
// before FilterTable (govrrp_eth0_v4_51): RemoveStale removes it too, so
// that a run of this version cleans up after a crashed run of an older
// one.
func legacyTableName(ifname string, vrid uint8, ipv6 bool) string {
	fam := "v4"
	if ipv6 {
		fam = "v6"
	}
	return fmt.Sprintf("%s%s_%s_%d", TablePrefix, ifname, fam, vrid)
}

// NewFilter returns a Filter bound to the calling thread's network
// namespace. A nil logger discards.
func NewFilter(log *slog.Logger) (*Filter, error) {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, filterErr("open", vrKey{}, nil, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Filter{log: log, c: c, vrs: map[vrKey][]netip.Addr{}, stale: map[vrKey][]netip.Addr{}, refs: map[netip.Addr]int{}}, nil
}

func filterErr(op string, k vrKey, addrs []netip.Addr, err error) error {
	if err == nil {
		return nil
	}
	fe := &FilterError{Op: op, Interface: k.ifname, VRID: k.vrid, Table: FilterTable, Addrs: addrs, Err: err}
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
// its sets and the chain's rules. It is idempotent: what exists is kept
// (with the sets' elements), and the chain's rules are flushed and added
// again in the same transaction, so that no packet sees the chain half
// made.
func (f *Filter) queueStructure() error {
	f.c.AddTable(filterTable)
	ch := f.c.AddChain(&nftables.Chain{
		Name:     inputChain,
		Table:    filterTable,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: nftables.ChainPriorityFilter,
	})
	drops := [2]*nftables.Set{dropSet(false), dropSet(true)}
	for _, s := range []*nftables.Set{drops[0], drops[1], recordSet(false), recordSet(true)} {
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
			&expr.Lookup{SourceRegister: 1, SetName: drops[i].Name, SetID: drops[i].ID},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
	}
	return nil
}

// records returns the records in the table: nil without a table.
func (f *Filter) records() (map[vrKey][]netip.Addr, error) {
	recs := map[vrKey][]netip.Addr{}
	for _, v6 := range []bool{false, true} {
		s := recordSet(v6)
		// GetSetElements loses the errno: ask for the set first.
		if _, err := f.c.GetSetByName(filterTable, s.Name); errors.Is(err, unix.ENOENT) {
			continue // no table, or an empty one
		} else if err != nil {
			return nil, err
		}
		es, err := f.c.GetSetElements(s)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if k, a, ok := parseRecordKey(e.Key, v6); ok {
				recs[k] = append(recs[k], a.Unmap())
			}
		}
	}
	return recs, nil
}

// load reads, at the first operation, the records of virtual routers
// this Filter does not block: a crashed run's.
func (f *Filter) load() error {
	if f.loaded {
		return nil
	}
	recs, err := f.records()
	if err != nil {
		return err
	}
	for k, addrs := range recs {
		if _, own := f.vrs[k]; !own {
			f.stale[k] = addrs
			f.hold(addrs)
		}
	}
	f.loaded = true
	return nil
}

func (f *Filter) hold(addrs []netip.Addr) {
	for _, a := range addrs {
		f.refs[a]++
	}
}

func (f *Filter) release(addrs []netip.Addr) {
	for _, a := range addrs {
		if f.refs[a]--; f.refs[a] <= 0 {
			delete(f.refs, a)
		}
	}
}

// unheld returns those of addrs that no record holds.
func (f *Filter) unheld(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if f.refs[a] == 0 {
			out = append(out, a)
		}
	}
	return out
}

// deleteElements deletes es from s, batchMax at a time. An element that
// is not there (deleted by hand, say) is skipped.
func (f *Filter) deleteElements(s *nftables.Set, es []nftables.SetElement) error {
	for chunk := range slices.Chunk(es, batchMax) {
		if err := f.c.SetDeleteElements(s, chunk); err != nil {
			return err
		}
		err := f.flush()
		if !errors.Is(err, unix.ENOENT) {
			if err != nil {
				return err
			}
			continue
		}
		// One is missing, and the transaction was aborted: one at a time.
		for i := range chunk {
			if err := f.c.SetDeleteElements(s, chunk[i:i+1]); err != nil {
				return err
			}
			if err := f.flush(); err != nil && !errors.Is(err, unix.ENOENT) {
				return err
			}
		}
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
// of one family.
func (f *Filter) Block(ifname string, vrid uint8, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	norm, v6, err := normalize(addrs)
	k := vrKey{ifname, vrid, v6}
	if err != nil {
		return filterErr("block", k, addrs, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return filterErr("block", k, addrs, errors.New("filter closed"))
	}
	if err := f.load(); err != nil {
		return filterErr("block", k, addrs, err)
	}
	old, own := f.vrs[k]
	if !own {
		old = f.stale[k]
	}
	try := func() error {
		if !f.ready {
			if err := f.queueStructure(); err != nil {
				return err
			}
		}
		if err := f.c.SetAddElements(recordSet(v6), recordElements(k, norm)); err != nil {
			return err
		}
		if err := f.c.SetAddElements(dropSet(v6), addrElements(norm)); err != nil {
			return err
		}
		return f.flush()
	}
	err = try()
	if err != nil && f.ready && errors.Is(err, unix.ENOENT) {
		// The table went away under us (nft flush ruleset, say): make
		// it again.
		f.ready = false
		err = try()
	}
	if err != nil {
		return filterErr("block", k, addrs, err)
	}
	f.ready = true
	f.release(old)
	f.hold(norm)
	f.vrs[k] = norm
	delete(f.stale, k)
	var gone []netip.Addr
	for _, a := range old {
		if _, ok := slices.BinarySearchFunc(norm, a, netip.Addr.Compare); !ok {
			gone = append(gone, a)
		}
	}
	if len(gone) > 0 {
		err := errors.Join(f.deleteElements(recordSet(v6), recordElements(k, gone)),
			f.deleteElements(dropSet(v6), addrElements(f.unheld(gone))))
		if err != nil {
			return filterErr("block", k, addrs, err)
		}
	}
	f.log.Debug("accept-mode filter: dropping packets addressed to the virtual addresses",
		"table", FilterTable, "interface", ifname, "vrid", vrid, "addrs", norm)
	return nil
}

// remove deletes k's records, and from the drop set the addresses that
// no other record holds; then the table if no record is left.
func (f *Filter) remove(k vrKey, old []netip.Addr) error {
	if err := f.deleteElements(recordSet(k.v6), recordElements(k, old)); err != nil {
		return err
	}
	f.release(old)
	delete(f.vrs, k)
	delete(f.stale, k)
	if err := f.deleteElements(dropSet(k.v6), addrElements(f.unheld(old))); err != nil {
		return err
	}
	return f.delTableIfEmpty()
}

// delTableIfEmpty deletes the table when this Filter knows of no record
// and the kernel has none either (another process's, made since load),
// unless it is prepared and open (Prepare).
func (f *Filter) delTableIfEmpty() error {
	if len(f.vrs)+len(f.stale) > 0 || f.prepared && !f.closed {
		return nil
	}
	recs, err := f.records()
	if err != nil || len(recs) > 0 {
		return err
	}
	f.c.DelTable(filterTable)
	if err := f.flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	f.ready = false
	return nil
}

// Prepare makes the table, its input chain and its sets ahead of the
// first Block, and keeps them while the Filter is open, after the last
// record is gone too (with empty drop sets, nothing is dropped): a Block
// then only adds the virtual router's set elements, one small
// transaction, instead of creating the table, a base chain, four sets
// and four rules at the takeover, which cost several times more and
// delayed the new master's first gratuitous ARP. Close removes the table
// (unless another process's records are in it). A daemon calls Prepare
// when a virtual router that Block will filter starts (after
// RemoveStale); keepalived likewise keeps its nftables table from the
// first use until it exits.
//
// A table deleted under the Filter afterwards (nft flush ruleset,
// another process's last Unblock) is made again by the next Block.
func (f *Filter) Prepare() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return filterErr("prepare", vrKey{}, nil, errors.New("filter closed"))
	}
	if err := f.load(); err != nil {
		return filterErr("prepare", vrKey{}, nil, err)
	}
	f.prepared = true
	if f.ready {
		return nil
	}
	if err := f.queueStructure(); err != nil {
		return filterErr("prepare", vrKey{}, nil, err)
	}
	if err := f.flush(); err != nil {
		return filterErr("prepare", vrKey{}, nil, err)
	}
	f.ready = true
	return nil
}

// Unblock stops the filter dropping packets for the virtual router, if
// it blocked any (for this Filter or for a crashed process): its records
// go, and its addresses from the drop set unless another record holds
// them. The table goes with the last record.
func (f *Filter) Unblock(ifname string, vrid uint8, ipv6 bool) error {
	k := vrKey{ifname, vrid, ipv6}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	if err := f.load(); err != nil {
		return filterErr("unblock", k, nil, err)
	}
	old, own := f.vrs[k]
	if !own {
		var ok bool
		if old, ok = f.stale[k]; !ok {
			return nil
		}
	}
	if err := f.remove(k, old); err != nil {
		return filterErr("unblock", k, old, err)
	}
	f.log.Debug("accept-mode filter removed", "table", FilterTable, "interface", ifname, "vrid", vrid)
	return nil
}

// RemoveStale removes what a process that did not exit cleanly (kill -9,
// a crash) left in the filter for the virtual router: its records in
// FilterTable (the table with them if they were the last), or the table
// of one virtual router that versions before FilterTable made. It reports
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
		return false, filterErr("remove stale", k, nil, errors.New("filter closed"))
	}
	if _, own := f.vrs[k]; own {
		return false, nil
	}
	if err := f.listLegacy(); err != nil {
		return false, filterErr("remove stale", k, nil, err)
	}
	found := false
	if legacy := legacyTableName(ifname, vrid, ipv6); f.legacy[legacy] {
		delete(f.legacy, legacy)
		f.c.DelTable(&nftables.Table{Name: legacy, Family: nftables.TableFamilyINet})
		err := f.flush()
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return false, filterErr("remove stale", k, nil, err)
		}
		found = err == nil
		if found {
			f.log.Warn("removed an accept-mode filter table a previous run left (it did not exit cleanly?)", "table", legacy, "interface", ifname)
		}
	}
	if err := f.load(); err != nil {
		return found, filterErr("remove stale", k, nil, err)
	}
	old, ok := f.stale[k]
	if !ok {
		return found, nil
	}
	if err := f.remove(k, old); err != nil {
		return found, filterErr("remove stale", k, old, err)
	}
	f.log.Warn("removed an accept-mode filter table a previous run left (it did not exit cleanly?): the records of its virtual router",
		"table", FilterTable, "interface", ifname, "vrid", vrid, "addrs", old)
	return true, nil
}

// Close removes what this Filter blocks (the table too, if no other
// record is in it) and closes its netlink socket. Later calls do
// nothing.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if len(f.vrs) > 0 {
		err = f.removeAll()
	} else if f.prepared && f.ready {
		err = f.delTableIfEmpty()
	}
	return errors.Join(filterErr("close", vrKey{}, nil, err), f.c.CloseLasting())
}

// removeAll removes every record of this Filter, and its addresses
// unless a stale record holds them, batchMax elements a transaction; then
// the table if no record is left.
func (f *Filter) removeAll() error {
	var recs [2][]nftables.SetElement
	var addrs [2][]netip.Addr
	for k, as := range f.vrs {
		i := 0
		if k.v6 {
			i = 1
		}
		recs[i] = append(recs[i], recordElements(k, as)...)
		addrs[i] = append(addrs[i], as...)
		f.release(as)
	}
	clear(f.vrs)
	var errs []error
	for i, v6 := range []bool{false, true} {
		slices.SortFunc(addrs[i], netip.Addr.Compare)
		errs = append(errs, f.deleteElements(recordSet(v6), recs[i]),
			f.deleteElements(dropSet(v6), addrElements(f.unheld(slices.Compact(addrs[i])))))
	}
	return errors.Join(append(errs, f.delTableIfEmpty())...)
}
