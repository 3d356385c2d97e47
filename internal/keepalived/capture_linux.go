//go:build linux

package keepalived

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

// CaptureFilter is the tcpdump filter StartCapture uses: VRRP over IPv4 and
// IPv6, ARP, and ICMPv6 (Neighbor Advertisements).
const CaptureFilter = "ip proto 112 or ip6 proto 112 or arp or icmp6"

// A Capture is a tcpdump running on a lab host's LAN interface (typically
// an observer host that runs no VRRP itself), writing a pcap file.
type Capture struct {
	// File is the pcap file tcpdump writes.
	File string

	t      testing.TB
	host   *netlab.Host
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	once   sync.Once
	result Packets
}

// StartCapture starts tcpdump on h's LAN interface with CaptureFilter, in
// immediate mode with per-packet flushing (so that nothing is lost when it
// is stopped right after an event), and returns once tcpdump listens. A
// Cleanup on t stops it. It skips t when tcpdump or tshark is missing
// (fails under GOVRRP_PRIVILEGED=1).
func StartCapture(t testing.TB, h *netlab.Host) *Capture {
	t.Helper()
	netlab.RequirePriv(t)
	netlab.RequireTool(t, "tcpdump")
	netlab.RequireTool(t, "tshark")
	c := &Capture{
		File: filepath.Join(netlab.TempDir(t), h.Name+".pcap"),
		t:    t,
		host: h,
		out:  &syncBuffer{},
		done: make(chan struct{}),
	}
	// -Z root: Debian's tcpdump otherwise drops to user tcpdump, which
	// cannot write into the test's 0700 temporary directory.
	c.cmd = h.Command(context.Background(), "tcpdump", "-n", "-i", h.Iface, "-Z", "root",
		"--immediate-mode", "-U", "-s", "256", "-w", c.File, CaptureFilter)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.WaitDelay = 2 * time.Second
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("keepalived: capture on %s: %v", h.Name, err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		if c.cmd.Process != nil {
			_ = c.cmd.Process.Signal(syscall.SIGKILL)
		}
		<-c.done
	})

	deadline := time.After(startTimeout)
	for !strings.Contains(c.out.String(), "listening on") {
		select {
		case <-c.done:
			t.Fatalf("keepalived: tcpdump on %s exited: %s", h.Name, c.out.String())
		case <-deadline:
			t.Fatalf("keepalived: tcpdump on %s not listening after %v: %s", h.Name, startTimeout, c.out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return c
}

// Stop stops tcpdump (SIGINT, so it flushes and closes the file) and
// returns the packets it captured, decoded by tshark. Later calls return
// the same packets. It fails t when tcpdump or tshark fail.
func (c *Capture) Stop() Packets {
	c.t.Helper()
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(stopTimeout):
			_ = c.cmd.Process.Signal(syscall.SIGKILL)
			<-c.done
		}
		if fi, err := os.Stat(c.File); err != nil || fi.Size() == 0 {
			c.t.Fatalf("keepalived: capture on %s: no pcap file (%v): %s", c.host.Name, err, c.out.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ps, err := ReadPcap(ctx, c.File)
		if err != nil {
			c.t.Fatalf("keepalived: capture on %s: %v", c.host.Name, err)
		}
		c.result = ps
	})
	return c.result
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
