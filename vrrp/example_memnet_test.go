package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// printTransitions is a Hook that prints every transition (a
// vrrp.TransitionHook: all of them, in order) and says when one reaches
// Master.
type printTransitions struct {
	vrrp.HookFuncs
	master chan struct{}
}

func (p printTransitions) Transition(ev vrrp.Event) {
	fmt.Printf("%s: %v -> %v (%v)\n", ev.Name, ev.From, ev.To, ev.Reason)
	if ev.To == vrrp.Master {
		close(p.master)
	}
}

// A Router over the in-memory LAN of package memnet, as tests and
// simulations use it. Unlike the raw-socket transport, a memnet endpoint
// does not tell the Router its address (it is no transport.Sourcer), so
// Config.Primary must be set.
func ExampleRouter_memnet() {
	lan := memnet.New(memnet.Config{})
	self := netip.MustParseAddr("192.0.2.1")
	conn := lan.MustAttach(memnet.EndpointConfig{Name: "eth0", Addrs: []netip.Addr{self}})

	hook := printTransitions{master: make(chan struct{})}
	r := vrrp.NewRouter(vrrp.RouterConfig{Hook: hook})
	cfg := vrrp.Config{VRID: 51, Priority: 150, AdvertInterval: 10 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	err := r.Add(vrrp.VirtualRouter{Name: "web", Conn: conn, Interface: "eth0", Config: cfg})
	fmt.Println(err)

	cfg.Primary = self
	if err := r.Add(vrrp.VirtualRouter{Name: "web", Conn: conn, Interface: "eth0", Config: cfg}); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-hook.master // alone on the LAN: master after Master_Down_Interval (~36 ms)
	cancel()
	fmt.Println("Run:", <-done)
	// Output:
	// virtual router "web": vrrp: config Primary=unset: want this router's own specified address on the interface
	// web: Initialize -> Backup (start)
	// web: Backup -> Master (masterNoResponse)
	// web: Master -> Initialize (shutdown)
	// Run: <nil>
}
