package arpnd

import "fmt"

// maxIfName is IFNAMSIZ - 1, the longest Linux interface name.
const maxIfName = 15

// macvlanName is MacvlanName, portable so that it is tested everywhere.
func macvlanName(ifindex int, vrid uint8, ipv6 bool) (string, error) {
	fam := 4
	if ipv6 {
		fam = 6
	}
	name := fmt.Sprintf("vr%d.%d.%d", fam, ifindex, vrid)
	if ifindex <= 0 || len(name) > maxIfName {
		return "", fmt.Errorf("arpnd: macvlan name %q for interface index %d: want an index of 1 to 7 digits (names are at most %d bytes)", name, ifindex, maxIfName)
	}
	return name, nil
}
