"""OpenBMCBeaconExecutor: rbeacon's node-level steps over phosphor REST (docs/DESIGN.md, rbeacon).

``on``/``off`` write the ``enclosure_identify`` LED group; ``stat`` reads the physical front
and rear identify LEDs the group drives. One login, one request, one logout per node.
"""

from common import exceptions as exc
from hwctl import beacon
from hwctl.executor.base import ExecutorBase
from hwctl.openbmc_client import OpenBMCClient


class OpenBMCBeaconExecutor(ExecutorBase, beacon.BeaconInterface):
    """BeaconInterface for OpenBMC BMCs."""

    CLIENT = OpenBMCClient

    def validate_set_state(self, state):
        if state not in beacon.SET_ACTIONS:
            raise exc.Unsupported(detail='rbeacon %s' % state)

    def set_state(self, node, nodeinfo, state):
        with self.session(node, nodeinfo) as client:
            client.set_identify_led(state == 'on')
        return state

    def get_state(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:
            leds = client.get_physical_leds()
        return beacon.stat_line(leds.get('front_id'), leds.get('rear_id'))
