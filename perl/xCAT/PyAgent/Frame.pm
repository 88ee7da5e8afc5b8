package xCAT::PyAgent::Frame;

=head1 NAME

xCAT::PyAgent::Frame - the frame codec between the broker and the xCAT Python agent

=head1 DESCRIPTION

A frame is C<pack('i', N)> (a native C int) followed by N bytes of UTF-8 JSON; N counts bytes
(docs/DESIGN.md, "Wire codec"). This module writes frames, reads them through a buffer, and
waits on a socket with a bound that survives signals. It holds no state of its own: a reader is
a hash the caller keeps.

=cut

use strict;
use warnings;

use Errno qw(EINTR EAGAIN EWOULDBLOCK);
use Exporter qw(import);
use JSON::PP ();
use Time::HiRes ();

our @EXPORT_OK = qw(encode_frame wait_io write_all frame_reader read_frame MAX_FRAME);

use constant {
    # Size of the length prefix: a native C int.
    HEADER_SIZE => length(pack('i', 0)),

    # Largest reply frame accepted, as the agent's common/utils.py MAX_FRAME (64 MiB).
    MAX_FRAME => 64 * 1024 * 1024,

    # Largest single sysread/syswrite.
    IO_CHUNK => 1024 * 1024,
};

=head3 encode_frame($obj)

Returns the frame for C<$obj> as a byte string.

=cut

sub encode_frame {
    my ($obj) = @_;
    my $bytes = JSON::PP->new->utf8->encode($obj);
    return pack('i', length $bytes) . $bytes;
}

=head3 wait_io($fh, $mode, $timeout)

Waits until C<$fh> can be read (C<$mode> C<r>) or written (C<w>), at most C<$timeout> seconds
(0 = no bound). A signal (EINTR) resumes the wait for the time left; only the return value of
C<select> tells an error from a timeout, never a C<$!> left over from earlier.
Returns C<('ready')>, C<('timeout')> or C<('error', $reason)>.

=cut

sub wait_io {
    my ($fh, $mode, $timeout) = @_;
    my $bits = '';
    vec($bits, fileno($fh), 1) = 1;
    my $ends = $timeout > 0 ? Time::HiRes::time() + $timeout : undef;
    while (1) {
        my $left;
        if (defined $ends) {
            $left = $ends - Time::HiRes::time();
            return ('timeout') if $left <= 0;
        }
        my ($rbits, $wbits) = $mode eq 'w' ? (undef, $bits) : ($bits, undef);
        my $n = select($rbits, $wbits, undef, $left);
        return ('ready') if $n > 0;
        next if $n == 0;    # the time is up (checked above) or a spurious wake-up
        next if $! == EINTR;    # select failed just now, so $! is its errno
        return ('error', "$!");
    }
}

=head3 write_all($fh, $bytes, $timeout)

Writes all of C<$bytes>, looping over short writes; C<$timeout> bounds each wait for the peer
to accept more (0 = none). Returns C<(1)> or C<(0, $reason)>.

=cut

sub write_all {
    my ($fh, $bytes, $timeout) = @_;
    my ($off, $len) = (0, length $bytes);
    while ($off < $len) {
        my ($ready, $why) = wait_io($fh, 'w', $timeout);
        return (0, "no progress within $timeout s") if $ready eq 'timeout';
        return (0, $why) if $ready ne 'ready';
        my $n = syswrite($fh, $bytes, _min(IO_CHUNK, $len - $off), $off);
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
            return (0, "$!");
        }
        $off += $n;
    }
    return (1);
}

=head3 frame_reader($fh)

A buffered reader of reply frames on C<$fh>, for C<read_frame>. It reads what the socket holds
(up to C<IO_CHUNK> at a time) rather than a prefix and then a body, so a burst of small frames
costs one C<select> and one C<sysread>, not four syscalls per frame.

=cut

sub frame_reader {
    my ($fh) = @_;
    return { fh => $fh, buf => '', off => 0 };
}

=head3 read_frame($reader, $timeout, $max)

Reads one whole frame through a C<frame_reader>. Returns C<($status, $data)>:
C<frame> with the body bytes; C<eof> at a clean end of stream before any byte of a frame;
C<truncated> when the stream ends inside a frame; C<badlength> with a description when the
prefix is negative or above C<$max> (default 64 MiB), before its body is read; C<timeout> when
nothing arrives for C<$timeout> seconds (0 = no bound); C<error> with the reason.

=cut

sub read_frame {
    my ($reader, $timeout, $max) = @_;
    $max //= MAX_FRAME;
    my $fh = $reader->{fh};
    while (1) {
        my ($size, $problem) = _buffered_size($reader, $max);
        return ('badlength', $problem) if defined $problem;
        if (defined $size && length($reader->{buf}) - $reader->{off} >= HEADER_SIZE + $size) {
            my $body = substr($reader->{buf}, $reader->{off} + HEADER_SIZE, $size);
            $reader->{off} += HEADER_SIZE + $size;
            if ($reader->{off} == length $reader->{buf}) {
                $reader->{buf} = '';
                $reader->{off} = 0;
            }
            return ('frame', $body);
        }
        if ($reader->{off}) {    # keep only the unread part before reading more
            substr($reader->{buf}, 0, $reader->{off}, '');
            $reader->{off} = 0;
        }
        my ($ready, $why) = wait_io($fh, 'r', $timeout);
        return ('timeout') if $ready eq 'timeout';
        return ('error', $why) if $ready ne 'ready';
        my $n = sysread($fh, $reader->{buf}, IO_CHUNK, length $reader->{buf});
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
            return ('error', "$!");
        }
        return (length $reader->{buf} ? 'truncated' : 'eof') if $n == 0;
    }
}

# The body length announced by the buffered prefix: (size) or (undef, problem), or () when the
# prefix has not arrived yet.
sub _buffered_size {
    my ($reader, $max) = @_;
    return () if length($reader->{buf}) - $reader->{off} < HEADER_SIZE;
    my $size = unpack('i', substr($reader->{buf}, $reader->{off}, HEADER_SIZE));
    return (undef, "frame length $size outside 0..$max") if $size < 0 || $size > $max;
    return ($size);
}

sub _min { return $_[0] < $_[1] ? $_[0] : $_[1] }
1;
