"""TLS verification on and off, and secrets kept out of lines, logs, argv and readable files."""

import base64
import os
import stat
import subprocess
import time

import pytest

from conftest import REPO, AgentProcess, node_lines

RPOWER = str(REPO / 'perl' / 'bin' / 'rpower')

ENVS = {'connect_timeout': 5, 'read_timeout': 10}


@pytest.fixture(scope='module')
def fleet(fleet_factory):
    return fleet_factory(nodes=6, protocol='openbmc', base='127.34.0.1')


@pytest.fixture(scope='module')
def other_ca(tmp_path_factory):
    """A CA that did not sign the fleet's certificate."""
    path = tmp_path_factory.mktemp('other-ca') / 'ca.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                    '-keyout', str(path.with_suffix('.key')), '-out', str(path), '-days', '2', '-subj', '/CN=other'],
                   check=True, capture_output=True)
    return str(path)


def test_verification_passes_with_the_fleets_own_ca(module_agent, fleet):
    lines = node_lines(module_agent.request('rpower', ['state'], fleet.nodeinfo,
                                            envs=dict(ENVS, verify=True, ca_bundle=fleet.ca_path)))
    assert set(lines.values()) == {'off'}


def test_verification_with_another_ca_gives_each_node_a_certificate_error(module_agent, fleet, other_ca):
    lines = node_lines(module_agent.request('rpower', ['state'], fleet.nodeinfo,
                                            envs=dict(ENVS, verify=True, ca_bundle=other_ca)))
    assert set(lines) == set(fleet.nodes)
    for node, line in lines.items():
        assert line == ("Error: Login to BMC failed: Can't connect to %s (certificate verify failed: "
                        "self-signed certificate)." % fleet.address(node))


def test_a_missing_ca_file_is_a_clear_request_error(module_agent, fleet):
    frames = module_agent.request('rpower', ['state'], fleet.nodeinfo,
                                  envs=dict(ENVS, verify=True, ca_bundle='/nonexistent/ca.pem'))
    assert [f['msg']['data'] for f in frames] == [
        'Invalid request: cannot load CA bundle /nonexistent/ca.pem: [Errno 2] No such file or directory']


def test_debug_mode_traces_every_call_without_any_secret(module_agent, fleet):
    node = fleet.nodes[0]
    info = fleet.nodeinfo[node]
    frames = module_agent.request('rsetboot', ['net'], {node: info}, envs=dict(ENVS, debugmode=1))
    traces = [f['msg']['data'] for f in frames if '[openbmc_debug] curl' in f['msg'].get('data', '')]
    assert [t.split(' -X ')[1].split(' ')[0] for t in traces] == ['POST', 'PUT', 'PUT', 'POST']
    everything = repr(frames) + module_agent.log()
    assert info['password'] not in everything
    assert node_lines(frames) == {node: 'Network'}


def test_wrong_password_error_does_not_echo_it(module_agent, fleet):
    node = fleet.nodes[1]
    info = dict(fleet.nodeinfo[node], password='Sup3r-S3cret!')
    frames = module_agent.request('rpower', ['state'], {node: info}, envs=dict(ENVS, debugmode=1))
    assert node_lines(frames) == {node: 'Error: [401] Invalid username or password'}
    assert 'Sup3r-S3cret!' not in repr(frames) + module_agent.log()


def test_socket_and_fleet_secret_files_are_private(module_agent, fleet):
    assert stat.S_IMODE(os.stat(module_agent.sock_path).st_mode) & 0o077 == 0
    for name in ('nodeinfo.json', 'openbmc.csv', 'passwd.csv'):
        assert stat.S_IMODE(os.stat(os.path.join(fleet.tables_dir, name)).st_mode) & 0o077 == 0, name


def secrets_of(fleet):
    """Each BMC password of a fleet, and the HTTP Basic credentials built from it."""
    found = set()
    for info in fleet.nodeinfo.values():
        found.add(info['password'])
        found.add(base64.b64encode(('%s:%s' % (info['username'], info['password'])).encode()).decode())
    return found


def leaks(text, secrets):
    return sorted(secret for secret in secrets if secret in text)


def read_proc(pid, name):
    with open('/proc/%d/%s' % (pid, name), 'rb') as handle:
        return handle.read().replace(b'\0', b' ').decode(errors='replace')


def parent_pid(pid):
    for line in read_proc(pid, 'status').splitlines():
        if line.startswith('PPid:'):
            return int(line.split()[1])
    return 0


def agents_under(ancestor):
    """PIDs of agent.py processes that descend from ``ancestor``."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if 'agent.py' not in read_proc(pid, 'cmdline'):
                continue
            up = pid
            while up > 1:
                up = parent_pid(up)
                if up == ancestor:
                    found.append(pid)
                    break
        except OSError:
            continue
    return found


@pytest.fixture(scope='module')
def random_fleet(fleet_factory):
    """BMCs each with its own random password; every answer held 1 s, so an agent lives a while."""
    return fleet_factory(nodes=4, protocol='openbmc', base='127.39.0.1', password_style='random',
                         faults='node[001-004]=slow=1')


def test_no_password_in_argv_or_environment_of_the_agent_the_broker_starts(random_fleet, tmp_path):
    rundir = tmp_path / 'run'
    rundir.mkdir(mode=0o700)
    log = tmp_path / 'agent.log'
    env = dict(os.environ, XCAT_TABLES=random_fleet.tables_dir, XCAT_AGENT_RUNDIR=str(rundir),
               XCAT_AGENT_LOG=str(log), XCAT_BMC_CONNECT_TIMEOUT='5', XCAT_BMC_READ_TIMEOUT='10')
    runner = subprocess.Popen([RPOWER, 'node[001-004]', 'state'], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    secrets = secrets_of(random_fleet)
    try:
        deadline = time.monotonic() + 20
        while not (pids := agents_under(runner.pid)):
            assert runner.poll() is None and time.monotonic() < deadline, 'no agent under the runner'
            time.sleep(0.02)
        for pid in (runner.pid, *pids):
            assert leaks(read_proc(pid, 'cmdline'), secrets) == [], pid
            assert leaks(read_proc(pid, 'environ'), secrets) == [], pid
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(10)
    # the passwords did reach the agent (every login worked), through the socket only
    assert (runner.returncode, sorted(out.splitlines()), err) == (0, ['node%03d: off' % i for i in range(1, 5)], '')
    assert leaks(log.read_text(errors='replace'), secrets) == []


@pytest.mark.parametrize('protocol, base', [('openbmc', '127.40.0.1'), ('redfish', '127.41.0.1')])
def test_no_password_in_a_debug_log_or_any_frame_whatever_the_bmcs_do(fleet_factory, tmp_path, protocol, base):
    faulty = fleet_factory(nodes=6, protocol=protocol, base=base, password_style='random',
                           faults='node001=401 node002=badjson node003=reset node004=refuse')
    agent = AgentProcess(str(tmp_path), extra_args=['--log-level', 'DEBUG'])
    secrets = secrets_of(faulty)
    try:
        frames = []
        for command, args in (('rpower', ['state']), ('rpower', ['on']), ('rsetboot', ['net'])):
            reply = agent.request(command, args, faulty.nodeinfo, module=protocol,
                                  envs=dict(ENVS, debugmode=1, retry_delay=0.05), timeout=60)
            assert set(node_lines(reply)) == set(faulty.nodes)
            frames += reply
        log = agent.log()
    finally:
        agent.stop()
    # debug mode and the DEBUG level were on: there was something to leak
    assert any('[%s_debug] curl' % protocol in f['msg']['data'] for f in frames)
    assert ' DEBUG ' in log
    assert leaks(repr(frames), secrets) == []
    assert leaks(log, secrets) == []


def test_a_malformed_bmc_address_is_one_clear_line_and_no_secret(module_agent, fleet):
    """An address no URL can be built from is refused before any request, by name."""
    node = 'badaddr'
    info = dict(fleet.nodeinfo[fleet.nodes[0]], bmc='[::1', bmcip='[::1', password='Int3rnal-S3cret')
    nodeinfo = {node: info, fleet.nodes[1]: fleet.nodeinfo[fleet.nodes[1]]}
    mark = module_agent.log_size()
    frames = module_agent.request('rpower', ['state'], nodeinfo, envs=ENVS, timeout=30)
    assert node_lines(frames) == {node: "Error: Invalid request: BMC address '[::1' is not a host or host:port",
                                  fleet.nodes[1]: 'off'}
    log = module_agent.log(since=mark)
    assert 'Traceback' not in log
    assert 'Int3rnal-S3cret' not in log and 'Int3rnal-S3cret' not in repr(frames)
