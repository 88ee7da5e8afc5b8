#!/usr/bin/env bash
# make rpm: build/xCAT-pybmc-VERSION-RELEASE.noarch.rpm (see packaging/README.md).
set -euo pipefail
. "$(dirname "$0")/common.sh"
command -v rpmbuild >/dev/null || { echo "rpmbuild missing (Debian package rpm; tools/deps.sh)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/xcat-pybmc-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage "$work/stage"
pyagent_dir=
[ -d "$work/stage/opt/xcat/lib/perl/xCAT/PyAgent" ] && pyagent_dir=/opt/xcat/lib/perl/xCAT/PyAgent
lua_plugins=$(printf '"%s", ' $PLUGINS); lua_plugins=${lua_plugins%, }
sed -e "s/@NAME@/$RPM_NAME/" -e "s/@VERSION@/$VERSION/" -e "s/@RELEASE@/$RELEASE/" \
    -e "s|@PLUGIN_DIR@|$PLUGIN_DIR|" -e "s|@RPM_PLUGIN_DIR@|$RPM_PLUGIN_DIR|" -e "s/@PLUGINS@/$PLUGINS/" \
    -e "s/@LUA_PLUGINS@/$lua_plugins/" -e "s|@PYAGENT_DIR@|$pyagent_dir|" -e "s|@RUNDIR@|$RUNDIR|g" \
    "$REPO/packaging/rpm/xCAT-pybmc.spec" > "$work/$RPM_NAME.spec"
# The database path inside the temporary topdir: building must not touch the host's rpm database.
rpmbuild -bb --quiet --define "_topdir $work/top" --define "stagedir $work/stage" \
  --define "_dbpath $work/db" --define "_binary_payload w9.xzdio" "$work/$RPM_NAME.spec" >/dev/null
mkdir -p "$OUT"
rpm=$(find "$work/top/RPMS" -name "$RPM_NAME-*.rpm" | head -n1)
cp "$rpm" "$OUT/"
echo "$OUT/$(basename "$rpm")"
