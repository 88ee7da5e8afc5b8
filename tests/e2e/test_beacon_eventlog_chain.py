"""rbeacon and reventlog end to end: runner -> openbmc2.pm -> agent -> a fleet of 50 BMCs.

Every line is compared with what docs/DESIGN.md ("rbeacon and reventlog") says for the data
the fleet served: the expected lines are made here from the simulator's data with our own
reading of xCAT's format, not with the agent's code. State changes are read back from the
fleet's control API. The xCAT-test cases of rbeacon/cases0, reventlog/cases0 and
UT_openbmc/{reventlog_resolved_cases0, supported_commands_case0} are at the end, with the
checks the Python path never met marked.
"""

import os
import re
import subprocess
import time

import pytest

from conftest import REPO, untag
from sim import openbmc_logging

NODES = 50
RBEACON = str(REPO / 'perl' / 'bin' / 'rbeacon')
REVENTLOG = str(REPO / 'perl' / 'bin' / 'reventlog')
HINT = ('Install the openbmctool rpm from https://www.ibm.com/support/customercare/sas/f/lopdiags/'
        'scaleOutLCdebugtool.html#OpenBMC to obtain more detailed logging messages.')
SMALL_TABLE = str(REPO / 'tests' / 'fixtures' / 'openbmc' / 'policy_table_small.json')

pytestmark = pytest.mark.chain


@pytest.fixture(scope='module')
def fleet(fleet_factory):
    return fleet_factory(nodes=NODES, protocol='openbmc', base='127.44.0.1')


@pytest.fixture
def bmcs(fleet):
    fleet.control.reset()
    return fleet


def run(fleet, tmp_path, command, *args, tz='UTC', **env):
    """Run a runner command; :returns: ``(rc, stdout lines, stderr lines)``."""
    full = dict(os.environ, XCAT_TABLES=fleet.tables_dir, XCAT_AGENT_RUNDIR=str(tmp_path),
                XCAT_AGENT_LOG=str(tmp_path / 'agent.log'), XCAT_BMC_CONNECT_TIMEOUT='2',
                XCAT_BMC_READ_TIMEOUT='5', TZ=tz,
                XCAT_RAS_POLICY_TABLE=str(tmp_path / 'no-policy-table.json'))
    full.update(env)
    proc = subprocess.run([command, *args], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, stdin=subprocess.DEVNULL, timeout=240)
    # the runner's source tags (docs/RUNNER.md) are checked in its own suites; these check the words
    return proc.returncode, untag(proc.stdout).splitlines(), untag(proc.stderr).splitlines()


def index(node):
    return int(node[len('node'):])


def node_state(fleet, node):
    return fleet.control.node(node)


# -- our own reading of the formats (docs/DESIGN.md) --------------------------------------------

def stat_line(node):
    i = index(node)
    word = 'Blink' if i % 7 == 0 else 'Off'
    return '%s: Front:%s Rear:%s' % (node, word, 'N/A' if i % 25 == 0 else word)


def entry_line(entry, offset=0):
    pid = text = ''
    led = False
    for item in entry['AdditionalData']:
        key, _, value = item.partition('=')
        if key == '_PID':
            pid = 'PID: %s),' % value
        elif key == 'CALLOUT_DEVICE_PATH':
            led, text = True, 'I2C'
        elif key == 'CALLOUT_INVENTORY_PATH':
            led, text = True, value
        elif key.startswith('CALLOUT'):
            led = True
        elif key.startswith('GPU'):
            text = '/xyz/openbmc_project/inventory/system/chassis/motherboard/gpu'
        elif key == 'PROCEDURE':
            text = '%x' % int(value)
    when = time.strftime('%m/%d/%Y %H:%M:%S', time.gmtime(entry['Timestamp'] // 1000 + offset))
    message = entry['Message'] + ('||' + text if text else '')
    return '%s [%d]: %s (%s Resolved: %s%s' % (when, entry['Id'], message, pid, entry['Resolved'],
                                              ' [LED]' if led else '')


def log_lines(node, last=0, offset=0, resolved=()):
    entries = openbmc_logging._entries(index(node))
    for number in resolved:
        entries[number]['Resolved'] = True
    if not entries:
        return ['%s: No attributes returned from the BMC.' % node]
    lines = ['%s: %s' % (node, entry_line(entries[k], offset)) for k in sorted(entries)]
    return lines[-last:] if last else lines


def all_nodes(fleet):
    return sorted(fleet.nodes)


# -- rbeacon ------------------------------------------------------------------------------------

def test_rbeacon_stat_on_off_change_the_leds(bmcs, tmp_path):
    nodes = all_nodes(bmcs)
    rc, out, err = run(bmcs, tmp_path, RBEACON, 'node[001-050]', 'stat')
    assert (rc, err) == (0, [])
    assert sorted(out) == sorted(stat_line(n) for n in nodes)
    rc, out, err = run(bmcs, tmp_path, RBEACON, 'node[001-050]', 'on')
    assert (rc, err, sorted(out)) == (0, [], sorted('%s: on' % n for n in nodes))
    assert all(n['leds']['identify'] for n in bmcs.control.nodes())
    rc, out, _err = run(bmcs, tmp_path, RBEACON, 'node[001-050]', 'stat')
    assert sorted(out) == sorted('%s: Front:Blink Rear:%s' % (n, 'N/A' if index(n) % 25 == 0 else 'Blink')
                                 for n in nodes)
    rc, out, err = run(bmcs, tmp_path, RBEACON, 'node[001-050]', 'off', '-V')
    assert rc == 0 and err == []
    assert out[0] == 'Running command in Python'
    assert sorted(out[1:]) == sorted('%s: off' % n for n in nodes)
    assert not any(n['leds']['identify'] for n in bmcs.control.nodes())
    counts = bmcs.control.nodes()
    # one login, one request, one logout per node and command: 4 commands after the reset
    assert {(n['logins'], n['logouts'], n['requests'], n['open_sessions']) for n in counts} == {(4, 4, 12, 0)}


# -- reventlog ----------------------------------------------------------------------------------

def test_reventlog_all_and_last_n(bmcs, tmp_path):
    nodes = all_nodes(bmcs)
    rc, out, err = run(bmcs, tmp_path, REVENTLOG, 'node[001-050]', 'all')
    assert (rc, err) == (0, [])
    assert out.count(HINT) == 1 and out[0] == HINT
    body = out[1:]
    for node in nodes:
        assert [line for line in body if line.startswith(node + ':')] == log_lines(node)
    assert len(body) == sum(len(log_lines(n)) for n in nodes)
    rc, out, err = run(bmcs, tmp_path, REVENTLOG, 'node[001-050]', '2')
    assert (rc, err) == (0, [])
    for node in nodes:
        assert [line for line in out if line.startswith(node + ':')] == log_lines(node, last=2)
    assert {(n['logins'], n['logouts'], n['requests']) for n in bmcs.control.nodes()} == {(2, 2, 6)}


def test_reventlog_node1_is_the_documented_example(bmcs, tmp_path):
    rc, out, err = run(bmcs, tmp_path, REVENTLOG, 'node001')
    assert (rc, err) == (0, [])
    assert out == [
        HINT,
        'node001: 04/20/2018 14:03:42 [1]: xyz.openbmc_project.Common.Error.InternalFailure (PID: 185), '
        'Resolved: False',
        'node001: 04/20/2018 14:05:02 [2]: org.open_power.Host.Error.Event||/xyz/openbmc_project/inventory/'
        'system/chassis/motherboard/cpu0 (PID: 1175), Resolved: False [LED]',
        'node001: 04/20/2018 16:00:11 [3]: xyz.openbmc_project.Inventory.Error.NotPresent||/xyz/openbmc_project/'
        'inventory/system/chassis/motherboard/powersupply1 (PID: 1322), Resolved: True [LED]',
        'node001: 04/20/2018 18:46:57 [10]: xyz.openbmc_project.Common.Device.Error.ReadFailure||I2C '
        '(PID: 1407), Resolved: False [LED]',
    ]


def test_reventlog_times_are_in_the_admins_time_zone(bmcs, tmp_path):
    rc, out, _err = run(bmcs, tmp_path, REVENTLOG, 'node003', '1', tz='IST-5:30')
    assert rc == 0 and out[1:] == log_lines('node003', last=1, offset=5 * 3600 + 1800)


def test_reventlog_with_a_policy_table(bmcs, tmp_path):
    rc, out, err = run(bmcs, tmp_path, REVENTLOG, 'node001', 'all', XCAT_RAS_POLICY_TABLE=SMALL_TABLE)
    assert (rc, err) == (0, [])
    assert HINT not in out
    assert out[1] == ('node001: 04/20/2018 14:05:02 [2]: Unrecoverable Hardware Failure, (Critical) CPU 0 has '
                      'failed (AffectedSubsystem: Processing, PID: 1175), Resolved: False [LED]')
    assert out[3].startswith('node001: 04/20/2018 18:46:57 [10]: Not found in policy table: ')


def test_reventlog_clear_empties_the_log(bmcs, tmp_path):
    rc, out, err = run(bmcs, tmp_path, REVENTLOG, 'node[001-010]', 'clear')
    assert (rc, err, sorted(out)) == (0, [], ['node%03d: Logs cleared' % i for i in range(1, 11)])
    assert {n['name']: n['logging']['entries'] for n in bmcs.control.nodes('node[001-010]')} == \
        {'node%03d' % i: [] for i in range(1, 11)}
    rc, out, _err = run(bmcs, tmp_path, REVENTLOG, 'node[001-011]', 'all')
    assert sorted(out[1:]) == sorted(['node%03d: No attributes returned from the BMC.' % i for i in range(1, 11)]
                                     + log_lines('node011'))


def test_reventlog_resolved_ids_and_led(bmcs, tmp_path):
    rc, out, err = run(bmcs, tmp_path, REVENTLOG, 'node002', 'resolved=1,100,10')
    assert rc == 1
    assert 'Attempting to resolve the following log entries: 1,100,10...' in out
    assert [line for line in out if line.startswith('node002')] == ['node002: Resolved 1', 'node002: Resolved 10']
    assert err == ['node002: Error: Invalid ID: 100']
    assert node_state(bmcs, 'node002')['logging']['resolved'] == [1, 3, 10]
    rc, out, err = run(bmcs, tmp_path, REVENTLOG, 'node004', 'resolved=LED')
    assert (rc, err) == (0, [])
    callouts = [k for k, v in openbmc_logging._entries(4).items()
                if any(i.startswith('CALLOUT') for i in v['AdditionalData'])]
    assert [line for line in out if line.startswith('node004')] == ['node004: Resolved %d' % k for k in callouts]
    assert node_state(bmcs, 'node004')['logging']['resolved'] == sorted(set(callouts) | {3})
    rc, out, _err = run(bmcs, tmp_path, REVENTLOG, 'node004', 'all')
    assert out[1:] == log_lines('node004', resolved=callouts)
    # rbeacon's fault LEDs go dark once no unresolved callout is left (the simulator ties them)


def test_faults_give_one_clear_line_per_node(bmcs, tmp_path):
    faults = {'node005': 'refuse', 'node006': '500', 'node007': 'badjson', 'node008': '401', 'node009': 'stall'}
    for node, fault in faults.items():
        bmcs.control.set_fault([node], fault)
    for command, args in ((RBEACON, ('stat',)), (RBEACON, ('on',)), (REVENTLOG, ('all',)),
                          (REVENTLOG, ('clear',))):
        rc, out, err = run(bmcs, tmp_path, command, 'node[001-012]', *args)
        assert rc == 1
        for node in faults:
            mine = [line for line in out + err if line.startswith(node + ':')]
            assert len(mine) == 1 and mine[0].startswith(node + ': Error: '), (command, args, mine)
        healthy = [line for line in out if line.startswith('node') and line.split(':')[0] not in faults]
        assert {line.split(':')[0] for line in healthy} == {'node%03d' % i for i in range(1, 13)} - set(faults)
    assert [line for line in err if line.startswith('node006')] == ['node006: Error: [500] Internal Server Error']


# -- xCAT-test cases, through the runner ----------------------------------------------------------

def check(rc, out, err, rc_ok, pattern):
    text = '\n'.join(out + err)
    assert rc_ok(rc), (rc, text)
    assert re.search(pattern, text), (pattern, text)


def test_xcat_rbeacon_cases0(bmcs, tmp_path):
    cn = 'node003'
    # rbeacon_null expects exit 0: our runner prints the usage without a noderange and exits 1.
    check(*run(bmcs, tmp_path, RBEACON), lambda rc: rc == 1, r'Usage')                                # rbeacon_null
    for flag in ('-h', '--help'):                                                                     # rbeacon_help
        check(*run(bmcs, tmp_path, RBEACON, flag), lambda rc: rc == 0, r'OpenPOWER \(OpenBMC\) specific:')
    for flag in ('-v', '--version'):                                                                  # rbeacon_version
        check(*run(bmcs, tmp_path, RBEACON, flag), lambda rc: rc == 0, r'Version')
    check(*run(bmcs, tmp_path, RBEACON, cn, 'stat'), lambda rc: rc == 0,                              # rbeacon_stat
          cn + r'\s*:\s*Front:Off Rear:Off|Front:On Rear:On|Front:Off Rear:On|Front:On Rear:Off|Front:Blink Rear:Blink')
    # rbeacon_false: the case expects "Only 'on', 'off' or 'stat' is supported"; xCAT's broker (and
    # ours) says "Only 'on', 'off' and 'stat' are supported for OpenBMC managed nodes.": never met.
    check(*run(bmcs, tmp_path, RBEACON, cn, 'abc'), lambda rc: rc != 0,
          cn + r"\s*:\s*Error:\s*Only 'on', 'off' and 'stat' are supported")
    # UT_openbmc supported_cmds_rbeacon (its "on " carries a trailing blank the output never has)
    check(*run(bmcs, tmp_path, RBEACON, cn, 'on'), lambda rc: rc == 0, cn + ': on')
    check(*run(bmcs, tmp_path, RBEACON, cn, 'off'), lambda rc: rc == 0, cn + ': off')


def test_xcat_reventlog_cases0(bmcs, tmp_path):
    cn = 'node003'
    check(*run(bmcs, tmp_path, REVENTLOG), lambda rc: rc == 1, r'Usage')                              # reventlog_null
    check(*run(bmcs, tmp_path, REVENTLOG, cn, 'all'), lambda rc: rc == 0,                             # reventlog_all
          cn + r'\s*:\s*.*\d\d/\d\d/\d\d\s*\S+|No attributes returned from the BMC')
    check(*run(bmcs, tmp_path, REVENTLOG, cn, '5'), lambda rc: rc == 0,                               # numofentries
          cn + r'\s*:\s*.*\d\d/\d\d/\d\d\s*\S+|No attributes returned from the BMC')
    for args, pattern in ((('10', '-s'), r'The -s option is not supported for OpenBMC'),              # s_openbmc
                          (('10', '-s', '1'), r'The -s option is not supported for OpenBMC'),
                          (('-s', 'all'), r'The -s option is not supported for OpenBMC|'
                                          r'Only one option is supported at the same time for reventlog'),
                          (('-s',), r'Error: Unsupported command'),
                          (('all', 'aaa'), r'Error: Only one option is supported at the same time')):
        check(*run(bmcs, tmp_path, REVENTLOG, cn, *args), lambda rc: rc != 0, pattern)
    check(*run(bmcs, tmp_path, REVENTLOG, cn, 'clear'), lambda rc: rc == 0, cn + r'\s*:\s*Logs cleared')
    # UT_openbmc supported_cmds_reventlog
    for args in ((), ('1',), ('all',)):
        check(*run(bmcs, tmp_path, REVENTLOG, cn, *args), lambda rc: rc == 0, cn + ':')


def test_xcat_ut_reventlog_resolved_cases0(bmcs, tmp_path):
    cn = 'node003'
    usage = r'Error: (\[.*?\]: )?Usage error. Provide a comma separated'
    check(*run(bmcs, tmp_path, REVENTLOG, cn, 'resolved'), lambda rc: rc == 1, usage)                 # parse_error1
    check(*run(bmcs, tmp_path, REVENTLOG, cn, 'resolved='), lambda rc: rc == 1, usage)                # parse_error2
    # parse_error3 expects the Usage error for "resolved 1,2,3"; xCAT's broker answers its
    # two-words rule first: never met.
    check(*run(bmcs, tmp_path, REVENTLOG, cn, 'resolved', '1,2,3'), lambda rc: rc == 1,
          r'Only one option is supported at the same time for reventlog')
    # parse_error4/5 expect "Invalid ID="; the Python path prints "Invalid ID: <id>": never met as written.
    for ids in ('-1', 'abc'):
        check(*run(bmcs, tmp_path, REVENTLOG, cn, 'resolved=' + ids), lambda rc: rc == 1, r'Error: Invalid ID: ')
    # resolved_list expects rc 0; its two unknown ids are errors (rc 1) in the Python path: never met.
    check(*run(bmcs, tmp_path, REVENTLOG, cn, 'resolved=100,101'), lambda rc: rc == 1,
          r'Attempting to resolve the following log entries: 100,101\.\.\.')
    check(*run(bmcs, tmp_path, REVENTLOG, cn, 'resolved=Led'), lambda rc: rc == 0,                    # resolved_LED
          r'Attempting to resolve the following log entries: Led\.\.\.')
    # more than one node is refused by the broker
    check(*run(bmcs, tmp_path, REVENTLOG, 'node[001-002]', 'resolved=1'), lambda rc: rc == 1,
          r'Resolving faults over a xCAT noderange is not recommended\.')
