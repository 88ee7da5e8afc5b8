"""Vendor styles of the Redfish dialect: where each BMC family puts things and how it says no.

Each style is a small record of our own, written from the behaviours listed in
docs/DESIGN.md ("Redfish vendor behaviours"): URL layout (member ids, trailing slashes,
session collection), the reset types a system offers and how it advertises them, the boot
override annotations, and the quirks the client has to handle (mode revert, read-only Boot
behind a settings object, If-Match, a manager without state, MessageId-only error bodies).
``bmcweb`` is the default and matches the dialect's original layout. Every style takes an
``X-Auth-Token`` session or HTTP Basic on any request, as the Redfish specification has every
service do (the fault ``nobasic`` makes a BMC refuse Basic).
"""

from dataclasses import dataclass
from types import MappingProxyType

ALL_RESETS = ('On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'ForceOn',
              'PowerCycle', 'Nmi', 'PushPowerButton')


@dataclass(frozen=True)
class RedfishStyle:
    """One BMC family.

    :param name: the ``--redfish-style`` word.
    :param system_id: id of the one system; ``None`` names it after the node's serial number
        (different on every node, as Cisco CIMC does).
    :param manager_id: id of the manager.
    :param slash: links end with ``/`` (HPE iLO 4 and early iLO 5).
    :param sessions: path of the session collection.
    :param resets: system ResetTypes offered (the truth, also in the ActionInfo).
    :param advert: how they are advertised: ``inline``, ``actioninfo``, ``both``, ``none``, or
        ``fleet`` (the fleet's ``--redfish-allowable``).
    :param inline_resets: the inline list when it differs from the truth (a malformed one).
    :param manager_resets: manager ResetTypes offered.
    :param manager_advert: as ``advert`` (``fleet``: the fleet's ``--redfish-allowable``).
    :param boot_mode: initial ``BootSourceOverrideMode``; ``None``: the BMC has no such property.
    :param enabled_values: ``BootSourceOverrideEnabled`` values accepted; advertised when not all three.
    :param targets_key: annotation of the allowed targets (``@Redfish.AllowableValues`` or
        iLO 4's ``BootSourceOverrideSupported``).
    :param mode_revert: a Boot PATCH without ``BootSourceOverrideMode`` keeps the target but
        silently turns the override Disabled (Supermicro H13).
    :param settings_object: Boot is read-only on the system; PATCHes go to its settings object.
    :param if_match: a PATCH needs ``If-Match`` with the current ETag (428 without, 412 stale).
    :param stateless_manager: the manager has neither ``Status`` nor ``PowerState``.
    :param errors: ``full`` (Message and MessageId), ``messageid`` (iLO 5: no Message) or
        ``messageID`` (iLO 4: the key is spelled ``MessageID``).
    :param on_when_on: status of On/ForceOn for a system already on (HPE iLO: 409), or 0.
    :param patch_reply: ``default`` (the fleet's ``--redfish-reply``), or ``success`` (200 with a
        Supermicro-style ``{"Success": ...}`` body).
    """

    name: str
    system_id: object = 'system'
    manager_id: str = 'bmc'
    slash: bool = False
    sessions: str = '/redfish/v1/SessionService/Sessions'
    resets: tuple = ('On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'ForceOn',
                     'PowerCycle', 'Nmi')
    advert: str = 'fleet'
    inline_resets: tuple = None
    manager_resets: tuple = ('GracefulRestart', 'ForceRestart')
    manager_advert: str = 'fleet'
    boot_mode: str = 'UEFI'
    enabled_values: tuple = ('Disabled', 'Once', 'Continuous')
    targets_key: str = 'BootSourceOverrideTarget@Redfish.AllowableValues'
    mode_revert: bool = False
    settings_object: bool = False
    if_match: bool = False
    stateless_manager: bool = False
    errors: str = 'full'
    on_when_on: int = 0
    patch_reply: str = 'default'


_DELL_SESSIONS = '/redfish/v1/Sessions'

#: Every style, by name (the facts behind each are in docs/DESIGN.md).
STYLES = MappingProxyType({s.name: s for s in (
    RedfishStyle('bmcweb'),
    RedfishStyle('ilo4', system_id='1', manager_id='1', slash=True,
                 resets=('On', 'ForceOff', 'ForceRestart', 'Nmi', 'PushPowerButton'), advert='inline',
                 manager_resets=('ForceRestart',), manager_advert='none', boot_mode=None,
                 targets_key='BootSourceOverrideSupported', errors='messageID', on_when_on=409),
    RedfishStyle('ilo5', system_id='1', manager_id='1', slash=True,
                 resets=('On', 'ForceOff', 'ForceRestart', 'Nmi', 'PushPowerButton'), advert='inline',
                 manager_resets=('ForceRestart',), manager_advert='none', errors='messageid', on_when_on=409),
    RedfishStyle('idrac8', system_id='System.Embedded.1', manager_id='iDRAC.Embedded.1',
                 sessions=_DELL_SESSIONS, resets=('On', 'ForceOff', 'GracefulRestart', 'PushPowerButton', 'Nmi'),
                 advert='inline', manager_resets=('GracefulRestart',), boot_mode=None),
    RedfishStyle('idrac9', system_id='System.Embedded.1', manager_id='iDRAC.Embedded.1',
                 sessions=_DELL_SESSIONS, resets=('On', 'ForceOff', 'ForceRestart', 'GracefulRestart',
                                                  'GracefulShutdown', 'PushPowerButton', 'Nmi', 'PowerCycle'),
                 advert='inline', manager_resets=('GracefulRestart',)),
    RedfishStyle('idrac10', system_id='System.Embedded.1', manager_id='iDRAC.Embedded.1',
                 resets=('On', 'ForceOff', 'ForceRestart', 'GracefulShutdown', 'PushPowerButton'),
                 advert='inline', manager_resets=('GracefulRestart',), settings_object=True),
    RedfishStyle('smc_x10', system_id='1', manager_id='1',
                 resets=('On', 'ForceOff', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn'), advert='inline',
                 manager_resets=('GracefulRestart',), manager_advert='none', boot_mode=None),
    RedfishStyle('smc_x12', system_id='1', manager_id='1',
                 resets=('On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn'),
                 advert='both', inline_resets=('On', 'ForceOff', 'GracefulShutdownGracefulRestart', 'ForceRestart',
                                               'Nmi', 'ForceOn'),
                 manager_resets=('GracefulRestart',), manager_advert='none'),
    RedfishStyle('smc_h13', system_id='1', manager_id='1', advert='both', boot_mode='Legacy',
                 manager_resets=('GracefulRestart',), manager_advert='none', mode_revert=True,
                 patch_reply='success'),
    RedfishStyle('smc_x13', system_id='1', manager_id='1', advert='both', boot_mode='Legacy',
                 manager_resets=('GracefulRestart',), mode_revert=True, stateless_manager=True,
                 patch_reply='success'),
    RedfishStyle('xcc', system_id='1', manager_id='1',
                 resets=('On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn'),
                 advert='inline', boot_mode='Legacy', enabled_values=('Once', 'Disabled')),
    RedfishStyle('ami', system_id='1', manager_id='1',
                 resets=('On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn'),
                 advert='inline', boot_mode='Legacy', enabled_values=('Once', 'Disabled'), if_match=True),
    RedfishStyle('cimc', system_id=None, manager_id='CIMC',
                 resets=('On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'PowerCycle'),
                 advert='inline', manager_resets=('ForceRestart',), boot_mode=None),
)})
