# Shared by build-deb.sh, build-rpm.sh and test-packages.sh (sourced, not run).
# The version is pyproject.toml's; packages land in build/.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO/pyproject.toml" | head -n1)
RELEASE=${RELEASE:-1}
OUT=${OUT:-$REPO/build}
DEB_NAME=xcat-pybmc
RPM_NAME=xCAT-pybmc
# Where xcatd loads plugins from (every *.pm in it), and where the RPM keeps ours.
PLUGIN_DIR=/opt/xcat/lib/perl/xCAT_plugin
RPM_PLUGIN_DIR=/opt/xcat/share/xcat/pybmc/xCAT_plugin
PLUGINS="openbmc2.pm redfish.pm"
# The broker's default XCAT_AGENT_RUNDIR (perl/xCAT/PyAgent.pm): a warm agent's pid file is
# RUNDIR/warm/agent.pid, which removing the package reads to stop it.
RUNDIR=/var/run/xcat

# stage DIR: `make install` into DIR with PREFIX=/opt/xcat (the layout both packages ship).
stage() {
  rm -rf "$1"
  make -s -C "$REPO" install DESTDIR="$1" PREFIX=/opt/xcat >/dev/null
}
