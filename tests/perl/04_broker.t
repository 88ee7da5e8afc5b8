# The broker's handling of the agent process, with fake agents (XCAT_AGENT = a small perl
# script, XCAT_AGENT_PYTHON = perl): the request it gets, the reply shapes, status updates,
# the lock, and every failure: missing, exec failure, early exit, hang, death mid-stream,
# garbage, truncated frame, bad length, silence; the default silence bound; the permissions of
# the private directory, lock, socket and log. Every wait is bounded by a timeout that fails the
# test (no measured times are asserted), nothing is left behind.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use JSON::PP;
use BrokerTest qw(untag repo_root write_tables run_cmd start_cmd finish_cmd fake_agent new_dir slurp lines);
use xCAT::PyAgent;

umask 022;    # as an admin's shell: the broker itself must make its files private

my $repo  = repo_root();
my $dir   = new_dir();
my @nodes = write_tables($dir, nodes => 4);
my $agent = fake_agent($dir);
my $rundir = "$dir/run";
my $log = "$dir/logs/agent.log";
my $rfdir = new_dir();
write_tables($rfdir, nodes => 4, mgt => 'redfish');

sub rpower {
    my ($mode, %extra) = @_;
    my $args = delete $extra{args} // ['state'];
    my $range = delete $extra{range} // 'all';
    return run_cmd([ "$repo/perl/bin/rpower", $range, @$args ], timeout => delete $extra{timeout} // 40, env => {
        XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_RUNDIR => $rundir,
        XCAT_AGENT_LOG => $log, XCAT_AGENT_TIMEOUT => 20, FAKE_MODE => $mode, FAKE_OUT => "$dir/fake",
        PERL5LIB => undef, %extra });
}
# Started first and collected at the end: without XCAT_AGENT_TIMEOUT, a hung agent (no frame, not
# even the alive frame it is asked for every 5 s) is given up after six intervals (30 s).
my $hung_default = start_cmd([ "$repo/perl/bin/rpower", 'all', 'state' ], timeout => 90, env => {
    XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_RUNDIR => "$dir/run-hung",
    XCAT_AGENT_LOG => $log, XCAT_AGENT_TIMEOUT => undef, XCAT_BMC_DEADLINE => 1, FAKE_MODE => 'hang',
    PERL5LIB => undef });

sub leftovers { opendir(my $d, $rundir) or return (); return grep { !/^\.\.?$/ } readdir $d }
sub all_errors { my ($msg, @which) = @_; @which = @nodes unless @which; join('', map { "$_: Error: $msg\n" } @which) }

# --- a good run: request content, argv, environment, lock, log ---------------------------
{
    unlink "$dir/fake.request", "$dir/fake.argv";
    open(my $ca, '>', "$dir/ca.pem") or die "$dir/ca.pem: $!";
    close $ca;
    my $r = rpower('echo', args => [ '-V', 'on' ], XCAT_BMC_POOL_SIZE => '50', XCAT_BMC_CONNECT_TIMEOUT => '2.5',
        XCAT_BMC_VERIFY => '1', XCAT_BMC_CA_BUNDLE => "$dir/ca.pem", XCAT_BMC_STATE_WAIT => '0',
        XCAT_BMC_DEADLINE => '1e3', XCAT_DEBUGMODE => '1');
    is($r->{rc}, 0, 'good run: exit 0');
    is(untag($r->{err}), '', 'good run: nothing on stderr');
    is(untag($r->{out}), "Running command in Python\n" . join('', map { "$_: ok rpower [\"-V\",\"on\"]\n" } @nodes),
        'good run: lines relayed');
    my $req = JSON::PP->new->utf8->decode(slurp("$dir/fake.request"));
    is($req->{module}, 'openbmc', 'module');
    is($req->{command}, 'rpower', 'command');
    is_deeply($req->{args}, [ '-V', 'on' ], 'args verbatim');
    is(ref $req->{cwd}, 'ARRAY', 'cwd is a one-element array');
    is_deeply($req->{nodes}, \@nodes, 'nodes');
    is_deeply($req->{nodeinfo}{node002}, { bmc => '127.0.0.2', bmcip => '127.0.0.2', username => 'admin',
        password => 'secret' }, 'nodeinfo entry');
    my $raw = slurp("$dir/fake.request");
    like($raw, qr/"pool_size":50[,}]/, 'pool_size is a JSON number');
    like($raw, qr/"connect_timeout":2\.5[,}]/, 'connect_timeout is a JSON number');
    like($raw, qr/"state_wait":0[,}]/, 'state_wait 0 kept');
    like($raw, qr/"verify":true[,}]/, 'verify is a JSON boolean');
    like($raw, qr/"deadline":1000[,}]/, 'deadline 1e3 is the JSON number 1000');
    is($req->{envs}{ca_bundle}, "$dir/ca.pem", 'ca_bundle');
    like($raw, qr/"debugmode":1[,}]/, 'debugmode from XCAT_DEBUGMODE');
    ok(!exists $req->{envs}{read_timeout}, 'unset settings are absent');
    my $argv = slurp("$dir/fake.argv");
    unlike($argv, qr/secret/, 'password neither in argv nor in the environment of the agent');
    like($argv, qr{^--sock\n\Q$rundir\E/agent\.\d+\.\w+/agent\.sock\n--lockfile\n}, 'argv: --sock DIR/agent.sock --lockfile');
    like(slurp($log), qr/fake agent: mode echo/, 'agent stderr appended to XCAT_AGENT_LOG (parent dir created)');
    is_deeply([ leftovers() ], [], 'no private directory left behind');
    ok(-d $rundir && (stat $rundir)[2] & 0777, 'rundir exists');

    $r = rpower('lock');
    is(untag($r->{out}), join('', map { "$_: lock held\n" } @nodes), 'the broker holds the lock while the agent runs');
}

# --- the private directory, lock, socket and log are the broker's alone ------------------
{
    my $newlog = "$dir/perm-logs/agent.log";
    my $r = rpower('perms', XCAT_AGENT_LOG => $newlog);
    is($r->{rc}, 0, 'perms: exit 0');
    my %seen = map { /^(node\d+): dir (\d+) uid (\d+) lock (\d+) sock (\d+)$/ ? ($1 => [ $2, $3, oct $4, oct $5 ]) : () }
      lines($r->{out});
    is(scalar keys %seen, 4, 'perms: the agent reported what it sees') or diag $r->{out} . $r->{err};
    my $p = $seen{node001} || [ '', -1, 0777, 0777 ];
    is($p->[0], '0700', 'private directory mode 0700');
    is($p->[1], $>, 'private directory owned by the effective uid');
    is(sprintf('%04o', $p->[2] & 077), '0000', sprintf('lock file not accessible to group or others (%04o)', $p->[2]));
    is(sprintf('%04o', $p->[3] & 077), '0000', sprintf('socket not accessible to group or others (%04o)', $p->[3]));
    is(sprintf('%04o', (stat $newlog)[2] & 077), '0000', 'a log file the broker creates is not readable by others');
}

# --- callback shapes (docs/xcat-facts.md#callback-shapes) and db status --------------------------
{
    my $r = rpower('shapes');
    is(untag($r->{out}), "with host\n" . join('', map { "$_: ok rpower [\"state\"]\n" } @nodes[ 1 .. 3 ]), 'info lines on stdout');
    is(untag($r->{err}), "Warning: a warning\nError: a global error\nnode001: Error: a node error\n",
        'warning, node-less error and node error on stderr');
    is($r->{rc}, 1, 'an error reply gives exit 1');

    unlink "$dir/nodestatus.csv";
    $r = rpower('db', args => ['on']);
    is($r->{rc}, 0, 'db frames: exit 0');
    my @status = lines(slurp("$dir/nodestatus.csv"));
    is(scalar @status, 8, 'every status update applied, batched or not');
    like($status[0], qr/^node\d{3},powering-off,\d\d-\d\d-\d{4} \d\d:\d\d:\d\d$/, 'status line');
    my %last;
    $last{ (split /,/)[0] } = (split /,/)[1] for @status;
    is_deeply([ sort values %last ], [ ('powering-on') x 4 ], 'updates applied in order: each node ends powering-on');
}

# --- failures ---------------------------------------------------------------------------------
{
    # Missing agent: openbmc2's backend policy leaves the command to xCAT's Perl openbmc.pm
    # (docs/xcat-facts.md#backend-policy), whose runner stand-in says the runner has none
    # (tests/perl/05_policy.t); redfish.pm has no policy and reports it per node.
    my $missing = 'The xCAT Python agent does not exist. Check if xCAT-openbmc-py package is installed on '
      . 'management node and service nodes.';
    my $r = rpower('echo', XCAT_AGENT => "$dir/no/such/agent.py");
    is(scalar(grep { /^node\d+: Error: xCAT would run rpower with its Perl OpenBMC backend/ } lines(untag($r->{err}))),
        scalar @nodes, 'missing agent, openbmc: one line per node from the legacy plugin, none from openbmc2');
    is($r->{rc}, 1, 'missing agent, openbmc: exit 1');
    $r = rpower('echo', XCAT_AGENT => "$dir/no/such/agent.py", XCAT_TABLES => $rfdir);
    is(untag($r->{err}), all_errors($missing), 'missing agent, redfish: every node, xCAT\'s words');
    is($r->{rc}, 1, 'missing agent, redfish: exit 1');

    $r = rpower('echo', XCAT_AGENT_PYTHON => "$dir/no/python");
    is(untag($r->{err}), all_errors("Failed to start the xCAT Python agent. Cannot execute $dir/no/python: No such file or directory."),
        'exec failure: every node, xCAT\'s words then the reason');
    is($r->{rc}, 1, 'exec failure: exit 1');

    $r = rpower('echo', XCAT_AGENT_RUNDIR => "$dir/fake.argv/sub");
    like(untag($r->{err}), qr/^node001: Error: Failed to start the xCAT Python agent\. Cannot create a private directory in /,
        'rundir failure: xCAT\'s words then the reason');

    # The message (not the connect bound's) shows the early exit was noticed; the timeout only
    # keeps a hang from blocking the suite.
    $r = rpower('exit', timeout => 30);
    is(untag($r->{err}), all_errors("Agent exited unexpectedly.  See $log for details."), 'early exit: every node');
    is($r->{rc}, 1, 'early exit: exit 1');
    ok(!$r->{timed_out}, 'early exit: the command ended');

    $r = rpower('hang', XCAT_AGENT_TIMEOUT => 3, timeout => 30);
    is(untag($r->{err}), all_errors('No response from the xCAT Python agent within 3 s'), 'hang: every node');
    is($r->{rc}, 1, 'hang: exit 1');
    ok(!$r->{timed_out}, 'hang: the command ended');

    $r = rpower('partial');
    is(untag($r->{out}), "node001: ok\nnode002: ok\n", 'partial: lines before the death relayed');
    is(untag($r->{err}), all_errors("Agent exited unexpectedly.  See $log for details.", qw(node003 node004)),
        'partial: the nodes without a line get an error');
    is($r->{rc}, 1, 'partial: exit 1');

    $r = rpower('traced');
    is(untag($r->{err}), all_errors("Agent exited unexpectedly.  See $log for details.", qw(node001 node002 node004)),
        'traced: a debug trace or progress note is not a final line');
    is($r->{rc}, 1, 'traced: exit 1');

    # The fake agent sleeps after its bad frame: the command can end before the silence bound
    # (60 s) only if the broker stops the agent at once.
    $r = rpower('garbage', XCAT_AGENT_TIMEOUT => 60, timeout => 40);
    is(untag($r->{out}), "node001: ok\n", 'garbage: lines before relayed');
    is(untag($r->{err}), all_errors("Received a malformed reply from the xCAT Python agent (not a JSON object).  See $log for details.",
        qw(node002 node003 node004)), 'garbage: the others get an error');
    ok(!$r->{timed_out}, 'garbage: agent stopped, no wait for it');

    $r = rpower('truncated');
    is(untag($r->{err}), all_errors("The xCAT Python agent closed the connection in the middle of a reply.  See $log for details."),
        'truncated frame: every node');
    is($r->{rc}, 1, 'truncated frame: exit 1');

    $r = rpower('badlength', XCAT_AGENT_TIMEOUT => 60, timeout => 40);
    like(untag($r->{err}), qr/^node001: Error: Received a malformed reply from the xCAT Python agent \(frame length -5 outside/,
        'bad length: malformed');
    ok(!$r->{timed_out}, 'bad length: agent stopped, no wait for it');

    $r = rpower('silent');
    is(untag($r->{err}), all_errors("The xCAT Python agent sent no result for this node.  See $log for details."),
        'clean exit without lines: every node gets an error');
    is($r->{rc}, 1, 'clean exit without lines: exit 1');

    is_deeply([ leftovers() ], [], 'no private directory left behind after the failures');
}

# --- two commands at once, and an interrupt ----------------------------------------------
{
    my %env = (XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_RUNDIR => $rundir,
        XCAT_AGENT_LOG => $log, PERL5LIB => undef);
    my $a = start_cmd([ "$repo/perl/bin/rpower", 'node001,node002', 'on' ], env => { %env, FAKE_MODE => 'echo' }, timeout => 30);
    my $b = start_cmd([ "$repo/perl/bin/rsetboot", 'node003,node004', 'net' ], env => { %env, FAKE_MODE => 'echo' }, timeout => 30);
    my ($ra, $rb) = (finish_cmd($a), finish_cmd($b));
    is($ra->{out}, "node001: ok rpower [\"on\"]\nnode002: ok rpower [\"on\"]\n", 'concurrent rpower');
    is($rb->{out}, "node003: ok rsetboot [\"net\"]\nnode004: ok rsetboot [\"net\"]\n", 'concurrent rsetboot');
    is($ra->{rc} + $rb->{rc}, 0, 'both exit 0');

    my $h = start_cmd([ "$repo/perl/bin/rpower", 'all', 'state' ], env => { %env, FAKE_MODE => 'hang' }, timeout => 30);
    my $deadline = time + 10;
    sleep 1 until (grep { -S "$rundir/$_/agent.sock" } leftovers()) || time > $deadline;
    my ($agentdir) = leftovers();
    ok($agentdir, 'agent running');
    kill 'TERM', $h->{pid};
    my $r = finish_cmd($h);
    is($r->{rc}, 128 + 15, 'SIGTERM: runner exits 128+15');
    ok(!$r->{timed_out}, 'SIGTERM: no hang');
    is_deeply([ leftovers() ], [], 'SIGTERM: private directory removed');
    my $stray = $agentdir ? (`pgrep -f '$rundir/$agentdir/' 2>/dev/null` // '') : '';
    my @alive = grep { kill 0, $_ } grep { /^\d+$/ } split /\s+/, $stray;
    is(scalar @alive, 0, 'SIGTERM: agent stopped');
}

# --- the default silence bound --------------------------------------------------------------
{
    local $ENV{XCAT_AGENT_TIMEOUT};
    my $t = sub { my (%env) = @_; xCAT::PyAgent::agent_timeout({ environment => [ { map { $_ => [ $env{$_} ] } keys %env } ] }) };
    is($t->(), 30, 'no XCAT_AGENT_TIMEOUT: six alive intervals of 5 s');
    is($t->(XCAT_BMC_DEADLINE => 20, XCAT_BMC_READ_TIMEOUT => 3000), 30,
        'the BMC settings do not change it (the agent stays heard while BMCs are slow)');
    $ENV{XCAT_AGENT_TIMEOUT} = 0;
    is($t->(XCAT_BMC_DEADLINE => 20), 0, 'XCAT_AGENT_TIMEOUT=0: no bound');
    $ENV{XCAT_AGENT_TIMEOUT} = 7;
    is($t->(XCAT_BMC_DEADLINE => 20), 7, 'XCAT_AGENT_TIMEOUT wins');

    # The bound follows the interval the agent's alive frames report (0.5 s here: 3 s).
    local $ENV{XCAT_AGENT_TIMEOUT};
    my %env = (XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_RUNDIR => $rundir,
        XCAT_AGENT_LOG => $log, XCAT_AGENT_TIMEOUT => undef, FAKE_OUT => "$dir/fake", PERL5LIB => undef);
    my $r = run_cmd([ "$repo/perl/bin/rpower", 'all', 'state' ], timeout => 60, env => { %env, FAKE_MODE => 'alive' });
    is($r->{out}, join('', map { "$_: ok rpower [\"state\"]\n" } @nodes), 'alive frames for 4 s, then lines: all relayed');
    is($r->{rc}, 0, 'alive frames: exit 0');
    is(JSON::PP->new->utf8->decode(slurp("$dir/fake.request"))->{alive}, 5, 'the request asks for an alive frame every 5 s');
    $r = run_cmd([ "$repo/perl/bin/rpower", 'all', 'state' ], timeout => 60, env => { %env, FAKE_MODE => 'alive-hang' });
    is(untag($r->{err}), all_errors('No response from the xCAT Python agent within 3 s'),
        'alive every 0.5 s, then nothing: given up after six intervals');

    $r = finish_cmd($hung_default);
    ok(!$r->{timed_out}, 'hung agent, no XCAT_AGENT_TIMEOUT, XCAT_BMC_DEADLINE=1: the command ended');
    is(untag($r->{err}), all_errors('No response from the xCAT Python agent within 30 s'),
        'hung agent with the default bound: every node gets a clear error');
    is($r->{rc}, 1, 'hung agent with the default bound: exit 1');
    opendir(my $d, "$dir/run-hung");
    is_deeply([ grep { !/^\.\.?$/ } readdir $d ], [], 'hung agent with the default bound: nothing left behind');
}

done_testing();
