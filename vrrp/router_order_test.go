package vrrp_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// waitTakeHandler is a slog.Handler whose record of a transition to
// Master waits (up to 5 s) for the Take hook of that takeover: a logger
// that is slow (a full pipe, journald) while the host work waits for it.
type waitTakeHandler struct {
	taken    chan struct{}
	timedOut *atomic.Bool
}

func (h waitTakeHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h waitTakeHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h waitTakeHandler) WithGroup(string) slog.Handler            { return h }
func (h waitTakeHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "vrrp transition" {
		return nil
	}
	master := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "to" && a.Value.String() == vrrp.Master.String() {
			master = true
		}
		return true
	})
	if master {
		select {
		case <-h.taken:
		case <-time.After(5 * time.Second):
			h.timedOut.Store(true)
		}
	}
	return nil
}

// TestRouterTakeDoesNotWaitForTheLog: a takeover's host work (Take, then
// Announce: the gratuitous ARP) is handed to the host-work goroutine as
// soon as the advertisement is written, before the transition is logged,
// so a slow log delays neither. Before, the Router logged the transition
// first: the Take waited for the logger.
func TestRouterTakeDoesNotWaitForTheLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		taken := make(chan struct{})
		var once sync.Once
		var timedOut atomic.Bool
		hook := vrrp.HookFuncs{TakeFunc: func(vrrp.VRInfo) error {
			once.Do(func() { close(taken) })
			return nil
		}}
		r := vrrp.NewRouter(vrrp.RouterConfig{Hook: hook, Logger: slog.New(waitTakeHandler{taken, &timedOut})})
		if err := r.Add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(1, 100, rtIP4(1))}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(4 * time.Second) // Master_Down_Interval 3.61 s
		synctest.Wait()
		if timedOut.Load() {
			t.Error("the Take waited for the log of its transition")
		}
		select {
		case <-taken:
		default:
			t.Error("no Take")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
