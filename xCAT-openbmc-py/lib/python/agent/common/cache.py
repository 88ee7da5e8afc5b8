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
            _key, (oldest, _at) = self._entries.popitem(last=False)
            self._evict([oldest])
        return True

    def sweep(self):
        """Log out the entries unused for longer than ``max_idle``; :returns: how many."""
        now = time.monotonic()
        old = []
        for key, (client, parked_at) in list(self._entries.items()):
            if now - parked_at <= self.max_idle:
                break
            del self._entries[key]
            old.append(client)
        if old:
            self._evict(old)
        return len(old)

    def start_sweeper(self):
        """A greenlet sweeping every quarter of ``max_idle`` (at most every 30 s)."""
        every = max(0.05, min(self.max_idle / 4.0, 30.0))

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
            tracker.add(client)
        gevent.spawn(tracker.logout_all)

    def close(self, bound=STOP_LOGOUT_BOUND):
        """Log out every parked session at once, within ``bound`` seconds; :returns: how many."""
        if self._sweeper is not None:
            self._sweeper.kill(block=False)
        tracker = SessionTracker()
        for client, _at in self._entries.values():
            tracker.add(client)
        self._entries.clear()
        return tracker.logout_all(bound)
