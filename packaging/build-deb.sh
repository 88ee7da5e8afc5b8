#!/usr/bin/env bash
# make deb: build/xcat-pybmc_VERSION-RELEASE_all.deb (see packaging/README.md).
set -euo pipefail
. "$(dirname "$0")/common.sh"
command -v dpkg-deb >/dev/null || { echo "dpkg-deb missing (tools/deps.sh)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/xcat-pybmc-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
stage "$root"
install -d -m 755 "$root/DEBIAN"
sed -e "s/@VERSION@/$VERSION-$RELEASE/" -e "s/@NAME@/$DEB_NAME/" "$REPO/packaging/debian/control" > "$root/DEBIAN/control"
for script in preinst prerm postrm; do
  sed -e "s/@NAME@/$DEB_NAME/g" -e "s|@PLUGIN_DIR@|$PLUGIN_DIR|g" -e "s/@PLUGINS@/$PLUGINS/g" -e "s|@RUNDIR@|$RUNDIR|g" \
    "$REPO/packaging/debian/$script" > "$root/DEBIAN/$script"
  chmod 755 "$root/DEBIAN/$script"
done
mkdir -p "$OUT"
deb="$OUT/${DEB_NAME}_${VERSION}-${RELEASE}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
