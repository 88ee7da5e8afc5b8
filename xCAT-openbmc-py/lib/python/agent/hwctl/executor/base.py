"""ExecutorBase: what every executor shares, a logged-in client per node."""

import contextlib
import logging

from common import exceptions as exc
from common.nodework import NodeResult
from hwctl import power

LOG = logging.getLogger(__name__)


class ExecutorBase:
    """Holds the run's context and messager and opens one logged-in client per node.

    Subclasses set ``CLIENT`` to their protocol's client class.
    """

    CLIENT = None

    def __init__(self, ctx, messager):
        """:param ctx: the command's ``RunContext``.
        :param messager: where syslog/warning/db frames go (final lines are the task's).
        """
        self.ctx = ctx
        self.messager = messager

    def _trace(self, line):
        LOG.debug('%s', line)
        self.messager.info(line)

    @contextlib.contextmanager
    def session(self, node, nodeinfo):
        """A logged-in client for ``node``, logged out and closed on the way out.

        :raises BmcError: login failed (the client is closed first).
        """
        client = self.CLIENT(node, nodeinfo['bmcip'], nodeinfo['username'], nodeinfo['password'],
                             ctx=self.ctx, trace=self._trace if self.ctx.debug else None)
        with client:
            client.reuse_or_login(self.ctx.cache)
            yield client

    def read_bmc_state(self, node, nodeinfo, read):
        """``read(client)`` of the BMC's own state, a failure worded as rpower bmcstate words it.

        docs/xcat-facts.md#openbmc-bmc: an HTTP refusal (an auth one too) is
        ``BMC NotReady ([<code>] <description>)``, no answer is ``BMC NotReady`` (and no
        logout is tried, as after every transport failure). Both protocols print these.
        """
        with self.session(node, nodeinfo) as client:
            try:
                return read(client)
            except (exc.BmcHTTPError, exc.BmcAuthError) as error:
                raise exc.BmcError('%s (%s)' % (power.BMC_NOT_READY, error), node=node)
            except exc.BmcUnreachable:
                client.forget_session()
                raise exc.BmcError(power.BMC_NOT_READY, node=node)

    @staticmethod
    def gather(client, steps, empty):
        """Run a node's read steps in order and make its result from what they gave.

        A step that fails with an HTTP or format error does not stop the others: the node
        gets the lines that could be made, then that error (the first one) as its last line.
        A transport failure stops the remaining steps (the BMC is gone; each further step
        would cost another timeout) and no logout is tried.

        :param steps: callables taking no argument, each returning a list of lines.
        :param empty: the line printed when every step succeeded and gave no line, or None.
        :returns: a ``NodeResult`` with ``lines`` (and ``error``).
        :raises AgentError: every step failed; the first error is the node's one line.
        """
        lines = []
        error = None
        for step in steps:
            try:
                lines.extend(step())
            except exc.BmcUnreachable as failure:
                client.forget_session()
                error = error or failure
                break
            except exc.AgentError as failure:
                error = error or failure
        if error is not None and not lines:
            raise error
        if not lines and empty is not None:
            lines.append(empty)
        return NodeResult(lines=tuple(lines), error=error)
