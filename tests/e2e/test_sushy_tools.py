"""The agent as a real process, through the codec, against sushy-tools: a Redfish emulator someone else wrote.

sushy-tools serves many systems behind one endpoint, but a node is one BMC address and the
agent drives the first member of the Systems collection. So each node gets its own emulator
with exactly one fake system, on its own loopback address: three emulators, three nodes.

Each emulator: TLS with a self-signed certificate made here (the agent verifies it), the fake
system driver, its own state directory, htpasswd auth with a bcrypt cost-4 hash, no session
service (the agent must fall back to HTTP Basic). It runs from a small wrapper that makes
the fake driver's random 1 to 11 s power-change delay zero (docs/runtime-notes.md#sushy-tools).
"""

import socket
import subprocess
import sys
import time
import uuid

import bcrypt
import pytest
import requests

from conftest import db_frames, node_lines, stop_process

ADDRESSES = ('127.0.77.1', '127.0.77.2', '127.0.77.3')
NODES = ('sushy1', 'sushy2', 'sushy3')
USER, PASSWORD = 'admin', 'sushy-Pa55'
WRONG = 'Wr0ng-sushy-pw'

#: Runs sushy-emulator with the fake driver's power-change delay at zero.
WRAPPER = '''
import sys, types
from sushy_tools.emulator.resources.systems import fakedriver
fakedriver.random = types.SimpleNamespace(randint=lambda low, high: 0)
from sushy_tools.emulator import main
sys.argv[0] = 'sushy-emulator'
sys.exit(main.main())
'''

CONFIG = '''
SUSHY_EMULATOR_LISTEN_IP = {address!r}
SUSHY_EMULATOR_LISTEN_PORT = {port!r}
SUSHY_EMULATOR_SSL_CERT = {cert!r}
SUSHY_EMULATOR_SSL_KEY = {key!r}
SUSHY_EMULATOR_AUTH_FILE = {htpasswd!r}
SUSHY_EMULATOR_FAKE_DRIVER = True
SUSHY_EMULATOR_STATE_DIR = {state!r}
SUSHY_EMULATOR_FAKE_SYSTEMS = [{{
    'uuid': {uuid!r}, 'name': {name!r}, 'power_state': 'Off', 'external_notifier': False,
    'nics': [{{'mac': '00:5c:52:31:3a:{index:02x}', 'ip': '172.22.0.{index}'}}],
}}]
'''


def free_port(address):
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


class Emulator:
    """One sushy-emulator process with one fake system."""

    def __init__(self, workdir, index, address, cert, key, htpasswd):
        self.address = address
        self.port = free_port(address)
        self.uuid = str(uuid.uuid4())
        self.cert = cert
        self.base = 'https://%s:%d' % (address, self.port)
        config = workdir / ('sushy%d.conf' % index)
        config.write_text(CONFIG.format(address=address, port=self.port, cert=str(cert), key=str(key),
                                        htpasswd=str(htpasswd), state=str(workdir / ('state%d' % index)),
                                        uuid=self.uuid, name=NODES[index - 1], index=index))
        self.log_path = workdir / ('sushy%d.log' % index)
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen([sys.executable, str(workdir / 'sushy_nodelay.py'), '--config', str(config)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_ready(self, deadline):
        while True:
            try:
                if requests.get(self.base + '/redfish/v1/', verify=str(self.cert), timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('sushy-emulator on %s did not start:\n%s' % (self.base, self.log_path.read_text()))
            time.sleep(0.1)

    def system(self):
        """The emulator's own view of its system (GET with Basic, certificate verified)."""
        reply = requests.get('%s/redfish/v1/Systems/%s' % (self.base, self.uuid), auth=(USER, PASSWORD),
                             verify=str(self.cert), timeout=10)
        reply.raise_for_status()
        return reply.json()

    def wait_power(self, state, bound=15.0):
        """Poll until the system's PowerState is ``state``; bounded (sushy applies changes on a GET)."""
        deadline = time.monotonic() + bound
        while True:
            current = self.system()['PowerState']
            if current == state or time.monotonic() > deadline:
                return current
            time.sleep(0.1)

    def stop(self):
        stop_process(self.proc)


@pytest.fixture(scope='module')
def sushy(tmp_path_factory):
    """Three emulators, one fake system each; ``{node: Emulator}``; stopped at the module's end."""
    workdir = tmp_path_factory.mktemp('sushy')
    cert, key = workdir / 'cert.pem', workdir / 'key.pem'
    san = ','.join('IP:%s' % a for a in ADDRESSES)
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                    '-nodes', '-keyout', str(key), '-out', str(cert), '-days', '1', '-subj', '/CN=sushy-test',
                    '-addext', 'subjectAltName=' + san], check=True, capture_output=True, timeout=30)
    htpasswd = workdir / 'htpasswd'
    htpasswd.write_text('%s:%s\n' % (USER, bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()))
    (workdir / 'sushy_nodelay.py').write_text(WRAPPER)
    emulators = {}
    try:
        for index, (node, address) in enumerate(zip(NODES, ADDRESSES), 1):
            emulators[node] = Emulator(workdir, index, address, cert, key, htpasswd)
        deadline = time.monotonic() + 30
        for emulator in emulators.values():
            emulator.wait_ready(deadline)
        yield emulators
    finally:
        for emulator in emulators.values():
            emulator.stop()


@pytest.fixture
def nodes(sushy):
    """Every emulated system powered off, booting from Hdd, before each test."""
    for emulator in sushy.values():
        reply = requests.post('%s/redfish/v1/Systems/%s/Actions/ComputerSystem.Reset' % (emulator.base, emulator.uuid),
                              json={'ResetType': 'ForceOff'}, auth=(USER, PASSWORD), verify=str(emulator.cert),
                              timeout=10)
        assert reply.status_code == 204
        reply = requests.patch('%s/redfish/v1/Systems/%s' % (emulator.base, emulator.uuid),
                               json={'Boot': {'BootSourceOverrideTarget': 'Hdd'}}, auth=(USER, PASSWORD),
                               verify=str(emulator.cert), timeout=10)
        assert reply.status_code == 204
        assert emulator.wait_power('Off') == 'Off'
    return sushy


def run(agent, emulators, command, *args, only=None, password=PASSWORD):
    cert = str(next(iter(emulators.values())).cert)
    nodeinfo = {node: {'bmc': '%s:%d' % (e.address, e.port), 'bmcip': '%s:%d' % (e.address, e.port),
                       'username': USER, 'password': password}
                for node, e in emulators.items() if only is None or node in only}
    frames = agent.request(command, args, nodeinfo, module='redfish',
                           envs={'verify': True, 'ca_bundle': cert, 'connect_timeout': 5, 'read_timeout': 10},
                           timeout=60)
    lines = node_lines(frames)
    assert set(lines) == set(nodeinfo), 'every node gets exactly one line'
    return lines, frames


def powers(emulators, state):
    return {node: e.wait_power(state) for node, e in emulators.items()}


@pytest.mark.parametrize('stat', ['stat', 'state', 'status'])
def test_state_of_off_systems(module_agent, nodes, stat):
    lines, frames = run(module_agent, nodes, 'rpower', stat)
    assert lines == {n: 'off' for n in nodes}
    assert db_frames(frames) == []


def test_on_state_off_softoff(module_agent, nodes):
    lines, frames = run(module_agent, nodes, 'rpower', 'on')
    assert lines == {n: 'on' for n in nodes}
    assert sorted(db_frames(frames)) == [(n, 'powering-on') for n in sorted(nodes)]
    assert powers(nodes, 'On') == {n: 'On' for n in nodes}
    assert run(module_agent, nodes, 'rpower', 'state')[0] == {n: 'on' for n in nodes}
    lines, frames = run(module_agent, nodes, 'rpower', 'off', only=NODES[:2])
    assert lines == {n: 'off' for n in NODES[:2]}
    assert sorted(db_frames(frames)) == [(n, 'powering-off') for n in NODES[:2]]
    lines, frames = run(module_agent, nodes, 'rpower', 'softoff', only=NODES[2:])
    assert lines == {NODES[2]: 'softoff'}
    assert db_frames(frames) == [(NODES[2], 'powering-off')]
    assert powers(nodes, 'Off') == {n: 'Off' for n in nodes}
    assert run(module_agent, nodes, 'rpower', 'stat')[0] == {n: 'off' for n in nodes}


def test_reset_cycles_on_systems_and_leaves_off_systems_off(module_agent, nodes):
    run(module_agent, nodes, 'rpower', 'on', only=NODES[:1])
    assert nodes[NODES[0]].wait_power('On') == 'On'
    lines, frames = run(module_agent, nodes, 'rpower', 'reset')
    assert lines == {NODES[0]: 'reset', NODES[1]: 'off', NODES[2]: 'off'}
    assert db_frames(frames) == [(NODES[0], 'powering-on')]
    assert nodes[NODES[0]].wait_power('On') == 'On'
    assert {n: nodes[n].system()['PowerState'] for n in NODES[1:]} == {n: 'Off' for n in NODES[1:]}


def test_boot_powers_on_off_systems_and_restarts_on_systems(module_agent, nodes):
    run(module_agent, nodes, 'rpower', 'on', only=NODES[:1])
    assert nodes[NODES[0]].wait_power('On') == 'On'
    lines, frames = run(module_agent, nodes, 'rpower', 'boot')
    assert lines == {n: 'reset' for n in nodes}
    assert sorted(db_frames(frames)) == [(n, 'powering-on') for n in sorted(nodes)]
    assert powers(nodes, 'On') == {n: 'On' for n in nodes}


def test_bmcstate_and_bmcreboot_without_a_manager_reset(module_agent, nodes):
    assert run(module_agent, nodes, 'rpower', 'bmcstate')[0] == {n: 'BMC Ready' for n in nodes}
    # sushy-tools' managers offer no Manager.Reset action at all
    assert run(module_agent, nodes, 'rpower', 'bmcreboot')[0] == {
        n: 'Error: Unsupported option: bmcreboot' for n in nodes}


def boot_targets(emulators):
    return {node: e.system()['Boot']['BootSourceOverrideTarget'] for node, e in emulators.items()}


def test_rsetboot_net_hd_persistent_and_stat(module_agent, nodes):
    assert run(module_agent, nodes, 'rsetboot', 'stat')[0] == {n: 'Hard Drive' for n in nodes}
    assert run(module_agent, nodes, 'rsetboot', 'net')[0] == {n: 'Network' for n in nodes}
    assert boot_targets(nodes) == {n: 'Pxe' for n in nodes}
    assert run(module_agent, nodes, 'rsetboot', 'stat')[0] == {n: 'Network' for n in nodes}
    assert run(module_agent, nodes, 'rsetboot', 'hd', '-p')[0] == {n: 'Hard Drive' for n in nodes}
    assert boot_targets(nodes) == {n: 'Hdd' for n in nodes}
    assert run(module_agent, nodes, 'rsetboot')[0] == {n: 'Hard Drive' for n in nodes}
    assert run(module_agent, nodes, 'rsetboot', 'cd', '-p', only=NODES[:1])[0] == {NODES[0]: 'CD/DVD'}
    assert nodes[NODES[0]].system()['Boot']['BootSourceOverrideTarget'] == 'Cd'


def test_rsetboot_default(module_agent, nodes):
    """sushy-tools does not list None among allowed targets, but Disabled/None is always possible."""
    assert run(module_agent, nodes, 'rsetboot', 'def')[0] == {n: 'Default' for n in nodes}
    assert boot_targets(nodes) == {n: 'None' for n in nodes}
    assert run(module_agent, nodes, 'rsetboot', 'stat')[0] == {n: 'Default' for n in nodes}


def test_wrong_password_fails_alone(module_agent, nodes):
    lines, _ = run(module_agent, nodes, 'rpower', 'on', only=NODES[:1], password=WRONG)
    assert lines == {NODES[0]: 'Error: [401] Incorrect username or password'}
    assert nodes[NODES[0]].system()['PowerState'] == 'Off'
    log = module_agent.log()
    assert WRONG not in log and PASSWORD not in log


def test_bmcweb_reset_targets_answer_404_so_the_agent_falls_back(module_agent, nodes):
    """sushy-tools has no Systems/system nor Managers/bmc: the direct Reset POST the agent sends
    first gets 404 there, and the agent finds the action through the collections instead."""
    emulator = nodes[NODES[0]]
    for path, reset_type in (('/redfish/v1/Systems/system/Actions/ComputerSystem.Reset', 'ForceOn'),
                             ('/redfish/v1/Managers/bmc/Actions/Manager.Reset', 'ForceRestart')):
        reply = requests.post(emulator.base + path, json={'ResetType': reset_type}, auth=(USER, PASSWORD),
                              verify=str(emulator.cert), timeout=10)
        assert reply.status_code == 404, (path, reply.status_code, reply.text)
    assert emulator.system()['PowerState'] == 'Off'
    assert run(module_agent, nodes, 'rpower', 'on', only=NODES[:1])[0] == {NODES[0]: 'on'}
    assert emulator.wait_power('On') == 'On'
    # on again: the 404, then the system is read through the collection, it is on, nothing more is sent
    assert run(module_agent, nodes, 'rpower', 'on', only=NODES[:1])[0] == {NODES[0]: 'on'}
    assert emulator.system()['PowerState'] == 'On'
