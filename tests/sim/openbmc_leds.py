"""OpenBMC LED objects of a simulated BMC: the LED groups and the physical LEDs they drive.

``rbeacon on|off`` writes the group ``enclosure_identify``; ``rbeacon stat`` and ``rvitals
leds`` read the physical LEDs. As on a Witherspoon, asserting the identify group makes the
front and rear identify LEDs blink; the fault LEDs are lit while the event log holds an
unresolved entry with a callout (see ``sim.openbmc_logging``); the power LEDs are on.

Per-node variation (deterministic from the node's index): every 7th node starts with the
identify group asserted; every 25th node has no rear identify LED (a board without one).
"""

from types import MappingProxyType

P = '/xyz/openbmc_project'
GROUPS = P + '/led/groups'
PHYSICAL = P + '/led/physical'
IDENTIFY = GROUPS + '/enclosure_identify'
#: Every LED object lives below this path.
ROOT = P + '/led'

ACTION = 'xyz.openbmc_project.Led.Physical.Action.'
PALETTE = 'xyz.openbmc_project.Led.Physical.Palette.'

#: Physical LED name -> colour, in the order a Witherspoon lists them.
COLORS = MappingProxyType({
    'fan0': 'Yellow', 'fan1': 'Yellow', 'fan2': 'Yellow', 'fan3': 'Yellow',
    'front_fault': 'Yellow', 'front_id': 'Blue', 'front_power': 'Green',
    'rear_fault': 'Yellow', 'rear_id': 'Blue', 'rear_power': 'Green',
})

#: Values the ``Asserted`` PUT accepts (phosphor takes JSON booleans and 0/1: in Python 1 and 0
#: are the same keys as True and False).
_ASSERTED = MappingProxyType({True: True, False: False})

KEY = 'leds'


class LedState:
    """LED state of one BMC; built lazily from the node index, dropped by a state reset."""

    def __init__(self, index):
        self.identify = index % 7 == 0
        self.has_rear_id = index % 25 != 0

    def to_dict(self):
        """:returns: the control API's view: ``{"identify": bool}``."""
        return {'identify': self.identify}


def state(bmc):
    """The :class:`LedState` of ``bmc`` (created on first use)."""
    current = bmc.extras.get(KEY)
    if current is None:
        current = bmc.extras[KEY] = LedState(bmc.index)
    return current


def objects(bmc, fault_lit=False):
    """The LED objects of ``bmc`` as ``{path: properties}``.

    :param fault_lit: light the fault LEDs (an unresolved callout is logged).
    """
    leds = state(bmc)
    blink = ACTION + ('Blink' if leds.identify else 'Off')
    fault = ACTION + ('On' if fault_lit else 'Off')
    states = {'front_id': blink, 'rear_id': blink, 'front_fault': fault, 'rear_fault': fault,
              'front_power': ACTION + 'On', 'rear_power': ACTION + 'On'}
    objs = {
        IDENTIFY: {'Asserted': leds.identify},
        GROUPS + '/enclosure_fault': {'Asserted': fault_lit},
        GROUPS + '/power_on': {'Asserted': True},
    }
    for name, color in COLORS.items():
        if name == 'rear_id' and not leds.has_rear_id:
            continue
        objs[PHYSICAL + '/' + name] = {
            'Color': PALETTE + color, 'DutyOn': 50, 'Period': 1000,
            'State': states.get(name, ACTION + 'Off'),
        }
    return objs


def set_identify(bmc, value):
    """PUT ``enclosure_identify/attr/Asserted``; :returns: False for a value of the wrong type."""
    if isinstance(value, float) or value not in _ASSERTED:
        return False
    state(bmc).identify = _ASSERTED[value]
    return True


#: ``(object path, property) -> setter(bmc, value) -> bool``.
SETTERS = MappingProxyType({(IDENTIFY, 'Asserted'): set_identify})
