"""NumericFirstResolver: numeric BMC addresses resolved inline, names in gevent's thread pool."""

import socket

import gevent
import pytest
from gevent.resolver.thread import Resolver as ThreadResolver

from common.resolver import NumericFirstResolver


@pytest.fixture
def pool_calls(monkeypatch):
    """Record what reaches the thread pool instead of resolving it."""
    calls = []

    def pooled(self, host, *args):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, '', ('192.0.2.1', 443))]

    monkeypatch.setattr(ThreadResolver, 'getaddrinfo', pooled)
    return calls


@pytest.mark.parametrize('host,address', [('127.0.0.5', ('127.0.0.5', 443)), ('fd00::1', ('fd00::1', 443, 0, 0))])
def test_numeric_addresses_never_reach_the_thread_pool(pool_calls, host, address):
    resolver = NumericFirstResolver(gevent.get_hub())
    assert resolver.getaddrinfo(host, 443, 0, socket.SOCK_STREAM)[0][4] == address
    assert pool_calls == []


@pytest.mark.parametrize('host', ['bmc7.example', '1bmc.example', 'fe80::zz'])
def test_names_go_to_the_thread_pool(pool_calls, host):
    resolver = NumericFirstResolver(gevent.get_hub())
    assert resolver.getaddrinfo(host, 443, 0, socket.SOCK_STREAM)[0][4] == ('192.0.2.1', 443)
    assert pool_calls == [host]
