"""OpenBMCClient and the OpenBMC executors against requests-mock: what is sent, what is printed."""

import errno
import time

import pytest
import requests

from common import exceptions as exc
from common.rest import host_port
from common.task import Task
from conftest import db_frames, fixture_json, sent
from hwctl.executor.openbmc_power import OpenBMCPowerExecutor, chassis_host_word
from hwctl.executor.openbmc_setboot import OpenBMCSetbootExecutor
from hwctl.openbmc_client import OpenBMCClient

HOST = '127.0.0.2'
BASE = 'https://%s' % HOST
P = BASE + '/xyz/openbmc_project'
NODEINFO = {'n1': {'bmc': HOST, 'bmcip': HOST, 'username': 'root', 'password': 's3cret'}}


def state_payload(chassis, host):
    data = fixture_json('openbmc', 'state_enumerate_running')
    data['data']['/xyz/openbmc_project/state/chassis0']['CurrentPowerState'] = \
        'xyz.openbmc_project.State.Chassis.PowerState.' + chassis
    data['data']['/xyz/openbmc_project/state/host0']['CurrentHostState'] = \
        'xyz.openbmc_project.State.Host.HostState.' + host
    return data


@pytest.fixture
def bmc(requests_mock):
    """requests-mock with login and logout answered as an OpenBMC does."""
    requests_mock.post(BASE + '/login', json=fixture_json('openbmc', 'login'),
                       headers={'Set-Cookie': 'sid=abc123; Secure; HttpOnly'})
    requests_mock.post(BASE + '/logout', json=fixture_json('openbmc', 'ok'))
    return requests_mock


def run(executor_class, make_ctx, messager, op, *args, **ctx):
    task = Task(executor_class(make_ctx(**ctx), messager), NODEINFO, messager, make_ctx(**ctx))
    task.run(op, *args)
    return messager.lines()


def test_login_sends_credentials_keeps_cookie_and_logs_out(bmc, make_ctx):
    with OpenBMCClient('n1', HOST, 'root', 's3cret', ctx=make_ctx(), session=requests.Session()) as client:
        client.login()
        bmc.get(P + '/state/enumerate', json=state_payload('On', 'Running'))
        assert client.get_power_states() == ('On', 'Running')
    login, query, logout = bmc.request_history
    assert (login.method, login.path, login.json()) == ('POST', '/login', {'data': ['root', 's3cret']})
    assert query.headers['Cookie'] == 'sid=abc123'
    assert query.headers['Authorization'].startswith('Basic ')
    assert query.timeout == (5.0, 10.0)
    assert (logout.method, logout.path) == ('POST', '/logout')


@pytest.mark.parametrize('chassis,host,word', [
    ('Off', 'Off', 'off'), ('Off', 'Running', 'off'), ('On', 'Off', 'on (Chassis)'), ('On', 'Running', 'on'),
    ('On', 'Quiesced', 'quiesced'), ('On', 'DiagnosticMode', 'Unexpected host state=DiagnosticMode'),
    ('Blinking', 'Running', 'Unexpected chassis state=Blinking')])
def test_state_words(bmc, make_ctx, messager, chassis, host, word):
    bmc.get(P + '/state/enumerate', json=state_payload(chassis, host))
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'get_state') == {'n1': word}
    assert chassis_host_word(chassis, host) == word
    assert [m for m, _p, _b in sent(bmc)] == ['POST', 'GET', 'POST']


@pytest.mark.parametrize('state,path,value,status', [
    ('on', '/xyz/openbmc_project/state/host0/attr/RequestedHostTransition',
     'xyz.openbmc_project.State.Host.Transition.On', 'powering-on'),
    ('off', '/xyz/openbmc_project/state/chassis0/attr/RequestedPowerTransition',
     'xyz.openbmc_project.State.Chassis.Transition.Off', 'powering-off'),
    ('softoff', '/xyz/openbmc_project/state/host0/attr/RequestedHostTransition',
     'xyz.openbmc_project.State.Host.Transition.Off', 'powering-off')])
def test_set_state_sends_the_transition(bmc, make_ctx, messager, state, path, value, status):
    bmc.put(BASE + path, json=fixture_json('openbmc', 'ok'))
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'set_state', state) == {'n1': state}
    assert sent(bmc)[1] == ('PUT', path, {'data': value})
    assert db_frames(messager.frames) == [('n1', status)]


def test_reset_of_running_node_powers_off_waits_and_powers_on(bmc, make_ctx, messager):
    bmc.get(P + '/state/enumerate', [{'json': state_payload('On', 'Running')},
                                     {'json': state_payload('On', 'Running')},
                                     {'json': state_payload('Off', 'Off')}])
    bmc.put(P + '/state/chassis0/attr/RequestedPowerTransition', json=fixture_json('openbmc', 'ok'))
    bmc.put(P + '/state/host0/attr/RequestedHostTransition', json=fixture_json('openbmc', 'ok'))
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'reboot', 'reset') == {'n1': 'reset'}
    methods = [(m, p.rsplit('/', 1)[-1]) for m, p, _b in sent(bmc)]
    assert methods == [('POST', 'login'), ('GET', 'enumerate'), ('PUT', 'RequestedPowerTransition'),
                       ('GET', 'enumerate'), ('GET', 'enumerate'), ('PUT', 'RequestedHostTransition'),
                       ('POST', 'logout')]
    assert db_frames(messager.frames) == [('n1', 'powering-off'), ('n1', 'powering-on')]


@pytest.mark.parametrize('optype,word,puts', [('reset', 'off', 0), ('boot', 'reset', 1)])
def test_reset_and_boot_of_an_off_node(bmc, make_ctx, messager, optype, word, puts):
    bmc.get(P + '/state/enumerate', json=state_payload('Off', 'Off'))
    bmc.put(P + '/state/host0/attr/RequestedHostTransition', json=fixture_json('openbmc', 'ok'))
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'reboot', optype) == {'n1': word}
    assert sum(1 for m, _p, _b in sent(bmc) if m == 'PUT') == puts


def test_reset_that_never_reaches_off_is_a_bounded_state_timeout(bmc, make_ctx, messager):
    bmc.get(P + '/state/enumerate', json=state_payload('On', 'Running'))
    bmc.put(P + '/state/chassis0/attr/RequestedPowerTransition', json=fixture_json('openbmc', 'ok'))
    lines = run(OpenBMCPowerExecutor, make_ctx, messager, 'reboot', 'reset', state_wait=0.2)
    assert lines['n1'].startswith('Error: Sent power-off command but state did not change to off after waiting ')
    assert lines['n1'].endswith(' seconds. (State= Running).')


def test_off_wait_names_xcats_internal_state_of_a_chassis_left_on(bmc, make_ctx, messager):
    bmc.get(P + '/state/enumerate', json=state_payload('On', 'Off'))
    bmc.put(P + '/state/chassis0/attr/RequestedPowerTransition', json=fixture_json('openbmc', 'ok'))
    lines = run(OpenBMCPowerExecutor, make_ctx, messager, 'reboot', 'boot', state_wait=0.2)
    assert lines['n1'].endswith(' seconds. (State= chassison).')


@pytest.mark.parametrize('value,word', [('Ready', 'BMC Ready'), ('NotReady', 'BMC NotReady')])
def test_bmcstate(bmc, make_ctx, messager, value, word):
    bmc.get(P + '/state/bmc0/attr/CurrentBMCState',
            json={'data': 'xyz.openbmc_project.State.BMC.BMCState.' + value, 'message': '200 OK', 'status': 'ok'})
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'get_bmc_state') == {'n1': word}


def test_bmcstate_refused_after_login_says_not_ready_with_the_status(bmc, make_ctx, messager):
    bmc.get(P + '/state/bmc0/attr/CurrentBMCState', status_code=403, json=fixture_json('openbmc', 'login_401'))
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'get_bmc_state') == {
        'n1': 'Error: BMC NotReady ([403] Invalid username or password)'}


def test_bmcreboot_with_unreadable_firmware_list_still_reboots(bmc, make_ctx, messager):
    bmc.get(P + '/software/enumerate', json={'data': ['not', 'an', 'object'], 'message': '200 OK'})
    bmc.put(P + '/state/bmc0/attr/RequestedBMCTransition', json=fixture_json('openbmc', 'ok'))
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'reboot_bmc') == {'n1': 'BMC reboot'}
    assert [m for m, _p, _b in sent(bmc)] == ['POST', 'GET', 'PUT']
    assert any(f['msg']['type'] == 'syslog' and 'software/enumerate' in f['msg']['data']
               for f in messager.frames if f['type'] == 'message')


def test_bmcstate_http_error(bmc, make_ctx, messager):
    bmc.get(P + '/state/bmc0/attr/CurrentBMCState', status_code=500, json=fixture_json('openbmc', 'error_500'))
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'get_bmc_state', retries=0) == {
        'n1': 'Error: BMC NotReady ([500] org.freedesktop.DBus.Error.Failed)'}


def test_bmcstate_unreachable_says_not_ready_and_tries_no_logout(bmc, make_ctx, messager):
    bmc.get(P + '/state/bmc0/attr/CurrentBMCState', exc=requests.exceptions.ConnectionError('reset'))
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'get_bmc_state', retries=0) == {'n1': 'Error: BMC NotReady'}
    assert [m for m, _p, _b in sent(bmc)] == ['POST', 'GET']


def test_bmcreboot_with_pending_firmware_clears_dumps_and_reboots(bmc, make_ctx, messager):
    bmc.get(P + '/software/enumerate', json=fixture_json('openbmc', 'software_enumerate_pending'))
    bmc.post(P + '/dump/action/DeleteAll', json=fixture_json('openbmc', 'ok'))
    bmc.put(P + '/state/bmc0/attr/RequestedBMCTransition', json=fixture_json('openbmc', 'ok'))
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'reboot_bmc') == {'n1': 'BMC reboot'}
    assert ('POST', '/xyz/openbmc_project/dump/action/DeleteAll', {'data': []}) in sent(bmc)
    assert ('PUT', '/xyz/openbmc_project/state/bmc0/attr/RequestedBMCTransition',
            {'data': 'xyz.openbmc_project.State.BMC.Transition.Reboot'}) in sent(bmc)
    assert 'n1: Firmware will be flashed on reboot, deleting all BMC diagnostics...' in [
        f['msg']['data'] for f in messager.frames if f['type'] == 'message']
    # the BMC goes down: no logout
    assert sent(bmc)[-1][0] == 'PUT'


def test_bmcreboot_dropped_connection_still_reports_reboot(bmc, make_ctx, messager):
    bmc.get(P + '/software/enumerate', json=fixture_json('openbmc', 'software_enumerate_pending'))
    bmc.post(P + '/dump/action/DeleteAll', json=fixture_json('openbmc', 'ok'))
    bmc.put(P + '/state/bmc0/attr/RequestedBMCTransition', exc=requests.exceptions.ConnectionError('reset'))
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'reboot_bmc') == {'n1': 'BMC reboot'}


def test_setboot_stat_one_time_wins(bmc, make_ctx, messager):
    bmc.get(P + '/control/host0/enumerate', json=fixture_json('openbmc', 'control_host0_enumerate'))
    assert run(OpenBMCSetbootExecutor, make_ctx, messager, 'get_state') == {'n1': 'Network'}


def test_setboot_stat_persistent_when_one_time_disabled(bmc, make_ctx, messager):
    data = fixture_json('openbmc', 'control_host0_enumerate')
    data['data']['/xyz/openbmc_project/control/host0/boot/one_time']['Enabled'] = 0
    bmc.get(P + '/control/host0/enumerate', json=data)
    assert run(OpenBMCSetbootExecutor, make_ctx, messager, 'get_state') == {'n1': 'Hard Drive'}


@pytest.mark.parametrize('device,persistent,source,word', [
    ('net', False, 'Network', 'Network'), ('hd', False, 'Disk', 'Hard Drive'), ('cd', False, 'ExternalMedia', 'CD/DVD'),
    ('def', False, 'Default', 'Default'), ('default', True, 'Default', 'Default'), ('net', True, 'Network', 'Network')])
def test_setboot_sends_enabled_then_source(bmc, make_ctx, messager, device, persistent, source, word):
    bmc.put(P + '/control/host0/boot/one_time/attr/Enabled', json=fixture_json('openbmc', 'ok'))
    bmc.put(P + '/control/host0/boot/one_time/attr/BootSource', json=fixture_json('openbmc', 'ok'))
    bmc.put(P + '/control/host0/boot/attr/BootSource', json=fixture_json('openbmc', 'ok'))
    assert run(OpenBMCSetbootExecutor, make_ctx, messager, 'set_state', device, persistent) == {'n1': word}
    target = '/boot/attr/BootSource' if persistent else '/boot/one_time/attr/BootSource'
    assert sent(bmc)[1:3] == [
        ('PUT', '/xyz/openbmc_project/control/host0/boot/one_time/attr/Enabled', {'data': 0 if persistent else 1}),
        ('PUT', '/xyz/openbmc_project/control/host0' + target,
         {'data': 'xyz.openbmc_project.Control.Boot.Source.Sources.' + source})]


@pytest.mark.parametrize('status,body,error,text', [
    (401, 'login_401', exc.BmcAuthError, '[401] Invalid username or password'),
    (403, 'login_401', exc.BmcAuthError, '[403] Invalid username or password'),
    (500, 'error_500', exc.BmcHTTPError, '[500] org.freedesktop.DBus.Error.Failed'),
    (502, None, exc.BmcLoginUnreachable,
     "Login to BMC failed: Can't connect to 127.0.0.2:443 (Verify REST server is running on the BMC)."),
    (404, None, exc.BmcHTTPError, '[404] HTTP 404')])
def test_login_status_mapping(requests_mock, make_ctx, status, body, error, text):
    kwargs = {'json': fixture_json('openbmc', body)} if body else {'text': ''}
    requests_mock.post(BASE + '/login', status_code=status, **kwargs)
    client = OpenBMCClient('n1', HOST, 'root', 's3cret', ctx=make_ctx(retries=0), session=requests.Session())
    with pytest.raises(error) as raised:
        client.login()
    assert str(raised.value) == text
    assert raised.value.node == 'n1'


@pytest.mark.parametrize('failure,cause', [
    (requests.exceptions.ConnectTimeout('x'), 'connect timeout after 5 s'),
    (requests.exceptions.ReadTimeout('x'), 'read timeout after 10 s'),
    (requests.exceptions.ConnectionError(ConnectionRefusedError(111, 'Connection refused')), 'Connection refused'),
    (requests.exceptions.ConnectionError(OSError(errno.EHOSTUNREACH, 'No route to host')), 'No route to host'),
    (requests.exceptions.ConnectionError(OSError(errno.ENETUNREACH, 'Network is unreachable')),
     'Network is unreachable')])
def test_transport_errors_are_named(requests_mock, make_ctx, failure, cause):
    requests_mock.post(BASE + '/login', exc=failure)
    client = OpenBMCClient('n1', HOST, 'root', 's3cret', ctx=make_ctx(retries=0), session=requests.Session())
    with pytest.raises(exc.BmcLoginUnreachable) as raised:
        client.login()
    assert str(raised.value) == "Login to BMC failed: Can't connect to %s:443 (%s)." % (HOST, cause)


@pytest.mark.parametrize('bmcip,named', [('10.1.1.1', '10.1.1.1:443'), ('10.1.1.1:8443', '10.1.1.1:8443'),
                                         ('fd00::5', '[fd00::5]:443'), ('[fd00::5]:8443', '[fd00::5]:8443')])
def test_login_errors_name_host_and_port_as_xcat_does(bmcip, named):
    assert host_port(bmcip) == named


def test_a_failure_after_login_skips_the_logout(bmc, make_ctx, messager):
    bmc.get(P + '/state/enumerate', exc=requests.exceptions.ReadTimeout('x'))
    line = run(OpenBMCPowerExecutor, make_ctx, messager, 'get_state', retries=0)['n1']
    assert line == ('Error: BMC did not respond. Validate BMC configuration and retry the command. '
                    '(read timeout after 10 s)')
    assert [(m, p) for m, p, _b in sent(bmc)] == [('POST', '/login'), ('GET', '/xyz/openbmc_project/state/enumerate')]


def test_an_http_error_after_login_still_logs_out(bmc, make_ctx, messager):
    bmc.get(P + '/state/enumerate', status_code=500, json=fixture_json('openbmc', 'error_500'))
    run(OpenBMCPowerExecutor, make_ctx, messager, 'get_state', retries=0)
    assert sent(bmc)[-1][:2] == ('POST', '/logout')


def test_get_retries_a_lasting_503_exactly_retries_times_and_logs_each(bmc, make_ctx, messager, caplog):
    bmc.get(P + '/state/enumerate', status_code=503, json=fixture_json('openbmc', 'error_500'))
    caplog.set_level('WARNING', logger='common.rest')
    line = run(OpenBMCPowerExecutor, make_ctx, messager, 'get_state', retries=2, retry_delay=0)['n1']
    assert line == 'Error: [503] org.freedesktop.DBus.Error.Failed'
    assert sum(1 for m, _p, _b in sent(bmc) if m == 'GET') == 3
    assert [r.getMessage().rsplit(', ', 1)[1] for r in caplog.records] == ['retry 1 of 2', 'retry 2 of 2']


@pytest.mark.parametrize('failure', [requests.exceptions.ConnectionError(ConnectionResetError(104, 'reset')),
                                     requests.exceptions.ReadTimeout('x')])
def test_a_transition_put_is_never_retried_after_a_transport_failure(bmc, make_ctx, messager, failure):
    bmc.put(P + '/state/chassis0/attr/RequestedPowerTransition', exc=failure)
    line = run(OpenBMCPowerExecutor, make_ctx, messager, 'set_state', 'off', retries=2, retry_delay=0)['n1']
    assert line.startswith('Error: BMC did not respond.')
    assert sum(1 for m, _p, _b in sent(bmc) if m == 'PUT') == 1


def test_get_retries_a_503_then_succeeds(bmc, make_ctx, messager):
    bmc.get(P + '/state/enumerate', [{'status_code': 503, 'text': ''}, {'json': state_payload('On', 'Running')}])
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'get_state') == {'n1': 'on'}


def test_non_json_success_is_a_bad_response(bmc, make_ctx, messager):
    bmc.get(P + '/state/enumerate', text='<html>oops</html>')
    line = run(OpenBMCPowerExecutor, make_ctx, messager, 'get_state')['n1']
    assert line.startswith('Error: Received wrong format response: GET ')


def test_missing_keys_are_a_bad_response(bmc, make_ctx, messager):
    bmc.get(P + '/state/enumerate', json={'data': {}, 'message': '200 OK', 'status': 'ok'})
    assert run(OpenBMCPowerExecutor, make_ctx, messager, 'get_state')['n1'] == \
        'Error: Received wrong format response: no chassis power or host state in /xyz/openbmc_project/state/enumerate'


def test_debug_trace_is_replayable_and_masks_secrets(bmc, make_ctx, messager):
    bmc.get(P + '/state/enumerate', json=state_payload('On', 'Running'))
    run(OpenBMCPowerExecutor, make_ctx, messager, 'get_state', debugmode=1)
    traces = [f['msg']['data'] for f in messager.frames if '[openbmc_debug]' in f['msg'].get('data', '')]
    stamp, _sep, first = traces[0].partition(' n1: ')
    assert time.strptime(stamp)
    assert first == ('[openbmc_debug] curl -k -X POST -H "Content-Type: application/json" '
                     '-H "Authorization: xxxxxx" https://127.0.0.2/login -d \'{"data": ["root", "xxxxxx"]}\'')
    assert traces[1].endswith(' n1: [openbmc_debug] POST 200 OK')
    assert any('-H "Cookie: xxxxxx"' in t for t in traces)
    assert not any('s3cret' in t or 'abc123' in t for t in traces)


@pytest.mark.parametrize('bmcip', ['[::1', '127.0.0.1:99999', '127.0.0.1:abc', '127.0.0.1:0', ''])
def test_an_address_no_url_can_be_built_from_is_refused_before_any_request(requests_mock, make_ctx, bmcip):
    with pytest.raises(exc.InvalidRequest) as raised:
        OpenBMCClient('n1', bmcip, 'root', 's3cret', ctx=make_ctx(), session=requests.Session())
    assert str(raised.value) == 'Invalid request: BMC address %r is not a host or host:port' % bmcip
    assert requests_mock.request_history == []


def test_a_host_name_that_cannot_be_encoded_is_named_as_such(requests_mock, make_ctx):
    requests_mock.post('https://a..b/login', exc=requests.exceptions.InvalidURL('Failed to parse: a..b'))
    client = OpenBMCClient('n1', 'a..b', 'root', 's3cret', ctx=make_ctx(retries=0), session=requests.Session())
    with pytest.raises(exc.BmcLoginUnreachable) as raised:
        client.login()
    assert str(raised.value) == "Login to BMC failed: Can't connect to a..b:443 (invalid BMC address)."
