"""RedfishClient: the DMTF Redfish calls rpower and rsetboot need (XCAT_REFERENCE.md section 9), and nothing else.

Only this module knows Redfish paths, properties and annotations. Methods return Redfish
values (``On``, ``Pxe``, ``ForceRestart``...); executors map them to xCAT words.

Requests per node on a bmcweb-like BMC (session service, system at ``/redfish/v1/Systems/system``,
manager at ``/redfish/v1/Managers/bmc``), with the session POST first and its DELETE last:

- rpower state, bmcstate, rsetboot stat: 3 (one GET of the system or manager);
- rpower on/off/softoff, bmcreboot: 3 (the Reset POST straight to bmcweb's action target,
  nothing read). Only when the BMC refuses it is the system or manager read (one GET, two
  with ``@Redfish.ActionInfo``) and at most one more POST sent: 4 to 6;
- rpower reset/boot: 4 (GET for the state, then the Reset POST checked against the allowed
  reset types), 5 when those sit behind ``@Redfish.ActionInfo``;
- rsetboot net/hd/cd/def: 3 (one PATCH, no read).

Elsewhere the well-known path answers 404 (or 405) and the Systems (Managers) collection and
its first member are read instead: one GET more for a read, two for a set-boot or a Reset
POST, whose first attempt is the 404. Without a session service the POST is refused and the
service root is read instead, and no DELETE is sent. Everything read is cached per client,
so a reset that reads the state and then acts costs no extra GET.
"""

import logging
import types

from common import exceptions as exc
from common.rest import RestClient

LOG = logging.getLogger(__name__)

ROOT = '/redfish/v1'
#: Where the Redfish specification (1.6 and later) puts the session collection; tried
#: before the service root so that a session-capable BMC costs no root GET.
SESSIONS = ROOT + '/SessionService/Sessions'
SYSTEMS = ROOT + '/Systems'
MANAGERS = ROOT + '/Managers'

#: Collection -> (where bmcweb puts its one member, ``@odata.type`` prefix of that resource).
#: NOTE: OpenBMC's bmcweb names its one system ``system`` and its manager ``bmc`` (fixed in
#: its source, not discovered), so on the BMCs xCAT drives most, reading the collection to
#: learn that name is one request per node wasted. We try that path first and fall back to
#: the collection's first member when it answers 404 or is not that kind of resource (HPE
#: iLO ``Systems/1``, Dell iDRAC ``System.Embedded.1``, sushy-tools' uuids): one request
#: more there, one less on bmcweb.
WELL_KNOWN = types.MappingProxyType({
    SYSTEMS: (SYSTEMS + '/system', '#ComputerSystem.'),
    MANAGERS: (MANAGERS + '/bmc', '#Manager.'),
})

#: Statuses of a request to a well-known path meaning "the member is not there": bmcweb and
#: sushy-tools answer 404; a BMC whose router knows the path pattern may answer 405.
NOT_HERE_STATUSES = frozenset({404, 405})

#: Success statuses of any Redfish request: 201 for a new session, 202 for an accepted task,
#: 204 for an action or PATCH answered without a body.
OK_STATUSES = (200, 201, 202, 204)
#: Redirects followed (once) on GET; sushy-tools answers 307 for a system addressed by name.
REDIRECT_STATUSES = (301, 302, 307, 308)
#: Redirects followed (once) by other methods: these two keep the method and body (RFC 9110).
KEEP_METHOD_REDIRECTS = (307, 308)
#: Statuses of the session POST meaning "no session service here"; 401 is ambiguous (see login).
NO_SESSION_STATUSES = frozenset({404, 405, 501})

SYSTEM_RESET_ACTION = '#ComputerSystem.Reset'
MANAGER_RESET_ACTION = '#Manager.Reset'

#: Collection -> (Reset action of its member, where bmcweb's member takes that action).
#: NOTE: bmcweb's action targets are fixed in its source as its member paths are, so the
#: Reset POST goes there without reading the member first: rpower on/off/softoff and
#: bmcreboot cost 3 requests per node (login, POST, logout) instead of 4 or 5. The member
#: is read only when that POST answers 404 (the action is elsewhere) or is refused.
RESET_ACTIONS = types.MappingProxyType({
    SYSTEMS: (SYSTEM_RESET_ACTION, SYSTEMS + '/system/Actions/ComputerSystem.Reset'),
    MANAGERS: (MANAGER_RESET_ACTION, MANAGERS + '/bmc/Actions/Manager.Reset'),
})

ALLOWABLE = '@Redfish.AllowableValues'
ACTION_INFO = '@Redfish.ActionInfo'


class RedfishClient(RestClient):
    """One node's session with a Redfish service: X-Auth-Token session, or HTTP Basic without one."""

    TRACE_TAG = 'redfish_debug'

    def __init__(self, node, host, username, password, *, ctx, session=None, trace=None):
        super().__init__(node, host, username, password, ctx=ctx, session=session, trace=trace)
        #: ``@odata.id`` of our session, deleted by ``logout``.
        self._session_path = None
        #: True when the service has no session service and every request carries Basic.
        self.basic_auth = False
        self._cache = {}

    def _error_message(self, status, payload):
        """``error.@Message.ExtendedInfo[0].Message``, else ``error.message``, else ``HTTP <status>``."""
        try:
            error = payload['error']
        except (TypeError, KeyError):
            return 'HTTP %d' % status
        if not isinstance(error, dict):
            return str(error)
        info = error.get('@Message.ExtendedInfo')
        if isinstance(info, list) and info and isinstance(info[0], dict) and info[0].get('Message'):
            return str(info[0]['Message'])
        return str(error.get('message') or 'HTTP %d' % status)

    def _call(self, method, path, body=None, *, login=False):
        """One request with Redfish's success statuses, following one redirect.

        :returns: ``(status, payload or None, headers)``.
        """
        _final, status, payload, headers = self._call_at(method, path, body, login=login)
        return status, payload, headers

    def _call_at(self, method, path, body=None, *, login=False):
        """As ``_call``, and the path that answered (the redirect's target when redirected).

        GET follows any redirect, other methods only 307 and 308. The ``Location`` is
        resolved on the BMC's origin and refused when it points anywhere else
        (``RestClient.resolve``): credentials never go to another host.

        :returns: ``(path, status, payload or None, headers)``.
        """
        ok = OK_STATUSES + (REDIRECT_STATUSES if method == 'GET' else KEEP_METHOD_REDIRECTS)
        status, payload, headers = self._request(method, path, body, login=login, ok=ok)
        if status in REDIRECT_STATUSES:
            location = headers.get('Location')
            if not location:
                raise exc.BmcBadResponse(node=self.node, detail='%s %s answered %d without Location'
                                         % (method, path, status))
            path = self.resolve_path(location, 'Location', base=self.resolve(path))
            status, payload, headers = self._request(method, path, body, login=login, ok=OK_STATUSES)
        return path, status, payload, headers

    def _get(self, path):
        """GET a resource and return its JSON object."""
        return self._get_at(path)[1]

    def _get_at(self, path):
        """GET a resource: ``(the path that answered, its JSON object)``."""
        path_read, _status, payload, _headers = self._call_at('GET', path)
        if not isinstance(payload, dict):
            raise exc.BmcBadResponse(node=self.node, detail='GET %s: reply is not a JSON object' % path)
        return path_read, payload

    def login(self):
        """Open a session, or switch to HTTP Basic when the service has no session service.

        The session POST goes straight to ``/redfish/v1/SessionService/Sessions``. Only when
        that answers 401, 404, 405 or 501 is the service root read: if it links a session
        collection elsewhere we post there; a 401 from a service that has a
        ``SessionService`` is a refusal of the credentials; otherwise the service has no
        usable session service and every request carries HTTP Basic.

        :raises BmcAuthError: the BMC refused the credentials (``[401] <BMC message>``).
        :raises BmcLoginUnreachable: the BMC cannot be reached.
        :raises BmcBadResponse: a session was created without an ``X-Auth-Token``.
        """
        credentials = {'UserName': self.username, 'Password': self._password}
        try:
            self._post_session(SESSIONS, credentials)
            return
        except (exc.BmcAuthError, exc.BmcHTTPError) as error:
            if error.kwargs.get('status') not in NO_SESSION_STATUSES | {401}:
                raise
            first = error
        # NOTE: sushy-tools has no SessionService and checks Basic on every path except
        # the service root, so our session POST gets 401 there, not 404.
        root = self._get_root()
        sessions = _link(root, 'Links', 'Sessions')
        if sessions is not None and self.resolve_path(sessions, '@odata.id') != SESSIONS:
            self._post_session(self.resolve_path(sessions, '@odata.id'), credentials)
            return
        if first.kwargs['status'] == 401 and 'SessionService' in root:
            raise first
        LOG.info('%s: no session service (%s), using HTTP Basic', self.node, first)
        self.basic_auth = True
        self._headers['Authorization'] = self._basic_auth()

    def _get_root(self):
        """The service root; readable without credentials."""
        _status, payload, _headers = self._request('GET', ROOT, login=True, ok=OK_STATUSES)
        if not isinstance(payload, dict):
            raise exc.BmcBadResponse(node=self.node, detail='GET %s: reply is not a JSON object' % ROOT)
        return payload

    def _post_session(self, path, credentials):
        _status, payload, headers = self._request('POST', path, credentials, login=True, ok=OK_STATUSES)
        token = headers.get('X-Auth-Token')
        if not token:
            raise exc.BmcBadResponse(node=self.node, detail='login reply has no X-Auth-Token header')
        # A session exists from here on: it is marked before anything else can fail, so
        # that the DELETE goes out whatever happens next.
        self._headers['X-Auth-Token'] = token
        self.logged_in = True
        location, what = headers.get('Location'), 'Location'
        if not location and isinstance(payload, dict):
            location, what = payload.get('@odata.id'), '@odata.id'
        if isinstance(location, str) and location:
            # A session location off the BMC fails the node: its DELETE would carry the token away.
            self._session_path = self.resolve_path(location, what, base=self.resolve(path))

    def logout(self):
        """DELETE our session (xCAT never does, and sessions pile up until they time out)."""
        self.logged_in = False
        if self._session_path is None:
            LOG.info('%s: the BMC gave no session location; session left to time out', self.node)
            return
        self._call('DELETE', self._session_path)
        self._headers.pop('X-Auth-Token', None)

    def _first_member(self, collection):
        """``@odata.id`` of the first member of a collection, cached per client.

        NOTE: a node is one BMC address; a service with several members (sushy-tools with
        many fake systems, a chassis manager) is driven through its first member, as xCAT does.
        """
        key = 'member ' + collection
        if key not in self._cache:
            members = self._get(collection).get('Members')
            try:
                link = members[0]['@odata.id']
            except (TypeError, KeyError, IndexError):
                raise exc.BmcBadResponse(node=self.node, detail='%s has no members' % collection)
            path = self.resolve_path(link, '@odata.id', base=self.resolve(collection))
            if len(members) > 1:
                LOG.info('%s: %s has %d members, using %s', self.node, collection, len(members), path)
            self._cache[key] = path
        return self._cache[key]

    def _resource(self, collection):
        """The member of ``collection`` we drive, read once: the well-known path, else the first member.

        The path that answered (after a redirect) becomes the member's path for later
        PATCHes, so they go where the resource really is.
        """
        key = 'resource ' + collection
        if key not in self._cache:
            member = 'member ' + collection
            resource = None
            if member not in self._cache and not self._cache.get('elsewhere ' + collection):
                resource = self._well_known(collection)
            if resource is None:
                self._cache[member], resource = self._get_at(self._first_member(collection))
            self._cache[key] = resource
        return self._cache[key]

    def _well_known(self, collection):
        """The resource at bmcweb's path for ``collection``'s member, or None when it is not there."""
        path, odata_type = WELL_KNOWN[collection]
        try:
            path_read, resource = self._get_at(path)
        except exc.BmcHTTPError as error:
            if error.status not in NOT_HERE_STATUSES:
                raise
            LOG.info('%s: no %s (%s), reading %s', self.node, path, error, collection)
            return None
        except exc.BmcLinkOutside:
            raise
        except exc.BmcBadResponse as error:
            LOG.info('%s: %s, reading %s', self.node, error, collection)
            return None
        kind = resource.get('@odata.type')
        if not (isinstance(kind, str) and kind.startswith(odata_type)):
            LOG.info('%s: %s is a %s, reading %s', self.node, path, kind, collection)
            return None
        self._cache['member ' + collection] = path_read
        return resource

    def get_system(self):
        """The node's ComputerSystem resource (read once per client).

        :returns: the resource as a dict.
        """
        return self._resource(SYSTEMS)

    def get_manager(self):
        """The node's Manager resource, the BMC itself (read once per client)."""
        return self._resource(MANAGERS)

    def get_power_state(self):
        """:returns: the system's ``PowerState`` (``On``, ``Off``, ``PoweringOn``...)."""
        return self._property(self.get_system(), 'PowerState', SYSTEMS)

    def get_manager_state(self):
        """:returns: ``(PowerState or None, Status.State or None)`` of the manager, as the BMC gives them."""
        manager = self.get_manager()
        status = manager.get('Status')
        return manager.get('PowerState'), status.get('State') if isinstance(status, dict) else None

    def _property(self, resource, name, what):
        try:
            return resource[name]
        except KeyError:
            raise exc.BmcBadResponse(node=self.node, detail='%s member has no %s' % (what, name))

    def _action(self, resource, action, what):
        try:
            found = resource['Actions'][action]
            target = found['target']
            if not isinstance(target, str):
                raise TypeError(target)
        except (TypeError, KeyError):
            raise exc.BmcBadResponse(node=self.node, detail='%s member has no %s action' % (what, action))
        return found, self.resolve_path(target, 'target')

    def get_reset_types(self, target='system'):
        """The reset types the BMC allows for the system or the manager.

        Read inline from ``ResetType@Redfish.AllowableValues`` or, when the action links
        ``@Redfish.ActionInfo``, from that resource's ``ResetType`` parameter (one more GET,
        cached).

        :param target: ``system`` or ``manager``.
        :returns: a frozenset of reset types (empty when the resource has no Reset action,
            as sushy-tools' managers), or None when the BMC does not say.
        :raises BmcBadResponse: the action has no target, or its annotations are malformed;
            checked here so that a Reset POST after this read fails only at the BMC.
        """
        key = 'reset types ' + target
        if key in self._cache:
            return self._cache[key]
        collection = SYSTEMS if target == 'system' else MANAGERS
        resource, name = self._resource(collection), RESET_ACTIONS[collection][0]
        actions = resource.get('Actions')
        action = actions.get(name) if isinstance(actions, dict) else None
        if not isinstance(action, dict):
            self._cache[key] = frozenset()
            return self._cache[key]
        self._action(resource, name, collection)
        allowed = action.get('ResetType' + ALLOWABLE)
        info = action.get(ACTION_INFO)
        if allowed is None and info:
            if not isinstance(info, str):
                raise exc.BmcBadResponse(node=self.node, detail='%s of %s is not a URI' % (ACTION_INFO, name))
            allowed = self._action_info_values(self.resolve_path(info, ACTION_INFO), 'ResetType')
        if allowed is not None and not isinstance(allowed, list):
            raise exc.BmcBadResponse(node=self.node, detail='allowable reset types are not a list')
        self._cache[key] = None if allowed is None else frozenset(str(v) for v in allowed)
        return self._cache[key]

    def _action_info_values(self, path, name):
        """``AllowableValues`` of parameter ``name`` in an ActionInfo resource, or None."""
        parameters = self._get(path).get('Parameters')
        if not isinstance(parameters, list):
            raise exc.BmcBadResponse(node=self.node, detail='ActionInfo %s has no Parameters' % path)
        for parameter in parameters:
            if isinstance(parameter, dict) and parameter.get('Name') == name:
                return parameter.get('AllowableValues')
        return None

    @staticmethod
    def reset_falls_back(error):
        """Whether a refused Reset POST is worth reading the resource for (and maybe a second POST).

        True for a 404 (the action is not where bmcweb has it) and for a refusal of the
        request as sent: any other 4xx (400 for a ResetType not in the list, 405, 409 for
        HPE iLO's On when on) and 501 (sushy-tools' unimplemented types). False for
        credentials (401, 403) and for server failures (5xx), which a read would not change.

        :param error: a ``BmcError`` raised by ``reset_system`` or ``reset_manager``.
        :returns: bool.
        """
        if not isinstance(error, exc.BmcHTTPError) or not isinstance(error.status, int):
            return False
        return error.status == 501 or (400 <= error.status < 500 and error.status not in (401, 403))

    def reset_system(self, reset_type):
        """POST the system's Reset action, without reading the system unless it is known elsewhere.

        :param reset_type: a ResetType (``ForceOff``, ``On``...).
        :raises BmcHTTPError: the BMC refused or has no such action there (see ``_reset``).
        """
        self._reset(SYSTEMS, reset_type)

    def reset_manager(self, reset_type):
        """POST the manager's Reset action, without reading the manager unless it is known elsewhere.

        :param reset_type: a ResetType (``ForceRestart``, ``GracefulRestart``).
        :raises BmcHTTPError: the BMC refused or has no such action there (see ``_reset``).
        """
        self._reset(MANAGERS, reset_type)

    def _reset(self, collection, reset_type):
        """POST a Reset action: where the member read says, else straight to bmcweb's target.

        Nothing is read first unless the member is known to live elsewhere. A 404 at bmcweb's
        target marks the member as elsewhere: the next read or POST goes through the
        collection. A refusal is remembered per (target, type): asking again for the same
        type at the same target raises the BMC's first answer without a second POST.

        :raises BmcHTTPError: the BMC refused (``[400] <BMC message>``); ``reset_falls_back``
            says whether reading the resource may help.
        :raises BmcBadResponse: the member read has no such action.
        """
        action, well_known = RESET_ACTIONS[collection]
        resource = self._cache.get('resource ' + collection)
        member = self._cache.get('member ' + collection)
        if resource is None and ((member is not None and member != WELL_KNOWN[collection][0])
                                 or self._cache.get('elsewhere ' + collection)):
            resource = self._resource(collection)
        target = well_known if resource is None else self._action(resource, action, collection)[1]
        key = 'refused %s %s' % (target, reset_type)
        if key in self._cache:
            raise self._cache[key]
        try:
            self._call('POST', target, {'ResetType': reset_type})
        except exc.BmcHTTPError as error:
            self._cache[key] = error
            if resource is None and error.status == 404:
                LOG.info('%s: no %s, reading %s', self.node, target, collection)
                self._cache['elsewhere ' + collection] = True
            raise

    def get_boot(self):
        """The system's boot override.

        :returns: ``(BootSourceOverrideEnabled, BootSourceOverrideTarget, allowed targets or None)``.
        """
        boot = self._property(self.get_system(), 'Boot', SYSTEMS)
        if not isinstance(boot, dict):
            raise exc.BmcBadResponse(node=self.node, detail='Boot of the system is not an object')
        allowed = boot.get('BootSourceOverrideTarget' + ALLOWABLE)
        if allowed is not None and not isinstance(allowed, list):
            raise exc.BmcBadResponse(node=self.node, detail='allowable boot targets are not a list')
        return (boot.get('BootSourceOverrideEnabled'), boot.get('BootSourceOverrideTarget'),
                None if allowed is None else frozenset(str(v) for v in allowed))

    def get_known_boot_targets(self):
        """The allowed boot targets if the system was already read (no request is sent).

        :returns: a frozenset, or None when unknown (not read yet, or the BMC does not say).
        """
        system = self._cache.get('resource ' + SYSTEMS)
        if system is None:
            return None
        return self.get_boot()[2]

    def set_boot(self, target, enabled):
        """Set the boot override in one PATCH of the system's ``Boot``, without reading the system.

        When the system's path is not known yet the PATCH goes to bmcweb's path; a 404 (or
        405) there means the system is elsewhere, and the PATCH is sent again to the first
        member of the Systems collection. The BMC validates the values: a refusal raises
        ``BmcHTTPError`` with its own message (``[400] <BMC message>``).

        :param target: a ``BootSourceOverrideTarget`` value (``Pxe``, ``Hdd``, ``None``...).
        :param enabled: ``Once``, ``Continuous`` or ``Disabled``.
        :raises BmcHTTPError: the BMC refused the PATCH.
        """
        body = {'Boot': {'BootSourceOverrideEnabled': enabled, 'BootSourceOverrideTarget': target}}
        member = 'member ' + SYSTEMS
        path = self._cache.get(member)
        if path is None and self._cache.get('elsewhere ' + SYSTEMS):
            path = self._first_member(SYSTEMS)
        if path is not None:
            path = self._call_at('PATCH', path, body)[0]
        else:
            try:
                path = self._call_at('PATCH', WELL_KNOWN[SYSTEMS][0], body)[0]
            except exc.BmcHTTPError as error:
                if error.status not in NOT_HERE_STATUSES:
                    raise
                LOG.info('%s: no %s (%s), reading %s', self.node, WELL_KNOWN[SYSTEMS][0], error, SYSTEMS)
                path = self._call_at('PATCH', self._first_member(SYSTEMS), body)[0]
        self._cache[member] = path
        self._cache.pop('resource ' + SYSTEMS, None)


def _link(resource, *keys):
    """The ``@odata.id`` string at ``resource[keys...]``, or None."""
    for key in keys:
        if not isinstance(resource, dict):
            return None
        resource = resource.get(key)
    link = resource.get('@odata.id') if isinstance(resource, dict) else None
    return link if isinstance(link, str) else None
