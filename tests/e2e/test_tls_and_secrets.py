"""TLS verification on and off, and secrets kept out of lines, logs, argv and readable files."""

import os
import stat
import subprocess

import pytest

from conftest import node_lines

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
    for node, line in lines.items():
        assert line == ("Error: Login to BMC failed: Can't connect to %s (certificate verify failed: "
                        "self-signed certificate)." % fleet.nodeinfo[node]['bmcip'])


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


def test_no_password_in_the_agents_argv(module_agent, fleet):
    with open('/proc/%d/cmdline' % module_agent.proc.pid, 'rb') as handle:
        argv = handle.read().decode()
    assert not any(info['password'] in argv for info in fleet.nodeinfo.values())
