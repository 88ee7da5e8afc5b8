"""The agent's socket appears only once it accepts connections (docs/DESIGN.md)."""

import os
import socket
import stat

import pytest

from xcatagent.server import AgentServer


@pytest.fixture
def watched_listen(monkeypatch):
    """Record, at each ``listen()``, what is at the watched path: ``none``, ``socket`` or ``file``."""
    seen = []
    real = socket.socket.listen

    def listen(sock, *args):
        try:
            mode = os.stat(watched_listen.path).st_mode
        except FileNotFoundError:
            seen.append('none')
        else:
            seen.append('socket' if stat.S_ISSOCK(mode) else 'file')
        return real(sock, *args)

    monkeypatch.setattr(socket.socket, 'listen', listen)
    watched_listen.seen = seen
    return watched_listen


def test_the_socket_path_appears_only_once_it_listens(tmp_path, watched_listen):
    path = watched_listen.path = str(tmp_path / 'agent.sock')
    listener = AgentServer(path)._listen()
    try:
        # the path did not exist yet while the socket was not listening
        assert watched_listen.seen == ['none']
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert os.stat(path).st_mode & 0o077 == 0
        assert os.listdir(str(tmp_path)) == ['agent.sock']
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as peer:
            peer.connect(path)
    finally:
        listener.close()


def test_a_stale_file_at_the_path_is_replaced_only_by_a_listening_socket(tmp_path, watched_listen):
    path = watched_listen.path = str(tmp_path / 'agent.sock')
    with open(path, 'w') as stale:
        stale.write('stale')
    listener = AgentServer(path)._listen()
    try:
        # the stale file stays until the new socket listens, then the rename replaces it
        assert watched_listen.seen == ['file']
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert os.listdir(str(tmp_path)) == ['agent.sock']
    finally:
        listener.close()


def test_a_socket_path_at_the_length_limit_still_works(tmp_path, watched_listen):
    """The broker's private directories make long paths: the temporary name must fit too."""
    base = str(tmp_path)
    room = 107 - len(base) - len('/agent.sock') - 1
    longdir = os.path.join(base, 'd' * room)
    os.mkdir(longdir)
    path = watched_listen.path = os.path.join(longdir, 'agent.sock')
    assert len(path) == 107
    listener = AgentServer(path)._listen()
    try:
        assert watched_listen.seen == ['none']
        assert os.listdir(longdir) == ['agent.sock']
    finally:
        listener.close()
