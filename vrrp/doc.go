// Package vrrp implements the Virtual Router Redundancy Protocol: version 3
// (RFC 9568, IPv4 and IPv6) and version 2 (RFC 3768, IPv4).
//
// The package has three layers, as etcd-io/raft has its raft, RawNode and
// Node:
//
//   - Machine is the state machine of one virtual router, pure and
//     deterministic: inputs carry the time, outputs are Actions, and
//     nothing in it reads a clock, sleeps, starts a goroutine or touches a
//     socket.
//   - RawRouter is the runtime as a value, as pure: it owns many Machines,
//     demultiplexes received packets to them, keeps their deadlines in one
//     heap, moves sync groups together and holds faults. Every input
//     carries the time; its output, Ready, lists the advertisements to
//     write, the host actions and transitions in order, and the Conns to
//     close.
//   - Router is the goroutine shell over a RawRouter: reader goroutines,
//     one timer, batched sends, logging, the lossy Events channel, and a
//     host-work goroutine that runs the Hook so that host work never
//     delays an advertisement. A Hook that implements TransitionHook gets
//     every transition, in order and without loss: fence work on it, not
//     on Events. One that implements RegistryHook is told when virtual
//     routers are added and removed.
//
// Timers keep full precision: Skew_Time = ((256 - Priority) *
// Master_Adv_Interval) / 256 is computed in nanoseconds, not in whole
// centiseconds as RFC 9568 section 6.1 states it. At a 10 ms interval
// rounding to centiseconds makes the skew 0 for every priority, so all
// backups time out together; keepalived keeps the precision too.
//
// At scale (thousands of virtual routers on one shared socket) the Router
// keeps the RFC's timers honest on a starved host: a Master_Down_Timer
// does not fire while advertisements that arrived before its deadline
// are still queued in the socket (received packets are judged by the
// kernel's arrival stamp), Run starts the virtual routers only once
// what a socket queued before it has been read past, and masters'
// advertisements that fall due within 1/16 of their interval go out
// together (RawConfig.BatchAdvertisements, RouterConfig.ExactTimers).
package vrrp
