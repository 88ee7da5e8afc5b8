"""Control API of the fleet (plain HTTP + JSON on 127.0.0.1): inspect and steer every simulated BMC.

Routes (all answers JSON; errors are ``{"error": "text"}`` with 400/404/405):

* ``GET /info``: fleet settings (protocol, nodes, base, port, ca_path, tables_dir, control, pid, ...).
* ``GET /nodes[?range=NODERANGE]``: list of node entries (see :meth:`sim.bmc.BMC.to_dict`).
* ``GET /nodes/<name>``: one entry.
* ``POST /nodes/<name>`` with fields of :data:`NODE_FIELDS`: change that node; answers its entry.
* ``POST /faults`` ``{"range": "node[001-010]" | [names], "fault": "slow", "arg": 2}``:
  answers ``{"nodes": [...], "fault": {...} | null}``.
* ``POST /reset`` (optional ``{"counters": true, "states": true, "faults": true}``): back to the
  start configuration (faults go back to those given by ``--faults``).
* ``GET /stats``: counter totals, node counts by power state, and the fleet's CPU seconds and RSS.
"""

import json
import os
import resource
import time
from types import MappingProxyType
from urllib.parse import parse_qs

from sim import faults, openbmc, redfish
from sim.bmc import COUNTERS
from sim.noderange import parse_noderange
from sim.wire import Response


def _bool(value):
    if not isinstance(value, bool):
        raise ValueError('must be true or false')
    return value


def _word(value):
    if not isinstance(value, str) or not value or not value.isidentifier():
        raise ValueError('must be a word such as Running')
    return value


def _text(value):
    if not isinstance(value, str):
        raise ValueError('must be a string')
    return value


def _member(allowed):
    def check(value):
        if value not in allowed:
            raise ValueError('must be one of %s' % ', '.join(sorted(allowed)))
        return value
    return check


def _subset(allowed):
    def check(value):
        if value is None:
            return None
        if not isinstance(value, list) or any(v not in allowed for v in value):
            raise ValueError('must be null or a list of %s' % ', '.join(allowed))
        return tuple(value)
    return check


def _power(value):
    if value not in ('on', 'off'):
        raise ValueError("must be 'on' or 'off'")
    return value


#: Settable node fields -> validator (returns the value to store, raises ValueError).
NODE_FIELDS = MappingProxyType({
    'power': _power,
    'host': _word,
    'chassis': _word,
    'bmc_state': _word,
    'boot_source': _member(openbmc.BOOT_SOURCES),
    'boot_mode': _member(openbmc.BOOT_MODES),
    'one_time_enabled': _bool,
    'one_time_source': _member(openbmc.BOOT_SOURCES),
    'one_time_mode': _member(openbmc.BOOT_MODES),
    'boot_override_enabled': _member(frozenset(redfish.OVERRIDE_ENABLED)),
    'boot_override_target': _member(frozenset(redfish.OVERRIDE_TARGETS)),
    'boot_override_mode': _member(frozenset(redfish.OVERRIDE_MODES)),
    'pending_firmware': _bool,
    'reset_types': _subset(redfish.SYSTEM_RESET_TYPES),
    'manager_reset_types': _subset(redfish.MANAGER_RESET_TYPES),
    'refuse_on_when_on': _bool,
    'username': _text,
    'password': _text,
    'fault': lambda v: v,
    'fault_arg': lambda v: v,
    # true: the BMC restarts at once (its sessions end, its connections drop), states kept.
    'restart': _bool,
    # true: every open connection of the BMC is closed (as an idle close does); sessions stay.
    'drop_connections': _bool,
})

#: Control field -> BMC attribute, where the names differ.
_ATTRS = MappingProxyType({'boot_override_enabled': 'override_enabled',
                          'boot_override_target': 'override_target',
                          'boot_override_mode': 'override_mode'})


def _json(status, obj):
    return Response(status, json.dumps(obj).encode())


def _err(status, text):
    return _json(status, {'error': text})


class ControlAPI:
    """Request handler of the control API.

    :param fleet: the running :class:`sim.fleet.SimFleet`.
    """

    def __init__(self, fleet):
        self.fleet = fleet
        self.started = time.monotonic()
        self.routes = MappingProxyType({
            ('GET', '/info'): self._info, ('GET', '/'): self._info,
            ('POST', '/faults'): self._faults, ('POST', '/reset'): self._reset,
            ('GET', '/stats'): self._stats,
        })

    def __call__(self, req):
        """Answer one :class:`sim.wire.Request` with a :class:`sim.wire.Response`."""
        path = req.path.rstrip('/') or '/'
        if path == '/nodes':
            return self._nodes(req) if req.method == 'GET' else _err(405, 'GET only')
        if path.startswith('/nodes/'):
            bmc = self.fleet.by_name.get(path[len('/nodes/'):])
            if bmc is None:
                return _err(404, 'no such node')
            if req.method == 'GET':
                return _json(200, bmc.to_dict())
            if req.method == 'POST':
                return self._set_node(bmc, req)
            return _err(405, 'GET or POST only')
        handler = self.routes.get((req.method, path))
        if handler is None:
            return _err(404, 'unknown route %s %s' % (req.method, path))
        return handler(req)

    @staticmethod
    def _body(req):
        try:
            body = req.json()
        except ValueError:
            raise ValueError('body is not JSON') from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ValueError('body must be a JSON object')
        return body

    def _info(self, req):
        return _json(200, self.fleet.info())

    def _nodes(self, req):
        query = parse_qs(req.query)
        bmcs = self.fleet.bmcs
        if 'range' in query:
            try:
                names = parse_noderange(query['range'][0], self.fleet.by_name)
            except ValueError as exc:
                return _err(400, str(exc))
            bmcs = [self.fleet.by_name[n] for n in names]
        return _json(200, [b.to_dict() for b in bmcs])

    def _set_node(self, bmc, req):
        try:
            body = self._body(req)
            changes = {}
            for key, value in body.items():
                check = NODE_FIELDS.get(key)
                if check is None:
                    raise ValueError('unknown field %r (known: %s)' % (key, ', '.join(NODE_FIELDS)))
                try:
                    changes[key] = check(value)
                except ValueError as exc:
                    raise ValueError('%s %s' % (key, exc)) from None
            fault = None
            if 'fault' in changes:
                fault = faults.make_fault(changes['fault'], changes.get('fault_arg'))
            elif 'fault_arg' in changes:
                raise ValueError('fault_arg needs fault')
        except ValueError as exc:
            return _err(400, str(exc))
        if 'username' in changes or 'password' in changes:
            bmc.set_credentials(changes.get('username', bmc.username),
                                changes.get('password', bmc.password))
        if 'power' in changes:
            bmc.set_power(changes['power'])
        if changes.get('restart'):
            bmc.restart_bmc_now()
        if changes.get('drop_connections'):
            bmc.drop_connections()
        for key, value in changes.items():
            if key in ('power', 'username', 'password', 'fault', 'fault_arg', 'restart', 'drop_connections'):
                continue
            setattr(bmc, _ATTRS.get(key, key), value)
        if 'fault' in changes:
            error = self.fleet.set_fault(bmc, fault)
            if error:
                return _err(500, error)
        return _json(200, bmc.to_dict())

    def _faults(self, req):
        try:
            body = self._body(req)
            if 'range' not in body or 'fault' not in body:
                raise ValueError('need "range" and "fault"')
            names = parse_noderange(body['range'], self.fleet.by_name)
            fault = faults.make_fault(body['fault'], body.get('arg'))
        except ValueError as exc:
            return _err(400, str(exc))
        errors = [e for e in (self.fleet.set_fault(self.fleet.by_name[n], fault) for n in names) if e]
        if errors:
            return _err(500, '; '.join(errors[:5]))
        return _json(200, {'nodes': names, 'fault': fault.to_dict() if fault else None})

    def _reset(self, req):
        try:
            body = self._body(req)
        except ValueError as exc:
            return _err(400, str(exc))
        errors = self.fleet.reset(counters=body.get('counters', True), states=body.get('states', True),
                                  restore_faults=body.get('faults', True))
        if errors:
            return _err(500, '; '.join(errors[:5]))
        return _json(200, {'ok': True})

    def _stats(self, req):
        totals = dict.fromkeys(COUNTERS, 0)
        power = {}
        open_sessions = open_connections = pending = listening = faulted = 0
        for bmc in self.fleet.bmcs:
            for name in COUNTERS:
                totals[name] += getattr(bmc, name)
            word = bmc.redfish_power
            power[word] = power.get(word, 0) + 1
            open_sessions += len(bmc.sessions)
            open_connections += len(bmc.live)
            pending += bmc.pending is not None
            listening += bmc.server is not None
            faulted += bmc.fault is not None
        usage = resource.getrusage(resource.RUSAGE_SELF)
        totals.update({
            'nodes': len(self.fleet.bmcs),
            'listening': listening,
            'faulted': faulted,
            'open_sessions': open_sessions,
            'open_connections': open_connections,
            'pending_transitions': pending,
            'power_states': power,
            'cpu_user': usage.ru_utime,
            'cpu_system': usage.ru_stime,
            'cpu_seconds': usage.ru_utime + usage.ru_stime,
            'max_rss_kb': usage.ru_maxrss,
            'rss_kb': _current_rss_kb(),
            'uptime': time.monotonic() - self.started,
        })
        return _json(200, totals)


def _current_rss_kb():
    """Resident set size now, from /proc (None where unavailable)."""
    try:
        with open('/proc/self/statm', encoding='ascii') as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf('SC_PAGE_SIZE') // 1024
