package arpnd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/vrrp"
	"github.com/mdlayher/ndp"
)

var (
	llVIP    = netip.MustParseAddr("fe80::7")
	allRtrs  = netip.MustParseAddr("ff02::2")
	peerLL   = netip.MustParseAddr("fe80::99")
	raFields = RAConfig{
		Other:         true,
		Preference:    ndp.High,
		ReachableTime: 30 * time.Second,
		RetransTimer:  time.Second,
		MTU:           1500,
		Prefixes: []RAPrefix{
			{Prefix: netip.MustParsePrefix("2001:db8:1::/64")},
			{Prefix: netip.MustParsePrefix("2001:db8:2:ff::/48"), OffLink: true, NoAutonomous: true, ValidLifetime: ndp.Infinity, PreferredLifetime: time.Hour},
		},
	}
)

// TestMarshalRouterAdvertisement checks every field of an RA frame.
func TestMarshalRouterAdvertisement(t *testing.T) {
	vmac := VirtualMAC(7, true)
	got, err := MarshalRouterAdvertisement(vmac, llVIP, raFields)
	if err != nil {
		t.Fatal(err)
	}
	want := join(
		// Ethernet
		[]byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, // destination: ff02::1 (RFC 2464 section 7)
		[]byte{0x00, 0x00, 0x5e, 0x00, 0x02, 0x07}, // source: IPv6 virtual MAC, VRID 7
		[]byte{0x86, 0xdd},                         // EtherType IPv6
		// IPv6 (RFC 8200)
		[]byte{0x60, 0x00, 0x00, 0x00}, // version 6, traffic class 0, flow label 0
		[]byte{0x00, 0x60},             // payload length 96 = 16 + 8 + 8 + 2*32
		[]byte{58},                     // next header ICMPv6
		[]byte{255},                    // hop limit 255 (RFC 4861 section 6.1.2)
		[]byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07}, // source: the link-local virtual address
		[]byte{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}, // destination: all nodes
		// ICMPv6 Router Advertisement (RFC 4861 section 4.2)
		[]byte{134},                    // type
		[]byte{0},                      // code
		[]byte{0x00, 0x00},             // checksum, filled in below
		[]byte{64},                     // Cur Hop Limit: default 64
		[]byte{0x48},                   // M=0 O=1 H=0 Prf=01 (high) P=0
		[]byte{0x07, 0x08},             // Router Lifetime 1800 s = 3 * 600
		[]byte{0x00, 0x00, 0x75, 0x30}, // Reachable Time 30000 ms
		[]byte{0x00, 0x00, 0x03, 0xe8}, // Retrans Timer 1000 ms
		// Source Link-Layer Address option (RFC 4861 section 4.6.1)
		[]byte{1, 1},
		[]byte{0x00, 0x00, 0x5e, 0x00, 0x02, 0x07},
		// MTU option (section 4.6.4)
		[]byte{5, 1, 0, 0},
		[]byte{0x00, 0x00, 0x05, 0xdc}, // 1500
		// Prefix Information (section 4.6.2), defaults
		[]byte{3, 4},
		[]byte{64},                     // prefix length
		[]byte{0xc0},                   // L=1 A=1
		[]byte{0x00, 0x27, 0x8d, 0x00}, // valid 2592000 s (30 days)
		[]byte{0x00, 0x09, 0x3a, 0x80}, // preferred 604800 s (7 days)
		[]byte{0, 0, 0, 0},             // reserved
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		// Prefix Information, off-link, not autonomous, masked to /48
		[]byte{3, 4},
		[]byte{48},
		[]byte{0x00},                   // L=0 A=0
		[]byte{0xff, 0xff, 0xff, 0xff}, // valid: infinity
		[]byte{0x00, 0x00, 0x0e, 0x10}, // preferred 3600 s
		[]byte{0, 0, 0, 0},
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	)
	binary.BigEndian.PutUint16(want[56:58], refChecksum(llVIP, allNodes, want[54:]))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("router advertisement mismatch (-want +got):\n%s", diff)
	}
	if c := refChecksum(llVIP, allNodes, got[54:]); c != 0 {
		t.Errorf("checksum residue %#04x, want 0", c)
	}
	// ndp parses it back to the configuration.
	m, err := ndp.ParseMessage(got[54:])
	if err != nil {
		t.Fatal(err)
	}
	ra, ok := m.(*ndp.RouterAdvertisement)
	if !ok || ra.RouterLifetime != 1800*time.Second || !ra.OtherConfiguration || ra.ManagedConfiguration || len(ra.Options) != 4 {
		t.Errorf("parsed back: %+v", m)
	}
}

func TestMarshalRouterAdvertisementMinimal(t *testing.T) {
	// The zero RAConfig: no MTU, no prefixes; lifetime 0 when negative,
	// unspecified hop limit when negative.
	got, err := MarshalRouterAdvertisement(hostMAC, ll1, RAConfig{DefaultLifetime: -1, CurHopLimit: -1, Managed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != ethHeaderLen+ipv6HeaderLen+24 {
		t.Fatalf("length %d, want %d", len(got), ethHeaderLen+ipv6HeaderLen+24)
	}
	ra := got[54:]
	if diff := cmp.Diff([]byte{134, 0}, ra[0:2]); diff != "" {
		t.Errorf("type/code (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(join([]byte{0, 0x80, 0, 0}, make([]byte, 8), []byte{1, 1}, hostMAC), ra[4:]); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if c := refChecksum(ll1, allNodes, ra); c != 0 {
		t.Errorf("checksum residue %#04x", c)
	}
	if _, err := MarshalRouterAdvertisement(hostMAC, vip6, RAConfig{}); !errors.Is(err, ErrNoLinkLocal) {
		t.Errorf("global source: %v, want ErrNoLinkLocal", err)
	}
}

func TestRAConfigDefaults(t *testing.T) {
	for _, tt := range []struct {
		cfg                         RAConfig
		min, max, initial, lifetime time.Duration
	}{
		{RAConfig{}, 198 * time.Second, 600 * time.Second, 16 * time.Second, 1800 * time.Second},
		{RAConfig{MaxInterval: 8 * time.Second}, 6 * time.Second, 8 * time.Second, 16 * time.Second, 24 * time.Second},
		{RAConfig{MaxInterval: 30 * time.Second, MinInterval: 10 * time.Second, InitialInterval: 3 * time.Second, DefaultLifetime: 9000 * time.Second},
			10 * time.Second, 30 * time.Second, 3 * time.Second, 9000 * time.Second},
		{RAConfig{DefaultLifetime: -time.Second}, 198 * time.Second, 600 * time.Second, 16 * time.Second, 0},
	} {
		p, err := tt.cfg.params()
		if err != nil {
			t.Errorf("%+v: %v", tt.cfg, err)
			continue
		}
		got := []time.Duration{p.min, p.max, p.initial, p.msg.RouterLifetime}
		if diff := cmp.Diff([]time.Duration{tt.min, tt.max, tt.initial, tt.lifetime}, got); diff != "" {
			t.Errorf("%+v: min, max, initial, lifetime (-want +got):\n%s", tt.cfg, diff)
		}
	}
	p, _ := (&RAConfig{}).params()
	if p.msg.CurrentHopLimit != 64 {
		t.Errorf("default hop limit %d, want 64", p.msg.CurrentHopLimit)
	}
}

func TestRAConfigErrors(t *testing.T) {
	pfx := func(s string) []RAPrefix { return []RAPrefix{{Prefix: netip.MustParsePrefix(s)}} }
	for name, c := range map[string]RAConfig{
		"max too small":        {MaxInterval: 3 * time.Second},
		"max too large":        {MaxInterval: 1801 * time.Second},
		"min too small":        {MinInterval: 2 * time.Second},
		"min over 0.75 max":    {MaxInterval: 100 * time.Second, MinInterval: 76 * time.Second},
		"initial under 3s":     {InitialInterval: time.Second},
		"lifetime under max":   {DefaultLifetime: 599 * time.Second},
		"lifetime over 9000s":  {DefaultLifetime: 9001 * time.Second},
		"hop limit":            {CurHopLimit: 256},
		"preference":           {Preference: 2},
		"reachable":            {ReachableTime: 2 * time.Hour},
		"mtu":                  {MTU: 1000},
		"link-local prefix":    {Prefixes: pfx("fe80::/64")},
		"multicast prefix":     {Prefixes: pfx("ff02::/16")},
		"IPv4 prefix":          {Prefixes: pfx("192.0.2.0/24")},
		"invalid prefix":       {Prefixes: []RAPrefix{{}}},
		"preferred over valid": {Prefixes: []RAPrefix{{Prefix: netip.MustParsePrefix("2001:db8::/64"), ValidLifetime: time.Hour, PreferredLifetime: 2 * time.Hour}}},
		"too many prefixes":    {Prefixes: make([]RAPrefix, 45)},
	} {
		if _, err := NewConn(Config{RouterAdvertisements: &c}, testIfi, newFakeConn(), newFakeConn()); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: NewConn: %v, want ErrConfig", name, err)
		}
		if err := (&Config{RouterAdvertisements: &c}).validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: validate: %v, want ErrConfig", name, err)
		}
	}
}

// vr6 is an IPv6 virtual router with the link-local virtual address first
// (RFC 9568 section 5.2.9).
func vr6() vrrp.VRInfo {
	return vr4(llVIP.String(), vip6.String())
}

// raTimes returns the send times of the Router Advertisements among fs.
func raTimes(fs []sentFrame) []time.Duration {
	var ts []time.Duration
	for _, f := range fs {
		if isICMPv6Type(f.Frame, 134) {
			ts = append(ts, f.At)
		}
	}
	return ts
}

// newRATest returns an Announcer advertising with cfg whose random draws
// always return the upper bound.
func newRATest(t *testing.T, cfg Config) (*Announcer, *fakeConn) {
	t.Helper()
	a, _, nc := newTest(t, cfg)
	a.rand = func(lo, hi time.Duration) time.Duration { return hi }
	return a, nc
}

// TestRASchedule: RAs only between Take and Release, first at Take, the
// first three intervals capped at InitialInterval, none after Release.
func TestRASchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{Mode: ModeVirtualMAC, MasterRepeat: 1, MasterDelay: -1, RouterAdvertisements: &RAConfig{}}
		a, nc := newRATest(t, cfg)
		vr := vr6()

		// Backup, and an Announce without Take: no RA.
		if err := a.Announce(vr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if ts := raTimes(nc.frames()); len(ts) != 0 {
			t.Fatalf("RAs before Take at %v", ts)
		}
		if err := a.Release(vr); err != nil {
			t.Fatal(err)
		}
		start := time.Since(nc.start)

		takeover(t, a, vr)
		time.Sleep(1300 * time.Second)
		synctest.Wait()
		s := time.Second
		want := []time.Duration{0, 16 * s, 32 * s, 632 * s, 1232 * s}
		for i := range want {
			want[i] += start
		}
		if diff := cmp.Diff(want, raTimes(nc.frames())); diff != "" {
			t.Errorf("RA times (-want +got):\n%s", diff)
		}
		wantRA, err := MarshalRouterAdvertisement(VirtualMAC(7, true), llVIP, RAConfig{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range nc.frames() {
			if isICMPv6Type(f.Frame, 134) && (!bytes.Equal(f.Frame, wantRA) || f.Dst != "33:33:00:00:00:01") {
				t.Fatalf("RA %x to %s, want %x to 33:33:00:00:00:01", f.Frame, f.Dst, wantRA)
			}
		}
		if got := a.Stats().RAs; got != 5 {
			t.Errorf("Stats.RAs = %d, want 5", got)
		}

		// A lower-priority Announce does not touch the RA schedule.
		if err := a.Announce(vr); err != nil {
			t.Fatal(err)
		}
		n := len(raTimes(nc.frames()))
		if err := a.Release(vr); err != nil {
			t.Fatal(err)
		}
		if got := a.Pending(); got != 0 {
			t.Errorf("Pending = %d after Release, want 0", got)
		}
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		if got := len(raTimes(nc.frames())); got != n {
			t.Errorf("%d RAs after Release (no final zero-lifetime RA either)", got-n)
		}

		// A new takeover starts over with the initial intervals.
		takeover(t, a, vr)
		restart := time.Since(nc.start)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		ts := raTimes(nc.frames())[n:]
		if diff := cmp.Diff([]time.Duration{restart, restart + 16*s}, ts); diff != "" {
			t.Errorf("RA times after a new takeover (-want +got):\n%s", diff)
		}
	})
}

func TestRAOnlyIPv6AndOptIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Off by default.
		a, ac, nc := newTest(t, Config{MasterRepeat: -1})
		takeover(t, a, vr6())
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(nc.frames()) + len(ac.frames()); n != 0 {
			t.Errorf("%d frames without RouterAdvertisements", n)
		}
		// Never for IPv4 virtual routers.
		a, ac, nc = newTest(t, Config{MasterRepeat: -1, RouterAdvertisements: &RAConfig{}})
		takeover(t, a, vr4("192.0.2.10"))
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(nc.frames()) + len(ac.frames()); n != 0 {
			t.Errorf("%d frames for an IPv4 virtual router", n)
		}
	})
}

// TestRASource: without a link-local virtual address the interface's
// link-local address is the source; without either, Take reports
// ErrNoLinkLocal and no RA goes out.
func TestRASource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, nc := newRATest(t, Config{MasterRepeat: -1, RouterAdvertisements: &RAConfig{}})
		takeover(t, a, vr4(vip6.String()))
		synctest.Wait()
		want, _ := MarshalRouterAdvertisement(hostMAC, ll1, RAConfig{})
		if f := nc.frames(); len(f) != 1 || !bytes.Equal(f[0].Frame, want) {
			t.Errorf("frames %v, want one RA %x from the interface link-local", f, want)
		}
		// An Announce adding a link-local virtual address moves the
		// source to it.
		if err := a.Announce(vr6()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(16 * time.Second)
		synctest.Wait()
		want, _ = MarshalRouterAdvertisement(hostMAC, llVIP, RAConfig{})
		if f := nc.frames(); len(f) != 2 || !bytes.Equal(f[1].Frame, want) {
			t.Errorf("frames %v, want a second RA %x from the link-local VIP", f, want)
		}

		ifi := testIfi
		ifi.LinkLocal = netip.Addr{}
		nc2 := newFakeConn()
		a2, err := NewConn(Config{MasterRepeat: 1, MasterDelay: -1, RouterAdvertisements: &RAConfig{}}, ifi, newFakeConn(), nc2)
		if err != nil {
			t.Fatal(err)
		}
		defer a2.Close()
		if err := a2.Take(vr4(vip6.String())); !errors.Is(err, ErrNoLinkLocal) {
			t.Errorf("Take without any link-local: %v, want ErrNoLinkLocal", err)
		}
		if err := a2.Announce(vr4(vip6.String())); err != nil {
			t.Errorf("Announce: %v", err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		// Only the NA, from the virtual address (Interface.LinkLocal).
		na, _ := MarshalUnsolicitedNA(hostMAC, vip6, vip6)
		if f := nc2.frames(); len(f) != 1 || !bytes.Equal(f[0].Frame, na) {
			t.Errorf("frames %v without a link-local source, want only the NA %x", f, na)
		}
	})
}

// rsFrame builds a Router Solicitation from src (with a source link-layer
// address option if sll is set) to ff02::2.
func rsFrame(t testing.TB, src netip.Addr, sll net.HardwareAddr) []byte {
	t.Helper()
	rs := &ndp.RouterSolicitation{}
	if sll != nil {
		rs.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: sll}}
	}
	b, err := marshalND(allRoutersMAC, peerMAC, src, allRtrs, rs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRouterSolicitation: solicitations are answered only while master,
// after MAX_RA_DELAY_TIME, never within MIN_DELAY_BETWEEN_RAS of the last
// RA, and by the scheduled RA when that comes first (RFC 4861 section
// 6.2.6); invalid ones are dropped.
func TestRouterSolicitation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, nc := newRATest(t, Config{Mode: ModeVirtualMAC, MasterRepeat: -1, RouterAdvertisements: &RAConfig{}})
		vr := vr6()
		rs := rsFrame(t, peerLL, peerMAC)
		ms := time.Millisecond

		// Backup: no answer.
		nc.in <- rs
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(nc.frames()); n != 0 {
			t.Fatalf("backup answered a solicitation: %d frames", n)
		}
		base := time.Since(nc.start)

		takeover(t, a, vr) // RA at 0, next due at 16s
		time.Sleep(time.Second)
		nc.in <- rs // at 1s: within 3s of the last RA: at 3s + 0.5s
		time.Sleep(9 * time.Second)
		nc.in <- rs // at 10s: at 10.5s; the third RA, so the next is due at 610.5s
		time.Sleep(600 * ms)
		nc.in <- rs // at 10.6s: 3s after the last, plus 0.5s: 14s
		time.Sleep(100 * ms)
		nc.in <- rs // at 10.7s: 14s again: answered by the pending one
		time.Sleep(100 * ms)
		bad := bytes.Clone(rs)
		bad[21] = 64 // hop limit
		nc.in <- bad
		nc.in <- rsFrame(t, netip.IPv6Unspecified(), peerMAC) // :: with a source link-layer address
		nc.in <- rsFrame(t, netip.IPv6Unspecified(), nil)     // valid
		time.Sleep(20 * time.Second)
		synctest.Wait()
		// The solicitation from :: at 10.8s is answered by the one at 14s.

		s := time.Second
		want := []time.Duration{0, 3500 * ms, 10500 * ms, 14 * s}
		for i := range want {
			want[i] += base
		}
		if diff := cmp.Diff(want, raTimes(nc.frames())); diff != "" {
			t.Errorf("RA times (-want +got):\n%s", diff)
		}
		if st := a.Stats(); st.RSs != 5 || st.Malformed != 2 || st.RAs != 4 {
			t.Errorf("Stats = %+v, want 5 RSs, 2 malformed, 4 RAs", st)
		}

		// Released: solicitations go unanswered.
		if err := a.Release(vr); err != nil {
			t.Fatal(err)
		}
		n := len(nc.frames())
		nc.in <- rs
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := len(nc.frames()); got != n {
			t.Errorf("%d frames after Release", got-n)
		}
	})
}

// TestRAWithResponder: one IPv6 connection serves NS and RS.
func TestRAWithResponder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, nc := newRATest(t, Config{Mode: ModeVirtualMAC, Responder: true, MasterRepeat: -1, RouterAdvertisements: &RAConfig{}})
		takeover(t, a, vr6())
		synctest.Wait()
		got := exchange(nc, nsFrame(t, peerLL, solicitedNode(vip6), vip6, peerMAC))
		if len(got) != 1 || got[0].Frame[54] != 136 {
			t.Errorf("NS answer %v, want one NA", got)
		}
		nc.in <- rsFrame(t, peerLL, peerMAC)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if ts := raTimes(nc.frames()); len(ts) != 2 {
			t.Errorf("RA times %v, want the takeover RA and the solicited one", ts)
		}
	})
}

// TestRACloseStopsTimers: Close ends the RA timer and the reader
// (synctest fails on a leaked goroutine).
func TestRACloseStopsTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc := newFakeConn()
		a, err := NewConn(Config{MasterRepeat: -1, RouterAdvertisements: &RAConfig{}}, testIfi, nil, nc)
		if err != nil {
			t.Fatal(err)
		}
		takeover(t, a, vr6())
		if a.Pending() != 1 {
			t.Fatalf("Pending = %d, want the next RA", a.Pending())
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		n := len(nc.frames())
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := len(nc.frames()); got != n {
			t.Errorf("%d frames after Close", got-n)
		}
	})
}

func TestParseRS(t *testing.T) {
	good := rsFrame(t, peerLL, peerMAC)
	if err := parseRS(good); err != nil {
		t.Fatalf("valid RS: %v", err)
	}
	if err := parseRS(rsFrame(t, netip.IPv6Unspecified(), nil)); err != nil {
		t.Fatalf("valid RS from ::: %v", err)
	}
	withOpt := func(opt []byte) []byte {
		b := rsFrame(t, peerLL, nil)
		b = append(b, opt...)
		binary.BigEndian.PutUint16(b[18:20], uint16(len(b)-54))
		b[56], b[57] = 0, 0
		binary.BigEndian.PutUint16(b[56:58], refChecksum(peerLL, allRtrs, b[54:]))
		return b
	}
	if err := parseRS(withOpt([]byte{14, 1, 1, 2, 3, 4, 5, 6})); err != nil {
		t.Errorf("RS with an unknown option: %v", err)
	}
	for name, b := range map[string][]byte{
		"hop limit":      func() []byte { b := bytes.Clone(good); b[21] = 1; return b }(),
		"code":           func() []byte { b := bytes.Clone(good); b[55] = 1; return b }(),
		"checksum":       func() []byte { b := bytes.Clone(good); b[57] ^= 1; return b }(),
		"zero option":    withOpt([]byte{14, 0, 0, 0, 0, 0, 0, 0}),
		"short option":   withOpt([]byte{14, 2, 0, 0, 0, 0, 0, 0}),
		"sll from ::":    rsFrame(t, netip.IPv6Unspecified(), peerMAC),
		"short":          good[:54+4],
		"payload length": func() []byte { b := bytes.Clone(good); b[19] = 200; return b }(),
	} {
		if err := parseRS(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: %v, want errMalformed", name, err)
		}
	}
	if err := parseRS(nsFrame(t, peerLL, solicitedNode(vip6), vip6, peerMAC)); !errors.Is(err, errNotForUs) {
		t.Errorf("NS: %v, want errNotForUs", err)
	}
}

func BenchmarkRouterSolicitation(b *testing.B) {
	a, err := NewConn(Config{MasterRepeat: -1, RouterAdvertisements: &RAConfig{}}, testIfi, nil, discardConn{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	a.Take(vr6())
	l := a.plat.(*connPlatform).l
	rs := rsFrame(b, peerLL, peerMAC)
	b.ReportAllocs()
	for b.Loop() {
		a.handle(l, discardConn{}, rs)
	}
}
