"""BootInterface: the next-boot device operations every kind of BMC implements, and their words."""

import abc

#: xCAT device words an admin may request, in xCAT's usage order.
BOOT_DEVICES = ('net', 'hd', 'cd', 'def', 'default')
#: rsetboot subcommands that only read.
GET_BOOT_ACTIONS = frozenset({'stat'})

#: Words printed for each boot device, as xCAT prints them.
WORD_NETWORK = 'Network'
WORD_DISK = 'Hard Drive'
WORD_CD = 'CD/DVD'
WORD_DEFAULT = 'Default'


class BootInterface(abc.ABC):
    """Boot device selection of one kind of BMC."""

    @abc.abstractmethod
    def get_state(self, node, nodeinfo):
        """Read the device the node boots from next.

        The one-time setting wins over the persistent one when it is enabled.

        :returns: ``Network``, ``Hard Drive``, ``CD/DVD``, ``Default`` (or the
            protocol's own words for other devices).
        Idempotent, changes nothing.
        """

    @abc.abstractmethod
    def set_state(self, node, nodeinfo, device, persistent):
        """Make the node boot from ``device`` (a word of ``BOOT_DEVICES``).

        :param persistent: for every boot from now on; otherwise for the next boot only.
        :returns: the word for the device now set (as ``get_state`` would print it).
        Setting what is already set succeeds.
        """
