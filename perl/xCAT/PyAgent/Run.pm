package xCAT::PyAgent::Run;

=head1 NAME

xCAT::PyAgent::Run - one agent process, its private directory, lock and socket (a guard)

=head1 DESCRIPTION

Created per request by C<xCAT::PyAgent::run_agent>. C<cleanup> (also run by C<DESTROY>) stops
and reaps the agent if it still runs and removes the socket, the lock file and the private
directory. It does nothing in a forked child, so a child that fails to exec cannot remove the
parent's files.

=cut

use strict;
use warnings;

use Digest::SHA ();
use Fcntl qw(:flock O_WRONLY O_APPEND O_CREAT O_EXCL);
use File::Basename ();
use File::Find ();
use File::Path qw(make_path remove_tree);
use IO::Handle;
use IO::Socket::UNIX;
use POSIX qw(WNOHANG);
use Socket qw(SOCK_STREAM);
use Time::HiRes ();

use constant {
    # xCAT's words when the agent does not start (docs/DESIGN.md).
    START_FAILED => 'Failed to start the xCAT Python agent.',

    # Bound on waiting for the agent to listen, and the polling step.
    CONNECT_WAIT => 10,
    CONNECT_POLL => 0.05,

    # Bound on the agent's exit after SIGTERM: on TERM it logs out every BMC session it holds
    # (a few seconds at most, docs/DESIGN.md "Bounds"), so it gets this long before SIGKILL.
    STOP_GRACE => 10,
    # Bound on the exit after SIGKILL, and on a child whose exec failed.
    KILL_WAIT => 2,

    # The warm agent's directory under XCAT_AGENT_RUNDIR (mode 0700), and the bound on a running
    # warm agent's first answer to a request (docs/DESIGN.md, "Warm agent").
    WARM_DIR         => 'warm',
    WARM_ANSWER_WAIT => 3,
};

=head3 new($class, \%settings)

C<%settings> as returned by C<xCAT::PyAgent::agent_settings>. Nothing is created yet.

=cut

sub new {
    my ($class, $settings) = @_;
    return bless { settings => $settings, owner => $$, pid => undef, status => undef, hold => 0 }, $class;
}

=head3 signal_handler($self, $name)

A C<%SIG> handler for the run: it records the first signal in C<< $self->{signal} >> and, unless
signals are held, dies once with words (C<stopped by SIGINT>) so the run unwinds to its cleanup.
Every later signal, and every signal while held, is only recorded: a handler never dies inside
C<start>'s critical part or inside C<cleanup>.

=cut

sub signal_handler {
    my ($self, $name) = @_;
    return sub {
        $self->{signal} //= $name;
        # Inside the compiler a die would be lost or end as a compile error: stop_if_signalled
        # acts on it at the next step instead.
        return if $self->{hold} || !defined $^S;
        $self->{hold} = 1;
        die "stopped by SIG$name\n";
    };
}

=head3 stop_if_signalled($self)

Dies with words, once, when a signal was recorded and signals are not held. Called between the
steps of the run.

=cut

sub stop_if_signalled {
    my ($self) = @_;
    return if $self->{hold} || !defined $self->{signal};
    $self->{hold} = 1;
    die "stopped by SIG$self->{signal}\n";
}

=head3 hold_signals($self)

From now on the handlers of C<signal_handler> only record signals.

=cut

sub hold_signals {
    my ($self) = @_;
    $self->{hold} = 1;
    return;
}

# Ends a held part: a signal recorded meanwhile now stops the run.
sub _release_signals {
    my ($self) = @_;
    $self->{hold} = 0;
    $self->stop_if_signalled;
    return;
}

=head3 start($self)

Makes the private directory (mode 0700, name C<agent.E<lt>pidE<gt>.E<lt>randomE<gt>>) under
XCAT_AGENT_RUNDIR, takes the lock the agent's watchdog waits for (a file of mode 0600), and forks
and execs the agent in list form with umask 077 (its socket is then 0700 too) and its stdout and
stderr appended to XCAT_AGENT_LOG. A failed exec is reported back through a close-on-exec pipe.
Returns undef on success or the problem message, which starts with xCAT's
C<Failed to start the xCAT Python agent.> and says why.

=cut

sub start {
    my ($self) = @_;
    # Signals wait until the directory, the lock and the child are recorded for cleanup.
    my $held = $self->{hold};
    $self->{hold} = 1;
    my $problem = $self->_start;
    $self->_release_signals unless $held;
    return $problem;
}

sub _start {
    my ($self) = @_;
    my $s = $self->{settings};
    my $agent = $s->{agent};

    my $dir = $self->_make_private_dir;
    return _failed("cannot create a private directory in $s->{rundir}: $self->{dir_error}") unless $dir;
    $self->{sockpath} = "$dir/agent.sock";
    $self->{lockpath} = "$dir/agent.lock";
    return _failed("socket path $self->{sockpath} is too long") if length $self->{sockpath} > 100;

    sysopen(my $lock, $self->{lockpath}, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, 0600)
      or return _failed("cannot create $self->{lockpath}: $!");
    chmod(0600, $self->{lockpath});
    flock($lock, LOCK_EX | LOCK_NB) or return _failed("cannot lock $self->{lockpath}: $!");
    $self->{lockfh} = $lock;

    my $logdir = $s->{log} =~ m{^(.*)/[^/]+$} ? $1 : '';
    if (length $logdir && !-d $logdir) {
        eval { make_path($logdir) };
        return _failed("cannot create the log directory $logdir") unless -d $logdir;
    }

    my @argv = ($agent, '--sock', $self->{sockpath}, '--lockfile', $self->{lockpath});
    unshift @argv, $s->{python} if defined $s->{python};

    pipe(my $report_r, my $report_w) or return _failed("pipe: $!");
    STDOUT->flush;
    STDERR->flush;
    my $pid = fork;
    return _failed("fork: $!") unless defined $pid;
    if ($pid == 0) {
        close $report_r;
        eval {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP CHLD PIPE);
            _exec_agent($s->{log}, @argv);
        };
        _report_and_exit($report_w, $@);
    }
    close $report_w;
    $self->{pid} = $pid;
    my $why = _read_report($report_r);
    if (length $why) {
        $self->reap(KILL_WAIT) or $self->stop;
        return _failed($why);
    }
    return undef;
}

# xCAT's start failure sentence followed by the reason, as one sentence of its own.
sub _failed {
    my ($why) = @_;
    return START_FAILED . ' ' . ucfirst($why) . ($why =~ /[.!?]\z/ ? '' : '.');
}

sub _make_private_dir {
    my ($self) = @_;
    my $rundir = $self->{settings}->{rundir};
    unless (-d $rundir) {
        eval { make_path($rundir, { mode => 0755 }) };
        unless (-d $rundir) {
            $self->{dir_error} = 'it does not exist and cannot be created';
            return undef;
        }
    }
    # File::Temp makes the directory with mode 0700 and an unused random name; removing it is
    # ours (cleanup), not File::Temp's, so a forked child never removes it.
    # Loaded here: a command served by the warm agent makes no directory of its own.
    my $dir = eval { require File::Temp; File::Temp::tempdir("agent.$$.XXXXXXXX", DIR => $rundir, CLEANUP => 0) };
    unless (defined $dir && -d $dir) {
        my $why = $@ || 'unknown error';
        $why =~ s/\s+at \S+ line \d+.*//s;
        $self->{dir_error} = $why;
        return undef;
    }
    chmod(0700, $dir);
    $self->{dir} = $dir;
    return $dir;
}

=head3 agent_stamp($agent_file)

The stamp of the agent's files: their paths under the agent's directory, sizes and mtimes in
whole seconds, hashed; the agent computes the same (C<xcatagent/server.py:agent_stamp>). A warm
agent whose stamp is not ours is outdated: it drains and exits, and we start the new one.

=cut

sub agent_stamp {
    my ($agent) = @_;
    my $dir = File::Basename::dirname($agent);
    my @lines;
    return '' unless -d $dir;
    File::Find::find({ no_chdir => 1, wanted => sub {
        my $name = $File::Find::name;
        if (-d $name) {
            $File::Find::prune = 1 if $name ne $dir && File::Basename::basename($name) =~ /\A(?:\.|__)/;
            return;
        }
        return unless $name =~ /\.py\z/;
        my @st = stat($name) or return;
        push @lines, substr($name, length($dir) + 1) . ":$st[7]:$st[9]\n";
    } }, $dir);
    return Digest::SHA::sha1_hex(join '', sort @lines);
}

=head3 start_warm($self)

Connects to the warm agent's socket (C<XCAT_AGENT_RUNDIR/warm/agent.sock>, in a directory of
mode 0700 that must belong to us). When none answers, starts one, one broker at a time: under an
exclusive C<flock> of C<warm/start.lock> it tries once more (another broker may have just
started it), else forks the agent with C<--idle XCAT_AGENT_IDLE>, detached (a session of its
own, C<setsid>, and not our child: xcatd's signals to the plugin's process group and our exit
never reach it), and waits for its socket, all within C<CONNECT_WAIT>. Returns
C<(undef, $socket)> (non-blocking) or C<($why)>: then the caller runs a one-shot agent.

=cut

sub start_warm {
    my ($self) = @_;
    my $s = $self->{settings};
    my $dir = "$s->{rundir}/" . WARM_DIR;
    unless (-d $s->{rundir}) { eval { make_path($s->{rundir}, { mode => 0755 }) } }
    mkdir($dir, 0700);
    my @st = lstat($dir);
    return ("cannot create $dir: $!") unless @st && -d _;
    return ("$dir must be a directory of uid $> that only its owner can enter") if $st[4] != $> || ($st[2] & 077);
    my $path = "$dir/agent.sock";
    return ("socket path $path is too long") if length $path > 100;
    $self->{warm_sockpath} = $path;

    my $sock = _try_connect($path);
    return (undef, $sock) if $sock;

    sysopen(my $lock, "$dir/start.lock", O_WRONLY | O_CREAT, 0600) or return ("cannot open $dir/start.lock: $!");
    my $deadline = Time::HiRes::time() + CONNECT_WAIT;
    until (flock($lock, LOCK_EX | LOCK_NB)) {
        return ("another broker held $dir/start.lock for " . CONNECT_WAIT . ' s') if Time::HiRes::time() >= $deadline;
        $self->stop_if_signalled;
        Time::HiRes::sleep(CONNECT_POLL);
    }
    $sock = _try_connect($path);
    unless ($sock) {
        my $problem = $self->_spawn_warm($path);
        return ($problem) if defined $problem;
        until ($sock = _try_connect($path)) {
            return ("no warm agent listened on $path within " . CONNECT_WAIT . ' s') if Time::HiRes::time() >= $deadline;
            $self->stop_if_signalled;
            Time::HiRes::sleep(CONNECT_POLL);
        }
    }
    close $lock;
    return (undef, $sock);
}

# A non-blocking connection to a UNIX socket, or undef. Bounded: a hung agent's full backlog would
# otherwise block the connect.
sub _try_connect {
    my ($path) = @_;
    return undef unless -S $path;
    my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path, Timeout => WARM_ANSWER_WAIT) or return undef;
    $sock->blocking(0);
    return $sock;
}

# Forks the warm agent through an intermediate child that calls setsid and exits at once (so the
# agent is nobody's child here); a failed exec is reported back as in _start.
sub _spawn_warm {
    my ($self, $path) = @_;
    my $s = $self->{settings};
    my $logdir = $s->{log} =~ m{^(.*)/[^/]+$} ? $1 : '';
    if (length $logdir && !-d $logdir) {
        eval { make_path($logdir) };
        return "cannot create the log directory $logdir" unless -d $logdir;
    }
    my @argv = ($s->{agent}, '--sock', $path, '--idle', $s->{idle});
    unshift @argv, $s->{python} if defined $s->{python};
    pipe(my $report_r, my $report_w) or return "pipe: $!";
    STDOUT->flush;
    STDERR->flush;
    my $held = $self->{hold};
    $self->{hold} = 1;
    my $pid = fork;
    unless (defined $pid) {
        $self->_release_signals unless $held;
        return "fork: $!";
    }
    if ($pid == 0) {
        close $report_r;
        eval {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP CHLD PIPE);
            POSIX::setsid() or die "setsid: $!\n";
            my $agent_pid = fork;
            die "fork: $!\n" unless defined $agent_pid;
            POSIX::_exit(0) if $agent_pid;
            chdir('/');
            _exec_agent($s->{log}, @argv);
        };
        _report_and_exit($report_w, $@);
    }
    close $report_w;
    waitpid($pid, 0);
    $self->_release_signals unless $held;
    my $why = _read_report($report_r);
    return length $why ? "cannot start the warm agent: $why" : undef;
}

=head3 use_warm($self, $sock)

The run goes through the warm agent on C<$sock>: C<stop> and C<cleanup> only close our
connection (the agent then cancels our request and logs its sessions out), never the agent.

=cut

sub use_warm {
    my ($self, $sock) = @_;
    $self->{sock} = $sock;
    $self->{warm} = 1;
    return;
}

=head3 connect_agent($self, $label)

Connects to the agent's socket, polling every 0.05 s for up to 10 s, and gives up at once if the
agent has already exited. Returns C<(undef, $socket)> (non-blocking) or C<($problem)>.

=cut

sub connect_agent {
    my ($self, $label) = @_;
    my $deadline = Time::HiRes::time() + CONNECT_WAIT;
    while (1) {
        $self->stop_if_signalled;
        my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $self->{sockpath});
        if ($sock) {
            $sock->blocking(0);
            $self->{sock} = $sock;
            return (undef, $sock);
        }
        if ($self->reap(0)) {
            return ("Agent exited unexpectedly.  See $self->{settings}->{log} for details.");
        }
        if (Time::HiRes::time() >= $deadline) {
            $self->stop;
            return ("$label management is using a Python framework. An error has occurred when trying "
                  . "to create socket $self->{sockpath}.");
        }
        Time::HiRes::sleep(CONNECT_POLL);
    }
}

=head3 reap($self, $seconds)

Waits up to C<$seconds> (polling) for the agent to exit and records its wait status in
C<< $self->{status} >>. Returns true once the agent is reaped (or there is none).

=cut

sub reap {
    my ($self, $seconds) = @_;
    return 1 unless $self->{pid};
    return 1 if defined $self->{status};
    my $deadline = Time::HiRes::time() + $seconds;
    while (1) {
        my $got = waitpid($self->{pid}, WNOHANG);
        if ($got == $self->{pid}) {
            $self->{status} = $?;
            return 1;
        }
        if ($got < 0) {    # reaped elsewhere; the status is unknown
            $self->{status} = 0;
            return 1;
        }
        return 0 if Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.05);
    }
}

=head3 stop($self)

Ends the agent if it still runs: SIGTERM, then SIGKILL if it has not exited within
C<STOP_GRACE> (8 s, room for its logouts), and reaps it (at most C<KILL_WAIT> more).

=cut

sub stop {
    my ($self) = @_;
    $self->close_socket;
    return if !$self->{pid} || $self->reap(0);
    kill('TERM', $self->{pid});
    return if $self->reap(STOP_GRACE);
    kill('KILL', $self->{pid});
    $self->reap(KILL_WAIT);
    return;
}

=head3 close_socket($self)

Closes the connection to the agent if it is open.

=cut

sub close_socket {
    my ($self) = @_;
    close(delete $self->{sock}) if $self->{sock};
    return;
}

=head3 cleanup($self)

Idempotent: stops and reaps the agent if needed, then removes the socket, the lock file and the
private directory and releases the lock. A no-op in any process but the one that made the object.

=cut

sub cleanup {
    my ($self) = @_;
    return if $self->{owner} != $$ || $self->{cleaned};
    $self->{cleaned} = 1;
    $self->stop;
    unlink($self->{sockpath}) if defined $self->{sockpath};
    unlink($self->{lockpath}) if defined $self->{lockpath};
    close(delete $self->{lockfh}) if $self->{lockfh};
    remove_tree($self->{dir}) if defined $self->{dir} && -d $self->{dir};
    return;
}

=head3 DESTROY

Runs C<cleanup>, so an exception anywhere in the run still leaves nothing behind.

=cut

sub DESTROY {
    my ($self) = @_;
    local ($@, $!, $?);
    $self->cleanup;
    return;
}

# In the agent's child: umask 077, stdin from /dev/null, stdout and stderr appended to $log, then
# exec @argv. Returns only by dying, with the reason.
sub _exec_agent {
    my ($log, @argv) = @_;
    umask(077);
    open(STDIN, '<', '/dev/null') or die "cannot open /dev/null: $!\n";
    open(STDOUT, '>>', $log) or die "cannot open the log $log: $!\n";
    open(STDERR, '>&', \*STDOUT) or die "cannot redirect stderr: $!\n";
    { exec { $argv[0] } @argv; }
    die "cannot execute $argv[0]: $!\n";
}

# In the agent's child after exec failed: the reason to the parent, then exit 127.
sub _report_and_exit {
    my ($report_w, $error) = @_;
    my $why = $error || "unknown error\n";
    chomp $why;
    syswrite($report_w, $why);
    POSIX::_exit(127);
}

# What the child reported before its exec (empty when the exec went through); closes the pipe.
sub _read_report {
    my ($report_r) = @_;
    my $why = '';
    while (1) {
        my $n = sysread($report_r, $why, 4096, length $why);
        last if defined $n && $n == 0;
        next if !defined $n && $!{EINTR};
        last unless defined $n;
    }
    close $report_r;
    return $why;
}

1;
