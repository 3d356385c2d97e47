// Command leader is an HTTP service that embeds govrrp to elect one leader
// among its replicas on a LAN: only the VRRP master runs the periodic job,
// and GET /status tells whether this replica is the master or a backup.
//
//	leader -iface eth0 -vrid 42 -priority 150 -listen :8081 192.0.2.42
//	leader -iface eth0 -vrid 42 -peer 10.0.0.2 -peer 10.0.0.3
//
// The virtual address only names the election (every replica must use the
// same one); leader never installs it. Without one, 192.0.2.VRID (or
// 2001:db8::VRID with IPv6 peers) is used. Raw VRRP sockets need root or
// CAP_NET_RAW.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/raw"
	"github.com/govrrp/govrrp/vrrp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "leader:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	iface    string
	vrid     uint8
	priority uint8
	listen   string
	peers    []netip.Addr
	vip      netip.Addr
}

func parseOptions(args []string) (options, error) {
	fs := flag.NewFlagSet("leader", flag.ContinueOnError)
	iface := fs.String("iface", "eth0", "interface the replicas share")
	vrid := fs.Uint("vrid", 42, "virtual router ID, 1-255, the same on every replica")
	prio := fs.Uint("priority", 100, "priority, 1-254: the highest live replica leads")
	listen := fs.String("listen", "127.0.0.1:8081", "HTTP address of /status")
	var o options
	fs.Func("peer", "unicast peer address (repeat; default: multicast)", func(s string) error {
		a, err := netip.ParseAddr(s)
		o.peers = append(o.peers, a)
		return err
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *vrid < 1 || *vrid > 255 {
		return o, fmt.Errorf("-vrid %d: want 1-255", *vrid)
	}
	if *prio < 1 || *prio > 254 {
		return o, fmt.Errorf("-priority %d: want 1-254", *prio)
	}
	o.iface, o.vrid, o.priority, o.listen = *iface, uint8(*vrid), uint8(*prio), *listen
	switch {
	case fs.NArg() > 1:
		return o, fmt.Errorf("one VIP argument at most, got %d", fs.NArg())
	case fs.NArg() == 1:
		vip, err := netip.ParseAddr(fs.Arg(0))
		if err != nil {
			return o, fmt.Errorf("VIP %q: %w", fs.Arg(0), err)
		}
		o.vip = vip
	case len(o.peers) > 0 && o.peers[0].Is6():
		o.vip = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: o.vrid})
	default:
		o.vip = netip.AddrFrom4([4]byte{192, 0, 2, o.vrid})
	}
	return o, nil
}

// newRouter returns a Router with one virtual router, "leader", on conn;
// primary is this replica's address there.
func newRouter(o options, conn transport.Conn, primary netip.Addr, log *slog.Logger) (*vrrp.Router, error) {
	r := vrrp.NewRouter(vrrp.RouterConfig{Logger: log})
	err := r.Add(vrrp.VirtualRouter{
		Name:      "leader",
		Conn:      conn,
		Interface: o.iface,
		Config:    vrrp.Config{VRID: o.vrid, Priority: o.priority, Addrs: []netip.Addr{o.vip}, Primary: primary},
		Peers:     o.peers,
	})
	return r, err
}

// isLeader reports whether this replica is the master.
func isLeader(r *vrrp.Router) bool {
	s, err := r.State("leader")
	return err == nil && s == vrrp.Master
}

// leaderJob calls work every interval while this replica leads.
func leaderJob(ctx context.Context, r *vrrp.Router, every time.Duration, work func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if isLeader(r) {
				work()
			}
		}
	}
}

// statusHandler serves {"role": "master"} or {"role": "backup"}.
func statusHandler(leading func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		role := "backup"
		if leading() {
			role = "master"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"role": role})
	})
}

func run(ctx context.Context, args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	log := slog.Default()
	conn, err := raw.Listen(o.iface, &raw.Config{Peers: o.peers, Family: family(o.vip)})
	if err != nil {
		return err
	}
	primary, err := conn.Source(0)
	if err != nil {
		conn.Close()
		return err
	}
	r, err := newRouter(o, conn, primary, log)
	if err != nil {
		conn.Close()
		return err
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		conn.Close()
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /status", statusHandler(func() bool { return isLeader(r) }))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l) // returns when srv is closed
	go leaderJob(ctx, r, 2*time.Second, func() { log.Info("doing the leader's work") })

	err = r.Run(ctx) // until SIGTERM: a master then hands over at once (priority 0)
	srv.Close()
	return err
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}
