# Settings are checked once, by name, before anything starts (docs/DESIGN.md, "Settings that
# travel in envs" and "How the broker finds and starts the agent"): each bad XCAT_BMC_* value in
# the request and each bad XCAT_AGENT_* value of the broker gives one line naming the variable
# and the rule, rc 1, and no agent is started (so no BMC is contacted).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use BrokerTest qw(untag repo_root write_tables run_cmd fake_agent new_dir);

my $repo  = repo_root();
my $dir   = new_dir();
my @nodes = write_tables($dir, nodes => 2);
my $agent = fake_agent($dir);

sub rpower {
    my (%extra) = @_;
    unlink "$dir/fake.argv";
    my $r = run_cmd([ "$repo/perl/bin/rpower", 'all', 'state' ], timeout => 40, env => {
        XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_RUNDIR => "$dir/run",
        XCAT_AGENT_LOG => "$dir/agent.log", XCAT_AGENT_TIMEOUT => 20, FAKE_MODE => 'echo', FAKE_OUT => "$dir/fake",
        PERL5LIB => undef, %extra });
    $r->{started} = -e "$dir/fake.argv" ? 1 : 0;
    return $r;
}

my $positive = 'must be a number greater than 0';
my @bad = (
    [ XCAT_BMC_READ_TIMEOUT    => 'abc',  $positive ],
    [ XCAT_BMC_READ_TIMEOUT    => '-1',   $positive ],
    [ XCAT_BMC_READ_TIMEOUT    => '0',    $positive ],
    [ XCAT_BMC_POOL_SIZE       => '1.5',  'must be a whole number greater than 0' ],
    [ XCAT_BMC_POOL_SIZE       => '0',    'must be a whole number greater than 0' ],
    [ XCAT_BMC_DEADLINE        => '0',    $positive ],
    [ XCAT_BMC_DEADLINE        => 'inf',  $positive ],
    [ XCAT_BMC_VERIFY          => 'maybe', 'must be one of 1, 0, yes, no, true, false, on, off' ],
    [ XCAT_BMC_CONNECT_TIMEOUT => '1e999', $positive ],
    [ XCAT_BMC_CONNECT_TIMEOUT => ' 5',   $positive ],
    [ XCAT_BMC_STATE_WAIT      => '-1',   'must be a number of 0 or more' ],
    [ XCAT_BMC_POLL_INTERVAL   => '0x10', $positive ],
    [ XCAT_BMC_CA_BUNDLE       => "$dir/no-such-ca.pem", 'must name a readable file' ],
    [ XCAT_AGENT_TIMEOUT       => 'x',    'must be a number of 0 or more' ],
    [ XCAT_AGENT_TIMEOUT       => '-5',   'must be a number of 0 or more' ],
    [ XCAT_AGENT_RUNDIR        => 'run',  'must be an absolute path' ],
    [ XCAT_AGENT_LOG           => 'agent.log', 'must be an absolute path' ],
);
for my $case (@bad) {
    my ($var, $value, $rule) = @$case;
    my $r = rpower($var => $value);
    is(untag($r->{err}), "Error: $var=$value: $rule\n", "$var=$value: one line naming the variable and the rule");
    is(untag($r->{out}), '', "$var=$value: nothing else");
    is($r->{rc}, 1, "$var=$value: rc 1");
    is($r->{started}, 0, "$var=$value: no agent started");
}

{
    my $r = rpower(XCAT_BMC_READTIMEOUT => '5');
    is(untag($r->{err}), "Error: XCAT_BMC_READTIMEOUT=5: not a setting of this command (known: XCAT_BMC_CA_BUNDLE, "
        . "XCAT_BMC_CONNECT_TIMEOUT, XCAT_BMC_DEADLINE, XCAT_BMC_POLL_INTERVAL, XCAT_BMC_POOL_SIZE, "
        . "XCAT_BMC_READ_TIMEOUT, XCAT_BMC_STATE_WAIT, XCAT_BMC_VERIFY)\n", 'a misspelt setting is named');
    is($r->{started}, 0, 'misspelt: no agent started');

    $r = rpower(XCAT_BMC_READ_TIMEOUT => "1\e[2J", XCAT_BMC_DEADLINE => '-3');
    is(untag($r->{err}), "Error: XCAT_BMC_READ_TIMEOUT=1\\x1b[2J: $positive\nError: XCAT_BMC_DEADLINE=-3: $positive\n",
        'each bad value on its own line, control characters made visible');
    is($r->{rc}, 1, 'two bad values: rc 1');

    $r = rpower(XCAT_BMC_READ_TIMEOUT => '2.5', XCAT_BMC_POOL_SIZE => '16', XCAT_BMC_DEADLINE => '.5',
        XCAT_BMC_VERIFY => 'Off', XCAT_BMC_STATE_WAIT => '0', XCAT_BMC_POLL_INTERVAL => '1e-1',
        XCAT_BMC_CONNECT_TIMEOUT => '', XCAT_AGENT_TIMEOUT => '0');
    is(untag($r->{err}), '', 'good values (and an empty one, as unset) pass');
    is($r->{rc}, 0, 'good values: rc 0');
    is($r->{started}, 1, 'good values: the agent ran');
}

done_testing();
