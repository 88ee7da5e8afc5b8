"""Every word the agent's parsers let through has its entry in each executor's table.

The parsers (``xcatagent/base.py``) are the one place that refuses unknown words; the
executors look the words up without checking again, so a word missing here would be a
KeyError on every node instead of xCAT's ``Unsupported command`` line.
"""

import pytest

from hwctl import power, sensor, setboot
from hwctl.executor import openbmc_power, openbmc_setboot, redfish_power, redfish_setboot
from xcatagent import base


@pytest.mark.parametrize('table', [openbmc_power.SET_POWER_STATE_MAP, redfish_power.SET_POWER_STATE_MAP])
def test_every_set_state_word_of_rpower_has_its_request(table):
    assert set(power.SET_STATE_ACTIONS) <= set(table)
    assert set(power.SET_STATE_ACTIONS) <= set(redfish_power.TARGET_STATE_MAP)


def test_every_rpower_word_the_parser_takes_is_dispatched():
    dispatched = power.GET_STATE_ACTIONS | power.SET_STATE_ACTIONS | power.REBOOT_ACTIONS | {'bmcstate', 'bmcreboot'}
    for word in power.RPOWER_ACTIONS:
        assert base.parse_rpower([word]) == word
    assert set(power.RPOWER_ACTIONS) == dispatched


@pytest.mark.parametrize('table', [openbmc_setboot.SET_BOOT_SOURCE_MAP, redfish_setboot.SET_BOOT_TARGET_MAP])
def test_every_rsetboot_device_the_parser_takes_has_its_target(table):
    for device in setboot.BOOT_DEVICES:
        assert base.parse_rsetboot([device]) == (device, False)
        assert device in table


def test_every_rvitals_kind_the_parser_takes_reads_something():
    for kind in base.RVITALS_KINDS:
        assert base.parse_rvitals([kind]) == kind
        assert kind in sensor.SENSOR_KINDS | sensor.LED_KINDS


def test_every_rbeacon_action_but_stat_is_one_to_set():
    from hwctl import beacon
    for action in base.RBEACON_ACTIONS:
        assert base.parse_rbeacon([action, '-V']) == action
    assert set(base.RBEACON_ACTIONS) - {'stat'} == set(beacon.SET_ACTIONS)
