package keepalived

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/netlab"
)

func requireTshark(t *testing.T) {
	t.Helper()
	netlab.RequireTool(t, "tshark")
}

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// TestReadPcap decodes a keepalived capture (shared/captures: VRRPv3 over
// IPv4 and IPv6 and VRRPv2 with a password, from host 1) with tshark.
func TestReadPcap(t *testing.T) {
	requireTshark(t)
	ps, err := ReadPcap(context.Background(), filepath.Join("testdata", "keepalived-v2-v3-ipv4-ipv6-handover.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	src4 := netip.MustParseAddr("10.99.0.1")
	ll := netip.MustParseAddr("fe80::ff:fe00:1")
	v3, ok := ps.FirstAdvertAfter(src4, time.Unix(0, 0))
	if !ok {
		t.Fatal("no IPv4 advert")
	}
	type advert struct {
		Version, VRID, Priority, Count, AuthType, AdverInt, Checksum, TTL int
		Dst                                                               netip.Addr
		Addresses                                                         []netip.Addr
		AuthData                                                          string
	}
	view := func(p Packet) advert {
		return advert{p.Version, p.VRID, p.Priority, p.Count, p.AuthType, p.AdverInt, p.Checksum, p.TTL, p.Dst, p.Addresses, p.AuthData}
	}
	want := advert{Version: 3, VRID: 51, Priority: 150, Count: 2, AdverInt: 100, Checksum: 1, TTL: 255,
		Dst:       netip.MustParseAddr("224.0.0.18"),
		Addresses: []netip.Addr{netip.MustParseAddr("10.99.0.100"), netip.MustParseAddr("10.99.0.101")}}
	if diff := cmp.Diff(want, view(v3), addrCmp); diff != "" {
		t.Errorf("first IPv4 advert (-want +got):\n%s", diff)
	}
	if got := v3.Time; got != time.Unix(1795628605, 709356000) {
		t.Errorf("first IPv4 advert time %v (%d ns), want 1795628605.709356000", got, got.UnixNano())
	}
	if v3.SrcMAC.String() != "02:00:00:00:00:01" {
		t.Errorf("source MAC %v", v3.SrcMAC)
	}
	if v3.AdvertInterval() != time.Second {
		t.Errorf("AdvertInterval() = %v, want 1s", v3.AdvertInterval())
	}

	var v2 Packet
	for _, p := range ps.Adverts(src4) {
		if p.Version == 2 {
			v2 = p
			break
		}
	}
	want2 := advert{Version: 2, VRID: 53, Priority: 150, Count: 1, AuthType: 1, AdverInt: 1, Checksum: 1, TTL: 255,
		Dst: netip.MustParseAddr("224.0.0.18"), Addresses: []netip.Addr{netip.MustParseAddr("10.99.0.102")}, AuthData: "secret1"}
	if diff := cmp.Diff(want2, view(v2), addrCmp); diff != "" {
		t.Errorf("first VRRPv2 advert (-want +got):\n%s", diff)
	}

	v6 := ps.Adverts(ll)
	if len(v6) == 0 {
		t.Fatal("no IPv6 advert")
	}
	want6 := advert{Version: 3, VRID: 52, Priority: 150, Count: 1, AdverInt: 100, Checksum: 1, TTL: 255,
		Dst: netip.MustParseAddr("ff02::12"), Addresses: []netip.Addr{netip.MustParseAddr("fd99::100")}}
	if diff := cmp.Diff(want6, view(v6[0]), addrCmp); diff != "" {
		t.Errorf("first IPv6 advert (-want +got):\n%s", diff)
	}

	// keepalived sends 2 gratuitous ARPs per address per burst here
	// (vrrp_garp_master_repeat in that capture's config) and unsolicited
	// NAs with Override set, without Router (forwarding is off).
	garps := ps.GARPs(netip.MustParseAddr("10.99.0.104"))
	if len(garps) < 2 || garps[0].ARPOp != 1 || garps[0].ARPTarget != netip.MustParseAddr("10.99.0.104") {
		t.Errorf("GARPs(10.99.0.104) = %+v, want gratuitous requests", garps)
	}
	nas := ps.GARPs(netip.MustParseAddr("fd99::100"))
	if len(nas) == 0 {
		t.Fatal("no unsolicited NA for fd99::100")
	}
	if na := nas[0]; na.Kind != KindNA || !na.NAOverride || na.NARouter || na.NASolicit || na.Dst != netip.MustParseAddr("ff02::1") {
		t.Errorf("first NA for fd99::100 = %+v, want unsolicited, Override, to ff02::1", na)
	}

	// LastAdvertBefore / After bracket a time.
	mid := v6[0].Time
	if p, ok := ps.LastAdvertBefore(src4, mid); !ok || !p.Time.Before(mid) {
		t.Errorf("LastAdvertBefore(%v) = %v, %v", mid, p.Time, ok)
	}
	if got := ps.After(mid); len(got) == 0 || !got[0].Time.After(mid) {
		t.Errorf("After(%v) starts at %v", mid, got)
	}
	if _, ok := ps.FirstAdvertAfter(src4, ps[len(ps)-1].Time); ok {
		t.Error("FirstAdvertAfter(the last packet's time) found a packet")
	}
}

func TestParseTsharkFieldsErrors(t *testing.T) {
	for _, in := range []string{
		"1.5\t02:00:00:00:00:01", // too few columns
		"x" + tabs(len(tsharkFields)-1),
		"1.5\tzz" + tabs(len(tsharkFields)-2),
	} {
		if _, err := ParseTsharkFields([]byte(in + "\n")); err == nil {
			t.Errorf("ParseTsharkFields(%q) succeeded", in)
		}
	}
	ps, err := ParseTsharkFields([]byte("\n1.25" + tabs(len(tsharkFields)-1) + "\n"))
	if err != nil || len(ps) != 1 || ps[0].Kind != KindOther || ps[0].Time != time.Unix(1, 250000000) {
		t.Errorf("ParseTsharkFields(bare frame) = %+v, %v", ps, err)
	}
}

func tabs(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '\t'
	}
	return string(b)
}

func TestParseEpoch(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1795628605.709356000":  time.Unix(1795628605, 709356000),
		"1795628605.7":          time.Unix(1795628605, 700000000),
		"1795628605":            time.Unix(1795628605, 0),
		"1795628605.1234567899": time.Unix(1795628605, 123456789),
	} {
		got, err := parseEpoch(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseEpoch(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "1.x", "1.-5"} {
		if _, err := parseEpoch(in); err == nil {
			t.Errorf("parseEpoch(%q) succeeded", in)
		}
	}
}

func TestParseTransitions(t *testing.T) {
	in := "1795630707.313229171 INSTANCE VI_6 BACKUP 150\n" +
		"1795630707.654721925 GROUP G1 MASTER 0\n\n"
	got, err := parseTransitions([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Transition{
		{Time: time.Unix(1795630707, 313229171), Type: "INSTANCE", Name: "VI_6", State: "BACKUP", Priority: 150},
		{Time: time.Unix(1795630707, 654721925), Type: "GROUP", Name: "G1", State: "MASTER", Priority: 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseTransitions (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"1 INSTANCE VI_1 MASTER", "x INSTANCE VI_1 MASTER 1", "1 INSTANCE VI_1 MASTER p"} {
		if _, err := parseTransitions([]byte(bad)); err == nil {
			t.Errorf("parseTransitions(%q) succeeded", bad)
		}
	}
}

func TestEntering(t *testing.T) {
	for in, want := range map[string][2]string{
		"Wed Nov 25 18:18:27 2026: (VI_6) Entering BACKUP STATE (init)":  {"VI_6", "BACKUP"},
		"Wed Nov 25 18:18:27 2026: (fast) Entering MASTER STATE":         {"fast", "MASTER"},
		"Wed Nov 25 18:18:27 2026: (VI_6) Receive advertisement timeout": {},
	} {
		n, s, ok := entering(in)
		if ok != (want[0] != "") || n != want[0] || s != want[1] {
			t.Errorf("entering(%q) = %q, %q, %v; want %q", in, n, s, ok, want)
		}
	}
}

func TestAddrListed(t *testing.T) {
	out := []byte(`1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
2: eth0    inet 10.99.0.1/24 scope global eth0\       valid_lft forever preferred_lft forever
2: eth0    inet 10.99.0.100/24 scope global secondary eth0\       valid_lft forever preferred_lft forever
2: eth0    inet6 fd99::100/64 scope global nodad \       valid_lft forever preferred_lft forever
`)
	for a, want := range map[string]bool{"10.99.0.100": true, "fd99::100": true, "10.99.0.10": false, "fd99::1": false} {
		if got := addrListed(out, netip.MustParseAddr(a)); got != want {
			t.Errorf("addrListed(%s) = %v, want %v", a, got, want)
		}
	}
}
