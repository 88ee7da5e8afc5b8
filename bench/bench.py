"""make bench: the whole chain (Perl runner, forked agent, simulated fleet) against the floor client.

For each protocol a fleet of NODES simulated BMCs is started on its own loopback range, and each
command runs REPS times through ``perl/bin/rpower`` / ``perl/bin/rsetboot`` and then through
``bench/floor.py`` (the same HTTP requests with nothing around them). One table row per
protocol and command goes to stdout, the same rows as a JSON list to BENCH_JSON.

Where the CPU figures come from:

* broker + agent: ``os.wait4`` of the runner; its rusage includes the agent, which the broker
  forks and reaps. The agent's own CPU and peak RSS come from its ``exit:`` log line, and
  broker = wait4 total - agent.
* fleet: the delta of ``cpu_seconds`` in the fleet's ``GET /stats``; requests, TLS handshakes,
  logins and logouts per node from the same delta.
* floor: its own ``getrusage(RUSAGE_SELF)`` at exit (imports included, as ours include theirs).

Run order per repetition: state (ours, floor); fleet reset to off, on and off (ours); fleet reset
to off, on and off (floor); net (ours, floor); stat (ours, floor). So every ``on`` starts from
off and every ``off`` from on, for ours and the floor alike, as an admin's would.

Exit status 1 when any node was not answered in any of our runs, 2 when nothing could run.
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(REPO, 'tests'))

from sim.control import Fleet, ShardedFleet  # noqa: E402  pylint: disable=wrong-import-position

AGENT_DIR = os.path.join(REPO, 'xCAT-openbmc-py', 'lib', 'python', 'agent')
VENV_PYTHON = os.path.join(REPO, '.venv', 'bin', 'python')

#: Loopback range of each protocol's fleet (10,000 nodes span 40 /24s).
BASES = {'openbmc': '127.80.0.1', 'redfish': '127.120.0.1'}
#: Parts of the chain each protocol needs, checked before its fleet starts.
NEEDS = {
    'openbmc': ('perl/bin/rpower', 'perl/bin/rsetboot', 'perl/xCAT_plugin/openbmc2.pm',
                'xCAT-openbmc-py/lib/python/agent/hwctl/openbmc_client.py'),
    'redfish': ('perl/bin/rpower', 'perl/bin/rsetboot', 'perl/xCAT_plugin/redfish.pm',
                'xCAT-openbmc-py/lib/python/agent/hwctl/redfish_client.py',
                'xCAT-openbmc-py/lib/python/agent/hwctl/executor/redfish_power.py',
                'xCAT-openbmc-py/lib/python/agent/hwctl/executor/redfish_setboot.py'),
}
COMMANDS = ('rpower state', 'rpower on', 'rpower off', 'rsetboot net', 'rsetboot stat', 'rinv all', 'rvitals all',
            'rbeacon on', 'reventlog all')
#: Commands a protocol's agent does not implement (skipped for that protocol).
UNSUPPORTED = {'openbmc': frozenset(),
               'redfish': frozenset({'rinv all', 'rvitals all', 'rbeacon on', 'reventlog all'})}
#: Lines without a node the runner may print that are notes, not errors (reventlog's hint
#: when no RAS policy table is installed).
NOTES = ('Install the openbmctool rpm from ',)
#: Commands run once against a fleet of each Redfish vendor style (requests per node).
STYLE_COMMANDS = ('rpower state', 'rsetboot net')
#: Requests per node ``rpower state`` may cost on a homogeneous fleet of each style (Cisco
#: CIMC's too: its nodes read the collection and the system with HTTP Basic, no session).
STYLE_TARGET = 3.1
#: BMCs per simulated fleet process: a larger fleet is served by several (``--shard``), so that
#: no process needs more descriptors than the open-file limit (a listener and a kept connection
#: per BMC) and the fleet's TLS work spreads over the cores.
SHARD_NODES = 2500
#: Commands of the cold/warm table (docs/DESIGN.md, "Warm agent"), when benched at all.
WARM_COMMANDS = ('rpower state', 'rpower on', 'rsetboot net', 'rvitals all')
EXIT_LINE = re.compile(r'exit: cpu_user=([\d.]+) cpu_sys=([\d.]+) maxrss_kb=(\d+)')
NODE_LINE = re.compile(r'^(\S+): (.*)$')
COUNTERS = ('requests', 'handshakes', 'connections', 'logins', 'logouts')


def noderange(names):
    """``node[0001-1000]`` for the fleet's consecutive, equally padded names."""
    first, last = names[0], names[-1]
    digits = len(first) - len(first.rstrip('0123456789'))
    prefix = first[:len(first) - digits]
    return '%s[%s-%s]' % (prefix, first[len(prefix):], last[len(prefix):])


def start_fleet(opts, nodes, tables_dir, **kwargs):
    """A started fleet of ``nodes`` BMCs, in ``opts.fleet_shards`` processes (0: one per
    ``SHARD_NODES``)."""
    shards = opts.fleet_shards or -(-nodes // SHARD_NODES)
    ready = max(120.0, nodes * 0.05)
    if shards > 1:
        fleet = ShardedFleet(nodes=nodes, shards=shards, tables_dir=tables_dir, ready_timeout=ready, **kwargs)
    else:
        fleet = Fleet(nodes=nodes, tables_dir=tables_dir, ready_timeout=ready, **kwargs)
    return fleet.start()


def stats_delta(before, after):
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in COUNTERS}
    delta['cpu_s'] = after['cpu_seconds'] - before['cpu_seconds']
    return delta


def run_killable(argv, env, timeout, stdout, stderr):
    """Start ``argv`` in its own session; :returns: ``(exit code, rusage, wall s)`` via wait4."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                            cwd=REPO, start_new_session=True)
    timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage, wall


def parse_output(out_text, err_text, nodes):
    """:returns: ``(answered, errors, samples)`` from the runner's stdout and stderr."""
    answered = set()
    errors = 0
    samples = []
    for line in out_text.splitlines():
        match = NODE_LINE.match(line)
        if match and match.group(1) in nodes and not match.group(2).startswith('Error:'):
            answered.add(match.group(1))
        elif line.strip() and not line.startswith(NOTES):
            errors += 1
            samples.append(line)
    for line in err_text.splitlines():
        if line.strip():
            errors += 1
            samples.append(line)
    return len(answered), errors, samples[:5]


class Bench:
    def __init__(self, opts, workdir):
        self.opts = opts
        self.workdir = workdir
        self.rundir = os.path.join(workdir, 'run')
        os.mkdir(self.rundir, 0o700)
        self.timeout = 300 + opts.nodes * 0.2
        self.profiles = []

    def ours(self, fleet, command, label):
        """One run of ``perl/bin/<tool>`` over the whole fleet."""
        tool, action = command.split()
        log = os.path.join(self.workdir, label + '.agent.log')
        env = dict(os.environ, XCAT_TABLES=fleet.tables_dir, XCAT_AGENT_LOG=log,
                   XCAT_AGENT_RUNDIR=self.rundir, XCAT_AGENT=os.path.join(AGENT_DIR, 'agent.py'),
                   XCAT_AGENT_PYTHON=VENV_PYTHON, XCAT_AGENT_IDLE='0')
        if self.opts.profile:
            env['XCAT_AGENT_PYTHON'] = self._profile_wrapper(label)
        out_path = os.path.join(self.workdir, label + '.out')
        err_path = os.path.join(self.workdir, label + '.err')
        before = fleet.control.stats()
        with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
            rc, usage, wall = run_killable([os.path.join(REPO, 'perl', 'bin', tool), noderange(fleet.nodes), action],
                                           env, self.timeout, out, err)
        delta = stats_delta(before, fleet.control.stats())
        with open(out_path, encoding='utf-8', errors='replace') as fh:
            out_text = fh.read()
        with open(err_path, encoding='utf-8', errors='replace') as fh:
            err_text = fh.read()
        answered, errors, samples = parse_output(out_text, err_text, set(fleet.nodes))
        total = usage.ru_utime + usage.ru_stime
        agent_cpu = rss_kb = None
        try:
            with open(log, encoding='utf-8', errors='replace') as fh:
                found = EXIT_LINE.findall(fh.read())
        except OSError:
            found = []
        if found:
            user, system, rss = found[-1]
            agent_cpu, rss_kb = float(user) + float(system), int(rss)
        else:
            samples.append('no exit line in the agent log %s' % log)
        return {'rc': rc, 'wall_s': wall, 'total_cpu_s': total, 'agent_cpu_s': agent_cpu,
                'broker_cpu_s': None if agent_cpu is None else total - agent_cpu, 'agent_rss_kb': rss_kb,
                'answered': answered, 'errors': errors, 'error_samples': samples, 'fleet': delta}

    def floor(self, fleet, protocol, command, label):
        """One run of bench/floor.py over the whole fleet."""
        out_path = os.path.join(self.workdir, label + '.floor.out')
        err_path = os.path.join(self.workdir, label + '.floor.err')
        argv = [VENV_PYTHON, os.path.join(BENCH_DIR, 'floor.py'), '--nodeinfo',
                os.path.join(fleet.tables_dir, 'nodeinfo.json'), '--protocol', protocol, '--command', command,
                '--via', self.opts.floor_via]
        before = fleet.control.stats()
        with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
            rc, _usage, _wall = run_killable(argv, dict(os.environ), self.timeout, out, err)
        delta = stats_delta(before, fleet.control.stats())
        try:
            with open(out_path, encoding='utf-8') as fh:
                result = json.loads(fh.read())
        except (OSError, ValueError):
            with open(err_path, encoding='utf-8', errors='replace') as fh:
                tail = fh.read()[-500:]
            result = {'cpu_s': None, 'work_cpu_s': None, 'wall_s': None, 'answered': 0, 'errors': 1,
                      'error_samples': ['floor failed (rc %s): %s' % (rc, tail)]}
        result['fleet'] = delta
        return result

    def _profile_wrapper(self, label):
        """An XCAT_AGENT_PYTHON that runs the agent under cProfile or py-spy, one file per run."""
        os.makedirs(self.opts.profile, exist_ok=True)
        base = os.path.join(os.path.abspath(self.opts.profile), label)
        if self.opts.profiler == 'pyspy':
            out = base + '.pyspy.txt'
            pyspy = shutil.which('py-spy', path=os.path.dirname(VENV_PYTHON) + os.pathsep + os.environ.get('PATH', ''))
            if pyspy is None:
                raise SystemExit('BENCH_PROFILER=pyspy needs py-spy (.venv/bin/pip install py-spy)')
            line = 'exec %s record -t -r 250 -f raw -o %s -- %s "$@"' % (pyspy, out, VENV_PYTHON)
        else:
            out = base + '.prof'
            line = 'exec %s -m cProfile -o %s "$@"' % (VENV_PYTHON, out)
        wrapper = os.path.join(self.workdir, label + '.python')
        with open(wrapper, 'w', encoding='utf-8') as fh:
            fh.write('#!/bin/sh\n%s\n' % line)
        os.chmod(wrapper, 0o755)
        self.profiles.append(out)
        return wrapper

    def protocol(self, protocol):
        """All commands, REPS times, for one protocol; :returns: the table rows."""
        opts = self.opts
        started = time.monotonic()
        fleet = start_fleet(opts, opts.nodes, os.path.join(self.workdir, protocol + '-fleet'), protocol=protocol,
                            base=BASES[protocol], port=443)
        log('%s: fleet of %d BMCs ready in %.1f s' % (protocol, opts.nodes, time.monotonic() - started))
        commands = [c for c in opts.commands if c not in UNSUPPORTED[protocol]]
        runs = {command: {'ours': [], 'floor': []} for command in commands}
        try:
            for rep in range(opts.reps):
                for group in self._schedule(commands):
                    if any(c in ('rpower on', 'rpower off') for _who, c in group):
                        # Every "on" starts from off (and the "off" after it from on).
                        fleet.control.reset(counters=False, states=True, faults=False)
                    for who, command in group:
                        label = '%s-%s-%d-%s' % (protocol, command.replace(' ', '-'), rep, who)
                        if who == 'ours':
                            result = self.ours(fleet, command, label)
                        else:
                            result = self.floor(fleet, protocol, command, label)
                        runs[command][who].append(result)
                        log('%-7s %-13s rep %d %-5s wall %6.2f s  %s/%d answered  %d errors  %.1f req/node'
                            % (protocol, command, rep + 1, who, result['wall_s'] or 0, result['answered'],
                               opts.nodes, result['errors'], result['fleet']['requests'] / opts.nodes))
                        for sample in result['error_samples'][:3]:
                            log('    ' + sample)
        finally:
            fleet.stop()
        return [self._row(protocol, command, runs[command]) for command in commands]

    def styles(self):
        """``rpower state`` and ``rsetboot net`` once against a fleet of each Redfish vendor style.

        :returns: one row per style and command (requests, logins and logouts per node).
        """
        opts = self.opts
        rows = []
        for style in opts.styles:
            fleet = Fleet(nodes=opts.style_nodes, protocol='redfish', base=BASES['redfish'], port=443,
                          tables_dir=os.path.join(self.workdir, 'style-' + style),
                          ready_timeout=max(120.0, opts.style_nodes * 0.05), redfish_style=style)
            fleet.start()
            try:
                for command in STYLE_COMMANDS:
                    result = self.ours(fleet, command, 'style-%s-%s' % (style, command.replace(' ', '-')))
                    nodes = opts.style_nodes
                    row = {'protocol': 'redfish', 'style': style, 'command': command, 'nodes': nodes,
                           'wall_s': result['wall_s'], 'requests_per_node': result['fleet']['requests'] / nodes,
                           'logins_per_node': result['fleet']['logins'] / nodes,
                           'logouts_per_node': result['fleet']['logouts'] / nodes,
                           'answered': result['answered'], 'errors': result['errors'],
                           'error_samples': result['error_samples']}
                    rows.append(row)
                    log('redfish %-8s %-13s wall %6.2f s  %d/%d answered  %d errors  %.2f req/node'
                        % (style, command, row['wall_s'] or 0, row['answered'], nodes, row['errors'],
                           row['requests_per_node']))
            finally:
                fleet.stop()
        return rows

    @staticmethod
    def _schedule(commands):
        """Groups of (who, command): on/off pairs run back to back after a reset to off."""
        groups = []
        power = [c for c in commands if c in ('rpower on', 'rpower off')]
        for command in commands:
            if command in power:
                if command == power[0]:
                    groups.append([('ours', c) for c in power])
                    groups.append([('floor', c) for c in power])
                continue
            groups.append([('ours', command), ('floor', command)])
        return groups

    def _row(self, protocol, command, runs):
        nodes = self.opts.nodes
        ours, floor = runs['ours'], runs['floor']

        def med(values):
            values = [v for v in values if v is not None]
            return statistics.median(values) if values else None

        walls = [r['wall_s'] for r in ours]
        agent = med(r['agent_cpu_s'] for r in ours)
        broker = med(r['broker_cpu_s'] for r in ours)
        total = med(r['total_cpu_s'] for r in ours)
        floor_cpu = med(r['cpu_s'] for r in floor)
        per_node = total * 1000.0 / nodes
        floor_per_node = None if floor_cpu is None else floor_cpu * 1000.0 / nodes
        our_req = [r['fleet']['requests'] / nodes for r in ours]
        floor_req = [r['fleet']['requests'] / nodes for r in floor]
        # Same requests, logins and logouts in every repetition, ours and the floor's.
        same = [tuple(r['fleet'][k] for k in ('requests', 'logins', 'logouts')) for r in ours + floor]
        rss = [r['agent_rss_kb'] for r in ours if r['agent_rss_kb']]
        samples = [s for r in ours for s in r['error_samples']][:5]
        return {
            'protocol': protocol, 'command': command, 'nodes': nodes, 'reps': len(ours),
            'wall_s': statistics.median(walls), 'wall_s_min': min(walls), 'wall_s_max': max(walls),
            'agent_cpu_s': agent, 'broker_cpu_s': broker,
            'fleet_cpu_s': med(r['fleet']['cpu_s'] for r in ours),
            'cpu_ms_per_node': per_node,
            'agent_cpu_ms_per_node': None if agent is None else agent * 1000.0 / nodes,
            'broker_cpu_ms_per_node': None if broker is None else broker * 1000.0 / nodes,
            'floor_cpu_ms_per_node': floor_per_node,
            'floor_work_cpu_ms_per_node': (None if med(r['work_cpu_s'] for r in floor) is None
                                           else med(r['work_cpu_s'] for r in floor) * 1000.0 / nodes),
            'floor_wall_s': med(r['work_wall_s'] for r in floor if 'work_wall_s' in r),
            'floor_fleet_cpu_s': med(r['fleet']['cpu_s'] for r in floor),
            'floor_via': self.opts.floor_via,
            'floor_ratio': None if not floor_per_node else per_node / floor_per_node,
            'rss_mb': max(rss) / 1024.0 if rss else None,
            'requests_per_node': statistics.median(our_req),
            'floor_requests_per_node': statistics.median(floor_req) if floor_req else None,
            'requests_match': len(set(same)) == 1,
            'handshakes_per_node': statistics.median(r['fleet']['handshakes'] / nodes for r in ours),
            'logins_per_node': statistics.median(r['fleet']['logins'] / nodes for r in ours),
            'logouts_per_node': statistics.median(r['fleet']['logouts'] / nodes for r in ours),
            'answered': min(r['answered'] for r in ours),
            'errors': max(r['errors'] for r in ours),
            'floor_answered': min((r['answered'] for r in floor), default=0),
            'floor_errors': max((r['errors'] for r in floor), default=0),
            'error_samples': samples,
        }


def fmt(value, spec):
    return '-' if value is None else format(value, spec)


def _proc_cpu_s(pid):
    """utime + stime of a running process from /proc (the warm agent is not our child), or None."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii') as fh:
            fields = fh.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return None


def _proc_rss_kb(pid, field='VmRSS'):
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a running process in kB, or None."""
    try:
        with open('/proc/%d/status' % pid, encoding='ascii') as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith(field + ':'))
    except (OSError, ValueError, StopIteration):
        return None


def warm_rows(opts, workdir):
    """The cold/warm table: each of ``WARM_COMMANDS`` benched (``rvitals all`` is OpenBMC-only,
    as the fleet here) over the fleet, and ``rpower state`` on one node too, cold (a one-shot agent
    per command, ``XCAT_AGENT_IDLE=0``) and warm (one warm agent for the whole table, primed by one
    unmeasured run of each command), REPS times each (docs/DESIGN.md, "Warm agent"). ``rpower on``
    starts from off every time: cold after a reset of the fleet's states, warm after an unmeasured
    ``rpower off`` through the warm agent (a reset would drop its BMC sessions). The warm agent is
    stopped at the end.

    :returns: rows ``{mode, command, target, nodes, wall_s, wall_s_min, agent_cpu_s, ...}``.
    """
    commands = [c for c in WARM_COMMANDS if c in opts.commands]
    if not commands:
        return []
    fleet = start_fleet(opts, opts.nodes, os.path.join(workdir, 'warm-fleet'), protocol='openbmc',
                        base=BASES['openbmc'], port=443)
    rundir = os.path.join(workdir, 'warm-run')
    os.mkdir(rundir, 0o700)
    pid_file = os.path.join(rundir, 'warm', 'agent.pid')
    log_path = os.path.join(workdir, 'warm.agent.log')
    rows = []

    def warm_pid():
        try:
            with open(pid_file, encoding='ascii') as fh:
                return int(fh.read().strip())
        except (OSError, ValueError):
            return None

    def one(target, command, idle):
        tool, action = command.split()
        env = dict(os.environ, XCAT_TABLES=fleet.tables_dir, XCAT_AGENT_LOG=log_path, XCAT_AGENT_RUNDIR=rundir,
                   XCAT_AGENT=os.path.join(AGENT_DIR, 'agent.py'), XCAT_AGENT_PYTHON=VENV_PYTHON,
                   XCAT_AGENT_IDLE=str(idle))
        pid = warm_pid() if idle else None
        agent_before = _proc_cpu_s(pid) if pid else None
        with open(log_path, 'a', encoding='utf-8'):
            pass
        log_before = os.path.getsize(log_path)
        before = fleet.control.stats()
        with open(os.devnull, 'wb') as out, open(os.path.join(workdir, 'warm.err'), 'ab') as err:
            rc, usage, wall = run_killable([os.path.join(REPO, 'perl', 'bin', tool), target, action], env,
                                           300 + opts.nodes * 0.2, out, err)
        delta = stats_delta(before, fleet.control.stats())
        total = usage.ru_utime + usage.ru_stime
        peak = None
        if idle:
            pid = pid or warm_pid()
            after = _proc_cpu_s(pid) if pid else None
            agent = None if after is None or agent_before is None else after - agent_before
            broker = total
            rss = _proc_rss_kb(pid) if pid else None
            peak = _proc_rss_kb(pid, 'VmHWM') if pid else None
        else:
            with open(log_path, encoding='utf-8', errors='replace') as fh:
                fh.seek(log_before)
                found = EXIT_LINE.findall(fh.read())
            agent = float(found[-1][0]) + float(found[-1][1]) if found else None
            rss = int(found[-1][2]) if found else None
            broker = None if agent is None else total - agent
        return {'rc': rc, 'wall_s': wall, 'agent_cpu_s': agent, 'broker_cpu_s': broker, 'rss_kb': rss,
                'peak_rss_kb': peak, 'fleet': delta}

    def before_each(command, idle, target):
        """Every ``rpower on`` starts from off."""
        if command != 'rpower on':
            return
        if idle:
            one(target, 'rpower off', idle)
        else:
            fleet.control.reset(counters=False, states=True, faults=False)

    def row(mode, command, target, count, runs):
        cpu = [r['agent_cpu_s'] + r['broker_cpu_s'] for r in runs
               if r['agent_cpu_s'] is not None and r['broker_cpu_s'] is not None]
        peaks = [r['peak_rss_kb'] for r in runs if r['peak_rss_kb']]
        return {
            'mode': mode, 'command': command, 'target': target, 'nodes': count,
            'wall_s': statistics.median(r['wall_s'] for r in runs),
            'wall_s_min': min(r['wall_s'] for r in runs),
            'agent_cpu_s': statistics.median([r['agent_cpu_s'] for r in runs if r['agent_cpu_s'] is not None]
                                             or [float('nan')]),
            'broker_cpu_s': statistics.median([r['broker_cpu_s'] for r in runs
                                               if r['broker_cpu_s'] is not None] or [float('nan')]),
            'cpu_ms_per_node': 1000 * statistics.median(cpu) / count if cpu else None,
            # cold: the agent's peak (its exit line); warm: the warm agent's RSS right after the
            # command, with every session kept, and its peak so far (VmHWM) apart.
            'rss_mb': max((r['rss_kb'] or 0) for r in runs) / 1024.0,
            'peak_rss_mb': max(peaks) / 1024.0 if peaks else None,
            'requests_per_node': statistics.median(r['fleet']['requests'] for r in runs) / count,
            'logins_per_node': statistics.median(r['fleet']['logins'] for r in runs) / count,
            'handshakes_per_node': statistics.median(r['fleet']['handshakes'] for r in runs) / count,
            'fleet_cpu_s': statistics.median(r['fleet']['cpu_s'] for r in runs),
            'failed_runs': sum(1 for r in runs if r['rc'] != 0)}

    targets = [(noderange(fleet.nodes), len(fleet.nodes))]
    try:
        for idle in (0, 300):
            mode = 'warm' if idle else 'cold'
            for command in commands:
                for target, count in targets + ([(fleet.nodes[0], 1)] if command == 'rpower state' else []):
                    if idle:
                        # primes the warm agent and its sessions
                        one(target, 'rpower off' if command == 'rpower on' else command, idle)
                    runs = []
                    for _ in range(opts.reps):
                        before_each(command, idle, target)
                        runs.append(one(target, command, idle))
                    rows.append(row(mode, command, target, count, runs))
                    log('%s %s %s: wall %.3f s' % (mode, command, target, rows[-1]['wall_s']))
        pid = warm_pid()
        if opts.warm_idle_wait and pid:
            # The warm agent with its sessions kept after a quiet spell: the connections unused
            # for its --conn-idle are closed, the BMC sessions stay.
            time.sleep(opts.warm_idle_wait)
            stats = fleet.control.stats()
            rss, peak = _proc_rss_kb(pid), _proc_rss_kb(pid, 'VmHWM')
            rows.append({'mode': 'warm-idle', 'command': None, 'target': noderange(fleet.nodes),
                         'nodes': len(fleet.nodes), 'after_s': opts.warm_idle_wait,
                         'rss_mb': None if rss is None else rss / 1024.0,
                         'peak_rss_mb': None if peak is None else peak / 1024.0,
                         'open_sessions': stats['open_sessions'], 'open_connections': stats['open_connections']})
    finally:
        pid = warm_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
                ends = time.monotonic() + 40
                while _proc_cpu_s(pid) is not None and time.monotonic() < ends:
                    time.sleep(0.05)
            except OSError:
                pass
        fleet.stop()
    return rows


def print_warm_table(rows):
    print('cold (one agent per command) and warm (XCAT_AGENT_IDLE; agent primed, sessions kept); warm RSS: '
          'right after the command (peak)')
    head = ('mode', 'command', 'target', 'nodes', 'wall s med', 'min', 'agent s', 'broker s', 'ms/node', 'RSS MB',
            'req/node', 'login/node', 'hs/node', 'failed')
    widths = (5, 13, 16, 6, 10, 7, 8, 8, 8, 13, 8, 10, 7, 6)
    print('  '.join(h.rjust(w) if i > 2 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        if r['mode'] == 'warm-idle':
            print('warm agent %g s after its last command: RSS %s MB (peak %s MB); the fleet holds %d BMC sessions '
                  'and %d connections' % (r['after_s'], fmt(r['rss_mb'], '.1f'), fmt(r['peak_rss_mb'], '.1f'),
                                          r['open_sessions'], r['open_connections']))
            continue
        rss = fmt(r['rss_mb'], '.1f')
        if r.get('peak_rss_mb'):
            rss += ' (%.1f)' % r['peak_rss_mb']
        cells = (r['mode'], r['command'], r['target'], str(r['nodes']), fmt(r['wall_s'], '.3f'),
                 fmt(r['wall_s_min'], '.3f'), fmt(r['agent_cpu_s'], '.3f'), fmt(r['broker_cpu_s'], '.3f'),
                 fmt(r['cpu_ms_per_node'], '.2f'), rss, fmt(r['requests_per_node'], '.2f'),
                 fmt(r['logins_per_node'], '.2f'), fmt(r['handshakes_per_node'], '.2f'), str(r['failed_runs']))
        print('  '.join(c.rjust(w) if i > 2 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))))


def print_table(rows):
    head = ('protocol', 'command', 'nodes', 'wall s med', 'min', 'max', 'agent s', 'broker s', 'fleet s',
            'ms/node', 'floor ms', 'ratio', 'RSS MB', 'req/node', 'hs/node', 'answered', 'errors')
    widths = (8, 13, 6, 10, 6, 6, 8, 8, 8, 8, 8, 6, 7, 10, 7, 8, 6)
    print('  '.join(h.rjust(w) if i > 1 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        req = fmt(r['requests_per_node'], '.2f')
        if not r['requests_match']:
            req += '!=%s' % fmt(r['floor_requests_per_node'], '.2f')
        cells = (r['protocol'], r['command'], str(r['nodes']), fmt(r['wall_s'], '.2f'), fmt(r['wall_s_min'], '.2f'),
                 fmt(r['wall_s_max'], '.2f'), fmt(r['agent_cpu_s'], '.2f'), fmt(r['broker_cpu_s'], '.2f'),
                 fmt(r['fleet_cpu_s'], '.2f'), fmt(r['cpu_ms_per_node'], '.2f'), fmt(r['floor_cpu_ms_per_node'], '.2f'),
                 fmt(r['floor_ratio'], '.2f'), fmt(r['rss_mb'], '.1f'), req, fmt(r['handshakes_per_node'], '.2f'),
                 str(r['answered']), str(r['errors']))
        print('  '.join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))))
    if any(not r['requests_match'] for r in rows):
        print('req/node "A!=B": our requests per node (A) differ from the floor\'s (B) in at least one repetition')


def print_style_table(rows):
    """Requests per node of each Redfish vendor style; ``rpower state`` is checked against its target."""
    print('Redfish vendor styles (docs/DESIGN.md, "Redfish vendor behaviours"); rpower state target %.1f '
          'req/node' % STYLE_TARGET)
    head = ('style', 'command', 'nodes', 'wall s', 'req/node', 'logins', 'logouts', 'answered', 'errors', 'target')
    widths = (8, 13, 6, 8, 9, 7, 7, 8, 6, 6)
    print('  '.join(h.rjust(w) if i > 1 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        target = ''
        if r['command'] == 'rpower state':
            target = 'ok' if r['requests_per_node'] <= STYLE_TARGET else 'MISSED'
        cells = (r['style'], r['command'], str(r['nodes']), fmt(r['wall_s'], '.2f'), fmt(r['requests_per_node'], '.2f'),
                 fmt(r['logins_per_node'], '.2f'), fmt(r['logouts_per_node'], '.2f'), str(r['answered']),
                 str(r['errors']), target)
        print('  '.join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))))


def print_profiles(paths, top):
    for path in paths:
        if not os.path.exists(path):
            continue
        if path.endswith('.pyspy.txt'):
            print_pyspy(path, top)
            continue
        import pstats  # pylint: disable=import-outside-toplevel
        print('\n== agent profile %s (cProfile; cumulative times are blurred by greenlet switches)' % path)
        stats = pstats.Stats(path)
        stats.sort_stats('tottime').print_stats(top)
        stats.sort_stats('cumulative').print_stats(top)


PYSPY_FRAME = re.compile(r'^(.*) \((.*?)(?::\d+)?\)$')


def print_pyspy(path, top):
    """Inclusive and self share per function of py-spy's samples of the agent's main thread.

    gevent runs every greenlet in the main thread; the other threads (the watchdog, the DNS
    thread pool) mostly wait, but py-spy cannot always tell waiting from running, so they
    are counted apart.
    """
    inclusive, own, total, others = {}, {}, 0, {}
    with open(path, encoding='utf-8', errors='replace') as fh:
        for line in fh:
            stack, _sep, count = line.rstrip('\n').rpartition(' ')
            if not stack or not count.isdigit():
                continue
            count = int(count)
            frames = stack.split(';')
            if frames[0].startswith('thread ('):
                thread = frames.pop(0).split(': ', 1)[-1]
                if thread != 'MainThread':
                    others[thread] = others.get(thread, 0) + count
                    continue
            keys = []
            for frame in frames:
                match = PYSPY_FRAME.match(frame)
                name, where = match.groups() if match else (frame, '')
                keys.append('%s (%s)' % (name, where.replace(REPO + '/', '').split('site-packages/')[-1]))
            keys = keys or ['(no Python frame)']
            total += count
            for key in set(keys):
                inclusive[key] = inclusive.get(key, 0) + count
            own[keys[-1]] = own.get(keys[-1], 0) + count
    print('\n== agent profile %s (py-spy, %d samples of the main thread; other threads: %s)'
          % (path, total, ', '.join('%s %d' % kv for kv in sorted(others.items())) or 'none'))
    for title, table in (('inclusive', inclusive), ('self', own)):
        print('-- top %d by %s %%' % (top, title))
        for key, count in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print('%6.1f%%  %s' % (100.0 * count / max(total, 1), key))


def log(text):
    print(text, file=sys.stderr, flush=True)


def parse_args(argv):
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=int(env.get('NODES') or 1000))
    parser.add_argument('--reps', type=int, default=int(env.get('BENCH_REPS') or 3))
    parser.add_argument('--json', default=env.get('BENCH_JSON') or os.path.join(BENCH_DIR, 'results.json'))
    parser.add_argument('--protocols', default=env.get('BENCH_PROTOCOLS') or 'openbmc,redfish',
                        help='comma-separated: openbmc, redfish')
    parser.add_argument('--commands', default=env.get('BENCH_COMMANDS') or ','.join(COMMANDS),
                        help='comma-separated, e.g. "rpower state,rsetboot net"')
    parser.add_argument('--styles', default=env.get('BENCH_STYLES'),
                        help='comma-separated Redfish vendor styles to bench (default: all when redfish is '
                             'benched; "none" for none)')
    parser.add_argument('--style-nodes', type=int, default=int(env.get('BENCH_STYLE_NODES') or 0),
                        help='BMCs per vendor style fleet (default: NODES, at most 200)')
    parser.add_argument('--floor-via', choices=('pool', 'adapter', 'session'),
                        default=env.get('BENCH_FLOOR_VIA') or 'pool',
                        help='layer of requests the floor uses (see floor.py)')
    parser.add_argument('--profile', metavar='DIR', default=env.get('BENCH_PROFILE') or None,
                        help='run the agent under cProfile, one .prof per run in DIR (inflates CPU figures)')
    parser.add_argument('--profiler', choices=('cprofile', 'pyspy'), default=env.get('BENCH_PROFILER') or 'cprofile')
    parser.add_argument('--warm', type=int, default=int(env.get('BENCH_WARM') or 1),
                        help='1: also the cold and warm rows of the benched commands among %s '
                             '(docs/DESIGN.md, "Warm agent")' % ', '.join(WARM_COMMANDS))
    parser.add_argument('--warm-idle-wait', type=float, default=float(env.get('BENCH_WARM_IDLE_WAIT') or 0),
                        help='after the warm rows, wait this long and report the warm agent\'s RSS with its '
                             'sessions kept and idle connections closed (--conn-idle, 60 s; 0: skip)')
    parser.add_argument('--fleet-shards', type=int, default=int(env.get('BENCH_FLEET_SHARDS') or 0),
                        help='processes per simulated fleet (0: one per %d BMCs)' % SHARD_NODES)
    parser.add_argument('--profile-top', type=int, default=int(env.get('BENCH_PROFILE_TOP') or 25))
    opts = parser.parse_args(argv)
    opts.protocols = [p.strip() for p in opts.protocols.split(',') if p.strip()]
    opts.commands = [c.strip() for c in opts.commands.split(',') if c.strip()]
    for protocol in opts.protocols:
        if protocol not in BASES:
            parser.error('unknown protocol %s' % protocol)
    for command in opts.commands:
        if command not in COMMANDS:
            parser.error('unknown command %s (one of %s)' % (command, ', '.join(COMMANDS)))
    from sim.redfish_styles import STYLES  # pylint: disable=import-outside-toplevel
    if opts.styles is None:
        opts.styles = sorted(STYLES) if 'redfish' in opts.protocols else []
    else:
        opts.styles = [s.strip() for s in opts.styles.split(',') if s.strip() and s.strip() != 'none']
    for style in opts.styles:
        if style not in STYLES:
            parser.error('unknown Redfish style %s (one of %s)' % (style, ', '.join(sorted(STYLES))))
    opts.style_nodes = opts.style_nodes or min(opts.nodes, 200)
    if opts.nodes < 1 or opts.reps < 1:
        parser.error('NODES and BENCH_REPS must be at least 1')
    return opts


def main(argv=None):
    opts = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    workdir = tempfile.mkdtemp(prefix='xcat-bench.')
    bench = Bench(opts, workdir)
    rows, skipped = [], []
    try:
        for protocol in opts.protocols:
            missing = [p for p in NEEDS[protocol] if not os.path.exists(os.path.join(REPO, p))]
            if missing:
                note = '%s skipped: not in the tree yet: %s' % (protocol, ', '.join(missing))
                log(note)
                skipped.append(note)
                continue
            rows += bench.protocol(protocol)
        style_rows = bench.styles() if opts.styles else []
        warm = warm_rows(opts, workdir) if opts.warm and 'openbmc' in opts.protocols else []
    except BaseException:
        log('outputs and agent logs kept in %s' % workdir)
        raise
    unanswered = [r for r in rows + style_rows if r['answered'] < r['nodes']]
    if opts.profile or unanswered:
        log('outputs and agent logs kept in %s' % workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows)
    if style_rows:
        print()
        print_style_table(style_rows)
    if warm:
        print()
        print_warm_table(warm)
    for note in skipped:
        print('NOTE: ' + note)
    with open(opts.json, 'w', encoding='utf-8') as fh:
        json.dump(rows + style_rows + warm, fh, indent=1)
        fh.write('\n')
    print('rows written to %s' % opts.json)
    if opts.profile:
        print_profiles(bench.profiles, opts.profile_top)
    if not rows and not style_rows:
        return 2
    for r in unanswered:
        print('NOT ANSWERED: %s %s: %d of %d nodes; %s' % (r['protocol'], r['command'], r['answered'], r['nodes'],
                                                           '; '.join(r['error_samples'][:3])))
    return 1 if unanswered else 0


if __name__ == '__main__':
    sys.exit(main())
