package raw_test

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"

	"github.com/govrrp/govrrp/transport/raw"
)

// Listen on eth0 for IPv6 VRRP, read one advertisement, and answer with
// unicast peers configured. (Not run: it needs CAP_NET_RAW and eth0.)
func ExampleListen() {
	c, err := raw.Listen("eth0", &raw.Config{
		Family: 6,
		Peers:  []netip.Addr{netip.MustParseAddr("fe80::2")},
	})
	if errors.Is(err, os.ErrPermission) {
		log.Fatal(err) // transport: eth0: raw socket: operation not permitted (needs CAP_NET_RAW)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	b := make([]byte, 1500)
	n, m, err := c.ReadFrom(b)
	if err != nil {
		log.Fatal(err)
	}
	if m.TTL != 255 {
		return // RFC 9568 section 7.1: count and discard
	}
	fmt.Printf("%d bytes from %v on interface %d\n", n, m.Src, m.IfIndex)
}

// A host with many VLANs: one IPv4 socket for every interface, whose
// multicast advertisements go out on the link layer once it serves
// raw.AutoLinkIfaces interfaces or more (see "Link-layer send").
func ExampleSendPath() {
	cfg := &raw.Config{Family: 4, Send: raw.SendAuto}
	fmt.Println(cfg.Send, "from", raw.AutoLinkIfaces, "interfaces; else", raw.SendSocket)
	// Output: auto from 256 interfaces; else socket
}
