# At fleet scale through the model of xcatd's relay (XCAT_RUNNER_RELAY=xcatd, docs/DESIGN.md
# "Output to xcatd"): perl/bin/rpower -> plugin -> agent.py -> simulated OpenBMC fleets of 1000
# and 10,000 BMCs, `rpower state` three times in a row at 1000 and once at 10,000: every node's
# line arrives, nothing is dropped, and the broker hands xcatd a few dozen messages, not one per
# node (the counts are reported with diag). Kept lean: state only. No time is asserted; each
# command is bounded. Skipped when the agent cannot run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BrokerTest qw(repo_root run_cmd lines start_fleet stop_fleet chain_missing slurp);

my $repo = repo_root();
my $missing = chain_missing();
plan skip_all => $missing if $missing;

my %fleets;
END { stop_fleet($_) for values %fleets }

for my $case ([ 1000, '127.110.0.1', 3 ], [ 10000, '127.120.0.1', 1 ]) {
    my ($n, $base, $runs) = @$case;
    my $fleet = start_fleet(nodes => $n, base => $base);
    BAIL_OUT("fleet of $n did not become ready: $BrokerTest::FLEET_ERROR") unless $fleet;
    $fleets{$n} = $fleet;
    my $width = length($n) > 3 ? length($n) : 3;
    my $range = sprintf('node[%0*d-%d]', $width, 1, $n);
    my $stats = "$fleet->{tables}/relay.stats";
    for my $run (1 .. $runs) {
        unlink $stats;
        my $r = run_cmd([ "$repo/perl/bin/rpower", $range, 'state' ], timeout => 600, env => {
            XCAT_TABLES => $fleet->{tables}, XCAT_AGENT_TIMEOUT => 300, XCAT_AGENT_LOG => "$fleet->{tables}/agent.log",
            XCAT_RUNNER_RELAY => 'xcatd', XCAT_RUNNER_RELAY_STATS => $stats, PERL5LIB => undef });
        my %got = map { /^(node\d+): (on|off)$/ ? ($1 => 1) : () } lines($r->{out});
        ok(!$r->{timed_out}, "$n nodes, run $run: the command ended");
        is(scalar(keys %got), $n, "$n nodes, run $run: every node's line arrives");
        is($r->{err}, '', "$n nodes, run $run: nothing on stderr") or diag substr($r->{err}, 0, 2000);
        is($r->{rc}, 0, "$n nodes, run $run: exit 0");
        my %count = (slurp($stats) // '') =~ /(\w+)=(\d+)/g;
        is($count{dropped}, 0, "$n nodes, run $run: no message dropped");
        cmp_ok($count{messages} // 0, '<', $n / 10, "$n nodes, run $run: far fewer messages than nodes");
        diag(sprintf('%d nodes, run %d: %d callback messages to xcatd in %.1f s', $n, $run, $count{messages} // 0,
            $r->{secs}));
    }
    stop_fleet(delete $fleets{$n});
}

done_testing();
