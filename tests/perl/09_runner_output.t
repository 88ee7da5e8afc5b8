# The runner prints what xCAT's client prints under a real xcatd (docs/RUNNER.md): every
# response carries xcatd's host as its source, errors and warnings always show it as a
# [host] tag, info and data lines only with -V/--verbose after the noderange or XCATSHOWSVR.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use POSIX ();
use BrokerTest qw(repo_root write_tables run_cmd fake_agent new_dir untag node_lines);

use xCAT::Runner::Printer;

# --- the printer in-process: stdout and stderr captured -------------------------------------
sub printed {
    my ($printer, $rsp) = @_;
    my ($out, $err) = ('', '');
    my $exit = 0;
    {
        open(my $o, '>', \$out) or die;
        open(my $e, '>', \$err) or die;
        local *STDOUT = $o;
        local *STDERR = $e;
        $printer->print_response($rsp, \$exit);
    }
    return ($out, $err, $exit);
}

{
    my $p = xCAT::Runner::Printer->new(source => 'mn01');
    my @cases = (
        [ 'node error', { node => [ { name => ['n1'], errorcode => [1], error => ['boom'] } ] },
            '', "n1: [mn01]: Error: boom\n", 1 ],
        [ 'node warning', { node => [ { name => ['n1'], warning => ['careful'] } ] },
            '', "n1: [mn01]: Warning: careful\n", 0 ],
        [ 'global error', { error => ['bad'], errorcode => [1] }, '', "Error: [mn01]: bad\n", 1 ],
        [ 'global error, no prefix', { error => ['bad'], NoErrorPrefix => 1 }, '', "[mn01]: bad\n", 0 ],
        [ 'global warning', { warning => ['hm'] }, '', "Warning: [mn01]: hm\n", 0 ],
        [ 'info untagged', { info => ['n1: on'] }, "n1: on\n", '', 0 ],
        [ 'info with host', { info => ['hello'], host => [1] }, "[mn01]: hello\n", '', 0 ],
        [ 'node data untagged', { node => [ { name => ['n1'], data => [ { desc => ['Error'], contents => ['x'] } ] } ] },
            "n1: Error: x\n", '', 0 ],
        [ 'data desc/contents', { data => [ { desc => ['d'], contents => ['c'] }, 'plain', '', '0' ] }, "d: c\nplain\n", '', 0 ],
        [ 'response names its own source', { xcatdsource => ['sn7'], error => ['e'] }, '', "Error: [sn7]: e\n", 0 ],
        [ 'after an error entry the other entries of the response go to stderr too',
            { node => [ { name => ['n1'], data => ['on'] }, { name => ['n2'], error => ['x'] }, { name => ['n3'], data => ['on'] } ] },
            "n1: on\n", "n2: [mn01]: Error: x\nn3: on\n", 0 ],
    );
    for my $case (@cases) {
        my ($name, $rsp, $out, $err, $exit) = @$case;
        my @got = printed($p, $rsp);
        is_deeply(\@got, [ $out, $err, $exit ], "printer: $name");
    }

    my $v = xCAT::Runner::Printer->new(source => 'mn01', show_source => 1);
    my @shown = (
        [ 'info', { info => ['n1: on'] }, "[mn01]: n1: on\n", '' ],
        [ 'data', { data => [ { contents => ['Running command in Python'] } ] }, "[mn01]: Running command in Python\n", '' ],
        [ 'node data', { node => [ { name => ['n1'], data => ['on'] } ] }, "n1: [mn01]: on\n", '' ],
        [ 'node error', { node => [ { name => ['n1'], error => ['e'] } ] }, '', "n1: [mn01]: Error: e\n" ],
        [ 'NoSvrPrefix', { info => ['x'], NoSvrPrefix => 1 }, "x\n", '' ],
    );
    for my $case (@shown) {
        my ($name, $rsp, $out, $err) = @$case;
        my ($o, $e) = printed($v, $rsp);
        is_deeply([ $o, $e ], [ $out, $err ], "printer with the source shown: $name");
    }
}

# --- through perl/bin: the tags an admin sees ---------------------------------------------
my $repo = repo_root();
my $dir = new_dir();
my @nodes = write_tables($dir, nodes => 2);
my $agent = fake_agent($dir);
my %env = (
    XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_LOG => "$dir/agent.log",
    XCAT_AGENT_RUNDIR => "$dir/run", XCAT_AGENT_TIMEOUT => 20, FAKE_MODE => 'echo', PERL5LIB => undef,
    XCAT_RUNNER_HOST => 'mgmt.example', XCATSHOWSVR => undef,
);
my $rpower = "$repo/perl/bin/rpower";

{
    my $r = run_cmd([ $rpower, 'node001,node002', 'state' ], env => { %env, FAKE_MODE => 'shapes' }, timeout => 30);
    is($r->{err}, "Warning: [mgmt.example]: a warning\nError: [mgmt.example]: a global error\n"
        . "node001: [mgmt.example]: Error: a node error\n", 'errors and warnings carry the source tag');
    is($r->{out}, "[mgmt.example]: with host\nnode002: ok rpower [\"state\"]\n",
        'node lines untagged and on stdout although a node error came in the same batch; info_with_host tagged');

    $r = run_cmd([ $rpower, 'node001,node002', 'state', '-V' ], env => \%env, timeout => 30);
    is($r->{out}, "[mgmt.example]: Running command in Python\nnode001: [mgmt.example]: ok rpower [\"state\",\"-V\"]\n"
        . "node002: [mgmt.example]: ok rpower [\"state\",\"-V\"]\n", '-V after the noderange: node lines and notes tagged too');
    is($r->{rc}, 0, '-V: exit 0');

    $r = run_cmd([ $rpower, '-V', 'node001', 'state' ], env => \%env, timeout => 30);
    is($r->{out}, "Running command in Python\nnode001: ok rpower [\"-V\",\"state\"]\n",
        '-V before the noderange: the client does not look there, lines untagged');

    $r = run_cmd([ $rpower, 'node001', 'state' ], env => { %env, XCATSHOWSVR => 1 }, timeout => 30);
    is($r->{out}, "node001: [mgmt.example]: ok rpower [\"state\"]\n", 'XCATSHOWSVR: node lines tagged');

    $r = run_cmd([ $rpower, 'node001,bogus', 'state' ], env => \%env, timeout => 30);
    is($r->{err}, "Error: [mgmt.example]: Invalid nodes and/or groups in noderange: bogus\n",
        'xcatd\'s own error carries the tag');
    is($r->{rc}, 1, 'invalid noderange: exit 1');

    $r = run_cmd([ $rpower, 'node001', 'state' ], env => { %env, FAKE_MODE => 'exit' }, timeout => 30);
    like($r->{err}, qr/^node001: \[mgmt\.example\]: Error: Agent exited unexpectedly\.  See /,
        'a node error from the broker: node, tag, Error');
    is(untag($r->{err}), "node001: Error: Agent exited unexpectedly.  See $dir/agent.log for details.\n",
        'untag gives the line without the tag');
    is_deeply(node_lines($r->{err}), { node001 => "Error: Agent exited unexpectedly.  See $dir/agent.log for details." },
        'node_lines parses the tagged line');

    my %nohost = %env;
    delete $nohost{XCAT_RUNNER_HOST};
    $r = run_cmd([ $rpower, 'node001', 'state' ], env => { %nohost, XCAT_RUNNER_HOST => undef, FAKE_MODE => 'exit' },
        timeout => 30);
    my $host = (POSIX::uname())[1];
    like($r->{err}, qr/^node001: \[\Q$host\E\]: Error: /, 'without XCAT_RUNNER_HOST the tag is this host\'s name');
}

done_testing();
