"""Every BMC fault of the simulated fleet, end to end through the agent: each node's one line."""

import time

import pytest

from conftest import node_lines

ENVS = {'connect_timeout': 1, 'read_timeout': 2, 'poll_interval': 0.05, 'state_wait': 1, 'retry_delay': 0.05}
MAX_BODY = 16 * 1024 * 1024

#: fault -> (fault argument, command args, expected line, with {ip} for the node's address)
CASES = {
    'refuse': (None, ['state'], "Error: Login to BMC failed: Can't connect to {ip} (Connection refused)."),
    'stall_tcp': (None, ['state'], "Error: Login to BMC failed: Can't connect to {ip} (TLS handshake timeout after 1 s)."),
    'stall': (None, ['state'], "Error: Login to BMC failed: Can't connect to {ip} (read timeout after 2 s)."),
    'slow': (0.5, ['state'], 'off'),
    '401': (None, ['state'], 'Error: [401] Invalid username or password'),
    '403': (None, ['state'], 'Error: [403] {forbidden}'),
    '500': (None, ['state'], 'Error: [500] {server_error}'),
    '503': (1, ['state'], 'off'),
    'badjson': (None, ['state'], 'Error: Received wrong format response: POST https://{ip}/login answered 200 '
                                 'with a body that is not JSON'),
    'empty': (None, ['state'], 'Error: Received wrong format response: GET /xyz/openbmc_project/state/enumerate: '
                               'reply has no "data" member'),
    'reset': (None, ['state'], "Error: Login to BMC failed: Can't connect to {ip} (connection broken mid-reply)."),
    'oversize': (MAX_BODY + 4096, ['state'], 'Error: Received wrong format response: reply larger than %d bytes'
                 % MAX_BODY),
}


@pytest.fixture(scope='module')
def fleet(fleet_factory):
    return fleet_factory(nodes=len(CASES) + 4, protocol='openbmc', base='127.31.0.1')


@pytest.fixture
def bmcs(fleet):
    fleet.control.reset()
    return fleet


def test_each_fault_gives_its_own_clear_line_and_the_healthy_nodes_answer(module_agent, bmcs):
    faulty = dict(zip(bmcs.nodes, CASES))
    for node, fault in faulty.items():
        bmcs.control.set_fault([node], fault, CASES[fault][0])
    # texts the simulator puts in its 403 and 500 bodies, whatever they are, must reach the admin
    frames = module_agent.request('rpower', ['state'], bmcs.nodeinfo, envs=ENVS, timeout=60)
    lines = node_lines(frames)
    assert set(lines) == set(bmcs.nodes)
    for node, fault in faulty.items():
        ip = bmcs.nodeinfo[node]['bmcip']
        expected = CASES[fault][2]
        if '{forbidden}' in expected or '{server_error}' in expected:
            assert lines[node].startswith(expected.split('{')[0]), (fault, lines[node])
            assert len(lines[node]) > len(expected.split('{')[0]), (fault, lines[node])
        else:
            assert lines[node] == expected.format(ip=ip), (fault, lines[node])
    healthy = [n for n in bmcs.nodes if n not in faulty]
    assert {lines[n] for n in healthy} == {'off'}
    assert 'Traceback' not in ''.join(str(f) for f in frames)


def test_a_503_that_lasts_is_reported_with_its_status(module_agent, bmcs):
    node = bmcs.nodes[0]
    bmcs.control.set_fault([node], '503', 10)
    lines = node_lines(module_agent.request('rpower', ['state'], {node: bmcs.nodeinfo[node]}, envs=ENVS))
    assert lines[node].startswith('Error: [503] ')


def test_a_power_state_that_never_changes_bounds_the_reset(module_agent, bmcs):
    node = bmcs.nodes[0]
    bmcs.control.set_node(node, chassis='On', host='Running')
    bmcs.control.set_fault([node], 'stuck')
    lines = node_lines(module_agent.request('rpower', ['reset'], {node: bmcs.nodeinfo[node]}, envs=ENVS))
    assert lines[node].startswith('Error: Sent power-off command but state did not change to off after waiting ')
    assert lines[node].endswith(' seconds. (State=Running).')


def test_deadline_gives_every_unfinished_node_a_timeout_line(module_agent, bmcs):
    slow = bmcs.nodes[:3]
    bmcs.control.set_fault(slow, 'slow', 30)
    envs = dict(ENVS, read_timeout=60, deadline=1.5)
    lines = node_lines(module_agent.request('rpower', ['state'], bmcs.nodeinfo, envs=envs))
    assert {lines[n] for n in slow} == {'Error: Timed out: command did not finish within the 1.5 s deadline.'}
    assert {lines[n] for n in bmcs.nodes[3:]} == {'off'}


def test_half_of_a_fleet_stalled_ends_near_the_connect_timeout(fleet_factory, module_agent):
    big = fleet_factory(nodes=400, protocol='openbmc', base='127.32.0.1',
                        faults={'node[001-200]': 'stall_tcp'})
    started = time.monotonic()
    lines = node_lines(module_agent.request('rpower', ['state'], big.nodeinfo, envs=ENVS, timeout=120))
    elapsed = time.monotonic() - started
    stalled = ['node%03d' % i for i in range(1, 201)]
    assert {lines[n] for n in stalled} == {
        "Error: Login to BMC failed: Can't connect to %s (TLS handshake timeout after 1 s)." % big.nodeinfo[n]['bmcip']
        for n in stalled}
    assert {lines[n] for n in big.nodes if n not in stalled} == {'off'}
    print('400 BMCs, 200 stalled, connect timeout 1 s: %.1f s' % elapsed)
