"""The places where common/rest.py leans on requests/urllib3 internals, on whichever urllib3 runs.

``make test`` runs this file twice: in .venv (urllib3 2.x) and in .venv-oldest (urllib3 1.26, the
oldest the distributions ship, see docs/platforms.md), so each path is exercised on both majors.
"""

import socket
import ssl
import threading
import time

import pytest
import urllib3
from requests.models import PreparedRequest

from common import rest

MAJOR = int(urllib3.__version__.split('.')[0])


def test_the_urllib3_major_is_one_we_support():
    assert MAJOR in (1, 2), urllib3.__version__
    if MAJOR == 1:
        assert tuple(int(p) for p in urllib3.__version__.split('.')[:2]) >= (1, 26)


@pytest.mark.parametrize('verify', [False, True])
def test_every_pool_gets_the_shared_context_and_no_ca_bundle(verify):
    ctx = rest.build_ssl_context(verify=verify, ca_bundle=None)
    adapter = rest.new_session(ctx).get_adapter('https://127.0.0.1:1/')
    assert adapter.poolmanager.connection_pool_kw['ssl_context'] is ctx
    pool = adapter.poolmanager.connection_from_url('https://127.0.0.1:1/')
    adapter.cert_verify(pool, 'https://127.0.0.1:1/', verify, None)
    assert pool.cert_reqs == ('CERT_REQUIRED' if verify else 'CERT_NONE')
    assert (pool.ca_certs, pool.ca_cert_dir) == (None, None)
    assert ctx.verify_mode == (ssl.CERT_REQUIRED if verify else ssl.CERT_NONE)


def _short_body_server():
    """A one-shot HTTP server on loopback that promises 100 bytes and sends 10."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: application/json\r\n\r\n'
                         b'{"data": 1')
        listener.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_a_short_body_is_an_error_when_asked_as_rest_asks():
    # rest._send hands the request to the adapter and sets ``raw.enforce_content_length``:
    # the attribute must exist and work on this urllib3, or a cut reply would pass as a short body
    port, thread = _short_body_server()
    session = rest.new_session(rest.build_ssl_context())
    prepared = PreparedRequest()
    prepared.prepare(method='GET', url='http://127.0.0.1:%d/' % port)
    response = session.get_adapter(prepared.url).send(prepared, stream=True, timeout=(5, 5), verify=False,
                                                      cert=None, proxies={})
    assert hasattr(response.raw, 'enforce_content_length')
    response.raw.enforce_content_length = True
    with pytest.raises(Exception) as raised:
        b''.join(response.iter_content(4096))
    assert rest.transport_cause(raised.value, 5, 5) == 'connection broken mid-reply'
    response.close()
    thread.join(5)


def _tls_server(tmp_path, connections, tickets=1, hold=None):
    """A TLS 1.3 HTTP server on loopback sending ``tickets`` session tickets: it answers one
    request per connection and then closes it (a dropped kept-alive connection), once ``hold``
    (a ``threading.Event``) is set if given; it records, per connection, whether the handshake
    resumed a session."""
    from sim.tls import make_certificate
    cert, key = make_certificate(str(tmp_path))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    server_ctx.num_tickets = tickets
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(connections)
    listener.settimeout(10)
    resumed = []

    def serve():
        with listener:
            for _ in range(connections):
                conn, _ = listener.accept()
                conn.settimeout(10)
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    resumed.append(tls.session_reused)
                    tls.recv(65536)
                    tls.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n'
                                b'\r\n{}')
                    if hold is not None:
                        hold.wait(10)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, resumed


def _get(session, url):
    prepared = PreparedRequest()
    prepared.prepare(method='GET', url=url)
    response = session.get_adapter(url).send(prepared, stream=True, timeout=(5, 5), verify=False,
                                             cert=None, proxies={})
    assert response.status_code == 200 and response.raw.read() == b'{}'
    response.close()


def _drop_kept_connections(session, url):
    # The server closed the connection after its reply, but whether urllib3 sees that before it
    # reuses the connection depends on when the FIN arrives; close it on our side too, as
    # RestClient.unplug does, so the next request always makes a new connection with the same
    # context. NOTE: the adapter's close, not only its pool manager's clear: urllib3 2.x's clear
    # forgets its pools without closing them, and the adapter keeps its last pool.
    adapter = session.get_adapter(url)
    adapter.close()
    assert adapter._last_pool is None and not adapter.poolmanager.pools


@pytest.mark.filterwarnings('ignore::urllib3.exceptions.InsecureRequestWarning')  # as the agent does
@pytest.mark.parametrize('resume', [True, False])
def test_a_reconnect_resumes_the_tls_session_of_a_warm_agents_client(tmp_path, resume):
    # docs/DESIGN.md, "Warm agent": new_session(resume=True) (a warm agent's clients) passes the
    # last connection's TLS session to the next handshake through the shared context; the
    # one-shot path keeps the plain shared context and always makes a full handshake.
    port, thread, resumed = _tls_server(tmp_path, 2)
    ctx = rest.build_ssl_context()
    session = rest.new_session(ctx, resume=resume)
    url = 'https://127.0.0.1:%d/' % port
    _get(session, url)
    rest.remember_tls_session(session)  # as RestClient._park does, after a reply was read
    _drop_kept_connections(session, url)
    _get(session, url)
    thread.join(10)
    assert resumed == [False, resume]
    pool_ctx = session.get_adapter(url).poolmanager.connection_pool_kw['ssl_context']
    assert (pool_ctx is ctx) is not resume
    assert pool_ctx.verify_mode == ssl.CERT_NONE and not pool_ctx.check_hostname


@pytest.mark.filterwarnings('ignore::urllib3.exceptions.InsecureRequestWarning')  # as the agent does
def test_a_tls_session_the_bmc_would_not_resume_is_not_kept(tmp_path):
    # TLS 1.3 without a ticket: nothing to resume, and a kept session would hold the BMC's
    # certificate (docs/DESIGN.md, "Warm agent").
    port, thread, resumed = _tls_server(tmp_path, 2, tickets=0)
    session = rest.new_session(rest.build_ssl_context(), resume=True)
    url = 'https://127.0.0.1:%d/' % port
    _get(session, url)
    rest.remember_tls_session(session)
    assert rest._resuming_context(session).tls_session is None
    _drop_kept_connections(session, url)
    _get(session, url)
    thread.join(10)
    assert resumed == [False, False]


@pytest.mark.filterwarnings('ignore::urllib3.exceptions.InsecureRequestWarning')  # as the agent does
def test_the_agents_requests_go_to_the_pool_without_a_requests_response(tmp_path, monkeypatch):
    # RestClient._send goes through _ContextAdapter.urlopen: the same pool and TLS context as
    # requests' send, and nothing of requests' Response built (docs/DESIGN.md, "Warm agent")
    monkeypatch.setattr(rest.HTTPAdapter, 'build_response', lambda *a: pytest.fail('a Response was built'))
    port, thread, _ = _tls_server(tmp_path, 1)
    ctx = rest.build_ssl_context()
    adapter = rest.new_session(ctx).get_adapter('https://127.0.0.1:%d/' % port)
    url = 'https://127.0.0.1:%d/redfish/v1?x=1' % port
    response = adapter.urlopen('GET', url, None, {'Accept': 'application/json'},
                               urllib3.Timeout(connect=5, read=5), False)
    assert (response.status, response.headers.get('content-type'), response.read()) == (200, 'application/json', b'{}')
    response.release_conn()
    pool = adapter._pool_for(url, False)
    assert pool.conn_kw['ssl_context'] is ctx
    assert pool.num_requests == 1
    thread.join(10)


def test_a_kept_connection_the_bmc_closed_is_seen_closed(tmp_path):
    # _KeptConnection.is_connected, which urllib3 2.x asks before reusing a kept connection,
    # answered by the system's poll (docs/DESIGN.md, "Warm agent")
    hold = threading.Event()
    port, thread, _ = _tls_server(tmp_path, 1, hold=hold)
    adapter = rest.new_session(rest.build_ssl_context()).get_adapter('https://127.0.0.1:%d/' % port)
    assert adapter._pool_for('https://127.0.0.1:%d/' % port, False).ConnectionCls is rest._KeptConnection
    conn = rest._KeptConnection('127.0.0.1', port, ssl_context=rest.build_ssl_context())
    conn.cert_reqs = 'CERT_NONE'  # as _ContextAdapter.cert_verify sets it on its pools
    assert not conn.is_connected
    conn.connect()
    conn.request('GET', '/')
    response = conn.getresponse()  # urllib3 2.x's own response, read already; http.client's on 1.26
    assert response.status == 200 and (response.data if MAJOR == 2 else response.read()) == b'{}'
    assert conn.is_connected
    hold.set()
    thread.join(10)  # the server closed its side
    for _ in range(200):
        if not conn.is_connected:
            break
        time.sleep(0.01)
    assert not conn.is_connected
    conn.close()


@pytest.mark.filterwarnings('ignore::urllib3.exceptions.InsecureRequestWarning')  # as the agent does
def test_closing_a_nodes_adapter_closes_its_kept_connection(tmp_path):
    # RestClient.close and unplug (the warm agent's idle close) end in _ContextAdapter.close: the
    # kept socket is closed then, on urllib3 2.x as on 1.26, not when the pool is collected
    hold = threading.Event()
    port, thread, _ = _tls_server(tmp_path, 1, hold=hold)
    url = 'https://127.0.0.1:%d/' % port
    adapter = rest.new_session(rest.build_ssl_context()).get_adapter(url)
    response = adapter.urlopen('GET', url, None, {}, urllib3.Timeout(connect=5, read=5), False)
    assert response.read() == b'{}'
    response.release_conn()
    kept = [conn for conn in adapter._pool_for(url, False).pool.queue if conn is not None]
    assert len(kept) == 1 and kept[0].sock is not None
    adapter.close()
    assert kept[0].sock is None
    hold.set()
    thread.join(10)


def _prepared(url):
    request = PreparedRequest()
    request.prepare(method='GET', url=url)
    return request


def test_a_nodes_adapter_looks_its_pool_up_once_until_closed_or_sent_elsewhere(monkeypatch):
    # docs/DESIGN.md, "Warm agent": _ContextAdapter._pool_for, on requests < 2.32 and later alike
    adapter = rest.new_session(rest.build_ssl_context()).get_adapter('https://127.0.0.1:1/')
    lookups = []
    real = adapter.poolmanager.connection_from_host
    monkeypatch.setattr(adapter.poolmanager, 'connection_from_host',
                        lambda *a, **kw: lookups.append(kw.get('host', a[0] if a else None)) or real(*a, **kw))
    first = adapter._pool_for('https://127.0.0.1:1/a', False)
    assert adapter._pool_for('https://127.0.0.1:1/b?c=d', False) is first
    if hasattr(rest.HTTPAdapter, 'get_connection_with_tls_context'):  # the way requests' own send goes
        assert adapter.get_connection_with_tls_context(_prepared('https://127.0.0.1:1/e'), False, {}) is first
    assert len(lookups) == 1
    other = adapter._pool_for('https://127.0.0.2:1/a', False)
    assert other is not first and other.host == '127.0.0.2'
    adapter.close()
    again = adapter._pool_for('https://127.0.0.2:1/a', False)
    assert again is not other and again.pool is not None
    assert len(lookups) == 3


@pytest.mark.parametrize('version,leaks', [((3, 9, 18), False), ((3, 10, 13), True), ((3, 11, 7), True),
                                           ((3, 12, 1), True), ((3, 12, 8), False), ((3, 13, 0), True),
                                           ((3, 13, 1), False), ((3, 14, 0), False)])
def test_tls_resumption_is_off_by_default_where_reading_a_session_leaks(version, leaks):
    # docs/DESIGN.md, "Warm agent": the Pythons that lose a copy of the session at each read
    assert rest.session_getter_leaks(version) is leaks
