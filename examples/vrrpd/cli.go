package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
)

// cliUsage documents the flags cli handles before parseFlags.
const cliUsage = `  vrrpd -keepalived FILE [-config-id ID] [-status ADDR] [-log-level LEVEL] [-notify CMD]
  vrrpd -keepalived FILE -print-toml
  vrrpd -t (-config FILE | -keepalived FILE | FLAGS VIP...)
  vrrpd -build-version    (or vrrpd -version alone)

-keepalived FILE   run the VRRP part of a keepalived.conf (global_defs,
                   include, vrrp_script, vrrp_instance, vrrp_sync_group);
                   SIGHUP re-reads it. What vrrpd cannot do as keepalived
                   would is an error naming FILE:LINE and the keyword; what
                   is harmless to leave out is a warning.
-config-id ID      keepalived's -i: lines "@ID ..." apply, "@^ID ..." do not
                   (default: the host name up to its first dot)
-print-toml        print the converted configuration as vrrpd TOML and exit
-t                 check the configuration (no privileges, no side effects)
                   and exit: 0 and a one-line summary on stdout when valid,
                   2 and the errors (FILE:LINE) on stderr when not
-build-version     print vrrpd's build version and exit. -version is the
                   VRRP version (-version 3); -version as the only argument
                   prints the build version too
`

// cliOpts are the flags cli takes out of the command line.
type cliOpts struct {
	keepalived   string
	configID     string
	configIDSet  bool
	printTOML    bool
	check        bool
	buildVersion bool
	help         bool
}

// valueFlags are parseFlags' flags that take a value: cli must not read
// their value as a flag of its own.
var valueFlags = map[string]bool{
	"iface": true, "vrid": true, "priority": true, "version": true, "interval": true,
	"preempt-delay": true, "auth-pass": true, "peer": true, "src": true, "checksum": true,
	"notify": true, "status": true, "log-level": true, "config": true, "rt-priority": true,
	"status-mode": true, "notify-nice": true, "receive-poll": true, "probe-interval": true,
	"send-path": true,
}

// splitCLI takes cli's own flags out of args, as package flag would read
// them (up to the first non-flag argument or "--"), and returns the rest
// for parseFlags.
func splitCLI(args []string) (cliOpts, []string, error) {
	var o cliOpts
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			rest = append(rest, args[i:]...)
			break
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, val, hasVal := strings.Cut(name, "=")
		boolFlag := func(p *bool) error {
			if !hasVal {
				*p = true
				return nil
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return usageError(fmt.Sprintf("invalid boolean value %q for -%s", val, name))
			}
			*p = b
			return nil
		}
		valueFlag := func(p *string) error {
			if !hasVal {
				if i+1 >= len(args) {
					return usageError("flag needs an argument: -" + name)
				}
				i++
				val = args[i]
			}
			*p = val
			return nil
		}
		var err error
		switch name {
		case "keepalived":
			err = valueFlag(&o.keepalived)
			if err == nil && o.keepalived == "" {
				err = &ConfigError{Key: "-keepalived", Allowed: "a keepalived.conf path", Flag: true}
			}
		case "config-id":
			err = valueFlag(&o.configID)
			o.configIDSet = true
		case "t":
			err = boolFlag(&o.check)
		case "print-toml":
			err = boolFlag(&o.printTOML)
		case "build-version":
			err = boolFlag(&o.buildVersion)
		case "h", "help":
			o.help = true
		default:
			rest = append(rest, a)
			if valueFlags[name] && !hasVal && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
		}
		if err != nil {
			return cliOpts{}, nil, err
		}
	}
	return o, rest, nil
}

// buildVersion describes the binary: module version, VCS revision, Go.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "vrrpd (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	s := "vrrpd " + v + " " + bi.Main.Path
	var rev, dirty string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		s += " " + rev + dirty
	}
	return s + " " + bi.GoVersion
}

// fullUsage is parseFlags' -h text followed by cli's own flags.
func fullUsage() string {
	_, err := parseFlags([]string{"-h"})
	s := ""
	if err != nil {
		s = strings.TrimPrefix(err.Error(), flag.ErrHelp.Error()+"\n")
	}
	return s + "\nconfiguration check, keepalived configurations, version:\n" + cliUsage
}

// cli is the whole command line: what does not start the daemon (-t,
// -print-toml, -build-version, -h, no arguments), -keepalived, and
// otherwise run. It returns the exit status: 0 on success, 2 for bad
// flags or configuration (and no arguments), 1 when the daemon cannot
// run.
func cli(ctx context.Context, args []string, stdout, stderr io.Writer, hup <-chan os.Signal) int {
	return cliEnv(ctx, args, stdout, stderr, hup, defaultHostEnv())
}

// cliEnv is cli on the given host (tests give a fake one).
func cliEnv(ctx context.Context, args []string, stdout, stderr io.Writer, hup <-chan os.Signal, env hostEnv) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, fullUsage())
		return 2
	}
	if len(args) == 1 && (args[0] == "-version" || args[0] == "--version") {
		fmt.Fprintln(stdout, buildVersion())
		return 0
	}
	o, rest, err := splitCLI(args)
	if err != nil {
		fmt.Fprintf(stderr, "vrrpd: %v\nrun 'vrrpd -h' for usage\n", err)
		return 2
	}
	switch {
	case o.help:
		fmt.Fprint(stderr, fullUsage())
		return 0
	case o.buildVersion:
		fmt.Fprintln(stdout, buildVersion())
		return 0
	case o.printTOML && o.keepalived == "":
		fmt.Fprintf(stderr, "vrrpd: -print-toml: want -keepalived FILE to convert\n")
		return 2
	case o.configIDSet && o.keepalived == "":
		fmt.Fprintf(stderr, "vrrpd: -config-id: only with -keepalived FILE\n")
		return 2
	}
	if o.keepalived != "" {
		return cliKeepalived(ctx, o, rest, stdout, stderr, hup, env)
	}
	if o.check {
		cfg, err := parseFlags(rest)
		if err != nil {
			fmt.Fprintf(stderr, "vrrpd: %v\n", withTOMLLine(err))
			return 2
		}
		where := "command line"
		if cfg.File != "" {
			where = cfg.File
		}
		fmt.Fprintf(stdout, "vrrpd: %s: configuration OK: %s\n", where, summary(cfg))
		return 0
	}
	return runEnv(ctx, rest, stderr, hup, env)
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + one + "s"
}

func summary(cfg Config) string {
	return fmt.Sprintf("%s, %s, %s", plural(len(cfg.Instances), "instance"),
		plural(len(cfg.Groups), "sync group"), plural(len(cfg.Scripts), "script"))
}

// kaFlags parses what may go with -keepalived: -status, -log-level,
// -notify, as with -config.
type kaFlags struct {
	status, level, notify string
	sendPath              string
	set                   map[string]bool
}

func parseKAFlags(rest []string) (kaFlags, error) {
	var f kaFlags
	fs := flag.NewFlagSet("vrrpd", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.StringVar(&f.status, "status", "", "")
	fs.StringVar(&f.level, "log-level", "info", "")
	fs.StringVar(&f.notify, "notify", "", "")
	fs.StringVar(&f.sendPath, "send-path", "", "")
	if err := fs.Parse(rest); err != nil {
		msg := firstLine(out.String())
		if m := regexp.MustCompile(`flag provided but not defined: (-\S+)`).FindStringSubmatch(msg); m != nil {
			return f, &ConfigError{Key: m[1], Allowed: "no " + m[1] + " with -keepalived: put it in the keepalived file", Flag: true}
		}
		return f, usageError(strings.TrimSpace(msg))
	}
	if fs.NArg() > 0 {
		return f, &ConfigError{Key: "VIP argument", Value: fs.Arg(0), Allowed: "no VIP arguments with -keepalived: put them in the keepalived file", Flag: true}
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return f, nil
}

// loadKeepalivedFlags loads the keepalived file and applies the flags
// that override it (as parseFlags does for -config).
func loadKeepalivedFlags(o cliOpts, f kaFlags) (Config, *kaConverted, error) {
	id := o.configID
	if !o.configIDSet {
		id = defaultConfigID()
	}
	cfg, kc, err := loadKeepalived(o.keepalived, id)
	if err != nil {
		return Config{}, nil, err
	}
	if f.set["notify"] {
		for i := range cfg.Instances {
			if cfg.Instances[i].Notify == "" {
				cfg.Instances[i].Notify = f.notify
			}
		}
		for i := range cfg.Groups {
			if cfg.Groups[i].Notify == "" {
				cfg.Groups[i].Notify = f.notify
			}
		}
	}
	if f.set["log-level"] {
		l, err := parseLevel(f.level)
		if err != nil {
			return Config{}, nil, &ConfigError{Key: "-log-level", Value: f.level, Allowed: "debug, info or warn", Flag: true}
		}
		cfg.LogLevel = l
	}
	if f.set["status"] {
		if err := checkStatusAddr(f.status); err != nil {
			return Config{}, nil, &ConfigError{Key: "-status", Value: f.status, Allowed: statusAllowed, Flag: true}
		}
		cfg.Status = f.status
	}
	if f.set["send-path"] {
		// keepalived has no such setting: the flag is the only way.
		sp, err := parseSendPath(f.sendPath, keyNamer{flags: true})
		if err != nil {
			return Config{}, nil, err
		}
		cfg.SendPath = sp
	}
	return cfg, kc, nil
}

func cliKeepalived(ctx context.Context, o cliOpts, rest []string, stdout, stderr io.Writer, hup <-chan os.Signal, env hostEnv) int {
	f, err := parseKAFlags(rest)
	if err != nil {
		fmt.Fprintf(stderr, "vrrpd: %v\nrun 'vrrpd -h' for usage\n", err)
		return 2
	}
	cfg, kc, err := loadKeepalivedFlags(o, f)
	if err != nil {
		fmt.Fprintf(stderr, "vrrpd: %v\n", err)
		return 2
	}
	if o.printTOML {
		fmt.Fprint(stdout, kc.toml())
		return 0
	}
	for _, w := range kc.warnings {
		fmt.Fprintf(stderr, "vrrpd: warning: %s\n", w)
	}
	if o.check {
		fmt.Fprintf(stdout, "vrrpd: %s: configuration OK (keepalived): %s, %s ignored\n", o.keepalived, summary(cfg),
			plural(len(kc.warnings), "setting"))
		return 0
	}
	// SIGHUP re-reads the file (and its includes) with the same flags.
	return runDaemon(ctx, cfg, func() (Config, error) {
		c, _, err := loadKeepalivedFlags(o, f)
		return c, err
	}, stderr, hup, env)
}

// tomlWhere matches the Where of a ConfigError from a TOML file.
var tomlWhere = regexp.MustCompile(`^(.*): (instance|script|sync_group)\[(\d+)\] "(?:[^"\\]|\\.)*": $`)

// withTOMLLine adds the line to a configuration error from a TOML file:
// the line of the key in the [[instance]] / [[script]] / [[sync_group]]
// table it names, or of the table. Other errors are returned as they
// are (TOML syntax errors name their line already).
func withTOMLLine(err error) error {
	var ce *ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	m := tomlWhere.FindStringSubmatch(ce.Where)
	if m == nil {
		return err
	}
	b, rerr := os.ReadFile(m[1])
	if rerr != nil {
		return err
	}
	n, _ := strconv.Atoi(m[3])
	key, _, _ := strings.Cut(ce.Key, "[")
	key, _, _ = strings.Cut(key, ".")
	line := tomlKeyLine(string(b), m[2], n, key)
	if line == 0 {
		return err
	}
	return &lineError{msg: fmt.Sprintf("%s:%d: %s", m[1], line, strings.TrimPrefix(err.Error(), m[1]+": ")), err: err}
}

// lineError is an error with the file:line in front of its text.
type lineError struct {
	msg string
	err error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.err }

// tomlKeyLine returns the line of key in the n-th [[table]] of text (or of
// the table header when the key is not written there), 0 if not found.
func tomlKeyLine(text, table string, n int, key string) int {
	lines := strings.Split(text, "\n")
	count, header := -1, 0
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			if header > 0 {
				return header // the key is not in the table
			}
			if strings.ReplaceAll(t, " ", "") == "[["+table+"]]" {
				count++
				if count == n {
					header = i + 1
				}
			}
			continue
		}
		if header > 0 {
			k, _, ok := strings.Cut(t, "=")
			if ok && strings.Trim(strings.TrimSpace(k), `"`) == key {
				return i + 1
			}
		}
	}
	return header
}
