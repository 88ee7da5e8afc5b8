"""BaseManager: parses a command's xCAT arguments and runs it through the executor table.

The executor for a node is chosen from ``EXECUTORS``, a read-only table keyed by
``(mgt, interface)``. A pair missing from the table gives ``Unsupported`` on every node.
"""

import logging
import types

from common import exceptions as exc
from common.task import Task
from hwctl import power, setboot
from hwctl.executor.openbmc_power import OpenBMCPowerExecutor
from hwctl.executor.openbmc_setboot import OpenBMCSetbootExecutor
from hwctl.executor.redfish_power import RedfishPowerExecutor
from hwctl.executor.redfish_setboot import RedfishSetbootExecutor

LOG = logging.getLogger(__name__)

EXECUTORS = types.MappingProxyType({
    ('openbmc', 'power'): OpenBMCPowerExecutor,
    ('openbmc', 'setboot'): OpenBMCSetbootExecutor,
    ('redfish', 'power'): RedfishPowerExecutor,
    ('redfish', 'setboot'): RedfishSetbootExecutor,
})

_VERBOSE = frozenset({'-V', '--verbose'})


def parse_rpower(args):
    """Parse rpower's arguments (after the broker's validation, or raw from client.py).

    :returns: ``(action, verbose)``.
    :raises InvalidRequest: anything but exactly one known subcommand.
    """
    verbose = any(a in _VERBOSE for a in args)
    words = [a for a in args if a not in _VERBOSE]
    if not words:
        raise exc.InvalidRequest('No option specified for rpower')
    if len(words) > 1:
        raise exc.InvalidRequest('Only one option is supported at the same time for rpower')
    if words[0] not in power.RPOWER_ACTIONS:
        raise exc.Unsupported(detail='rpower %s' % words[0])
    return words[0], verbose


def parse_rsetboot(args):
    """Parse rsetboot's arguments; no device means ``stat``.

    We accept ``-p`` anywhere (xCAT's agent rejects ``rsetboot n -p``); with ``stat`` it
    changes nothing.

    :returns: ``(device or 'stat', persistent, verbose)``.
    :raises InvalidRequest: more than one device or an unknown word.
    """
    verbose = any(a in _VERBOSE for a in args)
    persistent = '-p' in args
    words = [a for a in args if a not in _VERBOSE and a != '-p']
    if len(words) > 1:
        raise exc.InvalidRequest('Only one option is supported at the same time for rsetboot')
    action = words[0] if words else 'stat'
    if action not in setboot.BOOT_DEVICES and action not in setboot.GET_BOOT_ACTIONS:
        raise exc.Unsupported(detail='rsetboot %s' % action)
    return action, persistent, verbose


class BaseManager:
    """A protocol's commands. Subclasses set ``MGT``; each command is a method."""

    MGT = None
    COMMANDS = frozenset({'rpower', 'rsetboot'})

    def __init__(self, messager, ctx):
        """:param messager: the reply channel.
        :param ctx: the request's ``RunContext``.
        """
        self.messager = messager
        self.ctx = ctx

    def _task(self, interface, nodeinfo):
        executor = EXECUTORS.get((self.MGT, interface))
        if executor is None:
            raise exc.Unsupported(detail='%s for %s' % (interface, self.MGT))
        return Task(executor(self.ctx, self.messager), nodeinfo, self.messager, self.ctx)

    def fail_all(self, nodeinfo, error):
        """Give every node the same error line."""
        for node in nodeinfo:
            self.messager.error(str(error), node)

    def run(self, command, nodeinfo, args):
        """Run ``command`` with its raw xCAT ``args`` on every node of ``nodeinfo``.

        Argument errors become every node's line: nothing is sent to any BMC.
        """
        try:
            if command not in self.COMMANDS:
                raise exc.Unsupported(detail=command)
            return getattr(self, command)(nodeinfo, args)
        except exc.AgentError as error:
            self.fail_all(nodeinfo, error)
            return {}

    def rpower(self, nodeinfo, args):
        action, _verbose = parse_rpower(args)
        task = self._task('power', nodeinfo)
        if action in power.GET_STATE_ACTIONS:
            return task.run('get_state')
        if action in power.SET_STATE_ACTIONS:
            return task.run('set_state', action)
        if action in power.REBOOT_ACTIONS:
            return task.run('reboot', action)
        if action == 'bmcstate':
            return task.run('get_bmc_state')
        return task.run('reboot_bmc')

    def rsetboot(self, nodeinfo, args):
        action, persistent, _verbose = parse_rsetboot(args)
        task = self._task('setboot', nodeinfo)
        if action in setboot.GET_BOOT_ACTIONS:
            return task.run('get_state')
        return task.run('set_state', action, persistent)
