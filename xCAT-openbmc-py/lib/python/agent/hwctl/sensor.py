"""SensorInterface: rvitals's operations every kind of BMC implements, and their words.

Executors (``hwctl/executor/*_sensor.py``) implement this interface for one protocol;
docs/COMMANDS.md "rvitals" gives the lines they print.
"""

import abc
import types

#: The text printed when no sensor of the requested kind exists.
NO_ATTRIBUTES = 'No attributes returned from the BMC.'

#: rvitals subcommand -> the unit words (as printed) it shows; ``all`` shows everything.
KIND_UNITS = types.MappingProxyType({
    'altitude': frozenset({'Meters'}),
    'fanspeed': frozenset({'RPMS'}),
    'power': frozenset({'Amps', 'Joules', 'Watts'}),
    'temp': frozenset({'C'}),
    'voltage': frozenset({'Volts'}),
    'wattage': frozenset({'Watts'}),
})

#: Subcommands that read the LEDs, and those that read the sensors.
LED_KINDS = frozenset({'all', 'leds'})
SENSOR_KINDS = frozenset({'all', 'altitude', 'fanspeed', 'power', 'temp', 'voltage', 'wattage'})


class SensorInterface(abc.ABC):
    """Sensor readings and LED states of one kind of BMC."""

    @abc.abstractmethod
    def get_sensor_info(self, node, nodeinfo, kind):
        """Read the sensors (and LEDs) rvitals ``kind`` shows.

        :param kind: ``all altitude fanspeed leds power temp voltage wattage``.
        :returns: a ``NodeResult`` with the node's lines (``NO_ATTRIBUTES`` when a kind
            other than ``all`` finds nothing); when one of two calls failed, the lines that
            could be made and the error.
        Idempotent, changes nothing. One login and one logout per node.
        """
