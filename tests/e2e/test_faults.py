"""Every BMC fault of the simulated fleet, end to end through the agent: each node's one line.

Every exchange with the agent is bounded as a whole (``AgentProcess.request(timeout=)``):
a command that does not finish within its bound plus ``SLACK`` fails the test. Nothing is
timed in an assert.
"""

import re
import time

import pytest

from conftest import node_lines

CONNECT, READ = 1, 2
RETRIES = 2
ENVS = {'connect_timeout': CONNECT, 'read_timeout': READ, 'poll_interval': 0.05, 'state_wait': 1,
        'retry_delay': 0.05, 'retries': RETRIES}
#: The agent's bound on one whole request (connect, TLS, the complete reply).
BOUND = CONNECT + READ
#: Seconds allowed beyond the admin's bound for the agent's and the fleet's own work.
SLACK = 8
MAX_BODY = 16 * 1024 * 1024
#: ``{ip}`` is the BMC's ``IP:PORT`` (``Fleet.address``): fleets take a free port.
LOGIN_FAILED = "Error: Login to BMC failed: Can't connect to {ip} ({cause})."
NO_ANSWER = 'Error: BMC did not respond. Validate BMC configuration and retry the command. ({cause})'

#: fault -> (fault argument, expected `rpower state` line ({ip}: the node's address), requests the BMC sees)
OPENBMC_CASES = {
    'refuse': (None, LOGIN_FAILED.replace('{cause}', 'Connection refused'), 0),
    'stall_tcp': (None, LOGIN_FAILED.replace('{cause}', 'TLS handshake timeout after %d s' % CONNECT), 0),
    'stall': (None, LOGIN_FAILED.replace('{cause}', 'read timeout after %d s' % READ), 1),
    'slow': (0.5, 'off', 3),
    '401': (None, 'Error: [401] Invalid username or password', 1),
    '403': (None, 'Error: [403] Forbidden', 1),
    '500': (None, 'Error: [500] Internal Server Error', 1),
    # login answered 503 once, retried: login, login, GET, logout
    '503': (1, 'off', 4),
    'badjson': (None, 'Error: Received wrong format response: POST https://{ip}/login answered 200 '
                      'with a body that is not JSON', 1),
    'empty': (None, 'Error: Received wrong format response: GET /xyz/openbmc_project/state/enumerate: '
                    'reply has no "data" member', 3),
    # a POST the BMC may have acted on is not retried
    'reset': (None, LOGIN_FAILED.replace('{cause}', 'connection broken mid-reply'), 1),
    'oversize': (MAX_BODY + 4096, 'Error: Received wrong format response: reply larger than %d bytes' % MAX_BODY,
                 1),
    # each byte comes well within the read timeout, the whole reply never within the request bound
    'drip': (0.5, LOGIN_FAILED.replace('{cause}', 'no complete reply within %d s' % BOUND), 1),
    # reads are not disturbed by a state that never changes (the off-wait is tested below)
    'stuck': (None, 'off', 3),
}

#: Redfish, `rpower state` and `rpower on`: fault -> (argument, state line, on line)
REDFISH_CASES = {
    'refuse': (None,) + (LOGIN_FAILED.replace('{cause}', 'Connection refused'),) * 2,
    'stall_tcp': (None,) + (LOGIN_FAILED.replace('{cause}', 'TLS handshake timeout after %d s' % CONNECT),) * 2,
    'stall': (None,) + (LOGIN_FAILED.replace('{cause}', 'read timeout after %d s' % READ),) * 2,
    'slow': (0.5, 'off', 'on'),
    '401': (None,) + ('Error: [401] Invalid username or password',) * 2,
    '403': (None,) + ('Error: [403] Forbidden',) * 2,
    '500': (None,) + ('Error: [500] Internal Server Error',) * 2,
    '503': (1, 'off', 'on'),
    'badjson': (None,) + ('Error: Received wrong format response: POST https://{ip}/redfish/v1/SessionService/'
                          'Sessions answered 200 with a body that is not JSON',) * 2,
    # a read needs JSON; the Reset POST's status says it all, its body is not needed
    'empty': (None, 'Error: Received wrong format response: GET /redfish/v1/Systems: reply is not a JSON object',
              'on'),
    'reset': (None,) + (LOGIN_FAILED.replace('{cause}', 'connection broken mid-reply'),) * 2,
    'oversize': (MAX_BODY + 4096,) + ('Error: Received wrong format response: reply larger than %d bytes'
                                      % MAX_BODY,) * 2,
    'drip': (0.5,) + (LOGIN_FAILED.replace('{cause}', 'no complete reply within %d s' % BOUND),) * 2,
    # Redfish has no off-wait: the accepted Reset is the result, as in xCAT
    'stuck': (None, 'off', 'on'),
}

HEALTHY = 4


@pytest.fixture(scope='module')
def fleet(fleet_factory):
    return fleet_factory(nodes=len(OPENBMC_CASES) + HEALTHY, protocol='openbmc', base='127.36.0.1')


@pytest.fixture(scope='module')
def redfish_fleet(fleet_factory):
    return fleet_factory(nodes=len(REDFISH_CASES) + HEALTHY, protocol='redfish', base='127.37.0.1')


@pytest.fixture
def bmcs(fleet):
    fleet.control.reset()
    return fleet


def one(fleet, node):
    return {node: fleet.nodeinfo[node]}


def requests_seen(fleet):
    return {n['name']: n['requests'] for n in fleet.control.nodes()}


def retry_warnings(log, ip):
    """``[(method, path, what, 'retry 1 of 2'), ...]`` the agent logged for the BMC at ``ip``."""
    return re.findall(r'WARNING common\.rest: \S+: (\w+) https://%s(\S+) (answered \d+|failed \(.*?\)), '
                      r'(retry \d+ of \d+)' % re.escape(ip), log)


def switch_fault_after_login(agent, fleet, node, args, fault, arg=None, hold=1.0, extra=(), timeout=None):
    """Give ``node`` a fault from its first request after the login on, and run ``rpower args``.

    The node starts ``slow``: each request is held ``hold`` seconds before it is answered,
    and the fleet re-reads the node's fault after that wait. Once the BMC counts its second
    request (the one after the login) the fault is switched, so exactly that request and
    the later ones meet it. (A switch coming too late would leave that request unfaulted:
    the callers' line and counter checks show it.)

    :param extra: other nodes to run the command on at the same time.
    :param timeout: bound on the whole command (default: the two held requests, every
        attempt of one request and ``SLACK``).
    :returns: the reply frames.
    """
    fleet.control.set_fault([node], 'slow', hold)
    nodeinfo = {n: fleet.nodeinfo[n] for n in (node, *extra)}
    if timeout is None:
        timeout = 2 * hold + (RETRIES + 1) * BOUND + SLACK
    sock, ends_at = agent.send('rpower', args, nodeinfo, envs=ENVS, timeout=timeout)
    try:
        while fleet.control.node(node)['requests'] < 2:
            assert time.monotonic() < ends_at, 'the login of %s never completed' % node
            time.sleep(0.01)
        fleet.control.set_fault([node], fault, arg)
    except BaseException:
        sock.close()
        raise
    return agent.collect(sock, ends_at)


def test_each_fault_gives_its_own_clear_line_and_the_healthy_nodes_answer(module_agent, bmcs):
    faulty = dict(zip(bmcs.nodes, OPENBMC_CASES))
    for node, fault in faulty.items():
        bmcs.control.set_fault([node], fault, OPENBMC_CASES[fault][0])
    frames = module_agent.request('rpower', ['state'], bmcs.nodeinfo, envs=ENVS, timeout=BOUND + SLACK)
    lines = node_lines(frames)
    assert set(lines) == set(bmcs.nodes)
    seen = requests_seen(bmcs)
    for node, fault in faulty.items():
        _arg, expected, requests = OPENBMC_CASES[fault]
        assert (fault, lines[node]) == (fault, expected.format(ip=bmcs.address(node)))
        assert (fault, seen[node]) == (fault, requests)
    healthy = [n for n in bmcs.nodes if n not in faulty]
    assert {lines[n] for n in healthy} == {'off'}
    assert {seen[n] for n in healthy} == {3}
    assert 'Traceback' not in repr(frames)


@pytest.mark.parametrize('command', ['state', 'on'])
def test_each_fault_on_a_redfish_fleet(module_agent, redfish_fleet, command):
    redfish_fleet.control.reset()
    faulty = dict(zip(redfish_fleet.nodes, REDFISH_CASES))
    for node, fault in faulty.items():
        redfish_fleet.control.set_fault([node], fault, REDFISH_CASES[fault][0])
    frames = module_agent.request('rpower', [command], redfish_fleet.nodeinfo, module='redfish', envs=ENVS,
                                  timeout=BOUND + SLACK)
    lines = node_lines(frames)
    assert set(lines) == set(redfish_fleet.nodes)
    column = 1 if command == 'state' else 2
    for node, fault in faulty.items():
        expected = REDFISH_CASES[fault][column].format(ip=redfish_fleet.address(node))
        assert (fault, lines[node]) == (fault, expected)
    assert {lines[n] for n in redfish_fleet.nodes if n not in faulty} == {'off' if command == 'state' else 'on'}
    assert 'Traceback' not in repr(frames)


@pytest.mark.parametrize('first, line, requests', [
    (1, 'off', 1 + 3),
    (RETRIES, 'off', RETRIES + 3),
    # as many 503s as attempts: the last one is reported, the login never succeeded
    (RETRIES + 1, 'Error: [503] Service Unavailable', RETRIES + 1),
    (10, 'Error: [503] Service Unavailable', RETRIES + 1),
])
def test_503_for_the_first_requests_is_retried_within_the_retry_count(module_agent, bmcs, first, line, requests):
    node = bmcs.nodes[0]
    ip = bmcs.nodeinfo[node]['bmcip']
    bmcs.control.set_fault([node], '503', first)
    mark = module_agent.log_size()
    lines = node_lines(module_agent.request('rpower', ['state'], one(bmcs, node), envs=ENVS, timeout=BOUND + SLACK))
    assert lines == {node: line}
    assert bmcs.control.node(node)['requests'] == requests
    retried = min(first, RETRIES)
    assert retry_warnings(module_agent.log(since=mark), ip) == [
        ('POST', '/login', 'answered 503', 'retry %d of %d' % (i, RETRIES)) for i in range(1, retried + 1)]


def test_a_lasting_503_on_a_read_is_retried_exactly_retries_times(module_agent, bmcs):
    node = bmcs.nodes[0]
    ip = bmcs.nodeinfo[node]['bmcip']
    mark = module_agent.log_size()
    frames = switch_fault_after_login(module_agent, bmcs, node, ['state'], '503', 100)
    assert node_lines(frames) == {node: 'Error: [503] Service Unavailable'}
    # login, the GET and its retries, then the logout (a POST, also answered 503 and retried)
    assert bmcs.control.node(node)['requests'] == 1 + (RETRIES + 1) + (RETRIES + 1)
    enumerate_path = '/xyz/openbmc_project/state/enumerate'
    assert retry_warnings(module_agent.log(since=mark), ip) == [
        ('GET', enumerate_path, 'answered 503', 'retry 1 of 2'),
        ('GET', enumerate_path, 'answered 503', 'retry 2 of 2'),
        ('POST', '/logout', 'answered 503', 'retry 1 of 2'),
        ('POST', '/logout', 'answered 503', 'retry 2 of 2')]


def test_a_put_answered_by_a_reset_connection_is_not_retried(module_agent, bmcs):
    node = bmcs.nodes[0]
    mark = module_agent.log_size()
    frames = switch_fault_after_login(module_agent, bmcs, node, ['on'], 'reset')
    assert node_lines(frames) == {node: NO_ANSWER.format(cause='connection broken mid-reply')}
    # the BMC acted on the PUT before the connection broke: sending it again could act twice
    after = bmcs.control.node(node)
    assert after['power'] == 'on'
    # login and the one PUT; no logout after a transport failure
    assert after['requests'] == 2
    assert retry_warnings(module_agent.log(since=mark), bmcs.nodeinfo[node]['bmcip']) == []


def test_a_reply_dripping_in_forever_is_cut_at_the_request_bound(module_agent, bmcs):
    node, others = bmcs.nodes[0], bmcs.nodes[1:]
    frames = switch_fault_after_login(module_agent, bmcs, node, ['state'], 'drip', 0.5, extra=others,
                                      timeout=2 * 1.0 + BOUND + SLACK)
    lines = node_lines(frames)
    assert lines.pop(node) == NO_ANSWER.format(cause='no complete reply within %d s' % BOUND)
    assert lines == {n: 'off' for n in others}
    # a timeout is never retried: it would multiply what a dead BMC costs (login + one GET)
    assert bmcs.control.node(node)['requests'] == 2


@pytest.mark.parametrize('command', ['reset', 'boot'])
def test_a_power_state_that_never_changes_bounds_the_off_wait(module_agent, bmcs, command):
    node = bmcs.nodes[0]
    bmcs.control.set_node(node, chassis='On', host='Running')
    bmcs.control.set_fault([node], 'stuck')
    lines = node_lines(module_agent.request('rpower', [command], one(bmcs, node), envs=ENVS,
                                            timeout=ENVS['state_wait'] + BOUND + SLACK))
    match = re.fullmatch(r'Error: Sent power-off command but state did not change to off after waiting '
                         r'(\d+) seconds\. \(State= Running\)\.', lines[node])
    assert match, lines[node]
    assert int(match.group(1)) >= ENVS['state_wait']
    assert bmcs.control.node(node)['power'] == 'on'


def test_deadline_gives_every_unfinished_node_a_timeout_line(module_agent, bmcs):
    slow = bmcs.nodes[:3]
    bmcs.control.set_fault(slow, 'slow', 30)
    envs = dict(ENVS, read_timeout=60, deadline=1.5)
    lines = node_lines(module_agent.request('rpower', ['state'], bmcs.nodeinfo, envs=envs, timeout=1.5 + SLACK))
    assert {lines[n] for n in slow} == {'Error: Timed out: command did not finish within the 1.5 s deadline.'}
    assert {lines[n] for n in bmcs.nodes[3:]} == {'off'}


@pytest.fixture(scope='module')
def big_fleet(fleet_factory):
    return fleet_factory(nodes=1000, protocol='openbmc', base='127.38.0.1')


@pytest.mark.slow
@pytest.mark.parametrize('stall, cause', [
    ('stall_tcp', 'TLS handshake timeout after 4 s'),
    ('stall', 'read timeout after 5 s'),
])
def test_half_of_1000_bmcs_stalled_every_node_answers_within_the_timeouts(module_agent, big_fleet, stall, cause):
    """1000 BMCs, 500 stalled, through the agent process and its socket.

    Every node gets its line: a stalled one when its own bound expires, not never. A stalled
    node's line names its cause; when 1000 handshakes at once make a stalled node's TLS
    slow enough, its whole-request bound (connect + read) can expire a moment before its
    read timeout, and that line is just as clear.
    """
    # Timeouts with room for 500 healthy handshakes on a busy host (two test runs at once on two
    # cores); the exchange's deadline only catches a hang, speed is the bench's business.
    envs = {'connect_timeout': 4, 'read_timeout': 5, 'pool_size': 1000}
    bound = envs['connect_timeout'] + envs['read_timeout']
    big_fleet.control.reset()
    stalled = big_fleet.control.set_fault('node[0001-0500]', stall)
    assert len(stalled) == 500
    started = time.monotonic()
    frames = module_agent.request('rpower', ['state'], big_fleet.nodeinfo, envs=envs, timeout=bound + 60)
    elapsed = time.monotonic() - started
    lines = node_lines(frames)
    assert len(lines) == 1000
    for node in stalled:
        ip = big_fleet.address(node)
        assert lines[node] in (LOGIN_FAILED.format(ip=ip, cause=cause),
                               LOGIN_FAILED.format(ip=ip, cause='no complete reply within %d s' % bound)), node
    assert {lines[n] for n in big_fleet.nodes if n not in stalled} == {'off'}
    assert [f for f in frames if f['msg']['type'] not in ('info', 'error')] == []
    stats = big_fleet.control.stats()
    assert (stats['logins'], stats['logouts'], stats['open_sessions']) == (500, 500, 0)
    print('1000 BMCs, 500 %s: %.1f s' % (stall, elapsed))
