package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runCLI runs cli as main does, without signals.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing here may start the daemon
	code = cli(ctx, args, &o, &e, nil)
	return code, o.String(), e.String()
}

const cliGoodTOML = `[[instance]]
name = "a"
interface = "eth0"
vrid = 1
vips = ["10.0.0.1/24"]

[[instance]]
name = "b"
interface = "eth0"
vrid = 2
vips = ["10.0.0.2/24"]
`

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLI(t *testing.T) {
	good := writeTemp(t, "good.toml", cliGoodTOML)
	bad := writeTemp(t, "bad.toml", strings.Replace(cliGoodTOML, "vrid = 2", "priority = 7\nvrid = 300", 1))
	syntax := writeTemp(t, "syntax.toml", "[[instance]]\nname = \n")
	ka := "testdata/keepalived/haproxy-unicast.conf"
	kaBad := writeTemp(t, "bad.conf", "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n priority 0\n}\n")

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // a substring; "" for empty
		stderr string // a substring
	}{
		{"no arguments: usage", nil, 2, "", "-keepalived FILE"},
		{"help", []string{"-h"}, 0, "", "-build-version"},
		{"bare -version: the build", []string{"-version"}, 0, "vrrpd ", ""},
		{"-build-version", []string{"-build-version"}, 0, "vrrpd ", ""},
		{"-t TOML", []string{"-t", "-config", good}, 0, good + ": configuration OK: 2 instances, 0 sync groups, 0 scripts\n", ""},
		{"-t TOML error with line", []string{"-t", "-config", bad}, 2, "", bad + ":11: instance[1] \"b\": vrid = 300: want 1-255"},
		{"-t TOML syntax error with line", []string{"-t", "-config", syntax}, 2, "", "line 2"},
		{"-t flags, -version 3 still the VRRP version", []string{"-t", "-iface", "eth0", "-vrid", "5", "-version", "3", "10.0.0.1"}, 0, "command line: configuration OK: 1 instance", ""},
		{"-t flags, -version 2", []string{"-version", "2", "-t", "-iface", "eth0", "-vrid", "5", "10.0.0.1"}, 0, "configuration OK", ""},
		{"-t flags, -version 4", []string{"-t", "-iface", "eth0", "-vrid", "5", "-version", "4", "10.0.0.1"}, 2, "", "-version 4: want 2 or 3"},
		{"-version without a value among flags", []string{"-iface", "eth0", "-version"}, 2, "", "flag needs an argument: -version"},
		{"-t keepalived", []string{"-t", "-keepalived", ka}, 0, ka + ": configuration OK (keepalived): 1 instance, 0 sync groups, 1 script, 4 settings ignored\n", "warning: " + ka + ":3: global_defs router_id ignored"},
		{"-t keepalived error", []string{"-keepalived", kaBad, "-t"}, 2, "", kaBad + ":4: priority: \"0\": want 1 to 255"},
		{"-t keepalived missing", []string{"-t", "-keepalived", "/nonexistent.conf"}, 2, "", "/nonexistent.conf: -keepalived: open"},
		{"-print-toml", []string{"-keepalived", ka, "-print-toml"}, 0, "[[instance]]\nname = \"VI_1\"", ""},
		{"-print-toml without -keepalived", []string{"-print-toml", "-config", good}, 2, "", "want -keepalived FILE"},
		{"-keepalived and -iface", []string{"-keepalived", ka, "-iface", "eth0"}, 2, "", "-iface: want no -iface with -keepalived"},
		{"-keepalived and a VIP", []string{"-keepalived", ka, "10.0.0.1"}, 2, "", "no VIP arguments with -keepalived"},
		{"-keepalived and -status", []string{"-t", "-keepalived", ka, "-status", "0.0.0.0:1"}, 2, "", "-status 0.0.0.0:1: want host:port on a loopback"},
		{"-config-id alone", []string{"-config-id", "x", "-config", good}, 2, "", "only with -keepalived"},
		{"-t=false is not -t", []string{"-t=false", "-print-toml", "-keepalived", ka}, 0, "[[script]]", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if tc.stdout == "" && out != "" || !strings.Contains(out, tc.stdout) {
				t.Errorf("stdout %q, want %q in it", out, tc.stdout)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q, want %q in it", errOut, tc.stderr)
			}
		})
	}
}

// TestCLICheckOneLine: a valid configuration gives exactly one line on
// stdout.
func TestCLICheckOneLine(t *testing.T) {
	code, out, _ := runCLI(t, "-t", "-keepalived", "testdata/keepalived/sync-group.conf")
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("exit %d, stdout %q: want 0 and one line", code, out)
	}
}

func TestSplitCLI(t *testing.T) {
	o, rest, err := splitCLI([]string{"-notify", "-t", "-keepalived=f", "--print-toml", "-status", "127.0.0.1:1", "-build-version=false", "x", "-t"})
	if err != nil {
		t.Fatal(err)
	}
	// -notify's value "-t" is not -t; after "x" nothing is a flag.
	if o.check || o.keepalived != "f" || !o.printTOML || o.buildVersion {
		t.Errorf("opts %+v", o)
	}
	if got := strings.Join(rest, " "); got != "-notify -t -status 127.0.0.1:1 x -t" {
		t.Errorf("rest %q", got)
	}
	if _, _, err := splitCLI([]string{"-keepalived"}); !errors.Is(err, ErrUsage) {
		t.Errorf("-keepalived without a value: %v", err)
	}
}

func TestTOMLKeyLine(t *testing.T) {
	text := "# x\n[[script]]\nname = \"s\"\n\n[[instance]]\nname = \"a\"\n[[instance]]\n  name = \"b\"\n  vrid = 9\n[[sync_group]]\n"
	for _, tc := range []struct {
		table string
		n     int
		key   string
		want  int
	}{
		{"instance", 1, "vrid", 9},
		{"instance", 1, "priority", 7}, // not written: the table
		{"instance", 0, "name", 6},
		{"script", 0, "name", 3},
		{"sync_group", 0, "members", 10},
		{"instance", 2, "vrid", 0},
	} {
		if got := tomlKeyLine(text, tc.table, tc.n, tc.key); got != tc.want {
			t.Errorf("%s[%d].%s: line %d, want %d", tc.table, tc.n, tc.key, got, tc.want)
		}
	}
}

// TestBinaryCheckUnprivileged builds vrrpd and runs -t as nobody: it
// needs no privileges (and so can have no network side effects); with no
// arguments the binary prints its usage and exits 2.
func TestBinaryCheckUnprivileged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "vrrpd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := filepath.Abs("testdata/keepalived/sync-group.conf")
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Fatalf("running as root, setpriv (util-linux) is needed to drop privileges: %v", err)
		}
		cmd = exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
			bin, "-t", "-keepalived", conf)
	} else {
		cmd = exec.Command(bin, "-t", "-keepalived", conf)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "configuration OK (keepalived): 2 instances, 1 sync group, 1 script") {
		t.Errorf("-t as nobody: %v\n%s", err, out)
	}

	out, err = exec.Command(bin).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "usage:") {
		t.Errorf("no arguments: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "-version").Output()
	if err != nil || !strings.HasPrefix(string(out), "vrrpd ") || !strings.Contains(string(out), "github.com/govrrp/govrrp") {
		t.Errorf("-version: %v %q", err, out)
	}
}

// Every flag of parseFlags that takes a value is in valueFlags, so that
// splitCLI does not take the value for the end of the flags and leave
// cli's own flags after it (`vrrpd -receive-poll 5ms -t` ran the daemon
// instead of checking the configuration). The flags come from
// parseFlags' own usage text: a flag with a value is listed with a name
// for it.
func TestValueFlagsComplete(t *testing.T) {
	_, err := parseFlags([]string{"-h"})
	if err == nil {
		t.Fatal("parseFlags -h: no usage")
	}
	re := regexp.MustCompile(`(?m)^  -(\S+) \S`)
	ms := re.FindAllStringSubmatch(err.Error(), -1)
	if len(ms) < 10 {
		t.Fatalf("found %d flags with values in the usage text; want the flag set's:\n%v", len(ms), err)
	}
	for _, m := range ms {
		if !valueFlags[m[1]] {
			t.Errorf("-%s takes a value but is not in valueFlags", m[1])
			continue
		}
		o, _, err := splitCLI([]string{"-" + m[1], "x", "-t"})
		if err != nil || !o.check {
			t.Errorf("splitCLI(-%s x -t): check %v, %v; want -t seen", m[1], o.check, err)
		}
	}
}
