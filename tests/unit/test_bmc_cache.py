"""BmcCache, the warm agent's kept BMC sessions (docs/DESIGN.md, "Warm agent"): its key, its
LRU bound, its idle bound, its exit; and RestClient's reuse: a 401 on a kept session is one
new login and the request again, a normal end parks the session instead of logging out."""

import platform

import gevent
import pytest

from common import cache as cache_mod
from common import exceptions as exc
from common.cache import BmcCache
from hwctl.openbmc_client import OpenBMCClient
from hwctl.redfish_client import RedfishClient

BMC = 'https://10.0.0.1'


class FakeClient:
    def __init__(self, name, session_timeout=None):
        self.node = name
        self.session_timeout = session_timeout
        self.logged_out = False
        self.closed = False

    def logout(self):
        self.logged_out = True

    def close(self):
        self.closed = True

    def unplug(self):
        self.closed = True


def test_the_key_holds_a_salted_digest_of_the_password_never_the_password(make_ctx):
    ctx = make_ctx()
    cache = BmcCache()
    key = cache.key('10.0.0.1', 'root', 's3cret-pw', ctx)
    assert 's3cret-pw' not in repr(key)
    assert key != cache.key('10.0.0.1', 'root', 'other-pw', ctx)
    assert key != BmcCache().key('10.0.0.1', 'root', 's3cret-pw', ctx)  # salted per agent
    assert key != cache.key('10.0.0.1', 'root', 's3cret-pw', make_ctx(verify=True))


def test_an_entry_is_taken_by_one_client_at_a_time():
    cache = BmcCache()
    client = FakeClient('n1')
    assert cache.put('k', client)
    assert not cache.put('k', FakeClient('n1'))  # taken: the second one is the caller's to log out
    assert cache.take('k') is client
    assert cache.take('k') is None
    assert cache.hits == 1


def test_the_least_recently_used_entry_is_logged_out_beyond_the_bound():
    cache = BmcCache(max_entries=2)
    clients = [FakeClient('n%d' % i) for i in range(3)]
    for i, client in enumerate(clients):
        cache.put(i, client)
    gevent.sleep(0.01)
    assert len(cache) == 2 and clients[0].logged_out and clients[0].closed
    assert not clients[1].logged_out and not clients[2].logged_out


def test_an_entry_unused_too_long_is_logged_out_not_handed_out():
    cache = BmcCache(max_idle=0.05)
    old, fresh = FakeClient('old'), FakeClient('fresh')
    cache.put('old', old)
    gevent.sleep(0.1)
    cache.put('fresh', fresh)
    assert cache.sweep() == 1
    gevent.sleep(0.01)
    assert old.logged_out and not fresh.logged_out
    gevent.sleep(0.1)
    assert cache.take('fresh') is None
    gevent.sleep(0.01)
    assert fresh.logged_out


def test_an_entry_unused_past_the_connection_bound_loses_its_connection_not_its_session():
    cache = BmcCache(max_idle=60, conn_idle=0.05)
    old, fresh = FakeClient('old'), FakeClient('fresh')
    cache.put('old', old)
    gevent.sleep(0.1)
    cache.put('fresh', fresh)
    assert cache.sweep() == 0
    gevent.sleep(0.01)
    assert old.closed and not old.logged_out and not fresh.closed
    assert cache.closed_idle == 1
    old.closed = False
    cache.sweep()
    assert not old.closed and cache.closed_idle == 1  # closed once, not at every sweep
    assert cache.take('old') is old  # handed out with its session: the next request reconnects
    cache.put('old', old)
    assert cache.sweep() == 0 and not old.closed  # parked again: a fresh idle time


def test_a_connection_bound_of_0_keeps_connections_as_long_as_the_entry():
    cache = BmcCache(max_idle=60, conn_idle=0)
    client = FakeClient('n1')
    cache.put('k', client)
    gevent.sleep(0.02)
    assert cache.sweep() == 0 and not client.closed


def test_many_closed_connections_collect_and_trim_the_heap(monkeypatch):
    cache = BmcCache(max_idle=60, conn_idle=0.01)
    trims = []
    monkeypatch.setattr(cache, '_trim', lambda: trims.append('trim'))
    monkeypatch.setattr(cache_mod.gc, 'collect', lambda: trims.append('collect'))
    clients = [FakeClient('n%d' % i) for i in range(cache_mod.TRIM_AFTER)]
    for i, client in enumerate(clients):
        cache.put(i, client)
    gevent.sleep(0.03)
    cache.sweep()
    assert all(c.closed for c in clients) and trims == ['collect', 'trim']


def test_the_heap_trimmer_is_glibcs_or_none():
    trim = cache_mod.heap_trimmer()
    if platform.libc_ver()[0] == 'glibc':
        assert trim() in (0, 1)
    else:
        assert trim is None


def test_close_logs_out_every_entry():
    cache = BmcCache()
    clients = [FakeClient('n%d' % i) for i in range(5)]
    for i, client in enumerate(clients):
        cache.put(i, client)
    assert cache.close() == 5
    assert len(cache) == 0 and all(c.logged_out and c.closed for c in clients)


def test_a_normal_end_parks_the_session_and_the_next_client_sends_no_login(requests_mock, make_ctx):
    requests_mock.post(BMC + '/login', json={'data': 'ok'}, headers={'Set-Cookie': 'sid=abc; Secure'})
    requests_mock.get(BMC + '/xyz/openbmc_project/state/bmc0/attr/CurrentBMCState',
                      json={'data': 'xyz.openbmc_project.State.BMC.BMCState.Ready'})
    cache = BmcCache()
    for _ in range(2):
        client = OpenBMCClient('node001', '10.0.0.1', 'root', 'pw', ctx=make_ctx())
        with client:
            client.reuse_or_login(cache)
            assert client.get_bmc_state() == 'Ready'
    methods = [(r.method, r.path) for r in requests_mock.request_history]
    assert methods.count(('POST', '/login')) == 1 and ('POST', '/logout') not in methods
    assert requests_mock.request_history[-1].headers['Cookie'] == 'sid=abc'
    assert len(cache) == 1


def test_a_401_on_a_kept_session_is_one_login_and_the_request_again(requests_mock, make_ctx):
    requests_mock.post(BMC + '/login', [{'json': {'data': 'ok'}, 'headers': {'Set-Cookie': 'sid=one'}},
                                        {'json': {'data': 'ok'}, 'headers': {'Set-Cookie': 'sid=two'}}])
    state = BMC + '/xyz/openbmc_project/state/bmc0/attr/CurrentBMCState'
    ready = {'json': {'data': 'xyz.openbmc_project.State.BMC.BMCState.Ready'}}
    requests_mock.get(state, [ready, {'status_code': 401, 'json': {'data': {'description': 'Login required'}}},
                              ready])
    cache = BmcCache()
    for _ in range(2):
        client = OpenBMCClient('node001', '10.0.0.1', 'root', 'pw', ctx=make_ctx())
        with client:
            client.reuse_or_login(cache)
            assert client.get_bmc_state() == 'Ready'
    methods = [(r.method, r.path) for r in requests_mock.request_history]
    assert methods.count(('POST', '/login')) == 2
    assert requests_mock.request_history[-1].headers['Cookie'] == 'sid=two'


def test_a_401_without_a_kept_session_is_the_nodes_error(requests_mock, make_ctx):
    requests_mock.post(BMC + '/login', json={'data': 'ok'}, headers={'Set-Cookie': 'sid=abc'})
    requests_mock.post(BMC + '/logout', json={'data': 'ok'})
    requests_mock.get(BMC + '/xyz/openbmc_project/state/bmc0/attr/CurrentBMCState', status_code=401,
                      json={'data': {'description': 'Login required'}})
    client = OpenBMCClient('node001', '10.0.0.1', 'root', 'pw', ctx=make_ctx())
    with pytest.raises(exc.BmcAuthError):
        with client:
            client.reuse_or_login(BmcCache())
            client.get_bmc_state()
    assert [(r.method, r.path) for r in requests_mock.request_history].count(('POST', '/login')) == 1


def test_a_bmc_with_a_short_session_timeout_gets_a_shorter_idle_bound():
    cache = BmcCache(max_idle=240)
    assert cache.idle_bound(FakeClient('said nothing')) == 240
    assert cache.idle_bound(FakeClient('said nothing', session_timeout=0)) == 240
    assert cache.idle_bound(FakeClient('bmcweb', session_timeout=3600)) == 240
    assert cache.idle_bound(FakeClient('short', session_timeout=60)) == pytest.approx(48)
    assert cache.idle_bound(FakeClient('silly', session_timeout=0.1)) == 1.0


def test_an_entry_past_its_own_bound_is_swept_behind_younger_ones_with_the_default(monkeypatch):
    monkeypatch.setattr('common.cache.MIN_IDLE', 0.01)
    cache = BmcCache(max_idle=60)
    default, short = FakeClient('default'), FakeClient('short', session_timeout=0.125)  # bound 0.1 s
    cache.put('default', default)
    cache.put('short', short)
    assert cache.sweep() == 0
    gevent.sleep(0.15)
    assert cache.take('short') is None
    cache.put('short', short)
    gevent.sleep(0.15)
    assert cache.sweep() == 1
    gevent.sleep(0.01)
    assert short.logged_out and not default.logged_out and len(cache) == 1


def test_the_sweeper_follows_the_shortest_bound_at_once(monkeypatch):
    monkeypatch.setattr('common.cache.MIN_IDLE', 0.01)
    cache = BmcCache(max_idle=240)
    cache.start_sweeper()  # every 30 s with the default bound
    try:
        short = FakeClient('short', session_timeout=0.125)
        cache.put('short', short)
        for _ in range(100):
            if short.logged_out:
                break
            gevent.sleep(0.02)
        assert short.logged_out and len(cache) == 0
    finally:
        cache.close()


def test_put_after_parks_once_prepared_and_close_logs_out_one_on_its_way():
    cache = BmcCache()
    ready, slow = FakeClient('ready'), FakeClient('slow')
    assert cache.put_after('ready', ready, lambda: gevent.sleep(0.05))
    assert cache.put_after('slow', slow, lambda: gevent.sleep(30))
    assert len(cache) == 0
    assert not cache.put_after('slow', FakeClient('again'), lambda: None)  # on its way in: taken
    assert cache.take('ready') is ready  # waits for it
    assert cache.close(bound=2) == 1
    assert slow.logged_out and slow.closed


def test_a_redfish_session_is_parked_with_the_services_session_timeout_read_once(requests_mock, make_ctx):
    rf_base = BMC + '/redfish/v1'
    requests_mock.post(rf_base + '/SessionService/Sessions', status_code=201, json={},
                       headers={'X-Auth-Token': 'tok', 'Location': '/redfish/v1/SessionService/Sessions/1'})
    requests_mock.get(rf_base + '/SessionService', json={'SessionTimeout': 300})
    requests_mock.get(rf_base + '/Systems', json={'Members': [{'@odata.id': '/redfish/v1/Systems/system'}]})
    requests_mock.get(rf_base + '/Systems/system', json={'@odata.id': '/redfish/v1/Systems/system',
                                                         'PowerState': 'On'})
    cache = BmcCache(max_idle=240)
    for _ in range(2):
        client = RedfishClient('node001', '10.0.0.1', 'root', 'pw', ctx=make_ctx())
        with client:
            client.reuse_or_login(cache)
            assert client.get_power_state() == 'On'
        gevent.sleep(0.01)  # the SessionService is read after the node's work, in the background
        assert len(cache) == 1
    methods = [(r.method, r.path) for r in requests_mock.request_history]
    assert methods.count(('POST', '/redfish/v1/sessionservice/sessions')) == 1
    assert methods.count(('GET', '/redfish/v1/sessionservice')) == 1 and methods[-1][0] == 'GET'
    assert ('DELETE', '/redfish/v1/sessionservice/sessions/1') not in methods
    parked = cache.take(next(iter(cache._entries)))
    assert parked.session_timeout == 300 and cache.idle_bound(parked) == 240


def test_a_session_whose_idle_connection_was_closed_is_reused_on_a_new_connection(requests_mock, make_ctx):
    requests_mock.post(BMC + '/login', json={'data': 'ok'}, headers={'Set-Cookie': 'sid=abc'})
    requests_mock.post(BMC + '/logout', json={'data': 'ok'})
    requests_mock.get(BMC + '/xyz/openbmc_project/state/bmc0/attr/CurrentBMCState',
                      json={'data': 'xyz.openbmc_project.State.BMC.BMCState.Ready'})
    cache = BmcCache(conn_idle=0.01)
    first = OpenBMCClient('node001', '10.0.0.1', 'root', 'pw', ctx=make_ctx())
    with first:
        first.reuse_or_login(cache)
        first.get_bmc_state()
    assert list(first._session.adapters) == ['https://']  # parked without the unused http:// adapter
    gevent.sleep(0.02)
    cache.sweep()
    assert first._http is None and cache.closed_idle == 1  # parked without its HTTP session
    second = OpenBMCClient('node001', '10.0.0.1', 'root', 'pw', ctx=make_ctx())
    with second:
        second.reuse_or_login(cache)
        assert second.get_bmc_state() == 'Ready' and second._http is not None
    methods = [(r.method, r.path) for r in requests_mock.request_history]
    assert methods.count(('POST', '/login')) == 1
    assert requests_mock.request_history[-1].headers['Cookie'] == 'sid=abc'
    gevent.sleep(0.02)
    cache.sweep()
    assert cache.close() == 1  # the exit's logout of an unplugged entry connects again
    assert requests_mock.request_history[-1].path == '/logout'


def test_a_parked_redfish_client_keeps_its_session_not_what_its_node_read(make_ctx):
    from hwctl.redfish_client import RedfishClient  # pylint: disable=import-outside-toplevel
    client = RedfishClient('node001', '10.0.0.1', 'root', 'pw', ctx=make_ctx())
    client.record.session = '/redfish/v1/SessionService/Sessions/1'
    client.record.system.body = {'PowerState': 'On', 'Big': 'x' * 4096}
    client._shed()
    assert client.record.session == '/redfish/v1/SessionService/Sessions/1'
    assert client.record.system.body is None and client.record.manager.body is None
