//go:build !linux

package raw

import (
	"github.com/govrrp/govrrp/transport"
	"net"
	"net/netip"
	"time"
)

// Conn is the raw-socket VRRP transport. It is implemented on Linux
// only: here every constructor returns ErrUnsupported.
type Conn struct{}

var (
	_ transport.Conn        = (*Conn)(nil)
	_ transport.BatchWriter = (*Conn)(nil)
	_ transport.BatchReader = (*Conn)(nil)
	_ transport.Sourcer     = (*Conn)(nil)
	_ transport.DropCounter = (*Conn)(nil)
)

// Listen returns ErrUnsupported on this GOOS.
func Listen(ifname string, cfg *Config) (*Conn, error) { return nil, ErrUnsupported }

// ListenMulti returns ErrUnsupported on this GOOS.
func ListenMulti(family int, cfg *Config) (*Conn, error) { return nil, ErrUnsupported }

// New returns ErrUnsupported on this GOOS.
func New(c *net.IPConn, cfg *Config) (*Conn, error) { return nil, ErrUnsupported }

// Join returns ErrUnsupported.
func (c *Conn) Join(ifname string) error { return ErrUnsupported }

// Leave returns ErrUnsupported.
func (c *Conn) Leave(ifname string) error { return ErrUnsupported }

// Family returns 0.
func (c *Conn) Family() int { return 0 }

// Source returns ErrUnsupported.
func (c *Conn) Source(ifIndex int) (netip.Addr, error) { return netip.Addr{}, ErrUnsupported }

// Stats returns zero counts.
func (c *Conn) Stats() Stats { return Stats{} }

// SetReadDeadline returns ErrUnsupported.
func (c *Conn) SetReadDeadline(t time.Time) error { return ErrUnsupported }

// QueueDrops returns ErrUnsupported.
func (c *Conn) QueueDrops() (uint32, error) { return 0, ErrUnsupported }

// Queued returns ErrUnsupported.
func (c *Conn) Queued() (bool, error) { return false, ErrUnsupported }

// ReadFrom returns ErrUnsupported.
func (c *Conn) ReadFrom(b []byte) (int, transport.Meta, error) {
	return 0, transport.Meta{}, ErrUnsupported
}

// ReadBatch returns ErrUnsupported.
func (c *Conn) ReadBatch(ms []transport.Message) (int, error) { return 0, ErrUnsupported }

// WriteTo returns ErrUnsupported.
func (c *Conn) WriteTo(b []byte, m transport.Meta) error { return ErrUnsupported }

// WriteBatch returns ErrUnsupported.
func (c *Conn) WriteBatch(ms []transport.Message) (int, error) { return 0, ErrUnsupported }

// Close returns ErrUnsupported.
func (c *Conn) Close() error { return ErrUnsupported }
