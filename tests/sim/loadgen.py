"""Load generator for the fleet: per node one TLS connection, then login, a state GET and a PUT/POST.

``PYTHONPATH=tests python -m sim.loadgen --control URL [--concurrency 500] [--rounds 1]`` prints the
fleet's CPU milliseconds per BMC session (from its ``/stats`` before and after) and the wall time.
The client side is a bare gevent TLS socket with one shared context so it stays cheap.
"""

import argparse
import base64
import json
import sys
import time
from types import MappingProxyType

from gevent import monkey

monkey.patch_all(thread=False)

# Imported after patching so ssl and socket are cooperative (gevent rule: patch first).
import socket  # noqa: E402
import ssl  # noqa: E402

from gevent.pool import Pool  # noqa: E402

from sim.control import FleetControl  # noqa: E402

#: Requests of one session per protocol: ``(method, path, body)``; login comes first.
SCRIPTS = MappingProxyType({
    'openbmc': (
        ('POST', '/login', None),
        ('GET', '/xyz/openbmc_project/state/enumerate', None),
        ('PUT', '/xyz/openbmc_project/state/host0/attr/RequestedHostTransition',
         {'data': 'xyz.openbmc_project.State.Host.Transition.On'}),
    ),
    'redfish': (
        ('POST', '/redfish/v1/SessionService/Sessions', None),
        ('GET', '/redfish/v1/Systems/system', None),
        ('POST', '/redfish/v1/Systems/system/Actions/ComputerSystem.Reset', {'ResetType': 'ForceOn'}),
    ),
})


def _read_response(sock, buf):
    """Read one Content-Length response; :returns: ``(status, headers_text, body, rest)``."""
    while b'\r\n\r\n' not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError('closed')
        buf += data
    head, _, rest = buf.partition(b'\r\n\r\n')
    text = head.decode('latin-1')
    length = 0
    for line in text.split('\r\n')[1:]:
        name, _, value = line.partition(':')
        if name.lower() == 'content-length':
            length = int(value)
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError('closed')
        rest += data
    return int(text.split(' ', 2)[1]), text, rest[:length], rest[length:]


def run_session(ctx, protocol, node):
    """One BMC session: connect, handshake, three requests. :returns: list of statuses."""
    host = node['ip']
    user, password = node['username'], node['password']
    auth = 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()
    statuses, extra, buf = [], '', b''
    with socket.create_connection((host, node['port']), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as sock:
            for method, path, body in SCRIPTS[protocol]:
                if body is None and method == 'POST':
                    body = ({'data': [user, password]} if protocol == 'openbmc'
                            else {'UserName': user, 'Password': password})
                payload = json.dumps(body).encode() if body is not None else b''
                head = ('%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n%s'
                        'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n'
                        % (method, path, host, auth, extra, len(payload)))
                sock.sendall(head.encode() + payload)
                status, text, _, buf = _read_response(sock, buf)
                statuses.append(status)
                for line in text.split('\r\n'):
                    if line.lower().startswith('x-auth-token:'):
                        extra = 'X-Auth-Token: %s\r\n' % line.split(':', 1)[1].strip()
                    elif line.lower().startswith('set-cookie:'):
                        extra = 'Cookie: %s\r\n' % line.split(':', 1)[1].split(';')[0].strip()
    return statuses


def main(argv=None):
    """Run the load and print the figures. :returns: exit status."""
    parser = argparse.ArgumentParser(prog='python -m sim.loadgen', description=__doc__.splitlines()[0])
    parser.add_argument('--control', required=True, help='control URL of a running fleet')
    parser.add_argument('--concurrency', type=int, default=500)
    parser.add_argument('--rounds', type=int, default=1)
    args = parser.parse_args(argv)
    control = FleetControl(args.control)
    info = control.info()
    nodes = [n for n in control.nodes() if n['listening'] and n['fault'] is None]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    before = control.stats()
    start = time.monotonic()
    failures = 0
    pool = Pool(args.concurrency)
    for _ in range(args.rounds):
        for result in pool.imap_unordered(
                lambda n: _safe(run_session, ctx, info['protocol'], n), nodes):
            if result is None or any(s >= 400 for s in result):
                failures += 1
    wall = time.monotonic() - start
    after = control.stats()
    sessions = len(nodes) * args.rounds
    cpu = after['cpu_seconds'] - before['cpu_seconds']
    print(json.dumps({
        'protocol': info['protocol'], 'sessions': sessions, 'failures': failures,
        'wall_seconds': round(wall, 2), 'sessions_per_second': round(sessions / wall, 1),
        'fleet_cpu_seconds': round(cpu, 3),
        'fleet_cpu_ms_per_session': round(cpu * 1000 / sessions, 3),
        'fleet_rss_kb': after['rss_kb'],
        'handshakes': after['handshakes'] - before['handshakes'],
        'requests': after['requests'] - before['requests'],
    }, indent=1))
    return 1 if failures else 0


def _safe(func, *args):
    try:
        return func(*args)
    except (OSError, ValueError) as exc:
        print('session failed: %s' % exc, file=sys.stderr)
        return None


if __name__ == '__main__':
    sys.exit(main())
