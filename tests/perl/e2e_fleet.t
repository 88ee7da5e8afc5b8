# End to end: perl/bin/rpower and rsetboot -> plugin -> a real forked agent.py -> the
# simulated OpenBMC fleet (32 BMCs), every action, output words checked, states checked on the
# simulator, two commands at once on different nodes. Skipped when the agent cannot run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Select;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use BrokerTest qw(repo_root run_cmd start_cmd finish_cmd new_dir lines);

my $repo  = repo_root();
my $py    = "$repo/.venv/bin/python";
my $agent = "$repo/xCAT-openbmc-py/lib/python/agent/agent.py";
plan skip_all => 'no .venv python' unless -x $py;
plan skip_all => 'agent.py --help fails' unless -f $agent && system("'$py' '$agent' --help >/dev/null 2>&1") == 0;
plan skip_all => 'no simulated fleet' unless -f "$repo/tests/sim/fleet.py";

my $N = 32;
my $tables = new_dir();

# Start the fleet and wait (bounded) for its `ready` line.
pipe(my $from_fleet, my $fleet_out) or die "pipe: $!";
my $fleet = fork // die "fork: $!";
if ($fleet == 0) {
    close $from_fleet;
    open(STDOUT, '>&', $fleet_out) or POSIX::_exit(1);
    open(STDERR, '>', "$tables/fleet.err");
    $ENV{PYTHONPATH} = "$repo/tests";
    chdir $repo;
    { exec { $py } $py, '-m', 'sim.fleet', '--nodes', $N, '--base', '127.70.0.1', '--tables', $tables; }
    POSIX::_exit(127);
}
close $fleet_out;
my ($control, $ready, $buf) = (undef, 0, '');
my $select = IO::Select->new($from_fleet);
my $deadline = time + 60;
while (!$ready && time < $deadline) {
    next unless $select->can_read(1);
    my $n = sysread($from_fleet, $buf, 4096, length $buf);
    last unless $n;
    $control = $1 if $buf =~ /^control (\S+)$/m;
    $ready = 1 if $buf =~ /^ready$/m;
}
END { stop_fleet() }
sub stop_fleet {
    return unless $fleet;
    kill 'TERM', $fleet;
    my $until = time + 10;
    sleep 0.05 while waitpid($fleet, WNOHANG) == 0 && time < $until;
    if (waitpid($fleet, WNOHANG) == 0) { kill 'KILL', $fleet; waitpid($fleet, 0) }
    $fleet = undef;
}
unless ($ready && $control) {
    diag(BrokerTest::slurp("$tables/fleet.err") // '');
    BAIL_OUT('fleet did not become ready within 60 s');
}

my $http = HTTP::Tiny->new(timeout => 10);
sub sim_node {
    my ($name) = @_;
    my $res = $http->get("$control/nodes/$name");
    return $res->{success} ? decode_json($res->{content}) : {};
}

my %env = (XCAT_TABLES => $tables, XCAT_AGENT_TIMEOUT => 120, XCAT_AGENT_LOG => "$tables/agent.log", PERL5LIB => undef);
my @all = map { sprintf('node%03d', $_) } 1 .. $N;
my $range = sprintf('node[001-%03d]', $N);

sub words_ok {
    my ($r, $word, $name, @nodes) = @_;
    @nodes = @all unless @nodes;
    my %got = map { /^(node\d+): (.*)$/ ? ($1 => $2) : () } lines($r->{out});
    is($r->{err}, '', "$name: nothing on stderr") or diag $r->{err};
    is($r->{rc}, 0, "$name: exit 0");
    is(scalar(keys %got), scalar @nodes, "$name: one line per node");
    my @bad = grep { !defined $got{$_} || $got{$_} !~ $word } @nodes;
    ok(!@bad, "$name: words match $word") or diag join("\n", map { "$_: " . ($got{$_} // '(none)') } @bad[0 .. ($#bad > 4 ? 4 : $#bad)]);
}
sub rpower   { run_cmd([ "$repo/perl/bin/rpower", @_ ], env => \%env, timeout => 180) }
sub rsetboot { run_cmd([ "$repo/perl/bin/rsetboot", @_ ], env => \%env, timeout => 180) }

words_ok(rpower($range, 'state'), qr/^(?:on|off)$/, 'rpower state');
words_ok(rpower($range, 'on'), qr/^on$/, 'rpower on');
is(sim_node('node007')->{power}, 'on', 'simulator: node007 on');
words_ok(rpower($range, 'stat'), qr/^on$/, 'rpower stat after on');
words_ok(rpower($range, 'status'), qr/^on$/, 'rpower status');
words_ok(rpower($range, 'off'), qr/^off$/, 'rpower off');
is(sim_node('node010')->{power}, 'off', 'simulator: node010 off');
words_ok(rpower($range, 'state'), qr/^off$/, 'rpower state after off');
words_ok(rpower($range, 'boot'), qr/^reset$/, 'rpower boot');
is(sim_node('node003')->{power}, 'on', 'simulator: node003 on after boot');
words_ok(rpower($range, 'reset'), qr/^reset$/, 'rpower reset');
words_ok(rpower($range, 'softoff'), qr/^softoff$/, 'rpower softoff');
words_ok(rpower($range, 'bmcstate'), qr/^BMC (?:Ready|NotReady)/, 'rpower bmcstate');
words_ok(rpower($range, 'bmcreboot'), qr/^BMC reboot$/, 'rpower bmcreboot');

words_ok(rsetboot($range, 'net'), qr/^Network$/, 'rsetboot net');
words_ok(rsetboot($range), qr/^Network$/, 'rsetboot (stat)');
words_ok(rsetboot($range, 'hd', '-p'), qr/^Hard Drive$/, 'rsetboot hd -p');
words_ok(rsetboot($range, 'stat'), qr/^Hard Drive$/, 'rsetboot stat');
words_ok(rsetboot($range, 'cd'), qr/^CD\/DVD$/, 'rsetboot cd');
words_ok(rsetboot($range, 'def'), qr/^Default$/, 'rsetboot def');
words_ok(rsetboot($range, 'default'), qr/^Default$/, 'rsetboot default');

# Two commands at once on different nodes.
{
    my $a = start_cmd([ "$repo/perl/bin/rpower", 'node[001-016]', 'on' ], env => \%env, timeout => 180);
    my $b = start_cmd([ "$repo/perl/bin/rsetboot", 'node[017-032]', 'net' ], env => \%env, timeout => 180);
    words_ok(finish_cmd($a), qr/^on$/, 'concurrent rpower on', @all[ 0 .. 15 ]);
    words_ok(finish_cmd($b), qr/^Network$/, 'concurrent rsetboot net', @all[ 16 .. 31 ]);
}

# An unknown action: the reference's error, exit 1.
{
    my $r = rpower($range, 'ddd');
    is(scalar(grep { /^node\d{3}: Error: Unsupported command: rpower ddd$/ } lines($r->{out})), $N, 'unknown action: one line per node');
    is($r->{rc}, 1, 'unknown action: exit 1');
}

stop_fleet();
done_testing();
