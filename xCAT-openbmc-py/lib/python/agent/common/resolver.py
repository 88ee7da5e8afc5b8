"""NumericFirstResolver: gevent's name resolver, minus the thread hop for numeric addresses.

NOTE: gevent's default resolver sends every getaddrinfo to a pool of OS threads, even for
``127.0.0.5`` where nothing is looked up; at fleet scale that hand-off is one thread wake-up
per BMC connection, about a tenth of the agent's CPU in ``make bench`` at 10,000 BMCs, plus
the threads' memory. The broker always sends resolved addresses (``bmcip``), so numeric
addresses are converted in the calling greenlet with ``AI_NUMERICHOST``, which never touches
the network; a name (client.py may be given one) still goes to the thread pool, so a slow DNS
server never blocks the other nodes.
"""

import _socket

from gevent.resolver.thread import Resolver as ThreadResolver


class NumericFirstResolver(ThreadResolver):
    """Resolves numeric hosts inline, names in gevent's thread pool."""

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's names
        if isinstance(host, str) and host and (host[0].isdigit() or ':' in host):
            try:
                # _socket is the C module, which monkey-patching never replaces.
                return _socket.getaddrinfo(host, port, family, type, proto, flags | _socket.AI_NUMERICHOST)
            except _socket.gaierror:
                pass
        return super().getaddrinfo(host, port, family, type, proto, flags)
