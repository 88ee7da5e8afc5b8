# The broker and the warm agent (docs/DESIGN.md, "Warm agent"), through perl/bin/rpower and the
# simulated OpenBMC fleet: the second command reuses the agent and its sessions (no login), two
# brokers racing start one agent, a client abort ends the command and its sessions but not the
# agent, a hung agent means a one-shot agent, a killed one a new one, changed agent files an
# upgrade (the old agent drains and exits), and the idle exit logs every session out. Every warm
# agent started here is stopped here (END), or exits on its idle time, waited for with a bound.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use BrokerTest qw(untag node_lines repo_root run_cmd start_cmd finish_cmd new_dir slurp start_fleet stop_fleet
  sim_nodes sim_reset chain_missing);

my $repo    = repo_root();
my $missing = chain_missing();
plan skip_all => $missing if $missing;

my $N = 6;
my $fleet = start_fleet(nodes => $N, base => '127.71.0.1');
BAIL_OUT("fleet did not become ready within 60 s: $BrokerTest::FLEET_ERROR") unless $fleet;
my @all   = @{ $fleet->{nodes} };
my $range = sprintf('node[001-%03d]', $N);

# A copy of the agent, so that the upgrade step can change its files.
my $dir = new_dir();
system('cp', '-a', "$repo/xCAT-openbmc-py/lib/python/agent", "$dir/agent") == 0 or BAIL_OUT('cannot copy the agent');
my $rundir = "$dir/run";
my $log    = "$dir/agent.log";
my $pidfile = "$rundir/warm/agent.pid";
my %env = (XCAT_TABLES => $fleet->{tables}, XCAT_AGENT => "$dir/agent/agent.py", XCAT_AGENT_RUNDIR => $rundir,
    XCAT_AGENT_LOG => $log, XCAT_AGENT_IDLE => 60, XCAT_AGENT_TIMEOUT => 60, PERL5LIB => undef);

# Every process that was a warm agent here, stopped at the end whatever happened.
my %seen_pids;
END {
    kill 'CONT', keys %seen_pids;
    stop_agent($_) for keys %seen_pids;
    stop_fleet($fleet);
}

sub running {
    my ($pid) = @_;
    return 0 unless $pid && kill(0, $pid);
    my $stat = slurp("/proc/$pid/stat") // '';
    return $stat !~ /^\d+ \(.*\) Z /s;    # a zombie has exited (nobody here reaps it)
}

sub warm_pid {
    my $pid = slurp($pidfile);
    return undef unless defined $pid && $pid =~ /^(\d+)/;
    $seen_pids{$1} = 1;
    return $1;
}

sub wait_gone {
    my ($pid, $bound) = @_;
    my $until = time + ($bound // 20);
    sleep 0.05 while running($pid) && time < $until;
    return !running($pid);
}

sub stop_agent {
    my ($pid) = @_;
    return unless running($pid);
    kill 'TERM', $pid;
    kill 'KILL', $pid unless wait_gone($pid, 15);
}

sub rpower {
    my (%extra) = @_;
    return run_cmd([ "$repo/perl/bin/rpower", $range, 'state' ], env => { %env, %extra }, timeout => 90);
}

sub all_off {
    my ($r, $name) = @_;
    my %got = %{ node_lines($r->{out}) };
    ok(!$r->{timed_out} && $r->{rc} == 0, "$name: exit 0") or diag "rc=$r->{rc}\n$r->{out}$r->{err}";
    is(scalar(grep { ($got{$_} // '') eq 'off' } @all), $N, "$name: every node off") or diag $r->{out};
}

sub totals {
    my $nodes = sim_nodes($fleet);
    my %t;
    for my $n (values %$nodes) { $t{$_} += $n->{$_} for qw(logins logouts open_sessions requests handshakes) }
    return \%t;
}

sub log_since { my ($off) = @_; my $text = slurp($log) // ''; return substr($text, $off // 0) }
sub log_size { return length(slurp($log) // '') }

sub wait_until {
    my ($check, $bound) = @_;
    my $until = time + ($bound // 20);
    until ($check->()) { return 0 if time >= $until; sleep 0.05 }
    return 1;
}

# 1. the first command starts the warm agent; the second reuses it and its sessions
sim_reset($fleet);
all_off(rpower(), 'first command');
my $pid = warm_pid();
ok(running($pid), 'a warm agent runs after the command');
is(totals()->{logins}, $N, 'one login per node');
is(totals()->{open_sessions}, $N, 'the sessions are kept');
my $before = totals();
all_off(rpower(), 'second command');
is(warm_pid(), $pid, 'the same warm agent served it');
is(totals()->{logins}, $before->{logins}, 'no login in the second command');
is(totals()->{handshakes}, $before->{handshakes}, 'no new TLS handshake either');

# 2. XCAT_AGENT_IDLE is a checked setting
my $r = rpower(XCAT_AGENT_IDLE => 'soon');
like($r->{out} . $r->{err}, qr/XCAT_AGENT_IDLE=soon: must be a number of 0 or more/, 'a bad XCAT_AGENT_IDLE is refused');

# 3. a client abort ends the command and its sessions, not the warm agent
sim_reset($fleet, counters => 1, states => 0, faults => 0);
BrokerTest::_control($fleet, 'POST', '/faults', { range => $range, fault => 'hang', arg => 20 });
my $h = start_cmd([ "$repo/perl/bin/rpower", $range, 'state' ], env => \%env, group => 1, timeout => 60);
ok(wait_until(sub { totals()->{requests} >= $N }), 'the nodes wait in a held request');
kill 'INT', -$h->{pid};
$r = finish_cmd($h);
ok(!$r->{timed_out}, 'the aborted command ended');
ok(wait_until(sub { totals()->{open_sessions} == 0 }), 'the aborted request has no session left')
  or diag explain totals();
ok(running($pid), 'the warm agent still runs after the abort');
sim_reset($fleet, counters => 1, states => 0, faults => 1);
all_off(rpower(), 'the command after the abort');

# 4. a hung warm agent: the command runs through a one-shot agent
my $off = log_size();
kill 'STOP', $pid;
$r = rpower();
kill 'CONT', $pid;
all_off($r, 'with the warm agent hung');
like(log_since($off), qr/no answer from the warm agent .* within 3 s; running a one-shot agent/,
    'the log says why a one-shot agent ran');

# 5. a killed warm agent: the next command starts a new one
kill 'KILL', $pid;
ok(wait_gone($pid), 'the warm agent is gone');
all_off(rpower(), 'after the warm agent was killed');
my $pid2 = warm_pid();
ok(running($pid2) && $pid2 != $pid, 'a new warm agent runs');

# 6. killed in the middle of a command: its nodes get an error line, the next command a new agent
BrokerTest::_control($fleet, 'POST', '/faults', { range => $range, fault => 'hang', arg => 20 });
sim_reset($fleet, counters => 1, states => 0, faults => 0);
$h = start_cmd([ "$repo/perl/bin/rpower", $range, 'state' ], env => \%env, timeout => 60);
ok(wait_until(sub { totals()->{requests} >= $N }), 'the command reached the BMCs');
kill 'KILL', $pid2;
$r = finish_cmd($h);
is($r->{rc}, 1, 'the command killed mid-way exits 1');
is(scalar(grep { /^node\d+: .*Error: / } split /\n/, untag($r->{out} . $r->{err})), $N, 'every node has an error line')
  or diag $r->{out} . $r->{err};
sim_reset($fleet, counters => 0, states => 0, faults => 1);
all_off(rpower(), 'after the warm agent died mid-command');
my $pid3 = warm_pid();

# 7. two brokers racing to start it: one warm agent serves both
stop_agent($pid3);
ok(!-e "$rundir/warm/agent.sock", 'the stopped agent removed its socket');
$off = log_size();
my @racing = map { start_cmd([ "$repo/perl/bin/rpower", $range, 'state' ], env => \%env, timeout => 90) } 1 .. 2;
all_off(finish_cmd($_), 'racing command') for @racing;
my @started = log_since($off) =~ /listening on \Q$rundir\E\/warm\/agent\.sock/g;
is(scalar @started, 1, 'one warm agent started for two racing brokers');
my $pid4 = warm_pid();

# 8. the agent's files change (an upgrade): the old agent drains and exits, a new one serves
my $future = time + 100;
utime($future, $future, "$dir/agent/common/cache.py") or die "utime: $!";
$off = log_size();
all_off(rpower(), 'after the upgrade');
like(log_since($off), qr/runs other files; it drains, starting a new one/, 'the log says the agent was outdated');
ok(wait_gone($pid4), 'the outdated agent exited');
my $pid5 = warm_pid();
ok(running($pid5) && $pid5 != $pid4, 'a new warm agent serves');

# 9. the idle exit logs out every kept session
stop_agent($pid5);
sim_reset($fleet);
all_off(rpower(XCAT_AGENT_IDLE => 1), 'a command with a 1 s idle time');
my $pid6 = warm_pid();
ok(wait_gone($pid6), 'the warm agent exited when idle');
is(totals()->{open_sessions}, 0, 'no session left open on the BMCs');
is(totals()->{logouts}, $N, 'each kept session was logged out');

done_testing;
