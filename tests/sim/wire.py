"""Minimal HTTP/1.1 keep-alive server framing: request parsing and response building over gevent sockets.

Only what BMC clients send is supported: Content-Length bodies (no chunked uploads), keep-alive by
default on HTTP/1.1, ``Connection: close`` honoured.  Every response carries Content-Length.
"""

import json
from types import MappingProxyType

#: Largest request head (request line and headers) we accept, in bytes.
MAX_HEAD = 64 * 1024

#: Largest request body we accept, in bytes; BMC requests are tiny.
MAX_BODY = 1024 * 1024

#: Bytes asked from the socket per read (one TLS record at most; bigger buffers only cost allocations).
RECV_SIZE = 16384

#: Reason phrases for the status codes the fleet sends.
REASONS = MappingProxyType({
    100: 'Continue', 200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request',
    401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
    411: 'Length Required', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
    431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented',
    503: 'Service Unavailable',
})


class BadRequest(Exception):
    """The peer sent something we cannot frame; answer ``status`` and close."""

    def __init__(self, status, text):
        super().__init__(text)
        self.status = status
        self.text = text


class Request:
    """One parsed HTTP request.

    ``headers`` has lower-cased names; ``path`` is the target without its query string.
    """

    __slots__ = ('method', 'target', 'path', 'query', 'version', 'headers', 'body', 'keep_alive')

    def __init__(self, method, target, version, headers, body):
        self.method = method
        self.target = target
        path, _, self.query = target.partition('?')
        self.path = path
        self.version = version
        self.headers = headers
        self.body = body
        conn = headers.get('connection', '').lower()
        if version == 'HTTP/1.1':
            self.keep_alive = 'close' not in conn
        else:
            self.keep_alive = 'keep-alive' in conn

    def json(self):
        """Decode the body as JSON.

        :returns: the decoded value (``None`` for an empty body).
        :raises ValueError: when the body is not JSON.
        """
        if not self.body:
            return None
        return json.loads(self.body)


class Response:
    """One HTTP response: status, body bytes and extra ``(name, value)`` headers."""

    __slots__ = ('status', 'body', 'headers')

    def __init__(self, status, body=b'', headers=()):
        self.status = status
        self.body = body
        self.headers = headers


def json_response(status, obj, headers=()):
    """Build a JSON response.

    :param status: HTTP status code.
    :param obj: value to serialise.
    :param headers: extra ``(name, value)`` pairs.
    :returns: a :class:`Response`.
    """
    return Response(status, json.dumps(obj).encode(), headers)


def render_head(status, length, headers=(), close=False, content_type='application/json'):
    """Build the status line and headers of a response.

    :param status: HTTP status code.
    :param length: value of Content-Length.
    :param headers: extra ``(name, value)`` pairs.
    :param close: add ``Connection: close``.
    :param content_type: Content-Type value, or ``None`` for none.
    :returns: the head as bytes, ending with the blank line.
    """
    parts = ['HTTP/1.1 %d %s\r\n' % (status, REASONS.get(status, 'Unknown'))]
    if content_type and length:
        parts.append('Content-Type: %s\r\n' % content_type)
    parts.append('Content-Length: %d\r\n' % length)
    for name, value in headers:
        parts.append('%s: %s\r\n' % (name, value))
    if close:
        parts.append('Connection: close\r\n')
    parts.append('\r\n')
    return ''.join(parts).encode('latin-1')


def render(resp, close=False):
    """Serialise a whole :class:`Response` (head and body) to bytes.

    :param resp: the response.
    :param close: add ``Connection: close``.
    :returns: bytes ready for ``sendall``.
    """
    return render_head(resp.status, len(resp.body), resp.headers, close) + resp.body


class Connection:
    """Reads successive requests from one (TLS or plain) stream socket, keeping leftover bytes."""

    __slots__ = ('sock', 'buf')

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''

    def _fill(self):
        """Read more bytes into the buffer; return False on EOF."""
        data = self.sock.recv(RECV_SIZE)
        if not data:
            return False
        self.buf += data
        return True

    def read_request(self):
        """Read the next request.

        :returns: a :class:`Request`, or ``None`` on a clean EOF between requests.
        :raises BadRequest: on malformed or oversized input.
        :raises OSError: on socket errors and timeouts.
        """
        while True:
            # Tolerate stray CRLFs between pipelined requests (RFC 9112 section 2.2).
            if self.buf[:2] == b'\r\n':
                self.buf = self.buf.lstrip(b'\r\n')
            end = self.buf.find(b'\r\n\r\n')
            if end >= 0:
                break
            if len(self.buf) > MAX_HEAD:
                raise BadRequest(431, 'request head too large')
            if not self._fill():
                if self.buf:
                    raise BadRequest(400, 'connection closed inside a request head')
                return None
        head = self.buf[:end].decode('latin-1')
        self.buf = self.buf[end + 4:]
        lines = head.split('\r\n')
        request_line = lines[0].split(' ')
        if len(request_line) != 3 or not request_line[2].startswith('HTTP/'):
            raise BadRequest(400, 'malformed request line')
        method, target, version = request_line
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(':')
            if not sep:
                raise BadRequest(400, 'malformed header line')
            headers[name.strip().lower()] = value.strip()
        if 'transfer-encoding' in headers:
            raise BadRequest(411, 'only Content-Length bodies are supported')
        try:
            length = int(headers.get('content-length') or 0)
        except ValueError:
            raise BadRequest(400, 'bad Content-Length') from None
        if length < 0:
            raise BadRequest(400, 'bad Content-Length')
        if length > MAX_BODY:
            raise BadRequest(413, 'request body too large')
        if length and headers.get('expect', '').lower() == '100-continue':
            self.sock.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
        while len(self.buf) < length:
            if not self._fill():
                raise BadRequest(400, 'connection closed inside a request body')
        body = self.buf[:length]
        self.buf = self.buf[length:]
        return Request(method, target, version, headers, body)
