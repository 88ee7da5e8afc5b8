# End to end over Redfish: perl/bin/rpower and rsetboot -> plugin redfish.pm -> a real forked
# agent.py -> simulated Redfish fleets of 50 BMCs each, in the BMC reply styles that matter:
# actions and PATCH answered 200 with a body or 204 without one, and reset types offered
# inline or through @Redfish.ActionInfo. Every rpower action and every rsetboot form, checking
# each node's printed word, the exit code, the simulator's state after the command
# (redfish_power, boot_override_enabled/target, BMC state, requested transitions) and that no
# session is left open (logouts == logins, except after bmcreboot, which drops the sessions
# itself). The three fleets run each step at the same time. Skipped when the agent cannot run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BrokerTest qw(untag node_lines repo_root start_cmd finish_cmd lines start_fleet stop_fleet sim_reset sim_mismatches chain_missing);

my $repo  = repo_root();
my $missing = chain_missing();
plan skip_all => $missing if $missing;

my $N = 50;

# name => fleet options. Read-only.
my %STYLES = (
    'body'       => [ '--redfish-reply', 'body', '--redfish-allowable', 'inline' ],
    '204'        => [ '--redfish-reply', '204',  '--redfish-allowable', 'inline' ],
    'actioninfo' => [ '--redfish-reply', 'body', '--redfish-allowable', 'actioninfo' ],
);
my @styles = sort keys %STYLES;

my %fleets;
END { stop_fleet($_) for values %fleets }
my $octet = 72;
for my $style (@styles) {
    my $fleet = start_fleet(nodes => $N, protocol => 'redfish', base => '127.' . $octet++ . '.0.1', args => $STYLES{$style});
    BAIL_OUT("redfish fleet ($style) did not become ready within 60 s: $BrokerTest::FLEET_ERROR") unless $fleet;
    $fleets{$style} = $fleet;
}
my $range = sprintf('node[001-%03d]', $N);

sub env_of {
    my ($fleet) = @_;
    return { XCAT_TABLES => $fleet->{tables}, XCAT_AGENT_TIMEOUT => 120, XCAT_AGENT_LOG => "$fleet->{tables}/agent.log",
        PERL5LIB => undef };
}

# Each node's line matches $word, nothing on stderr, exit 0.
sub words_ok {
    my ($r, $word, $name, $nodes) = @_;
    my %got = %{ node_lines($r->{out}) };
    ok(!$r->{timed_out}, "$name: the command ended");
    is(untag($r->{err}), '', "$name: nothing on stderr") or diag $r->{err};
    is($r->{rc}, 0, "$name: exit 0");
    is(scalar(keys %got), scalar @$nodes, "$name: one line per node");
    my @bad = grep { !defined $got{$_} || $got{$_} !~ $word } @$nodes;
    ok(!@bad, "$name: words match $word") or diag join("\n", map { "$_: " . ($got{$_} // '(none)') } @bad[0 .. ($#bad > 4 ? 4 : $#bad)]);
}

# Every node's simulator entry has the fields of %$want, no session is open, and every login was
# logged out unless the BMC rebooted.
sub sim_ok {
    my ($name, $fleet, $want, $rebooted) = @_;
    my @bad = sim_mismatches($fleet, $fleet->{nodes}, $want, $rebooted);
    ok(!@bad, "$name: simulator state and sessions") or diag join("\n", @bad[0 .. ($#bad > 5 ? 5 : $#bad)]);
}

# One command on every fleet at once (counters zeroed first), then words and simulator per fleet.
sub step {
    my ($cmd, $args, $word, $want, $rebooted) = @_;
    my %running;
    for my $style (@styles) {
        sim_reset($fleets{$style}, counters => 1, states => 0, faults => 0);
    }
    for my $style (@styles) {
        $running{$style} = start_cmd([ "$repo/perl/bin/$cmd", $range, @$args ], env => env_of($fleets{$style}), timeout => 120);
    }
    for my $style (@styles) {
        my $name = "[$style] $cmd @$args";
        words_ok(finish_cmd($running{$style}), $word, $name, $fleets{$style}{nodes});
        sim_ok($name, $fleets{$style}, $want, $rebooted);
    }
}

# [command, args, word, simulator fields after it (transitions counts this command's only), rebooted]
my @steps = (
    [ rpower => ['state'],     qr/^off$/,     { redfish_power => 'Off', transitions => 0 } ],
    [ rpower => ['on'],        qr/^on$/,      { redfish_power => 'On', power => 'on', requested_host => 'On', transitions => 1 } ],
    [ rpower => ['stat'],      qr/^on$/,      { redfish_power => 'On', transitions => 0 } ],
    [ rpower => ['status'],    qr/^on$/,      { redfish_power => 'On', transitions => 0 } ],
    [ rpower => ['off'],       qr/^off$/,     { redfish_power => 'Off', power => 'off', requested_chassis => 'Off', transitions => 1 } ],
    [ rpower => ['state'],     qr/^off$/,     { redfish_power => 'Off', transitions => 0 } ],
    [ rpower => ['reset'],     qr/^off$/,     { redfish_power => 'Off', transitions => 0 } ],    # reset leaves an off node off
    [ rpower => ['boot'],      qr/^reset$/,   { redfish_power => 'On', requested_host => 'On', transitions => 1 } ],   # off: ForceOn
    [ rpower => ['reset'],     qr/^reset$/,   { redfish_power => 'On', requested_host => 'Reboot', transitions => 1 } ],
    [ rpower => ['boot'],      qr/^reset$/,   { redfish_power => 'On', requested_host => 'Reboot', transitions => 1 } ],
    [ rpower => ['softoff'],   qr/^softoff$/, { redfish_power => 'Off', power => 'off', requested_host => 'Off', transitions => 1 } ],
    [ rpower => ['bmcstate'],  qr/^BMC Ready$/,  { bmc_state => 'Ready', requested_bmc => 'None', transitions => 0 } ],
    [ rpower => ['bmcreboot'], qr/^BMC reboot$/, { bmc_state => 'Ready', requested_bmc => 'Reboot', redfish_power => 'Off' }, 1 ],
    [ rpower => ['bmcstate'],  qr/^BMC Ready$/,  { bmc_state => 'Ready' } ],

    [ rsetboot => ['net'],             qr/^Network$/,    { boot_override_enabled => 'Once', boot_override_target => 'Pxe' } ],
    [ rsetboot => [],                  qr/^Network$/,    { boot_override_enabled => 'Once', boot_override_target => 'Pxe' } ],
    [ rsetboot => [ 'hd', '-p' ],      qr/^Hard Drive$/, { boot_override_enabled => 'Continuous', boot_override_target => 'Hdd' } ],
    [ rsetboot => ['stat'],            qr/^Hard Drive$/, { boot_override_enabled => 'Continuous', boot_override_target => 'Hdd' } ],
    [ rsetboot => ['-p'],              qr/^Hard Drive$/, { boot_override_enabled => 'Continuous', boot_override_target => 'Hdd' } ],
    [ rsetboot => ['hd'],              qr/^Hard Drive$/, { boot_override_enabled => 'Once', boot_override_target => 'Hdd' } ],
    [ rsetboot => ['cd'],              qr/^CD\/DVD$/,    { boot_override_enabled => 'Once', boot_override_target => 'Cd' } ],
    [ rsetboot => ['def'],             qr/^Default$/,    { boot_override_enabled => 'Disabled', boot_override_target => 'None' } ],
    [ rsetboot => [ 'net', '-p' ],     qr/^Network$/,    { boot_override_enabled => 'Continuous', boot_override_target => 'Pxe' } ],
    [ rsetboot => ['default'],         qr/^Default$/,    { boot_override_enabled => 'Disabled', boot_override_target => 'None' } ],
    [ rsetboot => [ 'cd', '-p' ],      qr/^CD\/DVD$/,    { boot_override_enabled => 'Continuous', boot_override_target => 'Cd' } ],
    [ rsetboot => [ 'def', '-p' ],     qr/^Default$/,    { boot_override_enabled => 'Disabled', boot_override_target => 'None' } ],
    [ rsetboot => ['net'],             qr/^Network$/,    { boot_override_enabled => 'Once', boot_override_target => 'Pxe' } ],
    [ rsetboot => [ 'default', '-p' ], qr/^Default$/,    { boot_override_enabled => 'Disabled', boot_override_target => 'None' } ],
    [ rsetboot => ['stat'],            qr/^Default$/,    { boot_override_enabled => 'Disabled', boot_override_target => 'None', redfish_power => 'Off' } ],
);
for my $step (@steps) {
    # A failing control API call is a failed test with its reason, not a crash of the script.
    eval { step(@$step); 1 } or fail("$step->[0] @{ $step->[1] }: $@");
}

stop_fleet($_) for values %fleets;
done_testing();
