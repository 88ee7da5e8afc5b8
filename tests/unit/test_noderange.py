"""The one Python noderange expander (common/noderange.py), as client.py and the fleet use it."""

import json

import pytest

import client
from common.noderange import parse_noderange
from sim import noderange as sim_noderange


def test_the_fleet_and_the_client_use_the_same_expander():
    assert sim_noderange.parse_noderange is parse_noderange


@pytest.mark.parametrize('spec, expected', [
    ('n1,n2', ['n1', 'n2']),
    ('node[01-03]', ['node01', 'node02', 'node03']),
    ('node[1,3,5-6]', ['node1', 'node3', 'node5', 'node6']),
    ('r1n[1-2]x,r1n2x', ['r1n1x', 'r1n2x']),
    ('c001-c003', ['c001', 'c002', 'c003']),
])
def test_client_expands_its_nodes_argument(tmp_path, capsys, spec, expected):
    # no agent: every node is missing from an empty inventory, and client.py names each one it expanded
    info = tmp_path / 'nodeinfo.json'
    info.write_text(json.dumps({}))
    assert client.main(['--sock', str(tmp_path / 'none.sock'), '--nodeinfo', str(info), 'rpower', spec,
                        'state']) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ['%s: Error: not in %s' % (node, info) for node in expected]


@pytest.mark.parametrize('spec', ['node[3-1]', 'node[1-', 'node003-node001', ','])
def test_client_rejects_a_malformed_noderange_with_one_line(tmp_path, capsys, spec):
    info = tmp_path / 'nodeinfo.json'
    info.write_text(json.dumps({}))
    assert client.main(['--sock', str(tmp_path / 'none.sock'), '--nodeinfo', str(info), 'rpower', spec,
                        'state']) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith('Error: ')
