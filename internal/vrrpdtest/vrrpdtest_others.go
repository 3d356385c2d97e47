//go:build !linux

package vrrpdtest

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
)

var errUnsupported = errors.New("vrrpdtest: network namespaces are Linux only")

// A Proc is a running vrrpd; on this GOOS Start always skips.
type Proc struct {
	Host *netlab.Host
	Name string
	Dir  string
}

// Start skips t: vrrpd runs in network namespaces, which need Linux.
func Start(t testing.TB, h *netlab.Host, name string, args ...string) *Proc {
	t.Helper()
	t.Skipf("vrrpdtest: network namespaces need Linux, not %s", runtime.GOOS)
	return nil
}

// StartBinary skips t: vrrpd runs in network namespaces, which need Linux.
func StartBinary(t testing.TB, bin string, h *netlab.Host, name string, args ...string) *Proc {
	t.Helper()
	t.Skipf("vrrpdtest: network namespaces need Linux, not %s", runtime.GOOS)
	return nil
}

func (p *Proc) String() string                                   { return "vrrpd" }
func (p *Proc) PID() int                                         { return 0 }
func (p *Proc) Running() bool                                    { return false }
func (p *Proc) Signal(sig os.Signal) error                       { return errUnsupported }
func (p *Proc) Stop()                                            {}
func (p *Proc) Kill()                                            {}
func (p *Proc) Log() string                                      { return "" }
func (p *Proc) Notified() string                                 { return "" }
func (p *Proc) Transitions() ([]keepalived.Transition, error)    { return nil, errUnsupported }
func (p *Proc) States(instance string) []string                  { return nil }
func (p *Proc) LastState(instance string) string                 { return "INIT" }
func (p *Proc) StatusPath() string                               { return "" }
func (p *Proc) ReadStatus(v any) error                           { return errUnsupported }
func (p *Proc) Status() (Status, error)                          { return Status{}, errUnsupported }
func (p *Proc) State(instance string) string                     { return "DEAD" }
func (p *Proc) HasVIP(a netip.Addr) bool                         { return false }
func HasAddr(t testing.TB, h *netlab.Host, a netip.Addr) bool    { return false }
func RemoveAddr(t testing.TB, h *netlab.Host, a netip.Addr) bool { return false }
func (p *Proc) WaitState(ctx context.Context, instance, state string) (time.Time, error) {
	return time.Time{}, errUnsupported
}
