//go:build linux

package netlab

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Links is a two-host lab whose hosts are joined by N point-to-point
// links, each a veth pair standing in for one VLAN (the lab's kernel has
// neither 802.1Q nor dummy links). Link i (1-based) is called LinkName(i)
// on both hosts and carries the subnet LinkPrefix(i): host 1 holds
// LinkAddr(i, 1) (.1), host 2 LinkAddr(i, 2) (.2). There is no bridge, no
// IPv6 (disabled in both namespaces: no link-local addresses, no DAD, no
// MLD on thousands of links) and no MAC address of the lab's choosing.
//
// The namespaces are named like New's (gv-PID-SEQ-prefix, h1 and h2), so
// the next run reaps what a killed run leaves, take the same
// cross-process lab lock, and are removed by the test's Cleanup, with
// every process still running in them.
type Links struct {
	*Lab
	// N is the number of links.
	N int
	// Build is how long creating and configuring the links took, until
	// every one was operationally up on both sides (the namespaces
	// excluded); Batch is the part of it the two `ip -batch` runs took.
	Build, Batch time.Duration
}

// NewLinks builds a Links lab of n links (1 to MaxLinks) whose namespace
// names start with prefix (as New's) and registers a Cleanup on t that
// deletes it. It skips t unless GOVRRP_PRIVILEGED=1 (RequirePriv), and
// then fails it when the process is not privileged. Links are created
// with two `ip -batch` runs (one per host), so thousands build in seconds;
// Links.Build says how long it took.
//
// The returned Lab's hosts (Host(1), Host(2)) work with Do, Command,
// Start, Run and `ip -n NS`; their Iface is link 1 ("l1"), Addr4 its
// address and IfIndex its index. The fault helpers of a bridged lab
// (Partition, SetMcastFlood, Impair) do not apply: there is no bridge.
func NewLinks(t testing.TB, prefix string, n int) *Links {
	t.Helper()
	if !prefixRE.MatchString(prefix) {
		t.Fatalf("netlab: prefix %q: must be 1-6 lowercase letters or digits, starting with a letter", prefix)
	}
	if n < 1 || n > MaxLinks {
		t.Fatalf("netlab: %d links: must be 1 to %d", n, MaxLinks)
	}
	RequirePriv(t)
	acquire(t) // registered before the lab's own cleanup, so released after it

	uniq := fmt.Sprintf("%s%d-%s-%s", nsPrefix, os.Getpid(), strconv.FormatInt(int64(labSeq.Add(1)), 36), prefix)
	l := &Links{Lab: &Lab{Prefix: uniq, t: t}, N: n}
	t.Cleanup(l.cleanup)
	watch(t, l.Lab)

	for i := 1; i <= 2; i++ {
		h := &Host{
			N:     i,
			Name:  "h" + strconv.Itoa(i),
			NS:    uniq + "h" + strconv.Itoa(i),
			Iface: LinkName(1),
			Addr4: LinkAddr(1, i),
			lab:   l.Lab,
		}
		if out, err := exec.Command("ip", "netns", "add", h.NS).CombinedOutput(); err != nil {
			if i == 1 { // the first namespace doubles as the privilege probe
				SkipOrFail(t, "cannot create a network namespace (ip netns add %s: %v: %s)", h.NS, err, bytes.TrimSpace(out))
			}
			t.Fatalf("netlab: ip netns add %s: %v: %s", h.NS, err, bytes.TrimSpace(out))
		}
		l.addNS(h.NS)
		l.hosts = append(l.hosts, h)
		if err := h.Do(func() error {
			// No IPv6 on the links: with thousands of them, link-local
			// addresses, DAD and MLD reports would be most of the lab's
			// traffic. "default" covers the links created below.
			for _, f := range []string{"all", "default"} {
				if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+f+"/disable_ipv6", []byte("1"), 0); err != nil {
					return fmt.Errorf("disable IPv6: %w", err)
				}
			}
			return nil
		}); err != nil {
			t.Fatalf("netlab: %s: %v", h.Name, err)
		}
	}
	start := time.Now()
	if err := l.build(); err != nil {
		t.Fatalf("netlab: %d links: %v", n, err)
	}
	l.Build = time.Since(start)
	t.Logf("netlab: %d links between %s and %s built in %v (ip -batch %v, then carrier up on both sides)", n, l.hosts[0].NS, l.hosts[1].NS, l.Build.Round(time.Millisecond), l.Batch.Round(time.Millisecond))
	return l
}

// build creates the links from host 1's side (the peer end moved into
// host 2 at creation), addresses them and sets them up, one `ip -batch`
// per host.
func (l *Links) build() error {
	h1, h2 := l.hosts[0], l.hosts[1]
	var b1, b2 strings.Builder
	fmt.Fprintf(&b1, "link set lo up\n")
	fmt.Fprintf(&b2, "link set lo up\n")
	for i := 1; i <= l.N; i++ {
		name := LinkName(i)
		fmt.Fprintf(&b1, "link add %s type veth peer name %s netns %s\n", name, name, h2.NS)
		fmt.Fprintf(&b1, "addr add %s/24 dev %s\n", LinkAddr(i, 1), name)
		fmt.Fprintf(&b1, "link set %s up\n", name)
		fmt.Fprintf(&b2, "addr add %s/24 dev %s\n", LinkAddr(i, 2), name)
		fmt.Fprintf(&b2, "link set %s up\n", name)
	}
	start := time.Now()
	for _, s := range []struct {
		h      *Host
		script string
	}{{h1, b1.String()}, {h2, b2.String()}} {
		// Without -force, ip stops at the first failing command and exits
		// non-zero, naming the line.
		c := exec.Command("ip", "-n", s.h.NS, "-batch", "-")
		c.Stdin = strings.NewReader(s.script)
		if err := runCmd(c); err != nil {
			return fmt.Errorf("%s: %w", s.h.Name, err)
		}
	}
	l.Batch = time.Since(start)
	// Carrier reaches the far end of a veth asynchronously (the kernel's
	// link watch runs about once a second): wait until every link is
	// operationally up on both sides, or a daemon started next would see
	// its links down (FAULT).
	// Measured (2 cores, loaded): about 30 s for 2,900 of 4,094 links.
	wait := setupTimeout + time.Duration(l.N)*25*time.Millisecond
	started := time.Now()
	deadline := started.Add(wait)
	for _, h := range l.hosts {
		for {
			out, err := exec.Command("ip", "-n", h.NS, "-o", "link", "show", "up").CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: ip link show: %v: %s", h.Name, err, bytes.TrimSpace(out))
			}
			up := strings.Count(string(out), " state UP ")
			if up == l.N {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %d of %d links operationally up after %v", h.Name, up, l.N, wait)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, h := range l.hosts {
		if err := h.Do(func() error {
			ifi, err := net.InterfaceByName(h.Iface)
			if err != nil {
				return err
			}
			h.IfIndex = ifi.Index
			return nil
		}); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	return nil
}
