"""RedfishPowerExecutor: rpower's node-level steps over Redfish, with OpenBMC's words.

xCAT's requests and words: docs/xcat-facts.md#redfish-rpower.
"""

import logging
import types

from common import exceptions as exc
from common.nodework import NodeResult, wait_for
from hwctl import power
from hwctl.executor.redfish_base import RedfishExecutorBase

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
    'softoff': (('GracefulShutdown', 'PushPowerButton'), power.STATUS_POWERING_OFF),
})
#: NOTE: HPE iLO 4 and early iLO 5 and Dell iDRAC 8 offer no GracefulShutdown; their
#: PushPowerButton is a graceful shutdown request to a running host, so softoff uses it
#: when GracefulShutdown is missing. The client sends it only when the system is not
#: already off (``RedfishClient.reset``), since a press powers an off host on.

#: ResetTypes of the off step of a reset on a BMC without a restart type.
OFF_TYPES = ('ForceOff',)

#: PowerState a set-state word leaves the system in; a BMC refusing the Reset while the
#: system is already there means success (docs/DESIGN.md, "Where we differ from xCAT on purpose").
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


def system_power_word(node, state):
    """The xCAT word for a ComputerSystem PowerState.

    Unlike OpenBMC's states (``openbmc_power.chassis_host_word``), PowerState is an enum
    of the Redfish schema: any other value is a broken answer, not a state to show.

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

    :raises BmcBadResponse: a value that is not a string.
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
        if power_state is None and status_state is None:
            # NOTE: a Supermicro X13 manager has neither; it answered an authenticated
            # GET and says nothing against it, so it is ready.
            return power.BMC_READY
        raise exc.BmcBadResponse(node=node, detail='unknown manager state PowerState=%s Status.State=%s'
                                 % (power_state, status_state))
    return power.BMC_READY if set(words) == {power.BMC_READY} else power.BMC_NOT_READY


class RedfishPowerExecutor(RedfishExecutorBase, power.PowerInterface):
    """PowerInterface for Redfish BMCs.

    Redfish resets are single actions: ``reboot`` sends one ForceRestart (or PowerCycle)
    instead of OpenBMC's off, poll, on, unless the BMC offers neither. ``set_state`` and
    ``reboot_bmc`` send their Reset without reading first (``RedfishClient.reset``);
    ``reboot`` reads the state it needs.
    """

    def get_state(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:
            return system_power_word(node, client.get_power_state())

    def set_state(self, node, nodeinfo, state):
        wanted, status = SET_POWER_STATE_MAP[state]
        with self.session(node, nodeinfo) as client:
            client.reset('system', wanted, state, TARGET_STATE_MAP[state])
        return NodeResult(state, status)

    def reboot(self, node, nodeinfo, optype):
        with self.session(node, nodeinfo) as client:
            word = system_power_word(node, client.get_power_state())
            if word == power.POWER_OFF and optype == 'reset':
                return power.POWER_OFF
            allowed = client.get_reset_types('system')
            on_types = SET_POWER_STATE_MAP['on'][0]
            if word == power.POWER_OFF:
                client.reset_system(client.pick_reset_type(optype, on_types, allowed))
            elif allowed is None or set(RESTART_TYPES) & allowed:
                client.reset_system(client.pick_reset_type(optype, RESTART_TYPES, allowed))
            else:
                # NOTE: Dell iDRAC 8 offers neither ForceRestart nor PowerCycle: the node is
                # reset as ForceOff, a wait for Off (bounded by state_wait), then On.
                client.reset_system(client.pick_reset_type(optype, OFF_TYPES, allowed))
                self.messager.update_node_attributes('status', node, power.STATUS_POWERING_OFF)
                self._wait_off(node, client)
                client.reset_system(client.pick_reset_type(optype, on_types, allowed))
        return NodeResult(power.POWER_RESET, power.STATUS_POWERING_ON)

    def _wait_off(self, node, client):
        """Poll the system until it is Off, bounded by ``ctx.state_wait``."""
        last = {}

        def is_off():
            try:
                last['state'] = client.get_power_state(fresh=True)
            except exc.BmcUnreachable as error:
                LOG.info('%s: state poll failed: %s', node, error)
                return False
            return last['state'] == 'Off'

        off, elapsed = wait_for(is_off, timeout=self.ctx.state_wait, interval=self.ctx.poll_interval)
        if not off:
            raise exc.BmcStateTimeout(node=node, action='power-off', target='off', seconds=int(elapsed),
                                      state=last.get('state', 'unknown'))

    def get_bmc_state(self, node, nodeinfo):
        return bmc_word(node, *self.read_bmc_state(node, nodeinfo, lambda client: client.get_manager_state()))

    def reboot_bmc(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:

            def post(path, reset_type):
                try:
                    client.post_reset(path, reset_type)
                except (exc.BmcUnreachable, exc.BmcBadResponse) as error:
                    # NOTE: a rebooting BMC may drop the connection before it answers; the
                    # request was delivered, so this is not a failure (xcat-core#3832).
                    LOG.info('%s: BMC reboot request: %s', node, error)
                    client.forget_session()

            client.reset('manager', BMC_RESTART_TYPES, 'bmcreboot', post=post)
        return power.BMC_REBOOT
