# Backend selection of openbmc2 (docs/xcat-facts.md#backend-policy: agent file, XCAT_OPENBMC_DEVEL in
# each of its three request shapes, site.openbmcperl, the DEVEL-only commands) and the order of
# process_request (docs/xcat-facts.md#broker-process: the agent file is checked before any table is
# read), in-process as xcatd calls the plugins and through the runner (site.csv read by its
# xCAT::Table stand-in).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use BrokerTest qw(untag repo_root write_csv write_tables run_cmd fake_agent new_dir slurp);

use xCAT::Table;
require xCAT_plugin::openbmc2;
require xCAT_plugin::redfish;

my $repo  = repo_root();
my $dir   = new_dir();
my @nodes = write_tables($dir, nodes => 2);
my $agent = fake_agent($dir);
my $MISSING = 'The xCAT Python agent does not exist. Check if xCAT-openbmc-py package is installed on '
  . 'management node and service nodes.';

local $ENV{XCAT_TABLES} = $dir;
local $ENV{XCAT_AGENT}  = $agent;

sub site { write_csv($dir, 'site', [qw(key value comments disable)], @_) }

# preprocess_request of a plugin: (parts, callback replies).
sub pre {
    my ($plugin, $cmd, $environment, @args) = @_;
    my @got;
    my $req = { command => [$cmd], node => [@nodes], arg => [@args], cwd => ['/tmp'] };
    $req->{environment} = $environment if defined $environment;
    my $parts = "xCAT_plugin::$plugin"->can('preprocess_request')->($req, sub { push @got, $_[0] }, sub { });
    return ($parts, \@got);
}
sub python_ok {
    my ($name, @pre) = @_;
    my ($parts, $got) = pre(@pre);
    ok(ref $parts eq 'ARRAY' && @$parts == 1 && !@$got, "$name: Python, request dispatched");
}
sub silent_ok {
    my ($name, @pre) = @_;
    my ($parts, $got) = pre(@pre);
    ok(!$parts && !@$got, "$name: nothing returned, nothing said");
}
# xCAT's three shapes of request.environment: [label, environment].
sub env_shapes {
    my ($v) = @_;
    return ([ 'environment[0].X[0]', [ { XCAT_OPENBMC_DEVEL => [$v] } ] ],
        [ 'environment[0].X', [ { XCAT_OPENBMC_DEVEL => $v } ] ], [ 'environment.X', { XCAT_OPENBMC_DEVEL => $v } ]);
}

# --- the site table stand-in -----------------------------------------------------------
{
    site([ 'master', '10.0.0.1' ], [ 'openbmcperl', 'rinv,rvitals', 'a comment' ], [ 'openbmcperl', 'ALL', undef, '1' ]);
    my $site = xCAT::Table->new('site');
    ok($site, 'site.csv read from XCAT_TABLES');
    my ($entry) = $site->getAttribs({ key => 'openbmcperl' }, 'value');
    is_deeply($entry, { value => 'rinv,rvitals' }, 'getAttribs({key => openbmcperl}, value); a disabled row is skipped');
    unlink "$dir/site.csv";
    ok(!defined xCAT::Table->new('site'), 'no site.csv: no table');
}

# --- run_cmd_in_perl, each branch in xCAT's order ------------------------------------------
{
    my $p = sub { [ xCAT_plugin::openbmc2::run_cmd_in_perl($_[0], { environment => $_[1] }) ] };
    is_deeply($p->('rpower'), [ 0, '' ], 'default: Python');
    {
        local $ENV{XCAT_AGENT} = "$dir/no/agent.py";
        is_deeply($p->('rpower'), [ 1, '' ], 'agent file missing: Perl');
        is_deeply($p->('rpower', [ { XCAT_OPENBMC_DEVEL => ['bogus'] } ]), [ 1, '' ], 'agent file missing is checked first');
    }
    for my $shape (env_shapes('maybe')) {
        is_deeply($p->('rpower', $shape->[1]),
            [ -1, "Invalid value maybe for XCAT_OPENBMC_DEVEL, only 'YES' and 'NO' are supported." ],
            "invalid XCAT_OPENBMC_DEVEL in $shape->[0]: -1 with xCAT's message");
    }
    is_deeply($p->('rpower', [ { XCAT_OPENBMC_DEVEL => ['no'] } ]), [ 0, '' ], 'XCAT_OPENBMC_DEVEL=no (any case) is valid');
    is_deeply($p->('rflash'), [ 1, '' ], 'rflash without XCAT_OPENBMC_DEVEL: Perl');
    is_deeply($p->('getopenbmccons', [ { XCAT_OPENBMC_DEVEL => ['NO'] } ]), [ 1, '' ], 'getopenbmccons with DEVEL=NO: Perl');
    for my $shape (env_shapes('Yes')) {
        is_deeply($p->('rflash', $shape->[1]), [ 0, '' ], "rflash with XCAT_OPENBMC_DEVEL=Yes in $shape->[0]: Python");
    }

    site([ 'openbmcperl', 'rpower,rbeacon' ]);
    is_deeply($p->('rpower'), [ 1, '' ], 'openbmcperl names rpower: Perl');
    is_deeply($p->('rsetboot'), [ 0, '' ], 'openbmcperl does not name rsetboot: Python');
    site([ 'openbmcperl', 'xrpowerx' ]);
    is_deeply($p->('rpower'), [ 1, '' ], 'openbmcperl is a regex match, not a list lookup');
    for my $all (qw(ALL all All)) {
        site([ 'openbmcperl', $all ]);
        is_deeply($p->('rsetboot'), [ 1, '' ], "openbmcperl=$all: Perl");
    }
    site([ 'openbmcperl', 'ALL' ]);
    is_deeply($p->('rsetboot', [ { XCAT_OPENBMC_DEVEL => ['x'] } ]), [ -1, "Invalid value x for XCAT_OPENBMC_DEVEL, only 'YES' and 'NO' are supported." ],
        'XCAT_OPENBMC_DEVEL is checked before openbmcperl');
    site([ 'openbmcperl', '' ]);
    is_deeply($p->('rpower'), [ 0, '' ], 'empty openbmcperl: Python');
    unlink "$dir/site.csv";
}

# --- preprocess_request follows the policy, silently ------------------------------------------
{
    python_ok('default', 'openbmc2', 'rpower', undef, 'on');
    {
        local $ENV{XCAT_AGENT} = "$dir/no/agent.py";
        silent_ok('agent file missing', 'openbmc2', 'rpower', undef, 'on');
        silent_ok('agent file missing, even with invalid arguments', 'openbmc2', 'rpower', undef, 'ddd');
    }
    for my $shape (env_shapes('bogus')) {
        silent_ok("invalid XCAT_OPENBMC_DEVEL in $shape->[0]", 'openbmc2', 'rpower', $shape->[1], 'on');
    }
    python_ok('XCAT_OPENBMC_DEVEL=NO', 'openbmc2', 'rsetboot', [ { XCAT_OPENBMC_DEVEL => ['NO'] } ], 'net');
    silent_ok('rflash without DEVEL', 'openbmc2', 'rflash', undef);
    my ($parts, $got) = pre('openbmc2', 'rflash', [ { XCAT_OPENBMC_DEVEL => ['YES'] } ]);
    like($got->[0]{data}[0] // '', qr/Unsupported command: rflash$/m, 'rflash with DEVEL=YES goes on in Python (validation answers)');

    site([ 'openbmcperl', 'rpower' ]);
    silent_ok('openbmcperl=rpower, rpower', 'openbmc2', 'rpower', undef, 'on');
    silent_ok('openbmcperl=rpower, rpower -h', 'openbmc2', 'rpower', undef, '-h');
    python_ok('openbmcperl=rpower, rsetboot', 'openbmc2', 'rsetboot', undef, 'hd');
    site([ 'openbmcperl', 'all' ]);
    silent_ok('openbmcperl=all, rsetboot', 'openbmc2', 'rsetboot', undef, 'hd');

    # redfish.pm has no policy (docs/xcat-facts.md#redfish-broker).
    python_ok('redfish with openbmcperl=all', 'redfish', 'rpower', [ { XCAT_OPENBMC_DEVEL => ['bogus'] } ], 'on');
    unlink "$dir/site.csv";
}

# --- through the runner: xcatd hands the nodes to xCAT's legacy openbmc.pm too (a stand-in in
# perl/runner/plugins), which speaks when the policy does not select Python --------------------
{
    my %env = (XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_RUNDIR => "$dir/run",
        XCAT_AGENT_LOG => "$dir/agent.log", FAKE_MODE => 'echo', FAKE_OUT => "$dir/fake", PERL5LIB => undef);
    my $perl_lines = sub {
        my ($cmd, $why) = @_;
        return join('', map { "$_: Error: xCAT would run $cmd with its Perl OpenBMC backend (openbmc.pm) because $why; "
            . "the runner has no Perl backend.\n" } @nodes);
    };
    site([ 'openbmcperl', 'rsetboot' ]);
    unlink "$dir/fake.argv";
    my $r = run_cmd([ "$repo/perl/bin/rsetboot", 'all', 'net' ], env => \%env, timeout => 30);
    is(untag($r->{err}), $perl_lines->('rsetboot', 'site.openbmcperl is "rsetboot"'),
        'runner, openbmcperl=rsetboot: each node says the Perl backend was chosen');
    like($r->{err}, qr/^node001: \[mn01\]: Error: xCAT would run rsetboot/, 'runner, openbmcperl=rsetboot: a node error line');
    is($r->{out}, '', 'runner, openbmcperl=rsetboot: nothing on stdout');
    is($r->{rc}, 1, 'runner, openbmcperl=rsetboot: exit 1');
    ok(!-e "$dir/fake.argv", 'runner, openbmcperl=rsetboot: no agent started');
    $r = run_cmd([ "$repo/perl/bin/rpower", 'all', 'on' ], env => \%env, timeout => 30);
    is(untag($r->{out}) . $r->{err}, join('', map { "$_: ok rpower [\"on\"]\n" } @nodes),
        'runner, openbmcperl=rsetboot: rpower still in Python, the legacy plugin silent');
    is($r->{rc}, 0, 'runner, openbmcperl=rsetboot: rpower exit 0');
    $r = run_cmd([ "$repo/perl/bin/rpower", 'all', 'on' ], env => { %env, XCAT_OPENBMC_DEVEL => 'perhaps' }, timeout => 30);
    is($r->{out} . $r->{err}, "Invalid value perhaps for XCAT_OPENBMC_DEVEL, only 'YES' and 'NO' are supported.\n",
        'runner, invalid XCAT_OPENBMC_DEVEL: xCAT\'s message, once');
    is($r->{rc}, 1, 'runner, invalid XCAT_OPENBMC_DEVEL: exit 1');
    unlink "$dir/site.csv";

    $r = run_cmd([ "$repo/perl/bin/rpower", 'all', 'state' ], env => { %env, XCAT_AGENT => "$dir/no/agent.py" }, timeout => 30);
    is(untag($r->{err}), $perl_lines->('rpower', "the xCAT Python agent $dir/no/agent.py does not exist"),
        'runner, XCAT_AGENT missing: one line per node, the Perl backend would run it');
    is($r->{out}, '', 'runner, XCAT_AGENT missing: nothing on stdout');
    is($r->{rc}, 1, 'runner, XCAT_AGENT missing: exit 1');
}

# --- process_request: the agent file first, then the tables ---------------------------------
{
    local $ENV{XCAT_AGENT} = "$dir/no/agent.py";
    for my $plugin (qw(openbmc2 redfish)) {
        my @got;
        # node003 has no openbmc row: had the table been read first, it would get its own message.
        my $rc = "xCAT_plugin::$plugin"->can('process_request')->(
            { command => ['rpower'], node => [ @nodes, 'node003' ], arg => ['on'] }, sub { push @got, $_[0] }, sub { });
        is($rc, 1, "$plugin: missing agent returns 1");
        is_deeply(\@got, [ { node => [ map { { name => [$_], errorcode => [1], error => [$MISSING] } } @nodes, 'node003' ] } ],
            "$plugin: missing agent: xCAT's exact message for every node, before any node information, in one message");
    }
    my @got;
    xCAT_plugin::openbmc2::process_request({ command => ['rpower'], node => [], arg => ['on'] }, sub { push @got, $_[0] });
    is_deeply(\@got, [ { errorcode => [1], error => [$MISSING] } ], 'missing agent without nodes: one error');
}

done_testing();
