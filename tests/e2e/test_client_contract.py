"""client.py keeps the broker's contract: every node one line, requests only to our own agent,
and what a BMC says never forges a line or reaches the terminal raw (docs/DESIGN.md)."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

import client
from common.utils import encode_frame, recv_frame
from conftest import AGENT, AgentProcess

CLIENT = os.path.join(os.path.dirname(str(AGENT)), 'client.py')
NODEINFO = {n: {'bmc': '127.0.0.9', 'bmcip': '127.0.0.9', 'username': 'root', 'password': 'pw-secret'}
            for n in ('n1', 'n2', 'n3')}


class FakeAgent:
    """A UNIX socket that takes one request, sends ``frames`` and closes; records what it got."""

    def __init__(self, path, frames):
        self.path = path
        self.frames = frames
        self.received = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            try:
                self.received.append(recv_frame(conn))
                for frame in self.frames:
                    conn.sendall(encode_frame(frame))
            except Exception as error:  # noqa: BLE001 - recorded for the assert
                self.received.append(error)

    def stop(self):
        self.sock.close()
        self.thread.join(20)


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix='client-test.')
    with open(os.path.join(path, 'nodeinfo.json'), 'w') as handle:
        json.dump(NODEINFO, handle)
    return path


def info(text):
    return {'type': 'message', 'msg': {'type': 'info', 'data': text}}


def test_nodes_the_agent_left_unanswered_get_one_line_each_and_rc_1(workdir, capsys):
    fake = FakeAgent(os.path.join(workdir, 'agent.sock'), [info('n1: on'), info('n2: Firmware will be flashed...')])
    try:
        rc = client.main(['--sock', fake.path, '--nodeinfo', os.path.join(workdir, 'nodeinfo.json'),
                          'rpower', 'n1,n2,n3', 'state'])
    finally:
        fake.stop()
    out, err = capsys.readouterr()
    assert rc == 1
    assert out.splitlines() == ['n1: on', 'n2: Firmware will be flashed...']
    assert sorted(err.splitlines()) == ['n2: Error: no result from the agent', 'n3: Error: no result from the agent']


def test_an_error_of_the_whole_request_is_the_answer_for_every_node(workdir, capsys):
    bad = {'type': 'message', 'msg': {'type': 'error', 'data': 'Invalid request: envs.x'}}
    fake = FakeAgent(os.path.join(workdir, 'agent.sock'), [bad])
    try:
        rc = client.main(['--sock', fake.path, '--nodeinfo', os.path.join(workdir, 'nodeinfo.json'),
                          'rpower', 'n1,n2', 'state'])
    finally:
        fake.stop()
    assert rc == 1
    assert capsys.readouterr().err.splitlines() == ['Error: Invalid request: envs.x']


def test_a_socket_owned_by_another_user_gets_no_request(workdir, capsys, monkeypatch):
    fake = FakeAgent(os.path.join(workdir, 'agent.sock'), [info('n1: on')])
    if os.geteuid() == 0:
        other = 65534
        os.chown(fake.path, other, -1)
    else:
        other = os.geteuid()
        monkeypatch.setattr(client.os, 'geteuid', lambda: other + 4242)
    try:
        rc = client.main(['--sock', fake.path, '--nodeinfo', os.path.join(workdir, 'nodeinfo.json'),
                          'rpower', 'n1', 'state'])
    finally:
        fake.stop()
    out, err = capsys.readouterr()
    assert rc == 1
    assert out == ''
    assert err.startswith('Error: socket file %s is owned by uid %d (' % (fake.path, other)), err
    assert err.count('\n') == 1
    # nothing was sent (the fake agent saw the connection close before any frame)
    assert fake.received[:1] in ([], [None])


@pytest.fixture(scope='module')
def fleet(fleet_factory):
    return fleet_factory(nodes=3, protocol='openbmc', base='127.43.0.1')


def test_what_a_bmc_says_cannot_forge_a_line_or_reach_the_terminal(fleet):
    """A 401 whose message carries a fake ``node002: off`` line and terminal escapes."""
    fleet.control.reset()
    said = 'Invalid username\nnode002: off\n\x1b[2J\x1b]0;pwned\x07'
    fleet.control.set_fault(['node001'], 'deny', said)
    fleet.control.set_fault(['node003'], 'deny', 'x' * 5000 + '\r\n')
    fleet.control.set_node('node002', power='on')
    workdir = tempfile.mkdtemp(prefix='client-test.')
    nodeinfo = os.path.join(workdir, 'nodeinfo.json')
    with open(nodeinfo, 'w') as handle:
        json.dump(fleet.nodeinfo, handle)
    agent = AgentProcess(workdir)
    try:
        done = subprocess.run([sys.executable, CLIENT, '--sock', agent.sock_path, '--nodeinfo', nodeinfo,
                               'rpower', 'node001,node002,node003', 'state'],
                              capture_output=True, text=True, timeout=60)
    finally:
        agent.stop()
    assert done.returncode == 1
    assert done.stdout.splitlines() == ['node002: on']
    lines = sorted(done.stderr.splitlines())
    assert lines[0] == 'node001: Error: [401] Invalid username\\nnode002: off\\n\\x1b[2J\\x1b]0;pwned\\x07'
    assert lines[1].startswith('node003: Error: [401] xxxx') and lines[1].endswith('...')
    assert len(lines[1]) == len('node003: Error: ') + 512
    assert len(lines) == 2
    assert '\x1b' not in done.stdout + done.stderr and '\x07' not in done.stdout + done.stderr
