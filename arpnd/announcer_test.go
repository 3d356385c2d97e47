package arpnd

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/clock"
	"github.com/govrrp/govrrp/vrrp"
	"github.com/mdlayher/packet"
)

// fakeConn captures written frames with the (virtual) time they were sent
// and serves frames pushed into in to ReadFrom.
type fakeConn struct {
	start time.Time
	in    chan []byte

	mu     sync.Mutex
	sent   []sentFrame
	closed chan struct{}
	once   sync.Once
	err    error // returned by WriteTo when set
	errs   int   // how many more times WriteTo returns err (0: always)
}

type sentFrame struct {
	At    time.Duration
	Dst   string
	Frame []byte
}

func newFakeConn() *fakeConn {
	return &fakeConn{start: time.Now(), in: make(chan []byte), closed: make(chan struct{})}
}

func (c *fakeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case f := <-c.in:
		return copy(b, f), &packet.Addr{HardwareAddr: net.HardwareAddr(f[6:12])}, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *fakeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		err := c.err
		if c.errs > 0 {
			if c.errs--; c.errs == 0 {
				c.err = nil
			}
		}
		return 0, err
	}
	c.sent = append(c.sent, sentFrame{At: time.Since(c.start), Dst: addr.(*packet.Addr).HardwareAddr.String(), Frame: bytes.Clone(b)})
	return len(b), nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) frames() []sentFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentFrame(nil), c.sent...)
}

func (c *fakeConn) times() []time.Duration {
	var ts []time.Duration
	for _, f := range c.frames() {
		ts = append(ts, f.At)
	}
	return ts
}

var testIfi = Interface{Name: "eth0", Index: 2, HardwareAddr: hostMAC, LinkLocal: ll1}

func newTest(t *testing.T, cfg Config) (*Announcer, *fakeConn, *fakeConn) {
	t.Helper()
	ac, nc := newFakeConn(), newFakeConn()
	a, err := NewConn(cfg, testIfi, ac, nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, ac, nc
}

func vr4(addrs ...string) vrrp.VRInfo {
	vr := vrrp.VRInfo{Name: "vr7", Interface: "eth0", IfIndex: 2, VRID: 7, Version: 3, Priority: 100}
	for _, s := range addrs {
		vr.Addrs = append(vr.Addrs, netip.MustParseAddr(s))
	}
	return vr
}

func takeover(t *testing.T, a *Announcer, vr vrrp.VRInfo) {
	t.Helper()
	if err := a.Take(vr); err != nil {
		t.Fatalf("Take: %v", err)
	}
	if err := a.Announce(vr); err != nil {
		t.Fatalf("Announce: %v", err)
	}
}

// at returns n copies of d.
func at(d time.Duration, n int) []time.Duration {
	ts := make([]time.Duration, n)
	for i := range ts {
		ts[i] = d
	}
	return ts
}

func seq(parts ...[]time.Duration) []time.Duration {
	var ts []time.Duration
	for _, p := range parts {
		ts = append(ts, p...)
	}
	return ts
}

func TestDefaultSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, _ := newTest(t, Config{})
		vr := vr4("192.0.2.10", "192.0.2.11")
		takeover(t, a, vr)
		time.Sleep(time.Minute)
		synctest.Wait()
		// keepalived defaults: 5 rounds now, 5 more after 5s, no refresh.
		want := seq(at(0, 10), at(5*time.Second, 10))
		if diff := cmp.Diff(want, ac.times()); diff != "" {
			t.Errorf("send times (-want +got):\n%s", diff)
		}
		// Rounds go over the addresses in order, from the interface MAC.
		var want2 [][]string
		for range 10 {
			want2 = append(want2, garpFields(hostMAC, vr.Addrs[0]), garpFields(hostMAC, vr.Addrs[1]))
		}
		checkSent(t, "GARPs", ac.frames(), "ff:ff:ff:ff:ff:ff", want2...)
		if got := a.Pending(); got != 0 {
			t.Errorf("Pending = %d after the schedule, want 0", got)
		}
		if got := a.Stats().GARPs; got != 20 {
			t.Errorf("Stats.GARPs = %d, want 20", got)
		}
	})
}

func TestScheduleSpacingAndRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := time.Millisecond
		a, ac, _ := newTest(t, Config{
			MasterRepeat:        2,
			MasterDelay:         time.Second,
			GARPInterval:        100 * ms,
			MasterRefresh:       10 * time.Second,
			MasterRefreshRepeat: 3,
		})
		takeover(t, a, vr4("192.0.2.10", "192.0.2.11"))
		time.Sleep(25 * time.Second)
		synctest.Wait()
		want := []time.Duration{
			0, 100 * ms, 200 * ms, 300 * ms, // 2 rounds x 2 addresses, 100ms apart
			1000 * ms, 1100 * ms, 1200 * ms, 1300 * ms, // second burst after 1s
			10000 * ms, 10100 * ms, 10200 * ms, 10300 * ms, 10400 * ms, 10500 * ms, // refresh: 3 rounds
			20000 * ms, 20100 * ms, 20200 * ms, 20300 * ms, 20400 * ms, 20500 * ms,
		}
		if diff := cmp.Diff(want, ac.times()); diff != "" {
			t.Errorf("send times (-want +got):\n%s", diff)
		}
		if err := a.Release(vr4("192.0.2.10", "192.0.2.11")); err != nil {
			t.Fatal(err)
		}
		if got := a.Pending(); got != 0 {
			t.Errorf("Pending = %d after Release, want 0", got)
		}
		n := len(ac.frames())
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := len(ac.frames()); got != n {
			t.Errorf("%d frames sent after Release", got-n)
		}
	})
}

func TestGNAInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, nc := newTest(t, Config{MasterRepeat: 3, MasterDelay: -1, GNAInterval: 50 * time.Millisecond, GARPInterval: time.Second})
		vr := vr4("2001:db8::10")
		takeover(t, a, vr)
		time.Sleep(time.Minute)
		synctest.Wait()
		if diff := cmp.Diff([]time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond}, nc.times()); diff != "" {
			t.Errorf("NA send times (-want +got):\n%s", diff)
		}
		if n := len(ac.frames()); n != 0 {
			t.Errorf("%d frames on the ARP connection for an IPv6 router", n)
		}
		checkSent(t, "NAs", nc.frames(), "33:33:00:00:00:01", times(unsolicitedNAFields(hostMAC, ll1, vr.Addrs[0]), 3)...)
		if got := a.Stats().NAs; got != 3 {
			t.Errorf("Stats.NAs = %d, want 3", got)
		}
	})
}

func TestReleaseCancelsMidBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, _ := newTest(t, Config{GARPInterval: time.Second})
		vr := vr4("192.0.2.10")
		takeover(t, a, vr)
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		if err := a.Release(vr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if diff := cmp.Diff([]time.Duration{0, time.Second, 2 * time.Second}, ac.times()); diff != "" {
			t.Errorf("send times (-want +got):\n%s", diff)
		}
	})
}

func TestNewTakeoverCancelsPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, _ := newTest(t, Config{MasterRepeat: 1, MasterDelay: 5 * time.Second})
		vr := vr4("192.0.2.10")
		takeover(t, a, vr)
		time.Sleep(3 * time.Second)
		takeover(t, a, vr) // a second takeover at 3s: the 5s burst moves to 8s
		time.Sleep(time.Minute)
		synctest.Wait()
		want := []time.Duration{0, 3 * time.Second, 8 * time.Second}
		if diff := cmp.Diff(want, ac.times()); diff != "" {
			t.Errorf("send times (-want +got):\n%s", diff)
		}
	})
}

func TestLowerPriorityBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, _ := newTest(t, Config{MasterRepeat: 2, MasterDelay: 10 * time.Second, LowerPrioRepeat: 1, LowerPrioDelay: 2 * time.Second})
		vr := vr4("192.0.2.10")
		takeover(t, a, vr)
		time.Sleep(4 * time.Second)
		if err := a.Announce(vr); err != nil { // heard a lower priority at 4s
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if err := a.Announce(vr); err != nil { // and again at 4.5s: replaces the pending 6s burst
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		want := seq(at(0, 2), at(4*time.Second, 1), at(4500*time.Millisecond, 1), at(6500*time.Millisecond, 1), at(10*time.Second, 2))
		if diff := cmp.Diff(want, ac.times()); diff != "" {
			t.Errorf("send times (-want +got):\n%s", diff)
		}
	})
}

func TestLowerPriorityDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// LowerPrioRepeat and LowerPrioDelay default to the master values.
		a, ac, _ := newTest(t, Config{MasterRepeat: 2, MasterDelay: 3 * time.Second})
		vr := vr4("192.0.2.10")
		takeover(t, a, vr)
		time.Sleep(10 * time.Second)
		a.Announce(vr)
		time.Sleep(time.Minute)
		synctest.Wait()
		want := seq(at(0, 2), at(3*time.Second, 2), at(10*time.Second, 2), at(13*time.Second, 2))
		if diff := cmp.Diff(want, ac.times()); diff != "" {
			t.Errorf("send times (-want +got):\n%s", diff)
		}
	})
}

func TestDisabledBursts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, _ := newTest(t, Config{MasterRepeat: -1, LowerPrioRepeat: -1, MasterRefresh: time.Second})
		vr := vr4("192.0.2.10")
		takeover(t, a, vr)
		a.Announce(vr)
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		// Only the refresh (1 round a second) is left.
		if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, ac.times()); diff != "" {
			t.Errorf("send times (-want +got):\n%s", diff)
		}
	})
}

func TestAnnounceWithoutTake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, _ := newTest(t, Config{MasterRepeat: 1, MasterDelay: -1})
		vr := vr4("192.0.2.10")
		if err := a.Announce(vr); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		checkSent(t, "GARPs", ac.frames(), "ff:ff:ff:ff:ff:ff", garpFields(hostMAC, vip4))
	})
}

func TestCloseStopsTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ac, nc := newFakeConn(), newFakeConn()
		a, err := NewConn(Config{Responder: true, GARPInterval: time.Second, MasterRefresh: time.Second}, testIfi, ac, nc)
		if err != nil {
			t.Fatal(err)
		}
		takeover(t, a, vr4("192.0.2.10"))
		takeover(t, a, vr4("2001:db8::10"))
		time.Sleep(1500 * time.Millisecond)
		if a.Pending() == 0 {
			t.Fatal("nothing pending before Close")
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		n := len(ac.frames())
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := len(ac.frames()); got != n {
			t.Errorf("%d frames after Close", got-n)
		}
		if err := a.Take(vr4("192.0.2.10")); !errors.Is(err, errClosed) {
			t.Errorf("Take after Close: %v, want errClosed", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		// synctest.Test fails if a goroutine (reader, timer) is left.
	})
}

func TestModes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, _ := newTest(t, Config{Mode: ModeVirtualMAC, MasterRepeat: 1, MasterDelay: -1})
		takeover(t, a, vr4("192.0.2.10"))
		synctest.Wait()
		checkSent(t, "virtual-MAC mode", ac.frames(), "ff:ff:ff:ff:ff:ff", garpFields(VirtualMAC(7, false), vip4))
	})
	if _, err := NewConn(Config{Mode: ModeMacvlan}, testIfi, newFakeConn(), newFakeConn()); !errors.Is(err, ErrUnsupported) {
		t.Errorf("NewConn(ModeMacvlan): %v, want ErrUnsupported", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		ifi  Interface
		want error
	}{
		{"mode", Config{Mode: 9}, testIfi, ErrConfig},
		{"macvlan mode", Config{MacvlanMode: 7}, testIfi, ErrConfig},
		{"refresh repeat", Config{MasterRefreshRepeat: -1}, testIfi, ErrConfig},
		{"repeat", Config{MasterRepeat: 1_000_000}, testIfi, ErrConfig},
		{"interface", Config{Interface: "eth1"}, testIfi, ErrConfig},
		{"MAC", Config{}, Interface{Name: "eth0"}, ErrConfig},
	} {
		if _, err := NewConn(tt.cfg, tt.ifi, newFakeConn(), newFakeConn()); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestOtherInterfaceIgnored(t *testing.T) {
	a, ac, _ := newTest(t, Config{MasterRepeat: 1, MasterDelay: -1})
	vr := vr4("192.0.2.10")
	vr.Interface, vr.IfIndex = "eth1", 3
	takeover(t, a, vr)
	if n := len(ac.frames()); n != 0 {
		t.Errorf("%d frames for a router on another interface", n)
	}
	if err := a.Announce(vrrp.VRInfo{VRID: 1, Interface: "eth0"}); err == nil {
		t.Error("no addresses: no error")
	}
}

func TestSendErrorsCounted(t *testing.T) {
	a, ac, _ := newTest(t, Config{MasterRepeat: 2, MasterDelay: -1})
	ac.err = errors.New("boom")
	takeover(t, a, vr4("192.0.2.10"))
	if got := a.Stats().SendErrors; got != 2 {
		t.Errorf("SendErrors = %d, want 2", got)
	}
}

// exchange pushes a frame into c and waits until the Announcer has handled
// it; it returns the frames written in answer.
func exchange(c *fakeConn, frame []byte) []sentFrame {
	n := len(c.frames())
	c.in <- frame
	synctest.Wait()
	return c.frames()[n:]
}

func TestResponder(t *testing.T) {
	for _, mode := range []Mode{ModeVirtualMAC, ModeInterfaceMAC} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, ac, nc := newTest(t, Config{Mode: mode, Responder: true, MasterRepeat: -1})
				v4, v6 := vr4("192.0.2.10"), vr4("2001:db8::10")
				mac4, mac6 := VirtualMAC(7, false), VirtualMAC(7, true)
				if mode == ModeInterfaceMAC {
					mac4, mac6 = hostMAC, hostMAC
				}
				areq := arpRequest(1, netip.MustParseAddr("192.0.2.99"), vip4)
				ns := nsFrame(t, netip.MustParseAddr("fe80::99"), solicitedNode(vip6), vip6, peerMAC)

				// Backup (before Take): never answers.
				if got := exchange(ac, areq); len(got) != 0 {
					t.Errorf("backup answered ARP: %x", got)
				}
				if got := exchange(nc, ns); len(got) != 0 {
					t.Errorf("backup answered NS: %x", got)
				}

				takeover(t, a, v4)
				takeover(t, a, v6)
				// The takeover announcements, then one answer each.
				checkSent(t, "master GARP", ac.frames(), "ff:ff:ff:ff:ff:ff")
				checkSent(t, "master NA", nc.frames(), "33:33:00:00:00:01")
				checkSent(t, "master ARP answer", exchange(ac, areq), peerMAC.String(),
					arpFields(peerMAC, mac4, 2, mac4, vip4, peerMAC, netip.MustParseAddr("192.0.2.99")))
				checkSent(t, "master NS answer", exchange(nc, ns), peerMAC.String(),
					naFields(peerMAC, mac6, vip6, netip.MustParseAddr("fe80::99"), vip6, true))
				// Not ours, malformed: no answer; malformed counted.
				if got := exchange(ac, arpRequest(1, netip.MustParseAddr("192.0.2.99"), netip.MustParseAddr("192.0.2.12"))); len(got) != 0 {
					t.Errorf("answered for another address: %x", got)
				}
				bad := bytes.Clone(ns)
				bad[21] = 64 // hop limit
				if got := exchange(nc, bad); len(got) != 0 {
					t.Errorf("answered an NS with hop limit 64: %x", got)
				}
				st := a.Stats()
				if st.ARPReplies != 1 || st.NAReplies != 1 || st.Malformed != 1 {
					t.Errorf("Stats = %+v, want 1 ARP reply, 1 NA reply, 1 malformed", st)
				}

				// Backup again after Release.
				a.Release(v4)
				a.Release(v6)
				if got := exchange(ac, areq); len(got) != 0 {
					t.Errorf("released router answered ARP: %x", got)
				}
				if got := exchange(nc, ns); len(got) != 0 {
					t.Errorf("released router answered NS: %x", got)
				}
			})
		})
	}
}

func TestNoResponderWithoutConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, _ := newTest(t, Config{MasterRepeat: -1})
		takeover(t, a, vr4("192.0.2.10"))
		synctest.Wait() // a reader, if any, is now blocked in ReadFrom
		select {
		case ac.in <- arpRequest(1, netip.MustParseAddr("192.0.2.99"), vip4):
			t.Error("the Announcer reads frames without Config.Responder")
		default:
		}
	})
}

func TestRealClockDefault(t *testing.T) {
	a, _, _ := newTest(t, Config{})
	if a.clk != clock.Real() {
		t.Errorf("default clock = %T, want clock.Real()", a.clk)
	}
}

func BenchmarkMarshalGratuitousARP(b *testing.B) {
	vmac := VirtualMAC(7, false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalGratuitousARP(vmac, vip4); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalUnsolicitedNA(b *testing.B) {
	vmac := VirtualMAC(7, true)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalUnsolicitedNA(vmac, ll1, vip6); err != nil {
			b.Fatal(err)
		}
	}
}

// discardConn is a PacketConn that drops writes.
type discardConn struct{}

func (discardConn) ReadFrom([]byte) (int, net.Addr, error)    { return 0, nil, net.ErrClosed }
func (discardConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (discardConn) Close() error                              { return nil }

// BenchmarkAnnounceBurst measures a lower-priority burst of one round over
// 4 addresses (the prebuilt frames are written as they are).
func BenchmarkAnnounceBurst(b *testing.B) {
	a, err := NewConn(Config{LowerPrioRepeat: 1, LowerPrioDelay: -1, MasterRepeat: 1, MasterDelay: -1}, testIfi, discardConn{}, discardConn{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	vr := vr4("192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13")
	a.Take(vr)
	a.Announce(vr)
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Announce(vr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResponderARP measures answering one ARP request (parse, build,
// write).
func BenchmarkResponderARP(b *testing.B) {
	a, err := NewConn(Config{Responder: true, MasterRepeat: -1}, testIfi, discardConn{}, discardConn{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	vr := vr4("192.0.2.10")
	a.Take(vr)
	l := a.plat.(*connPlatform).l
	req := arpRequest(1, netip.MustParseAddr("192.0.2.99"), vip4)
	b.ReportAllocs()
	for b.Loop() {
		a.handle(l, discardConn{}, req)
	}
	if a.Stats().ARPReplies == 0 {
		b.Fatal("no replies")
	}
}

// TestAnnounceNewAddrs: an Announce with a changed address list announces
// and answers for the new list.
func TestAnnounceNewAddrs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, _ := newTest(t, Config{Responder: true, MasterRepeat: 1, MasterDelay: -1})
		takeover(t, a, vr4("192.0.2.10"))
		other := netip.MustParseAddr("192.0.2.11")
		if err := a.Announce(vr4("192.0.2.11")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		checkSent(t, "GARPs", ac.frames(), "ff:ff:ff:ff:ff:ff", garpFields(hostMAC, vip4), garpFields(hostMAC, other))
		peer := netip.MustParseAddr("192.0.2.99")
		if got := exchange(ac, arpRequest(1, peer, vip4)); len(got) != 0 {
			t.Errorf("answered for the dropped address: %x", got)
		}
		checkSent(t, "answer for the new address", exchange(ac, arpRequest(1, peer, other)), peerMAC.String(),
			arpFields(peerMAC, hostMAC, 2, hostMAC, other, peerMAC, peer))
	})
}

// TestResponderSharedAddress: two virtual routers on one link holding the
// same address (VRIDs 7 and 8) each answer while master; the release of
// one does not silence the other (answers are kept per virtual router, not
// per address). While both are master, the lower VRID's MAC answers.
func TestResponderSharedAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ac, nc := newTest(t, Config{Mode: ModeVirtualMAC, Responder: true, MasterRepeat: -1})
		peer4, peer6 := netip.MustParseAddr("192.0.2.99"), netip.MustParseAddr("fe80::99")
		areq := arpRequest(1, peer4, vip4)
		ns := nsFrame(t, peer6, solicitedNode(vip6), vip6, peerMAC)
		vr := func(vrid uint8, addr string) vrrp.VRInfo { v := vr4(addr); v.VRID = vrid; return v }
		check := func(what string, vrid4, vrid6 uint8) {
			t.Helper()
			var want4, want6 [][]string
			if vrid4 != 0 {
				m := VirtualMAC(vrid4, false)
				want4 = append(want4, arpFields(peerMAC, m, 2, m, vip4, peerMAC, peer4))
			}
			if vrid6 != 0 {
				m := VirtualMAC(vrid6, true)
				want6 = append(want6, naFields(peerMAC, m, vip6, peer6, vip6, true))
			}
			checkSent(t, what+": ARP", exchange(ac, areq), peerMAC.String(), want4...)
			checkSent(t, what+": NS", exchange(nc, ns), peerMAC.String(), want6...)
		}
		for _, v := range []vrrp.VRInfo{vr(7, "192.0.2.10"), vr(8, "192.0.2.10"), vr(7, "2001:db8::10"), vr(8, "2001:db8::10")} {
			takeover(t, a, v)
		}
		check("both master", 7, 7)
		if err := a.Release(vr(8, "192.0.2.10")); err != nil {
			t.Fatal(err)
		}
		if err := a.Release(vr(8, "2001:db8::10")); err != nil {
			t.Fatal(err)
		}
		check("VRID 8 released", 7, 7)
		takeover(t, a, vr(8, "192.0.2.10"))
		takeover(t, a, vr(8, "2001:db8::10"))
		if err := a.Release(vr(7, "192.0.2.10")); err != nil {
			t.Fatal(err)
		}
		if err := a.Release(vr(7, "2001:db8::10")); err != nil {
			t.Fatal(err)
		}
		check("VRID 7 released", 8, 8)
		if err := a.Release(vr(8, "192.0.2.10")); err != nil {
			t.Fatal(err)
		}
		if err := a.Release(vr(8, "2001:db8::10")); err != nil {
			t.Fatal(err)
		}
		check("both released", 0, 0)
	})
}

// timesByAddr returns the send times of the gratuitous ARPs of each
// address (the ARP sender protocol address).
func timesByAddr(fs []sentFrame) map[netip.Addr][]time.Duration {
	m := map[netip.Addr][]time.Duration{}
	for _, f := range fs {
		ip, _ := netip.AddrFromSlice(f.Frame[28:32])
		m[ip] = append(m[ip], f.At)
	}
	return m
}

// TestSetSchedulePerVirtualRouter: two virtual routers on one Announcer,
// one with a schedule of its own (keepalived's garp_* of a vrrp_instance),
// the other with Config's; each keeps its own delays, repeats, spacing,
// refresh and lower-priority bursts.
func TestSetSchedulePerVirtualRouter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := time.Millisecond
		a, ac, _ := newTest(t, Config{MasterRepeat: 1, MasterDelay: 3 * time.Second})
		vrA := vr4("192.0.2.10")
		vrB := vr4("192.0.2.20")
		vrB.VRID, vrB.Name = 8, "vr8"
		if err := a.SetSchedule(vrB, &Schedule{
			MasterRepeat: 2, MasterDelay: -1, GARPInterval: 100 * ms,
			MasterRefresh: 10 * time.Second, MasterRefreshRepeat: 1,
			LowerPrioRepeat: 3, LowerPrioDelay: -1,
		}); err != nil {
			t.Fatal(err)
		}
		takeover(t, a, vrA)
		takeover(t, a, vrB)
		time.Sleep(15 * time.Second)
		if err := a.Announce(vrA); err != nil { // lower priority heard by both at 15s
			t.Fatal(err)
		}
		if err := a.Announce(vrB); err != nil {
			t.Fatal(err)
		}
		time.Sleep(6 * time.Second)
		synctest.Wait()
		got := timesByAddr(ac.frames())
		// A: Config's (1 now, 1 after 3s; lower priority: 1 and 1 after 3s).
		wantA := []time.Duration{0, 3 * time.Second, 15 * time.Second, 18 * time.Second}
		// B: its own (2 rounds 100ms apart, no second burst, a refresh every
		// 10s; lower priority: 3 rounds, no second burst).
		wantB := []time.Duration{0, 100 * ms, 10 * time.Second, 15 * time.Second, 15100 * ms, 15200 * ms, 20 * time.Second}
		if diff := cmp.Diff(wantA, got[vrA.Addrs[0]]); diff != "" {
			t.Errorf("VRID 7 (Config's schedule) send times (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantB, got[vrB.Addrs[0]]); diff != "" {
			t.Errorf("VRID 8 (its own schedule) send times (-want +got):\n%s", diff)
		}
		if err := a.Release(vrB); err != nil {
			t.Fatal(err)
		}

		// nil gives B Config's schedule again, from its next takeover.
		if err := a.SetSchedule(vrB, nil); err != nil {
			t.Fatal(err)
		}
		n := len(got[vrB.Addrs[0]])
		takeover(t, a, vrB)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		now := time.Duration(21 * time.Second)
		got = timesByAddr(ac.frames())
		if diff := cmp.Diff([]time.Duration{now, now + 3*time.Second}, got[vrB.Addrs[0]][n:]); diff != "" {
			t.Errorf("VRID 8 after SetSchedule(nil) (-want +got):\n%s", diff)
		}
		a.Release(vrA)
		a.Release(vrB)
	})
}

func TestSetScheduleErrors(t *testing.T) {
	a, _, _ := newTest(t, Config{})
	for _, tt := range []struct {
		name string
		vr   vrrp.VRInfo
		s    *Schedule
	}{
		{"no addresses", vrrp.VRInfo{Name: "x", VRID: 1}, &Schedule{}},
		{"refresh repeat", vr4("192.0.2.1"), &Schedule{MasterRefreshRepeat: -1}},
		{"repeat", vr4("192.0.2.1"), &Schedule{MasterRepeat: 1001}},
		{"lower repeat", vr4("192.0.2.1"), &Schedule{LowerPrioRepeat: 1001}},
	} {
		if err := a.SetSchedule(tt.vr, tt.s); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", tt.name, err)
		}
	}
}

// TestSetScheduleConfigsKeepsNothing: SetSchedule with Config's own
// schedule (what vrrpd gives nearly every virtual router at every Take)
// keeps no entry, about 200 bytes per virtual router otherwise (issue
// 12); another schedule is kept, and Config's again drops it.
func TestSetScheduleConfigsKeepsNothing(t *testing.T) {
	cfg := Config{MasterRepeat: 2, MasterDelay: time.Second}
	a, _, _ := newTest(t, cfg)
	vr := vr4("192.0.2.10")
	held := func() int {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.scheds)
	}
	own := cfg.Schedule()
	if err := a.SetSchedule(vr, &own); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Errorf("after SetSchedule with Config's schedule: %d kept; want 0", n)
	}
	other := own
	other.MasterRepeat = 5
	if err := a.SetSchedule(vr, &other); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 1 {
		t.Errorf("after SetSchedule with another schedule: %d kept; want 1", n)
	}
	if err := a.SetSchedule(vr, &own); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Errorf("after SetSchedule with Config's schedule again: %d kept; want 0", n)
	}
}
