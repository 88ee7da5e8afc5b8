#!/usr/bin/env python3
"""Debug client: send one request to a running agent and print its replies as xCAT would.

Usage:
  client.py --sock PATH --nodeinfo FILE [options] COMMAND NODES [ARGS...]

  COMMAND    rpower or rsetboot
  NODES      comma list of nodes, with ranges: node001,node[002-010],node011-node020
             (common/noderange.py)
  ARGS       the command's arguments (state, on, net -p, ...)

Options:
  --module openbmc|redfish   agent module (default: openbmc)
  --env KEY=VALUE            add to the request's envs (pool_size=100, deadline=30,
                             debugmode=1, verify=true, ...); repeatable
  --spawn                    start an agent of our own on a private socket (--sock optional)
  --show-db                  also print db frames (node status updates)

Node lines go to stdout, ``node: Error: ...`` and ``Error: ...`` to stderr; the exit
status is 1 if any error came back. As with the broker, every requested node gets one line:
a node the agent closed the connection without answering gets ``node: Error: no result from
the agent``. The request (passwords included) goes only to a socket owned by the calling user
or root. The node-info file is JSON
``{node: {bmc, bmcip, username, password}}`` (``make sim`` writes one); keep it 0600.
"""

import argparse
import json
import os
import pwd
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.exceptions import AgentError  # noqa: E402
from common.noderange import parse_noderange  # noqa: E402
from common.utils import encode_frame, recv_frame  # noqa: E402

def _value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


NO_RESULT = 'no result from the agent'


def print_reply(frame, out, err, show_db=False, answered=None):
    """Print one reply frame as xCAT's client prints it; returns True if it is an error.

    :param answered: a set; the node a final line is for is added (``''`` for an error of
        the whole request).
    """
    if frame.get('type') == 'db':
        if show_db:
            attr = frame.get('attribute', {})
            out.write('[db] %s.%s = %s\n' % (attr.get('node'), attr.get('name'), attr.get('value')))
        return False
    msg = frame.get('msg') or {}
    kind, text = msg.get('type'), msg.get('data', '')
    if answered is None:
        answered = set()
    if kind in ('info', 'info_with_host'):
        out.write('%s\n' % text)
        node, sep, rest = str(text).partition(': ')
        # progress notes end in "..." and are not a node's final line
        if sep and not rest.endswith('...'):
            answered.add(node)
    elif kind == 'warning':
        err.write('Warning: %s\n' % text)
    elif kind == 'error':
        node = msg.get('node')
        err.write('%s: Error: %s\n' % (node, text) if node else 'Error: %s\n' % text)
        answered.add(node or '')
        return True
    return False


def check_owner(path, sock=None):
    """Refuse an agent socket that neither the calling user nor root owns (file or listening process).

    :returns: None, or the reason to refuse, naming the owner found.
    """
    me = os.geteuid()
    owners = [('socket file', os.stat(path).st_uid)]
    peercred = getattr(socket, 'SO_PEERCRED', None)
    if sock is not None and peercred is not None:
        _pid, uid, _gid = struct.unpack('3i', sock.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize('3i')))
        owners.append(('agent process', uid))
    for what, uid in owners:
        if uid not in (me, 0):
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = 'unknown user'
            return ('%s %s is owned by uid %d (%s), not by you (uid %d) or root; the request was not sent'
                    % (what, path, uid, name, me))
    return None


def _spawn_agent(python):
    rundir = tempfile.mkdtemp(prefix='xcatagent.')
    sock_path = os.path.join(rundir, 'agent.sock')
    agent = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'agent.py')
    with open(os.path.join(rundir, 'agent.log'), 'ab') as log:
        proc = subprocess.Popen([python, agent, '--sock', sock_path, '--standalone', '--log-level', 'WARNING'],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    return proc, rundir, sock_path


def _connect(path, proc=None, wait=10.0):
    ends = time.monotonic() + wait
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > ends or (proc is not None and proc.poll() is not None):
                raise
            time.sleep(0.05)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='client.py', description='Send one request to an xCAT agent.')
    parser.add_argument('--sock', help='agent socket path')
    parser.add_argument('--nodeinfo', required=True, help='JSON file {node: {bmc, bmcip, username, password}}')
    parser.add_argument('--module', default='openbmc', choices=['openbmc', 'redfish'])
    parser.add_argument('--env', action='append', default=[], metavar='KEY=VALUE')
    parser.add_argument('--spawn', action='store_true', help='start a private agent for this request')
    parser.add_argument('--show-db', action='store_true')
    parser.add_argument('command')
    parser.add_argument('nodes')
    parser.add_argument('args', nargs=argparse.REMAINDER)
    opts = parser.parse_args(argv)
    if not opts.sock and not opts.spawn:
        parser.error('give --sock PATH or --spawn')
    try:
        with open(opts.nodeinfo) as handle:
            inventory = json.load(handle)
    except (OSError, ValueError) as error:
        sys.stderr.write('Error: cannot read node info %s: %s\n' % (opts.nodeinfo, error))
        return 1
    envs = {'debugmode': 0}
    for pair in opts.env:
        key, _, value = pair.partition('=')
        envs[key] = _value(value)
    try:
        nodes = parse_noderange(opts.nodes)
    except ValueError as error:
        sys.stderr.write('Error: %s\n' % error)
        return 1
    rc = 0
    nodeinfo = {}
    for node in nodes:
        if node in inventory:
            nodeinfo[node] = inventory[node]
        else:
            sys.stderr.write('%s: Error: not in %s\n' % (node, opts.nodeinfo))
            rc = 1
    if not nodeinfo:
        return 1
    request = {'module': opts.module, 'command': opts.command, 'args': opts.args, 'cwd': [os.getcwd()],
               'nodes': nodes, 'nodeinfo': nodeinfo, 'envs': envs}
    proc = rundir = None
    sock_path = opts.sock
    if opts.spawn:
        proc, rundir, sock_path = _spawn_agent(sys.executable)
    answered = set()
    sent = False
    try:
        sock = _connect(sock_path, proc)
        with sock:
            refused = check_owner(sock_path, sock)
            if refused:
                sys.stderr.write('Error: %s\n' % refused)
                return 1
            sock.sendall(encode_frame(request))
            sent = True
            while True:
                frame = recv_frame(sock)
                if frame is None:
                    break
                if print_reply(frame, sys.stdout, sys.stderr, opts.show_db, answered):
                    rc = 1
                sys.stdout.flush()
    except (OSError, AgentError) as error:
        sys.stderr.write('Error: agent at %s: %s\n' % (sock_path, error))
        if rundir:
            with open(os.path.join(rundir, 'agent.log'), errors='replace') as log:
                sys.stderr.write(log.read()[-2000:])
        rc = 1
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(rundir, ignore_errors=True)
    # An error of the whole request (bad settings, ...) is the answer for every node.
    if sent and '' not in answered:
        for node in nodeinfo:
            if node not in answered:
                sys.stderr.write('%s: Error: %s\n' % (node, NO_RESULT))
                rc = 1
    return rc


if __name__ == '__main__':
    sys.exit(main())
