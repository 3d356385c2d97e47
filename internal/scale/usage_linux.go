//go:build linux

package scale

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/govrrp/govrrp/internal/proc"
)

// userHZ is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const userHZ = 100

// Usage is what a process tree (a daemon and its descendants) has used.
type Usage struct {
	// At is when it was read.
	At time.Time
	// CPU is utime + stime + cutime + cstime summed over the tree: every
	// thread of every process, and the children they reaped (notify
	// scripts). User is its user part (utime + cutime), CPU - User the
	// system's: system calls, and the softirq work (a veth peer's
	// receive) the kernel does while a thread of the tree is on the CPU.
	CPU, User time.Duration
	// RSS and HWM are VmRSS and VmHWM (peak RSS) summed over the tree,
	// in kB.
	RSS, HWM int64
	// Threads sums the processes' thread counts; Procs counts them.
	Threads, Procs int
}

// ReadUsage reads the usage of pid and its descendants.
func ReadUsage(pid int) (Usage, error) {
	u := Usage{At: time.Now()}
	for _, p := range append([]int{pid}, proc.Descendants(pid)...) {
		ticks, user, err := cpuTicks(p)
		if err != nil {
			if p == pid {
				return u, err
			}
			continue // a notify script that just exited
		}
		st, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/status")
		if err != nil {
			continue
		}
		f := statusFields(st)
		u.CPU += time.Duration(ticks) * time.Second / userHZ
		u.User += time.Duration(user) * time.Second / userHZ
		u.RSS += f["VmRSS"]
		u.HWM += f["VmHWM"]
		u.Threads += int(f["Threads"])
		u.Procs++
	}
	return u, nil
}

// cpuTicks returns utime + stime + cutime + cstime of pid, and utime +
// cutime, in clock ticks.
func cpuTicks(pid int) (all, user int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseStatTimes(b)
}

// parseStatTicks sums fields 14-17 (utime, stime, cutime, cstime) of a
// /proc/PID/stat line.
func parseStatTicks(b []byte) (int64, error) {
	all, _, err := parseStatTimes(b)
	return all, err
}

// parseStatTimes returns the sum of fields 14-17 (utime, stime, cutime,
// cstime) of a /proc/PID/stat line, and of its user fields 14 and 16.
func parseStatTimes(b []byte) (all, user int64, err error) {
	// The command name (field 2) is in parentheses and may hold spaces:
	// count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/PID/stat: no ')' in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): field k is f[k-3].
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("/proc/PID/stat: %d fields after the name, want 15 or more", len(f))
	}
	for k := 14; k <= 17; k++ {
		v, err := strconv.ParseInt(f[k-3], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/PID/stat field %d: %w", k, err)
		}
		all += v
		if k == 14 || k == 16 {
			user += v
		}
	}
	return all, user, nil
}

// statusFields returns the numeric fields of /proc/PID/status ("VmRSS:
// 1234 kB" -> 1234).
func statusFields(b []byte) map[string]int64 {
	m := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// RawStat sums the VRRP raw sockets (protocol 112, IPv4 and IPv6) of a
// network namespace, as /proc/PID/net/raw and raw6 list them.
type RawStat struct {
	Sockets int
	// RxQueue is the bytes queued on them unread; Drops the packets the
	// kernel dropped on them (a full receive buffer, mostly).
	RxQueue, Drops uint64
}

// ReadRawStat reads the VRRP raw sockets of pid's network namespace.
func ReadRawStat(pid int) (RawStat, error) {
	var s RawStat
	for _, f := range []string{"raw", "raw6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			return s, err
		}
		parseProcNetRaw(b, 112, &s)
	}
	return s, nil
}

// parseProcNetRaw adds the sockets of protocol proto in a /proc/net/raw
// (or raw6) table to s: the local port is the protocol, the fifth field
// is tx_queue:rx_queue in hexadecimal, the last the drops.
func parseProcNetRaw(b []byte, proto int, s *RawStat) {
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 {
		return
	}
	port := fmt.Sprintf(":%04X", proto)
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 13 || !strings.HasSuffix(strings.ToUpper(f[1]), port) {
			continue
		}
		_, rxq, _ := strings.Cut(f[4], ":")
		q, err1 := strconv.ParseUint(rxq, 16, 64)
		d, err2 := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		s.Sockets++
		s.RxQueue += q
		s.Drops += d
	}
}

// Sched is what the scheduler says of a process's threads
// (/proc/PID/task/TID/schedstat, summed): time on a CPU, and time
// runnable but waiting for one.
type Sched struct{ Run, Wait time.Duration }

// ReadSched sums the schedstat of pid's threads.
func ReadSched(pid int) (Sched, error) {
	var s Sched
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return s, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // a thread that just exited
		}
		s.add(b)
	}
	return s, nil
}

// add adds one schedstat line ("run_ns wait_ns timeslices") to s.
func (s *Sched) add(b []byte) {
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return
	}
	r, err1 := strconv.ParseInt(f[0], 10, 64)
	w, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return
	}
	s.Run += time.Duration(r)
	s.Wait += time.Duration(w)
}
