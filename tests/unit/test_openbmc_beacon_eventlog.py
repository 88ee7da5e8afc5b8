"""rbeacon and reventlog on OpenBMC against requests-mock: what is sent, what is printed.

Replies are recorded shapes of our own (tests/fixtures/openbmc), with sorted keys as
phosphor-rest-server sends them. Expected lines are the ones docs/DESIGN.md gives for that
data ("rbeacon and reventlog").
"""


import pytest

from common import exceptions as exc
from conftest import fixture_json, sent
from hwctl.executor import openbmc_eventlog as ev
from xcatagent.openbmc import OpenBMCManager

HOST = '127.0.0.2'
BASE = 'https://%s' % HOST
P = BASE + '/xyz/openbmc_project'
NODEINFO = {'n1': {'bmc': HOST, 'bmcip': HOST, 'username': 'root', 'password': 's3cret'}}
LOGIN = ('POST', '/login', {'data': ['root', 's3cret']})
LOGOUT = ('POST', '/logout', {'data': []})
LOG_GET = ('GET', '/xyz/openbmc_project/logging/enumerate', None)
FIXTURES = ev.os.path.join(ev.os.path.dirname(__file__), '..', 'fixtures', 'openbmc')
SMALL_TABLE = ev.os.path.abspath(ev.os.path.join(FIXTURES, 'policy_table_small.json'))

#: The example of docs/DESIGN.md for node 1's data, agent in UTC, no policy table.
LINES_NO_TABLE = [
    '04/20/2018 14:03:42 [1]: xyz.openbmc_project.Common.Error.InternalFailure (PID: 185), Resolved: False',
    '04/20/2018 14:05:02 [2]: org.open_power.Host.Error.Event||/xyz/openbmc_project/inventory/system/chassis/'
    'motherboard/cpu0 (PID: 1175), Resolved: False [LED]',
    '04/20/2018 16:00:11 [3]: xyz.openbmc_project.Inventory.Error.NotPresent||/xyz/openbmc_project/inventory/'
    'system/chassis/motherboard/powersupply1 (PID: 1322), Resolved: True [LED]',
    '04/20/2018 18:46:57 [10]: xyz.openbmc_project.Common.Device.Error.ReadFailure||I2C (PID: 1407), '
    'Resolved: False [LED]',
]


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv('TZ', 'UTC')
    ev.time.tzset()
    yield
    monkeypatch.undo()
    ev.time.tzset()


@pytest.fixture
def no_table(monkeypatch, tmp_path):
    monkeypatch.setenv(ev.POLICY_TABLE_ENV, str(tmp_path / 'absent.json'))


@pytest.fixture
def bmc(requests_mock, no_table):
    requests_mock.post(BASE + '/login', json=fixture_json('openbmc', 'login'),
                       headers={'Set-Cookie': 'sid=abc123; Secure; HttpOnly'})
    requests_mock.post(BASE + '/logout', json=fixture_json('openbmc', 'ok'))
    return requests_mock


def output(messager):
    """Every message as printed by xCAT's client: ``node: text``, ``node: Error: text``, ``text``."""
    out = []
    for frame in messager.frames:
        if frame.get('type') != 'message':
            continue
        msg = frame['msg']
        if msg['type'] == 'error':
            out.append('%s: Error: %s' % (msg['node'], msg['data']) if msg.get('node') else
                       'Error: %s' % msg['data'])
        elif msg['type'] in ('info', 'warning'):
            out.extend(msg['data'].split('\n'))
    return out


def command(messager, make_ctx, name, *args):
    OpenBMCManager(messager, make_ctx()).run(name, NODEINFO, list(args))
    return output(messager)


# -- rbeacon ---------------------------------------------------------------------------------

@pytest.mark.parametrize('word,value', [('on', True), ('off', False)])
def test_rbeacon_on_off_put_the_identify_group(bmc, messager, make_ctx, word, value):
    bmc.put(P + '/led/groups/enclosure_identify/attr/Asserted', json=fixture_json('openbmc', 'ok'))
    assert command(messager, make_ctx, 'rbeacon', word) == ['n1: %s' % word]
    assert sent(bmc) == [LOGIN, ('PUT', '/xyz/openbmc_project/led/groups/enclosure_identify/attr/Asserted',
                                 {'data': value}), LOGOUT]


def test_rbeacon_stat_reads_the_physical_leds(bmc, messager, make_ctx):
    bmc.get(P + '/led/physical/enumerate', json=fixture_json('openbmc', 'led_physical_enumerate'))
    assert command(messager, make_ctx, 'rbeacon', 'stat', '-V') == ['n1: Front:Off Rear:Off']
    assert sent(bmc) == [LOGIN, ('GET', '/xyz/openbmc_project/led/physical/enumerate', None), LOGOUT]


def test_rbeacon_stat_blink_and_missing_leds(bmc, messager, make_ctx):
    data = fixture_json('openbmc', 'led_physical_enumerate')
    leds = data['data']
    leds[P[len(BASE):] + '/led/physical/front_id']['State'] = 'xyz.openbmc_project.Led.Physical.Action.Blink'
    del leds[P[len(BASE):] + '/led/physical/rear_id']
    bmc.get(P + '/led/physical/enumerate', json=data)
    assert command(messager, make_ctx, 'rbeacon', 'stat') == ['n1: Front:Blink Rear:N/A']
    messager.frames.clear()
    del leds[P[len(BASE):] + '/led/physical/front_id']
    assert command(messager, make_ctx, 'rbeacon', 'stat') == ['n1: Front:None Rear:N/A']


def test_rbeacon_stat_led_without_state_is_a_wrong_format_error(bmc, messager, make_ctx):
    data = fixture_json('openbmc', 'led_physical_enumerate')
    del data['data']['/xyz/openbmc_project/led/physical/fan2']['State']
    bmc.get(P + '/led/physical/enumerate', json=data)
    (line,) = command(messager, make_ctx, 'rbeacon', 'stat')
    assert line.startswith("n1: Error: Received wrong format response: {'/xyz/openbmc_project/led/physical/fan0'")


def test_rbeacon_missing_group_is_the_bmc_404(bmc, messager, make_ctx):
    bmc.put(P + '/led/groups/enclosure_identify/attr/Asserted', status_code=404,
            json={'data': {'description': 'org.freedesktop.DBus.Error.FileNotFound: path or object not found'},
                  'message': '404 Not Found', 'status': 'error'})
    assert command(messager, make_ctx, 'rbeacon', 'on') == [
        'n1: Error: [404] org.freedesktop.DBus.Error.FileNotFound: path or object not found']


@pytest.mark.parametrize('args,line', [
    ([], 'Subcommand for rbeacon was not specified'),
    (['on', 'off'], 'Only one option is supported at the same time for rbeacon'),
    (['blink'], "Only 'on', 'off' and 'stat' are supported for OpenBMC managed nodes."),
])
def test_rbeacon_bad_words_are_one_clear_line_without_requests(bmc, messager, make_ctx, args, line):
    assert command(messager, make_ctx, 'rbeacon', *args) == ['n1: Error: ' + line]
    assert sent(bmc) == []


def test_rbeacon_repeated_verbose_does_not_hang(bmc, messager, make_ctx):
    bmc.get(P + '/led/physical/enumerate', json=fixture_json('openbmc', 'led_physical_enumerate'))
    assert command(messager, make_ctx, 'rbeacon', '-V', 'stat', '--verbose', '-V') == ['n1: Front:Off Rear:Off']


# -- reventlog formatting -----------------------------------------------------------------------

def test_format_without_table_is_the_documented_example():
    entries = ev.parse_log(fixture_json('openbmc', 'logging_enumerate')['data'], {})
    assert [e.line for e in entries.values()] == LINES_NO_TABLE
    assert [(e.id, e.resolved, e.callout) for e in entries.values()] == [
        (1, False, False), (2, False, True), (3, True, True), (10, False, True)]


def test_format_with_table_decorates_found_messages_only():
    events, problem = ev.load_policy_table(SMALL_TABLE)
    assert problem is None
    lines = [e.line for e in ev.parse_log(fixture_json('openbmc', 'logging_enumerate')['data'], events).values()]
    assert lines == [
        '04/20/2018 14:03:42 [1]: Firmware/Software Failure, (Warning) An internal failure has occurred while '
        'performing an operation. (AffectedSubsystem: Systems Management - Core / Virtual Appliance, PID: 185), '
        'Resolved: False',
        '04/20/2018 14:05:02 [2]: Unrecoverable Hardware Failure, (Critical) CPU 0 has failed (AffectedSubsystem: '
        'Processing, PID: 1175), Resolved: False [LED]',
        '04/20/2018 16:00:11 [3]: Not found in policy table: xyz.openbmc_project.Inventory.Error.NotPresent||'
        '/xyz/openbmc_project/inventory/system/chassis/motherboard/powersupply1 (PID: 1322), Resolved: True [LED]',
        '04/20/2018 18:46:57 [10]: Not found in policy table: xyz.openbmc_project.Common.Device.Error.ReadFailure'
        '||I2C (PID: 1407), Resolved: False [LED]',
    ]


@pytest.mark.parametrize('data,line', [
    # no _PID: "( Resolved: ..." as xCAT prints it
    ({'Id': 4, 'Message': 'M', 'Resolved': True, 'Timestamp': 0}, '01/01/1970 00:00:00 [4]: M ( Resolved: True'),
    # integer Resolved prints 1/0
    ({'Id': 5, 'Message': 'M', 'Resolved': 0, 'Timestamp': 1000}, '01/01/1970 00:00:01 [5]: M ( Resolved: 0'),
    # PROCEDURE in hex, GPU text, other CALLOUT_* only flags
    ({'AdditionalData': ['PROCEDURE=43', '_PID=7'], 'Id': 6, 'Message': 'M', 'Resolved': False, 'Timestamp': 0},
     '01/01/1970 00:00:00 [6]: M||2b (PID: 7), Resolved: False'),
    ({'AdditionalData': ['GPU_ID=1'], 'Id': 7, 'Message': 'M', 'Resolved': False, 'Timestamp': 0},
     '01/01/1970 00:00:00 [7]: M||/xyz/openbmc_project/inventory/system/chassis/motherboard/gpu ( Resolved: False'),
    ({'AdditionalData': ['CALLOUT_ERRNO=6'], 'Id': 8, 'Message': 'M', 'Resolved': False, 'Timestamp': 0},
     '01/01/1970 00:00:00 [8]: M ( Resolved: False [LED]'),
    # an eSEL with an empty inventory callout: [LED] but no || suffix; ESEL ignored
    ({'AdditionalData': ['CALLOUT_INVENTORY_PATH=', 'ESEL=00 11'], 'Id': 9, 'Message': 'M', 'Resolved': False,
      'Timestamp': 0}, '01/01/1970 00:00:00 [9]: M ( Resolved: False [LED]'),
    # an item without '=' does not drop the node (xCAT's agent crashes on it)
    ({'AdditionalData': ['_PID'], 'Id': 11, 'Message': 'M', 'Resolved': False, 'Timestamp': 0},
     '01/01/1970 00:00:00 [11]: M (PID: ), Resolved: False'),
])
def test_format_entry_variants(data, line):
    assert ev.format_entry(data, {}).line == line


def test_objects_without_id_are_dropped():
    assert ev.format_entry({'endpoints': ['/x']}, {}) is None
    assert ev.format_entry({}, {}) is None
    assert ev.format_entry({'Id': 0, 'Message': 'M'}, {}) is None


def test_policy_table_problems(tmp_path):
    assert ev.load_policy_table(str(tmp_path / 'none.json')) == ({}, None)
    empty = tmp_path / 'empty.json'
    empty.write_text('{}')
    assert ev.load_policy_table(str(empty)) == ({}, None)
    broken = tmp_path / 'broken.json'
    broken.write_text('{"events": ')
    events, problem = ev.load_policy_table(str(broken))
    assert events == {} and problem


# -- reventlog requests and lines -------------------------------------------------------------------

def test_list_all_prints_the_hint_once_and_every_entry(bmc, messager, make_ctx):
    bmc.get(P + '/logging/enumerate', json=fixture_json('openbmc', 'logging_enumerate'))
    assert command(messager, make_ctx, 'reventlog', 'list', 'all') == \
        [ev.POLICY_HINT] + ['n1: ' + line for line in LINES_NO_TABLE]
    assert sent(bmc) == [LOGIN, LOG_GET, LOGOUT]


def test_list_n_keeps_the_highest_ids(bmc, messager, make_ctx):
    bmc.get(P + '/logging/enumerate', json=fixture_json('openbmc', 'logging_enumerate'))
    assert command(messager, make_ctx, 'reventlog', 'list', '2', '-V')[1:] == \
        ['n1: ' + line for line in LINES_NO_TABLE[2:]]


def test_list_with_a_policy_table_prints_no_hint(bmc, messager, make_ctx, monkeypatch):
    monkeypatch.setenv(ev.POLICY_TABLE_ENV, SMALL_TABLE)
    bmc.get(P + '/logging/enumerate', json=fixture_json('openbmc', 'logging_enumerate'))
    out = command(messager, make_ctx, 'reventlog', 'list', '1')
    assert out == ['n1: 04/20/2018 18:46:57 [10]: Not found in policy table: '
                   'xyz.openbmc_project.Common.Device.Error.ReadFailure||I2C (PID: 1407), Resolved: False [LED]']


def test_list_of_an_empty_log(bmc, messager, make_ctx):
    bmc.get(P + '/logging/enumerate', json={'data': {'/xyz/openbmc_project/logging/internal/manager': {}},
                                            'message': '200 OK', 'status': 'ok'})
    assert command(messager, make_ctx, 'reventlog')[1:] == ['n1: No attributes returned from the BMC.']


def test_list_of_a_reply_that_is_no_object_is_one_clear_line(bmc, messager, make_ctx):
    bmc.get(P + '/logging/enumerate', json={'data': ['x'], 'message': '200 OK', 'status': 'ok'})
    (line,) = command(messager, make_ctx, 'reventlog', 'all')[1:]
    assert line.startswith('n1: Error: Received wrong format response: ')


def test_clear_posts_delete_all(bmc, messager, make_ctx):
    bmc.post(P + '/logging/action/DeleteAll', json=fixture_json('openbmc', 'ok'))
    assert command(messager, make_ctx, 'reventlog', 'clear') == ['n1: Logs cleared']
    assert sent(bmc) == [LOGIN, ('POST', '/xyz/openbmc_project/logging/action/DeleteAll', {'data': []}), LOGOUT]


def _resolve_put(entry):
    return ('PUT', '/xyz/openbmc_project/logging/entry/%s/attr/Resolved' % entry, {'data': '1'})


def test_resolved_ids(bmc, messager, make_ctx):
    bmc.get(P + '/logging/enumerate', json=fixture_json('openbmc', 'logging_enumerate'))
    bmc.put(P + '/logging/entry/1/attr/Resolved', json=fixture_json('openbmc', 'ok'))
    bmc.put(P + '/logging/entry/2/attr/Resolved', json=fixture_json('openbmc', 'ok'))
    out = command(messager, make_ctx, 'reventlog', 'resolved', 'resolved=2,100,1,3')
    assert out == [ev.POLICY_HINT, 'n1: Error: Invalid ID: 100', 'n1: Resolved 2', 'n1: Resolved 1',
                   'n1: Resolved 3']
    # entry 3 is already resolved on the BMC: no request for it
    assert sent(bmc) == [LOGIN, LOG_GET, _resolve_put(2), _resolve_put(1), LOGOUT]


def test_resolved_led_selects_every_callout_entry(bmc, messager, make_ctx):
    bmc.get(P + '/logging/enumerate', json=fixture_json('openbmc', 'logging_enumerate'))
    for entry in (2, 10):
        bmc.put(P + '/logging/entry/%d/attr/Resolved' % entry, json=fixture_json('openbmc', 'ok'))
    out = command(messager, make_ctx, 'reventlog', 'resolved=Led')
    assert out[1:] == ['n1: Resolved 2', 'n1: Resolved 3', 'n1: Resolved 10']
    assert sent(bmc) == [LOGIN, LOG_GET, _resolve_put(2), _resolve_put(10), LOGOUT]


@pytest.mark.parametrize('ids', ['100,101', '-1', 'abc'])
def test_resolved_nothing_valid(bmc, messager, make_ctx, ids):
    bmc.get(P + '/logging/enumerate', json=fixture_json('openbmc', 'logging_enumerate'))
    out = command(messager, make_ctx, 'reventlog', 'resolved', 'resolved=' + ids)
    assert out[1:] == ['n1: Error: Invalid ID: %s' % i for i in ids.split(',')] + \
        ['n1: Error: No event log entries needed to be resolved']
    assert sent(bmc) == [LOGIN, LOG_GET, LOGOUT]


def test_resolved_put_failure_keeps_the_other_lines(bmc, messager, make_ctx):
    bmc.get(P + '/logging/enumerate', json=fixture_json('openbmc', 'logging_enumerate'))
    bmc.put(P + '/logging/entry/1/attr/Resolved', status_code=403,
            json={'data': {'description': 'Forbidden'}, 'message': '403 Forbidden', 'status': 'error'})
    bmc.put(P + '/logging/entry/2/attr/Resolved', json=fixture_json('openbmc', 'ok'))
    out = command(messager, make_ctx, 'reventlog', 'resolved=1,2')
    assert out[1:] == ['n1: Error: [403] Forbidden', 'n1: Resolved 2']


def test_resolved_on_an_empty_log(bmc, messager, make_ctx):
    bmc.get(P + '/logging/enumerate', json={'data': {}, 'message': '200 OK', 'status': 'ok'})
    assert command(messager, make_ctx, 'reventlog', 'resolved=LED')[1:] == \
        ['n1: Error: No event log entries needed to be resolved']


@pytest.mark.parametrize('args', [['list', '1', '2'], ['bogus'], ['resolved'], ['resolved=']])
def test_reventlog_bad_words_are_one_clear_line_without_requests(bmc, messager, make_ctx, args):
    (line,) = command(messager, make_ctx, 'reventlog', *args)
    assert line.startswith('n1: Error: ')
    assert sent(bmc) == []


def test_transport_failure_is_one_line(requests_mock, no_table, messager, make_ctx):
    import requests
    requests_mock.post(BASE + '/login', exc=requests.exceptions.ConnectionError('refused'))
    out = command(messager, make_ctx, 'reventlog', 'list', 'all')
    assert out[0] == ev.POLICY_HINT
    assert len(out) == 2 and out[1].startswith('n1: Error: Login to BMC failed')
    assert isinstance(exc.BmcLoginUnreachable(host='h', cause='c'), exc.BmcError)
