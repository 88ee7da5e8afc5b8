# The runner's model of xcatd's relay (xCAT::Relay, docs/DESIGN.md "Output to xcatd"), and the
# broker's batched output through it: a plugin that hands xcatd one message per line right
# before it returns loses lines under the model, as under xcatd; the same lines in one message all
# arrive; the broker's 1000-node burst arrives whole, run after run, in a handful of messages.
# Fake agents only (the fleet-scale runs are in e2e_scale.t); no time is asserted.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use BrokerTest qw(repo_root write_tables run_cmd fake_agent new_dir slurp lines);
use xCAT::Relay;

my $repo = repo_root();
my $dir  = new_dir();

# A stand-in plugin: $n callbacks of one line each (or one callback with all of them), right
# before it returns; returns the lines delivered and the relay's counts.
sub relay_lines {
    my ($n, $together) = @_;
    my @got;
    local $ENV{XCAT_RUNNER_RELAY_STATS} = "$dir/stats";
    unlink "$dir/stats";
    xCAT::Relay::run(sub {
        my ($callback) = @_;
        if ($together) {
            $callback->({ info => [ map { "line $_" } 1 .. $n ] });
        } else {
            $callback->({ info => ["line $_"] }) for 1 .. $n;
        }
    }, sub { push @got, @{ $_[0]{info} } });
    my %stats = (slurp("$dir/stats") // '') =~ /(\w+)=(\d+)/g;
    return (\@got, \%stats);
}

# --- the model drops what is queued when the plugin's process has ended -------------------------
{
    my $lost_runs = 0;
    for my $run (1 .. 3) {
        my ($got, $stats) = relay_lines(1000, 0);
        is($stats->{messages}, 1000, "one message per line, run $run: 1000 messages sent");
        is($stats->{delivered}, scalar @$got, "run $run: the delivered count is what arrived");
        $lost_runs++ if @$got < 1000;
        is_deeply($got, [ map { "line $_" } 1 .. @$got ], "run $run: what arrives is in order, from the start");
    }
    ok($lost_runs, "one message per line right before returning loses lines under the relay model ($lost_runs of 3 runs)");
    for my $run (1 .. 3) {
        my ($got, $stats) = relay_lines(1000, 1);
        is(scalar @$got, 1000, "the same 1000 lines in one message, run $run: all arrive");
        is($stats->{messages}, 1, "run $run: one message");
    }
}

# --- a short command's last messages: the broker's finish waits for xcatd to read them ----------
{
    require xCAT::PyAgent::Batch;
    # A warning, a global error and node lines right before returning, as a command that fails
    # early sends them: five messages within a moment.
    my $tail = sub {
        my ($callback, $how) = @_;
        my $batch = xCAT::PyAgent::Batch->new($callback);
        $batch->response({ warning => ["warning $_"] }) for 1 .. 3;
        $batch->response({ error => ['a global error'], errorcode => [1] });
        $batch->node_line("node00$_", 'on') for 1 .. 3;
        $batch->$how;
    };
    for my $run (1 .. 3) {
        my @got;
        local $ENV{XCAT_RUNNER_RELAY_STATS} = "$dir/stats";
        unlink "$dir/stats";
        xCAT::Relay::run(sub { $tail->($_[0], 'finish') }, sub { push @got, $_[0] });
        my %stats = (slurp("$dir/stats") // '') =~ /(\w+)=(\d+)/g;
        is($stats{messages}, 5, "finish, run $run: five messages");
        is($stats{dropped}, 0, "finish, run $run: xcatd read every one before the plugin ended");
        my @nodes = map { $_->{name}[0] } map { @{ $_->{node} || [] } } @got;
        is_deeply(\@nodes, [qw(node001 node002 node003)], "finish, run $run: every node line arrives");
    }
}

# --- the broker through the model: a fake agent answers 1000 nodes at once ----------------------
{
    my @nodes = write_tables($dir, nodes => 1000);
    my $agent = fake_agent($dir);
    for my $run (1 .. 5) {
        unlink "$dir/stats";
        my $r = run_cmd([ "$repo/perl/bin/rpower", 'all', 'state' ], timeout => 120, env => {
            XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_RUNDIR => "$dir/run",
            XCAT_AGENT_LOG => "$dir/agent.log", XCAT_AGENT_TIMEOUT => 60, FAKE_MODE => 'echo',
            XCAT_RUNNER_RELAY => 'xcatd', XCAT_RUNNER_RELAY_STATS => "$dir/stats", PERL5LIB => undef });
        my %got = map { /^(node\d+): ok rpower/ ? ($1 => 1) : () } lines($r->{out});
        is(scalar(keys %got), 1000, "1000 nodes at once, run $run: every node's line arrives");
        is($r->{err}, '', "run $run: nothing on stderr");
        is($r->{rc}, 0, "run $run: exit 0");
        my %stats = (slurp("$dir/stats") // '') =~ /(\w+)=(\d+)/g;
        is($stats{dropped}, 0, "run $run: nothing dropped");
        cmp_ok($stats{messages}, '<=', 10, "run $run: a handful of messages ($stats{messages}), not one per line");
    }
}

done_testing();
