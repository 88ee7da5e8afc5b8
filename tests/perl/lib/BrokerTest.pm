package BrokerTest;

=head1 NAME

BrokerTest - helpers for the prove suites of the Perl broker: tables, subprocesses, fake agents

=cut

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Select;
use JSON::PP qw(decode_json encode_json);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(repo_root write_csv write_tables run_cmd start_cmd finish_cmd fake_agent
  slurp new_dir lines start_fleet stop_fleet sim_nodes sim_reset sim_set sim_mismatches chain_missing
  untag node_lines $HOST);

=head3 $HOST

The host name the runner prints as xcatd's source tag in the suites: C<start_cmd> sets
C<XCAT_RUNNER_HOST> to it unless the test gives C<env =E<gt> {XCAT_RUNNER_HOST =E<gt> ...}>.

=head3 untag($text)

C<$text> with xCAT's source tags taken out, as the runner printed it before it printed them:
C<node: [host]: Error: e> becomes C<node: Error: e>, C<Error: [host]: e> becomes C<Error: e>,
C<[host]: line> becomes C<line>. The one place the suites know the tag's form (the runner prints
it as xCAT's client does, see docs/RUNNER.md).

=head3 node_lines($text)

The lines of C<$text> (untagged) that start with C<node: >, as a hash C<node =E<gt> rest>.

=cut

our $HOST = 'mn01';

# Plugins run in-process by a suite start one agent per command too (see start_cmd).
$ENV{XCAT_AGENT_IDLE} = 0;

sub untag {
    my ($text) = @_;
    return $text unless defined $text;
    $text =~ s/^(\S+: )\[[^\]\n]*\]: (Error|Warning): /$1$2: /mg;
    $text =~ s/^(Error|Warning): \[[^\]\n]*\]: /$1: /mg;
    $text =~ s/^\[[^\]\n]*\]: //mg;
    $text =~ s/^(\S+): \[[^\]\n]*\]: /$1: /mg;
    return $text;
}

sub node_lines {
    my ($text) = @_;
    return { map { /^([^:\s]+): (.*)\z/ ? ($1 => $2) : () } lines(untag($text)) };
}

=head3 chain_missing()

Why the whole chain (venv python, a working agent.py, the simulated fleet) cannot run here,
or undef when it can; chain suites C<plan skip_all> with it.

=cut

sub chain_missing {
    my $repo  = repo_root();
    my $py    = "$repo/.venv/bin/python";
    my $agent = "$repo/xCAT-openbmc-py/lib/python/agent/agent.py";
    return 'no .venv python' unless -x $py;
    return 'agent.py --help fails' unless -f $agent && system("'$py' '$agent' --help >/dev/null 2>&1") == 0;
    return 'no simulated fleet' unless -f "$repo/tests/sim/fleet.py";
    return undef;
}

=head3 repo_root()

The repository's top directory.

=cut

sub repo_root { return abs_path(dirname(__FILE__) . '/../../..') }

=head3 new_dir()

A fresh temporary directory, removed at exit.

=cut

sub new_dir { return tempdir('broker-test.XXXXXX', TMPDIR => 1, CLEANUP => 1) }

=head3 slurp($file)

The file's content, or undef.

=cut

sub slurp {
    my ($file) = @_;
    open(my $fh, '<', $file) or return undef;
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

=head3 lines($text)

The lines of C<$text> without newlines.

=cut

sub lines { return grep { length } split /\n/, ($_[0] // '') }

=head3 write_csv($dir, $table, \@columns, @rows)

Writes C<$dir/$table.csv> as tabdump does; each row is an array reference of values (undef or
'' = empty).

=cut

sub write_csv {
    my ($dir, $table, $columns, @rows) = @_;
    open(my $fh, '>', "$dir/$table.csv") or die "$dir/$table.csv: $!";
    print {$fh} '#' . join(',', @$columns) . "\n";
    for my $row (@rows) {
        my @v = map { my $x = $row->[$_]; defined $x && length $x ? do { (my $q = $x) =~ s/"/""/g; "\"$q\"" } : '' }
          0 .. $#$columns;
        print {$fh} join(',', @v) . "\n";
    }
    close $fh;
    return;
}

=head3 write_tables($dir, %opts)

Writes nodelist, nodehm, openbmc and passwd tables for C<node001>..C<nodeNNN> (C<nodes>, default
4), all in group C<all>, mgt C<openbmc> (or C<mgt>), BMC 127.0.0.(i) without credentials, and a
passwd row C<openbmc> admin/secret (C<passwd> =E<gt> 0 leaves it out).

=cut

sub write_tables {
    my ($dir, %opts) = @_;
    my $n = $opts{nodes} // 4;
    my $width = length($n) > 3 ? length($n) : 3;
    my @nodes = map { sprintf('node%0*d', $width, $_) } 1 .. $n;
    write_csv($dir, 'nodelist', [qw(node groups status comments disable)], map { [ $_, 'all' ] } @nodes);
    write_csv($dir, 'nodehm', [qw(node power mgt comments disable)], [ 'all', undef, $opts{mgt} // 'openbmc' ]);
    write_csv($dir, 'openbmc', [qw(node bmc consport taggedvlan username password comments disable)],
        map { [ $nodes[$_], sprintf('127.0.%d.%d', int($_ / 250), $_ % 250 + 1) ] } 0 .. $#nodes);
    if ($opts{passwd} // 1) {
        write_csv($dir, 'passwd', [qw(key username password cryptmethod authdomain comments disable)],
            [ 'openbmc', 'admin', 'secret' ], [ 'redfish', 'rfadmin', 'rfsecret' ]);
    }
    return @nodes;
}

=head3 start_cmd(\@cmd, %opts)

Starts a command with C<env> (hash of variables to set; undef deletes; C<XCAT_RUNNER_RELAY> is
C<xcatd> unless set there, C<XCAT_AGENT_IDLE> 0: one agent per command unless set there) and its stdout and stderr going to files, optionally as user C<uid> (with that user's group; needs root). C<timeout>
(default 60 s) bounds C<finish_cmd>. C<group> makes the command lead its own process group (as
xcatd's plugin process and a shell's job are), so a test can signal the group. Returns a handle
for C<finish_cmd>.

=cut

sub start_cmd {
    my ($cmd, %opts) = @_;
    my $dir = new_dir();
    my $h = { out => "$dir/out", err => "$dir/err", started => time, timeout => $opts{timeout} // 60 };
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        $ENV{XCAT_RUNNER_HOST} = $HOST;
        # The prove suites see the plugin's output through the model of xcatd's relay
        # (xCAT::Relay), unless a test says otherwise.
        $ENV{XCAT_RUNNER_RELAY} = 'xcatd';
        # One agent process per command (a warm agent would outlive the test), unless a test
        # asks for the warm agent (tests/perl/11_warm.t).
        $ENV{XCAT_AGENT_IDLE} = 0;
        for my $k (keys %{ $opts{env} || {} }) {
            if (defined $opts{env}{$k}) { $ENV{$k} = $opts{env}{$k} } else { delete $ENV{$k} }
        }
        setpgrp(0, 0) if $opts{group};
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', $h->{out}) or POSIX::_exit(126);
        open(STDERR, '>', $h->{err}) or POSIX::_exit(126);
        if (defined $opts{uid}) {
            my $gid = (getpwuid $opts{uid})[3] // $opts{uid};
            POSIX::setgid($gid) or POSIX::_exit(125);
            $) = "$gid $gid";
            POSIX::setuid($opts{uid}) or POSIX::_exit(125);
        }
        { exec { $cmd->[0] } @$cmd; }
        POSIX::_exit(127);
    }
    $h->{pid} = $pid;
    return $h;
}

=head3 finish_cmd($h)

Waits for the command (bounded by its C<timeout>; then TERM and KILL). Returns
C<{out, err, rc, secs, timed_out}>.

=cut

sub finish_cmd {
    my ($h) = @_;
    my $deadline = $h->{started} + $h->{timeout};
    my $timed_out = 0;
    my $status;
    while (1) {
        my $got = waitpid($h->{pid}, WNOHANG);
        if ($got == $h->{pid}) { $status = $?; last }
        if (time > $deadline && !$timed_out) {
            $timed_out = 1;
            kill 'TERM', $h->{pid};
            $deadline = time + 3;
            next;
        }
        if ($timed_out && time > $deadline) {
            kill 'KILL', $h->{pid};
            waitpid($h->{pid}, 0);
            $status = $?;
            last;
        }
        sleep 0.02;
    }
    return {
        out => slurp($h->{out}) // '', err => slurp($h->{err}) // '',
        rc => $status >> 8, signal => $status & 127, secs => time - $h->{started}, timed_out => $timed_out,
    };
}

=head3 run_cmd(\@cmd, %opts)

C<start_cmd> then C<finish_cmd>.

=cut

sub run_cmd { return finish_cmd(start_cmd(@_)) }

=head3 start_fleet(%opts)

Starts the simulated fleet (C<python -m sim.fleet>) with C<nodes> (default 32), C<protocol>
(C<openbmc>), C<base> (its first address), C<port> (unless given, 0: the fleet takes one free
port, so two test runs on one host never collide) and C<args> (more options, e.g. C<['--redfish-reply', '204']>), writing its tables
to a fresh directory, and waits (bounded, 60 s) for its C<ready> line. Returns
C<{pid, control, tables, port, nodes =E<gt> [names]}>, or undef with C<error> set in
C<$BrokerTest::FLEET_ERROR> (the fleet's stderr).

=cut

our $FLEET_ERROR = '';

sub start_fleet {
    my (%opts) = @_;
    my $root = repo_root();
    my $py = "$root/.venv/bin/python";
    my $n = $opts{nodes} // 32;
    my $base = $opts{base} // '127.10.0.1';
    my $port = $opts{port} // 0;
    my $tables = new_dir();
    pipe(my $from_fleet, my $fleet_out) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $from_fleet;
        open(STDOUT, '>&', $fleet_out) or POSIX::_exit(1);
        open(STDERR, '>', "$tables/fleet.err");
        $ENV{PYTHONPATH} = "$root/tests";
        chdir $root;
        my @cmd = ($py, '-m', 'sim.fleet', '--nodes', $n, '--protocol', $opts{protocol} // 'openbmc',
            '--base', $base, '--port', $port, '--tables', $tables, @{ $opts{args} || [] });
        { exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    close $fleet_out;
    # The fleet's stdout stays open until stop_fleet: a fleet writing to a closed pipe dies.
    my $fleet = { pid => $pid, tables => $tables, stdout => $from_fleet };
    my ($ready, $buf) = (0, '');
    my $select = IO::Select->new($from_fleet);
    my $deadline = time + 60;
    while (!$ready && time < $deadline) {
        next unless $select->can_read(1);
        my $got = sysread($from_fleet, $buf, 4096, length $buf);
        last unless $got;
        # whole lines only: a line can arrive in two reads
        $fleet->{control} = $1 if $buf =~ /^control (\S+)\n/m;
        $ready = 1 if $buf =~ /^ready\n/m;
    }
    unless ($ready && $fleet->{control}) {
        $FLEET_ERROR = slurp("$tables/fleet.err") // '';
        stop_fleet($fleet);
        return undef;
    }
    my $info = eval { decode_json(slurp("$tables/fleet.json") // '') } || {};
    $fleet->{port} = $info->{port};
    my $width = length($n) > 3 ? length($n) : 3;
    $fleet->{nodes} = [ map { sprintf('node%0*d', $width, $_) } 1 .. $n ];
    return $fleet;
}

=head3 stop_fleet($fleet)

SIGTERM, a bounded wait, SIGKILL if needed. Idempotent.

=cut

sub stop_fleet {
    my ($fleet) = @_;
    return unless $fleet && $fleet->{pid};
    my $pid = delete $fleet->{pid};
    close(delete $fleet->{stdout}) if $fleet->{stdout};
    kill 'TERM', $pid;
    my $until = time + 10;
    sleep 0.05 while waitpid($pid, WNOHANG) == 0 && time < $until;
    if (kill 0, $pid) { kill 'KILL', $pid; waitpid($pid, 0) }
    return;
}

my $HTTP = HTTP::Tiny->new(timeout => 30, proxy => undef, http_proxy => undef, no_proxy => '127.0.0.1');

sub _control {
    my ($fleet, $method, $path, $body) = @_;
    my $res = $HTTP->request($method, "$fleet->{control}$path",
        defined $body ? { content => encode_json($body), headers => { 'Content-Type' => 'application/json' } } : {});
    unless ($res->{success}) {
        my $why = slurp("$fleet->{tables}/fleet.err") // '';
        $why = substr($why, -1500) if length $why > 1500;
        my $alive = $fleet->{pid} && kill(0, $fleet->{pid}) ? 'running' : 'gone';
        die "control API $method $path: $res->{status} $res->{content} (fleet $alive; its stderr: $why)\n";
    }
    return length $res->{content} ? decode_json($res->{content}) : undef;
}

=head3 sim_nodes($fleet)

Every node entry of the control API (C<GET /nodes>) as a hash C<name =E<gt> entry>.

=head3 sim_reset($fleet, %what)

C<POST /reset> with C<counters>, C<states> and C<faults> (each true unless given).

=head3 sim_set($fleet, $node, %fields)

C<POST /nodes/E<lt>nodeE<gt>>: change states or boot settings of one node.

=head3 sim_mismatches($fleet, \@nodes, \%want, $rebooted)

What differs from what a command should have left on the simulator: a field of C<%want> with
another value (JSON booleans read C<true>/C<false>), a session still open, no login, a refused
login, or a login never logged out (unless C<$rebooted>: a rebooting BMC ends its sessions
without a logout). Returns one line per problem, empty when all is well.

=cut

sub sim_nodes {
    my ($fleet) = @_;
    return { map { $_->{name} => $_ } @{ _control($fleet, 'GET', '/nodes') } };
}

sub sim_reset {
    my ($fleet, %what) = @_;
    _control($fleet, 'POST', '/reset', { map { $_ => ($what{$_} // 1) ? JSON::PP::true : JSON::PP::false }
        qw(counters states faults) });
    return;
}

sub sim_set {
    my ($fleet, $node, %fields) = @_;
    return _control($fleet, 'POST', "/nodes/$node", \%fields);
}

sub sim_mismatches {
    my ($fleet, $nodes, $want, $rebooted) = @_;
    my $sim = sim_nodes($fleet);
    my @bad;
    for my $node (@$nodes) {
        my $e = $sim->{$node} || {};
        for my $field (sort keys %$want) {
            my $got = $e->{$field};
            $got = $got ? 'true' : 'false' if JSON::PP::is_bool($got);
            push @bad, "$node: $field=" . ($got // 'undef') . " (want $want->{$field})" if ($got // '') ne $want->{$field};
        }
        push @bad, "$node: open_sessions=$e->{open_sessions}" if $e->{open_sessions};
        push @bad, "$node: no login" unless $e->{logins};
        push @bad, "$node: login_failures=$e->{login_failures}" if $e->{login_failures};
        push @bad, "$node: logins=$e->{logins} logouts=$e->{logouts}"
            if !$rebooted && ($e->{logouts} // -1) != ($e->{logins} // 0);
    }
    return @bad;
}

=head3 fake_agent($dir)

Writes C<$dir/fake_agent.pl>, a stand-in for agent.py driven by C<FAKE_MODE>:
C<echo> (default) answers C<node: ok COMMAND ARGS-AS-JSON> per node of nodeinfo;
C<exit> exits 3 at once; C<hang> reads the request and sleeps; C<partial> answers the first two
nodes, then exits 1; C<traced> sends a debug trace and a progress note (not final lines), answers
the third node, then exits 1; C<garbage> sends a frame that is not JSON; C<truncated> sends half a frame
and exits 0; C<badlength> sends a negative length; C<db> sends status frames and answers;
C<shapes> sends warning, syslog, info_with_host and a node-less error, then answers; C<lock>
answers whether the lock file is held by someone else; C<perms> answers
C<node: dir MODE uid UID lock MODE sock MODE> for the directory of its C<--sock> (octal modes);
C<silent> exits 0 without answering; C<slow> answers one node every 0.2 s; C<alive> sends only
alive frames (every 0.5 s) for 4 s, then answers; C<alive-hang> sends one alive frame and hangs. With C<FAKE_STOP>
set to seconds it waits that long on INT, TERM or HUP before it exits 0 (as the real agent logs
out first); C<FAKE_STOP=never> ignores them.
It writes its argv and environment to C<$FAKE_OUT.argv> and the request to
C<$FAKE_OUT.request> when C<FAKE_OUT> is set. Returns the path.

=cut

sub fake_agent {
    my ($dir) = @_;
    my $path = "$dir/fake_agent.pl";
    open(my $fh, '>', $path) or die "$path: $!";
    print {$fh} <<'AGENT';
use strict;
use warnings;
use Fcntl qw(:flock);
use Getopt::Long;
use IO::Socket::UNIX;
use JSON::PP;
use Socket qw(SOCK_STREAM);

my ($sockpath, $lockpath);
my @argv = @ARGV;
GetOptions('sock=s' => \$sockpath, 'lockfile=s' => \$lockpath) or exit 2;
my $mode = $ENV{FAKE_MODE} || 'echo';
my $out  = $ENV{FAKE_OUT};
if ($out) {
    open(my $a, '>', "$out.argv") or die;
    print {$a} join("\n", @argv, map { "$_=$ENV{$_}" } sort keys %ENV), "\n";
    close $a;
}
# FAKE_STOP=SECONDS: on INT, TERM or HUP wait that long (as the real agent logs out), then exit 0;
# FAKE_STOP=never: ignore them (only SIGKILL ends it).
if (defined(my $stop = $ENV{FAKE_STOP})) {
    my $handler = $stop eq 'never' ? 'IGNORE' : sub { select(undef, undef, undef, $stop); exit 0 };
    $SIG{$_} = $handler for qw(INT TERM HUP);
}
exit 3 if $mode eq 'exit';
print STDERR "fake agent: mode $mode\n";
my $srv = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $sockpath, Listen => 1) or die "bind: $!";
my $c = $srv->accept or die "accept: $!";

sub get { my ($n) = @_; my $b = ''; while (length $b < $n) { my $r = sysread($c, $b, $n - length $b, length $b); die "eof" unless $r } $b }
sub put { my ($obj) = @_; my $j = JSON::PP->new->utf8->encode($obj); syswrite($c, pack('i', length $j) . $j) }
# A node's final line carries its node; a trace or a progress note (note) does not.
sub info { my ($n) = $_[0] =~ /^([^:\s]+): /; put({ type => 'message', msg => { type => 'info', data => $_[0], node => $n } }) }
sub note { put({ type => 'message', msg => { type => 'info', data => $_[0] } }) }

my $len = unpack('i', get(4));
my $body = get($len);
my $req = JSON::PP->new->utf8->decode($body);
if ($out) { open(my $r, '>', "$out.request") or die; print {$r} $body; close $r }
my @nodes = sort keys %{ $req->{nodeinfo} };
my $args = JSON::PP->new->canonical->encode($req->{args});

if ($mode eq 'hang') { sleep 600; exit 0 }
if ($mode eq 'alive') {    # silent but alive for 4 s (an alive frame every 0.5 s), then answers
    for (1 .. 8) { select(undef, undef, undef, 0.5); put({ type => 'alive', every => 0.5 }) }
}
if ($mode eq 'alive-hang') { put({ type => 'alive', every => 0.5 }); sleep 600; exit 0 }
if ($mode eq 'slow') {    # one line every 0.2 s
    for my $node (@nodes) { select(undef, undef, undef, 0.2); info("$node: ok") }
    exit 0;
}
if ($mode eq 'silent') { exit 0 }
if ($mode eq 'partial') {
    info("$_: ok") for @nodes[0 .. 1];
    exit 1;
}
if ($mode eq 'traced') {
    note("$nodes[0]: [openbmc_debug] curl -k -X GET https://x/login");
    note("$nodes[1]: Firmware will be flashed on reboot, deleting all BMC diagnostics...");
    info("$nodes[2]: ok");
    exit 1;
}
if ($mode eq 'garbage') {
    info("$nodes[0]: ok");
    my $junk = '{not json at all';
    syswrite($c, pack('i', length $junk) . $junk);
    sleep 600;
    exit 0;
}
if ($mode eq 'truncated') { syswrite($c, pack('i', 100) . '{"type":'); exit 0 }
if ($mode eq 'badlength') { syswrite($c, pack('i', -5) . 'xxxx'); sleep 600; exit 0 }
if ($mode eq 'db') {    # as a reset does: powering-off, then powering-on, for every node
    for my $value (qw(powering-off powering-on)) {
        put({ type => 'db', attribute => { name => 'status', method => 'set', type => 'node', node => $_, value => $value } })
          for @nodes;
    }
}
if ($mode eq 'shapes') {
    put({ type => 'message', msg => { type => 'warning', data => 'a warning' } });
    put({ type => 'message', msg => { type => 'syslog', data => 'to syslog' } });
    put({ type => 'message', msg => { type => 'info_with_host', data => 'with host' } });
    put({ type => 'message', msg => { type => 'error', node => '', data => 'a global error' } });
    put({ type => 'message', msg => { type => 'error', node => $nodes[0], data => 'a node error' } });
    shift @nodes;
}
if ($mode eq 'perms') {
    my ($sockdir) = $sockpath =~ m{^(.*)/[^/]+$};
    my @d = stat $sockdir;
    my @l = stat $lockpath;
    my @s = stat $sockpath;
    my $text = sprintf('dir %04o uid %d lock %04o sock %04o', $d[2] & 07777, $d[4], $l[2] & 07777, $s[2] & 07777);
    info("$_: $text") for @nodes;
    exit 0;
}
if ($mode eq 'lock') {
    open(my $l, '<', $lockpath) or die;
    my $free = flock($l, LOCK_EX | LOCK_NB) ? 'free' : 'held';
    info("$_: lock $free") for @nodes;
    exit 0;
}
info("$_: ok $req->{command} $args") for @nodes;
exit 0;
AGENT
    close $fh;
    return $path;
}

1;
