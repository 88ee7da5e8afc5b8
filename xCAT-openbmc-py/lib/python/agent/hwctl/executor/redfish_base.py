"""RedfishExecutorBase: what the Redfish executors share, one FleetShape per command."""

import contextlib

from hwctl.executor.base import ExecutorBase
from hwctl.redfish_client import FleetShape, RedfishClient


class RedfishExecutorBase(ExecutorBase):
    """An executor whose clients share what the command's nodes show about their layout.

    An executor lives for one command, so its ``FleetShape`` does too: the first node of
    the command that finds where its sessions, system and manager live teaches the rest
    (docs/DESIGN.md, "Redfish vendor behaviours"); nothing is kept between commands.
    """

    CLIENT = RedfishClient

    def __init__(self, ctx, messager):
        super().__init__(ctx, messager)
        self.shape = FleetShape()

    @contextlib.contextmanager
    def session(self, node, nodeinfo):
        """A logged-in client for ``node`` sharing the command's shape, logged out on the way out.

        :raises BmcError: login failed (the client is closed first).
        """
        client = self.CLIENT(node, nodeinfo['bmcip'], nodeinfo['username'], nodeinfo['password'],
                             ctx=self.ctx, trace=self._trace if self.ctx.debug else None, shape=self.shape)
        with client:
            client.reuse_or_login(self.ctx.cache)
            yield client
