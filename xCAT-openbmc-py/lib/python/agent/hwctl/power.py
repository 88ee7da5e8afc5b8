"""PowerInterface: the power operations every kind of BMC implements, and their words.

Executors (``hwctl/executor/*_power.py``) implement this interface for one protocol. Each
per-node operation takes ``(node, nodeinfo)`` first, returns the node's result (the text
after ``node: `` or a ``common.nodework.NodeResult``) and raises ``common.exceptions.AgentError``
subclasses on failure; ``common.task`` turns that into the node's one line.
"""

import abc

#: The node is powered on and its host OS runs (or at least the host reached Running).
POWER_ON = 'on'
#: Chassis power is off.
POWER_OFF = 'off'
#: Chassis power is on but the host firmware has not started.
POWER_ON_CHASSIS = 'on (Chassis)'
#: The host stopped in the quiesced state (firmware halted on an error).
POWER_QUIESCED = 'quiesced'
#: Word printed after a graceful shutdown request was accepted.
POWER_SOFTOFF = 'softoff'
#: Word printed after reset or boot powered the node (back) on.
POWER_RESET = 'reset'
#: Word printed after a BMC reboot request.
BMC_REBOOT = 'BMC reboot'
#: The BMC is ready.
BMC_READY = 'BMC Ready'
#: The BMC answered but is not ready.
BMC_NOT_READY = 'BMC NotReady'

#: Node status values recorded in xCAT's nodelist.status.
STATUS_POWERING_ON = 'powering-on'
STATUS_POWERING_OFF = 'powering-off'

#: rpower subcommands that read state.
GET_STATE_ACTIONS = frozenset({'stat', 'state', 'status'})
#: rpower subcommands that request a power state.
SET_STATE_ACTIONS = frozenset({'on', 'off', 'softoff'})
#: rpower subcommands that cycle power.
REBOOT_ACTIONS = frozenset({'reset', 'boot'})
#: Every rpower subcommand, in xCAT's usage order.
RPOWER_ACTIONS = ('on', 'off', 'softoff', 'reset', 'boot', 'bmcreboot', 'bmcstate', 'stat', 'state', 'status')


class PowerInterface(abc.ABC):
    """Host and BMC power of one kind of BMC."""

    @abc.abstractmethod
    def get_state(self, node, nodeinfo):
        """Read the node's power state.

        :returns: one of ``on``, ``off``, ``on (Chassis)``, ``quiesced``, or an
            ``Unexpected ... state=<x>`` text for a state xCAT has no word for.
        :raises BmcError: the BMC could not be asked or answered nonsense.
        Idempotent, changes nothing.
        """

    @abc.abstractmethod
    def set_state(self, node, nodeinfo, state):
        """Request ``state`` (``on``, ``off`` or ``softoff``) without waiting for it.

        Requesting the state a node is already in succeeds.

        :returns: a ``NodeResult`` whose text is ``state`` and whose status is
            ``powering-on`` (on) or ``powering-off`` (off, softoff).
        """

    @abc.abstractmethod
    def reboot(self, node, nodeinfo, optype):
        """Hard-reset (``reset``) or boot (``boot``) a node.

        ``boot`` powers on an off node and power-cycles an on node; ``reset`` power-cycles
        an on node and leaves an off node off (result ``off``). The cycle is off, a bounded
        wait until the node is off, then on.

        :returns: ``reset`` (with status ``powering-on``) or ``off``.
        :raises BmcStateTimeout: the node did not reach off within the bound.
        """

    @abc.abstractmethod
    def get_bmc_state(self, node, nodeinfo):
        """Read the BMC's own state.

        :returns: ``BMC Ready`` or ``BMC NotReady`` (both protocols print OpenBMC's words).
        """

    @abc.abstractmethod
    def reboot_bmc(self, node, nodeinfo):
        """Ask the BMC to reboot itself; does not wait for it to come back.

        :returns: ``BMC reboot`` (both protocols print OpenBMC's words).
        """
