//go:build !linux

package keepalived

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

var errUnsupported = errors.New("keepalived: network namespaces are Linux only")

// An Instance is a running keepalived; on this GOOS Start always skips.
type Instance struct {
	Host   *netlab.Host
	Binary string
	Config Config
	Dir    string
}

// Start skips t: keepalived runs in network namespaces, which need Linux.
func Start(t testing.TB, h *netlab.Host, cfg Config) *Instance {
	t.Helper()
	t.Skipf("keepalived: network namespaces need Linux, not %s", runtime.GOOS)
	return nil
}

// StartBinary skips t: keepalived runs in network namespaces, which need Linux.
func StartBinary(t testing.TB, h *netlab.Host, bin string, cfg Config) *Instance {
	t.Helper()
	t.Skipf("keepalived: network namespaces need Linux, not %s", runtime.GOOS)
	return nil
}

func (k *Instance) PID() int                                { return 0 }
func (k *Instance) Running() bool                           { return false }
func (k *Instance) Stop()                                   {}
func (k *Instance) Kill()                                   {}
func (k *Instance) Log() []LogLine                          { return nil }
func (k *Instance) State() string                           { return "INIT" }
func (k *Instance) StateOf(name string) string              { return "INIT" }
func (k *Instance) Transitions() ([]Transition, error)      { return nil, errUnsupported }
func (k *Instance) HasVIP(addr netip.Addr) bool             { return false }
func (k *Instance) HasAllVIPs() bool                        { return false }
func HasAddr(h *netlab.Host, addr netip.Addr) (bool, error) { return false, errUnsupported }
func (k *Instance) WaitState(ctx context.Context, s string) (time.Time, error) {
	return time.Time{}, errUnsupported
}
func (k *Instance) WaitStateOf(ctx context.Context, n, s string) (time.Time, error) {
	return time.Time{}, errUnsupported
}

// CaptureFilter is the tcpdump filter StartCapture uses.
const CaptureFilter = "ip proto 112 or ip6 proto 112 or arp or icmp6"

// A Capture is a running tcpdump; on this GOOS StartCapture always skips.
type Capture struct{ File string }

// StartCapture skips t: captures run in network namespaces, which need Linux.
func StartCapture(t testing.TB, h *netlab.Host) *Capture {
	t.Helper()
	t.Skipf("keepalived: network namespaces need Linux, not %s", runtime.GOOS)
	return nil
}

func (c *Capture) Stop() Packets { return nil }
