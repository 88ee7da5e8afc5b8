"""The agent as a real process, through the codec, against 50 simulated Redfish BMCs.

Each test runs on three fleets: 204 replies with allowable values behind @Redfish.ActionInfo,
200-with-body replies with inline allowable values, and a fleet without a SessionService
(HTTP Basic only). Every test checks the words, the simulator's state, that no session is
left open, and how many requests each node cost.
"""

import os

import pytest

from conftest import db_frames, node_lines

NODES = 50
#: BMCs listen on 443 as real ones do when we may bind it.
PORT = 443 if os.geteuid() == 0 else 18443
ENVS = {'connect_timeout': 5, 'read_timeout': 10}

#: name -> (Fleet options, login requests, logout requests, ActionInfo GETs per reset)
STYLES = {
    '204-actioninfo': ({'base': '127.31.0.1', 'redfish_reply': '204', 'redfish_allowable': 'actioninfo'}, 1, 1, 1),
    'body-inline': ({'base': '127.32.0.1', 'redfish_reply': 'body', 'redfish_allowable': 'inline'}, 1, 1, 0),
    'basic-204-inline': ({'base': '127.33.0.1', 'redfish_reply': '204', 'redfish_allowable': 'inline',
                          'no_session_service': True}, 2, 0, 0),
}


@pytest.fixture(scope='module', params=sorted(STYLES))
def fleet(request, fleet_factory):
    options, login, logout, info = STYLES[request.param]
    started = fleet_factory(nodes=NODES, protocol='redfish', port=PORT, **options)
    started.style = request.param
    started.cost = {'login': login, 'logout': logout, 'info': info}
    return started


@pytest.fixture
def bmcs(fleet):
    """The fleet back at its start state (off, override Disabled), counters zeroed."""
    fleet.control.reset()
    return fleet


def run(agent, fleet, command, *args, nodes=None):
    nodeinfo = {n: fleet.nodeinfo[n] for n in (nodes or fleet.nodes)}
    frames = agent.request(command, args, nodeinfo, module='redfish', envs=ENVS)
    lines = node_lines(frames)
    assert set(lines) == set(nodeinfo), 'every node gets exactly one line'
    return lines, frames


def states(fleet):
    return {n['name']: n for n in fleet.control.nodes()}


def assert_no_sessions(fleet):
    leftovers = {n['name']: n['open_sessions'] for n in fleet.control.nodes() if n['open_sessions']}
    assert leftovers == {}


def assert_requests(fleet, nodes, reads, actions=0, info=False, logout=True):
    """Each node of ``nodes`` got exactly login + ``reads`` GETs + ActionInfo + ``actions`` + logout.

    The simulator names its members as bmcweb does, so a read is one GET of the system or
    manager at its well-known path, and a set-boot reads nothing before its PATCH.
    """
    cost = fleet.cost
    expected = cost['login'] + reads + (cost['info'] if info else 0) + actions + (cost['logout'] if logout else 0)
    after = states(fleet)
    assert {after[n]['requests'] for n in nodes} == {expected}
    fleet.control.reset(states=False, faults=False)


def power(fleet, nodes=None):
    after = states(fleet)
    return {after[n]['redfish_power'] for n in (nodes or fleet.nodes)}


@pytest.mark.parametrize('stat', ['stat', 'state', 'status'])
def test_state_of_an_off_fleet(module_agent, bmcs, stat):
    lines, frames = run(module_agent, bmcs, 'rpower', stat)
    assert set(lines.values()) == {'off'}
    assert db_frames(frames) == []
    assert_no_sessions(bmcs)
    if bmcs.cost['logout']:
        assert {(n['logins'], n['logouts']) for n in states(bmcs).values()} == {(1, 1)}
    assert_requests(bmcs, bmcs.nodes, reads=1)


def test_on_then_off_then_softoff_change_the_simulator(module_agent, bmcs):
    lines, frames = run(module_agent, bmcs, 'rpower', 'on')
    assert set(lines.values()) == {'on'}
    assert sorted(db_frames(frames)) == sorted((n, 'powering-on') for n in bmcs.nodes)
    assert power(bmcs) == {'On'}
    assert_requests(bmcs, bmcs.nodes, reads=1, actions=1, info=True)
    assert set(run(module_agent, bmcs, 'rpower', 'state')[0].values()) == {'on'}
    half = bmcs.nodes[:25]
    lines, frames = run(module_agent, bmcs, 'rpower', 'off', nodes=half)
    assert set(lines.values()) == {'off'}
    assert set(db_frames(frames)) == {(n, 'powering-off') for n in half}
    lines, frames = run(module_agent, bmcs, 'rpower', 'softoff', nodes=bmcs.nodes[25:])
    assert set(lines.values()) == {'softoff'}
    assert set(db_frames(frames)) == {(n, 'powering-off') for n in bmcs.nodes[25:]}
    assert power(bmcs) == {'Off'}
    assert {n['requested_host'] for n in states(bmcs).values() if n['name'] in bmcs.nodes[25:]} == {'Off'}
    assert_no_sessions(bmcs)


def test_requesting_the_current_state_sends_no_action(module_agent, bmcs):
    lines, frames = run(module_agent, bmcs, 'rpower', 'off')
    assert set(lines.values()) == {'off'}
    assert {n['transitions'] for n in states(bmcs).values()} == {0}
    assert_requests(bmcs, bmcs.nodes, reads=1)
    assert_no_sessions(bmcs)


def test_reset_restarts_on_nodes_and_leaves_off_nodes_off(module_agent, bmcs):
    on_nodes = bmcs.nodes[:20]
    run(module_agent, bmcs, 'rpower', 'on', nodes=on_nodes)
    bmcs.control.reset(states=False, faults=False)
    lines, frames = run(module_agent, bmcs, 'rpower', 'reset')
    assert {n: lines[n] for n in on_nodes} == {n: 'reset' for n in on_nodes}
    assert {lines[n] for n in bmcs.nodes[20:]} == {'off'}
    assert sorted(db_frames(frames)) == sorted((n, 'powering-on') for n in on_nodes)
    after = states(bmcs)
    assert {after[n]['requested_host'] for n in on_nodes} == {'Reboot'}
    assert power(bmcs, on_nodes) == {'On'}
    assert power(bmcs, bmcs.nodes[20:]) == {'Off'}
    assert_requests(bmcs, on_nodes, reads=1, actions=1, info=True)
    assert_no_sessions(bmcs)


def test_boot_powers_on_off_nodes_and_restarts_on_nodes(module_agent, bmcs):
    run(module_agent, bmcs, 'rpower', 'on', nodes=bmcs.nodes[:10])
    lines, frames = run(module_agent, bmcs, 'rpower', 'boot')
    assert set(lines.values()) == {'reset'}
    assert sorted(db_frames(frames)) == sorted((n, 'powering-on') for n in bmcs.nodes)
    after = states(bmcs)
    assert {after[n]['requested_host'] for n in bmcs.nodes[:10]} == {'Reboot'}
    assert power(bmcs) == {'On'}
    assert_no_sessions(bmcs)


def test_bmcstate_and_bmcreboot(module_agent, bmcs):
    bmcs.control.set_node(bmcs.nodes[0], bmc_state='NotReady')
    lines, _ = run(module_agent, bmcs, 'rpower', 'bmcstate')
    assert lines.pop(bmcs.nodes[0]) == 'BMC NotReady'
    assert set(lines.values()) == {'BMC Ready'}
    assert_requests(bmcs, bmcs.nodes, reads=1)
    lines, _ = run(module_agent, bmcs, 'rpower', 'bmcreboot', nodes=bmcs.nodes[:5])
    assert set(lines.values()) == {'BMC reboot'}
    after = states(bmcs)
    assert {after[n]['requests'] for n in bmcs.nodes[:5]} == {
        bmcs.cost['login'] + 1 + bmcs.cost['info'] + 1 + bmcs.cost['logout']}
    assert {after[n]['requested_bmc'] for n in bmcs.nodes[:5]} == {'Reboot'}
    assert {after[n]['requested_bmc'] for n in bmcs.nodes[5:]} != {'Reboot'}
    assert_no_sessions(bmcs)


@pytest.mark.parametrize('device,word,target', [
    ('net', 'Network', 'Pxe'), ('hd', 'Hard Drive', 'Hdd'), ('cd', 'CD/DVD', 'Cd')])
@pytest.mark.parametrize('persistent', [False, True])
def test_rsetboot_devices(module_agent, bmcs, device, word, target, persistent):
    args = (device, '-p') if persistent else (device,)
    lines, frames = run(module_agent, bmcs, 'rsetboot', *args)
    assert set(lines.values()) == {word}
    assert db_frames(frames) == []
    assert_requests(bmcs, bmcs.nodes, reads=0, actions=1)
    enabled = 'Continuous' if persistent else 'Once'
    assert {(n['boot_override_enabled'], n['boot_override_target']) for n in states(bmcs).values()} == {
        (enabled, target)}
    assert set(run(module_agent, bmcs, 'rsetboot', 'stat')[0].values()) == {word}
    assert_requests(bmcs, bmcs.nodes, reads=1)
    assert set(run(module_agent, bmcs, 'rsetboot')[0].values()) == {word}
    assert_no_sessions(bmcs)


@pytest.mark.parametrize('device', ['def', 'default'])
def test_rsetboot_default_disables_the_override(module_agent, bmcs, device):
    run(module_agent, bmcs, 'rsetboot', 'net', '-p')
    lines, _ = run(module_agent, bmcs, 'rsetboot', device)
    assert set(lines.values()) == {'Default'}
    assert {(n['boot_override_enabled'], n['boot_override_target']) for n in states(bmcs).values()} == {
        ('Disabled', 'None')}
    assert set(run(module_agent, bmcs, 'rsetboot', 'stat')[0].values()) == {'Default'}
    assert_no_sessions(bmcs)


def test_one_time_boot_is_consumed_by_a_boot(module_agent, bmcs):
    run(module_agent, bmcs, 'rsetboot', 'net', nodes=bmcs.nodes[:10])
    run(module_agent, bmcs, 'rsetboot', 'hd', '-p', nodes=bmcs.nodes[10:])
    run(module_agent, bmcs, 'rpower', 'boot')
    lines, _ = run(module_agent, bmcs, 'rsetboot', 'stat')
    assert {lines[n] for n in bmcs.nodes[:10]} == {'Default'}
    assert {lines[n] for n in bmcs.nodes[10:]} == {'Hard Drive'}


def test_wrong_password_and_dead_address_fail_alone(module_agent, bmcs):
    nodeinfo = {n: dict(bmcs.nodeinfo[n]) for n in bmcs.nodes}
    bad, dead = bmcs.nodes[0], bmcs.nodes[1]
    nodeinfo[bad]['password'] = 'Wr0ng-fleet-pw'
    nodeinfo[dead]['bmcip'] = '127.30.255.1:1'
    frames = module_agent.request('rpower', ['on'], nodeinfo, module='redfish', envs=ENVS)
    lines = node_lines(frames)
    bad_line = lines.pop(bad)
    if bmcs.cost['logout']:
        assert bad_line == 'Error: [401] Invalid username or password'
    else:
        assert bad_line == 'Error: [401] There is no valid session established with the implementation.'
    assert lines.pop(dead) == "Error: Login to BMC failed: Can't connect to 127.30.255.1:1 (Connection refused)."
    assert set(lines.values()) == {'on'}
    after = states(bmcs)
    assert after[bad]['redfish_power'] == 'Off'
    assert {after[n]['redfish_power'] for n in bmcs.nodes[2:]} == {'On'}
    assert 'Wr0ng-fleet-pw' not in module_agent.log()
    assert_no_sessions(bmcs)
