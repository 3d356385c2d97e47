//go:build linux

package netlab

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLab(t *testing.T) {
	lab := New(t, "nl", 3)
	ctx := context.Background()

	for _, h := range lab.Hosts() {
		want := netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 11: 0xff, 12: 0xfe, 15: byte(h.N)})
		if h.LinkLocal() != want {
			t.Errorf("%s: LinkLocal() = %v, want %v", h.Name, h.LinkLocal(), want)
		}
		var got []netip.Addr
		if err := h.Do(func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			if ifi.Index != h.IfIndex {
				t.Errorf("%s: eth0 index %d, lab says %d", h.Name, ifi.Index, h.IfIndex)
			}
			if ifi.HardwareAddr.String() != h.MAC.String() {
				t.Errorf("%s: eth0 MAC %v, want %v", h.Name, ifi.HardwareAddr, h.MAC)
			}
			as, err := ifi.Addrs()
			if err != nil {
				return err
			}
			for _, a := range as {
				p, err := netip.ParsePrefix(a.String())
				if err != nil {
					return err
				}
				got = append(got, p.Addr())
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want4 := []netip.Addr{h.Addr4, h.Addr6, h.LinkLocal()}
		if diff := cmp.Diff(want4, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("%s: eth0 addresses (-want +got):\n%s", h.Name, diff)
		}
	}

	// Host 1 reaches host 3 over IPv4 and IPv6 (global and link-local).
	// The link-local zone is numeric: zone names are resolved through a
	// process-wide cache that does not know about namespaces.
	h1, h3 := lab.Host(1), lab.Host(3)
	var srv net.PacketConn
	if err := h3.Do(func() (err error) {
		srv, err = net.ListenPacket("udp", ":9999")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, dst := range []string{h3.Addr4.String(), h3.Addr6.String(), h3.LinkLocal().String() + "%" + strconv.Itoa(h1.IfIndex)} {
		var cli net.PacketConn
		if err := h1.Do(func() (err error) {
			cli, err = net.ListenPacket("udp", ":0")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(dst), 9999))
		if _, err := cli.WriteTo([]byte(dst), to); err != nil {
			t.Errorf("send to %s: %v", dst, err)
		}
		cli.Close()
		buf := make([]byte, 100)
		srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := srv.ReadFrom(buf)
		if err != nil || string(buf[:n]) != dst {
			t.Errorf("host 3 received %q from %v, %v; want %q", buf[:n], from, err, dst)
		}
	}

	// Carrier loss and recovery.
	if err := h3.SetLink(false); err != nil {
		t.Fatal(err)
	}
	out, err := h3.Run(ctx, "ip", "link", "show", "eth0")
	if err != nil || !strings.Contains(string(out), "state DOWN") {
		t.Errorf("after SetLink(false): %v %s", err, out)
	}
	if err := h3.SetLink(true); err != nil {
		t.Fatal(err)
	}

	// Started processes are killed at cleanup (TestLabCleanup checks).
	if _, err := h1.Start("sleep", "600"); err != nil {
		t.Fatal(err)
	}
}

func TestLabCleanup(t *testing.T) {
	var lab *Lab
	var cmd *exec.Cmd
	t.Run("inner", func(t *testing.T) {
		lab = New(t, "nc", 2)
		var err error
		cmd, err = lab.Host(2).Start("sleep", "600")
		if err != nil {
			t.Fatal(err)
		}
	})
	if lab == nil {
		t.Skip("lab not built")
	}
	if cmd.ProcessState == nil {
		t.Errorf("process %d not reaped by cleanup", cmd.Process.Pid)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, lab.Prefix) {
			t.Errorf("namespace left after cleanup: %s", l)
		}
	}
}

func TestFaults(t *testing.T) {
	RequireTool(t, "nft")
	lab := New(t, "nf", 3)
	if err := lab.Host(2).LossVRRP(20); err != nil {
		t.Fatal(err)
	}
	if err := lab.Partition([]int{1}, []int{2, 3}); err != nil {
		t.Fatal(err)
	}
	out, err := lab.Host(1).Run(context.Background(), "nft", "list", "table", "inet", "netlab")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"10.99.0.2", "fd99::3", "fe80::ff:fe00:2", "l4proto vrrp drop"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("host 1 ruleset lacks %q:\n%s", want, out)
		}
	}
	if err := lab.Heal(); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Host(1).Run(context.Background(), "nft", "list", "table", "inet", "netlab"); err == nil {
		t.Error("table still present after Heal")
	}
	if err := lab.SetMcastFlood(2, false); err != nil {
		t.Fatal(err)
	}
	if err := lab.SetMcastFlood(2, true); err != nil {
		t.Fatal(err)
	}
}
