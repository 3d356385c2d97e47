package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// sdNotifier speaks systemd's readiness protocol (sd_notify(3)): short
// datagrams "KEY=VALUE\n..." to the unix socket named by $NOTIFY_SOCKET,
// which systemd sets for a Type=notify service. vrrpd sends READY=1 once
// every instance runs, RELOADING=1 (with MONOTONIC_USEC, as
// Type=notify-reload wants) and READY=1 around a SIGHUP reload,
// STOPPING=1 when it shuts down, STATUS= lines, and WATCHDOG=1 keep-alives
// when the unit sets WatchdogSec. A nil *sdNotifier (no $NOTIFY_SOCKET:
// not run by systemd) does nothing.
type sdNotifier struct {
	conn *net.UnixConn
	// watchdog is half of $WATCHDOG_USEC: how often to send WATCHDOG=1;
	// zero when the unit has no watchdog (or it is for another PID).
	watchdog time.Duration
}

// newSDNotifier returns the notifier for the environment getenv reads,
// or nil when $NOTIFY_SOCKET is unset. pid is this process's PID, checked
// against $WATCHDOG_PID.
func newSDNotifier(getenv func(string) string, pid int) (*sdNotifier, error) {
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil, nil
	}
	switch {
	case strings.HasPrefix(path, "@"):
		// An abstract socket: Go writes a leading NUL for "@".
	case strings.HasPrefix(path, "/"):
	default:
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q: want an absolute path or an abstract socket (@name); vsock addresses are not supported", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%s: %w", path, err)
	}
	n := &sdNotifier{conn: conn}
	if us := getenv("WATCHDOG_USEC"); us != "" {
		v, err := strconv.ParseUint(us, 10, 63)
		if err != nil || v == 0 {
			conn.Close()
			return nil, fmt.Errorf("WATCHDOG_USEC=%q: want a positive number of microseconds", us)
		}
		if wp := getenv("WATCHDOG_PID"); wp == "" || wp == strconv.Itoa(pid) {
			n.watchdog = time.Duration(v) * time.Microsecond / 2
		}
	}
	return n, nil
}

// send writes one notification: lines "KEY=VALUE".
func (n *sdNotifier) send(lines ...string) error {
	if n == nil {
		return nil
	}
	_, err := n.conn.Write([]byte(strings.Join(lines, "\n") + "\n"))
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// Ready says every instance runs (again, after a reload), with a status
// line.
func (n *sdNotifier) Ready(status string) error {
	return n.send("READY=1", "STATUS="+status)
}

// Reloading says a reload started. Type=notify-reload (systemd 253 and
// later) needs MONOTONIC_USEC: CLOCK_MONOTONIC in microseconds.
func (n *sdNotifier) Reloading() error {
	if n == nil {
		return nil
	}
	us, err := monotonicUsec()
	if err != nil {
		return fmt.Errorf("sd_notify: CLOCK_MONOTONIC: %w", err)
	}
	return n.send("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatInt(us, 10), "STATUS=reloading the configuration")
}

// Stopping says the daemon is shutting down.
func (n *sdNotifier) Stopping() error { return n.send("STOPPING=1", "STATUS=stopping") }

// Status sets the unit's free-form status line (systemctl status).
func (n *sdNotifier) Status(s string) error { return n.send("STATUS=" + s) }

// Watchdog sends one keep-alive.
func (n *sdNotifier) Watchdog() error { return n.send("WATCHDOG=1") }

// WatchdogInterval is how often to call Watchdog; zero: never.
func (n *sdNotifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog
}

// Close closes the socket.
func (n *sdNotifier) Close() error {
	if n == nil {
		return nil
	}
	return n.conn.Close()
}
