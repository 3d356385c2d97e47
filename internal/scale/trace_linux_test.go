//go:build linux

package scale

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/proc"
)

// A tracer logs, every -scale.trace, each side's VIPs, transitions (all
// and to MASTER), its VRRP raw sockets' unread bytes and drops
// (/proc/PID/net/raw: a full receive buffer), its threads' time on a CPU
// and waiting for one in the interval (schedstat: a starved process
// waits), and its processes (the daemon and its notify commands): where
// a takeover storm comes from (issue 12).
type tracer struct {
	mu   sync.Mutex
	b    daemon
	done chan struct{}
	wg   sync.WaitGroup
}

func startTrace(t *testing.T, lab *netlab.Links, t0 time.Time, m daemon) *tracer {
	tr := &tracer{done: make(chan struct{})}
	if *traceFlag <= 0 {
		return tr
	}
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		tick := time.NewTicker(*traceFlag)
		defer tick.Stop()
		last := map[string]Sched{}
		lastAt := time.Now()
		for {
			select {
			case <-tr.done:
				return
			case <-tick.C:
			}
			now := time.Now()
			tr.mu.Lock()
			b := tr.b
			tr.mu.Unlock()
			var line strings.Builder
			fmt.Fprintf(&line, "trace %5.0fs load %s |", now.Sub(t0).Seconds(), loadAvg())
			for _, s := range []struct {
				name string
				d    daemon
				h    *netlab.Host
			}{{"master", m, lab.Host(1)}, {"backup", b, lab.Host(2)}} {
				if s.d == nil {
					continue
				}
				pid := s.d.pid()
				all, toM := s.d.notified()
				rs, _ := ReadRawStat(pid)
				sc, _ := ReadSched(pid)
				prev, ok := last[s.name]
				last[s.name] = sc
				wall := now.Sub(lastAt)
				runPct, waitPct := "-", "-"
				if ok && wall > 0 {
					runPct = fmt.Sprintf("%.0f%%", 100*(sc.Run-prev.Run).Seconds()/wall.Seconds())
					waitPct = fmt.Sprintf("%.0f%%", 100*(sc.Wait-prev.Wait).Seconds()/wall.Seconds())
				}
				fmt.Fprintf(&line, " %s: vips %d, %s, notify record %d (to MASTER %d), raw %d socks rxq %d B drops %d, cpu %s wait %s, procs %d |",
					s.name, vipsQuiet(s.h, lab.N), protocolStates(s.d), all, toM, rs.Sockets, rs.RxQueue, rs.Drops, runPct, waitPct, 1+len(proc.Descendants(pid)))
			}
			lastAt = now
			t.Log(line.String())
		}
	}()
	return tr
}

func (tr *tracer) setBackup(b daemon) {
	tr.mu.Lock()
	tr.b = b
	tr.mu.Unlock()
}

func (tr *tracer) stop() {
	close(tr.done)
	tr.wg.Wait()
}

// vipsQuiet is vips without failing the test (the tracer's goroutine
// must not call t.Fatal): -1 when ip fails.
func vipsQuiet(h *netlab.Host, n int) int {
	out, err := exec.Command("ip", "-n", h.NS, "-4", "-o", "addr", "show").Output()
	if err != nil {
		return -1
	}
	return CountVIPs(out, n)
}

// protocolStates returns a vrrpd's states as its status endpoint says
// (the protocol's, not the notify record's, which lags when the notify
// commands queue) and its Router's received and sent counters.
func protocolStates(d daemon) string {
	v, ok := d.(vrrpdSide)
	if !ok {
		return "states ?"
	}
	var st struct {
		Instances []struct {
			State string `json:"state"`
		} `json:"instances"`
		Router struct {
			Received, Sent, ReadErrors uint64
		} `json:"router"`
	}
	b, err := v.status() // vrrpdtest's ReadStatus allows 2 s: too short for 4,094 instances under load
	if err != nil || json.Unmarshal(b, &st) != nil {
		return "states ?"
	}
	n := map[string]int{}
	for _, is := range st.Instances {
		n[is.State]++
	}
	return fmt.Sprintf("states M %d B %d other %d, rx %d tx %d rerr %d", n["MASTER"], n["BACKUP"], len(st.Instances)-n["MASTER"]-n["BACKUP"], st.Router.Received, st.Router.Sent, st.Router.ReadErrors)
}
