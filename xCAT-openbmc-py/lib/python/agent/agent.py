#!/usr/bin/env python3
"""xCAT's Python BMC agent: serves rpower/rsetboot requests from the broker on a UNIX socket."""

# NOTE: gevent must patch the standard library before ssl, socket, requests or urllib3
# are imported anywhere, or TLS stays blocking. thread=False keeps real OS threads: the
# lock-file watchdog blocks in flock() in one of them.
import gevent
from gevent import monkey

# NOTE: numeric BMC addresses need no thread hop to resolve (common/resolver.py); the
# class is named here, before the hub exists, because gevent builds its resolver from it.
gevent.config.resolver = 'common.resolver.NumericFirstResolver'
monkey.patch_all(thread=False)

import argparse  # noqa: E402
import fcntl  # noqa: E402
import gc  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

LOG = logging.getLogger('xcatagent')

def parse_args(argv):
    parser = argparse.ArgumentParser(prog='xcatagent', description=__doc__)
    parser.add_argument('--sock', default='/var/run/xcat/agent.sock', help='UNIX socket path to listen on')
    parser.add_argument('--lockfile', default='/var/lock/xcat/agent.lock',
                        help="the broker's lock file; the agent exits when the broker releases it")
    parser.add_argument('--standalone', action='store_true',
                        help='serve connections until stopped; no lock-file watchdog')
    parser.add_argument('--request-timeout', type=float, default=30.0,
                        help='seconds a client may take to send its request (default 30)')
    parser.add_argument('--accept-timeout', type=float, default=60.0,
                        help='without --standalone, seconds to wait for the one connection (default 60)')
    parser.add_argument('--idle', type=float, metavar='SECONDS',
                        help='the warm agent: serve requests of many brokers at once, keep BMC sessions '
                             'between them, exit after SECONDS without a request (docs/DESIGN.md)')
    parser.add_argument('--session-idle', type=float, default=240.0,
                        help='warm: seconds a kept BMC session may stay unused before it is logged out (240)')
    parser.add_argument('--conn-idle', type=float, default=60.0,
                        help='warm: seconds a kept BMC session\'s connection may stay unused before it is closed; '
                             'the session stays (60; 0: kept as long as the session)')
    parser.add_argument('--tls-resume', choices=('auto', 'on', 'off'), default='auto',
                        help='warm: reconnects resume the TLS session; auto: unless this Python leaks '
                             'memory reading it (docs/DESIGN.md, "Warm agent")')
    parser.add_argument('--cache-size', type=int, default=10000,
                        help='warm: BMC sessions kept at most (10000)')
    parser.add_argument('--pool-size', type=int, help='default nodes worked on at once (1000)')
    parser.add_argument('--connect-timeout', type=float, help='default BMC connect timeout, s (10)')
    parser.add_argument('--read-timeout', type=float, help='default BMC read timeout, s (30)')
    parser.add_argument('--log-level', default='INFO', choices=['DEBUG', 'INFO', 'WARNING', 'ERROR'])
    # xCAT's agent ignores arguments it does not know; so do we, for drop-in use.
    args, unknown = parser.parse_known_args(argv)
    return args, unknown


def start_watchdog(lockfile):
    """Exit (through SIGTERM, so main decides the code) when the broker's lock is released.

    The broker holds an exclusive flock on ``lockfile`` for as long as it lives; this
    thread blocks until it can take the lock, which means the broker is gone.
    """
    try:
        handle = open(lockfile, 'r+')
    except OSError as error:
        LOG.warning('no watchdog: cannot open lock file %s: %s', lockfile, error)
        return None

    def watch():
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as error:
            LOG.warning('watchdog stopped: %s', error)
            return
        LOG.error('the xCAT process holding %s exited; stopping', lockfile)
        os.kill(os.getpid(), signal.SIGUSR1)

    thread = threading.Thread(target=watch, name='watchdog', daemon=True)
    thread.start()
    return thread


#: Allocations (net, of objects the cyclic collector tracks) between two young collections;
#: Python's default is 700.
GC_YOUNG_THRESHOLD = 10000


def tune_gc():
    """Fewer cyclic garbage collections: the agent's objects are freed by reference counting.

    NOTE: with the default thresholds a warm agent holding 1000 BMC sessions spent a sixth of
    its CPU in the collector (57 young, 5 middle and half a full collection per 1000-node
    command, the full ones about 60 ms each, walking every kept session); with these, under a
    twentieth (docs/DESIGN.md, "What remains in the warm path"). Memory only waits longer for
    the rare reference cycle. What exists now (the imported modules) lives as long as the
    process: frozen, no collection walks it again.
    """
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, max(middle, 20), max(old, 20))


def _tls_resume(choice):
    """``--tls-resume`` as a yes or no: ``auto`` is on unless reading a TLS session leaks here."""
    from common.rest import session_getter_leaks  # pylint: disable=import-outside-toplevel
    if choice == 'auto':
        on = not session_getter_leaks()
        LOG.info('TLS session resumption %s (--tls-resume auto on Python %s)', 'on' if on else 'off',
                 platform.python_version())
        return on
    return choice == 'on'


def _cache_bound(wanted):
    """BMC sessions the warm agent may keep: each holds an open connection, so at most half the
    open-file limit (raised to its hard limit first), the other half for the nodes being worked on."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(0, min(wanted, soft // 2))


def main(argv=None):
    args, unknown = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format='%(asctime)s xcatagent[%(process)d] %(levelname)s %(name)s: %(message)s')
    if unknown:
        LOG.info('ignoring arguments %s', unknown)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import urllib3
    from xcatagent.server import AgentServer

    # NOTE: verification is off by default as in xCAT; urllib3 would warn on every
    # request. Only that one category is silenced; with verify on it cannot occur.
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    defaults = {key: value for key, value in (('pool_size', args.pool_size),
                                              ('connect_timeout', args.connect_timeout),
                                              ('read_timeout', args.read_timeout)) if value is not None}
    warm = {}
    if args.idle is not None and args.idle > 0:
        from common.cache import BmcCache
        from xcatagent.server import agent_stamp, check_private_dir
        try:
            check_private_dir(os.path.dirname(os.path.abspath(args.sock)))
        except OSError as error:
            LOG.error('cannot serve on %s: %s', args.sock, error)
            return 1
        warm = {'warm': True, 'idle': args.idle, 'stamp': agent_stamp(os.path.dirname(os.path.abspath(__file__))),
                'cache': BmcCache(max_entries=_cache_bound(args.cache_size), max_idle=args.session_idle,
                                   conn_idle=args.conn_idle, tls_resume=_tls_resume(args.tls_resume))}
        LOG.info('warm agent %s: idle exit after %g s', warm['stamp'], args.idle)
    server = AgentServer(args.sock, standalone=args.standalone, request_timeout=args.request_timeout,
                         accept_timeout=args.accept_timeout, defaults=defaults, **warm)
    stopped_by = []

    def on_signal(signum):
        stopped_by.append(signum)
        server.stop()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        gevent.signal_handler(signum, on_signal, signum)
    try:
        server.start()
    except OSError as error:
        LOG.error('cannot listen on %s: %s', args.sock, error)
        return 1
    if not args.standalone and not warm:
        start_watchdog(args.lockfile)
    tune_gc()
    server.run()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    LOG.info('exit: cpu_user=%.3f cpu_sys=%.3f maxrss_kb=%d', usage.ru_utime, usage.ru_stime, usage.ru_maxrss)
    if stopped_by and stopped_by[0] == signal.SIGUSR1:
        # The broker died without cleaning up: remove its lock file and, when empty,
        # the private directory (``agent.*``) it made for us, so nothing is left behind.
        rundir = os.path.dirname(os.path.abspath(args.sock))
        cleanup = [(os.unlink, args.lockfile)]
        if os.path.basename(rundir).startswith('agent.'):
            cleanup.append((os.rmdir, rundir))
        for remove, path in cleanup:
            try:
                remove(path)
            except OSError:
                pass
        return 1
    return 1 if server.failed else 0


if __name__ == '__main__':
    sys.exit(main())
