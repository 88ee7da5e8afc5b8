#!/usr/bin/env bash
# make demo: a 64-BMC simulated fleet per protocol, driven through the Perl runner
# (perl/bin/rpower, rsetboot, rinv, rvitals, rbeacon, reventlog -> plugin -> forked agent), then straight through the
# debug client (client.py --spawn -> agent) with no broker.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
NODES=${NODES:-64}
work=$(mktemp -d /tmp/xcat-demo.XXXXXX)
fleet_pid=
cleanup() {
  [ -n "$fleet_pid" ] && kill "$fleet_pid" 2>/dev/null && wait "$fleet_pid" 2>/dev/null
  # a warm agent (XCAT_AGENT_IDLE > 0) lives in $work/<protocol>/run: it goes with the demo
  for pidfile in "$work"/*/run/warm/agent.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

start_fleet() {  # protocol base
  local dir="$work/$1"
  mkdir -p "$dir"
  PYTHONPATH=tests "$PY" -m sim.fleet --nodes "$NODES" --protocol "$1" --base "$2" --tables "$dir" \
    >"$dir/fleet.out" 2>"$dir/fleet.err" &
  fleet_pid=$!
  for _ in $(seq 1 600); do
    grep -qx ready "$dir/fleet.out" 2>/dev/null && return 0
    kill -0 "$fleet_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "fleet did not start:"; cat "$dir/fleet.err"; exit 1
}

stop_fleet() {
  kill "$fleet_pid" 2>/dev/null; wait "$fleet_pid" 2>/dev/null; fleet_pid=
}

run() {  # show the command, then its per-node lines
  echo
  echo "\$ $*"
  "$@" 2>&1
  echo "(exit $?)"
}

last=$(printf 'node%0*d' $(( ${#NODES} > 3 ? ${#NODES} : 3 )) "$NODES")
first=$(printf 'node%0*d' $(( ${#NODES} > 3 ? ${#NODES} : 3 )) 1)
range="node[${first#node}-${last#node}]"

for proto in openbmc redfish; do
  base=127.50.0.1; [ "$proto" = redfish ] && base=127.51.0.1
  echo "=================== $proto: $NODES simulated BMCs on $base.. ==================="
  start_fleet "$proto" "$base"
  export XCAT_TABLES="$work/$proto"
  run perl/bin/rpower "$range" state
  run perl/bin/rpower "$range" on
  run perl/bin/rpower "$range" stat
  run perl/bin/rpower "$range" reset
  run perl/bin/rpower "$range" softoff
  run perl/bin/rpower "$range" boot
  run perl/bin/rpower "$range" off
  run perl/bin/rsetboot "$range" net
  run perl/bin/rsetboot "$range" stat
  run perl/bin/rsetboot "$range" hd -p
  run perl/bin/rsetboot "$range"
  run perl/bin/rsetboot "$range" default
  run perl/bin/rpower "$range" bmcstate
  run perl/bin/rpower "$first" dance
  if [ "$proto" = openbmc ]; then
    second=$(printf 'node%0*d' $(( ${#NODES} > 3 ? ${#NODES} : 3 )) 2)
    run perl/bin/rinv "$range" model serial
    run perl/bin/rinv "$first,$second" firm
    run perl/bin/rinv "$first" firm -V
    run perl/bin/rinv "$first" all
    run perl/bin/rinv "$first" dimm
    run perl/bin/rinv "$first" bogus
    run perl/bin/rvitals "$range" wattage
    run perl/bin/rvitals "$first,$second" altitude
    run perl/bin/rvitals "$first" all
    run perl/bin/rvitals "$first" temp leds
    digits=${first#node}
    three="node[$digits-$(printf '%0*d' ${#digits} 3)]"
    run perl/bin/rbeacon "$range" stat
    run perl/bin/rbeacon "$range" on
    run perl/bin/rbeacon "$three" stat
    run perl/bin/rbeacon "$range" off
    run perl/bin/rbeacon "$first" blink
    run perl/bin/reventlog "$three" all
    run perl/bin/reventlog "$three" 2
    XCAT_RAS_POLICY_TABLE="$PWD/tests/fixtures/openbmc/policy_table_small.json" run perl/bin/reventlog "$second" all
    run perl/bin/reventlog "$first" resolved=1,100
    run perl/bin/reventlog "$first" resolved=LED
    run perl/bin/reventlog "$first"
    run perl/bin/reventlog "$three" clear
    run perl/bin/reventlog "$three"
  fi
  echo
  echo "--- the same fleet straight through the debug client (no broker) ---"
  client=("$PY" xCAT-openbmc-py/lib/python/agent/client.py --spawn --module "$proto"
          --nodeinfo "$XCAT_TABLES/nodeinfo.json")
  run "${client[@]}" rpower "$range" state
  run "${client[@]}" rpower "$range" on
  run "${client[@]}" rpower "$range" stat
  run "${client[@]}" rpower "$range" off
  run "${client[@]}" rpower "$range" reset
  run "${client[@]}" rsetboot "$range" net
  run "${client[@]}" rsetboot "$range" stat
  run "${client[@]}" rsetboot "$range" default
  if [ "$proto" = openbmc ]; then
    run "${client[@]}" rinv "$first" model serial firm
    run "${client[@]}" rvitals "$first,$second" power
    run "${client[@]}" rbeacon "$range" stat
    run "${client[@]}" reventlog "$first" all
  fi
  stop_fleet
done
