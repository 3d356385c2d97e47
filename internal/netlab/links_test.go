package netlab

import (
	"net/netip"
	"testing"
)

func TestLinkAddressing(t *testing.T) {
	for _, c := range []struct {
		i          int
		name       string
		prefix, a1 string
	}{
		{1, "l1", "10.0.1.0/24", "10.0.1.1"},
		{255, "l255", "10.0.255.0/24", "10.0.255.1"},
		{256, "l256", "10.1.0.0/24", "10.1.0.1"},
		{MaxLinks, "l4094", "10.15.254.0/24", "10.15.254.1"},
	} {
		if got := LinkName(c.i); got != c.name {
			t.Errorf("LinkName(%d) = %q, want %q", c.i, got, c.name)
		}
		if got := LinkPrefix(c.i); got != netip.MustParsePrefix(c.prefix) {
			t.Errorf("LinkPrefix(%d) = %v, want %s", c.i, got, c.prefix)
		}
		if got := LinkAddr(c.i, 1); got != netip.MustParseAddr(c.a1) {
			t.Errorf("LinkAddr(%d, 1) = %v, want %s", c.i, got, c.a1)
		}
		if !LinkPrefix(c.i).Contains(LinkAddr(c.i, 2)) {
			t.Errorf("LinkPrefix(%d) = %v does not hold LinkAddr(%d, 2) = %v", c.i, LinkPrefix(c.i), c.i, LinkAddr(c.i, 2))
		}
	}
	// Every link has a subnet of its own.
	seen := map[netip.Prefix]int{}
	for i := 1; i <= MaxLinks; i++ {
		if j, dup := seen[LinkPrefix(i)]; dup {
			t.Fatalf("links %d and %d share %v", j, i, LinkPrefix(i))
		}
		seen[LinkPrefix(i)] = i
	}
}
