#!/bin/sh
# The linker of this repository's builds (.cargo/config.toml; named so that rustc keeps passing it
# cc-style arguments, as it would not to a `link` or `ld`). By default the system's cc,
# as cargo's own default. With TRENDFLEX_LINK=glibc-2.28 (scripts/pack.mjs sets it for the
# prebuilt addon): zig, through cargo-zigbuild (both from PyPI: pip install cargo-zigbuild),
# against glibc 2.28's symbols, so that the addon loads on RHEL 8, Debian 10, Ubuntu 20.04 and
# anything newer.
case "${TRENDFLEX_LINK:-}" in
  glibc-2.28) exec cargo-zigbuild zig cc -- -g -fno-sanitize=all -target x86_64-linux-gnu.2.28 "$@" ;;
  '') exec cc "$@" ;;
  *) echo "scripts/linker.sh: TRENDFLEX_LINK=$TRENDFLEX_LINK: the only value is glibc-2.28" >&2; exit 2 ;;
esac
