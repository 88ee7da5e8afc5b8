"""OpenBMCPowerExecutor: rpower's node-level steps over phosphor REST (docs/xcat-facts.md#openbmc-rpower)."""

import logging
import types

import gevent

from common import exceptions as exc
from common.nodework import NodeResult, wait_for
from hwctl import power
from hwctl.executor.base import ExecutorBase
from hwctl.openbmc_client import OpenBMCClient

LOG = logging.getLogger(__name__)

#: xCAT's internal state name (``internal_state``) -> xCAT word; any other name (an
#: ``Unexpected ... state=<x>`` text) is printed as it is.
INTERNAL_STATE_WORDS = types.MappingProxyType({
    'Off': power.POWER_OFF,
    'chassison': power.POWER_ON_CHASSIS,
    'Running': power.POWER_ON,
    'Quiesced': power.POWER_QUIESCED,
})

#: xCAT set-state word -> (which transition, value, node status to record).
SET_POWER_STATE_MAP = types.MappingProxyType({
    'on': ('host', 'On', power.STATUS_POWERING_ON),
    'off': ('chassis', 'Off', power.STATUS_POWERING_OFF),
    'softoff': ('host', 'Off', power.STATUS_POWERING_OFF),
})

#: BMC state -> xCAT word; every other state is NotReady.
BMC_STATE_MAP = types.MappingProxyType({'Ready': power.BMC_READY})


def internal_state(chassis, host):
    """xCAT's internal name of a chassis and host state pair, shown in the off-wait error.

    docs/xcat-facts.md#openbmc-power-state (the names), #openbmc-boot-reset (the error).
    """
    if chassis == 'Off':
        return 'Off'
    if chassis != 'On':
        return 'Unexpected chassis state=%s' % chassis
    if host == 'Off':
        return 'chassison'
    if host in ('Running', 'Quiesced'):
        return host
    return 'Unexpected host state=%s' % host


def chassis_host_word(chassis, host):
    """The xCAT word for a chassis power and host state pair (docs/xcat-facts.md#openbmc-power-state).

    A chassis that is Off is off whatever the host says. A state xCAT has no word for is
    no error: it prints as its ``Unexpected ... state=<x>`` text, as xCAT prints it
    (unlike ``redfish_power.system_power_word``).
    """
    state = internal_state(chassis, host)
    return INTERNAL_STATE_WORDS.get(state, state)


class OpenBMCPowerExecutor(ExecutorBase, power.PowerInterface):
    """PowerInterface for OpenBMC BMCs."""

    CLIENT = OpenBMCClient

    def get_state(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:
            return chassis_host_word(*client.get_power_states())

    def set_state(self, node, nodeinfo, state):
        which, value, status = SET_POWER_STATE_MAP[state]
        with self.session(node, nodeinfo) as client:
            if which == 'host':
                client.request_host_transition(value)
            else:
                client.request_chassis_transition(value)
        return NodeResult(state, status)

    def reboot(self, node, nodeinfo, optype):
        with self.session(node, nodeinfo) as client:
            word = chassis_host_word(*client.get_power_states())
            if optype == 'reset' and word in (power.POWER_OFF, power.POWER_ON_CHASSIS):
                return power.POWER_OFF
            if word != power.POWER_OFF:
                client.request_chassis_transition('Off')
                self.messager.update_node_attributes('status', node, power.STATUS_POWERING_OFF)
                self._wait_off(node, client)
            self._power_on(node, client)
        return NodeResult(power.POWER_RESET, power.STATUS_POWERING_ON)

    def _wait_off(self, node, client):
        """Poll until the chassis is off, bounded by ``ctx.state_wait``."""
        last = {}

        def is_off():
            try:
                chassis, host = client.get_power_states()
            except exc.BmcUnreachable as error:
                # NOTE: some BMCs drop connections while switching power; keep polling.
                LOG.info('%s: state poll failed: %s', node, error)
                return False
            last['state'] = internal_state(chassis, host)
            return chassis == 'Off'

        off, elapsed = wait_for(is_off, timeout=self.ctx.state_wait, interval=self.ctx.poll_interval)
        if not off:
            raise exc.BmcStateTimeout(node=node, action='power-off', target='off', seconds=int(elapsed),
                                      state=last.get('state', 'unknown'))

    def _power_on(self, node, client):
        """Request host On, retrying transport failures ``ctx.power_on_attempts`` times."""
        for attempt in range(1, self.ctx.power_on_attempts + 1):
            try:
                client.request_host_transition('On')
                return
            except exc.BmcUnreachable as error:
                if attempt == self.ctx.power_on_attempts:
                    raise
                self.messager.syslog('%s: %s' % (node, error))
                gevent.sleep(self.ctx.retry_delay)

    def get_bmc_state(self, node, nodeinfo):
        state = self.read_bmc_state(node, nodeinfo, lambda client: client.get_bmc_state())
        return BMC_STATE_MAP.get(state, power.BMC_NOT_READY)

    def reboot_bmc(self, node, nodeinfo):
        with self.session(node, nodeinfo) as client:
            try:
                functional, images = client.list_firmware()
            except exc.BmcError as error:
                self.messager.syslog('%s: %s' % (node, error))
                functional, images = set(), {}
            pending = [path for path, props in images.items()
                       if path not in functional and props.get('Priority') == 0]
            if pending:
                self.messager.info('%s: Firmware will be flashed on reboot, deleting all BMC diagnostics...'
                                   % node)
                try:
                    client.delete_all_dumps()
                except exc.BmcError as error:
                    self.messager.warn('%s: Could not clear BMC diagnostics successfully %s' % (node, error))
            try:
                client.request_bmc_reboot()
            except (exc.BmcUnreachable, exc.BmcBadResponse) as error:
                # NOTE: a rebooting BMC may drop the connection before it answers; the
                # request was delivered, so this is not a failure (xcat-core#3832).
                LOG.info('%s: BMC reboot request: %s', node, error)
            # The BMC is going down: its session dies with it, no logout.
            client.forget_session()
        return power.BMC_REBOOT
