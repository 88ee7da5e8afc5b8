"""The agent's one exception tree: every error an admin can see is one of these.

``str(e)`` is exactly the text printed after ``node: Error: ``. Each class has a
message template filled from keyword arguments when raised; nobody edits
``e.message`` afterwards.
"""


class AgentError(Exception):
    """Root of every error the agent reports to the admin."""

    _msg_fmt = 'Unexpected error'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        self.node = kwargs.get('node')
        if message is None:
            try:
                message = self._msg_fmt.format(**kwargs)
            except (KeyError, IndexError):
                message = self._msg_fmt
        self.message = message
        super().__init__(message)

    def __str__(self):
        return self.message


class InvalidRequest(AgentError):
    """Bad JSON, bad frame, unknown option or missing attribute: the admin must fix the input."""

    _msg_fmt = 'Invalid request: {detail}'


class FrameError(InvalidRequest):
    """A frame on the UNIX socket could not be read (short read, bad prefix, bad UTF-8/JSON)."""

    _msg_fmt = 'Bad frame: {detail}'


class Unsupported(AgentError):
    """The module, command or option is not implemented for this kind of BMC."""

    _msg_fmt = 'Unsupported command: {detail}'


class AgentStopped(AgentError):
    """The agent was told to stop (SIGTERM, SIGINT, the broker's lock released) before this node finished."""

    _msg_fmt = 'Stopped: the agent was told to stop before this node finished.'


class BmcError(AgentError):
    """Something went wrong talking to one node's BMC; always carries ``node``."""

    _msg_fmt = 'BMC error: {detail}'


class BmcUnreachable(BmcError):
    """No usable answer at the transport level after login: refused, reset, timeout, TLS.

    The admin should check the BMC's network, address and power. ``cause`` says
    which (``Connection refused``, ``read timeout after 30 s``, ...).
    """

    _msg_fmt = 'BMC did not respond. Validate BMC configuration and retry the command. ({cause})'


class BmcLoginUnreachable(BmcUnreachable):
    """Transport failure while logging in, worded as xCAT words it."""

    _msg_fmt = "Login to BMC failed: Can't connect to {host} ({cause})."


class BmcAuthError(BmcError):
    """The BMC refused the credentials (401/403 or login refused): fix username/password."""

    _msg_fmt = '[{status}] {bmc_message}'


class BmcHTTPError(BmcError):
    """The BMC answered with a non-success status other than an auth failure."""

    _msg_fmt = '[{status}] {bmc_message}'

    @property
    def status(self):
        return self.kwargs.get('status')

    @property
    def bmc_message(self):
        return self.kwargs.get('bmc_message')


class BmcBadResponse(BmcError):
    """The BMC answered something we cannot interpret (not JSON, missing keys, unknown value)."""

    _msg_fmt = 'Received wrong format response: {detail}'


class BmcLinkOutside(BmcBadResponse):
    """A link the BMC handed back points off its own origin; nothing was sent there.

    Worded as the bad response it is (``Location "..." points outside https://<bmc>``); a
    class of its own so that no fallback that tolerates a bad response swallows it.
    """


class BmcStateTimeout(BmcError):
    """A state change was requested but the node did not reach the state within the bound."""

    # NOTE: xCAT's words, space after "State=" included (admins' scripts match them);
    # xCAT also repeats "Error: " in front, which we do not.
    _msg_fmt = ('Sent {action} command but state did not change to {target} after waiting '
                '{seconds} seconds. (State= {state}).')


class DeadlineExceeded(BmcError):
    """The per-command deadline passed before this node finished."""

    _msg_fmt = 'Timed out: command did not finish within the {seconds} s deadline.'
