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
"""

import collections
import hashlib
import logging
import os
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


class BmcCache:
    """LRU of parked, logged-in clients (see the module's docstring)."""

    def __init__(self, max_entries=DEFAULT_MAX_ENTRIES, max_idle=DEFAULT_MAX_IDLE):
        self.max_entries = max_entries
        self.max_idle = max_idle
        self._salt = os.urandom(16)
        #: key -> (client, parked_at monotonic seconds), least recently used first.
        self._entries = collections.OrderedDict()
        #: how many clients were handed out again (no login) and parked.
        self.hits = 0
        self.parked = 0
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
            _key, (oldest, _at) = self._entries.popitem(last=False)
            self._evict([oldest])
        return True

    def sweep(self):
        """Log out the entries unused for longer than ``max_idle``; :returns: how many."""
        now = time.monotonic()
        old = []
        for key, (client, parked_at) in list(self._entries.items()):
            if now - parked_at <= self.idle_bound(client):
                if self._shortest >= self.max_idle:
                    break  # every bound is max_idle: the rest were parked later
                continue
            del self._entries[key]
            old.append(client)
        if old:
            self._evict(old)
        return len(old)

    def start_sweeper(self):
        """A greenlet sweeping every eighth of the shortest idle bound (at most every 30 s): an
        entry is logged out within 0.9 of its BMC's session timeout (``SESSION_TIMEOUT_SHARE``)."""
        every = max(0.05, min(self._shortest / 8.0, 30.0))

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
        return tracker.logout_all(bound)
