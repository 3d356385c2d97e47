//go:build linux

package arpnd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
)

// The parent interface's arp_ignore in ModeMacvlan.
//
// The parent must not answer ARP for the virtual addresses on its
// macvlans with its own MAC, so it needs arp_ignore 1 (or 2 or 8, which
// are left as they are) while any macvlan of a virtual router is on it.
// The value it had before is recorded in the alias (IFLA_IFALIAS) of
// every such macvlan, "govrrp-arpnd parent arp_ignore=N", so that it
// survives a process that did not Close: the next run takes the original
// from a marker it finds on the parent (a leftover, or a macvlan of
// another Announcer or process) rather than the 1 left behind. When the
// last marked macvlan on a parent is deleted, the original is written
// back (unless somebody changed the value from 1 in the meantime).
// Within a process, parentMu makes "read the original, create the
// macvlan" and "delete the macvlans, restore if none is left" atomic, so
// Announcers sharing a parent do not undo each other.

// parentMarker starts the alias of every ModeMacvlan macvlan; the
// parent's original arp_ignore follows.
const parentMarker = "govrrp-arpnd parent arp_ignore="

// parentMu serializes the parent arp_ignore bookkeeping of every
// Announcer of the process.
var parentMu sync.Mutex

// parentState is one Announcer's hold on a parent: the original value
// and how many of its macvlans are on it.
type parentState struct {
	orig string
	refs int
}

func parentArpIgnorePath(parent string) string {
	return filepath.Join("/proc/sys/net/ipv4/conf", parent, "arp_ignore")
}

// parentNeedsArpIgnore reports whether the parent's arp_ignore must be
// set to 1: values 1, 2 and 8 already keep it from answering for
// addresses that are not its own.
func parentNeedsArpIgnore(orig string) bool {
	switch orig {
	case "1", "2", "8":
		return false
	}
	return true
}

// holdParent returns the parent's original arp_ignore and counts one
// more macvlan of p on it. Called with parentMu held, in p's namespace.
func (p *linuxPlatform) holdParent(pl netlink.Link) (string, error) {
	name := pl.Attrs().Name
	if ps, ok := p.parents[name]; ok {
		ps.refs++
		return ps.orig, nil
	}
	orig, ok, err := parentMarkerValue(pl.Attrs().Index)
	if err != nil {
		return "", err
	}
	if !ok {
		b, err := os.ReadFile(parentArpIgnorePath(name))
		if err != nil {
			return "", fmt.Errorf("arpnd: interface %q: read arp_ignore: %w", name, err)
		}
		orig = strings.TrimSpace(string(b))
	}
	p.parents[name] = &parentState{orig: orig, refs: 1}
	return orig, nil
}

// dropParent counts one macvlan of p on the parent less; after the last
// one it restores the original arp_ignore if no marked macvlan (of
// another Announcer, process or crashed run) is left on the parent.
// Called with parentMu held, in p's namespace, after the macvlan is
// deleted.
func (p *linuxPlatform) dropParent(parent string, parentIdx int) {
	ps, ok := p.parents[parent]
	if !ok {
		return
	}
	if ps.refs--; ps.refs > 0 {
		return
	}
	delete(p.parents, parent)
	if _, left, err := parentMarkerValue(parentIdx); err != nil || left {
		return
	}
	path := parentArpIgnorePath(parent)
	cur, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(cur)) != "1" || ps.orig == "1" {
		return // not ours to change any more, or nothing to change
	}
	_ = writeSysctl(path, ps.orig)
}

// parentMarkerValue returns the original arp_ignore recorded by a
// marked macvlan on the parent with index parentIdx, and whether there
// is one.
func parentMarkerValue(parentIdx int) (string, bool, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return "", false, fmt.Errorf("arpnd: list interfaces: %w", err)
	}
	for _, l := range links {
		mv, ok := l.(*netlink.Macvlan)
		if !ok || mv.ParentIndex != parentIdx {
			continue
		}
		if v, ok := strings.CutPrefix(mv.Alias, parentMarker); ok && validArpIgnore(v) {
			return v, true, nil
		}
	}
	return "", false, nil
}

// validArpIgnore reports whether v is a value of
// net.ipv4.conf.*.arp_ignore (0-8).
func validArpIgnore(v string) bool {
	return len(v) == 1 && v[0] >= '0' && v[0] <= '8'
}
