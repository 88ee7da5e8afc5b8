"""RedfishClient: the DMTF Redfish calls rpower and rsetboot need (docs/xcat-facts.md#redfish), and nothing else.

Only this module knows Redfish paths, properties and annotations. Methods return Redfish
values (``On``, ``Pxe``, ``ForceRestart``...); executors map them to xCAT words.

What a client knows about its node lives in one record (``NodeRecord``: the session, the
system and the manager, each a ``MemberRecord``); what the nodes of one command have shown
about where things live lives in a ``FleetShape`` the executor owns for that command and
hands to every client. The shape starts with bmcweb's layout (session collection
``/redfish/v1/SessionService/Sessions``, system ``/redfish/v1/Systems/system``, manager
``/redfish/v1/Managers/bmc`` and their Reset targets); the first node that finds another
layout teaches it to the rest, so a homogeneous fleet of any vendor costs what bmcweb costs.

Requests per node on a homogeneous fleet (session POST first, its DELETE last):

- rpower state, bmcstate, rsetboot stat: 3 (one GET of the system or manager);
- rpower on/off/softoff, bmcreboot: 3 (the Reset POST straight to the action target,
  nothing read). Only when the BMC refuses it is the member read (one GET, two with
  ``@Redfish.ActionInfo``) and at most one more POST sent;
- rpower reset/boot: 4 (GET for the state, then the Reset POST checked against the allowed
  reset types), 5 when those sit behind ``@Redfish.ActionInfo``; a BMC without a restart
  type costs the off-wait's polls and a second POST;
- rsetboot net/hd/cd/def: 4 (PATCH, then one GET to see the values kept; none when the
  PATCH reply carries the system). The vendor branches (mode, settings object, If-Match)
  add one GET before the PATCH on the nodes after the first.

Where the system's name differs per node (Cisco CIMC), every node reads its collection
first; in a one-shot agent those nodes send HTTP Basic and open no session (``login``), so
``rpower state`` costs 2 there and ``rsetboot net`` 3.

The vendor behaviours handled, and how, are listed in docs/DESIGN.md ("Redfish vendor
behaviours").
"""

import contextlib
import dataclasses
import logging
import types
import typing

import gevent.event

from common import exceptions as exc
from common.rest import RestClient

LOG = logging.getLogger(__name__)

ROOT = '/redfish/v1'
#: Where the Redfish specification (1.6 and later) puts the session collection.
SESSIONS = ROOT + '/SessionService/Sessions'
#: The session service (its ``SessionTimeout``); every layout we know keeps it here.
SESSION_SERVICE = ROOT + '/SessionService'
SYSTEMS = ROOT + '/Systems'
MANAGERS = ROOT + '/Managers'

SYSTEM_RESET_ACTION = '#ComputerSystem.Reset'
MANAGER_RESET_ACTION = '#Manager.Reset'

#: Collection -> (``@odata.type`` prefix of its members, their Reset action).
KINDS = types.MappingProxyType({SYSTEMS: ('#ComputerSystem.', SYSTEM_RESET_ACTION),
                                MANAGERS: ('#Manager.', MANAGER_RESET_ACTION)})

#: NOTE: OpenBMC's bmcweb names its one system ``system`` and its manager ``bmc``, with the
#: action targets below, fixed in its source. Every command starts from this guess; the
#: first node of another layout replaces it for the rest (``FleetShape``).
#: Keys of a ``FleetShape``: the session collection, each member (its collection's path), each
#: member's Reset target, and how the fleet takes a boot override.
SESSIONS_KEY = 'sessions'
RESET_KEYS = types.MappingProxyType({SYSTEMS: 'system reset', MANAGERS: 'manager reset'})
BOOT_KEY = 'boot'
#: Key of a ``FleetShape``: whether the fleet's BMCs take HTTP Basic (``ACCEPTED`` or ``REFUSED``).
BASIC_KEY = 'basic'
ACCEPTED, REFUSED = 'accepted', 'refused'
BMCWEB_SHAPE = (
    (SESSIONS_KEY, SESSIONS),
    (SYSTEMS, SYSTEMS + '/system'),
    (MANAGERS, MANAGERS + '/bmc'),
    (RESET_KEYS[SYSTEMS], SYSTEMS + '/system/Actions/ComputerSystem.Reset'),
    (RESET_KEYS[MANAGERS], MANAGERS + '/bmc/Actions/Manager.Reset'),
)

#: Statuses meaning "not at this path": bmcweb and sushy-tools answer 404; a BMC whose
#: router knows the path pattern may answer 405.
NOT_HERE_STATUSES = frozenset({404, 405})

#: Success statuses of any Redfish request: 201 for a new session, 202 for an accepted task,
#: 204 for an action or PATCH answered without a body.
OK_STATUSES = (200, 201, 202, 204)
#: Redirects followed (once) on GET; sushy-tools answers 307 for a system addressed by name.
REDIRECT_STATUSES = (301, 302, 307, 308)
#: Redirects followed (once) by other methods: these two keep the method and body (RFC 9110).
KEEP_METHOD_REDIRECTS = (307, 308)
#: Statuses of the session POST meaning "no session service here" (Dell iDRAC 8 and 9 3.x
#: answer 405 at the specification's path); 401 is ambiguous (see login).
NO_SESSION_STATUSES = frozenset({404, 405, 501})
#: Statuses of a PATCH asking for ``If-Match`` (428) or refusing a stale one (412).
PRECONDITION_STATUSES = frozenset({412, 428})

ALLOWABLE = '@Redfish.AllowableValues'
ACTION_INFO = '@Redfish.ActionInfo'
#: Override properties of ``Boot``.
ENABLED, TARGET, MODE = 'BootSourceOverrideEnabled', 'BootSourceOverrideTarget', 'BootSourceOverrideMode'
#: NOTE: HPE iLO 4 lists the allowed targets under this name instead of the annotation.
ILO4_TARGETS = 'BootSourceOverrideSupported'

#: ``MemberRecord.reset_types`` not read yet (None means "the BMC does not say").
UNREAD = Ellipsis

#: Bound in seconds on one round of waiting for another node of the command to find a path
#: (``FleetShape``). It is what a bad BMC that happens to scout (dead, or holding requests) can
#: cost the other nodes, once per round, so it stays short: a BMC slower than this to answer a
#: probe costs the others their own probes (requests), never more time.
SCOUT_WAIT = 2.0


def _link(resource, *keys):
    """The ``@odata.id`` string at ``resource[keys...]``, or None."""
    for key in keys:
        if not isinstance(resource, dict):
            return None
        resource = resource.get(key)
    link = resource.get('@odata.id') if isinstance(resource, dict) else None
    return link if isinstance(link, str) else None


def _holds(seen, enabled, target):
    """Whether ``(enabled, target)`` read from the BMC is the override asked for.

    ``Disabled`` holds when the override is off or its target is ``None``. Otherwise the
    target must be the one asked, and the override on: NOTE: sushy-tools reports every
    override as ``Continuous``, which still boots the target next, so ``Once`` accepts it;
    ``Continuous`` does not accept ``Once`` (the admin asked for it to last). A BMC without
    ``BootSourceOverrideEnabled`` holds the target alone.
    """
    held_enabled, held_target = seen
    if enabled == 'Disabled':
        return held_enabled == 'Disabled' or held_target == 'None'
    accepted = ('Once', 'Continuous', None) if enabled == 'Once' else (enabled, None)
    return held_target == target and held_enabled in accepted


class FleetShape:
    """Where the nodes of one command keep their session collection, members and Reset targets.

    One per command (the executor's), shared by its clients; never module state. Each key
    starts as bmcweb's guess (a *seed*). A path one node found by reading its collection is
    tentative until a second node finds it where it was told; a seed or a tentative path
    that is not there on the next node means the path differs per node (Cisco CIMC names
    its system after the serial number): the key becomes None and every node reads its
    collection. While one node works an unconfirmed key out, the others wait for it (at
    most ``SCOUT_WAIT`` seconds a round, then they try on their own), so a fleet of 1000
    iLOs sends one failing probe, not 1000.

    Also kept: how a boot override must be sent on this fleet (``boot``), and whether its
    BMCs take HTTP Basic (``BASIC_KEY``, see ``RedfishClient.login``).
    """

    #: Rounds a node waits for other nodes' scouts before it tries on its own.
    SCOUT_ROUNDS = 3

    def __init__(self):
        self._paths = dict(BMCWEB_SHAPE)
        self._seeds = set(self._paths)
        self._confirmed = set()
        self._scouts = {}
        #: How set-boot PATCHes go on this fleet (learned from the first node that needed it).
        self.boot = BootPlan()

    def guess(self, key):
        """:returns: the path tried first for ``key`` (None: read the collection)."""
        return self._paths.get(key)

    def confirmed(self, key):
        """Whether a node found ``key`` where the shape said."""
        return key in self._confirmed

    def per_node_member(self):
        """Whether the system or the manager has to be found per node, through its collection."""
        return any(key in self._paths and self._paths[key] is None for key in KINDS)

    def is_seed(self, key):
        """Whether ``key`` still holds bmcweb's guess, untried by any node."""
        return key in self._seeds

    def learn(self, key, path, sure=True):
        """Record what a node found for ``key`` (None: it differs per node).

        :param sure: the node found it where the shape said (confirmed); False for a path
            it found on its own, which the next node tries alone first.
        """
        if self._paths.get(key) != path:
            LOG.info('fleet shape: %s is %s', key, path)
        self._paths[key] = path
        self._seeds.discard(key)
        if sure:
            self._confirmed.add(key)
        else:
            self._confirmed.discard(key)

    @contextlib.contextmanager
    def scout(self, key):
        """Work out ``key`` alone, or wait (bounded) for the node already doing it.

        Re-entrant for the node that is the scout.
        """
        me = gevent.getcurrent()
        for _round in range(self.SCOUT_ROUNDS):
            if key in self._confirmed:
                break
            owner, event = self._scouts.get(key, (None, None))
            if owner is me:
                break
            if event is None:
                event = gevent.event.Event()
                self._scouts[key] = (me, event)
                try:
                    yield
                finally:
                    del self._scouts[key]
                    event.set()
                return
            event.wait(SCOUT_WAIT)
        yield


@dataclasses.dataclass
class BootPlan:
    """What the boot PATCH of a fleet needs beyond the plain PATCH of the system.

    :ivar send_mode: the BMC drops the override unless ``BootSourceOverrideMode`` is sent.
    :ivar if_match: the BMC wants ``If-Match`` with the system's ETag.
    :ivar settings: PATCH the system's settings object (``@Redfish.Settings``).
    """

    send_mode: bool = False
    if_match: bool = False
    settings: bool = False

    @property
    def read_first(self):
        """Whether the system must be read before the PATCH."""
        return self.send_mode or self.if_match or self.settings


@dataclasses.dataclass
class MemberRecord:
    """What a client knows about the node's system or manager."""

    #: Where it is, once found.
    path: typing.Optional[str] = None
    #: Its last read (``None``: not read by this client).
    body: typing.Optional[dict] = None
    #: ETag of that read, from the header or ``@odata.etag``.
    etag: typing.Optional[str] = None
    #: Reset types it allows (frozenset, or None when the BMC does not say); ``UNREAD`` until read.
    reset_types: typing.Any = dataclasses.field(default=UNREAD)


@dataclasses.dataclass
class NodeRecord:
    """Everything a client knows about its node: its session, system and manager."""

    #: ``@odata.id`` of our session, deleted by ``logout``.
    session: typing.Optional[str] = None
    system: MemberRecord = dataclasses.field(default_factory=MemberRecord)
    manager: MemberRecord = dataclasses.field(default_factory=MemberRecord)

    def member(self, collection):
        return self.system if collection == SYSTEMS else self.manager


class RedfishClient(RestClient):
    """One node's session with a Redfish service: X-Auth-Token session, or HTTP Basic without one."""

    TRACE_TAG = 'redfish_debug'

    READS_SESSION_TIMEOUT = True

    def __init__(self, node, host, username, password, *, ctx, session=None, trace=None, shape=None):
        """:param shape: the command's ``FleetShape`` (a client of its own when None)."""
        super().__init__(node, host, username, password, ctx=ctx, session=session, trace=trace)
        #: True when the service has no session service and every request carries Basic.
        self.basic_auth = False
        #: A one-shot agent's login waits for the node's first request (``reuse_or_login``).
        self._login_due = False
        #: The error of that login: every later request of the node fails with it, and so
        #: does the node (``RedfishExecutorBase.session``), whatever a step made of it.
        self.login_failure = None
        #: The next request is this node's first with HTTP Basic instead of a session (``login``).
        self._basic_on_trial = False
        self.shape = shape if shape is not None else FleetShape()
        self.record = NodeRecord()
        #: Where an earlier command of the warm agent found this BMC's system and manager
        #: (collection: path), handed on with its session: tried first, before the fleet's
        #: shape (``_read``); a path no longer there (another BMC at this address) is forgotten.
        self._hints = {}

    def _error_message(self, status, payload):
        """The most specific words of an error body.

        ``error.@Message.ExtendedInfo[0].Message``; else ``error.message`` unless it only
        points at the ExtendedInfo; else the ExtendedInfo's ``MessageId`` (NOTE: HPE iLO 5
        sends only the id, iLO 4 spells it ``MessageID``, and their ``error.message`` is
        such a pointer); else ``HTTP <status>``.
        """
        try:
            error = payload['error']
        except (TypeError, KeyError):
            return 'HTTP %d' % status
        if not isinstance(error, dict):
            return str(error)
        info = error.get('@Message.ExtendedInfo')
        first = info[0] if isinstance(info, list) and info and isinstance(info[0], dict) else {}
        message = error.get('message')
        candidates = (first.get('Message'),
                      message if isinstance(message, str) and 'ExtendedInfo' not in message else None,
                      first.get('MessageId'), first.get('MessageID'), message)
        for text in candidates:
            if isinstance(text, str) and text:
                return text
        return 'HTTP %d' % status

    # -- requests --------------------------------------------------------------------------------

    def _call_at(self, method, path, body=None, *, login=False, if_match=None):
        """One request with Redfish's success statuses, following one redirect.

        GET follows any redirect, other methods only 307 and 308. The ``Location`` is
        resolved on the BMC's origin and refused when it points anywhere else
        (``RestClient.resolve``): credentials never go to another host.

        :param if_match: an ETag sent as ``If-Match``.
        :returns: ``(path that answered, status, payload or None, headers)``.
        """
        ok = OK_STATUSES + (REDIRECT_STATUSES if method == 'GET' else KEEP_METHOD_REDIRECTS)
        if if_match is not None:
            self._headers['If-Match'] = if_match
        try:
            status, payload, headers = self._request(method, path, body, login=login, ok=ok)
            if status in REDIRECT_STATUSES:
                location = headers.get('Location')
                if not location:
                    raise exc.BmcBadResponse(node=self.node, detail='%s %s answered %d without Location'
                                             % (method, path, status))
                path = self.resolve_path(location, 'Location', base=self.resolve(path))
                status, payload, headers = self._request(method, path, body, login=login, ok=OK_STATUSES)
        finally:
            self._headers.pop('If-Match', None)
        return path, status, payload, headers

    def _get_at(self, path):
        """GET a resource: ``(the path that answered, its JSON object, its ETag or None)``."""
        path_read, _status, payload, headers = self._call_at('GET', path)
        if not isinstance(payload, dict):
            raise exc.BmcBadResponse(node=self.node, detail='GET %s: reply is not a JSON object' % path)
        etag = headers.get('ETag') or payload.get('@odata.etag')
        return path_read, payload, etag if isinstance(etag, str) else None

    def _get(self, path):
        return self._get_at(path)[1]

    # -- session ---------------------------------------------------------------------------------

    def reuse_or_login(self, cache):
        """As ``RestClient.reuse_or_login``; in a one-shot agent (no ``cache``) the login waits
        for the node's first request (``_request``).

        NOTE: every node of a command starts at once: a login at the start would be decided
        before the first nodes have shown how this fleet is laid out. At its first request a
        node has waited for the other nodes' scouts (``FleetShape.scout``), so ``login`` knows
        what they found.
        """
        if cache is None:
            self._login_due = True
            return
        super().reuse_or_login(cache)

    def login(self):
        """Authenticate the node: a session (``_login_session``), or HTTP Basic on every request.

        The one branch: HTTP Basic when the agent is one-shot (no warm cache) and the command's
        shape has learned that the system or the manager has to be found per node through
        its collection (Cisco CIMC names its system after the serial number). Such a node
        needs two reads; a session would add its POST and its DELETE. The Redfish
        specification (DMTF DSP0266, "Authentication") has every service take HTTP Basic as
        well as sessions, and a request with Basic leaves nothing open on the BMC. A warm
        agent keeps the session and the member's path for the next command, so it keeps
        sessions. A BMC that refuses Basic gets a session after all, and the command's other
        nodes too (``_request``).
        """
        if self._ctx.cache is None and self.shape.per_node_member() and self.shape.guess(BASIC_KEY) != REFUSED:
            LOG.info('%s: the member is found per node; HTTP Basic instead of a session', self.node)
            self._headers['Authorization'] = self._basic_auth()
            self._basic_on_trial = True
            return
        self._login_session()

    def _request(self, method, path, body=None, *, login=False, ok=(200,), trace_body=None):
        """``RestClient._request``, after the login a one-shot agent left to the first request.

        A failed login fails this request and every later one with the login's own error:
        nothing goes out without credentials.
        """
        def send():
            return super(RedfishClient, self)._request(method, path, body, login=login, ok=ok, trace_body=trace_body)

        if not login:
            if self.login_failure is not None:
                raise self.login_failure
            if self._login_due:
                self._log_in(self.login)
            if self._basic_on_trial:
                return self._first_basic(send)
        return send()

    def _first_basic(self, send):
        """The node's first request with HTTP Basic (``send``), and the way back to a session.

        One node of the command tries Basic while the others wait for it (bounded, as for a
        path). Refused (401, 403), the node logs in with a session and sends the request
        again; the shape keeps the refusal, so the nodes after it log in at once.
        """
        with self.shape.scout(BASIC_KEY):
            self._basic_on_trial = False
            refused = None
            if self.shape.guess(BASIC_KEY) != REFUSED:
                try:
                    reply = send()
                except exc.BmcAuthError as error:
                    refused = error
                else:
                    self.shape.learn(BASIC_KEY, ACCEPTED)
                    return reply
            LOG.info('%s: HTTP Basic refused (%s); logging in with a session', self.node,
                     refused or 'by another node of the command')
            del self._headers['Authorization']
            self._log_in(self._login_session)
            if refused is not None:
                # Learned only now: a session refused too means a wrong password, not Basic.
                self.shape.learn(BASIC_KEY, REFUSED)
        return send()

    def _log_in(self, how):
        """``how()`` (a login); its failure is kept as the node's (``login_failure``)."""
        self._login_due = False
        try:
            how()
        except exc.AgentError as error:
            self.login_failure = error
            raise

    def _login_session(self):
        """Open a session, or switch to HTTP Basic when the service has no session service.

        The session POST goes where the command's shape says (the specification's path at
        first). Only when that answers 401, 404, 405 or 501 is the service root read: if it
        links a session collection elsewhere (Dell iDRAC 8 and 9 3.x: ``/redfish/v1/Sessions``)
        we post there and the shape learns it; a 401 from a service that has a
        ``SessionService`` is a refusal of the credentials; otherwise the service has no
        usable session service and every request carries HTTP Basic.

        :raises BmcAuthError: the BMC refused the credentials (``[401] <BMC message>``).
        :raises BmcLoginUnreachable: the BMC cannot be reached.
        :raises BmcBadResponse: a session was created without an ``X-Auth-Token``.
        """
        credentials = {'UserName': self.username, 'Password': self._password}
        with self.shape.scout(SESSIONS_KEY):
            sessions = self.shape.guess(SESSIONS_KEY) or SESSIONS
            try:
                self._post_session(sessions, credentials)
                self.shape.learn(SESSIONS_KEY, sessions)
                return
            except (exc.BmcAuthError, exc.BmcHTTPError) as error:
                if error.kwargs.get('status') not in NO_SESSION_STATUSES | {401}:
                    raise
                first = error
            # NOTE: sushy-tools has no SessionService and checks Basic on every path except
            # the service root, so our session POST gets 401 there, not 404.
            root = self._get_root()
            linked = _link(root, 'Links', 'Sessions')
            linked = None if linked is None else self.resolve_path(linked, '@odata.id')
            if linked is not None and linked.rstrip('/') != sessions.rstrip('/'):
                self._post_session(linked, credentials)
                self.shape.learn(SESSIONS_KEY, linked)
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
            self.record.session = self.resolve_path(location, what, base=self.resolve(path))

    def _adopt_session(self, parked):
        self._headers['X-Auth-Token'] = parked._headers['X-Auth-Token']
        self.record.session = parked.record.session
        self._hints = dict(parked._hints)

    def read_session_timeout(self):
        """``SessionService.SessionTimeout``: seconds the service keeps an unused session, or None."""
        value = self._get(SESSION_SERVICE).get('SessionTimeout')
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e9:
            return None
        return float(value)

    def _shed(self):
        super()._shed()
        # the system and manager bodies read by the node's work are not reused; where they are is
        # (a warm CIMC's system is named after its serial number: one GET, not two)
        for collection in KINDS:
            path = self.record.member(collection).path or self._hints.get(collection)
            if path is not None:
                self._hints[collection] = path
        self.record = NodeRecord(session=self.record.session)

    def logout(self):
        """DELETE our session (xCAT never does, and sessions pile up until they time out)."""
        self.logged_in = False
        if self.record.session is None:
            LOG.info('%s: the BMC gave no session location; session left to time out', self.node)
            return
        self._call_at('DELETE', self.record.session)
        self._headers.pop('X-Auth-Token', None)

    # -- members ---------------------------------------------------------------------------------

    def _first_member(self, collection):
        """``@odata.id`` of the first member of a collection.

        NOTE: a node is one BMC address; a service with several members (sushy-tools with
        many fake systems, a chassis manager, Cisco CIMC's NIC managers) is driven through
        its first member, as xCAT does.
        """
        members = self._get(collection).get('Members')
        try:
            link = members[0]['@odata.id']
        except (TypeError, KeyError, IndexError):
            raise exc.BmcBadResponse(node=self.node, detail='%s has no members' % collection)
        path = self.resolve_path(link, '@odata.id', base=self.resolve(collection))
        if len(members) > 1:
            LOG.info('%s: %s has %d members, using %s', self.node, collection, len(members), path)
        return path

    def _read(self, collection, fresh=False, guess=True):
        """The member of ``collection`` we drive (``MemberRecord`` with ``body``), read once.

        Where to look: this node's known path, else the command's shape (bmcweb's path at
        first; skipped when ``guess`` is false because it just answered 404), else the
        collection's first member. The path that answered (after a redirect) is the
        member's path for later requests.
        """
        record = self.record.member(collection)
        if record.body is not None and not fresh:
            return record
        if record.path is not None:
            record.path, record.body, record.etag = self._get_at(record.path)
            return record
        hint = self._hints.pop(collection, None)
        found = self._try_member(collection, hint) if hint is not None else None
        if found is not None:
            record.path, record.body, record.etag = found
            return record
        with self.shape.scout(collection):
            tried = self.shape.guess(collection) if guess else None
            found = self._try_member(collection, tried) if tried else None
            if found is not None:
                self.shape.learn(collection, found[0])
            else:
                found = self._get_at(self._first_member(collection))
                self._learn_member(collection, tried, found[0])
        record.path, record.body, record.etag = found
        return record

    def _learn_member(self, collection, tried, path):
        """Teach the shape where this node's member is, found through its collection.

        A path another node found that is not this node's means member names differ per
        node (Cisco CIMC's serial numbers): every node reads its collection, and the shape
        keeps saying so (this node's path is not the next one's). Otherwise the path is
        this node's finding, for the next node to try.
        """
        if self.shape.guess(collection) is None:
            return
        if tried and not self.shape.is_seed(collection):
            self.shape.learn(collection, None)
        else:
            self.shape.learn(collection, path, sure=False)

    def _try_member(self, collection, path):
        """``(path, body, etag)`` of the member at ``path``, or None when it is not there."""
        try:
            found = self._get_at(path)
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
        kind = found[1].get('@odata.type')
        if not (isinstance(kind, str) and kind.startswith(KINDS[collection][0])):
            LOG.info('%s: %s is a %s, reading %s', self.node, path, kind, collection)
            return None
        return found

    def get_system(self):
        """The node's ComputerSystem resource (read once per client)."""
        return self._read(SYSTEMS).body

    def get_manager(self):
        """The node's Manager resource, the BMC itself (read once per client)."""
        return self._read(MANAGERS).body

    def get_power_state(self, fresh=False):
        """:param fresh: read again (polls). :returns: the system's ``PowerState``."""
        system = self._read(SYSTEMS, fresh=fresh).body
        try:
            return system['PowerState']
        except KeyError:
            raise exc.BmcBadResponse(node=self.node, detail='%s member has no PowerState' % SYSTEMS)

    def get_manager_state(self):
        """:returns: ``(PowerState or None, Status.State or None)`` of the manager, as the BMC gives them."""
        manager = self.get_manager()
        status = manager.get('Status')
        return manager.get('PowerState'), status.get('State') if isinstance(status, dict) else None

    # -- Reset -----------------------------------------------------------------------------------

    def _action(self, collection):
        """``(action dict, target path)`` of the member's Reset action, from its read."""
        body = self._read(collection).body
        name = KINDS[collection][1]
        try:
            found = body['Actions'][name]
            target = found['target']
            if not isinstance(target, str):
                raise TypeError(target)
        except (TypeError, KeyError):
            raise exc.BmcBadResponse(node=self.node, detail='%s member has no %s action' % (collection, name))
        return found, self.resolve_path(target, 'target')

    def get_reset_types(self, target='system'):
        """The reset types the BMC allows for the system or the manager.

        NOTE: Supermicro X12 puts a malformed inline list (``GracefulShutdownGracefulRestart``)
        next to an ``@Redfish.ActionInfo`` link; when both exist the ActionInfo is the truth
        (one more GET). Otherwise the inline ``ResetType@Redfish.AllowableValues`` is used.

        :param target: ``system`` or ``manager``.
        :returns: a frozenset of reset types (empty when the member has no Reset action, as
            sushy-tools' managers), or None when the BMC does not say.
        :raises BmcBadResponse: the action has no target, or its annotations are malformed.
        """
        collection = SYSTEMS if target == 'system' else MANAGERS
        record = self._read(collection)
        if record.reset_types is not UNREAD:
            return record.reset_types
        actions = record.body.get('Actions')
        action = actions.get(KINDS[collection][1]) if isinstance(actions, dict) else None
        if not isinstance(action, dict):
            record.reset_types = frozenset()
            return record.reset_types
        self._action(collection)
        allowed = None
        info = action.get(ACTION_INFO)
        if info:
            if not isinstance(info, str):
                raise exc.BmcBadResponse(node=self.node, detail='%s of %s is not a URI'
                                         % (ACTION_INFO, KINDS[collection][1]))
            allowed = self._action_info_values(self.resolve_path(info, ACTION_INFO), 'ResetType')
        if allowed is None:
            allowed = action.get('ResetType' + ALLOWABLE)
        if allowed is not None and not isinstance(allowed, list):
            raise exc.BmcBadResponse(node=self.node, detail='allowable reset types are not a list')
        record.reset_types = None if allowed is None else frozenset(str(v) for v in allowed)
        return record.reset_types

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
        """Whether a refused Reset POST is worth reading the member for (and maybe a second POST).

        True for a 404 (the action is not there) and for a refusal of the request as sent:
        any other 4xx (400 for a ResetType not in the list, 405, 409 for HPE iLO's On when
        on) and 501 (sushy-tools' unimplemented types). False for credentials (401, 403)
        and for server failures (5xx), which a read would not change.
        """
        if not isinstance(error, exc.BmcHTTPError) or not isinstance(error.status, int):
            return False
        return error.status == 501 or (400 <= error.status < 500 and error.status not in (401, 403))

    def reset(self, target, wanted, word, power_state=None, post=None):
        """Send a Reset: the preferred type at once, the member read only when the BMC says no.

        The one place of the rule "post first, read only if refused":

        - the POST goes to the target this node read, else the command's shape (bmcweb's
          target at first). A 404 there means the action is elsewhere: the member is read
          and the same type posted at its own target (the BMC has not said no yet, so no
          list is consulted), and the shape learns that target;
        - a refusal at the member's own target is answered from the member: already in
          ``power_state`` is success (docs/DESIGN.md, "Where we differ from xCAT on
          purpose"); else the next type of ``wanted`` the BMC allows is sent (ActionInfo
          over a malformed inline list), or simply the next one when the BMC does not list
          its types; none allowed is ``Unsupported option: <word>``; the refused type being
          the only one allowed keeps the BMC's own error.

        :param target: ``system`` or ``manager``.
        :param wanted: ResetTypes in order of preference.
        :param word: the xCAT word named in ``Unsupported option: <word>``.
        :param power_state: PowerState that makes a refusal a success, or None.
        :param post: sends one Reset POST given ``(path, ResetType)`` (default: ``post_reset``).
        :returns: the ResetType accepted, or None when the system already was in ``power_state``.
        :raises Unsupported: no type of ``wanted`` is allowed.
        :raises BmcHTTPError: the BMC's refusal of an allowed type.
        """
        collection = SYSTEMS if target == 'system' else MANAGERS
        post = post or self.post_reset
        key = RESET_KEYS[collection]
        record = self.record.member(collection)
        with self.shape.scout(key):
            path = self._action(collection)[1] if record.body is not None else self.shape.guess(key)
            if path is None:
                path = self._action(collection)[1]
            # Posted where another node found its target (not bmcweb's, not read by this node).
            borrowed = record.body is None and not self.shape.is_seed(key)
            try:
                post(path, wanted[0])
                self._learn_target(collection, path)
                return wanted[0]
            except exc.BmcHTTPError as error:
                if not self.reset_falls_back(error):
                    raise
                LOG.info('%s: %s Reset %s at %s: %s; reading the %s', self.node, target, wanted[0], path,
                         error, target)
                refused = error
            if record.body is None:
                self._read(collection, guess=refused.status not in NOT_HERE_STATUSES)
            actions = record.body.get('Actions')
            if not (isinstance(actions, dict) and isinstance(actions.get(KINDS[collection][1]), dict)):
                raise exc.Unsupported('Unsupported option: %s' % word, node=self.node)
            own = self._action(collection)[1]
            if borrowed and own != path and refused.status in NOT_HERE_STATUSES:
                # Another node's target is not this node's: the member's name differs per
                # node (Cisco CIMC), as ``_learn_member`` finds it for a read.
                self.shape.learn(collection, None)
            self._learn_target(collection, own)
        if power_state is not None and self.get_power_state() == power_state:
            return None
        if own != path:
            # The refusal came from a path that was not this BMC's target: it has not said no.
            try:
                post(own, wanted[0])
                return wanted[0]
            except exc.BmcHTTPError as error:
                if not self.reset_falls_back(error):
                    raise
                LOG.info('%s: %s Reset %s: %s', self.node, target, wanted[0], error)
                refused = error
        allowed = self.get_reset_types(target)
        if allowed is None:
            # The BMC does not list its types and said no to the first: try the next one.
            if len(wanted) == 1:
                raise refused
            reset_type = wanted[1]
        else:
            reset_type = self.pick_reset_type(word, wanted, allowed)
            if reset_type == wanted[0]:
                raise refused
        post(own, reset_type)
        return reset_type

    def _learn_target(self, collection, path):
        """Teach the shape a Reset target that worked, if other nodes can share it."""
        record = self.record.member(collection)
        if record.path is not None and self.shape.guess(collection) != record.path:
            self.shape.learn(RESET_KEYS[collection], None)
            return
        # As sure as the member's path it hangs off (a target posted without a read is).
        self.shape.learn(RESET_KEYS[collection], path,
                         sure=record.path is None or self.shape.confirmed(collection))

    def pick_reset_type(self, word, wanted, allowed):
        """The first of ``wanted`` the BMC allows (``allowed`` None: the BMC did not say, all are).

        :raises Unsupported: ``Unsupported option: <word>`` when none is allowed.
        """
        if allowed is None:
            return wanted[0]
        for reset_type in wanted:
            if reset_type in allowed:
                return reset_type
        raise exc.Unsupported('Unsupported option: %s' % word, node=self.node)

    def post_reset(self, path, reset_type):
        """POST one Reset action to ``path``."""
        self._call_at('POST', path, {'ResetType': reset_type})

    def reset_system(self, reset_type):
        """POST the system's Reset with ``reset_type`` at the target its read gave."""
        self.post_reset(self._action(SYSTEMS)[1], reset_type)

    # -- boot override ---------------------------------------------------------------------------

    def get_boot(self, fresh=False):
        """The system's boot override.

        :returns: ``(BootSourceOverrideEnabled, BootSourceOverrideTarget, allowed targets or None)``.
        """
        boot = self._boot_of(self._read(SYSTEMS, fresh=fresh).body)
        allowed = boot.get(TARGET + ALLOWABLE, boot.get(ILO4_TARGETS))
        if allowed is not None and not isinstance(allowed, list):
            raise exc.BmcBadResponse(node=self.node, detail='allowable boot targets are not a list')
        return (boot.get(ENABLED), boot.get(TARGET), None if allowed is None else frozenset(str(v) for v in allowed))

    def _boot_of(self, system):
        boot = system.get('Boot') if isinstance(system, dict) else None
        if not isinstance(boot, dict):
            raise exc.BmcBadResponse(node=self.node, detail='the system has no Boot object')
        return boot

    def set_boot(self, target, enabled):
        """Set the boot override and return what the BMC then holds.

        One PATCH of the system's ``Boot`` (the system's path from the shape, nothing read
        first), then the values are checked: from the PATCH reply when it carries the
        system, else from one GET. The vendor branches:

        - NOTE: Supermicro H13 answers the PATCH with success and drops the override
          unless ``BootSourceOverrideMode`` is in it: a check that finds it dropped sends
          the PATCH again with the mode the system has, and the shape learns to read the
          mode first on the other nodes;
        - NOTE: AMI-based BMCs (Lenovo SR655) answer 428 without ``If-Match`` (412 for a
          stale one): the system is read for its ETag and the PATCH sent again with it;
        - NOTE: newer iDRACs refuse a PATCH of ``Boot`` as read-only: when the system
          has ``@Redfish.Settings``, the PATCH goes to its ``SettingsObject``;
        - NOTE: Lenovo XCC allows only ``Once`` and ``Disabled``; a refused ``Continuous``
          with that annotation is said plainly.

        :param target: a ``BootSourceOverrideTarget`` value (``Pxe``, ``Hdd``, ``None``...).
        :param enabled: ``Once``, ``Continuous`` or ``Disabled``.
        :returns: ``(BootSourceOverrideEnabled, BootSourceOverrideTarget)`` the BMC holds.
        :raises Unsupported: persistent override asked of a BMC that allows none.
        :raises BmcHTTPError: the BMC refused the PATCH.
        :raises BmcError: the BMC accepted the values but does not hold them.
        """
        # The first node works out how this fleet takes an override; the others wait for it.
        with self.shape.scout(BOOT_KEY):
            seen = self._set_boot(target, enabled)
            self.shape.learn(BOOT_KEY, 'known')
        return seen

    def _set_boot(self, target, enabled):
        plan = self.shape.boot
        wanted = {ENABLED: enabled, TARGET: target}
        # Other nodes of the command may change the plan meanwhile: this node goes by what
        # it sent itself.
        send_mode = plan.send_mode
        if plan.read_first:
            self._read(SYSTEMS)
        reply = self._patch_boot(wanted, send_mode)
        seen = self._boot_seen(reply)
        if not _holds(seen, enabled, target) and not send_mode and MODE in self._boot_of(self.get_system()):
            LOG.info('%s: the BMC kept %s after the PATCH; sending it again with %s', self.node, seen, MODE)
            plan.send_mode = True
            seen = self._boot_seen(self._patch_boot(wanted, True))
        if not _holds(seen, enabled, target):
            raise exc.BmcError('the BMC accepted %s=%s, %s=%s but holds %s, %s'
                               % (ENABLED, enabled, TARGET, target, seen[0], seen[1]), node=self.node)
        return seen

    def _boot_seen(self, reply):
        """``(enabled, target)`` from a PATCH reply carrying the system, else from one GET."""
        if isinstance(reply, dict) and isinstance(reply.get('Boot'), dict) and ENABLED in reply['Boot']:
            boot = reply['Boot']
            self.record.system.body = None
        else:
            boot = self._boot_of(self._read(SYSTEMS, fresh=True).body)
        return boot.get(ENABLED), boot.get(TARGET)

    def _patch_boot(self, wanted, send_mode):
        """PATCH the override where this node or the fleet takes it; the refusal branches live here.

        :returns: the reply's payload (or None).
        """
        plan = self.shape.boot
        record = self.record.system
        body = dict(wanted)
        if send_mode:
            mode = self._boot_of(self._read(SYSTEMS).body).get(MODE)
            if mode is not None:
                body[MODE] = mode
        to_settings = plan.settings
        path = self._boot_path(to_settings)
        etag = record.etag if plan.if_match else None
        try:
            try:
                return self._patch(path, body, etag)
            except exc.BmcHTTPError as error:
                if error.status not in PRECONDITION_STATUSES:
                    raise
                LOG.info('%s: PATCH %s: %s; sending it with If-Match', self.node, path, error)
                plan.if_match = True
                etag = self._read(SYSTEMS, fresh=True).etag or '*'
                return self._patch(self._boot_path(to_settings), body, etag)
        except exc.BmcHTTPError as error:
            if error.status not in (400, 405) or to_settings:
                raise
            refusal = error
        system = self._read(SYSTEMS, fresh=True).body
        settings = _link(system, '@Redfish.Settings', 'SettingsObject')
        if settings is not None:
            LOG.info('%s: PATCH %s: %s; sending it to the settings object %s', self.node, path, refusal, settings)
            plan.settings = True
            return self._patch(self.resolve_path(settings, 'SettingsObject'), body, None)
        allowed = self._boot_of(system).get(ENABLED + ALLOWABLE)
        if isinstance(allowed, list) and wanted[ENABLED] not in allowed:
            raise exc.Unsupported('Unsupported option: this BMC does not keep a %s boot override '
                                  '(%s allows %s)' % ('persistent' if wanted[ENABLED] == 'Continuous'
                                                      else wanted[ENABLED], ENABLED, ', '.join(map(str, allowed))),
                                  node=self.node)
        raise refusal

    def _boot_path(self, to_settings):
        """Where the override is PATCHed: the settings object when the fleet needs it, else the system."""
        if to_settings:
            link = _link(self._read(SYSTEMS).body, '@Redfish.Settings', 'SettingsObject')
            if link is not None:
                return self.resolve_path(link, 'SettingsObject')
        if self.record.system.path is not None:
            return self.record.system.path
        guess = self.shape.guess(SYSTEMS)
        if guess is None:
            # Member names differ per node: the collection names this node's; the PATCH
            # needs no read of the member itself.
            self.record.system.path = self._first_member(SYSTEMS)
            return self.record.system.path
        return guess

    def _patch(self, path, body, etag):
        """One PATCH of ``{"Boot": body}``; a 404 at a guessed path finds the system and tries there.

        :returns: the reply's payload (or None).
        """
        record = self.record.system
        if record.path is not None:
            return self._call_at('PATCH', path, {'Boot': body}, if_match=etag)[2]
        hint = self._hints.pop(SYSTEMS, None)
        if hint is not None:
            try:
                record.path, _status, payload, _headers = self._call_at('PATCH', hint, {'Boot': body}, if_match=etag)
                return payload
            except exc.BmcHTTPError as error:
                if error.status not in NOT_HERE_STATUSES:
                    record.path = hint  # the system is there; it refused the PATCH itself
                    raise
                LOG.info('%s: no %s (%s) any more', self.node, hint, error)
        with self.shape.scout(SYSTEMS):
            # What another node found while this one waited is worth more than the old guess.
            path = self._boot_path(False)
            if record.path is not None:
                return self._call_at('PATCH', path, {'Boot': body}, if_match=etag)[2]
            try:
                path, _status, payload, _headers = self._call_at('PATCH', path, {'Boot': body}, if_match=etag)
            except exc.BmcHTTPError as error:
                if error.status not in NOT_HERE_STATUSES:
                    raise
                LOG.info('%s: no %s (%s), reading %s', self.node, path, error, SYSTEMS)
                record.path = self._first_member(SYSTEMS)
                self._learn_member(SYSTEMS, path, record.path)
                return self._call_at('PATCH', record.path, {'Boot': body}, if_match=etag)[2]
            record.path = path
            self.shape.learn(SYSTEMS, path)
            return payload
