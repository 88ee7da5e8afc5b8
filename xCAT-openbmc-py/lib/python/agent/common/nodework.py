"""What executors and the task runner share: a node's result and the one poll loop.

Executors (``hwctl/executor``) return ``NodeResult`` and wait with ``wait_for``; the task
runner (``common/task.py``), the layer above them, turns results into lines. Both import
from here, so no executor imports the task runner.
"""

import dataclasses
import time
from typing import Optional

import gevent


@dataclasses.dataclass(frozen=True)
class NodeResult:
    """A node's result: one line or several, and optionally a node status or a closing error.

    Commands that print several lines per node (rinv, rvitals, reventlog) return ``lines``;
    they go out as one info frame (``node: <line>`` joined by newlines), so the admin sees
    the same lines as from one frame per line, at a fraction of the cost. When one call of
    several failed, ``error`` is the node's last line, after the lines that could be made.
    """

    #: the text after ``node: `` (ignored when ``lines`` is set).
    text: str = ''
    #: value for the node's ``status`` attribute (``powering-on``...), or None.
    status: Optional[str] = None
    #: several texts, each printed as ``node: <text>``; an ``AgentError`` among them is
    #: printed in its place as ``node: Error: <text>`` (reventlog's ``Invalid ID: <id>``).
    lines: tuple = ()
    #: an ``AgentError`` printed as ``node: Error: <text>`` after ``lines``.
    error: Optional[Exception] = None


def wait_for(check, *, timeout, interval):
    """Poll ``check()`` until it returns a truthy value or ``timeout`` seconds pass.

    The one poll loop of the agent: every wait for a BMC state goes through here.

    :param check: callable returning the polled value; exceptions propagate.
    :returns: ``(value, elapsed_seconds)``; ``value`` is the last, possibly falsy, value.
    """
    start = time.monotonic()
    while True:
        value = check()
        elapsed = time.monotonic() - start
        if value or elapsed >= timeout:
            return value, elapsed
        gevent.sleep(min(interval, max(timeout - elapsed, 0)))
