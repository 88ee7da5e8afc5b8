"""What rinv and rvitals must print for the data a BMC serves, written from docs/COMMANDS.md
independently of the agent's code (a second reading of the same rules), for the end-to-end tests.

Each function takes the decoded ``data`` of the BMC's replies and returns the node's lines
(without ``node: ``).
"""

import re

import requests
import urllib3

P = '/xyz/openbmc_project'
UNITS = {'Amperes': 'Amps', 'DegreesC': 'C', 'Joules': 'Joules', 'Meters': 'Meters', 'RPMS': 'RPMS',
         'Volts': 'Volts', 'Watts': 'Watts'}
KINDS = {'temp': {'C'}, 'voltage': {'Volts'}, 'wattage': {'Watts'}, 'fanspeed': {'RPMS'}, 'altitude': {'Meters'},
         'power': {'Amps', 'Joules', 'Watts'}}
LEDS = [('fan0', 'Fan0'), ('fan1', 'Fan1'), ('fan2', 'Fan2'), ('fan3', 'Fan3'), ('front_fault', 'Front Fault'),
        ('front_id', 'Front Identify'), ('front_power', 'Front Power'), ('rear_fault', 'Rear Fault'),
        ('rear_id', 'Rear Identify'), ('rear_power', 'Rear Power')]
NONE = 'No attributes returned from the BMC.'


def natural(lines):
    def key(line):
        runs = re.findall(r'\d+|\D+', line)
        if runs and runs[0][0].isdigit():
            runs.insert(0, '')
        return [int(r) if r.isdigit() else r for r in runs], line
    return sorted(lines, key=key)


def fetch(bmcip, user, password, path):
    """GET one object or enumerate from a simulated BMC: ``(status, data)``."""
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    resp = requests.get('https://%s%s' % (bmcip, path), auth=(user, password), verify=False, timeout=20)
    return resp.status_code, resp.json().get('data')


def last(text):
    return str(text).split('.')[-1]


def groups(objects):
    out = {}
    for path, props in objects.items():
        if 'Present' not in props:
            continue
        *_, parent, name = path.split('/')
        kind = ''.join(c for c in name if not c.isdigit()).upper()
        label = name.upper()
        if kind == 'CORE':
            kind, label = 'CPU', '%s %s' % (parent.upper(), name.upper())
        out.setdefault(kind, []).extend('%s %s : %s' % (label, k, v) for k, v in props.items())
    return out


def firmware(software, verbose):
    functional = software.get(P + '/software/functional', {}).get('endpoints', [])
    images = sorted(((last(p.get('Purpose', 'Unknown')) + '-' + path.split('/')[-1]), path, p)
                    for path, p in software.items() if 'Version' in p)
    lines = []
    for _key, path, props in images:
        if path in functional:
            flag = '*'
        elif props.get('Priority') == 0:
            flag = '*' if not functional else '+'
        else:
            flag = ''
        if flag != '*' and not verbose:
            continue
        purpose = last(props.get('Purpose', 'Unknown')).upper()
        lines.append('%s Firmware Product: %s (%s)%s' % (purpose, props['Version'], last(props['Activation']), flag))
        if props.get('ExtendedVersion'):
            lines += ['%s Firmware Product: -- additional info: %s' % (purpose, e)
                      for e in sorted(props['ExtendedVersion'].split(','))]
    return lines


def rinv(keywords, verbose, inventory, system, software):
    """Lines of ``rinv`` with ``keywords`` given the full inventory enumerate, the system object and software."""
    keywords = set(keywords) or {'all'}
    if 'all' in keywords:
        g = groups(inventory)
        return [line for kind in sorted(g) for line in natural(g[kind])] + firmware(software, verbose)
    lines = firmware(software, verbose) if 'firm' in keywords else []
    system_lines = ['SYSTEM %s : %s' % (k, v) for k, v in system.items()]
    for word, key in (('model', 'Model'), ('serial', 'SerialNumber')):
        if word in keywords:
            lines += [line for line in system_lines if key in line][:1]
    g = groups({k: v for k, v in inventory.items() if '/motherboard/' in k})
    for word in ('cpu', 'dimm'):
        if word in keywords:
            lines += natural(g.get(word.upper(), []))
    return lines or [NONE]


def sensor_lines(sensors, kind):
    lines = []
    for path, props in sensors.items():
        name = path.split('/')[-1]
        if 'Unit' in props:
            unit = UNITS.get(last(props['Unit']))
            if unit and (kind == 'all' or unit in KINDS[kind]):
                lines.append('%s: %s %s' % (name.replace('_', ' ').title(),
                                            '{:g}'.format(props['Value'] * 10 ** props['Scale']), unit))
        elif 'units' in props and 'value' in props and kind == 'all':
            lines.append('%s: %s' % (name, props['value']))
    return natural(lines)


def led_lines(leds):
    states = {path.split('/')[-1]: last(p['State']) for path, p in leds.items()}
    return ['LEDs %s: %s' % (label, states.get(name, 'N/A')) for name, label in LEDS]


def rvitals(kind, sensors, leds):
    """Lines of ``rvitals <kind>``; ``leds`` is None when the BMC has no LED objects (404)."""
    if kind == 'leds':
        return led_lines(leds or {})
    lines = sensor_lines(sensors, kind)
    if kind == 'all':
        return lines + led_lines(leds or {})
    return lines or [NONE]
