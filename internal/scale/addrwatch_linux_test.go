//go:build linux

package scale

import (
	"bufio"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

// An addrWatch records a host's virtual-address events with the kernel's
// notification times (`ip -ts -n NS monitor address`): when every VIP was
// on the master and when the backup let its last one go, to the
// millisecond, where polling `ip addr` every second would not resolve a
// Master_Down_Interval of 361 ms (100 ms interval).
type addrWatch struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	evs  []AddrEvent
}

// watchAddrs starts `ip monitor` on h. Its events are the host's from
// about 200 ms after the call; stop ends it (by PID).
func watchAddrs(t *testing.T, h *netlab.Host) *addrWatch {
	t.Helper()
	w := &addrWatch{cmd: exec.Command("ip", "-ts", "-n", h.NS, "monitor", "address"), done: make(chan struct{})}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("ip monitor: %v", err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("ip monitor on %s: %v", h.Name, err)
	}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		var last time.Time
		for sc.Scan() {
			ev, stamp, ok := ParseMonitorLine(sc.Text(), last)
			last = stamp
			if ok {
				w.mu.Lock()
				w.evs = append(w.evs, ev)
				w.mu.Unlock()
			}
		}
	}()
	time.Sleep(200 * time.Millisecond) // subscribed before the daemons start
	return w
}

// events returns a copy of the events so far.
func (w *addrWatch) events() []AddrEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]AddrEvent(nil), w.evs...)
}

func (w *addrWatch) stop() {
	_ = w.cmd.Process.Kill()
	<-w.done
	_ = w.cmd.Wait()
}
