#!/usr/bin/env bash
# Install the Debian packages the build and tests need, only when something is missing:
# python3 with venv, perl, openssl, rpmbuild (Debian's rpm package, for make rpm), and the
# distribution's own python3-gevent/python3-requests (the system-package test runs the agent on
# /usr/bin/python3 with them).
set -euo pipefail
need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v perl >/dev/null || need+=(perl)
command -v prove >/dev/null || need+=(perl)
command -v openssl >/dev/null || need+=(openssl)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v rpmbuild >/dev/null || need+=(rpm)
if [ -x /usr/bin/python3 ]; then
  /usr/bin/python3 -c 'import gevent' 2>/dev/null || need+=(python3-gevent)
  /usr/bin/python3 -c 'import requests' 2>/dev/null || need+=(python3-requests)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "missing packages: ${need[*]} (run as root on Debian/Ubuntu or install them)" >&2; exit 1
  fi
fi
