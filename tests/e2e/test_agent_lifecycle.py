"""agent.py in xcatd's one-request mode: how it ends when nothing, or something bad, arrives."""

import contextlib
import fcntl
import socket
import subprocess
import sys
import time

from common.utils import encode_frame, recv_frame
from conftest import AGENT


@contextlib.contextmanager
def one_shot_agent(tmp_path, *extra):
    """The agent as the broker starts it, with the broker's lock held by this test."""
    sock_path = tmp_path / 'agent.sock'
    lock_path = tmp_path / 'agent.lock'
    with open(lock_path, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.Popen([sys.executable, str(AGENT), '--sock', str(sock_path), '--lockfile',
                                 str(lock_path), *extra],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            yield proc, sock_path
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def connect(proc, sock_path):
    """Connect as the broker does, retrying until the agent listens (bounded)."""
    for _ in range(600):
        assert proc.poll() is None, proc.stderr.read()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        try:
            sock.connect(str(sock_path))
            return sock
        except OSError:
            sock.close()
            time.sleep(0.05)
    raise AssertionError('agent never listened on %s' % sock_path)


def test_a_one_shot_agent_nobody_connects_to_exits_1_and_removes_its_socket(tmp_path):
    with one_shot_agent(tmp_path, '--accept-timeout', '1') as (proc, sock_path):
        assert proc.wait(timeout=30) == 1
        assert 'no connection on %s within 1 s' % sock_path in proc.stderr.read()
        assert not sock_path.exists()


def test_a_bad_request_gets_its_error_then_the_agent_exits_1(tmp_path):
    with one_shot_agent(tmp_path) as (proc, sock_path):
        with connect(proc, sock_path) as sock:
            sock.sendall(encode_frame({'module': 'openbmc', 'command': 'rpower'}))
            assert recv_frame(sock)['msg'] == {'type': 'error', 'node': '',
                                               'data': 'Invalid request: Please specify the cwd parameter'}
            assert recv_frame(sock) is None
        assert proc.wait(timeout=30) == 1
        assert not sock_path.exists()
