//go:build linux

package vipaddr

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
	"golang.org/x/sys/unix"
)

// nftWatch listens, in h's namespace, to the nftables notifications the
// kernel sends for each object a committed transaction creates or
// deletes (the group `nft monitor` reads).
type nftWatch struct {
	t  *testing.T
	fd int
}

func newNFTWatch(t *testing.T, h *netlab.Host) *nftWatch {
	t.Helper()
	w := &nftWatch{t: t, fd: -1}
	err := h.Do(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return err
		}
		w.fd = fd
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.NFNLGRP_NFTABLES - 1)})
	})
	if w.fd >= 0 {
		t.Cleanup(func() { unix.Close(w.fd) })
	}
	if err := err; err != nil {
		t.Fatalf("nftables notifications: %v", err)
	}
	return w
}

// nftMsgNames names the nftables messages of the notifications.
var nftMsgNames = map[int]string{
	unix.NFT_MSG_NEWTABLE: "new table", unix.NFT_MSG_DELTABLE: "del table",
	unix.NFT_MSG_NEWCHAIN: "new chain", unix.NFT_MSG_DELCHAIN: "del chain",
	unix.NFT_MSG_NEWRULE: "new rule", unix.NFT_MSG_DELRULE: "del rule",
	unix.NFT_MSG_NEWSET: "new set", unix.NFT_MSG_DELSET: "del set",
	unix.NFT_MSG_NEWSETELEM: "new element", unix.NFT_MSG_DELSETELEM: "del element",
}

// transaction returns the notifications of the next committed
// transaction, by name, in order, up to its generation message: one
// transaction's worth of kernel work.
func (w *nftWatch) transaction() []string {
	w.t.Helper()
	var out []string
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		if err != nil {
			w.t.Fatalf("nftables notifications: %v (so far %v)", err, out)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			w.t.Fatal(err)
		}
		for _, m := range msgs {
			if int(m.Header.Type>>8) != unix.NFNL_SUBSYS_NFTABLES {
				continue
			}
			typ := int(m.Header.Type & 0xff)
			if typ == unix.NFT_MSG_NEWGEN {
				return out
			}
			name, ok := nftMsgNames[typ]
			if !ok {
				name = fmt.Sprintf("message %d", typ)
			}
			out = append(out, name)
		}
	}
}

// onlyElements reports whether a transaction only changed set elements.
func onlyElements(tx []string) bool {
	return len(tx) > 0 && !slices.ContainsFunc(tx, func(s string) bool { return s != "new element" && s != "del element" })
}

// After Prepare, a takeover's Block is one transaction that only adds the
// virtual router's set elements (a record and a drop address), however
// often it blocks and unblocks: the table, its base chain, four sets and
// four rules are made once, not in the path of the first gratuitous ARP.
// The table stays, empty, after the last Unblock, and goes with Close; a
// flushed ruleset is made again by the next Block.
func TestBlockAfterPrepareOnlyAddsElements(t *testing.T) {
	netlab.RequireTool(t, "nft")
	lab := netlab.New(t, "vipfc", 1)
	h := lab.Host(1)
	var f *Filter
	if err := h.Do(func() (err error) { f, err = NewFilter(nil); return err }); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vip := []netip.Addr{netip.MustParseAddr("10.99.0.100")}
	if _, err := f.RemoveStale("eth0", 51, false); err != nil { // as vrrpd at start
		t.Fatal(err)
	}
	if err := f.Prepare(); err != nil {
		t.Fatal(err)
	}
	w := newNFTWatch(t, h) // from here on
	hasTable := func() bool {
		_, err := h.Run(context.Background(), "nft", "list", "table", "inet", FilterTable)
		return err == nil
	}
	for i := range 3 {
		if err := f.Block("eth0", 51, vip); err != nil {
			t.Fatal(err)
		}
		if tx := w.transaction(); !onlyElements(tx) || len(tx) != 2 {
			t.Errorf("Block %d after Prepare: a transaction of %v; want only the 2 new elements (record, drop address)", i+1, tx)
		}
		if got := nftSet(t, h, "drop4"); !strings.Contains(got, "10.99.0.100") {
			t.Errorf("Block %d: drop4 is\n%s\nwant 10.99.0.100 in it", i+1, got)
		}
		if err := f.Unblock("eth0", 51, false); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the record's, then the drop address's transaction
			if tx := w.transaction(); !onlyElements(tx) {
				t.Errorf("Unblock %d after Prepare: a transaction of %v; want only elements deleted (the table stays)", i+1, tx)
			}
		}
		if !hasTable() {
			t.Fatalf("Unblock %d: table %s gone; want it kept after Prepare", i+1, FilterTable)
		}
	}
	// Flushed under the Filter: the next Block makes it again.
	if _, err := h.Run(context.Background(), "nft", "flush", "ruleset"); err != nil {
		t.Fatal(err)
	}
	w.transaction()
	if err := f.Block("eth0", 51, vip); err != nil {
		t.Fatalf("Block after nft flush ruleset: %v", err)
	}
	if got := nftSet(t, h, "drop4"); !strings.Contains(got, "10.99.0.100") {
		t.Errorf("Block after nft flush ruleset: drop4 is\n%s\nwant 10.99.0.100 in it", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if hasTable() {
		t.Errorf("after Close: table %s still there", FilterTable)
	}
}
