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
unused for ``max_idle`` seconds is logged out before the BMC's own session timeout ends it.
An entry unused for ``conn_idle`` seconds keeps its BMC session but loses its TLS connection
(closed by the sweep): a kept-alive TLS connection is most of an entry's memory (about 20 of
35 kB with OpenSSL 3), and the next use of the entry reconnects without a login.
"""

import collections
import ctypes
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

    def __init__(self, max_entries=DEFAULT_MAX_ENTRIES, max_idle=DEFAULT_MAX_IDLE, conn_idle=DEFAULT_CONN_IDLE):
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

    def __len__(self):
        return len(self._entries)

    def key(self, host, username, password, ctx):
        """The entry key of a BMC and its credentials under a request's TLS settings."""
        digest = hashlib.sha256(self._salt + password.encode('utf-8')).hexdigest()
        return (host, username, digest, bool(ctx.verify), ctx.ca_bundle)

    def take(self, key):
        """The parked client of ``key``, removed from the cache, or None (none, or too old)."""
        item = self._entries.pop(key, None)
        if item is None:
            return None
        self._unplugged.discard(key)
        client, parked_at = item
        if time.monotonic() - parked_at > self.max_idle:
            self._evict([client])
            return None
        self.hits += 1
        return client

    def put(self, key, client):
        """Park a logged-in client; False when ``key`` is taken (the caller logs it out)."""
        if key in self._entries:
            return False
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
            if idle > self.max_idle:
                del self._entries[key]
                self._unplugged.discard(key)
                old.append(client)
            elif self.conn_idle and idle > self.conn_idle:
                if key not in self._unplugged:
                    unplug.append((key, client))
            else:
                break
        if old:
            self._evict(old)
        for key, client in unplug:
            # The connection pool and TLS socket go, and the HTTP session with them; the
            # credentials headers stay with the client (RestClient.unplug).
            client.unplug()
            self._unplugged.add(key)
        self.closed_idle += len(unplug)
        if len(unplug) >= TRIM_AFTER and self._trim is not None:
            self._trim()
        if unplug:
            LOG.info('closed %d idle BMC connections (their sessions are kept)', len(unplug))
        return len(old)

    def start_sweeper(self):
        """A greenlet sweeping every quarter of ``max_idle`` or ``conn_idle`` (at most every 30 s)."""
        shortest = min(self.max_idle, self.conn_idle) if self.conn_idle else self.max_idle
        every = max(0.05, min(shortest / 4.0, 30.0))

        def loop():
            while True:
                gevent.sleep(every)
                self.sweep()

        self._sweeper = gevent.spawn(loop)

    @staticmethod
    def _evict(clients):
        """Log ``clients`` out in the background, within ``STOP_LOGOUT_BOUND``."""
        tracker = SessionTracker()
        for client in clients:
            client.replug()
            tracker.add(client)
        gevent.spawn(tracker.logout_all)

    def close(self, bound=STOP_LOGOUT_BOUND):
        """Log out every parked session at once, within ``bound`` seconds; :returns: how many."""
        if self._sweeper is not None:
            self._sweeper.kill(block=False)
        tracker = SessionTracker()
        for client, _at in self._entries.values():
            client.replug()
            tracker.add(client)
        self._entries.clear()
        self._unplugged.clear()
        return tracker.logout_all(bound)
