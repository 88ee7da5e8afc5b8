"""Hostile BMCs end to end: no request, no credential, ever leaves a BMC's own origin.

The fleet's ``redirect-away`` and ``link-away`` faults answer with references that, glued
naively to ``https://<bmc>``, name another host (``@HOST:PORT/...``). That host is a loopback
listener of this module which records every connection and byte it receives: after GET,
POST, PUT, PATCH and DELETE through the agent it has received nothing, and each node has
one clear line (docs/DESIGN.md, hostile BMCs).
"""

import re
import socket
import threading

import pytest

from conftest import node_lines

ENVS = {'connect_timeout': 2, 'read_timeout': 4, 'retries': 0, 'poll_interval': 0.05, 'state_wait': 2}
TIMEOUT = 30
AWAY_HOST = '127.231.0.2'


class Recorder:
    """A loopback TCP listener that records what reaches it (as another host's BMC would see it)."""

    def __init__(self, host):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.address = '%s:%d' % self.sock.getsockname()
        self.connections = 0
        self.received = b''
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(1)
                try:
                    while True:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        self.received += chunk
                except OSError:
                    pass

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture(scope='module')
def away():
    recorder = Recorder(AWAY_HOST)
    yield recorder
    recorder.stop()


@pytest.fixture(scope='module')
def openbmc_fleet(fleet_factory):
    return fleet_factory(nodes=2, protocol='openbmc', base='127.47.0.1')


@pytest.fixture(scope='module')
def redfish_fleet(fleet_factory):
    return fleet_factory(nodes=2, protocol='redfish', base='127.48.0.1')


def run(agent, fleet, module, fault, away, command, args):
    fleet.control.reset()
    node = fleet.nodes[0]
    fleet.control.set_node(node, power='on')
    fleet.control.set_fault([node], fault, away.address)
    lines = node_lines(agent.request(command, args, {node: fleet.nodeinfo[node]}, module=module, envs=ENVS,
                                     timeout=TIMEOUT))
    assert (away.connections, away.received) == (0, b''), 'the other host received a request'
    return node, lines[node]


def outside(what, ref, fleet, node):
    return 'Error: Received wrong format response: %s "%s" points outside https://%s' % (
        what, ref, fleet.nodeinfo[node]['bmcip'])


#: Redfish command -> (args, methods it sends after the login, the path redirected first)
REDFISH_COMMANDS = {
    'state': ('rpower', ['state'], '/redfish/v1/Systems/system'),
    'on': ('rpower', ['on'], '/redfish/v1/Systems/system/Actions/ComputerSystem.Reset'),
    'net': ('rsetboot', ['net'], '/redfish/v1/Systems/system'),
}


@pytest.mark.parametrize('case', sorted(REDFISH_COMMANDS))
def test_redfish_redirect_away_reaches_no_other_host(module_agent, redfish_fleet, away, case):
    """GET, POST and PATCH redirected with ``307 Location: @host:port/...``; the logout's DELETE too."""
    command, args, path = REDFISH_COMMANDS[case]
    node, line = run(module_agent, redfish_fleet, 'redfish', 'redirect-away', away, command, args)
    assert line == outside('Location', '@%s%s' % (away.address, path), redfish_fleet, node)
    after = redfish_fleet.control.node(node)
    # login, the redirected request, the logout's DELETE (redirected as well, and refused)
    assert after['requests'] == 3
    assert after['open_sessions'] == 1
    assert after['power'] == 'on'


def test_redfish_link_away_reaches_no_other_host(module_agent, redfish_fleet, away):
    """The session's ``Location`` points away: the login fails, no DELETE goes anywhere."""
    node, line = run(module_agent, redfish_fleet, 'redfish', 'link-away', away, 'rpower', ['state'])
    pattern = re.escape(outside('Location', '@%s/redfish/v1/SessionService/Sessions/' % away.address,
                                redfish_fleet, node)).replace('Sessions/', 'Sessions/[0-9a-f]+')
    assert re.fullmatch(pattern, line), line
    assert redfish_fleet.control.node(node)['session_deletes'] == 0


@pytest.mark.parametrize('command, args', [('rpower', ['state']), ('rpower', ['on']), ('rsetboot', ['net'])])
@pytest.mark.parametrize('fault', ['redirect-away', 'link-away'])
def test_openbmc_links_away_reach_no_other_host(module_agent, openbmc_fleet, away, fault, command, args):
    """GET, PUT and the logout POST meet the away references; only the BMC sees requests."""
    node, line = run(module_agent, openbmc_fleet, 'openbmc', fault, away, command, args)
    if fault == 'redirect-away' or args == ['state']:
        assert line.startswith('Error: '), line
    assert openbmc_fleet.control.node(node)['power'] == 'on'
