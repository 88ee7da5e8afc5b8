"""Redfish dialect: service root, SessionService, one System, Manager and Chassis with reset and boot.

The layout and the quirks come from the fleet's vendor style (``--redfish-style``, see
``sim.redfish_styles``). The default, ``bmcweb``, has its members at
``/redfish/v1/Systems/system``, ``/redfish/v1/Managers/bmc`` and ``/redfish/v1/Chassis/chassis``.
Auth: ``X-Auth-Token`` from ``POST <sessions>`` or HTTP Basic; the service root and the
session POST need none.

Each BMC may restrict the reset types it offers (``BMC.reset_types``, ``BMC.manager_reset_types``;
None offers the style's types): the restriction shows in the inline allowable values and in the
ActionInfo, and a Reset with a type not offered gets bmcweb's 400 ActionParameterValueNotInList.
``BMC.refuse_on_when_on`` (or the style's ``on_when_on``) makes On/ForceOn of a system already
on a 409, as HPE iLO refuses it.
"""

import hashlib
import json
import uuid
from types import MappingProxyType

from sim.redfish_styles import ALL_RESETS, STYLES
from sim.wire import Response

R = '/redfish/v1'
SYSTEMS = R + '/Systems'
SYSTEM = SYSTEMS + '/system'
MANAGERS = R + '/Managers'
MANAGER = MANAGERS + '/bmc'
CHASSIS_COLL = R + '/Chassis'
CHASSIS = CHASSIS_COLL + '/chassis'
SESSION_SERVICE = R + '/SessionService'
SESSIONS = SESSION_SERVICE + '/Sessions'

#: ResetType values of the system the simulator knows and what each does to the power model.
SYSTEM_RESET_TYPES = ALL_RESETS
_RESET_ACTIONS = MappingProxyType({
    'On': 'power_on', 'ForceOn': 'power_on', 'ForceOff': 'power_off',
    'GracefulShutdown': 'soft_off', 'GracefulRestart': 'restart', 'ForceRestart': 'restart',
    'PowerCycle': 'restart', 'Nmi': None, 'PushPowerButton': 'push_button',
})

#: ResetType values of the manager.
MANAGER_RESET_TYPES = ('GracefulRestart', 'ForceRestart')

#: Boot override settings the system accepts.
OVERRIDE_ENABLED = ('Disabled', 'Once', 'Continuous')
OVERRIDE_TARGETS = ('None', 'Pxe', 'Hdd', 'Cd', 'BiosSetup', 'Floppy')
OVERRIDE_MODES = ('UEFI', 'Legacy')

#: Message registry prefix used in error bodies.
REGISTRY = 'Base.1.8.'
#: HPE iLO's own registry, for the refusal of On when on.
ILO_REGISTRY = 'iLO.2.14.'


def _dump(status, obj, headers=()):
    return Response(status, json.dumps(obj).encode(), headers)


def error(status, message, message_id='GeneralError', resolution='None.', args=(), registry=REGISTRY,
          style='full'):
    """Build a Redfish error answer.

    :param status: HTTP status.
    :param message: human text (also the ``@Message.ExtendedInfo[0].Message`` xCAT prints).
    :param message_id: registry message id (without the registry prefix).
    :param resolution: the Resolution text.
    :param args: the MessageArgs.
    :param registry: the registry prefix (``Base.1.8.`` by default).
    :param style: ``full``; ``messageid``: HPE iLO 5's body, only a ``MessageId`` and a pointer
        instead of a message; ``messageID``: iLO 4's, the key spelled ``MessageID``.
    :returns: a :class:`sim.wire.Response`.
    """
    if style in ('messageid', 'messageID'):
        return _dump(status, {'error': {
            'code': 'iLO.0.10.ExtendedInfo',
            'message': 'See @Message.ExtendedInfo for more information.',
            '@Message.ExtendedInfo': [{('MessageId' if style == 'messageid' else 'MessageID'):
                                       registry + message_id}],
        }})
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


def not_in_list(value, action, style='full'):
    """bmcweb's 400 for a ResetType the BMC does not offer (Base ActionParameterValueNotInList)."""
    return error(400, "The value '%s' for the parameter ResetType in the action %s is not in the list of "
                      "acceptable values." % (value, action), 'ActionParameterValueNotInList',
                 'Choose a value from the enumeration list that the implementation can support and resubmit '
                 'the request if the operation failed.', (value, 'ResetType', action), style=style)


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


class Layout:
    """Where one BMC of a style keeps its resources (paths without a trailing slash)."""

    def __init__(self, style, bmc_index):
        system_id = style.system_id if style.system_id is not None else 'WZP%08d' % bmc_index
        self.system = SYSTEMS + '/' + system_id
        self.system_reset = self.system + '/Actions/ComputerSystem.Reset'
        self.system_reset_info = self.system + '/ResetActionInfo'
        self.system_settings = self.system + '/Settings'
        self.manager = MANAGERS + '/' + style.manager_id
        self.manager_reset = self.manager + '/Actions/Manager.Reset'
        self.manager_reset_info = self.manager + '/ResetActionInfo'
        self.chassis = CHASSIS_COLL + '/' + ('chassis' if system_id == 'system' else system_id)
        self.sessions = style.sessions
        self.slash = style.slash

    def link(self, path):
        """A link as this style writes it (iLO 4 and early iLO 5 end every link with ``/``)."""
        return path + '/' if self.slash else path


class RedfishDialect:
    """Answers Redfish requests for one BMC at a time.

    :param settings: the fleet's :class:`sim.bmc.BmcSettings` (reply style, allowable values style,
        SessionService presence, vendor style).
    """

    protocol = 'redfish'
    #: Where this dialect's links start: the ``link-away`` fault rewrites every string starting so.
    LINK_PREFIXES = ('/redfish/v1',)

    def __init__(self, settings):
        self.settings = settings
        self.style = STYLES[settings.redfish_style]
        self._shared = None if self.style.system_id is None else self._routes(Layout(self.style, 0))

    def _routes(self, layout):
        return layout, MappingProxyType({
            '/redfish': self._version,
            R: self._root,
            SYSTEMS: self._systems,
            layout.system: self._system,
            layout.system_reset: self._system_reset,
            layout.system_reset_info: self._system_reset_info,
            layout.system_settings: self._system_settings,
            MANAGERS: self._managers,
            layout.manager: self._manager,
            layout.manager_reset: self._manager_reset,
            layout.manager_reset_info: self._manager_reset_info,
            CHASSIS_COLL: self._chassis_collection,
            layout.chassis: self._chassis,
            SESSION_SERVICE: self._session_service,
            layout.sessions: self._sessions,
        })

    def layout(self, bmc):
        """:returns: ``(Layout, routes)`` of ``bmc``."""
        if self._shared is not None:
            return self._shared
        return self._routes(Layout(self.style, bmc.index))

    def error(self, status, description):
        """:returns: an error answer in this dialect's shape."""
        return error(status, description, style=self.style.errors)

    def _error(self, *args, **kwargs):
        return error(*args, style=self.style.errors, **kwargs)

    def _not_found(self, path):
        return self._error(404, 'The resource at the URI %s was not found.' % path, 'ResourceNotFound')

    def is_login(self, req):
        """:returns: whether ``req`` is a login request."""
        return req.method == 'POST' and req.path.rstrip('/') == self.style.sessions

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
        layout, routes = self.layout(bmc)
        path = req.path
        if len(path) > 1 and path.endswith('/'):
            path = path[:-1]
        sessions = layout.sessions
        if not self.settings.session_service and (path.startswith(SESSION_SERVICE) or path.startswith(sessions)):
            return self._not_found(path)
        public = path in ('/redfish', R) or (path == sessions and req.method == 'POST')
        if req.method == 'DELETE' and path.startswith(sessions + '/'):
            # Counted before the auth check: after a BMC reboot the session (and with it the
            # token the DELETE carries) is gone, and the DELETE is refused, yet it was sent.
            bmc.session_deletes += 1
        if path == SESSIONS and sessions != SESSIONS and req.method == 'POST':
            # NOTE: Dell iDRAC 8 and 9 before 4.x keep their sessions at /redfish/v1/Sessions;
            # the specification's place refuses the POST.
            return self._error(405, 'The HTTP method POST is not allowed for this resource.',
                               'OperationNotAllowed')
        if not public:
            denied = self._authenticated(bmc, req)
            if denied is not None:
                return denied
        handler = routes.get(path)
        if handler is None:
            if path.startswith(sessions + '/'):
                return self._session(bmc, req, path[len(sessions) + 1:], layout)
            return self._not_found(path)
        return handler(bmc, req, layout)

    # -- helpers -----------------------------------------------------------------------------------

    def _authenticated(self, bmc, req):
        token = req.headers.get('x-auth-token')
        if token is not None and self.settings.session_service and bmc.session_ok(token):
            return None
        header = req.headers.get('authorization')
        if header is not None and header.startswith('Basic '):
            if bmc.basic_ok(header):
                bmc.basic_requests += 1
                return None
            bmc.basic_refusals += 1
        headers = ()
        if not self.settings.session_service:
            headers = (('WWW-Authenticate', 'Basic realm="xcat-sim"'),)
        resp = self._error(401, 'There is no valid session established with the implementation.',
                           'NoValidSession', 'Establish a session before attempting any operations.')
        resp.headers = headers
        return resp

    def _method(self, req, *allowed):
        if req.method in allowed:
            return None
        return self._error(405, 'The HTTP method %s is not allowed for this resource.' % req.method,
                           'OperationNotAllowed')

    def _body(self, req):
        """:returns: ``(dict, None)`` or ``(None, 400 answer)``."""
        try:
            body = req.json()
        except ValueError:
            return None, self._error(400, 'The request body submitted was malformed JSON and could not be '
                                          'parsed by the receiving service.', 'MalformedJSON')
        if not isinstance(body, dict):
            return None, self._error(400, 'The request body must be a JSON object.', 'MalformedJSON')
        return body, None

    def _done(self):
        """Answer of a successful action or PATCH, in the configured style."""
        if self.settings.redfish_reply == '204':
            return Response(204)
        return _dump(200, _success())

    def system_reset_types(self, bmc):
        """:returns: the system ResetTypes ``bmc`` offers."""
        return self.style.resets if bmc.reset_types is None else tuple(bmc.reset_types)

    def manager_reset_types(self, bmc):
        """:returns: the manager ResetTypes ``bmc`` offers."""
        return self.style.manager_resets if bmc.manager_reset_types is None else tuple(bmc.manager_reset_types)

    def _reset_action(self, layout, target, info_path, allowed, advert, inline=None):
        action = {'target': layout.link(target)}
        if advert == 'fleet':
            advert = 'actioninfo' if self.settings.redfish_allowable == 'actioninfo' else 'inline'
        if advert in ('actioninfo', 'both'):
            action['@Redfish.ActionInfo'] = layout.link(info_path)
        if advert in ('inline', 'both'):
            action['ResetType@Redfish.AllowableValues'] = list(inline if inline is not None else allowed)
        return action

    def _advertises_info(self, advert):
        return advert in ('actioninfo', 'both') or (advert == 'fleet' and
                                                    self.settings.redfish_allowable == 'actioninfo')

    @staticmethod
    def etag(bmc):
        """The system's ETag: changes whenever its boot override does."""
        state = '%s/%s/%s/%s' % (bmc.index, bmc.override_enabled, bmc.override_target, bmc.override_mode)
        return 'W/"%s"' % hashlib.sha1(state.encode()).hexdigest()[:16]

    # -- resources ----------------------------------------------------------------------------------

    def _version(self, bmc, req, layout):
        return self._method(req, 'GET') or _dump(200, {'v1': R + '/'})

    def _root(self, bmc, req, layout):
        bad = self._method(req, 'GET')
        if bad:
            return bad
        root = {
            '@odata.id': layout.link(R), '@odata.type': '#ServiceRoot.v1_11_0.ServiceRoot', 'Id': 'RootService',
            'Name': 'Root Service', 'RedfishVersion': '1.11.0',
            'UUID': str(uuid.UUID(int=bmc.index)),
            'Systems': _link(layout.link(SYSTEMS)), 'Managers': _link(layout.link(MANAGERS)),
            'Chassis': _link(layout.link(CHASSIS_COLL)),
        }
        if self.settings.session_service:
            root['SessionService'] = _link(layout.link(SESSION_SERVICE))
            root['Links'] = {'Sessions': _link(layout.link(layout.sessions))}
        return _dump(200, root)

    def _systems(self, bmc, req, layout):
        return self._method(req, 'GET') or _dump(200, _collection(
            layout.link(SYSTEMS), '#ComputerSystemCollection.ComputerSystemCollection',
            'Computer System Collection', layout.link(layout.system)))

    def _managers(self, bmc, req, layout):
        return self._method(req, 'GET') or _dump(200, _collection(
            layout.link(MANAGERS), '#ManagerCollection.ManagerCollection', 'Manager Collection',
            layout.link(layout.manager)))

    def _chassis_collection(self, bmc, req, layout):
        return self._method(req, 'GET') or _dump(200, _collection(
            layout.link(CHASSIS_COLL), '#ChassisCollection.ChassisCollection', 'Chassis Collection',
            layout.link(layout.chassis)))

    def _boot_doc(self, bmc):
        style = self.style
        boot = {'BootSourceOverrideEnabled': bmc.override_enabled,
                'BootSourceOverrideTarget': bmc.override_target,
                style.targets_key: list(OVERRIDE_TARGETS)}
        if style.enabled_values != OVERRIDE_ENABLED:
            boot['BootSourceOverrideEnabled@Redfish.AllowableValues'] = list(style.enabled_values)
        if style.boot_mode is not None:
            boot['BootSourceOverrideMode'] = bmc.override_mode
        return boot

    def _system_doc(self, bmc, layout):
        doc = {
            '@odata.id': layout.link(layout.system), '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
            'Id': layout.system.rsplit('/', 1)[1], 'Name': 'system', 'SystemType': 'Physical',
            'Manufacturer': 'xCAT-sim', 'Model': 'sim-' + self.style.name, 'SerialNumber': 'SIM%06d' % bmc.index,
            'UUID': str(uuid.UUID(int=(1 << 64) + bmc.index)),
            'HostName': bmc.name, 'PowerState': bmc.redfish_power,
            'Status': {'State': 'Enabled', 'Health': 'OK'},
            'Boot': self._boot_doc(bmc),
            'Actions': {'#ComputerSystem.Reset': self._reset_action(
                layout, layout.system_reset, layout.system_reset_info, self.system_reset_types(bmc),
                self.style.advert, self.style.inline_resets)},
            'Links': {'Chassis': [_link(layout.link(layout.chassis))],
                      'ManagedBy': [_link(layout.link(layout.manager))]},
        }
        if self.style.if_match or self.style.mode_revert:
            doc['@odata.etag'] = self.etag(bmc)
        if self.style.settings_object:
            doc['@Redfish.Settings'] = {
                '@odata.type': '#Settings.v1_3_0.Settings',
                'SettingsObject': _link(layout.link(layout.system_settings)),
                'SupportedApplyTimes': ['Immediate', 'OnReset']}
        return doc

    def _system(self, bmc, req, layout):
        if req.method == 'GET':
            headers = (('ETag', self.etag(bmc)),) if self.style.if_match else ()
            return _dump(200, self._system_doc(bmc, layout), headers)
        bad = self._method(req, 'PATCH')
        if bad:
            return bad
        body, bad = self._body(req)
        if bad:
            return bad
        if self.style.settings_object and 'Boot' in body:
            # NOTE: iDRAC 10 style: Boot is changed through the system's settings object.
            return self._error(400, 'Boot is a read-only property and cannot be assigned a value.',
                               'PropertyNotWritable', args=('Boot',))
        return self._patch_boot(bmc, req, body)

    def _system_settings(self, bmc, req, layout):
        if not self.style.settings_object:
            return self._not_found(req.path)
        if req.method == 'GET':
            return _dump(200, {'@odata.id': layout.link(layout.system_settings),
                               '@odata.type': '#ComputerSystem.v1_20_0.ComputerSystem',
                               'Id': 'Settings', 'Name': 'System Settings', 'Boot': {}})
        bad = self._method(req, 'PATCH')
        if bad:
            return bad
        body, bad = self._body(req)
        if bad:
            return bad
        # Applied at once (SupportedApplyTimes Immediate): the system shows the new values.
        return self._patch_boot(bmc, req, body)

    def _patch_boot(self, bmc, req, body):
        style = self.style
        if style.if_match:
            match = req.headers.get('if-match')
            if match is None:
                # NOTE: AMI-based BMCs refuse a PATCH without If-Match.
                return self._error(428, 'A precondition header or annotation is required to change this '
                                        'resource.', 'PreconditionHeaderMissing')
            if match not in ('*', self.etag(bmc)):
                return self._error(412, 'The ETag supplied did not match the ETag required to change this '
                                        'resource.', 'PreconditionFailed')
        boot = body.get('Boot')
        if not isinstance(boot, dict) or not boot or set(body) - {'Boot'}:
            return self._error(400, 'The request body must be {"Boot": {...}} with known properties.',
                               'PropertyUnknown')
        checks = [('BootSourceOverrideEnabled', style.enabled_values),
                  ('BootSourceOverrideTarget', OVERRIDE_TARGETS)]
        if style.boot_mode is not None:
            checks.append(('BootSourceOverrideMode', OVERRIDE_MODES))
        known = {name for name, _ in checks}
        for name in boot:
            if name not in known:
                return self._error(400, 'The property %s is not in the list of valid properties for the '
                                        'resource.' % name, 'PropertyUnknown', args=(name,))
        for name, allowed in checks:
            if name in boot and boot[name] not in allowed:
                return self._error(400, 'The value %s for the property %s is not in the list of acceptable '
                                        'values.' % (json.dumps(boot[name]), name), 'PropertyValueNotInList',
                                   args=(json.dumps(boot[name]), name))
        # Validate everything first so a bad PATCH changes nothing.
        if 'BootSourceOverrideEnabled' in boot:
            bmc.override_enabled = boot['BootSourceOverrideEnabled']
        if 'BootSourceOverrideTarget' in boot:
            bmc.override_target = boot['BootSourceOverrideTarget']
        if 'BootSourceOverrideMode' in boot:
            bmc.override_mode = boot['BootSourceOverrideMode']
        elif style.mode_revert and 'BootSourceOverrideEnabled' in boot:
            # NOTE: Supermicro H13 keeps the target, answers success, and turns the override
            # off again unless the PATCH also names the mode.
            bmc.override_enabled = 'Disabled'
        if style.patch_reply == 'success':
            return _dump(200, {'Success': {'code': 'Base.v1_4_0.Success', 'Message': 'Successfully Completed '
                                           'Request', '@Message.ExtendedInfo': _success()['@Message.ExtendedInfo']}})
        return self._done()

    def _reset_type(self, req, action, known, allowed):
        """The ResetType of a Reset POST for ``action``, or the BMC's refusal.

        :param known: the ResetTypes the schema's action knows; ``allowed``: those this BMC offers.
        :returns: ``(reset_type, None)`` or ``(None, error response)``.
        """
        bad = self._method(req, 'POST')
        if bad:
            return None, bad
        body, bad = self._body(req)
        if bad:
            return None, bad
        reset_type = body.get('ResetType')
        if reset_type is None:
            return None, self._error(400, 'The action %s requires the parameter ResetType to be present in the '
                                          'request body.' % action, 'ActionParameterMissing')
        if reset_type not in known:
            return None, self._error(400, 'The parameter ResetType for the action %s is not supported on the '
                                          'target resource.' % action, 'ActionParameterNotSupported')
        if reset_type not in allowed:
            return None, not_in_list(reset_type, action, self.style.errors)
        return reset_type, None

    def _system_reset(self, bmc, req, layout):
        reset_type, bad = self._reset_type(req, 'ComputerSystem.Reset', _RESET_ACTIONS, self.system_reset_types(bmc))
        if bad:
            return bad
        on_when_on = self.style.on_when_on or (409 if bmc.refuse_on_when_on else 0)
        if on_when_on and reset_type in ('On', 'ForceOn') and bmc.redfish_power == 'On':
            # NOTE: HPE iLO refuses to power on a system that is on instead of doing nothing.
            return self._error(on_when_on, 'The operation could not be performed because the server is '
                                           'already on.', 'InvalidOperationForSystemState',
                               'Retry the operation when the system is in another power state.',
                               registry=ILO_REGISTRY)
        method = _RESET_ACTIONS[reset_type]
        if method == 'push_button':
            # A short press: a running host shuts down gracefully, an off one powers on.
            method = 'soft_off' if bmc.redfish_power == 'On' else 'power_on'
        if method is not None:
            getattr(bmc, method)()
        return self._done()

    def _system_reset_info(self, bmc, req, layout):
        if not self._advertises_info(self.style.advert):
            return self._not_found(req.path)
        return self._method(req, 'GET') or _dump(200, _action_info(layout.link(layout.system_reset_info),
                                                                   self.system_reset_types(bmc)))

    def _manager(self, bmc, req, layout):
        bad = self._method(req, 'GET')
        if bad:
            return bad
        state = 'Enabled' if bmc.bmc_state == 'Ready' else 'Starting'
        doc = {
            '@odata.id': layout.link(layout.manager), '@odata.type': '#Manager.v1_11_0.Manager',
            'Id': layout.manager.rsplit('/', 1)[1], 'Name': 'Manager', 'ManagerType': 'BMC', 'PowerState': 'On',
            'FirmwareVersion': 'sim-2.12.0', 'UUID': str(uuid.UUID(int=(2 << 64) + bmc.index)),
            'Status': {'State': state, 'Health': 'OK'},
            'Actions': {'#Manager.Reset': self._reset_action(
                layout, layout.manager_reset, layout.manager_reset_info, self.manager_reset_types(bmc),
                self.style.manager_advert)},
            'Links': {'ManagerForServers': [_link(layout.link(layout.system))],
                      'ManagerForChassis': [_link(layout.link(layout.chassis))]},
        }
        if self.style.stateless_manager:
            # NOTE: a Supermicro X13 manager body carries neither Status nor PowerState.
            del doc['Status'], doc['PowerState']
        elif self.style.name != 'bmcweb':
            # Only bmcweb gives the manager a PowerState; the others say Status alone.
            del doc['PowerState']
        return _dump(200, doc)

    def _manager_reset(self, bmc, req, layout):
        _reset_type, bad = self._reset_type(req, 'Manager.Reset', MANAGER_RESET_TYPES, self.manager_reset_types(bmc))
        if bad:
            return bad
        resp = self._done()
        bmc.bmc_reboot()
        return resp

    def _manager_reset_info(self, bmc, req, layout):
        if not self._advertises_info(self.style.manager_advert):
            return self._not_found(req.path)
        return self._method(req, 'GET') or _dump(200, _action_info(layout.link(layout.manager_reset_info),
                                                                   self.manager_reset_types(bmc)))

    def _chassis(self, bmc, req, layout):
        return self._method(req, 'GET') or _dump(200, {
            '@odata.id': layout.link(layout.chassis), '@odata.type': '#Chassis.v1_14_0.Chassis',
            'Id': layout.chassis.rsplit('/', 1)[1],
            'Name': 'chassis', 'ChassisType': 'RackMount', 'PowerState': bmc.redfish_power,
            'Status': {'State': 'Enabled', 'Health': 'OK'},
            'Links': {'ComputerSystems': [_link(layout.link(layout.system))],
                      'ManagedBy': [_link(layout.link(layout.manager))]},
        })

    def _session_service(self, bmc, req, layout):
        return self._method(req, 'GET') or _dump(200, {
            '@odata.id': layout.link(SESSION_SERVICE), '@odata.type': '#SessionService.v1_1_8.SessionService',
            'Id': 'SessionService', 'Name': 'Session Service', 'ServiceEnabled': True,
            'SessionTimeout': self.settings.shown_session_timeout, 'Sessions': _link(layout.link(layout.sessions)),
        })

    def _sessions(self, bmc, req, layout):
        if req.method == 'GET':
            members = [_link(layout.link(layout.sessions + '/' + sid)) for sid in bmc.sessions.values()]
            return _dump(200, {'@odata.id': layout.link(layout.sessions),
                               '@odata.type': '#SessionCollection.SessionCollection',
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
            return self._error(400, 'The create operation requires UserName and Password.',
                               'CreateFailedMissingReqProperties')
        if not bmc.credentials_ok(user, password):
            bmc.login_failures += 1
            return self._error(401, 'Invalid username or password', 'ResourceAtUriUnauthorized',
                               'Ensure that the appropriate access is provided for the service.')
        token, sid = bmc.open_session()
        location = layout.link(layout.sessions + '/' + sid)
        return _dump(201, self._session_doc(location, sid, user),
                     (('X-Auth-Token', token), ('Location', location)))

    @staticmethod
    def _session_doc(location, sid, user):
        return {'@odata.id': location, '@odata.type': '#Session.v1_3_0.Session', 'Id': sid,
                'Name': 'User Session', 'UserName': user}

    def _session(self, bmc, req, sid, layout):
        token = bmc.token_of(sid)
        if token is None:
            return self._not_found(req.path)
        if req.method == 'GET':
            return _dump(200, self._session_doc(layout.link(layout.sessions + '/' + sid), sid, bmc.username))
        bad = self._method(req, 'DELETE')
        if bad:
            return bad
        bmc.close_session(token)
        return Response(204)
