"""Every rpower and rsetboot action against every vendor style of the simulated Redfish fleet.

One small fleet per style (``--redfish-style``, see ``sim.redfish_styles`` and docs/DESIGN.md,
"Redfish vendor behaviours"), driven through the real agent. After each command the fleet's
state is checked, not only the words: power state, boot override target, enabled and mode,
BMC reboots requested, open sessions. ``rpower state`` must cost about what bmcweb costs once
the first node has shown the fleet's layout.
"""

import os

import pytest

from conftest import node_lines

NODES = 4
PORT = 443 if os.geteuid() == 0 else 18443
ENVS = {'connect_timeout': 5, 'read_timeout': 10, 'poll_interval': 0.05, 'state_wait': 5}

#: style -> base address of its fleet.
STYLES = {name: '127.%d.0.1' % (140 + i) for i, name in enumerate((
    'bmcweb', 'ilo4', 'ilo5', 'idrac8', 'idrac9', 'idrac10', 'smc_x10', 'smc_x12', 'smc_h13', 'smc_x13',
    'xcc', 'ami', 'cimc'))}
#: Nodes of the fleet of Cisco CIMCs whose requests per node are counted.
CIMC_NODES = 12
#: Styles without anything graceful to shut a host down with.
NO_SOFTOFF = {'smc_x10'}
#: Styles that keep no persistent boot override.
NO_PERSISTENT = {'xcc', 'ami'}
#: Initial BootSourceOverrideMode per style (None: the BMC has no such property).
MODES = {'smc_h13': 'Legacy', 'smc_x13': 'Legacy', 'xcc': 'Legacy', 'ami': 'Legacy'}


@pytest.fixture(scope='module', params=sorted(STYLES))
def fleet(request, fleet_factory):
    started = fleet_factory(nodes=NODES, protocol='redfish', port=PORT, base=STYLES[request.param],
                            redfish_style=request.param)
    started.style = request.param
    return started


def run(agent, fleet, command, *args):
    frames = agent.request(command, args, fleet.nodeinfo, module='redfish', envs=ENVS)
    lines = node_lines(frames)
    assert set(lines) == set(fleet.nodes), 'every node gets exactly one line'
    return set(lines.values())


def nodes(fleet):
    return fleet.control.nodes()


def field(fleet, name):
    return {n[name] for n in nodes(fleet)}


def check_sessions(fleet):
    assert field(fleet, 'open_sessions') == {0}


def requests(fleet):
    """Requests the whole fleet got since the last call."""
    total = sum(n['requests'] for n in nodes(fleet))
    fleet.control.reset(states=False, faults=False)
    return total


def test_state_costs_what_bmcweb_costs(module_agent, fleet):
    """The first node shows where sessions and the system live; the others go straight there."""
    fleet.control.reset()
    assert run(module_agent, fleet, 'rpower', 'state') == {'off'}
    # The first node may pay for finding the layout (at most 4 requests more: Dell iDRAC 8's
    # session at /redfish/v1/Sessions and its system in the collection). Cisco CIMC's
    # first two nodes pay 5 each, the others 2 (no session: see the tests below).
    assert requests(fleet) <= 3 * NODES + 4
    check_sessions(fleet)
    assert run(module_agent, fleet, 'rpower', 'bmcstate') == {'BMC Ready'}
    assert requests(fleet) <= 3 * NODES + 4
    check_sessions(fleet)


def test_power_actions(module_agent, fleet):
    fleet.control.reset()
    style = fleet.style
    assert run(module_agent, fleet, 'rpower', 'state') == {'off'}
    check_sessions(fleet)

    assert run(module_agent, fleet, 'rpower', 'on') == {'on'}
    assert field(fleet, 'redfish_power') == {'On'}
    assert run(module_agent, fleet, 'rpower', 'on') == {'on'}, 'on when on succeeds (iLO refuses it with 409)'
    assert field(fleet, 'redfish_power') == {'On'}
    check_sessions(fleet)

    if style in NO_SOFTOFF:
        assert run(module_agent, fleet, 'rpower', 'softoff') == {'Error: Unsupported option: softoff'}
        assert field(fleet, 'redfish_power') == {'On'}
        assert run(module_agent, fleet, 'rpower', 'off') == {'off'}
    else:
        assert run(module_agent, fleet, 'rpower', 'softoff') == {'softoff'}
        assert field(fleet, 'requested_host') == {'Off'}
    assert field(fleet, 'redfish_power') == {'Off'}
    assert run(module_agent, fleet, 'rpower', 'softoff') == {'softoff'}, 'softoff of an off node succeeds'
    assert field(fleet, 'redfish_power') == {'Off'}

    assert run(module_agent, fleet, 'rpower', 'reset') == {'off'}
    assert field(fleet, 'redfish_power') == {'Off'}
    assert run(module_agent, fleet, 'rpower', 'boot') == {'reset'}
    assert field(fleet, 'redfish_power') == {'On'}
    before = {n['name']: n['transitions'] for n in nodes(fleet)}
    assert run(module_agent, fleet, 'rpower', 'reset') == {'reset'}
    assert field(fleet, 'redfish_power') == {'On'}
    # a restart, or Dell iDRAC 8's ForceOff then On: the host went through a boot either way
    assert {n['transitions'] - before[n['name']] for n in nodes(fleet)} == ({2} if style == 'idrac8' else {1})
    assert run(module_agent, fleet, 'rpower', 'boot') == {'reset'}
    assert field(fleet, 'redfish_power') == {'On'}
    assert run(module_agent, fleet, 'rpower', 'off') == {'off'}
    assert field(fleet, 'redfish_power') == {'Off'}
    check_sessions(fleet)

    assert run(module_agent, fleet, 'rpower', 'bmcstate') == {'BMC Ready'}
    assert run(module_agent, fleet, 'rpower', 'bmcreboot') == {'BMC reboot'}
    assert field(fleet, 'requested_bmc') == {'Reboot'}
    assert run(module_agent, fleet, 'rpower', 'bmcstate') == {'BMC Ready'}
    check_sessions(fleet)
    for word in ('stat', 'status'):
        assert run(module_agent, fleet, 'rpower', word) == {'off'}


def boot_state(fleet):
    return {(n['boot_override_enabled'], n['boot_override_target'], n['boot_override_mode']) for n in nodes(fleet)}


def test_boot_actions(module_agent, fleet):
    fleet.control.reset()
    style = fleet.style
    mode = MODES.get(style, 'UEFI')
    assert run(module_agent, fleet, 'rsetboot', 'stat') == {'Default'}
    assert run(module_agent, fleet, 'rsetboot', 'net') == {'Network'}
    # Supermicro H13/X13 would drop the override unless the mode is sent with it: the mode
    # kept is the one the BMC had.
    assert boot_state(fleet) == {('Once', 'Pxe', mode)}
    assert run(module_agent, fleet, 'rsetboot', 'stat') == {'Network'}
    assert run(module_agent, fleet, 'rsetboot', 'cd') == {'CD/DVD'}
    assert boot_state(fleet) == {('Once', 'Cd', mode)}
    if style in NO_PERSISTENT:
        assert run(module_agent, fleet, 'rsetboot', 'hd', '-p') == {
            'Error: Unsupported option: this BMC does not keep a persistent boot override '
            '(BootSourceOverrideEnabled allows Once, Disabled)'}
        assert boot_state(fleet) == {('Once', 'Cd', mode)}
    else:
        assert run(module_agent, fleet, 'rsetboot', 'hd', '-p') == {'Hard Drive'}
        assert boot_state(fleet) == {('Continuous', 'Hdd', mode)}
        assert run(module_agent, fleet, 'rsetboot') == {'Hard Drive'}
    check_sessions(fleet)
    assert run(module_agent, fleet, 'rsetboot', 'def') == {'Default'}
    assert {(e, m) for e, _t, m in boot_state(fleet)} == {('Disabled', mode)}
    assert run(module_agent, fleet, 'rsetboot', 'net') == {'Network'}
    assert run(module_agent, fleet, 'rsetboot', 'default') == {'Default'}
    assert run(module_agent, fleet, 'rsetboot', 'stat') == {'Default'}
    check_sessions(fleet)


def test_refused_login_prints_the_most_specific_words(module_agent, fleet):
    """HPE iLO's error bodies have only a MessageId (iLO 4: MessageID): that is printed."""
    fleet.control.reset()
    name = fleet.nodes[0]
    fleet.control.set_node(name, password='not-the-password')
    frames = module_agent.request('rpower', ['state'], {name: fleet.nodeinfo[name]}, module='redfish', envs=ENVS)
    line = node_lines(frames)[name]
    if fleet.style in ('ilo4', 'ilo5'):
        assert line == 'Error: [401] Base.1.8.ResourceAtUriUnauthorized'
    else:
        assert line == 'Error: [401] Invalid username or password'
    fleet.control.reset()


@pytest.fixture(scope='module')
def cimc_fleet(fleet_factory):
    return fleet_factory(nodes=CIMC_NODES, protocol='redfish', port=PORT, base='127.160.0.1', redfish_style='cimc')


def counted(fleet):
    """``{counter: total}`` of the fleet since the last call."""
    entries = nodes(fleet)
    fleet.control.reset(states=False, faults=False)
    return {name: sum(n[name] for n in entries) for name in ('requests', 'logins', 'basic_requests', 'basic_refusals')}


def test_per_node_systems_are_read_with_http_basic(module_agent, cimc_fleet):
    """Cisco CIMC: once two nodes showed that the system's name differs per node, the others
    read the collection and the system with HTTP Basic and open no session."""
    cimc_fleet.control.reset()
    assert run(module_agent, cimc_fleet, 'rpower', 'state') == {'off'}
    seen = counted(cimc_fleet)
    # The first two nodes: session, probe, collection, system, logout; the others: 2 reads.
    assert seen['logins'] <= 2, 'logins per node well below 1'
    assert seen['basic_requests'] >= 2 * (CIMC_NODES - 2) and seen['basic_refusals'] == 0
    assert seen['requests'] <= 2 * 5 + 2 * (CIMC_NODES - 2)
    check_sessions(cimc_fleet)
    # Every other command that reads or changes the system works the same way.
    assert run(module_agent, cimc_fleet, 'rsetboot', 'net') == {'Network'}
    assert boot_state(cimc_fleet) == {('Once', 'Pxe', 'UEFI')}
    assert run(module_agent, cimc_fleet, 'rsetboot', 'stat') == {'Network'}
    assert run(module_agent, cimc_fleet, 'rpower', 'on') == {'on'}
    assert field(cimc_fleet, 'redfish_power') == {'On'}
    assert run(module_agent, cimc_fleet, 'rpower', 'reset') == {'reset'}
    assert run(module_agent, cimc_fleet, 'rpower', 'softoff') == {'softoff'}
    assert field(cimc_fleet, 'redfish_power') == {'Off'}
    seen = counted(cimc_fleet)
    assert seen['logins'] <= 5 * 2 and seen['basic_requests'] >= 5 * (CIMC_NODES - 2), \
        'each command: at most its first two nodes log in'
    check_sessions(cimc_fleet)


def test_a_fleet_refusing_basic_falls_back_to_sessions(module_agent, cimc_fleet):
    """The first node refused Basic logs in and asks again; the others log in straight away."""
    cimc_fleet.control.reset()
    cimc_fleet.control.set_fault(cimc_fleet.nodes, 'nobasic')
    try:
        assert run(module_agent, cimc_fleet, 'rpower', 'state') == {'off'}
        seen = counted(cimc_fleet)
        assert seen['basic_refusals'] >= 1 and seen['basic_requests'] == 0
        assert seen['logins'] == CIMC_NODES
        check_sessions(cimc_fleet)
        assert run(module_agent, cimc_fleet, 'rsetboot', 'net') == {'Network'}
        assert boot_state(cimc_fleet) == {('Once', 'Pxe', 'UEFI')}
        check_sessions(cimc_fleet)
    finally:
        cimc_fleet.control.reset()
