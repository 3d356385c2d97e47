//go:build !linux

package arpnd

// New opens the interfaces named by cfg and returns an Announcer. It needs
// Linux (AF_PACKET sockets, netlink); elsewhere it returns ErrUnsupported.
// NewConn works everywhere.
func New(cfg Config) (*Announcer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return nil, ErrUnsupported
}

// MacvlanName returns the name of the ModeMacvlan interface of a virtual
// router; see the Linux documentation.
func MacvlanName(ifindex int, vrid uint8, ipv6 bool) (string, error) {
	return macvlanName(ifindex, vrid, ipv6)
}

// isNetDown reports whether err says the interface is down; only Linux
// packet sockets report it.
func isNetDown(error) bool { return false }
