# The runner as a stand-in for xCAT's client and xcatd (docs/RUNNER.md): the request shape of
# xCAT's client, option bundling, xCAT's table and address lookups, UTF-8 names, broken table
# files, and the answers without a noderange.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use Encode ();
use JSON::PP;
use BrokerTest qw(repo_root write_csv write_tables run_cmd fake_agent new_dir untag node_lines lines slurp);

use xCAT::Table;
use xCAT::NetworkUtils;
use xCAT::PyAgent;

my $repo = repo_root();
my $dir = new_dir();
my @nodes = write_tables($dir, nodes => 2);
my $agent = fake_agent($dir);
my %env = (
    XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_LOG => "$dir/agent.log",
    XCAT_AGENT_RUNDIR => "$dir/run", XCAT_AGENT_TIMEOUT => 20, FAKE_MODE => 'echo', FAKE_OUT => "$dir/fake",
    PERL5LIB => undef,
);
my ($rpower, $rsetboot) = map { "$repo/perl/bin/$_" } qw(rpower rsetboot);

# --- the request shape of xCAT's client: no arg key without arguments -----------------------
{
    unlink "$dir/fake.request";
    my $r = run_cmd([ $rsetboot, 'node001' ], env => \%env, timeout => 30);
    is($r->{out}, "node001: ok rsetboot null\n", 'rsetboot without arguments: stat in the agent');
    my $req = decode_json(slurp("$dir/fake.request") // '{}');
    ok(exists $req->{args} && !defined $req->{args}, 'the agent request has args null, as from xCAT\'s client');

    $r = run_cmd([ $rpower, 'node001,node002' ], env => \%env, timeout => 30);
    is($r->{out}, "node001: Error: Unsupported command: rpower \nnode002: Error: Unsupported command: rpower \n",
        'rpower without an action: xCAT\'s words under xcatd, with the trailing blank');
    is($r->{rc}, 1, 'rpower without an action: exit 1');
    like($r->{out} . $r->{err}, qr/Unsupported|Usage|Please enter an action/, 'xCAT-test rpower_noderange: output');

    # In-process: both shapes of the request read alike.
    local $ENV{XCAT_TABLES} = $dir;
    local $ENV{XCAT_AGENT} = $agent;
    require xCAT_plugin::openbmc2;
    require xCAT_plugin::redfish;
    for my $plugin (qw(openbmc2 redfish)) {
        for my $shape ([ 'no arg key', {} ], [ 'arg => []', { arg => [] } ]) {
            my @got;
            my $req = { command => ['rpower'], node => ['node001'], cwd => ['/'], %{ $shape->[1] } };
            my $parts = "xCAT_plugin::$plugin"->can('preprocess_request')->($req, sub { push @got, $_[0] }, sub { });
            is_deeply(\@got, [ { errorcode => [1], data => ['node001: Error: Unsupported command: rpower '] } ],
                "$plugin rpower, $shape->[0]: Unsupported command");
            @got = ();
            $req = { command => ['rsetboot'], node => ['node001'], cwd => ['/'], %{ $shape->[1] } };
            $parts = "xCAT_plugin::$plugin"->can('preprocess_request')->($req, sub { push @got, $_[0] }, sub { });
            ok(!@got && ref $parts eq 'ARRAY' && @$parts == 1, "$plugin rsetboot, $shape->[0]: accepted (stat)");
        }
    }
}

# --- Getopt::Long bundling, as xcatd has it for every plugin ---------------------------------
{
    my $r = run_cmd([ $rpower, 'node001', '-Vstate' ], env => \%env, timeout => 30);
    is(untag($r->{out}), "node001: Error: Unsupported command: rpower -state\n", '-Vstate: -V taken, -state left');
    is($r->{rc}, 1, '-Vstate: exit 1');
    for my $cmd ($rsetboot, $rpower) {
        $r = run_cmd([ $cmd, 'node001', '-help' ], env => \%env, timeout => 30);
        like($r->{out}, qr/^Usage/, "$cmd node001 -help: usage");
        is($r->{rc}, 0, "$cmd node001 -help: exit 0");
    }
    my $rf = new_dir();
    write_tables($rf, nodes => 1, mgt => 'redfish');
    $r = run_cmd([ $rsetboot, 'node001', '-help' ], env => { %env, XCAT_TABLES => $rf }, timeout => 30);
    is($r->{rc}, 0, 'redfish rsetboot node001 -help: exit 0');
}

# --- getNodesAttribs as xCAT's: [undef] without values, no node key ------------------------
{
    my $t = new_dir();
    local $ENV{XCAT_TABLES} = $t;
    write_csv($t, 'nodelist', [qw(node groups)], [ 'n1', 'all' ], [ 'n2', 'all' ], [ 'n3', 'all' ]);
    write_csv($t, 'openbmc', [qw(node bmc consport taggedvlan username password comments)],
        [ 'n1', '10.0.0.1', '2200' ], [ 'n2', undef, '2200', undef, undef, undef, 'only other columns' ]);
    my $h = xCAT::Table->new('openbmc')->getNodesAttribs([qw(n1 n2 n3)], [qw(bmc username password)]);
    is_deeply($h->{n1}, [ { bmc => '10.0.0.1' } ], 'values only, no node key');
    is_deeply($h->{n2}, [undef], 'a row without any requested value: [undef]');
    ok(!exists $h->{n3}, 'no row: absent');
    my @got;
    xCAT::PyAgent::node_info(['n2'], 'openbmc', sub { push @got, $_[0] });
    is($got[0]{node}[0]{data}[0]{contents}[0], 'Unable to get information from openbmc table',
        'so xCAT\'s broker says it cannot get the information');
}

# --- addresses: the hosts file first, then the hosts table, never DNS ----------------------
{
    my $t = new_dir();
    open(my $fh, '>', "$t/hosts") or die;
    print {$fh} "# comment\n::1 localhost ip6-localhost\n127.0.0.1   localhost   lh  # loopback\n"
      . "10.9.9.9 bmc-both\n10.9.9.8 Upper.Example\nfe80::1 only6\n";
    close $fh;
    local $ENV{XCAT_RUNNER_HOSTS_FILE} = "$t/hosts";
    local $ENV{XCAT_TABLES} = $t;
    write_csv($t, 'hosts', [qw(node ip)], [ 'bmc-both', '10.1.1.1' ], [ 'bmc-table', '10.1.1.2' ]);
    is(xCAT::NetworkUtils->getNodeIPaddress('localhost'), '127.0.0.1', 'localhost: its IPv4 address from the hosts file');
    is(xCAT::NetworkUtils->getNodeIPaddress('lh'), '127.0.0.1', 'an alias');
    is(xCAT::NetworkUtils->getNodeIPaddress('upper.example'), '10.9.9.8', 'names compared without case');
    is(xCAT::NetworkUtils->getNodeIPaddress('bmc-both'), '10.9.9.9', 'the hosts file before the hosts table');
    is(xCAT::NetworkUtils->getNodeIPaddress('bmc-table'), '10.1.1.2', 'then the hosts table');
    is(xCAT::NetworkUtils->getNodeIPaddress('only6'), 'fe80::1', 'an IPv6-only name');
    ok(!defined xCAT::NetworkUtils->getNodeIPaddress('nowhere.invalid'), 'unknown: undef (no DNS asked)');
    is(xCAT::PyAgent::resolve_bmc('localhost:8443'), '127.0.0.1:8443', 'bmc=localhost:port');

    write_csv($dir, 'openbmc', [qw(node bmc)], [ 'node001', 'localhost' ], [ 'node002', 'nowhere.invalid' ]);
    my $r = run_cmd([ $rpower, 'node001,node002', 'state' ], env => { %env, XCAT_RUNNER_HOSTS_FILE => "$t/hosts" },
        timeout => 30);
    is(untag($r->{out}), "node002: Error: Unable to resolve ip address for bmc: nowhere.invalid\n"
        . "node001: ok rpower [\"state\"]\n", 'runner: bmc=localhost runs, an unknown name does not');
    my $req = decode_json(slurp("$dir/fake.request") // '{}');
    is($req->{nodeinfo}{node001}{bmcip}, '127.0.0.1', 'runner: localhost became 127.0.0.1');
    write_tables($dir, nodes => 2);
}

# --- node names outside ASCII: UTF-8 in, UTF-8 out ------------------------------------------
{
    my $t = new_dir();
    my @names = ('nœud01', 'узел02');
    write_csv_utf8($t, 'nodelist', "#node,groups,status,comments,disable\n" . join('', map { "\"$_\",\"all\",,,\n" } @names));
    write_csv_utf8($t, 'nodehm', "#node,power,mgt,comments,disable\n\"all\",,\"openbmc\",,\n");
    write_csv_utf8($t, 'openbmc', "#node,bmc,consport,taggedvlan,username,password,comments,disable\n"
        . "\"nœud01\",\"10.0.0.1\",,,\"ü\",\"p\",,\n\"узел02\",,,,,,,\n");
    my $r = run_cmd([ $rpower, Encode::encode('UTF-8', join(',', @names)), 'state' ],
        env => { %env, XCAT_TABLES => $t }, timeout => 30);
    my $out = Encode::decode('UTF-8', $r->{out});
    is(untag($out), "узел02: Error: Unable to get information from openbmc table\n" . "nœud01: ok rpower [\"state\"]\n",
        'names from the command line match the tables; printed as UTF-8');
    is($r->{err}, '', 'no wide-character warnings');
    my $req = JSON::PP->new->utf8->decode(slurp("$dir/fake.request") // '{}');
    is_deeply([ keys %{ $req->{nodeinfo} } ], ['nœud01'], 'the agent got the name as characters');
    is($req->{nodeinfo}{'nœud01'}{username}, 'ü', 'and table values too');
}

# --- table files that cannot be read: the file and the reason -------------------------------
{
    my $t = new_dir();
    write_tables($t, nodes => 1);
    my $bom = "\xEF\xBB\xBF" . slurp("$t/openbmc.csv");
    write_csv_utf8($t, 'openbmc', $bom, 1);
    my $r = run_cmd([ $rpower, 'node001', 'state' ], env => { %env, XCAT_TABLES => $t }, timeout => 30);
    is(untag($r->{err}), "Error: Cannot read table file $t/openbmc.csv: it starts with a UTF-8 byte-order mark "
        . "(tabdump writes none; remove the first three bytes)\n", 'BOM: the file and the reason');
    is($r->{out}, '', 'BOM: nothing else');
    is($r->{rc}, 1, 'BOM: exit 1');

    write_tables($t, nodes => 1);
    write_csv_utf8($t, 'passwd', "#key,username,password\n\"openbmc\",\"adm\xFFin\",\"x\"\n", 1);
    $r = run_cmd([ $rpower, 'node001', 'state' ], env => { %env, XCAT_TABLES => $t }, timeout => 30);
    is(untag($r->{err}), "Error: Cannot read table file $t/passwd.csv: not valid UTF-8 (line 2)\n", 'bad UTF-8: file and line');

    write_tables($t, nodes => 1);
    unlink "$t/openbmc.csv";
    mkdir "$t/openbmc.csv";
    $r = run_cmd([ $rpower, 'node001', 'state' ], env => { %env, XCAT_TABLES => $t }, timeout => 30);
    is(untag($r->{err}), "Error: Cannot read table file $t/openbmc.csv: not a regular file\n", 'a directory: named');
    rmdir "$t/openbmc.csv";

    SKIP: {
        skip 'needs root to run the runner as another user', 2 unless $> == 0;
        skip 'the repository is not readable by other users', 2 unless ((stat $repo)[2] & 05) == 05;
        my $nobody = getpwnam('nobody') // 65534;
        write_tables($t, nodes => 1);
        chmod 0755, $t;
        chmod 0644, glob("$t/*.csv");
        chmod 0600, "$t/openbmc.csv";
        my $run = new_dir();
        chmod 0777, $run;
        $r = run_cmd([ $rpower, 'node001', 'state' ], env => { %env, XCAT_TABLES => $t, XCAT_AGENT_RUNDIR => $run,
            XCAT_AGENT_LOG => "$run/agent.log" }, uid => $nobody, timeout => 30);
        is(untag($r->{err}), "Error: Cannot read table file $t/openbmc.csv: Permission denied\n", 'unreadable: named');
        is($r->{rc}, 1, 'unreadable: exit 1');
    }
}

done_testing();

sub write_csv_utf8 {
    my ($d, $table, $text, $bytes) = @_;
    open(my $fh, '>', "$d/$table.csv") or die;
    binmode($fh, $bytes ? ':raw' : ':encoding(UTF-8)');
    print {$fh} $text;
    close $fh;
    return;
}
