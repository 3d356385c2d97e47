//go:build linux

package measure

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/raw"
	"github.com/govrrp/govrrp/vrrp"
)

// routerProc is a vrrp.Router running in this process on the raw
// transport of a lab host, with a Hook that does nothing: no virtual
// address through netlink, no gratuitous ARP. Beside vrrpd it separates
// the library's own timing from the work the daemon's hooks do before the
// first advertisement.
type routerProc struct {
	host   *netlab.Host
	r      *vrrp.Router
	conn   transport.Conn
	cancel context.CancelFunc
	done   chan error
}

func inprocImpl() impl {
	return impl{
		name: "Router, no-op hook",
		start: func(t *testing.T, h *netlab.Host, prio int, interval time.Duration) daemon {
			p := &routerProc{host: h, done: make(chan error, 1)}
			if err := h.Do(func() error {
				c, err := raw.Listen(h.Iface, &raw.Config{Family: 4})
				p.conn = c
				return err
			}); err != nil {
				t.Fatal(err)
			}
			p.r = vrrp.NewRouter(vrrp.RouterConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Hook: vrrp.HookFuncs{}})
			err := p.r.Add(vrrp.VirtualRouter{Name: "VI_51", Conn: p.conn, Interface: h.Iface, IfIndex: h.IfIndex,
				Config: vrrp.Config{VRID: 51, Priority: uint8(prio), Version: 3, AdvertInterval: interval,
					Addrs: []netip.Addr{netip.MustParsePrefix(vip).Addr()}, Primary: h.Addr4}})
			if err != nil {
				t.Fatal(err)
			}
			var ctx context.Context
			ctx, p.cancel = context.WithCancel(context.Background())
			go func() { p.done <- p.r.Run(ctx) }()
			t.Cleanup(p.Kill)
			return p
		},
	}
}

func (p *routerProc) PIDs() []int { return nil }

func (p *routerProc) WaitState(ctx context.Context, state string) error {
	want, ok := map[string]vrrp.State{"MASTER": vrrp.Master, "BACKUP": vrrp.Backup}[state]
	if !ok {
		return fmt.Errorf("router on %s: unknown state %q", p.host.Name, state)
	}
	for {
		s, err := p.r.State("VI_51")
		if err == nil && s == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("router on %s: waiting for %s (now %v, %v): %w", p.host.Name, state, s, err, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// Kill closes the socket first, so that nothing more is sent, then stops
// the Router: a crash as the network sees it.
func (p *routerProc) Kill() {
	if p.cancel == nil {
		return
	}
	p.conn.Close()
	p.cancel()
	<-p.done
	p.cancel = nil
}

// Stop stops the Router: a master sends priority 0 (RFC 9568 Section
// 6.4.3).
func (p *routerProc) Stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	p.cancel = nil
}
