"""OpenBMCInventoryExecutor: rinv's node-level steps over phosphor REST (docs/COMMANDS.md "rinv").

The formatting functions are pure (reply data in, lines out) so they can be tested on
recorded-shape replies without a BMC.
"""

import re

from common import exceptions as exc
from common.utils import sort_natural, value_text
from hwctl import inventory
from hwctl.executor.base import ExecutorBase
from hwctl.openbmc_client import OpenBMCClient

_DIGITS = re.compile(r'\d')

#: rinv keyword -> the system property its line names (model before serial).
SYSTEM_KEYS = (('model', 'Model'), ('serial', 'SerialNumber'))


def _last(value):
    return str(value).rsplit('.', 1)[-1]


def inventory_groups(objects):
    """Group an inventory enumerate reply into ``{TYPE: [line, ...]}`` (lines in reply order).

    Only objects with a ``Present`` property are hardware (any value: empty DIMM slots
    show with ``Present : False``). The type is the object's name without digits,
    upper-cased (``dimm12`` -> ``DIMM``); a ``core`` belongs to its CPU and is named
    ``CPUn COREm``. Each property gives ``<SOURCE> <Property> : <value>``.
    """
    groups = {}
    for path, props in objects.items():
        if not isinstance(props, dict) or 'Present' not in props:
            continue
        parts = path.rsplit('/', 2)
        ident = parts[-1]
        kind = _DIGITS.sub('', ident).upper()
        if kind == 'CORE':
            kind = 'CPU'
            source = ('%s %s' % (parts[-2] if len(parts) > 2 else '', ident)).upper()
        else:
            source = ident.upper()
        # '%s' of a JSON value is value_text (JSON never gives a tuple), without a call per line.
        groups.setdefault(kind, []).extend(['%s %s : %s' % (source, prop, value) for prop, value in props.items()])
    return groups


def system_lines(props):
    """``SYSTEM <Property> : <value>`` lines of the system object's own properties (reply order)."""
    return ['SYSTEM %s : %s' % (prop, value_text(value)) for prop, value in props.items()]


def pick_system_lines(lines, keywords):
    """The first line naming ``Model`` (for ``model``) and ``SerialNumber`` (for ``serial``)."""
    picked = []
    for keyword, key in SYSTEM_KEYS:
        if keyword in keywords:
            for line in lines:
                if key in line:
                    picked.append(line)
                    break
    return picked


def firmware_lines(functional, images, verbose):
    """Firmware lines of a software enumerate (docs/COMMANDS.md "Firmware lines").

    :param functional: paths of the running images.
    :param images: ``{path: properties}`` of every object with a ``Version``.
    :param verbose: also the images that are neither running (``*``) nor next (``+``).
    """
    entries = []
    for path, props in images.items():
        ident = path.rsplit('/', 1)[-1]
        purpose = _last(props.get('Purpose', 'Unknown'))
        entries.append(('%s-%s' % (purpose, ident), path, purpose, props))
    entries.sort(key=lambda e: e[0])
    lines = []
    for _key, path, purpose, props in entries:
        flag = ''
        if path in functional:
            flag = '*'
        elif props.get('Priority') == 0:
            flag = '+' if functional else '*'
        if flag != '*' and not verbose:
            continue
        word = purpose.upper()
        lines.append('%s Firmware Product: %s (%s)%s' % (word, value_text(props.get('Version')),
                                                          _last(props.get('Activation', 'Unknown')), flag))
        extended = props.get('ExtendedVersion')
        if extended:
            for element in sorted(str(extended).split(',')):
                lines.append('%s Firmware Product: -- additional info: %s' % (word, element))
    return lines


def all_lines(objects):
    """``rinv all``'s inventory part: every group in type order, each in natural order."""
    groups = inventory_groups(objects)
    lines = []
    for kind in sorted(groups):
        lines.extend(sort_natural(groups[kind]))
    return lines


def selected_lines(objects, keywords, system=None):
    """model/serial and cpu/dimm lines from an enumerate (or ``system`` properties)."""
    lines = []
    if keywords & {'model', 'serial'}:
        source = system_lines(system) if system is not None else inventory_groups(objects).get('SYSTEM', [])
        lines.extend(pick_system_lines(source, keywords))
    if keywords & {'cpu', 'dimm'}:
        groups = inventory_groups(objects)
        for keyword in ('cpu', 'dimm'):
            if keyword in keywords:
                lines.extend(sort_natural(groups.get(keyword.upper(), [])))
    return lines


class OpenBMCInventoryExecutor(ExecutorBase, inventory.InventoryInterface):
    """InventoryInterface for OpenBMC BMCs: one login, the fewest enumerates, one logout."""

    CLIENT = OpenBMCClient

    def get_info(self, node, nodeinfo, keywords, verbose):
        keywords = frozenset(keywords)
        with self.session(node, nodeinfo) as client:
            def firmware():
                try:
                    return firmware_lines(*client.list_firmware(), verbose)
                except (TypeError, AttributeError, KeyError) as error:
                    raise exc.BmcBadResponse(node=node, detail='software enumerate: %r' % error)

            steps = []
            if 'all' in keywords:
                steps = [lambda: all_lines(client.get_inventory('all')), firmware]
            else:
                if 'firm' in keywords:
                    steps.append(firmware)
                wanted_system = keywords & {'model', 'serial'}
                wanted_board = keywords & {'cpu', 'dimm'}
                if wanted_system and wanted_board:
                    steps.append(lambda: selected_lines(client.get_inventory('all'), keywords))
                elif wanted_system:
                    steps.append(lambda: selected_lines({}, keywords, client.get_inventory('system')))
                elif wanted_board:
                    steps.append(lambda: selected_lines(client.get_inventory('motherboard'), keywords))
            return self.gather(client, steps, inventory.NO_ATTRIBUTES)
