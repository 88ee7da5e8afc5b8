"""RedfishSetbootExecutor: rsetboot's node-level steps over Redfish, with OpenBMC's words.

xCAT's requests and words: docs/xcat-facts.md#redfish-rsetboot.
"""

import types

from common import exceptions as exc
from hwctl import setboot
from hwctl.executor.redfish_base import RedfishExecutorBase

#: xCAT device word -> BootSourceOverrideTarget.
SET_BOOT_TARGET_MAP = types.MappingProxyType({
    'net': 'Pxe', 'hd': 'Hdd', 'cd': 'Cd', 'def': 'None', 'default': 'None'})

#: BootSourceOverrideTarget -> xCAT word. ``None`` (no override) prints OpenBMC's
#: ``Default``, not xCAT Redfish's ``boot override inactive``, so both paths agree.
GET_BOOT_TARGET_MAP = types.MappingProxyType({
    'Pxe': setboot.WORD_NETWORK, 'Hdd': setboot.WORD_DISK, 'Cd': setboot.WORD_CD, 'None': setboot.WORD_DEFAULT,
    'BiosSetup': 'BIOS Setup', 'Floppy': 'Floppy'})

#: BootSourceOverrideEnabled values Redfish defines; ``Disabled`` means no override.
OVERRIDE_ENABLED = frozenset({'Once', 'Continuous', 'Disabled'})

#: Target that means "no override"; it is always possible, with BootSourceOverrideEnabled Disabled.
NO_OVERRIDE = 'None'


def boot_word(node, enabled, target):
    """The xCAT word for a system's boot override.

    A target Redfish defines but xCAT has no word for (``Usb``, ``UefiShell``...) prints
    OpenBMC's sentence for an unknown source.

    NOTE: BootSourceOverrideEnabled is optional in the schema and some BMCs leave it out
    (they have no notion of a one-time override); the target then is the boot source in
    force, so it is read as enabled rather than refused.

    :param enabled: BootSourceOverrideEnabled, or None when the BMC does not give it.
    :raises BmcBadResponse: an unknown BootSourceOverrideEnabled or a missing target.
    """
    if enabled is not None and (not isinstance(enabled, str) or enabled not in OVERRIDE_ENABLED):
        raise exc.BmcBadResponse(node=node, detail='unknown BootSourceOverrideEnabled %r' % (enabled,))
    if enabled == 'Disabled':
        return setboot.WORD_DEFAULT
    if not isinstance(target, str):
        raise exc.BmcBadResponse(node=node, detail='no BootSourceOverrideTarget in Boot')
    return GET_BOOT_TARGET_MAP.get(target, 'Can not get valid rsetboot status, the data is %s' % target)


class RedfishSetbootExecutor(RedfishExecutorBase, setboot.BootInterface):
    """BootInterface for Redfish BMCs: one PATCH of the system's Boot sets target and duration."""

    def get_state(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:
            enabled, target, _allowed = client.get_boot()
        return boot_word(node, enabled, target)

    def set_state(self, node, nodeinfo, device, persistent):
        target = SET_BOOT_TARGET_MAP[device]
        if target == NO_OVERRIDE:
            enabled = 'Disabled'
        else:
            enabled = 'Continuous' if persistent else 'Once'
        with self.session(node, nodeinfo) as client:
            # NOTE: nothing is read first: the BMC checks the target itself, and a refusal
            # prints as ``[400] <BMC message>``. The word printed is what the BMC holds
            # afterwards (``set_boot`` checks it), never only what was asked.
            held_enabled, held_target = client.set_boot(target, enabled)
        return boot_word(node, held_enabled, held_target)
