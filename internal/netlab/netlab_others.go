//go:build !linux

package netlab

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"testing"
)

var errUnsupported = errors.New("netlab: network namespaces are Linux only")

// Lab is a LAN of network namespaces; on this GOOS New always skips.
type Lab struct {
	Prefix   string
	BridgeNS string
}

// Host is one machine of a Lab.
type Host struct {
	N       int
	Name    string
	NS      string
	Iface   string
	Port    string
	MAC     net.HardwareAddr
	Addr4   netip.Addr
	Addr6   netip.Addr
	IfIndex int
}

// TempDir returns t.TempDir(): without labs, there is nothing to
// remove on a signal.
func TempDir(t testing.TB) string {
	t.Helper()
	return t.TempDir()
}

// RequirePriv skips t: network namespaces exist only on Linux.
func RequirePriv(t testing.TB) {
	t.Helper()
	t.Skipf("netlab: network namespaces need Linux, not %s", runtime.GOOS)
}

// New skips t: network namespaces exist only on Linux.
func New(t testing.TB, prefix string, n int) *Lab {
	t.Helper()
	RequirePriv(t)
	return nil
}

func (l *Lab) Hosts() []*Host                                        { return nil }
func (l *Lab) Host(i int) *Host                                      { panic(errUnsupported) }
func (l *Lab) Partition(a, b []int) error                            { return errUnsupported }
func (l *Lab) Heal() error                                           { return errUnsupported }
func (l *Lab) SetMcastFlood(i int, on bool) error                    { return errUnsupported }
func (h *Host) LinkLocal() netip.Addr                                { return netip.Addr{} }
func (h *Host) Addrs() []netip.Addr                                  { return nil }
func (h *Host) Do(f func() error) error                              { return errUnsupported }
func (h *Host) Start(name string, args ...string) (*exec.Cmd, error) { return nil, errUnsupported }
func (h *Host) StartCmd(c *exec.Cmd) error                           { return errUnsupported }
func (h *Host) SetLink(up bool) error                                { return errUnsupported }
func (h *Host) BlockVRRP() error                                     { return errUnsupported }
func (h *Host) LossVRRP(percent int) error                           { return errUnsupported }
func (h *Host) DropVRRPFrom(srcs ...netip.Addr) error                { return errUnsupported }
func (h *Host) UnblockVRRP() error                                   { return errUnsupported }

func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}

func (h *Host) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	return nil, errUnsupported
}
