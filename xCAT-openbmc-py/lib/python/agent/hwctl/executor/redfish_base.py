"""RedfishExecutorBase: what the Redfish executors share, one FleetShape per command."""

import contextlib

from common import exceptions as exc
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

        In a one-shot agent the login waits for the node's first request
        (``RedfishClient.reuse_or_login``); when it fails, the node fails with the login's
        own error, whatever the step made of it (``BMC NotReady (...)``, a reboot request
        taken as sent).

        :raises BmcError: login failed (the client is closed first).
        """
        client = self.CLIENT(node, nodeinfo['bmcip'], nodeinfo['username'], nodeinfo['password'],
                             ctx=self.ctx, trace=self._trace if self.ctx.debug else None, shape=self.shape)
        with client:
            client.reuse_or_login(self.ctx.cache)
            try:
                yield client
            except exc.AgentError:
                if client.login_failure is None:
                    raise
            if client.login_failure is not None:
                raise client.login_failure
