package keepalived

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/govrrp/govrrp/internal/proc"
)

// sampleWatched records the CPU wait of every watched process tree; the
// caller holds p.mu. The trees are refreshed every 25 samples (reading
// all of /proc is not cheap).
func (p *SchedProbe) sampleWatched(now time.Time) {
	for _, w := range p.watched {
		if len(w.tree) == 0 || len(w.samples)%25 == 0 {
			w.tree = append([]int{w.pid}, proc.Descendants(w.pid)...)
		}
		var total time.Duration
		for _, pid := range w.tree {
			total += runDelay(pid)
		}
		if n := len(w.samples); n > 0 && total < w.samples[n-1].wait {
			total = w.samples[n-1].wait // a thread or process went away
		}
		w.samples = append(w.samples, waitSample{now, total})
	}
}

// runDelay returns the time the threads of pid have spent runnable but
// waiting for a CPU: the second field of /proc/PID/task/TID/schedstat.
func runDelay(pid int) time.Duration {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		if ns, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			total += time.Duration(ns)
		}
	}
	return total
}
