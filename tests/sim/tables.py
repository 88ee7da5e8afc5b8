"""Files the fleet writes for its clients: nodeinfo.json, xCAT tabdump CSV tables, fleet.json, the CA."""

import json
import os
import shutil

#: tabdump column lists, in xCAT's order.
NODELIST_COLUMNS = ('node', 'groups', 'status', 'statustime', 'appstatus', 'appstatustime', 'primarysn',
                    'hidden', 'updatestatus', 'updatestatustime', 'zonename', 'comments', 'disable')
NODEHM_COLUMNS = ('node', 'power', 'mgt', 'cons', 'termserver', 'termport', 'conserver', 'serialport',
                  'serialspeed', 'serialflow', 'getmac', 'cmdmapping', 'consoleondemand', 'comments',
                  'disable')
OPENBMC_COLUMNS = ('node', 'bmc', 'consport', 'taggedvlan', 'username', 'password', 'comments', 'disable')
PASSWD_COLUMNS = ('key', 'username', 'password', 'cryptmethod', 'authdomain', 'comments', 'disable')

#: Nodes per rack group (``rack1`` holds node 1-16, ``rack2`` 17-32, ...).
RACK_SIZE = 16

#: Name of the CA file clients verify against.
CA_FILE = 'fleet-ca.pem'


def _write_private(path, text):
    """Write ``text`` to ``path`` with mode 0600 from the start (secrets never world-readable)."""
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _cell(value):
    """One tabdump value: double-quoted (inner quotes doubled), empty when unset."""
    if value is None or value == '':
        return ''
    return '"%s"' % str(value).replace('"', '""')


def tabdump(columns, rows):
    """Render a table the way ``tabdump`` prints it.

    :param columns: column names.
    :param rows: sequences of values (``None``/empty = empty cell), as long as ``columns``.
    :returns: the CSV text (``#col1,col2,...`` header line, one line per row).
    """
    lines = ['#' + ','.join(columns)]
    lines.extend(','.join(_cell(v) for v in row) for row in rows)
    return '\n'.join(lines) + '\n'


def install_ca(directory, cert_path):
    """Copy the fleet certificate to ``directory/fleet-ca.pem`` (created if missing).

    :returns: the path of the copy.
    """
    os.makedirs(directory, exist_ok=True)
    ca_path = os.path.join(directory, CA_FILE)
    shutil.copyfile(cert_path, ca_path + '.tmp')
    os.chmod(ca_path + '.tmp', 0o644)
    os.replace(ca_path + '.tmp', ca_path)
    return ca_path


def write_tables(directory, bmcs, protocol, username, password, per_node_credentials, info):
    """Write every client file into ``directory`` (created if missing).

    :param directory: target directory.
    :param bmcs: the fleet's :class:`sim.bmc.BMC` objects in node order.
    :param protocol: ``openbmc`` or ``redfish`` (groups, ``nodehm.mgt`` and the passwd key).
    :param username: fleet default BMC user (passwd row).
    :param password: fleet default password (passwd row).
    :param per_node_credentials: put each node's user/password in ``openbmc.csv``; otherwise leave
        them empty there so clients fall back to the passwd row, as xCAT does.
    :param info: dict written as ``fleet.json``.
    """
    os.makedirs(directory, exist_ok=True)

    nodeinfo = {b.name: {'bmc': b.address, 'bmcip': b.address, 'username': b.username,
                         'password': b.password} for b in bmcs}
    _write_private(os.path.join(directory, 'nodeinfo.json'), json.dumps(nodeinfo, indent=1) + '\n')

    nodelist = [(b.name, 'all,%s,rack%d' % (protocol, (b.index - 1) // RACK_SIZE + 1))
                + (None,) * (len(NODELIST_COLUMNS) - 2) for b in bmcs]
    _write_private(os.path.join(directory, 'nodelist.csv'), tabdump(NODELIST_COLUMNS, nodelist))

    nodehm = [(b.name, protocol, protocol) + (None,) * (len(NODEHM_COLUMNS) - 3) for b in bmcs]
    _write_private(os.path.join(directory, 'nodehm.csv'), tabdump(NODEHM_COLUMNS, nodehm))

    openbmc = []
    for b in bmcs:
        user, secret = (b.username, b.password) if per_node_credentials else (None, None)
        openbmc.append((b.name, b.address, None, None, user, secret, None, None))
    _write_private(os.path.join(directory, 'openbmc.csv'), tabdump(OPENBMC_COLUMNS, openbmc))

    passwd = [(protocol, username, password, None, None, None, None)]
    _write_private(os.path.join(directory, 'passwd.csv'), tabdump(PASSWD_COLUMNS, passwd))

    _write_private(os.path.join(directory, 'fleet.json'), json.dumps(info, indent=1) + '\n')


def merge_tables(directory, parts, info):
    """Write into ``directory`` the client files of one fleet served by several processes.

    :param directory: target directory (created if missing).
    :param parts: the tables directories of the processes (``--shard 1/N`` to ``N/N``), in order.
    :param info: dict written as ``fleet.json`` (the whole fleet's description).

    ``nodeinfo.json`` and the per-node CSV tables are the union of the parts' (rows in order,
    one header); ``passwd.csv`` is the first part's (the same in each); ``fleet-ca.pem`` holds
    every part's certificate (each process makes its own), so it still works as a CA bundle.
    """
    os.makedirs(directory, exist_ok=True)
    nodeinfo = {}
    for part in parts:
        with open(os.path.join(part, 'nodeinfo.json'), encoding='utf-8') as fh:
            nodeinfo.update(json.load(fh))
    _write_private(os.path.join(directory, 'nodeinfo.json'), json.dumps(nodeinfo, indent=1) + '\n')
    for name in ('nodelist.csv', 'nodehm.csv', 'openbmc.csv'):
        lines = []
        for part in parts:
            with open(os.path.join(part, name), encoding='utf-8') as fh:
                rows = fh.read().splitlines()
            lines.extend(rows if not lines else rows[1:])
        _write_private(os.path.join(directory, name), '\n'.join(lines) + '\n')
    with open(os.path.join(parts[0], 'passwd.csv'), encoding='utf-8') as fh:
        _write_private(os.path.join(directory, 'passwd.csv'), fh.read())
    ca_path = os.path.join(directory, CA_FILE)
    with open(ca_path + '.tmp', 'w', encoding='ascii') as out:
        for part in parts:
            with open(os.path.join(part, CA_FILE), encoding='ascii') as fh:
                out.write(fh.read())
    os.chmod(ca_path + '.tmp', 0o644)
    os.replace(ca_path + '.tmp', ca_path)
    _write_private(os.path.join(directory, 'fleet.json'), json.dumps(dict(info, ca_path=ca_path), indent=1) + '\n')
    return ca_path
