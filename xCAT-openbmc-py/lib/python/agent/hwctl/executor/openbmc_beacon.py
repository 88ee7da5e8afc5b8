"""OpenBMCBeaconExecutor: rbeacon's node-level steps over phosphor REST (docs/DESIGN.md, rbeacon).

``on``/``off`` write the ``enclosure_identify`` LED group; ``stat`` reads the physical front
and rear identify LEDs the group drives. One login, one request, one logout per node.
"""

from common import exceptions as exc
from hwctl import beacon
from hwctl.executor.base import ExecutorBase
from hwctl.openbmc_client import OpenBMCClient


#: Physical LEDs xCAT reads the states of (a listed one without ``State`` is a bad reply).
PHYSICAL_LEDS = frozenset({'fan0', 'fan1', 'fan2', 'fan3', 'front_id', 'front_fault', 'front_power',
                           'rear_id', 'rear_fault', 'rear_power'})


def led_states(node, data):
    """``{name: state}`` of the listed physical LEDs in a ``led/physical/enumerate`` reply.

    :raises BmcBadResponse: a listed LED has no ``State`` (the whole reply is printed, as xCAT does).
    """
    states = {}
    for path, props in data.items():
        name = str(path).rsplit('/', 1)[-1]
        if name not in PHYSICAL_LEDS:
            continue
        if not isinstance(props, dict) or 'State' not in props:
            raise exc.BmcBadResponse(node=node, detail='%s' % (data,))
        states[name] = str(props['State']).rsplit('.', 1)[-1]
    return states


class OpenBMCBeaconExecutor(ExecutorBase, beacon.BeaconInterface):
    """BeaconInterface for OpenBMC BMCs."""

    CLIENT = OpenBMCClient

    def set_state(self, node, nodeinfo, state):
        with self.session(node, nodeinfo) as client:
            client.set_identify_led(state == 'on')
        return state

    def get_state(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:
            leds = led_states(node, client.get_physical_leds())
        return beacon.stat_line(leds.get('front_id'), leds.get('rear_id'))
