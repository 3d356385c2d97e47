package arpnd_test

import (
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/govrrp/govrrp/arpnd"
)

// A master probes its virtual address every two seconds and warns when
// another host answers for it. Not run: it needs CAP_NET_RAW.
func ExampleProber() {
	p, err := arpnd.NewProber(arpnd.ProberConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		log.Fatal(err)
	}
	vip := netip.MustParseAddr("10.0.0.100")
	pr, err := p.Add(arpnd.ProbeTarget{
		IfIndex: ifi.Index,
		Addr:    vip,
		Own:     []net.HardwareAddr{arpnd.VirtualMAC(51, false)},
		OnAnswer: func(mac net.HardwareAddr) {
			log.Printf("%v answers for %v: a second responder", mac, vip) // at once
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pr.Close()
	for range time.Tick(2 * time.Second) { // while master
		if heard, err := pr.Send(); err == nil && heard == nil {
			log.Printf("only we answered for %v in the last round", vip)
		}
	}
}
