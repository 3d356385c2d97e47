package vrrp_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/vrrp"
)

// Two machines elect a master, advertisements delivered by hand and time
// advanced by hand: the higher priority (200) times out first and becomes
// master; the other (100) follows it; when the master shuts down it sends
// priority 0 and the backup takes over after its Skew_Time.
func ExampleMachine() {
	vip := netip.MustParseAddr("192.0.2.100")
	newRouter := func(prio uint8, primary string) *vrrp.Machine {
		m, err := vrrp.NewMachine(vrrp.Config{
			VRID: 7, Priority: prio, Addrs: []netip.Addr{vip}, Primary: netip.MustParseAddr(primary),
		})
		if err != nil {
			panic(err)
		}
		return m
	}
	a, b := newRouter(200, "192.0.2.1"), newRouter(100, "192.0.2.2")
	names := map[*vrrp.Machine]string{a: "A", b: "B"}
	peer := map[*vrrp.Machine]*vrrp.Machine{a: b, b: a}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// handle executes m's actions: transitions are printed, advertisements
	// delivered to the peer (as if parsed, TTL 255).
	var handle func(m *vrrp.Machine, now time.Time, acts []vrrp.Action)
	handle = func(m *vrrp.Machine, now time.Time, acts []vrrp.Action) {
		for _, act := range acts {
			switch act.Kind {
			case vrrp.ActTransition:
				fmt.Printf("%-9v %s: %v -> %v (%v)\n", now.Sub(start), names[m], act.From, act.To, act.Reason)
			case vrrp.ActSend:
				adv := *m.Advertisement(act.Priority)
				p := peer[m]
				handle(p, now, p.Receive(now, &adv, m.Config().Primary, packet.TTL, packet.Info{Checksum: packet.ChecksumPseudoHeader}))
			}
		}
	}
	// run advances time to end, ticking whichever machine is due first.
	run := func(end time.Time) {
		for {
			m := a
			if d := b.Deadline(); !d.IsZero() && (a.Deadline().IsZero() || d.Before(a.Deadline())) {
				m = b
			}
			d := m.Deadline()
			if d.IsZero() || d.After(end) {
				return
			}
			handle(m, d, m.Tick(d))
		}
	}

	handle(a, start, a.Start(start))
	handle(b, start, b.Start(start))
	run(start.Add(5 * time.Second))
	fmt.Println("master:", a.Master(), "as seen by B:", b.Master())

	stop := start.Add(5 * time.Second)
	handle(a, stop, a.Shutdown(stop))
	run(start.Add(10 * time.Second))
	fmt.Println("master:", b.Master())
	// Output:
	// 0s        A: Initialize -> Backup (start)
	// 0s        B: Initialize -> Backup (start)
	// 3.21875s  A: Backup -> Master (masterNoResponse)
	// master: 192.0.2.1 as seen by B: 192.0.2.1
	// 5s        A: Master -> Initialize (shutdown)
	// 5.609375s B: Backup -> Master (masterNoResponse)
	// master: 192.0.2.2
}
