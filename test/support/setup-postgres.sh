#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries (initdb, pg_ctl, postgres) are
# installed, from Debian's packages, for the tests that run the module on
# PostgreSQL. Idempotent: does nothing when they are there. Prints the folder
# holding the binaries. Never starts or touches the system's own cluster: the
# tests make a throwaway cluster of their own.
set -euo pipefail

find_bindir() {
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

if bindir=$(find_bindir); then
  echo "$bindir"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-postgres: PostgreSQL is not installed, and installing it needs root and apt-get" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup-postgres: installing postgresql from Debian's packages" >&2
apt-get update -qq >&2
# policy-rc.d keeps the package from starting the system cluster during the install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq postgresql >&2

if bindir=$(find_bindir); then
  echo "$bindir"
else
  echo "setup-postgres: postgresql installed, but initdb was not found" >&2
  exit 1
fi
