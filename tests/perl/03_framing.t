# The frame codec of xCAT::PyAgent::Frame over a socketpair: short reads (a writer that dribbles
# bytes), a 5 MB frame, non-ASCII text, clean EOF, EOF mid-frame, a bad length, a timeout, a
# signal during a wait, a stale $! from earlier. No measured time is asserted: each wait that
# could hang is bounded by an alarm that fails the test, and ordering is made with events.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use JSON::PP;
use POSIX qw(WNOHANG);
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC);
use IO::Handle;
use Errno qw(EINTR);
use Time::HiRes qw(time sleep ualarm);
use xCAT::PyAgent::Frame;

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

sub pair {
    socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die "socketpair: $!";
    $_->autoflush(1) for $a, $b;
    return ($a, $b);
}

# Runs $code in a child with the writing end; returns the reading end. The child is reaped
# (bounded) by reap_all.
my @children;
sub writer {
    my ($code) = @_;
    my ($r, $w) = pair();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $r;
        $code->($w);
        POSIX::_exit(0);
    }
    close $w;
    push @children, $pid;
    return $r;
}
sub reap_all {
    my $deadline = time + 10;
    for my $pid (@children) {
        while (waitpid($pid, WNOHANG) == 0) {
            if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last }
            sleep 0.02;
        }
    }
    @children = ();
}

# Runs $code with an alarm of $seconds: returns its result, or the string 'hung' if the alarm
# had to end it.
sub bounded {
    my ($seconds, $code) = @_;
    my @result = eval {
        local $SIG{ALRM} = sub { die "hung\n" };
        alarm $seconds;
        my @r = $code->();
        alarm 0;
        @r;
    };
    alarm 0;
    return $@ eq "hung\n" ? ('hung') : @result;
}

my $json = JSON::PP->new->utf8->canonical;

# Encoding: prefix is pack('i', byte length) and the body is UTF-8.
{
    my $obj = { type => 'message', msg => { type => 'info', data => 'nœud01: Grüße ☃ 日本' } };
    my $frame = xCAT::PyAgent::Frame::encode_frame($obj);
    my $len = unpack('i', substr($frame, 0, 4));
    is($len, length($frame) - 4, 'prefix counts the body');
    ok(!utf8::is_utf8($frame), 'frame is bytes');
    my $body = substr($frame, 4);
    is($len, length($body), 'length in bytes');
    my $chars = JSON::PP->new->encode($obj);
    ok($len > length($chars), 'non-ASCII: byte length exceeds character length');
    is_deeply(JSON::PP->new->utf8->decode($body), $obj, 'body decodes back');
}

# Short reads: a writer that sends two frames one byte at a time.
{
    my @objs = ({ n => 1, text => 'ünïcödé ✓' }, { n => 2, list => [ 1 .. 50 ] });
    my $r = writer(sub {
        my ($w) = @_;
        my $bytes = join '', map { xCAT::PyAgent::Frame::encode_frame($_) } @objs;
        for my $i (0 .. length($bytes) - 1) {
            syswrite($w, substr($bytes, $i, 1));
            sleep 0.001 if $i % 7 == 0;
        }
    });
    my $reader = xCAT::PyAgent::Frame::frame_reader($r);
    for my $obj (@objs) {
        my ($status, $body) = xCAT::PyAgent::Frame::read_frame($reader, 10);
        is($status, 'frame', "dribbled frame $obj->{n}: whole frame");
        is_deeply(JSON::PP->new->utf8->decode($body), $obj, "dribbled frame $obj->{n}: content");
    }
    my ($status) = xCAT::PyAgent::Frame::read_frame($reader, 10);
    is($status, 'eof', 'clean EOF after the last frame');
    reap_all();
}

# A 5 MB frame in one direction, through socket buffers far smaller than the frame, while the
# reader starts late: it begins only once the writer has filled the buffer (an event, the
# first readable byte, not a sleep), so write_all must wait for room many times.
{
    my $big = { type => 'message', msg => { type => 'info', data => ('é' x (2_600_000)) } };
    my $expect_len = length(xCAT::PyAgent::Frame::encode_frame($big)) - 4;
    ok($expect_len > 5_000_000, 'frame is over 5 MB');
    my $r = writer(sub {
        my ($w) = @_;
        setsockopt($w, Socket::SOL_SOCKET(), Socket::SO_SNDBUF(), 16384);
        $w->blocking(0);
        my ($ok) = xCAT::PyAgent::Frame::write_all($w, xCAT::PyAgent::Frame::encode_frame($big), 10);
        POSIX::_exit($ok ? 0 : 1);
    });
    setsockopt($r, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 16384);
    my ($ready) = xCAT::PyAgent::Frame::wait_io($r, 'r', 10);
    is($ready, 'ready', 'the writer has started');
    my ($status, $body) = bounded(30, sub { xCAT::PyAgent::Frame::read_frame(xCAT::PyAgent::Frame::frame_reader($r), 10) });
    is($status, 'frame', '5 MB frame read whole');
    is(length $body, $expect_len, '5 MB frame: byte count');
    is(JSON::PP->new->utf8->decode($body)->{msg}{data}, $big->{msg}{data}, '5 MB frame: content');
    reap_all();
}

# A burst: many frames written at once come out one by one, whole and in order.
{
    my @objs = map { { n => $_, text => "node$_: on" } } 1 .. 500;
    my $r = writer(sub { my ($w) = @_; syswrite($w, join '', map { xCAT::PyAgent::Frame::encode_frame($_) } @objs) });
    my $reader = xCAT::PyAgent::Frame::frame_reader($r);
    my @got;
    while (1) {
        my ($status, $body) = xCAT::PyAgent::Frame::read_frame($reader, 10);
        last unless $status eq 'frame';
        push @got, JSON::PP->new->utf8->decode($body);
    }
    is_deeply(\@got, \@objs, 'burst: 500 frames whole and in order');
    reap_all();
}

# EOF in the middle of the header and in the middle of the body.
{
    my $r = writer(sub { syswrite($_[0], substr(pack('i', 10), 0, 2)) });
    is((xCAT::PyAgent::Frame::read_frame(xCAT::PyAgent::Frame::frame_reader($r), 5))[0], 'truncated', 'EOF inside the prefix');
    $r = writer(sub { syswrite($_[0], pack('i', 10) . '{"a":') });
    is((xCAT::PyAgent::Frame::read_frame(xCAT::PyAgent::Frame::frame_reader($r), 5))[0], 'truncated', 'EOF inside the body');
    reap_all();
}

# Bad lengths.
{
    my $r = writer(sub { syswrite($_[0], pack('i', -1)); sleep 2 });
    my ($status, $detail) = xCAT::PyAgent::Frame::read_frame(xCAT::PyAgent::Frame::frame_reader($r), 5);
    is($status, 'badlength', 'negative length refused');
    like($detail, qr/-1/, 'detail names the length');
    $r = writer(sub { syswrite($_[0], pack('i', 100) . ('x' x 100)); sleep 2 });
    ($status) = xCAT::PyAgent::Frame::read_frame(xCAT::PyAgent::Frame::frame_reader($r), 5, 50);
    is($status, 'badlength', 'length above the cap refused before reading the body');
    close $r;
    reap_all();
}

# Silence: the peer stays connected and says nothing. 'timeout' (not a hang, not EOF) shows the
# bound works; the alarm only keeps a broken bound from hanging the suite.
{
    my ($r, $w) = pair();
    my ($status) = bounded(20, sub { xCAT::PyAgent::Frame::read_frame(xCAT::PyAgent::Frame::frame_reader($r), 0.5) });
    is($status, 'timeout', 'silent peer: timeout');

    # A stale EINTR in $! from some earlier call must not turn a timeout into an endless wait.
    ($status) = bounded(20, sub { $! = EINTR; xCAT::PyAgent::Frame::read_frame(xCAT::PyAgent::Frame::frame_reader($r), 0.3) });
    is($status, 'timeout', 'read: a stale $! == EINTR does not hide the timeout');

    # The same for a writer whose peer never reads: fill the socket buffer, then write more.
    $w->blocking(0);
    1 while syswrite($w, 'x' x 65536);
    my @sent = bounded(20, sub { $! = EINTR; xCAT::PyAgent::Frame::write_all($w, 'x', 0.3) });
    is($sent[0], 0, 'write: a stale $! == EINTR does not hide the timeout');
    like($sent[1] // '', qr/no progress within 0\.3 s/, 'write: the reason names the bound');
    close $_ for $r, $w;
}

# A signal during the wait resumes it; timeout 0 waits as long as it takes. The frame is sent
# only when the signal has been handled (the handler releases the writer), so the reader is
# always interrupted before the frame arrives.
{
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    $go_w->autoflush(1);
    my $r = writer(sub {
        my ($w) = @_;
        close $go_w;
        my $byte;
        sysread($go_r, $byte, 1);
        syswrite($w, xCAT::PyAgent::Frame::encode_frame({ late => 1 }));
    });
    close $go_r;
    my $interrupted = 0;
    local $SIG{USR1} = sub { $interrupted++; syswrite($go_w, 'g') };
    my $signaller = fork // die "fork: $!";
    if ($signaller == 0) {
        # Interrupt the parent once it sleeps, i.e. is blocked in read_frame's select (the
        # event is its process state; bounded, and without /proc it is sent at once).
        my $parent = getppid();
        my $until = time + 10;
        while (time < $until && open(my $fh, '<', "/proc/$parent/stat")) {
            my $state = (split ' ', (<$fh> // '') =~ s/^.*\) //sr)[0] // '';
            last if $state eq 'S';
            sleep 0.001;
        }
        kill 'USR1', $parent;
        POSIX::_exit(0);
    }
    push @children, $signaller;
    my ($status, $body) = bounded(20, sub { xCAT::PyAgent::Frame::read_frame(xCAT::PyAgent::Frame::frame_reader($r), 0) });
    is($status, 'frame', 'timeout 0: the wait survives a signal and gets the late frame');
    is_deeply(JSON::PP->new->utf8->decode($body // '{}'), { late => 1 }, 'late frame content');
    is($interrupted, 1, 'the signal was handled during the wait');
    close $go_w;
    reap_all();
}

# Frames from the Python codec of the agent decode here (when the venv exists).
SKIP: {
    my $py = "$FindBin::Bin/../../.venv/bin/python";
    my $lib = "$FindBin::Bin/../../xCAT-openbmc-py/lib/python/agent";
    skip 'no venv python or agent codec', 2 unless -x $py && -f "$lib/common/utils.py";
    my $r = writer(sub {
        my ($w) = @_;
        open(STDOUT, '>&', $w) or POSIX::_exit(1);
        { exec { $py } $py, '-c', "import sys; sys.path.insert(0, '$lib'); from common.utils import encode_frame; "
          . "sys.stdout.buffer.write(encode_frame({'data': 'n\\u0153ud \\u2603'}))"; }
        POSIX::_exit(1);
    });
    my ($status, $body) = xCAT::PyAgent::Frame::read_frame(xCAT::PyAgent::Frame::frame_reader($r), 10);
    is($status, 'frame', 'Python frame read');
    is(JSON::PP->new->utf8->decode($body // '{}')->{data}, 'nœud ☃', 'Python frame content (non-ASCII)');
    reap_all();
}

done_testing();
