"""EventlogInterface: the event log operations every kind of BMC implements, and their words.

Executors (``hwctl/executor/*_eventlog.py``) implement this interface for one protocol, with
the contract of ``hwctl/power.py``. A node's listing is several lines: executors return a
``common.task.NodeResult`` with ``lines`` (and ``error`` when the node's last line is an
error after other lines).
"""

import abc

from common import exceptions as exc

#: Words of the node's result.
LOGS_CLEARED = 'Logs cleared'
NO_ENTRIES = 'No attributes returned from the BMC.'
NOTHING_TO_RESOLVE = 'No event log entries needed to be resolved'
#: ``resolved=LED`` (any case) selects the entries with a callout.
RESOLVE_LED = 'LED'
#: Tag at the end of a listed entry that has a callout (a part to replace, a fault LED lit).
LED_TAG = ' [LED]'


def parse_count(word):
    """The number of newest entries ``list`` keeps: ``all`` and ``0`` mean every entry.

    :returns: an int >= 0 (0 = all).
    :raises ValueError: neither ``all`` nor a non-negative integer.
    """
    if word == 'all':
        return 0
    if not word.isdigit():
        raise ValueError(word)
    return int(word)


class EventlogInterface(abc.ABC):
    """The event log of one kind of BMC."""

    @abc.abstractmethod
    def list_entries(self, node, nodeinfo, count):
        """List the node's event log, oldest first.

        :param count: keep only the ``count`` entries with the highest ids; 0 keeps all.
        :returns: a ``NodeResult`` with one line per entry (``No attributes returned from
            the BMC.`` when the log is empty). Idempotent, changes nothing.
        """

    @abc.abstractmethod
    def clear_entries(self, node, nodeinfo):
        """Delete every entry. :returns: ``Logs cleared``."""

    @abc.abstractmethod
    def resolve_entries(self, node, nodeinfo, ids):
        """Mark entries resolved.

        :param ids: the text after ``resolved=``: comma-separated entry ids, or ``LED`` (any
            case) for every entry with a callout.
        :returns: a ``NodeResult``: ``Resolved <id>`` per entry, and an error line per id the
            log does not hold (``Invalid ID: <id>``); when nothing is selected, the error
            ``No event log entries needed to be resolved``.
        """


def parse_reventlog(args):
    """Parse reventlog's arguments.

    Accepts what the broker sends (``list <n>``, ``clear``, ``resolved resolved=<ids>``,
    each with ``-V``/``--verbose`` anywhere) and the words an admin types to client.py
    (``<n>``, ``all``, ``resolved=<ids>``, nothing = ``list all``). Anything else is one
    clear error on every node (xCAT's agent hangs on some of it, docs/DESIGN.md).

    :returns: ``(action, value, verbose)``: ``('list', count)`` with count 0 = all,
        ``('clear', None)`` or ``('resolve', '<ids>')``.
    :raises InvalidRequest: the words fit none of these forms.
    """
    verbose = any(a in ('-V', '--verbose') for a in args)
    words = [a for a in args if a not in ('-V', '--verbose')]
    if words and words[0] == 'list':
        words = words[1:] or ['all']
        if len(words) != 1:
            raise exc.InvalidRequest('Only one option is supported at the same time for reventlog')
    elif words and words[0] == 'resolved':
        words = words[1:]
        if len(words) != 1 or not words[0].startswith('resolved='):
            raise exc.InvalidRequest("Usage error. Provide a comma separated list of IDs to be resolved. "
                                     "Example: 'resolved=x,y,z'")
    if not words:
        return 'list', 0, verbose
    if len(words) > 1:
        raise exc.InvalidRequest('Only one option is supported at the same time for reventlog')
    word = words[0]
    if word == 'clear':
        return 'clear', None, verbose
    if word.startswith('resolved='):
        ids = word.split('=', 1)[1]
        if not ids:
            raise exc.InvalidRequest("Usage error. Provide a comma separated list of IDs to be resolved. "
                                     "Example: 'resolved=x,y,z'")
        return 'resolve', ids, verbose
    try:
        return 'list', parse_count(word), verbose
    except ValueError:
        raise exc.Unsupported(detail='reventlog %s' % word) from None
