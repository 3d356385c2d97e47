package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// TOML of tracked files and processes:
//
//	[[track_file]]
//	name = "maint"
//	file = "/run/vrrpd/maint"
//	weight = 1          # default 1; 0: FAULT while the value is not 0
//	reverse = false
//	init_file = 0       # write this at start if the file is missing
//	init_overwrite = false
//
//	[[track_process]]
//	name = "haproxy"
//	process = "haproxy"
//	params = ["-f", "/etc/haproxy/haproxy.cfg"]  # match the command line
//	param_match = "exact"                        # or partial, initial
//	full_command = false
//	quorum = 1
//	quorum_max = 10      # default: no maximum
//	delay = "0s"         # fork_delay and terminate_delay
//	weight = 0
//
// and in an [[instance]]: track_file = [{ name = "maint", weight = 10 }],
// track_process = [{ name = "haproxy" }] (weight: the object's unless set).

// rawTrackObjects are the top-level [[track_file]] and [[track_process]]
// tables (embedded in rawFile).
type rawTrackObjects struct {
	TrackFiles []rawTrackFile    `toml:"track_file"`
	TrackProcs []rawTrackProcess `toml:"track_process"`
}

type rawTrackFile struct {
	Name          string `toml:"name"`
	File          string `toml:"file"`
	Weight        *int   `toml:"weight"`
	Reverse       bool   `toml:"reverse"`
	InitFile      *int   `toml:"init_file"`
	InitOverwrite bool   `toml:"init_overwrite"`
}

type rawTrackProcess struct {
	Name           string   `toml:"name"`
	Process        string   `toml:"process"`
	Params         []string `toml:"params"`
	ParamMatch     string   `toml:"param_match"`
	FullCommand    bool     `toml:"full_command"`
	Quorum         *int     `toml:"quorum"`
	QuorumMax      *int     `toml:"quorum_max"`
	Delay          string   `toml:"delay"`
	ForkDelay      string   `toml:"fork_delay"`
	TerminateDelay string   `toml:"terminate_delay"`
	Weight         int      `toml:"weight"`
}

type rawTrackRef struct {
	Name    string `toml:"name"`
	Weight  *int   `toml:"weight"`
	Reverse *bool  `toml:"reverse"`
}

func buildTrackFile(r rawTrackFile, k keyNamer) (TrackFile, error) {
	f := TrackFile{Name: r.Name, Path: r.File, Weight: 1, Reverse: r.Reverse, InitOverwrite: r.InitOverwrite}
	if f.Name == "" {
		return TrackFile{}, k.err("name", "", "a non-empty track_file name")
	}
	if f.Path == "" || strings.ContainsRune(f.Path, 0) {
		return TrackFile{}, k.err("file", f.Path, "the path of the file to track")
	}
	if r.Weight != nil {
		if *r.Weight < -254 || *r.Weight > 254 {
			return TrackFile{}, k.err("weight", strconv.Itoa(*r.Weight), "-254 to 254 (default 1; 0: FAULT while the value is not 0)")
		}
		f.Weight = *r.Weight
	}
	if r.InitFile != nil {
		f.Init, f.InitValue = true, *r.InitFile
	} else if r.InitOverwrite {
		return TrackFile{}, k.err("init_overwrite", "true", "init_file with it")
	}
	return f, nil
}

func buildTrackProcess(r rawTrackProcess, k keyNamer) (TrackProcess, error) {
	p := TrackProcess{Name: r.Name, Process: r.Process, Params: r.Params, ParamMatch: r.ParamMatch, FullCommand: r.FullCommand,
		Quorum: 1, QuorumMax: math.MaxInt, Weight: r.Weight}
	if p.Name == "" {
		return TrackProcess{}, k.err("name", "", "a non-empty track_process name")
	}
	if p.Process == "" {
		return TrackProcess{}, k.err("process", "", "a process name (or a program path with full_command or params)")
	}
	if !p.byCommand() && len(p.Process) > 15 {
		return TrackProcess{}, k.err("process", p.Process, "at most 15 bytes: the kernel cuts process names there; "+
			"match the command line with full_command = true (argv[0], often the full path)")
	}
	switch p.ParamMatch {
	case "", "exact", "partial", "initial":
	default:
		return TrackProcess{}, k.err("param_match", p.ParamMatch, "exact, partial or initial")
	}
	if r.Quorum != nil {
		if *r.Quorum < 1 || *r.Quorum > 65535 {
			return TrackProcess{}, k.err("quorum", strconv.Itoa(*r.Quorum), "1 to 65535 (default 1)")
		}
		p.Quorum = *r.Quorum
	}
	if r.QuorumMax != nil {
		q := *r.QuorumMax
		if q < 0 || q > 65535 || q < p.Quorum && (q != 0 || p.Quorum > 1) {
			return TrackProcess{}, k.err("quorum_max", strconv.Itoa(q), fmt.Sprintf("%d (quorum) to 65535, or 0 (down while any runs) with quorum at most 1", p.Quorum))
		}
		p.QuorumMax = q
		if q == 0 {
			p.Quorum = 0 // keepalived: up while none runs
		}
	}
	for _, d := range []struct {
		key, v string
		dst    []*time.Duration
	}{
		{"delay", r.Delay, []*time.Duration{&p.ForkDelay, &p.TerminateDelay}},
		{"fork_delay", r.ForkDelay, []*time.Duration{&p.ForkDelay}},
		{"terminate_delay", r.TerminateDelay, []*time.Duration{&p.TerminateDelay}},
	} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil || v < 0 || v > time.Hour {
			return TrackProcess{}, k.err(d.key, d.v, "a Go duration from 0s to 1h (default 0s)")
		}
		for _, p := range d.dst {
			*p = v
		}
	}
	if p.Weight < -254 || p.Weight > 254 {
		return TrackProcess{}, k.err("weight", strconv.Itoa(p.Weight), "-254 to 254 (0: FAULT while down)")
	}
	return p, nil
}

// buildTrackRefs resolves an instance's track_file / track_process
// references against the objects' default weights.
func buildTrackRefs(key string, refs []rawTrackRef, weights map[string]int, reverse map[string]bool, k keyNamer) ([]TrackRef, error) {
	var out []TrackRef
	for j, r := range refs {
		w, ok := weights[r.Name]
		if !ok {
			return nil, k.err(fmt.Sprintf("%s[%d].name", key, j), r.Name, "the name of a [["+key+"]]")
		}
		for _, o := range out {
			if o.Name == r.Name {
				return nil, k.err(fmt.Sprintf("%s[%d].name", key, j), r.Name, "a "+key+" not already tracked")
			}
		}
		if r.Weight != nil {
			if *r.Weight < -254 || *r.Weight > 254 {
				return nil, k.err(fmt.Sprintf("%s[%d].weight", key, j), strconv.Itoa(*r.Weight), "-254 to 254")
			}
			w = *r.Weight
		}
		rev := reverse[r.Name]
		if r.Reverse != nil {
			if key == "track_process" {
				return nil, k.err(fmt.Sprintf("%s[%d].reverse", key, j), strconv.FormatBool(*r.Reverse), "no reverse for a track_process")
			}
			rev = *r.Reverse
		}
		out = append(out, TrackRef{Name: r.Name, Weight: w, Reverse: rev})
	}
	return out, nil
}
