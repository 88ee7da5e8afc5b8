"""InventoryInterface: rinv's operations every kind of BMC implements, and their words.

Executors (``hwctl/executor/*_inventory.py``) implement this interface for one protocol;
docs/COMMANDS.md "rinv" gives the lines they print.
"""

import abc

#: The text printed when the BMC gave nothing to show.
NO_ATTRIBUTES = 'No attributes returned from the BMC.'


class InventoryInterface(abc.ABC):
    """Hardware inventory and firmware levels of one kind of BMC."""

    @abc.abstractmethod
    def get_info(self, node, nodeinfo, keywords, verbose):
        """Read the parts of the inventory named by ``keywords``.

        :param keywords: rinv keywords (``all cpu dimm firm model serial``), in that order.
        :param verbose: show every firmware image, not only the running ones.
        :returns: a ``NodeResult`` with the node's lines (``NO_ATTRIBUTES`` when empty);
            when one of several calls failed, the lines that could be made and the error.
        Idempotent, changes nothing. One login and one logout per node.
        """
