# The runner's temporary agent log: when XCAT_TABLES is not writable (and XCAT_AGENT_LOG is not
# set) the log goes to a fresh xcat-runner-log.* directory, removed at exit unless a printed
# message names the log; the private xcat-run.* directory is always removed. Runs as nobody when
# started as root (root can write everywhere).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BrokerTest qw(repo_root write_tables run_cmd start_cmd finish_cmd fake_agent new_dir slurp lines);

my $repo = repo_root();
my $NOBODY = 65534;
my $as = $> == 0 ? $NOBODY : undef;

my $tables = new_dir();
my @nodes = write_tables($tables, nodes => 2);
my $agent = fake_agent($tables);
chmod 0644, glob("$tables/*");
chmod 0555, $tables;    # readable by anyone, writable by no one but root
my $tmp = new_dir();
chmod 01777, $tmp;      # the runner's TMPDIR, watched for leftovers

sub rpower {
    my ($mode, %opts) = @_;
    return start_cmd([ "$repo/perl/bin/rpower", 'all', 'state' ], timeout => 30, uid => $as, env => {
        XCAT_TABLES => $tables, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X, XCAT_AGENT_LOG => undef,
        XCAT_AGENT_RUNDIR => undef, XCAT_AGENT_TIMEOUT => 20, TMPDIR => $tmp, FAKE_MODE => $mode, PERL5LIB => undef });
}
sub leftovers { opendir(my $d, $tmp) or return (); return sort grep { !/^\.\.?$/ } readdir $d }

SKIP: {
    skip 'XCAT_TABLES stays writable for this user', 1 if -w $tables && !defined $as;

    my $r = finish_cmd(rpower('echo'));
    is($r->{rc}, 0, 'success: exit 0') or diag $r->{err};
    is($r->{out}, join('', map { "$_: ok rpower [\"state\"]\n" } @nodes), 'success: lines');
    is_deeply([ leftovers() ], [], 'success: no xcat-runner-log.* or xcat-run.* directory left');

    $r = finish_cmd(rpower('shapes'));
    is($r->{rc}, 1, 'errors that do not name the log: exit 1');
    is_deeply([ leftovers() ], [], 'errors that do not name the log: nothing left');

    # SIGTERM while the agent runs (its socket exists), and while the runner starts up.
    my $h = rpower('hang');
    my $until = time + 20;
    select(undef, undef, undef, 0.05) until glob("$tmp/xcat-run.*/agent.*/agent.sock") || time > $until;
    ok(glob("$tmp/xcat-run.*/agent.*/agent.sock"), 'SIGTERM: the agent is running');
    kill 'TERM', $h->{pid};
    $r = finish_cmd($h);
    is($r->{rc}, 128 + 15, 'SIGTERM during the run: exit 128+15');
    is_deeply([ leftovers() ], [], 'SIGTERM during the run: nothing left');
    $h = rpower('hang');
    select(undef, undef, undef, 0.01) until glob("$tmp/xcat-run.*") || time > $until;
    kill 'TERM', $h->{pid};
    $r = finish_cmd($h);
    ok(!$r->{timed_out} && !$r->{signal}, 'SIGTERM at start-up: the runner exits, not killed by the signal');
    is_deeply([ leftovers() ], [], 'SIGTERM at start-up: nothing left');

    $r = finish_cmd(rpower('partial'));
    my ($log) = $r->{err} =~ m{See (\Q$tmp\E/xcat-runner-log\.[^/ ]+/agent\.log) for details};
    ok($log, 'an error names the temporary log') or diag $r->{err};
    like(slurp($log // '') // '', qr/fake agent: mode partial/, 'that log is kept, with the agent\'s output');
    is_deeply([ leftovers() ], [ $log =~ m{/(xcat-runner-log\.[^/]+)/} ], 'only that log directory is kept');
}

chmod 0755, $tables;
done_testing();
