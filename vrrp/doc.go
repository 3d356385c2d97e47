// Package vrrp implements the Virtual Router Redundancy Protocol: version 3
// (RFC 9568, IPv4 and IPv6) and version 2 (RFC 3768, IPv4).
//
// Machine is the state machine of one virtual router, pure and
// deterministic: inputs carry the time, outputs are Actions, and nothing in
// it reads a clock, sleeps, starts a goroutine or touches a socket. Router
// is the runtime that drives many machines over transports with a clock.
//
// Timers keep full precision: Skew_Time = ((256 - Priority) *
// Master_Adv_Interval) / 256 is computed in nanoseconds, not in whole
// centiseconds as RFC 9568 section 6.1 states it. At a 10 ms interval
// rounding to centiseconds makes the skew 0 for every priority, so all
// backups time out together; keepalived keeps the precision too.
package vrrp
