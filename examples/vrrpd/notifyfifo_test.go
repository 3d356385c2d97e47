//go:build unix

package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/transport/memnet"
)

func TestFIFOLine(t *testing.T) {
	for _, tc := range []struct {
		group bool
		name  string
		state string
		prio  uint8
		want  string
	}{
		{false, "VI_1", "MASTER", 100, "INSTANCE \"VI_1\" MASTER 100\n"},
		{true, "G", "BACKUP", 0, "GROUP \"G\" BACKUP 0\n"},
		{false, "VI_1", "STOP", 255, "INSTANCE \"VI_1\" STOP 255\n"},
	} {
		if got := fifoLine(tc.group, tc.name, tc.state, tc.prio); got != tc.want {
			t.Errorf("fifoLine = %q, want %q", got, tc.want)
		}
	}
}

// openReader opens the read side of a FIFO without blocking.
func openReader(t *testing.T, path string) int {
	t.Helper()
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return fd
}

// readAvailable reads what the FIFO holds now.
func readAvailable(t *testing.T, fd int) string {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Read(fd, buf)
		if n > 0 {
			out.Write(buf[:n])
		}
		if err == syscall.EAGAIN || n == 0 {
			return out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestNotifyFIFOOrderAndCleanup: lines arrive in order; a FIFO vrrpd made
// is removed at close, one that existed is left.
func TestNotifyFIFOOrderAndCleanup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "made.fifo")
	f, err := openNotifyFIFO(path, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("no FIFO made at %s: %v %v", path, fi, err)
	}
	r := openReader(t, path)
	var want strings.Builder
	for i := range 200 {
		l := fifoLine(i%3 == 0, "VI_"+string(rune('A'+i%26)), []string{"BACKUP", "MASTER", "FAULT"}[i%3], uint8(i))
		want.WriteString(l)
		f.send(l)
	}
	f.close()
	if got := readAvailable(t, r); got != want.String() {
		t.Errorf("FIFO content:\n%s\nwant:\n%s", got, want.String())
	}
	if st := f.stats(); st.Written != 200 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the FIFO vrrpd made is still there after close: %v", err)
	}
	f.send("after close\n") // dropped silently, no panic

	// An existing FIFO is used and left in place; a regular file is refused.
	path = filepath.Join(dir, "existing.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err = openNotifyFIFO(path, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f.close()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("an existing FIFO was removed: %v", err)
	}
	reg := filepath.Join(dir, "regular")
	os.WriteFile(reg, nil, 0o600)
	if _, err := openNotifyFIFO(reg, "", slog.New(slog.DiscardHandler)); !errors.Is(err, errNotFIFO) {
		t.Errorf("a regular file: err %v, want errNotFIFO", err)
	}
}

// TestNotifyFIFONoReaderDrops: with nobody reading, send never blocks;
// once the pipe and the queue are full, lines are dropped and counted,
// and close gives up on what is left after its drain timeout.
func TestNotifyFIFONoReaderDrops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.fifo")
	f, err := openNotifyFIFO(path, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000 // far more than the pipe (64 KiB) and the queue hold
	line := fifoLine(false, "VI_1", "MASTER", 100)
	for range n {
		f.send(line)
	}
	f.close()
	st := f.stats()
	t.Logf("stats %+v", st)
	if st.Dropped == 0 || st.Written == 0 || st.Written+st.Dropped != n {
		t.Errorf("stats %+v: want some written, some dropped, %d in all", st, n)
	}
}

// TestNotifyFIFOScript: the script is started with the FIFO's path as
// its last argument, reads the lines, and is stopped with its process
// group at close.
func TestNotifyFIFOScript(t *testing.T) {
	dir := t.TempDir()
	path, out, pidf := filepath.Join(dir, "s.fifo"), filepath.Join(dir, "out"), filepath.Join(dir, "pid")
	// The script's child (sleep) is in its process group: it goes too.
	script := "echo $$ > " + pidf + "; sleep 1000 & exec 3<\"$1\"; while read -r l <&3; do echo \"$l\" >> " + out + "; done; #"
	f, err := openNotifyFIFO(path, script, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f.send(fifoLine(false, "VI_1", "BACKUP", 100))
	f.send(fifoLine(true, "G", "MASTER", 0))
	want := "INSTANCE \"VI_1\" BACKUP 100\nGROUP \"G\" MASTER 0\n"
	deadline := time.Now().Add(10 * time.Second) // a hang guard, not a timing goal
	for {
		b, _ := os.ReadFile(out)
		if string(b) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the script wrote %q, want %q", b, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, err := os.ReadFile(pidf)
	if err != nil {
		t.Fatal(err)
	}
	f.close()
	var pid int
	for _, c := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(c-'0')
	}
	deadline = time.Now().Add(10 * time.Second) // a hang guard: init reaps the orphans
	for livingInGroup(pid) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the script's process group %d still has %d living processes after close", pid, livingInGroup(pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// livingInGroup counts the processes of process group pgid that are not
// zombies (an orphan's zombie waits for init, which may not reap here).
func livingInGroup(pgid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			n++
		}
	}
	return n
}

// TestDaemonNotifyFIFO: a daemon writes every transition of its
// instances and sync group to the FIFO, in order, in keepalived's format
// (a group's priority 0), STOP lines included.
func TestDaemonNotifyFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	r := openReader(t, path)
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		c := cfgOf(inst("VI_1", 1, 150, "10.0.0.100"), inst("VI_2", 2, 150, "10.0.0.200"))
		c.Instances[0].SyncGroup, c.Instances[1].SyncGroup = "G", "G"
		c.Groups = []Group{{Name: "G", Members: []string{"VI_1", "VI_2"}}}
		c.NotifyFIFO = path
		h := startHost(t, lan, 1, c)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if f := h.d.status().NotifyFIFO; f == nil || f.Path != path || f.Written != 6 || f.Dropped != 0 {
			t.Errorf("status notify_fifo %+v, want 6 lines written", f)
		}
		_, text := scrape(t, h.d.snapshot(), "")
		for _, want := range []string{"vrrpd_notify_fifo_lines_written_total 6\n", "vrrpd_notify_fifo_lines_dropped_total 0\n"} {
			if !strings.Contains(string(text), want) {
				t.Errorf("metrics: no %s", want)
			}
		}
		h.stop()
		if err := <-h.err; err != nil {
			t.Fatal(err)
		}
		h.err <- nil
	})
	got := strings.Split(strings.TrimSuffix(readAvailable(t, r), "\n"), "\n")
	// Per instance and for the group, in order.
	per := map[string][]string{}
	for _, l := range got {
		f := strings.Fields(l)
		if len(f) != 4 {
			t.Fatalf("line %q", l)
		}
		per[f[0]+" "+f[1]] = append(per[f[0]+" "+f[1]], f[2]+" "+f[3])
	}
	want := map[string][]string{
		`INSTANCE "VI_1"`: {"BACKUP 150", "MASTER 150", "STOP 150"},
		`INSTANCE "VI_2"`: {"BACKUP 150", "MASTER 150", "STOP 150"},
		`GROUP "G"`:       {"BACKUP 0", "MASTER 0", "STOP 0"},
	}
	if diff := cmp.Diff(want, per); diff != "" {
		t.Errorf("FIFO lines (-want +got):\n%s\n%q", diff, got)
	}
}

// TestNotifyFIFOConfig: notify_fifo / notify_fifo_script in TOML and
// from keepalived.conf (global_defs vrrp_notify_fifo / notify_fifo and
// their _script); notify_master / _backup / _fault / _stop in TOML.
func TestNotifyFIFOConfig(t *testing.T) {
	const inst = "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.1\"]\n"
	cfg, err := parseTOML("f.toml", "notify_fifo = \"/run/vrrpd.fifo\"\nnotify_fifo_script = \"/usr/local/bin/reader --x\"\n"+inst)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NotifyFIFO != "/run/vrrpd.fifo" || cfg.NotifyFIFOScript != "/usr/local/bin/reader --x" {
		t.Errorf("TOML: %q %q", cfg.NotifyFIFO, cfg.NotifyFIFOScript)
	}
	if _, err := parseTOML("f.toml", "notify_fifo_script = \"x\"\n"+inst); err == nil || !errors.Is(err, ErrUsage) ||
		!strings.Contains(err.Error(), "f.toml: notify_fifo_script = x: want no notify_fifo_script without a notify_fifo") {
		t.Errorf("script without FIFO: %v", err)
	}

	const kinst = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n"
	for _, defs := range []string{
		"vrrp_notify_fifo /run/k.fifo\n vrrp_notify_fifo_script \"/bin/reader -v\" root",
		"notify_fifo /run/k.fifo root root\n notify_fifo_script \"/bin/reader -v\"",
		"notify_fifo /run/k.fifo\n vrrp_notify_fifo /run/k.fifo\n notify_fifo_script \"/bin/reader -v\"",
	} {
		kc, err := convertKeepalivedText("t.conf", "global_defs {\n "+defs+"\n}\n"+kinst, "")
		if err != nil {
			t.Fatalf("%q: %v", defs, err)
		}
		cfg, err := kc.build()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.NotifyFIFO != "/run/k.fifo" || cfg.NotifyFIFOScript != "/bin/reader -v" {
			t.Errorf("%q: %q %q", defs, cfg.NotifyFIFO, cfg.NotifyFIFOScript)
		}
		roundTrip(t, kc, cfg)
	}

	// notify_STATE in TOML, folded as the converter folds keepalived's;
	// a group's too; the top-level notify is still the default.
	cfg, err = parseTOML("f.toml", "notify = \"/bin/all\"\n"+inst+"notify_master = \"/bin/m\"\nnotify_stop = \"/bin/s x\"\n"+
		strings.ReplaceAll(strings.ReplaceAll(inst, "\"A\"", "\"B\""), "vrid = 1", "vrid = 2")+
		"[[sync_group]]\nname = \"G\"\nmembers = [\"A\", \"B\"]\nnotify_fault = \"/bin/f\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := `case "$3" in MASTER) /bin/m;; STOP) /bin/s x;; esac; /bin/all`; cfg.Instances[0].Notify != want {
		t.Errorf("instance notify %q, want %q", cfg.Instances[0].Notify, want)
	}
	if cfg.Instances[1].Notify != "/bin/all" {
		t.Errorf("instance B notify %q", cfg.Instances[1].Notify)
	}
	if want := `case "$3" in FAULT) /bin/f;; esac; /bin/all`; cfg.Groups[0].Notify != want {
		t.Errorf("group notify %q, want %q", cfg.Groups[0].Notify, want)
	}
}

// TestNotifyStatesRun: the folded notify_STATE command runs the state's
// command without arguments, then notify with keepalived's four.
func TestNotifyStatesRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	cmd := rawNotifyStates{NotifyMaster: "echo master >> " + out, NotifyBackup: "echo backup >> " + out}.fold("echo all >> " + out)
	for _, st := range []string{"MASTER", "BACKUP", "FAULT"} {
		if err := shellRun(t.Context(), cmd, notifyArgs(false, "VI_1", st, 100)); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(out)
	want := "master\nall INSTANCE VI_1 MASTER 100\nbackup\nall INSTANCE VI_1 BACKUP 100\nall INSTANCE VI_1 FAULT 100\n"
	if string(b) != want {
		t.Errorf("ran:\n%s\nwant:\n%s", b, want)
	}
}

// TestKeepalivedNotifyExtras: keepalived's notify_deleted,
// notify_priority_changes and notify_master_rx_lower_pri are warnings,
// not errors.
func TestKeepalivedNotifyExtras(t *testing.T) {
	text := "global_defs {\n vrrp_notify_priority_changes true\n fifo_write_vrrp_states_on_reload\n}\n" +
		"vrrp_instance V {\n interface eth0\n virtual_router_id 1\n notify_deleted\n notify_priority_changes true\n" +
		" notify_master_rx_lower_pri /bin/x\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n"
	kc, err := convertKeepalivedText("t.conf", text, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"t.conf:2: global_defs vrrp_notify_priority_changes ignored", "t.conf:3: global_defs fifo_write_vrrp_states_on_reload ignored",
		"t.conf:8: vrrp_instance V notify_deleted ignored", "t.conf:9: vrrp_instance V notify_priority_changes ignored",
		"t.conf:10: vrrp_instance V notify_master_rx_lower_pri ignored"} {
		found := false
		for _, got := range kc.warnings {
			found = found || strings.HasPrefix(got, w)
		}
		if !found {
			t.Errorf("no warning %q in %q", w, kc.warnings)
		}
	}
}

// TestDaemonReloadNotifyFIFO: a reload that leaves notify_fifo as it is
// keeps the FIFO (the same writer, nothing lost); a new path opens a new
// FIFO and removes the one vrrpd made; none closes it; a path that
// cannot be opened keeps the running one.
func TestDaemonReloadNotifyFIFO(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.fifo"), filepath.Join(dir, "b.fifo")
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		c := cfgOf(inst("VI_1", 1, 150, "10.0.0.100"))
		c.NotifyFIFO = a
		h := startHost(t, lan, 1, c)
		time.Sleep(time.Second)
		synctest.Wait()
		first := h.d.fifo.Load()
		if first == nil || first.path != a {
			t.Fatalf("FIFO %+v, want %s", first, a)
		}
		if err := h.d.Reload(c); err != nil {
			t.Fatal(err)
		}
		if h.d.fifo.Load() != first {
			t.Error("an unchanged notify_fifo was reopened")
		}
		c.NotifyFIFO = filepath.Join(dir, "missing", "x.fifo")
		if err := h.d.Reload(c); err != nil {
			t.Fatal(err)
		}
		if h.d.fifo.Load() != first || h.d.cfg.NotifyFIFO != a {
			t.Errorf("a FIFO that cannot be made replaced the running one: %+v, cfg %q", h.d.fifo.Load(), h.d.cfg.NotifyFIFO)
		}
		c.NotifyFIFO = b
		if err := h.d.Reload(c); err != nil {
			t.Fatal(err)
		}
		if f := h.d.fifo.Load(); f == nil || f.path != b {
			t.Errorf("FIFO after the path changed: %+v, want %s", f, b)
		}
		if _, err := os.Lstat(a); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the old FIFO vrrpd made is still there: %v", err)
		}
		c.NotifyFIFO = ""
		if err := h.d.Reload(c); err != nil {
			t.Fatal(err)
		}
		if f := h.d.fifo.Load(); f != nil {
			t.Errorf("FIFO %+v after notify_fifo was removed", f)
		}
		if _, err := os.Lstat(b); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the FIFO is still there: %v", err)
		}
	})
}
