package main

import "strings"

// initialState applies an instance's state key (keepalived's state
// MASTER|BACKUP) to ri. vrrpd has no initial state of its own: RFC 9568
// section 6.4.1 starts the address owner (priority 255) as Master at
// once and every other router as Backup, which takes over after
// Master_Down_Interval; keepalived does the same with state MASTER (its
// manual: "If the priority is 255, then the instance will transition
// immediately to MASTER if state MASTER is specified; otherwise the
// instance will wait between 3 and 4 advert intervals"). What state
// means, as in keepalived (vrrp_complete_instance):
//
//   - "MASTER" without a priority is the address owner (255);
//   - "MASTER" with nopreempt or a preempt_delay is refused (keepalived
//     clears them with a warning);
//   - "BACKUP" with priority 255 is refused: keepalived would start the
//     owner as Backup and wait Master_Down_Interval, which RFC 9568
//     section 6.4.1 does not allow; vrrpd starts it as Master.
func initialState(ri *rawInstance, k keyNamer) error {
	switch strings.ToUpper(ri.State) {
	case "":
	case "MASTER":
		if ri.Priority == nil {
			p := 255
			ri.Priority = &p
		}
		if ri.NoPreempt {
			return k.err("nopreempt", "true", `false with state = "MASTER" (keepalived clears it)`)
		}
		if ri.PreemptDelay != "" && ri.PreemptDelay != "0s" {
			return k.err("preempt_delay", ri.PreemptDelay, `nothing with state = "MASTER" (keepalived clears it)`)
		}
	case "BACKUP":
		if ri.Priority != nil && *ri.Priority == 255 {
			return k.err("state", ri.State, `"MASTER" or nothing for the address owner (priority 255): it starts as Master at once (RFC 9568 section 6.4.1)`)
		}
	default:
		return k.err("state", ri.State, `"MASTER" or "BACKUP" (keepalived's initial state; vrrpd starts the address owner as Master and the others as Backup, RFC 9568 section 6.4.1)`)
	}
	return nil
}
