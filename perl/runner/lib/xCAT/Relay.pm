package xCAT::Relay;

=head1 NAME

xCAT::Relay - the runner's model of how xcatd relays a plugin's output

=head1 SYNOPSIS

  XCAT_RUNNER_RELAY=xcatd perl/bin/rpower NODERANGE state

=head1 DESCRIPTION

Under xcatd a plugin's C<process_request> runs in a process of its own, and each call of its
callback becomes one message on a socket pair to xcatd (docs/DESIGN.md, "Output to xcatd"). xcatd's
loop reads at most one message per ready socket per pass; it ends as soon as the plugin's process
has been reaped, after one single extra pass, and the messages still queued then are dropped.
C<run> does exactly that, so a plugin that hands xcatd too many messages too late loses lines in
our tests as it would in a cluster.

Messages are C<Storable> images with a length prefix, read with exact-length reads, so the
socket's readiness is the queue's (nothing waits in a user-space buffer).

With C<XCAT_RUNNER_RELAY_STATS> naming a file, C<run> appends one line per relayed request:
C<messages=N delivered=D dropped=X>.

=cut

use strict;
use warnings;

use IO::Select;
use POSIX qw(WNOHANG);
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC);
use Storable qw(nfreeze thaw);

use constant {
    # Longest wait of one pass for a ready socket, in seconds.
    PASS_WAIT => 0.05,
    # What relaying one message costs xcatd (writing it to the client, its command log), in
    # seconds: without it the model could keep pace with a plugin that a busy machine slows
    # down, and lose nothing where xcatd loses lines. A batched plugin sends a few dozen
    # messages, so this costs it milliseconds.
    PASS_COST => 0.001,
    # Bound on the plugin's process after a signal was passed on to it, then SIGKILL.
    SIGNAL_GRACE => 30,
};

=head3 enabled()

True when C<XCAT_RUNNER_RELAY=xcatd>.

=cut

sub enabled { return (($ENV{XCAT_RUNNER_RELAY} // '') eq 'xcatd') }

=head3 run($code, $callback)

Runs C<< $code->($plugin_callback) >> in a child process, as xcatd runs C<process_request>, and
relays the messages to C<$callback> by xcatd's rules. INT, TERM and HUP that reach the runner
meanwhile are passed on to the child (SIGKILL if it has not ended 30 s later). Returns the
child's wait status and the first such signal, for the caller to act on once the child is gone.

=cut

sub run {
    my ($code, $callback) = @_;
    socketpair(my $mine, my $theirs, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die "socketpair: $!\n";
    # The handlers are in place before the fork: a signal can never end the runner while the
    # plugin's process still works in the runner's directories.
    my $sig = { parent => $$ };
    local $SIG{INT}  = sub { _pass_on($sig, 'INT') };
    local $SIG{TERM} = sub { _pass_on($sig, 'TERM') };
    local $SIG{HUP}  = sub { _pass_on($sig, 'HUP') };
    STDOUT->flush;
    STDERR->flush;
    # Blocked across the fork: the child takes its own dispositions before any can reach it,
    # and the parent knows the child before it passes one on.
    my $mask = POSIX::SigSet->new(POSIX::SIGINT(), POSIX::SIGTERM(), POSIX::SIGHUP());
    my $old = POSIX::SigSet->new;
    POSIX::sigprocmask(POSIX::SIG_BLOCK(), $mask, $old);
    my $pid = fork;
    if (defined $pid && $pid == 0) {
        close $mine;
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP ALRM);
        POSIX::sigprocmask(POSIX::SIG_SETMASK(), $old);
        _child($code, $theirs);
    }
    $sig->{pid} = $pid;
    POSIX::sigprocmask(POSIX::SIG_SETMASK(), $old);
    die "fork: $!\n" unless defined $pid;
    close $theirs;
    _pass_on($sig, $sig->{got}) if defined $sig->{got};
    my ($status, $counts) = _relay($pid, $mine, $callback, $sig);
    close $mine;
    _stats($counts);
    return ($status, $sig->{got});
}

# A signal that reaches the runner while the plugin's process runs: recorded, passed on to it.
sub _pass_on {
    my ($sig, $name) = @_;
    return unless $$ == $sig->{parent};    # the child, before it set its own dispositions
    $sig->{got} //= $name;
    return unless $sig->{pid};
    kill($name, $sig->{pid});
    $sig->{kill_at} //= time + SIGNAL_GRACE;
    return;
}

# The plugin's process: each callback call is one message; then exit without the parent's END
# blocks. Signals at their default disposition.
sub _child {
    my ($code, $sock) = @_;
    $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP ALRM);
    my $send = sub {
        my $image = nfreeze($_[0]);
        my $bytes = pack('N', length $image) . $image;
        my $off = 0;
        while ($off < length $bytes) {
            my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
            if (!defined $n) {
                next if $!{EINTR};
                POSIX::_exit(1);
            }
            $off += $n;
        }
    };
    my $ok = eval { $code->($send); 1 };
    print STDERR "plugin process: $@" unless $ok;
    STDOUT->flush;
    STDERR->flush;
    POSIX::_exit($ok ? 0 : 1);
}

# xcatd's loop. Returns (wait status, {messages, delivered, dropped}).
sub _relay {
    my ($pid, $sock, $callback, $sig) = @_;
    my %counts = (delivered => 0, dropped => 0);
    my ($status, $reaped);
    my $select = IO::Select->new($sock);
    while (1) {
        for my $fh ($select->can_read(PASS_WAIT)) {    # one message per ready socket per pass
            my $msg = _read_message($fh);
            if (!defined $msg) {
                $select->remove($fh);
                next;
            }
            $counts{delivered}++;
            $callback->($msg);
            select(undef, undef, undef, PASS_COST);
        }
        last if $reaped;    # the single extra pass after the reap is done
        my $got = waitpid($pid, WNOHANG);
        if ($got == $pid || $got < 0) {
            $status = $got == $pid ? $? : 0;
            $reaped = 1;
        } elsif (defined $sig->{kill_at} && time > $sig->{kill_at}) {
            kill('KILL', $pid);
        }
    }
    # What is still queued is dropped; counted for the stats only.
    $sock->blocking(0);
    $counts{dropped}++ while defined _read_message($sock, 1);
    $counts{messages} = $counts{delivered} + $counts{dropped};
    return ($status, \%counts);
}

# One message, or undef at the end of the stream (or, with $nowait, when none is queued).
sub _read_message {
    my ($fh, $nowait) = @_;
    my $head = _read_exact($fh, 4, $nowait);
    return undef unless defined $head;
    my $body = _read_exact($fh, unpack('N', $head), 0);
    return undef unless defined $body;
    return thaw($body);
}

sub _read_exact {
    my ($fh, $size, $nowait) = @_;
    my $buf = '';
    while (length $buf < $size) {
        my $n = sysread($fh, $buf, $size - length $buf, length $buf);
        if (!defined $n) {
            return undef if $nowait && !length $buf && ($!{EAGAIN} || $!{EWOULDBLOCK});
            if ($!{EINTR} || $!{EAGAIN} || $!{EWOULDBLOCK}) {
                IO::Select->new($fh)->can_read(1) if $!{EAGAIN} || $!{EWOULDBLOCK};
                next;
            }
            return undef;
        }
        return undef if $n == 0;
    }
    return $buf;
}

sub _stats {
    my ($counts) = @_;
    my $file = $ENV{XCAT_RUNNER_RELAY_STATS};
    return unless defined $file && length $file;
    open(my $fh, '>>', $file) or return;
    print {$fh} "messages=$counts->{messages} delivered=$counts->{delivered} dropped=$counts->{dropped}\n";
    close $fh;
    return;
}

1;
