"""BeaconInterface: the identify LED operations every kind of BMC implements, and their words.

Executors (``hwctl/executor/*_beacon.py``) implement this interface for one protocol, with
the contract of ``hwctl/power.py``: ``(node, nodeinfo)`` first, the node's text returned,
``common.exceptions.AgentError`` raised on failure.
"""

import abc

#: Subcommands that switch the identify LEDs.
SET_ACTIONS = frozenset({'on', 'off'})

#: Word printed for an LED the BMC did not report: front (xCAT prints Python's None) ...
MISSING_FRONT = 'None'
#: ... and rear.
MISSING_REAR = 'N/A'


def stat_line(front, rear):
    """The ``rbeacon stat`` text: ``Front:<state> Rear:<state>``.

    :param front: state of the front identify LED (``Off``, ``On``, ``Blink``) or None.
    :param rear: state of the rear identify LED or None.
    """
    return 'Front:%s Rear:%s' % (MISSING_FRONT if front is None else front,
                                 MISSING_REAR if rear is None else rear)


class BeaconInterface(abc.ABC):
    """The identify (beacon) LEDs of one kind of BMC."""

    @abc.abstractmethod
    def set_state(self, node, nodeinfo, state):
        """Switch the identify LEDs ``on`` (they blink) or ``off``; no read-back.

        :returns: ``state`` (``on`` or ``off``).
        """

    @abc.abstractmethod
    def get_state(self, node, nodeinfo):
        """Read the front and rear identify LEDs.

        :returns: ``Front:<state> Rear:<state>`` (see ``stat_line``).
        Idempotent, changes nothing.
        """

