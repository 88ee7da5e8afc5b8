"""OpenBMCManager: the commands of module "openbmc" (phosphor REST BMCs)."""

from xcatagent.base import BaseManager


class OpenBMCManager(BaseManager):
    """rpower, rsetboot, rinv, rvitals, rbeacon and reventlog for nodes with nodehm.mgt=openbmc."""

    MGT = 'openbmc'
    COMMANDS = frozenset({'rpower', 'rsetboot', 'rinv', 'rvitals', 'rbeacon', 'reventlog'})
