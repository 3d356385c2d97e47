package vrrp_test

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// sourcedConn is a memnet endpoint that tells its source address, as
// transport/raw does.
type sourcedConn struct {
	*memnet.Endpoint
	src netip.Addr
}

func (c sourcedConn) Source(int) (netip.Addr, error) { return c.src, nil }

var _ transport.Sourcer = sourcedConn{}

// TestRouterPrimaryFromSource: a zero Config.Primary is taken from the
// Conn's source address, and Master reports the master's primary address
// on both sides.
func TestRouterPrimaryFromSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		hi := rtNewNode(t, vrrp.RouterConfig{})
		lo := rtNewNode(t, vrrp.RouterConfig{})
		epHi := sourcedConn{rtAttach(lan, "hi", rtIP4(2)), rtIP4(2)}
		epLo := sourcedConn{rtAttach(lan, "lo", rtIP4(1)), rtIP4(1)}
		hi.add(vrrp.VirtualRouter{Name: "v4", Conn: epHi, Config: rtCfg4(1, 200, netip.Addr{})})
		lo.add(vrrp.VirtualRouter{Name: "v4", Conn: epLo, Config: rtCfg4(1, 100, netip.Addr{})})
		hi.start(true)
		lo.start(true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		for _, n := range []*rtNode{hi, lo} {
			got, err := n.r.Master("v4")
			if err != nil || got != rtIP4(2) {
				t.Errorf("Master = %v, %v; want %v", got, err, rtIP4(2))
			}
		}
		if _, err := hi.r.Master("nope"); err == nil {
			t.Error("Master(unknown name) succeeded")
		}
		hi.stop()
		lo.stop()
	})
}
