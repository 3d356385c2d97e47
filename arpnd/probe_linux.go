//go:build linux

package arpnd

import (
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// probe checks at New what the first Take needs and New does not open
// itself, so that New reports a missing capability instead of every Take
// of the Announcer's life. In ModeVirtualMAC with the responder, Take
// installs an nftables table (see ModeVirtualMAC), which needs nftables in
// the kernel and CAP_NET_ADMIN in the Announcer's network namespace: the
// probe lists the netdev tables there, which needs the same and changes
// nothing (the kernel checks CAP_NET_ADMIN on every nftables request).
// Other modes need nothing more of nftables; ModeMacvlan's CAP_NET_ADMIN
// is only needed, and checked, when a hook creates a macvlan.
func (p *linuxPlatform) probe() error {
	if p.cfg.Mode != ModeVirtualMAC || !p.cfg.Responder {
		return nil
	}
	c, err := p.nftConn()
	if err == nil {
		_, err = c.ListTablesOfFamily(nftables.TableFamilyNetdev)
	}
	if err == nil {
		return nil
	}
	where := "arpnd"
	if p.cfg.Interface != "" {
		where = fmt.Sprintf("arpnd: interface %q", p.cfg.Interface)
	}
	needs := ""
	if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		needs = " (needs CAP_NET_ADMIN)"
	}
	return fmt.Errorf("%s: nftables, needed by ModeVirtualMAC with Responder for the table each Take installs: %w%s", where, err, needs)
}
