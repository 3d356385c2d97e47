package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeLinks is a subscribeLinks whose sessions are scripted: each call
// lists the current links (as netlink's ListExisting does), then plays
// the session's changes; a session with overrun set then reports ENOBUFS
// and ends, as netlink's subscription goroutine does.
type fakeLinks struct {
	mu       sync.Mutex
	links    map[string]bool
	sessions []fakeSession
	calls    int
}

type fakeSession struct {
	changes []linkEvent
	overrun bool
	fail    error // the subscription cannot be made
}

func (fl *fakeLinks) subscribe(ch chan<- linkEvent, done <-chan struct{}, onErr func(error)) error {
	fl.mu.Lock()
	n := fl.calls
	fl.calls++
	var s fakeSession
	if n < len(fl.sessions) {
		s = fl.sessions[n]
	}
	var dump []linkEvent
	for _, name := range []string{"eth0", "eth1", "eth2"} {
		if up, ok := fl.links[name]; ok {
			dump = append(dump, linkEvent{name, up})
		}
	}
	fl.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	go func() {
		defer close(ch)
		send := func(e linkEvent) bool {
			select {
			case ch <- e:
				return true
			case <-done:
				return false
			}
		}
		for _, e := range dump {
			if !send(e) {
				return
			}
		}
		for _, e := range s.changes {
			fl.mu.Lock()
			fl.links[e.name] = e.up
			fl.mu.Unlock()
			if s.overrun {
				// The change happened but its message was lost.
				continue
			}
			if !send(e) {
				return
			}
		}
		if s.overrun {
			onErr(errors.New("Receive failed: " + syscall.ENOBUFS.Error()))
			return
		}
		<-done
	}()
	return nil
}

// TestWatchLinksOverrun: a netlink overrun (the subscription reports
// ENOBUFS and ends, its messages lost) used to stop interface tracking for
// good ("interface tracking is off"); the watcher now says so once and
// re-reads every link, so the lost change reaches the daemon.
func TestWatchLinksOverrun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fl := &fakeLinks{
			links: map[string]bool{"eth0": true, "eth1": true},
			sessions: []fakeSession{
				{changes: []linkEvent{{"eth1", false}, {"eth2", true}}, overrun: true},
				{fail: errors.New("netlink: too many open files")},
				{},
			},
		}
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		var mu sync.Mutex
		state := map[string]bool{}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			errc <- watchLinks(ctx, log, fl.subscribe, func(name string, up bool) {
				mu.Lock()
				state[name] = up
				mu.Unlock()
			})
		}()
		time.Sleep(time.Minute)
		synctest.Wait()
		mu.Lock()
		got := map[string]bool{}
		for k, v := range state {
			got[k] = v
		}
		mu.Unlock()
		want := map[string]bool{"eth0": true, "eth1": false, "eth2": true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("link states after the overrun (-want +got):\n%s", diff)
		}
		select {
		case err := <-errc:
			t.Fatalf("watchLinks returned %v while ctx is live: interface tracking stopped", err)
		default:
		}
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("watchLinks after cancel: %v", err)
		}
		if fl.calls != 3 {
			t.Errorf("%d subscriptions, want 3 (first, a failed retry, a good one)", fl.calls)
		}
		out := logs.String()
		if n := strings.Count(out, "netlink subscription lost"); n != 1 {
			t.Errorf("%d 'subscription lost' lines, want 1:\n%s", n, out)
		}
		if !strings.Contains(out, syscall.ENOBUFS.Error()) {
			t.Errorf("log does not name the overrun:\n%s", out)
		}
	})
}

// TestWatchLinksFirstSubscribeFails: a subscription that cannot be made at
// start is an error for the caller, not a retry loop.
func TestWatchLinksFirstSubscribeFails(t *testing.T) {
	fl := &fakeLinks{links: map[string]bool{}, sessions: []fakeSession{{fail: errors.New("no netlink")}}}
	err := watchLinks(context.Background(), slog.New(slog.DiscardHandler), fl.subscribe, func(string, bool) {})
	if err == nil || !strings.Contains(err.Error(), "no netlink") {
		t.Errorf("watchLinks = %v, want the subscription's error", err)
	}
}
