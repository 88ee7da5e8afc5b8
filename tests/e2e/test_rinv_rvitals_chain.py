"""rinv and rvitals end to end: perl/bin/rinv|rvitals -> plugin -> forked agent -> 50 simulated
OpenBMC BMCs. Every subcommand's output is compared line by line, per node, with what
docs/COMMANDS.md says for the data each BMC serves (rinv_rvitals_oracle, fed by GETs of the same
BMCs); one login and one logout per node; faults give one clear line per node."""

import os
import subprocess

import pytest

import rinv_rvitals_oracle as oracle
from conftest import REPO, untag

pytestmark = pytest.mark.chain

NODES = 50
P = '/xyz/openbmc_project'
RUNNER_TIMEOUT = 240


@pytest.fixture(scope='module')
def fleet(fleet_factory):
    fleet = fleet_factory(nodes=NODES, protocol='openbmc', base='127.44.0.1')
    return fleet


@pytest.fixture(scope='module')
def served(fleet):
    """What each BMC serves: ``{node: {'inventory', 'system', 'software', 'sensors', 'leds'}}``.

    Nodes 3, 10 and 47 have a BMC image waiting for the next BMC reboot (the ``+`` line)."""
    for node in ('node003', 'node010', 'node047'):
        fleet.control.set_node(node, pending_firmware=True)
    data = {}
    for node in fleet.nodes:
        info = fleet.nodeinfo[node]
        get = lambda path: oracle.fetch(info['bmcip'], info['username'], info['password'], path)  # noqa: E731
        got = {'inventory': get(P + '/inventory/enumerate'), 'system': get(P + '/inventory/system'),
               'software': get(P + '/software/enumerate'), 'sensors': get(P + '/sensors/enumerate'),
               'leds': get(P + '/led/physical/enumerate')}
        assert all(status == 200 for key, (status, _d) in got.items() if key != 'leds')
        data[node] = {key: (d if status == 200 else None) for key, (status, d) in got.items()}
    return data


@pytest.fixture
def bmcs(fleet, served):
    fleet.control.reset(counters=True, states=False, faults=True)
    return fleet


def runner(fleet, tmp_path, command, *args, nodes=None):
    """Run perl/bin/<command>; :returns: ``(rc, {node: [lines]}, stderr lines, other stdout lines)``."""
    env = dict(os.environ, XCAT_TABLES=fleet.tables_dir, XCAT_AGENT_LOG=str(tmp_path / 'agent.log'),
               XCAT_AGENT_RUNDIR=str(tmp_path), XCAT_BMC_CONNECT_TIMEOUT='5', XCAT_BMC_READ_TIMEOUT='10',
               PERL5LIB='')
    target = nodes or 'node[001-%03d]' % NODES
    proc = subprocess.run([str(REPO / 'perl' / 'bin' / command), target, *args], env=env, capture_output=True,
                          text=True, timeout=RUNNER_TIMEOUT, stdin=subprocess.DEVNULL)
    per_node, other = {}, []
    # the runner's source tags (docs/RUNNER.md) are checked in its own suites; these check the words
    for line in untag(proc.stdout).splitlines():
        node, sep, text = line.partition(': ')
        if sep and node in fleet.nodeinfo:
            per_node.setdefault(node, []).append(text)
        else:
            other.append(line)
    return proc.returncode, per_node, untag(proc.stderr).splitlines(), other


def assert_sessions(fleet, nodes=None):
    """One login and one logout per node, nothing left open."""
    rows = {n['name']: n for n in fleet.control.nodes()}
    for node in nodes or fleet.nodes:
        row = rows[node]
        assert (row['logins'], row['logouts'], row['open_sessions']) == (1, 1, 0), node


RINV_CASES = [[], ['all'], ['model'], ['serial'], ['firm'], ['firm', '-V'], ['cpu'], ['dimm'], ['-V'],
              ['model', 'serial'], ['cpu', 'dimm'], ['serial', 'cpu'], ['dimm', 'firm', 'model'], ['all', '-V'],
              ['firm', 'all']]


@pytest.mark.parametrize('args', RINV_CASES, ids=lambda a: ' '.join(a) or 'none')
def test_rinv_line_by_line(bmcs, served, tmp_path, args):
    rc, per_node, err, other = runner(bmcs, tmp_path, 'rinv', *args)
    assert (rc, err) == (0, [])
    assert other == (['Running command in Python'] if '-V' in args else [])
    keywords = [a for a in args if a != '-V']
    for node in bmcs.nodes:
        d = served[node]
        assert per_node[node] == oracle.rinv(keywords, '-V' in args, d['inventory'], d['system'], d['software']), node
    assert_sessions(bmcs)


@pytest.mark.parametrize('kind', ['all', 'temp', 'voltage', 'wattage', 'fanspeed', 'power', 'altitude', 'leds', None])
def test_rvitals_line_by_line(bmcs, served, tmp_path, kind):
    rc, per_node, err, other = runner(bmcs, tmp_path, 'rvitals', *([kind] if kind else []))
    kind = kind or 'all'
    assert other == []
    leds_missing = served[bmcs.nodes[0]]['leds'] is None
    for node in bmcs.nodes:
        d = served[node]
        want = oracle.rvitals(kind, d['sensors'], d['leds'])
        if leds_missing and kind in ('all', 'leds'):
            want = want[:-10]     # the LED lines; the node's error line says why
        assert per_node.get(node, []) == want, node
    if leds_missing and kind in ('all', 'leds'):
        assert rc == 1 and len(err) == NODES and all(': Error: [404] ' in e for e in err)
    else:
        assert (rc, err) == (0, [])
    assert_sessions(bmcs)


def test_per_node_values_differ(served):
    serials = {d['system']['SerialNumber'] for d in served.values()}
    ambients = {d['sensors'][P + '/sensors/temperature/ambient']['Value'] for d in served.values()}
    assert len(serials) == NODES and len(ambients) > 10


def test_broker_refusals_reach_every_node_and_no_bmc(bmcs, tmp_path):
    for command, args, message in (('rinv', ['model', 'bogus'], 'Unsupported command: rinv bogus'),
                                   ('rvitals', ['temp', 'leds'], 'Only one option is supported at the same time '
                                                                 'for rvitals'),
                                   ('rvitals', ['humidity'], 'Unsupported command: rvitals humidity')):
        rc, per_node, err, _other = runner(bmcs, tmp_path, command, *args)
        assert (rc, err) == (1, [])
        assert per_node == {n: ['Error: %s' % message] for n in bmcs.nodes}
    assert sum(n['requests'] for n in bmcs.control.nodes()) == 0


@pytest.mark.parametrize('command,args', [('rinv', ['all']), ('rvitals', ['all']), ('rinv', ['model']),
                                          ('rvitals', ['temp'])])
def test_faults_give_one_clear_line_per_node(bmcs, served, tmp_path, command, args):
    faults = {'node002': '401', 'node004': '500', 'node006': 'badjson', 'node008': 'refuse', 'node009': '403'}
    for node, fault in faults.items():
        bmcs.control.set_node(node, fault=fault)
    rc, per_node, err, _other = runner(bmcs, tmp_path, command, *args)
    assert rc == 1
    errors = {}
    for line in err:
        node, _sep, text = line.partition(': ')
        assert node not in errors, 'one error line per node: %s' % line
        errors[node] = text
    assert set(errors) == set(faults)
    assert set(per_node).isdisjoint(faults), 'a node that failed at login prints nothing else'
    assert errors['node002'] == 'Error: [401] Invalid username or password'
    assert errors['node004'].startswith('Error: [500] ')
    assert errors['node006'].startswith('Error: Received wrong format response: ')
    assert errors['node008'].startswith("Error: Login to BMC failed: Can't connect to ")
    assert errors['node009'].startswith('Error: [403] ')
    healthy = [n for n in bmcs.nodes if n not in faults]
    assert set(per_node) == set(healthy)
    for node in healthy:
        d = served[node]
        if command == 'rinv':
            want = oracle.rinv(args, False, d['inventory'], d['system'], d['software'])
        else:
            want = oracle.rvitals(args[0], d['sensors'], d['leds'])
            if d['leds'] is None and args[0] == 'all':
                continue
        assert per_node[node] == want
