"""Simulated BMC fleet: one gevent process, one TLS listener per BMC on its own loopback address.

Run ``PYTHONPATH=tests python -m sim.fleet --nodes N [options]``; see ``--help`` and README.md.
It prints ``control http://127.0.0.1:PORT`` and then ``ready`` once every BMC listens, and runs until
SIGINT/SIGTERM (exit 0).  Exit 1 on a start-up failure (address in use, too few file descriptors),
2 on bad options.
"""

import argparse
import functools
import ipaddress
import logging
import os
import resource
import secrets
import shutil
import signal
import socket
import sys
import tempfile

import gevent
from gevent.event import Event
from gevent.server import StreamServer

from sim import faults, tables, tls
from sim.api import ControlAPI
from sim.bmc import BMC, BmcSettings
from sim.openbmc import OpenBMCDialect
from sim.redfish import RedfishDialect
from sim.redfish_styles import STYLES
from sim.server import BmcConnectionHandler, serve_plain

LOG = logging.getLogger('sim.fleet')

#: File descriptors kept free for everything that is not a listener (stdio, epoll, control API,
#: files, a few connections).
FD_RESERVE = 64

#: Below this many spare descriptors after the listeners we warn: connections will run short.
FD_HEADROOM_WARN = 1000

#: Address of the socket that holds a ``--port 0`` fleet's port for its lifetime (see
#: :meth:`SimFleet.claim_port`); another when a BMC has this one.
ANCHOR_ADDRESSES = ('127.0.0.1', '127.255.255.254')

#: Fresh ports tried when another process already listens on the claimed port at a BMC address.
PORT_ATTEMPTS = 8

#: Accept queue per BMC listener; a real BMC's is small too.
BACKLOG = 128

#: Default BMC password (xCAT's documented OpenBMC default).
DEFAULT_PASSWORD = '0penBmc'


class StartupError(Exception):
    """The fleet cannot start; the message says why."""


def node_name(index, count):
    """Node ``index`` (1-based) of a fleet of ``count``: ``node`` + zero-padded number."""
    return 'node%0*d' % (max(3, len(str(count))), index)


def node_addresses(base, count):
    """Loopback addresses for ``count`` BMCs from ``base`` up, skipping .0 and .255 last octets.

    :raises StartupError: when ``base`` is not IPv4 loopback or the range leaves 127.0.0.0/8.
    """
    try:
        start = ipaddress.IPv4Address(base)
    except ValueError:
        raise StartupError('--base %r is not an IPv4 address' % base) from None
    loopback = ipaddress.IPv4Network('127.0.0.0/8')
    out, n = [], int(start)
    while len(out) < count:
        if n & 0xFF not in (0, 255):
            addr = ipaddress.IPv4Address(n)
            if addr not in loopback:
                raise StartupError('%d nodes from %s leave 127.0.0.0/8 (loopback only)' % (count, base))
            out.append(str(addr))
        n += 1
    return out


def node_password(style, password, name):
    """Password of one node.

    :param style: ``same`` (everyone ``password``), ``pernode`` (``password-<name>``) or ``random``.
    :param password: the fleet's base password.
    :param name: node name.
    """
    if style == 'same':
        return password
    if style == 'pernode':
        return '%s-%s' % (password, name)
    return secrets.token_urlsafe(12)


def parse_shard(text):
    """``I/N`` of ``--shard``: :returns: ``(I, N)`` with 1 <= I <= N, or None for ``''``.

    :raises ValueError: on anything else.
    """
    if not text:
        return None
    try:
        index, count = (int(part) for part in text.split('/'))
    except ValueError:
        raise ValueError('--shard must be I/N, e.g. 2/4') from None
    if not 1 <= index <= count:
        raise ValueError('--shard %s: I must be 1 to N' % text)
    return index, count


def shard_span(shard, nodes):
    """First and last node number (1-based) a fleet process serves: all, or block I of N.

    Block I of N holds nodes ``(I-1)*nodes//N + 1`` to ``I*nodes//N``: N processes with the same
    ``--nodes`` and ``--base`` and shards 1/N to N/N serve the whole fleet, each node once, with
    the names and addresses a single process would give it.
    """
    if shard is None:
        return 1, nodes
    index, count = shard
    return (index - 1) * nodes // count + 1, index * nodes // count


def raise_fd_limit(listeners):
    """Raise the soft RLIMIT_NOFILE to the hard limit and check the listeners fit.

    :param listeners: number of BMC listeners.
    :returns: the soft limit now in force.
    :raises StartupError: when ``listeners`` plus a reserve exceed the limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            LOG.warning('cannot raise the open-file limit from %d to %d: %s', soft, target, exc)
    if listeners + FD_RESERVE > soft:
        raise StartupError(
            '%d listeners do not fit in the open-file limit %d (need %d plus %d spare, and more for '
            'connections); use fewer nodes' % (listeners, soft, listeners, FD_RESERVE))
    if soft - listeners < FD_HEADROOM_WARN:
        LOG.warning('only %d file descriptors left for connections (limit %d, %d listeners)',
                    soft - listeners, soft, listeners)
    return soft


class SimFleet:
    """The running fleet: BMC objects, their listeners, the control API and the files for clients.

    :param options: parsed command line (see :func:`build_parser`).
    """

    def __init__(self, options):
        self.options = options
        self.settings = BmcSettings(
            protocol=options.protocol, delay=options.delay, max_sessions=options.max_sessions,
            redfish_reply=options.redfish_reply, redfish_allowable=options.redfish_allowable,
            session_service=not options.no_session_service, redfish_style=options.redfish_style,
            session_timeout=options.session_timeout,
            advertised_session_timeout=options.advertised_session_timeout)
        addresses = node_addresses(options.base, options.nodes)
        first, last = shard_span(options.shard, options.nodes)
        addresses = addresses[first - 1:last]
        self.bmcs = []
        for index, ip in enumerate(addresses, start=first):
            name = node_name(index, options.nodes)
            password = node_password(options.password_style, options.password, name)
            self.bmcs.append(BMC(index, name, ip, options.port, options.username, password,
                                 self.settings))
        self.by_name = {b.name: b for b in self.bmcs}
        for names, fault in faults.parse_fault_option(options.faults, self.by_name):
            for name in names:
                self.by_name[name].initial_fault = fault
                self.by_name[name].set_fault(fault)
        self.workdir = tempfile.mkdtemp(prefix='xcat-sim-fleet.')
        self.cert_covers_nodes = len(addresses) <= options.cert_san_max
        self.cert, self.key = tls.make_certificate(
            self.workdir, addresses if self.cert_covers_nodes else ())
        self.ca_path = self.cert
        dialect = (OpenBMCDialect() if options.protocol == 'openbmc'
                   else RedfishDialect(self.settings))
        self.handler = BmcConnectionHandler(tls.server_context(self.cert, self.key, options.tls_tickets), dialect,
                                            idle_timeout=options.idle_timeout)
        self.control = None
        self.control_url = None
        self.anchor = None
        self.stopped = Event()

    # -- listeners ------------------------------------------------------------------------------------

    def _listen(self, bmc):
        """Start ``bmc``'s listener; :returns: an error text or ``None``."""
        server = StreamServer((bmc.ip, bmc.port), functools.partial(self.handler, bmc),
                              backlog=BACKLOG)
        try:
            server.start()
        except OSError as exc:
            return 'cannot listen on %s:%d for %s: %s' % (bmc.ip, bmc.port, bmc.name, exc)
        bmc.server = server
        return None

    @staticmethod
    def _unlisten(bmc):
        """Close ``bmc``'s listener and drop its open connections (a BMC gone dark)."""
        if bmc.server is not None:
            bmc.server.close()
            bmc.server = None
        for sock in list(bmc.live):
            sock.close()

    def set_fault(self, bmc, fault):
        """Give ``bmc`` a fault (or ``None``), opening or closing its listener for ``refuse``.

        :returns: an error text or ``None``.
        """
        bmc.set_fault(fault)
        if fault is not None and fault.name == 'refuse':
            self._unlisten(bmc)
        elif bmc.server is None and self.control is not None:
            return self._listen(bmc)
        return None

    def reset(self, counters=True, states=True, restore_faults=True):
        """Back to the start configuration (the ``--faults`` faults included).

        :returns: list of error texts (listeners that could not reopen).
        """
        errors = []
        for bmc in self.bmcs:
            if counters:
                bmc.reset_counters()
            if states:
                bmc.reset_state()
            if restore_faults:
                error = self.set_fault(bmc, bmc.initial_fault)
                if error:
                    errors.append(error)
        return errors

    # -- life cycle ----------------------------------------------------------------------------------

    def info(self):
        """:returns: the fleet description served at ``GET /info`` and written to fleet.json."""
        return {
            'control': self.control_url, 'protocol': self.options.protocol,
            'nodes': len(self.bmcs), 'base': self.options.base,
            'port': self.bmcs[0].port if self.bmcs else self.options.port,
            'username': self.options.username, 'password_style': self.options.password_style,
            'delay': self.options.delay, 'ca_path': self.ca_path,
            'cert_covers_nodes': self.cert_covers_nodes,
            'tables': os.path.abspath(self.options.tables) if self.options.tables else None,
            'redfish_reply': self.options.redfish_reply,
            'redfish_allowable': self.options.redfish_allowable,
            'redfish_style': self.options.redfish_style,
            'session_service': not self.options.no_session_service, 'pid': os.getpid(),
        }

    def start(self):
        """Open the control API and every listener, then write the client files.

        :raises StartupError: when a listener cannot bind.
        """
        api = ControlAPI(self)
        self.control = StreamServer(('127.0.0.1', self.options.control_port),
                                    lambda sock, addr: serve_plain(api, sock))
        try:
            self.control.start()
        except OSError as exc:
            raise StartupError('cannot open the control port %d: %s'
                               % (self.options.control_port, exc)) from None
        self.control_url = 'http://127.0.0.1:%d' % self.control.server_port
        if self.options.port:
            self._listen_all()
        else:
            self._listen_on_free_port()
        if self.options.tables:
            self.ca_path = tables.install_ca(self.options.tables, self.cert)
            tables.write_tables(
                self.options.tables, self.bmcs, self.options.protocol, self.options.username,
                self.options.password, self.options.password_style != 'same', self.info())

    def _listen_all(self):
        """Open every BMC's listener (a ``refuse`` BMC stays dark).

        :raises StartupError: when a listener cannot bind (those already open are closed again).
        """
        for bmc in self.bmcs:
            if bmc.fault_name == 'refuse':
                continue
            error = self._listen(bmc)
            if error:
                for opened in self.bmcs:
                    self._unlisten(opened)
                raise StartupError(error)

    def claim_port(self):
        """Bind a socket to a free port on an address no BMC has and keep it until :meth:`close`.

        The kernel hands each fleet's anchor another port, and nothing else can bind that port on
        the anchor address or the wildcard while it is held, so two fleets started at the same
        time (two test runs on one host) never share a port, even while one's BMC is ``refuse``.

        :returns: the port.
        """
        taken = {bmc.ip for bmc in self.bmcs}
        address = next(a for a in ANCHOR_ADDRESSES if a not in taken)
        anchor = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            anchor.bind((address, 0))
        except OSError:
            anchor.close()
            raise
        self.anchor = anchor
        return anchor.getsockname()[1]

    def _listen_on_free_port(self):
        """``--port 0``: every BMC on one free port, claimed by :meth:`claim_port`.

        A port some other process already listens on at one of our addresses (bound before our
        claim, without an anchor) is given back and another one tried, a bounded number of times.

        :raises StartupError: when no port works after :data:`PORT_ATTEMPTS` tries.
        """
        error = 'no port tried'
        for _ in range(PORT_ATTEMPTS):
            try:
                port = self.claim_port()
            except OSError as exc:
                raise StartupError('cannot claim a free port: %s' % exc) from None
            for bmc in self.bmcs:
                bmc.port = port
            try:
                self._listen_all()
                return
            except StartupError as exc:
                error = str(exc)
                self.anchor.close()
                self.anchor = None
        raise StartupError('no free port for every BMC after %d tries: %s' % (PORT_ATTEMPTS, error))

    def close(self):
        """Stop every listener and remove the private work directory."""
        if self.anchor is not None:
            self.anchor.close()
            self.anchor = None
        if self.control is not None:
            self.control.close()
        for bmc in self.bmcs:
            bmc.reset_state()
            if bmc.server is not None:
                bmc.server.close()
                bmc.server = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def build_parser():
    """:returns: the command-line parser of ``python -m sim.fleet``."""
    parser = argparse.ArgumentParser(prog='python -m sim.fleet', description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, required=True, help='number of BMCs')
    parser.add_argument('--protocol', choices=('openbmc', 'redfish'), default='openbmc')
    parser.add_argument('--tables', metavar='DIR', help='write nodeinfo.json, tabdump CSVs, '
                        'fleet.json and fleet-ca.pem here')
    parser.add_argument('--base', default='127.10.0.1', help='address of node 1 (loopback only)')
    parser.add_argument('--port', type=int, default=443,
                        help='port every BMC listens on (0 = one free port, chosen at start)')
    parser.add_argument('--delay', type=float, default=0.0,
                        help='seconds before a power/BMC transition lands (0 = at once)')
    parser.add_argument('--faults', default='', metavar="'RANGE=FAULT[=ARG] ...'",
                        help='initial faults, e.g. "node[001-004]=refuse node010=slow=2"')
    parser.add_argument('--control-port', type=int, default=0, help='control API port (0 = any)')
    parser.add_argument('--username', default='root')
    parser.add_argument('--password', default=DEFAULT_PASSWORD, help='password (or its base)')
    parser.add_argument('--password-style', choices=('same', 'pernode', 'random'), default='same',
                        help='same for all, PASSWORD-<node>, or random per node')
    parser.add_argument('--redfish-reply', choices=('body', '204'), default='body',
                        help='Redfish action/PATCH answer: 200 with a body, or 204 empty')
    parser.add_argument('--redfish-allowable', choices=('inline', 'actioninfo'), default='inline',
                        help='ResetType allowable values inline or through @Redfish.ActionInfo')
    parser.add_argument('--redfish-style', choices=sorted(STYLES), default='bmcweb',
                        help='Redfish vendor style: URL layout, reset types and quirks (docs/DESIGN.md)')
    parser.add_argument('--no-session-service', action='store_true',
                        help='Redfish without SessionService: HTTP Basic only')
    parser.add_argument('--max-sessions', type=int, default=64, help='sessions kept per BMC')
    parser.add_argument('--session-timeout', type=float, default=0.0,
                        help='seconds a session may stay unused before the BMC ends it (0 = never)')
    parser.add_argument('--advertised-session-timeout', type=int, default=None, metavar='SECONDS',
                        help='Redfish SessionTimeout shown (default: --session-timeout rounded up, '
                             'or 1800 when sessions never end)')
    parser.add_argument('--tls-tickets', type=int, default=0,
                        help='TLS 1.3 session tickets sent per handshake (0 = none: no resumption)')
    parser.add_argument('--idle-timeout', type=float, default=300.0,
                        help='seconds an idle connection is kept open')
    parser.add_argument('--cert-san-max', type=int, default=256,
                        help='list node IPs in the certificate only up to this many nodes '
                             '(each IP makes every handshake dearer)')
    parser.add_argument('--shard', type=parse_shard, default=None, metavar='I/N',
                        help='serve only block I of N of the fleet (same names and addresses); N such '
                             'processes together serve the whole fleet (sim.control.ShardedFleet)')
    parser.add_argument('--log-level', default='WARNING')
    return parser


def main(argv=None):
    """Run the fleet until SIGINT/SIGTERM.

    :returns: the exit status.
    """
    parser = build_parser()
    options = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, options.log_level.upper(), logging.WARNING),
                        format='%(asctime)s %(name)s %(levelname)s %(message)s', stream=sys.stderr)
    if options.nodes < 1:
        parser.error('--nodes must be at least 1')
    if not 0 <= options.port < 65536:
        parser.error('--port must be 0-65535 (0 = a free one)')
    if options.delay < 0:
        parser.error('--delay must be >= 0')
    fleet = None
    try:
        first, last = shard_span(options.shard, options.nodes)
        raise_fd_limit(last - first + 1)
        fleet = SimFleet(options)
        fleet.start()
    except (StartupError, ValueError, RuntimeError) as exc:
        print('sim.fleet: error: %s' % exc, file=sys.stderr, flush=True)
        if fleet is not None:
            fleet.close()
        return 1
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, fleet.stopped.set)
    try:
        # one write: a reader that stops at ``ready`` must not close the pipe before a later piece
        sys.stdout.write('control %s\nready\n' % fleet.control_url)
        sys.stdout.flush()
    except BrokenPipeError:
        # nobody reads our stdout any more; the fleet serves on regardless
        pass
    try:
        fleet.stopped.wait()
    finally:
        fleet.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
