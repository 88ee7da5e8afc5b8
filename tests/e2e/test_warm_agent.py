"""The warm agent (docs/DESIGN.md, "Warm agent"): many requests at once on one socket, BMC
sessions kept between requests and reused invisibly, idle exit with logouts, the stamp, the
peer check, a client's abort or bad frames touching only its own request.

Every agent a test starts is stopped by it (``WarmAgent.stop``), or exits on its short idle
time, waited for with a bound.
"""

import os
import socket
import struct
import tempfile
import time

import pytest

from common.utils import encode_frame, recv_frame
from conftest import AgentProcess, node_lines

NODES = 4
BOUND = 60
ENVS = {'connect_timeout': 5, 'read_timeout': 20, 'retry_delay': 0.1}


class WarmAgent(AgentProcess):
    """agent.py --idle: the warm agent, its socket in a private (0700) directory."""

    def __init__(self, idle=60, extra_args=()):
        workdir = tempfile.mkdtemp(prefix='warm-test.')
        os.chmod(workdir, 0o700)
        super().__init__(workdir, ['--idle', str(idle), *extra_args])

    def state(self, fleet, protocol, envs=None, nodeinfo=None):
        frames = self.request('rpower', ['state'], nodeinfo or fleet.nodeinfo, module=protocol,
                              envs=dict(ENVS, **(envs or {})), timeout=BOUND)
        return node_lines(frames)

    def wait_exit(self, bound=BOUND):
        ends_at = time.monotonic() + bound
        while self.proc.poll() is None:
            assert time.monotonic() < ends_at, 'the warm agent did not exit'
            time.sleep(0.05)
        return self.proc.returncode


@pytest.fixture(scope='module')
def fleets(fleet_factory):
    return {
        # BMCs that send a TLS session ticket: a reconnect can resume
        'openbmc': fleet_factory(nodes=NODES, protocol='openbmc', base='127.46.0.1',
                                 extra_args=['--tls-tickets', '1']),
        # a BMC that forgets a session unused for 1.5 s, sooner than its SessionTimeout says
        'redfish': fleet_factory(nodes=NODES, protocol='redfish', base='127.47.0.1',
                                 extra_args=['--session-timeout', '1.5', '--advertised-session-timeout', '1800']),
        # a BMC whose SessionTimeout (4 s) says when it forgets a session
        'redfish-timeout': fleet_factory(nodes=NODES, protocol='redfish', base='127.49.0.1',
                                         extra_args=['--session-timeout', '4']),
        # Cisco CIMC: each system is named after its node's serial number
        'cimc': fleet_factory(nodes=NODES, protocol='redfish', base='127.50.0.1',
                              extra_args=['--redfish-style', 'cimc']),
    }


@pytest.fixture
def warm():
    agents = []

    def start(**kwargs):
        agents.append(WarmAgent(**kwargs))
        return agents[-1]
    yield start
    for agent in agents:
        agent.stop()


def totals(fleet):
    stats = fleet.control.stats()
    return {key: stats[key] for key in ('logins', 'logouts', 'open_sessions', 'handshakes', 'requests')}


OFF = {'node%03d' % i: 'off' for i in range(1, NODES + 1)}


@pytest.mark.parametrize('protocol', ['openbmc', 'redfish'])
def test_a_second_command_reuses_the_session_and_the_connection(fleets, warm, protocol):
    fleet = fleets[protocol]
    fleet.control.reset()
    agent = warm()
    assert agent.state(fleet, protocol) == OFF
    first = totals(fleet)
    assert first['logins'] == NODES and first['open_sessions'] == NODES and first['logouts'] == 0
    assert agent.state(fleet, protocol) == OFF
    second = totals(fleet)
    # no login, no new TLS handshake: the same session on the same kept-alive connection
    assert second['logins'] == NODES and second['handshakes'] == first['handshakes']
    assert second['requests'] - first['requests'] < first['requests']
    agent.stop()
    assert totals(fleet)['open_sessions'] == 0


def test_a_session_the_bmc_timed_out_is_one_new_login(fleets, warm):
    fleet = fleets['redfish']
    fleet.control.reset()
    agent = warm()
    assert agent.state(fleet, 'redfish') == OFF
    time.sleep(2)  # the fleet's session timeout is 1.5 s
    assert agent.state(fleet, 'redfish') == OFF
    stats = fleet.control.stats()
    assert stats['expired_sessions'] == NODES and stats['logins'] == 2 * NODES
    assert 'Traceback' not in agent.log()


def test_a_kept_session_goes_straight_to_a_system_named_per_node(fleets, warm):
    # docs/DESIGN.md, "Warm agent": where a command found each node's system rides with its kept
    # session, so the next command needs neither the well-known path nor the collection
    fleet = fleets['cimc']
    fleet.control.reset()
    agent = warm()
    assert agent.state(fleet, 'redfish') == OFF
    assert agent.state(fleet, 'redfish') == OFF  # each session's SessionTimeout read by now
    before = totals(fleet)
    assert agent.state(fleet, 'redfish') == OFF
    after_state = totals(fleet)
    assert after_state['requests'] - before['requests'] == NODES and after_state['logins'] == before['logins']
    frames = agent.request('rsetboot', ['net'], fleet.nodeinfo, module='redfish', envs=ENVS, timeout=BOUND)
    assert node_lines(frames) == {node: 'Network' for node in OFF}
    after_boot = totals(fleet)
    # the PATCH and the GET that sees the override held
    assert after_boot['requests'] - after_state['requests'] == 2 * NODES
    assert {(n['name'], n['boot_override_target'], n['boot_override_enabled']) for n in fleet.control.nodes()} \
        == {(node, 'Pxe', 'Once') for node in OFF}
    agent.stop()
    assert totals(fleet)['open_sessions'] == 0


@pytest.mark.parametrize('protocol', ['openbmc', 'redfish'])
def test_a_changed_password_is_a_new_login(fleets, warm, protocol):
    fleet = fleets[protocol]
    fleet.control.reset()
    agent = warm()
    assert agent.state(fleet, protocol) == OFF
    fleet.control.set_node('node002', password='n3w-secret')
    nodeinfo = {node: dict(info) for node, info in fleet.nodeinfo.items()}
    nodeinfo['node002']['password'] = 'n3w-secret'
    try:
        assert agent.state(fleet, protocol, nodeinfo=nodeinfo) == OFF
        assert [n['logins'] for n in fleet.control.nodes()] == [1, 2, 1, 1]
        assert 'n3w-secret' not in agent.log()
    finally:
        fleet.control.reset()


@pytest.mark.parametrize('protocol', ['openbmc', 'redfish'])
def test_a_bmc_restart_between_commands_is_a_reconnect(fleets, warm, protocol):
    fleet = fleets[protocol]
    fleet.control.reset()
    agent = warm()
    assert agent.state(fleet, protocol) == OFF
    before = totals(fleet)
    fleet.control.set_node('node003', restart=True)
    assert agent.state(fleet, protocol) == OFF
    after = {n['name']: n for n in fleet.control.nodes()}
    assert after['node003']['handshakes'] == 2 and after['node001']['handshakes'] == 1
    if protocol == 'redfish':  # OpenBMC requests also carry HTTP Basic, which the BMC still takes
        assert after['node003']['logins'] == 2 and totals(fleet)['logins'] == before['logins'] + 1


@pytest.mark.parametrize('choice', ['on', 'off'])
def test_a_dropped_connection_is_a_reconnect_that_resumes_the_tls_session(fleets, warm, choice):
    # --tls-resume on whatever this Python (auto is off where reading a TLS session leaks
    # memory: docs/DESIGN.md, "Warm agent"); off: a full handshake again
    fleet = fleets['openbmc']
    fleet.control.reset()
    agent = warm(extra_args=['--tls-resume', choice])
    assert agent.state(fleet, 'openbmc') == OFF
    before = fleet.control.stats()
    for node in OFF:  # the BMCs close the kept connections (an idle close), sessions stay
        fleet.control.set_node(node, drop_connections=True)
    assert agent.state(fleet, 'openbmc') == OFF
    after = fleet.control.stats()
    assert after['logins'] == before['logins'] == NODES
    assert after['handshakes'] == before['handshakes'] + NODES
    assert before['resumed_handshakes'] == 0
    assert after['resumed_handshakes'] == (NODES if choice == 'on' else 0)


def test_a_redfish_session_is_let_go_before_its_session_timeout(fleets, warm):
    fleet = fleets['redfish-timeout']
    fleet.control.reset()
    agent = warm()
    assert agent.state(fleet, 'redfish') == OFF
    assert fleet.control.stats()['open_sessions'] == NODES
    # the agent read SessionService.SessionTimeout (4 s) and logs a kept session out after
    # 0.8 of it unused (docs/DESIGN.md, "Warm agent"), not after --session-idle (240 s)
    ends_at = time.monotonic() + BOUND
    while fleet.control.stats()['open_sessions']:
        assert time.monotonic() < ends_at, 'the kept sessions outlived their BMC session timeout'
        time.sleep(0.2)
    assert fleet.control.stats()['session_deletes'] == NODES
    assert agent.state(fleet, 'redfish') == OFF
    stats = fleet.control.stats()
    assert stats['logins'] == 2 * NODES and stats['login_failures'] == 0
    assert 'Traceback' not in agent.log()


def test_a_connection_closed_for_idleness_is_reconnected_without_a_login_resuming_its_tls(fleets, warm):
    fleet = fleets['openbmc']
    fleet.control.reset()
    agent = warm(extra_args=['--conn-idle', '0.2', '--tls-resume', 'on'])
    assert agent.state(fleet, 'openbmc') == OFF
    ends_at = time.monotonic() + BOUND
    while fleet.control.stats()['open_connections']:
        assert time.monotonic() < ends_at, 'the warm agent kept its idle connections'
        time.sleep(0.05)
    assert totals(fleet)['open_sessions'] == NODES  # the BMC sessions stay
    assert agent.state(fleet, 'openbmc') == OFF
    after = totals(fleet)
    assert after['logins'] == NODES and after['handshakes'] == 2 * NODES and after['logouts'] == 0
    # the closed connection's TLS session went with its entry: each reconnect resumed it
    assert fleet.control.stats()['resumed_handshakes'] == NODES
    agent.stop()
    assert totals(fleet)['open_sessions'] == 0 and 'Traceback' not in agent.log()


@pytest.mark.parametrize('protocol,count', [('openbmc', 2), ('redfish', 2), ('openbmc', 10)])
def test_commands_at_once_on_the_same_bmcs(fleets, warm, protocol, count):
    fleet = fleets[protocol]
    fleet.control.reset()
    fleet.control.set_fault(fleet.nodes, 'slow', 0.3)
    agent = warm()
    try:
        socks = [agent.send('rpower', ['state'], fleet.nodeinfo, module=protocol, envs=ENVS, timeout=BOUND)
                 for _ in range(count)]
        results = [node_lines(agent.collect(*pair)) for pair in socks]
    finally:
        fleet.control.reset(counters=False, states=False)
    assert results == [OFF] * count
    # each BMC keeps one session; the others were logged out on their way back
    assert totals(fleet)['open_sessions'] == NODES
    agent.stop()
    assert totals(fleet)['open_sessions'] == 0


def test_the_idle_exit_logs_out_every_kept_session(fleets, warm):
    fleet = fleets['openbmc']
    fleet.control.reset()
    agent = warm(idle=1)
    assert agent.state(fleet, 'openbmc') == OFF
    assert agent.wait_exit() == 0
    assert totals(fleet)['open_sessions'] == 0 and totals(fleet)['logouts'] == NODES
    assert not os.path.exists(agent.sock_path)


def test_a_client_with_another_stamp_makes_the_agent_drain_and_exit(fleets, warm):
    agent = warm()
    sock = agent.connect(BOUND)
    with sock:
        sock.sendall(encode_frame({'stamp': 'not-this-agent'}))
        frame = recv_frame(sock)
    assert frame['type'] == 'outdated' and frame['stamp'] != 'not-this-agent'
    assert agent.wait_exit() == 0
    assert not os.path.exists(agent.sock_path)


def test_a_request_with_its_stamp_is_accepted_first(fleets, warm):
    fleet = fleets['openbmc']
    fleet.control.reset()
    agent = warm()
    sock = agent.connect(BOUND)
    with sock:
        sock.sendall(encode_frame({'stamp': 'x'}))
        stamp = recv_frame(sock)['stamp']
    agent.wait_exit()
    agent = warm()  # same files, same stamp
    sock = agent.connect(BOUND)
    sock.sendall(encode_frame({'stamp': stamp, 'module': 'openbmc', 'command': 'rpower', 'args': ['state'],
                               'cwd': '/', 'nodes': fleet.nodes, 'nodeinfo': fleet.nodeinfo, 'envs': ENVS}))
    frames = agent.collect(sock, time.monotonic() + BOUND)
    assert frames[0] == {'type': 'accepted', 'stamp': stamp, 'pid': agent.proc.pid}
    assert node_lines(frames) == OFF


def test_a_client_of_another_user_is_refused(warm):
    agent = warm()
    os.chmod(agent.dir, 0o755)
    os.chmod(agent.sock_path, 0o777)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, connect, report the first frame's text
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(20)
            sock.connect(agent.sock_path)
            frame = recv_frame(sock)
            os.write(write, frame['msg']['data'].encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, 'rb') as pipe:
        said = pipe.read().decode()
    os.waitpid(pid, 0)
    assert said == 'Invalid request: uid 65534 may not use this agent'
    assert 'refused a client of uid 65534' in agent.log()


@pytest.mark.parametrize('garbage', [struct.pack('=i', -5), struct.pack('=i', 12) + b'{not json!!}'])
def test_bad_frames_of_one_client_leave_another_clients_request_alone(fleets, warm, garbage):
    fleet = fleets['openbmc']
    fleet.control.reset()
    fleet.control.set_fault(fleet.nodes, 'slow', 0.5)
    agent = warm()
    try:
        good = agent.send('rpower', ['state'], fleet.nodeinfo, module='openbmc', envs=ENVS, timeout=BOUND)
        bad = agent.connect(BOUND)
        with bad:
            bad.sendall(garbage)
            answer = recv_frame(bad)
        assert answer['msg']['type'] == 'error'
        assert node_lines(agent.collect(*good)) == OFF
    finally:
        fleet.control.reset(counters=False)
    assert agent.proc.poll() is None


def test_a_client_that_goes_away_cancels_its_request_only(fleets, warm):
    fleet = fleets['redfish']
    fleet.control.reset()
    fleet.control.set_fault(fleet.nodes, 'hang', 20)
    agent = warm()
    try:
        sock, ends_at = agent.send('rpower', ['state'], fleet.nodeinfo, module='redfish', envs=ENVS, timeout=BOUND)
        while fleet.control.stats()['requests'] < 2 * NODES:  # each node logged in and waits
            assert time.monotonic() < ends_at, 'the nodes never reached their wait'
            time.sleep(0.05)
        sock.close()
        while fleet.control.stats()['open_sessions']:
            assert time.monotonic() < ends_at, 'the sessions of the abandoned request stayed open'
            time.sleep(0.05)
    finally:
        fleet.control.reset(counters=False)
    assert agent.proc.poll() is None
    assert agent.state(fleet, 'redfish') == OFF
