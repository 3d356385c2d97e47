//go:build linux

// Package ifaceio looks up one network interface at a time.
//
// Targeted interface lookups, in O(1) of the number of links (issue 12):
// the standard library's net.InterfaceByName, InterfaceByIndex and
// Interface.Addrs dump every link (or every address) of the namespace on
// each call, so a process that looks up each of N links costs O(N^2), and
// net.Interface.HardwareAddr is a sub-slice of that dump, pinning it.
// These ask the kernel about one interface only (ioctl, and an address
// dump filtered in the kernel by interface index with
// NETLINK_GET_STRICT_CHK), in the calling thread's network namespace.
package ifaceio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ifreq runs one SIOCGIF* ioctl on a throw-away socket of the calling
// thread's network namespace.
func ifreq(req uint, ifr *unix.Ifreq) error {
	fd, err := ifreqSocket()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return ifreqOn(fd, req, ifr)
}

// ifreqSocket opens a throw-away socket for interface ioctls in the
// calling thread's network namespace.
func ifreqSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, os.NewSyscallError("socket", err)
		}
	}
	return fd, nil
}

// ifreqOn runs one SIOCGIF* ioctl on socket fd, in fd's network
// namespace. Any socket will do, a netlink one too: the kernel hands the
// interface ioctls a protocol does not know to the device layer
// (sock_do_ioctl).
func ifreqOn(fd int, req uint, ifr *unix.Ifreq) error {
	if err := unix.IoctlIfreq(fd, req, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return errNoSuchInterface
		}
		return os.NewSyscallError("ioctl", err)
	}
	return nil
}

// errNoSuchInterface is returned for a name or index with no interface;
// it wraps unix.ENODEV.
var errNoSuchInterface = fmt.Errorf("no such network interface: %w", unix.ENODEV)

// IndexByName returns the index of interface name (SIOCGIFINDEX).
func IndexByName(name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := ifreq(unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return int(ifr.Uint32()), nil
}

// IndexByNameOn is IndexByName with the ioctl on socket fd (a route
// socket from OpenRouteSocket, say), in fd's network namespace: one
// system call, no socket made and closed per lookup.
func IndexByNameOn(fd int, name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := ifreqOn(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return int(ifr.Uint32()), nil
}

// NameByIndex returns the name of interface index (SIOCGIFNAME).
func NameByIndex(index int) (string, error) {
	if index <= 0 {
		return "", errNoSuchInterface
	}
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return "", err
	}
	ifr.SetUint32(uint32(index))
	if err := ifreq(unix.SIOCGIFNAME, ifr); err != nil {
		return "", err
	}
	return ifr.Name(), nil
}

// HardwareAddr returns the hardware address of interface name
// (SIOCGIFHWADDR), a fresh 6-byte slice for Ethernet, nil for a link
// without one.
func HardwareAddr(name string) (net.HardwareAddr, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, err
	}
	if err := ifreq(unix.SIOCGIFHWADDR, ifr); err != nil {
		return nil, err
	}
	family, data := hwAddrOf(ifr)
	if family != unix.ARPHRD_ETHER {
		return nil, nil
	}
	mac := make(net.HardwareAddr, 6)
	copy(mac, data)
	return mac, nil
}

// hwAddrOf returns the hardware address family (ARPHRD_*) and address
// bytes of an ifreq filled by SIOCGIFHWADDR. struct ifreq: name[16],
// then struct sockaddr ifr_hwaddr (sa_family uint16, sa_data[14]).
func hwAddrOf(ifr *unix.Ifreq) (family uint16, data []byte) {
	raw := (*[unix.IFNAMSIZ + 16]byte)(unsafe.Pointer(ifr))
	return *(*uint16)(unsafe.Pointer(&raw[unix.IFNAMSIZ])), raw[unix.IFNAMSIZ+2:]
}

// Link returns whether interface name is Ethernet (SIOCGIFHWADDR: its
// hardware address family is ARPHRD_ETHER) and its MTU (SIOCGIFMTU),
// with both ioctls on one socket.
func Link(name string) (ether bool, mtu int, err error) {
	fd, err := ifreqSocket()
	if err != nil {
		return false, 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return false, 0, err
	}
	if err := ifreqOn(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return false, 0, err
	}
	family, _ := hwAddrOf(ifr)
	ether = family == unix.ARPHRD_ETHER
	if ifr, err = unix.NewIfreq(name); err != nil {
		return false, 0, err
	}
	if err := ifreqOn(fd, unix.SIOCGIFMTU, ifr); err != nil {
		return false, 0, err
	}
	return ether, int(int32(ifr.Uint32())), nil
}

// Addr is one address of an interface.
type Addr struct {
	Prefix netip.Prefix // the local address and its prefix length
	Label  string       // IFA_LABEL (IPv4)
	Flags  uint32       // IFA_F_*
}

// Addrs returns the addresses of interface index of one family
// (unix.AF_INET, unix.AF_INET6, or unix.AF_UNSPEC for both) with one
// RTM_GETADDR dump that the kernel filters by index (strict checking,
// Linux 4.20 and later; older kernels send every address and the filter
// here keeps the interface's).
func Addrs(index, family int) ([]Addr, error) {
	fd, err := OpenRouteSocket()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return AddrsOn(fd, 1, index, family)
}

// OpenRouteSocket opens a NETLINK_ROUTE socket in the calling thread's
// network namespace with strict checking of dump requests on.
func OpenRouteSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("bind", err)
	}
	return fd, nil
}

// DumpBufferSize is the receive buffer AddrsOn uses, and the size
// AddrsInto wants.
const DumpBufferSize = 32 << 10

// recvBufs are AddrsOn's receive buffers: one call per interface joined
// or address added, thousands at start-up, allocated 32 kB of garbage
// each (400 MB for 4,094 links, issue 12).
var recvBufs = sync.Pool{New: func() any { b := make([]byte, DumpBufferSize); return &b }}

// AddrsOn is Addrs on route socket fd (from OpenRouteSocket, used by
// one caller at a time) with request sequence number seq: replies of
// another sequence number (left by an earlier failed call) are skipped.
func AddrsOn(fd int, seq uint32, index, family int) ([]Addr, error) {
	bp := recvBufs.Get().(*[]byte)
	defer recvBufs.Put(bp)
	return AddrsInto(fd, seq, index, family, *bp)
}

// AddrsInto is AddrsOn receiving into buf (DumpBufferSize bytes; a
// shorter one is replaced), which a caller that lists often keeps: a
// takeover's address add then touches no fresh memory for the dump.
func AddrsInto(fd int, seq uint32, index, family int, buf []byte) ([]Addr, error) {
	if len(buf) < DumpBufferSize {
		buf = make([]byte, DumpBufferSize)
	}
	const hdr = unix.SizeofNlMsghdr + unix.SizeofIfAddrmsg
	var req [hdr]byte
	nh := (*unix.NlMsghdr)(unsafe.Pointer(&req[0]))
	*nh = unix.NlMsghdr{Len: hdr, Type: unix.RTM_GETADDR, Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP, Seq: seq}
	im := (*unix.IfAddrmsg)(unsafe.Pointer(&req[unix.SizeofNlMsghdr]))
	*im = unix.IfAddrmsg{Family: uint8(family), Index: uint32(index)}
	if err := unix.Sendto(fd, req[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto", err)
	}
	var out []Addr
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, os.NewSyscallError("recvfrom", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("netlink: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := *(*int32)(unsafe.Pointer(&m.Data[0])); e != 0 {
						return nil, os.NewSyscallError("netlink dump", syscall.Errno(-e))
					}
				}
				return out, nil
			case unix.RTM_NEWADDR:
			default:
				continue
			}
			if len(m.Data) < unix.SizeofIfAddrmsg {
				continue
			}
			am := (*unix.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
			if int(am.Index) != index || (family != unix.AF_UNSPEC && int(am.Family) != family) {
				continue
			}
			attrs, err := syscall.ParseNetlinkRouteAttr(&m)
			if err != nil {
				continue
			}
			a := Addr{Flags: uint32(am.Flags)}
			var local, addr netip.Addr
			for _, at := range attrs {
				switch at.Attr.Type {
				case unix.IFA_LOCAL:
					local, _ = netip.AddrFromSlice(at.Value)
				case unix.IFA_ADDRESS:
					addr, _ = netip.AddrFromSlice(at.Value)
				case unix.IFA_LABEL:
					b := at.Value
					for i, c := range b {
						if c == 0 {
							b = b[:i]
							break
						}
					}
					a.Label = string(b)
				case unix.IFA_FLAGS:
					if len(at.Value) >= 4 {
						a.Flags = *(*uint32)(unsafe.Pointer(&at.Value[0]))
					}
				}
			}
			if local.IsValid() {
				addr = local
			}
			if !addr.IsValid() {
				continue
			}
			a.Prefix = netip.PrefixFrom(addr.Unmap(), int(am.Prefixlen))
			out = append(out, a)
		}
	}
}
