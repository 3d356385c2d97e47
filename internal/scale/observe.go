package scale

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
)

// A Snap is one side's protocol state at one moment, from the daemon's
// own faithful source: vrrpd's status endpoint (ParseStatus), keepalived's
// log (KeepalivedSnap). The notify record lags the protocol when the
// notify commands queue (about 30 a second here), so the harness settles
// on Snaps and keeps the notify record as a cross-check.
type Snap struct {
	// Instances counts the virtual routers; States counts them by state
	// (MASTER, BACKUP, FAULT, STOP).
	Instances int
	States    map[string]int
	// Trans counts the transitions so far, summed over the instances,
	// ToMaster those to MASTER.
	Trans, ToMaster uint64
	// Last is the time of the latest transition of any instance.
	Last time.Time
	// Inst is each instance by name.
	Inst map[string]InstSnap
}

// InstSnap is one virtual router in a Snap.
type InstSnap struct {
	State string
	// Priority is the configured (base) priority; 0 when the source
	// does not say (keepalived's log).
	Priority int
	Trans    uint64
	Last     time.Time
}

// statusDoc is the part of vrrpd's status document (examples/vrrpd,
// status.go and observe.go) that ParseStatus reads.
type statusDoc struct {
	Instances []struct {
		Name         string `json:"name"`
		State        string `json:"state"`
		BasePriority int    `json:"base_priority"`
		Election     struct {
			LastEvent *struct {
				Time time.Time `json:"time"`
			} `json:"last_event"`
			// Transitions counts them by "FROM->TO reason".
			Transitions map[string]uint64 `json:"transitions"`
		} `json:"election"`
	} `json:"instances"`
}

// ParseStatus reads a Snap from vrrpd's JSON status document.
func ParseStatus(b []byte) (Snap, error) {
	var doc statusDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return Snap{}, fmt.Errorf("status document: %w", err)
	}
	s := Snap{States: map[string]int{}, Inst: make(map[string]InstSnap, len(doc.Instances))}
	for _, in := range doc.Instances {
		is := InstSnap{State: in.State, Priority: in.BasePriority}
		if in.Election.LastEvent != nil {
			is.Last = in.Election.LastEvent.Time
		}
		for k, c := range in.Election.Transitions {
			is.Trans += c
			if _, to, _ := strings.Cut(k, "->"); strings.HasPrefix(to, "MASTER") {
				s.ToMaster += c
			}
		}
		s.add(in.Name, is)
	}
	return s, nil
}

func (s *Snap) add(name string, is InstSnap) {
	s.Instances++
	s.States[is.State]++
	s.Trans += is.Trans
	if is.Last.After(s.Last) {
		s.Last = is.Last
	}
	s.Inst[name] = is
}

// KeepalivedSnap reads a Snap from keepalived's log: an instance's state
// is that of its last "(NAME) Entering STATE STATE" line, its transitions
// are those lines, its last transition the time the line was read.
// Instances that logged no such line are not in it.
func KeepalivedSnap(lines []keepalived.LogLine) Snap {
	inst := map[string]InstSnap{}
	var order []string
	var toMaster uint64
	for _, l := range lines {
		i := strings.Index(l.Text, "Entering ")
		if i < 0 {
			continue
		}
		state, _, ok := strings.Cut(l.Text[i+len("Entering "):], " STATE")
		if !ok {
			continue
		}
		open := strings.LastIndex(l.Text[:i], "(")
		end := strings.LastIndex(l.Text[:i], ")")
		if open < 0 || end < open {
			continue
		}
		name := l.Text[open+1 : end]
		is, seen := inst[name]
		if !seen {
			order = append(order, name)
		}
		is.State, is.Last = state, l.Time
		is.Trans++
		if state == "MASTER" {
			toMaster++
		}
		inst[name] = is
	}
	s := Snap{States: map[string]int{}, Inst: make(map[string]InstSnap, len(inst)), ToMaster: toMaster}
	for _, name := range order {
		s.add(name, inst[name])
	}
	return s
}

// Moved returns, sorted by instance number, the instances among
// InstanceName(1) to InstanceName(n) whose transition count or state
// differs between before and s, or that are in one and not the other.
func (s Snap) Moved(before Snap, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		name := InstanceName(i)
		a, okA := before.Inst[name]
		b, okB := s.Inst[name]
		if okA != okB || a.Trans != b.Trans || a.State != b.State {
			out = append(out, name)
		}
	}
	return out
}

// MasterDownInterval is RFC 9568 section 6.1's Master_Down_Interval of a
// VRRPv3 backup of priority prio whose master advertises every interval:
// 3 x interval + Skew_Time, Skew_Time = ((256 - prio) x interval) / 256.
func MasterDownInterval(interval time.Duration, prio int) time.Duration {
	return 3*interval + time.Duration(256-prio)*interval/256
}

// An AddrEvent is a virtual address of a link added to or deleted from
// a host, as `ip -ts monitor address` reports it.
type AddrEvent struct {
	At   time.Time
	Del  bool
	Link int
}

// monitorStamp is the prefix `ip -ts monitor` puts before each message:
// "[2026-12-05T16:55:01.123456]", local time.
var monitorStamp = regexp.MustCompile(`^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)\]`)

// ParseMonitorLine parses one line of `ip -ts monitor address` output.
// It returns the event of a virtual address (VIP(i), an IPv4 /24 ending
// in .100) and ok; other lines (other addresses, continuation lines,
// IPv6) return ok false. last is the stamp of the previous line, used
// when a line carries none (iproute2 prints a stamp on a line of its
// own with -t); stamp is the line's own, or last.
func ParseMonitorLine(line string, last time.Time) (ev AddrEvent, stamp time.Time, ok bool) {
	stamp = last
	if m := monitorStamp.FindStringSubmatch(line); m != nil {
		if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", m[1], time.Local); err == nil {
			stamp = t
		}
		line = line[len(m[0]):]
	}
	line = strings.TrimSpace(line)
	del := false
	if rest, found := strings.CutPrefix(line, "Deleted "); found {
		del, line = true, rest
	}
	f := strings.Fields(line)
	for j := 0; j+1 < len(f); j++ {
		if f[j] != "inet" {
			continue
		}
		p, err := netip.ParsePrefix(f[j+1])
		if err != nil || !p.Addr().Is4() {
			return AddrEvent{}, stamp, false
		}
		a := p.Addr().As4()
		i := int(a[1])*256 + int(a[2])
		if a[0] != 10 || a[3] != 100 || i < 1 || p != VIP(i) {
			return AddrEvent{}, stamp, false
		}
		return AddrEvent{At: stamp, Del: del, Link: i}, stamp, true
	}
	return AddrEvent{}, stamp, false
}

// Replay follows the events of one host from no virtual address: full is
// the first time the VIPs of links 1 to n were all there (zero: never);
// clear the last time the host went from some VIP to none (zero: never),
// and left how many are there after the last event.
func Replay(evs []AddrEvent, n int) (full, clear time.Time, left int) {
	have := map[int]bool{}
	count := 0 // of links 1 to n
	for _, e := range evs {
		switch {
		case e.Del && have[e.Link]:
			delete(have, e.Link)
			if e.Link <= n {
				count--
			}
			if len(have) == 0 {
				clear = e.At
			}
		case !e.Del && !have[e.Link]:
			have[e.Link] = true
			if e.Link <= n {
				count++
			}
			if count == n && full.IsZero() {
				full = e.At
			}
		}
	}
	return full, clear, len(have)
}
