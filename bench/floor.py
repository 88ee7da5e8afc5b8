"""The floor: the smallest gevent program that sends our clients' HTTP requests to the fleet.

No broker, no agent, no per-node objects beyond one connection pool of one keep-alive
connection: the same library and TLS set-up as ``common/rest.py`` (one shared SSLContext
mounted through an HTTPAdapter, no environment settings, ``verify=False`` per request), the
same request sequence per node as ``hwctl/openbmc_client.py`` and ``hwctl/redfish_client.py``
with their executors, and nothing else. ``bench/bench.py`` divides our CPU by this one's.

``--via pool`` (default) sends through the adapter's urllib3 connection pool (``urlopen``), the
layer ``common/rest.py`` uses; ``--via adapter`` hands prepared requests to the HTTPAdapter
(requests' lowest layer: its ``Response`` and cookie parsing, about 0.1 ms more per request);
``--via session`` goes through ``requests.Session.request`` (``trust_env`` off), about 0.3 ms
more again.

Usage: ``python bench/floor.py --nodeinfo FILE --protocol openbmc --command 'rpower state'``.
Prints one JSON object: cpu_s (whole process), work_cpu_s (the fan-out alone), wall_s,
work_wall_s, answered, errors, error_samples, maxrss_kb.
"""

import gevent
from gevent import monkey

# Resolve in the calling greenlet: every address here is numeric, so this is the cheapest
# way, and the agent's NumericFirstResolver does the same for numeric addresses.
gevent.config.resolver = 'block'
monkey.patch_all()

# pylint: disable=wrong-import-position
import argparse  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import ssl  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402
import urllib3  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402
from requests.models import PreparedRequest  # noqa: E402
from requests.structures import CaseInsensitiveDict  # noqa: E402

START_WALL = time.monotonic()
TIMEOUT = (10, 30)

OBMC = '/xyz/openbmc_project'
HOST_ATTR = OBMC + '/state/host0/attr/RequestedHostTransition'
CHASSIS_ATTR = OBMC + '/state/chassis0/attr/RequestedPowerTransition'
ONE_TIME = OBMC + '/control/host0/boot/one_time'

SESSIONS = '/redfish/v1/SessionService/Sessions'
SYSTEM = '/redfish/v1/Systems/system'
SYSTEM_RESET = SYSTEM + '/Actions/ComputerSystem.Reset'


class ContextAdapter(HTTPAdapter):
    """Hands the one shared SSLContext to urllib3's pool manager."""

    def __init__(self, ctx, **kwargs):
        self.ctx = ctx
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs['ssl_context'] = self.ctx
        super().init_poolmanager(*args, **kwargs)


class Reply:
    """What ``call`` returns in pool mode: the parts of a requests ``Response`` used here."""

    def __init__(self, response):
        self.status_code = response.status
        self.headers = response.headers
        self.content = response.data


class Conn:
    """One node's connection: an HTTPAdapter (one pooled keep-alive connection) and its headers."""

    def __init__(self, ctx, via):
        self.adapter = ContextAdapter(ctx, pool_connections=1, pool_maxsize=1, max_retries=0)
        self.headers = {'Content-Type': 'application/json'}
        self.via = via
        self.pool = None
        self.session = None
        if via == 'session':
            self.session = requests.Session()
            self.session.trust_env = False
            self.session.mount('https://', self.adapter)

    def close(self):
        (self.session or self.adapter).close()


def call(conn, method, url, body=None, ok=(200,)):
    """One request; parse the JSON body as our clients do; a status not in ``ok`` raises."""
    if conn.via == 'pool':
        if conn.pool is None:  # the node's one pool, looked up once as _ContextAdapter does
            conn.pool = conn.adapter.poolmanager.connection_from_url(url)
            conn.pool.cert_reqs = 'CERT_NONE'  # what requests' cert_verify sets for verify=False
        data = None if body is None else json.dumps(body).encode()
        headers = conn.headers if data is None else dict(conn.headers, **{'Content-Length': str(len(data))})
        path = url[url.index('/', url.index('//') + 2):]
        resp = Reply(conn.pool.urlopen(method, path, body=data, headers=headers, redirect=False,
                                       assert_same_host=False, retries=conn.adapter.max_retries,
                                       timeout=urllib3.Timeout(connect=TIMEOUT[0], read=TIMEOUT[1])))
    elif conn.session is not None:
        resp = conn.session.request(method, url, data=None if body is None else json.dumps(body),
                                    headers=conn.headers, timeout=TIMEOUT, verify=False, allow_redirects=False)
    else:
        req = PreparedRequest()
        req.method, req.url, req.headers = method, url, CaseInsensitiveDict(conn.headers)
        if body is not None:
            req.body = json.dumps(body).encode()
            req.headers['Content-Length'] = str(len(req.body))
        resp = conn.adapter.send(req, timeout=TIMEOUT, verify=False, cert=None, proxies={})
    if resp.status_code not in ok:
        raise RuntimeError('%s %s: HTTP %d' % (method, url, resp.status_code))
    content = resp.content
    return resp, (json.loads(content) if content else None)


def openbmc(conn, base, info, command):
    """login, the command's requests, logout (openbmc_client.py + executor/openbmc_*.py)."""
    # Basic on every request and the sid cookie after login, as ours does.
    pair = ('%s:%s' % (info['username'], info['password'])).encode()
    conn.headers['Authorization'] = 'Basic ' + base64.b64encode(pair).decode()
    resp, _ = call(conn, 'POST', base + '/login', {'data': [info['username'], info['password']]})
    if conn.session is None:  # the session's cookie jar does this in session mode
        conn.headers['Cookie'] = resp.headers['Set-Cookie'].split(';', 1)[0]
    if command == 'rpower state':
        data = call(conn, 'GET', base + OBMC + '/state/enumerate')[1]['data']
        result = data[OBMC + '/state/chassis0']['CurrentPowerState']
    elif command == 'rpower on':
        result = call(conn, 'PUT', base + HOST_ATTR, {'data': 'xyz.openbmc_project.State.Host.Transition.On'})
    elif command == 'rpower off':
        result = call(conn, 'PUT', base + CHASSIS_ATTR,
                      {'data': 'xyz.openbmc_project.State.Chassis.Transition.Off'})
    elif command == 'rsetboot net':
        call(conn, 'PUT', base + ONE_TIME + '/attr/Enabled', {'data': 1})
        result = call(conn, 'PUT', base + ONE_TIME + '/attr/BootSource',
                      {'data': 'xyz.openbmc_project.Control.Boot.Source.Sources.Network'})
    elif command == 'rsetboot stat':
        result = call(conn, 'GET', base + OBMC + '/control/host0/enumerate')[1]['data']
    elif command == 'rinv all':
        result = (call(conn, 'GET', base + OBMC + '/inventory/enumerate')[1]['data'],
                  call(conn, 'GET', base + OBMC + '/software/enumerate')[1]['data'])
    elif command == 'rvitals all':
        result = (call(conn, 'GET', base + OBMC + '/sensors/enumerate')[1]['data'],
                  call(conn, 'GET', base + OBMC + '/led/physical/enumerate')[1]['data'])
    elif command == 'rbeacon on':
        result = call(conn, 'PUT', base + OBMC + '/led/groups/enclosure_identify/attr/Asserted', {'data': True})
    elif command == 'reventlog all':
        result = call(conn, 'GET', base + OBMC + '/logging/enumerate')[1]['data']
    else:
        raise ValueError(command)
    call(conn, 'POST', base + '/logout', {'data': []})
    return result


def redfish(conn, base, info, command):
    """session POST, one request at bmcweb's paths (two for rsetboot net: the PATCH and the GET
    that checks it), DELETE (redfish_client.py + executors).

    rpower on/off is the Reset POST straight to bmcweb's action target, whatever the state
    (ours reads the system only when the BMC refuses, which bmcweb never does here).
    """
    resp, _ = call(conn, 'POST', base + SESSIONS, {'UserName': info['username'], 'Password': info['password']},
                   ok=(200, 201))
    conn.headers['X-Auth-Token'] = resp.headers['X-Auth-Token']
    location = resp.headers['Location']
    location = location if location.startswith('https://') else base + location
    if command == 'rsetboot net':
        call(conn, 'PATCH', base + SYSTEM,
             {'Boot': {'BootSourceOverrideEnabled': 'Once', 'BootSourceOverrideTarget': 'Pxe'}}, ok=(200, 204))
        # The GET that sees the override held (ours checks it: some BMCs drop it silently).
        result = call(conn, 'GET', base + SYSTEM)[1]['Boot']
    elif command in ('rpower on', 'rpower off'):
        kind = 'ForceOn' if command == 'rpower on' else 'ForceOff'
        result = call(conn, 'POST', base + SYSTEM_RESET, {'ResetType': kind}, ok=(200, 202, 204))
    elif command in ('rpower state', 'rsetboot stat'):
        system = call(conn, 'GET', base + SYSTEM)[1]
        result = system['Boot'] if command == 'rsetboot stat' else system['PowerState']
    else:
        raise ValueError(command)
    call(conn, 'DELETE', location, ok=(200, 204))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodeinfo', required=True)
    parser.add_argument('--protocol', choices=('openbmc', 'redfish'), required=True)
    parser.add_argument('--command', required=True)
    parser.add_argument('--pool', type=int, default=1000)
    parser.add_argument('--via', choices=('pool', 'adapter', 'session'), default='pool')
    args = parser.parse_args()
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    with open(args.nodeinfo, encoding='utf-8') as fh:
        nodeinfo = json.load(fh)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    steps = openbmc if args.protocol == 'openbmc' else redfish
    errors = []

    def per_node(node):
        info = nodeinfo[node]
        conn = Conn(ctx, args.via)
        try:
            steps(conn, 'https://' + info['bmcip'], info, args.command)
            return True
        except Exception as error:  # pylint: disable=broad-except
            errors.append('%s: %s' % (node, error))
            return False
        finally:
            conn.close()

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.monotonic()
    answered = sum(Pool(args.pool).imap_unordered(per_node, sorted(nodeinfo)))
    work_wall = time.monotonic() - wall0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        'protocol': args.protocol, 'command': args.command, 'via': args.via, 'nodes': len(nodeinfo),
        'answered': answered, 'errors': len(errors), 'error_samples': errors[:5],
        'cpu_s': usage.ru_utime + usage.ru_stime,
        'work_cpu_s': usage.ru_utime + usage.ru_stime - cpu0.ru_utime - cpu0.ru_stime,
        'wall_s': time.monotonic() - START_WALL, 'work_wall_s': work_wall,
        'maxrss_kb': usage.ru_maxrss,
    }))
    return 0 if not errors else 1


if __name__ == '__main__':
    raise SystemExit(main())
