"""Links a BMC hands back are followed only on the BMC's own origin (docs/DESIGN.md, hostile BMCs).

``resolve_link`` is the one function every reference goes through; the REST funnel checks
every URL once more. The table says which references are refused and which keep working;
the client tests show that a refused link sends nothing anywhere and gives one line.
"""

import json
import re
import urllib.parse

import pytest
import requests
import requests_mock as requests_mock_lib

from common import exceptions as exc
from common.rest import resolve_link
from common.task import Task
from conftest import fixture_json
from hwctl.executor.redfish_power import RedfishPowerExecutor
from hwctl.executor.redfish_setboot import RedfishSetbootExecutor
from hwctl.openbmc_client import OpenBMCClient
from hwctl.redfish_client import RedfishClient

ORIGIN = 'https://10.1.1.1'
AWAY = '127.231.0.2'

#: references a hostile BMC may hand back: every one must be refused
HOSTILE = [
    '@%s:8443/redfish/v1/Systems/system' % AWAY,
    '@%s/redfish/v1/Systems/system' % AWAY,
    'root:pw@%s:8443/redfish/v1' % AWAY,
    '//%s/redfish/v1/Systems/system' % AWAY,
    '//%s:8443/redfish/v1/Systems/system' % AWAY,
    '///%s/redfish/v1' % AWAY,
    'https://%s/redfish/v1/Systems/system' % AWAY,
    'HTTPS://%s/redfish/v1/Systems/system' % AWAY,
    'https://10.1.1.1:8443/redfish/v1/Systems/system',
    'https://10.1.1.1:0443x/redfish/v1',
    'http://10.1.1.1/redfish/v1/Systems/system',
    'ftp://10.1.1.1/redfish/v1',
    'javascript:alert(1)',
    '\\\\%s\\redfish\\v1' % AWAY,
    '/\\%s/redfish/v1' % AWAY,
    '%%40%s:8443/redfish/v1/Systems/system' % AWAY,
    '%%40%s/redfish/v1' % AWAY,
    '/redfish/v1/Systems/system\r\nHost: %s' % AWAY,
    '/redfish/v1/Systems/system\n',
    '/redfish/v1/Systems/ system',
    ' /redfish/v1/Systems/system',
    '\t/redfish/v1',
    '/redfish/v1/Systems/\x00system',
    '/redfish/v1/Systems/s\u0443stem',
    'https://root:pw@10.1.1.1/redfish/v1/Systems/system',
    'https://root@10.1.1.1/redfish/v1/Systems/system',
    'https://10.1.1.1@%s/redfish/v1' % AWAY,
    'https://10.1.1.1%%40%s/redfish/v1' % AWAY,
    'https://10.1.1.1:443@%s:8443/redfish/v1' % AWAY,
    '',
    '/' + 'a' * 3000,
]

#: harmless references: (reference, base it came with, the URL it must resolve to)
HARMLESS = [
    ('/redfish/v1/Systems/system', None, ORIGIN + '/redfish/v1/Systems/system'),
    ('/redfish/v1/Systems/system?$expand=.', None, ORIGIN + '/redfish/v1/Systems/system?$expand=.'),
    ('/redfish/v1/Systems/system#frag', None, ORIGIN + '/redfish/v1/Systems/system'),
    ('/redfish/v1/Systems/a%40b', None, ORIGIN + '/redfish/v1/Systems/a%40b'),
    ('Systems/system', ORIGIN + '/redfish/v1/', ORIGIN + '/redfish/v1/Systems/system'),
    ('system', ORIGIN + '/redfish/v1/Systems/1', ORIGIN + '/redfish/v1/Systems/system'),
    ('../Managers/bmc', ORIGIN + '/redfish/v1/Systems/1', ORIGIN + '/redfish/v1/Managers/bmc'),
    ('https://10.1.1.1/redfish/v1/Systems/1', None, ORIGIN + '/redfish/v1/Systems/1'),
    ('https://10.1.1.1:443/redfish/v1/Systems/1', None, ORIGIN + '/redfish/v1/Systems/1'),
    ('HTTPS://10.1.1.1/redfish/v1', None, ORIGIN + '/redfish/v1'),
]


@pytest.mark.parametrize('ref', HOSTILE)
def test_a_hostile_reference_is_refused(ref):
    with pytest.raises(ValueError):
        resolve_link(ORIGIN, ref, ORIGIN + '/redfish/v1/Systems/system')


@pytest.mark.parametrize('ref, base, url', HARMLESS)
def test_a_harmless_reference_keeps_working(ref, base, url):
    assert resolve_link(ORIGIN, ref, base) == url


@pytest.mark.parametrize('origin, ref, url', [
    ('https://10.1.1.1:8443', 'https://10.1.1.1:8443/redfish/v1', 'https://10.1.1.1:8443/redfish/v1'),
    ('https://10.1.1.1:8443', '/redfish/v1', 'https://10.1.1.1:8443/redfish/v1'),
    ('https://[fd00::1]', 'https://[FD00::1]/redfish/v1', 'https://[fd00::1]/redfish/v1'),
    ('https://[fd00::1]:8443', '/redfish/v1', 'https://[fd00::1]:8443/redfish/v1'),
])
def test_origins_with_a_port_or_ipv6(origin, ref, url):
    assert resolve_link(origin, ref) == url


@pytest.mark.parametrize('origin, ref', [
    ('https://10.1.1.1:8443', 'https://10.1.1.1/redfish/v1'),
    ('https://[fd00::1]', 'https://[fd00::2]/redfish/v1'),
    ('https://[fd00::1]', '@[fd00::2]/redfish/v1'),
])
def test_another_port_or_address_of_an_origin_with_a_port_or_ipv6_is_refused(origin, ref):
    with pytest.raises(ValueError):
        resolve_link(origin, ref)


# -- clients: a refused link sends nothing, and the node gets one line -----------------------------

HOST = '10.1.1.1'
ROOT = '/redfish/v1'
SESSIONS = ROOT + '/SessionService/Sessions'
SESSION = SESSIONS + '/S1'
SYSTEM = ROOT + '/Systems/system'
RESET = SYSTEM + '/Actions/ComputerSystem.Reset'
NODEINFO = {'n1': {'bmc': HOST, 'bmcip': HOST, 'username': 'root', 'password': 'pw'}}
EVIL = '@%s:8443/redfish/v1/Systems/system' % AWAY


def outside(what, ref):
    return 'Error: Received wrong format response: %s "%s" points outside %s' % (what, ref, ORIGIN)


@pytest.fixture
def bmc(requests_mock):
    """A bmcweb-like BMC at HOST; any other URL is answered too (and recorded), so a leak shows."""
    requests_mock.register_uri(requests_mock_lib.ANY, re.compile('.*'), status_code=200, json={})
    requests_mock.post(ORIGIN + SESSIONS, status_code=201, json={'@odata.id': SESSION},
                       headers={'X-Auth-Token': 'tok', 'Location': SESSION})
    requests_mock.delete(ORIGIN + SESSION, status_code=204)
    system = fixture_json('redfish', 'system_inline')
    system['PowerState'] = 'On'
    requests_mock.get(ORIGIN + SYSTEM, json=system)
    requests_mock.post(ORIGIN + RESET, status_code=204)
    requests_mock.patch(ORIGIN + SYSTEM, status_code=204)
    return requests_mock


def hosts(mock):
    return {urllib.parse.urlsplit(r.url).hostname for r in mock.request_history}


def sent(mock):
    return [(r.method, urllib.parse.urlsplit(r.url).path) for r in mock.request_history]


def run(executor_class, make_ctx, messager, op, *args):
    ctx = make_ctx()
    Task(executor_class(ctx, messager), NODEINFO, messager, ctx).run(op, *args)
    return messager.lines()


def redirect(mock, method, path, location, status=307):
    mock.register_uri(method, ORIGIN + path, status_code=status, headers={'Location': location})


@pytest.mark.parametrize('method, path, executor, op, args', [
    ('GET', SYSTEM, RedfishPowerExecutor, 'get_state', ()),
    ('POST', RESET, RedfishPowerExecutor, 'set_state', ('on',)),
    ('PATCH', SYSTEM, RedfishSetbootExecutor, 'set_state', ('net', False)),
])
@pytest.mark.parametrize('location', [EVIL, '//%s:8443/redfish/v1' % AWAY, 'https://%s/redfish/v1' % AWAY,
                                      'https://10.1.1.1:8443/redfish/v1', 'http://10.1.1.1/redfish/v1'])
def test_a_redirect_off_the_bmc_is_refused_before_anything_is_sent(bmc, make_ctx, messager, method, path,
                                                                    executor, op, args, location):
    redirect(bmc, method, path, location)
    assert run(executor, make_ctx, messager, op, *args) == {'n1': outside('Location', location)}
    assert hosts(bmc) == {HOST}
    # the session is still logged out, on the BMC
    assert sent(bmc)[-1] == ('DELETE', SESSION)


def test_a_redirected_logout_is_refused_and_nothing_leaves_the_bmc(bmc, make_ctx, messager):
    redirect(bmc, 'DELETE', SESSION, EVIL)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': 'on'}
    assert hosts(bmc) == {HOST}
    assert sent(bmc) == [('POST', SESSIONS), ('GET', SYSTEM), ('DELETE', SESSION)]


def test_a_redirect_on_the_bmc_is_followed(bmc, make_ctx, messager):
    redirect(bmc, 'GET', SYSTEM, 'https://10.1.1.1:443/redfish/v1/Systems/1')
    system = fixture_json('redfish', 'system_inline')
    system['PowerState'] = 'Off'
    bmc.get(ORIGIN + ROOT + '/Systems/1', json=system)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': 'off'}
    assert ('GET', ROOT + '/Systems/1') in sent(bmc)


def test_a_session_location_off_the_bmc_fails_the_login_and_no_delete_goes_anywhere(bmc, make_ctx, messager):
    bmc.post(ORIGIN + SESSIONS, status_code=201, json={'@odata.id': SESSION},
             headers={'X-Auth-Token': 'tok', 'Location': EVIL})
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': outside('Location', EVIL)}
    assert sent(bmc) == [('POST', SESSIONS)]


def test_a_session_odata_id_off_the_bmc_fails_the_login(bmc, make_ctx, messager):
    bmc.post(ORIGIN + SESSIONS, status_code=201, json={'@odata.id': EVIL}, headers={'X-Auth-Token': 'tok'})
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': outside('@odata.id', EVIL)}
    assert hosts(bmc) == {HOST}


def test_an_action_target_off_the_bmc_is_refused(bmc, make_ctx, messager):
    system = fixture_json('redfish', 'system_inline')
    system['PowerState'] = 'On'
    system['Actions']['#ComputerSystem.Reset']['target'] = EVIL
    bmc.get(ORIGIN + SYSTEM, json=system)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'reboot', 'reset') == {'n1': outside('target', EVIL)}
    assert hosts(bmc) == {HOST}
    assert [m for m, _ in sent(bmc)].count('POST') == 1


def test_an_action_info_off_the_bmc_is_refused(bmc, make_ctx, messager):
    system = fixture_json('redfish', 'system_actioninfo')
    system['PowerState'] = 'On'
    system['Actions']['#ComputerSystem.Reset']['@Redfish.ActionInfo'] = EVIL
    bmc.get(ORIGIN + SYSTEM, json=system)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'reboot', 'reset') == {
        'n1': outside('@Redfish.ActionInfo', EVIL)}
    assert hosts(bmc) == {HOST}


def test_a_collection_member_off_the_bmc_is_refused(bmc, make_ctx, messager):
    bmc.get(ORIGIN + SYSTEM, status_code=404, json={})
    bmc.get(ORIGIN + ROOT + '/Systems', json={'Members': [{'@odata.id': EVIL}]})
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': outside('@odata.id', EVIL)}
    assert hosts(bmc) == {HOST}


def test_a_session_collection_link_off_the_bmc_is_refused(bmc, make_ctx, messager):
    bmc.post(ORIGIN + SESSIONS, status_code=404, json={})
    bmc.get(ORIGIN + ROOT, json={'SessionService': {'@odata.id': ROOT + '/SessionService'},
                                 'Links': {'Sessions': {'@odata.id': EVIL}}})
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': outside('@odata.id', EVIL)}
    assert sent(bmc) == [('POST', SESSIONS), ('GET', ROOT)]


@pytest.mark.parametrize('client_class', [RedfishClient, OpenBMCClient])
@pytest.mark.parametrize('method', ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
def test_the_funnel_refuses_any_url_off_the_bmc_whatever_the_call_site(bmc, make_ctx, client_class, method):
    """A call site that forgot ``resolve`` still cannot send anything off the BMC."""
    rest = client_class('n1', HOST, 'root', 'pw', ctx=make_ctx(), session=requests.Session())
    for ref in (EVIL, 'https://%s/x' % AWAY, '//%s/x' % AWAY):
        with pytest.raises(exc.BmcBadResponse) as raised:
            rest._request(method, ref, {'a': 1} if method != 'GET' else None)
        assert str(raised.value) == 'Received wrong format response: Link "%s" points outside %s' % (ref, ORIGIN)
    assert bmc.request_history == []


def test_a_link_that_is_not_a_string_is_a_bad_response(bmc, make_ctx, messager):
    bmc.post(ORIGIN + SESSIONS, status_code=201, json={'@odata.id': SESSION},
             headers={'X-Auth-Token': 'tok', 'Location': SESSION})
    bmc.get(ORIGIN + SYSTEM, status_code=404, json={})
    bmc.get(ORIGIN + ROOT + '/Systems', json={'Members': [{'@odata.id': {'x': 1}}]})
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {
        'n1': 'Error: Received wrong format response: @odata.id %s is not a URI' % json.dumps({'x': 1})}
