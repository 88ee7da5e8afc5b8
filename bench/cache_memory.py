"""Memory of the warm agent's kept BMC sessions (docs/DESIGN.md, "Warm agent"): RSS per entry.

Starts a simulated OpenBMC fleet of N BMCs, and in this process, as the warm agent does, one
client per BMC logs in, reads the power state and is parked in a ``BmcCache``. Prints the RSS
growth per kept entry with its TLS connection open, then after the cache's sweep closed every
connection (``--conn-idle``; the BMC sessions kept). ``--trace`` adds tracemalloc's view of the
Python objects per entry (slower, and its own overhead shows in the RSS figures).

    .venv/bin/python bench/cache_memory.py --nodes 2000 [--trace]
"""

import argparse
import gc
import os
import sys
import tracemalloc
import warnings

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path[:0] = [os.path.join(REPO, 'xCAT-openbmc-py', 'lib', 'python', 'agent'), os.path.join(REPO, 'tests')]

from gevent import monkey  # noqa: E402  pylint: disable=wrong-import-position

monkey.patch_all()

import gevent  # noqa: E402  pylint: disable=wrong-import-position
import gevent.pool  # noqa: E402  pylint: disable=wrong-import-position

from common.cache import BmcCache  # noqa: E402  pylint: disable=wrong-import-position
from common.task import RunContext  # noqa: E402  pylint: disable=wrong-import-position
from hwctl.openbmc_client import OpenBMCClient  # noqa: E402  pylint: disable=wrong-import-position
from sim.control import Fleet  # noqa: E402  pylint: disable=wrong-import-position

#: Clients parked and dropped before the baseline (first-use allocations, imports).
WARMUP = 20


def rss_kb():
    with open('/proc/self/status', encoding='ascii') as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith('VmRSS:'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=2000)
    parser.add_argument('--base', default='127.80.0.1')
    parser.add_argument('--trace', action='store_true', help='tracemalloc: Python objects per entry')
    opts = parser.parse_args(argv)
    warnings.simplefilter('ignore')  # unverified HTTPS, as the agent's default
    fleet = Fleet(nodes=opts.nodes + WARMUP, base=opts.base, ready_timeout=max(60.0, opts.nodes * 0.05)).start()
    try:
        cache = BmcCache(max_entries=opts.nodes + WARMUP, max_idle=3600)
        pool = gevent.pool.Pool(256)

        def park(node, ctx):
            info = fleet.nodeinfo[node]
            client = OpenBMCClient(node, info['bmcip'], info['username'] or 'root', info['password'] or '0penBmc',
                                   ctx=ctx)
            with client:
                client.reuse_or_login(cache)
                client.get_power_states()

        for node in fleet.nodes[:WARMUP]:
            pool.spawn(park, node, RunContext.from_envs({}, cache=cache))
        pool.join()
        cache.close()
        gc.collect()
        base = rss_kb()
        if opts.trace:
            tracemalloc.start(4)
            before = tracemalloc.take_snapshot()
        ctx = RunContext.from_envs({}, cache=cache)
        for node in fleet.nodes[WARMUP:]:
            pool.spawn(park, node, ctx)
        pool.join()
        gc.collect()
        count = len(cache)
        kept = rss_kb()
        print('%d entries kept: RSS %.1f MB (%.1f MB before), %.1f kB per entry with its connection open'
              % (count, kept / 1024.0, base / 1024.0, (kept - base) / float(count)))
        if opts.trace:
            stats = tracemalloc.take_snapshot().compare_to(before, 'filename')
            print('tracemalloc: %.1f kB of Python objects per entry; by file:'
                  % (sum(s.size_diff for s in stats) / 1024.0 / count))
            for stat in stats[:12]:
                print('  %7.0f B  %s' % (stat.size_diff / float(count), stat.traceback[0].filename))
            tracemalloc.stop()
        cache.conn_idle = 0.001
        gevent.sleep(0.01)
        cache.sweep()
        gc.collect()
        idle = rss_kb()
        print('after the sweep closed %d connections: RSS %.1f MB, %.1f kB per entry (sessions kept)'
              % (cache.closed_idle, idle / 1024.0, (idle - base) / float(count)))
        cache.close(bound=30)
    finally:
        fleet.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
