"""AgentServer: the UNIX-socket server; validates each request, then runs it.

One connection carries one request frame and the reply frames; the agent closes the
connection when the command is done (docs/xcat-facts.md#wire-protocol).
"""

import dataclasses
import logging
import os
import resource
import socket
import types

import gevent
import gevent.event
import gevent.lock
from gevent.server import StreamServer

from common import exceptions as exc
from common.task import STOP_KILL_BOUND, STOP_LOGOUT_BOUND, RunContext
from common.utils import Messager, recv_frame
from xcatagent.openbmc import OpenBMCManager
from xcatagent.redfish import RedfishManager

LOG = logging.getLogger(__name__)

MANAGERS = types.MappingProxyType({'openbmc': OpenBMCManager, 'redfish': RedfishManager})

NODEINFO_KEYS = ('bmc', 'bmcip', 'username', 'password')

#: Open files the agent needs beside one socket per node worked on at once.
FILES_SLACK = 64


def fit_pool_to_file_limit(ctx, messager, nodes):
    """Raise the open-file limit to what the nodes worked on at once need, or shrink the pool.

    Each node worked on holds one socket, and at most ``min(ctx.pool_size, nodes)`` are worked
    on at once. When the hard limit is too low for that, the admin is warned and the pool
    shrinks, rather than nodes failing with "Too many open files".

    :param nodes: how many nodes the request names.
    :returns: ``ctx``, or a copy with a smaller ``pool_size``.
    """
    at_once = max(1, min(ctx.pool_size, nodes))
    wanted = at_once + FILES_SLACK
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return ctx
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    except (ValueError, OSError) as error:
        LOG.warning('cannot raise the open-file limit to %d: %s', target, error)
    if soft >= wanted:
        return ctx
    pool = max(1, soft - FILES_SLACK)
    messager.warn('open-file limit %d is too low for %d nodes at once; working on %d nodes at once'
                  % (soft, at_once, pool))
    return dataclasses.replace(ctx, pool_size=pool)


def validate_request(req):
    """Check a decoded request before any work.

    :returns: ``(manager_class, command, args, cwd, nodeinfo, envs)`` with normalised types.
    :raises InvalidRequest: the first problem found, worded for the admin.
    :raises Unsupported: unknown module or command.
    """
    if not isinstance(req, dict):
        raise exc.InvalidRequest(detail='the request must be a JSON object, not %s' % type(req).__name__)
    module = req.get('module')
    if not isinstance(module, str) or not module:
        raise exc.InvalidRequest(detail='Please specify the request module')
    manager = MANAGERS.get(module)
    if manager is None:
        raise exc.Unsupported(detail='module %s' % module)
    command = req.get('command')
    if not isinstance(command, str) or not command:
        raise exc.InvalidRequest(detail='Could not find command')
    if command not in manager.COMMANDS:
        raise exc.Unsupported(detail=command)
    args = req.get('args')
    if args is None:
        args = []
    if not isinstance(args, list) or not all(isinstance(a, (str, int, float)) and not isinstance(a, bool)
                                             for a in args):
        raise exc.InvalidRequest(detail='args must be a list of strings')
    args = [str(a) for a in args]
    cwd = req.get('cwd')
    if isinstance(cwd, list):
        cwd = cwd[0] if cwd else ''
    if not isinstance(cwd, str):
        raise exc.InvalidRequest(detail='Please specify the cwd parameter')
    nodes = req.get('nodes')
    if nodes is not None and (not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes)):
        raise exc.InvalidRequest(detail='nodes must be a list of node names')
    nodeinfo = req.get('nodeinfo')
    if not isinstance(nodeinfo, dict) or not nodeinfo:
        raise exc.InvalidRequest(detail='nodeinfo must be a non-empty object of nodes')
    for node, info in nodeinfo.items():
        if not isinstance(info, dict):
            raise exc.InvalidRequest(detail='nodeinfo of %s must be an object' % node)
        for key in NODEINFO_KEYS:
            value = info.get(key)
            if not isinstance(value, str) or not value:
                raise exc.InvalidRequest(detail='nodeinfo of %s lacks %s' % (node, key))
    envs = req.get('envs')
    if envs is None:
        envs = {}
    if not isinstance(envs, dict):
        raise exc.InvalidRequest(detail='envs must be an object')
    return manager, command, args, cwd, nodeinfo, envs


def _alive_every(req):
    """The interval of ``alive`` frames the request asks for (its ``alive`` key, seconds), or None.

    Our broker asks for them and bounds the agent's silence by a few intervals
    (docs/DESIGN.md, "Reply frames"); xCAT's broker and client.py do not ask.
    """
    every = req.get('alive')
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not 0.1 <= every <= 3600:
        return None
    return every


def _heartbeat(messager, every):
    """Send an ``alive`` frame every ``every`` seconds until killed."""
    while not messager.closed:
        gevent.sleep(every)
        messager.alive(every)


def _drain(sock, limit=1024 * 1024, seconds=2.0):
    """Half-close and discard what the peer still sends, so our error frame is not lost.

    Closing a socket with unread input makes the kernel send a reset, and the peer may
    then never read the frame we just wrote. Bounded in bytes and time.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        with gevent.Timeout(seconds, False):
            while limit > 0:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                limit -= len(chunk)
    except OSError:
        pass


class AgentServer:
    """Serves requests on a UNIX socket.

    Not standalone (as xcatd runs it): serves one connection, then ``run`` returns.
    Standalone: serves connections until ``stop``.
    """

    def __init__(self, path, *, standalone=False, request_timeout=30.0, accept_timeout=60.0, defaults=None):
        """:param path: socket path; an existing file there is replaced.
        :param request_timeout: seconds a client may take to send its request frame.
        :param accept_timeout: not standalone, seconds to wait for the one connection
            before giving up (the broker connects within a few seconds of starting us).
        :param defaults: ``RunContext`` field overrides from the command line.
        """
        self.path = path
        self.standalone = standalone
        self.request_timeout = request_timeout
        self.accept_timeout = accept_timeout
        self.defaults = dict(defaults or {})
        self._done = gevent.event.Event()
        self._connected = gevent.event.Event()
        self._server = None
        #: ``SessionTracker`` of each request being served, stopped together by ``_stop_requests``.
        self._requests = set()
        self.failed = False

    def _listen(self):
        """A listening socket at ``self.path``, which appears only once it accepts.

        NOTE: between ``bind()`` and ``listen()`` the socket file exists but refuses
        connections; a client (the broker, a test) that sees the file then gets
        ECONNREFUSED. So we bind a temporary name in the same directory, listen, and
        rename it into place (atomic, and it replaces a stale socket). The temporary name,
        ``.s<pid>``, is no longer than ``agent.sock``: a socket path is limited to 107 bytes,
        and the broker's private directories come close.
        """
        temporary = os.path.join(os.path.dirname(self.path), '.s%d' % os.getpid())
        if len(temporary) > len(self.path):
            temporary = self.path
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            old = os.umask(0o077)
            try:
                listener.bind(temporary)
            finally:
                os.umask(old)
            listener.listen(16)
            if temporary != self.path:
                os.rename(temporary, self.path)
        except BaseException:
            listener.close()
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise
        return listener

    def start(self):
        """Bind the socket and start accepting connections."""
        self._server = StreamServer(self._listen(), self._handle)
        self._server.start()
        LOG.info('listening on %s', self.path)

    def run(self):
        """Block until one request is served (or, standalone, until ``stop``), then clean up."""
        if self._server is None:
            self.start()
        if not self.standalone:
            gevent.wait([self._connected, self._done], timeout=self.accept_timeout, count=1)
            if not self._connected.is_set() and not self._done.is_set():
                LOG.error('no connection on %s within %g s; stopping', self.path, self.accept_timeout)
                self.failed = True
                self.stop()
        self._done.wait()
        self._stop_requests()
        self._shutdown()

    def stop(self):
        """Stop serving (safe to call from a signal handler greenlet)."""
        self._done.set()

    def _stop_requests(self):
        """Interrupt the requests still running and log out every BMC session they hold, all at once.

        Bounded by ``STOP_KILL_BOUND`` + ``STOP_LOGOUT_BOUND`` in total (docs/DESIGN.md).
        """
        trackers = list(self._requests)
        if not trackers:
            return
        LOG.info('stopping %d running requests', len(trackers))
        gevent.joinall([gevent.spawn(tracker.stop) for tracker in trackers],
                       timeout=STOP_KILL_BOUND + STOP_LOGOUT_BOUND + 1)

    def _shutdown(self):
        if self._server is not None:
            self._server.stop(timeout=5)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _handle(self, sock, _address):
        self._connected.set()
        messager = Messager(sock, gevent.lock.BoundedSemaphore())
        try:
            self._serve_one(sock, messager)
        except Exception:
            self.failed = True
            LOG.exception('request failed')
            messager.error('Internal error in the xCAT agent; see the agent log for details.')
        finally:
            try:
                sock.close()
            finally:
                if not self.standalone:
                    self.stop()

    def _serve_one(self, sock, messager):
        try:
            with gevent.Timeout(self.request_timeout, exc.InvalidRequest(
                    detail='no request received within %g s' % self.request_timeout)):
                req = recv_frame(sock)
            if req is None:
                LOG.info('client closed the connection without a request')
                return
            manager_class, command, args, cwd, nodeinfo, envs = validate_request(req)
            ctx = RunContext.from_envs(envs, cwd=cwd, **self.defaults)
        except exc.AgentError as error:
            LOG.warning('bad request: %s', error)
            self.failed = True
            messager.error(str(error))
            _drain(sock)
            return
        LOG.info('%s %s %s on %d nodes', req['module'], command, ' '.join(args), len(nodeinfo))
        ctx = fit_pool_to_file_limit(ctx, messager, len(nodeinfo))
        every = _alive_every(req)
        beat = gevent.spawn(_heartbeat, messager, every) if every else None
        self._requests.add(ctx.sessions)
        try:
            manager_class(messager, ctx).run(command, nodeinfo, args)
        finally:
            self._requests.discard(ctx.sessions)
            if beat is not None:
                beat.kill(block=False)
