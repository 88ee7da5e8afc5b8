"""OpenBMCClient: the phosphor REST calls (docs/xcat-facts.md#rest-client to #openbmc-rsetboot), and nothing else.

Only this module knows OpenBMC's paths and D-Bus enumeration strings. Methods return the
last component of D-Bus values (``Running``, ``On``, ``Network``...); executors map them
to xCAT words.
"""

import logging
import types

from common import exceptions as exc
from common.rest import RestClient
from common.utils import MASK

LOG = logging.getLogger(__name__)

PROJECT = '/xyz/openbmc_project'
HOST = PROJECT + '/state/host0'
CHASSIS = PROJECT + '/state/chassis0'
BMC = PROJECT + '/state/bmc0'
BOOT = PROJECT + '/control/host0/boot'
ONE_TIME = BOOT + '/one_time'
INVENTORY = PROJECT + '/inventory'
INVENTORY_SYSTEM = INVENTORY + '/system'
MOTHERBOARD = INVENTORY_SYSTEM + '/chassis/motherboard'
SENSORS = PROJECT + '/sensors'
LED_PHYSICAL = PROJECT + '/led/physical'

#: Values of the host transition attribute, by our name.
HOST_TRANSITIONS = types.MappingProxyType({'On': 'xyz.openbmc_project.State.Host.Transition.On',
                                          'Off': 'xyz.openbmc_project.State.Host.Transition.Off'})
#: Values of the chassis transition attribute, by our name.
CHASSIS_TRANSITIONS = types.MappingProxyType({'Off': 'xyz.openbmc_project.State.Chassis.Transition.Off',
                                             'On': 'xyz.openbmc_project.State.Chassis.Transition.On'})
BMC_REBOOT_TRANSITION = 'xyz.openbmc_project.State.BMC.Transition.Reboot'
BOOT_SOURCE_PREFIX = 'xyz.openbmc_project.Control.Boot.Source.Sources.'
#: Boot sources OpenBMC knows.
BOOT_SOURCES = frozenset({'Default', 'Disk', 'ExternalMedia', 'Network'})
LED_IDENTIFY = PROJECT + '/led/groups/enclosure_identify'
LOGGING = PROJECT + '/logging'


def _last(value):
    """``xyz.openbmc_project.State.Host.HostState.Running`` -> ``Running``."""
    return str(value).rsplit('.', 1)[-1]


class OpenBMCClient(RestClient):
    """One node's session with an OpenBMC BMC over the phosphor REST API."""

    TRACE_TAG = 'openbmc_debug'

    def __init__(self, node, host, username, password, *, ctx, session=None, trace=None):
        super().__init__(node, host, username, password, ctx=ctx, session=session, trace=trace)
        # NOTE: bmcweb on OP940 firmware refuses PUTs authenticated by the session cookie
        # alone; xCAT sends HTTP Basic on every request, and so do we.
        self._headers['Authorization'] = self._basic_auth()

    def _error_message(self, status, payload):
        try:
            description = payload['data']['description']
        except (TypeError, KeyError):
            return 'HTTP %d' % status
        if isinstance(description, list):
            description = ' '.join(str(d) for d in description)
        return str(description)

    def _data(self, method, path, body=None, *, login=False):
        """Request and return the ``data`` member of the OpenBMC reply envelope."""
        _status, payload, _headers = self._request(method, path, body, login=login)
        if not isinstance(payload, dict) or 'data' not in payload:
            raise exc.BmcBadResponse(node=self.node, detail='%s %s: reply has no "data" member'
                                     % (method, path))
        return payload['data']

    def login(self):
        """POST /login with the node's credentials; keeps the session cookie.

        :raises BmcAuthError: wrong credentials (``[401] Invalid username or password``).
        :raises BmcLoginUnreachable: the BMC cannot be reached.
        """
        _status, _payload, headers = self._request('POST', '/login', {'data': [self.username, self._password]},
                                                   login=True, trace_body={'data': [self.username, MASK]})
        cookie = _session_cookie(headers.get('Set-Cookie', ''))
        if cookie:
            self._headers['Cookie'] = cookie
        self.logged_in = True

    def _adopt_session(self, parked):
        cookie = parked._headers.get('Cookie')
        if cookie:
            self._headers['Cookie'] = cookie

    def logout(self):
        """POST /logout: ends the BMC session (xCAT never does, and sessions pile up)."""
        self.logged_in = False
        self._request('POST', '/logout', {'data': []})

    def get_power_states(self):
        """Chassis power and host state in one request.

        :returns: ``(chassis, host)``, e.g. ``('On', 'Running')``.
        :raises BmcBadResponse: the enumeration lacks either value.
        """
        data = self._data('GET', PROJECT + '/state/enumerate')
        try:
            return _last(data[CHASSIS]['CurrentPowerState']), _last(data[HOST]['CurrentHostState'])
        except (TypeError, KeyError):
            raise exc.BmcBadResponse(node=self.node, detail='no chassis power or host state in %s/state/enumerate'
                                     % PROJECT)

    def request_host_transition(self, transition):
        """Ask the host to go ``On`` or ``Off`` (graceful)."""
        self._data('PUT', HOST + '/attr/RequestedHostTransition', {'data': HOST_TRANSITIONS[transition]})

    def request_chassis_transition(self, transition):
        """Switch chassis power (``Off`` is immediate, not graceful)."""
        self._data('PUT', CHASSIS + '/attr/RequestedPowerTransition', {'data': CHASSIS_TRANSITIONS[transition]})

    def get_bmc_state(self):
        """:returns: the BMC state's last component, e.g. ``Ready``."""
        return _last(self._data('GET', BMC + '/attr/CurrentBMCState'))

    def request_bmc_reboot(self):
        """Ask the BMC to reboot itself."""
        self._data('PUT', BMC + '/attr/RequestedBMCTransition', {'data': BMC_REBOOT_TRANSITION})

    def list_firmware(self):
        """:returns: ``(functional_paths, images)`` where images maps path to properties."""
        data = self._data('GET', PROJECT + '/software/enumerate')
        if not isinstance(data, dict):
            raise exc.BmcBadResponse(node=self.node, detail='%s/software/enumerate is not an object' % PROJECT)
        data = dict(data)
        functional = data.pop(PROJECT + '/software/functional', None) or {}
        endpoints = functional.get('endpoints', []) if isinstance(functional, dict) else None
        if not isinstance(endpoints, list):
            raise exc.BmcBadResponse(node=self.node, detail='no functional endpoints in %s/software/enumerate'
                                     % PROJECT)
        images = {path: props for path, props in data.items() if isinstance(props, dict) and 'Version' in props}
        return {str(e) for e in endpoints}, images

    def delete_all_dumps(self):
        """Delete every BMC dump (diagnostics)."""
        self._data('POST', PROJECT + '/dump/action/DeleteAll', {'data': []})

    def get_boot_source(self):
        """The source the host boots from next: one-time if enabled, else persistent.

        :returns: the source's last component, e.g. ``Network``.
        """
        data = self._data('GET', PROJECT + '/control/host0/enumerate')
        try:
            one_time = data[ONE_TIME]
            source = one_time['BootSource'] if one_time.get('Enabled') else data[BOOT]['BootSource']
        except (TypeError, KeyError, AttributeError):
            raise exc.BmcBadResponse(node=self.node, detail='no boot source in %s/control/host0/enumerate'
                                     % PROJECT)
        return _last(source)

    def set_boot_source(self, source, *, one_time):
        """Set the next boot source.

        :param source: one of ``BOOT_SOURCES``.
        :param one_time: for the next boot only; otherwise persistent (and the one-time
            override is switched off so it cannot mask the persistent value).
        """
        if source not in BOOT_SOURCES:
            raise exc.Unsupported(detail='boot source %s' % source)
        self._data('PUT', ONE_TIME + '/attr/Enabled', {'data': 1 if one_time else 0})
        path = ONE_TIME if one_time else BOOT
        self._data('PUT', path + '/attr/BootSource', {'data': BOOT_SOURCE_PREFIX + source})

    def _object_map(self, path):
        """GET ``path`` and return its ``data`` when it is a JSON object.

        :raises BmcBadResponse: the data is not an object.
        """
        data = self._data('GET', path)
        if not isinstance(data, dict):
            raise exc.BmcBadResponse(node=self.node, detail='%s is not an object: %r' % (path, data))
        return data

    def get_inventory(self, scope):
        """Inventory objects, in the BMC's (sorted) order.

        :param scope: ``all`` (every object below ``/inventory``, one enumerate),
            ``system`` (the system object's own properties only) or ``motherboard``
            (every object below the motherboard: CPUs, cores, DIMMs...).
        :returns: ``{path: {property: value}}``; for ``system``, ``{property: value}``.
        """
        if scope == 'system':
            return self._object_map(INVENTORY_SYSTEM)
        if scope == 'motherboard':
            return self._object_map(MOTHERBOARD + '/enumerate')
        return self._object_map(INVENTORY + '/enumerate')

    def get_sensors(self):
        """Every sensor object (and sensor association) below ``/sensors``: ``{path: properties}``."""
        return self._object_map(SENSORS + '/enumerate')

    def get_physical_leds(self):
        """Every physical LED object: ``{path: properties}`` (``State`` holds the full enum)."""
        return self._object_map(LED_PHYSICAL + '/enumerate')

    # -- rbeacon (docs/DESIGN.md "rbeacon and reventlog") --------------------------------------

    def set_identify_led(self, asserted):
        """Assert or deassert the ``enclosure_identify`` LED group (the front and rear blue LEDs).

        :param asserted: True to light (blink) them, False to switch them off.
        """
        self._data('PUT', LED_IDENTIFY + '/attr/Asserted', {'data': bool(asserted)})

    # -- reventlog --------------------------------------------------------------------------------

    def get_event_log(self):
        """Every object below the logging path, as the BMC sends them (entries, callouts, manager).

        :returns: ``{path: properties}``.
        :raises BmcBadResponse: the reply is not an object.
        """
        return self._object_map(LOGGING + '/enumerate')

    def clear_event_log(self):
        """Delete every event log entry."""
        self._data('POST', LOGGING + '/action/DeleteAll', {'data': []})

    def resolve_event(self, entry_id):
        """Mark one event log entry resolved.

        NOTE: xCAT sends the string ``"1"``; phosphor-rest-server turns it into the D-Bus
        boolean, and we keep the body every deployed BMC has seen from xCAT.
        """
        self._data('PUT', '%s/entry/%s/attr/Resolved' % (LOGGING, entry_id), {'data': '1'})


def _session_cookie(set_cookie):
    """The ``name=value`` pair of the session cookie in a Set-Cookie header, or ''."""
    for part in set_cookie.replace(',', ';').split(';'):
        part = part.strip()
        if part.lower().startswith(('sid=', 'session=')):
            return part
    return ''

