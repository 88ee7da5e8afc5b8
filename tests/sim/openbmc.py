"""OpenBMC REST D-Bus dialect (phosphor-rest-server style): login, state, software, dump and boot objects.

Envelope: ``{"data": ..., "message": "200 OK", "status": "ok"}``; errors carry
``{"data": {"description": ...}, "message": "<code> <reason>", "status": "error"}``.
Auth: the ``sid`` cookie from ``POST /login`` or HTTP Basic on any request (xCAT sends both).
"""

import json
from types import MappingProxyType

from sim import openbmc_inventory, openbmc_leds, openbmc_logging, openbmc_sensors
from sim.wire import REASONS, Response

#: Root of every D-Bus object path.
P = '/xyz/openbmc_project'
HOST = P + '/state/host0'
CHASSIS = P + '/state/chassis0'
BMC0 = P + '/state/bmc0'
BOOT = P + '/control/host0/boot'
ONE_TIME = BOOT + '/one_time'
SOFTWARE = P + '/software'
DUMP = P + '/dump'

HOST_STATE = 'xyz.openbmc_project.State.Host.HostState.'
HOST_TRANSITION = 'xyz.openbmc_project.State.Host.Transition.'
CHASSIS_STATE = 'xyz.openbmc_project.State.Chassis.PowerState.'
CHASSIS_TRANSITION = 'xyz.openbmc_project.State.Chassis.Transition.'
BMC_STATE = 'xyz.openbmc_project.State.BMC.BMCState.'
BMC_TRANSITION = 'xyz.openbmc_project.State.BMC.Transition.'
BOOT_SOURCE = 'xyz.openbmc_project.Control.Boot.Source.Sources.'
BOOT_MODE = 'xyz.openbmc_project.Control.Boot.Mode.Modes.'
ACTIVATION = 'xyz.openbmc_project.Software.Activation.Activations.'
PURPOSE = 'xyz.openbmc_project.Software.Version.VersionPurpose.'

#: Values each writable enum accepts (the short last component).
BOOT_SOURCES = frozenset(('Default', 'Disk', 'ExternalMedia', 'Network', 'RemovableMedia'))
BOOT_MODES = frozenset(('Regular', 'Safe', 'Setup'))
HOST_TRANSITIONS = frozenset(('On', 'Off', 'Reboot', 'GracefulWarmReboot', 'ForceWarmReboot'))
CHASSIS_TRANSITIONS = frozenset(('On', 'Off', 'PowerCycle'))
BMC_TRANSITIONS = frozenset(('Reboot', 'None'))

#: Object trees served by their own modules: ``(path prefix, objects(bmc))``, where ``objects``
#: returns ``{path: {property: value}}`` of everything below the prefix. The trees are static
#: per BMC, so their enumerate answers are encoded once and kept in ``bmc.cache``.
TREES = (
    (P + '/inventory', openbmc_inventory.inventory_objects),
    (P + '/sensors', openbmc_sensors.sensor_objects),
)


def envelope(status, data):
    """Build an OpenBMC answer.

    :param status: HTTP status.
    :param data: the ``data`` member.
    :returns: a :class:`sim.wire.Response`.
    """
    word = 'ok' if status == 200 else 'error'
    body = {'data': data, 'message': '%d %s' % (status, REASONS.get(status, 'Unknown')), 'status': word}
    # phosphor-rest-server writes every reply indented and with sorted keys; clients rely on the order.
    return Response(status, json.dumps(body, indent=2, sort_keys=True).encode())


def error(status, description):
    """:returns: an OpenBMC error answer with ``data.description``."""
    return envelope(status, {'description': description})


def _enum_value(value, prefix, allowed):
    """Check a full D-Bus enum string; :returns: its last component or ``None`` when invalid."""
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    short = value[len(prefix):]
    return short if short in allowed else None


def _objects(bmc):
    """Every D-Bus object this BMC exposes, as ``{path: {property: value}}``."""
    objs = {
        HOST: {
            'AttemptsLeft': 3,
            'BootProgress': 'xyz.openbmc_project.State.Boot.Progress.ProgressStages.'
                            + ('OSStart' if bmc.host == 'Running' else 'Unspecified'),
            'CurrentHostState': HOST_STATE + bmc.host,
            'OperatingSystemState': 'xyz.openbmc_project.State.OperatingSystem.Status.OSStatus.'
                                    + ('BootComplete' if bmc.host == 'Running' else 'Inactive'),
            'RequestedHostTransition': HOST_TRANSITION + bmc.requested_host,
        },
        CHASSIS: {
            'CurrentPowerState': CHASSIS_STATE + bmc.chassis,
            'LastStateChangeTime': 0,
            'RequestedPowerTransition': CHASSIS_TRANSITION + bmc.requested_chassis,
        },
        BMC0: {
            'CurrentBMCState': BMC_STATE + bmc.bmc_state,
            'LastRebootTime': 0,
            'RequestedBMCTransition': BMC_TRANSITION + bmc.requested_bmc,
        },
        BOOT: {
            'BootMode': BOOT_MODE + bmc.boot_mode,
            'BootSource': BOOT_SOURCE + bmc.boot_source,
        },
        ONE_TIME: {
            'BootMode': BOOT_MODE + bmc.one_time_mode,
            'BootSource': BOOT_SOURCE + bmc.one_time_source,
            # D-Bus booleans come out of phosphor-rest-server as 0/1.
            'Enabled': 1 if bmc.one_time_enabled else 0,
        },
        DUMP: {},
    }
    # A non-functional image with Priority 0 (bmc.pending_firmware) is what makes xCAT's
    # bmcreboot clear the dumps.
    objs.update(openbmc_inventory.software_objects(bmc))
    return objs


def _tree(path):
    """The builder of the tree ``path`` lies in, or ``None`` for the objects of ``_objects``."""
    for prefix, build in TREES:
        if path == prefix or path.startswith(prefix + '/'):
            return build
    return None


def _objects_at(bmc, path):
    """The objects a request for ``path`` is answered from."""
    build = _tree(path)
    return _all_objects(bmc, path) if build is None else build(bmc)


def _set_host_transition(bmc, value):
    word = _enum_value(value, HOST_TRANSITION, HOST_TRANSITIONS)
    if word is None:
        return False
    if word == 'On':
        bmc.power_on()
    elif word == 'Off':
        bmc.soft_off()
    else:
        bmc.restart()
    return True


def _set_chassis_transition(bmc, value):
    word = _enum_value(value, CHASSIS_TRANSITION, CHASSIS_TRANSITIONS)
    if word is None:
        return False
    if word == 'Off':
        bmc.power_off()
    elif word == 'On':
        bmc.chassis_on()
    else:
        bmc.requested_chassis = 'PowerCycle'
        bmc.restart()
    return True


def _set_bmc_transition(bmc, value):
    word = _enum_value(value, BMC_TRANSITION, BMC_TRANSITIONS)
    if word is None:
        return False
    if word == 'Reboot':
        bmc.bmc_reboot()
    return True


def _enum_setter(attr, prefix, allowed):
    def setter(bmc, value):
        word = _enum_value(value, prefix, allowed)
        if word is None:
            return False
        setattr(bmc, attr, word)
        return True
    return setter


def _set_one_time_enabled(bmc, value):
    # NOTE: xCAT sends 0/1; phosphor also took JSON booleans.  Anything else is a D-Bus type error.
    if value not in (0, 1) or isinstance(value, float):
        return False
    bmc.one_time_enabled = bool(value)
    return True


#: ``(object path, property) -> setter(bmc, value) -> bool`` for every writable property.
SETTERS = MappingProxyType({
    (HOST, 'RequestedHostTransition'): _set_host_transition,
    (CHASSIS, 'RequestedPowerTransition'): _set_chassis_transition,
    (BMC0, 'RequestedBMCTransition'): _set_bmc_transition,
    (BOOT, 'BootSource'): _enum_setter('boot_source', BOOT_SOURCE, BOOT_SOURCES),
    (BOOT, 'BootMode'): _enum_setter('boot_mode', BOOT_MODE, BOOT_MODES),
    (ONE_TIME, 'BootSource'): _enum_setter('one_time_source', BOOT_SOURCE, BOOT_SOURCES),
    (ONE_TIME, 'BootMode'): _enum_setter('one_time_mode', BOOT_MODE, BOOT_MODES),
    (ONE_TIME, 'Enabled'): _set_one_time_enabled,
})


def _action_delete_all(bmc, args):
    return True


#: ``(object path, method) -> action(bmc, args) -> bool``.
ACTIONS = MappingProxyType({
    (DUMP, 'DeleteAll'): _action_delete_all,
})

#: Objects of other command families: ``(root path, objects(bmc))``, built only for requests
#: at or below their root (or above it, for an enumerate).
EXTENSIONS = (
    (openbmc_leds.ROOT, lambda bmc: openbmc_leds.objects(bmc, openbmc_logging.fault_lit(bmc))),
    (openbmc_logging.LOGGING, openbmc_logging.objects),
)


def _all_objects(bmc, path):
    """``_objects`` plus the extension objects a request for ``path`` may touch."""
    objs = _objects(bmc)
    for root, provider in EXTENSIONS:
        if path == root or path.startswith(root + '/') or root.startswith(path + '/'):
            objs.update(provider(bmc))
    return objs


def _setter(bmc, obj, prop):
    """The setter of a writable property, or ``None``."""
    setter = SETTERS.get((obj, prop)) or openbmc_leds.SETTERS.get((obj, prop))
    if setter is None and obj.startswith(openbmc_logging.ENTRY):
        setter = openbmc_logging.setters(bmc).get((obj, prop))
    return setter


def _action(obj, method):
    """The action of a method, or ``None``."""
    return ACTIONS.get((obj, method)) or openbmc_logging.ACTIONS.get((obj, method))


class OpenBMCDialect:
    """Answers OpenBMC REST requests for one BMC at a time (stateless itself)."""

    protocol = 'openbmc'
    #: Where this dialect's links start: the ``link-away`` fault rewrites every string starting so.
    LINK_PREFIXES = ('/xyz/openbmc_project',)

    @staticmethod
    def error(status, description):
        """:returns: an error answer in this dialect's shape."""
        return error(status, description)

    @staticmethod
    def is_login(req):
        """:returns: whether ``req`` is a login request."""
        return req.path == '/login'

    @staticmethod
    def is_logout(req):
        """:returns: whether ``req`` is a logout request."""
        return req.path == '/logout'

    def handle(self, bmc, req):
        """Answer one request.

        :param bmc: the :class:`sim.bmc.BMC` addressed.
        :param req: the :class:`sim.wire.Request`.
        :returns: a :class:`sim.wire.Response`.
        """
        path = req.path
        if path == '/login':
            if req.method != 'POST':
                return error(405, 'Method not allowed')
            return self._login(bmc, req)
        if path == '/logout':
            if req.method != 'POST':
                return error(405, 'Method not allowed')
            return self._logout(bmc, req)
        auth = self._authenticated(bmc, req)
        if auth is not None:
            return auth
        if len(path) > 1 and path.endswith('/'):
            path = path[:-1]
        if not path.startswith(P):
            return error(404, 'Not Found')
        if path.endswith('/enumerate'):
            if req.method != 'GET':
                return error(405, 'Method not allowed')
            prefix = path[:-len('/enumerate')]
            static = _tree(prefix) is not None
            if static and path in bmc.cache:
                return Response(200, bmc.cache[path])
            objs = _objects_at(bmc, prefix)
            found = {k: v for k, v in objs.items() if k.startswith(prefix + '/')}
            if not found:
                return error(404, 'org.freedesktop.DBus.Error.FileNotFound: path or object not found: '
                             + prefix)
            resp = envelope(200, found)
            if static:
                bmc.cache[path] = resp.body
            return resp
        if '/attr/' in path:
            obj, _, prop = path.rpartition('/attr/')
            return self._attr(bmc, req, obj, prop)
        if '/action/' in path:
            obj, _, method = path.rpartition('/action/')
            if req.method != 'POST':
                return error(405, 'Method not allowed')
            action = _action(obj, method)
            if action is None:
                return error(404, 'org.freedesktop.DBus.Error.UnknownMethod: %s not found' % method)
            args, bad = self._data(req)
            if bad is not None:
                return bad
            action(bmc, args)
            return envelope(200, None)
        if req.method != 'GET':
            return error(405, 'Method not allowed')
        props = _objects_at(bmc, path).get(path)
        if props is None:
            return error(404, 'org.freedesktop.DBus.Error.FileNotFound: path or object not found: '
                         + path)
        return envelope(200, props)

    @staticmethod
    def _data(req):
        """Decode ``{"data": ...}``; :returns: ``(value, None)`` or ``(None, error response)``."""
        try:
            body = req.json()
        except ValueError:
            return None, error(400, 'Request body is not valid JSON')
        if not isinstance(body, dict) or 'data' not in body:
            return None, error(400, 'Request body must be a JSON object with a data member')
        return body['data'], None

    def _attr(self, bmc, req, obj, prop):
        if req.method == 'GET':
            props = _objects_at(bmc, obj).get(obj)
            if props is None or prop not in props:
                return error(404, 'org.freedesktop.DBus.Error.UnknownProperty: %s' % prop)
            return envelope(200, props[prop])
        if req.method != 'PUT':
            return error(405, 'Method not allowed')
        setter = _setter(bmc, obj, prop)
        if setter is None:
            props = _objects_at(bmc, obj).get(obj)
            if props is not None and prop in props:
                return error(403, 'org.freedesktop.DBus.Error.PropertyReadOnly: %s' % prop)
            return error(404, 'org.freedesktop.DBus.Error.UnknownProperty: %s' % prop)
        value, bad = self._data(req)
        if bad is not None:
            return bad
        if not setter(bmc, value):
            return error(400, 'org.freedesktop.DBus.Error.InvalidArgs: invalid value %r for %s'
                         % (value, prop))
        return envelope(200, None)

    @staticmethod
    def _cookie_sid(req):
        cookie = req.headers.get('cookie')
        if not cookie:
            return None
        for part in cookie.split(';'):
            name, _, value = part.strip().partition('=')
            if name == 'sid':
                return value
        return None

    def _authenticated(self, bmc, req):
        """:returns: ``None`` when the request is authorised, else the 401 answer."""
        sid = self._cookie_sid(req)
        if sid is not None and bmc.session_ok(sid):
            return None
        header = req.headers.get('authorization')
        if header is not None:
            if bmc.basic_ok(header):
                return None
            return error(401, 'Invalid username or password')
        return error(401, 'Login required')

    def _login(self, bmc, req):
        creds, bad = self._data(req)
        if bad is not None:
            return bad
        if (not isinstance(creds, list) or len(creds) != 2
                or not all(isinstance(c, str) for c in creds)):
            return error(400, 'Login data must be [username, password]')
        if not bmc.credentials_ok(creds[0], creds[1]):
            bmc.login_failures += 1
            return error(401, 'Invalid username or password')
        token, _ = bmc.open_session()
        resp = envelope(200, "User '%s' logged in" % creds[0])
        resp.headers = (('Set-Cookie', 'sid=%s; Secure; HttpOnly' % token),)
        return resp

    def _logout(self, bmc, req):
        sid = self._cookie_sid(req)
        if sid is not None and bmc.close_session(sid):
            return envelope(200, "User '%s' logged out" % bmc.username)
        return envelope(200, 'No user logged in')
