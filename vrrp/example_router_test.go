package vrrp_test

import (
	"context"
	"log"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"

	"github.com/govrrp/govrrp/transport/raw"
	"github.com/govrrp/govrrp/vrrp"
)

// A Router holding 10.0.0.100 on eth0 with VRRPv3, as the README shows.
// (Not run: it needs a network interface and CAP_NET_RAW.)
func ExampleRouter() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	conn, err := raw.Listen("eth0", nil) // VRRPv3 over IPv4 on eth0 (needs CAP_NET_RAW)
	if err != nil {
		log.Fatal(err)
	}
	r := vrrp.NewRouter(vrrp.RouterConfig{Logger: slog.Default()})
	err = r.Add(vrrp.VirtualRouter{Name: "web", Conn: conn, Interface: "eth0",
		Config: vrrp.Config{VRID: 51, Priority: 150, // 1-254; 255 = address owner
			Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}}) // Primary: eth0's own address
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for ev := range r.Events() {
			log.Printf("%s: %v -> %v (%v)", ev.Name, ev.From, ev.To, ev.Reason)
		}
	}()
	err = r.Run(ctx) // until ctx ends: then priority 0 is sent and the addresses released
	if err != nil {
		log.Fatal(err)
	}
}
