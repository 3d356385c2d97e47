package main

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// A linkEvent is one interface state seen by the interface watcher.
type linkEvent struct {
	name string
	up   bool
}

// subscribeLinks starts one netlink subscription: it lists every existing
// link into ch first (a dump), then sends every change, and closes ch when
// the subscription ends (done closed, or a receive error such as an
// overrun). onErr is called with each error the subscription reports.
type subscribeLinks func(ch chan<- linkEvent, done <-chan struct{}, onErr func(error)) error

// watchBackoff bounds how fast the watcher resubscribes after the
// subscription failed.
var watchBackoff = struct{ min, max, reset time.Duration }{100 * time.Millisecond, 5 * time.Second, time.Minute}

// watchLinks calls f for every link state from subscribe until ctx ends.
// When the subscription ends on its own (a netlink overrun: ENOBUFS, "no
// buffer space available", when thousands of links change at once), it
// says so in one log line and subscribes again, which re-reads every
// link (f is called for all of them; the caller ignores unchanged ones),
// so interface tracking never silently stops. Resubscriptions that fail
// at once back off up to watchBackoff.max. It returns only when ctx ends,
// or when the first subscription cannot be made at all.
func watchLinks(ctx context.Context, log *slog.Logger, subscribe subscribeLinks, f func(string, bool)) error {
	delay := watchBackoff.min
	for first := true; ; first = false {
		ch := make(chan linkEvent, 256)
		done := make(chan struct{})
		var lastErr error
		errc := make(chan error, 1)
		onErr := func(err error) {
			select {
			case errc <- err:
			default:
			}
		}
		if err := subscribe(ch, done, onErr); err != nil {
			close(done) // whatever the subscription started ends with it
			if first {
				return err
			}
			log.Warn("interface watch: cannot subscribe again, retrying", "err", err, "in", delay)
			if !sleepCtx(ctx, delay) {
				return nil
			}
			delay = min(2*delay, watchBackoff.max)
			continue
		}
		started := time.Now()
		stop := func() {
			close(done)
			for range ch { // let the subscription goroutine finish
			}
		}
		lost := false
		for !lost {
			select {
			case <-ctx.Done():
				stop()
				return nil
			case u, ok := <-ch:
				if !ok {
					lost = true
					break
				}
				f(u.name, u.up)
			case err := <-errc:
				// Any error (an overrun, an interrupted dump that may have
				// missed links): start again from a fresh dump.
				lastErr = err
				lost = true
			}
		}
		stop()
		if lastErr == nil {
			select {
			case lastErr = <-errc:
			default:
				lastErr = errors.New("subscription closed")
			}
		}
		if time.Since(started) > watchBackoff.reset {
			delay = watchBackoff.min
		}
		log.Warn("interface watch: netlink subscription lost; re-reading every interface", "err", lastErr)
		if !sleepCtx(ctx, delay) {
			return nil
		}
		delay = min(2*delay, watchBackoff.max)
	}
}

// sleepCtx waits d or until ctx ends; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
