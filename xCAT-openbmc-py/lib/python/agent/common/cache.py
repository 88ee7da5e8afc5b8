"""BmcCache: the warm agent's logged-in BMC sessions, kept between requests (docs/DESIGN.md, "Warm agent").

One per warm agent (``AgentServer``), handed to each request through ``RunContext.cache``;
a one-shot agent has none. An entry is a parked client: its HTTP session (with the
kept-alive TLS connection) and its BMC session (OpenBMC cookie, Redfish token). Entries are
keyed by BMC address, user, a digest of the password (salted per agent; the password
itself is only in the parked client's memory, never on disk) and the TLS settings, so a
changed password or a request that verifies certificates never meets another's session.

A client takes an entry out (``take``) while its node works and puts it back (``put``) when
the node is done; so an entry is used by one request at a time, and two requests on the
same BMC at once simply hold two sessions, the second one logged out on its way back.
Bounded: at most ``max_entries`` (LRU, the least recently used is logged out), and an entry
unused for ``max_idle`` seconds is logged out before the BMC's own session timeout ends it;
a BMC that said how long it keeps an unused session (Redfish ``SessionTimeout``, the client's
``session_timeout``) gets a shorter bound when that is shorter (``idle_bound``).
An entry unused for ``conn_idle`` seconds keeps its BMC session but loses its TLS connection
(closed by the sweep): a kept-alive TLS connection is most of an entry's memory (about 20 of
35 kB with OpenSSL 3), and the next use of the entry reconnects without a login (resuming its
TLS session).
"""

import collections
import ctypes
import gc
import hashlib
import logging
import os
import platform
import time

import gevent

from common.task import STOP_LOGOUT_BOUND, SessionTracker

LOG = logging.getLogger(__name__)

#: Entries kept at most (one per BMC and credentials): 10,000 BMCs per agent.
DEFAULT_MAX_ENTRIES = 10000

#: Seconds an entry may stay unused before it is logged out; below the session timeouts of
#: OpenBMC (bmcweb: 3600 s by default) and of common Redfish services (``SessionTimeout``, 1800 s
#: and more), and below the simulated fleet's keep-alive (300 s).
DEFAULT_MAX_IDLE = 240.0

#: Share of a BMC's own session timeout an entry may stay unused (the rest is a margin for
#: clocks, the sweep's period and a request on its way), and the least bound it gets.
SESSION_TIMEOUT_SHARE = 0.8
MIN_IDLE = 1.0

#: Seconds ``take`` waits for a client on its way in (``put_after``: one request to its BMC)
#: before the caller logs in anew.
PENDING_WAIT = 5.0

#: Seconds an entry's connection may stay unused before the sweep closes it (0: kept as long as
#: the entry); the BMC session stays. Below the simulated fleet's keep-alive (300 s).
DEFAULT_CONN_IDLE = 60.0

#: Connections closed by one sweep from which on the C heap is trimmed (``malloc_trim``).
TRIM_AFTER = 64


def heap_trimmer():
    """glibc's ``malloc_trim(0)`` as a callable, or None (another C library, or none found).

    NOTE: the memory of closed TLS connections (OpenSSL's, outside Python's allocator) goes back
    to glibc's heap but not to the system while live blocks sit above it; ``malloc_trim`` hands
    the free pages back (docs/DESIGN.md, "Warm agent").
    """
    if platform.libc_ver()[0] != 'glibc':
        return None
    try:
        # the process's own symbols, libc's among them (no ldconfig run to find its file)
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class BmcCache:
    """LRU of parked, logged-in clients (see the module's docstring)."""

    def __init__(self, max_entries=DEFAULT_MAX_ENTRIES, max_idle=DEFAULT_MAX_IDLE, conn_idle=DEFAULT_CONN_IDLE,
                 tls_resume=False):
        #: Whether kept sessions' reconnects resume their TLS session (``agent.py --tls-resume``).
        self.tls_resume = tls_resume
        self.max_entries = max_entries
        self.max_idle = max_idle
        self.conn_idle = conn_idle
        self._salt = os.urandom(16)
        #: key -> (client, parked_at monotonic seconds), least recently used first.
        self._entries = collections.OrderedDict()
        #: keys of entries whose connection the sweep closed (their BMC session is kept).
        self._unplugged = set()
        #: how many clients were handed out again (no login) and parked; connections closed idle.
        self.hits = 0
        self.parked = 0
        self.closed_idle = 0
        self._trim = heap_trimmer()
        self._sweeper = None
        #: the shortest idle bound of any entry so far: the sweep's period follows it.
        self._shortest = max_idle
        #: key -> (client on its way in, the greenlet that parks it) (``put_after``).
        self._pending = {}

    def __len__(self):
        return len(self._entries)

    def key(self, host, username, password, ctx):
        """The entry key of a BMC and its credentials under a request's TLS settings."""
        digest = hashlib.sha256(self._salt + password.encode('utf-8')).hexdigest()
        return (host, username, digest, bool(ctx.verify), ctx.ca_bundle)

    def take(self, key):
        """The parked client of ``key``, removed from the cache, or None (none, or too old)."""
        pending = self._pending.get(key)
        if pending is not None:
            pending[1].join(PENDING_WAIT)
        item = self._entries.pop(key, None)
        if item is None:
            return None
        self._unplugged.discard(key)
        client, parked_at = item
        if time.monotonic() - parked_at > self.idle_bound(client):
            self._evict([client])
            return None
        self.hits += 1
        return client

    def idle_bound(self, client):
        """Seconds ``client`` may stay parked: ``max_idle``, or less when its BMC keeps unused
        sessions a shorter time (``SESSION_TIMEOUT_SHARE`` of it, at least ``MIN_IDLE``)."""
        timeout = getattr(client, 'session_timeout', None)
        if not timeout:
            return self.max_idle
        return max(MIN_IDLE, min(self.max_idle, SESSION_TIMEOUT_SHARE * timeout))

    def put(self, key, client):
        """Park a logged-in client; False when ``key`` is taken (the caller logs it out)."""
        if key in self._entries:
            return False
        bound = self.idle_bound(client)
        if bound < self._shortest:
            self._shortest = bound
            if self._sweeper is not None:
                # the sweep's period shrinks now, not at the end of the current one
                self._sweeper.kill(block=False)
                self.start_sweeper()
        self._entries[key] = (client, time.monotonic())
        self.parked += 1
        if len(self._entries) > self.max_entries:
            oldest_key, (oldest, _at) = self._entries.popitem(last=False)
            self._unplugged.discard(oldest_key)
            self._evict([oldest])
        return True

    def sweep(self):
        """Log out the entries unused for longer than ``max_idle``, and close the connections of
        those unused for longer than ``conn_idle`` (their sessions stay); :returns: how many
        were logged out."""
        now = time.monotonic()
        old = []
        unplug = []
        for key, (client, parked_at) in list(self._entries.items()):
            idle = now - parked_at
            if idle > self.idle_bound(client):
                del self._entries[key]
                self._unplugged.discard(key)
                old.append(client)
            elif self.conn_idle and idle > self.conn_idle:
                if key not in self._unplugged:
                    unplug.append((key, client))
            elif idle <= self._shortest:
                break  # the rest were parked later: below every bound and conn_idle too
        if old:
            self._evict(old)
        for key, client in unplug:
            # The connection pool and TLS socket go, and the HTTP session with them; the
            # credentials headers stay with the client (RestClient.unplug).
            client.unplug()
            self._unplugged.add(key)
        self.closed_idle += len(unplug)
        if len(unplug) >= TRIM_AFTER:
            # What the closed connections leave in reference cycles (pools, sockets) waits for a
            # full collection, rare in the agent (agent.py, tune_gc): collect it now, then hand
            # the freed pages back to the system.
            gc.collect()
            if self._trim is not None:
                self._trim()
        if unplug:
            LOG.info('closed %d idle BMC connections (their sessions are kept)', len(unplug))
        return len(old)

    def start_sweeper(self):
        """A greenlet sweeping every eighth of the shortest idle bound or ``conn_idle`` (at most
        every 30 s): an entry is logged out within 0.9 of its BMC's session timeout
        (``SESSION_TIMEOUT_SHARE``)."""
        shortest = min(self._shortest, self.conn_idle) if self.conn_idle else self._shortest
        every = max(0.05, min(shortest / 8.0, 30.0))

        def loop():
            while True:
                gevent.sleep(every)
                self.sweep()

        self._sweeper = gevent.spawn(loop)

    def put_after(self, key, client, prepare):
        """Park ``client`` once ``prepare()`` (a request to its BMC) ran, in a greenlet of its own;
        False when ``key`` is taken or on its way in (the caller logs it out).

        Meanwhile the client is nobody's but ours: ``close`` logs it out too, and ``take``
        waits for it.
        """
        if key in self._entries or key in self._pending:
            return False

        def run():
            try:
                prepare()
            except Exception:  # noqa: BLE001 - whatever it was, the client still holds a session
                LOG.exception('%s: preparing a kept session failed', getattr(client, 'node', key[0]))
            finally:
                self._pending.pop(key, None)
            if not self.put(key, client):
                self._evict([client])

        self._pending[key] = (client, gevent.spawn(run))
        return True

    @staticmethod
    def _evict(clients):
        """Log ``clients`` out in the background, within ``STOP_LOGOUT_BOUND``."""
        tracker = SessionTracker()
        for client in clients:
            tracker.add(client)
        gevent.spawn(tracker.logout_all)

    def close(self, bound=STOP_LOGOUT_BOUND):
        """Log out every parked session at once, within ``bound`` seconds; :returns: how many."""
        if self._sweeper is not None:
            self._sweeper.kill(block=False)
        pending = list(self._pending.values())
        self._pending.clear()
        gevent.killall([greenlet for _client, greenlet in pending], block=True, timeout=min(1.0, bound))
        tracker = SessionTracker()
        for client, _greenlet in pending:
            tracker.add(client)
        for client, _at in self._entries.values():
            tracker.add(client)
        self._entries.clear()
        self._unplugged.clear()
        return tracker.logout_all(bound)
