package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/govrrp/govrrp/arpnd"
)

// Gratuitous ARP / unsolicited NA schedule (keepalived's garp_* and
// vrrp_garp_* keywords): the same keys at the top of the file (defaults,
// keepalived's global_defs vrrp_garp_*) and in an [[instance]], with
// keepalived's defaults and meanings. The announcements themselves are
// RFC 9568 section 6.4.1 / 6.4.2 (RFC 3768 section 6.4.2): what the RFCs
// leave open is how many and how often.

// rawGARP is the schedule as written; nil: not given.
type rawGARP struct {
	MasterDelay         *string `toml:"garp_master_delay"`
	MasterRepeat        *int    `toml:"garp_master_repeat"`
	MasterRefresh       *string `toml:"garp_master_refresh"`
	MasterRefreshRepeat *int    `toml:"garp_master_refresh_repeat"`
	LowerPrioDelay      *string `toml:"garp_lower_prio_delay"`
	LowerPrioRepeat     *int    `toml:"garp_lower_prio_repeat"`
	GARPInterval        *string `toml:"garp_interval"`
	GNAInterval         *string `toml:"gna_interval"`
}

// garpSchedule is a resolved schedule, in keepalived's terms: a zero
// delay is no second burst, a zero lower-priority repeat no burst at all.
type garpSchedule struct {
	MasterDelay         time.Duration
	MasterRepeat        int
	MasterRefresh       time.Duration
	MasterRefreshRepeat int
	LowerPrioDelay      time.Duration
	LowerPrioRepeat     int
	GARPInterval        time.Duration
	GNAInterval         time.Duration
}

// defaultGARP is keepalived's: 5 rounds at takeover and 5 more 5s later,
// no refresh, the same after a lower-priority advertisement, no spacing.
var defaultGARP = garpSchedule{
	MasterDelay: 5 * time.Second, MasterRepeat: 5, MasterRefreshRepeat: 1,
	LowerPrioDelay: 5 * time.Second, LowerPrioRepeat: 5,
}

// Ranges of the schedule keys.
const (
	garpMaxRepeat   = 1000
	garpMaxDelay    = time.Hour
	garpMaxRefresh  = 24 * time.Hour
	garpMaxInterval = 10 * time.Second
)

// resolve applies r over base. The lower-priority values not given take
// base's, as keepalived takes global_defs' (which default to the global
// master values), not the instance's garp_master_*: set them in the
// instance too to follow it. With top set (the file's defaults) the
// lower-priority values default to the master values resolved here.
func (r rawGARP) resolve(base garpSchedule, top bool, k keyNamer) (garpSchedule, error) {
	s := base
	durs := []struct {
		key string
		v   *string
		max time.Duration
		dst *time.Duration
	}{
		{"garp_master_delay", r.MasterDelay, garpMaxDelay, &s.MasterDelay},
		{"garp_master_refresh", r.MasterRefresh, garpMaxRefresh, &s.MasterRefresh},
		{"garp_lower_prio_delay", r.LowerPrioDelay, garpMaxDelay, &s.LowerPrioDelay},
		{"garp_interval", r.GARPInterval, garpMaxInterval, &s.GARPInterval},
		{"gna_interval", r.GNAInterval, garpMaxInterval, &s.GNAInterval},
	}
	for _, f := range durs {
		if f.v == nil {
			continue
		}
		d, err := time.ParseDuration(*f.v)
		if err != nil || d < 0 || d > f.max {
			return garpSchedule{}, k.err(f.key, *f.v, fmt.Sprintf("a Go duration from 0s to %v%s", f.max, garpZero[f.key]))
		}
		*f.dst = d
	}
	ints := []struct {
		key string
		v   *int
		min int
		dst *int
	}{
		{"garp_master_repeat", r.MasterRepeat, 1, &s.MasterRepeat},
		{"garp_master_refresh_repeat", r.MasterRefreshRepeat, 1, &s.MasterRefreshRepeat},
		{"garp_lower_prio_repeat", r.LowerPrioRepeat, 0, &s.LowerPrioRepeat},
	}
	for _, f := range ints {
		if f.v == nil {
			continue
		}
		if *f.v < f.min || *f.v > garpMaxRepeat {
			return garpSchedule{}, k.err(f.key, strconv.Itoa(*f.v), fmt.Sprintf("%d to %d%s", f.min, garpMaxRepeat, garpZero[f.key]))
		}
		*f.dst = *f.v
	}
	if top {
		if r.LowerPrioDelay == nil {
			s.LowerPrioDelay = s.MasterDelay
		}
		if r.LowerPrioRepeat == nil {
			s.LowerPrioRepeat = s.MasterRepeat
		}
	}
	return s, nil
}

// garpZero says what 0 means, for the errors.
var garpZero = map[string]string{
	"garp_master_delay":      " (0s: no second burst; default 5s)",
	"garp_master_refresh":    " (0s: no refresh, the default)",
	"garp_lower_prio_delay":  " (0s: no second burst; default garp_master_delay)",
	"garp_interval":          " (0s: back to back, the default)",
	"gna_interval":           " (0s: back to back, the default)",
	"garp_master_repeat":     " (default 5)",
	"garp_lower_prio_repeat": " (0: none; default garp_master_repeat)",
}

// arpnd returns s as arpnd's per-virtual-router schedule.
func (s garpSchedule) arpnd() arpnd.Schedule {
	a := arpnd.Schedule{
		MasterRepeat:        s.MasterRepeat,
		MasterDelay:         s.MasterDelay,
		MasterRefresh:       s.MasterRefresh,
		MasterRefreshRepeat: s.MasterRefreshRepeat,
		LowerPrioRepeat:     s.LowerPrioRepeat,
		LowerPrioDelay:      s.LowerPrioDelay,
		GARPInterval:        s.GARPInterval,
		GNAInterval:         s.GNAInterval,
	}
	// arpnd's zero is "the default"; keepalived's (and vrrpd's) is "none".
	if a.MasterDelay == 0 {
		a.MasterDelay = -1
	}
	if a.LowerPrioRepeat == 0 {
		a.LowerPrioRepeat = -1
	}
	if a.LowerPrioDelay == 0 {
		a.LowerPrioDelay = -1
	}
	return a
}
