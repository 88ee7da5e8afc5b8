"""The agent as a real process, through the codec, against 50 simulated OpenBMC BMCs."""

import pytest

from conftest import assert_no_sessions, db_frames, fleet_states, node_lines

NODES = 50
ENVS = {'connect_timeout': 5, 'read_timeout': 10, 'poll_interval': 0.05, 'state_wait': 10}


@pytest.fixture(scope='module')
def fleet(fleet_factory):
    return fleet_factory(nodes=NODES, protocol='openbmc', base='127.30.0.1')


@pytest.fixture
def bmcs(fleet):
    """The fleet back at its start state, counters zeroed."""
    fleet.control.reset()
    return fleet


def run(agent, fleet, command, *args, nodes=None):
    nodeinfo = {n: fleet.nodeinfo[n] for n in (nodes or fleet.nodes)}
    frames = agent.request(command, args, nodeinfo, envs=ENVS)
    lines = node_lines(frames)
    assert set(lines) == set(nodeinfo), 'every node gets exactly one line'
    assert_no_sessions(fleet)
    return lines, frames


@pytest.mark.parametrize('stat', ['stat', 'state', 'status'])
def test_state_of_an_off_fleet(module_agent, bmcs, stat):
    lines, frames = run(module_agent, bmcs, 'rpower', stat)
    assert set(lines.values()) == {'off'}
    assert db_frames(frames) == []
    assert_no_sessions(bmcs)
    assert all(n['logins'] == 1 and n['logouts'] == 1 for n in fleet_states(bmcs).values())


def test_on_then_off_then_softoff_change_the_simulator(module_agent, bmcs):
    lines, frames = run(module_agent, bmcs, 'rpower', 'on')
    assert set(lines.values()) == {'on'}
    assert sorted(db_frames(frames)) == sorted((n, 'powering-on') for n in bmcs.nodes)
    assert {n['power'] for n in fleet_states(bmcs).values()} == {'on'}
    assert set(run(module_agent, bmcs, 'rpower', 'state')[0].values()) == {'on'}
    half = bmcs.nodes[:25]
    lines, frames = run(module_agent, bmcs, 'rpower', 'off', nodes=half)
    assert set(lines.values()) == {'off'}
    assert set(db_frames(frames)) == {(n, 'powering-off') for n in half}
    lines, _ = run(module_agent, bmcs, 'rpower', 'softoff', nodes=bmcs.nodes[25:])
    assert set(lines.values()) == {'softoff'}
    assert {n['power'] for n in fleet_states(bmcs).values()} == {'off'}
    assert_no_sessions(bmcs)


def test_reset_cycles_on_nodes_and_leaves_off_nodes_off(module_agent, bmcs):
    on_nodes = bmcs.nodes[:20]
    run(module_agent, bmcs, 'rpower', 'on', nodes=on_nodes)
    lines, frames = run(module_agent, bmcs, 'rpower', 'reset')
    assert {n: lines[n] for n in on_nodes} == {n: 'reset' for n in on_nodes}
    assert {lines[n] for n in bmcs.nodes[20:]} == {'off'}
    after = fleet_states(bmcs)
    assert {after[n]['power'] for n in on_nodes} == {'on'}
    assert {after[n]['power'] for n in bmcs.nodes[20:]} == {'off'}
    assert [v for n, v in db_frames(frames) if n == on_nodes[0]] == ['powering-off', 'powering-on']
    assert_no_sessions(bmcs)


def test_boot_powers_on_off_nodes_and_cycles_on_nodes(module_agent, bmcs):
    run(module_agent, bmcs, 'rpower', 'on', nodes=bmcs.nodes[:10])
    lines, _ = run(module_agent, bmcs, 'rpower', 'boot')
    assert set(lines.values()) == {'reset'}
    assert {n['power'] for n in fleet_states(bmcs).values()} == {'on'}


def test_chassis_only_and_quiesced_words(module_agent, bmcs):
    bmcs.control.set_node(bmcs.nodes[0], chassis='On', host='Off')
    bmcs.control.set_node(bmcs.nodes[1], chassis='On', host='Quiesced')
    lines, _ = run(module_agent, bmcs, 'rpower', 'state', nodes=bmcs.nodes[:3])
    assert [lines[n] for n in bmcs.nodes[:3]] == ['on (Chassis)', 'quiesced', 'off']


def test_bmcstate_and_bmcreboot(module_agent, bmcs):
    lines, _ = run(module_agent, bmcs, 'rpower', 'bmcstate')
    assert set(lines.values()) == {'BMC Ready'}
    lines, _ = run(module_agent, bmcs, 'rpower', 'bmcreboot', nodes=bmcs.nodes[:5])
    assert set(lines.values()) == {'BMC reboot'}
    after = fleet_states(bmcs)
    assert {after[n]['requested_bmc'] for n in bmcs.nodes[:5]} == {'Reboot'}
    assert {after[n]['requested_bmc'] for n in bmcs.nodes[5:]} != {'Reboot'}


@pytest.mark.parametrize('device,word,source', [
    ('net', 'Network', 'Network'), ('hd', 'Hard Drive', 'Disk'), ('cd', 'CD/DVD', 'ExternalMedia'),
    ('def', 'Default', 'Default'), ('default', 'Default', 'Default')])
def test_rsetboot_one_time_devices(module_agent, bmcs, device, word, source):
    lines, _ = run(module_agent, bmcs, 'rsetboot', device)
    assert set(lines.values()) == {word}
    after = fleet_states(bmcs)
    assert {(n['one_time_enabled'], n['one_time_source']) for n in after.values()} == {(True, source)}
    assert set(run(module_agent, bmcs, 'rsetboot', 'stat')[0].values()) == {word}
    assert set(run(module_agent, bmcs, 'rsetboot')[0].values()) == {word}
    assert_no_sessions(bmcs)


def test_rsetboot_persistent_switches_one_time_off(module_agent, bmcs):
    run(module_agent, bmcs, 'rsetboot', 'cd')
    lines, _ = run(module_agent, bmcs, 'rsetboot', 'hd', '-p')
    assert set(lines.values()) == {'Hard Drive'}
    after = fleet_states(bmcs)
    assert {(n['one_time_enabled'], n['boot_source']) for n in after.values()} == {(False, 'Disk')}
    assert set(run(module_agent, bmcs, 'rsetboot', 'stat')[0].values()) == {'Hard Drive'}


def test_wrong_password_and_dead_address_fail_alone(module_agent, bmcs):
    nodeinfo = {n: dict(bmcs.nodeinfo[n]) for n in bmcs.nodes}
    bad, dead = bmcs.nodes[0], bmcs.nodes[1]
    nodeinfo[bad]['password'] = 'wrong'
    nodeinfo[dead]['bmcip'] = '127.30.255.1:1'
    lines = node_lines(module_agent.request('rpower', ['on'], nodeinfo, envs=ENVS))
    assert lines.pop(bad) == 'Error: [401] Invalid username or password'
    assert lines.pop(dead) == "Error: Login to BMC failed: Can't connect to 127.30.255.1:1 (Connection refused)."
    assert set(lines.values()) == {'on'}
    after = fleet_states(bmcs)
    assert after[bad]['power'] == 'off'
    assert {after[n]['power'] for n in bmcs.nodes[2:]} == {'on'}
    assert_no_sessions(bmcs)
