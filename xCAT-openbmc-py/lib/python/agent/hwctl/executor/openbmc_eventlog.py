"""OpenBMCEventlogExecutor: reventlog's node-level steps over phosphor REST (docs/DESIGN.md, reventlog).

Every subcommand is one login, the requests it needs, one logout. The listing and its
optional decoration from the RAS policy table are pure functions of the BMC's reply
(``format_entry``, ``parse_log``), tested on their own.
"""

import dataclasses
import json
import logging
import os
import time
import types
from typing import Optional

from common import exceptions as exc
from common.nodework import NodeResult
from hwctl import eventlog
from hwctl.executor.base import ExecutorBase
from hwctl.openbmc_client import OpenBMCClient

LOG = logging.getLogger(__name__)

#: Where IBM's openbmctool package installs the RAS policy table.
DEFAULT_POLICY_TABLE = '/opt/ibm/ras/lib/policyTable.json'
#: Environment variable of the agent process that names another policy table file.
POLICY_TABLE_ENV = 'XCAT_RAS_POLICY_TABLE'
#: Largest policy table read (the openbmctool one is well under 1 MiB).
MAX_POLICY_TABLE = 32 * 1024 * 1024

#: Printed once per command (without a node) when there is no policy table, in xCAT's words.
POLICY_HINT = ('Install the openbmctool rpm from '
               'https://www.ibm.com/support/customercare/sas/f/lopdiags/scaleOutLCdebugtool.html#OpenBMC '
               'to obtain more detailed logging messages.')
NOT_IN_TABLE = ' Not found in policy table: '
#: Callout text of a device-path callout (the BMC's I2C bus).
CALLOUT_I2C = 'I2C'
#: Callout text of a GPU callout.
CALLOUT_GPU = '/xyz/openbmc_project/inventory/system/chassis/motherboard/gpu'
#: Timestamp format of a listed entry (the agent's local time zone, docs/DESIGN.md).
TIME_FORMAT = '%m/%d/%Y %H:%M:%S'


def policy_table_path():
    """The policy table file: ``$XCAT_RAS_POLICY_TABLE`` of the agent, else openbmctool's path."""
    return os.environ.get(POLICY_TABLE_ENV) or DEFAULT_POLICY_TABLE


def load_policy_table(path):
    """The ``events`` map of a RAS policy table file.

    :returns: ``(events, problem)``: ``events`` is a dict (empty when there is no usable
        table) and ``problem`` None, or a text saying why an existing file was not used.
    """
    try:
        if not os.path.isfile(path):
            return {}, None
        with open(path, 'rb') as handle:
            raw = handle.read(MAX_POLICY_TABLE + 1)
        if len(raw) > MAX_POLICY_TABLE:
            return {}, 'larger than %d bytes' % MAX_POLICY_TABLE
        table = json.loads(raw.decode('utf-8')) if raw.strip() else None
    except (OSError, ValueError) as error:
        return {}, str(error)
    if not table:
        return {}, None
    events = table.get('events') if isinstance(table, dict) else None
    if not isinstance(events, dict):
        return {}, 'no "events" object'
    return events, None


@dataclasses.dataclass(frozen=True)
class Entry:
    """One listed event log entry."""

    #: the entry's id (what ``resolved=`` names).
    id: int
    #: the text after ``node: ``.
    line: str
    #: the BMC marks it resolved.
    resolved: bool
    #: it has a callout (the line ends in `` [LED]``).
    callout: bool


def _text(value):
    """xCAT prints values with Python's ``%s``."""
    return '%s' % (value,)


def format_entry(props, events):
    """Format one object of the logging enumeration as xCAT does.

    :param props: the object's properties, in the order the BMC sent them.
    :param events: the policy table's ``events`` map (empty: no decoration).
    :returns: an ``Entry``, or None for objects without a usable non-zero ``Id`` (callout
        associations, the logging manager).
    """
    callout = False
    callout_text = ''
    pid = resolved_text = timestamp = message = ''
    entry_id = None
    resolved = False
    for key, value in props.items():
        if key == 'AdditionalData':
            items = value if isinstance(value, list) else [value]
            for item in items:
                parts = _text(item).split('=')
                name = parts[0]
                data = parts[1] if len(parts) > 1 else ''
                if name == 'ESEL':
                    continue
                if name == '_PID':
                    pid = 'PID: %s),' % data
                elif 'CALLOUT_DEVICE_PATH' in name:
                    callout, callout_text = True, CALLOUT_I2C
                elif 'CALLOUT_INVENTORY_PATH' in name:
                    callout, callout_text = True, data
                elif 'CALLOUT' in name:
                    callout = True
                elif 'GPU' in name:
                    callout_text = CALLOUT_GPU
                elif 'PROCEDURE' in name:
                    try:
                        callout_text = '{:x}'.format(int(data))
                    except ValueError:
                        callout_text = data
        elif key == 'Timestamp':
            try:
                timestamp = time.strftime(TIME_FORMAT, time.localtime(value / 1000))
            except (TypeError, ValueError, OverflowError, OSError):
                timestamp = _text(value)
        elif key == 'Id':
            entry_id = value
        elif key == 'Resolved':
            resolved_text = ' Resolved: %s' % (value,)
            resolved = bool(value)
        elif key == 'Message':
            message = _text(value)
    try:
        number = int(entry_id) if not isinstance(entry_id, bool) else None
    except (TypeError, ValueError):
        number = None
    if not number:
        return None
    if callout_text:
        message += '||' + callout_text
    head = '%s [%s]:' % (timestamp, entry_id)
    tail = pid + resolved_text
    if events:
        decoration = events.get(message)
        if isinstance(decoration, dict):
            line = '%s %s, (%s) %s (AffectedSubsystem: %s, %s' % (
                head, decoration.get('EventType', ''), decoration.get('Severity', ''),
                decoration.get('Message', ''), decoration.get('AffectedSubsystem', ''), tail)
        else:
            line = '%s%s%s (%s' % (head, NOT_IN_TABLE, message, tail)
    else:
        line = '%s %s (%s' % (head, message, tail)
    if callout:
        line += eventlog.LED_TAG
    return Entry(number, line, resolved, callout)


def parse_log(data, events):
    """Every entry of a logging enumeration, by id, in ascending id order.

    :param data: ``{path: properties}`` as the BMC sent it.
    :returns: ``{id: Entry}`` ordered by id (the last object wins for a repeated id).
    """
    entries = {}
    for _path, props in sorted(data.items()):
        if not isinstance(props, dict):
            continue
        entry = format_entry(props, events)
        if entry is not None:
            entries[entry.id] = entry
    return {key: entries[key] for key in sorted(entries)}


class OpenBMCEventlogExecutor(ExecutorBase, eventlog.EventlogInterface):
    """EventlogInterface for OpenBMC BMCs."""

    CLIENT = OpenBMCClient

    def __init__(self, ctx, messager):
        super().__init__(ctx, messager)
        self.events = types.MappingProxyType({})

    def _load_table(self):
        """Read the policy table once per command; the hint or a warning goes out once."""
        path = policy_table_path()
        events, problem = load_policy_table(path)
        if problem is not None:
            self.messager.warn('Cannot use the RAS policy table %s (%s); listing without it.' % (path, problem))
        if not events:
            self.messager.info(POLICY_HINT)
        self.events = types.MappingProxyType(events)

    def pre_get_logs(self, count):
        self._load_table()

    def pre_resolve_logs(self, ids):
        self._load_table()

    def _entries(self, client):
        return parse_log(client.get_event_log(), self.events)

    def get_logs(self, node, nodeinfo, count):
        with self.session(node, nodeinfo) as client:
            entries = self._entries(client)
        if not entries:
            return eventlog.NO_ENTRIES
        keep = list(entries.values())
        if count:
            keep = keep[-count:]
        return NodeResult(lines=tuple(entry.line for entry in keep))

    def clear_logs(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:
            client.clear_event_log()
        return eventlog.LOGS_CLEARED

    def resolve_logs(self, node, nodeinfo, ids):
        lines = []
        with self.session(node, nodeinfo) as client:
            entries = self._entries(client)
            selected = self._select(node, entries, ids, lines)
            if not selected:
                return _result(lines, exc.BmcError(eventlog.NOTHING_TO_RESOLVE, node=node))
            error = None
            for entry in selected:
                try:
                    # NOTE: xCAT PUTs every selected entry, resolved or not; an entry the BMC
                    # already holds resolved needs no request, and its line is the same.
                    if not entry.resolved:
                        client.resolve_event(entry.id)
                except exc.BmcUnreachable as failure:
                    error = failure
                    break
                except exc.BmcError as failure:
                    lines.append(failure)
                    continue
                lines.append('Resolved %d' % entry.id)
        return _result(lines, error)

    @staticmethod
    def _select(node, entries, ids, lines):
        """The entries ``ids`` names, in order, without repeats; an error line per unknown id."""
        if ids.upper() == eventlog.RESOLVE_LED:
            return [entry for entry in entries.values() if entry.callout]
        selected = []
        for word in ids.split(','):
            entry = entries.get(int(word)) if word.isdigit() else None
            if entry is None:
                lines.append(exc.BmcError('Invalid ID: %s' % word, node=node))
            elif entry not in selected:
                selected.append(entry)
        return selected


def _result(lines, error: Optional[exc.AgentError] = None):
    """A node's result from its lines (texts and error objects, in order) and a last error."""
    return NodeResult(lines=tuple(lines), error=error)
