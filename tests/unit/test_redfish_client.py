"""RedfishClient and the Redfish executors against requests-mock: what is sent, what is printed."""

import dataclasses
import json
import logging
import re
import urllib.parse

import pytest
import requests
import requests_mock as requests_mock_lib

from common import exceptions as exc
from common.task import Task
from conftest import db_frames, fixture_json, sent
from hwctl.executor.redfish_power import RedfishPowerExecutor, system_power_word
from hwctl.executor.redfish_setboot import RedfishSetbootExecutor
from hwctl.redfish_client import FleetShape, RedfishClient

HOST = '127.0.0.2'
BASE = 'https://%s' % HOST
ROOT = '/redfish/v1'
SESSIONS = ROOT + '/SessionService/Sessions'
SESSION = SESSIONS + '/WJ4Xr5YxkU'
SYSTEM = ROOT + '/Systems/system'
RESET = SYSTEM + '/Actions/ComputerSystem.Reset'
MANAGER = ROOT + '/Managers/bmc'
MANAGER_RESET = MANAGER + '/Actions/Manager.Reset'
PASSWORD = 's3cret-Pa55'
TOKEN = 'tok3n-8d1f0c9e2b'
NODEINFO = {'n1': {'bmc': HOST, 'bmcip': HOST, 'username': 'root', 'password': PASSWORD}}


def redfish(name):
    return fixture_json('redfish', name)


def refusal_400(message):
    """A Redfish 400 error body whose first ExtendedInfo message is ``message``."""
    body = redfish('error_400')
    body['error']['@Message.ExtendedInfo'][0]['Message'] = message
    return body


def system_with(style='inline', power_state='On', allowed=None, boot=None):
    """A system resource; ``style`` inline or actioninfo; ``allowed`` replaces the reset types."""
    system = redfish('system_inline' if style == 'inline' else 'system_actioninfo')
    system['PowerState'] = power_state
    action = system['Actions']['#ComputerSystem.Reset']
    if allowed is not None and style == 'inline':
        action['ResetType@Redfish.AllowableValues'] = list(allowed)
    if style == 'none':
        action.pop('ResetType@Redfish.AllowableValues', None)
        action.pop('@Redfish.ActionInfo', None)
    if boot is not None:
        system['Boot'] = boot
    return system


def not_in_list(value, action='ComputerSystem.Reset'):
    """bmcweb's 400 body for a ResetType it does not offer (Base ActionParameterValueNotInList)."""
    message = ("The value '%s' for the parameter ResetType in the action %s is not in the list of "
               "acceptable values." % (value, action))
    return {'error': {'code': 'Base.1.16.0.ActionParameterValueNotInList', 'message': message,
                      '@Message.ExtendedInfo': [{
                          '@odata.type': '#Message.v1_1_1.Message', 'Message': message,
                          'MessageArgs': [value, 'ResetType', action],
                          'MessageId': 'Base.1.16.0.ActionParameterValueNotInList', 'MessageSeverity': 'Warning',
                          'Resolution': 'Choose a value from the enumeration list that the implementation can '
                                        'support and resubmit the request if the operation failed.'}]}}


def reset_reply(reply, refuse=(), status=400, action='ComputerSystem.Reset'):
    """A Reset POST's answer: ``status`` and bmcweb's refusal for a type in ``refuse``, else success."""
    def answer(request, context):
        reset_type = request.json().get('ResetType')
        if reset_type in refuse:
            context.status_code = status
            return json.dumps(not_in_list(reset_type, action))
        context.status_code = 204 if reply == '204' else 200
        return '' if reply == '204' else json.dumps(redfish('success'))
    return answer


def serve(mock, system=None, reply='204', action_info=None, manager=None, manager_allowed=None,
          refuse=(), refuse_status=400, manager_refuse=()):
    """Answer as bmcweb does: sessions, one system, one manager; actions 204 or 200 with a body.

    ``refuse`` (``manager_refuse``) are ResetTypes the system's (manager's) Reset POST
    answers with ``refuse_status`` and bmcweb's ActionParameterValueNotInList body.
    """
    mock.post(BASE + SESSIONS, status_code=201, json=redfish('session_created'),
              headers={'X-Auth-Token': TOKEN, 'Location': SESSION})
    mock.delete(BASE + SESSION, status_code=204)
    mock.get(BASE + ROOT + '/Systems', json=redfish('systems'))
    system = system if system is not None else system_with()
    mock.get(BASE + SYSTEM, json=lambda request, context: system)
    info = redfish('system_reset_action_info')
    if action_info is not None:
        info['Parameters'][0]['AllowableValues'] = list(action_info)
    mock.get(BASE + SYSTEM + '/ResetActionInfo', json=info)
    mock.get(BASE + ROOT + '/Managers', json=redfish('managers'))
    mock.get(BASE + MANAGER, json=manager if manager is not None else redfish('manager'))
    minfo = redfish('manager_reset_action_info')
    if manager_allowed is not None:
        minfo['Parameters'][0]['AllowableValues'] = list(manager_allowed)
    mock.get(BASE + MANAGER + '/ResetActionInfo', json=minfo)
    mock.post(BASE + RESET, text=reset_reply(reply, refuse, refuse_status))
    mock.post(BASE + MANAGER_RESET, text=reset_reply(reply, manager_refuse, refuse_status, 'Manager.Reset'))
    mock.patch(BASE + SYSTEM, text=patch_reply(system, reply))
    return mock


def patch_reply(system, reply):
    """A Boot PATCH that the BMC keeps (the system's Boot changes), answered 204 or 200 with a body."""
    def answer(request, context):
        system.setdefault('Boot', {}).update(request.json().get('Boot', {}))
        context.status_code = 204 if reply == '204' else 200
        return '' if reply == '204' else json.dumps(redfish('success'))
    return answer


def run(executor_class, make_ctx, messager, op, *args, **envs):
    ctx = make_ctx(**envs)
    Task(executor_class(ctx, messager), NODEINFO, messager, ctx).run(op, *args)
    return messager.lines()


def client(make_ctx, **envs):
    return RedfishClient('n1', HOST, 'root', PASSWORD, ctx=make_ctx(**envs), session=requests.Session())


def stateful(mock, path, system, reply='204'):
    """GET ``path`` answers ``system`` as it is now; a Boot PATCH there changes it."""
    mock.get(BASE + path, json=lambda request, context: system)
    mock.patch(BASE + path, text=patch_reply(system, reply))


LOGIN = ('POST', SESSIONS, {'UserName': 'root', 'Password': PASSWORD})
LOGOUT = ('DELETE', SESSION, None)
GET_SYSTEMS = ('GET', ROOT + '/Systems', None)
GET_SYSTEM = ('GET', SYSTEM, None)
GET_INFO = ('GET', SYSTEM + '/ResetActionInfo', None)
#: Where a system not named as bmcweb names it lives (sushy-tools: its uuid).
UUID_PATH = ROOT + '/Systems/0fb9d3f6-0e4a-4b8e-9c6a-3f1a2b7c9d10'
PXE_ONCE = {'Boot': {'BootSourceOverrideEnabled': 'Once', 'BootSourceOverrideTarget': 'Pxe'}}


# --- sessions -------------------------------------------------------------------------

def test_session_token_on_every_request_and_session_deleted(requests_mock, make_ctx):
    serve(requests_mock)
    with client(make_ctx) as rf:
        rf.login()
        assert rf.get_power_state() == 'On'
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, LOGOUT]
    login, *rest = requests_mock.request_history
    assert 'X-Auth-Token' not in login.headers and 'Authorization' not in login.headers
    for request in rest:
        assert request.headers['X-Auth-Token'] == TOKEN
        assert 'Authorization' not in request.headers
        assert request.timeout == (5.0, 10.0)
    assert login.headers['Content-Type'] == 'application/json'


def test_session_location_as_absolute_url_of_the_same_origin_is_deleted_by_path(requests_mock, make_ctx):
    serve(requests_mock)
    requests_mock.post(BASE + SESSIONS, status_code=201, json=redfish('session_created'),
                       headers={'X-Auth-Token': TOKEN, 'Location': BASE + ':443' + SESSION})
    with client(make_ctx) as rf:
        rf.login()
    assert sent(requests_mock) == [LOGIN, LOGOUT]


def test_session_without_location_uses_odata_id(requests_mock, make_ctx):
    serve(requests_mock)
    requests_mock.post(BASE + SESSIONS, status_code=201, json=redfish('session_created'),
                       headers={'X-Auth-Token': TOKEN})
    with client(make_ctx) as rf:
        rf.login()
    assert sent(requests_mock)[-1] == LOGOUT


@pytest.mark.parametrize('status,body', [(401, 'sushy_401'), (404, None), (405, None), (501, None)])
def test_basic_auth_when_service_has_no_session_service(requests_mock, make_ctx, messager, status, body):
    """sushy-tools answers the session POST 401 (its Basic check runs first); others 404/405."""
    serve(requests_mock)
    requests_mock.post(BASE + SESSIONS, status_code=status, json=redfish(body) if body else None)
    requests_mock.get(BASE + ROOT, json=redfish('sushy_root'))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': 'on'}
    assert sent(requests_mock) == [LOGIN, ('GET', ROOT, None), GET_SYSTEM]
    history = requests_mock.request_history
    assert 'Authorization' not in history[1].headers
    for request in history[2:]:
        assert request.headers['Authorization'] == requests.auth._basic_auth_str('root', PASSWORD)
        assert 'X-Auth-Token' not in request.headers


def test_session_collection_elsewhere_is_found_from_the_root(requests_mock, make_ctx):
    serve(requests_mock)
    requests_mock.post(BASE + SESSIONS, status_code=404)
    root = redfish('root')
    root['Links']['Sessions']['@odata.id'] = '/redfish/v1/Sessions'
    requests_mock.get(BASE + ROOT, json=root)
    requests_mock.post(BASE + '/redfish/v1/Sessions', status_code=201, json=redfish('session_created'),
                       headers={'X-Auth-Token': TOKEN, 'Location': SESSION})
    with client(make_ctx) as rf:
        rf.login()
        assert not rf.basic_auth
    assert sent(requests_mock) == [LOGIN, ('GET', ROOT, None), ('POST', '/redfish/v1/Sessions', LOGIN[2]), LOGOUT]


def test_wrong_password_is_an_auth_error_with_the_bmc_message(requests_mock, make_ctx, messager):
    serve(requests_mock)
    requests_mock.post(BASE + SESSIONS, status_code=401, json=redfish('error_401'))
    requests_mock.get(BASE + ROOT, json=redfish('root'))
    lines = run(RedfishPowerExecutor, make_ctx, messager, 'get_state')
    assert lines == {'n1': 'Error: [401] While attempting to establish a connection to '
                           '/redfish/v1/SessionService/Sessions, the service denied access.'}
    assert [m for m, _p, _b in sent(requests_mock)] == ['POST', 'GET']


def test_wrong_password_with_basic_auth(requests_mock, make_ctx, messager):
    serve(requests_mock)
    requests_mock.post(BASE + SESSIONS, status_code=401, json=redfish('sushy_401'))
    requests_mock.get(BASE + ROOT, json=redfish('sushy_root'))
    requests_mock.get(BASE + SYSTEM, status_code=401, json=redfish('sushy_401'))
    lines = run(RedfishPowerExecutor, make_ctx, messager, 'get_state')
    assert lines == {'n1': 'Error: [401] Incorrect username or password'}
    assert [p for _m, p, _b in sent(requests_mock)] == [SESSIONS, ROOT, SYSTEM]


@pytest.mark.parametrize('body,location,deleted', [
    ([1, 2], SESSION, True), ('a session', SESSION, True), ([1, 2], None, False), ('a session', None, False),
    ({'@odata.id': 5}, None, False), ({'@odata.id': {'path': SESSION}}, None, False), (None, None, False)])
def test_session_reply_of_any_shape_never_leaks_the_session(requests_mock, make_ctx, messager, body, location,
                                                            deleted):
    """A token with a body that is not an object: the session is used, and deleted when it can be found."""
    serve(requests_mock)
    headers = {'X-Auth-Token': TOKEN}
    if location:
        headers['Location'] = location
    requests_mock.post(BASE + SESSIONS, status_code=201, headers=headers,
                       **({'json': body} if body is not None else {'text': ''}))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': 'on'}
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM] + ([LOGOUT] if deleted else [])


def test_login_without_token_is_a_bad_response(requests_mock, make_ctx, messager):
    serve(requests_mock)
    requests_mock.post(BASE + SESSIONS, status_code=201, json=redfish('session_created'))
    lines = run(RedfishPowerExecutor, make_ctx, messager, 'get_state')
    assert lines == {'n1': 'Error: Received wrong format response: login reply has no X-Auth-Token header'}


def test_login_refused_connection_is_worded_as_login_failure(requests_mock, make_ctx, messager):
    requests_mock.post(BASE + SESSIONS, exc=requests.exceptions.ConnectionError(
        ConnectionRefusedError(111, 'Connection refused')))
    lines = run(RedfishPowerExecutor, make_ctx, messager, 'get_state')
    assert lines == {'n1': "Error: Login to BMC failed: Can't connect to %s:443 (Connection refused)." % HOST}


def test_logout_failure_does_not_change_the_result(requests_mock, make_ctx, messager):
    serve(requests_mock)
    requests_mock.delete(BASE + SESSION, status_code=500, json=redfish('error_500'))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': 'on'}


# --- status -> exception mapping --------------------------------------------------------

@pytest.mark.parametrize('status,body,error,message', [
    (400, 'error_400', exc.BmcHTTPError, '[400] The parameter ResetType for the action ComputerSystem.Reset '
                                         'is not supported on the target resource.'),
    (401, 'sushy_401', exc.BmcAuthError, '[401] Incorrect username or password'),
    (403, 'error_401', exc.BmcAuthError, '[403] While attempting to establish a connection to '
                                         '/redfish/v1/SessionService/Sessions, the service denied access.'),
    (404, None, exc.BmcHTTPError, '[404] HTTP 404'),
    (500, 'error_500', exc.BmcHTTPError, '[500] The request failed due to an internal service error.  '
                                         'The service is still operational.'),
    (502, None, exc.BmcUnreachable, 'BMC did not respond. Validate BMC configuration and retry the command. '
                                    '(Verify REST server is running on the BMC)'),
    (503, None, exc.BmcHTTPError, '[503] HTTP 503'),
])
def test_status_to_exception(requests_mock, make_ctx, status, body, error, message):
    """On the well-known path; a 404 there sends us to the collection, which answers 404 too."""
    serve(requests_mock)
    for path in (SYSTEM, ROOT + '/Systems'):
        requests_mock.get(BASE + path, status_code=status, json=redfish(body) if body else None)
    with client(make_ctx) as rf:
        rf.login()
        with pytest.raises(error) as raised:
            rf.get_system()
    assert str(raised.value) == message
    assert raised.value.node == 'n1'
    gets = [p for m, p, _b in sent(requests_mock) if m == 'GET']
    assert gets == {503: [SYSTEM] * 3, 404: [SYSTEM, ROOT + '/Systems']}.get(status, [SYSTEM])
    assert sent(requests_mock)[-1] == LOGOUT


@pytest.mark.parametrize('body,detail', [
    ('{"Members": []}', '/redfish/v1/Systems has no members'),
    ('{"Name": "no members"}', '/redfish/v1/Systems has no members'),
    ('[1, 2]', 'GET /redfish/v1/Systems: reply is not a JSON object'),
    ('<html>busy</html>', 'GET https://127.0.0.2/redfish/v1/Systems answered 200 with a body that is not JSON'),
])
def test_bad_collections_are_bad_responses(requests_mock, make_ctx, body, detail):
    serve(requests_mock)
    requests_mock.get(BASE + SYSTEM, status_code=404, json=redfish('error_404'))
    requests_mock.get(BASE + ROOT + '/Systems', text=body)
    with client(make_ctx) as rf:
        rf.login()
        with pytest.raises(exc.BmcBadResponse) as raised:
            rf.get_system()
    assert str(raised.value) == 'Received wrong format response: ' + detail


def test_redirect_of_a_member_is_followed_once(requests_mock, make_ctx):
    """sushy-tools answers 307 for /redfish/v1/Systems/<name>, pointing at the uuid."""
    serve(requests_mock)
    requests_mock.get(BASE + SYSTEM, status_code=404, json=redfish('error_404'))
    systems = redfish('systems')
    systems['Members'][0]['@odata.id'] = ROOT + '/Systems/fake'
    requests_mock.get(BASE + ROOT + '/Systems', json=systems)
    requests_mock.get(BASE + ROOT + '/Systems/fake', status_code=307, headers={'Location': BASE + UUID_PATH})
    stateful(requests_mock, UUID_PATH, system_with())
    with client(make_ctx) as rf:
        rf.login()
        assert rf.get_power_state() == 'On'
        rf.set_boot('Pxe', 'Once')
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, GET_SYSTEMS, ('GET', ROOT + '/Systems/fake', None),
                                   ('GET', UUID_PATH, None), ('PATCH', UUID_PATH, PXE_ONCE), ('GET', UUID_PATH, None),
                                   LOGOUT]


@pytest.mark.parametrize('method', ['GET', 'PATCH'])
def test_redirect_of_the_well_known_path_is_followed(requests_mock, make_ctx, method):
    """sushy-tools with a system named ``system``: 307 to its uuid, for GET and for PATCH alike.

    The path that answered is kept, so the second PATCH goes straight there.
    """
    serve(requests_mock)
    for verb in ('GET', 'PATCH'):
        requests_mock.register_uri(verb, BASE + SYSTEM, status_code=307, headers={'Location': UUID_PATH})
    stateful(requests_mock, UUID_PATH, system_with())
    with client(make_ctx) as rf:
        rf.login()
        if method == 'GET':
            assert rf.get_power_state() == 'On'
        rf.set_boot('Pxe', 'Once')
        rf.set_boot('Pxe', 'Once')
    get = ('GET', UUID_PATH, None)
    head = ([GET_SYSTEM, get, ('PATCH', UUID_PATH, PXE_ONCE)] if method == 'GET'
            else [('PATCH', SYSTEM, PXE_ONCE), ('PATCH', UUID_PATH, PXE_ONCE)])
    assert sent(requests_mock) == [LOGIN] + head + [get, ('PATCH', UUID_PATH, PXE_ONCE), get, LOGOUT]


def move_system(mock, system=None, status=404):
    """The system at ``UUID_PATH`` (an iLO/iDRAC/sushy-tools-like name), ``status`` at bmcweb's paths."""
    system = system if system is not None else system_with()
    system['@odata.id'] = UUID_PATH
    system['Actions']['#ComputerSystem.Reset']['target'] = UUID_PATH + '/Actions/ComputerSystem.Reset'
    for verb in ('GET', 'PATCH'):
        mock.register_uri(verb, BASE + SYSTEM, status_code=status, json=redfish('error_404'))
    systems = redfish('systems')
    systems['Members'][0]['@odata.id'] = UUID_PATH
    mock.get(BASE + ROOT + '/Systems', json=systems)
    stateful(mock, UUID_PATH, system)
    mock.post(BASE + RESET, status_code=status, json=redfish('error_404'))
    mock.post(BASE + UUID_RESET, status_code=204)


UUID_RESET = UUID_PATH + '/Actions/ComputerSystem.Reset'


@pytest.mark.parametrize('status', [404, 405])
def test_system_not_at_the_well_known_path_is_found_in_the_collection(requests_mock, make_ctx, messager, status):
    serve(requests_mock)
    move_system(requests_mock, system_with(power_state='On'), status=status)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': 'on'}
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, GET_SYSTEMS, ('GET', UUID_PATH, None), LOGOUT]


@pytest.mark.parametrize('state,current,reset_type', [('off', 'On', 'ForceOff'), ('on', 'Off', 'ForceOn')])
def test_reset_404_at_the_well_known_target_finds_the_action_in_the_collection(requests_mock, make_ctx, messager,
                                                                               state, current, reset_type):
    """HPE iLO, Dell iDRAC, sushy-tools: the direct POST 404s, the member's own target gets the Reset."""
    serve(requests_mock)
    move_system(requests_mock, system_with(power_state=current))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', state) == {'n1': state}
    assert sent(requests_mock) == [LOGIN, post_reset(reset_type), GET_SYSTEMS, ('GET', UUID_PATH, None),
                                   post_reset(reset_type, UUID_RESET), LOGOUT]


def test_reset_404_then_already_there_sends_no_second_post(requests_mock, make_ctx, messager):
    serve(requests_mock)
    move_system(requests_mock, system_with(power_state='On'))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'on') == {'n1': 'on'}
    assert sent(requests_mock) == [LOGIN, post_reset('ForceOn'), GET_SYSTEMS, ('GET', UUID_PATH, None), LOGOUT]


def test_reset_405_at_the_well_known_target_posts_to_the_member_target(requests_mock, make_ctx, messager):
    """A refusal at bmcweb's target of a BMC that has the system elsewhere: the real target is used."""
    serve(requests_mock)
    move_system(requests_mock, system_with(power_state='On'), status=405)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'off') == {'n1': 'off'}
    assert sent(requests_mock) == [LOGIN, post_reset('ForceOff'), GET_SYSTEMS, ('GET', UUID_PATH, None),
                                   post_reset('ForceOff', UUID_RESET), LOGOUT]


def test_reset_after_set_boot_found_the_system_elsewhere(requests_mock, make_ctx):
    serve(requests_mock)
    move_system(requests_mock, system_with(power_state='On'))
    with client(make_ctx) as rf:
        rf.login()
        rf.set_boot('Pxe', 'Once')
        rf.reset_system('ForceRestart')
    assert sent(requests_mock) == [LOGIN, ('PATCH', SYSTEM, PXE_ONCE), GET_SYSTEMS, ('PATCH', UUID_PATH, PXE_ONCE),
                                   ('GET', UUID_PATH, None), post_reset('ForceRestart', UUID_RESET), LOGOUT]


def test_set_boot_after_a_reset_404_goes_to_the_collection(requests_mock, make_ctx):
    serve(requests_mock)
    move_system(requests_mock, system_with(power_state='On'))
    with client(make_ctx) as rf:
        rf.login()
        assert rf.reset('system', ('ForceOff',), 'off', 'Off') == 'ForceOff'
        rf.set_boot('Pxe', 'Once')
    assert sent(requests_mock) == [LOGIN, post_reset('ForceOff'), GET_SYSTEMS, ('GET', UUID_PATH, None),
                                   post_reset('ForceOff', UUID_RESET), ('PATCH', UUID_PATH, PXE_ONCE),
                                   ('GET', UUID_PATH, None), LOGOUT]


@pytest.mark.parametrize('status', [404, 405])
def test_set_boot_patch_404_falls_back_to_the_collection(requests_mock, make_ctx, messager, status):
    serve(requests_mock)
    move_system(requests_mock, status=status)
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'net', False) == {'n1': 'Network'}
    assert sent(requests_mock) == [LOGIN, ('PATCH', SYSTEM, PXE_ONCE), GET_SYSTEMS, ('PATCH', UUID_PATH, PXE_ONCE),
                                   ('GET', UUID_PATH, None), LOGOUT]


def test_a_well_known_path_of_another_kind_is_not_used(requests_mock, make_ctx):
    """A reply at bmcweb's path that is not a ComputerSystem (or says nothing of its type)."""
    serve(requests_mock)
    move_system(requests_mock)
    requests_mock.get(BASE + SYSTEM, json={'@odata.id': SYSTEM, '@odata.type': '#Chassis.v1_14_0.Chassis'})
    requests_mock.get(BASE + MANAGER, json={'Id': 'bmc', 'Name': 'no type'})
    requests_mock.get(BASE + ROOT + '/Managers/1', json=redfish('manager'))
    managers = redfish('managers')
    managers['Members'][0]['@odata.id'] = ROOT + '/Managers/1'
    requests_mock.get(BASE + ROOT + '/Managers', json=managers)
    with client(make_ctx) as rf:
        rf.login()
        assert rf.get_power_state() == 'On'
        assert rf.get_manager_state() == ('On', 'Enabled')
        rf.set_boot('Pxe', 'Once')
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, GET_SYSTEMS, ('GET', UUID_PATH, None),
                                   ('GET', MANAGER, None), ('GET', ROOT + '/Managers', None),
                                   ('GET', ROOT + '/Managers/1', None), ('PATCH', UUID_PATH, PXE_ONCE),
                                   ('GET', UUID_PATH, None), LOGOUT]


@pytest.mark.parametrize('reply', [{'text': '<html>login</html>'}, {'text': '[1, 2]'}])
def test_a_well_known_path_answering_no_json_object_is_not_used(requests_mock, make_ctx, messager, reply):
    serve(requests_mock)
    move_system(requests_mock)
    requests_mock.get(BASE + SYSTEM, **reply)
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'get_state') == {'n1': 'Default'}
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, GET_SYSTEMS, ('GET', UUID_PATH, None), LOGOUT]


def test_manager_not_at_the_well_known_path_is_found_in_the_collection(requests_mock, make_ctx, messager):
    serve(requests_mock)
    requests_mock.get(BASE + MANAGER, status_code=404, json=redfish('error_404'))
    managers = redfish('managers')
    managers['Members'][0]['@odata.id'] = ROOT + '/Managers/1'
    requests_mock.get(BASE + ROOT + '/Managers', json=managers)
    requests_mock.get(BASE + ROOT + '/Managers/1', json=redfish('manager'))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_bmc_state') == {'n1': 'BMC Ready'}
    assert sent(requests_mock) == [LOGIN, ('GET', MANAGER, None), ('GET', ROOT + '/Managers', None),
                                   ('GET', ROOT + '/Managers/1', None), LOGOUT]


# --- rpower ---------------------------------------------------------------------------

@pytest.mark.parametrize('power_state,word', [
    ('On', 'on'), ('Off', 'off'), ('PoweringOn', 'on'), ('PoweringOff', 'on'), ('Paused', 'quiesced')])
def test_state_words(requests_mock, make_ctx, messager, power_state, word):
    serve(requests_mock, system_with(power_state=power_state))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': word}
    assert system_power_word('n1', power_state) == word
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, LOGOUT]
    assert db_frames(messager.frames) == []


@pytest.mark.parametrize('power_state', ['Blinking', None])
def test_unknown_power_state_is_a_bad_response(requests_mock, make_ctx, messager, power_state):
    serve(requests_mock, system_with(power_state=power_state))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {
        'n1': 'Error: Received wrong format response: unknown PowerState %r' % power_state}
    with pytest.raises(exc.BmcBadResponse):
        system_power_word('n1', power_state)


#: The Reset POST to bmcweb's target, with a ResetType.
def post_reset(reset_type, path=RESET):
    return ('POST', path, {'ResetType': reset_type})


@pytest.mark.parametrize('style', ['inline', 'actioninfo'])
@pytest.mark.parametrize('reply', ['204', 'body'])
@pytest.mark.parametrize('state,current,reset_type,status', [
    ('on', 'Off', 'ForceOn', 'powering-on'),
    ('off', 'On', 'ForceOff', 'powering-off'),
    ('softoff', 'On', 'GracefulShutdown', 'powering-off'),
])
def test_set_state_posts_the_reset_type_without_reading(requests_mock, make_ctx, messager, style, reply, state,
                                                        current, reset_type, status):
    """bmcweb: login, the Reset POST straight to its well-known target, logout (3 requests)."""
    serve(requests_mock, system_with(style, power_state=current), reply=reply,
          action_info=['ForceOn', 'ForceOff', 'GracefulShutdown'])
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', state) == {'n1': state}
    assert sent(requests_mock) == [LOGIN, post_reset(reset_type), LOGOUT]
    assert db_frames(messager.frames) == [('n1', status)]
    post = requests_mock.request_history[1]
    assert post.headers['Content-Type'] == 'application/json'
    assert post.headers['X-Auth-Token'] == TOKEN


@pytest.mark.parametrize('state,current,reset_type', [
    ('on', 'On', 'ForceOn'), ('off', 'Off', 'ForceOff'), ('softoff', 'Off', 'GracefulShutdown')])
def test_set_state_already_there_is_accepted_by_bmcweb(requests_mock, make_ctx, messager, state, current,
                                                       reset_type):
    """bmcweb accepts a Reset to the state the system is in: nothing is read, one POST."""
    serve(requests_mock, system_with(power_state=current))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', state) == {'n1': state}
    assert sent(requests_mock) == [LOGIN, post_reset(reset_type), LOGOUT]


@pytest.mark.parametrize('status', [400, 409])
@pytest.mark.parametrize('state,current,reset_type', [
    ('on', 'On', 'ForceOn'), ('off', 'Off', 'ForceOff'), ('softoff', 'Off', 'GracefulShutdown')])
def test_refusal_of_a_system_already_there_is_success(requests_mock, make_ctx, messager, status, state, current,
                                                      reset_type):
    """HPE iLO refuses On for a system that is on: the system is read, it is there, no second POST."""
    serve(requests_mock, system_with('actioninfo', power_state=current), refuse={reset_type}, refuse_status=status)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', state) == {'n1': state}
    assert sent(requests_mock) == [LOGIN, post_reset(reset_type), GET_SYSTEM, LOGOUT]


@pytest.mark.parametrize('style', ['inline', 'actioninfo'])
def test_on_falls_back_to_on_when_force_on_is_refused_and_not_allowed(requests_mock, make_ctx, messager, style):
    allowed = ['On', 'ForceOff', 'GracefulShutdown']
    serve(requests_mock, system_with(style, power_state='Off', allowed=allowed), action_info=allowed,
          refuse={'ForceOn'})
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'on') == {'n1': 'on'}
    info = [GET_INFO] if style == 'actioninfo' else []
    assert sent(requests_mock) == [LOGIN, post_reset('ForceOn'), GET_SYSTEM] + info + [post_reset('On'), LOGOUT]
    assert db_frames(messager.frames) == [('n1', 'powering-on')]


@pytest.mark.parametrize('style', ['inline', 'actioninfo'])
@pytest.mark.parametrize('state,allowed', [
    ('on', ['ForceOff', 'GracefulShutdown']), ('off', ['On', 'GracefulShutdown']), ('softoff', ['On', 'ForceOff'])])
def test_reset_type_refused_and_not_allowed_is_unsupported(requests_mock, make_ctx, messager, style, state,
                                                           allowed):
    serve(requests_mock, system_with(style, power_state='Paused', allowed=allowed), action_info=allowed,
          refuse={'ForceOn', 'On', 'ForceOff', 'GracefulShutdown'})
    lines = run(RedfishPowerExecutor, make_ctx, messager, 'set_state', state)
    assert lines == {'n1': 'Error: Unsupported option: %s' % state}
    info = [GET_INFO] if style == 'actioninfo' else []
    first = {'on': 'ForceOn', 'off': 'ForceOff', 'softoff': 'GracefulShutdown'}[state]
    assert sent(requests_mock) == [LOGIN, post_reset(first), GET_SYSTEM] + info + [LOGOUT]
    assert db_frames(messager.frames) == []


@pytest.mark.parametrize('style', ['inline', 'actioninfo', 'none'])
def test_refusal_of_an_allowed_type_keeps_the_bmc_error(requests_mock, make_ctx, messager, style):
    """ForceOff is allowed (or the BMC does not say), yet refused: the BMC's words, one POST only."""
    serve(requests_mock, system_with(style, power_state='On'), refuse={'ForceOff'})
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'off') == {
        'n1': "Error: [400] The value 'ForceOff' for the parameter ResetType in the action ComputerSystem.Reset "
              "is not in the list of acceptable values."}
    info = [GET_INFO] if style == 'actioninfo' else []
    assert sent(requests_mock) == [LOGIN, post_reset('ForceOff'), GET_SYSTEM] + info + [LOGOUT]


@pytest.mark.parametrize('status,body,line', [
    (500, 'error_500', 'Error: [500] The request failed due to an internal service error.  '
                       'The service is still operational.'),
    (401, 'error_401', 'Error: [401] While attempting to establish a connection to '
                       '/redfish/v1/SessionService/Sessions, the service denied access.'),
    (403, 'error_401', 'Error: [403] While attempting to establish a connection to '
                       '/redfish/v1/SessionService/Sessions, the service denied access.'),
])
def test_reset_failures_that_a_read_would_not_change_are_reported_at_once(requests_mock, make_ctx, messager,
                                                                          status, body, line):
    serve(requests_mock, system_with(power_state='On'))
    requests_mock.post(BASE + RESET, status_code=status, json=redfish(body))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'off') == {'n1': line}
    assert sent(requests_mock) == [LOGIN, post_reset('ForceOff'), LOGOUT]


def test_action_info_parameter_found_by_name(requests_mock, make_ctx, messager):
    serve(requests_mock, system_with('actioninfo', power_state='On'), refuse={'ForceOff'})
    info = redfish('system_reset_action_info')
    info['Parameters'].insert(0, {'Name': 'Delay', 'DataType': 'Number'})
    info['Parameters'][1]['AllowableValues'] = ['GracefulShutdown']
    requests_mock.get(BASE + SYSTEM + '/ResetActionInfo', json=info)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'off') == {
        'n1': 'Error: Unsupported option: off'}
    assert sent(requests_mock) == [LOGIN, post_reset('ForceOff'), GET_SYSTEM, GET_INFO, LOGOUT]


@pytest.mark.parametrize('info', [{'@odata.id': SYSTEM + '/ResetActionInfo'}, ['x'], 7])
def test_action_info_that_is_not_a_uri_is_a_bad_response(requests_mock, make_ctx, messager, info):
    """Some BMCs give the ActionInfo as a link object; the schema says a URI string."""
    system = system_with('actioninfo', power_state='On')
    system['Actions']['#ComputerSystem.Reset']['@Redfish.ActionInfo'] = info
    serve(requests_mock, system)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'reboot', 'reset') == {
        'n1': 'Error: Received wrong format response: @Redfish.ActionInfo of #ComputerSystem.Reset is not a URI'}
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, LOGOUT]


def test_action_info_not_a_uri_on_the_fallback_is_a_bad_response(requests_mock, make_ctx, messager):
    system = system_with('actioninfo', power_state='Off')
    system['Actions']['#ComputerSystem.Reset']['@Redfish.ActionInfo'] = {'@odata.id': SYSTEM + '/ResetActionInfo'}
    serve(requests_mock, system, refuse={'ForceOn'})
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'on') == {
        'n1': 'Error: Received wrong format response: @Redfish.ActionInfo of #ComputerSystem.Reset is not a URI'}
    assert sent(requests_mock) == [LOGIN, post_reset('ForceOn'), GET_SYSTEM, LOGOUT]


@pytest.mark.parametrize('action', [{'ResetType@Redfish.AllowableValues': ['On']},
                                    {'target': {'@odata.id': RESET}, 'ResetType@Redfish.AllowableValues': ['On']}])
def test_reset_action_without_a_target_is_a_bad_response(requests_mock, make_ctx, messager, action):
    system = system_with(power_state='Off')
    system['Actions']['#ComputerSystem.Reset'] = action
    serve(requests_mock, system, refuse={'ForceOn'})
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'on') == {
        'n1': 'Error: Received wrong format response: /redfish/v1/Systems member has no #ComputerSystem.Reset action'}
    assert sent(requests_mock) == [LOGIN, post_reset('ForceOn'), GET_SYSTEM, LOGOUT]


@pytest.mark.parametrize('style', ['inline', 'actioninfo'])
@pytest.mark.parametrize('reply', ['204', 'body'])
@pytest.mark.parametrize('optype,current,reset_type', [
    ('reset', 'On', 'ForceRestart'), ('boot', 'On', 'ForceRestart'), ('boot', 'Off', 'ForceOn'),
    ('reset', 'PoweringOff', 'ForceRestart')])
def test_reboot_is_one_action(requests_mock, make_ctx, messager, style, reply, optype, current, reset_type):
    serve(requests_mock, system_with(style, power_state=current), reply=reply,
          action_info=['ForceOn', 'ForceRestart', 'ForceOff'])
    assert run(RedfishPowerExecutor, make_ctx, messager, 'reboot', optype) == {'n1': 'reset'}
    expected = [LOGIN, GET_SYSTEM] + ([GET_INFO] if style == 'actioninfo' else [])
    assert sent(requests_mock) == expected + [('POST', RESET, {'ResetType': reset_type}), LOGOUT]
    assert db_frames(messager.frames) == [('n1', 'powering-on')]


def test_reset_of_an_off_node_prints_off_and_sends_nothing(requests_mock, make_ctx, messager):
    serve(requests_mock, system_with(power_state='Off'))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'reboot', 'reset') == {'n1': 'off'}
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, LOGOUT]
    assert db_frames(messager.frames) == []


@pytest.mark.parametrize('allowed,expected', [
    (['PowerCycle', 'ForceOff'], 'PowerCycle'), (['On', 'Nmi'], None)])
def test_reset_falls_back_to_power_cycle(requests_mock, make_ctx, messager, allowed, expected):
    serve(requests_mock, system_with(power_state='On', allowed=allowed))
    lines = run(RedfishPowerExecutor, make_ctx, messager, 'reboot', 'reset')
    if expected:
        assert lines == {'n1': 'reset'}
        assert sent(requests_mock)[-2] == ('POST', RESET, {'ResetType': expected})
    else:
        assert lines == {'n1': 'Error: Unsupported option: reset'}


def test_reboot_without_allowable_values_sends_the_preferred_type(requests_mock, make_ctx, messager):
    serve(requests_mock, system_with('none', power_state='Off'))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'reboot', 'boot') == {'n1': 'reset'}
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, post_reset('ForceOn'), LOGOUT]


@pytest.mark.parametrize('power_state,status_state,word', [
    ('On', 'Enabled', 'BMC Ready'), ('PoweringOn', 'Starting', 'BMC NotReady'), ('On', 'Starting', 'BMC NotReady'),
    ('PoweringOn', 'Enabled', 'BMC NotReady'), ('On', None, 'BMC Ready'), (None, 'Enabled', 'BMC Ready'),
    (None, 'Starting', 'BMC NotReady'), (None, 'Updating', 'BMC NotReady')])
def test_bmcstate(requests_mock, make_ctx, messager, power_state, status_state, word):
    manager = redfish('manager')
    if power_state is None:
        del manager['PowerState']
    else:
        manager['PowerState'] = power_state
    if status_state is None:
        del manager['Status']
    else:
        manager['Status']['State'] = status_state
    serve(requests_mock, manager=manager)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_bmc_state') == {'n1': word}
    assert sent(requests_mock) == [LOGIN, ('GET', MANAGER, None), LOGOUT]


@pytest.mark.parametrize('power_state,status_state', [
    ('On', 'Degraded'), ('Dozing', 'Enabled'), (None, 'Sleepy'), ('Rebooting', None)])
def test_bmcstate_unknown_word_is_not_ready(requests_mock, make_ctx, messager, power_state, status_state):
    """As the OpenBMC path, every manager state but a known ready one prints NotReady."""
    manager = redfish('manager')
    manager['PowerState'] = power_state
    manager['Status']['State'] = status_state
    serve(requests_mock, manager=manager)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_bmc_state') == {'n1': 'BMC NotReady'}


@pytest.mark.parametrize('power_state,status_state', [({'x': 1}, 'Enabled'), ('On', ['Enabled'])])
def test_bmcstate_missing_or_not_a_word_is_a_bad_response(requests_mock, make_ctx, messager, power_state,
                                                          status_state):
    manager = redfish('manager')
    manager['PowerState'] = power_state
    manager['Status']['State'] = status_state
    serve(requests_mock, manager=manager)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_bmc_state') == {
        'n1': 'Error: Received wrong format response: unknown manager state PowerState=%s Status.State=%s'
              % (power_state, status_state)}


def test_bmcstate_http_error_is_not_ready(requests_mock, make_ctx, messager):
    serve(requests_mock)
    requests_mock.get(BASE + MANAGER, status_code=500, json=redfish('error_500'))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_bmc_state') == {
        'n1': 'Error: BMC NotReady ([500] The request failed due to an internal service error.  '
              'The service is still operational.)'}


def test_bmcstate_refused_after_login_is_not_ready_with_the_status(requests_mock, make_ctx, messager):
    """As on OpenBMC (docs/xcat-facts.md#openbmc-bmc), an auth refusal of the read is NotReady too."""
    serve(requests_mock)
    requests_mock.get(BASE + MANAGER, status_code=403, json=redfish('error_401'))
    line = run(RedfishPowerExecutor, make_ctx, messager, 'get_bmc_state')['n1']
    assert line.startswith('Error: BMC NotReady ([403] ')


@pytest.mark.parametrize('reply', ['204', 'body'])
def test_bmcreboot_posts_without_reading(requests_mock, make_ctx, messager, reply):
    serve(requests_mock, reply=reply)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'reboot_bmc') == {'n1': 'BMC reboot'}
    assert sent(requests_mock) == [LOGIN, post_reset('ForceRestart', MANAGER_RESET), LOGOUT]


GET_MANAGER = ('GET', MANAGER, None)
GET_MANAGER_INFO = ('GET', MANAGER + '/ResetActionInfo', None)


@pytest.mark.parametrize('reply', ['204', 'body'])
@pytest.mark.parametrize('allowed,reset_type', [
    (['GracefulRestart'], 'GracefulRestart'), (['ResetAll'], None), (['GracefulRestart', 'ForceRestart'], 'kept')])
def test_bmcreboot_refused_reads_the_manager(requests_mock, make_ctx, messager, reply, allowed, reset_type):
    serve(requests_mock, reply=reply, manager_allowed=allowed, manager_refuse={'ForceRestart'})
    lines = run(RedfishPowerExecutor, make_ctx, messager, 'reboot_bmc')
    head = [LOGIN, post_reset('ForceRestart', MANAGER_RESET), GET_MANAGER, GET_MANAGER_INFO]
    if reset_type == 'kept':
        assert lines == {'n1': "Error: [400] The value 'ForceRestart' for the parameter ResetType in the action "
                               "Manager.Reset is not in the list of acceptable values."}
        assert sent(requests_mock) == head + [LOGOUT]
    elif reset_type:
        assert lines == {'n1': 'BMC reboot'}
        assert sent(requests_mock) == head + [post_reset(reset_type, MANAGER_RESET), LOGOUT]
    else:
        assert lines == {'n1': 'Error: Unsupported option: bmcreboot'}
        assert sent(requests_mock) == head + [LOGOUT]


def test_bmcreboot_dropped_connection_is_a_reboot(requests_mock, make_ctx, messager):
    serve(requests_mock)
    requests_mock.post(BASE + MANAGER_RESET, exc=requests.exceptions.ConnectionError('reset by peer'))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'reboot_bmc') == {'n1': 'BMC reboot'}
    assert sent(requests_mock) == [LOGIN, post_reset('ForceRestart', MANAGER_RESET)]


def test_bmcreboot_fallback_with_inline_values_and_dropped_connection(requests_mock, make_ctx, messager):
    manager = redfish('manager')
    manager['Actions']['#Manager.Reset'] = {'target': MANAGER_RESET,
                                            'ResetType@Redfish.AllowableValues': ['GracefulRestart']}
    serve(requests_mock, manager=manager)
    requests_mock.post(BASE + MANAGER_RESET, [
        {'status_code': 400, 'json': not_in_list('ForceRestart', 'Manager.Reset')},
        {'exc': requests.exceptions.ConnectionError('reset by peer')}])
    assert run(RedfishPowerExecutor, make_ctx, messager, 'reboot_bmc') == {'n1': 'BMC reboot'}
    assert sent(requests_mock) == [LOGIN, post_reset('ForceRestart', MANAGER_RESET), GET_MANAGER,
                                   post_reset('GracefulRestart', MANAGER_RESET)]


@pytest.mark.parametrize('status', [404, 500])
def test_bmcreboot_read_failure_after_a_refusal_is_not_taken_for_a_reboot(requests_mock, make_ctx, messager,
                                                                          status):
    serve(requests_mock, manager_refuse={'ForceRestart'})
    requests_mock.get(BASE + MANAGER, status_code=status, json=redfish('error_500'))
    requests_mock.get(BASE + ROOT + '/Managers', text='{"Members": []}')
    line = run(RedfishPowerExecutor, make_ctx, messager, 'reboot_bmc')['n1']
    assert line.startswith('Error: ')
    assert [r for r in sent(requests_mock) if r[0] == 'POST'][1:] == [post_reset('ForceRestart', MANAGER_RESET)]


def test_reset_reads_the_system_once(requests_mock, make_ctx):
    serve(requests_mock, system_with('actioninfo', power_state='On'))
    with client(make_ctx) as rf:
        rf.login()
        rf.get_power_state()
        assert rf.get_reset_types('system') == frozenset(
            ['ForceOff', 'ForceRestart', 'GracefulShutdown', 'PowerCycle', 'On'])
        rf.get_reset_types('system')
        rf.reset_system('ForceRestart')
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, GET_INFO, ('POST', RESET, {'ResetType': 'ForceRestart'}),
                                   LOGOUT]


# --- rsetboot -------------------------------------------------------------------------

def boot(enabled, target, allowed=('None', 'Pxe', 'Hdd', 'Cd', 'BiosSetup')):
    value = {'BootSourceOverrideEnabled': enabled, 'BootSourceOverrideTarget': target,
             'BootSourceOverrideMode': 'UEFI'}
    if allowed is not None:
        value['BootSourceOverrideTarget@Redfish.AllowableValues'] = list(allowed)
    return value


@pytest.mark.parametrize('enabled,target,word', [
    ('Once', 'Pxe', 'Network'), ('Continuous', 'Hdd', 'Hard Drive'), ('Once', 'Cd', 'CD/DVD'),
    ('Continuous', 'None', 'Default'), ('Disabled', 'Pxe', 'Default'), ('Once', 'BiosSetup', 'BIOS Setup'),
    ('Once', 'Floppy', 'Floppy'), ('Once', 'Usb', 'Can not get valid rsetboot status, the data is Usb')])
def test_setboot_stat(requests_mock, make_ctx, messager, enabled, target, word):
    serve(requests_mock, system_with(boot=boot(enabled, target)))
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'get_state') == {'n1': word}
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, LOGOUT]


@pytest.mark.parametrize('target,word', [('Pxe', 'Network'), ('Hdd', 'Hard Drive'), ('None', 'Default')])
def test_setboot_stat_without_override_enabled_uses_the_target(requests_mock, make_ctx, messager, target, word):
    """BootSourceOverrideEnabled is optional: without it the target is the boot source in force."""
    serve(requests_mock, system_with(boot={'BootSourceOverrideTarget': target}))
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'get_state') == {'n1': word}
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, LOGOUT]


@pytest.mark.parametrize('allowed', ['Pxe', {'Pxe': True}, 3])
def test_allowable_boot_targets_not_a_list_are_a_bad_response(requests_mock, make_ctx, messager, allowed):
    value = boot('Once', 'Pxe')
    value['BootSourceOverrideTarget@Redfish.AllowableValues'] = allowed
    serve(requests_mock, system_with(boot=value))
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'get_state') == {
        'n1': 'Error: Received wrong format response: allowable boot targets are not a list'}
    with client(make_ctx) as rf:
        rf.login()
        with pytest.raises(exc.BmcBadResponse):
            rf.get_boot()


@pytest.mark.parametrize('value', [{'BootSourceOverrideEnabled': 'Sometimes', 'BootSourceOverrideTarget': 'Pxe'},
                                   {'BootSourceOverrideEnabled': 'Once'}, {},
                                   {'BootSourceOverrideEnabled': ['Once'], 'BootSourceOverrideTarget': 'Pxe'},
                                   'Pxe'])
def test_setboot_stat_bad_boot(requests_mock, make_ctx, messager, value):
    serve(requests_mock, system_with(boot=value))
    line = run(RedfishSetbootExecutor, make_ctx, messager, 'get_state')['n1']
    assert line.startswith('Error: Received wrong format response: ')


@pytest.mark.parametrize('reply', ['204', 'body'])
@pytest.mark.parametrize('device,persistent,enabled,target,word', [
    ('net', False, 'Once', 'Pxe', 'Network'), ('net', True, 'Continuous', 'Pxe', 'Network'),
    ('hd', False, 'Once', 'Hdd', 'Hard Drive'), ('cd', True, 'Continuous', 'Cd', 'CD/DVD'),
    ('def', False, 'Disabled', 'None', 'Default'), ('default', True, 'Disabled', 'None', 'Default')])
def test_setboot_is_one_patch(requests_mock, make_ctx, messager, reply, device, persistent, enabled, target,
                              word):
    serve(requests_mock, system_with(boot=boot('Disabled', 'None')), reply=reply)
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', device, persistent) == {'n1': word}
    body = {'Boot': {'BootSourceOverrideEnabled': enabled, 'BootSourceOverrideTarget': target}}
    assert sent(requests_mock) == [LOGIN, ('PATCH', SYSTEM, body), GET_SYSTEM, LOGOUT]
    assert requests_mock.request_history[-2].headers['X-Auth-Token'] == TOKEN


def test_setboot_target_refused_by_the_bmc_prints_its_message(requests_mock, make_ctx, messager):
    """Nothing is read before the PATCH: the BMC validates the target and its 400 reaches the admin."""
    serve(requests_mock, system_with(boot=boot('Once', 'Pxe', allowed=['Pxe', 'Hdd'])))
    refusal = refusal_400(
        'The value "Cd" for the property BootSourceOverrideTarget is not in the list of acceptable values.')
    requests_mock.patch(BASE + SYSTEM, status_code=400, json=refusal)
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'cd', False) == {
        'n1': 'Error: [400] The value "Cd" for the property BootSourceOverrideTarget is not in the list of '
              'acceptable values.'}
    assert sent(requests_mock) == [LOGIN, ('PATCH', SYSTEM, {'Boot': {'BootSourceOverrideEnabled': 'Once',
                                                                      'BootSourceOverrideTarget': 'Cd'}}),
                                   GET_SYSTEM, LOGOUT]


@pytest.mark.parametrize('allowed', [['Pxe', 'Cd', 'Hdd'], None])
def test_setboot_default_is_never_refused(requests_mock, make_ctx, messager, allowed):
    """sushy-tools lists Pxe, Cd and Hdd only; Disabled always switches the override off."""
    serve(requests_mock, system_with(boot=boot('Continuous', 'Hdd', allowed=allowed)))
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'def', False) == {'n1': 'Default'}
    assert sent(requests_mock)[-3][0] == 'PATCH'


def test_setboot_without_allowable_values_sends_any_target(requests_mock, make_ctx, messager):
    serve(requests_mock, system_with(boot=boot('Once', 'Pxe', allowed=None)))
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'cd', False) == {'n1': 'CD/DVD'}


# --- secrets --------------------------------------------------------------------------

def test_debug_trace_and_logs_never_show_password_or_token(requests_mock, make_ctx, messager, caplog):
    caplog.set_level(logging.DEBUG)
    serve(requests_mock, system_with(power_state='On'))
    requests_mock.delete(BASE + SESSION, exc=requests.exceptions.ConnectionError('gone'))
    lines = run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'off', debugmode=1)
    assert lines == {'n1': 'off'}
    traces = [f['msg']['data'] for f in messager.frames if '[redfish_debug]' in f.get('msg', {}).get('data', '')]
    assert any('"Password": "xxxxxx"' in t for t in traces)
    assert any('X-Auth-Token: xxxxxx' in t for t in traces)
    assert any('"ResetType": "ForceOff"' in t for t in traces)
    everything = json.dumps(messager.frames) + caplog.text
    assert PASSWORD not in everything and TOKEN not in everything


@pytest.mark.parametrize('op,args,word', [('set_state', ('on',), 'on'), ('reboot', ('boot',), 'boot'),
                                          ('reboot_bmc', (), 'bmcreboot')])
def test_missing_reset_action_is_unsupported(requests_mock, make_ctx, messager, op, args, word):
    """sushy-tools' managers have no Manager.Reset action at all."""
    system = system_with(power_state='Off')
    del system['Actions']
    manager = redfish('manager')
    del manager['Actions']
    serve(requests_mock, system, manager=manager)
    for path in (RESET, MANAGER_RESET):
        requests_mock.post(BASE + path, status_code=404, json=redfish('error_404'))
    assert run(RedfishPowerExecutor, make_ctx, messager, op, *args) == {
        'n1': 'Error: Unsupported option: %s' % word}
    # Only the first, direct POST (404) went out; the read found no action to post to.
    posts = [(p, b) for m, p, b in sent(requests_mock) if m == 'POST' and p != SESSIONS]
    assert posts == ([] if op == 'reboot' else [(RESET if op == 'set_state' else MANAGER_RESET,
                                                   {'ResetType': 'ForceOn' if op == 'set_state' else 'ForceRestart'})])
    gets = [p for m, p, b in sent(requests_mock) if m == 'GET']
    if op != 'reboot':
        # after the 404 the collection is read, not bmcweb's member path
        collection = ROOT + ('/Systems' if op == 'set_state' else '/Managers')
        assert gets == [collection, SYSTEM if op == 'set_state' else MANAGER]


def test_sushy_tools_shapes_basic_auth_state_and_default_boot(requests_mock, make_ctx, messager):
    """Recorded sushy-tools payloads: no SessionService, uuid member, None not among allowed targets."""
    system = redfish('sushy_system')
    path = system['@odata.id']
    requests_mock.post(BASE + SESSIONS, status_code=401, json=redfish('sushy_401'))
    requests_mock.get(BASE + ROOT, json=redfish('sushy_root'))
    for verb in ('GET', 'PATCH'):
        requests_mock.register_uri(verb, BASE + SYSTEM, status_code=404, json=redfish('sushy_404'))
    requests_mock.get(BASE + ROOT + '/Systems', json=redfish('sushy_systems'))
    stateful(requests_mock, path, system)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': 'off'}
    messager.frames.clear()
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'get_state') == {'n1': 'Hard Drive'}
    messager.frames.clear()
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'default', False) == {'n1': 'Default'}
    default = {'Boot': {'BootSourceOverrideEnabled': 'Disabled', 'BootSourceOverrideTarget': 'None'}}
    assert sent(requests_mock)[-6:] == [LOGIN, ('GET', ROOT, None), ('PATCH', SYSTEM, default), GET_SYSTEMS,
                                        ('PATCH', path, default), ('GET', path, None)]
    assert 'X-Auth-Token' not in requests_mock.request_history[-1].headers


# --- vendor behaviours (docs/DESIGN.md, "Redfish vendor behaviours") -------------------

SYSTEM_1 = ROOT + '/Systems/1'
RESET_1 = SYSTEM_1 + '/Actions/ComputerSystem.Reset'


def vendor_system(mock, system, path=SYSTEM_1, reset_types=None, on_post=None):
    """A system at ``path`` (iLO/Supermicro/XCC style ``Systems/1``), 404 at bmcweb's paths.

    GET answers the system as it is now; a Boot PATCH changes it; a Reset POST of a type in
    ``reset_types`` (None: any) calls ``on_post(system, type)``, other types get a 400.
    """
    system['@odata.id'] = path
    system['Actions']['#ComputerSystem.Reset']['target'] = path + '/Actions/ComputerSystem.Reset'
    for verb in ('GET', 'PATCH'):
        mock.register_uri(verb, BASE + SYSTEM, status_code=404, json=redfish('error_404'))
    mock.post(BASE + RESET, status_code=404, json=redfish('error_404'))
    systems = redfish('systems')
    systems['Members'][0]['@odata.id'] = path
    mock.get(BASE + ROOT + '/Systems', json=systems)
    stateful(mock, path, system)

    def answer(request, context):
        reset_type = request.json()['ResetType']
        if reset_types is not None and reset_type not in reset_types:
            context.status_code = 400
            return json.dumps(not_in_list(reset_type))
        if on_post is not None:
            on_post(system, reset_type)
        context.status_code = 204
        return ''
    mock.post(BASE + path + '/Actions/ComputerSystem.Reset', text=answer)
    return system


def power_model(system, reset_type):
    """What a Reset does to the system's PowerState (a press shuts a running host down)."""
    if reset_type == 'PushPowerButton':
        system['PowerState'] = 'Off' if system['PowerState'] == 'On' else 'On'
    elif reset_type in ('ForceOff', 'GracefulShutdown'):
        system['PowerState'] = 'Off'
    elif reset_type in ('On', 'ForceOn', 'ForceRestart', 'PowerCycle', 'GracefulRestart'):
        system['PowerState'] = 'On'


IDRAC8_RESETS = ['On', 'ForceOff', 'GracefulRestart', 'PushPowerButton', 'Nmi']


def test_idrac8_reset_is_force_off_wait_off_then_on(requests_mock, make_ctx, messager):
    """No ForceRestart nor PowerCycle: ForceOff, a poll that sees Off, then On."""
    serve(requests_mock)
    system = vendor_system(requests_mock, system_with(power_state='On', allowed=IDRAC8_RESETS),
                           reset_types=IDRAC8_RESETS, on_post=power_model)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'reboot', 'reset') == {'n1': 'reset'}
    get = ('GET', SYSTEM_1, None)
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, GET_SYSTEMS, get, post_reset('ForceOff', RESET_1), get,
                                   post_reset('On', RESET_1), LOGOUT]
    assert system['PowerState'] == 'On'
    assert db_frames(messager.frames) == [('n1', 'powering-off'), ('n1', 'powering-on')]


def test_idrac8_reset_that_never_sees_off_is_a_state_timeout(requests_mock, make_ctx, messager):
    serve(requests_mock)
    vendor_system(requests_mock, system_with(power_state='On', allowed=IDRAC8_RESETS), reset_types=IDRAC8_RESETS)
    lines = run(RedfishPowerExecutor, make_ctx, messager, 'reboot', 'boot', state_wait=0.05)
    assert lines == {'n1': 'Error: Sent power-off command but state did not change to off after waiting 0 '
                           'seconds. (State= On).'}
    assert ('POST', RESET_1, {'ResetType': 'On'}) not in sent(requests_mock)


@pytest.mark.parametrize('allowed', [['On', 'ForceOff', 'ForceRestart', 'Nmi', 'PushPowerButton'], IDRAC8_RESETS])
def test_softoff_presses_the_button_when_there_is_no_graceful_shutdown(requests_mock, make_ctx, messager, allowed):
    """HPE iLO 4 and early iLO 5, Dell iDRAC 8: PushPowerButton asks a running host to shut down."""
    serve(requests_mock)
    system = vendor_system(requests_mock, system_with(power_state='On', allowed=allowed), reset_types=allowed,
                           on_post=power_model)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'softoff') == {'n1': 'softoff'}
    assert sent(requests_mock) == [LOGIN, post_reset('GracefulShutdown'), GET_SYSTEMS, ('GET', SYSTEM_1, None),
                                   post_reset('GracefulShutdown', RESET_1), post_reset('PushPowerButton', RESET_1),
                                   LOGOUT]
    assert system['PowerState'] == 'Off'


def test_softoff_of_an_off_node_never_presses_the_button(requests_mock, make_ctx, messager):
    allowed = ['On', 'ForceOff', 'ForceRestart', 'Nmi', 'PushPowerButton']
    serve(requests_mock)
    system = vendor_system(requests_mock, system_with(power_state='Off', allowed=allowed), reset_types=allowed,
                           on_post=power_model)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'softoff') == {'n1': 'softoff'}
    assert ('POST', RESET_1, {'ResetType': 'PushPowerButton'}) not in sent(requests_mock)
    assert system['PowerState'] == 'Off'


def test_softoff_without_anything_graceful_is_refused(requests_mock, make_ctx, messager):
    """Supermicro X10 offers no GracefulShutdown and no PushPowerButton."""
    allowed = ['On', 'ForceOff', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn']
    serve(requests_mock)
    vendor_system(requests_mock, system_with(power_state='On', allowed=allowed), reset_types=allowed)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'softoff') == {
        'n1': 'Error: Unsupported option: softoff'}


def x12_system(power_state='On'):
    """Supermicro X12: a malformed inline list next to an ActionInfo that has the truth."""
    system = system_with('actioninfo', power_state=power_state)
    action = system['Actions']['#ComputerSystem.Reset']
    action['ResetType@Redfish.AllowableValues'] = ['On', 'ForceOff', 'GracefulShutdownGracefulRestart',
                                                   'ForceRestart', 'Nmi', 'ForceOn']
    action['@Redfish.ActionInfo'] = SYSTEM_1 + '/ResetActionInfo'
    return system


X12_TRUTH = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn']


def test_softoff_is_sent_where_the_action_is_before_any_list_is_read(requests_mock, make_ctx, messager):
    """The 404 came from bmcweb's target: the BMC has not said no, so no list decides."""
    serve(requests_mock)
    info = redfish('system_reset_action_info')
    info['Parameters'][0]['AllowableValues'] = X12_TRUTH
    requests_mock.get(BASE + SYSTEM_1 + '/ResetActionInfo', json=info)
    system = vendor_system(requests_mock, x12_system(), reset_types=X12_TRUTH, on_post=power_model)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'set_state', 'softoff') == {'n1': 'softoff'}
    assert sent(requests_mock) == [LOGIN, post_reset('GracefulShutdown'), GET_SYSTEMS, ('GET', SYSTEM_1, None),
                                   post_reset('GracefulShutdown', RESET_1), LOGOUT]
    assert system['PowerState'] == 'Off'


def test_action_info_beats_a_malformed_inline_list(requests_mock, make_ctx):
    serve(requests_mock)
    info = redfish('system_reset_action_info')
    info['Parameters'][0]['AllowableValues'] = X12_TRUTH
    requests_mock.get(BASE + SYSTEM_1 + '/ResetActionInfo', json=info)
    vendor_system(requests_mock, x12_system())
    with client(make_ctx) as rf:
        rf.login()
        assert rf.get_reset_types() == frozenset(X12_TRUTH)


def boot_patch(enabled, target, mode=None):
    body = {'BootSourceOverrideEnabled': enabled, 'BootSourceOverrideTarget': target}
    if mode is not None:
        body['BootSourceOverrideMode'] = mode
    return {'Boot': body}


def h13(mock, path=SYSTEM_1, host=BASE):
    """Supermicro H13: 200 with a Success body, and the override dropped unless the mode is sent."""
    system = system_with(boot=boot('Disabled', 'None'))
    system['Boot']['BootSourceOverrideMode'] = 'Legacy'
    vendor_system(mock, system, path)

    def answer(request, context):
        value = request.json()['Boot']
        system['Boot'].update(value)
        if 'BootSourceOverrideMode' not in value:
            system['Boot']['BootSourceOverrideEnabled'] = 'Disabled'
        context.status_code = 200
        return json.dumps({'Success': {'code': 'Base.v1_4_0.Success', 'Message': 'Successfully Completed Request'}})
    mock.patch(host + path, text=answer)
    return system


def test_h13_override_sent_again_with_the_mode_when_dropped(requests_mock, make_ctx, messager):
    serve(requests_mock)
    system = h13(requests_mock)
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'net', False) == {'n1': 'Network'}
    get = ('GET', SYSTEM_1, None)
    assert sent(requests_mock) == [LOGIN, ('PATCH', SYSTEM, PXE_ONCE), GET_SYSTEMS, ('PATCH', SYSTEM_1, PXE_ONCE),
                                   get, ('PATCH', SYSTEM_1, boot_patch('Once', 'Pxe', 'Legacy')), get, LOGOUT]
    assert (system['Boot']['BootSourceOverrideEnabled'], system['Boot']['BootSourceOverrideMode']) == (
        'Once', 'Legacy')


def test_an_override_the_bmc_does_not_hold_is_an_error_not_a_word(requests_mock, make_ctx, messager):
    """A BMC that answers success and keeps Disabled whatever is sent: never a false ``Network``."""
    serve(requests_mock)
    system = h13(requests_mock, SYSTEM)

    def ignore(request, context):
        context.status_code = 204
        return ''
    requests_mock.patch(BASE + SYSTEM, text=ignore)
    assert system['Boot']['BootSourceOverrideEnabled'] == 'Disabled'
    requests_mock.get(BASE + SYSTEM, json=lambda request, context: system)
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'net', False) == {
        'n1': 'Error: the BMC accepted BootSourceOverrideEnabled=Once, BootSourceOverrideTarget=Pxe but '
              'holds Disabled, None'}


def test_a_patch_reply_carrying_the_system_needs_no_get(requests_mock, make_ctx, messager):
    serve(requests_mock)
    system = system_with(boot=boot('Disabled', 'None'))

    def answer(request, context):
        system['Boot'].update(request.json()['Boot'])
        return json.dumps(system)
    requests_mock.patch(BASE + SYSTEM, text=answer)
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'hd', True) == {'n1': 'Hard Drive'}
    assert sent(requests_mock) == [LOGIN, ('PATCH', SYSTEM, boot_patch('Continuous', 'Hdd')), LOGOUT]


def test_xcc_says_plainly_that_it_keeps_no_persistent_override(requests_mock, make_ctx, messager):
    serve(requests_mock)
    value = boot('Once', 'Hdd')
    value['BootSourceOverrideEnabled@Redfish.AllowableValues'] = ['Once', 'Disabled']
    vendor_system(requests_mock, system_with(boot=value))
    refusal = refusal_400(
        'The value Continuous for the property BootSourceOverrideEnabled is not in the list of acceptable values.')
    requests_mock.patch(BASE + SYSTEM_1, status_code=400, json=refusal)
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'net', True) == {
        'n1': 'Error: Unsupported option: this BMC does not keep a persistent boot override '
              '(BootSourceOverrideEnabled allows Once, Disabled)'}


def test_read_only_boot_goes_to_the_settings_object(requests_mock, make_ctx, messager):
    """Newer iDRACs: ``Boot is a read-only property``; the PATCH belongs to @Redfish.Settings."""
    system = system_with(boot=boot('Disabled', 'None'))
    settings = SYSTEM + '/Settings'
    system['@Redfish.Settings'] = {'SettingsObject': {'@odata.id': settings}}
    serve(requests_mock, system)
    refusal = refusal_400('Boot is a read-only property.')
    requests_mock.patch(BASE + SYSTEM, status_code=400, json=refusal)
    requests_mock.patch(BASE + settings, text=patch_reply(system, '204'))
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'net', False) == {'n1': 'Network'}
    assert sent(requests_mock) == [LOGIN, ('PATCH', SYSTEM, PXE_ONCE), GET_SYSTEM, ('PATCH', settings, PXE_ONCE),
                                   GET_SYSTEM, LOGOUT]


@pytest.mark.parametrize('status', [428, 412])
def test_precondition_answered_with_if_match(requests_mock, make_ctx, messager, status):
    """AMI-based BMCs: no If-Match is 428; a stale one is 412. The ETag read is sent back."""
    serve(requests_mock)
    system = system_with(boot=boot('Disabled', 'None'))
    requests_mock.get(BASE + SYSTEM, json=lambda request, context: system, headers={'ETag': 'W/"abc123"'})

    def answer(request, context):
        if request.headers.get('If-Match') != 'W/"abc123"':
            context.status_code = status
            return json.dumps(redfish('error_400'))
        system['Boot'].update(request.json()['Boot'])
        context.status_code = 204
        return ''
    requests_mock.patch(BASE + SYSTEM, text=answer)
    assert run(RedfishSetbootExecutor, make_ctx, messager, 'set_state', 'cd', False) == {'n1': 'CD/DVD'}
    body = boot_patch('Once', 'Cd')
    assert sent(requests_mock) == [LOGIN, ('PATCH', SYSTEM, body), GET_SYSTEM, ('PATCH', SYSTEM, body), GET_SYSTEM,
                                   LOGOUT]
    patches = [r for r in requests_mock.request_history if r.method == 'PATCH']
    assert 'If-Match' not in patches[0].headers and patches[1].headers['If-Match'] == 'W/"abc123"'
    assert 'If-Match' not in requests_mock.request_history[-1].headers


def test_a_manager_without_state_is_ready(requests_mock, make_ctx, messager):
    """A Supermicro X13 manager has neither Status nor PowerState: it answered, it is ready."""
    manager = redfish('manager')
    del manager['PowerState'], manager['Status']
    serve(requests_mock, manager=manager)
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_bmc_state') == {'n1': 'BMC Ready'}


@pytest.mark.parametrize('key', ['MessageId', 'MessageID'])
def test_error_without_message_prints_the_message_id(requests_mock, make_ctx, messager, key):
    """HPE iLO: only a MessageId (iLO 4: MessageID), and ``error.message`` only points at it."""
    body = redfish('ilo_error_401')
    info = body['error']['@Message.ExtendedInfo'][0]
    info[key] = info.pop('MessageId')
    requests_mock.post(BASE + SESSIONS, status_code=401, json=body)
    requests_mock.get(BASE + ROOT, json=redfish('root'))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_state') == {'n1': 'Error: [401] Base.1.4.NoValidSession'}


# --- the shape a command's nodes share ------------------------------------------------

def node_client(make_ctx, shape, host):
    return RedfishClient('n-' + host, host, 'root', PASSWORD, ctx=make_ctx(), session=requests.Session(),
                         shape=shape)


def dell(mock, host, system_id='System.Embedded.1'):
    """Dell iDRAC 8 layout at ``host``: sessions at /redfish/v1/Sessions, System.Embedded.1."""
    base = 'https://' + host
    mock.post(base + SESSIONS, status_code=405, json=redfish('error_400'))
    root = redfish('root')
    root['Links'] = {'Sessions': {'@odata.id': ROOT + '/Sessions'}}
    mock.get(base + ROOT, json=root)
    mock.post(base + ROOT + '/Sessions', status_code=201, json=redfish('session_created'),
              headers={'X-Auth-Token': TOKEN, 'Location': ROOT + '/Sessions/1'})
    mock.delete(base + ROOT + '/Sessions/1', status_code=204)
    mock.get(base + SYSTEM, status_code=404, json=redfish('error_404'))
    systems = redfish('systems')
    systems['Members'][0]['@odata.id'] = ROOT + '/Systems/' + system_id
    mock.get(base + ROOT + '/Systems', json=systems)
    system = system_with(power_state='Off')
    system['@odata.id'] = ROOT + '/Systems/' + system_id
    mock.get(base + ROOT + '/Systems/' + system_id, json=system)


def paths(mock, host):
    return [(r.method, urllib.parse.urlsplit(r.url).path) for r in mock.request_history
            if urllib.parse.urlsplit(r.url).hostname == host]


def test_the_first_node_shows_the_others_where_things_are(requests_mock, make_ctx):
    shape = FleetShape()
    hosts = ('127.0.0.11', '127.0.0.12', '127.0.0.13')
    for host in hosts:
        dell(requests_mock, host)
    for host in hosts:
        with node_client(make_ctx, shape, host) as rf:
            rf.login()
            assert rf.get_power_state() == 'Off'
    assert len(paths(requests_mock, hosts[0])) == 7
    for host in hosts[1:]:
        assert paths(requests_mock, host) == [('POST', ROOT + '/Sessions'),
                                              ('GET', ROOT + '/Systems/System.Embedded.1'),
                                              ('DELETE', ROOT + '/Sessions/1')]


def test_member_names_that_differ_per_node_read_the_collection(requests_mock, make_ctx):
    """Cisco CIMC names its system after the serial number: the shared guess fails once, then is dropped."""
    shape = FleetShape()
    hosts = ('127.0.0.21', '127.0.0.22', '127.0.0.23')
    for number, host in enumerate(hosts):
        dell(requests_mock, host, 'WZP%04d' % number)
        if number:
            requests_mock.get('https://%s%s/Systems/WZP0000' % (host, ROOT), status_code=404,
                              json=redfish('error_404'))
    for host in hosts:
        with node_client(make_ctx, shape, host) as rf:
            rf.login()
            rf.get_power_state()
    assert ('GET', ROOT + '/Systems/WZP0000') in paths(requests_mock, hosts[1])
    assert [p for m, p in paths(requests_mock, hosts[2]) if m == 'GET'] == [ROOT + '/Systems',
                                                                           ROOT + '/Systems/WZP0002']


def test_a_client_without_a_shape_starts_from_bmcweb(requests_mock, make_ctx):
    serve(requests_mock)
    with client(make_ctx) as rf:
        rf.login()
        rf.get_power_state()
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, LOGOUT]
    assert FleetShape().guess(ROOT + '/Systems') == SYSTEM


def test_nodes_wait_for_the_scout_instead_of_all_probing():
    """While one node works a key out, another waits and then goes where the first one found."""
    import gevent
    shape = FleetShape()
    seen = []

    def scout():
        with shape.scout(ROOT + '/Systems'):
            gevent.sleep(0.01)
            shape.learn(ROOT + '/Systems', ROOT + '/Systems/1')

    def follower():
        with shape.scout(ROOT + '/Systems'):
            seen.append(shape.guess(ROOT + '/Systems'))

    gevent.joinall([gevent.spawn(scout), gevent.spawn(follower)], timeout=10)
    assert seen == [ROOT + '/Systems/1']
    assert shape.confirmed(ROOT + '/Systems')


def test_the_scout_may_ask_again_without_waiting_for_itself():
    shape = FleetShape()
    with shape.scout('sessions'):
        with shape.scout('sessions'):
            shape.learn('sessions', SESSIONS)
    assert shape.confirmed('sessions')


# --- HTTP Basic when the member is found per node (docs/DESIGN.md, row 10) ---------------

BASIC = requests.auth._basic_auth_str('root', PASSWORD)


def cimc(mock, host, serial, basic=True, password=PASSWORD):
    """Cisco CIMC's layout at ``host``: sessions where the specification puts them, the system
    named ``serial``; every path but the session POST takes the session's token, or HTTP
    Basic when ``basic``."""
    base = 'https://' + host
    member = ROOT + '/Systems/' + serial
    system = system_with(power_state='Off')
    system['@odata.id'] = member
    system['Actions']['#ComputerSystem.Reset']['target'] = member + '/Actions/ComputerSystem.Reset'
    systems = redfish('systems')
    systems['Members'][0]['@odata.id'] = member
    good_basic = requests.auth._basic_auth_str('root', password)

    def authorized(answer, status=200):
        def respond(request, context):
            if request.headers.get('X-Auth-Token') == TOKEN or (basic and request.headers.get('Authorization')
                                                                 == good_basic):
                context.status_code = status
                return json.dumps(answer) if answer is not None else ''
            context.status_code = 401
            return json.dumps(redfish('error_401'))
        return respond

    def login(request, context):
        if request.json().get('Password') != password:
            context.status_code = 401
            return json.dumps(redfish('error_401'))
        context.status_code = 201
        context.headers.update({'X-Auth-Token': TOKEN, 'Location': SESSION})
        return json.dumps(redfish('session_created'))

    # Matchers are tried newest first: anything not registered below is not there.
    mock.register_uri(requests_mock_lib.ANY, re.compile(re.escape(base) + '/'), status_code=404,
                      json=redfish('error_404'))
    mock.post(base + SESSIONS, text=login)
    mock.get(base + ROOT, json=redfish('root'))
    mock.delete(base + SESSION, text=authorized(None, 204))
    mock.get(base + ROOT + '/Systems', text=authorized(systems))
    mock.get(base + member, text=authorized(system))
    mock.post(base + member + '/Actions/ComputerSystem.Reset', text=authorized(None, 204))


def per_node_shape():
    """A command's shape after two nodes found their systems at different names."""
    shape = FleetShape()
    shape.learn(ROOT + '/Systems', None)
    return shape


def auth_of(mock, host):
    """``(method, path, 'basic'|'token'|None)`` of every request ``host`` got."""
    out = []
    for r in mock.request_history:
        if urllib.parse.urlsplit(r.url).hostname != host:
            continue
        auth = 'token' if 'X-Auth-Token' in r.headers else 'basic' if r.headers.get('Authorization') == BASIC else None
        out.append((r.method, urllib.parse.urlsplit(r.url).path, auth))
    return out


def test_a_one_shot_login_waits_for_the_first_request(requests_mock, make_ctx):
    serve(requests_mock)
    with client(make_ctx) as rf:
        rf.reuse_or_login(None)
        assert sent(requests_mock) == []
        assert rf.get_power_state() == 'On'
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, LOGOUT]


def test_per_node_members_use_http_basic_in_a_one_shot_agent(requests_mock, make_ctx):
    """Once the shape knows the system is found per node, a node opens no session: 2 requests."""
    shape = per_node_shape()
    cimc(requests_mock, '127.0.0.31', 'WZP0001')
    with node_client(make_ctx, shape, '127.0.0.31') as rf:
        rf.reuse_or_login(None)
        assert rf.get_power_state() == 'Off'
        assert not rf.logged_in
    assert auth_of(requests_mock, '127.0.0.31') == [('GET', ROOT + '/Systems', 'basic'),
                                                   ('GET', ROOT + '/Systems/WZP0001', 'basic')]
    assert shape.guess('basic') == 'accepted'


def test_a_shared_member_path_keeps_sessions(requests_mock, make_ctx):
    serve(requests_mock)
    with node_client(make_ctx, FleetShape(), HOST) as rf:
        rf.reuse_or_login(None)
        rf.get_power_state()
    assert sent(requests_mock) == [LOGIN, GET_SYSTEM, LOGOUT]


def test_a_warm_agent_keeps_sessions_for_per_node_members(requests_mock, make_ctx):
    """The warm agent keeps the session and the member's path for the next command."""
    cimc(requests_mock, '127.0.0.32', 'WZP0002')
    ctx = dataclasses.replace(make_ctx(), cache=object())
    with RedfishClient('n2', '127.0.0.32', 'root', PASSWORD, ctx=ctx, session=requests.Session(),
                       shape=per_node_shape()) as rf:
        rf.login()
        rf.get_power_state()
    assert auth_of(requests_mock, '127.0.0.32') == [('POST', SESSIONS, None), ('GET', ROOT + '/Systems', 'token'),
                                                   ('GET', ROOT + '/Systems/WZP0002', 'token'),
                                                   ('DELETE', SESSION, 'token')]


def test_a_refused_basic_falls_back_to_a_session_for_the_fleet(requests_mock, make_ctx):
    """A BMC that refuses Basic: that node logs in and asks again; the other nodes log in at once."""
    shape = per_node_shape()
    hosts = ('127.0.0.33', '127.0.0.34')
    for number, host in enumerate(hosts):
        cimc(requests_mock, host, 'WZP%04d' % number, basic=False)
    for host in hosts:
        with node_client(make_ctx, shape, host) as rf:
            rf.reuse_or_login(None)
            assert rf.get_power_state() == 'Off'
    session = [('POST', SESSIONS, None), ('GET', ROOT + '/Systems', 'token')]
    assert auth_of(requests_mock, hosts[0]) == [('GET', ROOT + '/Systems', 'basic')] + session + [
        ('GET', ROOT + '/Systems/WZP0000', 'token'), ('DELETE', SESSION, 'token')]
    assert auth_of(requests_mock, hosts[1]) == session + [('GET', ROOT + '/Systems/WZP0001', 'token'),
                                                         ('DELETE', SESSION, 'token')]
    assert shape.guess('basic') == 'refused'


def test_a_wrong_password_under_basic_is_the_login_refusal(requests_mock, make_ctx, messager):
    """Basic refused, then the session login refused too: the password is wrong, Basic is not."""
    shape = per_node_shape()
    cimc(requests_mock, '127.0.0.35', 'WZP0005', password='another')
    with pytest.raises(exc.BmcAuthError) as raised:
        with node_client(make_ctx, shape, '127.0.0.35') as rf:
            rf.reuse_or_login(None)
            rf.get_power_state()
    assert str(raised.value) == ('[401] While attempting to establish a connection to '
                                 '/redfish/v1/SessionService/Sessions, the service denied access.')
    assert [(m, p) for m, p, _a in auth_of(requests_mock, '127.0.0.35')] == [
        ('GET', ROOT + '/Systems'), ('POST', SESSIONS), ('GET', ROOT)]
    assert shape.guess('basic') is None, 'the next node still tries Basic'


def test_a_failed_first_request_login_is_the_node_error(requests_mock, make_ctx, messager):
    """bmcstate words HTTP refusals as ``BMC NotReady (...)``; a refused login keeps its own words."""
    serve(requests_mock)
    requests_mock.post(BASE + SESSIONS, status_code=401, json=redfish('error_401'))
    requests_mock.get(BASE + ROOT, json=redfish('root'))
    assert run(RedfishPowerExecutor, make_ctx, messager, 'get_bmc_state') == {
        'n1': 'Error: [401] While attempting to establish a connection to /redfish/v1/SessionService/Sessions, '
              'the service denied access.'}
    assert [m for m, _p, _b in sent(requests_mock)] == ['POST', 'GET']


def test_a_failed_login_sends_nothing_more(requests_mock, make_ctx, messager):
    """bmcreboot takes a dropped connection as a rebooting BMC; an unreachable login is not that."""
    serve(requests_mock)
    requests_mock.post(BASE + SESSIONS, exc=requests.exceptions.ConnectionError('refused'))
    lines = run(RedfishPowerExecutor, make_ctx, messager, 'reboot_bmc')
    assert lines['n1'].startswith('Error: ') and 'BMC reboot' not in lines['n1']
    assert [m for m, _p, _b in sent(requests_mock)] == ['POST']


def test_a_reset_target_of_another_node_not_there_marks_the_member_per_node(requests_mock, make_ctx):
    """rpower on over CIMCs: the second node's 404 at the first node's target drops the shared path."""
    shape = FleetShape()
    hosts = ('127.0.0.36', '127.0.0.37', '127.0.0.38')
    for number, host in enumerate(hosts):
        cimc(requests_mock, host, 'WZP%04d' % number)
    for host in hosts:
        with node_client(make_ctx, shape, host) as rf:
            rf.reuse_or_login(None)
            assert rf.reset('system', ('On',), 'on', 'On') == 'On'
    assert shape.guess(ROOT + '/Systems') is None
    assert auth_of(requests_mock, hosts[2]) == [
        ('GET', ROOT + '/Systems', 'basic'), ('GET', ROOT + '/Systems/WZP0002', 'basic'),
        ('POST', ROOT + '/Systems/WZP0002/Actions/ComputerSystem.Reset', 'basic')]


# --- a warm agent's parked session carries where the system is -------------------------

def parked_at(make_ctx, system_path):
    """A client that found the system at ``system_path`` and was parked (``_shed``), as the warm
    agent's cache holds it; and the next command's client, which took its session."""
    first = client(make_ctx)
    first._headers['X-Auth-Token'] = TOKEN
    first.record.session = SESSION
    first.record.system.path = system_path
    first.record.system.body = {'PowerState': 'On'}
    first._shed()
    assert first.record.system.body is None
    second = client(make_ctx)
    second._adopt_session(first)
    return second


def test_a_taken_session_reads_the_system_where_the_last_command_found_it(requests_mock, make_ctx):
    # docs/DESIGN.md, "Warm agent": one GET, not the well-known path, the collection and the member
    serve(requests_mock)
    move_system(requests_mock, system_with(power_state='Off'))
    taken = parked_at(make_ctx, UUID_PATH)
    assert taken.get_power_state() == 'Off'
    assert sent(requests_mock) == [('GET', UUID_PATH, None)]
    assert requests_mock.request_history[-1].headers['X-Auth-Token'] == TOKEN


def test_a_taken_session_patches_the_boot_where_the_last_command_found_the_system(requests_mock, make_ctx):
    serve(requests_mock)
    move_system(requests_mock)
    taken = parked_at(make_ctx, UUID_PATH)
    assert taken.set_boot('Pxe', 'Once') == ('Once', 'Pxe')
    assert sent(requests_mock) == [('PATCH', UUID_PATH, PXE_ONCE), ('GET', UUID_PATH, None)]


def test_a_system_no_longer_where_the_last_command_found_it_is_found_again(requests_mock, make_ctx):
    # another BMC at the same address (a replaced board): the old path is 404, the node goes on
    serve(requests_mock)
    move_system(requests_mock, system_with(power_state='Off'))
    gone = ROOT + '/Systems/WZP21000000'
    requests_mock.get(BASE + gone, status_code=404, json=redfish('error_404'))
    taken = parked_at(make_ctx, gone)
    assert taken.get_power_state() == 'Off'
    assert sent(requests_mock) == [('GET', gone, None), GET_SYSTEM, GET_SYSTEMS, ('GET', UUID_PATH, None)]
    taken._shed()
    assert taken._hints[ROOT + '/Systems'] == UUID_PATH


def test_a_taken_session_whose_system_refuses_the_patch_goes_to_its_settings_object(requests_mock, make_ctx):
    # the path from the last command is the system's (it refused the PATCH, it did not say 404):
    # read there, and the override goes to the settings object, as on a cold node
    system = system_with(boot=boot('Disabled', 'None'))
    system['@odata.id'] = UUID_PATH
    settings = UUID_PATH + '/Settings'
    system['@Redfish.Settings'] = {'SettingsObject': {'@odata.id': settings}}
    serve(requests_mock)
    requests_mock.get(BASE + UUID_PATH, json=lambda request, context: system)
    requests_mock.patch(BASE + UUID_PATH, status_code=400, json=refusal_400('Boot is a read-only property.'))
    requests_mock.patch(BASE + settings, text=patch_reply(system, '204'))
    taken = parked_at(make_ctx, UUID_PATH)
    assert taken.set_boot('Pxe', 'Once') == ('Once', 'Pxe')
    assert sent(requests_mock) == [('PATCH', UUID_PATH, PXE_ONCE), ('GET', UUID_PATH, None),
                                   ('PATCH', settings, PXE_ONCE), ('GET', UUID_PATH, None)]
