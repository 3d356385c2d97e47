// Command rxfloor reads VRRP advertisements on an interface with
// transport/raw and does nothing else: the floor under any receiver built
// on this transport and the Go runtime. internal/measure runs it on the
// backup side of the CPU measurement (TestMeasure/CPUFloor) to separate
// what receiving costs from what vrrp.Router adds.
//
//	rxfloor -iface eth0 [-batch=false] [-ring=false] [-poll=5ms]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/raw"
)

func main() {
	iface := flag.String("iface", "eth0", "interface to listen on (VRRPv3 over IPv4 multicast)")
	batch := flag.Bool("batch", true, "read with ReadBatch; false: ReadFrom")
	ring := flag.Bool("ring", true, "receive through the TPACKET_V3 ring; false: on the protocol-112 socket (recvmmsg / recvmsg)")
	poll := flag.Duration("poll", 0, "with -ring=false: look at the socket this often while packets come (raw.Config.Poll); 0: woken per packet")
	flag.Parse()
	c, err := raw.Listen(*iface, &raw.Config{Ring: *ring, Poll: *poll})
	if err != nil {
		log.Fatal(err)
	}
	var n uint64
	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-done
		c.Close()
	}()
	ms := make([]transport.Message, 64)
	for i := range ms {
		ms[i].Buf = make([]byte, 4160)
	}
	for {
		var k int
		if *batch {
			for i := range ms {
				ms[i].Buf = ms[i].Buf[:cap(ms[i].Buf)]
			}
			k, err = c.ReadBatch(ms)
		} else {
			_, _, err = c.ReadFrom(ms[0].Buf)
			k = 1
		}
		if err != nil {
			fmt.Println("packets", n)
			return
		}
		n += uint64(k)
	}
}
