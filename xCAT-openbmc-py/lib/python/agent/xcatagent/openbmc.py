"""OpenBMCManager: the commands of module "openbmc" (phosphor REST BMCs)."""

from xcatagent.base import BaseManager


class OpenBMCManager(BaseManager):
    """rpower and rsetboot for nodes with nodehm.mgt=openbmc."""

    MGT = 'openbmc'
