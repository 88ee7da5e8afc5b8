"""EventlogInterface: the event log operations every kind of BMC implements, and their words.

Executors (``hwctl/executor/*_eventlog.py``) implement this interface for one protocol, with
the contract of ``hwctl/power.py``. A node's listing is several lines: executors return a
``common.nodework.NodeResult`` with ``lines`` (and ``error`` when the node's last line is an
error after other lines).
"""

import abc

#: Words of the node's result.
LOGS_CLEARED = 'Logs cleared'
NO_ENTRIES = 'No attributes returned from the BMC.'
NOTHING_TO_RESOLVE = 'No event log entries needed to be resolved'
#: ``resolved=LED`` (any case) selects the entries with a callout.
RESOLVE_LED = 'LED'
#: Tag at the end of a listed entry that has a callout (a part to replace, a fault LED lit).
LED_TAG = ' [LED]'


class EventlogInterface(abc.ABC):
    """The event log of one kind of BMC."""

    @abc.abstractmethod
    def get_logs(self, node, nodeinfo, count):
        """List the node's event log, oldest first.

        :param count: keep only the ``count`` entries with the highest ids; None keeps all.
        :returns: a ``NodeResult`` with one line per entry (``No attributes returned from
            the BMC.`` when the log is empty). Idempotent, changes nothing.
        """

    @abc.abstractmethod
    def clear_logs(self, node, nodeinfo):
        """Delete every entry. :returns: ``Logs cleared``."""

    @abc.abstractmethod
    def resolve_logs(self, node, nodeinfo, ids):
        """Mark entries resolved.

        :param ids: the text after ``resolved=``: comma-separated entry ids, or ``LED`` (any
            case) for every entry with a callout.
        :returns: a ``NodeResult``: ``Resolved <id>`` per entry, and an error line per id the
            log does not hold (``Invalid ID: <id>``); when nothing is selected, the error
            ``No event log entries needed to be resolved``.
        """

