package scale

import (
	"flag"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

var (
	stallFlag     = flag.Duration("scale.stall", 0, "TestScale: after the window, stop one side's process group (SIGSTOP) for this long, continue it, and measure how long until it is settled again (0: off)")
	stallSideFlag = flag.String("scale.stall.side", "backup", "-scale.stall: the side stopped, backup (its socket overflows: does a takeover storm end?) or master (the backups take over, then the master preempts back)")
)

// stallStep is the -scale.stall step of a run: one side stalled for a
// while, as a host starved of CPU stalls it, and what followed.
type stallStep struct {
	Side  string
	Stall time.Duration
	// Settled is the time from the continue until the lab was settled
	// again (as measure's settling: every instance MASTER on the master
	// and BACKUP on the backup, the VIPs only on the master, no
	// transition for -scale.quiet); -1: not within -scale.timeout.
	Settled time.Duration
	// TransM and TransB are the transitions from the stop until settled
	// (or the timeout); ToMasterB the backup's to MASTER.
	TransM, TransB, ToMasterB int
	VIPsM, VIPsB              int
}

func (s stallStep) line(r run) string {
	settled := "never (" + timeoutFlag.String() + ")"
	if s.Settled >= 0 {
		settled = fmt.Sprintf("%.1f s", s.Settled.Seconds())
	}
	return fmt.Sprintf("%s, %d links, %s: %s stopped for %v: settled again %s after it continued; transitions master %d, backup %d (to MASTER %d); VIPs at the end master %d, backup %d",
		r.Impl, r.N, r.Interval, s.Side, s.Stall, settled, s.TransM, s.TransB, s.ToMasterB, s.VIPsM, s.VIPsB)
}

// signalGroup sends sig to pid's process group when pid leads one (the
// daemon and its children: notify shells, keepalived's VRRP process),
// else to pid.
func signalGroup(pid int, sig syscall.Signal) error {
	if g, err := syscall.Getpgid(pid); err == nil && g == pid {
		return syscall.Kill(-pid, sig)
	}
	return syscall.Kill(pid, sig)
}

// stall stops one side (-scale.stall.side) for d, continues it, and
// waits until the lab is settled again or -scale.timeout has passed.
func stall(t *testing.T, lab *netlab.Links, n int, d time.Duration, m, b daemon) stallStep {
	t.Helper()
	s := stallStep{Side: *stallSideFlag, Stall: d, Settled: -1}
	victim := b
	switch s.Side {
	case "backup":
	case "master":
		victim = m
	default:
		t.Fatalf("-scale.stall.side %q: want backup or master", s.Side)
	}
	h1, h2 := lab.Host(1), lab.Host(2)
	sm0, sb0 := snapOrFail(t, "master", m), snapOrFail(t, "backup", b)
	pid := victim.pid()
	if err := signalGroup(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("-scale.stall: SIGSTOP %d: %v", pid, err)
	}
	// Whatever happens below, the side runs again.
	cont := func() {
		if err := signalGroup(pid, syscall.SIGCONT); err != nil {
			t.Errorf("-scale.stall: SIGCONT %d: %v", pid, err)
		}
	}
	stopped := true
	defer func() {
		if stopped {
			cont()
		}
	}()
	time.Sleep(d)
	cont()
	stopped = false
	t0 := time.Now()
	deadline := t0.Add(*timeoutFlag)
	q := newQuiet()
	for time.Now().Before(deadline) {
		now := time.Now()
		vm, vb := vips(t, h1, n), vips(t, h2, n)
		cm, errM := m.snap()
		cb, errB := b.snap()
		quietFrom := q.look(now, n, vm, vb, cm, cb, errM, errB)
		if !quietFrom.IsZero() && now.Sub(quietFrom) >= *quietFlag {
			s.Settled = max(quietFrom.Sub(t0), 0)
			break
		}
		time.Sleep(time.Second)
	}
	sm, sb := snapOrFail(t, "master", m), snapOrFail(t, "backup", b)
	s.TransM, s.TransB = int(sm.Trans-sm0.Trans), int(sb.Trans-sb0.Trans)
	s.ToMasterB = int(sb.ToMaster - sb0.ToMaster)
	s.VIPsM, s.VIPsB = vips(t, h1, n), vips(t, h2, n)
	return s
}
