//go:build linux

package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

// captureGARPs runs tcpdump on h's eth0 until the returned function is
// called, which returns the sender addresses of the gratuitous ARPs
// (requests whose sender and target are the same address) sent.
func captureGARPs(t *testing.T, h *netlab.Host) func() []string {
	t.Helper()
	netlab.RequireTool(t, "tcpdump")
	netlab.RequireTool(t, "tshark")
	file := filepath.Join(netlab.TempDir(t), "garp.pcap")
	c := h.Command(context.Background(), "tcpdump", "-i", "eth0", "-n", "-U", "--immediate-mode", "-w", file, "arp")
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.StartCmd(c); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second): // a hang guard
		c.Process.Kill()
		c.Wait()
		t.Fatal("tcpdump did not start listening within 10s")
	}
	return func() []string {
		c.Process.Signal(syscall.SIGINT)
		c.Wait()
		out, err := exec.Command("tshark", "-r", file, "-T", "fields", "-E", "separator=|",
			"-e", "arp.opcode", "-e", "arp.src.proto_ipv4", "-e", "arp.dst.proto_ipv4").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		var srcs []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(l, "|")
			if len(f) == 3 && f[0] == "1" && f[1] == f[2] {
				srcs = append(srcs, f[1])
			}
		}
		return srcs
	}
}

// TestIntegrationGARPSchedule: the garp_* keys reach arpnd per instance:
// A sends one gratuitous ARP at takeover, B the top-level default of
// three, neither a second burst (garp_master_delay = "0s"), where arpnd's
// own defaults would send 5, and 5 more 5s later.
func TestIntegrationGARPSchedule(t *testing.T) {
	lab := netlab.New(t, "vrg", 1)
	h := lab.Host(1)
	path := filepath.Join(netlab.TempDir(t), "vrrpd.toml")
	text := `
garp_master_repeat = 3
garp_master_delay = "0s"

[[instance]]
name = "A"
interface = "eth0"
vrid = 1
interval = "100ms"
vips = ["10.99.0.211"]
garp_master_repeat = 1

[[instance]]
name = "B"
interface = "eth0"
vrid = 2
interval = "100ms"
vips = ["10.99.0.212"]
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := captureGARPs(t, h)
	p := startVrrpd(t, h, "garp", "-config", path)
	waitFor(t, "both masters", func() bool { return p.State("A") == "MASTER" && p.State("B") == "MASTER" })
	// The whole schedule is sent at the takeover; arpnd's default second
	// burst would come 5s after it: wait past that.
	time.Sleep(6 * time.Second)
	srcs := stop()
	p.Stop()
	count := map[string]int{}
	for _, s := range srcs {
		count[s]++
	}
	if count["10.99.0.211"] != 1 || count["10.99.0.212"] != 3 {
		t.Errorf("gratuitous ARPs sent: %v; want 10.99.0.211 once (A's garp_master_repeat) and 10.99.0.212 three times (the top-level default)", count)
	}
}
