package sim_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/govrrp/govrrp/internal/sim"
	"github.com/govrrp/govrrp/vrrp"
)

// Two routers elect a master; it crashes and the backup takes over
// Master_Down_Interval (3 x 1s + (256-100)/256 s) after the last
// advertisement it heard.
func Example() {
	s := sim.New(1, sim.Config{})
	vip := []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	for i, prio := range []uint8{200, 100} {
		name := fmt.Sprintf("r%d", i+1)
		s.AddNode(name, netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), netip.Addr{})
		s.AddVR(name, vrrp.Config{VRID: 1, Priority: prio, Addrs: vip})
		s.Start(name)
	}
	s.At(10*time.Second, func() { s.Crash("r1") })
	s.Run(20 * time.Second)
	for _, r := range s.Trace() {
		if r.Kind != sim.KindSend {
			fmt.Println(r)
		}
	}
	fmt.Println("masters:", s.Masters(sim.VR{VRID: 1}))
	// Output:
	// 0s start r1
	// 0s transition r1 ipv4/1 Initialize->Backup start
	// 0s start r2
	// 0s transition r2 ipv4/1 Initialize->Backup start
	// 3.21875s transition r1 ipv4/1 Backup->Master masterNoResponse
	// 3.21875s announce r1 ipv4/1
	// 10s crash r1
	// 12.828125s transition r2 ipv4/1 Backup->Master masterNoResponse
	// 12.828125s announce r2 ipv4/1
	// masters: [r2]
}
