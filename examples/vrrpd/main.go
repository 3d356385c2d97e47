// Command vrrpd is a small keepalived-like VRRP daemon built on govrrp:
// one virtual router from flags, or many from a TOML file, with sync
// groups, interface and script tracking, notify commands, a JSON status
// endpoint and SIGHUP reload. See README.md beside this file and
// vrrpd.example.toml.
//
//	vrrpd -iface eth0 -vrid 51 -priority 150 10.0.0.100/24
//	vrrpd -config /etc/vrrpd.toml -status 127.0.0.1:8080
//
// It needs CAP_NET_RAW and CAP_NET_ADMIN (root).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stderr, hup)
	stop()
	os.Exit(code)
}
