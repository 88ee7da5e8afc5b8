"""OpenBMCSetbootExecutor: rsetboot's node-level steps over phosphor REST.

xCAT's requests and words: docs/xcat-facts.md#openbmc-rsetboot.
"""

import types

from hwctl import setboot
from hwctl.executor.base import ExecutorBase
from hwctl.openbmc_client import OpenBMCClient

#: xCAT device word -> OpenBMC boot source.
SET_BOOT_SOURCE_MAP = types.MappingProxyType({
    'cd': 'ExternalMedia', 'def': 'Default', 'default': 'Default', 'hd': 'Disk', 'net': 'Network'})

#: OpenBMC boot source -> xCAT word.
GET_BOOT_SOURCE_MAP = types.MappingProxyType({
    'Default': setboot.WORD_DEFAULT, 'Disk': setboot.WORD_DISK, 'ExternalMedia': setboot.WORD_CD,
    'Network': setboot.WORD_NETWORK})


def boot_word(source):
    """The xCAT word for an OpenBMC boot source (docs/xcat-facts.md#openbmc-boot-source)."""
    return GET_BOOT_SOURCE_MAP.get(source, 'Can not get valid rsetboot status, the data is %s' % source)


class OpenBMCSetbootExecutor(ExecutorBase, setboot.BootInterface):
    """BootInterface for OpenBMC BMCs."""

    CLIENT = OpenBMCClient

    def get_state(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:
            return boot_word(client.get_boot_source())

    def set_state(self, node, nodeinfo, device, persistent):
        source = SET_BOOT_SOURCE_MAP[device]
        with self.session(node, nodeinfo) as client:
            client.set_boot_source(source, one_time=not persistent)
        # NOTE: xCAT reads the setting back (one more request per node); both PUTs were
        # answered 200, so the BMC holds what we set and we print its word directly.
        return boot_word(source)
