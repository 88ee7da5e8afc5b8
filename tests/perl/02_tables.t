# Tables (tabdump CSV stand-in), node information with the passwd fallback and every
# missing-attribute message (docs/xcat-facts.md#node-info), noderange expansion, the service-node split.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use BrokerTest qw(untag repo_root write_csv write_tables run_cmd fake_agent new_dir lines);

use xCAT::Table;
use xCAT::Runner;
use xCAT::PyAgent;
require xCAT_plugin::openbmc2;

my $repo = repo_root();

# --- CSV reading and group inheritance ------------------------------------------------
{
    my $dir = new_dir();
    local $ENV{XCAT_TABLES} = $dir;
    write_csv($dir, 'nodelist', [qw(node groups status comments disable)],
        [ 'n1', 'rack1,all' ], [ 'n2', 'all' ], [ 'n3', 'rack1,all', undef, undef, '1' ]);
    write_csv($dir, 'openbmc', [qw(node bmc consport taggedvlan username password comments disable)],
        [ 'n1', '10.0.0.1', undef, undef, undef, 'p"w,1' ],
        [ 'rack1', '10.0.9.9', undef, undef, 'rackuser', 'rackpw' ],
        [ 'all', undef, undef, undef, 'alluser' ],
        [ 'n2', '10.0.0.2', undef, undef, undef, undef, 'disabled row', 'yes' ]);
    my $tab = xCAT::Table->new('openbmc');
    ok($tab, 'table object');
    my $h = $tab->getNodesAttribs([qw(n1 n2 n9)], [qw(bmc username password)]);
    is($h->{n1}[0]{bmc}, '10.0.0.1', 'own row wins');
    is($h->{n1}[0]{password}, 'p"w,1', 'quoted value with "" and comma');
    is($h->{n1}[0]{username}, 'rackuser', 'missing value inherited from the first group');
    is($h->{n2}[0]{username}, 'alluser', 'disabled row skipped, group row used');
    ok(!exists $h->{n2}[0]{bmc}, 'no bmc anywhere for n2');
    ok(!exists $h->{n9}, 'unknown node absent');
    my $one = xCAT::Table->new('openbmc');
    is_deeply($one->getNodesAttribs(['n1'], [qw(bmc username)]), { n1 => [ { bmc => '10.0.0.1', username => 'rackuser' } ] },
        'one node of the table: its own row and its group rows are read');
    is_deeply([ map { $_->{node} } $one->getAllAttribs('node') ], [qw(n1 rack1 all)],
        'then every row of the same table object (the disabled one skipped)');
    ok(!defined xCAT::Table->new('nosuchtable'), 'missing table file: undef');

    write_csv($dir, 'passwd', [qw(key username password cryptmethod authdomain comments disable)],
        [ 'openbmc', 'admin', 'secret' ]);
    my ($row) = xCAT::Table->new('passwd')->getAttribs({ key => 'openbmc' }, qw(username password));
    is_deeply($row, { username => 'admin', password => 'secret' }, 'getAttribs by key');
    my ($nodes, $missing) = xCAT::Runner::expand_noderange('rack1');
    is_deeply($nodes, ['n1'], 'group members; a disabled nodelist row is no node');
}

# --- node_info: fallback and each message ------------------------------------------------
{
    my $dir = new_dir();
    local $ENV{XCAT_TABLES} = $dir;
    my @nodes = map { "n$_" } 1 .. 8;
    write_csv($dir, 'nodelist', [qw(node groups)], map { [ $_, 'all' ] } @nodes);
    write_csv($dir, 'openbmc', [qw(node bmc consport taggedvlan username password comments disable)],
        [ 'n1', '10.1.1.1', undef, undef, 'u1', 'p1' ],        # complete
        [ 'n2', '10.1.1.2' ],                                 # passwd fallback
        [ 'n3', '' , undef, undef, 'u', 'p' ],                # no bmc
        [ 'n4', 'bmc-n4.example', undef, undef, 'u', 'p' ],   # not resolvable (no DNS in the runner)
        [ 'n5', 'bmc5', undef, undef, 'u', 'p' ],             # resolvable through hosts.csv
        [ 'n6', '10.1.1.6:8443', undef, undef, 'u', 'p' ],    # ip:port
        [ 'n7', 'bmc7:8443', undef, undef, 'u', 'p' ]);       # name:port through hosts.csv
    write_csv($dir, 'hosts', [qw(node ip hostnames comments disable)], [ 'bmc5', '10.1.1.5' ], [ 'bmc7', '10.1.1.7' ]);
    write_csv($dir, 'passwd', [qw(key username password)], [ 'openbmc', 'admin', 'secret' ], [ 'redfish', 'rfuser', 'rfpw' ]);

    my @got;
    my ($info, $failed) = xCAT::PyAgent::node_info(\@nodes, 'openbmc', sub { push @got, $_[0] });
    ok($failed, 'failure reported');
    is_deeply($info->{n1}, { bmc => '10.1.1.1', bmcip => '10.1.1.1', username => 'u1', password => 'p1' }, 'own credentials');
    is_deeply($info->{n2}, { bmc => '10.1.1.2', bmcip => '10.1.1.2', username => 'admin', password => 'secret' },
        'passwd key openbmc fallback');
    is($info->{n5}{bmcip}, '10.1.1.5', 'name resolved through hosts');
    is($info->{n6}{bmcip}, '10.1.1.6:8443', 'ip:port kept');
    is($info->{n7}{bmcip}, '10.1.1.7:8443', 'name:port resolved, port kept');
    is($info->{n7}{bmc}, 'bmc7:8443', 'bmc as in the table');
    ok(!exists $info->{$_}, "$_ left out") for qw(n3 n4 n8);
    is_deeply(\@got, [
        { node => [ { name => ['n3'], data => [ { desc => ['Error'], contents => ['Unable to get attribute bmc'] } ] } ] },
        { node => [ { name => ['n4'], data => [ { desc => ['Error'], contents => ['Unable to resolve ip address for bmc: bmc-n4.example'] } ] } ] },
        { node => [ { name => ['n8'], data => [ { desc => ['Error'], contents => ['Unable to get information from openbmc table'] } ] } ] },
    ], 'messages in the sendmsg desc/contents shape');

    ($info) = xCAT::PyAgent::node_info(['n2'], 'redfish', sub { });
    is_deeply([ @{ $info->{n2} }{qw(username password)} ], [qw(rfuser rfpw)], 'redfish uses passwd key redfish');

    # No passwd table: username, then password missing.
    unlink "$dir/passwd.csv";
    write_csv($dir, 'openbmc', [qw(node bmc consport taggedvlan username password)],
        [ 'n1', '10.1.1.1' ], [ 'n2', '10.1.1.2', undef, undef, 'u' ]);
    @got = ();
    ($info, $failed) = xCAT::PyAgent::node_info([qw(n1 n2)], 'openbmc', sub { push @got, $_[0] });
    is_deeply([ map { $_->{node}[0]{data}[0]{contents}[0] } @got ],
        [ 'Unable to get attribute username', 'Unable to get attribute password' ], 'username and password messages');
    ok($failed && !%$info, 'no valid node');

    # Through the runner: node-info lines on stdout, errorcode 1, agent started for the rest.
    my $agent = fake_agent($dir);
    write_csv($dir, 'nodehm', [qw(node power mgt)], [ 'all', undef, 'openbmc' ]);
    write_csv($dir, 'passwd', [qw(key username password)], [ 'openbmc', 'admin', 'secret' ]);
    write_csv($dir, 'openbmc', [qw(node bmc consport taggedvlan username password)],
        [ 'n1', '10.1.1.1' ], [ 'n3', '' ], [ 'n4', 'nowhere' ]);
    my $r = run_cmd([ "$repo/perl/bin/rpower", 'n1,n3,n4,n8', 'state' ], timeout => 30, env => {
        XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_RUNDIR => "$dir/run",
        XCAT_AGENT_LOG => "$dir/agent.log", FAKE_MODE => 'echo', PERL5LIB => undef });
    is(untag($r->{out}), "n3: Error: Unable to get information from openbmc table\n"
        . "n4: Error: Unable to resolve ip address for bmc: nowhere\n"
        . "n8: Error: Unable to get information from openbmc table\n"
        . "n1: ok rpower [\"state\"]\n", 'runner: node-info errors on stdout, valid node still runs');
    is(untag($r->{err}), '', 'runner: nothing on stderr');
    is($r->{rc}, 1, 'runner: exit 1');

    # No node valid: no agent is started (starting one would fail with an exec error).
    $r = run_cmd([ "$repo/perl/bin/rpower", 'n3', 'state' ], timeout => 30, env => {
        XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => '/nonexistent/python',
        XCAT_AGENT_RUNDIR => "$dir/run", XCAT_AGENT_LOG => "$dir/agent.log", PERL5LIB => undef });
    is(untag($r->{out}), "n3: Error: Unable to get information from openbmc table\n", 'no valid node: only the node-info line');
    is($r->{rc}, 1, 'no valid node: exit 1');
}

# --- noderange expansion ---------------------------------------------------------------
{
    my $dir = new_dir();
    local $ENV{XCAT_TABLES} = $dir;
    my @nodes = write_tables($dir, nodes => 64);
    write_csv($dir, 'nodelist', [qw(node groups)],
        map { [ $nodes[$_], $_ < 32 ? 'all,rackA' : 'all,rackB' ] } 0 .. $#nodes);
    my $x = sub { my ($n, $m) = xCAT::Runner::expand_noderange($_[0]); return ($n, $m) };
    my ($n, $m) = $x->('node[001-064]');
    is_deeply($n, \@nodes, 'node[001-064]');
    ($n) = $x->('node001-node064');
    is_deeply($n, \@nodes, 'node001-node064');
    ($n) = $x->('node003,node001,node003');
    is_deeply($n, [qw(node003 node001)], 'comma list, order kept, duplicates dropped');
    ($n) = $x->('rackB');
    is_deeply($n, [ @nodes[ 32 .. 63 ] ], 'group');
    ($n) = $x->('rackA,node040');
    is(scalar @$n, 33, 'group plus node');
    ($n) = $x->('node0[01-10]');
    is_deeply($n, [ @nodes[ 0 .. 9 ] ], 'bracket range inside a name');
    ($n, $m) = $x->('node060-node070,bogus,node001');
    is_deeply($m, [ qw(node065 node066 node067 node068 node069 node070 bogus) ], 'unknown names reported');

    my $r = run_cmd([ "$repo/perl/bin/rpower", 'node001,bogus,rackC', 'state' ], timeout => 30,
        env => { XCAT_TABLES => $dir, PERL5LIB => undef });
    is(untag($r->{err}), "Error: Invalid nodes and/or groups in noderange: bogus,rackC\n", 'runner: invalid noderange message');
    is(untag($r->{out}), '', 'runner: nothing on stdout');
    is($r->{rc}, 1, 'runner: exit 1');

    $r = run_cmd([ "$repo/perl/bin/rpower", 'node001', 'state' ], timeout => 30, env => { XCAT_TABLES => undef, PERL5LIB => undef });
    is($r->{rc}, 1, 'runner without XCAT_TABLES: exit 1');
    like(untag($r->{err}), qr/^Error: XCAT_TABLES/, 'runner without XCAT_TABLES: message');

    # Nodes whose mgt no plugin handles.
    write_csv($dir, 'nodehm', [qw(node power mgt)], [ 'rackA', undef, 'openbmc' ], [ 'rackB', undef, 'ipmi' ]);
    $r = run_cmd([ "$repo/perl/bin/rpower", 'node032,node033', 'bogus' ], timeout => 30,
        env => { XCAT_TABLES => $dir, PERL5LIB => undef });
    is(untag($r->{err}), "node033: Error: Unable to identify plugin for this command, check relevant tables: nodehm.mgt\n",
        'unrouted node');
    is(untag($r->{out}), "node032: Error: Unsupported command: rpower bogus\n", 'routed node validated by its plugin');
}

# --- service-node split ------------------------------------------------------------------
{
    my $dir = new_dir();
    local $ENV{XCAT_TABLES} = $dir;
    local $ENV{XCAT_AGENT} = fake_agent($dir);
    my @nodes = write_tables($dir, nodes => 6);
    write_csv($dir, 'nodelist', [qw(node groups)], map { [ $nodes[$_], $_ < 2 ? 'all,sngroup' : 'all' ] } 0 .. $#nodes);
    write_csv($dir, 'noderes', [qw(node servicenode netboot xcatmaster)],
        [ 'sngroup', 'sn1' ], [ 'node003', 'sn2,sn3' ], [ 'node004', 'sn2' ]);
    write_csv($dir, 'site', [qw(key value comments disable)], [ 'master', '10.0.0.254' ], [ 'xcatdebugmode', '0' ]);
    my $req = { command => ['rpower'], node => [@nodes], arg => ['on'], cwd => ['/'], environment => [ {} ] };
    my $parts = xCAT_plugin::openbmc2::preprocess_request($req, sub { fail('unexpected reply') }, sub { });
    my %by = map { $_->{_xcatdest} => $_ } @$parts;
    is_deeply([ sort keys %by ], [qw(10.0.0.254 sn1 sn2)], 'one part per service node, MN under site.master');
    is_deeply($by{sn1}{node}, [qw(node001 node002)], 'sn1 nodes (through the group)');
    is_deeply($by{sn2}{node}, [qw(node003 node004)], 'sn2 nodes (first of a list)');
    is_deeply($by{'10.0.0.254'}{node}, [qw(node005 node006)], 'management node nodes');
    for my $p (@$parts) {
        is_deeply($p->{_xcatpreprocessed}, [1], "$p->{_xcatdest}: _xcatpreprocessed");
        is_deeply($p->{arg}, ['on'], "$p->{_xcatdest}: args copied");
        is($p->{command}[0], 'rpower', "$p->{_xcatdest}: command copied");
    }
    is_deeply($req->{node}, \@nodes, 'original request untouched');
}

done_testing();
