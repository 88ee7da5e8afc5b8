"""The whole chain under stress: runner -> plugin -> real agent -> fleet, with the broker's
side of things going wrong: runner killed, agent killed, agent silent, two commands at once."""

import os
import select
import signal
import subprocess
import time

import pytest

from conftest import REPO, runner_lines

RPOWER = str(REPO / 'perl' / 'bin' / 'rpower')


@pytest.fixture(scope='module')
def fleet(fleet_factory):
    return fleet_factory(nodes=32, protocol='openbmc', base='127.35.0.1')


@pytest.fixture
def bmcs(fleet):
    fleet.control.reset()
    return fleet


@pytest.fixture
def rundir(tmp_path):
    path = tmp_path / 'run'
    path.mkdir(mode=0o700)
    return path


def runner_env(fleet, rundir, **extra):
    env = dict(os.environ, XCAT_TABLES=fleet.tables_dir, XCAT_AGENT_RUNDIR=str(rundir),
               XCAT_AGENT_LOG=str(rundir.parent / 'agent.log'), XCAT_BMC_CONNECT_TIMEOUT='5',
               XCAT_BMC_READ_TIMEOUT='30')
    env.update(extra)
    return env


def start_rpower(fleet, rundir, *args, **extra):
    return subprocess.Popen([RPOWER, *args], env=runner_env(fleet, rundir, **extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def read_lines(stream, count, timeout):
    """Read ``count`` whole lines from a text pipe, failing the test after ``timeout`` seconds."""
    ends_at = time.monotonic() + timeout
    data = b''
    while data.count(b'\n') < count:
        left = ends_at - time.monotonic()
        assert left > 0, 'only %d of %d lines within %g s: %r' % (data.count(b'\n'), count, timeout, data)
        ready, _w, _x = select.select([stream], [], [], left)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, 'the stream ended after %r' % data
            data += chunk
    return data.decode()


def agent_pids(rundir):
    """PIDs of agent processes whose command line names a socket under ``rundir``."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                argv = handle.read().split(b'\0')
        except OSError:
            continue
        if any(a.endswith(b'agent.py') for a in argv) and any(str(rundir).encode() in a for a in argv):
            pids.append(int(entry))
    return pids


def wait_until(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError('%s not within %s s' % (what, seconds))


def pid_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


def lines_of(text):
    return runner_lines(text)


def test_runner_killed_the_agent_notices_and_leaves_nothing_behind(bmcs, rundir):
    bmcs.control.set_fault(bmcs.nodes, 'slow', 20)
    runner = start_rpower(bmcs, rundir, 'node[001-032]', 'state')
    try:
        pid = wait_until(lambda: agent_pids(rundir), 20, 'agent start')[0]
        wait_until(lambda: bmcs.control.stats()['requests'] > 0, 20, 'first request')
        runner.kill()
        runner.wait(10)
        wait_until(lambda: not pid_alive(pid), 20, 'agent exit after the runner died')
        assert os.listdir(rundir) == []
    finally:
        if runner.poll() is None:
            runner.kill()
        for pid in agent_pids(rundir):
            os.kill(pid, signal.SIGKILL)


def test_agent_killed_mid_stream_every_unanswered_node_gets_an_error(bmcs, rundir):
    slow = bmcs.nodes[16:]
    bmcs.control.set_fault(slow, 'slow', 30)
    runner = start_rpower(bmcs, rundir, 'node[001-032]', 'state')
    try:
        pid = wait_until(lambda: agent_pids(rundir), 20, 'agent start')[0]
        # the runner prints (and flushes) each line as it arrives: kill once the 16 fast
        # nodes' lines are out, so exactly the slow ones are unanswered
        first = read_lines(runner.stdout, 16, timeout=30)
        os.kill(pid, signal.SIGKILL)
        rest, err = runner.communicate(timeout=30)
        out = first + rest
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 1
    assert lines_of(out) == {n: 'off' for n in bmcs.nodes[:16]}
    errors = lines_of(err)
    assert {n: errors[n] for n in slow} == {
        n: 'Error: Agent exited unexpectedly.  See %s for details.' % (rundir.parent / 'agent.log') for n in slow}
    assert os.listdir(rundir) == []


def test_agent_silent_past_the_broker_timeout(bmcs, rundir):
    bmcs.control.set_fault(bmcs.nodes, 'stall')
    runner = start_rpower(bmcs, rundir, 'node[001-004]', 'state', XCAT_AGENT_TIMEOUT='2')
    try:
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 1 and out == ''
    assert lines_of(err) == {n: 'Error: No response from the xCAT Python agent within 2 s'
                             for n in bmcs.nodes[:4]}
    assert agent_pids(rundir) == [] and os.listdir(rundir) == []


def test_two_commands_at_once_on_the_same_nodes(bmcs, rundir):
    first = start_rpower(bmcs, rundir, 'node[001-032]', 'on')
    second = start_rpower(bmcs, rundir, 'node[001-032]', 'state')
    outs = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0]
    assert lines_of(outs[0][0]) == {n: 'on' for n in bmcs.nodes}
    states = lines_of(outs[1][0])
    assert set(states) == set(bmcs.nodes) and set(states.values()) <= {'on', 'off'}
    assert outs[0][1] == outs[1][1] == ''
    assert {n['power'] for n in bmcs.control.nodes()} == {'on'}
    assert bmcs.control.stats()['open_sessions'] == 0
    assert os.listdir(rundir) == []
