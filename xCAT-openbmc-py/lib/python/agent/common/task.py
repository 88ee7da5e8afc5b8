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

import dataclasses
import logging
import time
import types
from typing import Optional

import gevent
from gevent.pool import Pool

from common import exceptions as exc
from common.rest import build_ssl_context

LOG = logging.getLogger(__name__)

#: Default number of nodes worked on at once, as xCAT's agent.
DEFAULT_POOL_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class RunContext:
    """Settings of one command, passed from manager to task to executor to client."""

    #: log every REST call as a replayable curl line (secrets masked).
    debug: bool = False
    #: ``-V`` was given.
    verbose: bool = False
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

    @classmethod
    def from_envs(cls, envs, cwd='', verbose=False, **overrides):
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
                    raise exc.InvalidRequest(detail='envs.%s must be true or false' % key)
                value = value in (True, 1, '1')
            elif kind is str:
                if not isinstance(value, str):
                    raise exc.InvalidRequest(detail='envs.%s must be a string' % key)
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                        (kind is int and value != int(value)):
                    raise exc.InvalidRequest(detail='envs.%s must be a number' % key)
                if not low <= value <= high:
                    raise exc.InvalidRequest(detail='envs.%s must be between %s and %s' % (key, low, high))
                value = kind(value)
            values[key] = value
        debug = envs.get('debugmode')
        values['debug'] = bool(debug) and debug not in ('0', 0)
        values['verbose'] = verbose
        values['cwd'] = cwd
        try:
            values['ssl_context'] = build_ssl_context(values.get('verify', False), values.get('ca_bundle'))
        except (OSError, ValueError) as error:
            raise exc.InvalidRequest(detail='cannot load CA bundle %s: %s' % (values.get('ca_bundle'), error))
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class NodeResult:
    """A node's result with a node status to record after its line is printed."""

    #: the text after ``node: ``.
    text: str
    #: value for the node's ``status`` attribute (``powering-on``...), or None.
    status: Optional[str] = None


def wait_for(check, *, timeout, interval):
    """Poll ``check()`` until it returns a truthy value or ``timeout`` seconds pass.

    The one poll loop of the agent: every wait for a BMC state goes through here.

    :param check: callable returning the polled value; exceptions propagate.
    :returns: ``(value, elapsed_seconds)``; ``value`` is the last, possibly falsy, value.
    """
    start = time.monotonic()
    while True:
        value = check()
        elapsed = time.monotonic() - start
        if value or elapsed >= timeout:
            return value, elapsed
        gevent.sleep(min(interval, max(timeout - elapsed, 0)))


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
        pool = Pool(self.ctx.pool_size)
        for node, result in pool.imap_unordered(lambda n: self._per_node(action, n, ends_at, args), nodes):
            if result is not None:
                results[node] = result
        post = self._hook('post', op)
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
        status frame.
        """
        result = error = None
        timer = None
        try:
            if ends_at is not None:
                remaining = ends_at - time.monotonic()
                if remaining <= 0:
                    raise exc.DeadlineExceeded(node=node, seconds='%g' % self.ctx.deadline)
                timer = gevent.Timeout(remaining)
                timer.start()
            result = action(node, self.inventory[node], *args)
            if not isinstance(result, NodeResult):
                result = NodeResult(str(result))
        except gevent.Timeout as timeout:
            if timeout is not timer:
                raise
            error = exc.DeadlineExceeded(node=node, seconds='%g' % self.ctx.deadline)
        except exc.AgentError as agent_error:
            error = agent_error
        except Exception:
            LOG.exception('%s: internal error', node)
            error = exc.AgentError('Internal error in the xCAT agent; see the agent log for details.')
        finally:
            if timer is not None:
                timer.close()
        if error is not None:
            self.messager.error(str(error), node)
            return node, None
        self.messager.info('%s: %s' % (node, result.text), node=node)
        if result.status:
            self.messager.update_node_attributes('status', node, result.status)
        return node, result
