"""The task runner: run one operation on every node in a bounded gevent pool.

Hook contract, for an operation ``op`` of an executor (the interfaces in ``hwctl/``):

* ``validate_<op>(*args)`` runs once for the whole fleet before anything is sent. It
  raises ``InvalidRequest`` (or another ``AgentError``); every node then gets that
  error as its line and nothing is sent to any BMC.
* ``pre_<op>(*args)`` runs once, after validation, before the per-node work.
* ``<op>(node, nodeinfo, *args)`` runs once per node, in its own greenlet. It returns
  the node's result (the text after ``node: ``, or a ``NodeResult``) and raises an
  ``AgentError`` on failure. It never writes the node's final line itself.
* ``post_<op>(results)`` runs once after every node finished, with ``{node: result}``
  of the nodes that succeeded.

This module is the one place that turns outcomes into per-node lines: every node gets
exactly one final line, ``node: <result>`` (info) or ``node: Error: <message>`` (error),
whatever happens to it; one failing or hanging node never affects another.
"""

import contextlib
import dataclasses
import json
import logging
import time
import types
from typing import Optional

import gevent
from gevent.pool import Pool

from common import exceptions as exc
from common.nodework import NodeResult
from common.rest import build_ssl_context

LOG = logging.getLogger(__name__)

#: Default number of nodes worked on at once, as xCAT's agent.
DEFAULT_POOL_SIZE = 1000

#: Seconds all the BMC sessions still open may take, together, to be logged out when the
#: deadline cuts nodes off or the agent is told to stop (docs/DESIGN.md, bounds).
STOP_LOGOUT_BOUND = 5.0

#: Seconds the node greenlets of a request may take to leave their work when the agent stops.
STOP_KILL_BOUND = 1.0


class StopRequested(BaseException):
    """Raised in a node's greenlet when the agent is told to stop.

    A BaseException, as ``gevent.Timeout`` is: no ``except Exception`` on the way may
    swallow it, and ``RestClient.__exit__`` leaves the session to ``SessionTracker``.
    """


class SessionTracker:
    """The logged-in BMC clients and the node greenlets of one request.

    One per request (``RunContext.sessions``), never shared. A client registers itself
    when its login succeeds and leaves when it logged out or gave up on the BMC. A client
    whose node was cut off (deadline, stop) stays registered, and ``logout_all`` logs every
    such session out at once, within ``STOP_LOGOUT_BOUND`` seconds in total.

    A login still in flight when the stop comes is not known here: if the BMC completes it,
    that session is left to time out on the BMC (docs/DESIGN.md).
    """

    def __init__(self):
        self._clients = set()
        self._workers = set()
        #: set by ``stop``: nodes not started yet do no work.
        self.stopping = False

    def add(self, client):
        """Track a client that holds a BMC session."""
        self._clients.add(client)

    def discard(self, client):
        """Forget a client: its session ended or is not ours to end."""
        self._clients.discard(client)

    def __len__(self):
        return len(self._clients)

    @contextlib.contextmanager
    def working(self):
        """Mark the current greenlet as one node's work, which ``stop`` interrupts."""
        current = gevent.getcurrent()
        self._workers.add(current)
        try:
            yield
        finally:
            self._workers.discard(current)

    def stop(self, bound=STOP_LOGOUT_BOUND):
        """Stop the request: interrupt every node's work, then log every session out.

        :param bound: seconds the logouts may take together.
        """
        self.stopping = True
        workers = list(self._workers)
        if workers:
            gevent.killall(workers, StopRequested, block=True, timeout=STOP_KILL_BOUND)
        self.logout_all(bound)

    def logout_all(self, bound=STOP_LOGOUT_BOUND):
        """Log out every tracked session at once; whatever is not done within ``bound`` seconds is dropped.

        :returns: how many sessions were logged out.
        """
        clients = list(self._clients)
        self._clients.clear()
        if not clients:
            return 0
        LOG.info('logging out %d BMC sessions (at most %g s)', len(clients), bound)
        done = []
        greenlets = [gevent.spawn(self._logout, client, done) for client in clients]
        gevent.joinall(greenlets, timeout=bound)
        left = [g for g in greenlets if not g.dead]
        if left:
            LOG.warning('%d BMC sessions not logged out within %g s; left to time out on the BMC', len(left), bound)
            gevent.killall(left, block=True, timeout=STOP_KILL_BOUND)
        return len(done)

    @staticmethod
    def _logout(client, done):
        try:
            client.logout()
            done.append(client)
        except exc.AgentError as error:
            LOG.info('%s: logout failed: %s', client.node, error)
        finally:
            client.close()


@dataclasses.dataclass(frozen=True)
class RunContext:
    """Settings of one command, passed from manager to task to executor to client."""

    #: log every REST call as a replayable curl line (secrets masked).
    debug: bool = False
    #: the admin's working directory.
    cwd: str = ''
    #: greenlets working on nodes at once.
    pool_size: int = DEFAULT_POOL_SIZE
    #: seconds to open TCP and TLS to one BMC.
    connect_timeout: float = 10.0
    #: seconds to wait for one HTTP reply.
    read_timeout: float = 30.0
    #: whole-command bound in seconds; None means no bound beyond the per-request ones.
    deadline: Optional[float] = None
    #: verify BMC certificates.
    verify: bool = False
    #: CA file used when verifying.
    ca_bundle: Optional[str] = None
    #: bound in seconds on waiting for a node to reach a state (reset/boot off-wait).
    state_wait: float = 60.0
    #: seconds between two state polls.
    poll_interval: float = 2.0
    #: extra attempts for idempotent reads and 503 replies.
    retries: int = 2
    #: seconds between two attempts.
    retry_delay: float = 1.0
    #: attempts of the power-on step of reset/boot.
    power_on_attempts: int = 2
    #: the shared TLS context (built by ``from_envs``).
    ssl_context: object = dataclasses.field(default=None, compare=False, repr=False)
    #: the request's ``SessionTracker`` (built by ``from_envs``): its sessions and node greenlets.
    sessions: object = dataclasses.field(default=None, compare=False, repr=False)
    #: the warm agent's ``common.cache.BmcCache`` (None in a one-shot agent): sessions kept between requests.
    cache: object = dataclasses.field(default=None, compare=False, repr=False)

    #: envs keys a request may carry, with their expected types and bounds.
    ENV_KEYS = types.MappingProxyType({
        'pool_size': (int, 1, 100000),
        'connect_timeout': (float, 0.001, 3600),
        'read_timeout': (float, 0.001, 3600),
        'deadline': (float, 0.001, 86400),
        'state_wait': (float, 0, 86400),
        'poll_interval': (float, 0.001, 3600),
        'retries': (int, 0, 10),
        'retry_delay': (float, 0, 600),
        'verify': (bool, None, None),
        'ca_bundle': (str, None, None),
    })

    #: envs key -> the broker's environment variable that sets it (docs/DESIGN.md), named in errors.
    ENV_VARIABLES = types.MappingProxyType({
        'pool_size': 'XCAT_BMC_POOL_SIZE', 'connect_timeout': 'XCAT_BMC_CONNECT_TIMEOUT',
        'read_timeout': 'XCAT_BMC_READ_TIMEOUT', 'deadline': 'XCAT_BMC_DEADLINE', 'verify': 'XCAT_BMC_VERIFY',
        'ca_bundle': 'XCAT_BMC_CA_BUNDLE', 'state_wait': 'XCAT_BMC_STATE_WAIT',
        'poll_interval': 'XCAT_BMC_POLL_INTERVAL',
    })

    @classmethod
    def _bad_setting(cls, key, value, rule):
        """``InvalidRequest`` naming the setting, its value and the rule it breaks.

        ``envs.read_timeout=abc (XCAT_BMC_READ_TIMEOUT): must be a number from 0.001 to 3600``
        """
        variable = cls.ENV_VARIABLES.get(key)
        shown = json.dumps(value) if not isinstance(value, str) else value
        return exc.InvalidRequest(detail='envs.%s=%s%s: %s' % (key, shown[:64], ' (%s)' % variable if variable else '',
                                                             rule))

    @classmethod
    def from_envs(cls, envs, cwd='', **overrides):
        """Build the context of a request from its ``envs`` object.

        :param envs: the request's ``envs`` dict (``debugmode`` and our optional keys).
        :param overrides: agent-level defaults (from the command line) applied first.
        :raises InvalidRequest: a key of the wrong type or out of bounds.
        """
        values = dict(overrides)
        for key, (kind, low, high) in cls.ENV_KEYS.items():
            if key not in envs or envs[key] is None:
                continue
            value = envs[key]
            if kind is bool:
                if not isinstance(value, bool) and value not in (0, 1, '0', '1'):
                    raise cls._bad_setting(key, value, 'must be true or false (1 or 0)')
                value = value in (True, 1, '1')
            elif kind is str:
                if not isinstance(value, str):
                    raise cls._bad_setting(key, value, 'must be a string')
            else:
                rule = 'must be a %s from %s to %s' % ('whole number' if kind is int else 'number', low, high)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or \
                        (kind is int and value != int(value)) or not low <= value <= high:
                    raise cls._bad_setting(key, value, rule)
                value = kind(value)
            values[key] = value
        debug = envs.get('debugmode')
        values['debug'] = bool(debug) and debug not in ('0', 0)
        values['cwd'] = cwd
        try:
            values['ssl_context'] = build_ssl_context(values.get('verify', False), values.get('ca_bundle'))
        except (OSError, ValueError) as error:
            raise exc.InvalidRequest(detail='cannot load CA bundle %s: %s' % (values.get('ca_bundle'), error))
        values['sessions'] = SessionTracker()
        return cls(**values)


class Task:
    """Runs one operation of one executor over a set of nodes."""

    def __init__(self, executor, inventory, messager, ctx):
        """:param executor: an object implementing one ``hwctl`` interface.
        :param inventory: ``{node: {bmc, bmcip, username, password}}``.
        :param messager: where lines go (``common.utils.Messager``).
        :param ctx: the ``RunContext``.
        """
        self.executor = executor
        self.inventory = inventory
        self.messager = messager
        self.ctx = ctx

    def _hook(self, kind, op):
        return getattr(self.executor, '%s_%s' % (kind, op) if kind else op, None)

    def run(self, op, *args):
        """Run ``op`` on every node following the hook contract of this module.

        :returns: ``{node: result}`` for the nodes that succeeded.
        """
        nodes = list(self.inventory)
        try:
            for kind in ('validate', 'pre'):
                hook = self._hook(kind, op)
                if hook is not None:
                    hook(*args)
        except exc.AgentError as error:
            for node in nodes:
                self.messager.error(str(error), node)
            return {}
        action = self._hook(None, op)
        ends_at = None if self.ctx.deadline is None else time.monotonic() + self.ctx.deadline
        results = {}
        post = self._hook('post', op)
        pool = Pool(self.ctx.pool_size)
        # The nodes' lines of one loop pass go to the broker in one write (Messager.batching).
        batching = getattr(self.messager, 'batching', contextlib.nullcontext)
        try:
            with batching():
                for node, result in pool.imap_unordered(lambda n: self._per_node(action, n, ends_at, args), nodes):
                    if result is not None:
                        # Lines already went out; without a post hook nobody reads them again, and
                        # keeping every node's inventory until the end would grow with the fleet.
                        results[node] = result if post is not None or not result.lines else \
                            dataclasses.replace(result, lines=())
        finally:
            # Sessions of nodes the deadline cut off: logged out together, within one bound.
            if self.ctx.sessions is not None:
                self.ctx.sessions.logout_all()
        if post is not None:
            try:
                post(results)
            except Exception:
                LOG.exception('post_%s failed', op)
        return results

    def _per_node(self, action, node, ends_at, args):
        """Run ``action`` for one node and write its one final line. Never raises.

        The deadline timer covers the node's work only: it is closed before any frame is
        written, so it can never cut a frame in half or fall between a node's line and its
        status frame. So does a stop (``SessionTracker.stop``): it interrupts the work, not
        the writing of the line.
        """
        tracker = self.ctx.sessions
        with tracker.working() if tracker is not None else contextlib.nullcontext():
            result, error = self._work(action, node, ends_at, args, tracker)
        if error is not None:
            self.messager.error(str(error), node)
            return node, None
        if result.lines:
            self._emit_lines(node, result.lines)
        elif result.error is None:
            self.messager.info('%s: %s' % (node, result.text), node=node)
        if result.error is not None:
            self.messager.error(str(result.error), node)
            return node, None
        if result.status:
            self.messager.update_node_attributes('status', node, result.status)
        return node, result

    def _work(self, action, node, ends_at, args, tracker):
        """The node's work under its deadline: ``(NodeResult, None)`` or ``(None, AgentError)``."""
        timer = None
        try:
            if tracker is not None and tracker.stopping:
                raise StopRequested()
            if ends_at is not None:
                remaining = ends_at - time.monotonic()
                if remaining <= 0:
                    raise exc.DeadlineExceeded(node=node, seconds='%g' % self.ctx.deadline)
                timer = gevent.Timeout(remaining)
                timer.start()
            result = action(node, self.inventory[node], *args)
            return (result if isinstance(result, NodeResult) else NodeResult(str(result))), None
        except gevent.Timeout as timeout:
            if timeout is not timer:
                raise
            return None, exc.DeadlineExceeded(node=node, seconds='%g' % self.ctx.deadline)
        except StopRequested:
            return None, exc.AgentStopped(node=node)
        except exc.AgentError as agent_error:
            return None, agent_error
        except Exception:
            LOG.exception('%s: internal error', node)
            return None, exc.AgentError('Internal error in the xCAT agent; see the agent log for details.')
        finally:
            if timer is not None:
                timer.close()

    def _emit_lines(self, node, lines):
        """Texts in runs of one info frame each; an error object among them as an error frame."""
        run = []
        for line in lines:
            if isinstance(line, exc.AgentError):
                if run:
                    self.messager.info_lines(run, node=node)
                    run = []
                self.messager.error(str(line), node)
            else:
                run.append('%s: %s' % (node, line))
        if run:
            self.messager.info_lines(run, node=node)
