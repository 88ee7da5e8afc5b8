"""State of one simulated BMC: power, boot settings, offered Redfish reset types, sessions, counters and its fault.

Power model (shared by both dialects): ``chassis`` is ``On``/``Off``, ``host`` is ``Off``/``Running``
(any other word can be forced through the control API to provoke "unexpected state" paths).  A power
transition is applied after the fleet's delay (immediately and synchronously when it is 0); while it
is pending ``pending`` holds ``'on'`` or ``'off'`` (Redfish shows PoweringOn/PoweringOff).  The fault
``stuck`` makes transitions accepted but never applied.  Every transition that ends in a boot
consumes the one-time boot settings (OpenBMC ``one_time`` Enabled and Redfish override ``Once``).
"""

import base64
import math
import os
import time
from dataclasses import dataclass
from typing import Optional

import gevent

from sim.redfish_styles import STYLES

#: Per-BMC counters reported by the control API (``open_sessions`` is derived, not counted).
#: ``session_deletes`` counts every Redfish session DELETE, refused ones included (``logouts``
#: counts sessions ended, which a DELETE after a BMC reboot no longer finds). ``basic_requests``
#: and ``basic_refusals``: Redfish requests without a session token whose HTTP Basic
#: credentials were taken, or refused.
COUNTERS = ('requests', 'logins', 'login_failures', 'logouts', 'session_deletes', 'handshakes', 'connections',
            'transitions', 'resumed_handshakes', 'expired_sessions', 'basic_requests', 'basic_refusals')


@dataclass(frozen=True)
class BmcSettings:
    """Fleet-wide behaviour switches every BMC reads.

    :param protocol: ``openbmc`` or ``redfish``.
    :param delay: seconds before a requested power/BMC transition lands (0 = synchronously).
    :param max_sessions: sessions kept per BMC; the oldest is dropped beyond it.
    :param redfish_reply: ``body`` (200 with a message body) or ``204`` for Redfish actions/PATCH.
    :param redfish_allowable: ``inline`` allowable values or ``actioninfo`` (@Redfish.ActionInfo).
    :param session_service: Redfish SessionService present (else Basic auth only).
    :param redfish_style: the Redfish vendor style (``sim.redfish_styles.STYLES``).
    :param session_timeout: seconds a session may stay unused before it ends (0 = never).
    :param advertised_session_timeout: the Redfish ``SessionTimeout`` shown (None: the
        ``session_timeout`` rounded up, or 1800 when sessions never end).
    """

    protocol: str = 'openbmc'
    delay: float = 0.0
    max_sessions: int = 64
    redfish_reply: str = 'body'
    redfish_allowable: str = 'inline'
    session_service: bool = True
    redfish_style: str = 'bmcweb'
    #: seconds a session may stay unused before the BMC forgets it (0 = never).
    session_timeout: float = 0.0
    advertised_session_timeout: Optional[int] = None

    @property
    def shown_session_timeout(self):
        """Redfish ``SessionService.SessionTimeout`` (whole seconds)."""
        if self.advertised_session_timeout is not None:
            return int(self.advertised_session_timeout)
        return int(math.ceil(self.session_timeout)) if self.session_timeout > 0 else 1800


def basic_header(username, password):
    """:returns: the exact ``Authorization`` value HTTP Basic sends for these credentials."""
    raw = ('%s:%s' % (username, password)).encode('utf-8')
    return 'Basic ' + base64.b64encode(raw).decode('ascii')


class BMC:
    """One simulated BMC.

    :param index: 1-based node number.
    :param name: node name (``node001``).
    :param ip: listening address.
    :param port: listening port.
    :param username: BMC user.
    :param password: that user's password.
    :param settings: the fleet's :class:`BmcSettings`.
    """

    def __init__(self, index, name, ip, port, username, password, settings):
        self.index = index
        self.name = name
        self.ip = ip
        self.port = port
        self.settings = settings
        self.initial_credentials = (username, password)
        self.initial_fault = None
        self.fault = None
        self.fault_left = 0
        self.server = None
        self.live = set()
        self._power_timer = None
        self._bmc_timer = None
        self.reset_counters()
        self.reset_state()

    # -- configuration ---------------------------------------------------------------------------

    @property
    def address(self):
        """``IP`` or ``IP:PORT`` when the port is not 443 (the form nodeinfo's ``bmc`` uses)."""
        return self.ip if self.port == 443 else '%s:%d' % (self.ip, self.port)

    def set_credentials(self, username, password):
        """Change the BMC's user and password; existing sessions stay valid."""
        self.username = username
        self.password = password
        self.basic = basic_header(username, password)

    def set_fault(self, fault):
        """Install a :class:`sim.faults.Fault` (or ``None``); listener changes are the server's job."""
        self.fault = fault
        self.fault_left = fault.arg if fault is not None and fault.name == '503' else 0

    @property
    def fault_name(self):
        """Name of the current fault, or ``None``."""
        return self.fault.name if self.fault is not None else None

    def reset_counters(self):
        """Zero every counter."""
        for name in COUNTERS:
            setattr(self, name, 0)

    def reset_state(self):
        """Back to the initial state: off, boot Default, one-time disabled, BMC Ready, no sessions."""
        self._cancel_timers()
        self.chassis = 'Off'
        self.host = 'Off'
        self.bmc_state = 'Ready'
        self.requested_host = 'Off'
        self.requested_chassis = 'Off'
        self.requested_bmc = 'None'
        self.pending = None
        self.boot_source = 'Default'
        self.boot_mode = 'Regular'
        self.one_time_enabled = False
        self.one_time_source = 'Default'
        self.one_time_mode = 'Regular'
        self.override_enabled = 'Disabled'
        self.override_target = 'None'
        self.override_mode = STYLES[self.settings.redfish_style].boot_mode or 'UEFI'
        self.pending_firmware = False
        # Redfish reset types offered (None: every type the dialect knows) and iLO's refusal of On when on.
        self.reset_types = None
        self.manager_reset_types = None
        self.refuse_on_when_on = False
        self.sessions = {}
        self.session_used = {}
        # Encoded answers of static object trees (sim.openbmc.TREES), by request path.
        self.cache = {}
        # State of other command families (LEDs, event log...), by module key, built lazily.
        self.extras = {}
        self.set_credentials(*self.initial_credentials)

    def _cancel_timers(self):
        for attr in ('_power_timer', '_bmc_timer'):
            timer = getattr(self, attr, None)
            if timer is not None:
                timer.kill(block=False)
            setattr(self, attr, None)

    # -- authentication --------------------------------------------------------------------------

    def credentials_ok(self, username, password):
        """:returns: whether a login with these credentials succeeds (never under fault ``401``)."""
        if self.fault_name == '401':
            return False
        return username == self.username and password == self.password

    def basic_ok(self, header):
        """:returns: whether an ``Authorization`` header carries the right Basic credentials
        (never under faults ``401`` and ``nobasic``)."""
        return header == self.basic and self.fault_name not in ('401', 'nobasic')

    def open_session(self):
        """Create a session and count the login.

        :returns: ``(token, session_id)``.
        """
        if len(self.sessions) >= self.settings.max_sessions:
            # NOTE: bmcweb caps its session table too; dropping the oldest keeps memory bounded when
            # clients (like xCAT) never log out.
            oldest = next(iter(self.sessions))
            del self.sessions[oldest]
            self.session_used.pop(oldest, None)
        token = os.urandom(16).hex()
        session_id = os.urandom(5).hex()
        self.sessions[token] = session_id
        self.session_used[token] = time.monotonic()
        self.logins += 1
        return token, session_id

    def session_ok(self, token):
        """:returns: whether ``token`` names a live session (one unused for longer than the
        settings' ``session_timeout`` has ended, as on a BMC)."""
        if token not in self.sessions or self.fault_name == '401':
            return False
        now = time.monotonic()
        timeout = self.settings.session_timeout
        if timeout > 0 and now - self.session_used.get(token, now) > timeout:
            del self.sessions[token]
            self.session_used.pop(token, None)
            self.expired_sessions += 1
            return False
        self.session_used[token] = now
        return True

    def close_session(self, token):
        """End a session by token; :returns: whether one was ended (and counted)."""
        self.session_used.pop(token, None)
        if self.sessions.pop(token, None) is None:
            return False
        self.logouts += 1
        return True

    def restart_bmc_now(self):
        """A BMC restart as its clients see it: every session ends, every connection drops."""
        self.sessions.clear()
        self.session_used.clear()
        self.drop_connections()

    def drop_connections(self):
        """Close every open connection (as an idle close does); sessions stay."""
        for sock in list(self.live):
            try:
                sock.shutdown(2)
            except OSError:
                pass

    def token_of(self, session_id):
        """:returns: the token of a session id, or ``None``."""
        for token, sid in self.sessions.items():
            if sid == session_id:
                return token
        return None

    # -- power -----------------------------------------------------------------------------------

    @property
    def redfish_power(self):
        """Redfish ``PowerState`` of the system (and chassis)."""
        if self.pending == 'on':
            return 'PoweringOn'
        if self.pending == 'off':
            return 'PoweringOff'
        return 'On' if self.chassis == 'On' else 'Off'

    def _transition(self, pending, final):
        """Apply ``final`` now (delay 0) or after the delay, unless the BMC is ``stuck``."""
        self.transitions += 1
        if self.fault_name == 'stuck':
            return
        if self._power_timer is not None:
            # A newer request supersedes the one still in flight, as on a real BMC.
            self._power_timer.kill(block=False)
            self._power_timer = None
        if self.settings.delay <= 0:
            self.pending = None
            final()
            return
        self.pending = pending
        self._power_timer = gevent.spawn_later(self.settings.delay, self._land, final)

    def _land(self, final):
        self._power_timer = None
        self.pending = None
        final()

    def _booted(self):
        self.chassis = 'On'
        self.host = 'Running'
        # One-time settings last until the next boot, then revert (OpenBMC clears Enabled; Redfish
        # turns Once into Disabled).
        self.one_time_enabled = False
        if self.override_enabled == 'Once':
            self.override_enabled = 'Disabled'

    def _halted(self):
        self.chassis = 'Off'
        self.host = 'Off'

    def _chassis_up(self):
        self.chassis = 'On'

    def power_on(self):
        """Request a host power-on (chassis On, host Running)."""
        self.requested_host = 'On'
        self._transition('on', self._booted)

    def power_off(self):
        """Request a power-off (chassis Off, host Off)."""
        self.requested_chassis = 'Off'
        self._transition('off', self._halted)

    def soft_off(self):
        """Request a graceful host shutdown (host Off, then chassis Off)."""
        self.requested_host = 'Off'
        self._transition('off', self._halted)

    def chassis_on(self):
        """Request chassis power only (the host stays Off: ``on (Chassis)``)."""
        self.requested_chassis = 'On'
        self._transition('on', self._chassis_up)

    def restart(self):
        """Request a reboot; ends powered on and running, consuming one-time boot settings."""
        self.requested_host = 'Reboot'
        self._transition('on', self._booted)

    def set_power(self, word):
        """Force the power state at once (control API): ``on`` or ``off``.

        :raises ValueError: on another word.
        """
        if word not in ('on', 'off'):
            raise ValueError("power must be 'on' or 'off'")
        if self._power_timer is not None:
            self._power_timer.kill(block=False)
            self._power_timer = None
        self.pending = None
        if word == 'on':
            self.chassis, self.host = 'On', 'Running'
        else:
            self.chassis, self.host = 'Off', 'Off'

    def bmc_reboot(self):
        """Reboot the BMC: sessions end, state NotReady, Ready again after the delay."""
        self.requested_bmc = 'Reboot'
        self.sessions.clear()
        self.session_used.clear()
        if self._bmc_timer is not None:
            self._bmc_timer.kill(block=False)
            self._bmc_timer = None
        if self.settings.delay <= 0:
            self.bmc_state = 'Ready'
            return
        self.bmc_state = 'NotReady'
        self._bmc_timer = gevent.spawn_later(self.settings.delay, self._bmc_ready)

    def _bmc_ready(self):
        self._bmc_timer = None
        self.bmc_state = 'Ready'

    # -- reporting -------------------------------------------------------------------------------

    def to_dict(self):
        """:returns: the control API's view of this BMC (see the README for the field list)."""
        out = {
            'name': self.name,
            'index': self.index,
            'bmc': self.address,
            'ip': self.ip,
            'port': self.port,
            'protocol': self.settings.protocol,
            'username': self.username,
            'password': self.password,
            'listening': self.server is not None,
            'chassis': self.chassis,
            'host': self.host,
            'power': 'on' if self.chassis == 'On' and self.host == 'Running' else
                     'off' if self.chassis == 'Off' else 'other',
            'redfish_power': self.redfish_power,
            'pending': self.pending,
            'bmc_state': self.bmc_state,
            'requested_host': self.requested_host,
            'requested_chassis': self.requested_chassis,
            'requested_bmc': self.requested_bmc,
            'boot_source': self.boot_source,
            'boot_mode': self.boot_mode,
            'one_time_enabled': self.one_time_enabled,
            'one_time_source': self.one_time_source,
            'one_time_mode': self.one_time_mode,
            'boot_override_enabled': self.override_enabled,
            'boot_override_target': self.override_target,
            'boot_override_mode': self.override_mode,
            'pending_firmware': self.pending_firmware,
            'reset_types': None if self.reset_types is None else list(self.reset_types),
            'manager_reset_types': None if self.manager_reset_types is None else list(self.manager_reset_types),
            'refuse_on_when_on': self.refuse_on_when_on,
            'fault': self.fault.to_dict() if self.fault is not None else None,
            'open_sessions': len(self.sessions),
            'open_connections': len(self.live),
        }
        for name in COUNTERS:
            out[name] = getattr(self, name)
        for key, extra in self.extras.items():
            out[key] = extra.to_dict()
        return out
