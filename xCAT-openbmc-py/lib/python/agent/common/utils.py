"""Wire codec shared by the server, client.py and the tests; the reply messager; log masking.

Framing (docs/xcat-facts.md#framing): a 4-byte C ``int`` length prefix in native byte
order (``struct`` format ``=i``: native order, standard 4-byte size, signed, as Perl's
``pack('i', N)`` on the supported platforms), then that many bytes of UTF-8 JSON. The
length counts bytes, never characters. A frame larger than ``MAX_FRAME`` is refused before
any of its body is read, so a garbage prefix cannot make us allocate gigabytes.
"""

import contextlib
import json
import re
import struct

from common.exceptions import FrameError

HEADER = struct.Struct('=i')

#: Largest frame accepted from a peer, in bytes (64 MiB). A request for 10,000 nodes is
#: about 2 MB; anything near this cap is garbage or an attack.
MAX_FRAME = 64 * 1024 * 1024

_READ_CHUNK = 256 * 1024

#: Keys whose values are secrets in any JSON, header set or form we log.
SECRET_KEYS = frozenset({'password', 'Password', 'passwd', 'token', 'X-Auth-Token',
                         'Cookie', 'Set-Cookie', 'Authorization', 'sid', 'session'})

MASK = 'xxxxxx'

#: Longest text of one output line, in characters; what a BMC says beyond it is cut.
MAX_LINE = 512

#: Characters that would break a line, move the cursor or reorder text on the admin's terminal:
#: C0 and C1 controls (LF, CR, ESC, BEL...), DEL, Unicode line and paragraph separators, and
#: the bidirectional overrides and isolates.
_UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]')

_VISIBLE = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}


def _visible(match):
    char = match.group()
    if char in _VISIBLE:
        return _VISIBLE[char]
    return '\\x%02x' % ord(char) if ord(char) < 0x100 else '\\u%04x' % ord(char)


def one_line(text, limit=MAX_LINE):
    """``text`` made safe to print as one line: controls shown as escapes, at most ``limit`` characters.

    ``"a\nb\x1b[2J"`` becomes ``a\\nb\\x1b[2J``: whatever a BMC puts into an error
    message, it can neither start a (forged) line of its own nor reach the terminal raw.
    """
    text = _UNSAFE.sub(_visible, text if isinstance(text, str) else str(text))
    if len(text) > limit:
        text = text[:limit - 3] + '...'
    return text


def encode_frame(obj):
    """Serialise ``obj`` to one frame: length prefix plus compact UTF-8 JSON.

    :param obj: a JSON-serialisable object.
    :returns: the frame as bytes.
    """
    body = json.dumps(obj, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
    return HEADER.pack(len(body)) + body


def recv_exact(sock, size):
    """Read exactly ``size`` bytes from a socket, looping over short reads.

    :raises FrameError: if the peer closes the connection first.
    """
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(min(size - len(buf), _READ_CHUNK))
        if not chunk:
            raise FrameError(detail='connection closed after %d of %d bytes' % (len(buf), size))
        buf += chunk
    return bytes(buf)


def decode_length(header, max_frame=MAX_FRAME):
    """Check a 4-byte prefix and return the body length it announces.

    :raises FrameError: for a negative length or one above ``max_frame``.
    """
    (size,) = HEADER.unpack(header)
    if size < 0 or size > max_frame:
        raise FrameError(detail='frame length %d outside 0..%d' % (size, max_frame))
    return size


def decode_body(body):
    """Decode one frame body (UTF-8 JSON) into an object.

    :raises FrameError: for bytes that are not UTF-8 or not JSON.
    """
    try:
        return json.loads(body.decode('utf-8'))
    except UnicodeDecodeError as exc:
        raise FrameError(detail='payload is not UTF-8 (%s)' % exc.reason)
    except ValueError as exc:
        raise FrameError(detail='payload is not JSON (%s)' % exc)


def recv_frame(sock, max_frame=MAX_FRAME):
    """Read one frame from ``sock`` and return its decoded JSON value.

    :returns: the object, or ``None`` on a clean EOF before any byte of a frame.
    :raises FrameError: on EOF mid-frame, a bad prefix, bad UTF-8 or bad JSON.
    """
    header = sock.recv(HEADER.size)
    if not header:
        return None
    while len(header) < HEADER.size:
        more = sock.recv(HEADER.size - len(header))
        if not more:
            raise FrameError(detail='connection closed after %d of %d bytes' % (len(header), HEADER.size))
        header += more
    size = decode_length(header, max_frame)
    return decode_body(recv_exact(sock, size))


_DIGITS = re.compile(r'(\d+)')


def natural_key(text):
    """Sort key of xCAT's natural order (docs/COMMANDS.md "Natural order").

    Runs of digits compare as integers, the runs between them as strings (code points);
    equal keys fall back to the raw text. ``P0 Core10 Temp`` sorts after ``P0 Core1 Temp``.
    The split always starts with a text run, so integers only ever meet integers.
    """
    parts = _DIGITS.split(text)
    parts[1::2] = map(int, parts[1::2])
    return parts, text


def sort_natural(lines):
    """:returns: a new list of ``lines`` in xCAT's natural order."""
    return sorted(lines, key=natural_key)


def value_text(value):
    """A BMC value as xCAT prints it (Python's ``%s``): ``True``, ``None``, ``[['a', 'b']]``."""
    return '%s' % (value,)


def sanitize(obj):
    """Return a copy of ``obj`` (dict, list or scalar) with secret values masked."""
    if isinstance(obj, dict):
        return {k: (MASK if k in SECRET_KEYS and v else sanitize(v)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [sanitize(v) for v in obj]
    return obj


class Messager:
    """Sends reply frames (docs/xcat-facts.md#replies) to the broker over one socket.

    Frames from concurrent greenlets never interleave: each frame goes out in one
    ``sendall`` under a lock. A peer that went away is remembered, and later sends are
    dropped instead of raising into every node's greenlet.
    """

    def __init__(self, sock, lock):
        """:param sock: a connected (gevent) socket.
        :param lock: a lock with ``with`` support, e.g. ``gevent.lock.BoundedSemaphore()``.
        """
        self._sock = sock
        self._lock = lock
        self.closed = False
        self.errors = 0
        #: frames waiting for the flusher greenlet while ``batching`` (None otherwise).
        self._pending = None
        self._flusher = None

    @contextlib.contextmanager
    def batching(self):
        """Frames sent meanwhile (by the node greenlets of a task) go out together: a greenlet
        spawned by the first one writes all those sent until it runs in one ``sendall``, in
        order. On the way out every frame is written, then frames go out one by one again."""
        if self._pending is not None:  # already batching (a task inside a task): one batch
            yield
            return
        import gevent  # noqa: PLC0415 (client.py shares this module without gevent)
        self._pending = []
        self._spawn = gevent.spawn
        try:
            yield
        finally:
            if self._flusher is not None:
                self._flusher.join()
            self._pending = None

    def _flush(self):
        try:
            while self._pending:
                data = b''.join(self._pending)
                self._pending.clear()
                self._write(data)
        finally:
            self._flusher = None

    def _send(self, frame):
        data = encode_frame(frame)
        if self._pending is not None:
            self._pending.append(data)
            if self._flusher is None:
                self._flusher = self._spawn(self._flush)
            return
        self._write(data)

    def _write(self, data):
        with self._lock:
            if self.closed:
                return
            try:
                self._sock.sendall(data)
            except OSError:
                self.closed = True

    def _message(self, kind, text, **extra):
        # NOTE: the one place every output line passes: what a BMC said (an error message,
        # a state word) may carry line breaks and terminal escapes; each frame is one line.
        msg = {'type': kind, 'data': one_line(text)}
        msg.update({key: one_line(value) for key, value in extra.items()})
        self._send({'type': 'message', 'msg': msg})

    def info(self, text, node=''):
        """An info line; ``text`` already carries the ``node: `` prefix.

        :param node: set on a node's final line only (the broker counts final lines by it,
            docs/DESIGN.md "Reply frames"); traces and progress notes leave it empty.
        """
        if node:
            self._message('info', text, node=node)
        else:
            self._message('info', text)

    def info_lines(self, texts, node=''):
        """Several info lines of one node in one frame (each ``node: ...``, each made one line).

        The only line breaks in the frame are the ones between ``texts``: what a BMC said
        inside one of them is escaped as in every other frame. ``node`` as for ``info``.
        """
        msg = {'type': 'info', 'data': '\n'.join(one_line(t) for t in texts)}
        if node:
            msg['node'] = one_line(node)
        self._send({'type': 'message', 'msg': msg})

    def warn(self, text):
        self._message('warning', text)

    def error(self, text, node=''):
        """An error; ``text`` has no node prefix, the node travels in its own field."""
        self.errors += 1
        self._message('error', text, node=node)

    def syslog(self, text):
        self._message('syslog', text)

    def control(self, kind, **fields):
        """A frame of the warm agent's handshake (``accepted``, ``outdated``; docs/DESIGN.md)."""
        frame = {'type': kind}
        frame.update(fields)
        self._send(frame)

    def alive(self, every):
        """An ``alive`` frame: sent every ``every`` seconds while a request that asked for them
        runs (the broker bounds the agent's silence by a few of them, docs/DESIGN.md)."""
        self._send({'type': 'alive', 'every': every})

    def update_node_attributes(self, attribute, node, value):
        """A db frame: set node attribute ``attribute`` (only ``status`` is used) to ``value``."""
        self._send({'type': 'db', 'attribute': {'name': attribute, 'method': 'set', 'type': 'node',
                                                'node': node, 'value': value}})
