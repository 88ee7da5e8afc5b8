"""The wire codec: exact reads, big and non-ASCII payloads, EOF mid-frame, arbitrary bytes."""

import json
import socket
import struct
import threading

import pytest
from hypothesis import given, settings, strategies as st

from common.exceptions import FrameError
from common.utils import HEADER, MAX_FRAME, Messager, decode_body, decode_length, encode_frame, recv_frame


class DribbleSocket:
    """A socket stand-in whose recv returns at most ``step`` bytes at a time."""

    def __init__(self, data, step):
        self.data = data
        self.step = step

    def recv(self, size):
        chunk, self.data = self.data[:min(size, self.step)], self.data[min(size, self.step):]
        return chunk


@pytest.mark.parametrize('step', [1, 2, 3, 7, 4096])
def test_short_reads_reassemble_the_frame(step):
    obj = {'type': 'message', 'msg': {'type': 'info', 'data': 'node001: on'}}
    sock = DribbleSocket(encode_frame(obj) + encode_frame([1, 2]), step)
    assert recv_frame(sock) == obj
    assert recv_frame(sock) == [1, 2]
    assert recv_frame(sock) is None


def test_prefix_counts_utf8_bytes_not_characters():
    text = 'nœud-ünïcødé ☃ 节点'
    frame = encode_frame({'data': text})
    (size,) = HEADER.unpack(frame[:4])
    assert size == len(frame) - 4
    assert size > len(json.dumps({'data': text}, ensure_ascii=False))
    # a multibyte character split across two reads still decodes
    assert recv_frame(DribbleSocket(frame, 5)) == {'data': text}


def test_prefix_is_native_int_as_perl_pack_i():
    assert encode_frame({})[:4] == struct.pack('i', 2)


def test_five_megabyte_frame_over_a_real_socketpair():
    payload = {'data': 'x' * (5 * 1024 * 1024), 'tail': 'é'}
    left, right = socket.socketpair()
    sender = threading.Thread(target=left.sendall, args=(encode_frame(payload),))
    sender.start()
    try:
        right.settimeout(30)
        assert recv_frame(right) == payload
    finally:
        sender.join(30)
        left.close()
        right.close()


@pytest.mark.parametrize('cut', [1, 3, 4, 10])
def test_eof_mid_frame_is_an_error(cut):
    frame = encode_frame({'data': 'abcdefghijkl'})
    with pytest.raises(FrameError, match='connection closed'):
        recv_frame(DribbleSocket(frame[:cut], 64))


@pytest.mark.parametrize('size', [-1, -2 ** 31, MAX_FRAME + 1, 2 ** 31 - 1])
def test_negative_or_huge_prefix_is_refused_before_reading(size):
    with pytest.raises(FrameError, match='outside'):
        decode_length(struct.pack('=i', size))


def test_a_refused_prefix_reads_none_of_the_body():
    sock = DribbleSocket(struct.pack('=i', MAX_FRAME + 1) + b'x' * 100, 4096)
    with pytest.raises(FrameError, match='outside'):
        recv_frame(sock)
    assert sock.data == b'x' * 100


@pytest.mark.parametrize('body', [b'{"a": ', b'\xff\xfe', b'not json'])
def test_bad_body_is_a_frame_error(body):
    with pytest.raises(FrameError):
        decode_body(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decoder_on_arbitrary_bytes_returns_or_raises_frame_error(data):
    sock = DribbleSocket(data, 13)
    try:
        while recv_frame(sock, max_frame=1024) is not None:
            pass
    except FrameError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=20))
def test_round_trip_any_json_value(value):
    assert recv_frame(DribbleSocket(encode_frame(value), 11)) == value


def test_a_nodes_several_lines_keep_bmc_text_on_its_own_line():
    """info_lines joins a node's lines with line breaks; a break inside one of them is escaped."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        messager = Messager(ours, threading.Lock())
        messager.info_lines(['n1: Model: 8335', 'n1: Serial: X\nn2: off\x1b[2J'], node='n1')
        theirs.settimeout(5)
        frame = recv_frame(theirs)
    msg = frame['msg']
    assert msg['node'] == 'n1'
    assert msg['data'].split('\n') == ['n1: Model: 8335', 'n1: Serial: X\\nn2: off\\x1b[2J']


class CountingSocket:
    """A socket stand-in that records each ``sendall``."""

    def __init__(self):
        self.writes = []

    def sendall(self, data):
        self.writes.append(data)


def test_frames_sent_while_batching_go_out_in_one_write_in_order():
    """The node greenlets' lines of one loop pass are one write (Messager.batching); none is lost."""
    import gevent  # pylint: disable=import-outside-toplevel

    sock = CountingSocket()
    messager = Messager(sock, threading.Lock())
    with messager.batching():
        gevent.joinall([gevent.spawn(messager.info, 'n%d: on' % i, node='n%d' % i) for i in range(50)])
        assert len(sock.writes) == 1
        messager.info('n50: on', node='n50')
    messager.info('n51: on', node='n51')
    assert len(sock.writes) == 3
    data = b''.join(sock.writes)
    frames = []
    while data:
        frames.append(recv_frame(DribbleSocket(data, 4096)))
        data = data[HEADER.size + decode_length(data[:HEADER.size]):]
    assert [f['msg']['data'] for f in frames] == ['n%d: on' % i for i in range(52)]
