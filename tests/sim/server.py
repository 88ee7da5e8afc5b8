"""Per-connection serving of simulated BMCs (TLS, HTTP keep-alive, faults) and of the control API."""

import errno
import logging
import socket
import struct

import gevent
from gevent import ssl

from sim import faults
from sim.wire import BadRequest, Connection, Response, json_response, render, render_head

LOG = logging.getLogger(__name__)

#: Errors that just mean "the peer went away or timed out"; nothing to report.
PEER_ERRORS = (OSError, ssl.SSLError, socket.timeout, gevent.Timeout)

#: Bytes of padding written per send by the ``oversize`` fault.
PAD_CHUNK = 256 * 1024

#: What the ``badjson`` fault sends (a JSON object cut off in the middle).
BAD_JSON = b'{"data": {"CurrentHostState": "xyz.openbmc_project.State.Ho'


def _drain(sock, idle_timeout):
    """Read and discard until EOF or ``idle_timeout`` of silence: how a stalled BMC holds a socket."""
    sock.settimeout(idle_timeout)
    while sock.recv(65536):
        pass


def _hard_reset(sock):
    """Close with RST instead of FIN (SO_LINGER on, 0 seconds)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    finally:
        sock.close()


def _links_away(resp, away, prefixes):
    """``resp`` with every link (JSON string or ``Location``) starting with one of ``prefixes`` sent to ``@away``."""
    body = resp.body or b''
    for prefix in prefixes:
        body = body.replace(b'"' + prefix.encode(), b'"@' + away.encode() + prefix.encode())
    headers = tuple((name, '@%s%s' % (away, value) if name.lower() == 'location' and value.startswith(prefixes)
                     else value) for name, value in (resp.headers or ()))
    return Response(resp.status, body, headers)


class BmcConnectionHandler:
    """Serves connections of every BMC: TLS handshake, requests, counters and faults.

    :param ssl_context: the one shared server :class:`ssl.SSLContext`.
    :param dialect: an :class:`sim.openbmc.OpenBMCDialect` or :class:`sim.redfish.RedfishDialect`.
    :param handshake_timeout: seconds allowed for a TLS handshake.
    :param idle_timeout: seconds a kept-alive connection may sit idle before we close it.
    """

    def __init__(self, ssl_context, dialect, handshake_timeout=30.0, idle_timeout=300.0):
        self.ssl_context = ssl_context
        self.dialect = dialect
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout

    def __call__(self, bmc, sock, address):
        """StreamServer handle: serve one accepted connection of ``bmc`` until it ends."""
        bmc.connections += 1
        bmc.live.add(sock)
        tls = None
        try:
            if bmc.fault_name == 'stall_tcp':
                _drain(sock, self.idle_timeout)
                return
            sock.settimeout(self.handshake_timeout)
            tls = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            bmc.live.add(tls)
            tls.do_handshake()
            bmc.handshakes += 1
            if tls.session_reused:
                bmc.resumed_handshakes += 1
            tls.settimeout(self.idle_timeout)
            self._serve(bmc, tls)
        except PEER_ERRORS as exc:
            LOG.debug('%s: connection from %s ended: %s', bmc.name, address, exc)
        except Exception:  # noqa: BLE001 - one broken connection must not take the fleet down
            LOG.exception('%s: unexpected error serving %s', bmc.name, address)
        finally:
            bmc.live.discard(sock)
            if tls is not None:
                bmc.live.discard(tls)
                tls.close()
            sock.close()

    def _serve(self, bmc, tls):
        conn = Connection(tls)
        dialect = self.dialect
        while True:
            try:
                req = conn.read_request()
            except BadRequest as exc:
                tls.sendall(render(dialect.error(exc.status, exc.text), close=True))
                return
            if req is None:
                return
            bmc.requests += 1
            fault = bmc.fault
            if fault is not None and fault.name == 'slow':
                gevent.sleep(fault.arg)
                # Re-read: the fault may have changed (or been cleared) while we slept.
                fault = bmc.fault
            if fault is not None and fault.name == 'hang' and not (dialect.is_login(req) or dialect.is_logout(req)):
                gevent.sleep(fault.arg)
                fault = bmc.fault
            resp = None
            if fault is not None:
                if fault.name in ('stall', 'stall_tcp'):
                    _drain(tls, self.idle_timeout)
                    return
                if fault.name == 'refuse':
                    return
                resp = self._early(bmc, fault)
            if resp is None and fault is not None and fault.name == 'redirect-away' and not dialect.is_login(req):
                resp = Response(307, b'', (('Location', '@%s%s' % (fault.arg, req.target)),))
            if resp is None:
                resp = dialect.handle(bmc, req)
                if fault is not None and fault.name == 'link-away':
                    resp = _links_away(resp, fault.arg, dialect.LINK_PREFIXES)
                if fault is not None and fault.name in faults.LATE_FAULTS:
                    self._late(tls, fault, resp)
                    if fault.name == 'reset' or not req.keep_alive:
                        return
                    continue
            close = not req.keep_alive
            tls.sendall(render(resp, close=close))
            if close:
                return

    def _early(self, bmc, fault):
        """Answer of a fault that pre-empts the dialect, or ``None``."""
        name = fault.name
        if name == '403':
            return self.dialect.error(403, 'Forbidden')
        if name == '500':
            return self.dialect.error(500, 'Internal Server Error')
        if name == 'deny':
            return self.dialect.error(401, fault.arg)
        if name == '503' and bmc.fault_left > 0:
            bmc.fault_left -= 1
            resp = self.dialect.error(503, 'Service Unavailable')
            resp.headers = (('Retry-After', '1'),)
            return resp
        return None

    @staticmethod
    def _late(tls, fault, resp):
        """Send ``resp`` mangled by a late fault (badjson, empty, reset, oversize, drip)."""
        name = fault.name
        if name == 'badjson':
            tls.sendall(render(Response(200, BAD_JSON, resp.headers)))
        elif name == 'empty':
            tls.sendall(render(Response(200, b'', resp.headers)))
        elif name == 'reset':
            body = resp.body or b'{"data": null}'
            tls.sendall(render_head(resp.status, len(body), resp.headers) + body[:max(1, len(body) // 2)])
            _hard_reset(tls)
        elif name == 'drip':
            data = render(resp)
            for i in range(len(data)):
                tls.sendall(data[i:i + 1])
                gevent.sleep(fault.arg)
        elif name == 'oversize':
            body = resp.body or b'{}'
            total = max(int(fault.arg), len(body))
            tls.sendall(render_head(resp.status, total, resp.headers) + body)
            left = total - len(body)
            pad = b' ' * min(PAD_CHUNK, left)
            while left > 0:
                chunk = pad if left >= len(pad) else pad[:left]
                tls.sendall(chunk)
                left -= len(chunk)


def serve_plain(handler, sock, idle_timeout=300.0):
    """Serve one plain-HTTP connection with ``handler(request) -> Response`` (the control API).

    :param handler: callable answering a :class:`sim.wire.Request`.
    :param sock: the accepted socket.
    :param idle_timeout: seconds of idleness before closing.
    """
    sock.settimeout(idle_timeout)
    conn = Connection(sock)
    try:
        while True:
            try:
                req = conn.read_request()
            except BadRequest as exc:
                sock.sendall(render(json_response(exc.status, {'error': exc.text}), close=True))
                return
            if req is None:
                return
            try:
                resp = handler(req)
            except Exception as exc:  # noqa: BLE001 - report instead of dropping the connection
                LOG.exception('control API error on %s %s', req.method, req.path)
                resp = json_response(500, {'error': '%s: %s' % (type(exc).__name__, exc)})
            close = not req.keep_alive
            sock.sendall(render(resp, close=close))
            if close:
                return
    except PEER_ERRORS as exc:
        if getattr(exc, 'errno', None) not in (None, errno.ECONNRESET, errno.EPIPE):
            LOG.debug('control connection ended: %s', exc)
    finally:
        sock.close()

