"""The agent on the distribution's own Python and libraries (Debian 12: python3-gevent 22.10,
python3-requests 2.28, urllib3 1.26; docs/platforms.md), when /usr/bin/python3 has them.

tools/deps.sh installs python3-gevent and python3-requests, so on a Debian/Ubuntu CI host this runs.
"""

import subprocess

import pytest

from conftest import AgentProcess, node_lines

SYSTEM_PYTHON = '/usr/bin/python3'


def _system_versions():
    try:
        out = subprocess.run([SYSTEM_PYTHON, '-c', 'import sys, gevent, requests, urllib3; '
                              'print(sys.version_info >= (3, 9), gevent.__version__, requests.__version__, '
                              'urllib3.__version__)'], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    if out.returncode != 0 or not out.stdout.startswith('True'):
        return None
    return out.stdout.split()[1:]


VERSIONS = _system_versions()
pytestmark = pytest.mark.skipif(VERSIONS is None, reason='%s without gevent and requests (or older than 3.9)'
                                % SYSTEM_PYTHON)


@pytest.fixture(scope='module')
def system_agent(tmp_path_factory):
    proc = AgentProcess(str(tmp_path_factory.mktemp('system-agent')), python=SYSTEM_PYTHON)
    yield proc
    proc.stop()


@pytest.mark.parametrize('protocol, base', [('openbmc', '127.44.0.1'), ('redfish', '127.45.0.1')])
def test_power_and_boot_on_the_system_packages(system_agent, fleet_factory, protocol, base):
    fleet = fleet_factory(nodes=4, protocol=protocol, base=base)
    envs = {'connect_timeout': 5, 'read_timeout': 10, 'poll_interval': 0.05, 'state_wait': 10}
    lines = node_lines(system_agent.request('rpower', ['on'], fleet.nodeinfo, module=protocol, envs=envs))
    assert lines == {n: 'on' for n in fleet.nodes}, VERSIONS
    lines = node_lines(system_agent.request('rpower', ['state'], fleet.nodeinfo, module=protocol, envs=envs))
    assert lines == {n: 'on' for n in fleet.nodes}, VERSIONS
    lines = node_lines(system_agent.request('rsetboot', ['net'], fleet.nodeinfo, module=protocol, envs=envs))
    assert lines == {n: 'Network' for n in fleet.nodes}, VERSIONS
    assert 'Traceback' not in system_agent.log()


def test_a_cut_reply_is_a_clear_line_on_the_system_urllib3(system_agent, fleet_factory):
    # urllib3 1.26 reads a short body as complete unless asked to check its length (common/rest.py)
    fleet = fleet_factory(nodes=2, protocol='openbmc', base='127.46.0.1')
    fleet.control.set_fault([fleet.nodes[0]], 'reset')
    lines = node_lines(system_agent.request('rpower', ['state'], fleet.nodeinfo,
                                            envs={'connect_timeout': 5, 'read_timeout': 10}))
    assert lines == {fleet.nodes[0]: "Error: Login to BMC failed: Can't connect to %s (connection broken mid-reply)."
                     % fleet.address(fleet.nodes[0]), fleet.nodes[1]: 'off'}
