"""Interrupted commands log out: the deadline or a stop signal leaves no BMC session open.

OpenBMC nodes wait in the power-off wait of ``rpower reset`` (the BMC accepts the power-off
and stays on); Redfish nodes, which have no off-wait, wait in a request the BMC holds (fault
``hang``: logins and logouts are answered at once). Then the deadline passes, or the agent
gets SIGTERM or SIGINT, or the broker's lock is released: every node gets one line, and the
fleet shows every session logged out (docs/DESIGN.md, bounds: the stop-time logout).
"""

import fcntl
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from common.utils import encode_frame
from conftest import AGENT, AgentProcess, node_lines

NODES = 10
#: Bound on waiting for the nodes to be in their wait, and on the agent's reply and exit.
BOUND = 30
DEADLINE_LINE = 'Error: Timed out: command did not finish within the 2 s deadline.'
STOPPED_LINE = 'Error: Stopped: the agent was told to stop before this node finished.'


@pytest.fixture(scope='module')
def fleets(fleet_factory):
    return {'openbmc': fleet_factory(nodes=NODES, protocol='openbmc', base='127.44.0.1'),
            'redfish': fleet_factory(nodes=NODES, protocol='redfish', base='127.45.0.1')}


def hold(fleet, protocol):
    """Power every node on and make it hold the agent; returns the envs and a 'they wait' check."""
    fleet.control.reset()
    for node in fleet.nodes:
        fleet.control.set_node(node, power='on')
    if protocol == 'openbmc':
        fleet.control.set_fault(fleet.nodes, 'stuck')
        # every node's power-off request landed: it is in the off-wait
        return lambda nodes: all(n['transitions'] >= 1 for n in nodes)
    fleet.control.set_fault(fleet.nodes, 'hang', 20)
    # login and the held GET of the state
    return lambda nodes: all(n['requests'] >= 2 for n in nodes)


ENVS = {'state_wait': 60, 'poll_interval': 0.2, 'read_timeout': 60, 'connect_timeout': 5}


def sessions(fleet):
    stats = fleet.control.stats()
    return stats['logins'], stats['logouts'], stats['open_sessions']


@pytest.mark.parametrize('protocol', ['openbmc', 'redfish'])
def test_the_deadline_logs_out_every_node_it_cuts_off(module_agent, fleets, protocol):
    fleet = fleets[protocol]
    hold(fleet, protocol)
    frames = module_agent.request('rpower', ['reset'], fleet.nodeinfo, module=protocol,
                                  envs=dict(ENVS, deadline=2), timeout=BOUND)
    assert node_lines(frames) == {n: DEADLINE_LINE for n in fleet.nodes}
    if protocol == 'openbmc':
        assert sessions(fleet) == (NODES, NODES, 0)
    else:
        # A one-shot agent logs a Redfish node in at its first request: the node held by the
        # BMC has a session, the others still wait for it (the command's scout, bounded by
        # SCOUT_WAIT, longer than the deadline) and have none.
        logins, logouts, open_sessions = sessions(fleet)
        assert logins >= 1 and (logouts, open_sessions) == (logins, 0)


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize('protocol', ['openbmc', 'redfish'])
def test_a_stop_signal_logs_out_every_session_then_the_agent_exits(fleets, protocol, signum):
    fleet = fleets[protocol]
    waiting = hold(fleet, protocol)
    agent = AgentProcess(tempfile.mkdtemp(prefix='agent-test.'))
    try:
        sock, ends_at = agent.send('rpower', ['reset'], fleet.nodeinfo, module=protocol, envs=ENVS,
                                   timeout=BOUND)
        try:
            while not waiting(fleet.control.nodes()):
                assert time.monotonic() < ends_at, 'the nodes never reached their wait'
                time.sleep(0.05)
            agent.proc.send_signal(signum)
        except BaseException:
            sock.close()
            raise
        frames = agent.collect(sock, ends_at)
        agent.proc.wait(max(1, ends_at - time.monotonic()))
    finally:
        agent.stop()
    assert node_lines(frames) == {n: STOPPED_LINE for n in fleet.nodes}
    assert sessions(fleet) == (NODES, NODES, 0)
    assert 'Traceback' not in agent.log()


def test_the_broker_releasing_its_lock_logs_out_every_session_then_the_agent_exits(fleets, tmp_path):
    """xcatd's one-request mode: the broker died (its lock is free), the agent cleans up and exits."""
    fleet = fleets['openbmc']
    waiting = hold(fleet, 'openbmc')
    sock_path, lock_path = tmp_path / 'agent.sock', tmp_path / 'agent.lock'
    lock = open(str(lock_path), 'w')
    fcntl.flock(lock, fcntl.LOCK_EX)
    with open(str(tmp_path / 'agent.log'), 'wb') as log:
        proc = subprocess.Popen([sys.executable, str(AGENT), '--sock', str(sock_path), '--lockfile', str(lock_path)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        ends_at = time.monotonic() + BOUND
        while not sock_path.exists():
            assert proc.poll() is None and time.monotonic() < ends_at, 'the agent never listened'
            time.sleep(0.02)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(sock_path))
        sock.sendall(encode_frame({'module': 'openbmc', 'command': 'rpower', 'args': ['reset'], 'cwd': ['/tmp'],
                                   'nodes': fleet.nodes, 'nodeinfo': fleet.nodeinfo, 'envs': ENVS}))
        try:
            while not waiting(fleet.control.nodes()):
                assert time.monotonic() < ends_at, 'the nodes never reached their wait'
                time.sleep(0.05)
            lock.close()
        except BaseException:
            sock.close()
            raise
        frames = AgentProcess.collect(sock, ends_at)
        proc.wait(max(1, ends_at - time.monotonic()))
    finally:
        lock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert node_lines(frames) == {n: STOPPED_LINE for n in fleet.nodes}
    assert sessions(fleet) == (NODES, NODES, 0)
    assert proc.returncode == 1
    assert not sock_path.exists() and not lock_path.exists()
