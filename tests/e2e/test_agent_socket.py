"""agent.py as a real process on a real UNIX socket: bad input, garbage, lifetime, watchdog."""

import fcntl
import os
import random
import re
import socket
import struct
import subprocess
import sys
import time

import pytest

from common.utils import MAX_FRAME, encode_frame, recv_frame
from conftest import AGENT, AgentProcess, node_lines

NODEINFO = {'n1': {'bmc': '127.0.0.1:1', 'bmcip': '127.0.0.1:1', 'username': 'u', 'password': 'p'}}
GOOD = {'module': 'openbmc', 'command': 'rpower', 'args': ['state'], 'cwd': ['/'], 'nodes': ['n1'],
        'nodeinfo': NODEINFO, 'envs': {'debugmode': 0}}


def exchange(agent, data, shutdown_write=True, timeout=30):
    """Send raw bytes, then read frames until the agent closes, all within ``timeout``; returns the frames."""
    ends_at = time.monotonic() + timeout
    sock = agent.connect(timeout)
    try:
        sock.sendall(data)
        if shutdown_write:
            sock.shutdown(socket.SHUT_WR)
    except BaseException:
        sock.close()
        raise
    return AgentProcess.collect(sock, ends_at)


def only_error(frames):
    assert len(frames) == 1, frames
    assert frames[0]['type'] == 'message' and frames[0]['msg']['type'] == 'error'
    return frames[0]['msg']['data']


@pytest.mark.parametrize('request_obj,message', [
    ([1, 2], 'Invalid request: the request must be a JSON object, not list'),
    (dict(GOOD, module='ipmi'), 'Unsupported command: module ipmi'),
    (dict(GOOD, module=None), 'Invalid request: Please specify the request module'),
    (dict(GOOD, command=None), 'Invalid request: Could not find command'),
    (dict(GOOD, command='rflash'), 'Unsupported command: rflash'),
    (dict(GOOD, cwd=5), 'Invalid request: Please specify the cwd parameter'),
    (dict(GOOD, args='state'), 'Invalid request: args must be a list of strings'),
    (dict(GOOD, nodeinfo={}), 'Invalid request: nodeinfo must be a non-empty object of nodes'),
    (dict(GOOD, nodeinfo={'n1': {'bmc': 'x', 'bmcip': 'x', 'username': 'u'}}),
     'Invalid request: nodeinfo of n1 lacks password'),
    (dict(GOOD, envs={'pool_size': 'many'}),
     'Invalid request: envs.pool_size=many (XCAT_BMC_POOL_SIZE): must be a whole number from 1 to 100000'),
    (dict(GOOD, envs={'pool_size': 1.5}),
     'Invalid request: envs.pool_size=1.5 (XCAT_BMC_POOL_SIZE): must be a whole number from 1 to 100000'),
    (dict(GOOD, envs={'read_timeout': -1}),
     'Invalid request: envs.read_timeout=-1 (XCAT_BMC_READ_TIMEOUT): must be a number from 0.001 to 3600'),
    (dict(GOOD, envs={'read_timeout': 'abc'}),
     'Invalid request: envs.read_timeout=abc (XCAT_BMC_READ_TIMEOUT): must be a number from 0.001 to 3600'),
    (dict(GOOD, envs={'deadline': 0}),
     'Invalid request: envs.deadline=0 (XCAT_BMC_DEADLINE): must be a number from 0.001 to 86400'),
    (dict(GOOD, envs={'verify': 'maybe'}),
     'Invalid request: envs.verify=maybe (XCAT_BMC_VERIFY): must be true or false (1 or 0)'),
    (dict(GOOD, envs={'retries': 11}), 'Invalid request: envs.retries=11: must be a whole number from 0 to 10'),
])
def test_bad_requests_get_one_clear_error(agent, request_obj, message):
    assert only_error(exchange(agent, encode_frame(request_obj))) == message
    assert agent.proc.poll() is None


@pytest.mark.parametrize('data,fragment', [
    (struct.pack('=i', -5), 'frame length -5 outside'),
    (struct.pack('=i', 2 ** 31 - 1), 'outside 0..67108864'),
    (struct.pack('=i', 100) + b'{"module": "open', 'connection closed after 16 of 100 bytes'),
    (struct.pack('=i', 7) + b'{"a": 1', 'payload is not JSON'),
    (struct.pack('=i', 4) + b'\xff\xfe\xfd\xfc', 'payload is not UTF-8'),
    (b'\x01\x02', 'connection closed after 2 of 4 bytes'),
])
def test_garbage_gets_a_clear_error_and_a_clean_close(agent, data, fragment):
    assert fragment in only_error(exchange(agent, data))
    assert agent.proc.poll() is None


#: How every error about a request the agent could not use begins.
REQUEST_ERROR = re.compile(r'(Bad frame|Invalid request|Unsupported command): \S')


def test_random_bytes_get_one_clear_error_each_and_never_kill_the_agent(agent):
    """Any non-empty garbage is answered by exactly one error frame (not tied to a node),
    then a clean close; the agent then still serves a good request."""
    rng = random.Random(7)
    for i in range(40):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        if i % 2:
            # a plausible length prefix, so the garbage reaches the UTF-8 and JSON decoders
            blob = struct.pack('=i', len(blob)) + blob
        frames = exchange(agent, blob)
        assert len(frames) == 1, (blob, frames)
        assert frames[0]['type'] == 'message' and frames[0]['msg']['type'] == 'error', (blob, frames)
        assert not frames[0]['msg'].get('node'), (blob, frames)
        assert REQUEST_ERROR.match(frames[0]['msg']['data']), (blob, frames)
        assert agent.proc.poll() is None
    assert node_lines(agent.request('rpower', ['state'], NODEINFO)) == {
        'n1': "Error: Login to BMC failed: Can't connect to 127.0.0.1:1 (Connection refused)."}


def proc_status_kb(pid, key):
    """A ``kB`` field (``VmHWM``, ``VmRSS``) of ``/proc/<pid>/status``."""
    with open('/proc/%d/status' % pid) as handle:
        for line in handle:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise AssertionError('no %s in /proc/%d/status' % (key, pid))


#: Growth of the agent's peak RSS (VmHWM) allowed while it is fed garbage: half of one
#: announced frame. Eight connections announce a frame at the 64 MiB cap (512 MiB in all if
#: the agent allocated what is announced); what they really send is a few bytes, and the
#: garbage connections a few KiB each, so an agent that allocates only what arrives stays
#: within a few MiB of its peak before, and one that reserves even a single announced
#: frame goes over.
MEMORY_GROWTH_LIMIT_KB = 32 * 1024


def test_memory_stays_bounded_under_garbage(tmp_path):
    agent = AgentProcess(str(tmp_path), extra_args=['--request-timeout', '2'])
    tricklers = []
    try:
        refused = {'n1': "Error: Login to BMC failed: Can't connect to 127.0.0.1:1 (Connection refused)."}
        assert node_lines(agent.request('rpower', ['state'], NODEINFO, timeout=30)) == refused
        before = proc_status_kb(agent.proc.pid, 'VmHWM')
        ends_at = time.monotonic() + 30
        for _ in range(8):
            tricklers.append(agent.connect(timeout=30))
            tricklers[-1].sendall(struct.pack('=i', MAX_FRAME) + b'{"module": ')
        rng = random.Random(11)
        for _ in range(20):
            body = rng.randbytes(rng.randrange(1, 64 * 1024))
            frames = exchange(agent, struct.pack('=i', len(body)) + body)
            assert len(frames) == 1 and REQUEST_ERROR.match(frames[0]['msg']['data']), frames
        for _ in range(5):
            for sock in tricklers:
                sock.sendall(b' ')
            time.sleep(0.1)
        rss = proc_status_kb(agent.proc.pid, 'VmRSS')
        for sock in tricklers:
            frames = AgentProcess.collect(sock, ends_at)
            assert [f['msg']['data'] for f in frames] == ['Invalid request: no request received within 2 s']
        after = proc_status_kb(agent.proc.pid, 'VmHWM')
        print('agent VmHWM %d kB before, %d kB after (VmRSS %d kB while trickled)' % (before, after, rss))
        assert after - before < MEMORY_GROWTH_LIMIT_KB
        assert node_lines(agent.request('rpower', ['state'], NODEINFO, timeout=30)) == refused
    finally:
        for sock in tricklers:
            sock.close()
        agent.stop()


def test_client_that_says_nothing_is_dropped_within_the_bound(tmp_path):
    agent = AgentProcess(str(tmp_path), extra_args=['--request-timeout', '1'])
    try:
        with agent.connect(timeout=20) as sock:
            assert only_error([recv_frame(sock)]) == 'Invalid request: no request received within 1 s'
            assert recv_frame(sock) is None
    finally:
        agent.stop()


def test_client_gone_mid_reply_does_not_hurt_the_next_request(agent):
    many = {'n%03d' % i: dict(NODEINFO['n1']) for i in range(200)}
    with agent.connect() as sock:
        sock.sendall(encode_frame(dict(GOOD, nodeinfo=many)))
        sock.recv(10)
    lines = node_lines(agent.request('rpower', ['state'], many))
    assert len(lines) == 200


def wait_for_socket(proc, sock_path, bound=20):
    """Wait until the agent ``proc`` listens on ``sock_path`` (fails if it exits or ``bound`` s pass)."""
    deadline = time.monotonic() + bound
    while not os.path.exists(sock_path):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)


def test_one_request_per_process_then_exit_zero_and_socket_removed(tmp_path):
    workdir = str(tmp_path)
    sock_path = os.path.join(workdir, 'agent.sock')
    lock_path = os.path.join(workdir, 'agent.lock')
    lock = open(lock_path, 'a')
    fcntl.flock(lock, fcntl.LOCK_EX)
    proc = subprocess.Popen([sys.executable, str(AGENT), '--sock', sock_path, '--lockfile', lock_path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_socket(proc, sock_path)
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(30)
        sock.connect(sock_path)
        sock.sendall(encode_frame(GOOD))
        frames = []
        while (frame := recv_frame(sock)) is not None:
            frames.append(frame)
        assert set(node_lines(frames)) == {'n1'}
        assert proc.wait(20) == 0
        assert not os.path.exists(sock_path)
    finally:
        lock.close()
        if proc.poll() is None:
            proc.kill()


def test_watchdog_ends_the_agent_when_the_lock_holder_dies(tmp_path):
    workdir = str(tmp_path / 'agent.1234.1')
    os.mkdir(workdir, 0o700)
    sock_path = os.path.join(workdir, 'agent.sock')
    lock_path = os.path.join(workdir, 'agent.lock')
    holder = subprocess.Popen([sys.executable, '-c', 'import fcntl,sys,time; f=open(sys.argv[1],"a"); '
                               'fcntl.flock(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(600)',
                               lock_path], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == 'locked'
    proc = subprocess.Popen([sys.executable, str(AGENT), '--sock', sock_path, '--lockfile', lock_path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_socket(proc, sock_path)
        assert proc.poll() is None
        holder.kill()
        holder.wait(10)
        assert proc.wait(20) == 1
        # the socket, the dead broker's lock file and its private directory are gone
        assert not os.path.exists(workdir)
    finally:
        for p in (holder, proc):
            if p.poll() is None:
                p.kill()


@pytest.mark.parametrize('count, pool, warned', [
    (150, 500, ['open-file limit 100 is too low for 150 nodes at once; working on 36 nodes at once']),
    # a huge pool on a few nodes needs only a socket per node: no warning
    (16, 100000, []),
])
def test_pool_larger_than_the_file_limit_shrinks_with_a_warning(tmp_path, count, pool, warned):
    """The agent runs under a low hard limit: it warns when the nodes worked on at once do not
    fit, and still answers every node."""
    workdir = str(tmp_path)
    sock_path = os.path.join(workdir, 'agent.sock')
    proc = subprocess.Popen(['/bin/sh', '-c', 'ulimit -n 100 && exec "$0" "$@"', sys.executable, str(AGENT),
                             '--sock', sock_path, '--standalone'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_socket(proc, sock_path)
        many = {'n%03d' % i: dict(NODEINFO['n1']) for i in range(count)}
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(60)
        sock.connect(sock_path)
        sock.sendall(encode_frame(dict(GOOD, nodeinfo=many, envs={'pool_size': pool})))
        frames = []
        while (frame := recv_frame(sock)) is not None:
            frames.append(frame)
        warnings = [f['msg']['data'] for f in frames if f['msg']['type'] == 'warning']
        assert warnings == warned
        assert len(node_lines(frames)) == count
    finally:
        proc.kill()
        proc.wait(10)
