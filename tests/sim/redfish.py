"""Redfish dialect: service root, SessionService, one System, Manager and Chassis with reset and boot.

Members are ``/redfish/v1/Systems/system``, ``/redfish/v1/Managers/bmc`` and
``/redfish/v1/Chassis/chassis``.  Auth: ``X-Auth-Token`` from ``POST .../Sessions`` or HTTP Basic;
the service root and the session POST need none.

Each BMC may restrict the reset types it offers (``BMC.reset_types``, ``BMC.manager_reset_types``;
None offers every type below): the restriction shows in the inline allowable values and in the
ActionInfo, and a Reset with a type not offered gets bmcweb's 400 ActionParameterValueNotInList.
``BMC.refuse_on_when_on`` makes On/ForceOn of a system already on a 409, as HPE iLO refuses it.
"""

import json
import uuid
from types import MappingProxyType

from sim.wire import Response

R = '/redfish/v1'
SYSTEMS = R + '/Systems'
SYSTEM = SYSTEMS + '/system'
SYSTEM_RESET = SYSTEM + '/Actions/ComputerSystem.Reset'
SYSTEM_RESET_INFO = SYSTEM + '/ResetActionInfo'
MANAGERS = R + '/Managers'
MANAGER = MANAGERS + '/bmc'
MANAGER_RESET = MANAGER + '/Actions/Manager.Reset'
MANAGER_RESET_INFO = MANAGER + '/ResetActionInfo'
CHASSIS_COLL = R + '/Chassis'
CHASSIS = CHASSIS_COLL + '/chassis'
SESSION_SERVICE = R + '/SessionService'
SESSIONS = SESSION_SERVICE + '/Sessions'

#: ResetType values of the system and what each does to the power model.
SYSTEM_RESET_TYPES = ('On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart',
                      'ForceOn', 'PowerCycle', 'Nmi')
_RESET_ACTIONS = MappingProxyType({
    'On': 'power_on', 'ForceOn': 'power_on', 'ForceOff': 'power_off',
    'GracefulShutdown': 'soft_off', 'GracefulRestart': 'restart', 'ForceRestart': 'restart',
    'PowerCycle': 'restart', 'Nmi': None,
})

#: ResetType values of the manager.
MANAGER_RESET_TYPES = ('GracefulRestart', 'ForceRestart')

#: Boot override settings the system accepts.
OVERRIDE_ENABLED = ('Disabled', 'Once', 'Continuous')
OVERRIDE_TARGETS = ('None', 'Pxe', 'Hdd', 'Cd', 'BiosSetup', 'Floppy')
OVERRIDE_MODES = ('UEFI', 'Legacy')

#: Message registry prefix used in error bodies.
REGISTRY = 'Base.1.8.'
#: HPE iLO's own registry, for the refusal ``refuse_on_when_on`` imitates.
ILO_REGISTRY = 'iLO.2.14.'


def _dump(status, obj, headers=()):
    return Response(status, json.dumps(obj).encode(), headers)


def error(status, message, message_id='GeneralError', resolution='None.', args=(), registry=REGISTRY):
    """Build a Redfish error answer.

    :param status: HTTP status.
    :param message: human text (also the ``@Message.ExtendedInfo[0].Message`` xCAT prints).
    :param message_id: registry message id (without the registry prefix).
    :param resolution: the Resolution text.
    :param args: the MessageArgs.
    :param registry: the registry prefix (``Base.1.8.`` by default).
    :returns: a :class:`sim.wire.Response`.
    """
    return _dump(status, {'error': {
        'code': REGISTRY + 'GeneralError',
        'message': 'A general error has occurred. See ExtendedInfo for more information.',
        '@Message.ExtendedInfo': [{
            '@odata.type': '#Message.v1_1_1.Message',
            'MessageId': registry + message_id,
            'Message': message,
            'MessageArgs': list(args),
            'Severity': 'Critical',
            'Resolution': resolution,
        }],
    }})


def not_in_list(value, action):
    """bmcweb's 400 for a ResetType the BMC does not offer (Base ActionParameterValueNotInList)."""
    return error(400, "The value '%s' for the parameter ResetType in the action %s is not in the list of "
                      "acceptable values." % (value, action), 'ActionParameterValueNotInList',
                 'Choose a value from the enumeration list that the implementation can support and resubmit '
                 'the request if the operation failed.', (value, 'ResetType', action))


def _success():
    return {'@Message.ExtendedInfo': [{
        '@odata.type': '#Message.v1_1_1.Message',
        'MessageId': REGISTRY + 'Success',
        'Message': 'The request completed successfully.',
        'MessageArgs': [],
        'Severity': 'OK',
        'Resolution': 'None',
    }]}


def _link(path):
    return {'@odata.id': path}


def _collection(path, odata_type, name, member):
    return {'@odata.id': path, '@odata.type': odata_type, 'Name': name,
            'Members': [_link(member)], 'Members@odata.count': 1}


def _action_info(path, allowed):
    return {'@odata.id': path, '@odata.type': '#ActionInfo.v1_1_2.ActionInfo', 'Id': 'ResetActionInfo',
            'Name': 'Reset Action Info',
            'Parameters': [{'Name': 'ResetType', 'Required': True, 'DataType': 'String',
                            'AllowableValues': list(allowed)}]}


class RedfishDialect:
    """Answers Redfish requests for one BMC at a time.

    :param settings: the fleet's :class:`sim.bmc.BmcSettings` (reply style, allowable values style,
        SessionService presence).
    """

    protocol = 'redfish'
    #: Where this dialect's links start: the ``link-away`` fault rewrites every string starting so.
    LINK_PREFIXES = ('/redfish/v1',)

    def __init__(self, settings):
        self.settings = settings
        self.routes = MappingProxyType({
            '/redfish': self._version,
            R: self._root,
            SYSTEMS: self._systems,
            SYSTEM: self._system,
            SYSTEM_RESET: self._system_reset,
            SYSTEM_RESET_INFO: self._system_reset_info,
            MANAGERS: self._managers,
            MANAGER: self._manager,
            MANAGER_RESET: self._manager_reset,
            MANAGER_RESET_INFO: self._manager_reset_info,
            CHASSIS_COLL: self._chassis_collection,
            CHASSIS: self._chassis,
            SESSION_SERVICE: self._session_service,
            SESSIONS: self._sessions,
        })

    @staticmethod
    def error(status, description):
        """:returns: an error answer in this dialect's shape."""
        return error(status, description)

    @staticmethod
    def is_login(req):
        """:returns: whether ``req`` is a login request."""
        return req.method == 'POST' and req.path.rstrip('/') == SESSIONS

    @staticmethod
    def is_logout(req):
        """:returns: whether ``req`` ends a session (its DELETE)."""
        return req.method == 'DELETE' and req.path.startswith(SESSIONS + '/')

    def handle(self, bmc, req):
        """Answer one request.

        :param bmc: the :class:`sim.bmc.BMC` addressed.
        :param req: the :class:`sim.wire.Request`.
        :returns: a :class:`sim.wire.Response`.
        """
        path = req.path
        if len(path) > 1 and path.endswith('/'):
            path = path[:-1]
        if not self.settings.session_service and path.startswith(SESSION_SERVICE):
            return error(404, 'The resource at the URI %s was not found.' % path, 'ResourceNotFound')
        public = path in ('/redfish', R) or (path == SESSIONS and req.method == 'POST')
        if req.method == 'DELETE' and path.startswith(SESSIONS + '/'):
            # Counted before the auth check: after a BMC reboot the session (and with it the
            # token the DELETE carries) is gone, and the DELETE is refused, yet it was sent.
            bmc.session_deletes += 1
        if not public:
            denied = self._authenticated(bmc, req)
            if denied is not None:
                return denied
        handler = self.routes.get(path)
        if handler is None:
            if path.startswith(SESSIONS + '/'):
                return self._session(bmc, req, path[len(SESSIONS) + 1:])
            return error(404, 'The resource at the URI %s was not found.' % path, 'ResourceNotFound')
        return handler(bmc, req)

    # -- helpers -----------------------------------------------------------------------------------

    def _authenticated(self, bmc, req):
        token = req.headers.get('x-auth-token')
        if token is not None and self.settings.session_service and bmc.session_ok(token):
            return None
        header = req.headers.get('authorization')
        if header is not None and bmc.basic_ok(header):
            return None
        headers = ()
        if not self.settings.session_service:
            headers = (('WWW-Authenticate', 'Basic realm="xcat-sim"'),)
        resp = error(401, 'There is no valid session established with the implementation.',
                     'NoValidSession', 'Establish a session before attempting any operations.')
        resp.headers = headers
        return resp

    @staticmethod
    def _method(req, *allowed):
        if req.method in allowed:
            return None
        return error(405, 'The HTTP method %s is not allowed for this resource.' % req.method,
                     'OperationNotAllowed')

    @staticmethod
    def _body(req):
        """:returns: ``(dict, None)`` or ``(None, 400 answer)``."""
        try:
            body = req.json()
        except ValueError:
            return None, error(400, 'The request body submitted was malformed JSON and could not be '
                                    'parsed by the receiving service.', 'MalformedJSON')
        if not isinstance(body, dict):
            return None, error(400, 'The request body must be a JSON object.', 'MalformedJSON')
        return body, None

    def _done(self):
        """Answer of a successful action or PATCH, in the configured style."""
        if self.settings.redfish_reply == '204':
            return Response(204)
        return _dump(200, _success())

    @staticmethod
    def system_reset_types(bmc):
        """:returns: the system ResetTypes ``bmc`` offers."""
        return SYSTEM_RESET_TYPES if bmc.reset_types is None else tuple(bmc.reset_types)

    @staticmethod
    def manager_reset_types(bmc):
        """:returns: the manager ResetTypes ``bmc`` offers."""
        return MANAGER_RESET_TYPES if bmc.manager_reset_types is None else tuple(bmc.manager_reset_types)

    def _reset_action(self, target, info_path, allowed):
        action = {'target': target}
        if self.settings.redfish_allowable == 'actioninfo':
            action['@Redfish.ActionInfo'] = info_path
        else:
            action['ResetType@Redfish.AllowableValues'] = list(allowed)
        return action

    # -- resources ----------------------------------------------------------------------------------

    def _version(self, bmc, req):
        return self._method(req, 'GET') or _dump(200, {'v1': R + '/'})

    def _root(self, bmc, req):
        bad = self._method(req, 'GET')
        if bad:
            return bad
        root = {
            '@odata.id': R, '@odata.type': '#ServiceRoot.v1_11_0.ServiceRoot', 'Id': 'RootService',
            'Name': 'Root Service', 'RedfishVersion': '1.11.0',
            'UUID': str(uuid.UUID(int=bmc.index)),
            'Systems': _link(SYSTEMS), 'Managers': _link(MANAGERS), 'Chassis': _link(CHASSIS_COLL),
        }
        if self.settings.session_service:
            root['SessionService'] = _link(SESSION_SERVICE)
            root['Links'] = {'Sessions': _link(SESSIONS)}
        return _dump(200, root)

    def _systems(self, bmc, req):
        return self._method(req, 'GET') or _dump(200, _collection(
            SYSTEMS, '#ComputerSystemCollection.ComputerSystemCollection',
            'Computer System Collection', SYSTEM))

    def _managers(self, bmc, req):
        return self._method(req, 'GET') or _dump(200, _collection(
            MANAGERS, '#ManagerCollection.ManagerCollection', 'Manager Collection', MANAGER))

    def _chassis_collection(self, bmc, req):
        return self._method(req, 'GET') or _dump(200, _collection(
            CHASSIS_COLL, '#ChassisCollection.ChassisCollection', 'Chassis Collection', CHASSIS))

    def _system_doc(self, bmc):
        return {
            '@odata.id': SYSTEM, '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
            'Id': 'system', 'Name': 'system', 'SystemType': 'Physical', 'Manufacturer': 'xCAT-sim',
            'Model': 'sim', 'SerialNumber': 'SIM%06d' % bmc.index,
            'UUID': str(uuid.UUID(int=(1 << 64) + bmc.index)),
            'HostName': bmc.name, 'PowerState': bmc.redfish_power,
            'Status': {'State': 'Enabled', 'Health': 'OK'},
            'Boot': {
                'BootSourceOverrideEnabled': bmc.override_enabled,
                'BootSourceOverrideTarget': bmc.override_target,
                'BootSourceOverrideTarget@Redfish.AllowableValues': list(OVERRIDE_TARGETS),
                'BootSourceOverrideMode': 'UEFI',
            },
            'Actions': {'#ComputerSystem.Reset': self._reset_action(
                SYSTEM_RESET, SYSTEM_RESET_INFO, self.system_reset_types(bmc))},
            'Links': {'Chassis': [_link(CHASSIS)], 'ManagedBy': [_link(MANAGER)]},
        }

    def _system(self, bmc, req):
        if req.method == 'GET':
            return _dump(200, self._system_doc(bmc))
        bad = self._method(req, 'PATCH')
        if bad:
            return bad
        body, bad = self._body(req)
        if bad:
            return bad
        boot = body.get('Boot')
        if not isinstance(boot, dict) or not boot or set(body) - {'Boot'}:
            return error(400, 'The request body must be {"Boot": {...}} with known properties.',
                         'PropertyUnknown')
        checks = (('BootSourceOverrideEnabled', OVERRIDE_ENABLED),
                  ('BootSourceOverrideTarget', OVERRIDE_TARGETS),
                  ('BootSourceOverrideMode', OVERRIDE_MODES))
        known = {name for name, _ in checks}
        for name in boot:
            if name not in known:
                return error(400, 'The property %s is not in the list of valid properties for the '
                                  'resource.' % name, 'PropertyUnknown')
        for name, allowed in checks:
            if name in boot and boot[name] not in allowed:
                return error(400, 'The value %s for the property %s is not in the list of acceptable '
                                  'values.' % (json.dumps(boot[name]), name), 'PropertyValueNotInList')
        # Validate everything first so a bad PATCH changes nothing.
        if 'BootSourceOverrideEnabled' in boot:
            bmc.override_enabled = boot['BootSourceOverrideEnabled']
        if 'BootSourceOverrideTarget' in boot:
            bmc.override_target = boot['BootSourceOverrideTarget']
        return self._done()

    def _system_reset(self, bmc, req):
        bad = self._method(req, 'POST')
        if bad:
            return bad
        body, bad = self._body(req)
        if bad:
            return bad
        reset_type = body.get('ResetType')
        if reset_type is None:
            return error(400, 'The action ComputerSystem.Reset requires the parameter ResetType to be '
                              'present in the request body.', 'ActionParameterMissing')
        if reset_type not in _RESET_ACTIONS:
            return error(400, 'The parameter ResetType for the action ComputerSystem.Reset is not '
                              'supported on the target resource.', 'ActionParameterNotSupported')
        if reset_type not in self.system_reset_types(bmc):
            return not_in_list(reset_type, 'ComputerSystem.Reset')
        if bmc.refuse_on_when_on and reset_type in ('On', 'ForceOn') and bmc.redfish_power == 'On':
            # NOTE: HPE iLO refuses to power on a system that is on instead of doing nothing.
            return error(409, 'The operation could not be performed because the server is already on.',
                         'InvalidOperationForSystemState', 'Retry the operation when the system is in '
                         'another power state.', registry=ILO_REGISTRY)
        method = _RESET_ACTIONS[reset_type]
        if method is not None:
            getattr(bmc, method)()
        return self._done()

    def _system_reset_info(self, bmc, req):
        if self.settings.redfish_allowable != 'actioninfo':
            return error(404, 'The resource at the URI %s was not found.' % req.path, 'ResourceNotFound')
        return self._method(req, 'GET') or _dump(200, _action_info(SYSTEM_RESET_INFO,
                                                                   self.system_reset_types(bmc)))

    def _manager(self, bmc, req):
        bad = self._method(req, 'GET')
        if bad:
            return bad
        state = 'Enabled' if bmc.bmc_state == 'Ready' else 'Starting'
        return _dump(200, {
            '@odata.id': MANAGER, '@odata.type': '#Manager.v1_11_0.Manager', 'Id': 'bmc',
            'Name': 'OpenBmc Manager', 'ManagerType': 'BMC', 'PowerState': 'On',
            'FirmwareVersion': 'sim-2.12.0', 'UUID': str(uuid.UUID(int=(2 << 64) + bmc.index)),
            'Status': {'State': state, 'Health': 'OK'},
            'Actions': {'#Manager.Reset': self._reset_action(
                MANAGER_RESET, MANAGER_RESET_INFO, self.manager_reset_types(bmc))},
            'Links': {'ManagerForServers': [_link(SYSTEM)], 'ManagerForChassis': [_link(CHASSIS)]},
        })

    def _manager_reset(self, bmc, req):
        bad = self._method(req, 'POST')
        if bad:
            return bad
        body, bad = self._body(req)
        if bad:
            return bad
        reset_type = body.get('ResetType')
        if reset_type is None:
            return error(400, 'The action Manager.Reset requires the parameter ResetType to be '
                              'present in the request body.', 'ActionParameterMissing')
        if reset_type not in MANAGER_RESET_TYPES:
            return error(400, 'The parameter ResetType for the action Manager.Reset is not supported '
                              'on the target resource.', 'ActionParameterNotSupported')
        if reset_type not in self.manager_reset_types(bmc):
            return not_in_list(reset_type, 'Manager.Reset')
        resp = self._done()
        bmc.bmc_reboot()
        return resp

    def _manager_reset_info(self, bmc, req):
        if self.settings.redfish_allowable != 'actioninfo':
            return error(404, 'The resource at the URI %s was not found.' % req.path, 'ResourceNotFound')
        return self._method(req, 'GET') or _dump(200, _action_info(MANAGER_RESET_INFO,
                                                                   self.manager_reset_types(bmc)))

    def _chassis(self, bmc, req):
        return self._method(req, 'GET') or _dump(200, {
            '@odata.id': CHASSIS, '@odata.type': '#Chassis.v1_14_0.Chassis', 'Id': 'chassis',
            'Name': 'chassis', 'ChassisType': 'RackMount', 'PowerState': bmc.redfish_power,
            'Status': {'State': 'Enabled', 'Health': 'OK'},
            'Links': {'ComputerSystems': [_link(SYSTEM)], 'ManagedBy': [_link(MANAGER)]},
        })

    def _session_service(self, bmc, req):
        return self._method(req, 'GET') or _dump(200, {
            '@odata.id': SESSION_SERVICE, '@odata.type': '#SessionService.v1_1_8.SessionService',
            'Id': 'SessionService', 'Name': 'Session Service', 'ServiceEnabled': True,
            'SessionTimeout': 1800, 'Sessions': _link(SESSIONS),
        })

    def _sessions(self, bmc, req):
        if req.method == 'GET':
            members = [_link(SESSIONS + '/' + sid) for sid in bmc.sessions.values()]
            return _dump(200, {'@odata.id': SESSIONS, '@odata.type': '#SessionCollection.SessionCollection',
                               'Name': 'Session Collection', 'Members': members,
                               'Members@odata.count': len(members)})
        bad = self._method(req, 'POST')
        if bad:
            return bad
        body, bad = self._body(req)
        if bad:
            return bad
        user, password = body.get('UserName'), body.get('Password')
        if not isinstance(user, str) or not isinstance(password, str):
            return error(400, 'The create operation requires UserName and Password.',
                         'CreateFailedMissingReqProperties')
        if not bmc.credentials_ok(user, password):
            bmc.login_failures += 1
            return error(401, 'Invalid username or password', 'ResourceAtUriUnauthorized',
                         'Ensure that the appropriate access is provided for the service.')
        token, sid = bmc.open_session()
        location = SESSIONS + '/' + sid
        return _dump(201, self._session_doc(location, sid, user),
                     (('X-Auth-Token', token), ('Location', location)))

    @staticmethod
    def _session_doc(location, sid, user):
        return {'@odata.id': location, '@odata.type': '#Session.v1_3_0.Session', 'Id': sid,
                'Name': 'User Session', 'UserName': user}

    def _session(self, bmc, req, sid):
        token = bmc.token_of(sid)
        if token is None:
            return error(404, 'The resource at the URI %s was not found.' % req.path, 'ResourceNotFound')
        if req.method == 'GET':
            return _dump(200, self._session_doc(SESSIONS + '/' + sid, sid, bmc.username))
        bad = self._method(req, 'DELETE')
        if bad:
            return bad
        bmc.close_session(token)
        return Response(204)
