//go:build !linux

package raw

import (
	"net/netip"

	"github.com/govrrp/govrrp/transport"
)

var _ transport.PeerSetter = (*Conn)(nil)

// SetPeers returns ErrUnsupported.
func (c *Conn) SetPeers(peers []netip.Addr) error { return ErrUnsupported }

// Peers returns nil.
func (c *Conn) Peers() []netip.Addr { return nil }
