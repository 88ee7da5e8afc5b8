"""Each request tracks its logged-in clients, so a deadline or a stop logs every session out (docs/DESIGN.md)."""

import gevent
import pytest
import requests

from common import exceptions as exc
from common.task import SessionTracker, Task
from hwctl.openbmc_client import OpenBMCClient

HOST = '127.0.0.2'
BASE = 'https://%s' % HOST
NODEINFO = {'n%d' % i: {'bmc': HOST, 'bmcip': HOST, 'username': 'root', 'password': 'pw'} for i in range(1, 4)}


@pytest.fixture
def bmc(requests_mock):
    requests_mock.post(BASE + '/login', json={'data': 'ok'}, headers={'Set-Cookie': 'sid=abc'})
    requests_mock.post(BASE + '/logout', json={'data': 'ok'})
    requests_mock.get(BASE + '/xyz/openbmc_project/state/enumerate', json={'data': {}})
    return requests_mock


def new_client(ctx):
    return OpenBMCClient('n1', HOST, 'root', 'pw', ctx=ctx, session=requests.Session())


def logouts(mock):
    return [r.path for r in mock.request_history].count('/logout')


def test_every_request_has_its_own_tracker(make_ctx):
    first, second = make_ctx(), make_ctx()
    assert isinstance(first.sessions, SessionTracker)
    assert first.sessions is not second.sessions


def test_a_client_is_tracked_from_its_login_to_its_logout(bmc, make_ctx):
    ctx = make_ctx()
    with new_client(ctx) as client:
        assert len(ctx.sessions) == 0
        client.login()
        assert len(ctx.sessions) == 1
    assert len(ctx.sessions) == 0
    assert logouts(bmc) == 1


def test_a_forgotten_session_is_untracked_and_gets_no_logout(bmc, make_ctx):
    ctx = make_ctx()
    with new_client(ctx) as client:
        client.login()
        client.forget_session()
        assert not client.logged_in
        assert len(ctx.sessions) == 0
        assert ctx.sessions.logout_all() == 0
    assert logouts(bmc) == 0


@pytest.mark.parametrize('error', [exc.BmcUnreachable(node='n1', host=HOST, cause='x'), exc.BmcBadResponse(detail='x')])
def test_a_client_that_failed_normally_is_not_left_tracked(bmc, make_ctx, error):
    ctx = make_ctx()
    with pytest.raises(type(error)):
        with new_client(ctx) as client:
            client.login()
            raise error
    assert len(ctx.sessions) == 0


@pytest.mark.parametrize('cut', [gevent.Timeout, gevent.GreenletExit])
def test_a_client_cut_off_stays_tracked_until_logout_all_logs_it_out(bmc, make_ctx, cut):
    ctx = make_ctx()
    with pytest.raises(cut):
        with new_client(ctx) as client:
            client.login()
            raise cut()
    assert len(ctx.sessions) == 1
    assert logouts(bmc) == 0
    assert ctx.sessions.logout_all() == 1
    assert len(ctx.sessions) == 0
    assert logouts(bmc) == 1


def test_the_deadline_logs_out_every_node_it_cut_off_before_the_task_returns(bmc, make_ctx, messager):
    from hwctl.executor.openbmc_power import OpenBMCPowerExecutor

    class Stuck(OpenBMCPowerExecutor):
        def get_state(self, node, nodeinfo):
            with self.session(node, nodeinfo):
                gevent.sleep(60)

    ctx = make_ctx(deadline=0.2)
    Task(Stuck(ctx, messager), NODEINFO, messager, ctx).run('get_state')
    assert messager.lines() == {n: 'Error: Timed out: command did not finish within the 0.2 s deadline.'
                                for n in NODEINFO}
    assert logouts(bmc) == len(NODEINFO)
    assert len(ctx.sessions) == 0


def test_a_stop_interrupts_every_node_and_logs_every_session_out(bmc, make_ctx, messager):
    from hwctl.executor.openbmc_power import OpenBMCPowerExecutor

    class Stuck(OpenBMCPowerExecutor):
        def get_state(self, node, nodeinfo):
            with self.session(node, nodeinfo):
                gevent.sleep(60)

    ctx = make_ctx(pool_size=2)
    task = gevent.spawn(Task(Stuck(ctx, messager), NODEINFO, messager, ctx).run, 'get_state')
    with gevent.Timeout(10):
        while len(ctx.sessions) < 2:
            gevent.sleep(0.01)
    ctx.sessions.stop()
    task.join(10)
    assert task.dead
    # the two running nodes were interrupted, the third never started work
    assert messager.lines() == {n: 'Error: Stopped: the agent was told to stop before this node finished.'
                                for n in NODEINFO}
    assert logouts(bmc) == 2
    assert [r.path for r in bmc.request_history].count('/login') == 2


def test_a_client_cut_off_during_its_own_logout_is_logged_out_again(bmc, make_ctx):
    ctx = make_ctx()
    calls = []

    def logout_cut_short(request, context):
        calls.append(1)
        if len(calls) == 1:
            raise gevent.Timeout()
        return '{"data": "ok"}'

    bmc.post(BASE + '/logout', text=logout_cut_short)
    with pytest.raises(gevent.Timeout):
        with new_client(ctx) as client:
            client.login()
    assert len(ctx.sessions) == 1
    assert ctx.sessions.logout_all() == 1
    assert len(calls) == 2
