package keepalived

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var enteringRE = regexp.MustCompile(`\((\S+)\) Entering (\w+) STATE`)

// entering parses keepalived's "(VI_1) Entering MASTER STATE" log lines.
func entering(s string) (name, state string, ok bool) {
	m := enteringRE.FindStringSubmatch(s)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

func parseTransitions(b []byte) ([]Transition, error) {
	var out []Transition
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 5 {
			return nil, fmt.Errorf("keepalived: notify.log: %q: want TIME TYPE NAME STATE PRIO", line)
		}
		tm, err := parseEpoch(f[0])
		if err != nil {
			return nil, fmt.Errorf("keepalived: notify.log: %w", err)
		}
		prio, err := strconv.Atoi(f[4])
		if err != nil {
			return nil, fmt.Errorf("keepalived: notify.log: %q: priority: %w", line, err)
		}
		out = append(out, Transition{Time: tm, Type: f[1], Name: f[2], State: f[3], Priority: prio})
	}
	return out, nil
}

// addrListed reports whether `ip -o addr show` output lists addr.
func addrListed(out []byte, addr netip.Addr) bool {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" && f[i] != "inet6" {
				continue
			}
			if p, err := netip.ParsePrefix(f[i+1]); err == nil && p.Addr() == addr {
				return true
			}
		}
	}
	return false
}

// A Transition is one line of the notify script's log.
type Transition struct {
	Time     time.Time // when the notify script ran
	Type     string    // INSTANCE or GROUP
	Name     string    // vrrp_instance or vrrp_sync_group name
	State    string    // MASTER, BACKUP, FAULT or STOP
	Priority int
}

// A LogLine is one line of keepalived's console output with the time it
// was read from the pipe.
type LogLine struct {
	Time time.Time
	Text string
}
