"""RedfishManager: the commands of module "redfish" (DMTF Redfish BMCs)."""

from xcatagent.base import BaseManager


class RedfishManager(BaseManager):
    """rpower and rsetboot for nodes with nodehm.mgt=redfish."""

    MGT = 'redfish'
