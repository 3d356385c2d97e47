package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/vishvananda/netns"
)

// TestWatchLinksThousands: 2,000 links (1,000 veth pairs: this kernel has
// no dummy links) change state at once while the
// watcher's netlink socket has a small receive buffer, so the kernel
// overruns it (ENOBUFS). Interface tracking used to stop for good
// ("interface watch stopped: interface tracking is off"); now the watcher
// re-reads every link and ends up with each one's true state.
func TestWatchLinksThousands(t *testing.T) {
	lab := netlab.New(t, "lw", 1)
	h := lab.Host(1)
	ns, err := netns.GetFromName(h.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()

	const n = 2000
	batch := func(verb string) {
		var b strings.Builder
		for i := range n / 2 {
			if verb == "add" {
				fmt.Fprintf(&b, "link add xa%d type veth peer name xb%d\n", i, i)
			} else {
				fmt.Fprintf(&b, "link set xa%d up\nlink set xb%d up\n", i, i)
			}
		}
		c := exec.Command("ip", "-n", h.NS, "-batch", "-")
		c.Stdin = strings.NewReader(b.String())
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("ip -batch link %s: %v: %s", verb, err, out)
		}
	}
	batch("add")

	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{&logMu, &logs}, nil))
	s := &linuxSystem{log: log, ns: ns}
	var mu sync.Mutex
	up := map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// The smallest buffer the kernel grants (it doubles what is asked
		// and has a floor): a burst of thousands of changes overruns it.
		done <- watchLinks(ctx, log, s.subscribeLinks(1), func(name string, u bool) {
			mu.Lock()
			up[name] = u
			mu.Unlock()
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watchLinks: %v", err)
		}
	}()
	count := func() (seen, isUp int) {
		mu.Lock()
		defer mu.Unlock()
		for name, u := range up {
			if strings.HasPrefix(name, "x") {
				seen++
				if u {
					isUp++
				}
			}
		}
		return
	}
	wait := func(what string, cond func() bool) {
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				seen, isUp := count()
				logMu.Lock()
				t.Fatalf("%s: the watcher saw %d links, %d up, of %d (interface tracking lost?); log:\n%s", what, seen, isUp, n, logs.String())
			}
		}
	}
	wait("after start", func() bool { s, _ := count(); return s == n })
	batch("set") // every link up at once
	wait("after setting every link up", func() bool { _, u := count(); return u == n })
	logMu.Lock()
	t.Logf("watcher log:\n%s", logs.String())
	logMu.Unlock()
}
