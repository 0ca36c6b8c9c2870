#!/usr/bin/env bash
# Makes sure an `nginx` binary is installed, from Debian's packages, for the
# end-to-end tests that put nginx in front of the sidecar. Does nothing when
# nginx is already there. Never touches the system's default site: the tests
# run nginx with a configuration of their own (-c, -p).
set -euo pipefail
here=$(dirname "$0")
bash "$here/ensure-debian-packages.sh" /usr/sbin/nginx nginx
