#!/usr/bin/env bash
# Builds keepalived 2.3.3 from Debian's source tarball into a private prefix
# (default /opt/govrrp-keepalived-2.3.3), for the interop tests of the RFC
# 9568 VRRPv3 IPv4 checksum form: keepalived's v3_checksum_as_v2 keyword,
# which the distribution's keepalived 2.2.7 (Debian 12) lacks, came with
# keepalived 2.2.8. The system keepalived is never touched: nothing is
# installed outside the prefix, and the tests find this build only through
# GOVRRP_KEEPALIVED_RFC9568 (the path this script prints last).
#
#   sudo internal/keepalived/build-keepalived.sh
#   export GOVRRP_KEEPALIVED_RFC9568=/opt/govrrp-keepalived-2.3.3/sbin/keepalived
#
# Steps: reuse an existing build in the prefix if it reports 2.3.3; else
# download the tarball (unless cached), check its SHA-256 (the one Debian's
# keepalived_2.3.3-1.dsc lists), install the build dependencies with
# apt-get when run as root on Debian (a C toolchain, pkg-config, OpenSSL
# headers: keepalived needs OpenSSL even without its checkers), then
# configure a VRRP-only build (no LVS, SNMP, D-Bus, nftables, iptables,
# systemd, BFD), make -j2 and make install into the prefix.
#
# Environment:
#   GOVRRP_KEEPALIVED_PREFIX  install prefix (/opt/govrrp-keepalived-2.3.3)
#   GOVRRP_KEEPALIVED_CACHE   where the tarball is kept (/var/cache/govrrp,
#                             or ~/.cache/govrrp when that is not writable)
#   GOVRRP_KEEPALIVED_URL     the tarball's URL (Debian's pool)
set -euo pipefail

version=2.3.3
tarball=keepalived_${version}.orig.tar.gz
# From http://deb.debian.org/debian/pool/main/k/keepalived/keepalived_2.3.3-1.dsc
# (Checksums-Sha256; the tarball is 1236713 bytes, MD5 c7b5023bff83655247590b254ff630c8).
sha256=2288c5c7609fa452782b7acefa19acce742d0204dc17f54d36da46b10f8b590c
url=${GOVRRP_KEEPALIVED_URL:-http://deb.debian.org/debian/pool/main/k/keepalived/$tarball}
prefix=${GOVRRP_KEEPALIVED_PREFIX:-/opt/govrrp-keepalived-$version}
bin=$prefix/sbin/keepalived

log() { printf 'build-keepalived: %s\n' "$*" >&2; }

# The version line, read whole: with pipefail, `keepalived --version |
# grep -q` fails when grep exits first and keepalived gets SIGPIPE.
reports() { local out; out=$("$bin" --version 2>&1) || true; [[ $out == *"Keepalived v$version "* ]]; }
if [ -x "$bin" ] && reports; then
  log "reusing $bin ($("$bin" --version 2>&1 | sed -n 1p))"
  echo "$bin"
  exit 0
fi

cache=${GOVRRP_KEEPALIVED_CACHE:-}
if [ -z "$cache" ]; then
  cache=/var/cache/govrrp
  if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then cache=${XDG_CACHE_HOME:-$HOME/.cache}/govrrp; fi
fi
mkdir -p "$cache"

# Build dependencies, on Debian as root; elsewhere they must be there.
deps=(gcc make libc6-dev pkg-config libssl-dev)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
  command -v curl >/dev/null || command -v wget >/dev/null || deps+=(curl)
  missing=()
  for p in "${deps[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  fi
fi

verify() { echo "$sha256  $1" | sha256sum -c --status; }

src=$cache/$tarball
if [ -f "$src" ] && ! verify "$src"; then
  log "cached $src has the wrong SHA-256: downloading it again"
  rm -f "$src"
fi
if [ ! -f "$src" ]; then
  log "downloading $url"
  if command -v curl >/dev/null; then
    curl -fsSL --retry 3 -m 300 -o "$src.part" "$url"
  else
    wget -q -T 60 -t 3 -O "$src.part" "$url"
  fi
  if ! verify "$src.part"; then
    log "$url: SHA-256 $(sha256sum "$src.part" | cut -d' ' -f1), want $sha256"
    rm -f "$src.part"
    exit 1
  fi
  mv "$src.part" "$src"
fi
log "$src: SHA-256 $sha256 OK"

work=$(mktemp -d "${TMPDIR:-/tmp}/govrrp-keepalived-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$src" -C "$work"
cd "$work/keepalived-$version"

start=$(date +%s)
log "configure (VRRP only) --prefix=$prefix"
# --sysconfdir keeps even the sample configuration inside the prefix.
./configure -q --prefix="$prefix" --sysconfdir="$prefix/etc" \
  --disable-lvs --disable-snmp --disable-dbus --disable-nftables --disable-iptables \
  --disable-systemd --disable-bfd --disable-json --disable-track-process \
  >configure.log 2>&1 ||
  { tail -40 configure.log >&2; exit 1; }
log "make -j2"
make -j2 >make.log 2>&1 || { tail -40 make.log >&2; exit 1; }
make install >install.log 2>&1 || { tail -40 install.log >&2; exit 1; }
log "built and installed in $(($(date +%s) - start)) s: $("$bin" --version 2>&1 | sed -n 1p)"
reports || { log "$bin does not report v$version"; exit 1; }
echo "$bin"
