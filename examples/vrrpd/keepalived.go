package main

// vrrpd -keepalived FILE: the VRRP part of a keepalived configuration,
// converted to vrrpd's Config. What vrrpd cannot do as keepalived would
// is an error naming the file, line and keyword; what is harmless to leave
// out (LVS, e-mail, SNMP, gratuitous ARP timing, ...) is a warning.

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
)

// kaConverted is a keepalived configuration converted: the TOML-shaped
// raw configuration, which buildFile validates, and what was ignored.
type kaConverted struct {
	path     string
	raw      rawFile
	warnings []string
	files    []string // the files read, includes too
	instPos  []kaPos  // where each raw.Instances[i] was defined
	scrPos   []kaPos  // where each raw.Scripts[i] was defined
	grpPos   []kaPos  // where each raw.SyncGroups[i] was defined
}

// loadKeepalived reads and converts the keepalived configuration at path;
// configID is keepalived's -i (the @ID of conditional lines).
func loadKeepalived(path, configID string) (Config, *kaConverted, error) {
	kc, err := convertKeepalived(path, configID)
	if err != nil {
		return Config{}, nil, err
	}
	cfg, err := kc.build()
	if err != nil {
		return Config{}, nil, err
	}
	return cfg, kc, nil
}

// defaultConfigID is keepalived's default -i: the host name up to its
// first dot.
func defaultConfigID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// build validates the converted configuration with the TOML rules; an
// error is placed at the instance, script or group it concerns.
func (kc *kaConverted) build() (Config, error) {
	cfg, err := buildFile(kc.path, kc.raw)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), kc.path+": ")
		pos := kaPos{kc.path, 0}
		for i, in := range kc.raw.Instances {
			if strings.HasPrefix(msg, fmt.Sprintf("instance[%d] %q", i, in.Name)) {
				pos = kc.instPos[i]
				msg = "vrrp_instance " + in.Name + strings.TrimPrefix(msg, fmt.Sprintf("instance[%d] %q", i, in.Name))
			}
		}
		for i, s := range kc.raw.Scripts {
			if strings.HasPrefix(msg, fmt.Sprintf("script[%d] %q", i, s.Name)) {
				pos = kc.scrPos[i]
				msg = "vrrp_script " + s.Name + strings.TrimPrefix(msg, fmt.Sprintf("script[%d] %q", i, s.Name))
			}
		}
		for i, g := range kc.raw.SyncGroups {
			if strings.HasPrefix(msg, fmt.Sprintf("sync_group[%d] %q", i, g.Name)) {
				pos = kc.grpPos[i]
				msg = "vrrp_sync_group " + g.Name + strings.TrimPrefix(msg, fmt.Sprintf("sync_group[%d] %q", i, g.Name))
			}
		}
		if pos.line == 0 {
			return Config{}, fmt.Errorf("%w: %s: %w", ErrKeepalived, kc.path, err)
		}
		return Config{}, &KeepalivedError{File: pos.file, Line: pos.line, Msg: msg + " (as converted to vrrpd's keys; -print-toml shows them)"}
	}
	return cfg, nil
}

// kaIgnoredGlobal are global_defs keywords that do not change what goes on
// the wire or which addresses are installed: ignored with a warning.
var kaIgnoredGlobal = map[string]string{
	"router_id":                        "only names the host in keepalived's logs and e-mail",
	"notification_email":               "vrrpd sends no e-mail: use notify",
	"notification_email_from":          "vrrpd sends no e-mail: use notify",
	"smtp_server":                      "vrrpd sends no e-mail: use notify",
	"smtp_connect_timeout":             "vrrpd sends no e-mail: use notify",
	"smtp_helo_name":                   "vrrpd sends no e-mail: use notify",
	"enable_script_security":           "vrrpd runs scripts as its own user (root)",
	"vrrp_skip_check_adv_addr":         "vrrpd accepts an advertisement whatever its address list (RFC 9568 section 6.4.2 only logs a mismatch)",
	"vrrp_check_unicast_src":           "vrrpd does not check the source of unicast advertisements against its peers",
	"vrrp_lower_prio_no_advert":        "not supported: vrrpd follows RFC 9568",
	"vrrp_higher_prio_send_advert":     "not supported: vrrpd follows RFC 9568",
	"vrrp_iptables":                    "vrrpd filters with its own nftables tables (accept)",
	"vrrp_ipsets":                      "vrrpd filters with its own nftables tables (accept)",
	"vrrp_nftables":                    "vrrpd filters with its own nftables tables (accept)",
	"vrrp_priority":                    "not supported by vrrpd",
	"vrrp_cpu_affinity":                "not supported by vrrpd",
	"vrrp_rlimit_rttime":               "not supported by vrrpd",
	"vrrp_startup_delay":               "not supported by vrrpd",
	"vrrp_netlink_cmd_rcv_bufs":        "not needed by vrrpd",
	"vrrp_netlink_monitor_rcv_bufs":    "not needed by vrrpd",
	"vrrp_rx_bufs_policy":              "not needed by vrrpd",
	"vrrp_rx_bufs_multiplier":          "not needed by vrrpd",
	"max_auto_priority":                "not supported by vrrpd",
	"min_auto_priority_delay":          "not supported by vrrpd",
	"dynamic_interfaces":               "vrrpd waits for a missing interface (Fault) anyway",
	"enable_traps":                     "vrrpd has no SNMP",
	"snmp_socket":                      "vrrpd has no SNMP",
	"enable_snmp_vrrp":                 "vrrpd has no SNMP",
	"enable_snmp_keepalived":           "vrrpd has no SNMP",
	"enable_snmp_rfcv2":                "vrrpd has no SNMP",
	"enable_snmp_rfcv3":                "vrrpd has no SNMP",
	"enable_snmp_checker":              "vrrpd has no SNMP",
	"enable_dbus":                      "vrrpd has no D-Bus interface: use -status",
	"umask":                            "not needed by vrrpd",
	"instance":                         "keepalived's instance name only names its files",
	"lvs_id":                           "LVS is not part of vrrpd",
	"lvs_timeouts":                     "LVS is not part of vrrpd",
	"lvs_flush":                        "LVS is not part of vrrpd",
	"lvs_sync_daemon":                  "LVS is not part of vrrpd",
	"checker_priority":                 "the LVS checker is not part of vrrpd",
	"checker_no_swap":                  "the LVS checker is not part of vrrpd",
	"checker_rt_priority":              "the LVS checker is not part of vrrpd",
	"bfd_priority":                     "BFD is not part of vrrpd",
	"bfd_no_swap":                      "BFD is not part of vrrpd",
	"bfd_rt_priority":                  "BFD is not part of vrrpd",
	"process_names":                    "not needed by vrrpd",
	"vrrp_process_name":                "not needed by vrrpd",
	"checker_process_name":             "not needed by vrrpd",
	"bfd_process_name":                 "not needed by vrrpd",
	"no_email_faults":                  "vrrpd sends no e-mail",
	"linkbeat_use_polling":             "vrrpd follows links through netlink",
	"script_security":                  "vrrpd runs scripts as its own user (root)",
	"vrrp_notify_priority_changes":     "vrrpd writes no priority-change lines to the notify FIFO",
	"fifo_write_vrrp_states_on_reload": "vrrpd keeps its notify FIFO over a reload and writes transitions only",
}

// kaIgnoredTop are top-level blocks that are not VRRP: ignored with a
// warning.
var kaIgnoredTop = map[string]string{
	"virtual_server":       "LVS is not part of vrrpd",
	"virtual_server_group": "LVS is not part of vrrpd",
	"static_ipaddress":     "vrrpd installs no static addresses: configure them in the system",
	"static_routes":        "vrrpd installs no static routes: configure them in the system",
	"static_rules":         "vrrpd installs no static rules: configure them in the system",
	"linkbeat_interfaces":  "vrrpd follows links through netlink",
	"bfd_instance":         "BFD is not supported by vrrpd (unused here)",
}

// kaIgnoredInstance are vrrp_instance keywords that vrrpd ignores with a
// warning: timing and logging details that leave the protocol as it is.
var kaIgnoredInstance = map[string]string{
	"garp_interval":              "not a vrrp_instance keyword in keepalived, which ignores it: use vrrp_garp_interval in global_defs or a garp_group",
	"gna_interval":               "not a vrrp_instance keyword in keepalived, which ignores it: use vrrp_gna_interval in global_defs or a garp_group",
	"lower_prio_no_advert":       "not supported: vrrpd follows RFC 9568",
	"higher_prio_send_advert":    "not supported: vrrpd follows RFC 9568",
	"smtp_alert":                 "vrrpd sends no e-mail: use notify",
	"debug":                      "use -log-level debug",
	"skip_check_adv_addr":        "vrrpd accepts an advertisement whatever its address list",
	"check_unicast_src":          "vrrpd does not check the source of unicast advertisements",
	"unicast_ttl":                "vrrpd sends with TTL / hop limit 255 (RFC 9568 section 5.1.1.3)",
	"kernel_rx_buf_size":         "not needed by vrrpd",
	"lvs_sync_daemon_interface":  "LVS is not part of vrrpd",
	"vmac_xmit_base":             "vrrpd sends from the virtual MAC interface",
	"native_ipv6":                "",
	"unicast_fault_no_peer":      "not needed by vrrpd",
	"track_src_ip":               "not supported by vrrpd",
	"promote_secondaries":        "not needed by vrrpd",
	"notify_deleted":             "vrrpd notifies STOP for an instance a reload removes",
	"notify_priority_changes":    "vrrpd writes no priority-change lines to the notify FIFO",
	"notify_master_rx_lower_pri": "vrrpd runs no command when a master hears a lower priority (it sends gratuitous ARPs: garp_lower_prio_*)",
}

// kaUnsupportedInstance are vrrp_instance keywords that change what
// keepalived does in a way vrrpd cannot: errors.
var kaUnsupportedInstance = map[string]string{
	"virtual_routes":       "vrrpd installs no routes with the virtual addresses: install them from a notify script",
	"virtual_rules":        "vrrpd installs no rules with the virtual addresses: install them from a notify script",
	"track_bfd":            "BFD tracking is not supported by vrrpd",
	"dont_track_primary":   "vrrpd always puts an instance in FAULT when its interface is down",
	"old_unicast_checksum": "vrrpd sends only the standard checksum",
	"notify_fifo":          "keepalived has no notify_fifo in vrrp_instance: set vrrp_notify_fifo in global_defs",
	"mcast_dst_ip":         "vrrpd sends to the standard multicast group",
}

// kaConverter holds the conversion's state.
type kaConverter struct {
	kc           *kaConverted
	version      int // global vrrp_version; 0: keepalived's default, 2
	strict       bool
	defaultIface string
	scripts      map[string]*kaScript
	scriptOrder  []string
	instances    map[string]int // name: index in kc.raw.Instances
	inst         []*kaInstance
	minGARP      bool // vrrp_min_garp
	trackFiles   map[string]*rawTrackFile
	trackProcs   map[string]*rawTrackProcess
	fifoPos      kaPos              // where the notify FIFO was set
	garpGroups   map[string]rawGARP // garp_group intervals by interface
}

type kaScript struct {
	raw  rawScript
	pos  kaPos
	refs []kaScriptRef
}

type kaScriptRef struct {
	weight    int  // math.MinInt: the script's own
	groupZero bool // in a sync group without tracking weights: 0
	pos       kaPos
}

type kaInstance struct {
	raw       rawInstance
	pos       kaPos
	scripts   []kaScriptRef // track_script entries
	trackPos  []kaPos       // track_interface entries' positions
	notify    kaNotify
	explicitV bool
	master    *kaNode // state MASTER
	backup    *kaNode // state BACKUP
	accept    *bool
	authPass  string
	authPos   kaPos
	group     string
	strict    bool    // strict_mode
	tfPos     []kaPos // track_file entries' positions
	tpPos     []kaPos // track_process entries' positions
}

// kaNotify are the notify commands of an instance or a sync group, as
// shell commands (empty: none).
type kaNotify struct {
	all, master, backup, fault, stop string
}

// shell returns the one notify command vrrpd runs at every transition,
// with keepalived's arguments appended ("$@": TYPE NAME STATE PRIORITY):
// notify_master / _backup / _fault / _stop for the new state first,
// without arguments, then notify with them.
func (n kaNotify) shell() string {
	var cases []string
	for _, c := range []struct{ state, cmd string }{
		{"MASTER", n.master}, {"BACKUP", n.backup}, {"FAULT", n.fault}, {"STOP", n.stop},
	} {
		if c.cmd != "" {
			cases = append(cases, c.state+") "+c.cmd+";;")
		}
	}
	if len(cases) == 0 {
		return n.all
	}
	last := n.all
	if last == "" {
		last = ":" // takes the "$@" vrrpd appends, and does nothing
	}
	return `case "$3" in ` + strings.Join(cases, " ") + " esac; " + last
}

// convertKeepalived reads path (and its includes) and converts it.
func convertKeepalived(path, configID string) (*kaConverted, error) {
	b, err := readConfigFile(path)
	if err != nil {
		return nil, &KeepalivedError{File: path, Keyword: "-keepalived", Msg: err.Error()}
	}
	return convertKeepalivedText(path, string(b), configID)
}

// convertKeepalivedText converts text, read from path.
func convertKeepalivedText(path, text, configID string) (*kaConverted, error) {
	lx := &kaLexer{configID: configID, vars: map[string]string{}, files: []string{path}}
	toks, err := lx.lex(path, text)
	if err != nil {
		return nil, err
	}
	nodes, err := kaParse(toks)
	if err != nil {
		return nil, err
	}
	c := &kaConverter{
		kc:         &kaConverted{path: path, files: lx.files, warnings: lx.warnings},
		scripts:    map[string]*kaScript{},
		instances:  map[string]int{},
		garpGroups: map[string]rawGARP{},
		trackFiles: map[string]*rawTrackFile{},
		trackProcs: map[string]*rawTrackProcess{},
	}
	if err := c.convert(nodes); err != nil {
		return nil, err
	}
	return c.kc, nil
}

// note records a warning about a keyword converted with a change.
func (c *kaConverter) note(pos kaPos, keyword, what string) {
	c.kc.warnings = append(c.kc.warnings, fmt.Sprintf("%s: %s: %s", pos, keyword, what))
}

func (c *kaConverter) warn(pos kaPos, keyword, why string) {
	if why == "" {
		why = "ignored"
	} else {
		why = "ignored: " + why
	}
	c.kc.warnings = append(c.kc.warnings, fmt.Sprintf("%s: %s %s", pos, keyword, why))
}

func (c *kaConverter) convert(nodes []*kaNode) error {
	// global_defs first: its defaults apply to every instance.
	for _, n := range nodes {
		var err error
		switch n.key {
		case "global_defs":
			err = c.globalDefs(n)
		case "garp_group":
			err = c.garpGroup(n)
		case "track_file", "vrrp_track_file":
			err = c.trackFile(n)
		case "vrrp_track_process":
			err = c.trackProcess(n)
		}
		if err != nil {
			return err
		}
	}
	var groups []*kaNode
	for _, n := range nodes {
		switch n.key {
		case "global_defs", "garp_group", "track_file", "vrrp_track_file", "vrrp_track_process":
		case "vrrp_script":
			if err := c.script(n); err != nil {
				return err
			}
		case "vrrp_instance":
			if err := c.instance(n); err != nil {
				return err
			}
		case "vrrp_sync_group":
			groups = append(groups, n)
		case "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets":
			return n.pos.errf(n.key, "vrrpd runs in the network namespace it is started in: start it with 'ip netns exec NAME vrrpd ...'")
		default:
			why, ok := kaIgnoredTop[n.key]
			if !ok {
				return n.pos.errf(n.key, "unknown keyword at the top level (want global_defs, vrrp_script, vrrp_instance, vrrp_sync_group, include; LVS and static_* sections are ignored)")
			}
			c.warn(n.pos, n.key, why)
		}
	}
	for _, n := range groups {
		if err := c.syncGroup(n); err != nil {
			return err
		}
	}
	return c.finish()
}

func kaNeedArgs(n *kaNode, min, max int, what string) error {
	if len(n.args) < min || (max >= 0 && len(n.args) > max) {
		return n.pos.errf(n.key, "want %s", what)
	}
	if n.hasBlock {
		return n.pos.errf(n.key, "no block here: want %s", what)
	}
	return nil
}

func kaInt(n *kaNode, lo, hi int, what string) (int, error) {
	if err := kaNeedArgs(n, 1, 1, what); err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(n.args[0].s)
	if err != nil || v < lo || v > hi {
		return 0, n.pos.errf(n.key, "%q: want %s", n.args[0].s, what)
	}
	return v, nil
}

// kaSeconds parses keepalived's seconds, which may be fractional, as a Go
// duration string, rounded to the microsecond.
func kaSeconds(n *kaNode, lo, hi float64, what string) (string, float64, error) {
	if err := kaNeedArgs(n, 1, 1, what); err != nil {
		return "", 0, err
	}
	v, err := strconv.ParseFloat(n.args[0].s, 64)
	if err != nil || math.IsNaN(v) || v < lo || v > hi {
		return "", 0, n.pos.errf(n.key, "%q: want %s", n.args[0].s, what)
	}
	return kaDur(v), v, nil
}

func kaDur(sec float64) string {
	us := math.Round(sec * 1e6)
	switch {
	case math.Mod(us, 1e6) == 0:
		return strconv.FormatFloat(us/1e6, 'f', -1, 64) + "s"
	case math.Mod(us, 1e3) == 0:
		return strconv.FormatFloat(us/1e3, 'f', -1, 64) + "ms"
	}
	return strconv.FormatFloat(us, 'f', -1, 64) + "us"
}

// kaCommand converts a script / notify value: the command string and an
// optional user and group, which must be root (vrrpd runs commands as
// its own user).
func kaCommand(n *kaNode) (string, error) {
	if len(n.args) == 0 || n.hasBlock {
		return "", n.pos.errf(n.key, "want a command (quoted when it has arguments) [username [groupname]]")
	}
	if len(n.args) > 3 {
		return "", n.pos.errf(n.key, "want a command (quoted when it has arguments) [username [groupname]]: %d words; quote the command", len(n.args))
	}
	if err := kaRootOnly(n, n.args[1:]); err != nil {
		return "", err
	}
	words, err := kaSplitCommand(n.args[0].s)
	if err != nil || len(words) == 0 {
		return "", n.pos.errf(n.key, "%q: want a command (%v)", n.args[0].s, err)
	}
	return shellQuote(words), nil
}

// kaRootOnly refuses a user / group other than root: vrrpd runs every
// command as its own user.
func kaRootOnly(n *kaNode, ug []kaTok) error {
	for _, t := range ug {
		if t.s != "root" && t.s != "0" {
			return n.pos.errf(n.key, "user/group %q: vrrpd runs scripts as its own user (root); drop the user, or make the script drop privileges itself (e.g. setpriv, runuser)", t.s)
		}
	}
	return nil
}

func (c *kaConverter) globalDefs(g *kaNode) error {
	for _, n := range g.block {
		switch n.key {
		case "vrrp_version":
			v, err := kaInt(n, 2, 3, "2 or 3")
			if err != nil {
				return err
			}
			c.version = v
		case "vrrp_strict":
			c.strict = true
		case "default_interface":
			if err := kaNeedArgs(n, 1, 1, "an interface name"); err != nil {
				return err
			}
			c.defaultIface = n.args[0].s
		case "script_user":
			if err := kaNeedArgs(n, 1, 2, "a user [group]"); err != nil {
				return err
			}
			if err := kaRootOnly(n, n.args); err != nil {
				return err
			}
		case "vrrp_mcast_group4", "vrrp_mcast_group6":
			if err := kaNeedArgs(n, 1, 1, "an address"); err != nil {
				return err
			}
			std := map[string]string{"vrrp_mcast_group4": "224.0.0.18", "vrrp_mcast_group6": "ff02::12"}[n.key]
			if a, err := netip.ParseAddr(n.args[0].s); err != nil || a != netip.MustParseAddr(std) {
				return n.pos.errf(n.key, "%s: vrrpd sends to the standard group %s only", n.args[0].s, std)
			}
		case "lvs_notify_fifo", "lvs_notify_fifo_script":
			c.warn(n.pos, n.key, "LVS is not part of vrrpd")
		case "notify_fifo", "vrrp_notify_fifo":
			// keepalived writes the VRRP lines to both; vrrpd has one FIFO.
			if err := kaNeedArgs(n, 1, 3, "FIFO_NAME [username [groupname]]"); err != nil {
				return err
			}
			if err := kaRootOnly(n, n.args[1:]); err != nil {
				return err
			}
			if c.fifoPos.line != 0 && c.kc.raw.NotifyFIFO != n.args[0].s {
				return n.pos.errf(n.key, "a second notify FIFO (the first at %s): vrrpd writes one; keep one of notify_fifo and vrrp_notify_fifo", c.fifoPos)
			}
			c.kc.raw.NotifyFIFO, c.fifoPos = n.args[0].s, n.pos
		case "notify_fifo_script", "vrrp_notify_fifo_script":
			cmd, err := kaCommand(n)
			if err != nil {
				return err
			}
			if c.kc.raw.NotifyFIFOScr != "" && c.kc.raw.NotifyFIFOScr != cmd {
				return n.pos.errf(n.key, "a second notify FIFO script: vrrpd runs one")
			}
			c.kc.raw.NotifyFIFOScr = cmd
		case "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh",
			"vrrp_garp_master_refresh_repeat", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat",
			"vrrp_garp_interval", "vrrp_gna_interval":
			if err := c.garpKey(n, strings.TrimPrefix(n.key, "vrrp_"), &c.kc.raw.rawGARP, "global_defs "); err != nil {
				return err
			}
		case "vrrp_min_garp":
			if len(n.args) > 1 || n.hasBlock {
				return n.pos.errf(n.key, "want vrrp_min_garp [true|false]")
			}
			c.minGARP = len(n.args) == 0 || kaTrue(n.args[0].s)
		case "vrrp_rt_priority":
			p, err := kaInt(n, math.MinInt32, math.MaxInt32, "a SCHED_RR priority, 1 to 99")
			if err != nil {
				return err
			}
			if q := min(max(p, 1), 99); q != p {
				c.note(n.pos, fmt.Sprintf("global_defs vrrp_rt_priority %d", p), fmt.Sprintf("set to %d, as keepalived clamps it to SCHED_RR's 1-99", q))
				p = q
			}
			c.kc.raw.RTPriority = p
		case "vrrp_no_swap":
			if len(n.args) > 0 || n.hasBlock {
				return n.pos.errf(n.key, "takes no value")
			}
			c.kc.raw.LockMemory = true
		case "vrrp_dont_track_primary":
			return n.pos.errf(n.key, "vrrpd always puts an instance in FAULT when its interface is down")
		default:
			why, ok := kaIgnoredGlobal[n.key]
			if !ok {
				why = "not a VRRP setting vrrpd knows"
			}
			c.warn(n.pos, "global_defs "+n.key, why)
		}
	}
	if c.minGARP {
		// keepalived: one round, no second burst, unless set.
		g := &c.kc.raw.rawGARP
		if g.MasterRepeat == nil {
			one := 1
			g.MasterRepeat = &one
		}
		if g.MasterDelay == nil {
			zero := "0s"
			g.MasterDelay = &zero
		}
	}
	return nil
}

// kaTrue is keepalived's check_true_false: true, on, yes.
func kaTrue(s string) bool {
	switch strings.ToLower(s) {
	case "true", "on", "yes":
		return true
	}
	return false
}

// garpKey converts one garp_* keyword (key without the vrrp_ of the
// global_defs spelling) into dst: keepalived's delays and refresh are
// whole seconds, its intervals decimal seconds (microseconds); a repeat
// of 0 is 1, as keepalived sets it (garp_lower_prio_repeat 0: none).
func (c *kaConverter) garpKey(n *kaNode, key string, dst *rawGARP, where string) error {
	secs := func(max int) (*string, error) {
		v, err := kaInt(n, 0, max, fmt.Sprintf("whole seconds from 0 to %d", max))
		if err != nil {
			return nil, err
		}
		d := strconv.Itoa(v) + "s"
		return &d, nil
	}
	repeat := func(zeroIsOne bool) (*int, error) {
		v, err := kaInt(n, 0, garpMaxRepeat, fmt.Sprintf("0 to %d", garpMaxRepeat))
		if err != nil {
			return nil, err
		}
		if v == 0 && zeroIsOne {
			c.note(n.pos, where+n.key+" 0", "set to 1, as keepalived sets it")
			v = 1
		}
		return &v, nil
	}
	interval := func() (*string, error) {
		d, _, err := kaSeconds(n, 0, garpMaxInterval.Seconds(), fmt.Sprintf("seconds from 0 to %g (resolution 1us)", garpMaxInterval.Seconds()))
		if err != nil {
			return nil, err
		}
		return &d, nil
	}
	var err error
	switch key {
	case "garp_master_delay":
		dst.MasterDelay, err = secs(int(garpMaxDelay.Seconds()))
	case "garp_lower_prio_delay":
		dst.LowerPrioDelay, err = secs(int(garpMaxDelay.Seconds()))
	case "garp_master_refresh":
		dst.MasterRefresh, err = secs(int(garpMaxRefresh.Seconds()))
	case "garp_master_repeat":
		dst.MasterRepeat, err = repeat(true)
	case "garp_master_refresh_repeat":
		dst.MasterRefreshRepeat, err = repeat(true)
	case "garp_lower_prio_repeat":
		dst.LowerPrioRepeat, err = repeat(false)
	case "garp_interval":
		dst.GARPInterval, err = interval()
	case "gna_interval":
		dst.GNAInterval, err = interval()
	default:
		return n.pos.errf(n.key, "not a gratuitous ARP keyword")
	}
	return err
}

// garpGroup reads a garp_group block: its garp_interval / gna_interval
// apply to the instances on its interfaces. keepalived spaces the
// messages of every instance on the interface (or the group of
// interfaces) together; vrrpd spaces those of each virtual router.
func (c *kaConverter) garpGroup(n *kaNode) error {
	if len(n.args) > 0 || !n.hasBlock {
		return n.pos.errf(n.key, "want garp_group { garp_interval S gna_interval S interface IFACE | interfaces { IFACE ... } }")
	}
	var g rawGARP
	var ifaces []string
	for _, m := range n.block {
		switch m.key {
		case "garp_interval", "gna_interval":
			if err := c.garpKey(m, m.key, &g, "garp_group "); err != nil {
				return err
			}
		case "interface":
			if err := kaNeedArgs(m, 1, 1, "an interface name"); err != nil {
				return err
			}
			ifaces = append(ifaces, m.args[0].s)
		case "interfaces":
			if !m.hasBlock {
				return m.pos.errf(m.key, "want a block: interfaces { IFACE ... }")
			}
			for _, i := range m.block {
				if len(i.args) > 0 || i.hasBlock {
					return i.pos.errf(i.key, "want one interface name per line")
				}
				ifaces = append(ifaces, i.key)
			}
		default:
			return m.pos.errf(m.key, "unknown in garp_group (want garp_interval, gna_interval, interface, interfaces)")
		}
	}
	if len(ifaces) == 0 {
		return n.pos.errf(n.key, "no interface")
	}
	for _, i := range ifaces {
		if _, dup := c.garpGroups[i]; dup {
			return n.pos.errf(n.key, "interface %s is in another garp_group", i)
		}
		c.garpGroups[i] = g
	}
	c.note(n.pos, "garp_group", "vrrpd spaces the messages of each instance on "+strings.Join(ifaces, ", ")+
		" by these intervals, where keepalived spaces those of all its instances there together")
	return nil
}

func (c *kaConverter) script(n *kaNode) error {
	if len(n.args) != 1 || !n.hasBlock {
		return n.pos.errf(n.key, "want vrrp_script NAME { ... }")
	}
	name := n.args[0].s
	if _, dup := c.scripts[name]; dup {
		return n.pos.errf(n.key, "%q defined twice (first at %s)", name, c.scripts[name].pos)
	}
	s := &kaScript{pos: n.pos, raw: rawScript{Name: name}}
	for _, m := range n.block {
		switch m.key {
		case "script":
			cmd, err := kaCommand(m)
			if err != nil {
				return err
			}
			s.raw.Command = cmd
		case "interval":
			d, _, err := kaSeconds(m, 0.01, 3600, "seconds from 0.01 to 3600")
			if err != nil {
				return err
			}
			s.raw.Interval = d
		case "timeout":
			d, _, err := kaSeconds(m, 0.001, 3600, "seconds up to 3600")
			if err != nil {
				return err
			}
			s.raw.Timeout = d
		case "weight":
			if len(m.args) == 2 && m.args[1].s == "reverse" {
				return m.pos.errf(m.key, "reverse is not supported by vrrpd: invert the script's exit status instead")
			}
			w, err := kaInt(m, -254, 254, "-254 to 254")
			if err != nil {
				return err
			}
			s.raw.Weight = w
		case "rise", "fall":
			v, err := kaInt(m, 1, 1000, "1 to 1000")
			if err != nil {
				return err
			}
			if m.key == "rise" {
				s.raw.Rise = &v
			} else {
				s.raw.Fall = &v
			}
		case "user":
			if err := kaRootOnly(m, m.args); err != nil {
				return err
			}
		case "init_fail":
			c.warn(m.pos, "vrrp_script "+name+" init_fail", "vrrpd counts a script as neither up nor down until its first result")
		default:
			return m.pos.errf(m.key, "unknown in vrrp_script (want script, interval, timeout, weight, rise, fall, user)")
		}
	}
	if s.raw.Command == "" {
		return n.pos.errf(n.key, "%s: no script command", name)
	}
	c.scripts[name] = s
	c.scriptOrder = append(c.scriptOrder, name)
	return nil
}

func (c *kaConverter) instance(n *kaNode) error {
	if len(n.args) != 1 || !n.hasBlock {
		return n.pos.errf(n.key, "want vrrp_instance NAME { ... }")
	}
	name := n.args[0].s
	if _, dup := c.instances[name]; dup {
		return n.pos.errf(n.key, "%q defined twice", name)
	}
	ki := &kaInstance{pos: n.pos, raw: rawInstance{Name: name}}
	var advert *kaNode
	var advertSec float64
	var vips []*kaNode
	for _, m := range n.block {
		switch m.key {
		case "state":
			if err := kaNeedArgs(m, 1, 1, "MASTER or BACKUP"); err != nil {
				return err
			}
			switch m.args[0].s {
			case "BACKUP":
				ki.master, ki.backup = nil, m
			case "MASTER":
				ki.master, ki.backup = m, nil
			default:
				return m.pos.errf(m.key, "%q: want MASTER or BACKUP", m.args[0].s)
			}
		case "interface":
			if err := kaNeedArgs(m, 1, 1, "an interface name"); err != nil {
				return err
			}
			ki.raw.Interface = m.args[0].s
		case "virtual_router_id":
			v, err := kaInt(m, 1, 255, "1 to 255")
			if err != nil {
				return err
			}
			ki.raw.VRID = &v
		case "priority":
			v, err := kaInt(m, 1, 255, "1 to 255")
			if err != nil {
				return err
			}
			ki.raw.Priority = &v
		case "advert_int":
			if _, v, err := kaSeconds(m, 0.01, 255, "seconds from 0.01 to 255"); err != nil {
				return err
			} else {
				advert, advertSec = m, v
			}
		case "version":
			v, err := kaInt(m, 2, 3, "2 or 3")
			if err != nil {
				return err
			}
			ki.raw.Version = &v
			ki.explicitV = true
		case "nopreempt":
			ki.raw.NoPreempt = true
		case "preempt":
			ki.raw.NoPreempt = false
		case "preempt_delay":
			d, _, err := kaSeconds(m, 0, 1000, "seconds from 0 to 1000")
			if err != nil {
				return err
			}
			ki.raw.PreemptDelay = d
		case "authentication":
			if !m.hasBlock {
				return m.pos.errf(m.key, "want a block: authentication { auth_type PASS auth_pass SECRET }")
			}
			typ := ""
			for _, a := range m.block {
				switch a.key {
				case "auth_type":
					if err := kaNeedArgs(a, 1, 1, "PASS"); err != nil {
						return err
					}
					typ = a.args[0].s
					if typ == "AH" {
						return a.pos.errf(a.key, "AH is not supported by vrrpd (RFC 3768 removed it; use PASS or nothing)")
					}
					if typ != "PASS" {
						return a.pos.errf(a.key, "%q: want PASS", typ)
					}
				case "auth_pass":
					if err := kaNeedArgs(a, 1, 1, "a password"); err != nil {
						return err
					}
					ki.authPass, ki.authPos = a.args[0].s, a.pos
				default:
					return a.pos.errf(a.key, "unknown in authentication (want auth_type, auth_pass)")
				}
			}
			if typ == "" && ki.authPass != "" {
				return m.pos.errf(m.key, "auth_pass without auth_type PASS")
			}
		case "unicast_src_ip", "mcast_src_ip":
			if err := kaNeedArgs(m, 1, 1, "an address"); err != nil {
				return err
			}
			ki.raw.Src = m.args[0].s
		case "unicast_peer":
			if !m.hasBlock {
				return m.pos.errf(m.key, "want a block: unicast_peer { ADDR ... }")
			}
			for _, p := range m.block {
				if p.hasBlock {
					return p.pos.errf(p.key, "no block in unicast_peer")
				}
				if len(p.args) > 0 {
					c.warn(p.pos, "unicast_peer "+p.key+" "+strings.Join(p.argStrings(), " "), "vrrpd checks TTL 255 as RFC 9568 section 5.1.1.3 says")
				}
				if _, err := netip.ParseAddr(p.key); err != nil {
					return p.pos.errf("unicast_peer", "%q: want an IPv4 or IPv6 address", p.key)
				}
				ki.raw.Peers = append(ki.raw.Peers, p.key)
			}
		case "virtual_ipaddress":
			if !m.hasBlock {
				return m.pos.errf(m.key, "want a block: virtual_ipaddress { ADDR[/LEN] ... }")
			}
			vips = append(vips, m.block...)
		case "virtual_ipaddress_excluded":
			if m.hasBlock && len(m.block) > 0 {
				return m.pos.errf(m.key, "vrrpd advertises every virtual address it installs, and keepalived drops advertisements whose address list differs from its own: "+
					"move them to virtual_ipaddress on every router, or to another instance")
			}
		case "track_interface":
			if !m.hasBlock {
				return m.pos.errf(m.key, "want a block: track_interface { IFACE [weight N] ... }")
			}
			for _, t := range m.block {
				w, err := kaTrackWeight(t)
				if err != nil {
					return err
				}
				ki.raw.TrackInterface = append(ki.raw.TrackInterface, rawTrackInterface{Name: t.key, Weight: w})
				ki.trackPos = append(ki.trackPos, t.pos)
			}
		case "track_file", "track_process":
			if !m.hasBlock {
				return m.pos.errf(m.key, "want a block: %s { NAME [weight N] ... }", m.key)
			}
			for _, t := range m.block {
				ref, err := c.trackRef(m.key, t)
				if err != nil {
					return err
				}
				if err := c.addTrackRef(ki, m.key, ref, t.pos); err != nil {
					return err
				}
			}
		case "track_script":
			if !m.hasBlock {
				return m.pos.errf(m.key, "want a block: track_script { NAME [weight N] ... }")
			}
			for _, t := range m.block {
				w := math.MinInt // the script's own weight
				if len(t.args) > 0 {
					var err error
					if w, err = kaTrackWeight(t); err != nil {
						return err
					}
				}
				ki.scripts = append(ki.scripts, kaScriptRef{weight: w, pos: t.pos})
				ki.raw.TrackScript = append(ki.raw.TrackScript, t.key)
			}
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			cmd, err := kaCommand(m)
			if err != nil {
				return err
			}
			ki.notify.set(m.key, cmd)
		case "use_vmac":
			ki.raw.VMAC = true
			if len(m.args) > 0 {
				c.warn(m.pos, "vrrp_instance "+name+" use_vmac "+m.args[0].s, "vrrpd names the macvlan itself")
			}
		case "accept":
			t := true
			ki.accept = &t
		case "no_accept":
			f := false
			ki.accept = &f
		case "strict_mode":
			f := false
			if ki.accept == nil {
				ki.accept = &f
			}
			ki.strict = true
			if len(m.args) > 0 && (m.args[0].s == "off" || m.args[0].s == "false") {
				ki.accept = nil
				ki.strict = false
			}
		case "garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat",
			"garp_lower_prio_delay", "garp_lower_prio_repeat":
			if err := c.garpKey(m, m.key, &ki.raw.rawGARP, "vrrp_instance "+name+" "); err != nil {
				return err
			}
		default:
			if why, ok := kaIgnoredInstance[m.key]; ok {
				if why != "" {
					c.warn(m.pos, "vrrp_instance "+name+" "+m.key, why)
				}
				continue
			}
			if why, ok := kaUnsupportedInstance[m.key]; ok {
				if m.hasBlock && len(m.block) == 0 && len(m.args) == 0 {
					continue // an empty block asks for nothing
				}
				return m.pos.errf(m.key, "%s", why)
			}
			return m.pos.errf(m.key, "unknown in vrrp_instance")
		}
	}
	if ki.raw.Interface == "" {
		if c.defaultIface == "" {
			return n.pos.errf(n.key, "%s: no interface", name)
		}
		ki.raw.Interface = c.defaultIface
	}
	if ki.raw.VRID == nil {
		return n.pos.errf(n.key, "%s: no virtual_router_id", name)
	}
	if err := c.initialState(ki); err != nil {
		return err
	}
	if len(vips) == 0 {
		return n.pos.errf(n.key, "%s: no virtual_ipaddress", name)
	}
	c.instanceGARP(ki)
	seen := map[netip.Addr]kaPos{}
	for _, v := range vips {
		s, err := c.vip(name, ki.raw.Interface, v)
		if err != nil {
			return err
		}
		p, _ := parseVIP(s)
		if first, dup := seen[p.Addr()]; dup {
			c.warn(v.pos, "virtual_ipaddress "+s, "a duplicate of "+first.String()+", as keepalived ignores it")
			continue
		}
		seen[p.Addr()] = v.pos
		ki.raw.VIPs = append(ki.raw.VIPs, s)
	}
	ipv6 := strings.Contains(ki.raw.VIPs[0], ":")
	// Version: the instance's, else global_defs vrrp_version, else 2 (3
	// for IPv6, which VRRPv2 cannot carry).
	if !ki.explicitV {
		v := c.version
		if v == 0 {
			v = 2
		}
		if ipv6 {
			v = 3
		}
		ki.raw.Version = &v
	} else if *ki.raw.Version == 2 && ipv6 {
		return n.pos.errf("version", "2 with IPv6 virtual addresses: VRRPv2 is IPv4 only")
	}
	if advert != nil {
		if *ki.raw.Version == 2 {
			if advertSec != math.Trunc(advertSec) {
				r := math.Max(1, math.Round(advertSec))
				c.warn(advert.pos, "vrrp_instance "+name+" advert_int "+advert.args[0].s, fmt.Sprintf("VRRPv2 takes whole seconds: %gs, as keepalived rounds it", r))
				advertSec = r
			}
		} else {
			r := math.Round(advertSec*100) / 100
			if r != advertSec {
				c.warn(advert.pos, "vrrp_instance "+name+" advert_int "+advert.args[0].s, fmt.Sprintf("VRRPv3 takes centiseconds: %gs", r))
				advertSec = r
			}
		}
		ki.raw.Interval = kaDur(advertSec)
	}
	if ki.authPass != "" {
		if *ki.raw.Version != 2 {
			c.warn(ki.authPos, "vrrp_instance "+name+" authentication", "VRRPv3 has no authentication (RFC 9568 section 9), as keepalived ignores it")
		} else {
			if len(ki.authPass) > 8 {
				c.warn(ki.authPos, "vrrp_instance "+name+" auth_pass", "only its first 8 bytes are used, as keepalived uses them")
				ki.authPass = ki.authPass[:8]
			}
			ki.raw.AuthPass = ki.authPass
		}
	}
	if c.strict && (ki.raw.AuthPass != "" || len(ki.raw.Peers) > 0) {
		return n.pos.errf("vrrp_strict", "%s: keepalived refuses authentication and unicast peers with vrrp_strict", name)
	}
	// Accept: keepalived accepts packets for the VIPs unless vrrp_strict
	// or no_accept.
	ki.raw.Accept = !c.strict
	if ki.accept != nil {
		ki.raw.Accept = *ki.accept
	}
	ki.raw.Notify = ki.notify.shell()
	c.instances[name] = len(c.inst)
	c.inst = append(c.inst, ki)
	return nil
}

// instanceGARP applies a garp_group of the instance's interface, and
// keepalived's strict mode: no lower-priority bursts (vrrp_complete_instance).
func (c *kaConverter) instanceGARP(ki *kaInstance) {
	g := &ki.raw.rawGARP
	if gg, ok := c.garpGroups[ki.raw.Interface]; ok {
		if gg.GARPInterval != nil {
			g.GARPInterval = gg.GARPInterval
		}
		if gg.GNAInterval != nil {
			g.GNAInterval = gg.GNAInterval
		}
	}
	if !c.strict && !ki.strict {
		return
	}
	zero, zeroS := 0, "0s"
	if g.LowerPrioRepeat != nil && *g.LowerPrioRepeat != 0 {
		c.note(ki.pos, "vrrp_instance "+ki.raw.Name+" garp_lower_prio_repeat", "set to 0: strict mode sends no repeat gratuitous ARPs, as keepalived resets it")
	}
	if g.LowerPrioDelay != nil && *g.LowerPrioDelay != "0s" {
		c.note(ki.pos, "vrrp_instance "+ki.raw.Name+" garp_lower_prio_delay", "set to 0: strict mode, as keepalived resets it")
	}
	g.LowerPrioRepeat, g.LowerPrioDelay = &zero, &zeroS
}

func (n *kaNotify) set(key, cmd string) {
	switch key {
	case "notify":
		n.all = cmd
	case "notify_master":
		n.master = cmd
	case "notify_backup":
		n.backup = cmd
	case "notify_fault":
		n.fault = cmd
	case "notify_stop":
		n.stop = cmd
	}
}

// initialState applies keepalived's rules for state MASTER
// (vrrp_complete_instance): without a priority it is the address owner
// (255); with it, nopreempt and preempt_delay are cleared. A non-owner
// with state MASTER starts as Backup in keepalived as in vrrpd (RFC 9568
// section 6.4.1) and waits Master_Down_Interval; it is written as state =
// "MASTER". An owner with state BACKUP would wait as Backup in keepalived;
// vrrpd starts it as Master (RFC 9568 section 6.4.1): a warning.
func (c *kaConverter) initialState(ki *kaInstance) error {
	name := ki.raw.Name
	if ki.master != nil {
		ki.raw.State = "MASTER"
		if ki.raw.Priority == nil {
			v := 255
			ki.raw.Priority = &v
		}
		if ki.raw.NoPreempt {
			c.warn(ki.master.pos, "vrrp_instance "+name+" nopreempt", "cleared with state MASTER, as keepalived clears it")
			ki.raw.NoPreempt = false
		}
		if ki.raw.PreemptDelay != "" && ki.raw.PreemptDelay != "0s" {
			c.warn(ki.master.pos, "vrrp_instance "+name+" preempt_delay", "cleared with state MASTER, as keepalived clears it")
			ki.raw.PreemptDelay = ""
		}
	}
	if ki.backup != nil && ki.raw.Priority != nil && *ki.raw.Priority == 255 {
		c.note(ki.backup.pos, "vrrp_instance "+name+" state BACKUP", "priority 255: vrrpd starts the address owner as Master at once "+
			"(RFC 9568 section 6.4.1), where keepalived would wait Master_Down_Interval as Backup")
	}
	if ki.raw.Priority != nil && *ki.raw.Priority == 255 && ki.raw.NoPreempt {
		c.warn(ki.pos, "vrrp_instance "+name+" nopreempt", "the address owner (priority 255) always preempts, as keepalived resets it")
		ki.raw.NoPreempt = false
	}
	if c.strict && ki.raw.PreemptDelay != "" && ki.raw.PreemptDelay != "0s" {
		c.warn(ki.pos, "vrrp_instance "+name+" preempt_delay", "incompatible with vrrp_strict, as keepalived resets it")
		ki.raw.PreemptDelay = ""
	}
	if ki.raw.NoPreempt && ki.raw.PreemptDelay != "" && ki.raw.PreemptDelay != "0s" {
		c.warn(ki.pos, "vrrp_instance "+name+" preempt_delay", "meaningless with nopreempt, as keepalived resets it")
		ki.raw.PreemptDelay = ""
	}
	return nil
}

// kaTrackWeight parses a track_interface / track_script entry's
// "weight N"; none is weight 0.
func kaTrackWeight(t *kaNode) (int, error) {
	if t.hasBlock {
		return 0, t.pos.errf(t.key, "no block here")
	}
	switch {
	case len(t.args) == 0:
		return 0, nil
	case len(t.args) >= 2 && t.args[0].s == "weight":
		if len(t.args) == 3 && t.args[2].s == "reverse" {
			return 0, t.pos.errf(t.key, "weight reverse is not supported by vrrpd")
		}
		if len(t.args) > 2 {
			break
		}
		w, err := strconv.Atoi(t.args[1].s)
		if err != nil || w < -254 || w > 254 {
			return 0, t.pos.errf(t.key, "weight %q: want -254 to 254", t.args[1].s)
		}
		return w, nil
	}
	return 0, t.pos.errf(t.key, "%q: want NAME [weight N]", strings.Join(t.argStrings(), " "))
}

// vip converts one virtual_ipaddress line:
// ADDR[/LEN] [brd ADDR] [dev IFACE] [scope SCOPE] [label LABEL] ...
func (c *kaConverter) vip(inst, iface string, n *kaNode) (string, error) {
	if n.hasBlock {
		return "", n.pos.errf(n.key, "no block in virtual_ipaddress")
	}
	addr := n.key
	if _, err := parseVIP(addr); err != nil {
		return "", n.pos.errf("virtual_ipaddress", "%q: want ADDR or ADDR/LEN (%v)", addr, err)
	}
	args := n.argStrings()
	for i := 0; i < len(args); i++ {
		opt := args[i]
		val := ""
		switch opt {
		case "no_track", "home", "-nodad", "nodad", "noprefixroute", "autojoin", "mngtmpaddr":
			c.warn(n.pos, "virtual_ipaddress "+addr+" "+opt, "vrrpd installs the address without it")
			continue
		}
		if i+1 >= len(args) {
			return "", n.pos.errf("virtual_ipaddress", "%s: %s needs a value", addr, opt)
		}
		i++
		val = args[i]
		switch opt {
		case "dev":
			if val != iface {
				return "", n.pos.errf("virtual_ipaddress", "%s dev %s: vrrpd installs the virtual addresses on the instance's interface (%s) only; use another instance on %s", addr, val, iface, val)
			}
		case "scope":
			if val != "global" && val != "universe" && val != "0" && !(val == "link" && strings.HasPrefix(strings.ToLower(addr), "fe80:")) {
				return "", n.pos.errf("virtual_ipaddress", "%s scope %s: vrrpd installs addresses with scope global (link for fe80::/10)", addr, val)
			}
		case "label":
			c.warn(n.pos, "virtual_ipaddress "+addr+" label "+val, "vrrpd installs the address without a label")
		case "brd", "broadcast":
			c.warn(n.pos, "virtual_ipaddress "+addr+" brd "+val, "vrrpd installs the address with the broadcast address of its prefix")
		case "preferred_lft", "valid_lft", "metric":
			c.warn(n.pos, "virtual_ipaddress "+addr+" "+opt+" "+val, "vrrpd installs the address without it")
		default:
			return "", n.pos.errf("virtual_ipaddress", "%s: unknown option %q (want dev, scope, label, brd)", addr, opt)
		}
	}
	return addr, nil
}

func (c *kaConverter) syncGroup(n *kaNode) error {
	if len(n.args) != 1 || !n.hasBlock {
		return n.pos.errf(n.key, "want vrrp_sync_group NAME { group { ... } }")
	}
	name := n.args[0].s
	g := rawGroup{Name: name}
	var notify kaNotify
	trackWeight := false
	var members, groupTrack []*kaNode
	for _, m := range n.block {
		switch m.key {
		case "group":
			if !m.hasBlock {
				return m.pos.errf(m.key, "want a block: group { INSTANCE ... }")
			}
			members = append(members, m.block...)
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			cmd, err := kaCommand(m)
			if err != nil {
				return err
			}
			notify.set(m.key, cmd)
		case "sync_group_tracking_weight":
			trackWeight = true
		case "global_tracking": // deprecated spelling of sync_group_tracking_weight
			trackWeight = true
		case "smtp_alert":
			c.warn(m.pos, "vrrp_sync_group "+name+" smtp_alert", "vrrpd sends no e-mail")
		case "track_bfd", "notify_fifo":
			return m.pos.errf(m.key, "not supported by vrrpd in a sync group")
		case "track_file", "track_process":
			// keepalived: tracked by every member.
			if !m.hasBlock {
				return m.pos.errf(m.key, "want a block: %s { NAME [weight N] ... }", m.key)
			}
			groupTrack = append(groupTrack, m)
		case "track_interface", "track_script":
			// keepalived: tracked by every member.
			if !m.hasBlock {
				return m.pos.errf(m.key, "want a block: %s { NAME [weight N] ... }", m.key)
			}
			groupTrack = append(groupTrack, m)
		default:
			return m.pos.errf(m.key, "unknown in vrrp_sync_group")
		}
	}
	for _, m := range members {
		if len(m.args) > 0 || m.hasBlock {
			return m.pos.errf(m.key, "want one instance name per line")
		}
		idx, ok := c.instances[m.key]
		if !ok {
			return m.pos.errf(m.key, "no vrrp_instance of that name")
		}
		ki := c.inst[idx]
		if ki.group != "" {
			return m.pos.errf(m.key, "already in sync group %s", ki.group)
		}
		ki.group = name
		g.Members = append(g.Members, m.key)
	}
	for _, m := range groupTrack {
		for _, t := range m.block {
			if m.key == "track_file" || m.key == "track_process" {
				ref, err := c.trackRef(m.key, t)
				if err != nil {
					return err
				}
				for _, name := range g.Members {
					if err := c.addTrackRef(c.inst[c.instances[name]], m.key, ref, t.pos); err != nil {
						return err
					}
				}
				continue
			}
			w, err := kaTrackWeight(t)
			if err != nil {
				return err
			}
			for _, name := range g.Members {
				ki := c.inst[c.instances[name]]
				if m.key == "track_interface" {
					ki.raw.TrackInterface = append(ki.raw.TrackInterface, rawTrackInterface{Name: t.key, Weight: w})
					ki.trackPos = append(ki.trackPos, t.pos)
				} else {
					if len(t.args) == 0 {
						w = math.MinInt
					}
					ki.scripts = append(ki.scripts, kaScriptRef{weight: w, pos: t.pos})
					ki.raw.TrackScript = append(ki.raw.TrackScript, t.key)
				}
			}
		}
	}
	if len(g.Members) < 2 {
		if len(g.Members) == 1 {
			c.inst[c.instances[g.Members[0]]].group = ""
		}
		if notify != (kaNotify{}) {
			return n.pos.errf(n.key, "%s: %d member(s): vrrpd wants at least two; move its notify commands to the instance", name, len(g.Members))
		}
		c.warn(n.pos, "vrrp_sync_group "+name, fmt.Sprintf("%d member(s): a group needs two", len(g.Members)))
		return nil
	}
	if !trackWeight {
		// keepalived: in a sync group, tracking weights are ignored (a
		// failure is a fault) unless sync_group_tracking_weight is set.
		for _, m := range g.Members {
			ki := c.inst[c.instances[m]]
			for i := range ki.raw.TrackInterface {
				if ki.raw.TrackInterface[i].Weight != 0 {
					c.warn(ki.trackPos[i], "track_interface "+ki.raw.TrackInterface[i].Name+" weight", "instance "+m+" is in sync group "+name+
						" without sync_group_tracking_weight: keepalived (and so vrrpd) use weight 0, FAULT while it is down")
					ki.raw.TrackInterface[i].Weight = 0
				}
			}
			for i := range ki.scripts {
				ki.scripts[i].groupZero = true
			}
			c.zeroTrackRefs(ki, name)
		}
	}
	g.Notify = notify.shell()
	c.kc.raw.SyncGroups = append(c.kc.raw.SyncGroups, g)
	c.kc.grpPos = append(c.kc.grpPos, n.pos)
	return nil
}

// finish resolves track_script weights and lays the result out.
func (c *kaConverter) finish() error {
	if len(c.inst) == 0 {
		return &KeepalivedError{File: c.kc.path, Line: 1, Keyword: "vrrp_instance", Msg: "no vrrp_instance: nothing for vrrpd to run"}
	}
	// A track_script weight overrides the script's own; vrrpd has one
	// weight per script, so a script tracked with several weights runs
	// once per weight, as NAME@WEIGHT.
	type use struct {
		script string
		weight int
	}
	made := map[use]string{}
	for _, ki := range c.inst {
		for j, ref := range ki.scripts {
			name := ki.raw.TrackScript[j]
			s, ok := c.scripts[name]
			if !ok {
				return ref.pos.errf("track_script", "%q: no vrrp_script of that name", name)
			}
			w := ref.weight
			if w == math.MinInt {
				w = s.raw.Weight
			}
			if ref.groupZero && w != 0 {
				c.warn(ref.pos, "track_script "+name+" weight", "instance "+ki.raw.Name+" is in sync group "+ki.group+
					" without sync_group_tracking_weight: keepalived (and so vrrpd) use weight 0, FAULT while it fails")
				w = 0
			}
			ki.scripts[j].weight = w
			s.refs = append(s.refs, ki.scripts[j])
		}
	}
	// Scripts, in definition order; one copy per weight used.
	for _, name := range c.scriptOrder {
		s := c.scripts[name]
		if len(s.refs) == 0 {
			c.warn(s.pos, "vrrp_script "+name, "no instance tracks it (keepalived does not run it either)")
			continue
		}
		var weights []int
		for _, r := range s.refs {
			if !slices.Contains(weights, r.weight) {
				weights = append(weights, r.weight)
			}
		}
		for k, w := range weights {
			rs := s.raw
			if k > 0 || len(weights) > 1 {
				rs.Name = fmt.Sprintf("%s@%d", name, w)
			}
			rs.Weight = w
			made[use{name, w}] = rs.Name
			c.kc.raw.Scripts = append(c.kc.raw.Scripts, rs)
			c.kc.scrPos = append(c.kc.scrPos, s.pos)
		}
	}
	for _, ki := range c.inst {
		for j, ref := range ki.scripts {
			ki.raw.TrackScript[j] = made[use{ki.raw.TrackScript[j], ref.weight}]
		}
		c.kc.raw.Instances = append(c.kc.raw.Instances, ki.raw)
		c.kc.instPos = append(c.kc.instPos, ki.pos)
	}
	return nil
}
