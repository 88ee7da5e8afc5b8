"""rinv and rvitals on OpenBMC against requests-mock: parsing, every REST call per subcommand
(method, path, body), the lines printed from recorded-shape replies (tests/fixtures/openbmc),
and what a node gets when one of its calls fails (docs/COMMANDS.md)."""

import json

import pytest

from common import exceptions as exc
from common.task import Task
from common.utils import natural_key, sort_natural, value_text
from conftest import fixture_json, sent
from hwctl.executor.openbmc_inventory import OpenBMCInventoryExecutor, firmware_lines, inventory_groups
from hwctl.executor.openbmc_sensor import OpenBMCSensorExecutor, led_lines, reading, sensor_lines
from xcatagent import base
from xcatagent.base import parse_rbeacon, parse_reventlog, parse_rinv, parse_rvitals

HOST = '127.0.0.2'
BASE = 'https://%s' % HOST
P = BASE + '/xyz/openbmc_project'
NODEINFO = {'n1': {'bmc': HOST, 'bmcip': HOST, 'username': 'root', 'password': 's3cret'}}

LOGIN = ('POST', '/login', {'data': ['root', 's3cret']})
LOGOUT = ('POST', '/logout', {'data': []})
SENSORS = ('GET', '/xyz/openbmc_project/sensors/enumerate', None)
LEDS = ('GET', '/xyz/openbmc_project/led/physical/enumerate', None)
INVENTORY = ('GET', '/xyz/openbmc_project/inventory/enumerate', None)
SYSTEM = ('GET', '/xyz/openbmc_project/inventory/system', None)
BOARD = ('GET', '/xyz/openbmc_project/inventory/system/chassis/motherboard/enumerate', None)
SOFTWARE = ('GET', '/xyz/openbmc_project/software/enumerate', None)

# Expected lines for the fixtures (docs/COMMANDS.md "rvitals" example: data of the simulated BMC, beacon on).
SENSOR_LINES = {
    'temp': ['Ambient: 22.42 C', 'Dimm0 Temp: 31 C', 'Gpu0 Core Temp: 33 C', 'P0 Core0 Temp: 38 C',
             'P0 Core1 Temp: 37 C', 'P0 Core10 Temp: 36 C', 'P0 Vdd Temp: 40 C'],
    'fanspeed': ['Fan0 0: 7144 RPMS', 'Fan0 1: 3393 RPMS'],
    'voltage': ['P1 Vdn Voltage: 0.799 Volts', 'Ps0 Input Voltage: 208 Volts'],
    'wattage': ['P0 Power: 120 Watts', 'Ps0 Input Power: 480 Watts', 'Total Power: 620 Watts'],
    'power': ['P0 Power: 120 Watts', 'P1 Vdn Current: 8.125 Amps', 'Ps0 Input Power: 480 Watts',
              'Ps0 Output Current: 34 Amps', 'Total Power: 620 Watts'],
}
ALL_SENSOR_LINES = ['Ambient: 22.42 C', 'Dimm0 Temp: 31 C', 'Fan0 0: 7144 RPMS', 'Fan0 1: 3393 RPMS',
                    'Gpu0 Core Temp: 33 C', 'P0 Core0 Temp: 38 C', 'P0 Core1 Temp: 37 C', 'P0 Core10 Temp: 36 C',
                    'P0 Power: 120 Watts', 'P0 Vdd Temp: 40 C', 'P1 Vdn Current: 8.125 Amps',
                    'P1 Vdn Voltage: 0.799 Volts', 'Ps0 Input Power: 480 Watts', 'Ps0 Input Voltage: 208 Volts',
                    'Ps0 Output Current: 34 Amps', 'Total Power: 620 Watts']
LED_LINES = ['LEDs Fan0: Off', 'LEDs Fan1: Off', 'LEDs Fan2: Off', 'LEDs Fan3: Off', 'LEDs Front Fault: Off',
             'LEDs Front Identify: Blink', 'LEDs Front Power: On', 'LEDs Rear Fault: Off',
             'LEDs Rear Identify: Blink', 'LEDs Rear Power: On']

FIRMWARE = ['BMC Firmware Product: ibm-v2.0-0-r46-0-gbed584c (Active)*',
            'HOST Firmware Product: IBM-witherspoon-OP9-v2.0.7-2.11 (Active)*',
            'HOST Firmware Product: -- additional info: buildroot-2018.02.1-6-ga8d1126',
            'HOST Firmware Product: -- additional info: op-build-v2.0.7-22-g2e1b0f2',
            'HOST Firmware Product: -- additional info: skiboot-v6.0.5']
FIRMWARE_V = FIRMWARE[:1] + ['BMC Firmware Product: ibm-v2.0-0-r48-0-g3e1b4a7 (Active)+'] + FIRMWARE[1:] + \
    ['HOST Firmware Product: IBM-witherspoon-OP9-v2.0.8-2.15 (Ready)']
CPU = ["CPU0 CORE0 Associations : [['sensors', 'inventory', "
       "'/xyz/openbmc_project/sensors/temperature/p0_core0_temp']]",
       'CPU0 CORE0 Functional : True', 'CPU0 CORE0 Present : True', 'CPU0 CORE0 PrettyName : ',
       'CPU0 CORE1 Functional : True', 'CPU0 CORE1 Present : True', 'CPU0 CORE10 Functional : False',
       'CPU0 CORE10 Present : True', 'CPU0 FieldReplaceable : True', 'CPU0 Functional : True',
       'CPU0 PartNumber : 01HL322', 'CPU0 Present : True', 'CPU0 SerialNumber : YA3933741574', 'CPU0 Version : 10',
       'CPU1 Functional : True', 'CPU1 PartNumber : 01HL322', 'CPU1 Present : True']
DIMM = ['DIMM0 Model : M393A1G40EB1-CRC    ', 'DIMM0 Present : True', 'DIMM0 SerialNumber : 0x0300cf4f',
        'DIMM1 Model : ', 'DIMM1 Present : False', 'DIMM1 SerialNumber : ',
        'DIMM2 Model : M393A1G40EB1-CRC    ', 'DIMM2 Present : True', 'DIMM2 SerialNumber : None',
        'DIMM10 Model : M393A1G40EB1-CRC    ', 'DIMM10 Present : True', 'DIMM10 SerialNumber : 0x0300cf50']
SYSTEM_LINES = ['SYSTEM AssetTag : ', 'SYSTEM BuildDate : ', 'SYSTEM Cached : False',
                'SYSTEM FieldReplaceable : False', 'SYSTEM Manufacturer : ', 'SYSTEM Model : 8335-GTA        ',
                'SYSTEM PartNumber : ', 'SYSTEM Present : True', 'SYSTEM PrettyName : ',
                'SYSTEM SerialNumber : 1234567         ']
MODEL = 'SYSTEM Model : 8335-GTA        '
SERIAL = 'SYSTEM SerialNumber : 1234567         '
INVENTORY_ALL = (['BMC Manufacturer : IBM', 'BMC Present : True', 'BMC SerialNumber : YL30UF000001'] + CPU + DIMM
                 + ['FAN0 Functional : True', 'FAN0 Present : True', 'FAN0 PrettyName : fan0',
                    'GV100CARD0 Functional : True', 'GV100CARD0 Present : True', 'GV100CARD0 PrettyName : ',
                    'MOTHERBOARD BuildDate : ', 'MOTHERBOARD Manufacturer : IBM', 'MOTHERBOARD PartNumber : 02CY209',
                    'MOTHERBOARD Present : True', 'MOTHERBOARD PrettyName : SYSTEM PLANAR   ',
                    'MOTHERBOARD SerialNumber : Y131UF07300A', 'POWERSUPPLY0 Functional : True',
                    'POWERSUPPLY0 Present : True', 'POWERSUPPLY0 PrettyName : powersupply0'] + SYSTEM_LINES)


@pytest.fixture
def bmc(requests_mock):
    """requests-mock answering login, logout and every read rinv/rvitals makes, from the fixtures."""
    requests_mock.post(BASE + '/login', json=fixture_json('openbmc', 'login'),
                       headers={'Set-Cookie': 'sid=abc123; Secure; HttpOnly'})
    requests_mock.post(BASE + '/logout', json=fixture_json('openbmc', 'ok'))
    for call, name in ((SENSORS, 'sensors_enumerate'), (LEDS, 'leds_physical_enumerate'),
                       (INVENTORY, 'inventory_enumerate'), (SYSTEM, 'inventory_system'),
                       (BOARD, 'motherboard_enumerate'), (SOFTWARE, 'software_enumerate')):
        requests_mock.get(BASE + call[1], text=json.dumps(fixture_json('openbmc', name), indent=2, sort_keys=True))
    return requests_mock


def run(executor_class, make_ctx, messager, op, *args):
    ctx = make_ctx(retries=0)
    Task(executor_class(ctx, messager), NODEINFO, messager, ctx).run(op, *args)
    return messager.frames


def node_output(frames):
    """``(lines, errors)`` of node n1: every ``n1: `` line of the info frames, and the error texts."""
    lines, errors = [], []
    for frame in frames:
        msg = frame['msg']
        if msg['type'] == 'info':
            for line in msg['data'].split('\n'):
                assert line.startswith('n1: ')
                lines.append(line[len('n1: '):])
        elif msg['type'] == 'error':
            assert msg['node'] == 'n1'
            errors.append(msg['data'])
    return lines, errors


# -- parsing -------------------------------------------------------------------------------------

@pytest.mark.parametrize('args,want', [
    ([], (('all',), False)), (['-V'], (('all',), True)), (['--verbose', '-V'], (('all',), True)),
    (['serial', 'model'], (('model', 'serial'), False)), (['firm', '-V'], (('firm',), True)),
    (['cpu', 'cpu', 'dimm', 'model', 'serial', 'firm', 'all'], (('all', 'cpu', 'dimm', 'firm', 'model', 'serial'),
                                                                False)),
])
def test_parse_rinv(args, want):
    assert parse_rinv(args) == want


@pytest.mark.parametrize('args,want', [
    ([], 'all'), (['-V'], 'all'), (['temp'], 'temp'), (['-V', '-V', 'leds'], 'leds'),
])
def test_parse_rvitals(args, want):
    assert parse_rvitals(args) == want


@pytest.mark.parametrize('parse,args,message', [
    (parse_rinv, ['model', 'bogus'], 'Unsupported command: rinv bogus'),
    (parse_rvitals, ['temp', 'leds'], 'Only one option is supported at the same time for rvitals'),
    (parse_rvitals, ['bogus'], 'Unsupported command: rvitals bogus'),
    (parse_rbeacon, [], 'Subcommand for rbeacon was not specified'),
    (parse_rbeacon, ['on', 'off'], 'Only one option is supported at the same time for rbeacon'),
    (parse_rbeacon, ['blink'], "Only 'on', 'off' and 'stat' are supported for OpenBMC managed nodes."),
    (parse_reventlog, ['list', '1', '2'], 'Only one option is supported at the same time for reventlog'),
    (parse_reventlog, ['resolved='], "Usage error. Provide a comma separated list of IDs to be resolved. "
                                     "Example: 'resolved=x,y,z'"),
    (parse_reventlog, ['bogus'], 'Unsupported command: reventlog bogus'),
])
def test_parse_errors(parse, args, message):
    with pytest.raises(exc.AgentError) as error:
        parse(args)
    assert str(error.value) == message


@pytest.mark.parametrize('args,want', [
    (['list', 'all'], ('list', None)), (['list', '10', '-V'], ('list', 10)), ([], ('list', None)),
    (['--verbose'], ('list', None)), (['0'], ('list', None)), (['clear'], ('clear', None)),
    (['resolved', 'resolved=1,2'], ('resolved', '1,2')), (['resolved=LED'], ('resolved', 'LED')),
])
def test_parse_reventlog(args, want):
    assert parse_reventlog(args) == want


def test_parse_errors_reach_every_node_without_any_request(requests_mock, make_ctx, messager):
    """Input the broker lets through but the agent refuses: one clear line per node, no hang."""
    from xcatagent.openbmc import OpenBMCManager
    nodeinfo = dict(NODEINFO, n2=dict(NODEINFO['n1']))
    OpenBMCManager(messager, make_ctx()).run('rvitals', nodeinfo, ['temp', 'leds'])
    assert messager.lines() == {n: 'Error: Only one option is supported at the same time for rvitals'
                                for n in nodeinfo}
    assert requests_mock.call_count == 0


def test_executor_table_names_every_openbmc_command():
    for interface in ('power', 'setboot', 'inventory', 'sensor'):
        assert base.executor_class('openbmc', interface).CLIENT.__name__ == 'OpenBMCClient'
    with pytest.raises(exc.Unsupported):
        base.executor_class('redfish', 'inventory')


# -- shared formatting ---------------------------------------------------------------------------

def test_natural_order():
    lines = ['Ps0 Input Power: 1', 'P1 Vdn: 2', 'PowerSupplyRedundancy: 3', 'P0 Core10 Temp: 4', 'P0 Core1 Temp: 5',
             'P0 Core2 Temp: 6', 'ambient: 7', 'Ambient: 8']
    assert sort_natural(lines) == ['Ambient: 8', 'P0 Core1 Temp: 5', 'P0 Core2 Temp: 6', 'P0 Core10 Temp: 4',
                                   'P1 Vdn: 2', 'PowerSupplyRedundancy: 3', 'Ps0 Input Power: 1', 'ambient: 7']
    assert natural_key('9 y') < natural_key('10 x')


def test_values_print_as_python_does():
    assert [value_text(v) for v in (True, False, None, 'a  ', 3, [['a', 'b']])] == \
        ['True', 'False', 'None', 'a  ', '3', "[['a', 'b']]"]


@pytest.mark.parametrize('value,scale,text', [
    (22420, -3, '22.42'), (18000000, -6, '18'), (799, -3, '0.799'), (7144, 0, '7144'), (1234567, 0, '1.23457e+06'),
    (5, -5, '5e-05'), (-12, -1, '-1.2')])
def test_reading(value, scale, text):
    assert reading({'Value': value, 'Scale': scale}) == text


# -- rvitals -------------------------------------------------------------------------------------

@pytest.mark.parametrize('kind', sorted(SENSOR_LINES))
def test_rvitals_sensor_kinds(bmc, make_ctx, messager, kind):
    frames = run(OpenBMCSensorExecutor, make_ctx, messager, 'get_sensor_info', kind)
    assert node_output(frames) == (SENSOR_LINES[kind], [])
    assert sent(bmc) == [LOGIN, SENSORS, LOGOUT]
    assert len(frames) == 1, 'one info frame per node'


def test_rvitals_all(bmc, make_ctx, messager):
    frames = run(OpenBMCSensorExecutor, make_ctx, messager, 'get_sensor_info', 'all')
    assert node_output(frames) == (ALL_SENSOR_LINES + LED_LINES, [])
    assert sent(bmc) == [LOGIN, SENSORS, LEDS, LOGOUT]


def test_rvitals_leds(bmc, make_ctx, messager):
    frames = run(OpenBMCSensorExecutor, make_ctx, messager, 'get_sensor_info', 'leds')
    assert node_output(frames) == (LED_LINES, [])
    assert sent(bmc) == [LOGIN, LEDS, LOGOUT]


def test_rvitals_kind_without_sensors(bmc, make_ctx, messager):
    frames = run(OpenBMCSensorExecutor, make_ctx, messager, 'get_sensor_info', 'altitude')
    assert node_output(frames) == (['No attributes returned from the BMC.'], [])


def test_sensor_objects_that_are_not_shown():
    objects = {
        '/s/chassis/PowerSupplyRedundancy': {'units': '', 'value': 'Enabled'},
        '/s/fan_pwm/fan0': {'Scale': 0, 'Unit': 'xyz.openbmc_project.Sensor.Value.Unit.Percent', 'Value': 3},
        '/s/temperature/ambient/chassis': {'endpoints': ['/x']},
        '/s/altitude/altitude': {'Scale': 0, 'Unit': 'xyz.openbmc_project.Sensor.Value.Unit.Meters', 'Value': 120},
    }
    assert sensor_lines(objects, 'all') == ['Altitude: 120 Meters', 'PowerSupplyRedundancy: Enabled']
    assert sensor_lines(objects, 'altitude') == ['Altitude: 120 Meters']
    assert sensor_lines(objects, 'power') == []


def test_sensor_without_scale_is_a_wrong_format_error():
    props = {'Unit': 'xyz.openbmc_project.Sensor.Value.Unit.Volts', 'Value': 3}
    with pytest.raises(exc.BmcBadResponse) as error:
        sensor_lines({'/s/voltage/v': props}, 'temp')
    assert str(error.value) == 'Received wrong format response: %r' % props


def test_led_lines_missing_leds_and_bad_objects():
    assert led_lines({}) == ['LEDs %s: N/A' % label for label in (
        'Fan0', 'Fan1', 'Fan2', 'Fan3', 'Front Fault', 'Front Identify', 'Front Power', 'Rear Fault',
        'Rear Identify', 'Rear Power')]
    with pytest.raises(exc.BmcBadResponse):
        led_lines({'/l/front_id': {'Color': 'x'}})


def test_rvitals_all_leds_fail_sensor_lines_then_one_error(bmc, make_ctx, messager):
    bmc.get(P + '/led/physical/enumerate', status_code=500, json=fixture_json('openbmc', 'error_500'))
    lines, errors = node_output(run(OpenBMCSensorExecutor, make_ctx, messager, 'get_sensor_info', 'all'))
    assert lines == ALL_SENSOR_LINES
    assert len(errors) == 1 and errors[0].startswith('[500] ')
    assert sent(bmc) == [LOGIN, SENSORS, LEDS, LOGOUT]


def test_rvitals_all_sensors_fail_led_lines_then_one_error(bmc, make_ctx, messager):
    bmc.get(P + '/sensors/enumerate', status_code=404,
            json={'data': {'description': 'path or object not found'}, 'message': '404 Not Found', 'status': 'error'})
    lines, errors = node_output(run(OpenBMCSensorExecutor, make_ctx, messager, 'get_sensor_info', 'all'))
    assert (lines, errors) == (LED_LINES, ['[404] path or object not found'])


def test_rvitals_transport_failure_stops_and_skips_logout(bmc, make_ctx, messager):
    import requests
    bmc.get(P + '/sensors/enumerate', exc=requests.exceptions.ConnectionError('Connection refused'))
    lines, errors = node_output(run(OpenBMCSensorExecutor, make_ctx, messager, 'get_sensor_info', 'all'))
    assert lines == [] and len(errors) == 1 and errors[0].startswith('BMC did not respond.')
    assert sent(bmc) == [LOGIN, SENSORS]


def test_rvitals_wrong_password_is_one_line(requests_mock, make_ctx, messager):
    requests_mock.post(BASE + '/login', status_code=401, json=fixture_json('openbmc', 'login_401'))
    frames = run(OpenBMCSensorExecutor, make_ctx, messager, 'get_sensor_info', 'all')
    assert messager.lines() == {'n1': 'Error: [401] Invalid username or password'}
    assert len(frames) == 1


# -- rinv ----------------------------------------------------------------------------------------

@pytest.mark.parametrize('keywords,verbose,calls,lines', [
    (('model',), False, [SYSTEM], [MODEL]),
    (('serial',), False, [SYSTEM], [SERIAL]),
    (('model', 'serial'), False, [SYSTEM], [MODEL, SERIAL]),
    (('cpu',), False, [BOARD], CPU),
    (('dimm',), False, [BOARD], DIMM),
    (('cpu', 'dimm'), False, [BOARD], CPU + DIMM),
    (('firm',), False, [SOFTWARE], FIRMWARE),
    (('firm',), True, [SOFTWARE], FIRMWARE_V),
    (('all',), False, [INVENTORY, SOFTWARE], INVENTORY_ALL + FIRMWARE),
    (('all',), True, [INVENTORY, SOFTWARE], INVENTORY_ALL + FIRMWARE_V),
    (('all', 'firm', 'model'), False, [INVENTORY, SOFTWARE], INVENTORY_ALL + FIRMWARE),
    (('cpu', 'serial'), False, [INVENTORY], [SERIAL] + CPU),
    (('dimm', 'firm', 'model'), False, [SOFTWARE, INVENTORY], FIRMWARE + [MODEL] + DIMM),
    (('firm', 'serial'), False, [SOFTWARE, SYSTEM], FIRMWARE + [SERIAL]),
])
def test_rinv(bmc, make_ctx, messager, keywords, verbose, calls, lines):
    frames = run(OpenBMCInventoryExecutor, make_ctx, messager, 'get_info', keywords, verbose)
    assert node_output(frames) == (lines, [])
    assert sent(bmc) == [LOGIN] + calls + [LOGOUT], 'one login, the fewest reads, one logout'


def test_rinv_nothing_found(bmc, make_ctx, messager):
    bmc.get(P + '/inventory/system/chassis/motherboard/enumerate', json={'data': {}, 'message': '200 OK'})
    frames = run(OpenBMCInventoryExecutor, make_ctx, messager, 'get_info', ('dimm',), False)
    assert node_output(frames) == (['No attributes returned from the BMC.'], [])


def test_rinv_all_inventory_fails_firmware_lines_then_one_error(bmc, make_ctx, messager):
    bmc.get(P + '/inventory/enumerate', status_code=500, json=fixture_json('openbmc', 'error_500'))
    lines, errors = node_output(run(OpenBMCInventoryExecutor, make_ctx, messager, 'get_info', ('all',), False))
    assert lines == FIRMWARE and len(errors) == 1 and errors[0].startswith('[500] ')
    assert sent(bmc) == [LOGIN, INVENTORY, SOFTWARE, LOGOUT]


def test_rinv_all_software_bad_inventory_lines_then_one_error(bmc, make_ctx, messager):
    bmc.get(P + '/software/enumerate', json={'data': ['not', 'a', 'map'], 'message': '200 OK'})
    lines, errors = node_output(run(OpenBMCInventoryExecutor, make_ctx, messager, 'get_info', ('all',), False))
    assert lines == INVENTORY_ALL
    assert len(errors) == 1 and errors[0].startswith('Received wrong format response: ')


def test_rinv_model_not_json_is_one_error(bmc, make_ctx, messager):
    bmc.get(P + '/inventory/system', text='<html>oops</html>')
    frames = run(OpenBMCInventoryExecutor, make_ctx, messager, 'get_info', ('model',), False)
    assert len(frames) == 1
    assert messager.lines()['n1'].startswith('Error: Received wrong format response: ')


def test_firmware_flags():
    functional = set()
    images = {'/s/1': {'Purpose': 'x.BMC', 'Version': 'v1', 'Activation': 'x.Active', 'Priority': 0},
              '/s/2': {'Purpose': 'x.BMC', 'Version': 'v2', 'Activation': 'x.Active', 'Priority': 1},
              '/s/3': {'Version': 'v3', 'Activation': 'x.Ready'}}
    # No functional list: the Priority 0 image is the running one.
    assert firmware_lines(functional, images, False) == ['BMC Firmware Product: v1 (Active)*']
    assert firmware_lines(functional, images, True) == ['BMC Firmware Product: v1 (Active)*',
                                                        'BMC Firmware Product: v2 (Active)',
                                                        'UNKNOWN Firmware Product: v3 (Ready)']
    assert firmware_lines({'/s/2'}, images, True)[:2] == ['BMC Firmware Product: v1 (Active)+',
                                                          'BMC Firmware Product: v2 (Active)*']


def test_inventory_groups_need_present():
    groups = inventory_groups({'/i/system/chassis': {'Type': 'RackMount'},
                               '/i/system/chassis/motherboard/cpu3/core12': {'Present': False},
                               '/i/system/chassis/motherboard/gv100card4': {'Present': True}})
    assert groups == {'CPU': ['CPU3 CORE12 Present : False'], 'GVCARD': ['GV100CARD4 Present : True']}


def test_lines_are_not_kept_after_they_went_out(bmc, make_ctx, messager):
    """A 10,000-node rinv must not hold every node's lines until the end."""
    ctx = make_ctx(retries=0)
    results = Task(OpenBMCSensorExecutor(ctx, messager), NODEINFO, messager, ctx).run('get_sensor_info', 'temp')
    assert set(results) == {'n1'} and results['n1'].lines == ()
    assert node_output(messager.frames) == (SENSOR_LINES['temp'], [])
