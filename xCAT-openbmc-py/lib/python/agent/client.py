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
status is 1 if any error came back. The node-info file is JSON
``{node: {bmc, bmcip, username, password}}`` (``make sim`` writes one); keep it 0600.
"""

import argparse
import json
import os
import shutil
import socket
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


def print_reply(frame, out, err, show_db=False):
    """Print one reply frame as xCAT's client prints it; returns True if it is an error."""
    if frame.get('type') == 'db':
        if show_db:
            attr = frame.get('attribute', {})
            out.write('[db] %s.%s = %s\n' % (attr.get('node'), attr.get('name'), attr.get('value')))
        return False
    msg = frame.get('msg') or {}
    kind, text = msg.get('type'), msg.get('data', '')
    if kind in ('info', 'info_with_host'):
        out.write('%s\n' % text)
    elif kind == 'warning':
        err.write('Warning: %s\n' % text)
    elif kind == 'error':
        node = msg.get('node')
        err.write('%s: Error: %s\n' % (node, text) if node else 'Error: %s\n' % text)
        return True
    return False


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
    try:
        sock = _connect(sock_path, proc)
        with sock:
            sock.sendall(encode_frame(request))
            while True:
                frame = recv_frame(sock)
                if frame is None:
                    break
                if print_reply(frame, sys.stdout, sys.stderr, opts.show_db):
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
    return rc


if __name__ == '__main__':
    sys.exit(main())
