#!/usr/bin/env bash
# make package-test: install the packages from build/ into throwaway roots next to a stand-in of
# xCAT's server package that owns openbmc2.pm and redfish.pm, and check which plugin files xcatd
# would load (every *.pm in /opt/xcat/lib/perl/xCAT_plugin) before, while and after ours is
# installed. Nothing on this machine's own package databases is touched. TAP output.
set -uo pipefail
. "$(dirname "$0")/common.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/xcat-pybmc-test.XXXXXX")
# Processes this test started (stand-ins of a warm agent): the only ones it ever signals.
started=""
trap 'for p in $started; do kill "$p" 2>/dev/null; done; umount "$work/rroot/proc" 2>/dev/null; rm -rf "$work"' EXIT
deb="$OUT/${DEB_NAME}_${VERSION}-${RELEASE}_all.deb"
rpm="$OUT/$RPM_NAME-$VERSION-$RELEASE.noarch.rpm"
n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }
check() { local what=$1; shift; "$@" >/dev/null 2>&1; ok $? "$what"; }
same() { cmp -s "$1" "$2"; }
# The plugin files xcatd would load from root $1, as "name:first line" (a link is followed).
loaded() { (cd "$1$PLUGIN_DIR" 2>/dev/null && for f in *.pm; do [ -e "$f" ] && echo "$f:$(head -n1 "$f")"; done) | sort | tr '\n' ' '; }
# fake_agent ROOT TAG SOCKPATH: start a stand-in of a warm agent, `agent.py --sock SOCKPATH` (the
# path of ROOT's RUNDIR/warm/agent.sock as the package scripts see it), its pid in ROOT's
# RUNDIR/warm/agent.pid, that writes $work/TAG.stopped on SIGTERM and exits.
# fake_bystander ROOT TAG: a process also named agent.py, on another socket, whose pid a pid file
# in ROOT/var/run/other/warm names (XCAT_AGENT_RUNDIR=/var/run/other): it must be left alone.
fake_run() {
  local script="$work/$2/agent.py"; mkdir -p "${script%/*}" "$(dirname "$4")"
  printf 'trap "echo stopped > %s; exit 0" TERM\nwhile :; do sleep 0.1; done\n' "$work/$2.stopped" > "$script"
  sh "$script" --sock "$3" --idle 60 </dev/null >/dev/null 2>&1 &
  started="$started $!"; echo "$!" > "$4"; echo "$!"
}
fake_agent() { fake_run "$1" "$2" "$3" "$1$RUNDIR/warm/agent.pid"; }
fake_bystander() { fake_run "$1" "$2" "$work/$2/agent.sock" "$1/var/run/other/warm/agent.pid"; }
# stopped TAG PID: the stand-in got SIGTERM and exited (reaped here, bounded).
stopped() { [ -f "$work/$1.stopped" ] && for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$2" 2>/dev/null || return 0; wait "$2" 2>/dev/null; sleep 0.2; done; ! kill -0 "$2" 2>/dev/null; }
alive() { kill -0 "$2" 2>/dev/null && [ ! -f "$work/$1.stopped" ]; }
XCAT_VIEW="ipmi.pm:# xCAT's ipmi.pm (stand-in) openbmc2.pm:# xCAT's openbmc2.pm (stand-in) redfish.pm:# xCAT's redfish.pm (stand-in) "
OUR_VIEW="ipmi.pm:# xCAT's ipmi.pm (stand-in) openbmc2.pm:$(head -n1 "$REPO/perl/xCAT_plugin/openbmc2.pm") redfish.pm:$(head -n1 "$REPO/perl/xCAT_plugin/redfish.pm") "

# The stand-in server package's files: two plugins ours replaces and one it leaves alone.
standin_tree() {
  mkdir -p "$1$PLUGIN_DIR"
  for p in ipmi.pm $PLUGINS; do printf "# xCAT's %s (stand-in)\n1;\n" "$p" > "$1$PLUGIN_DIR/$p"; done
}

echo "# --- deb: dpkg in a throwaway root (--root, maintainer scripts chrootless) ---"
if [ -f "$deb" ] && command -v dpkg >/dev/null; then
  s="$work/deb-standin"; standin_tree "$s"; mkdir -p "$s/DEBIAN"
  printf 'Package: xcat-server\nVersion: 2.17.0-1\nArchitecture: all\nMaintainer: test <t@example.invalid>\nDescription: stand-in for xCAT server\n' > "$s/DEBIAN/control"
  (cd "$s" && find opt -type f -exec md5sum {} + > DEBIAN/md5sums)
  dpkg-deb --root-owner-group --build "$s" "$work/xcat-server.deb" >/dev/null
  a="$work/deb-old-agent"; mkdir -p "$a/opt/xcat/lib/python/agent" "$a/DEBIAN"
  echo "# xCAT's agent.py (stand-in)" > "$a/opt/xcat/lib/python/agent/agent.py"
  printf 'Package: xcat-openbmc-py\nVersion: 2.17.0-1\nArchitecture: all\nMaintainer: test <t@example.invalid>\nDescription: stand-in for xCAT openbmc-py\n' > "$a/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$a" "$work/xcat-openbmc-py.deb" >/dev/null
  R="$work/droot"; mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
  : > "$R/var/lib/dpkg/status"; : > "$R/var/lib/dpkg/available"
  D=(dpkg --root="$R" --log=/dev/null --force-script-chrootless --force-depends --force-not-root)
  check "stand-in xcat-server and xcat-openbmc-py install" "${D[@]}" -i "$work/xcat-server.deb" "$work/xcat-openbmc-py.deb"
  ok "$([ "$(loaded "$R")" = "$XCAT_VIEW" ]; echo $?)" "before: xcatd loads xCAT's plugins"
  check "ours installs (diverting xCAT's plugins, replacing xCAT's agent)" "${D[@]}" -i "$deb"
  ok "$([ "$(loaded "$R")" = "$OUR_VIEW" ]; echo $?)" "with ours: xcatd loads our openbmc2.pm and redfish.pm, xCAT's ipmi.pm"
  for p in $PLUGINS; do
    check "xCAT's $p kept as $p.distrib (not *.pm: not loaded)" grep -qx "# xCAT's $p (stand-in)" "$R$PLUGIN_DIR/$p.distrib"
    check "our $p is the repo's" same "$R$PLUGIN_DIR/$p" "$REPO/perl/xCAT_plugin/$p"
  done
  check "two diversions held by $DEB_NAME" bash -c "[ \$(dpkg-divert --root='$R' --list | grep -c 'by $DEB_NAME') = 2 ]"
  check "xcat-openbmc-py was replaced" bash -c "! dpkg --root='$R' -s xcat-openbmc-py 2>/dev/null | grep -q '^Status: install ok installed'"
  check "the agent and helper module are in place" test -x "$R/opt/xcat/lib/python/agent/agent.py" -a -f "$R/opt/xcat/lib/perl/xCAT/PyAgent.pm"
  check "xcat-server's files still verify" "${D[@]}" --verify xcat-server
  check "reinstalling ours (upgrade path) keeps one diversion each" "${D[@]}" -i "$deb"
  check "  ... still two" bash -c "[ \$(dpkg-divert --root='$R' --list | grep -c 'by $DEB_NAME') = 2 ]"
  if /usr/bin/python3 -c 'import gevent, requests' 2>/dev/null; then
    check "the installed agent runs on /usr/bin/python3 with the system gevent/requests" \
      bash -c "/usr/bin/python3 '$R/opt/xcat/lib/python/agent/agent.py' --help | grep -q -- --sock"
  fi
  # dpkg runs the scripts chrootless, with DPKG_ROOT=$R
  agent_pid=$(fake_agent "$R" deb-agent "$R$RUNDIR/warm/agent.sock"); by_pid=$(fake_bystander "$R" deb-bystander)
  check "ours removes" env XCAT_AGENT_RUNDIR=/var/run/other "${D[@]}" -r "$DEB_NAME"
  check "removal stopped the running warm agent (SIGTERM, waited for)" stopped deb-agent "$agent_pid"
  check "  ... and left a process on another socket alone" alive deb-bystander "$by_pid"
  kill "$by_pid" 2>/dev/null; wait "$by_pid" 2>/dev/null
  ok "$([ "$(loaded "$R")" = "$XCAT_VIEW" ]; echo $?)" "after removal: xcatd loads xCAT's plugins again"
  check "no .distrib left, no diversion left" bash -c "! ls '$R$PLUGIN_DIR'/*.distrib 2>/dev/null && [ -z \"\$(dpkg-divert --root='$R' --list)\" ]"
  check "xcat-server's files verify after removal" "${D[@]}" --verify xcat-server
  check "ours installs again and purges" bash -c "${D[*]} -i '$deb' && ${D[*]} -P $DEB_NAME"
  ok "$([ "$(loaded "$R")" = "$XCAT_VIEW" ]; echo $?)" "after purge: xCAT's plugins"
else
  ok 1 "deb package $deb built and dpkg available"
fi

echo "# --- rpm: rpm in a throwaway --root (scriptlets are Lua, no shell needed there) ---"
if [ -f "$rpm" ] && command -v rpmbuild >/dev/null; then
  check "rpm -qlp lists the agent and the plugins under their own directory" \
    bash -c "rpm -qlp '$rpm' | grep -qx /opt/xcat/lib/python/agent/agent.py && rpm -qlp '$rpm' | grep -qx $RPM_PLUGIN_DIR/openbmc2.pm && ! rpm -qlp '$rpm' | grep -q '^$PLUGIN_DIR/'"
  check "rpm -qp --requires: the distribution's python3, gevent, requests" \
    bash -c "rpm -qp --requires '$rpm' | grep -q '^python3 >= 3.9' && rpm -qp --requires '$rpm' | grep -q '^python3-gevent' && rpm -qp --requires '$rpm' | grep -q '^python3-requests'"
  check "rpm -qlp: no tests, no caches, no top-level modules in site-packages" \
    bash -c "! rpm -qlp '$rpm' | grep -E 'tests?/|__pycache__|site-packages'"
  t="$work/rpm-top"; s="$work/rpm-standin"; standin_tree "$s"
  cat > "$work/standin.spec" <<SPEC
Name: xCAT-server
Version: 2.17.0
Release: 1
Summary: stand-in for xCAT server
License: EPL-1.0
BuildArch: noarch
AutoReqProv: no
%global debug_package %{nil}
%global __os_install_post %{nil}
%description
stand-in
%install
cp -a $s/. %{buildroot}/
%files
$PLUGIN_DIR/ipmi.pm
$PLUGIN_DIR/openbmc2.pm
$PLUGIN_DIR/redfish.pm
SPEC
  rpmbuild -bb --quiet --define "_topdir $t" --define "_dbpath $work/builddb" "$work/standin.spec" >/dev/null 2>&1
  standin=$(find "$t/RPMS" -name 'xCAT-server-*.rpm' | head -n1)
  R="$work/rroot"; mkdir -p "$R"
  P=(rpm --root "$R" --dbpath /var/lib/rpm --nodeps)
  check "rpm database in the throwaway root" rpm --root "$R" --dbpath /var/lib/rpm --initdb
  check "stand-in xCAT-server installs" "${P[@]}" -i "$standin"
  ok "$([ "$(loaded "$R")" = "$XCAT_VIEW" ]; echo $?)" "before: xcatd loads xCAT's plugins"
  check "ours installs" "${P[@]}" -i "$rpm"
  ok "$([ "$(loaded "$R")" = "$OUR_VIEW" ]; echo $?)" "with ours: xcatd loads our openbmc2.pm and redfish.pm, xCAT's ipmi.pm"
  for p in $PLUGINS; do
    check "xCAT's $p kept as $p.xcat-server" grep -qx "# xCAT's $p (stand-in)" "$R$PLUGIN_DIR/$p.xcat-server"
    check "$p is a link to ours" same "$R$PLUGIN_DIR/$p" "$REPO/perl/xCAT_plugin/$p"
  done
  check "xCAT-server upgraded while ours is installed: ours stays loaded" \
    "${P[@]}" -U --replacepkgs "$standin"
  ok "$([ "$(loaded "$R")" = "$OUR_VIEW" ]; echo $?)" "  ... xcatd still loads ours"
  # rpm runs the scriptlets chrooted into the root: the agent check reads the root's /proc
  proc_mounted=1
  mkdir -p "$R/proc" && mount --bind /proc "$R/proc" 2>/dev/null && proc_mounted=0
  if [ "$proc_mounted" = 0 ]; then
    agent_pid=$(fake_agent "$R" rpm-agent "$RUNDIR/warm/agent.sock"); by_pid=$(fake_bystander "$R" rpm-bystander)
  fi
  check "ours erases" env XCAT_AGENT_RUNDIR=/var/run/other "${P[@]}" -e "$RPM_NAME"
  if [ "$proc_mounted" = 0 ]; then
    umount "$R/proc"
    check "erase stopped the running warm agent (SIGTERM, waited for)" stopped rpm-agent "$agent_pid"
    check "  ... and left a process on another socket alone" alive rpm-bystander "$by_pid"
    kill "$by_pid" 2>/dev/null; wait "$by_pid" 2>/dev/null
  else
    n=$((n + 1)); echo "ok $n # skip erase stops a warm agent: cannot bind /proc into the throwaway root"
  fi
  ok "$([ "$(loaded "$R")" = "$XCAT_VIEW" ]; echo $?)" "after erase: xcatd loads xCAT's plugins again"
  check "no saved copies left" bash -c "! ls '$R$PLUGIN_DIR'/*.xcat-server 2>/dev/null"
  check "rpm -V xCAT-server is clean after erase" "${P[@]}" -V xCAT-server
  check "ours installs without xCAT-server (nothing to replace)" bash -c "${P[*]} -e xCAT-server && ${P[*]} -i '$rpm'"
  check "  ... and links nothing" bash -c "[ ! -e '$R$PLUGIN_DIR/openbmc2.pm' ]"
else
  ok 1 "rpm package $rpm built and rpmbuild available"
fi

echo "1..$n"
[ "$failed" = 0 ]
