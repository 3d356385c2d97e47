//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	govrrp "github.com/govrrp/govrrp/packet"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// TestLiveVerbose runs vrrpdump -v -vrid 5 -c 2 -i on one end of a veth
// pair inside a network namespace made for the test, injects
// advertisements, gratuitous ARPs and unsolicited NAs on the other end,
// and checks the lines: the source MAC, the announcements of VRID 5's
// address, and that it exits by itself after 2 VRRP packets of VRID 5.
func TestLiveVerbose(t *testing.T) {
	requirePriv(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) is not installed")
	}
	ns := fmt.Sprintf("gvdumpv-%d", os.Getpid())
	a, b := fmt.Sprintf("gvv%da", os.Getpid()), fmt.Sprintf("gvv%db", os.Getpid())
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ipCmd(t, "-n", ns, "link", "add", a, "type", "veth", "peer", "name", b)
	ipCmd(t, "-n", ns, "link", "set", a, "up")
	ipCmd(t, "-n", ns, "link", "set", b, "up")

	bin := filepath.Join(t.TempDir(), "vrrpdump")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "-v", "-vrid", "5", "-c", "2", "-i", a)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string)
	go func() { // ends when the process closes stdout
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	var conns []*packet.Conn
	var srcMAC net.HardwareAddr
	inNetns(t, ns, func() {
		ifi, err := net.InterfaceByName(b)
		if err != nil {
			t.Fatal(err)
		}
		srcMAC = ifi.HardwareAddr
		for _, proto := range []int{unix.ETH_P_IP, unix.ETH_P_IPV6, unix.ETH_P_ARP} {
			c, err := packet.Listen(ifi, packet.Raw, proto, nil)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	})
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), govrrp.GroupIPv4
	vip, other := netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("192.0.2.99")
	vip6 := netip.MustParseAddr("fd00::5")
	v2 := govrrp.Advertisement{Version: 2, VRID: 5, Priority: 200, MaxAdvertInt: 1, AuthType: govrrp.AuthPass, AuthData: [8]byte{'p', 'w'}, Addrs: []netip.Addr{vip}}
	m, err := v2.Append(nil, src4, dst4, 0)
	if err != nil {
		t.Fatal(err)
	}
	v6 := govrrp.Advertisement{Version: 3, VRID: 5, Priority: 200, MaxAdvertInt: 100, Addrs: []netip.Addr{netip.MustParseAddr("fe80::5"), vip6}}
	src6 := netip.MustParseAddr("fe80::1")
	m6, err := v6.Append(nil, src6, govrrp.GroupIPv6, 0)
	if err != nil {
		t.Fatal(err)
	}
	other7 := govrrp.Advertisement{Version: 3, VRID: 7, Priority: 100, MaxAdvertInt: 100, Addrs: []netip.Addr{other}}
	m7, err := other7.Append(nil, src4, dst4, 0)
	if err != nil {
		t.Fatal(err)
	}
	mac := srcMAC.String()
	frames := []struct {
		conn int
		data []byte
	}{
		{0, eth("01:00:5e:00:00:12", mac, 0x0800, ipPacket(src4, dst4, 255, 112, m7))}, // VRID 7: not shown
		{0, eth("01:00:5e:00:00:12", mac, 0x0800, ipPacket(src4, dst4, 255, 112, m))},
		{2, eth("ff:ff:ff:ff:ff:ff", mac, 0x0806, arpPacket(1, mac, vip, vip))},
		{2, eth("ff:ff:ff:ff:ff:ff", mac, 0x0806, arpPacket(1, mac, other, other))}, // not VRID 5's
		{1, eth("33:33:00:00:00:01", mac, 0x86dd, ipPacket(src6, allNodes, 255, 58, naPacket(0x20, vip6, mac)))},
		{1, eth("33:33:00:00:00:12", mac, 0x86dd, ipPacket(src6, govrrp.GroupIPv6, 255, 112, m6))},
	}
	// The frames go out every 100 ms until vrrpdump, which may start
	// listening in the middle of a round, exits.
	inject := func() {
		for _, f := range frames {
			if _, err := conns[f.conn].WriteTo(f.data, &packet.Addr{HardwareAddr: f.data[:6]}); err != nil {
				t.Fatalf("injecting a frame on %s: %v", b, err)
			}
		}
	}
	var got []string
	timeout := time.After(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
				break
			}
			_, rest, _ := strings.Cut(l, " ")
			got = append(got, rest)
		case <-tick.C:
			inject()
		case <-timeout:
			t.Fatalf("after 10s: lines %q; stderr %s", got, stderr.String())
		}
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Errorf("vrrpdump -c 2: %v; stderr %s", err, stderr.String())
	}
	// Two VRRP lines of VRID 5, then it exits; the announcements of its
	// addresses once it advertised them, from b's MAC (the destination
	// MAC is unknown to a live capture), and none of another address.
	v2line := "src=192.0.2.1 dst=224.0.0.18 ttl=255 ver=2 vrid=5 prio=200 interval=1s addrs=192.0.2.5 checksum=ok-v2 err=none smac=" + mac + ` dmac=- auth=pass:"pw" sum=` + sum16(m) + " want=message:" + sum16(m) + " errs=none"
	v6line := "src=fe80::1 dst=ff02::12 ttl=255 ver=3 vrid=5 prio=200 interval=1s addrs=fe80::5,fd00::5 checksum=ok-pseudo err=none smac=" + mac + " dmac=- auth=- sum=" + sum16(m6) + " want=pseudo:" + sum16(m6) + " errs=none"
	garp := "garp addr=192.0.2.5 mac=" + mac + " op=request smac=" + mac + " dmac=-"
	na := "na addr=fd00::5 mac=" + mac + " flags=O src=fe80::1 dst=ff02::1 ttl=255 smac=" + mac + " dmac=-"
	t.Logf("lines:\n%s", strings.Join(got, "\n"))
	var saw4, saw6 bool
	vrrp := 0
	for _, l := range got {
		switch {
		case l == v2line:
			saw4 = true
			vrrp++
		case l == v6line:
			saw6 = true
			vrrp++
		case l == garp && saw4, l == na && saw6:
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	if vrrp != 2 {
		t.Errorf("%d VRRP lines, want 2: %q", vrrp, got)
	}
}
