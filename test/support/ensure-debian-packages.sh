#!/usr/bin/env bash
# Makes sure a program the tests need is installed, from Debian's packages.
# Usage: ensure-debian-packages.sh BINARY PACKAGE [PACKAGE...]
# Does nothing when BINARY (a path, or a name on PATH) is already there;
# otherwise runs `apt-get update` and `apt-get install -y PACKAGE...`, with
# a policy-rc.d that stops the packages from starting system services.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BINARY PACKAGE [PACKAGE...]" >&2
  exit 2
fi
binary=$1
shift

present() { [ -x "$binary" ] || command -v "$binary" >/dev/null 2>&1; }
if present; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-debian-packages: $binary is missing and apt-get is not available; install $* by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
  else
    echo "ensure-debian-packages: $binary is missing, and installing $* needs root (or sudo)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-debian-packages: installing $* from Debian's packages" >&2
# Two test files may ask at once: apt's own lock serialises them, waiting up to 10 minutes.
apt_opts=(-o DPkg::Lock::Timeout=600)
$SUDO apt-get "${apt_opts[@]}" update -qq >&2
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && created_policy=1
fi
status=0
$SUDO apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "$@" >&2 || status=$?
if [ -n "$created_policy" ]; then $SUDO rm -f "$policy"; fi
if [ "$status" -ne 0 ]; then
  echo "ensure-debian-packages: apt-get install $* failed (exit $status)" >&2
  exit 1
fi
if ! present; then
  echo "ensure-debian-packages: $* installed, but $binary is still missing" >&2
  exit 1
fi
