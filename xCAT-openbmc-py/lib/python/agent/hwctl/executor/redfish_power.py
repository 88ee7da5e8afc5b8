"""RedfishPowerExecutor: rpower's node-level steps over Redfish (reference section 9.3), with OpenBMC's words."""

import logging
import types

from common import exceptions as exc
from common.task import NodeResult
from hwctl import power
from hwctl.executor.base import ExecutorBase
from hwctl.redfish_client import RedfishClient

LOG = logging.getLogger(__name__)

#: ComputerSystem.PowerState -> xCAT word. The words are OpenBMC's for the same state.
#: NOTE: the transitional states print where the power physically is: while PoweringOn
#: and PoweringOff power is still applied, so both print ``on`` (a script polling for
#: ``off`` keeps waiting until power is really off). Paused is a host halted with power
#: on, OpenBMC's Quiesced.
GET_POWER_STATE_MAP = types.MappingProxyType({
    'On': power.POWER_ON,
    'Off': power.POWER_OFF,
    'PoweringOn': power.POWER_ON,
    'PoweringOff': power.POWER_ON,
    'Paused': power.POWER_QUIESCED,
})

#: xCAT set-state word -> (ResetTypes in order of preference, node status to record).
#: NOTE: xCAT sends ForceOn; HPE iLO and others only offer On, so On is the fallback.
SET_POWER_STATE_MAP = types.MappingProxyType({
    'on': (('ForceOn', 'On'), power.STATUS_POWERING_ON),
    'off': (('ForceOff',), power.STATUS_POWERING_OFF),
    'softoff': (('GracefulShutdown',), power.STATUS_POWERING_OFF),
})

#: PowerState a set-state word leaves the system in; a BMC refusing the Reset while the
#: system is already there means success (lesson 13).
TARGET_STATE_MAP = types.MappingProxyType({'on': 'On', 'off': 'Off', 'softoff': 'Off'})

#: ResetTypes that cycle a powered system, in order of preference (reset and boot).
RESTART_TYPES = ('ForceRestart', 'PowerCycle')
#: Manager ResetTypes for bmcreboot, in order of preference.
BMC_RESTART_TYPES = ('ForceRestart', 'GracefulRestart')

#: Manager.PowerState -> xCAT word (any other string is NotReady too, see ``bmc_word``).
BMC_POWER_STATE_MAP = types.MappingProxyType({
    'On': power.BMC_READY, 'Off': power.BMC_NOT_READY, 'PoweringOn': power.BMC_NOT_READY,
    'PoweringOff': power.BMC_NOT_READY, 'Paused': power.BMC_NOT_READY,
})

#: Manager Status.State -> xCAT word (any other string is NotReady too, see ``bmc_word``).
BMC_STATUS_STATE_MAP = types.MappingProxyType({
    'Enabled': power.BMC_READY, 'Disabled': power.BMC_NOT_READY, 'StandbyOffline': power.BMC_NOT_READY,
    'StandbySpare': power.BMC_NOT_READY, 'InTest': power.BMC_NOT_READY, 'Starting': power.BMC_NOT_READY,
    'Absent': power.BMC_NOT_READY, 'UnavailableOffline': power.BMC_NOT_READY,
    'Deferring': power.BMC_NOT_READY, 'Quiesced': power.BMC_NOT_READY, 'Updating': power.BMC_NOT_READY,
    'Qualified': power.BMC_NOT_READY,
})


def power_word(node, state):
    """The xCAT word for a ComputerSystem PowerState.

    :raises BmcBadResponse: a value Redfish does not define.
    """
    try:
        return GET_POWER_STATE_MAP[state]
    except (KeyError, TypeError):
        raise exc.BmcBadResponse(node=node, detail='unknown PowerState %r' % (state,))


def bmc_word(node, power_state, status_state):
    """The xCAT word for a Manager: ready only when every state it reports says so.

    NOTE: a booting bmcweb already reports PowerState On while its Status.State is
    Starting, so PowerState alone is not enough. A state word we do not know (a newer
    schema's, or a vendor's such as Degraded) prints NotReady, as the OpenBMC path prints
    NotReady for every BMC state but Ready: the admin learns the BMC is not usable yet,
    which is true, rather than an error about our parser.

    :raises BmcBadResponse: a value that is not a string, or neither property present.
    """
    words = []
    for value, known in ((power_state, BMC_POWER_STATE_MAP), (status_state, BMC_STATUS_STATE_MAP)):
        if value is None:
            continue
        if not isinstance(value, str):
            words = []
            break
        if value not in known:
            LOG.info('%s: unknown manager state %r, taken as %s', node, value, power.BMC_NOT_READY)
        words.append(known.get(value, power.BMC_NOT_READY))
    if not words:
        raise exc.BmcBadResponse(node=node, detail='unknown manager state PowerState=%s Status.State=%s'
                                 % (power_state, status_state))
    return power.BMC_READY if set(words) == {power.BMC_READY} else power.BMC_NOT_READY


def pick_reset_type(node, word, wanted, allowed):
    """The first of ``wanted`` the BMC allows (``allowed`` None: the BMC did not say, all are).

    :raises Unsupported: ``Unsupported option: <word>`` when none is allowed.
    """
    if allowed is None:
        return wanted[0]
    for reset_type in wanted:
        if reset_type in allowed:
            return reset_type
    raise exc.Unsupported('Unsupported option: %s' % word, node=node)


class RedfishPowerExecutor(ExecutorBase, power.PowerInterface):
    """PowerInterface for Redfish BMCs.

    Redfish resets are single actions: no off-wait is needed, so ``reboot`` sends one
    ForceRestart instead of OpenBMC's off, poll, on. ``set_state`` and ``reboot_bmc`` send
    their Reset without reading first (``_reset``); ``reboot`` reads the state it needs.
    """

    CLIENT = RedfishClient

    def validate_set_state(self, state):
        if state not in SET_POWER_STATE_MAP:
            raise exc.Unsupported(detail='rpower %s' % state)

    def validate_reboot(self, optype):
        if optype not in power.REBOOT_ACTIONS:
            raise exc.Unsupported(detail='rpower %s' % optype)

    def get_state(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:
            return power_word(node, client.get_power_state())

    @staticmethod
    def _reset(node, client, target, word, wanted, post, power_state=None):
        """Send the preferred Reset at once; read the resource only when the BMC says no.

        NOTE: on bmcweb the action's target is known and the preferred type is allowed, so
        the POST goes out without a read (one request less per node). A 404 means the
        action lives elsewhere (HPE iLO, Dell iDRAC, sushy-tools): the member is found
        through its collection, as it was before. A refusal (400 type not in the list,
        409 HPE iLO's On for a system already on, 501...) is answered from the resource:
        already in ``power_state`` is success (lesson 13); else the next type of
        ``wanted`` the BMC allows is sent, none allowed is ``Unsupported option: <word>``,
        and a type the BMC allows yet refused keeps the BMC's own error.

        :param target: ``system`` or ``manager``.
        :param word: the xCAT word named in ``Unsupported option: <word>``.
        :param wanted: ResetTypes in order of preference.
        :param post: sends one Reset POST, given the ResetType.
        :param power_state: PowerState that makes a refusal a success, or None.
        :returns: the ResetType accepted, or None when the system already was in ``power_state``.
        :raises Unsupported: no type of ``wanted`` is allowed.
        :raises BmcHTTPError: the BMC's refusal of an allowed type.
        """
        try:
            post(wanted[0])
            return wanted[0]
        except exc.BmcHTTPError as error:
            if not client.reset_falls_back(error):
                raise
            LOG.info('%s: %s Reset %s: %s; reading the %s', node, target, wanted[0], error, target)
        if power_state is not None and client.get_power_state() == power_state:
            return None
        reset_type = pick_reset_type(node, word, wanted, client.get_reset_types(target))
        post(reset_type)
        return reset_type

    def set_state(self, node, nodeinfo, state):
        wanted, status = SET_POWER_STATE_MAP[state]
        with self.session(node, nodeinfo) as client:
            self._reset(node, client, 'system', state, wanted, client.reset_system, TARGET_STATE_MAP[state])
        return NodeResult(state, status)

    def reboot(self, node, nodeinfo, optype):
        with self.session(node, nodeinfo) as client:
            word = power_word(node, client.get_power_state())
            if word == power.POWER_OFF and optype == 'reset':
                return power.POWER_OFF
            wanted = SET_POWER_STATE_MAP['on'][0] if word == power.POWER_OFF else RESTART_TYPES
            client.reset_system(pick_reset_type(node, optype, wanted, client.get_reset_types('system')))
        return NodeResult(power.POWER_RESET, power.STATUS_POWERING_ON)

    def get_bmc_state(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:
            try:
                state = client.get_manager_state()
            except exc.BmcHTTPError as error:
                raise exc.BmcError('%s (%s)' % (power.BMC_NOT_READY, error), node=node)
            except exc.BmcUnreachable:
                raise exc.BmcError(power.BMC_NOT_READY, node=node)
        return bmc_word(node, *state)

    def reboot_bmc(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:

            def post(reset_type):
                try:
                    client.reset_manager(reset_type)
                except (exc.BmcUnreachable, exc.BmcBadResponse) as error:
                    # NOTE: a rebooting BMC may drop the connection before it answers; the
                    # request was delivered, so this is not a failure (xcat-core#3832).
                    LOG.info('%s: BMC reboot request: %s', node, error)
                    client.logged_in = False

            self._reset(node, client, 'manager', 'bmcreboot', BMC_RESTART_TYPES, post)
        return power.BMC_REBOOT
