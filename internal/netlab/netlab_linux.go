//go:build linux

package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// MaxHosts is the largest lab New builds (host addresses and MACs use one
// byte for the host number).
const MaxHosts = 250

// setupTimeout bounds how long New waits for the link-local addresses.
const setupTimeout = 10 * time.Second

// labSeq makes lab prefixes unique within one process; the PID makes them
// unique across concurrently running test binaries, and tells a later run
// whether the namespaces' owner is still alive (reap_linux.go).
var labSeq atomic.Uint32

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,5}$`)

// A Lab is a LAN of hosts, each in its own network namespace, joined by a
// bridge in one more namespace. Create it with New; it is deleted by the
// test's Cleanup.
type Lab struct {
	// Prefix starts the name of every namespace of this lab; it is unique
	// per lab (the caller's prefix, the PID and a counter).
	Prefix string
	// BridgeNS is the namespace holding br0 and the hosts' bridge ports.
	BridgeNS string

	t     testing.TB
	hosts []*Host

	mu    sync.Mutex
	procs []*exec.Cmd
	nsAll []string // every namespace created, for cleanup
}

// A Host is one machine of a Lab: a network namespace with lo and eth0.
type Host struct {
	// N is the host number, 1-based.
	N int
	// Name is a short name for logs, "h1", "h2", ...
	Name string
	// NS is the network namespace name (usable with `ip netns exec` and
	// `ip -n`).
	NS string
	// Iface is the name of the LAN interface inside NS: "eth0".
	Iface string
	// Port is the name of the host's bridge port inside the lab's BridgeNS:
	// the far end of eth0's veth pair. While the host's link is impaired
	// (Impair) Port is off the bridge and a relay joins it to the bridge.
	Port string
	// MAC is eth0's hardware address, 02:00:00:00:00:NN.
	MAC net.HardwareAddr
	// Addr4 is 10.99.0.N (prefix 10.99.0.0/24).
	Addr4 netip.Addr
	// Addr6 is fd99::N (prefix fd99::/64).
	Addr6 netip.Addr
	// IfIndex is eth0's interface index inside NS.
	IfIndex int

	lab       *Lab
	linkLocal netip.Addr

	// Guarded by lab.mu: the impaired link in place (see Impair), and
	// whether SetMcastFlood turned multicast flooding off towards the
	// host (carried over when Impair or Remove changes the bridge port).
	impaired *ImpairedLink
	mcastOff bool
}

// RequirePriv skips t unless the privileged suite was asked for
// (GOVRRP_PRIVILEGED=1); then it fails t unless the process can create
// network namespaces (effective UID 0 and the `ip` command on PATH).
func RequirePriv(t testing.TB) {
	t.Helper()
	skipUnprivileged(t)
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN for network namespaces, CAP_NET_RAW for raw sockets); running as uid %d", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		SkipOrFail(t, "the ip command (iproute2) is not on PATH")
	}
}

// New builds a lab of n hosts whose namespace names start with prefix
// (1-6 lowercase letters and digits, starting with a letter) and registers
// a Cleanup on t that deletes it. It skips t unless GOVRRP_PRIVILEGED=1
// (RequirePriv), and then fails it when the process is not privileged or
// `ip netns add` fails. Any later setup error fails t.
func New(t testing.TB, prefix string, n int) *Lab {
	t.Helper()
	if !prefixRE.MatchString(prefix) {
		t.Fatalf("netlab: prefix %q: must be 1-6 lowercase letters or digits, starting with a letter", prefix)
	}
	if n < 1 || n > MaxHosts {
		t.Fatalf("netlab: %d hosts: must be 1 to %d", n, MaxHosts)
	}
	RequirePriv(t)
	acquire(t) // registered before the lab's own cleanup, so released after it

	uniq := fmt.Sprintf("%s%d-%s-%s", nsPrefix, os.Getpid(), strconv.FormatInt(int64(labSeq.Add(1)), 36), prefix)
	l := &Lab{Prefix: uniq, BridgeNS: uniq + "br", t: t}
	t.Cleanup(l.cleanup)
	watch(t, l)

	// The first namespace doubles as the privilege probe.
	if out, err := exec.Command("ip", "netns", "add", l.BridgeNS).CombinedOutput(); err != nil {
		SkipOrFail(t, "cannot create a network namespace (ip netns add %s: %v: %s)", l.BridgeNS, err, bytes.TrimSpace(out))
	}
	l.addNS(l.BridgeNS)
	if err := l.setup(n); err != nil {
		t.Fatalf("netlab: %v", err)
	}
	return l
}

func (l *Lab) addNS(name string) {
	l.mu.Lock()
	l.nsAll = append(l.nsAll, name)
	l.mu.Unlock()
}

// ipCmd runs `ip args...` and returns an error carrying its output.
func ipCmd(args ...string) error {
	return runCmd(exec.Command("ip", args...))
}

func runCmd(c *exec.Cmd) error {
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(c.Args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (l *Lab) setup(n int) error {
	br := l.BridgeNS
	// mcast_snooping 0: the bridge floods all multicast (224.0.0.18 and
	// ff02::12 alike), honouring each port's mcast_flood flag.
	if err := ipCmd("-n", br, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"); err != nil {
		return err
	}
	if err := ipCmd("-n", br, "link", "set", "br0", "up"); err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		h := &Host{
			N:     i,
			Name:  "h" + strconv.Itoa(i),
			NS:    l.Prefix + "h" + strconv.Itoa(i),
			Iface: "eth0",
			Port:  "v" + strconv.Itoa(i),
			MAC:   net.HardwareAddr{0x02, 0, 0, 0, 0, byte(i)},
			Addr4: netip.AddrFrom4([4]byte{10, 99, 0, byte(i)}),
			Addr6: netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x99, 15: byte(i)}),
			lab:   l,
		}
		if err := ipCmd("netns", "add", h.NS); err != nil {
			return err
		}
		l.addNS(h.NS)
		l.hosts = append(l.hosts, h)
		if err := h.setup(); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	deadline := time.Now().Add(setupTimeout)
	for _, h := range l.hosts {
		if err := h.waitLinkLocal(deadline); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	return nil
}

func (h *Host) setup() error {
	br := h.lab.BridgeNS
	if err := ipCmd("-n", br, "link", "add", h.Port, "type", "veth", "peer", "name", h.Iface, "netns", h.NS); err != nil {
		return err
	}
	if err := ipCmd("-n", br, "link", "set", h.Port, "master", "br0", "up"); err != nil {
		return err
	}
	// No duplicate address detection: addresses (the link-local one in
	// particular) are usable as sources as soon as the link is up.
	if err := h.Do(func() error {
		for _, f := range []string{"all", "default", h.Iface} {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+f+"/accept_dad", []byte("0"), 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("disable DAD: %w", err)
	}
	steps := [][]string{
		{"link", "set", "lo", "up"},
		{"link", "set", h.Iface, "address", h.MAC.String()},
		{"addr", "add", h.Addr4.String() + "/24", "dev", h.Iface},
		{"addr", "add", h.Addr6.String() + "/64", "dev", h.Iface, "nodad"},
		{"link", "set", h.Iface, "up"},
	}
	for _, s := range steps {
		if err := ipCmd(append([]string{"-n", h.NS}, s...)...); err != nil {
			return err
		}
	}
	return h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		h.IfIndex = ifi.Index
		return nil
	})
}

// waitLinkLocal waits until eth0 has a non-tentative link-local address.
func (h *Host) waitLinkLocal(deadline time.Time) error {
	for {
		out, err := exec.Command("ip", "-n", h.NS, "-6", "-o", "addr", "show", "dev", h.Iface, "scope", "link").CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip addr show: %v: %s", err, bytes.TrimSpace(out))
		}
		s := string(out)
		if i := strings.Index(s, "inet6 fe80::"); i >= 0 && !strings.Contains(s, "tentative") {
			f := strings.Fields(s[i+len("inet6 "):])
			p, err := netip.ParsePrefix(f[0])
			if err != nil {
				return fmt.Errorf("parse link-local %q: %v", f[0], err)
			}
			h.linkLocal = p.Addr()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no usable link-local address on %s after %v: %q", h.Iface, setupTimeout, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Hosts returns the lab's hosts in order (host 1 first).
func (l *Lab) Hosts() []*Host { return l.hosts }

// Host returns host i, 1-based.
func (l *Lab) Host(i int) *Host {
	if i < 1 || i > len(l.hosts) {
		panic(fmt.Sprintf("netlab: host %d: lab has hosts 1 to %d", i, len(l.hosts)))
	}
	return l.hosts[i-1]
}

// LinkLocal returns eth0's IPv6 link-local address (no zone), derived from
// the MAC: fe80::ff:fe00:N.
func (h *Host) LinkLocal() netip.Addr { return h.linkLocal }

// Addrs returns every address of eth0: Addr4, Addr6 and LinkLocal.
func (h *Host) Addrs() []netip.Addr { return []netip.Addr{h.Addr4, h.Addr6, h.linkLocal} }

// Do runs f on a locked OS thread switched into the host's network
// namespace and returns its error. Sockets f creates belong to the host's
// namespace for their whole life, wherever they are used later; interface
// lookups (net.InterfaceByName) inside f see the host's interfaces.
// Goroutines f starts run in the caller's namespace, not the host's. The
// thread is discarded afterwards, so the namespace switch can never leak
// into other goroutines.
func (h *Host) Do(f func() error) error { return doIn(h.Name, h.NS, f) }

// doIn is Host.Do for any namespace; label names it in errors.
func doIn(label, nsName string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// No UnlockOSThread: the thread exits with this goroutine.
		runtime.LockOSThread()
		ns, err := netns.GetFromName(nsName)
		if err != nil {
			errc <- fmt.Errorf("netlab: %s: open netns %s: %w", label, nsName, err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("netlab: %s: enter netns %s: %w", label, nsName, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Command returns an unstarted command that runs name with args inside the
// host's namespace (`ip netns exec NS name args...`), in its own process
// group. It is not tracked: prefer Run or Start.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return c
}

// Run runs name with args inside the host's namespace and returns its
// combined output. A non-zero exit is an error that includes the output.
func (h *Host) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	c := h.Command(ctx, name, args...)
	out, err := c.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("netlab: %s: %s: %v: %s", h.Name, strings.Join(c.Args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Start starts name with args inside the host's namespace. Set Stdout and
// Stderr with StartCmd instead if you need them. The lab kills the
// process (and its process group) at cleanup and reaps it unless the test
// already called Wait; do not call Wait concurrently with cleanup.
func (h *Host) Start(name string, args ...string) (*exec.Cmd, error) {
	c := h.Command(context.Background(), name, args...)
	return c, h.StartCmd(c)
}

// StartCmd starts a command made with Command and tracks it like Start.
// Like StartProcess, it makes the process die with the test process.
func (h *Host) StartCmd(c *exec.Cmd) error {
	if err := StartProcess(c); err != nil {
		return fmt.Errorf("netlab: %s: %s: %w", h.Name, strings.Join(c.Args, " "), err)
	}
	h.lab.mu.Lock()
	h.lab.procs = append(h.lab.procs, c)
	h.lab.mu.Unlock()
	return nil
}

// SetLink sets eth0 up or down (carrier loss as the host sees it).
func (h *Host) SetLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ipCmd("-n", h.NS, "link", "set", h.Iface, state)
}

// nftTable is the nftables table the fault helpers manage in each host.
const nftTable = "netlab"

func (h *Host) nft(rules ...string) error {
	h.lab.t.Helper()
	RequireTool(h.lab.t, "nft")
	script := "add table inet " + nftTable + "\n" +
		"add chain inet " + nftTable + " in { type filter hook input priority 0; policy accept; }\n"
	for _, r := range rules {
		script += "add rule inet " + nftTable + " in " + r + "\n"
	}
	c := h.Command(context.Background(), "nft", "-f", "-")
	c.Stdin = strings.NewReader(script)
	if err := runCmd(c); err != nil {
		return fmt.Errorf("netlab: %s: %w", h.Name, err)
	}
	return nil
}

// BlockVRRP drops every VRRP packet (IP protocol / next header 112) the
// host receives, with the link still up. It needs nft (the test is
// skipped, or failed under CI, when nft is missing); call it from the test
// goroutine.
func (h *Host) BlockVRRP() error { return h.nft("meta l4proto 112 drop") }

// LossVRRP drops percent% of the VRRP packets the host receives, at
// random. Same requirements as BlockVRRP.
func (h *Host) LossVRRP(percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("netlab: %s: loss %d%%: must be 0 to 100", h.Name, percent)
	}
	return h.nft(fmt.Sprintf("meta l4proto 112 numgen random mod 100 < %d drop", percent))
}

// DropVRRPFrom drops VRRP packets the host receives from the given source
// addresses. Same requirements as BlockVRRP.
func (h *Host) DropVRRPFrom(srcs ...netip.Addr) error {
	var rules []string
	for _, a := range srcs {
		fam := "ip"
		if a.Is6() && !a.Is4In6() {
			fam = "ip6"
		}
		rules = append(rules, fmt.Sprintf("%s saddr %s meta l4proto 112 drop", fam, a.Unmap().WithZone("")))
	}
	return h.nft(rules...)
}

// UnblockVRRP removes every rule BlockVRRP, LossVRRP and DropVRRPFrom
// added on this host.
func (h *Host) UnblockVRRP() error {
	h.lab.t.Helper()
	RequireTool(h.lab.t, "nft")
	_, err := h.Run(context.Background(), "nft", "delete", "table", "inet", nftTable)
	if err != nil && strings.Contains(err.Error(), "No such file or directory") {
		return nil
	}
	return err
}

// Partition cuts VRRP between the hosts of a and the hosts of b (host
// numbers), in both directions, with the links up: nobody sees carrier
// loss. Heal undoes it.
func (l *Lab) Partition(a, b []int) error {
	l.t.Helper()
	cut := func(to, from []int) error {
		for _, i := range to {
			var srcs []netip.Addr
			for _, j := range from {
				srcs = append(srcs, l.Host(j).Addrs()...)
			}
			if err := l.Host(i).DropVRRPFrom(srcs...); err != nil {
				return err
			}
		}
		return nil
	}
	if err := cut(a, b); err != nil {
		return err
	}
	return cut(b, a)
}

// Heal removes every VRRP fault rule from every host.
func (l *Lab) Heal() error {
	l.t.Helper()
	var errs []error
	for _, h := range l.hosts {
		errs = append(errs, h.UnblockVRRP())
	}
	return errors.Join(errs...)
}

// SetMcastFlood sets the mcast_flood flag of host i's bridge port: with it
// off, the bridge no longer floods multicast (VRRP adverts, but also
// IPv6 neighbour solicitations) to that host. While the host's link is
// impaired (Impair) the flag is set on the impaired link's bridge port,
// and it is carried over when the impairment is put in place or removed.
func (l *Lab) SetMcastFlood(i int, on bool) error {
	h := l.Host(i)
	l.mu.Lock()
	defer l.mu.Unlock()
	port := h.Port
	if h.impaired != nil {
		port = h.impaired.bridgePort
	}
	if err := setMcastFlood(l.BridgeNS, port, on); err != nil {
		return err
	}
	h.mcastOff = !on
	return nil
}

func setMcastFlood(bridgeNS, port string, on bool) error {
	v := "off"
	if on {
		v = "on"
	}
	return ipCmd("-n", bridgeNS, "link", "set", port, "type", "bridge_slave", "mcast_flood", v)
}

// cleanup kills every process the lab started or that still runs in one
// of its namespaces, then deletes the namespaces. It runs once: from the
// test's Cleanup, or from the time-out watchdog (watch), whichever comes
// first.
func (l *Lab) cleanup() { l.teardown(l.t.Errorf) }

// teardown is cleanup reporting its errors through errorf.
func (l *Lab) teardown(errorf func(format string, args ...any)) {
	unwatch(l)
	l.mu.Lock()
	procs, nsAll := l.procs, l.nsAll
	l.procs, l.nsAll = nil, nil
	l.mu.Unlock()

	for _, c := range procs {
		if c.Process == nil || c.ProcessState != nil {
			continue
		}
		// The process group first (Setpgid made it equal to the PID),
		// then the process itself in case it left the group.
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	for _, ns := range nsAll {
		killIn(ns)
	}
	for i := len(nsAll) - 1; i >= 0; i-- {
		if err := ipCmd("netns", "del", nsAll[i]); err != nil {
			errorf("netlab: cleanup: %v", err)
		}
	}
}

// killIn kills, by PID, every process running in namespace ns: stragglers
// (daemons that forked away from their process group) are ours too.
func killIn(ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
