# The frame codec of xCAT::PyAgent over a socketpair: short reads (a writer that dribbles
# bytes), a 5 MB frame, non-ASCII text, clean EOF, EOF mid-frame, a bad length, a timeout.
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
use Time::HiRes qw(time sleep);
use xCAT::PyAgent;

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

my $json = JSON::PP->new->utf8->canonical;

# Encoding: prefix is pack('i', byte length) and the body is UTF-8.
{
    my $obj = { type => 'message', msg => { type => 'info', data => 'nœud01: Grüße ☃ 日本' } };
    my $frame = xCAT::PyAgent::encode_frame($obj);
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
        my $bytes = join '', map { xCAT::PyAgent::encode_frame($_) } @objs;
        for my $i (0 .. length($bytes) - 1) {
            syswrite($w, substr($bytes, $i, 1));
            sleep 0.001 if $i % 7 == 0;
        }
    });
    for my $obj (@objs) {
        my ($status, $body) = xCAT::PyAgent::read_frame($r, 10);
        is($status, 'frame', "dribbled frame $obj->{n}: whole frame");
        is_deeply(JSON::PP->new->utf8->decode($body), $obj, "dribbled frame $obj->{n}: content");
    }
    my ($status) = xCAT::PyAgent::read_frame($r, 10);
    is($status, 'eof', 'clean EOF after the last frame');
    reap_all();
}

# A 5 MB frame in one direction while the reader is slow to start; and write_all on a
# socket whose buffer is far smaller than the frame.
{
    my $big = { type => 'message', msg => { type => 'info', data => ('é' x (2_600_000)) } };
    my $expect_len = length(xCAT::PyAgent::encode_frame($big)) - 4;
    ok($expect_len > 5_000_000, 'frame is over 5 MB');
    my $r = writer(sub {
        my ($w) = @_;
        $w->blocking(0);
        my ($ok) = xCAT::PyAgent::write_all($w, xCAT::PyAgent::encode_frame($big), 10);
        POSIX::_exit($ok ? 0 : 1);
    });
    sleep 0.2;
    my ($status, $body) = xCAT::PyAgent::read_frame($r, 10);
    is($status, 'frame', '5 MB frame read whole');
    is(length $body, $expect_len, '5 MB frame: byte count');
    is(JSON::PP->new->utf8->decode($body)->{msg}{data}, $big->{msg}{data}, '5 MB frame: content');
    reap_all();
}

# EOF in the middle of the header and in the middle of the body.
{
    my $r = writer(sub { syswrite($_[0], substr(pack('i', 10), 0, 2)) });
    is((xCAT::PyAgent::read_frame($r, 5))[0], 'truncated', 'EOF inside the prefix');
    $r = writer(sub { syswrite($_[0], pack('i', 10) . '{"a":') });
    is((xCAT::PyAgent::read_frame($r, 5))[0], 'truncated', 'EOF inside the body');
    reap_all();
}

# Bad lengths.
{
    my $r = writer(sub { syswrite($_[0], pack('i', -1)); sleep 2 });
    my ($status, $detail) = xCAT::PyAgent::read_frame($r, 5);
    is($status, 'badlength', 'negative length refused');
    like($detail, qr/-1/, 'detail names the length');
    $r = writer(sub { syswrite($_[0], pack('i', 100) . ('x' x 100)); sleep 2 });
    ($status) = xCAT::PyAgent::read_frame($r, 5, 50);
    is($status, 'badlength', 'length above the cap refused before reading the body');
    close $r;
    reap_all();
}

# Silence: a timeout within its bound, and no timeout with 0 as long as data comes.
{
    my $r = writer(sub { sleep 3 });
    my $t0 = time;
    my ($status) = xCAT::PyAgent::read_frame($r, 0.5);
    my $took = time - $t0;
    is($status, 'timeout', 'silent peer: timeout');
    ok($took >= 0.4 && $took < 2.5, "timeout within its bound ($took s)");
    close $r;
    $r = writer(sub { sleep 0.3; syswrite($_[0], xCAT::PyAgent::encode_frame({ late => 1 })) });
    my $body;
    ($status, $body) = xCAT::PyAgent::read_frame($r, 0);
    is($status, 'frame', 'timeout 0 waits for a late frame');
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
    my ($status, $body) = xCAT::PyAgent::read_frame($r, 10);
    is($status, 'frame', 'Python frame read');
    is(JSON::PP->new->utf8->decode($body // '{}')->{data}, 'nœud ☃', 'Python frame content (non-ASCII)');
    reap_all();
}

done_testing();
