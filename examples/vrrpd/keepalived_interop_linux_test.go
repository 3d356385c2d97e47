//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/proc"
)

// kaFileProc is keepalived running a keepalived.conf of the test's own
// (internal/keepalived renders its configurations itself, without
// vrrp_script), in the foreground, VRRP only, in a lab host's namespace.
type kaFileProc struct {
	t    *testing.T
	h    *netlab.Host
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  bytes.Buffer
}

func (k *kaFileProc) Write(b []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.log.Write(b)
}

func (k *kaFileProc) text() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.log.String()
}

var kaEntering = regexp.MustCompile(`\((\S+)\) Entering (MASTER|BACKUP|FAULT) STATE`)

// state is the state keepalived last logged for instance ("INIT" before
// any).
func (k *kaFileProc) state(instance string) string {
	st := "INIT"
	for _, m := range kaEntering.FindAllStringSubmatch(k.text(), -1) {
		if m[1] == instance {
			st = m[2]
		}
	}
	return st
}

func startKeepalivedFile(t *testing.T, h *netlab.Host, conf string) *kaFileProc {
	t.Helper()
	netlab.RequirePriv(t)
	netlab.RequireTool(t, "keepalived")
	dir := netlab.TempDir(t)
	k := &kaFileProc{t: t, h: h, done: make(chan struct{})}
	k.cmd = h.Command(context.Background(), "keepalived", "--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"--use-file", conf, "--pid", filepath.Join(dir, "k.pid"), "--vrrp_pid", filepath.Join(dir, "vrrp.pid"),
		"--checkers_pid", filepath.Join(dir, "checkers.pid"), "--bfd_pid", filepath.Join(dir, "bfd.pid"))
	k.cmd.Stdout, k.cmd.Stderr = k, k
	k.cmd.WaitDelay = 2 * time.Second
	if err := k.cmd.Start(); err != nil {
		t.Fatalf("keepalived on %s: %v", h.Name, err)
	}
	go func() {
		_ = k.cmd.Wait()
		close(k.done)
	}()
	t.Cleanup(func() {
		k.kill()
		if t.Failed() {
			t.Logf("keepalived on %s log:\n%s", h.Name, k.text())
		}
	})
	waitFor(t, "keepalived to start on "+h.Name, func() bool { return strings.Contains(k.text(), "Startup complete") })
	return k
}

func (k *kaFileProc) running() bool {
	select {
	case <-k.done:
		return false
	default:
		return true
	}
}

// kill crashes keepalived, parent and VRRP child, by PID: nothing more is
// sent, the VIPs stay where they are.
func (k *kaFileProc) kill() {
	if !k.running() {
		return
	}
	tree := proc.KillTree(k.cmd.Process.Pid)
	<-k.done
	if p := proc.WaitGone(tree, 10*time.Second); p != 0 {
		k.t.Errorf("keepalived on %s: process %d alive after SIGKILL", k.h.Name, p)
	}
}

// stop is SIGTERM: keepalived sends priority 0 and removes its VIPs.
func (k *kaFileProc) stop() {
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(20 * time.Second):
		k.t.Errorf("keepalived on %s: no exit after SIGTERM", k.h.Name)
		k.kill()
	}
}

// interopConf is the keepalived.conf both hosts run; they differ in
// state and priority only. The check script fails on a host while
// DIR/fail-NETNS exists.
const interopConf = `! keepalived on one host, vrrpd -keepalived on the other.
global_defs {
    router_id interop
    script_user root
    vrrp_garp_master_delay 0
}

vrrp_script chk_flag {
    script "%[1]s/chk.sh"
    interval 1
    # Room for a loaded machine (the race detector, other tests): a
    # check killed at its timeout counts as failing, on either daemon.
    timeout 3
    fall 1
    rise 1
    weight -150
}

vrrp_instance VI_1 {
    state %[2]s
    interface eth0
    virtual_router_id 61
    priority %[3]d
    version 3
    advert_int 0.1
    virtual_ipaddress {
        10.99.0.61/24 dev eth0
    }
    track_script {
        chk_flag
    }
}
`

// TestIntegrationKeepalivedInterop runs keepalived with a keepalived.conf
// on h1 (priority 200) and vrrpd -keepalived with the same file (priority
// 100) on h2: they agree on the master, and the VIP is on the master only,
// through track failures on either side, crashes (SIGKILL) and handovers
// (SIGTERM, priority 0) of either daemon, and a SIGHUP that re-reads the
// file with a higher priority.
func TestIntegrationKeepalivedInterop(t *testing.T) {
	// vrrpd sends on the protocol-112 socket, as keepalived does, and on
	// the link layer (-send-path link, raw.Config.Send).
	t.Run("socket", func(t *testing.T) { testKeepalivedInterop(t, "socket") })
	t.Run("link", func(t *testing.T) { testKeepalivedInterop(t, "link") })
}

func testKeepalivedInterop(t *testing.T, sendPath string) {
	netlab.RequirePriv(t)
	netlab.RequireTool(t, "keepalived")
	lab := netlab.New(t, "vrd", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	dir := netlab.TempDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	chk := "#!/bin/sh\ntest ! -e " + dir + "/fail-$(ip netns identify)\n"
	if err := os.WriteFile(filepath.Join(dir, "chk.sh"), []byte(chk), 0o755); err != nil {
		t.Fatal(err)
	}
	confA := filepath.Join(dir, "keepalived-h1.conf")
	confB := filepath.Join(dir, "keepalived-h2.conf")
	for _, c := range []struct {
		path, state string
		prio        int
	}{{confA, "MASTER", 200}, {confB, "BACKUP", 100}} {
		if err := os.WriteFile(c.path, []byte(fmt.Sprintf(interopConf, dir, c.state, c.prio)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fail := func(h *netlab.Host, on bool) {
		t.Helper()
		p := filepath.Join(dir, "fail-"+h.NS)
		if on {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	const vip = "10.99.0.61/24"
	ka := startKeepalivedFile(t, h1, confA)
	vd := startVrrpd(t, h2, "keepalived.conf prio 100", "-keepalived", confB, "-send-path", sendPath)

	// agree waits until keepalived is in kaState and vrrpd in vdState, the
	// VIP on the master only, and checks that it stays so for a second.
	agree := func(step, kaState, vdState string) {
		t.Helper()
		mh, bh := h1, h2
		if vdState == "MASTER" {
			mh, bh = h2, h1
		}
		ok := func() bool {
			return ka.state("VI_1") == kaState && vd.State("VI_1") == vdState && hasAddr(t, mh, vip) && !hasAddr(t, bh, vip)
		}
		waitFor(t, fmt.Sprintf("%s: keepalived %s, vrrpd %s, the VIP on %s only", step, kaState, vdState, mh.Name), ok)
		time.Sleep(time.Second)
		if !ok() {
			t.Fatalf("%s: did not stay so: keepalived %s, vrrpd %s, VIP on h1 %v, h2 %v", step,
				ka.state("VI_1"), vd.State("VI_1"), hasAddr(t, h1, vip), hasAddr(t, h2, vip))
		}
	}

	agree("start", "MASTER", "BACKUP")

	// kaRecovers clears keepalived's track failure and waits until its
	// script has run and its priority is back at 200: before that it is
	// at 50, and a vrrpd at 100 preempts it (rightly) in the moment
	// between, which agree would see as the state not staying.
	kaRecovers := func() {
		t.Helper()
		const line = "Changing effective priority from 50 to 200"
		n := strings.Count(ka.text(), line)
		fail(h1, false)
		waitFor(t, "keepalived's track script to succeed again", func() bool { return strings.Count(ka.text(), line) > n })
	}

	// Track failure: keepalived's check fails (200-150 = 50 < 100).
	fail(h1, true)
	agree("keepalived's track script fails", "BACKUP", "MASTER")
	// And vrrpd's too (100-150: 1 < 50).
	fail(h2, true)
	agree("vrrpd's track script fails too", "MASTER", "BACKUP")
	kaRecovers()
	fail(h2, false)
	agree("both scripts succeed again", "MASTER", "BACKUP")

	// Failover: keepalived crashes; vrrpd takes over after
	// Master_Down_Interval.
	ka.kill()
	waitFor(t, "vrrpd to take over from a crashed keepalived", func() bool { return vd.State("VI_1") == "MASTER" && hasAddr(t, h2, vip) })
	ka = startKeepalivedFile(t, h1, confA)
	agree("keepalived restarted preempts", "MASTER", "BACKUP")

	// Handover: keepalived stops (priority 0).
	ka.stop()
	waitFor(t, "vrrpd to take over from a stopping keepalived", func() bool {
		return vd.State("VI_1") == "MASTER" && hasAddr(t, h2, vip) && !hasAddr(t, h1, vip)
	})
	ka = startKeepalivedFile(t, h1, confA)
	agree("keepalived started again preempts", "MASTER", "BACKUP")

	// vrrpd as master: crash and handover.
	fail(h1, true)
	agree("keepalived's track script fails again", "BACKUP", "MASTER")
	vd.Kill()
	waitFor(t, "keepalived to take over from a crashed vrrpd", func() bool { return ka.state("VI_1") == "MASTER" && hasAddr(t, h1, vip) })
	vd = startVrrpd(t, h2, "keepalived.conf prio 100, after a crash", "-keepalived", confB, "-send-path", sendPath)
	agree("vrrpd restarted preempts keepalived at 50", "BACKUP", "MASTER")
	vd.Stop() // SIGTERM: priority 0; a non-zero exit fails the test
	waitFor(t, "keepalived to take over from a stopping vrrpd", func() bool {
		return ka.state("VI_1") == "MASTER" && hasAddr(t, h1, vip) && !hasAddr(t, h2, vip)
	})
	kaRecovers()
	vd = startVrrpd(t, h2, "keepalived.conf prio 100, last", "-keepalived", confB, "-send-path", sendPath)
	agree("vrrpd started again", "MASTER", "BACKUP")

	// SIGHUP re-reads the keepalived file: priority 250 preempts.
	if err := os.WriteFile(confB, []byte(fmt.Sprintf(interopConf, dir, "BACKUP", 250)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := vd.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	agree("vrrpd reloaded with priority 250", "BACKUP", "MASTER")
	if !strings.Contains(vd.Log(), "chk_flag") {
		t.Errorf("vrrpd's log does not mention the converted check script")
	}
}
