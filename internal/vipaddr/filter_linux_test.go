//go:build linux

package vipaddr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// echo4 reports whether addr answers an ICMP echo request from h.
func echo4(t *testing.T, h *netlab.Host, addr netip.Addr) bool {
	t.Helper()
	err := h.Do(func() error {
		c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			return err
		}
		defer c.Close()
		b, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 0x4242, Seq: 1, Data: []byte("govrrp")}}).Marshal(nil)
		if _, err := c.WriteTo(b, &net.IPAddr{IP: addr.AsSlice()}); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return err
			}
			m, err := icmp.ParseMessage(1, buf[:n])
			if err == nil && m.Type == ipv4.ICMPTypeEchoReply && from.String() == addr.String() {
				return nil
			}
		}
	})
	return err == nil
}

// record is how nft shows the record of a virtual router's address.
func record(ifname string, vrid uint8, a netip.Addr) string {
	return fmt.Sprintf("%q . 0x%08x . %s", ifname, vrid, a)
}

// nftSet returns `nft list set` of a set in FilterTable ("" if there is
// no such set).
func nftSet(t *testing.T, h *netlab.Host, name string) string {
	t.Helper()
	out, err := h.Run(context.Background(), "nft", "list", "set", "inet", FilterTable, name)
	if err != nil {
		return ""
	}
	return string(out)
}

// While blocked, the host holding the virtual addresses answers neither
// TCP nor ICMP echo on them, but ARP and Neighbor Discovery still
// resolve them; the host itself still reaches them over lo. Unblock and
// Close remove the table.
func TestFilter(t *testing.T) {
	netlab.RequireTool(t, "nft")
	netlab.RequireTool(t, "arping")
	netlab.RequireTool(t, "ndisc6")
	lab := netlab.New(t, "vipf", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	vip4, vip6 := netip.MustParseAddr("10.99.0.100"), netip.MustParseAddr("fd99::100")
	var m *Manager
	var f *Filter
	if err := h1.Do(func() (err error) {
		if m, err = New(nil); err != nil {
			return err
		}
		f, err = NewFilter(nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer f.Close()
	for _, a := range []netip.Addr{vip4, vip6} {
		if err := m.Add("eth0", HostPrefix(a)); err != nil {
			t.Fatal(err)
		}
	}
	h1.ServeTCP(t, 7777, "")
	for what, ok := range map[string]func() bool{
		"TCP to " + vip4.String():  func() bool { return h2.CanDialTCP(vip4, 7777) },
		"TCP to " + vip6.String():  func() bool { return h2.CanDialTCP(vip6, 7777) },
		"echo to " + vip4.String(): func() bool { return echo4(t, h2, vip4) },
	} {
		if !netlab.Eventually(ok) {
			t.Fatalf("before the filter: no answer to %s", what)
		}
	}

	// A leftover of a crashed run is replaced, not added to: its record
	// of virtual router 51 held another address, which Block unblocks.
	stale := netip.MustParseAddr("10.99.0.200")
	if err := m.Add("eth0", HostPrefix(stale)); err != nil {
		t.Fatal(err)
	}
	if _, err := h1.Run(context.Background(), "nft", "add table inet "+FilterTable+
		"; add set inet "+FilterTable+" vrs4 { type ifname . mark . ipv4_addr; elements = { "+record("eth0", 51, stale)+" }; }"+
		"; add set inet "+FilterTable+" drop4 { type ipv4_addr; elements = { "+stale.String()+" }; }"); err != nil {
		t.Fatal(err)
	}
	if err := f.Block("eth0", 51, []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	if err := f.Block("eth0", 51, []netip.Addr{vip6}); err != nil {
		t.Fatal(err)
	}
	if got := h1.NFTTables(t); !strings.Contains(got, "table inet "+FilterTable) {
		t.Errorf("tables while blocked:\n%s", got)
	}
	for set, want := range map[string]string{"vrs4": record("eth0", 51, vip4), "vrs6": record("eth0", 51, vip6)} {
		if got := nftSet(t, h1, set); !strings.Contains(got, want) || strings.Contains(got, stale.String()) {
			t.Errorf("set %s while blocked, want %s alone:\n%s", set, want, got)
		}
	}
	if got := nftSet(t, h1, "drop4"); !strings.Contains(got, vip4.String()) || strings.Contains(got, stale.String()) {
		t.Errorf("drop4 while blocked, want %s alone:\n%s", vip4, got)
	}
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(stale, 7777) }) {
		t.Error("the leftover record's address is still blocked after Block replaced it")
	}
	if h2.CanDialTCP(vip4, 7777) || h2.CanDialTCP(vip6, 7777) {
		t.Error("TCP to a blocked virtual address succeeded")
	}
	if echo4(t, h2, vip4) {
		t.Error("a blocked virtual address answered an ICMP echo")
	}
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(h1.Addr4, 7777) && h2.CanDialTCP(h1.Addr6, 7777) }) {
		t.Error("the host's own addresses are blocked too")
	}
	if !netlab.Eventually(func() bool { return h1.CanDialTCP(vip4, 7777) && h1.CanDialTCP(vip6, 7777) }) {
		t.Error("the host itself (over lo) no longer reaches its virtual addresses")
	}
	if _, err := h2.Run(context.Background(), "arping", "-c", "1", "-w", "2", "-I", "eth0", vip4.String()); err != nil {
		t.Errorf("ARP for a blocked virtual address: %v", err)
	}
	if _, err := h2.Run(context.Background(), "ip", "-6", "neigh", "flush", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	if out, err := h2.Run(context.Background(), "ndisc6", "-1", "-r", "3", "-w", "1000", vip6.String(), "eth0"); err != nil ||
		!strings.Contains(strings.ToLower(string(out)), strings.ToLower(h1.MAC.String())) {
		t.Errorf("Neighbor Discovery for a blocked virtual address: %v\n%s", err, out)
	}

	if err := f.Unblock("eth0", 51, false); err != nil {
		t.Fatal(err)
	}
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(vip4, 7777) && echo4(t, h2, vip4) }) {
		t.Error("the IPv4 address does not answer after Unblock")
	}
	if h2.CanDialTCP(vip6, 7777) {
		t.Error("Unblock of IPv4 unblocked IPv6")
	}
	if err := f.Unblock("eth0", 52, false); err != nil { // never blocked
		t.Errorf("Unblock of a table that does not exist: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := h1.NFTTables(t); strings.Contains(got, TablePrefix) {
		t.Errorf("tables left after Close:\n%s", got)
	}
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(vip6, 7777) }) {
		t.Error("the IPv6 address does not answer after Close")
	}
}

// Without CAP_NET_ADMIN the error names the interface and the
// capability. Runs the test binary again with the capability dropped.
func TestFilterNoCapability(t *testing.T) {
	if os.Getenv("VIPADDR_FILTER_CHILD") == "1" {
		f, err := NewFilter(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		err = f.Block("eth0", 7, []netip.Addr{netip.MustParseAddr("10.99.0.77")})
		var fe *FilterError
		if !errors.As(err, &fe) || !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "(dev eth0, VRID 7)") ||
			!strings.Contains(err.Error(), "(needs CAP_NET_ADMIN)") {
			t.Fatalf("Block without CAP_NET_ADMIN: %v", err)
		}
		return
	}
	netlab.RequireTool(t, "setpriv")
	h := netlab.New(t, "vipfc", 1).Host(1)
	c := h.Command(context.Background(), "setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin",
		os.Args[0], "-test.run", "^TestFilterNoCapability$")
	c.Env = append(os.Environ(), "VIPADDR_FILTER_CHILD=1")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Errorf("child did not run: %s", out)
	}
}

// TestFilterRemoveStale: the record of a process killed while blocking
// (kill -9) keeps dropping packets to the virtual address until
// RemoveStale removes it; RemoveStale never removes what the Filter
// blocks itself, nor another virtual router's record; it removes the
// per-virtual-router table of an older version too.
func TestFilterRemoveStale(t *testing.T) {
	netlab.RequireTool(t, "nft")
	lab := netlab.New(t, "vips", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	vip, vip2 := netip.MustParseAddr("10.99.0.100"), netip.MustParseAddr("10.99.0.101")
	var m *Manager
	var killed, f *Filter
	if err := h1.Do(func() (err error) {
		if m, err = New(nil); err != nil {
			return err
		}
		if killed, err = NewFilter(nil); err != nil {
			return err
		}
		f, err = NewFilter(nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer f.Close()
	for _, a := range []netip.Addr{vip, vip2} {
		if err := m.Add("eth0", HostPrefix(a)); err != nil {
			t.Fatal(err)
		}
	}
	h1.ServeTCP(t, 7777, "")

	// A killed run's records: its netlink socket is gone, its records
	// stay. Virtual router 53 blocks vip2, which nobody else blocks.
	for _, c := range []struct {
		vrid uint8
		vip  netip.Addr
	}{{51, vip}, {53, vip2}} {
		if err := killed.Block("eth0", c.vrid, []netip.Addr{c.vip}); err != nil {
			t.Fatal(err)
		}
	}
	killed.mu.Lock()
	killed.closed = true
	killed.c.CloseLasting()
	killed.mu.Unlock()
	if h2.CanDialTCP(vip, 7777) || h2.CanDialTCP(vip2, 7777) {
		t.Fatal("the leftover records do not block: the test has nothing to check")
	}
	// An older version's table of one virtual router, left by a kill.
	legacy := legacyTableName("eth0", 54, false)
	if _, err := h1.Run(context.Background(), "nft", "add table inet "+legacy+"; add chain inet "+legacy+
		" input { type filter hook input priority 0; ip daddr 10.99.0.102 drop; }"); err != nil {
		t.Fatal(err)
	}

	if err := f.Block("eth0", 52, []netip.Addr{vip}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		vrid uint8
		v6   bool
		want bool
	}{
		{51, false, true},  // the leftover
		{51, false, false}, // gone already
		{51, true, false},  // never there
		{52, false, false}, // f's own
		{54, false, true},  // the older version's table
		{54, false, false}, // gone already
	} {
		got, err := f.RemoveStale("eth0", c.vrid, c.v6)
		if got != c.want || err != nil {
			t.Errorf("RemoveStale(eth0, %d, %v) = %v, %v; want %v", c.vrid, c.v6, got, err, c.want)
		}
	}
	if got := h1.NFTTables(t); strings.Contains(got, legacy) {
		t.Errorf("the older version's table survived RemoveStale:\n%s", got)
	}
	recs := nftSet(t, h1, "vrs4")
	if strings.Contains(recs, record("eth0", 51, vip)) {
		t.Errorf("the leftover record survived RemoveStale:\n%s", recs)
	}
	if !strings.Contains(recs, record("eth0", 52, vip)) {
		t.Errorf("RemoveStale removed the Filter's own record:\n%s", recs)
	}
	if !strings.Contains(recs, record("eth0", 53, vip2)) {
		t.Errorf("RemoveStale removed another virtual router's record:\n%s", recs)
	}
	if h2.CanDialTCP(vip, 7777) {
		t.Error("RemoveStale of a leftover unblocked an address the Filter blocks")
	}
	if h2.CanDialTCP(vip2, 7777) {
		t.Error("RemoveStale of one leftover unblocked another's address")
	}
	if got, err := f.RemoveStale("eth0", 53, false); !got || err != nil {
		t.Errorf("RemoveStale(eth0, 53) = %v, %v; want true", got, err)
	}
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(vip2, 7777) }) {
		t.Errorf("the leftover's address does not answer once RemoveStale removed it:\n%s", nftSet(t, h1, "drop4"))
	}
	if err := f.Unblock("eth0", 52, false); err != nil {
		t.Fatal(err)
	}
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(vip, 7777) }) {
		t.Errorf("the virtual address does not answer with the leftovers removed:\n%s", h1.NFTTables(t))
	}
	if got := h1.NFTTables(t); strings.Contains(got, TablePrefix) {
		t.Errorf("tables left with nothing blocked:\n%s", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.RemoveStale("eth0", 51, false); err == nil {
		t.Error("RemoveStale after Close: no error")
	}
}

// TestFilterRemoveStaleTransactions: RemoveStale, which vrrpd calls for
// every instance it starts, sends no netlink transaction for a virtual
// router that left nothing: it lists the older versions' tables once and
// deletes only those there. It deleted blindly, a transaction (a commit
// of the kernel's ruleset, 16 ms each here) per virtual router: 65 s to
// start 4,094 instances (issue 12).
func TestFilterRemoveStaleTransactions(t *testing.T) {
	netlab.RequireTool(t, "nft")
	h := netlab.New(t, "vipst", 1).Host(1)
	legacy := legacyTableName("l7", 1, false)
	if _, err := h.Run(context.Background(), "nft", "add table inet "+legacy); err != nil {
		t.Fatal(err)
	}
	var f *Filter
	if err := h.Do(func() (err error) {
		f, err = NewFilter(nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const n = 100
	for i := 1; i <= n; i++ {
		got, err := f.RemoveStale(fmt.Sprintf("l%d", i), 1, false)
		if want := i == 7; got != want || err != nil {
			t.Errorf("RemoveStale(l%d, 1, false) = %v, %v; want %v", i, got, err, want)
		}
	}
	if f.txns != 1 {
		t.Errorf("%d virtual routers, one older table: %d netlink transactions, want 1", n, f.txns)
	}
	if got := h.NFTTables(t); strings.Contains(got, legacy) {
		t.Errorf("the older version's table survived RemoveStale:\n%s", got)
	}
}

// TestFilterMany: 4,094 virtual routers blocked at once (the kernel
// allows at most 1,024 base chains on the input hook, which a chain per
// virtual router hit: E2BIG, "argument list too long"); traffic to one's
// address is dropped, to an unblocked one's passes, and unblocking all
// leaves no table.
func TestFilterMany(t *testing.T) {
	netlab.RequireTool(t, "nft")
	lab := netlab.New(t, "vipm", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	vip, vip2 := netip.MustParseAddr("10.99.0.100"), netip.MustParseAddr("10.99.0.101")
	var m *Manager
	var f *Filter
	if err := h1.Do(func() (err error) {
		if m, err = New(nil); err != nil {
			return err
		}
		f, err = NewFilter(nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer f.Close()
	for _, a := range []netip.Addr{vip, vip2} {
		if err := m.Add("eth0", HostPrefix(a)); err != nil {
			t.Fatal(err)
		}
	}
	h1.ServeTCP(t, 7777, "")
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(vip, 7777) && h2.CanDialTCP(vip2, 7777) }) {
		t.Fatal("no answer before the filter")
	}

	// Virtual router i: interface vl<i/255> (a VLAN, say; the filter does
	// not look at it), VRID i%255+1, every other one IPv6.
	const n = 4094
	type vr struct {
		ifname string
		vrid   uint8
		addr   netip.Addr
	}
	vrs := make([]vr, n)
	for i := range vrs {
		vrs[i] = vr{fmt.Sprintf("vl%d", i/255), uint8(i%255 + 1), netip.AddrFrom4([4]byte{10, 98, byte(i >> 8), byte(i)})}
		if i%2 == 1 {
			vrs[i].addr = netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x98, 14: byte(i >> 8), 15: byte(i)})
		}
	}
	vrs[n/2].addr, vrs[n-2].addr = vip, vip2 // both even: IPv4
	start := time.Now()
	var firstHalf time.Duration
	for i, v := range vrs {
		if i == n/2 {
			firstHalf = time.Since(start)
		}
		if err := f.Block(v.ifname, v.vrid, []netip.Addr{v.addr}); err != nil {
			t.Fatalf("Block of virtual router %d of %d: %v", i+1, n, err)
		}
	}
	all := time.Since(start)
	t.Logf("%d Blocks took %v (%v per Block; the first half %v, the second %v)", n, all, all/n, firstHalf, all-firstHalf)

	if h2.CanDialTCP(vip, 7777) || h2.CanDialTCP(vip2, 7777) {
		t.Error("TCP to a blocked virtual address succeeded")
	}
	if err := f.Unblock(vrs[n-2].ifname, vrs[n-2].vrid, false); err != nil {
		t.Fatal(err)
	}
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(vip2, 7777) }) {
		t.Error("an unblocked virtual address does not answer")
	}
	if h2.CanDialTCP(vip, 7777) {
		t.Error("unblocking one virtual router unblocked another")
	}
	start = time.Now()
	for i, v := range vrs {
		if i == n-2 {
			continue
		}
		if err := f.Unblock(v.ifname, v.vrid, v.addr.Is6()); err != nil {
			t.Fatalf("Unblock of virtual router %d of %d: %v", i+1, n, err)
		}
	}
	t.Logf("%d Unblocks took %v", n-1, time.Since(start))
	if got := h1.NFTTables(t); strings.Contains(got, TablePrefix) {
		t.Errorf("tables left with nothing blocked:\n%s", got)
	}
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(vip, 7777) }) {
		t.Error("the virtual address does not answer with nothing blocked")
	}
}

// A record's key is read back as written, and is what nft shows (record).
func TestRecordKey(t *testing.T) {
	for _, c := range []struct {
		k vrKey
		a netip.Addr
	}{
		{vrKey{"eth0", 51, false}, netip.MustParseAddr("10.99.0.100")},
		{vrKey{"vlan.4094", 255, true}, netip.MustParseAddr("fd99::100")},
		{vrKey{"abcdefghijklmno", 1, false}, netip.MustParseAddr("192.0.2.1")}, // IFNAMSIZ-1 bytes
	} {
		b := recordKey(c.k, c.a)
		k, a, ok := parseRecordKey(b, c.k.v6)
		if !ok || k != c.k || a != c.a {
			t.Errorf("parseRecordKey(recordKey(%+v, %v)) = %+v, %v, %v", c.k, c.a, k, a, ok)
		}
		if _, _, ok := parseRecordKey(b, !c.k.v6); ok {
			t.Errorf("the key of %+v parsed as the other family", c.k)
		}
	}
	for _, b := range [][]byte{nil, make([]byte, 24), recordKey(vrKey{"eth0", 1, false}, netip.MustParseAddr("10.0.0.1"))[:23]} {
		if _, _, ok := parseRecordKey(b, false); ok {
			t.Errorf("parseRecordKey(%x) ok", b)
		}
	}
}

// Block refuses addresses of both families, naming the interface and
// VRID, before it touches the kernel.
func TestBlockMixedFamilies(t *testing.T) {
	f := &Filter{}
	err := f.Block("eth0", 9, []netip.Addr{netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("fd99::1")})
	var fe *FilterError
	if !errors.As(err, &fe) || fe.Interface != "eth0" || fe.VRID != 9 || !strings.Contains(err.Error(), "both families") {
		t.Errorf("Block of both families: %v", err)
	}
}
