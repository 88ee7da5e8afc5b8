"""The simulated BMC's LED groups, physical LEDs and event log (tests/sim/openbmc_{leds,logging}.py)."""

import json

import pytest

from sim.bmc import BMC, BmcSettings, basic_header
from sim.openbmc import OpenBMCDialect
from sim.wire import Request

P = '/xyz/openbmc_project'
IDENTIFY = P + '/led/groups/enclosure_identify/attr/Asserted'


def make_bmc(index=1):
    return BMC(index, 'node%03d' % index, '127.0.0.1', 443, 'root', 'pw', BmcSettings())


def call(bmc, method, path, body=None):
    req = Request(method, path, 'HTTP/1.1', {'authorization': basic_header('root', 'pw')},
                  b'' if body is None else json.dumps(body).encode())
    resp = OpenBMCDialect().handle(bmc, req)
    return resp.status, resp.body


def leds(bmc):
    status, body = call(bmc, 'GET', P + '/led/physical/enumerate')
    assert status == 200
    return {path.rsplit('/', 1)[-1]: props['State'].rsplit('.', 1)[-1]
            for path, props in json.loads(body)['data'].items()}


def test_replies_are_indented_with_sorted_keys():
    _status, body = call(make_bmc(), 'GET', P + '/logging/enumerate')
    data = json.loads(body)
    assert body.decode() == json.dumps(data, indent=2, sort_keys=True)
    entry = data['data'][P + '/logging/entry/1']
    assert list(entry) == ['AdditionalData', 'Id', 'Message', 'Resolved', 'Severity', 'Timestamp', 'associations']


@pytest.mark.parametrize('value,state', [(True, 'Blink'), (1, 'Blink'), (False, 'Off'), (0, 'Off')])
def test_identify_group_drives_front_and_rear_leds(value, state):
    bmc = make_bmc()
    assert call(bmc, 'PUT', IDENTIFY, {'data': value})[0] == 200
    states = leds(bmc)
    assert (states['front_id'], states['rear_id']) == (state, state)
    assert states['front_power'] == 'On' and states['fan0'] == 'Off'
    assert bmc.to_dict()['leds'] == {'identify': state == 'Blink'}


@pytest.mark.parametrize('value', ['1', 2, 0.5, None, 'on'])
def test_identify_refuses_other_values(value):
    bmc = make_bmc()
    assert call(bmc, 'PUT', IDENTIFY, {'data': value})[0] == 400
    assert leds(bmc)['front_id'] == 'Off'


def test_per_node_leds():
    assert leds(make_bmc(7))['front_id'] == 'Blink'
    assert 'rear_id' not in leds(make_bmc(25))


def test_fault_leds_follow_unresolved_callouts():
    bmc = make_bmc()
    assert leds(bmc)['front_fault'] == 'On'
    for entry in (2, 10):
        assert call(bmc, 'PUT', P + '/logging/entry/%d/attr/Resolved' % entry, {'data': '1'})[0] == 200
    assert leds(bmc)['front_fault'] == 'Off'


@pytest.mark.parametrize('value,resolved', [('1', True), (1, True), (True, True), ('0', False), (False, False)])
def test_resolved_put(value, resolved):
    bmc = make_bmc()
    assert call(bmc, 'PUT', P + '/logging/entry/1/attr/Resolved', {'data': value})[0] == 200
    assert (1 in bmc.to_dict()['logging']['resolved']) is resolved


def test_resolved_put_errors():
    bmc = make_bmc()
    assert call(bmc, 'PUT', P + '/logging/entry/99/attr/Resolved', {'data': '1'})[0] == 404
    assert call(bmc, 'PUT', P + '/logging/entry/1/attr/Resolved', {'data': 'yes'})[0] == 400
    assert call(bmc, 'PUT', P + '/logging/entry/1/attr/Message', {'data': 'x'})[0] == 403


def test_delete_all_empties_the_log_and_a_reset_restores_it():
    bmc = make_bmc()
    assert call(bmc, 'POST', P + '/logging/action/DeleteAll', {'data': []})[0] == 200
    status, body = call(bmc, 'GET', P + '/logging/enumerate')
    assert json.loads(body)['data'] == {P + '/logging/internal/manager': {}}
    bmc.reset_state()
    assert call(bmc, 'GET', P + '/logging/entry/3')[0] == 200


def test_logs_vary_per_node():
    def ids(index):
        return sorted(int(p.rsplit('/', 1)[-1]) for p in
                      json.loads(call(make_bmc(index), 'GET', P + '/logging/enumerate')[1])['data']
                      if p.rsplit('/', 1)[-1].isdigit())
    assert ids(1) == [1, 2, 3, 10]
    assert ids(2) == [1, 2, 3, 10, 12]
    assert ids(4) == [1, 2, 3, 10, 11]
    assert ids(17) == []
