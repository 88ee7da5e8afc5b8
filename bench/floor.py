"""The floor: the smallest gevent program that sends our clients' HTTP requests to the fleet.

No broker, no agent, no per-node objects beyond one ``requests.Session`` (one keep-alive
connection): the same library and TLS set-up as ``common/rest.py`` (one shared SSLContext
mounted through an HTTPAdapter, ``trust_env`` off, ``verify=False`` per request), the same
request sequence per node as ``hwctl/openbmc_client.py`` and ``hwctl/redfish_client.py``
with their executors, and nothing else. ``bench/bench.py`` divides our CPU by this one's.

Usage: ``python bench/floor.py --nodeinfo FILE --protocol openbmc --command 'rpower state'``.
Prints one JSON object: cpu_s (whole process), work_cpu_s (the fan-out alone), wall_s,
work_wall_s, answered, errors, error_samples, maxrss_kb.
"""

from gevent import monkey

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

START_WALL = time.monotonic()
TIMEOUT = (10, 30)

OBMC = '/xyz/openbmc_project'
HOST_ATTR = OBMC + '/state/host0/attr/RequestedHostTransition'
CHASSIS_ATTR = OBMC + '/state/chassis0/attr/RequestedPowerTransition'
ONE_TIME = OBMC + '/control/host0/boot/one_time'

SESSIONS = '/redfish/v1/SessionService/Sessions'
SYSTEMS = '/redfish/v1/Systems'


class ContextAdapter(HTTPAdapter):
    """Hands the one shared SSLContext to urllib3's pool manager."""

    def __init__(self, ctx, **kwargs):
        self.ctx = ctx
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs['ssl_context'] = self.ctx
        super().init_poolmanager(*args, **kwargs)


def call(session, method, url, body=None, headers=None, ok=(200,)):
    """One request; parse the JSON body as our clients do; non-``ok`` status raises."""
    resp = session.request(method, url, json=body, headers=headers, timeout=TIMEOUT, verify=False)
    if resp.status_code not in ok:
        raise RuntimeError('%s %s: HTTP %d' % (method, url, resp.status_code))
    return resp, (resp.json() if resp.content else None)


def openbmc(session, base, info, command):
    """login, the command's requests, logout (openbmc_client.py + executor/openbmc_*.py)."""
    # requests' cookie jar carries the sid cookie; Basic goes on every request, as ours does.
    pair = ('%s:%s' % (info['username'], info['password'])).encode()
    session.headers['Authorization'] = 'Basic ' + base64.b64encode(pair).decode()
    call(session, 'POST', base + '/login', {'data': [info['username'], info['password']]})
    if command == 'rpower state':
        data = call(session, 'GET', base + OBMC + '/state/enumerate')[1]['data']
        result = data[OBMC + '/state/chassis0']['CurrentPowerState']
    elif command == 'rpower on':
        result = call(session, 'PUT', base + HOST_ATTR, {'data': 'xyz.openbmc_project.State.Host.Transition.On'})
    elif command == 'rpower off':
        result = call(session, 'PUT', base + CHASSIS_ATTR,
                      {'data': 'xyz.openbmc_project.State.Chassis.Transition.Off'})
    elif command == 'rsetboot net':
        call(session, 'PUT', base + ONE_TIME + '/attr/Enabled', {'data': 1})
        result = call(session, 'PUT', base + ONE_TIME + '/attr/BootSource',
                      {'data': 'xyz.openbmc_project.Control.Boot.Source.Sources.Network'})
    elif command == 'rsetboot stat':
        result = call(session, 'GET', base + OBMC + '/control/host0/enumerate')[1]['data']
    else:
        raise ValueError(command)
    call(session, 'POST', base + '/logout', {'data': []})
    return result


def redfish(session, base, info, command):
    """session POST, Systems, first member, the action if needed, DELETE (redfish_client.py + executors)."""
    resp, _ = call(session, 'POST', base + SESSIONS, {'UserName': info['username'], 'Password': info['password']},
                   ok=(200, 201))
    headers = {'X-Auth-Token': resp.headers['X-Auth-Token']}
    location = resp.headers['Location']
    location = location if location.startswith('https://') else base + location
    member = call(session, 'GET', base + SYSTEMS, headers=headers)[1]['Members'][0]['@odata.id']
    system = call(session, 'GET', base + member, headers=headers)[1]
    result = system['PowerState'] if command.startswith('rpower') else system['Boot']
    if command in ('rpower on', 'rpower off'):
        target = 'On' if command == 'rpower on' else 'Off'
        if result != target:
            action = system['Actions']['#ComputerSystem.Reset']
            allowed = action.get('ResetType@Redfish.AllowableValues') or ()
            kind = 'ForceOff' if target == 'Off' else ('ForceOn' if 'ForceOn' in allowed else 'On')
            call(session, 'POST', base + action['target'], {'ResetType': kind}, headers=headers,
                 ok=(200, 202, 204))
    elif command == 'rsetboot net':
        call(session, 'PATCH', base + member,
             {'Boot': {'BootSourceOverrideEnabled': 'Once', 'BootSourceOverrideTarget': 'Pxe'}},
             headers=headers, ok=(200, 204))
    elif command not in ('rpower state', 'rsetboot stat'):
        raise ValueError(command)
    call(session, 'DELETE', location, headers=headers, ok=(200, 204))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodeinfo', required=True)
    parser.add_argument('--protocol', choices=('openbmc', 'redfish'), required=True)
    parser.add_argument('--command', required=True)
    parser.add_argument('--pool', type=int, default=1000)
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
        session = requests.Session()
        session.trust_env = False
        session.mount('https://', ContextAdapter(ctx, pool_connections=1, pool_maxsize=1, max_retries=0))
        try:
            steps(session, 'https://' + info['bmcip'], info, args.command)
            return True
        except Exception as error:  # pylint: disable=broad-except
            errors.append('%s: %s' % (node, error))
            return False
        finally:
            session.close()

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.monotonic()
    answered = sum(Pool(args.pool).imap_unordered(per_node, sorted(nodeinfo)))
    work_wall = time.monotonic() - wall0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        'protocol': args.protocol, 'command': args.command, 'nodes': len(nodeinfo),
        'answered': answered, 'errors': len(errors), 'error_samples': errors[:5],
        'cpu_s': usage.ru_utime + usage.ru_stime,
        'work_cpu_s': usage.ru_utime + usage.ru_stime - cpu0.ru_utime - cpu0.ru_stime,
        'wall_s': time.monotonic() - START_WALL, 'work_wall_s': work_wall,
        'maxrss_kb': usage.ru_maxrss,
    }))
    return 0 if not errors else 1


if __name__ == '__main__':
    raise SystemExit(main())
