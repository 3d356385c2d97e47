//go:build linux

package interop

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/vrrpdtest"
)

// minParallel is the -parallel TestMain sets unless the command line sets
// it: the VRRPv2 subtests (6 lifecycles of ~25 s, mostly waiting on 1 s
// timers) run side by side, whatever GOMAXPROCS is.
const minParallel = 8

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if f := flag.Lookup("test.parallel"); f != nil && f.Value.String() != "" {
			if n, err := strconv.Atoi(f.Value.String()); err == nil && n < minParallel {
				_ = flag.Set("test.parallel", strconv.Itoa(minParallel))
			}
		}
	}
	vrrpdtest.Main(m)
}

// requireAll checks everything the interop tests need: root, iproute2,
// keepalived, tcpdump, tshark, nft, and a vrrpd that builds. It skips t
// (or fails it under GOVRRP_PRIVILEGED=1) when something is
// missing.
func requireAll(t testing.TB, needVrrpd bool) {
	t.Helper()
	netlab.RequirePriv(t)
	for _, tool := range []string{"keepalived", "tcpdump", "tshark", "nft"} {
		netlab.RequireTool(t, tool)
	}
	if !needVrrpd {
		return
	}
	vrrpdtest.Build(t)
}

// A vrrpd is one examples/vrrpd process running in a lab host's network
// namespace, as a node. Its state comes from the notify script it runs at
// every transition.
type vrrpd struct {
	*vrrpdtest.Proc
	prio int
}

// startVrrpd starts vrrpd with opts on h, logging at debug level. It does
// not wait for any state: use WaitState.
func startVrrpd(t testing.TB, h *netlab.Host, opts vrrpdtest.Options) vrrpd {
	t.Helper()
	opts.LogLevel = "debug"
	return vrrpd{vrrpdtest.Start(t, h, fmt.Sprintf("priority %d", opts.Priority), opts.Args(h.Iface)...), opts.Priority}
}

func (d vrrpd) Kind() string       { return "vrrpd" }
func (d vrrpd) Host() *netlab.Host { return d.Proc.Host }
func (d vrrpd) Priority() int      { return d.prio }

// State returns the last state the notify script recorded ("INIT" before
// any): "MASTER", "BACKUP", ...
func (d vrrpd) State() string { return d.LastState("") }

// States returns every state the notify script recorded, in order.
func (d vrrpd) States() []string { return d.Proc.States("") }

// WaitState waits until the last recorded state is state and returns the
// time the notify script recorded it.
func (d vrrpd) WaitState(ctx context.Context, state string) (time.Time, error) {
	return d.Proc.WaitState(ctx, "", state)
}
