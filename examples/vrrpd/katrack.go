package main

import (
	"fmt"
	"math"
	"strconv"
)

// keepalived's track_file (vrrp_track_file) and vrrp_track_process
// blocks, and their references in vrrp_instance and vrrp_sync_group.

// trackFile converts: track_file NAME { file PATH; weight N [reverse];
// init_file [VALUE] [overwrite] }.
func (c *kaConverter) trackFile(n *kaNode) error {
	if len(n.args) != 1 || !n.hasBlock {
		return n.pos.errf(n.key, "want %s NAME { file PATH ... }", n.key)
	}
	name := n.args[0].s
	if _, dup := c.trackFiles[name]; dup {
		return n.pos.errf(n.key, "%q defined twice", name)
	}
	f := &rawTrackFile{Name: name}
	for _, m := range n.block {
		switch m.key {
		case "file":
			if err := kaNeedArgs(m, 1, 1, "a file path"); err != nil {
				return err
			}
			f.File = m.args[0].s
		case "weight":
			if err := kaNeedArgs(m, 1, 2, "-254 to 254 [reverse]"); err != nil {
				return err
			}
			w, err := strconv.Atoi(m.args[0].s)
			if err != nil || w < -254 || w > 254 {
				return m.pos.errf(m.key, "%q: want -254 to 254", m.args[0].s)
			}
			f.Weight = &w
			if len(m.args) == 2 {
				if m.args[1].s != "reverse" {
					return m.pos.errf(m.key, "%q: want reverse or nothing", m.args[1].s)
				}
				f.Reverse = true
			}
		case "init_file":
			if m.hasBlock || len(m.args) > 2 {
				return m.pos.errf(m.key, "want init_file [VALUE] [overwrite]")
			}
			v := 0
			for _, a := range m.args {
				if a.s == "overwrite" {
					f.InitOverwrite = true
					continue
				}
				x, err := strconv.Atoi(a.s)
				if err != nil || x < math.MinInt32 || x > math.MaxInt32 {
					return m.pos.errf(m.key, "%q: want an integer or overwrite", a.s)
				}
				v = x
			}
			f.InitFile = &v
		default:
			return m.pos.errf(m.key, "unknown in %s (want file, weight, init_file)", n.key)
		}
	}
	if f.File == "" {
		return n.pos.errf(n.key, "%s: no file", name)
	}
	c.trackFiles[name] = f
	c.kc.raw.TrackFiles = append(c.kc.raw.TrackFiles, *f)
	return nil
}

// trackProcess converts: vrrp_track_process NAME { process NAME [PARAM
// ...]; param_match exact|partial|initial; weight N; quorum N;
// quorum_max N; delay / fork_delay / terminate_delay SECS; full_command }.
func (c *kaConverter) trackProcess(n *kaNode) error {
	if len(n.args) != 1 || !n.hasBlock {
		return n.pos.errf(n.key, "want vrrp_track_process NAME { process NAME ... }")
	}
	name := n.args[0].s
	if _, dup := c.trackProcs[name]; dup {
		return n.pos.errf(n.key, "%q defined twice", name)
	}
	p := &rawTrackProcess{Name: name}
	for _, m := range n.block {
		switch m.key {
		case "process":
			if len(m.args) == 0 || m.hasBlock {
				return m.pos.errf(m.key, "want process NAME [PARAMETER ...]")
			}
			p.Process = m.args[0].s
			p.Params = nil
			for _, a := range m.args[1:] {
				p.Params = append(p.Params, a.s)
			}
		case "param_match":
			if err := kaNeedArgs(m, 1, 1, "initial or partial"); err != nil {
				return err
			}
			if m.args[0].s != "initial" && m.args[0].s != "partial" {
				return m.pos.errf(m.key, "%q: want initial or partial", m.args[0].s)
			}
			p.ParamMatch = m.args[0].s
		case "weight":
			if len(m.args) == 2 && m.args[1].s == "reverse" {
				return m.pos.errf(m.key, "reverse is not supported by vrrpd for a track process")
			}
			w, err := kaInt(m, -254, 254, "-254 to 254")
			if err != nil {
				return err
			}
			p.Weight = w
		case "quorum", "quorum_max":
			lo := 1
			if m.key == "quorum_max" {
				lo = 0
			}
			v, err := kaInt(m, lo, 65535, fmt.Sprintf("%d to 65535", lo))
			if err != nil {
				return err
			}
			if m.key == "quorum" {
				p.Quorum = &v
			} else {
				p.QuorumMax = &v
			}
		case "delay", "fork_delay", "terminate_delay":
			d, _, err := kaSeconds(m, 0.000001, 3600, "seconds from 0.000001 to 3600")
			if err != nil {
				return err
			}
			switch m.key {
			case "delay":
				p.Delay = d
			case "fork_delay":
				p.ForkDelay = d
			default:
				p.TerminateDelay = d
			}
		case "full_command":
			p.FullCommand = true
		default:
			return m.pos.errf(m.key, "unknown in vrrp_track_process (want process, param_match, weight, quorum, quorum_max, delay, fork_delay, terminate_delay, full_command)")
		}
	}
	if p.Process == "" {
		return n.pos.errf(n.key, "%s: no process", name)
	}
	if p.ParamMatch == "" && len(p.Params) > 0 {
		p.ParamMatch = "exact"
	}
	c.trackProcs[name] = p
	c.kc.raw.TrackProcs = append(c.kc.raw.TrackProcs, *p)
	return nil
}

// trackRef converts one line of an instance's or group's track_file /
// track_process block: NAME [weight N [reverse|noreverse]].
func (c *kaConverter) trackRef(key string, t *kaNode) (rawTrackRef, error) {
	if t.hasBlock {
		return rawTrackRef{}, t.pos.errf(t.key, "no block here")
	}
	r := rawTrackRef{Name: t.key}
	switch key {
	case "track_file":
		if _, ok := c.trackFiles[t.key]; !ok {
			return rawTrackRef{}, t.pos.errf(key, "%q: no track_file of that name (defined before, as keepalived wants)", t.key)
		}
	default:
		if _, ok := c.trackProcs[t.key]; !ok {
			return rawTrackRef{}, t.pos.errf(key, "%q: no vrrp_track_process of that name (defined before, as keepalived wants)", t.key)
		}
	}
	args := t.argStrings()
	if len(args) == 0 {
		return r, nil
	}
	if args[0] != "weight" || len(args) < 2 || len(args) > 3 {
		return rawTrackRef{}, t.pos.errf(t.key, "%q: want NAME [weight N [reverse|noreverse]]", fmt.Sprint(args))
	}
	w, err := strconv.Atoi(args[1])
	if err != nil || w < -254 || w > 254 {
		return rawTrackRef{}, t.pos.errf(t.key, "weight %q: want -254 to 254", args[1])
	}
	r.Weight = &w
	if len(args) == 3 {
		switch args[2] {
		case "reverse", "noreverse":
			if key == "track_process" && args[2] == "reverse" {
				return rawTrackRef{}, t.pos.errf(t.key, "weight reverse is not supported by vrrpd for a track process")
			}
			rev := args[2] == "reverse"
			if key == "track_file" {
				r.Reverse = &rev
			}
		default:
			return rawTrackRef{}, t.pos.errf(t.key, "%q: want reverse or noreverse", args[2])
		}
	}
	return r, nil
}

// addTrackRef adds ref to ki, once (keepalived ignores a duplicate).
func (c *kaConverter) addTrackRef(ki *kaInstance, key string, ref rawTrackRef, pos kaPos) error {
	refs, poss := &ki.raw.TrackFile, &ki.tfPos
	if key == "track_process" {
		refs, poss = &ki.raw.TrackProcess, &ki.tpPos
	}
	for _, r := range *refs {
		if r.Name == ref.Name {
			c.warn(pos, key+" "+ref.Name, "tracked twice by vrrp_instance "+ki.raw.Name+", as keepalived ignores the second")
			return nil
		}
	}
	*refs = append(*refs, ref)
	*poss = append(*poss, pos)
	return nil
}

// zeroTrackRefs applies keepalived's sync group rule to ki's tracked
// files and processes: without sync_group_tracking_weight their weight is
// 0 (a FAULT of the group).
func (c *kaConverter) zeroTrackRefs(ki *kaInstance, group string) {
	zero := 0
	for i, r := range ki.raw.TrackFile {
		w := 1
		if f := c.trackFiles[r.Name]; f.Weight != nil {
			w = *f.Weight
		}
		if r.Weight != nil {
			w = *r.Weight
		}
		if w != 0 {
			c.warn(ki.tfPos[i], "track_file "+r.Name+" weight", "instance "+ki.raw.Name+" is in sync group "+group+
				" without sync_group_tracking_weight: keepalived (and so vrrpd) use weight 0, FAULT while the value is not 0")
		}
		ki.raw.TrackFile[i].Weight = &zero
	}
	for i, r := range ki.raw.TrackProcess {
		w := c.trackProcs[r.Name].Weight
		if r.Weight != nil {
			w = *r.Weight
		}
		if w != 0 {
			c.warn(ki.tpPos[i], "track_process "+r.Name+" weight", "instance "+ki.raw.Name+" is in sync group "+group+
				" without sync_group_tracking_weight: keepalived (and so vrrpd) use weight 0, FAULT while it is down")
		}
		ki.raw.TrackProcess[i].Weight = &zero
	}
}
