#!/usr/bin/env bash
# Makes sure an `nginx` binary is installed, from Debian's packages, for the
# end-to-end tests that put nginx in front of the sidecar. Idempotent: does
# nothing when nginx is already there. Never touches the system's default
# site: the tests run nginx with a configuration of their own (-c, -p).
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-nginx: nginx is not installed and apt-get is not available; install nginx by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
  else
    echo "setup-nginx: nginx is not installed, and installing it needs root (or sudo)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup-nginx: installing nginx from Debian's packages" >&2
if ! $SUDO apt-get update -qq >&2; then
  echo "setup-nginx: apt-get update failed" >&2
  exit 1
fi
# nginx-light was the small build on older releases; newer ones only have nginx.
# policy-rc.d stops the package from starting the system's nginx service.
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && created_policy=1
fi
status=0
$SUDO apt-get install -y -qq --no-install-recommends nginx-light >&2 \
  || $SUDO apt-get install -y -qq --no-install-recommends nginx >&2 \
  || status=$?
if [ -n "$created_policy" ]; then $SUDO rm -f "$policy"; fi
if [ "$status" -ne 0 ]; then
  echo "setup-nginx: apt-get install of nginx failed (exit $status)" >&2
  exit 1
fi

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "setup-nginx: nginx was installed but no nginx binary was found" >&2
  exit 1
fi
echo "setup-nginx: $(/usr/sbin/nginx -v 2>&1 || nginx -v 2>&1)" >&2
