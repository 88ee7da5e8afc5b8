"""The agent as a real process, through the codec, against 50 simulated Redfish BMCs.

Each test runs on three fleets: 204 replies with allowable values behind @Redfish.ActionInfo,
200-with-body replies with inline allowable values, and a fleet without a SessionService
(HTTP Basic only). Every test checks the words, the simulator's state, that no session is
left open, and how many requests each node cost: on the bmcweb-like simulator rpower
on/off/softoff and bmcreboot are 3 (login, the Reset POST straight to bmcweb's target,
logout), state reads 3, reset and boot 4 (5 with ActionInfo), rsetboot 4 (the PATCH and one GET
that sees the values held).
"""


import pytest
import requests

from conftest import assert_no_sessions, db_frames, fleet_states, node_lines

NODES = 50
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
    started = fleet_factory(nodes=NODES, protocol='redfish', **options)
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


def assert_requests(fleet, nodes, reads, actions=0, info=False, logout=True, zero=True):
    """Each node of ``nodes`` got exactly login + ``reads`` GETs + ActionInfo + ``actions`` + logout.

    The simulator names its members as bmcweb does, so a read is one GET of the system or
    manager at its well-known path, and a set-boot or a Reset reads nothing before it.
    Counters are zeroed afterwards unless ``zero`` is false.
    """
    cost = fleet.cost
    expected = cost['login'] + reads + (cost['info'] if info else 0) + actions + (cost['logout'] if logout else 0)
    after = fleet_states(fleet)
    assert {after[n]['requests'] for n in nodes} == {expected}
    if zero:
        fleet.control.reset(states=False, faults=False)


def power(fleet, nodes=None):
    after = fleet_states(fleet)
    return {after[n]['redfish_power'] for n in (nodes or fleet.nodes)}


@pytest.mark.parametrize('stat', ['stat', 'state', 'status'])
def test_state_of_an_off_fleet(module_agent, bmcs, stat):
    lines, frames = run(module_agent, bmcs, 'rpower', stat)
    assert set(lines.values()) == {'off'}
    assert db_frames(frames) == []
    assert_no_sessions(bmcs)
    if bmcs.cost['logout']:
        assert {(n['logins'], n['logouts']) for n in fleet_states(bmcs).values()} == {(1, 1)}
    assert_requests(bmcs, bmcs.nodes, reads=1)


def test_on_then_off_then_softoff_change_the_simulator(module_agent, bmcs):
    lines, frames = run(module_agent, bmcs, 'rpower', 'on')
    assert set(lines.values()) == {'on'}
    assert sorted(db_frames(frames)) == sorted((n, 'powering-on') for n in bmcs.nodes)
    assert power(bmcs) == {'On'}
    assert_no_sessions(bmcs)
    assert_requests(bmcs, bmcs.nodes, reads=0, actions=1)
    assert set(run(module_agent, bmcs, 'rpower', 'state')[0].values()) == {'on'}
    assert_requests(bmcs, bmcs.nodes, reads=1)
    half = bmcs.nodes[:25]
    lines, frames = run(module_agent, bmcs, 'rpower', 'off', nodes=half)
    assert set(lines.values()) == {'off'}
    assert set(db_frames(frames)) == {(n, 'powering-off') for n in half}
    assert_requests(bmcs, half, reads=0, actions=1)
    lines, frames = run(module_agent, bmcs, 'rpower', 'softoff', nodes=bmcs.nodes[25:])
    assert set(lines.values()) == {'softoff'}
    assert set(db_frames(frames)) == {(n, 'powering-off') for n in bmcs.nodes[25:]}
    assert power(bmcs) == {'Off'}
    assert {n['requested_host'] for n in fleet_states(bmcs).values() if n['name'] in bmcs.nodes[25:]} == {'Off'}
    assert_no_sessions(bmcs)
    assert_requests(bmcs, bmcs.nodes[25:], reads=0, actions=1)


def test_requesting_the_current_state_succeeds(module_agent, bmcs):
    """bmcweb accepts a Reset to the state the system is in: one POST, nothing read."""
    lines, frames = run(module_agent, bmcs, 'rpower', 'off')
    assert set(lines.values()) == {'off'}
    assert power(bmcs) == {'Off'}
    assert_no_sessions(bmcs)
    assert_requests(bmcs, bmcs.nodes, reads=0, actions=1)


def test_on_refused_for_a_system_already_on_is_success(module_agent, bmcs):
    """HPE iLO refuses On when on (409): the system is read, it is on, so the node prints on."""
    ilo = bmcs.nodes[:10]
    run(module_agent, bmcs, 'rpower', 'on')
    for name in ilo:
        bmcs.control.set_node(name, refuse_on_when_on=True)
    bmcs.control.reset(states=False, faults=False)
    lines, frames = run(module_agent, bmcs, 'rpower', 'on')
    assert set(lines.values()) == {'on'}
    assert power(bmcs) == {'On'}
    after = fleet_states(bmcs)
    assert {after[n]['transitions'] for n in ilo} == {0}
    assert_no_sessions(bmcs)
    assert_requests(bmcs, ilo, reads=1, actions=1, zero=False)
    assert_requests(bmcs, bmcs.nodes[10:], reads=0, actions=1)


def test_restricted_reset_types_fall_back_or_are_unsupported(module_agent, bmcs):
    """ForceOn not offered: the 400 leads to the allowed types and On; neither offered: Unsupported."""
    only_on, neither = bmcs.nodes[:5], bmcs.nodes[5:10]
    for name in only_on:
        bmcs.control.set_node(name, reset_types=['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart'])
    for name in neither:
        bmcs.control.set_node(name, reset_types=['ForceOff', 'GracefulShutdown'])
    lines, frames = run(module_agent, bmcs, 'rpower', 'on')
    assert {lines.pop(n) for n in neither} == {'Error: Unsupported option: on'}
    assert set(lines.values()) == {'on'}
    assert sorted(db_frames(frames)) == sorted((n, 'powering-on') for n in lines)
    assert power(bmcs, neither) == {'Off'}
    assert power(bmcs, only_on) == {'On'}
    assert {fleet_states(bmcs)[n]['requested_host'] for n in only_on} == {'On'}
    assert_no_sessions(bmcs)
    after = fleet_states(bmcs)
    assert {after[n]['requests'] for n in only_on} == {
        bmcs.cost['login'] + 2 + bmcs.cost['info'] + 1 + bmcs.cost['logout']}
    assert_requests(bmcs, neither, reads=1, actions=1, info=True)
    # the restriction holds for off too: ForceOff is offered, so one POST
    lines, _ = run(module_agent, bmcs, 'rpower', 'off', nodes=only_on)
    assert set(lines.values()) == {'off'}
    assert_requests(bmcs, only_on, reads=0, actions=1)


def test_reset_restarts_on_nodes_and_leaves_off_nodes_off(module_agent, bmcs):
    on_nodes = bmcs.nodes[:20]
    run(module_agent, bmcs, 'rpower', 'on', nodes=on_nodes)
    bmcs.control.reset(states=False, faults=False)
    lines, frames = run(module_agent, bmcs, 'rpower', 'reset')
    assert {n: lines[n] for n in on_nodes} == {n: 'reset' for n in on_nodes}
    assert {lines[n] for n in bmcs.nodes[20:]} == {'off'}
    assert sorted(db_frames(frames)) == sorted((n, 'powering-on') for n in on_nodes)
    after = fleet_states(bmcs)
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
    after = fleet_states(bmcs)
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
    after = fleet_states(bmcs)
    assert {after[n]['requested_bmc'] for n in bmcs.nodes[:5]} == {'Reboot'}
    assert {after[n]['requested_bmc'] for n in bmcs.nodes[5:]} != {'Reboot'}
    assert_logged_out(bmcs, bmcs.nodes[:5])
    assert_requests(bmcs, bmcs.nodes[:5], reads=0, actions=1)


def assert_logged_out(fleet, nodes):
    """A session DELETE for every login: the simulator drops sessions when its BMC reboots, so
    ``open_sessions`` says nothing after a bmcreboot and the DELETEs (refused then) are counted."""
    after = fleet_states(fleet)
    expected = {(1, 1)} if fleet.cost['logout'] else {(0, 0)}
    assert {(after[n]['logins'], after[n]['session_deletes']) for n in nodes} == expected
    assert_no_sessions(fleet)


def test_bmcreboot_with_restricted_reset_types(module_agent, bmcs):
    graceful, none = bmcs.nodes[:5], bmcs.nodes[5:10]
    for name in graceful:
        bmcs.control.set_node(name, manager_reset_types=['GracefulRestart'])
    for name in none:
        bmcs.control.set_node(name, manager_reset_types=[])
    lines, _ = run(module_agent, bmcs, 'rpower', 'bmcreboot', nodes=graceful + none)
    assert {lines[n] for n in graceful} == {'BMC reboot'}
    assert {lines[n] for n in none} == {'Error: Unsupported option: bmcreboot'}
    after = fleet_states(bmcs)
    assert {after[n]['requested_bmc'] for n in graceful} == {'Reboot'}
    assert {after[n]['requested_bmc'] for n in none} == {'None'}
    assert_logged_out(bmcs, graceful + none)
    assert {after[n]['requests'] for n in graceful} == {
        bmcs.cost['login'] + 2 + bmcs.cost['info'] + 1 + bmcs.cost['logout']}
    assert_requests(bmcs, none, reads=1, actions=1, info=True)


@pytest.mark.parametrize('device,word,target', [
    ('net', 'Network', 'Pxe'), ('hd', 'Hard Drive', 'Hdd'), ('cd', 'CD/DVD', 'Cd')])
@pytest.mark.parametrize('persistent', [False, True])
def test_rsetboot_devices(module_agent, bmcs, device, word, target, persistent):
    args = (device, '-p') if persistent else (device,)
    lines, frames = run(module_agent, bmcs, 'rsetboot', *args)
    assert set(lines.values()) == {word}
    assert db_frames(frames) == []
    # the PATCH, then one GET to see that the BMC holds the values
    assert_requests(bmcs, bmcs.nodes, reads=1, actions=1)
    enabled = 'Continuous' if persistent else 'Once'
    assert {(n['boot_override_enabled'], n['boot_override_target']) for n in fleet_states(bmcs).values()} == {
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
    assert {(n['boot_override_enabled'], n['boot_override_target']) for n in fleet_states(bmcs).values()} == {
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
    assert_no_sessions(bmcs)


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
    after = fleet_states(bmcs)
    assert after[bad]['redfish_power'] == 'Off'
    assert {after[n]['redfish_power'] for n in bmcs.nodes[2:]} == {'On'}
    assert 'Wr0ng-fleet-pw' not in module_agent.log()
    assert_no_sessions(bmcs)


def advertised(fleet, name, member):
    """The ResetTypes a simulated BMC lists for its member, inline or in the ActionInfo."""
    info = fleet.nodeinfo[name]
    session = requests.Session()
    session.trust_env = False
    session.auth = (info['username'], info['password'])
    base = 'https://%s/redfish/v1/' % info['bmcip']
    resource = session.get(base + member, verify=fleet.ca_path, timeout=10).json()
    action = next(iter(resource['Actions'].values()))
    if 'ResetType@Redfish.AllowableValues' in action:
        return action['ResetType@Redfish.AllowableValues']
    path = action['@Redfish.ActionInfo']
    return session.get('https://%s%s' % (info['bmcip'], path), verify=fleet.ca_path, timeout=10).json()[
        'Parameters'][0]['AllowableValues']


def test_reset_type_restrictions_show_in_the_allowable_values(bmcs):
    """The control API's restriction is what the BMC advertises, inline or behind ActionInfo."""
    from sim.control import FleetError
    name = bmcs.nodes[0]
    entry = bmcs.control.set_node(name, reset_types=['On', 'ForceOff'], manager_reset_types=['GracefulRestart'],
                                  refuse_on_when_on=True)
    assert (entry['reset_types'], entry['manager_reset_types'], entry['refuse_on_when_on']) == (
        ['On', 'ForceOff'], ['GracefulRestart'], True)
    assert advertised(bmcs, name, 'Systems/system') == ['On', 'ForceOff']
    assert advertised(bmcs, name, 'Managers/bmc') == ['GracefulRestart']
    for bad in ({'reset_types': ['Explode']}, {'reset_types': 'On'}, {'manager_reset_types': ['ForceOn']},
                {'refuse_on_when_on': 1}):
        with pytest.raises(FleetError) as raised:
            bmcs.control.set_node(name, **bad)
        assert raised.value.status == 400
    bmcs.control.reset()
    assert bmcs.control.node(name)['reset_types'] is None
