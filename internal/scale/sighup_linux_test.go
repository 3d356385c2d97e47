//go:build linux

package scale

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

// A hupStep is one SIGHUP step of -scale.sighup (issue 12: "a SIGHUP that
// changes one instance out of 4,094 moves nothing else and completes
// within 1 s; adding or removing 1,000 instances by SIGHUP moves no other
// instance").
type hupStep struct {
	What string
	// Shown is the time from each SIGHUP until the side's status showed
	// the change (its instances' count, states, priority), by side; -1:
	// not within the timeout.
	Shown []sideTime
	// MovedM and MovedB are the instances of the first N (the ones the
	// step leaves alone) whose state or transition count differs, by
	// their status, -scale.quiet after the step.
	MovedM, MovedB []string
	// VIPsM and VIPsB count the VIPs on each side then (of every link the
	// lab has).
	VIPsM, VIPsB int
}

type sideTime struct {
	Side string
	D    time.Duration
}

const hupHead = "| links | interval | SIGHUP step | in the status after | other instances moved, master / backup | VIPs after, master / backup |\n" +
	"| --- | --- | --- | --- | --- | --- |"

func (h hupStep) line(r run) string {
	var shown []string
	for _, s := range h.Shown {
		d := "never"
		if s.D >= 0 {
			d = fmt.Sprintf("%.3f s", s.D.Seconds())
		}
		shown = append(shown, s.Side+" "+d)
	}
	moved := func(names []string) string {
		if len(names) <= 5 {
			return fmt.Sprintf("%d %v", len(names), names)
		}
		return fmt.Sprintf("%d %v...", len(names), names[:5])
	}
	return fmt.Sprintf("| %d | %v | %s | %s | %s / %s | %d / %d |", r.N, r.Interval, h.What, strings.Join(shown, ", "),
		moved(h.MovedM), moved(h.MovedB), h.VIPsM, h.VIPsB)
}

// sighupSteps runs, on a settled pair of vrrpds with the virtual routers
// of links 1 to n, three steps, each by rewriting a side's configuration
// file and sending it SIGHUP, then waiting -scale.quiet and comparing
// every instance's state and transition count with before (the status):
//  1. the master's VI_1 from priority 150 to 151 (it stays master);
//  2. -scale.sighup.n instances added, on links n+1 on: on the master
//     first, then, once they are all MASTER, on the backup;
//  3. the same removed: on the backup first, then on the master.
//
// The lab has n + -scale.sighup.n links.
func sighupSteps(t *testing.T, lab *netlab.Links, n int, interval time.Duration, m, b vrrpdSide) []hupStep {
	t.Helper()
	h1, h2 := lab.Host(1), lab.Host(2)
	prios := map[int]int{1: MasterPriority + 1}
	hup := func(d vrrpdSide, links int, prio int, pr map[int]int) time.Time {
		if err := os.WriteFile(d.conf, vrrpdConf(links, interval, prio, pr), 0o600); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		if err := d.p.Signal(syscall.SIGHUP); err != nil {
			t.Errorf("%s: SIGHUP: %v", d.p, err)
		}
		return at
	}
	finish := func(h *hupStep, beforeM, beforeB Snap, links int) {
		time.Sleep(*quietFlag)
		h.MovedM = snapOrFail(t, "master", m).Moved(beforeM, n)
		h.MovedB = snapOrFail(t, "backup", b).Moved(beforeB, n)
		h.VIPsM, h.VIPsB = vips(t, h1, links), vips(t, h2, links)
		if h.VIPsB != 0 {
			t.Logf("SIGHUP step %q: %d VIPs on the backup", h.What, h.VIPsB)
		}
	}

	var out []hupStep
	h := hupStep{What: fmt.Sprintf("%s priority %d -> %d on the master", InstanceName(1), MasterPriority, MasterPriority+1)}
	bm, bb := snapOrFail(t, "master", m), snapOrFail(t, "backup", b)
	at := hup(m, n, MasterPriority, prios)
	h.Shown = append(h.Shown, sideTime{"master", waitSnap(t, m, at, func(s Snap) bool {
		return s.Inst[InstanceName(1)].Priority == MasterPriority+1
	})})
	finish(&h, bm, bb, n)
	out = append(out, h)

	k := *sighupNFlag
	if k == 0 {
		return out
	}
	all := n + k
	h = hupStep{What: fmt.Sprintf("%d instances added (links %d-%d), master then backup", k, n+1, all)}
	bm, bb = snapOrFail(t, "master", m), snapOrFail(t, "backup", b)
	at = hup(m, all, MasterPriority, prios)
	h.Shown = append(h.Shown, sideTime{"master listed", waitSnap(t, m, at, func(s Snap) bool { return s.Instances == all })})
	h.Shown = append(h.Shown, sideTime{"master all MASTER", waitSnap(t, m, at, func(s Snap) bool {
		return s.Instances == all && s.States["MASTER"] == all
	})})
	at = hup(b, all, BackupPriority, nil)
	h.Shown = append(h.Shown, sideTime{"backup all BACKUP", waitSnap(t, b, at, func(s Snap) bool {
		return s.Instances == all && s.States["BACKUP"] == all
	})})
	finish(&h, bm, bb, all)
	out = append(out, h)

	h = hupStep{What: fmt.Sprintf("%d instances removed (links %d-%d), backup then master", k, n+1, all)}
	bm, bb = snapOrFail(t, "master", m), snapOrFail(t, "backup", b)
	at = hup(b, n, BackupPriority, nil)
	h.Shown = append(h.Shown, sideTime{"backup", waitSnap(t, b, at, func(s Snap) bool { return s.Instances == n })})
	at = hup(m, n, MasterPriority, prios)
	h.Shown = append(h.Shown, sideTime{"master", waitSnap(t, m, at, func(s Snap) bool { return s.Instances == n })})
	finish(&h, bm, bb, all)
	out = append(out, h)
	return out
}

// waitSnap polls d's status until done holds and returns the time from
// at; -1 (and an error of t) when not within -scale.timeout.
func waitSnap(t *testing.T, d vrrpdSide, at time.Time, done func(Snap) bool) time.Duration {
	t.Helper()
	for time.Since(at) < *timeoutFlag {
		s, err := d.snap()
		if err == nil && done(s) {
			return time.Since(at)
		}
		time.Sleep(100 * time.Millisecond) // each read builds the whole document: do not load the daemon under test
	}
	t.Errorf("%s: the SIGHUP's change not in the status within %v", d.p, *timeoutFlag)
	return -1
}
