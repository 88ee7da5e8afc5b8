"""Client side of the simulated fleet: :class:`FleetControl` for the control API, :class:`Fleet` to run one.

Neither honours proxy settings from the environment: everything here is loopback.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

#: Seconds :class:`Fleet` waits for ``ready`` unless told otherwise.
READY_TIMEOUT = 60.0

#: Seconds :meth:`Fleet.stop` waits after SIGTERM before SIGKILL.
STOP_TIMEOUT = 15.0

#: Directory that holds the ``sim`` package (put on the child's PYTHONPATH).
TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FleetError(Exception):
    """The fleet failed to start, or the control API answered an error.

    ``status`` is the HTTP status of a control API error (``None`` otherwise).
    """

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class FleetControl:
    """Talks to a running fleet's control API.

    :param url: the ``control http://127.0.0.1:PORT`` URL the fleet printed.
    :param timeout: seconds per call.
    """

    def __init__(self, url, timeout=60.0):
        self.url = url.rstrip('/')
        self.timeout = timeout
        # An empty ProxyHandler: http_proxy/no_proxy from the environment must not reroute loopback.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b'null')
        except urllib.error.HTTPError as exc:
            try:
                text = json.loads(exc.read()).get('error', '')
            except ValueError:
                text = ''
            raise FleetError('%s %s: %d %s' % (method, path, exc.code, text), exc.code) from None

    def info(self):
        """:returns: the fleet description (protocol, nodes, ca_path, tables, ...)."""
        return self._call('GET', '/info')

    def nodes(self, noderange=None):
        """:returns: list of node entries (all, or those of ``noderange``), in node order."""
        path = '/nodes'
        if noderange is not None:
            if not isinstance(noderange, str):
                noderange = ','.join(noderange)
            path += '?' + urllib.parse.urlencode({'range': noderange})
        return self._call('GET', path)

    def node(self, name):
        """:returns: one node entry."""
        return self._call('GET', '/nodes/' + urllib.parse.quote(name))

    def set_node(self, name, **fields):
        """Change a node (``power='on'``, ``host='Quiesced'``, ``password='x'``, ``fault='slow'``,
        ``fault_arg=2``, boot fields ...).

        :returns: the node's entry afterwards.
        """
        return self._call('POST', '/nodes/' + urllib.parse.quote(name), fields)

    def set_fault(self, nodes, fault, arg=None):
        """Give nodes a fault (``None`` or ``'none'`` clears).

        :param nodes: a noderange string or a list of names.
        :param fault: fault name (see :mod:`sim.faults`).
        :param arg: its argument, if any.
        :returns: the list of names affected.
        """
        body = {'range': nodes if isinstance(nodes, str) else list(nodes), 'fault': fault}
        if arg is not None:
            body['arg'] = arg
        return self._call('POST', '/faults', body)['nodes']

    def reset(self, counters=True, states=True, faults=True):
        """Back to the start configuration (``--faults`` included)."""
        self._call('POST', '/reset', {'counters': counters, 'states': states, 'faults': faults})

    def stats(self):
        """:returns: counter totals, power-state counts, CPU seconds and RSS of the fleet."""
        return self._call('GET', '/stats')


class Fleet:
    """Runs ``python -m sim.fleet`` as a child process; a context manager.

    :param nodes: number of BMCs.
    :param protocol: ``openbmc`` or ``redfish``.
    :param base: address of node 1.
    :param port: port of every BMC; ``0`` (the default) lets the fleet take one free port, so
        fleets of two test runs on one host never collide (read it back from ``port``).
    :param delay: transition delay in seconds.
    :param faults: ``--faults`` text, or a mapping ``{noderange: 'fault[=arg]'}``.
    :param tables_dir: where the fleet writes its files (a temporary directory when ``None``,
        removed again by :meth:`stop`).
    :param ready_timeout: seconds to wait for ``ready``.
    :param extra_args: more command-line arguments, e.g. ``['--redfish-reply', '204']``.
    :param options: other long options as keywords (``password_style='pernode'`` becomes
        ``--password-style pernode``; ``True`` gives a bare flag, ``False``/``None`` nothing).

    After :meth:`start`: ``control`` (:class:`FleetControl`), ``url``, ``nodeinfo``, ``nodes``,
    ``tables_dir``, ``ca_path``, ``info``, ``port`` (the BMCs' port), ``proc``, and
    :meth:`address` for the ``IP:PORT`` text our messages name a node's BMC by.
    """

    def __init__(self, nodes=8, protocol='openbmc', base='127.10.0.1', port=0, delay=0.0,
                 faults=None, tables_dir=None, ready_timeout=READY_TIMEOUT, extra_args=(),
                 **options):
        self.args = ['--nodes', str(nodes), '--protocol', protocol, '--base', base,
                     '--port', str(port), '--delay', str(delay)]
        if faults:
            if not isinstance(faults, str):
                faults = ' '.join('%s=%s' % item for item in faults.items())
            self.args += ['--faults', faults]
        for key, value in options.items():
            flag = '--' + key.replace('_', '-')
            if value is True:
                self.args.append(flag)
            elif value not in (None, False):
                self.args += [flag, str(value)]
        self.args += list(extra_args)
        self.ready_timeout = ready_timeout
        self._own_dir = tables_dir is None
        self.tables_dir = tables_dir
        self.proc = None
        self.control = None
        self.url = None
        self.nodeinfo = {}
        self.nodes = []
        self.ca_path = None
        self.port = port or None
        self.info = {}
        self._log = None

    def start(self):
        """Start the fleet and wait for ``ready``.

        :returns: ``self``.
        :raises FleetError: when the child exits or is not ready in time (with its log tail).
        """
        if self.tables_dir is None:
            self.tables_dir = tempfile.mkdtemp(prefix='xcat-sim-tables.')
        os.makedirs(self.tables_dir, exist_ok=True)
        log_path = os.path.join(self.tables_dir, 'fleet.log')
        out_path = os.path.join(self.tables_dir, 'fleet.out')
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(p for p in (TESTS_DIR, env.get('PYTHONPATH')) if p)
        cmd = [sys.executable, '-m', 'sim.fleet', '--tables', self.tables_dir] + self.args
        # stdout/stderr go to files, not pipes: nobody has to keep reading them once we are ready.
        with open(out_path, 'wb') as out, open(log_path, 'ab') as log:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=log, stdin=subprocess.DEVNULL,
                                         env=env, cwd=TESTS_DIR)
        deadline = time.monotonic() + self.ready_timeout
        url = None
        while True:
            with open(out_path, encoding='utf-8', errors='replace') as fh:
                lines = fh.read().splitlines()
            for line in lines:
                if line.startswith('control '):
                    url = line.split(None, 1)[1].strip()
            if 'ready' in lines and url:
                break
            if self.proc.poll() is not None:
                raise FleetError('fleet exited with %s before ready: %s'
                                 % (self.proc.returncode, self._tail(log_path)))
            if time.monotonic() > deadline:
                self.stop()
                raise FleetError('fleet not ready after %.0f s: %s'
                                 % (self.ready_timeout, self._tail(log_path)))
            time.sleep(0.02)
        self.url = url
        self.control = FleetControl(url)
        with open(os.path.join(self.tables_dir, 'nodeinfo.json'), encoding='utf-8') as fh:
            self.nodeinfo = json.load(fh)
        with open(os.path.join(self.tables_dir, 'fleet.json'), encoding='utf-8') as fh:
            self.info = json.load(fh)
        self.nodes = sorted(self.nodeinfo)
        self.ca_path = self.info['ca_path']
        self.port = self.info['port']
        return self

    def address(self, node):
        """``IP:PORT`` of ``node``'s BMC, as "Can't connect to IP:PORT" lines name it."""
        return '%s:%d' % (self.nodeinfo[node]['bmcip'].split(':')[0], self.port)

    @staticmethod
    def _tail(path, size=2000):
        try:
            with open(path, 'rb') as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - size))
                return fh.read().decode('utf-8', 'replace').strip() or '(no output)'
        except OSError:
            return '(no log)'

    def stop(self):
        """SIGTERM the fleet, wait (bounded), SIGKILL if needed; remove a temporary tables dir.

        :returns: the child's exit status (``None`` if it never started).
        """
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(STOP_TIMEOUT)
            rc = self.proc.returncode
        if self._own_dir and self.tables_dir is not None:
            shutil.rmtree(self.tables_dir, ignore_errors=True)
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class ShardedControl:
    """The control API of a :class:`ShardedFleet`: the calls the bench needs, over every shard.

    ``stats`` sums the shards' counters, CPU seconds, RSS and power-state counts (``uptime`` is
    the longest); ``reset`` and ``nodes`` go to every shard.
    """

    def __init__(self, controls, info):
        self.controls = controls
        self._info = info

    def info(self):
        return dict(self._info)

    def nodes(self, noderange=None):
        out = []
        for control in self.controls:
            try:
                out.extend(control.nodes(noderange))
            except FleetError as error:
                if error.status != 404:
                    raise
        return out

    def reset(self, counters=True, states=True, faults=True):
        for control in self.controls:
            control.reset(counters=counters, states=states, faults=faults)

    def stats(self):
        total = {}
        for part in (control.stats() for control in self.controls):
            for key, value in part.items():
                if key == 'uptime':
                    total[key] = max(total.get(key, 0.0), value)
                elif isinstance(value, dict):
                    mine = total.setdefault(key, {})
                    for word, count in value.items():
                        mine[word] = mine.get(word, 0) + count
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    total[key] = total.get(key, 0) + value
        return total


class ShardedFleet:
    """One fleet of ``nodes`` BMCs served by ``shards`` processes (``--shard I/N``), for fleets
    larger than one process can hold: each listener and each kept connection is a file
    descriptor, and one process of 10,000 BMCs would need 20,000 of them, besides its one core.

    Same interface as :class:`Fleet` for what the bench uses (``start``, ``stop``, ``nodes``,
    ``nodeinfo``, ``tables_dir``, ``ca_path``, ``info``, ``port``, ``control``); the tables of
    the shards (each in ``tables_dir/shardI``) are merged into ``tables_dir``
    (:func:`sim.tables.merge_tables`). ``port`` must be fixed (not 0), so every shard uses it.
    """

    def __init__(self, nodes, shards, tables_dir, port=443, **kwargs):
        if port == 0:
            raise ValueError('a sharded fleet needs a fixed port')
        self.tables_dir = tables_dir
        self.parts = [Fleet(nodes=nodes, port=port, tables_dir=os.path.join(tables_dir, 'shard%d' % index),
                            extra_args=['--shard', '%d/%d' % (index, shards)], **kwargs)
                      for index in range(1, shards + 1)]
        self.port = port
        self.control = None
        self.nodeinfo = {}
        self.nodes = []
        self.ca_path = None
        self.info = {}

    def start(self):
        """Start every shard (at once: each builds its listeners on its own) and merge the tables."""
        from concurrent.futures import ThreadPoolExecutor  # pylint: disable=import-outside-toplevel

        from sim import tables  # pylint: disable=import-outside-toplevel
        with ThreadPoolExecutor(len(self.parts)) as pool:
            waits = [pool.submit(part.start) for part in self.parts]
        errors = [w.exception() for w in waits if w.exception() is not None]
        if errors:
            for part in self.parts:
                part.stop()
            raise errors[0]
        info = dict(self.parts[0].info, nodes=sum(len(p.nodes) for p in self.parts),
                    shards=[p.url for p in self.parts], tables=os.path.abspath(self.tables_dir))
        self.ca_path = tables.merge_tables(self.tables_dir, [p.tables_dir for p in self.parts], info)
        with open(os.path.join(self.tables_dir, 'nodeinfo.json'), encoding='utf-8') as fh:
            self.nodeinfo = json.load(fh)
        self.nodes = sorted(self.nodeinfo)
        self.info = dict(info, ca_path=self.ca_path)
        self.control = ShardedControl([p.control for p in self.parts], self.info)
        return self

    def address(self, node):
        return '%s:%d' % (self.nodeinfo[node]['bmcip'].split(':')[0], self.port)

    def stop(self):
        """Stop every shard; :returns: the worst exit status."""
        codes = [part.stop() for part in self.parts]
        return max((c for c in codes if c is not None), default=None)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
