"""The REST funnel: one HTTPS session per node, every request through one method.

Protocol clients (``hwctl/openbmc_client.py``, ``hwctl/redfish_client.py``) subclass
``RestClient``. This is the only module that sends with ``requests`` and ``urllib3``: transport
errors are translated here, once, by type, into the agent's exception tree, and every request gets
the run's (connect, read) timeouts, TLS context, masking debug trace and bounded retries.
"""

import base64
import errno
import http.client
import json
import logging
import re
import select
import socket
import ssl
import sys
import time
import urllib.parse
import weakref

import gevent
import gevent.monkey
import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict

from common import exceptions as exc
from common.utils import MASK, sanitize

LOG = logging.getLogger(__name__)

#: Largest reply body we read from a BMC; a larger one is refused as a bad response.
MAX_BODY = 16 * 1024 * 1024

_CHUNK = 64 * 1024

#: HTTP statuses that mean "this BMC is busy or just rebooted, try again shortly".
TRANSIENT_STATUSES = frozenset({503})

_ERRNO_CAUSES = {
    errno.ECONNREFUSED: 'Connection refused',
    errno.EHOSTUNREACH: 'No route to host',
    errno.ENETUNREACH: 'Network is unreachable',
    errno.ECONNRESET: 'Connection reset by peer',
    errno.ETIMEDOUT: 'Connection timed out',
    errno.EPIPE: 'Connection closed by peer',
}


def build_ssl_context(verify=False, ca_bundle=None):
    """Build the one TLS context a whole run shares.

    NOTE: urllib3 builds a new context and loads the system CA bundle (about 20 ms) for
    every new connection unless it is handed one; one shared context is most of the
    difference between 26 ms and 3 ms of CPU per BMC (docs/runtime-notes.md#tls-context).

    :param verify: check BMC certificates against ``ca_bundle`` (or the system store).
    :param ca_bundle: path of a PEM file of CA certificates.
    :returns: an ``ssl.SSLContext``.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        # BMC certificates name the BMC's address or nothing useful; we check the chain only.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        if ca_bundle:
            ctx.load_verify_locations(cafile=ca_bundle)
        else:
            ctx.load_default_certs()
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


#: The system's ``select.poll``, whatever gevent patched (``_KeptConnection``).
_SYSTEM_POLL = gevent.monkey.get_original('select', 'poll')


class _KeptConnection(urllib3.connection.HTTPSConnection):
    """urllib3's HTTPS connection, with a cheaper answer to "is this kept connection still open?".

    NOTE: urllib3 2.x asks ``is_connected`` before each reuse of a kept connection: a poll with
    a zero timeout, readable meaning the BMC closed it (or sent something unasked). Under
    gevent, that poll sets up watchers and switches to the event loop and back, a tenth of a
    warm request; the system's own poll answers the same question in one call that never
    blocks. urllib3 1.26 asks through a function of its own instead and keeps its way.
    """

    @property
    def is_connected(self):
        if self.sock is None:
            return False
        poller = _SYSTEM_POLL()
        try:
            poller.register(self.sock, select.POLLIN)
        except (OSError, ValueError):  # closed under us (no descriptor any more)
            return False
        return not poller.poll(0)


def _split_url(url):
    """``(origin, path and query)`` of an absolute URL we built (``https://host[:port]/path``)."""
    end = url.find('/', url.find('//') + 2)
    return (url, '/') if end < 0 else (url[:end], url[end:])


class _ContextAdapter(HTTPAdapter):
    """An HTTPAdapter whose pools use the run's shared SSL context; ``urlopen`` is the agent's
    way through it (``send`` stays requests' own, for anyone else)."""

    def __init__(self, ssl_context, **kwargs):
        self._ssl_context = ssl_context
        #: ``(origin, verify, cert, pool)`` of the last request (see ``_pool_for``).
        self._last_pool = None
        super().__init__(**kwargs)

    def _pool_for(self, url, verify, request=None, proxies=None, cert=None):
        # NOTE: an adapter serves one BMC (new_session) and every request of a node goes to the
        # same origin with the same settings: its connection pool is looked up once, not per
        # request (requests rebuilds and normalises the pool key each time, a tenth of a warm
        # request). A request elsewhere, or a close, looks it up again.
        origin = _split_url(url)[0]
        last = self._last_pool
        if last is not None and last[0] == origin and last[1] == verify and last[2] == cert and not proxies \
                and last[3].pool is not None:
            return last[3]
        if hasattr(HTTPAdapter, 'get_connection_with_tls_context'):
            if request is None:
                request = PreparedRequest()
                request.url = url
            pool = super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        else:  # requests < 2.32
            pool = self.get_connection(url, proxies)
        if isinstance(pool, urllib3.HTTPSConnectionPool):
            pool.ConnectionCls = _KeptConnection
            self.cert_verify(pool, url, verify, cert)  # settings of the pool, not of a request
        self._last_pool = (origin, verify, cert, pool) if not proxies else None
        return pool

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        # Only requests >= 2.32 calls this (from ``send``); older ones find the pool their own way.
        return self._pool_for(request.url, verify, request, proxies, cert)

    def urlopen(self, method, url, body, headers, timeout, verify):
        """Send one request on this BMC's pool and return urllib3's response, unread.

        What ``send`` does, without what the agent never uses: requests' ``Response`` (its
        headers copied into another mapping, cookies parsed into a jar) and the per-request
        proxy, URL and timeout handling: a quarter of a request on a kept connection
        (docs/DESIGN.md, "Warm agent"). The same pool, retry policy (none) and TLS context as
        ``send``, so a failure raises the same urllib3 exceptions requests would have wrapped.

        :param url: absolute URL on the BMC's origin (``RestClient.resolve``; no fragment).
        :param timeout: ``urllib3.Timeout`` (connect, read).
        """
        return self._pool_for(url, verify).urlopen(
            method, _split_url(url)[1], body=body, headers=headers, redirect=False, assert_same_host=False,
            preload_content=False, decode_content=False, retries=self.max_retries, timeout=timeout)

    def close(self):
        last, self._last_pool = self._last_pool, None
        super().close()
        if last is not None:
            # NOTE: urllib3 2.x's PoolManager.clear forgets its pools without closing them (their
            # sockets close when the pool is collected); 1.26 closes them. Closed here on both,
            # so an idle close or a timed-out reply lets go of the socket at once.
            last[3].close()

    def init_poolmanager(self, *args, **kwargs):
        kwargs['ssl_context'] = self._ssl_context
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn, url, verify, cert):
        # NOTE: requests would point every new connection at its own CA bundle (certifi),
        # which urllib3 then loads into our shared context: about 20 ms per BMC, and the
        # public CAs would be trusted beside the admin's. The shared context already holds
        # the verification mode and the CA file the admin chose.
        conn.cert_reqs = 'CERT_NONE' if self._ssl_context.verify_mode == ssl.CERT_NONE else 'CERT_REQUIRED'
        conn.ca_certs = None
        conn.ca_cert_dir = None


class ResumingContext:
    """The run's shared SSL context as one BMC's connections see it: they resume its TLS session.

    Only the warm agent's clients get one (``new_session(resume=True)``): a kept connection
    the BMC or an idle close dropped is reconnected with an abbreviated handshake instead of a
    full one. urllib3 (1.26 and 2.x alike) calls ``wrap_socket(sock, server_hostname=...)`` on
    the context it was given and reads or sets a few of its attributes; those go to the shared
    context, and ``wrap_socket`` passes the session this BMC last had (``session=``, which the
    stdlib's and gevent's ``SSLContext`` take).

    NOTE: under TLS 1.3 the session ticket arrives after the handshake, with the first reply,
    so ``remember`` is called once replies were read (``RestClient._park``), before the
    connection can be closed: a closed socket no longer gives its session.
    """

    __slots__ = ('_ctx', 'tls_session', '_last', '_kept')

    def __init__(self, ssl_context):
        object.__setattr__(self, '_ctx', ssl_context)
        #: ``ssl.SSLSession`` the next connection resumes (None: a full handshake).
        object.__setattr__(self, 'tls_session', None)
        #: weak reference to the last socket we wrapped, and the one ``tls_session`` came from.
        object.__setattr__(self, '_last', None)
        object.__setattr__(self, '_kept', None)

    def __getattr__(self, name):
        if name in ResumingContext.__slots__:
            raise AttributeError(name)
        return getattr(self._ctx, name)

    def __setattr__(self, name, value):
        if name in ResumingContext.__slots__:
            object.__setattr__(self, name, value)
        else:
            setattr(self._ctx, name, value)

    def wrap_socket(self, sock, *args, **kwargs):
        if self.tls_session is not None:
            kwargs.setdefault('session', self.tls_session)
        tls = self._ctx.wrap_socket(sock, *args, **kwargs)
        self._last = weakref.ref(tls)
        if self.tls_session is not None:
            LOG.debug('TLS session %s', 'resumed' if tls.session_reused else 'not resumed')
        return tls

    def remember(self):
        """Keep the session of the last connection, if it is still open, for the next one
        (once per connection: its ticket came with its first reply)."""
        if self._last is None or self._last is self._kept:
            return
        tls = self._last()
        session = getattr(tls, 'session', None) if tls is not None else None
        if session is not None and _resumable(tls, session):
            self.tls_session = session
            self._kept = self._last


def _resumable(tls, session):
    """Whether a client can resume ``session``: under TLS 1.3 only with the BMC's ticket.

    NOTE: a kept ``ssl.SSLSession`` holds the BMC's certificate, about 13 kB once its connection
    is closed (docs/DESIGN.md, "Warm agent"); one the BMC would not resume is not worth that.
    """
    if session.has_ticket:
        return True
    return tls.version() not in (None, 'TLSv1.3') and bool(session.id)


def session_getter_leaks(version=None):
    """Whether this Python leaks memory each time a TLS socket's ``session`` is read.

    NOTE: CPython 3.10 and 3.11, 3.12 before 3.12.8 and 3.13.0 copy the OpenSSL session and then
    lose the copy: about 6 kB per read (docs/runtime-notes.md, "Reading a TLS session leaks on
    some Pythons"). A warm agent reads it once per new connection, so on these versions TLS
    session resumption is off unless asked for (``agent.py --tls-resume``; docs/DESIGN.md,
    "Warm agent").
    """
    version = tuple(sys.version_info[:3] if version is None else version)
    return (3, 10) <= version < (3, 12, 8) or (3, 13) <= version < (3, 13, 1)


def new_session(ssl_context, resume=False):
    """A ``requests.Session`` for one BMC: one keep-alive connection, shared TLS context.

    ``trust_env`` is off so that proxy and CA-bundle variables of the environment
    (REQUESTS_CA_BUNDLE is set on many machines) never override our settings.

    :param resume: its reconnects resume the TLS session (``ResumingContext``; the warm agent).
    """
    session = requests.Session()
    session.trust_env = False
    if resume and not isinstance(ssl_context, ResumingContext):
        ssl_context = ResumingContext(ssl_context)
    session.mount('https://', _ContextAdapter(ssl_context, pool_connections=1, pool_maxsize=1,
                                              max_retries=0))
    return session


def _resuming_context(session):
    """``session``'s ``ResumingContext``, or None (a one-shot agent's session has none)."""
    adapter = session.adapters.get('https://')
    context = getattr(adapter, '_ssl_context', None)
    return context if isinstance(context, ResumingContext) else None


def remember_tls_session(session):
    """Have ``session``'s reconnects resume its connection's TLS session (a no-op without one)."""
    context = _resuming_context(session)
    if context is not None:
        context.remember()


def format_host(bmcip):
    """Host part of a URL from ``bmcip``: IPv6 addresses get brackets, ``host:port`` is kept."""
    if bmcip.count(':') > 1 and not bmcip.startswith('['):
        return '[%s]' % bmcip
    return bmcip


def host_port(bmcip):
    """``host:port`` of a BMC as xCAT's login errors name it (``10.1.1.1:443``)."""
    host = format_host(bmcip)
    if host.startswith('['):
        return host if ']:' in host else host + ':443'
    return host if ':' in host else host + ':443'


def _check_address(node, bmcip, base):
    """Refuse a BMC address no URL can be built from, before any request.

    :raises InvalidRequest: ``bmcip`` is not ``host``, ``host:port`` or ``[v6]:port``.
    """
    try:
        parsed = urllib3.util.parse_url(base)
        valid = bool(parsed.host) and urllib.parse.urlsplit(base).port != 0
    except (ValueError, urllib3.exceptions.LocationParseError):
        valid = False
    if not valid:
        raise exc.InvalidRequest(node=node, detail='BMC address %r is not a host or host:port' % bmcip)


#: Longest reference from a BMC we follow; a longer one is refused (and never echoed whole).
MAX_LINK = 2048

#: A URL scheme at the start of a reference (RFC 3986 section 3.1).
_SCHEME = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:')

#: An absolute path of printable ASCII without backslash or fragment: every path the agent
#: builds itself. Glued to the origin it cannot name another host (the authority ends at
#: the first ``/``), so it needs no parsing: under 1 us per request here instead of about 40.
_PLAIN_PATH = re.compile(r'/(?!/)[!-"$-\[\]-~]*')


def _origin_of(url):
    """``(scheme, host, port)`` of an absolute URL, host lower-cased, port defaulted to 443."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or '').lower(), parts.port or 443


def resolve_link(origin, ref, base=None):
    """Resolve a reference a BMC handed back against the BMC's own origin, or refuse it.

    Every link the agent follows (a redirect ``Location``, an ``@odata.id``, an action
    ``target``, an ``@Redfish.ActionInfo``, a session ``Location``, a path built from reply
    data) goes through here, and the REST funnel checks every URL it sends with it too. A
    reference is followed only when it resolves to ``origin`` (https, same host, same
    port); the forms that could name another host when glued to ``https://<bmc>`` are
    refused outright: anything but printable ASCII (CR, LF, spaces, controls), backslashes,
    an ``@`` or ``%`` in an authority, and a relative reference whose first segment holds an
    ``@`` (plain or ``%40``), as in ``@host:port/path``.

    :param origin: ``https://host[:port]`` of the BMC.
    :param ref: the reference as the BMC gave it.
    :param base: URL the reference came with (its request's URL), for relative references;
        the origin's root by default.
    :returns: the absolute URL (``origin`` + path + query; any fragment dropped).
    :raises ValueError: the reference points outside ``origin`` or is malformed; the
        message says why in a few words.
    """
    if not isinstance(ref, str):
        raise ValueError('is not a string')
    if len(ref) <= MAX_LINK and _PLAIN_PATH.fullmatch(ref):
        return origin + ref
    if not ref or len(ref) > MAX_LINK:
        raise ValueError('is empty or longer than %d characters' % MAX_LINK)
    if any(not '!' <= ch <= '~' for ch in ref):
        raise ValueError('holds a space, a control character or non-ASCII text')
    if '\\' in ref:
        raise ValueError('holds a backslash')
    want = _origin_of(origin)
    if ref.startswith('//') or _SCHEME.match(ref):
        absolute = ref if _SCHEME.match(ref) else 'https:' + ref
        netloc = urllib.parse.urlsplit(absolute).netloc
        try:
            same = ('@' not in netloc and '%' not in netloc and _origin_of(absolute) == want)
        except ValueError:
            same = False
        if not same:
            raise ValueError('names another origin')
        parts = urllib.parse.urlsplit(absolute)
        path = parts.path or '/'
        query = parts.query
    else:
        first = ref.split('/', 1)[0].split('?', 1)[0]
        if '@' in urllib.parse.unquote(first):
            raise ValueError('starts like a user and host')
        parts = urllib.parse.urlsplit(urllib.parse.urljoin(base or origin + '/', ref))
        path, query = parts.path or '/', parts.query
    if path.startswith('//'):
        raise ValueError('has a path that starts like a host')
    url = origin + path + ('?' + query if query else '')
    # The URL as the transport will parse it must still name the origin.
    parsed = urllib3.util.parse_url(url)
    if parsed.auth or (parsed.scheme, (parsed.host or '').lower().strip('[]'), parsed.port or 443) != \
            (want[0], want[1].strip('[]'), want[2]):
        raise ValueError('names another origin')
    return url


class _ReplyTooSlow(BaseException):
    """Raised by our per-request timer when a whole reply took longer than its bound.

    A BaseException, as ``gevent.Timeout`` is, so that no ``except Exception`` inside
    requests or urllib3 can swallow or rewrap it before ``_send`` catches it.
    """


def _chain(error):
    """Every exception wrapped in ``error`` (itself first): reasons, causes, contexts, args."""
    seen = set()
    stack = [error]
    while stack:
        cur = stack.pop()
        if not isinstance(cur, BaseException) or id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        stack.extend([getattr(cur, 'reason', None), cur.__cause__, cur.__context__])
        stack.extend(getattr(cur, 'args', ()))


def _find(error, kind):
    """The first exception of type ``kind`` in the chain of ``error``, or None."""
    return next((cur for cur in _chain(error) if isinstance(cur, kind)), None)


def _root_oserror(error):
    """The first OSError with an errno in the chain of ``error``, or None."""
    return next((cur for cur in _chain(error) if isinstance(cur, OSError) and cur.errno), None)


def _timed_out_in_handshake(error):
    """Whether a timeout happened inside the TLS handshake (bounded by the connect timeout).

    NOTE: urllib3 reports a handshake that never completes as a ReadTimeoutError although
    the connect timeout bounds it; the traceback of the underlying socket timeout is the
    only place that tells the two apart.
    """
    timeout = _find(error, (socket.timeout, TimeoutError))
    tb = timeout.__traceback__ if timeout is not None else None
    while tb is not None:
        if tb.tb_frame.f_code.co_name == 'do_handshake':
            return True
        tb = tb.tb_next
    return False


def transport_cause(error, connect_timeout, read_timeout):
    """Name the transport failure in a few words an admin can act on.

    :param error: an exception raised by requests/urllib3/ssl/socket.
    :returns: e.g. ``Connection refused``, ``connect timeout after 10 s``.
    """
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return 'connect timeout after %g s' % connect_timeout
    if _timed_out_in_handshake(error):
        return 'TLS handshake timeout after %g s' % connect_timeout
    if isinstance(error, requests.exceptions.ReadTimeout):
        return 'read timeout after %g s' % read_timeout
    cert = _find(error, ssl.SSLCertVerificationError)
    if cert is not None:
        return 'certificate verify failed: %s' % (cert.verify_message or cert.reason or 'untrusted')
    if _find(error, http.client.IncompleteRead):
        return 'connection broken mid-reply'
    oserr = _root_oserror(error)
    if oserr is not None and not isinstance(oserr, (socket.timeout, ssl.SSLError)):
        return _ERRNO_CAUSES.get(oserr.errno) or oserr.strerror or 'errno %d' % oserr.errno
    # NOTE: urllib3's NewConnectionError derives from ConnectTimeoutError; a real
    # timeout is a ConnectTimeoutError that is not a NewConnectionError.
    timeout = _find(error, urllib3.exceptions.ConnectTimeoutError)
    if timeout is not None and not isinstance(timeout, urllib3.exceptions.NewConnectionError):
        return 'connect timeout after %g s' % connect_timeout
    if _find(error, (urllib3.exceptions.ReadTimeoutError, socket.timeout)):
        return 'read timeout after %g s' % read_timeout
    tls = _find(error, ssl.SSLError)
    if tls is not None:
        return 'TLS error: %s' % (tls.reason or tls.strerror or type(tls).__name__)
    if _find(error, (urllib3.exceptions.LocationParseError, requests.exceptions.InvalidURL, UnicodeError)):
        return 'invalid BMC address'
    if _find(error, (urllib3.exceptions.ProtocolError, ConnectionError)):
        return 'Connection closed by peer'
    return type(error).__name__


class RestClient:
    """Base of the protocol clients: owns one node's HTTPS session and the request funnel.

    Subclasses give ``_error_message`` (how their BMC words an error body) and the
    resource methods. Use as a context manager: ``__exit__`` logs out (when the work
    ended normally or with an ordinary error) and closes the connection.
    """

    #: Name used in debug trace lines, e.g. ``openbmc_debug``.
    TRACE_TAG = 'rest_debug'

    #: The protocol says how long the BMC keeps an unused session (``read_session_timeout``).
    READS_SESSION_TIMEOUT = False

    def __init__(self, node, host, username, password, *, ctx, session=None, trace=None):
        """:param node: xCAT node name, carried by every error.
        :param host: BMC address, ``ip`` or ``ip:port`` (``bmcip`` of the node info).
        :param username: BMC user.
        :param password: BMC password; never logged.
        :param ctx: the run's ``RunContext`` (timeouts, TLS, retries).
        :param session: a ``requests.Session`` to use instead of a new one (tests).
        :param trace: callable taking one line, called per request in debug mode.
        """
        self.node = node
        self.host = host
        self.username = username
        self._password = password
        self._ctx = ctx
        self._timeout = (ctx.connect_timeout, ctx.read_timeout)
        #: Bound on one whole request (connect, TLS, and the complete reply): the read
        #: timeout alone bounds each read, and a BMC dripping a byte at a time could
        #: otherwise hold the node for hours.
        self._request_bound = ctx.connect_timeout + ctx.read_timeout
        self._urllib3_timeout = urllib3.Timeout(connect=ctx.connect_timeout, read=ctx.read_timeout)
        #: The node's ``requests`` session, made on first use (``_session``): a warm agent's
        #: client mostly adopts a parked one, and building one costs a fifth of a warm request.
        self._http = session
        self._trace = trace
        self._base = 'https://%s' % format_host(host)
        _check_address(node, host, self._base)
        #: Headers of every request; subclasses add their credentials (cookie, token, Basic).
        self._headers = {'Content-Type': 'application/json', 'Accept': 'application/json'}
        #: The request's ``SessionTracker`` (None outside a request): it holds us while we
        #: hold a BMC session, so that a deadline or a stop can log us out.
        self._tracker = getattr(ctx, 'sessions', None)
        self._logged_in = False
        #: The warm agent's ``BmcCache`` and our key in it, set by ``reuse_or_login``: a client
        #: that ends its work normally is parked there instead of logged out.
        self._cache = None
        self._cache_key = None
        #: The session came from the cache: a 401 means it ended on the BMC (timeout, reboot).
        self._reused = False
        #: Seconds the BMC keeps an unused session as it said (``read_session_timeout``); 0 when
        #: it did not say, None until asked (once per BMC session, by a warm agent only).
        self.session_timeout = None
        #: The ``ResumingContext`` of a connection the cache closed (``unplug``): the next one
        #: resumes its TLS session.
        self._resume = None

    @property
    def _session(self):
        if self._http is None:
            # Only a warm agent's clients reconnect to the same BMC: only they resume TLS sessions,
            # where the agent does (``BmcCache.tls_resume``).
            cache = getattr(self._ctx, 'cache', None)
            self._http = new_session(self._resume or self._ctx.ssl_context,
                                     resume=cache is not None and cache.tls_resume)
        return self._http

    @_session.setter
    def _session(self, value):
        self._http = value

    @property
    def logged_in(self):
        """Whether we hold a BMC session that needs a logout; setting it (un)registers the client."""
        return self._logged_in

    @logged_in.setter
    def logged_in(self, value):
        self._logged_in = bool(value)
        if self._tracker is not None:
            if self._logged_in:
                self._tracker.add(self)
            else:
                self._tracker.discard(self)

    def forget_session(self):
        """Drop our BMC session without a logout: the BMC is gone, or going down and takes it along."""
        self.logged_in = False

    def __enter__(self):
        return self

    def reuse_or_login(self, cache):
        """Take this BMC's parked session from ``cache`` (the warm agent's), else log in.

        Reuse is invisible: a 401 on a reused session is one new login and the request
        again (``_request``); the client is parked again on a normal end (``__exit__``).
        """
        if cache is None:
            self.login()
            return
        self._cache = cache
        self._cache_key = cache.key(self.host, self.username, self._password, self._ctx)
        parked = cache.take(self._cache_key)
        if parked is None:
            self.login()
            return
        if self._http is not None:
            self._http.close()
        # A parked client whose idle connection the cache closed has no HTTP session: ours is
        # made on first use and resumes the TLS session that connection had (``_resume``).
        self._http = parked._http
        self._resume = parked._resume
        self.session_timeout = parked.session_timeout
        self._adopt_session(parked)
        self._reused = True
        self.logged_in = True

    def _adopt_session(self, parked):
        """Take the BMC session (credentials headers, session location) of a parked client."""
        raise NotImplementedError

    def _forget_session(self):
        """Drop a session the BMC no longer knows (no logout): the next login starts afresh."""
        self._headers.pop('Cookie', None)
        self._headers.pop('X-Auth-Token', None)
        self.logged_in = False

    def _park(self, exc_type):
        """Hand the session to the warm agent's cache after a normal end; :returns: whether it was."""
        if self._cache is None or not self.logged_in:
            return False
        if exc_type is not None and (not issubclass(exc_type, exc.AgentError)
                                     or issubclass(exc_type, (exc.BmcUnreachable, exc.BmcAuthError))):
            return False
        self._shed()
        tracker, trace = self._tracker, self._trace
        # Parked: no request holds it any more; its logout is the cache's (eviction, exit).
        self._tracker, self._trace = None, None
        if tracker is not None:
            tracker.discard(self)
        remember_tls_session(self._session)
        if self.session_timeout is None and self.READS_SESSION_TIMEOUT:
            # Asked once per BMC session, after the node's work: its result line does not wait.
            parked = self._cache.put_after(self._cache_key, self, self._learn_session_timeout)
        else:
            parked = self._cache.put(self._cache_key, self)
        if parked:
            return True
        self._tracker, self._trace = tracker, trace
        if tracker is not None:
            tracker.add(self)
        return False

    def read_session_timeout(self):
        """Seconds the BMC keeps an unused session, or None when it does not say."""
        return None

    def _learn_session_timeout(self):
        """Ask the BMC its session timeout (``read_session_timeout``) for the cache's idle bound."""
        try:
            timeout = self.read_session_timeout()
        except exc.AgentError as error:
            LOG.info('%s: the session timeout could not be read (%s); the default idle bound applies',
                     self.node, error)
            timeout = None
        self.session_timeout = timeout or 0
        remember_tls_session(self._session)

    def _shed(self):
        """Drop what a parked client need not keep: only the BMC session and the https connection
        are reused (``_adopt_session``). Subclasses drop what their node's work read."""
        # requests mounts an http:// adapter too (a PoolManager, a Retry, locks): 2.4 kB per
        # kept session (docs/DESIGN.md, "Warm agent").
        if self._http is not None:
            self._http.adapters.pop('http://', None)

    def __exit__(self, exc_type, exc_value, tb):
        # A gevent.Timeout (the deadline), GreenletExit or a stop means the node was cut off:
        # the session stays with the request's tracker, which logs out every such session
        # at once within one short bound (common/task.py). After a transport failure there
        # is no logout: it would likely cost another full timeout for nothing.
        cut_off = exc_type is not None and not issubclass(exc_type, Exception)
        if cut_off and self.logged_in and self._tracker is not None:
            return False
        if not cut_off and self._park(exc_type):
            return False
        handed_over = False
        try:
            if self.logged_in and not cut_off and not (exc_type is not None
                                                       and issubclass(exc_type, exc.BmcUnreachable)):
                try:
                    self.logout()
                except exc.AgentError as error:
                    LOG.info('%s: logout failed: %s', self.node, error)
                except BaseException:
                    # Cut off during the logout itself: the tracker sends it again with the others.
                    if self._tracker is not None:
                        self._tracker.add(self)
                        handed_over = True
                    raise
        finally:
            if not handed_over:
                if self._tracker is not None:
                    self._tracker.discard(self)
                self.close()
        return False

    def close(self):
        """Close the node's connection."""
        if self._http is not None:
            self._http.close()

    def unplug(self):
        """Parked and idle: close the connection and drop the HTTP session (its pools and TLS
        socket), keeping the BMC session; the next request (the logout at eviction or exit, or
        the next client that takes this one's session) makes a new one (``_session``), which
        connects again and resumes the TLS session."""
        if self._http is None:
            return
        remember_tls_session(self._http)
        self._resume = _resuming_context(self._http) or self._resume
        self._http.close()
        self._http = None

    def login(self):
        raise NotImplementedError

    def logout(self):
        raise NotImplementedError

    def _error_message(self, status, payload):
        """The BMC's own words for an error reply (``payload`` is the parsed body or None)."""
        return 'HTTP %d' % status

    def _basic_auth(self):
        """The value of an HTTP Basic ``Authorization`` header for this node's credentials."""
        pair = ('%s:%s' % (self.username, self._password)).encode('utf-8')
        return 'Basic ' + base64.b64encode(pair).decode('ascii')

    def resolve(self, ref, what='Link', base=None):
        """The absolute URL of a reference from this BMC, refused unless it stays on the BMC.

        :param ref: the reference (``Location`` value, ``@odata.id``, action target...).
        :param what: what the reference is, for the error (``Location``, ``@odata.id``...).
        :param base: URL the reference came with, for relative references.
        :raises BmcLinkOutside: ``<what> "<ref>" points outside https://<bmc>``; nothing is sent.
        :raises BmcBadResponse: ``ref`` is not a string.
        """
        if not isinstance(ref, str):
            raise exc.BmcBadResponse(node=self.node, detail='%s %s is not a URI' % (what, json.dumps(ref)[:200]))
        try:
            return resolve_link(self._base, ref, base)
        except ValueError as why:
            shown = ref if len(ref) <= 200 else ref[:200] + '...'
            LOG.warning('%s: refused %s %r: %s', self.node, what, shown, why)
            raise exc.BmcLinkOutside(node=self.node, detail='%s "%s" points outside %s' % (what, shown, self._base))

    def resolve_path(self, ref, what='Link', base=None):
        """As ``resolve``, but the path (and query) on the BMC: ``/redfish/v1/Systems/1``."""
        return self.resolve(ref, what, base)[len(self._base):]

    def _curl(self, method, url, body):
        """A replayable curl line for the debug trace, with secrets masked."""
        line = 'curl -k -X %s -H "Content-Type: application/json"' % method
        for name in ('Authorization', 'X-Auth-Token', 'Cookie'):
            if name in self._headers:
                line += ' -H "%s: %s"' % (name, MASK)
        line += ' %s' % url
        if body is not None:
            line += " -d '%s'" % json.dumps(sanitize(body))
        return line

    def _request(self, method, path, body=None, *, login=False, ok=(200,), trace_body=None):
        """``_request_once``; on a session reused from the warm agent's cache, a 401 is one new
        login and the request once more (the BMC did not act on a refused request)."""
        try:
            return self._request_once(method, path, body, login=login, ok=ok, trace_body=trace_body)
        except exc.BmcAuthError as error:
            if login or not self._reused or error.kwargs.get('status') != 401:
                raise
        self._reused = False
        LOG.info('%s: the BMC no longer knows the kept session; logging in again', self.node)
        self._forget_session()
        self.login()
        return self._request_once(method, path, body, login=login, ok=ok, trace_body=trace_body)

    def _request_once(self, method, path, body=None, *, login=False, ok=(200,), trace_body=None):
        """Send one request and return ``(status, parsed JSON or None, response headers)``.

        Retries (``ctx.retries`` at most, ``ctx.retry_delay`` apart, each logged): a 503
        for any method (the BMC did not act on it), a refused or reset connection only for
        GET (idempotent). Timeouts are never retried: they would multiply the time a dead
        BMC costs.

        :param path: absolute path (``/login``) or full URL on the BMC's origin (``resolve``).
        :param body: JSON-serialisable body, or None for no body.
        :param login: transport failures are worded as login failures.
        :param ok: statuses that are success; others raise.
        :param trace_body: what the debug trace shows instead of ``body`` (secrets masked
            by the caller where ``sanitize`` cannot know them, as in a login list).
        :raises BmcUnreachable: transport failure (refused, timeout, TLS, reset).
        :raises BmcAuthError: 401/403.
        :raises BmcHTTPError: any other status not in ``ok``.
        :raises BmcBadResponse: a success body that is not JSON, or a body over ``MAX_BODY``;
            ``path`` outside the BMC's origin (nothing sent).
        """
        # Every URL, built by us or taken from a reply, is checked here once more: whatever a
        # call site forgot, no request (and no credential) ever leaves the BMC's origin.
        url = self.resolve(path)
        data = None if body is None else json.dumps(body)
        retries = self._ctx.retries
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(self._ctx.retry_delay)
            if self._trace:
                self._trace('%s %s: [%s] %s' % (time.asctime(), self.node, self.TRACE_TAG,
                                                self._curl(method, url, trace_body or body)))
            try:
                status, payload, headers = self._send(method, url, data, strict=login or method == 'GET')
            except exc.BmcUnreachable as error:
                cause = error.kwargs['cause']
                if method != 'GET' or error.kwargs.get('timed_out') or attempt == retries:
                    if login:
                        raise exc.BmcLoginUnreachable(node=self.node, host=host_port(self.host), cause=cause)
                    raise
                LOG.warning('%s: %s %s failed (%s), retry %d of %d', self.node, method, url, cause,
                            attempt + 1, retries)
                continue
            if self._trace:
                self._trace('%s %s: [%s] %s %s %s' % (time.asctime(), self.node, self.TRACE_TAG, method,
                                                      status, http.client.responses.get(status, '')))
            if status in ok:
                return status, payload, headers
            if status not in TRANSIENT_STATUSES or attempt == retries:
                self._raise_for_status(status, payload, login)
            LOG.warning('%s: %s %s answered %d, retry %d of %d', self.node, method, url, status,
                        attempt + 1, retries)
        raise AssertionError('unreachable')

    def _raise_for_status(self, status, payload, login):
        message = self._error_message(status, payload)
        if status == 502:
            cause = 'Verify REST server is running on the BMC'
            if login:
                raise exc.BmcLoginUnreachable(node=self.node, host=host_port(self.host), cause=cause)
            raise exc.BmcUnreachable(node=self.node, host=self.host, cause=cause)
        if status in (401, 403):
            raise exc.BmcAuthError(node=self.node, status=status, bmc_message=message)
        raise exc.BmcHTTPError(node=self.node, status=status, bmc_message=message)

    def _send(self, method, url, data, *, strict=True):
        """One HTTP exchange: ``(status, parsed JSON or None, headers)``.

        :param strict: a success reply whose body is not JSON is a ``BmcBadResponse``;
            otherwise (an action or a PATCH, where the status says it all) it counts as
            no body.
        """
        # NOTE: the request goes to the session's transport adapter, and with ours straight to
        # urllib3 (``_ContextAdapter.urlopen``): Session.request would merge cookies, settings and
        # hooks we do not use (about 0.4 ms per request), and requests' Response another 0.1 ms.
        # We keep our own credentials headers, and redirects are the protocol client's call.
        headers = self._headers
        body = None
        if data is not None:
            body = data.encode('utf-8')
            headers = dict(headers, **{'Content-Length': str(len(body))})
        try:
            with gevent.Timeout(self._request_bound, _ReplyTooSlow):
                adapter = self._session.get_adapter(url)
                if isinstance(adapter, _ContextAdapter):
                    response = adapter.urlopen(method, url, body, headers, self._urllib3_timeout, self._ctx.verify)
                else:  # an adapter a test mounted (requests-mock): requests' own way
                    prepared = PreparedRequest()
                    prepared.method, prepared.url, prepared.body = method, url, body
                    prepared.headers = CaseInsensitiveDict(headers)
                    response = adapter.send(prepared, stream=True, timeout=self._timeout, verify=self._ctx.verify,
                                            cert=None, proxies={}).raw
                # NOTE: urllib3 2.x fails a body shorter than its Content-Length; 1.26 (the
                # distributions' oldest) only does so when asked. Asked on both.
                response.enforce_content_length = True
                try:
                    raw = self._read_body(response)
                except BaseException:
                    response.close()  # part of a reply is left on the connection: not reusable
                    raise
                finally:
                    response.release_conn()
        except exc.AgentError:
            raise
        except _ReplyTooSlow:
            self._session.close()
            raise exc.BmcUnreachable(node=self.node, host=self.host, timed_out=True,
                                     cause='no complete reply within %g s' % self._request_bound)
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            LOG.debug('%s: %s %s: %r', self.node, method, url, error)
            cause = transport_cause(error, *self._timeout)
            raise exc.BmcUnreachable(node=self.node, host=self.host, cause=cause, timed_out='timeout' in cause)
        payload = None
        if raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                if not strict and 200 <= response.status < 300:
                    LOG.info('%s: %s %s answered %d with a body that is not JSON; taken as no body',
                             self.node, method, url, response.status)
                elif 200 <= response.status < 300:
                    raise exc.BmcBadResponse(node=self.node,
                                             detail='%s %s answered %d with a body that is not JSON'
                                             % (method, url, response.status))
        return response.status, payload, response.headers

    def _read_body(self, response):
        chunks = []
        size = 0
        for chunk in response.stream(_CHUNK, decode_content=True):
            size += len(chunk)
            if size > MAX_BODY:
                raise exc.BmcBadResponse(node=self.node, detail='reply larger than %d bytes' % MAX_BODY)
            chunks.append(chunk)
        return b''.join(chunks)
