//go:build linux

package arpnd

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestBPFICMPv6 runs the socket filters of the IPv6 packet socket. The
// VM of x/net/bpf lacks the packet-type extension, so the leading
// outgoing-frame check is left out here (the integration tests run it).
func TestBPFICMPv6(t *testing.T) {
	rs := rsFrame(t, peerLL, peerMAC)
	ns := nsFrame(t, peerLL, solicitedNode(vip6), vip6, peerMAC)
	ra, err := MarshalRouterAdvertisement(hostMAC, ll1, RAConfig{})
	if err != nil {
		t.Fatal(err)
	}
	na, _ := MarshalUnsolicitedNA(hostMAC, ll1, vip6)
	udp := append([]byte(nil), ns...)
	udp[20] = 17 // next header UDP
	for _, p := range [][]bpf.Instruction{bpfNS, bpfRS, bpfNSRS} {
		if p[0] != (bpf.LoadExtension{Num: bpf.ExtType}) || p[1].(bpf.JumpIf).Val != unix.PACKET_OUTGOING {
			t.Fatalf("filter does not start with the outgoing check: %v", p[:2])
		}
	}
	frames := map[string][]byte{"RS": rs, "NS": ns, "RA": ra, "NA": na, "UDP": udp}
	for _, tt := range []struct {
		name string
		prog []bpf.Instruction
		keep []string
	}{
		{"drop all", bpfDropAll, nil},
		{"NS", bpfNS[2:], []string{"NS"}},
		{"RS", bpfRS[2:], []string{"RS"}},
		{"NS+RS", bpfNSRS[2:], []string{"NS", "RS"}},
	} {
		vm, err := bpf.NewVM(tt.prog)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for name, f := range frames {
			n, err := vm.Run(f)
			if err != nil {
				t.Fatalf("%s on %s: %v", tt.name, name, err)
			}
			want := false
			for _, k := range tt.keep {
				want = want || k == name
			}
			if got := n > 0; got != want {
				t.Errorf("filter %s keeps %s: %v, want %v", tt.name, name, got, want)
			}
		}
	}
}

// netDownConn fails its first reads with ENETDOWN, as a packet socket
// does once when its interface goes down (a macvlan at Release).
type netDownConn struct {
	*fakeConn
	downs atomic.Int32
}

func (c *netDownConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.downs.Add(-1) >= 0 {
		return 0, nil, unix.ENETDOWN
	}
	return c.fakeConn.ReadFrom(b)
}

// TestReaderSurvivesNetDown: the responder keeps reading after ENETDOWN
// (twice in a row: the second one pauses), where other errors stop it.
func TestReaderSurvivesNetDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ac := &netDownConn{fakeConn: newFakeConn()}
		ac.downs.Store(2)
		a, err := NewConn(Config{Responder: true, MasterRepeat: -1}, testIfi, ac, newFakeConn())
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		takeover(t, a, vr4("192.0.2.10"))
		synctest.Wait()
		if got := exchange(ac.fakeConn, arpRequest(1, netip.MustParseAddr("192.0.2.99"), vip4)); len(got) != 1 {
			t.Errorf("answers after ENETDOWN: %d, want 1", len(got))
		}
	})
}
