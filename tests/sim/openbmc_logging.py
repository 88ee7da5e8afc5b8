"""OpenBMC event log of a simulated BMC (``/xyz/openbmc_project/logging``).

Entries as 2018 firmware shows them: ``AdditionalData`` (``KEY=value`` items), ``Id``,
``Message``, ``Resolved`` (a JSON boolean), ``Severity``, ``Timestamp`` (ms since the epoch),
``associations``; an entry with a callout also has ``entry/<id>/callout`` with its
endpoints, and ``logging/internal/manager`` is there, empty. ``DeleteAll`` empties the log,
``PUT entry/<id>/attr/Resolved`` takes ``"1"``/``1``/``true`` (and ``"0"``/``0``/``false``).

Node 1 serves the example set of docs/DESIGN.md ("Simulated event log") exactly; node i
shifts timestamps by i minutes, PIDs by i, names cpu/power supply ``i % 2``, adds an entry
with a procedure callout (i % 3 == 1) and one with a GPU callout (i % 4 == 2), resolves entry
1 on every 5th node, and every 17th node has an empty log.
"""

from types import MappingProxyType

P = '/xyz/openbmc_project'
LOGGING = P + '/logging'
ENTRY = LOGGING + '/entry/'
INVENTORY = P + '/inventory/system/chassis/motherboard/'
LEVEL = 'xyz.openbmc_project.Logging.Entry.Level.'
I2C_DEVICE = '/sys/devices/platform/ahb/ahb:apb/ahb:apb:i2c@1e78a000/1e78a100.i2c-bus/i2c-3/3-0068'
ESEL = '00 00 df 00 00 00 00 20 00 04 12 35 6f aa 00 00'

#: Values the ``Resolved`` PUT accepts (xCAT sends the string "1"; JSON true and false are the
#: same keys as 1 and 0).
_RESOLVED = MappingProxyType({'1': True, 1: True, '0': False, 0: False})

KEY = 'logging'


def _entries(index):
    """The initial entries of node ``index``: ``{id: properties}``."""
    if index % 17 == 0:
        return {}
    shift = (index - 1) * 60000
    pid = index - 1
    part = index % 2
    entries = {
        1: {'AdditionalData': ['_PID=%d' % (185 + pid)],
            'Message': 'xyz.openbmc_project.Common.Error.InternalFailure',
            'Resolved': index % 5 == 0, 'Timestamp': 1524233022072 + shift},
        2: {'AdditionalData': ['CALLOUT_INVENTORY_PATH=%scpu%d' % (INVENTORY, 0 if index == 1 else part),
                               'ESEL=' + ESEL, '_PID=%d' % (1175 + pid)],
            'Message': 'org.open_power.Host.Error.Event', 'Resolved': False,
            'Timestamp': 1524233102311 + shift},
        3: {'AdditionalData': ['CALLOUT_INVENTORY_PATH=%spowersupply%d' % (INVENTORY, 1 if index == 1 else part),
                               '_PID=%d' % (1322 + pid)],
            'Message': 'xyz.openbmc_project.Inventory.Error.NotPresent', 'Resolved': True,
            'Timestamp': 1524240011402 + shift},
        10: {'AdditionalData': ['CALLOUT_DEVICE_PATH=' + I2C_DEVICE, 'CALLOUT_ERRNO=6', '_PID=%d' % (1407 + pid)],
             'Message': 'xyz.openbmc_project.Common.Device.Error.ReadFailure', 'Resolved': False,
             'Timestamp': 1524250017001 + shift},
    }
    if index % 3 == 1 and index != 1:
        entries[11] = {'AdditionalData': ['PROCEDURE=%d' % (40 + index % 16), '_PID=%d' % (2001 + pid)],
                       'Message': 'org.open_power.Host.Error.Event', 'Resolved': False,
                       'Timestamp': 1524260000500 + shift}
    if index % 4 == 2:
        entries[12] = {'AdditionalData': ['GPU_ID=%d' % part, '_PID=%d' % (2101 + pid)],
                       'Message': 'org.open_power.Host.Error.Event', 'Resolved': False,
                       'Timestamp': 1524261000900 + shift}
    for number, props in entries.items():
        props['Id'] = number
        props['Severity'] = LEVEL + 'Error'
    return entries


class LogState:
    """Event log of one BMC; built lazily from the node index, dropped by a state reset."""

    def __init__(self, index):
        self.entries = _entries(index)

    def to_dict(self):
        """:returns: the control API's view: ``{"entries": n, "resolved": [ids]}``."""
        return {'entries': sorted(self.entries),
                'resolved': sorted(k for k, v in self.entries.items() if v['Resolved'])}


def state(bmc):
    """The :class:`LogState` of ``bmc`` (created on first use)."""
    current = bmc.extras.get(KEY)
    if current is None:
        current = bmc.extras[KEY] = LogState(bmc.index)
    return current


def _callout(props):
    for item in props['AdditionalData']:
        name, _, value = item.partition('=')
        if name == 'CALLOUT_INVENTORY_PATH':
            return value
    return None


def fault_lit(bmc):
    """Whether an unresolved entry with a callout is logged (the fault LEDs are then on)."""
    return any(not props['Resolved'] and any(i.startswith('CALLOUT') for i in props['AdditionalData'])
               for props in state(bmc).entries.values())


def objects(bmc):
    """The logging objects of ``bmc`` as ``{path: properties}``."""
    objs = {LOGGING + '/internal/manager': {}}
    for number, props in state(bmc).entries.items():
        path = ENTRY + str(number)
        entry = dict(props)
        entry['AdditionalData'] = list(props['AdditionalData'])
        inventory = _callout(props)
        entry['associations'] = [['callout', 'fault', inventory]] if inventory else []
        objs[path] = entry
        if inventory:
            objs[path + '/callout'] = {'endpoints': [inventory]}
    return objs


def set_resolved(bmc, path, value):
    """PUT ``entry/<id>/attr/Resolved``; :returns: False for a value of the wrong type."""
    if isinstance(value, float) or value not in _RESOLVED:
        return False
    number = int(path[len(ENTRY):])
    state(bmc).entries[number]['Resolved'] = _RESOLVED[value]
    return True


def delete_all(bmc, args):
    """``logging/action/DeleteAll``: empty the log."""
    state(bmc).entries.clear()
    return True


def setters(bmc):
    """``(object path, property) -> setter(bmc, value) -> bool`` for the entries ``bmc`` holds."""
    return {(ENTRY + str(number), 'Resolved'): (lambda b, v, p=ENTRY + str(number): set_resolved(b, p, v))
            for number in state(bmc).entries}


#: ``(object path, method) -> action(bmc, args) -> bool``.
ACTIONS = MappingProxyType({(LOGGING, 'DeleteAll'): delete_all})
