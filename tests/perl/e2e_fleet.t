# End to end: perl/bin/rpower and rsetboot -> plugin -> a real forked agent.py -> the
# simulated OpenBMC fleet (32 BMCs), every action: each node's printed word, the effect on the
# simulator (power, chassis/host, requested transitions and the transitions counter, BMC state,
# one-time and persistent boot source) and that every session was closed (open_sessions 0,
# logouts == logins, except after bmcreboot, which drops the sessions itself); two commands at
# once on different nodes. Skipped when the agent cannot run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BrokerTest qw(untag node_lines repo_root run_cmd start_cmd finish_cmd lines start_fleet stop_fleet sim_nodes sim_reset sim_mismatches chain_missing);

my $repo  = repo_root();
my $missing = chain_missing();
plan skip_all => $missing if $missing;

my $N = 32;
my $fleet = start_fleet(nodes => $N, base => '127.70.0.1');
END { stop_fleet($fleet) }
BAIL_OUT("fleet did not become ready within 60 s: $BrokerTest::FLEET_ERROR") unless $fleet;

my %env = (XCAT_TABLES => $fleet->{tables}, XCAT_AGENT_TIMEOUT => 120, XCAT_AGENT_LOG => "$fleet->{tables}/agent.log",
    PERL5LIB => undef);
my @all = @{ $fleet->{nodes} };
my $range = sprintf('node[001-%03d]', $N);

# Each node's line matches $word, nothing on stderr, exit 0.
sub words_ok {
    my ($r, $word, $name, @nodes) = @_;
    @nodes = @all unless @nodes;
    my %got = %{ node_lines($r->{out}) };
    ok(!$r->{timed_out}, "$name: the command ended");
    is(untag($r->{err}), '', "$name: nothing on stderr") or diag $r->{err};
    is($r->{rc}, 0, "$name: exit 0");
    is(scalar(keys %got), scalar @nodes, "$name: one line per node");
    my @bad = grep { !defined $got{$_} || $got{$_} !~ $word } @nodes;
    ok(!@bad, "$name: words match $word") or diag join("\n", map { "$_: " . ($got{$_} // '(none)') } @bad[0 .. ($#bad > 4 ? 4 : $#bad)]);
}

# Every node's simulator entry has the fields of %$want; no session is left open; every login
# was logged out unless the BMC rebooted (which ends its sessions without a logout).
sub sim_ok {
    my ($name, $want, $rebooted, @nodes) = @_;
    @nodes = @all unless @nodes;
    my @bad = sim_mismatches($fleet, \@nodes, $want, $rebooted);
    ok(!@bad, "$name: simulator state and sessions") or diag join("\n", @bad[0 .. ($#bad > 5 ? 5 : $#bad)]);
}

# One command over the whole fleet: counters zeroed first, then the words, then the simulator.
sub step {
    my ($cmd, $args, $word, $want, $rebooted) = @_;
    my $name = "$cmd @$args";
    sim_reset($fleet, counters => 1, states => 0, faults => 0);
    my $r = run_cmd([ "$repo/perl/bin/$cmd", $range, @$args ], env => \%env, timeout => 180);
    words_ok($r, $word, $name);
    sim_ok($name, $want, $rebooted);
}

# [command, args, word, simulator fields after it (transitions counts this command's only), rebooted]
my @steps = (
    [ rpower => ['state'],    qr/^off$/,     { power => 'off', transitions => 0 } ],
    [ rpower => ['on'],       qr/^on$/,      { power => 'on', chassis => 'On', host => 'Running', requested_host => 'On', transitions => 1 } ],
    [ rpower => ['stat'],     qr/^on$/,      { power => 'on', transitions => 0 } ],
    [ rpower => ['status'],   qr/^on$/,      { power => 'on', transitions => 0 } ],
    [ rpower => ['off'],      qr/^off$/,     { power => 'off', chassis => 'Off', requested_chassis => 'Off', transitions => 1 } ],
    [ rpower => ['state'],    qr/^off$/,     { power => 'off', transitions => 0 } ],
    [ rpower => ['reset'],    qr/^off$/,     { power => 'off', transitions => 0 } ],    # reset leaves an off node off
    [ rpower => ['boot'],     qr/^reset$/,   { power => 'on', requested_host => 'On', transitions => 1 } ],   # off: power on only
    [ rpower => ['reset'],    qr/^reset$/,   { power => 'on', requested_chassis => 'Off', requested_host => 'On', transitions => 2 } ],
    [ rpower => ['boot'],     qr/^reset$/,   { power => 'on', transitions => 2 } ],   # on: off, wait, on
    [ rpower => ['softoff'],  qr/^softoff$/, { power => 'off', host => 'Off', chassis => 'Off', requested_host => 'Off', transitions => 1 } ],
    [ rpower => ['bmcstate'], qr/^BMC Ready$/, { bmc_state => 'Ready', requested_bmc => 'None', transitions => 0 } ],
    [ rpower => ['bmcreboot'], qr/^BMC reboot$/, { requested_bmc => 'Reboot', bmc_state => 'Ready', power => 'off', transitions => 0 }, 1 ],
    [ rpower => ['bmcstate'], qr/^BMC Ready$/, { bmc_state => 'Ready' } ],

    [ rsetboot => ['net'],          qr/^Network$/,    { one_time_enabled => 'true', one_time_source => 'Network', boot_source => 'Default' } ],
    [ rsetboot => [],               qr/^Network$/,    { one_time_enabled => 'true', one_time_source => 'Network', boot_source => 'Default' } ],
    [ rsetboot => [ 'hd', '-p' ],   qr/^Hard Drive$/, { one_time_enabled => 'false', boot_source => 'Disk' } ],
    [ rsetboot => ['stat'],         qr/^Hard Drive$/, { one_time_enabled => 'false', boot_source => 'Disk' } ],
    [ rsetboot => ['hd'],           qr/^Hard Drive$/, { one_time_enabled => 'true', one_time_source => 'Disk', boot_source => 'Disk' } ],
    [ rsetboot => ['cd'],           qr/^CD\/DVD$/,    { one_time_enabled => 'true', one_time_source => 'ExternalMedia', boot_source => 'Disk' } ],
    [ rsetboot => ['def'],          qr/^Default$/,    { one_time_enabled => 'true', one_time_source => 'Default', boot_source => 'Disk' } ],
    [ rsetboot => ['default'],      qr/^Default$/,    { one_time_enabled => 'true', one_time_source => 'Default', boot_source => 'Disk' } ],
    [ rsetboot => [ 'net', '-p' ],  qr/^Network$/,    { one_time_enabled => 'false', boot_source => 'Network' } ],
    [ rsetboot => [ 'cd', '-p' ],   qr/^CD\/DVD$/,    { one_time_enabled => 'false', boot_source => 'ExternalMedia' } ],
    [ rsetboot => [ 'def', '-p' ],  qr/^Default$/,    { one_time_enabled => 'false', boot_source => 'Default' } ],
    [ rsetboot => ['net'],          qr/^Network$/,    { one_time_enabled => 'true', one_time_source => 'Network', boot_source => 'Default' } ],
    [ rsetboot => [ 'default', '-p' ], qr/^Default$/, { one_time_enabled => 'false', boot_source => 'Default' } ],
    [ rsetboot => ['stat'],         qr/^Default$/,    { one_time_enabled => 'false', boot_source => 'Default' } ],
);
for my $step (@steps) {
    # A failing control API call is a failed test with its reason, not a crash of the script.
    eval { step(@$step); 1 } or fail("$step->[0] @{ $step->[1] }: $@");
}

# Two commands at once on different nodes.
{
    sim_reset($fleet, counters => 1, states => 1, faults => 0);
    my $a = start_cmd([ "$repo/perl/bin/rpower", 'node[001-016]', 'on' ], env => \%env, timeout => 180);
    my $b = start_cmd([ "$repo/perl/bin/rsetboot", 'node[017-032]', 'net' ], env => \%env, timeout => 180);
    words_ok(finish_cmd($a), qr/^on$/, 'concurrent rpower on', @all[ 0 .. 15 ]);
    words_ok(finish_cmd($b), qr/^Network$/, 'concurrent rsetboot net', @all[ 16 .. 31 ]);
    sim_ok('concurrent rpower on', { power => 'on', one_time_enabled => 'false' }, 0, @all[ 0 .. 15 ]);
    sim_ok('concurrent rsetboot net', { power => 'off', one_time_enabled => 'true', one_time_source => 'Network' }, 0,
        @all[ 16 .. 31 ]);
}

# An unknown action: the reference's error, exit 1, no BMC contacted.
{
    sim_reset($fleet, counters => 1, states => 0, faults => 0);
    my $r = run_cmd([ "$repo/perl/bin/rpower", $range, 'ddd' ], env => \%env, timeout => 180);
    is(scalar(grep { /^node\d{3}: Error: Unsupported command: rpower ddd$/ } lines(untag($r->{out}))), $N, 'unknown action: one line per node');
    is($r->{rc}, 1, 'unknown action: exit 1');
    is((grep { $_->{requests} } values %{ sim_nodes($fleet) }), 0, 'unknown action: no BMC contacted');
}

stop_fleet($fleet);
done_testing();
