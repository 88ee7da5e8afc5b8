"""AgentServer: the UNIX-socket server; validates each request, then runs it.

One connection carries one request frame and the reply frames; the agent closes the
connection when the command is done (docs/xcat-facts.md#wire-protocol).
"""

import dataclasses
import hashlib
import logging
import os
import resource
import socket
import struct
import time
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


def agent_stamp(directory):
    """The stamp of the agent's files: their relative paths, sizes and whole-second mtimes.

    The broker computes the same stamp of the agent it would start (``xCAT::PyAgent::agent_stamp``)
    and sends it in its request; a warm agent whose stamp differs is outdated (docs/DESIGN.md).
    """
    lines = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(('.', '__')))
        for name in sorted(files):
            if not name.endswith('.py'):
                continue
            path = os.path.join(root, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            lines.append('%s:%d:%d\n' % (os.path.relpath(path, directory), info.st_size, int(info.st_mtime)))
    return hashlib.sha1(''.join(sorted(lines)).encode('utf-8')).hexdigest()


def peer_uid(sock):
    """The uid of the process at the other end of a UNIX socket (``SO_PEERCRED``), or None."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize('3i'))
    except (OSError, AttributeError):
        return None
    return struct.unpack('3i', raw)[1]


def check_private_dir(directory):
    """Make ``directory`` (mode 0700) or check that only we can enter it.

    :raises OSError: it belongs to someone else or others may enter it.
    """
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(directory)
    if not os.path.isdir(directory) or os.path.islink(directory) or info.st_uid != os.getuid() \
            or info.st_mode & 0o077:
        raise OSError('%s must be a directory of uid %d that only its owner can enter' % (directory, os.getuid()))


def _watch_client(sock, tracker):
    """Stop the request when its client goes away (closes the socket): the broker was told to
    stop (a client abort), and the nodes it no longer waits for are cancelled and logged out."""
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass
    if not tracker.stopping:
        LOG.info('the client closed its connection: stopping its request')
        tracker.stop()


class AgentServer:
    """Serves requests on a UNIX socket.

    Not standalone (as xcatd runs it): serves one connection, then ``run`` returns.
    Standalone: serves connections until ``stop``.
    """

    def __init__(self, path, *, standalone=False, request_timeout=30.0, accept_timeout=60.0, defaults=None,
                 warm=False, idle=300.0, stamp=None, cache=None):
        """:param path: socket path; an existing file there is replaced.
        :param request_timeout: seconds a client may take to send its request frame.
        :param accept_timeout: not standalone, seconds to wait for the one connection
            before giving up (the broker connects within a few seconds of starting us).
        :param defaults: ``RunContext`` field overrides from the command line.
        :param warm: the warm agent (docs/DESIGN.md, "Warm agent"): many requests at once, peers
            checked, exits after ``idle`` seconds without a request, keeps BMC sessions in ``cache``.
        :param stamp: the warm agent's stamp (``agent_stamp``), compared with a request's ``stamp``.
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
        self.warm = warm
        self.idle = idle
        self.stamp = stamp
        self.cache = cache
        #: requests being served (warm), and when the last one ended.
        self._active = 0
        self._last_active = time.monotonic()
        self._draining = False
        self._inode = None

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
            listener.listen(128 if self.warm else 16)
            if temporary != self.path:
                os.rename(temporary, self.path)
            self._inode = os.stat(self.path).st_ino
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
        if self.warm:
            self._write_pid()
        LOG.info('listening on %s', self.path)

    @property
    def pid_path(self):
        """Warm: ``agent.pid`` beside the socket, for tests and admins (``kill $(cat ...)``)."""
        return os.path.join(os.path.dirname(self.path), 'agent.pid')

    def _write_pid(self):
        temporary = '%s.%d' % (self.pid_path, os.getpid())
        with open(temporary, 'w') as handle:
            handle.write('%d\n' % os.getpid())
        os.rename(temporary, self.pid_path)

    def run(self):
        """Block until one request is served (or, standalone, until ``stop``), then clean up."""
        if self._server is None:
            self.start()
        if self.warm:
            watcher = gevent.spawn(self._idle_watch)
            if self.cache is not None:
                self.cache.start_sweeper()
        elif not self.standalone:
            gevent.wait([self._connected, self._done], timeout=self.accept_timeout, count=1)
            if not self._connected.is_set() and not self._done.is_set():
                LOG.error('no connection on %s within %g s; stopping', self.path, self.accept_timeout)
                self.failed = True
                self.stop()
        self._done.wait()
        self._stop_requests()
        if self.warm:
            watcher.kill(block=False)
            self._unlink_own_socket()
            if self.cache is not None and len(self.cache):
                # Nobody waits on this exit with a kill: a second more per 1000 sessions, at most 30 s.
                bound = min(30.0, STOP_LOGOUT_BOUND + len(self.cache) / 1000.0)
                LOG.info('exiting: logging out %d kept BMC sessions (at most %g s)', len(self.cache), bound)
                self.cache.close(bound)
        self._shutdown()

    def _idle_watch(self):
        """Warm: stop after ``idle`` seconds without a request, or once drained."""
        every = max(0.05, min(self.idle / 4.0, 1.0))
        while not self._done.is_set():
            gevent.sleep(every)
            if self._active:
                continue
            if self._draining:
                LOG.info('drained: exiting')
                self.stop()
            elif time.monotonic() - self._last_active >= self.idle:
                LOG.info('no request for %g s: exiting', self.idle)
                self.stop()

    def drain(self):
        """Warm: accept no new request (the socket goes, so the next broker starts a newer
        agent), finish the running ones, then exit."""
        if self._draining:
            return
        self._draining = True
        self._unlink_own_socket()
        if self._server is not None:
            self._server.stop_accepting()

    def _unlink_own_socket(self):
        """Remove the socket and pid files, only if still ours (a newer agent may have replaced them)."""
        try:
            if self._inode is not None and os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except OSError:
            pass
        self._inode = None
        try:
            with open(self.pid_path) as handle:
                ours = handle.read().strip() == str(os.getpid())
            if ours:
                os.unlink(self.pid_path)
        except (OSError, ValueError):
            pass

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
        if self.warm:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _handle(self, sock, _address):
        self._connected.set()
        messager = Messager(sock, gevent.lock.BoundedSemaphore())
        if self.warm:
            uid = peer_uid(sock)
            if uid is None or uid not in (0, os.getuid()):
                LOG.warning('refused a client of uid %s (only uid %d and root may connect)', uid, os.getuid())
                messager.error('Invalid request: uid %s may not use this agent' % uid)
                sock.close()
                return
            self._active += 1
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
                if self.warm:
                    self._active -= 1
                    self._last_active = time.monotonic()
                elif not self.standalone:
                    self.stop()

    def _serve_one(self, sock, messager):
        try:
            with gevent.Timeout(self.request_timeout, exc.InvalidRequest(
                    detail='no request received within %g s' % self.request_timeout)):
                req = recv_frame(sock)
            if req is None:
                LOG.info('client closed the connection without a request')
                return
            if self.warm and isinstance(req, dict) and 'stamp' in req:
                if req['stamp'] != self.stamp:
                    LOG.info('a client expects agent %s, this is %s: draining', req['stamp'], self.stamp)
                    self.drain()
                    messager.control('outdated', stamp=self.stamp)
                    return
                messager.control('accepted', stamp=self.stamp, pid=os.getpid())
            manager_class, command, args, cwd, nodeinfo, envs = validate_request(req)
            ctx = RunContext.from_envs(envs, cwd=cwd, cache=self.cache, **self.defaults)
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
        watch = gevent.spawn(_watch_client, sock, ctx.sessions) if self.warm else None
        try:
            manager_class(messager, ctx).run(command, nodeinfo, args)
        finally:
            self._requests.discard(ctx.sessions)
            if beat is not None:
                beat.kill(block=False)
            if watch is not None:
                watch.kill(block=False)
