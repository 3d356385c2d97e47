package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// toml returns the converted configuration as vrrpd TOML (-print-toml):
// parseTOML reads it back as the same Config, File aside.
func (kc *kaConverted) toml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Converted by vrrpd -keepalived from %s.\n", tomlComment(kc.path))
	if len(kc.files) > 1 {
		fmt.Fprintf(&b, "# Files read: %s.\n", tomlComment(strings.Join(kc.files, ", ")))
	}
	if len(kc.warnings) > 0 {
		b.WriteString("# Not converted (harmless to leave out):\n")
		for _, w := range kc.warnings {
			b.WriteString("#   " + tomlComment(w) + "\n")
		}
	}
	b.WriteString("# keepalived accepts packets addressed to the VIPs unless vrrp_strict / no_accept:\n")
	b.WriteString("# accept follows it. notify_master / _backup / _fault / _stop are folded into\n")
	b.WriteString("# notify as a case on $3 (the new state).\n")
	r := &kc.raw
	// Top-level keys, before the first table.
	if r.RTPriority != 0 {
		tomlKey(&b, "rt_priority", strconv.Itoa(r.RTPriority))
	}
	if r.LockMemory {
		tomlKey(&b, "lock_memory", "true")
	}
	if r.NotifyFIFO != "" {
		tomlKey(&b, "notify_fifo", tomlString(r.NotifyFIFO))
	}
	if r.NotifyFIFOScr != "" {
		tomlKey(&b, "notify_fifo_script", tomlString(r.NotifyFIFOScr))
	}
	tomlGARP(&b, r.rawGARP)
	for i, s := range r.Scripts {
		fmt.Fprintf(&b, "\n# %s\n[[script]]\n", tomlComment(fmt.Sprintf("%s: vrrp_script %s", kc.scrPos[i], s.Name)))
		tomlKey(&b, "name", tomlString(s.Name))
		tomlKey(&b, "command", tomlString(s.Command))
		if s.Interval != "" {
			tomlKey(&b, "interval", tomlString(s.Interval))
		}
		if s.Timeout != "" {
			tomlKey(&b, "timeout", tomlString(s.Timeout))
		}
		tomlKey(&b, "weight", strconv.Itoa(s.Weight))
		if s.Rise != nil {
			tomlKey(&b, "rise", strconv.Itoa(*s.Rise))
		}
		if s.Fall != nil {
			tomlKey(&b, "fall", strconv.Itoa(*s.Fall))
		}
	}
	for _, f := range r.TrackFiles {
		fmt.Fprintf(&b, "\n# track_file %s\n[[track_file]]\n", tomlComment(f.Name))
		tomlKey(&b, "name", tomlString(f.Name))
		tomlKey(&b, "file", tomlString(f.File))
		if f.Weight != nil {
			tomlKey(&b, "weight", strconv.Itoa(*f.Weight))
		}
		if f.Reverse {
			tomlKey(&b, "reverse", "true")
		}
		if f.InitFile != nil {
			tomlKey(&b, "init_file", strconv.Itoa(*f.InitFile))
		}
		if f.InitOverwrite {
			tomlKey(&b, "init_overwrite", "true")
		}
	}
	for _, p := range r.TrackProcs {
		fmt.Fprintf(&b, "\n# vrrp_track_process %s\n[[track_process]]\n", tomlComment(p.Name))
		tomlKey(&b, "name", tomlString(p.Name))
		tomlKey(&b, "process", tomlString(p.Process))
		if len(p.Params) > 0 {
			tomlKey(&b, "params", tomlStrings(p.Params))
		}
		if p.ParamMatch != "" {
			tomlKey(&b, "param_match", tomlString(p.ParamMatch))
		}
		if p.FullCommand {
			tomlKey(&b, "full_command", "true")
		}
		if p.Quorum != nil {
			tomlKey(&b, "quorum", strconv.Itoa(*p.Quorum))
		}
		if p.QuorumMax != nil {
			tomlKey(&b, "quorum_max", strconv.Itoa(*p.QuorumMax))
		}
		for _, d := range [][2]string{{"delay", p.Delay}, {"fork_delay", p.ForkDelay}, {"terminate_delay", p.TerminateDelay}} {
			if d[1] != "" {
				tomlKey(&b, d[0], tomlString(d[1]))
			}
		}
		tomlKey(&b, "weight", strconv.Itoa(p.Weight))
	}
	for i, in := range r.Instances {
		fmt.Fprintf(&b, "\n# %s\n[[instance]]\n", tomlComment(fmt.Sprintf("%s: vrrp_instance %s", kc.instPos[i], in.Name)))
		tomlKey(&b, "name", tomlString(in.Name))
		if in.State != "" {
			tomlKey(&b, "state", tomlString(in.State))
		}
		tomlKey(&b, "interface", tomlString(in.Interface))
		tomlKey(&b, "vrid", strconv.Itoa(*in.VRID))
		if in.Priority != nil {
			tomlKey(&b, "priority", strconv.Itoa(*in.Priority))
		}
		if in.Version != nil {
			tomlKey(&b, "version", strconv.Itoa(*in.Version))
		}
		if in.Interval != "" {
			tomlKey(&b, "interval", tomlString(in.Interval))
		}
		if in.NoPreempt {
			tomlKey(&b, "nopreempt", "true")
		}
		if in.PreemptDelay != "" {
			tomlKey(&b, "preempt_delay", tomlString(in.PreemptDelay))
		}
		tomlKey(&b, "accept", strconv.FormatBool(in.Accept))
		if in.AuthPass != "" {
			tomlKey(&b, "auth_pass", tomlString(in.AuthPass))
		}
		if len(in.Peers) > 0 {
			tomlKey(&b, "peers", tomlStrings(in.Peers))
		}
		if in.Src != "" {
			tomlKey(&b, "src", tomlString(in.Src))
		}
		if in.VMAC {
			tomlKey(&b, "vmac", "true")
		}
		if in.Notify != "" {
			tomlKey(&b, "notify", tomlString(in.Notify))
		}
		tomlKey(&b, "vips", tomlStrings(in.VIPs))
		if len(in.TrackInterface) > 0 {
			ts := make([]string, len(in.TrackInterface))
			for j, t := range in.TrackInterface {
				ts[j] = fmt.Sprintf("{ name = %s, weight = %d }", tomlString(t.Name), t.Weight)
			}
			tomlKey(&b, "track_interface", "["+strings.Join(ts, ", ")+"]")
		}
		if len(in.TrackScript) > 0 {
			tomlKey(&b, "track_script", tomlStrings(in.TrackScript))
		}
		for _, t := range []struct {
			key  string
			refs []rawTrackRef
		}{{"track_file", in.TrackFile}, {"track_process", in.TrackProcess}} {
			if len(t.refs) == 0 {
				continue
			}
			rs := make([]string, len(t.refs))
			for j, r := range t.refs {
				rs[j] = "{ name = " + tomlString(r.Name)
				if r.Weight != nil {
					rs[j] += ", weight = " + strconv.Itoa(*r.Weight)
				}
				if r.Reverse != nil {
					rs[j] += ", reverse = " + strconv.FormatBool(*r.Reverse)
				}
				rs[j] += " }"
			}
			tomlKey(&b, t.key, "["+strings.Join(rs, ", ")+"]")
		}
		tomlGARP(&b, in.rawGARP)
	}
	for i, g := range r.SyncGroups {
		fmt.Fprintf(&b, "\n# %s\n[[sync_group]]\n", tomlComment(fmt.Sprintf("%s: vrrp_sync_group %s", kc.grpPos[i], g.Name)))
		tomlKey(&b, "name", tomlString(g.Name))
		tomlKey(&b, "members", tomlStrings(g.Members))
		if g.Notify != "" {
			tomlKey(&b, "notify", tomlString(g.Notify))
		}
	}
	return b.String()
}

// tomlGARP writes the garp_* keys given.
func tomlGARP(b *strings.Builder, g rawGARP) {
	for _, d := range []struct {
		k string
		v *string
	}{{"garp_master_delay", g.MasterDelay}, {"garp_master_refresh", g.MasterRefresh},
		{"garp_lower_prio_delay", g.LowerPrioDelay}, {"garp_interval", g.GARPInterval}, {"gna_interval", g.GNAInterval}} {
		if d.v != nil {
			tomlKey(b, d.k, tomlString(*d.v))
		}
	}
	for _, n := range []struct {
		k string
		v *int
	}{{"garp_master_repeat", g.MasterRepeat}, {"garp_master_refresh_repeat", g.MasterRefreshRepeat}, {"garp_lower_prio_repeat", g.LowerPrioRepeat}} {
		if n.v != nil {
			tomlKey(b, n.k, strconv.Itoa(*n.v))
		}
	}
}

// tomlComment makes s fit on one TOML comment line: TOML allows no
// control characters (but tab) in a comment, so they are written as \uXXXX,
// and a line break as a space.
func tomlComment(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r != '\t' && (r < 0x20 || r == 0x7f || r == unicode.ReplacementChar || !unicode.IsPrint(r) && r > 0x7f):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func tomlKey(b *strings.Builder, k, v string) { fmt.Fprintf(b, "%s = %s\n", k, v) }

func tomlStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// tomlString writes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == unicode.ReplacementChar || r < 0x20 || r == 0x7f || !unicode.IsPrint(r) && r > 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
