"""ExecutorBase: what every executor shares, a logged-in client per node."""

import contextlib
import logging

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
            client.login()
            yield client
