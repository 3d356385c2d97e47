//go:build linux

package chaos

import (
	"net/netip"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/raw"
)

// listen opens the raw VRRP transport for ifname in the calling thread's
// network namespace (call it inside netlab.Host.Do). The only place this
// package names the raw transport, so that a move of it is a one-line
// change.
func listen(ifname string, family int, peers []netip.Addr) (transport.Conn, error) {
	return raw.Listen(ifname, &raw.Config{Family: family, Peers: peers})
}
