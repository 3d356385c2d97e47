//go:build linux

package scale

import (
	"net"
	"os"
	"os/exec"
	"testing"
)

func TestParseStatTicks(t *testing.T) {
	line := "1234 (vrrpd (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 9 0 12345 1000 300 18446744073709551615"
	got, err := parseStatTicks([]byte(line))
	if err != nil || got != 250+50+7+3 {
		t.Errorf("parseStatTicks = %d, %v; want 310", got, err)
	}
	if _, err := parseStatTicks([]byte("1234 (x) S 1 2")); err == nil {
		t.Error("short line: no error")
	}
}

func TestReadUsageSelf(t *testing.T) {
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.RSS <= 0 || u.HWM < u.RSS || u.Threads < 1 || u.Procs < 1 {
		t.Errorf("ReadUsage(self) = %+v", u)
	}
}

// TestSocketsSelf runs in a fresh process: sockets(pid) reads
// /proc/PID/net, the network namespace of the process's main thread, and
// in this test binary other tests (netlab's Host.Do) may have left the
// main thread in a lab namespace.
func TestSocketsSelf(t *testing.T) {
	if os.Getenv("GOVRRP_SCALE_SOCKETS_CHILD") == "" {
		c := exec.Command(os.Args[0], "-test.run=^TestSocketsSelf$", "-test.count=1")
		c.Env = append(os.Environ(), "GOVRRP_SCALE_SOCKETS_CHILD=1")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := sockets(os.Getpid()); got["udp"] < 1 {
		t.Errorf("sockets(self) = %v, want the UDP socket counted as udp", got)
	}
}
