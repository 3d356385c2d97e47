// Command leader is an HTTP service whose replicas on a LAN elect a leader
// with govrrp: only the VRRP master runs the periodic job, GET /status
// says whether this replica is the master or a backup, and SIGTERM hands
// the lead over at once (priority-0 advertisement). Raw VRRP sockets need
// root or CAP_NET_RAW.
//
//	leader -iface eth0 -vrid 42 -priority 150 -listen 127.0.0.1:8081
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/raw"
	"github.com/govrrp/govrrp/vrrp"
)

func main() {
	iface := flag.String("iface", "eth0", "interface the replicas share")
	vrid := flag.Uint("vrid", 42, "virtual router ID, 1-255, the same on every replica")
	prio := flag.Uint("priority", 100, "priority, 1-254: the highest live replica leads")
	listen := flag.String("listen", "127.0.0.1:8081", "HTTP address of /status")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *iface, *vrid, *prio, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "leader:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, iface string, vrid, prio uint, listen string) error {
	if vrid < 1 || vrid > 255 || prio < 1 || prio > 254 {
		return fmt.Errorf("-vrid %d -priority %d: want a VRID of 1-255 and a priority of 1-254", vrid, prio)
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	defer l.Close() // stops http.Serve
	conn, err := raw.Listen(iface, &raw.Config{Family: 4})
	if err != nil {
		return err
	}
	j := &job{interval: 2 * time.Second, work: func(context.Context) { slog.Info("doing the leader's work") }}
	defer j.stop() // however Run ends
	var r *vrrp.Router
	self, err := conn.Source(0) // this replica's address: the advertisements' source
	if err == nil {
		r, err = newRouter(conn, iface, uint8(vrid), uint8(prio), self, j)
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("interface %q: %w", iface, err)
	}
	go http.Serve(l, statusHandler(j.leading))
	return r.Run(ctx) // until SIGTERM; a master then sends priority 0 and a backup takes over
}

// newRouter returns a Router with one virtual router, "leader", on conn,
// that starts and stops j. It runs the election alone
// (vrrp.Config.ElectionOnly): no virtual address, the advertisements carry
// the replica's own address, self, and no address is ever installed.
func newRouter(conn transport.Conn, iface string, vrid, prio uint8, self netip.Addr, j *job) (*vrrp.Router, error) {
	r := vrrp.NewRouter(vrrp.RouterConfig{Logger: slog.Default(), Hook: j, EventBuffer: -1})
	return r, r.Add(vrrp.VirtualRouter{Name: "leader", Conn: conn, Interface: iface, Config: vrrp.Config{
		VRID: vrid, Priority: prio, Primary: self, ElectionOnly: true,
	}})
}

// job runs work every interval while this replica leads. It is fenced on
// the Router's transitions (vrrp.TransitionHook: every transition, in
// order, none lost, on the Router's host-work goroutine): it starts on the
// transition to Master and, on the transition out of it, is cancelled and
// waited for before the Router goes on. A replica leaving Master first
// sends its priority-0 advertisement (or stops sending), and the next
// master takes over Skew_Time later at the earliest, so the job is
// stopped before another replica starts its own, as long as work returns
// promptly when its context is cancelled.
type job struct {
	vrrp.HookFuncs // no addresses to take or announce
	interval       time.Duration
	work           func(ctx context.Context)

	mu     sync.Mutex
	cancel context.CancelFunc // nil while not leading
	done   chan struct{}
}

var _ vrrp.TransitionHook = (*job)(nil)

// Transition implements vrrp.TransitionHook.
func (j *job) Transition(ev vrrp.Event) {
	switch {
	case ev.To == vrrp.Master:
		j.start()
	case ev.From == vrrp.Master:
		j.stop()
	}
}

func (j *job) start() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel, j.done = cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		for {
			j.work(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(j.interval):
			}
		}
	}(j.done)
}

// stop cancels the job and waits for it to return.
func (j *job) stop() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cancel == nil {
		return
	}
	j.cancel()
	<-j.done
	j.cancel, j.done = nil, nil
}

// leading reports whether the job runs: this replica is the master.
func (j *job) leading() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cancel != nil
}

// statusHandler serves {"role":"master"} or {"role":"backup"}.
func statusHandler(leading func() bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		role := map[bool]string{true: "master", false: "backup"}[leading()]
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"role\":%q}\n", role)
	}
}
