//go:build linux

package main

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/vipaddr"
)

// The Accept_Mode table is made when a filtered instance starts
// (RemoveStale), not at its first takeover, whose Block then only adds
// set elements (vipaddr.Filter.Prepare); an instance with -accept makes
// none; Close removes it.
func TestSystemPreparesTheFilter(t *testing.T) {
	netlab.RequireTool(t, "nft")
	lab := netlab.New(t, "vrdpf", 1)
	h := lab.Host(1)
	var sys system
	if err := h.Do(func() (err error) { sys, err = newSystem(slog.New(slog.DiscardHandler)); return err }); err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	hasTable := func() bool {
		_, err := h.Run(context.Background(), "nft", "list", "table", "inet", vipaddr.FilterTable)
		return err == nil
	}
	vips := []netip.Prefix{netip.MustParsePrefix("10.99.0.100/32")}
	accept := Instance{Name: "A", Interface: "eth0", VRID: 52, Priority: 100, Accept: true, VIPs: vips}
	if err := sys.RemoveStale(&accept); err != nil {
		t.Fatal(err)
	}
	if hasTable() {
		t.Fatalf("an instance with accept made table %s", vipaddr.FilterTable)
	}
	filtered := Instance{Name: "F", Interface: "eth0", VRID: 51, Priority: 100, VIPs: vips}
	if err := sys.RemoveStale(&filtered); err != nil {
		t.Fatal(err)
	}
	if !hasTable() {
		t.Fatalf("no table %s after a filtered instance started: its first takeover would make it", vipaddr.FilterTable)
	}
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	if hasTable() {
		t.Errorf("table %s left after Close", vipaddr.FilterTable)
	}
}
