package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"
)

// TestNotifierQueueBounded: issue 12, scale run I, where a takeover storm
// queued a notify command per transition faster than they ran (257,096
// transitions in 10 minutes, about 70 commands a second) and the queue,
// unbounded, grew with them (RSS 284 MB). Here 1,000 virtual routers
// change state 100 times each while every command waits: the queue stays
// within notifyQueueMax; every virtual router's commands run in the order
// queued, its last state's among them; the commands dropped are the
// others, counted and logged. Before, 100,000 queued.
func TestNotifierQueueBounded(t *testing.T) {
	const vrs, rounds = 1000, 100
	release := make(chan struct{})
	var mu sync.Mutex
	ran := map[string][]int{}
	lh := &logRecorder{}
	n := newNotifier(func(ctx context.Context, cmd string, args []string) error {
		<-release
		p, _ := strconv.Atoi(args[3])
		mu.Lock()
		ran[args[1]] = append(ran[args[1]], p)
		mu.Unlock()
		return nil
	}, time.Minute, slog.New(lh))
	maxQ := 0
	for r := range rounds {
		notifyFlapRound(n, vrs, r)
		q, _ := n.figures()
		maxQ = max(maxQ, q)
		checkNotifyCounts(t, n)
	}
	if maxQ > notifyQueueMax {
		t.Errorf("notify queue grew to %d; want at most %d", maxQ, notifyQueueMax)
	}
	close(release)
	n.close()
	total := 0
	for i := range vrs {
		name := fmt.Sprintf("VI_%d", i)
		got := ran[name]
		total += len(got)
		for k := 1; k < len(got); k++ {
			if got[k] <= got[k-1] {
				t.Fatalf("%s's commands ran out of order: round %d after %d", name, got[k], got[k-1])
			}
		}
		if len(got) == 0 || got[len(got)-1] != rounds-1 {
			t.Fatalf("%s's last command run is of round %v; want its last state's, %d", name, got[max(len(got)-1, 0):], rounds-1)
		}
	}
	n.mu.Lock()
	dropped := n.dropped
	n.mu.Unlock()
	if dropped != uint64(vrs*rounds-total) {
		t.Errorf("%d commands run, %d counted dropped; want %d in all", total, dropped, vrs*rounds)
	}
	if lines := lh.count("notify commands dropped"); lines == 0 || lines > 2 {
		t.Errorf("%d log lines about the dropped commands; want 1 or 2 (rate-limited, and at close)", lines)
	}
	t.Logf("%d commands queued, %d run, %d dropped; queue at most %d", vrs*rounds, total, dropped, maxQ)
}

// TestNotifyJobCompact: a queued notify command of keepalived's
// arguments is of a fixed size and allocates nothing of its own (before:
// its four arguments, the key and the priority's text, ~150 bytes).
func TestNotifyJobCompact(t *testing.T) {
	if sz := unsafe.Sizeof(notifyJob{}); sz > 64 {
		t.Errorf("notifyJob is %d bytes; want at most 64", sz)
	}
	block := make(chan struct{})
	n := newNotifier(func(context.Context, string, []string) error { <-block; return nil }, time.Minute, discard())
	n.notifyState("notify", false, "VI_1", "MASTER", 150) // running: the rest queue
	allocs := testing.AllocsPerRun(10000, func() {
		n.notifyState("notify", false, "VI_1", "BACKUP", 150)
	})
	// The queue's growth, amortised.
	if allocs > 0.01 {
		t.Errorf("%.3f allocations per queued notify command; want none of its own", allocs)
	}
	close(block)
	n.close()
	j := newJob("notify", notifyArgs(true, "G", "FAULT", 0))
	if j.args != nil || j.kind != notifyGroup || strings.Join(j.argv(), " ") != "GROUP G FAULT 0" {
		t.Errorf("keepalived's arguments not kept as fields: %+v", j)
	}
	j = newJob("notify", []string{"INSTANCE", "VI_1", "MASTER", "0100"})
	if got := strings.Join(j.argv(), " "); got != "INSTANCE VI_1 MASTER 0100" {
		t.Errorf("other arguments changed: %q", got)
	}
}

// checkNotifyCounts checks the notifier's counts of queued commands by
// key and of those waiting for a running one against its queue.
func checkNotifyCounts(t *testing.T, n *notifier) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	count := map[notifyKey]int{}
	busyQueued := 0
	for _, j := range n.q {
		count[j.key()]++
		if n.busy[j.key()] {
			busyQueued++
		}
	}
	if len(count) != len(n.count) || busyQueued != n.busyQueued {
		t.Fatalf("counts: %d keys, %d waiting for a running command; the queue has %d and %d", len(n.count), n.busyQueued, len(count), busyQueued)
	}
	for k, c := range count {
		if n.count[k] != c {
			t.Fatalf("count of %v: %d; the queue has %d", k, n.count[k], c)
		}
	}
}

// BenchmarkNotifyOneFlapping: one virtual router flaps while its command
// runs, the others are quiet, and its commands queue up to
// notifyQueueMax: queueing one must not look through the queue.
func BenchmarkNotifyOneFlapping(b *testing.B) {
	block := make(chan struct{})
	n := newNotifier(func(context.Context, string, []string) error { <-block; return nil }, time.Minute, discard())
	for range notifyQueueMax - 1 {
		n.notify("notify", notifyArgs(false, "VI_1", "BACKUP", 150))
	}
	args := notifyArgs(false, "VI_1", "MASTER", 150)
	b.ResetTimer()
	for b.Loop() {
		n.notify("notify", args)
	}
	b.StopTimer()
	close(block)
	n.close()
}

// TestNotifierQueueKeepsEachLast: beyond notifyQueueMax a command that is
// its virtual router's only one queued is never dropped: 40,000 virtual
// routers with one command each all run.
func TestNotifierQueueKeepsEachLast(t *testing.T) {
	const vrs = 40000
	release := make(chan struct{})
	var mu sync.Mutex
	ran := 0
	n := newNotifier(func(context.Context, string, []string) error {
		<-release
		mu.Lock()
		ran++
		mu.Unlock()
		return nil
	}, time.Minute, discard())
	for i := range vrs {
		n.notifyState("notify", false, "VI_"+strconv.Itoa(i), "MASTER", 100)
	}
	checkNotifyCounts(t, n)
	n.mu.Lock()
	dropped, dropAt := n.dropped, n.dropAt
	n.mu.Unlock()
	close(release)
	n.close()
	if dropped != 0 || ran != vrs {
		t.Errorf("%d commands run, %d dropped; want all %d run", ran, dropped, vrs)
	}
	if dropAt <= notifyQueueMax {
		t.Errorf("next drop pass at %d queued; want it past the queue a pass could not shorten", dropAt)
	}
}

// notifyFlapRound queues round r of vrs virtual routers flapping: each
// enters MASTER in even rounds, BACKUP in odd ones, with the round as
// its priority (the order of the commands run is checked by it).
func notifyFlapRound(n *notifier, vrs, r int) {
	state := "MASTER"
	if r%2 == 1 {
		state = "BACKUP"
	}
	for i := range vrs {
		n.notify("notify", notifyArgs(false, fmt.Sprintf("VI_%d", i), state, uint8(r)))
	}
}

// TestNotifierLetsBurstGo: once a burst of notify commands has run, the
// notifier keeps none of its memory. After the takeover of 4,094
// instances at start, the map of queued commands by key was empty but at
// its full size for good (issue 12: 320 kB in the lab master's heap
// profile, 340 kB here), though the queue's room was let go.
func TestNotifierLetsBurstGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const vrs = 4094
		names := make([]string, vrs)
		for i := range names {
			names[i] = fmt.Sprintf("VI_%d", i)
		}
		release := make(chan struct{})
		var ran atomic.Int64
		n := newNotifier(func(context.Context, string, []string) error {
			<-release
			ran.Add(1)
			return nil
		}, time.Minute, discard())
		defer n.close()
		base := liveHeap()
		for _, name := range names {
			n.notifyState("notify", false, name, "MASTER", 150)
		}
		close(release)
		synctest.Wait()
		if q, _ := n.figures(); q != 0 || ran.Load() != vrs {
			t.Fatalf("%d queued, %d run; want 0, %d", q, ran.Load(), vrs)
		}
		held := int64(liveHeap()) - int64(base)
		t.Logf("%d B held after a burst of %d commands ran", held, vrs)
		// Up to 25 kB of noise, which does not grow with the burst (a
		// few kB after 16,000); before, 340 kB, 83 B a command.
		if limit := int64(32 << 10); held > limit {
			t.Errorf("%d kB held after a burst of %d notify commands ran, want at most %d kB", held>>10, vrs, limit>>10)
		}
		runtime.KeepAlive(names)
	})
}
