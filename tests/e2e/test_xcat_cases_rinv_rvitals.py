"""xCAT's own test cases for rinv and rvitals on OpenBMC (xCAT-test `rinv/cases0`, `rvitals/cases0`,
`rvitals/cases1`, `UT_openbmc/rinv_cases0`, the rinv/rvitals part of
`UT_openbmc/supported_commands_case0`), written as our own: the same commands and checks, through
perl/bin against simulated BMCs. `<cn>` is node001.

Expectations the Python path never met (docs/DESIGN.md): `supported_cmds_rvitals` greps
`LEDs Fan ` with a blank after `Fan`, where the Python agent (xCAT's and ours) prints `LEDs Fan0: `;
that check is written here as the line the Python path prints.
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO, untag

pytestmark = pytest.mark.chain

CN = 'node001'


@pytest.fixture(scope='module')
def fleet(fleet_factory):
    return fleet_factory(nodes=4, protocol='openbmc', base='127.45.0.1')


@pytest.fixture
def bmcs(fleet):
    fleet.control.reset()
    return fleet


def xcat(fleet, tmp_path, command, *args, tables=None):
    """Run one command as xCAT-test does; :returns: ``(rc, stdout + stderr)``."""
    env = dict(os.environ, XCAT_TABLES=tables or fleet.tables_dir, XCAT_AGENT_LOG=str(tmp_path / 'agent.log'),
               XCAT_AGENT_RUNDIR=str(tmp_path), XCAT_BMC_CONNECT_TIMEOUT='5', XCAT_BMC_READ_TIMEOUT='10',
               PERL5LIB='')
    proc = subprocess.run([str(REPO / 'perl' / 'bin' / command), *args], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    # the runner's source tags (docs/RUNNER.md) are checked in its own suites; these check the words
    return proc.returncode, untag(proc.stdout + proc.stderr)


def openbmctest(fleet, tmp_path, command, *args):
    """xCAT-test's openbmctest.sh check: exit 0, every line starts with the node name, and a
    one-line answer must be a "No ... attributes/information" text or a real value."""
    rc, out = xcat(fleet, tmp_path, command, CN, *args)
    lines = out.splitlines()
    assert rc == 0, out
    assert lines and all(line.startswith(CN + ': ') for line in lines), out
    assert not any(': Error: ' in line for line in lines), out
    return lines


@pytest.mark.parametrize('flag', ['-h', '--help'])
def test_rinv_h_help(bmcs, tmp_path, flag):
    rc, out = xcat(bmcs, tmp_path, 'rinv', flag)
    assert rc == 0 and out.startswith('Usage:') and 'OpenPOWER (OpenBMC) server specific:' in out


def test_rinv_v(bmcs, tmp_path):
    rc, out = xcat(bmcs, tmp_path, 'rinv', '-v')
    assert rc == 0 and re.search(r'Version', out)


@pytest.mark.parametrize('word,pattern', [('serial', r'SYSTEM SerialNumber'), ('model', r'SYSTEM Model'),
                                          ('firm', r'(?i)ibm'), ('all', r'SYSTEM'), ('cpu', r'CPU'),
                                          ('dimm', r'DIMM')])
def test_rinv_subcommands(bmcs, tmp_path, word, pattern):
    lines = openbmctest(bmcs, tmp_path, 'rinv', word)
    assert any(re.search(pattern, line) for line in lines)


def test_rinv_noderange_err(bmcs, tmp_path):
    rc, out = xcat(bmcs, tmp_path, 'rinv', 'testnode_err', 'all')
    assert rc != 0 and 'Error: Invalid nodes and/or groups in noderange: testnode_err' in out


def test_rinv_mixnode(bmcs, tmp_path):
    """A group with a node whose BMC is not defined: rc 1, the good node still prints SYSTEM."""
    tables = tmp_path / 'tables'
    shutil.copytree(bmcs.tables_dir, tables)
    with open(tables / 'nodelist.csv', 'a', encoding='utf-8') as fh:
        fh.write('"nobmc","all,openbmc,rack1",,,,,,,,,,,\n')
    with open(tables / 'nodehm.csv', 'a', encoding='utf-8') as fh:
        fh.write('"nobmc","openbmc","openbmc",,,,,,,,,,,,\n')
    rc, out = xcat(bmcs, tmp_path, 'rinv', '%s,nobmc' % CN, 'model', tables=str(tables))
    assert rc == 1
    assert re.search(r'^%s: SYSTEM' % CN, out, re.M)
    assert re.search(r'^nobmc: Error: ', out, re.M)


def test_rinv_wrongbmcpasswd(bmcs, tmp_path):
    bmcs.control.set_node(CN, password='not-the-one')
    rc, out = xcat(bmcs, tmp_path, 'rinv', CN, 'model')
    assert rc == 1 and re.search(r'%s: Error:.+Invalid username or password' % CN, out)


def test_rinv_errorcommand(bmcs, tmp_path):
    rc, out = xcat(bmcs, tmp_path, 'rinv', CN, 'aaa')
    assert rc == 1 and 'Unsupported command' in out


@pytest.mark.parametrize('args', [['firm'], ['firm', '-V']])
def test_ut_rinv_active_firmware_count(bmcs, tmp_path, args):
    """UT_openbmc/rinv_cases0: exactly one running image per purpose, with or without -V."""
    bmcs.control.set_node(CN, pending_firmware=True)
    rc, out = xcat(bmcs, tmp_path, 'rinv', CN, *args)
    assert rc == 0
    for purpose in ('HOST', 'BMC'):
        assert len(re.findall(r'%s Firmware Product: .*Active\)\*' % purpose, out)) == 1, out
    assert ('(Active)+' in out) == ('-V' in args)


def test_supported_commands_rinv(bmcs, tmp_path):
    for word, pattern in (('model', 'SYSTEM Model'), ('serial', 'SYSTEM SerialNumber'), ('firm', 'HOST Firmware'),
                          ('firm', 'BMC Firmware'), ('cpu', '%s: CPU' % CN), ('dimm', '%s: DIMM' % CN)):
        rc, out = xcat(bmcs, tmp_path, 'rinv', CN, word)
        assert rc == 0 and pattern in out, (word, out)


@pytest.mark.parametrize('flag', ['-h', '--help'])
def test_rvitals_h(bmcs, tmp_path, flag):
    rc, out = xcat(bmcs, tmp_path, 'rvitals', flag)
    assert rc == 0 and out.startswith('Usage:') and 'OpenPOWER (OpenBMC) specific:' in out


def test_rvitals_v(bmcs, tmp_path):
    rc, out = xcat(bmcs, tmp_path, 'rvitals', '-v')
    assert rc == 0 and 'Version' in out


@pytest.mark.parametrize('word', ['temp', 'voltage', 'power', 'all', 'leds', 'fanspeed', 'wattage', 'altitude'])
def test_rvitals_subcommands(bmcs, tmp_path, word):
    lines = openbmctest(bmcs, tmp_path, 'rvitals', word)
    if len(lines) == 1:
        assert re.search(r'No .*(attributes|information)', lines[0])
    if word == 'leds':
        assert all('LED' in line for line in lines)


def test_rvitals_noderange_err(bmcs, tmp_path):
    rc, out = xcat(bmcs, tmp_path, 'rvitals', 'testnode_err', 'all')
    assert rc != 0 and 'Invalid nodes and/or groups in noderange' in out


def test_rvitals_errorcommand(bmcs, tmp_path):
    rc, _out = xcat(bmcs, tmp_path, 'rvitals', CN, 'aaa')
    assert rc != 0


def test_rvitals_outputs_format_checking(bmcs, tmp_path):
    """rvitals/cases1: every line of `rvitals <cn>` has exactly two colons."""
    rc, out = xcat(bmcs, tmp_path, 'rvitals', CN)
    assert rc == 0
    bad = [line for line in out.splitlines() if not re.match(r'^[^:]+:[^:]+:[^:]+$', line)]
    assert bad == []


def test_supported_commands_rvitals(bmcs, tmp_path):
    rc, out = xcat(bmcs, tmp_path, 'rvitals', CN)
    assert rc == 0
    for text in ('%s: Ambient:' % CN, '%s: Ps0 Input Voltage:' % CN, '%s: Ps0 Input Power:' % CN, '%s: Fan' % CN,
                 '%s: LEDs Front' % CN, '%s: LEDs Rear ' % CN):
        assert text in out, text
    # xCAT's case greps "LEDs Fan " (a blank after Fan): never printed by the Python path.
    assert '%s: LEDs Fan0: ' % CN in out and '%s: LEDs Fan ' % CN not in out
