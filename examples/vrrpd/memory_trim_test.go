package main

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/internal/scale"
)

// TestTrimHeap: once every instance has started, the daemon calls its
// trimHeap every trimInterval, and not after Run returned (issue 12: the
// heap goal a moment's peak set holds the RSS up for minutes otherwise).
func TestTrimHeap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg, err := parseTOML("scale.toml", string(scale.VrrpdConfig(3, time.Second, scale.BackupPriority)))
		if err != nil {
			t.Fatal(err)
		}
		run := func(context.Context, string, []string) error { return nil }
		d := newDaemon(cfg, &memSys{host: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, run)
		var trims atomic.Int32
		d.trimHeap = func() { trims.Add(1) }
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- d.Run(ctx) }()
		synctest.Wait()
		if n := trims.Load(); n != 0 {
			t.Errorf("%d trims at start-up, want 0 (releaseStartup's)", n)
		}
		time.Sleep(3*trimInterval + trimInterval/2)
		synctest.Wait()
		if n := trims.Load(); n != 3 {
			t.Errorf("%d trims in 3.5 trim intervals, want 3", n)
		}
		cancel()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * trimInterval)
		synctest.Wait()
		if n := trims.Load(); n != 3 {
			t.Errorf("%d trims after Run returned, want 3", n)
		}
	})
}
