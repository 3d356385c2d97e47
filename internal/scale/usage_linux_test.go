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
	all, user, err := parseStatTimes([]byte(line))
	if err != nil || all != 310 || user != 250+7 {
		t.Errorf("parseStatTimes = %d, %d, %v; want 310, 257", all, user, err)
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

func TestParseProcNetRaw(t *testing.T) {
	raw := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  112: 00000000:0070 00000000:0000 07 00000000:00000A00 00:00000000 00000000     0        0 1001 2 0000000000000000 17
  255: 00000000:00FF 00000000:0000 07 00000000:00000100 00:00000000 00000000     0        0 1002 2 0000000000000000 5
`
	raw6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  112: 00000000000000000000000000000000:0070 00000000000000000000000000000000:0000 07 00000000:00000010 00:00000000 00000000     0        0 1003 2 0000000000000000 3
`
	var s RawStat
	parseProcNetRaw([]byte(raw), 112, &s)
	parseProcNetRaw([]byte(raw6), 112, &s)
	if want := (RawStat{Sockets: 2, RxQueue: 0xA00 + 0x10, Drops: 20}); s != want {
		t.Errorf("parseProcNetRaw = %+v, want %+v", s, want)
	}
}

func TestReadSchedSelf(t *testing.T) {
	s, err := ReadSched(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.Run <= 0 {
		t.Errorf("ReadSched(self) = %+v, want some time on a CPU", s)
	}
	var z Sched
	z.add([]byte("100 200 3\n"))
	z.add([]byte("bad"))
	if z != (Sched{Run: 100, Wait: 200}) {
		t.Errorf("Sched.add = %+v", z)
	}
}
