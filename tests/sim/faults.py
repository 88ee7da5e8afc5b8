"""Faults a simulated BMC can be given, from ``--faults`` or the control API, and their parsing.

A BMC has at most one fault at a time; ``none`` clears it.  Written ``NAME`` or ``NAME=ARG``.

============= ========= ==================================================================================
name          argument  what the BMC does
============= ========= ==================================================================================
``refuse``    --        does not listen: its listener is closed (connect gets ECONNREFUSED) and open
                        connections are closed; clearing the fault listens again
``stall_tcp`` --        accepts TCP connections but never starts TLS (client sees a handshake timeout)
``stall``     --        completes the TLS handshake, then never answers HTTP
``slow``      seconds   waits that long (default 5) before answering each request
``401``       --        refuses every login and every credential (as a wrong password would)
``nobasic``   --        refuses HTTP Basic credentials with 401; session logins and their tokens still
                        work (a BMC whose admin turned Basic off)
``403``       --        answers 403 to every request, login included
``500``       --        answers 500 to every request
``503``       K         answers 503 to the next K requests (default 1), then behaves
``badjson``   --        handles the request, then answers 200 with a malformed JSON body
``empty``     --        handles the request, then answers 200 with an empty body
``reset``     --        handles the request, sends the head and part of the body, then resets the
                        connection (RST through SO_LINGER 0)
``stuck``     --        accepts power transitions (200/204) but the power state never changes
``oversize``  bytes     handles the request and pads the JSON answer with whitespace to that many bytes
                        (default 16 MiB)
``drip``      seconds   handles the request, then sends its answer one byte every that many seconds
                        (default 1): each read gets data in time, the whole reply never ends in time
``redirect-   host:port answers every request but the login with ``307`` and ``Location: @HOST:PORT<path>``:
away``                  glued naively to ``https://<bmc>`` that names another host, with the BMC's
                        address as userinfo (a hostile BMC sending the client's credentials elsewhere)
``link-away`` host:port handles the request, then every link of the answer (``@odata.id``, action targets,
                        ``@Redfish.ActionInfo``, the session ``Location``; OpenBMC object paths) becomes
                        ``@HOST:PORT<path>``
``hang``      seconds   answers logins and logouts at once, holds every other request that long (default
                        30): a BMC stuck in an operation whose session service still works
``deny``      text      answers every request with 401 and ``text`` as the BMC's error message (control
                        characters included: what a hostile BMC may say)
============= ========= ==================================================================================
"""

import re
from dataclasses import dataclass
from types import MappingProxyType

from sim.noderange import parse_noderange

#: Fault name -> argument type (``None`` = takes no argument).
FAULT_ARG_TYPES = MappingProxyType({
    'refuse': None, 'stall_tcp': None, 'stall': None, 'slow': float, '401': None, 'nobasic': None, '403': None,
    '500': None, '503': int, 'badjson': None, 'empty': None, 'reset': None, 'stuck': None,
    'oversize': int, 'drip': float, 'redirect-away': str, 'link-away': str, 'deny': str,
    'hang': float,
})

#: Argument used when a fault that takes one is given without it.
FAULT_DEFAULT_ARGS = MappingProxyType({'slow': 5.0, '503': 1, 'oversize': 16 * 1024 * 1024, 'drip': 1.0,
                                       'hang': 30.0})

#: Names that clear a fault.
CLEAR_NAMES = frozenset(('none', 'clear', ''))

#: Faults answered before the request reaches the dialect (no state change happens).
EARLY_FAULTS = frozenset(('403', '500', '503'))

#: Faults that alter an answer the dialect already produced (state changes do happen).
LATE_FAULTS = frozenset(('badjson', 'empty', 'reset', 'oversize', 'drip'))

#: Faults that point the client at another host (their argument is that ``HOST:PORT``).
AWAY_FAULTS = frozenset(('redirect-away', 'link-away'))


@dataclass(frozen=True)
class Fault:
    """An immutable fault: ``name`` and its argument (``None`` when it takes none)."""

    name: str
    arg: object = None

    def spec(self):
        """:returns: the ``NAME[=ARG]`` text of this fault."""
        return self.name if self.arg is None else '%s=%s' % (self.name, self.arg)

    def to_dict(self):
        """:returns: ``{"name": ..., "arg": ...}`` for the control API."""
        return {'name': self.name, 'arg': self.arg}


def make_fault(name, arg=None):
    """Validate a fault name and argument.

    :param name: fault name (see the module table); ``None``/``none`` clears.
    :param arg: its argument, or ``None`` for the default.
    :returns: a :class:`Fault`, or ``None`` for "no fault".
    :raises ValueError: on an unknown name or a bad argument.
    """
    if name is None:
        return None
    name = str(name).strip()
    if name.lower() in CLEAR_NAMES:
        return None
    if name not in FAULT_ARG_TYPES:
        raise ValueError('unknown fault %r (known: %s)' % (name, ', '.join(FAULT_ARG_TYPES)))
    kind = FAULT_ARG_TYPES[name]
    if kind is None:
        if arg not in (None, ''):
            raise ValueError('fault %s takes no argument' % name)
        return Fault(name)
    if arg in (None, ''):
        return Fault(name, FAULT_DEFAULT_ARGS[name])
    try:
        value = kind(arg)
    except (TypeError, ValueError):
        raise ValueError('fault %s needs a %s argument, not %r' % (name, kind.__name__, arg)) from None
    if kind is not str and value < 0:
        raise ValueError('fault %s needs a non-negative argument' % name)
    if name in AWAY_FAULTS and not re.fullmatch(r'127(\.\d{1,3}){3}:\d{1,5}', value):
        raise ValueError('fault %s needs a loopback HOST:PORT, not %r' % (name, value))
    return Fault(name, value)


def parse_fault(spec):
    """Parse ``NAME`` or ``NAME=ARG``.

    :param spec: the text.
    :returns: a :class:`Fault` or ``None`` (cleared).
    :raises ValueError: on an unknown name or a bad argument.
    """
    name, _, arg = str(spec).partition('=')
    return make_fault(name, arg or None)


def parse_fault_option(text, names):
    """Parse the ``--faults`` option: whitespace-separated ``NODERANGE=FAULT[=ARG]`` items.

    :param text: the option value, e.g. ``'node[001-004]=refuse node010=slow=2'``.
    :param names: every node name of the fleet (ranges are checked against them).
    :returns: list of ``(node_names, Fault_or_None)`` in the given order.
    :raises ValueError: on a malformed item, an unknown node or a bad fault.
    """
    items = []
    for item in re.split(r'\s+', (text or '').strip()):
        if not item:
            continue
        noderange, sep, spec = item.partition('=')
        if not sep or not noderange or not spec:
            raise ValueError('fault item %r is not NODERANGE=FAULT' % item)
        items.append((parse_noderange(noderange, names), parse_fault(spec)))
    return items
