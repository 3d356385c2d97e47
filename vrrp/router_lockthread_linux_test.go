package vrrp_test

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// tidConn records the thread each advertisement is written on (the
// protocol loop's: Router.process writes them).
type tidConn struct {
	transport.Conn // only Conn's methods: no batch writes
	mu             sync.Mutex
	tids           map[int]int
}

func (c *tidConn) WriteTo(b []byte, m transport.Meta) error {
	c.mu.Lock()
	c.tids[syscall.Gettid()]++
	c.mu.Unlock()
	return c.Conn.WriteTo(b, m)
}

// RouterConfig.LockOSThread runs on the protocol loop's goroutine, locked
// to its thread: every advertisement is written from the thread it
// prepared. Its error fails Run before anything starts, and the Router
// can be Run again.
func TestRouterLockOSThread(t *testing.T) {
	lan := memnet.New(memnet.Config{})
	defer lan.Close()
	c := &tidConn{Conn: rtAttach(lan, "a", rtIP4(1)), tids: map[int]int{}}
	var tid, calls int
	fail := errors.New("no CAP_SYS_NICE")
	r := vrrp.NewRouter(vrrp.RouterConfig{LockOSThread: func() error {
		calls++
		if calls == 1 {
			return fail
		}
		tid = syscall.Gettid()
		return nil
	}})
	cfg := rtCfg4(1, 255, rtIP4(1))
	cfg.AdvertInterval = 10 * time.Millisecond
	if err := r.Add(vrrp.VirtualRouter{Name: "VR", Conn: c, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	ctx1, cancel1 := context.WithTimeout(context.Background(), time.Second) // a hang guard
	defer cancel1()
	if err := r.Run(ctx1); !errors.Is(err, fail) {
		t.Fatalf("Run with a failing LockOSThread: %v; want its error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for {
		time.Sleep(20 * time.Millisecond)
		c.mu.Lock()
		n := 0
		for _, k := range c.tids {
			n += k
		}
		c.mu.Unlock()
		if n >= 20 {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tids) != 1 || c.tids[tid] == 0 {
		t.Errorf("advertisements written on threads %v; want all on %d, the one LockOSThread prepared", c.tids, tid)
	}
}
