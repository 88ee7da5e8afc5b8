# Argument validation of rpower and rsetboot: every valid and invalid form, with the exact
# message and exit code (docs/xcat-facts.md#argument-checks), through perl/bin (a subprocess, with a
# fake agent that echoes its arguments) and in-process through preprocess_request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use JSON::PP;
use xCAT::Usage;
use BrokerTest qw(untag repo_root write_tables run_cmd fake_agent new_dir);

my $repo = repo_root();
my $dir  = new_dir();
my @nodes = write_tables($dir, nodes => 2);
my $rfdir = new_dir();
write_tables($rfdir, nodes => 2, mgt => 'redfish');
my $agent = fake_agent($dir);
my %env = (
    XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X,
    XCAT_AGENT_LOG => "$dir/agent.log", XCAT_AGENT_RUNDIR => "$dir/run", XCAT_AGENT_TIMEOUT => 20,
    FAKE_MODE => 'echo', PERL5LIB => undef,
);
my $range = join(',', @nodes);

# xCAT's rpower usage texts (docs/RUNNER.md, "Help"): the block common to all hardware types,
# then OpenBMC's; without a noderange every hardware type's block. Each ends in a line of four
# blanks, as xCAT's Usage.pm texts do.
my $COMMON_USAGE = "Usage:\n    Common:\n"
  . "       rpower <noderange> [--nodeps] [on|onstandby|off|suspend|reset|stat|state|boot] [-V|--verbose] "
  . "[-m table.colum==expectedstatus][-m table.colum==expectedstatus...] [-r <retrycount>] [-t <timeout>]\n"
  . "       rpower [-h|--help|-v|--version]\n";
my $OPENBMC_USAGE = $COMMON_USAGE . "    OpenPOWER OpenBMC:\n"
  . "       rpower noderange [on|off|softoff|reset|boot|bmcreboot|bmcstate|stat|state|status]\n    \n";
my $FULL_USAGE = xCAT::Usage->getUsage('rpower') . "\n";
my $RSETBOOT_USAGE = "Usage: rsetboot <noderange> [net|hd|cd|floppy|def|stat] [-u] [-p]\n       rsetboot [-h|--help|-v|--version]\n";
my $VERSION = "Version 2.19.0 (xCAT-openbmc-py runner)\n";

sub echoed {
    my ($cmd, @args) = @_;
    # no arguments: the request has no arg key, as from xCAT's client, and the agent gets null
    my $json = @args ? JSON::PP->new->canonical->encode([@args]) : 'null';
    return join('', map { "$_: ok $cmd $json\n" } @nodes);
}
sub per_node { my ($msg) = @_; return join('', map { "$_: Error: $msg\n" } @nodes) }

# [command, [args], expected stdout, expected exit code]; stderr must be empty for all.
my @cases;
for my $sub (qw(on off softoff reset boot bmcreboot bmcstate status stat state)) {
    push @cases, [ 'rpower', [$sub], echoed('rpower', $sub), 0 ];
}
push @cases,
  [ 'rpower', [ '-V', 'on' ], "Running command in Python\n" . echoed('rpower', '-V', 'on'), 0 ],
  [ 'rpower', [ 'stat', '--verbose' ], "Running command in Python\n" . echoed('rpower', 'stat', '--verbose'), 0 ],
  [ 'rpower', [], per_node('Unsupported command: rpower '), 1 ],    # no arg key, as from xCAT's client
  [ 'rpower', ['-V'], per_node('No option specified for rpower'), 1 ],
  [ 'rpower', [ 'on', 'off' ], per_node('Only one option is supported at the same time for rpower'), 1 ],
  [ 'rpower', [ 'on', '--nodeps' ], per_node('Only one option is supported at the same time for rpower'), 1 ],
  [ 'rpower', [ 'on', '-V', 'off' ], per_node('Only one option is supported at the same time for rpower'), 1 ],
  [ 'rpower', ['-h'], $OPENBMC_USAGE, 0 ],
  [ 'rpower', ['--help'], $OPENBMC_USAGE, 0 ],
  [ 'rpower', ['-v'], $VERSION, 0 ],
  [ 'rpower', ['--version'], $VERSION, 0 ],
  [ 'rpower', [ '-V', '-V', 'on' ], "Running command in Python\n" . echoed('rpower', '-V', '-V', 'on'), 0 ],
  [ 'rpower', [ '--verbose', 'bmcstate' ], "Running command in Python\n" . echoed('rpower', '--verbose', 'bmcstate'), 0 ],
  [ 'rpower', [ 'on', '-p' ], per_node('Only one option is supported at the same time for rpower'), 1 ],
  [ 'rpower', [ '-h', 'on' ], $OPENBMC_USAGE, 0 ],
  [ 'rpower', [ 'pduoff', 'extra' ], '', 0 ];
for my $bad (qw(--nodeps suspend wake cycle ddd ON onstandby -p)) {
    push @cases, [ 'rpower', [$bad], per_node("Unsupported command: rpower $bad"), 1 ];
}
for my $pdu (qw(pduon pduoff pdustat pdureset)) {
    push @cases, [ 'rpower', [$pdu], '', 0 ];
}
push @cases, [ 'rsetboot', [], echoed('rsetboot'), 0 ];
for my $dev (qw(net hd cd def default stat)) {
    push @cases, [ 'rsetboot', [$dev], echoed('rsetboot', $dev), 0 ];
    push @cases, [ 'rsetboot', [ $dev, '-p' ], echoed('rsetboot', $dev, '-p'), 0 ];
}
push @cases,
  [ 'rsetboot', ['-p'], echoed('rsetboot', '-p'), 0 ],
  [ 'rsetboot', [ '-V', 'hd' ], "Running command in Python\n" . echoed('rsetboot', '-V', 'hd'), 0 ],
  [ 'rsetboot', [ 'net', '-p', '-V' ], "Running command in Python\n" . echoed('rsetboot', 'net', '-p', '-V'), 0 ],
  [ 'rsetboot', [ '-p', 'net' ], per_node('Unsupported command: rsetboot -p'), 1 ],
  [ 'rsetboot', [ 'net', '-u' ], per_node('Only one option is supported at the same time for rsetboot'), 1 ],
  [ 'rsetboot', [ 'net', 'hd' ], per_node('Only one option is supported at the same time for rsetboot'), 1 ],
  [ 'rsetboot', ['-h'], $RSETBOOT_USAGE, 0 ],
  [ 'rsetboot', ['--help'], $RSETBOOT_USAGE, 0 ],
  [ 'rsetboot', ['-v'], $VERSION, 0 ],
  [ 'rsetboot', ['--version'], $VERSION, 0 ],
  [ 'rsetboot', ['-V'], "Running command in Python\n" . echoed('rsetboot', '-V'), 0 ],
  [ 'rsetboot', [ '--verbose', '-p' ], "Running command in Python\n" . echoed('rsetboot', '--verbose', '-p'), 0 ],
  [ 'rsetboot', [ 'hd', '-p', '-p' ], echoed('rsetboot', 'hd', '-p', '-p'), 0 ],
  [ 'rsetboot', [ '-p', '-p' ], echoed('rsetboot', '-p', '-p'), 0 ],
  [ 'rsetboot', [ 'net', '-p', 'hd' ], per_node('Only one option is supported at the same time for rsetboot'), 1 ],
  [ 'rsetboot', [ '-V', '-p', 'cd' ], per_node('Unsupported command: rsetboot -p'), 1 ],
  [ 'rsetboot', [ 'stat', '-u' ], per_node('Only one option is supported at the same time for rsetboot'), 1 ];
for my $bad (qw(state floppy setup -u NET)) {
    push @cases, [ 'rsetboot', [$bad], per_node("Unsupported command: rsetboot $bad"), 1 ];
}

for my $case (@cases) {
    my ($cmd, $args, $out, $rc) = @$case;
    my $r = run_cmd([ "$repo/perl/bin/$cmd", $range, @$args ], env => \%env, timeout => 30);
    my $name = "$cmd @$args";
    is(untag($r->{out}), $out, "$name: stdout");
    is(untag($r->{err}), '', "$name: stderr empty");
    is($r->{rc}, $rc, "$name: exit $rc");
}

# Help and version without a noderange, as `rpower -h`.
{
    my $r = run_cmd([ "$repo/perl/bin/rpower", '-h' ], env => \%env, timeout => 30);
    is($r->{out}, $FULL_USAGE, 'rpower -h without noderange: the usage of every hardware type');
    like($FULL_USAGE, qr/\A\Q$COMMON_USAGE\E    BMC \(using IPMI\):\n.*\n    OpenPOWER OpenBMC:\n.*\n    pdu specific:\n/s,
        'the full usage: common block, the blocks before OpenBMC\'s, OpenBMC\'s, the ones after');
    is($r->{rc}, 0, 'rpower -h without noderange: exit 0');
    $r = run_cmd([ "$repo/perl/bin/rsetboot", '-v' ], env => \%env, timeout => 30);
    is(untag($r->{out}), $VERSION, 'rsetboot -v without noderange');
    for my $cmd (qw(rpower rsetboot)) {
        for my $range (undef, '') {
            $r = run_cmd([ "$repo/perl/bin/$cmd", defined $range ? ($range, 'state') : () ], env => \%env, timeout => 30);
            my $what = defined $range ? "$cmd '' state" : "$cmd alone";
            is($r->{out}, xCAT::Usage->getUsage($cmd) . "\n", "$what: xCAT's usage");
            is($r->{rc}, 1, "$what: exit 1");
        }
    }
    for my $case ([ 'rsetboot', '--version', $VERSION ], [ 'rsetboot', '--help', $RSETBOOT_USAGE ],
        [ 'rpower', '--version', $VERSION ], [ 'rpower', '--help', $FULL_USAGE ]) {
        my ($cmd, $flag, $text) = @$case;
        $r = run_cmd([ "$repo/perl/bin/$cmd", $flag ], env => \%env, timeout => 30);
        is(untag($r->{out}), $text, "$cmd $flag without noderange");
        is($r->{rc}, 0, "$cmd $flag without noderange: exit 0");
    }
}

# Redfish plugin: softoff accepted (our agent implements it), floppy/setup not, generic usage.
{
    my %rfenv = (%env, XCAT_TABLES => $rfdir);
    my $r = run_cmd([ "$repo/perl/bin/rpower", $range, 'softoff' ], env => \%rfenv, timeout => 30);
    is(untag($r->{out}), echoed('rpower', 'softoff'), 'redfish rpower softoff accepted');
    for my $bad (qw(floppy setup state)) {
        $r = run_cmd([ "$repo/perl/bin/rsetboot", $range, $bad ], env => \%rfenv, timeout => 30);
        is(untag($r->{out}), per_node("Unsupported command: rsetboot $bad"), "redfish rsetboot $bad rejected");
        is($r->{rc}, 1, "redfish rsetboot $bad: exit 1");
    }
    $r = run_cmd([ "$repo/perl/bin/rpower", $range, '-h' ], env => \%rfenv, timeout => 30);
    is(untag($r->{out}), $FULL_USAGE, 'redfish rpower -h is the generic usage');
    $r = run_cmd([ "$repo/perl/bin/rsetboot", $range, 'hd', '-p' ], env => \%rfenv, timeout => 30);
    is(untag($r->{out}), echoed('rsetboot', 'hd', '-p'), 'redfish rsetboot hd -p accepted');
}

# In-process, as xcatd calls the plugin: exact callback hashes and returned parts.
{
    local $ENV{XCAT_TABLES} = $dir;
    local $ENV{XCAT_AGENT} = $agent;    # the backend policy selects Python only when the agent exists
    require xCAT_plugin::openbmc2;
    require xCAT_plugin::redfish;

    is_deeply(xCAT_plugin::openbmc2::handled_commands(),
        { map { $_ => 'nodehm:mgt=openbmc' } qw(rpower rsetboot rinv rvitals rbeacon reventlog) },
        'openbmc2 handled_commands');
    is_deeply(xCAT_plugin::redfish::handled_commands(),
        { rpower => 'nodehm:mgt=redfish', rsetboot => 'nodehm:mgt=redfish' }, 'redfish handled_commands');

    my $pre = sub {
        my ($plugin, $cmd, @args) = @_;
        my @got;
        my $req = { command => [$cmd], node => [@nodes], arg => [@args], cwd => ['/tmp'] };
        my $parts = "xCAT_plugin::$plugin"->can('preprocess_request')->($req, sub { push @got, $_[0] }, sub { });
        is_deeply($req->{arg}, [@args], "$plugin $cmd @args: arguments left unmodified");
        return ($parts, \@got);
    };

    my ($parts, $got) = $pre->('openbmc2', 'rpower', 'ddd');
    ok(!$parts || !@$parts, 'invalid: nothing dispatched');
    is_deeply($got, [ { errorcode => [1],
        data => [ "node001: Error: Unsupported command: rpower ddd\nnode002: Error: Unsupported command: rpower ddd" ] } ],
        'invalid: one data element, one line per node, errorcode 1');

    ($parts, $got) = $pre->('openbmc2', 'rpower', '-V', 'state');
    is_deeply($got, [ { data => [ { contents => ['Running command in Python'] } ] } ], '-V note shape');
    is(scalar @$parts, 1, '-V: one part');
    is_deeply($parts->[0]{arg}, [ '-V', 'state' ], '-V: arguments passed on unchanged');
    is_deeply($parts->[0]{_xcatpreprocessed}, [1], 'part tagged _xcatpreprocessed');
    is($parts->[0]{_xcatdest}, 'localhost', 'part tagged _xcatdest (site.master or localhost)');

    ($parts, $got) = $pre->('openbmc2', 'rpower', 'pdustat');
    ok(!$parts && !@$got, 'pdu passthrough: nothing returned, nothing said');

    ($parts, $got) = $pre->('openbmc2', 'rsetboot', '--help');
    is_deeply($got, [ { data => [ $RSETBOOT_USAGE =~ s/\n\z//r ] } ], 'rsetboot --help: retried with the plain command');

    ($parts, $got) = $pre->('redfish', 'rsetboot', 'floppy');
    like($got->[0]{data}[0], qr/^node001: Error: Unsupported command: rsetboot floppy\n/, 'redfish validation in-process');

    my $req = { command => ['rpower'], node => [@nodes], arg => ['on'], _xcatpreprocessed => [1] };
    $parts = xCAT_plugin::openbmc2::preprocess_request($req, sub { fail('no callback expected') });
    is_deeply($parts, [$req], 'already preprocessed request passes through');

    ($parts, $got) = $pre->('openbmc2', 'rmigrate', 'x');
    like($got->[0]{data}[0], qr/Unsupported command: rmigrate$/m, 'unknown command message');
}

done_testing();
