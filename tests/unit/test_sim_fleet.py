"""Tests of the simulated BMC fleet (tests/sim): noderanges, faults, both dialects, tables, control API."""

import json
import os
import socket
import ssl
import stat
import time

import pytest
import requests

from sim.control import Fleet, FleetError
from sim.faults import Fault, parse_fault, parse_fault_option
from sim.noderange import parse_noderange

P = '/xyz/openbmc_project'
HOST_ON = {'data': 'xyz.openbmc_project.State.Host.Transition.On'}
HOST_OFF = {'data': 'xyz.openbmc_project.State.Host.Transition.Off'}
CHASSIS_OFF = {'data': 'xyz.openbmc_project.State.Chassis.Transition.Off'}
BMC_REBOOT = {'data': 'xyz.openbmc_project.State.BMC.Transition.Reboot'}
SRC = 'xyz.openbmc_project.Control.Boot.Source.Sources.'

#: Bound on any wait in this file.
WAIT = 10.0


# -- noderange and fault parsing (no fleet needed) ---------------------------------------------------

@pytest.mark.parametrize('expr, expected', [
    ('node001', ['node001']),
    ('node001,node003', ['node001', 'node003']),
    ('node[001-003]', ['node001', 'node002', 'node003']),
    ('node[1-3]', ['node1', 'node2', 'node3']),
    ('node[008-010]', ['node008', 'node009', 'node010']),
    ('node[001-002,005]', ['node001', 'node002', 'node005']),
    ('node001-node003', ['node001', 'node002', 'node003']),
    ('node9-node11', ['node9', 'node10', 'node11']),
    ('node001,node[001-002],node002-node003', ['node001', 'node002', 'node003']),
    (['node001', 'node[002-003]'], ['node001', 'node002', 'node003']),
    ('r1n[1-2]x', ['r1n1x', 'r1n2x']),
])
def test_noderange_expands(expr, expected):
    assert parse_noderange(expr) == expected


@pytest.mark.parametrize('expr', ['node[3-1]', 'node[a-b]', 'node[1-', 'node003-node001', '', ','])
def test_noderange_rejects_malformed(expr):
    with pytest.raises(ValueError):
        parse_noderange(expr)


def test_noderange_checks_known_names():
    known = ['node001', 'node002', 'node003']
    assert parse_noderange('all', known) == known
    with pytest.raises(ValueError, match='node004'):
        parse_noderange('node[002-004]', known)


@pytest.mark.parametrize('spec, expected', [
    ('refuse', Fault('refuse')), ('slow=2', Fault('slow', 2.0)), ('slow', Fault('slow', 5.0)),
    ('503=3', Fault('503', 3)), ('oversize=1000', Fault('oversize', 1000)), ('none', None),
])
def test_parse_fault(spec, expected):
    assert parse_fault(spec) == expected


@pytest.mark.parametrize('spec', ['bogus', 'refuse=1', 'slow=x', '503=-1'])
def test_parse_fault_rejects(spec):
    with pytest.raises(ValueError):
        parse_fault(spec)


def test_parse_fault_option():
    names = ['node%03d' % i for i in range(1, 11)]
    items = parse_fault_option(' node[001-002]=refuse  node010=slow=1.5 ', names)
    assert items == [(['node001', 'node002'], Fault('refuse')), (['node010'], Fault('slow', 1.5))]
    with pytest.raises(ValueError):
        parse_fault_option('node011=refuse', names)
    with pytest.raises(ValueError):
        parse_fault_option('node001', names)



def test_the_redfish_session_timeout_shown_is_the_real_one_unless_set():
    from sim.bmc import BmcSettings
    assert BmcSettings().shown_session_timeout == 1800  # sessions never end: a common default
    assert BmcSettings(session_timeout=1.5).shown_session_timeout == 2
    assert BmcSettings(session_timeout=1.5, advertised_session_timeout=1800).shown_session_timeout == 1800


# -- helpers -------------------------------------------------------------------------------------------

def _session(fleet):
    """A requests session that verifies against the fleet CA and ignores env proxies/bundles."""
    sess = requests.Session()
    sess.trust_env = False
    sess.verify = fleet.ca_path
    return sess


def _url(fleet, node, path):
    return 'https://%s%s' % (fleet.nodeinfo[node]['bmc'], path)


def _wait_for(predicate, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError('condition not met within %s s' % timeout)


def _state(sess, fleet, node):
    data = sess.get(_url(fleet, node, P + '/state/enumerate'), timeout=WAIT).json()['data']
    host = data[P + '/state/host0']['CurrentHostState'].rsplit('.', 1)[1]
    chassis = data[P + '/state/chassis0']['CurrentPowerState'].rsplit('.', 1)[1]
    return chassis, host


# -- OpenBMC dialect -------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def obmc():
    with Fleet(nodes=8, protocol='openbmc', base='127.60.0.1',
               faults='node007=refuse node008=stall') as fleet:
        yield fleet


@pytest.fixture
def ob(obmc):
    obmc.control.reset()
    return obmc


def test_openbmc_tables(ob):
    tables = ob.tables_dir
    assert sorted(ob.nodeinfo) == ['node%03d' % i for i in range(1, 9)]
    bmc = '127.60.0.2:%d' % ob.port
    assert ob.nodeinfo['node002'] == {'bmc': bmc, 'bmcip': bmc, 'username': 'root',
                                      'password': '0penBmc'}
    for name in ('nodeinfo.json', 'nodelist.csv', 'nodehm.csv', 'openbmc.csv', 'passwd.csv'):
        assert stat.S_IMODE(os.stat(os.path.join(tables, name)).st_mode) == 0o600, name
    with open(os.path.join(tables, 'nodelist.csv'), encoding='utf-8') as fh:
        lines = fh.read().splitlines()
    assert lines[0].startswith('#node,groups,status,')
    assert lines[1] == '"node001","all,openbmc,rack1"' + ',' * 11
    with open(os.path.join(tables, 'nodehm.csv'), encoding='utf-8') as fh:
        assert fh.read().splitlines()[1].startswith('"node001","openbmc","openbmc",')
    with open(os.path.join(tables, 'openbmc.csv'), encoding='utf-8') as fh:
        assert fh.read().splitlines()[2] == '"node002","%s",,,,,,' % bmc
    with open(os.path.join(tables, 'passwd.csv'), encoding='utf-8') as fh:
        assert fh.read().splitlines() == [
            '#key,username,password,cryptmethod,authdomain,comments,disable',
            '"openbmc","root","0penBmc",,,,']
    with open(os.path.join(tables, 'fleet.json'), encoding='utf-8') as fh:
        info = json.load(fh)
    assert info['control'] == ob.url and info['nodes'] == 8 and info['protocol'] == 'openbmc'
    assert info['ca_path'] == os.path.join(tables, 'fleet-ca.pem') == ob.ca_path
    assert ob.control.info()['ca_path'] == ob.ca_path


def test_openbmc_login_logout_and_counters(ob):
    sess = _session(ob)
    resp = sess.post(_url(ob, 'node001', '/login'), json={'data': ['root', '0penBmc']}, timeout=WAIT)
    assert resp.status_code == 200
    assert resp.json() == {'data': "User 'root' logged in", 'message': '200 OK', 'status': 'ok'}
    assert 'sid' in sess.cookies
    assert _state(sess, ob, 'node001') == ('Off', 'Off')
    node = ob.control.node('node001')
    assert (node['logins'], node['open_sessions'], node['handshakes'], node['requests']) == (1, 1, 1, 2)
    assert sess.post(_url(ob, 'node001', '/logout'), json={'data': []}, timeout=WAIT).status_code == 200
    node = ob.control.node('node001')
    assert (node['logouts'], node['open_sessions']) == (1, 0)
    # The session is gone: without Basic auth the next request is refused.
    resp = sess.get(_url(ob, 'node001', P + '/state/enumerate'), timeout=WAIT)
    assert resp.status_code == 401
    assert resp.json() == {'data': {'description': 'Login required'}, 'message': '401 Unauthorized',
                           'status': 'error'}
    stats = ob.control.stats()
    assert stats['logins'] == 1 and stats['cpu_seconds'] > 0 and stats['nodes'] == 8


def test_openbmc_wrong_password_and_basic_auth(ob):
    sess = _session(ob)
    resp = sess.post(_url(ob, 'node002', '/login'), json={'data': ['root', 'wrong']}, timeout=WAIT)
    assert resp.status_code == 401
    assert resp.json() == {'data': {'description': 'Invalid username or password'},
                           'message': '401 Unauthorized', 'status': 'error'}
    assert ob.control.node('node002')['login_failures'] == 1
    resp = sess.get(_url(ob, 'node002', P + '/state/bmc0/attr/CurrentBMCState'),
                    auth=('root', '0penBmc'), timeout=WAIT)
    assert resp.json()['data'] == 'xyz.openbmc_project.State.BMC.BMCState.Ready'
    assert sess.get(_url(ob, 'node002', P + '/state/enumerate'), auth=('root', 'x'),
                    timeout=WAIT).status_code == 401
    ob.control.set_node('node002', password='n3w')
    assert sess.get(_url(ob, 'node002', P + '/state/enumerate'), auth=('root', 'n3w'),
                    timeout=WAIT).status_code == 200


def test_openbmc_power_transitions(ob):
    sess = _session(ob)
    sess.auth = ('root', '0penBmc')
    put = lambda path, body: sess.put(_url(ob, 'node003', P + path), json=body, timeout=WAIT)  # noqa: E731
    assert put('/state/host0/attr/RequestedHostTransition', HOST_ON).json()['status'] == 'ok'
    assert _state(sess, ob, 'node003') == ('On', 'Running')
    assert put('/state/chassis0/attr/RequestedPowerTransition', CHASSIS_OFF).status_code == 200
    assert _state(sess, ob, 'node003') == ('Off', 'Off')
    put('/state/host0/attr/RequestedHostTransition', HOST_ON)
    put('/state/host0/attr/RequestedHostTransition', HOST_OFF)
    assert _state(sess, ob, 'node003') == ('Off', 'Off')
    bad = put('/state/host0/attr/RequestedHostTransition', {'data': 'On'})
    assert bad.status_code == 400 and bad.json()['status'] == 'error'
    assert sess.get(_url(ob, 'node003', P + '/nope/enumerate'), timeout=WAIT).status_code == 404
    assert put('/state/bmc0/attr/RequestedBMCTransition', BMC_REBOOT).status_code == 200
    ob.control.set_node('node003', host='Quiesced', chassis='On')
    assert _state(sess, ob, 'node003') == ('On', 'Quiesced')
    assert ob.control.node('node003')['transitions'] == 4


def test_openbmc_boot_settings(ob):
    sess = _session(ob)
    sess.auth = ('root', '0penBmc')
    base = P + '/control/host0'
    data = sess.get(_url(ob, 'node004', base + '/enumerate'), timeout=WAIT).json()['data']
    assert data[base + '/boot']['BootSource'] == SRC + 'Default'
    assert data[base + '/boot/one_time'] == {
        'BootMode': 'xyz.openbmc_project.Control.Boot.Mode.Modes.Regular',
        'BootSource': SRC + 'Default', 'Enabled': 0}
    assert sess.put(_url(ob, 'node004', base + '/boot/one_time/attr/Enabled'), json={'data': 1},
                    timeout=WAIT).status_code == 200
    assert sess.put(_url(ob, 'node004', base + '/boot/one_time/attr/BootSource'),
                    json={'data': SRC + 'Network'}, timeout=WAIT).status_code == 200
    assert sess.put(_url(ob, 'node004', base + '/boot/attr/BootSource'),
                    json={'data': SRC + 'Disk'}, timeout=WAIT).status_code == 200
    assert sess.put(_url(ob, 'node004', base + '/boot/attr/BootSource'),
                    json={'data': SRC + 'Tape'}, timeout=WAIT).status_code == 400
    node = ob.control.node('node004')
    assert (node['one_time_enabled'], node['one_time_source'], node['boot_source']) == \
        (True, 'Network', 'Disk')
    # Booting consumes the one-time setting, as phosphor does.
    sess.put(_url(ob, 'node004', P + '/state/host0/attr/RequestedHostTransition'), json=HOST_ON,
             timeout=WAIT)
    assert ob.control.node('node004')['one_time_enabled'] is False
    sw = sess.get(_url(ob, 'node004', P + '/software/enumerate'), timeout=WAIT).json()['data']
    assert len(sw[P + '/software/functional']['endpoints']) == 2
    assert sess.post(_url(ob, 'node004', P + '/dump/action/DeleteAll'), json={'data': []},
                     timeout=WAIT).json()['status'] == 'ok'


def test_openbmc_faults(ob):
    sess = _session(ob)
    # node007 starts with refuse, node008 with stall.
    with pytest.raises(requests.ConnectionError):
        sess.get(_url(ob, 'node007', '/'), timeout=WAIT)
    with pytest.raises(requests.exceptions.ReadTimeout):
        sess.post(_url(ob, 'node008', '/login'), json={'data': ['root', '0penBmc']}, timeout=(WAIT, 0.3))
    assert ob.control.set_fault('node005', '503', arg=2) == ['node005']
    codes = [sess.post(_url(ob, 'node005', '/login'), json={'data': ['root', '0penBmc']},
                       timeout=WAIT).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    ob.control.set_fault('node006', 'badjson')
    resp = sess.post(_url(ob, 'node006', '/login'), json={'data': ['root', '0penBmc']}, timeout=WAIT)
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()
    ob.control.set_fault('node006', 'reset')
    # Head and half the body arrive, then the RST: requests reports a broken body (urllib3 1.26
    # only checks the length when asked, as common/rest.py does).
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        resp = sess.post(_url(ob, 'node006', '/login'), json={'data': ['root', '0penBmc']}, timeout=WAIT,
                         stream=True)
        resp.raw.enforce_content_length = True
        resp.content  # noqa: B018 - reading the body is the point
    ob.control.set_fault('node006', '401')
    assert sess.post(_url(ob, 'node006', '/login'), json={'data': ['root', '0penBmc']},
                     timeout=WAIT).status_code == 401
    ob.control.set_fault('node[005-006]', 'stuck')
    sess.auth = ('root', '0penBmc')
    sess.put(_url(ob, 'node005', P + '/state/host0/attr/RequestedHostTransition'), json=HOST_ON,
             timeout=WAIT)
    assert _state(sess, ob, 'node005') == ('Off', 'Off')
    ob.control.set_fault('node007', None)
    assert sess.get(_url(ob, 'node007', P + '/state/enumerate'), timeout=WAIT).status_code == 200
    ob.control.reset()
    assert ob.control.node('node007')['fault'] == {'name': 'refuse', 'arg': None}
    with pytest.raises(FleetError):
        ob.control.set_fault('node099', 'refuse')


def test_stall_tcp_never_handshakes(ob):
    ob.control.set_fault('node001', 'stall_tcp')
    ctx = ssl.create_default_context(cafile=ob.ca_path)
    with socket.create_connection(('127.60.0.1', ob.port), timeout=0.3) as raw:
        with pytest.raises((socket.timeout, TimeoutError)):
            ctx.wrap_socket(raw, server_hostname='127.60.0.1')


def test_delay_and_slow():
    with Fleet(nodes=2, protocol='openbmc', base='127.62.0.1', delay=0.3,
               faults='node002=slow=0.3') as fleet:
        sess = _session(fleet)
        sess.auth = ('root', '0penBmc')
        sess.put(_url(fleet, 'node001', P + '/state/host0/attr/RequestedHostTransition'), json=HOST_ON,
                 timeout=WAIT)
        assert _state(sess, fleet, 'node001') == ('Off', 'Off')
        assert fleet.control.node('node001')['pending'] == 'on'
        _wait_for(lambda: _state(sess, fleet, 'node001') == ('On', 'Running'))
        sess.put(_url(fleet, 'node001', P + '/state/bmc0/attr/RequestedBMCTransition'), json=BMC_REBOOT,
                 timeout=WAIT)
        assert fleet.control.node('node001')['bmc_state'] == 'NotReady'
        _wait_for(lambda: fleet.control.node('node001')['bmc_state'] == 'Ready')
        # slow=0.3 holds every answer: a client that waits less gets nothing (however
        # loaded the machine, the fleet never answers earlier), one that waits longer gets it
        with pytest.raises(requests.exceptions.ReadTimeout):
            sess.get(_url(fleet, 'node002', P + '/state/enumerate'), timeout=(WAIT, 0.05))
        assert sess.get(_url(fleet, 'node002', P + '/state/enumerate'), timeout=WAIT).status_code == 200
        assert fleet.control.node('node002')['requests'] == 2
    assert fleet.proc.returncode == 0


# -- Redfish dialect ---------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def rfleet():
    with Fleet(nodes=8, protocol='redfish', base='127.61.0.1') as fleet:
        yield fleet


@pytest.fixture
def rf(rfleet):
    rfleet.control.reset()
    return rfleet


def _rf_login(fleet, node, password='0penBmc'):
    sess = _session(fleet)
    resp = sess.post(_url(fleet, node, '/redfish/v1/SessionService/Sessions'),
                     json={'UserName': 'root', 'Password': password}, timeout=WAIT)
    if resp.status_code == 201:
        sess.headers['X-Auth-Token'] = resp.headers['X-Auth-Token']
    return sess, resp


def test_redfish_session_life(rf):
    sess = _session(rf)
    root = sess.get(_url(rf, 'node001', '/redfish/v1'), timeout=WAIT).json()
    assert root['SessionService'] == {'@odata.id': '/redfish/v1/SessionService'}
    assert sess.get(_url(rf, 'node001', '/redfish/v1/Systems'), timeout=WAIT).status_code == 401
    sess, resp = _rf_login(rf, 'node001')
    assert resp.status_code == 201
    location = resp.headers['Location']
    assert resp.json()['@odata.id'] == location
    assert location.startswith('/redfish/v1/SessionService/Sessions/')
    members = sess.get(_url(rf, 'node001', '/redfish/v1/Systems'), timeout=WAIT).json()['Members']
    assert members == [{'@odata.id': '/redfish/v1/Systems/system'}]
    assert rf.control.node('node001')['open_sessions'] == 1
    assert sess.delete(_url(rf, 'node001', location), timeout=WAIT).status_code == 204
    node = rf.control.node('node001')
    assert (node['logins'], node['logouts'], node['open_sessions']) == (1, 1, 0)
    _, bad = _rf_login(rf, 'node001', password='nope')
    assert bad.status_code == 401
    err = bad.json()['error']
    assert err['code'] == 'Base.1.8.GeneralError'
    assert err['@Message.ExtendedInfo'][0]['Message'] == 'Invalid username or password'


def test_redfish_power_and_boot(rf):
    sess, _ = _rf_login(rf, 'node002')
    system = sess.get(_url(rf, 'node002', '/redfish/v1/Systems/system'), timeout=WAIT).json()
    assert system['PowerState'] == 'Off'
    action = system['Actions']['#ComputerSystem.Reset']
    assert 'ForceOn' in action['ResetType@Redfish.AllowableValues']
    resp = sess.post(_url(rf, 'node002', action['target']), json={'ResetType': 'ForceOn'}, timeout=WAIT)
    assert resp.status_code == 200 and 'error' not in resp.json()
    chassis = sess.get(_url(rf, 'node002', '/redfish/v1/Chassis/chassis'), timeout=WAIT).json()
    assert chassis['PowerState'] == 'On'
    assert sess.post(_url(rf, 'node002', action['target']), json={'ResetType': 'Bogus'},
                     timeout=WAIT).status_code == 400
    patch = {'Boot': {'BootSourceOverrideEnabled': 'Once', 'BootSourceOverrideTarget': 'Pxe'}}
    assert sess.patch(_url(rf, 'node002', '/redfish/v1/Systems/system'), json=patch,
                      timeout=WAIT).status_code == 200
    bad = sess.patch(_url(rf, 'node002', '/redfish/v1/Systems/system'),
                     json={'Boot': {'BootSourceOverrideTarget': 'Tape'}}, timeout=WAIT)
    assert bad.status_code == 400 and 'Tape' in bad.json()['error']['@Message.ExtendedInfo'][0]['Message']
    boot = sess.get(_url(rf, 'node002', '/redfish/v1/Systems/system'), timeout=WAIT).json()['Boot']
    assert (boot['BootSourceOverrideEnabled'], boot['BootSourceOverrideTarget']) == ('Once', 'Pxe')
    sess.post(_url(rf, 'node002', action['target']), json={'ResetType': 'ForceRestart'}, timeout=WAIT)
    boot = sess.get(_url(rf, 'node002', '/redfish/v1/Systems/system'), timeout=WAIT).json()['Boot']
    assert boot['BootSourceOverrideEnabled'] == 'Disabled'
    manager = sess.get(_url(rf, 'node002', '/redfish/v1/Managers/bmc'), timeout=WAIT).json()
    assert manager['PowerState'] == 'On'
    assert sess.post(_url(rf, 'node002', manager['Actions']['#Manager.Reset']['target']),
                     json={'ResetType': 'ForceRestart'}, timeout=WAIT).status_code == 200
    # A BMC reboot ends every session.
    assert sess.get(_url(rf, 'node002', '/redfish/v1/Systems/system'), timeout=WAIT).status_code == 401


def test_redfish_basic_only_actioninfo_204():
    with Fleet(nodes=2, protocol='redfish', base='127.63.0.1', no_session_service=True,
               redfish_reply='204', redfish_allowable='actioninfo', password_style='pernode') as fleet:
        info = fleet.nodeinfo['node002']
        assert info['password'] == '0penBmc-node002'
        sess = _session(fleet)
        assert sess.get(_url(fleet, 'node002', '/redfish/v1/SessionService'),
                        timeout=WAIT).status_code == 404
        assert 'SessionService' not in sess.get(_url(fleet, 'node002', '/redfish/v1'),
                                                timeout=WAIT).json()
        sess.auth = (info['username'], info['password'])
        system = sess.get(_url(fleet, 'node002', '/redfish/v1/Systems/system'), timeout=WAIT).json()
        action = system['Actions']['#ComputerSystem.Reset']
        assert 'ResetType@Redfish.AllowableValues' not in action
        info_doc = sess.get(_url(fleet, 'node002', action['@Redfish.ActionInfo']), timeout=WAIT).json()
        assert 'ForceOff' in info_doc['Parameters'][0]['AllowableValues']
        resp = sess.post(_url(fleet, 'node002', action['target']), json={'ResetType': 'On'}, timeout=WAIT)
        assert resp.status_code == 204 and resp.content == b''
        assert fleet.control.node('node002')['redfish_power'] == 'On'
        with open(os.path.join(fleet.tables_dir, 'openbmc.csv'), encoding='utf-8') as fh:
            assert '"node002","%s",,,"root","0penBmc-node002",,' % info['bmc'] in fh.read().splitlines()


def test_fleet_reports_bind_failure(obmc):
    with pytest.raises(FleetError, match='cannot listen'):
        Fleet(nodes=1, protocol='openbmc', base='127.60.0.1', port=obmc.port, ready_timeout=WAIT).start()


def test_two_fleets_on_the_same_addresses_take_two_free_ports(obmc):
    # what two test runs on one host do: same bases, each fleet its own port
    with Fleet(nodes=8, protocol='openbmc', base='127.60.0.1', ready_timeout=WAIT) as twin:
        assert twin.port != obmc.port
        assert twin.info['port'] == twin.port
        assert twin.nodeinfo['node001']['bmc'] == '127.60.0.1:%d' % twin.port
        assert twin.address('node007') == '127.60.0.7:%d' % twin.port
    # while the fleet lives its port is held even on addresses none of its BMCs listen on
    # (node007 is ``refuse``): nothing else can take it on the wildcard address
    with socket.socket() as other:
        with pytest.raises(OSError):
            other.bind(('0.0.0.0', obmc.port))


def test_a_fleet_skips_a_claimed_port_another_process_listens_on(obmc, monkeypatch):
    # the first port the fleet claims is busy at one of its BMC addresses: it gives it back and
    # takes another (run in-process so the claim can be steered)
    from sim import fleet as fleet_mod
    options = fleet_mod.build_parser().parse_args(['--nodes', '2', '--base', '127.64.0.1', '--port', '0'])
    with socket.socket() as busy:
        busy.bind(('127.64.0.2', 0))
        busy.listen(1)
        taken = busy.getsockname()[1]
        sim = fleet_mod.SimFleet(options)
        claims = []
        real_claim = sim.claim_port

        def claim():
            port = real_claim()
            if not claims:
                sim.anchor.close()
                port = taken
                sim.anchor = socket.socket()
            claims.append(port)
            return port
        monkeypatch.setattr(sim, 'claim_port', claim)
        try:
            sim.start()
            assert claims[0] == taken and len(claims) == 2
            assert {b.port for b in sim.bmcs} == {claims[1]} and claims[1] != taken
        finally:
            sim.close()


@pytest.mark.parametrize('fault, arg, status, check', [
    ('403', None, 403, lambda r: r.json()['message'] == '403 Forbidden'),
    ('500', None, 500, lambda r: r.json()['status'] == 'error'),
    ('empty', None, 200, lambda r: r.content == b''),
    ('oversize', 300000, 200, lambda r: len(r.content) == 300000 and r.json()['status'] == 'ok'),
])
def test_openbmc_answer_faults(ob, fault, arg, status, check):
    ob.control.set_fault('node003', fault, arg=arg)
    resp = _session(ob).post(_url(ob, 'node003', '/login'), json={'data': ['root', '0penBmc']},
                             timeout=WAIT)
    assert resp.status_code == status
    assert check(resp)


def test_openbmc_inventory_sensors_software_served_sorted_and_per_node(ob):
    """The rinv/rvitals trees (docs/COMMANDS.md "Simulated BMC data"): sorted, indented replies
    as phosphor-rest-server writes them, values that differ per node, and the faults apply."""
    sess = _session(ob)
    sess.auth = ('root', '0penBmc')
    bodies = {}
    for node in ('node001', 'node002', 'node003'):
        for path in ('/inventory/enumerate', '/inventory/system', '/sensors/enumerate', '/software/enumerate',
                     '/inventory/system/chassis/motherboard/enumerate'):
            resp = sess.get(_url(ob, node, P + path), timeout=WAIT)
            assert resp.status_code == 200, (node, path)
            text = resp.text
            assert text.startswith('{\n  "data": ')
            data = json.loads(text)['data']
            assert list(data) == sorted(data)
            assert all(list(v) == sorted(v) for v in data.values() if isinstance(v, dict))
            bodies[node, path] = data
    assert bodies['node001', '/inventory/system']['SerialNumber'] != bodies['node002', '/inventory/system'][
        'SerialNumber']
    ambient = P + '/sensors/temperature/ambient'
    assert bodies['node001', '/sensors/enumerate'][ambient]['Value'] != \
        bodies['node002', '/sensors/enumerate'][ambient]['Value']
    assert P + '/sensors/altitude/altitude' in bodies['node002', '/sensors/enumerate']
    assert P + '/sensors/altitude/altitude' not in bodies['node001', '/sensors/enumerate']
    board = bodies['node003', '/inventory/system/chassis/motherboard/enumerate']
    assert board[P + '/inventory/system/chassis/motherboard/dimm12']['Present'] is False
    functional = bodies['node001', '/software/enumerate'][P + '/software/functional']['endpoints']
    assert functional == [P + '/software/221d9020', P + '/software/3f07cb6f']
    ob.control.set_node('node001', pending_firmware=True)
    assert P + '/software/7ad96a41' in sess.get(_url(ob, 'node001', P + '/software/enumerate'),
                                                timeout=WAIT).json()['data']
    # A cached tree still goes through the faults.
    for fault, check in (('badjson', lambda r: r.status_code == 200 and r.text.startswith('{')
                          and not r.text.endswith('}')),
                         ('500', lambda r: r.status_code == 500),
                         ('oversize', lambda r: len(r.content) == 400000 and r.json()['status'] == 'ok')):
        ob.control.set_fault('node002', fault, arg=400000 if fault == 'oversize' else None)
        assert check(sess.get(_url(ob, 'node002', P + '/sensors/enumerate'), timeout=WAIT)), fault
    ob.control.set_fault('node002', None)
    assert sess.get(_url(ob, 'node002', P + '/sensors/enumerate'), timeout=WAIT).json()['data'] == \
        bodies['node002', '/sensors/enumerate']
    assert sess.get(_url(ob, 'node002', P + '/sensors/nothing/enumerate'), timeout=WAIT).status_code == 404


# -- one fleet in several processes (--shard) ---------------------------------------------------------

def test_shards_cover_the_fleet_once_in_order():
    from sim.fleet import parse_shard, shard_span  # pylint: disable=import-outside-toplevel
    spans = [shard_span((i, 3), 10) for i in (1, 2, 3)]
    assert spans == [(1, 3), (4, 6), (7, 10)]
    assert shard_span(None, 10) == (1, 10) and parse_shard('2/4') == (2, 4) and parse_shard('') is None
    for bad in ('0/2', '3/2', 'x', '1/2/3'):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_a_sharded_fleet_is_one_fleet_to_its_clients(tmp_path):
    from sim.control import ShardedFleet  # pylint: disable=import-outside-toplevel
    with ShardedFleet(nodes=5, shards=2, tables_dir=str(tmp_path), port=8443, protocol='openbmc',
                      base='127.63.0.1') as fleet:
        assert fleet.nodes == ['node%03d' % i for i in range(1, 6)]
        assert [fleet.nodeinfo[n]['bmcip'] for n in ('node001', 'node005')] == ['127.63.0.1:8443', '127.63.0.5:8443']
        with open(tmp_path / 'nodelist.csv', encoding='utf-8') as fh:
            rows = fh.read().splitlines()
        assert rows[0].startswith('#node,') and [r.split(',')[0] for r in rows[1:]] == \
            ['"node%03d"' % i for i in range(1, 6)]
        assert stat.S_IMODE(os.stat(tmp_path / 'passwd.csv').st_mode) == 0o600
        with open(fleet.ca_path, encoding='ascii') as fh:
            assert fh.read().count('BEGIN CERTIFICATE') == 2
        session = requests.Session()
        for node in ('node001', 'node004'):  # one on each shard, each with its own certificate
            reply = session.post('https://%s/login' % fleet.nodeinfo[node]['bmcip'], json={'data': ['root', '0penBmc']},
                                 verify=fleet.ca_path, timeout=WAIT)  # the merged CA bundle
            assert reply.status_code == 200
        stats = fleet.control.stats()
        assert stats['nodes'] == 5 and stats['logins'] == 2 and stats['power_states'] == {'Off': 5}
        fleet.control.reset()
        assert fleet.control.stats()['logins'] == 0
