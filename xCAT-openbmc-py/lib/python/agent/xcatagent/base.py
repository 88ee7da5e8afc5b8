"""BaseManager: parses a command's xCAT arguments and runs it through the executor table.

The executor for a node is chosen from ``EXECUTORS``, a read-only table keyed by
``(mgt, interface)`` whose values name the executor class (``module.Class`` below
``hwctl.executor``); a command imports only the executor it runs. A pair missing from the
table, or an executor that cannot be imported, gives ``Unsupported`` on every node.

The parse functions accept what the broker sends (after its validation and rewriting,
docs/COMMANDS.md "Broker") and what client.py sends raw. Whatever they refuse becomes one
clear error line per node: never a hang (xCAT's agent hangs on some of these inputs).
"""

import importlib
import logging
import types

from common import exceptions as exc
from common.task import Task
from hwctl import power, setboot

LOG = logging.getLogger(__name__)

EXECUTORS = types.MappingProxyType({
    ('openbmc', 'power'): 'openbmc_power.OpenBMCPowerExecutor',
    ('openbmc', 'setboot'): 'openbmc_setboot.OpenBMCSetbootExecutor',
    ('openbmc', 'inventory'): 'openbmc_inventory.OpenBMCInventoryExecutor',
    ('openbmc', 'sensor'): 'openbmc_sensor.OpenBMCSensorExecutor',
    ('openbmc', 'beacon'): 'openbmc_beacon.OpenBMCBeaconExecutor',
    ('openbmc', 'eventlog'): 'openbmc_eventlog.OpenBMCEventlogExecutor',
    ('redfish', 'power'): 'redfish_power.RedfishPowerExecutor',
    ('redfish', 'setboot'): 'redfish_setboot.RedfishSetbootExecutor',
})

_VERBOSE = frozenset({'-V', '--verbose'})

#: rinv keywords, in the order xCAT scans them (docs/COMMANDS.md "rinv").
RINV_KEYWORDS = ('all', 'cpu', 'dimm', 'firm', 'model', 'serial')
#: rvitals subcommands (docs/COMMANDS.md "rvitals").
RVITALS_KINDS = ('all', 'altitude', 'fanspeed', 'leds', 'power', 'temp', 'voltage', 'wattage')
#: rbeacon subcommands.
RBEACON_ACTIONS = ('on', 'off', 'stat')


def executor_class(mgt, interface):
    """The executor class for ``(mgt, interface)``.

    :raises Unsupported: no such pair, or its module cannot be imported.
    """
    name = EXECUTORS.get((mgt, interface))
    if name is None:
        raise exc.Unsupported(detail='%s for %s' % (interface, mgt))
    module, _, cls = name.rpartition('.')
    try:
        return getattr(importlib.import_module('hwctl.executor.' + module), cls)
    except (ImportError, AttributeError) as error:
        LOG.error('executor %s: %s', name, error)
        raise exc.Unsupported(detail='%s for %s' % (interface, mgt))


def _words(args):
    """The words without -V/--verbose (repeats are harmless); only rinv reads the flag itself."""
    return [a for a in args if a not in _VERBOSE]


def parse_rinv(args):
    """Parse rinv's arguments; none means ``all``. Repeats and order do not matter.

    :returns: ``(keywords, verbose)``: the keywords given, in ``RINV_KEYWORDS`` order.
    :raises Unsupported: a word that is no rinv keyword (xCAT's broker message).
    """
    words, verbose = _words(args), any(a in _VERBOSE for a in args)
    for word in words:
        if word not in RINV_KEYWORDS:
            raise exc.Unsupported(detail='rinv %s' % word)
    given = set(words) or {'all'}
    return tuple(k for k in RINV_KEYWORDS if k in given), verbose


def parse_rvitals(args):
    """Parse rvitals's arguments; none means ``all``.

    :returns: the subcommand (``-V`` is accepted and changes nothing).
    :raises InvalidRequest: two or more subcommands.
    :raises Unsupported: an unknown subcommand.
    """
    words = _words(args)
    if len(words) > 1:
        raise exc.InvalidRequest('Only one option is supported at the same time for rvitals')
    kind = words[0] if words else 'all'
    if kind not in RVITALS_KINDS:
        raise exc.Unsupported(detail='rvitals %s' % kind)
    return kind


def parse_rbeacon(args):
    """Parse rbeacon's arguments.

    :returns: the action, one of ``RBEACON_ACTIONS`` (``-V`` changes nothing).
    :raises InvalidRequest: no subcommand, two or more, or an unknown one.
    """
    words = _words(args)
    if not words:
        raise exc.InvalidRequest('Subcommand for rbeacon was not specified')
    if len(words) > 1:
        raise exc.InvalidRequest('Only one option is supported at the same time for rbeacon')
    if words[0] not in RBEACON_ACTIONS:
        raise exc.InvalidRequest("Only 'on', 'off' and 'stat' are supported for OpenBMC managed nodes.")
    return words[0]


def parse_reventlog(args):
    """Parse reventlog's arguments, rewritten by the broker or raw.

    Broker forms: ``list all``, ``list <n>``, ``clear``, ``resolved resolved=<ids>`` (each
    possibly with ``-V``); raw forms: nothing, ``all``, ``<n>``, ``clear``, ``resolved=<ids>``.

    :returns: ``(action, value)``: ``('list', None or n)`` (None = all),
        ``('clear', None)``, ``('resolved', '<ids>')`` (the text after ``=``); ``-V``
        changes nothing.
    :raises InvalidRequest: anything else.
    """
    words = _words(args)
    if words and words[0] == 'list':
        words = words[1:]
        if not words:
            words = ['all']
    elif len(words) == 2 and words[0] == 'resolved' and words[1].startswith('resolved='):
        words = words[1:]
    if not words or words == ['all']:
        return 'list', None
    if len(words) > 1:
        raise exc.InvalidRequest('Only one option is supported at the same time for reventlog')
    word = words[0]
    if word.isdigit():
        count = int(word)
        return 'list', (count or None)
    if word == 'clear':
        return 'clear', None
    if word.startswith('resolved='):
        ids = word[len('resolved='):]
        if ids and ids != '0':
            return 'resolved', ids
    if 'resolved' in word:
        raise exc.InvalidRequest("Usage error. Provide a comma separated list of IDs to be resolved. "
                                 "Example: 'resolved=x,y,z'")
    raise exc.Unsupported(detail='reventlog %s' % word)


def parse_rpower(args):
    """Parse rpower's arguments (after the broker's validation, or raw from client.py).

    :returns: the subcommand (``-V`` changes nothing here; the broker printed its note).
    :raises InvalidRequest: anything but exactly one known subcommand.
    """
    words = _words(args)
    if not words:
        raise exc.InvalidRequest('No option specified for rpower')
    if len(words) > 1:
        raise exc.InvalidRequest('Only one option is supported at the same time for rpower')
    if words[0] not in power.RPOWER_ACTIONS:
        raise exc.Unsupported(detail='rpower %s' % words[0])
    return words[0]


def parse_rsetboot(args):
    """Parse rsetboot's arguments; no device means ``stat``.

    We accept ``-p`` anywhere (xCAT's agent rejects ``rsetboot n -p``); with ``stat`` it
    changes nothing.

    :returns: ``(device or 'stat', persistent)`` (``-V`` changes nothing).
    :raises InvalidRequest: more than one device or an unknown word.
    """
    persistent = '-p' in args
    words = [a for a in _words(args) if a != '-p']
    if len(words) > 1:
        raise exc.InvalidRequest('Only one option is supported at the same time for rsetboot')
    action = words[0] if words else 'stat'
    if action not in setboot.BOOT_DEVICES and action not in setboot.GET_BOOT_ACTIONS:
        raise exc.Unsupported(detail='rsetboot %s' % action)
    return action, persistent


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
        executor = executor_class(self.MGT, interface)
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
        action = parse_rpower(args)
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
        action, persistent = parse_rsetboot(args)
        task = self._task('setboot', nodeinfo)
        if action in setboot.GET_BOOT_ACTIONS:
            return task.run('get_state')
        return task.run('set_state', action, persistent)

    def rinv(self, nodeinfo, args):
        keywords, verbose = parse_rinv(args)
        return self._task('inventory', nodeinfo).run('get_info', keywords, verbose)

    def rvitals(self, nodeinfo, args):
        kind = parse_rvitals(args)
        return self._task('sensor', nodeinfo).run('get_sensor_info', kind)

    def rbeacon(self, nodeinfo, args):
        action = parse_rbeacon(args)
        task = self._task('beacon', nodeinfo)
        if action == 'stat':
            return task.run('get_state')
        return task.run('set_state', action)

    def reventlog(self, nodeinfo, args):
        action, value = parse_reventlog(args)
        task = self._task('eventlog', nodeinfo)
        if action == 'list':
            return task.run('get_logs', value)
        if action == 'clear':
            return task.run('clear_logs')
        return task.run('resolve_logs', value)
