"""The task runner with a fake executor: one line per node, failures and hangs isolated."""

import gevent
import pytest

from common import exceptions as exc
from common.nodework import NodeResult, wait_for
from common.task import Task
from conftest import RecordingMessager
from hwctl.power import PowerInterface


class FakePowerExecutor(PowerInterface):
    """A PowerInterface with switches: nodes that fail, hang, or crash; tracks concurrency."""

    def __init__(self, fail=(), hang=(), crash=(), invalid=False):
        self.fail, self.hang, self.crash, self.invalid = set(fail), set(hang), set(crash), invalid
        self.running = 0
        self.peak = 0
        self.calls = []
        self.pre_calls = 0
        self.post_results = None

    def _work(self, node, word):
        self.calls.append(node)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            gevent.sleep(0.01)
            if node in self.hang:
                gevent.sleep(3600)
            if node in self.fail:
                raise exc.BmcAuthError(node=node, status=401, bmc_message='Invalid username or password')
            if node in self.crash:
                raise KeyError('surprise')
            return word
        finally:
            self.running -= 1

    def validate_get_state(self):
        if self.invalid:
            raise exc.InvalidRequest('No option specified for rpower')

    def pre_get_state(self):
        self.pre_calls += 1

    def post_get_state(self, results):
        self.post_results = results

    def get_state(self, node, nodeinfo):
        return self._work(node, 'on')

    def set_state(self, node, nodeinfo, state):
        return NodeResult(self._work(node, state), 'powering-on')

    def reboot(self, node, nodeinfo, optype):
        return self._work(node, 'reset')

    def get_bmc_state(self, node, nodeinfo):
        return self._work(node, 'BMC Ready')

    def reboot_bmc(self, node, nodeinfo):
        return self._work(node, 'BMC reboot')


def inventory(count):
    return {'n%03d' % i: {'bmc': 'b', 'bmcip': '127.0.0.1', 'username': 'u', 'password': 'p'}
            for i in range(1, count + 1)}


def test_every_node_gets_one_line_and_failures_stay_with_their_node(messager, make_ctx):
    executor = FakePowerExecutor(fail={'n002'}, crash={'n003'})
    results = Task(executor, inventory(5), messager, make_ctx()).run('get_state')
    lines = messager.lines()
    assert lines == {'n001': 'on', 'n002': 'Error: [401] Invalid username or password',
                     'n003': 'Error: Internal error in the xCAT agent; see the agent log for details.',
                     'n004': 'on', 'n005': 'on'}
    assert set(results) == {'n001', 'n004', 'n005'}
    assert executor.pre_calls == 1
    assert set(executor.post_results) == {'n001', 'n004', 'n005'}


def test_a_hanging_node_is_bounded_by_the_deadline_and_does_not_hold_the_others(messager, make_ctx):
    executor = FakePowerExecutor(hang={'n001'})
    with gevent.Timeout(30):
        Task(executor, inventory(4), messager, make_ctx(deadline=0.5)).run('get_state')
    lines = messager.lines()
    assert lines['n001'] == 'Error: Timed out: command did not finish within the 0.5 s deadline.'
    assert [lines[n] for n in ('n002', 'n003', 'n004')] == ['on', 'on', 'on']
    # the others finished and wrote their lines before the hanging node timed out
    order = [f['msg'].get('node') or f['msg']['data'].split(':')[0] for f in messager.frames]
    assert order[-1] == 'n001'


def test_nodes_not_started_before_the_deadline_get_the_timeout_line(messager, make_ctx):
    executor = FakePowerExecutor(hang={'n001', 'n002'})
    with gevent.Timeout(30):
        Task(executor, inventory(4), messager, make_ctx(deadline=0.3, pool_size=2)).run('get_state')
    lines = messager.lines()
    assert len(lines) == 4
    assert all(v.startswith('Error: Timed out') for k, v in lines.items() if k in ('n001', 'n002'))
    # n003 and n004 never started: the two hanging nodes held the pool until the deadline
    assert executor.calls == ['n001', 'n002']


def test_validate_failure_reaches_every_node_and_nothing_runs(messager, make_ctx):
    executor = FakePowerExecutor(invalid=True)
    Task(executor, inventory(3), messager, make_ctx()).run('get_state')
    assert messager.lines() == {n: 'Error: No option specified for rpower' for n in inventory(3)}
    assert executor.calls == [] and executor.pre_calls == 0


@pytest.mark.parametrize('pool_size', [1, 3, 50])
def test_pool_size_really_bounds_concurrency(messager, make_ctx, pool_size):
    executor = FakePowerExecutor()
    Task(executor, inventory(20), messager, make_ctx(pool_size=pool_size)).run('get_state')
    assert executor.peak == min(pool_size, 20)
    assert len(messager.lines()) == 20


def test_node_result_status_goes_out_as_db_frame_after_the_line(messager, make_ctx):
    Task(FakePowerExecutor(), inventory(1), messager, make_ctx()).run('set_state', 'on')
    assert [f['type'] for f in messager.frames] == ['message', 'db']
    assert messager.frames[1]['attribute'] == {'name': 'status', 'method': 'set', 'type': 'node',
                                               'node': 'n001', 'value': 'powering-on'}


def test_wait_for_is_bounded_and_returns_early():
    calls = []

    def check():
        calls.append(1)
        return 5 if len(calls) == 3 else 0

    value, _elapsed = wait_for(check, timeout=3600, interval=0.01)
    assert value == 5 and len(calls) == 3
    with gevent.Timeout(30):
        value, elapsed = wait_for(lambda: 0, timeout=0.05, interval=0.01)
    assert value == 0 and elapsed >= 0.05


class SlowMessager(RecordingMessager):
    """Writing a line takes a while, as sendall to a busy broker does."""

    def info(self, text, node=''):
        gevent.sleep(0.3)
        super().info(text, node=node)


def test_the_deadline_never_interrupts_a_nodes_line_or_adds_a_second_one(make_ctx):
    messager = SlowMessager()
    with gevent.Timeout(30):
        Task(FakePowerExecutor(), inventory(3), messager, make_ctx(deadline=0.1)).run('set_state', 'on')
    assert messager.lines() == {'n001': 'on', 'n002': 'on', 'n003': 'on'}
    assert [f['type'] for f in messager.frames] == ['message', 'db'] * 3


def test_an_unexpected_exception_goes_to_the_log_with_its_traceback_not_to_the_admin(messager, make_ctx, caplog):
    caplog.set_level('ERROR', logger='common.task')
    Task(FakePowerExecutor(crash={'n002'}), inventory(2), messager, make_ctx()).run('get_state')
    assert messager.lines() == {'n001': 'on',
                                'n002': 'Error: Internal error in the xCAT agent; see the agent log for details.'}
    assert 'surprise' not in repr(messager.frames)
    (record,) = caplog.records
    assert record.getMessage() == 'n002: internal error'
    assert record.exc_info[0] is KeyError and "KeyError: 'surprise'" in caplog.text
