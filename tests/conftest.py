"""Shared pytest fixtures: a recording messager, run contexts, the agent process, the fleet."""

import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import urllib.parse

import pytest
import requests
import requests_mock as requests_mock_lib

from common.task import RunContext
from common.utils import encode_frame, recv_frame

REPO = pathlib.Path(__file__).resolve().parent.parent
AGENT = REPO / 'xCAT-openbmc-py' / 'lib' / 'python' / 'agent' / 'agent.py'
FIXTURES = pathlib.Path(__file__).resolve().parent / 'fixtures'


_SOURCE_TAGS = (
    (re.compile(r'^(\S+: )\[[^\]\n]*\]: (Error|Warning): ', re.M), r'\1\2: '),
    (re.compile(r'^(Error|Warning): \[[^\]\n]*\]: ', re.M), r'\1: '),
    (re.compile(r'^\[[^\]\n]*\]: ', re.M), ''),
    (re.compile(r'^(\S+): \[[^\]\n]*\]: ', re.M), r'\1: '),
)


def untag(text):
    """The runner's output without xCAT's source tags: ``node: [host]: Error: e`` becomes
    ``node: Error: e``, ``Error: [host]: e`` becomes ``Error: e``, ``[host]: line`` becomes
    ``line`` (the runner prints them as xCAT's client does, docs/RUNNER.md). The one place the
    pytest suites know the tag's form; tests/perl/lib/BrokerTest.pm has its Perl twin."""
    for pattern, repl in _SOURCE_TAGS:
        text = pattern.sub(repl, text)
    return text


def runner_lines(text):
    """``{node: rest}`` for the untagged lines ``node: rest`` the runner printed."""
    return dict(line.split(': ', 1) for line in untag(text).splitlines() if ': ' in line)
def pytest_configure(config):
    """Commands run through the runner start one agent each, as the tests expect: a warm agent
    (docs/DESIGN.md, "Warm agent") would outlive the test. Tests of the warm agent start it themselves."""
    os.environ['XCAT_AGENT_IDLE'] = '0'


def pytest_collection_modifyitems(config, items):
    """Mark every test by its directory: ``unit`` under tests/unit, ``e2e`` under tests/e2e."""
    for item in items:
        parts = pathlib.Path(str(item.fspath)).parts
        for kind in ('unit', 'e2e'):
            if kind in parts:
                item.add_marker(getattr(pytest.mark, kind))


def fixture_json(kind, name):
    """Load a recorded JSON payload from tests/fixtures/<kind>/<name>.json."""
    return json.loads((FIXTURES / kind / ('%s.json' % name)).read_text())


class RecordingMessager:
    """A messager that keeps every frame, for tests of the task runner and executors."""

    def __init__(self):
        self.frames = []

    def _msg(self, kind, text, **extra):
        msg = {'type': kind, 'data': text}
        msg.update(extra)
        self.frames.append({'type': 'message', 'msg': msg})

    def info(self, text, node=''):
        if node:
            self._msg('info', text, node=node)
        else:
            self._msg('info', text)

    def info_lines(self, texts, node=''):
        self.info('\n'.join(texts), node=node)

    def warn(self, text):
        self._msg('warning', text)

    def error(self, text, node=''):
        self._msg('error', text, node=node)

    def syslog(self, text):
        self._msg('syslog', text)

    def update_node_attributes(self, attribute, node, value):
        self.frames.append({'type': 'db', 'attribute': {'name': attribute, 'method': 'set', 'type': 'node',
                                                        'node': node, 'value': value}})

    def lines(self):
        return node_lines(self.frames)


def node_lines(frames):
    """Per-node final lines from reply frames: ``{node: 'on'}`` or ``{node: 'Error: ...'}``.

    A final line carries its node in the frame: an info line ``node: text`` with ``node`` set
    (traces and progress notes have none), or an error with ``node``. A node with two final
    lines fails the test: that is the rule every test checks.
    """
    lines = {}
    for frame in frames:
        if frame.get('type') != 'message':
            continue
        msg = frame['msg']
        if msg['type'] == 'info' and msg.get('node'):
            node, text = msg['node'], msg['data'].split(': ', 1)[1]
        elif msg['type'] == 'error' and msg.get('node'):
            node, text = msg['node'], 'Error: ' + msg['data']
        else:
            continue
        assert node not in lines, 'two final lines for %s: %r and %r' % (node, lines[node], text)
        lines[node] = text
    return lines


def db_frames(frames):
    """``[(node, value), ...]`` of the status db frames, in order."""
    return [(f['attribute']['node'], f['attribute']['value']) for f in frames if f.get('type') == 'db']


def stop_process(proc, grace=10):
    """Stop a child process a test started: TERM, then KILL when it has not left after ``grace`` s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


def sent(mock):
    """The requests a ``requests_mock`` saw, as ``(method, path, JSON body or None)``."""
    return [(r.method, urllib.parse.urlsplit(r.url).path, json.loads(r.text) if r.text else None)
            for r in mock.request_history]


def fleet_states(fleet):
    """``{node: the fleet's record of that BMC}`` (power, sessions, counters)."""
    return {n['name']: n for n in fleet.control.nodes()}


def assert_no_sessions(fleet):
    """Every BMC session the agent opened on ``fleet`` was closed."""
    leftovers = {n['name']: n['open_sessions'] for n in fleet.control.nodes() if n['open_sessions']}
    assert leftovers == {}


class MockTransport:
    """requests-mock's Adapter as the transport of every ``requests.Session``.

    Our REST funnel hands requests straight to the session's transport adapter (it skips
    ``Session.send``, where requests-mock's own ``Mocker`` hooks in), so the tests put
    requests-mock's ``Adapter`` at that layer. Same API as the ``requests_mock`` fixture:
    ``get/post/put/patch/delete(url, ...)``, ``register_uri`` and ``request_history``.
    """

    def __init__(self):
        self.adapter = requests_mock_lib.Adapter()

    def register_uri(self, method, url, *args, **kwargs):
        return self.adapter.register_uri(method, url, *args, **kwargs)

    def get(self, url, *args, **kwargs):
        return self.register_uri('GET', url, *args, **kwargs)

    def post(self, url, *args, **kwargs):
        return self.register_uri('POST', url, *args, **kwargs)

    def put(self, url, *args, **kwargs):
        return self.register_uri('PUT', url, *args, **kwargs)

    def patch(self, url, *args, **kwargs):
        return self.register_uri('PATCH', url, *args, **kwargs)

    def delete(self, url, *args, **kwargs):
        return self.register_uri('DELETE', url, *args, **kwargs)

    @property
    def request_history(self):
        return self.adapter.request_history

    @property
    def call_count(self):
        return self.adapter.call_count


@pytest.fixture
def requests_mock(monkeypatch):
    """requests-mock answering every request of every session (see ``MockTransport``)."""
    transport = MockTransport()
    monkeypatch.setattr(requests.Session, 'get_adapter', lambda session, url: transport.adapter)
    return transport


@pytest.fixture
def messager():
    return RecordingMessager()


@pytest.fixture
def make_ctx():
    """Build a RunContext with fast test defaults; keyword arguments override."""
    def build(**envs):
        base = {'connect_timeout': 5, 'read_timeout': 10, 'poll_interval': 0.01, 'state_wait': 2,
                'retry_delay': 0.01}
        base.update(envs)
        return RunContext.from_envs(base)
    return build


class DeadlineSocket:
    """A socket whose every ``recv`` waits at most until one absolute deadline.

    Before each read the socket timeout shrinks to the time left, so a peer that trickles
    bytes cannot stretch the whole exchange beyond the deadline; reaching it fails the test.
    """

    def __init__(self, sock, ends_at):
        self.sock = sock
        self.ends_at = ends_at

    def recv(self, size):
        left = self.ends_at - time.monotonic()
        if left <= 0:
            pytest.fail('no complete reply from the agent within the test\'s deadline')
        self.sock.settimeout(left)
        try:
            return self.sock.recv(size)
        except socket.timeout:
            pytest.fail('no complete reply from the agent within the test\'s deadline')


class AgentProcess:
    """agent.py as a real process in standalone mode on a private UNIX socket."""

    def __init__(self, workdir, extra_args=(), python=None):
        """:param python: the interpreter to run agent.py with (default: the tests' own)."""
        self.dir = workdir
        self.sock_path = os.path.join(workdir, 'agent.sock')
        self.log_path = os.path.join(workdir, 'agent.log')
        self._log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen([python or sys.executable, str(AGENT), '--sock', self.sock_path, '--standalone',
                                      *extra_args], stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock_path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('agent did not start: %s' % pathlib.Path(self.log_path).read_text())
            time.sleep(0.02)

    def connect(self, timeout=120):
        """Connect to the agent's socket.

        The socket file appears at ``bind``, a moment before ``listen``: a refused connect is
        tried again for up to 10 s (a slow start on a busy host), then raised.
        """
        refused_until = time.monotonic() + 10
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(self.sock_path)
                return sock
            except ConnectionRefusedError:
                sock.close()
                if self.proc.poll() is not None or time.monotonic() > refused_until:
                    raise
                time.sleep(0.02)

    def send(self, command, args, nodeinfo, module='openbmc', envs=None, timeout=120):
        """Connect and send one request; :returns: ``(socket, absolute monotonic deadline)``."""
        ends_at = time.monotonic() + timeout
        req = {'module': module, 'command': command, 'args': list(args), 'cwd': ['/tmp'],
               'nodes': sorted(nodeinfo), 'nodeinfo': nodeinfo, 'envs': dict({'debugmode': 0}, **(envs or {}))}
        sock = self.connect(timeout)
        sock.sendall(encode_frame(req))
        return sock, ends_at

    @staticmethod
    def collect(sock, ends_at):
        """Every reply frame until the agent closes, all of it before ``ends_at`` or the test fails."""
        bounded = DeadlineSocket(sock, ends_at)
        frames = []
        with sock:
            while True:
                frame = recv_frame(bounded)
                if frame is None:
                    return frames
                frames.append(frame)

    def request(self, command, args, nodeinfo, module='openbmc', envs=None, timeout=120):
        """Send one request and return every reply frame (until the agent closes).

        ``timeout`` bounds the whole exchange (connect, request, every reply frame, the
        close): a reply not complete by then fails the test.
        """
        return self.collect(*self.send(command, args, nodeinfo, module, envs, timeout))

    def log_size(self):
        """Current length of the agent's log, to read only what a request adds (``log(since=)``)."""
        return len(self.log())

    def log(self, since=0):
        return pathlib.Path(self.log_path).read_text(errors='replace')[since:]

    def stop(self):
        stop_process(self.proc)
        self._log.close()


@pytest.fixture
def agent(tmp_path):
    """A running standalone agent, stopped at teardown."""
    proc = AgentProcess(str(tmp_path))
    yield proc
    proc.stop()


@pytest.fixture(scope='module')
def fleet_factory():
    """Start simulated fleets (``sim.control.Fleet``) for a module; all stopped at its end."""
    from sim.control import Fleet
    started = []

    def start(**options):
        fleet = Fleet(**options)
        started.append(fleet)
        return fleet.start()
    yield start
    for fleet in started:
        fleet.stop()


@pytest.fixture(scope='module')
def module_agent(tmp_path_factory):
    """A standalone agent shared by a module's tests, stopped at its end."""
    proc = AgentProcess(str(tmp_path_factory.mktemp('agent')))
    yield proc
    proc.stop()
