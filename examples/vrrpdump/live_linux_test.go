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
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/netlab"
	govrrp "github.com/govrrp/govrrp/packet"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestFilter runs the socket filter in the BPF interpreter.
func TestFilter(t *testing.T) {
	vm, err := bpf.NewVM(vrrpFilter)
	if err != nil {
		t.Fatal(err)
	}
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), govrrp.GroupIPv4
	src6, dst6 := netip.MustParseAddr("fe80::1"), govrrp.GroupIPv6
	hbh := ipPacket(src6, dst6, 255, 0, []byte{112, 0, 5, 2, 0, 0, 1, 0, 0x31})
	tests := []struct {
		name string
		b    []byte
		keep bool
	}{
		{"IPv4 VRRP", ipPacket(src4, dst4, 255, 112, []byte{0x31}), true},
		{"IPv6 VRRP", ipPacket(src6, dst6, 255, 112, []byte{0x31}), true},
		{"IPv6 hop-by-hop", hbh, true},
		{"IPv4 UDP", ipPacket(src4, dst4, 255, 17, make([]byte, 8)), false},
		{"IPv6 ICMPv6", ipPacket(src6, dst6, 255, 58, make([]byte, 8)), false},
		{"ARP", make([]byte, 28), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		n, err := vm.Run(tt.b)
		if err != nil && len(tt.b) > 0 {
			t.Errorf("%s: %v", tt.name, err)
		}
		if (n > 0) != tt.keep {
			t.Errorf("%s: filter returned %d, want keep=%v", tt.name, n, tt.keep)
		}
	}
}

// requirePriv: the live capture test needs root (network namespaces,
// AF_PACKET) and iproute2.
func requirePriv(t *testing.T) {
	t.Helper()
	netlab.RequirePriv(t)
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn on a thread switched into the named namespace.
func inNetns(t *testing.T, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer func() {
		// A thread that cannot go back stays locked and dies with the
		// goroutine.
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
	}()
	fn()
}

// syncBuilder is a strings.Builder safe for concurrent use.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// liveWait bounds each wait of TestLive (for the lines, for the exit
// after SIGINT): a hang guard, not a timing check; a loaded machine can
// take seconds to start a process in a namespace.
const liveWait = 30 * time.Second

// TestLive runs vrrpdump -i on one end of a veth pair inside a network
// namespace made for the test, injects advertisements on the other end,
// and checks the lines; then stops it with SIGINT.
func TestLive(t *testing.T) {
	requirePriv(t)
	netlab.RequireTool(t, "ip")
	ns := fmt.Sprintf("gvdump-%d", os.Getpid())
	a, b := fmt.Sprintf("gvd%da", os.Getpid()), fmt.Sprintf("gvd%db", os.Getpid())
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ipCmd(t, "-n", ns, "link", "add", a, "type", "veth", "peer", "name", b)
	ipCmd(t, "-n", ns, "link", "set", a, "up")
	ipCmd(t, "-n", ns, "link", "set", b, "up")

	bin := filepath.Join(netlab.TempDir(t), "vrrpdump")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "-i", a)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuilder // written by exec's copier while the test may read it
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
	stop := make(chan struct{})
	// Cleanups run last first: this one before the kill above.
	t.Cleanup(func() { close(stop) })
	// The reader ends when the process closes stdout, or the test ends.
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
	}()

	// Frames to inject, from b's MAC to the group MACs.
	var conn *packet.Conn
	var srcMAC net.HardwareAddr
	inNetns(t, ns, func() {
		ifi, err := net.InterfaceByName(b)
		if err != nil {
			t.Fatal(err)
		}
		srcMAC = ifi.HardwareAddr
		conn, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_IP, nil)
		if err != nil {
			t.Fatal(err)
		}
	})
	defer conn.Close()
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), govrrp.GroupIPv4
	src6, dst6 := netip.MustParseAddr("fe80::1"), govrrp.GroupIPv6
	v4 := govrrp.Advertisement{Version: 3, VRID: 5, Priority: 200, MaxAdvertInt: 100, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.5")}}
	m4, err := v4.Append(nil, src4, dst4, 0)
	if err != nil {
		t.Fatal(err)
	}
	v6 := govrrp.Advertisement{Version: 3, VRID: 6, Priority: 100, MaxAdvertInt: 50, Addrs: []netip.Addr{netip.MustParseAddr("fe80::6")}}
	m6, err := v6.Append(nil, src6, dst6, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), m4...)
	bad[6] ^= 0xff
	eth := func(dst net.HardwareAddr, et uint16, p []byte) []byte {
		f := append(append(append([]byte{}, dst...), srcMAC...), byte(et>>8), byte(et))
		return append(f, p...)
	}
	mac4, mac6 := groupMACs[0], groupMACs[1]
	frames := [][]byte{
		eth(mac4, 0x0800, ipPacket(src4, dst4, 255, 112, m4)),
		eth(mac6, 0x86dd, ipPacket(src6, dst6, 255, 112, m6)),
		eth(mac4, 0x0800, ipPacket(src4, dst4, 255, 112, bad)),
		eth(mac4, 0x0800, ipPacket(src4, dst4, 255, 17, make([]byte, 8))), // UDP: not printed
	}
	want := map[string]bool{
		"src=192.0.2.1 dst=224.0.0.18 ttl=255 ver=3 vrid=5 prio=200 interval=1s addrs=192.0.2.5 checksum=ok-pseudo err=none": true,
		"src=fe80::1 dst=ff02::12 ttl=255 ver=3 vrid=6 prio=100 interval=500ms addrs=fe80::6 checksum=ok-pseudo err=none":    true,
		"src=192.0.2.1 dst=224.0.0.18 ttl=255 ver=3 vrid=5 prio=200 interval=1s addrs=192.0.2.5 checksum=bad err=checksum":   true,
	}
	got := map[string]bool{}
	deadline := time.After(liveWait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for len(got) < len(want) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("vrrpdump exited early: %s", stderr.String())
			}
			_, rest, _ := strings.Cut(l, " ")
			if !strings.HasPrefix(l, "time=") || !want[rest] {
				t.Fatalf("unexpected line %q", l)
			}
			got[rest] = true
		case <-tick.C:
			for _, f := range frames {
				if _, err := conn.WriteTo(f, &packet.Addr{HardwareAddr: f[:6]}); err != nil {
					t.Fatalf("injecting a frame on %s: %v", b, err)
				}
			}
		case <-deadline:
			t.Fatalf("after %v got %d of %d lines: %v; stderr %s", liveWait, len(got), len(want), got, stderr.String())
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	drained := time.After(liveWait)
drain:
	for {
		select {
		case _, ok := <-lines: // until stdout closes
			if !ok {
				break drain
			}
		case <-drained:
			t.Fatalf("vrrpdump still running %v after SIGINT; stderr %s", liveWait, stderr.String())
		}
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Errorf("vrrpdump after SIGINT: %v; stderr %s", err, stderr.String())
	}
}
