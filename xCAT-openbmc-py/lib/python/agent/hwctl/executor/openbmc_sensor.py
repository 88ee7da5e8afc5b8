"""OpenBMCSensorExecutor: rvitals's node-level steps over phosphor REST (docs/COMMANDS.md "rvitals").

The formatting functions are pure (reply data in, lines out) so they can be tested on
recorded-shape replies without a BMC.
"""

import types

from common import exceptions as exc
from common.utils import sort_natural, value_text
from hwctl import sensor
from hwctl.executor.base import ExecutorBase
from hwctl.openbmc_client import OpenBMCClient

#: OpenBMC unit (last component of ``Unit``) -> the word rvitals prints; other units are not shown.
UNIT_WORDS = types.MappingProxyType({
    'Amperes': 'Amps', 'DegreesC': 'C', 'Joules': 'Joules', 'Meters': 'Meters', 'RPMS': 'RPMS',
    'Volts': 'Volts', 'Watts': 'Watts'})

#: The ten LEDs rvitals shows, in its fixed order: (physical LED name, label).
LEDS = (('fan0', 'Fan0'), ('fan1', 'Fan1'), ('fan2', 'Fan2'), ('fan3', 'Fan3'),
        ('front_fault', 'Front Fault'), ('front_id', 'Front Identify'), ('front_power', 'Front Power'),
        ('rear_fault', 'Rear Fault'), ('rear_id', 'Rear Identify'), ('rear_power', 'Rear Power'))
_LED_NAMES = frozenset(name for name, _label in LEDS)


def _last(value):
    return str(value).rsplit('.', 1)[-1]


def reading(props):
    """``Value`` times ten to the ``Scale`` as rvitals prints it (``{:g}``: 22420, -3 -> ``22.42``).

    :raises KeyError, TypeError: no usable Value or Scale.
    """
    value = props['Value']
    scale = props['Scale']
    if isinstance(value, bool) or isinstance(scale, bool) or not isinstance(scale, int):
        raise TypeError('Scale %r' % (scale,))
    return '{:g}'.format(value * 10 ** scale)


def sensor_lines(objects, kind, node=None):
    """The sensor lines of ``kind`` from a sensors enumerate, in natural order.

    :raises BmcBadResponse: a sensor without a usable ``Value``/``Scale``.
    """
    units = sensor.KIND_UNITS.get(kind)
    lines = []
    for path, props in objects.items():
        if not isinstance(props, dict):
            continue
        if 'Unit' in props:
            unit = UNIT_WORDS.get(_last(props['Unit']))
            if unit is None:
                continue
            try:
                text = reading(props)
            except (KeyError, TypeError, OverflowError):
                raise exc.BmcBadResponse(node=node, detail=repr(props))
            if units is not None and unit not in units:
                continue
            label = path.rsplit('/', 1)[-1].replace('_', ' ').title()
            lines.append('%s: %s %s' % (label, text, unit))
        elif 'units' in props and 'value' in props and kind == 'all':
            lines.append('%s: %s' % (path.rsplit('/', 1)[-1], value_text(props['value'])))
    return sort_natural(lines)


def led_lines(objects, node=None):
    """The ten ``LEDs <label>: <state>`` lines (``N/A`` for an LED the BMC does not have).

    :raises BmcBadResponse: a listed LED without ``State``.
    """
    states = {}
    for path, props in objects.items():
        name = path.rsplit('/', 1)[-1]
        if name in _LED_NAMES:
            if not isinstance(props, dict) or 'State' not in props:
                raise exc.BmcBadResponse(node=node, detail=repr(props))
            states[name] = _last(props['State'])
    return ['LEDs %s: %s' % (label, states.get(name, 'N/A')) for name, label in LEDS]


class OpenBMCSensorExecutor(ExecutorBase, sensor.SensorInterface):
    """SensorInterface for OpenBMC BMCs: one login, one or two enumerates, one logout."""

    CLIENT = OpenBMCClient

    def get_sensor_info(self, node, nodeinfo, kind):
        with self.session(node, nodeinfo) as client:
            steps = []
            if kind in sensor.SENSOR_KINDS:
                steps.append(lambda: sensor_lines(client.get_sensors(), kind, node))
            if kind in sensor.LED_KINDS:
                steps.append(lambda: led_lines(client.get_physical_leds(), node))
            return self.gather(client, steps, None if kind == 'all' else sensor.NO_ATTRIBUTES)
