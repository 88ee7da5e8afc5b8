# Argument validation and rewriting of rinv, rvitals, rbeacon and reventlog (docs/COMMANDS.md
# "Broker"): every rule with its exact message and exit code through perl/bin (a fake agent that
# echoes the arguments it received), help and version texts, and the pure functions of
# xCAT::PyAgent::Rules.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use JSON::PP;
use BrokerTest qw(repo_root write_tables run_cmd fake_agent new_dir untag);
use xCAT::PyAgent::Rules qw(check_rbeacon check_rinv check_rvitals check_reventlog rewrite_reventlog);

my $repo  = repo_root();
my $dir   = new_dir();
my @nodes = write_tables($dir, nodes => 2);
my $agent = fake_agent($dir);
my %env = (
    XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X,
    XCAT_AGENT_LOG => "$dir/agent.log", XCAT_AGENT_RUNDIR => "$dir/run", XCAT_AGENT_TIMEOUT => 20,
    FAKE_MODE => 'echo', PERL5LIB => undef,
);
my $range = join(',', @nodes);
my $VERSION = "Version 2.19.0 (xCAT-openbmc-py runner)\n";
my $RESOLVED_USAGE = "Usage error. Provide a comma separated list of IDs to be resolved. Example: 'resolved=x,y,z'";
my %USAGE = (
    rinv => "Usage:\n    Common:\n       rinv <noderange> [all|model|serial] [-V|--verbose]\n"
      . "       rinv [-h|--help|-v|--version]\n    OpenPOWER (OpenBMC) server specific:\n"
      . "       rinv <noderange> [model][serial][firm][cpu][dimm][all] [-V|--verbose]\n    \n",
    rvitals => "Usage:\n    Common:\n       rvitals [-h|--help|-v|--version]\n    OpenPOWER (OpenBMC) specific:\n"
      . "       rvitals noderange [temp|voltage|wattage|fanspeed|power|leds|altitude|all]\n    \n",
    rbeacon => "Usage:\n    Common:\n       rbeacon [-h|--help|-v|--version|-V|--verbose]\n"
      . "    OpenPOWER (OpenBMC) specific:\n       rbeacon [on|off|stat]\n    \n",
    reventlog => "Usage: reventlog <noderange> [all [-s]|clear|<number of entries to retrieve> [-s]] [-V|--verbose]\n"
      . "       reventlog <noderange> [resolved={<id list>|LED}]\n       reventlog [-h|--help|-v|--version]\n",
);

sub echoed {
    my ($cmd, @args) = @_;
    my $json = JSON::PP->new->canonical->encode([@args]);
    return join('', map { "$_: ok $cmd $json\n" } @nodes);
}
# No arguments: the real client sends no arg key, and the agent gets args null (docs/RUNNER.md).
sub echoed_none { my ($cmd) = @_; return join('', map { "$_: ok $cmd null\n" } @nodes) }
sub per_node { my ($msg) = @_; return join('', map { "$_: Error: $msg\n" } @nodes) }
my $V = "Running command in Python\n";

# [command, [args], expected stdout, exit code, noderange (default both nodes)]
my @cases = (
    [ 'rinv', [], echoed_none('rinv'), 0 ],
    [ 'rinv', ['-V'], $V . echoed('rinv', '-V'), 0 ],
    [ 'rinv', [qw(model serial firm cpu dimm all)], echoed('rinv', qw(model serial firm cpu dimm all)), 0 ],
    [ 'rinv', [qw(cpu cpu cpu cpu cpu cpu)], echoed('rinv', qw(cpu cpu cpu cpu cpu cpu)), 0 ],
    [ 'rinv', [qw(firm -V --verbose)], $V . echoed('rinv', qw(firm -V --verbose)), 0 ],
    [ 'rinv', [qw(model bogus cpu aaa)], per_node('Unsupported command: rinv bogus'), 1 ],
    [ 'rinv', ['MODEL'], per_node('Unsupported command: rinv MODEL'), 1 ],
    [ 'rvitals', [], echoed_none('rvitals'), 0 ],
    [ 'rvitals', [qw(-V -V temp)], $V . echoed('rvitals', qw(-V -V temp)), 0 ],
    (map { [ 'rvitals', [$_], echoed('rvitals', $_), 0 ] } qw(all altitude fanspeed leds power temp voltage wattage)),
    [ 'rvitals', [qw(temp leds)], per_node('Only one option is supported at the same time for rvitals'), 1 ],
    [ 'rvitals', ['humidity'], per_node('Unsupported command: rvitals humidity'), 1 ],
    [ 'rbeacon', ['on'], echoed('rbeacon', 'on'), 0 ],
    [ 'rbeacon', [qw(stat -V)], $V . echoed('rbeacon', qw(stat -V)), 0 ],
    [ 'rbeacon', [], per_node('No option specified for rbeacon'), 1 ],
    [ 'rbeacon', [qw(on off)], per_node('Only one option is supported at the same time for rbeacon'), 1 ],
    [ 'rbeacon', ['blink'], per_node("Only 'on', 'off' and 'stat' are supported for OpenBMC managed nodes."), 1 ],
    [ 'reventlog', [], echoed('reventlog', 'list', 'all'), 0 ],
    [ 'reventlog', ['all'], echoed('reventlog', 'list', 'all'), 0 ],
    [ 'reventlog', ['10'], echoed('reventlog', 'list', '10'), 0 ],
    [ 'reventlog', [qw(10 -V)], $V . echoed('reventlog', 'list', '10', '-V'), 0 ],
    [ 'reventlog', [qw(-V 10)], $V . echoed('reventlog', 'list', '10', '-V'), 0 ],
    [ 'reventlog', ['--verbose'], $V . echoed('reventlog', 'list', 'all', '-V'), 0 ],
    [ 'reventlog', ['clear'], echoed('reventlog', 'clear'), 0 ],
    [ 'reventlog', ['resolved=1,2'], "Attempting to resolve the following log entries: 1,2...\n"
        . echoed('reventlog', 'resolved', 'resolved=1,2'), 0, $nodes[0] ],
    [ 'reventlog', ['resolved=Led'], "Attempting to resolve the following log entries: Led...\n"
        . echoed('reventlog', 'resolved', 'resolved=Led'), 0, $nodes[0] ],
    [ 'reventlog', ['resolved=1'], per_node('Resolving faults over a xCAT noderange is not recommended.'), 1 ],
    [ 'reventlog', ['resolved='], per_node($RESOLVED_USAGE), 1 ],
    [ 'reventlog', ['resolved=0'], per_node($RESOLVED_USAGE), 1 ],
    [ 'reventlog', ['resolved'], per_node($RESOLVED_USAGE), 1 ],
    [ 'reventlog', [ 'resolved', '1,2,3' ], per_node('Only one option is supported at the same time for reventlog'), 1 ],
    [ 'reventlog', [qw(10 -s)], per_node('The -s option is not supported for OpenBMC.'), 1 ],
    [ 'reventlog', [qw(10 -s 1)], per_node('The -s option is not supported for OpenBMC.'), 1 ],
    [ 'reventlog', [qw(-s all)], per_node('Only one option is supported at the same time for reventlog'), 1 ],
    [ 'reventlog', ['-s'], per_node('Unsupported command: reventlog -s'), 1 ],
    [ 'reventlog', [qw(all aaa)], per_node('Only one option is supported at the same time for reventlog'), 1 ],
    [ 'reventlog', ['aaa'], per_node('Unsupported command: reventlog aaa'), 1 ],
);
for my $cmd (sort keys %USAGE) {
    push @cases, [ $cmd, ['-h'], $USAGE{$cmd}, 0 ], [ $cmd, ['--help'], $USAGE{$cmd}, 0 ],
      [ $cmd, ['-v'], $VERSION, 0 ];
}

for my $case (@cases) {
    my ($cmd, $args, $out, $rc, $target) = @$case;
    my $r = run_cmd([ "$repo/perl/bin/$cmd", $target // $range, @$args ], env => \%env, timeout => 30);
    my $name = "$cmd @$args";
    my $want = $out;
    $want = join('', grep { !/^\Q$nodes[1]\E: / } split /^/, $out) if defined $target;
    # the source tags of -V lines are the runner's (09_runner_output.t); here the words count
    is(untag($r->{out}), $want, "$name: stdout");
    is($r->{err}, '', "$name: stderr empty");
    is($r->{rc}, $rc, "$name: exit $rc");
}

# Help without a noderange, as `rinv -h`.
for my $cmd (sort keys %USAGE) {
    my $r = run_cmd([ "$repo/perl/bin/$cmd", '-h' ], env => \%env, timeout => 30);
    is($r->{out}, $USAGE{$cmd}, "$cmd -h without noderange");
    is($r->{rc}, 0, "$cmd -h without noderange: exit 0");
}

# The pure functions.
is_deeply([ check_rinv([]) ], [undef], 'check_rinv: nothing is all');
is_deeply([ check_rvitals([]) ], [undef], 'check_rvitals: nothing is all');
is_deeply([ check_rbeacon(['stat']) ], [undef], 'check_rbeacon stat');
is_deeply([ check_reventlog(['resolved=3'], ['n1']) ],
    [ undef, 'Attempting to resolve the following log entries: 3...' ], 'check_reventlog resolved: the note');
is_deeply([ check_reventlog(['resolved=x'], [ 'n1', 'n2' ]) ],
    ['Resolving faults over a xCAT noderange is not recommended.'], 'check_reventlog resolved on two nodes');
is_deeply(rewrite_reventlog([]), [ 'list', 'all' ], 'rewrite: nothing');
is_deeply(rewrite_reventlog([qw(--verbose 5)]), [ 'list', '5', '-V' ], 'rewrite: verbose first keeps the count');
is_deeply(rewrite_reventlog(['clear']), ['clear'], 'rewrite: clear');
is_deeply(rewrite_reventlog(['resolved=LED']), [ 'resolved', 'resolved=LED' ], 'rewrite: resolved');

# The broker's fast path for the agent's info frames gives what JSON::PP gives.
{
    require xCAT::PyAgent;
    my $json = JSON::PP->new->utf8;
    my @bodies = (
        '{"type":"message","msg":{"type":"info","data":"n1: a\\nn1: b \\"q\\" \\\\u0041 \\/ \\t"}}',
        qq({"type":"message","msg":{"type":"info","data":"n1: caf\xc3\xa9 \xe2\x98\x83"}}),
        '{"type":"message","msg":{"type":"info","data":"n1: \\u00e9 ctl \\u0001"}}',
        '{"type":"message","msg":{"type":"info","data":""}}',
        '{"type":"message","msg":{"type":"info","data":"n1: a\\nn1: b","node":"n1"}}',
        '{"type":"message","msg":{"type":"info","data":"n1: a","node":"n\\"1"}}',
        '{"type":"message","msg":{"type":"error","data":"x","node":"n1"}}',
        '{"type":"message","msg":{"type":"info","data":"bad \\x escape"}}',
    );
    for my $body (@bodies) {
        my $want = eval { $json->decode($body) };
        is_deeply(xCAT::PyAgent::decode_reply($json, $body), $want, "decode_reply: $body");
    }
    is(xCAT::PyAgent::decode_reply($json, '{"type":"message","msg":{"type":"info","data":"n1: a\\nb"}}')->{msg}{data},
        "n1: a\nb", 'decode_reply: escapes undone');
}

done_testing();
