# Signals during a run (docs/DESIGN.md, "Signals and cleanup in the broker"), with fake agents:
# xcatd's burst on a client abort (INT to the plugin's group, INT to it, TERM to the group, TERM
# to it) while the agent logs out, ignores TERM, or at a random moment; the runner under random
# bursts of INT, TERM and HUP from its start to its end; two Ctrl-C in a row; SIGHUP. Every time:
# the command ends, the agent is gone, nothing is left in the run directory or TMPDIR, and the
# admin sees no Perl reference, panic or stack text. Every wait is bounded; no time is asserted.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../perl/runner/lib", "$FindBin::Bin/../../perl";
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep time);
use BrokerTest qw(repo_root write_tables start_cmd finish_cmd fake_agent new_dir);

my $repo  = repo_root();
my $dir   = new_dir();
my @nodes = write_tables($dir, nodes => 4);
my $agent = fake_agent($dir);
srand($ENV{SIGNALS_SEED} // time);
diag('seed ' . srand()) if $ENV{SIGNALS_SEED};

# The plugin's process as xcatd runs it: openbmc2's process_request with a callback, signals at
# their default disposition (xcatd's own handlers are not ours to model), in its own group.
my $host = "$dir/xcatd_host.pl";
open(my $fh, '>', $host) or die "$host: $!";
print {$fh} <<"HOST";
use strict;
use warnings;
use lib '$repo/perl/runner/lib', '$repo/perl';
use JSON::PP ();
require '$repo/perl/xCAT_plugin/openbmc2.pm';
my \$json = JSON::PP->new->canonical;
STDOUT->autoflush(1);
\$SIG{\$_} = 'IGNORE' for split /,/, (\$ENV{HOST_IGNORES} // '');
my \$callback = sub { print \$json->encode(\$_[0]), "\\n" };
my \$request = { command => ['rpower'], arg => ['state'], node => [qw(@nodes)],
    environment => [ { XCAT_BMC_DEADLINE => ['30'] } ] };
my \$rc = xCAT_plugin::openbmc2::process_request(\$request, \$callback, sub { });
print "returned \$rc\\n";
exit 0;
HOST
close $fh;

my %NUMBER = (HUP => 1, INT => 2, TERM => 15);

# Processes whose command line contains $text (the agent's holds its private directory).
sub procs_with {
    my ($text) = @_;
    my @found;
    for my $proc (glob '/proc/[0-9]*') {
        open(my $c, '<', "$proc/cmdline") or next;
        local $/;
        my $line = <$c> // '';
        push @found, $proc =~ m{(\d+)$} if index($line, $text) >= 0;
    }
    return grep { $_ != $$ } @found;
}

sub entries {
    my ($path) = @_;
    opendir(my $d, $path) or return ();
    return grep { !/^\.\.?$/ } readdir $d;
}

# Waits (bounded) until a private directory with a socket exists under $path (any depth 2).
sub wait_for_socket {
    my ($path, $seconds) = @_;
    my $deadline = time + $seconds;
    while (time < $deadline) {
        return 1 if glob("$path/*/agent.sock") || glob("$path/*/*/agent.sock");
        sleep 0.02;
    }
    return 0;
}

# What the admin or xcatd's log could show that is not words.
sub noise {
    my ($text) = @_;
    return $text =~ /HASH\(0x|ARRAY\(0x|CODE\(0x|panic|\bat \S+ line \d+|JMPENV/ ? $text : '';
}

# Sends the burst: [signal, 'group' or 'process', pause after] items.
sub burst {
    my ($pid, @items) = @_;
    for my $item (@items) {
        my ($sig, $to, $pause) = @$item;
        kill($sig, $to eq 'group' ? -$pid : $pid);
        sleep $pause if $pause;
    }
}

sub xcatd_burst { return ([ INT => 'group' ], [ INT => 'process' ], [ TERM => 'group' ], [ TERM => 'process' ]) }

my %base_env = (XCAT_TABLES => $dir, XCAT_AGENT => $agent, XCAT_AGENT_PYTHON => $^X,
    XCAT_AGENT_LOG => "$dir/agent.log", XCAT_AGENT_TIMEOUT => 30, PERL5LIB => undef);

# One plugin process as xcatd runs it; $when = undef: the burst once the agent listens, else
# that many seconds after the start.
sub host_run {
    my (%o) = @_;
    my $rundir = new_dir();
    my $h = start_cmd([ $^X, $host ], group => 1, timeout => 40, env => { %base_env, XCAT_AGENT_RUNDIR => $rundir,
        FAKE_MODE => $o{mode}, FAKE_STOP => $o{stop}, HOST_IGNORES => $o{ignores} });
    if (defined $o{when}) {
        sleep $o{when};
    } else {
        ok(wait_for_socket($rundir, 20), "$o{name}: the agent listens");
    }
    my @agents = procs_with($rundir);
    burst($h->{pid}, @{ $o{burst} });
    my $r = finish_cmd($h);
    $r->{rundir} = $rundir;
    $r->{agents_before} = \@agents;
    $r->{left} = [ entries($rundir) ];
    $r->{agents} = [ procs_with($rundir) ];
    return $r;
}

sub clean_ok {
    my ($r, $name) = @_;
    ok(!$r->{timed_out}, "$name: the process ended");
    is_deeply($r->{left}, [], "$name: nothing left in the run directory");
    is_deeply($r->{agents}, [], "$name: the agent is gone");
    is(noise($r->{err} . $r->{out}), '', "$name: words only");
}

# --- xcatd's burst ------------------------------------------------------------------------------
{
    # The agent takes a while to stop (it logs out): the rest of the burst lands in the cleanup.
    my $r = host_run(name => 'burst, agent logs out', mode => 'hang', stop => 1, burst => [ xcatd_burst() ]);
    clean_ok($r, 'burst, agent logs out');
    ok(scalar @{ $r->{agents_before} }, 'burst, agent logs out: there was an agent');
    # INT, the first signal, handed back after the cleanup; or TERM when the machine delayed the
    # burst's last kills until after the cleanup (they then meet xcatd's disposition directly).
    ok($r->{signal} == 2 || $r->{signal} == 15,
        'burst: the cleaned-up process ends by a signal of the burst, at xcatd\'s disposition')
      or diag "signal $r->{signal} rc $r->{rc}";
    unlike($r->{out}, qr/^returned/m, 'burst: the plugin did not carry on');

    # A host that ignores the signals: the plugin returns 1 instead, with everything cleaned.
    $r = host_run(name => 'burst, host ignores', mode => 'hang', stop => 0.3, ignores => 'INT,TERM',
        burst => [ xcatd_burst() ]);
    clean_ok($r, 'burst, host ignores');
    like($r->{out}, qr/^returned 1$/m, 'burst, host ignores: process_request returns 1');
    is($r->{rc}, 0, 'burst, host ignores: the host exits normally');

    # An agent that ignores TERM is killed after the grace.
    $r = host_run(name => 'burst, stubborn agent', mode => 'hang', stop => 'never', burst => [ xcatd_burst() ]);
    clean_ok($r, 'burst, stubborn agent');
    is($r->{signal}, 2, 'burst, stubborn agent: ends by the first signal');

    # At random moments from the start to the end of a run that streams lines.
    for my $i (1 .. 12) {
        my $when = rand(1.3);
        my $name = sprintf('burst at %.2f s', $when);
        $r = host_run(name => $name, mode => 'slow', stop => rand(0.5), when => $when, burst => [ xcatd_burst() ]);
        clean_ok($r, $name);
        ok(($r->{signal} == 2 || $r->{signal} == 15) || ($r->{signal} == 0 && $r->{rc} == 0 && $r->{out} =~ /^returned [01]$/m),
            "$name: ended by a signal of the burst, or returned") or diag "signal $r->{signal} rc $r->{rc} out $r->{out} err $r->{err}";
    }
}

# --- the runner ---------------------------------------------------------------------------------
# One runner command with TMPDIR and the run directory left to it; the burst at $when seconds.
sub runner_start {
    my (%o) = @_;
    my $tmp = new_dir();
    my $h = start_cmd([ "$repo/perl/bin/rpower", 'all', 'state' ], group => 1, timeout => 40,
        env => { %base_env, TMPDIR => $tmp, XCAT_AGENT_RUNDIR => undef, FAKE_MODE => $o{mode} // 'slow',
            FAKE_STOP => $o{stop} });
    return { h => $h, tmp => $tmp, %o };
}

sub runner_finish {
    my ($run) = @_;
    my $r = finish_cmd($run->{h});
    $r->{left} = [ entries($run->{tmp}) ];
    $r->{agents} = [ procs_with($run->{tmp}) ];
    return $r;
}

# The exit of a runner that got @signals: 128 + the number of the first one acted on, or death by
# one of them before its handlers exist, or a normal end if they came after it had finished.
sub runner_exit_ok {
    my ($r, $name, @signals) = @_;
    my %sent = map { $NUMBER{$_} => 1 } @signals;
    my $ok = ($r->{signal} == 0 && $r->{rc} > 128 && $sent{ $r->{rc} - 128 })
      || ($r->{signal} && $sent{ $r->{signal} })
      || ($r->{signal} == 0 && $r->{rc} == 0);
    ok($ok, "$name: exit as a signal or a normal end") or diag "rc $r->{rc} signal $r->{signal}: $r->{err}";
}

{
    # Two Ctrl-C 0.1 s apart, once the agent listens.
    my $run = runner_start(mode => 'hang', stop => 0.5);
    ok(wait_for_socket("$run->{tmp}/*", 20), 'two Ctrl-C: the agent listens');
    burst($run->{h}{pid}, [ INT => 'group', 0.1 ], [ INT => 'group' ]);
    my $r = runner_finish($run);
    clean_ok($r, 'two Ctrl-C');
    is($r->{rc}, 130, 'two Ctrl-C: exit 130');
    is($r->{err}, '', 'two Ctrl-C: nothing on stderr');

    # SIGHUP (the terminal went away) removes the runner's xcat-run.* directory too.
    $run = runner_start(mode => 'hang', stop => 0.2);
    ok(wait_for_socket("$run->{tmp}/*", 20), 'SIGHUP: the agent listens');
    burst($run->{h}{pid}, [ HUP => 'process' ]);
    $r = runner_finish($run);
    clean_ok($r, 'SIGHUP');
    is($r->{rc}, 129, 'SIGHUP: exit 129');

    # xcatd's burst on the runner.
    $run = runner_start(mode => 'hang', stop => 1);
    ok(wait_for_socket("$run->{tmp}/*", 20), 'runner burst: the agent listens');
    burst($run->{h}{pid}, xcatd_burst());
    $r = runner_finish($run);
    clean_ok($r, 'runner, xcatd burst');
    is($r->{rc}, 130, 'runner, xcatd burst: exit 130');

    # Ctrl-C in the first tenth of a second, and random bursts from the start to the end; four
    # runners at a time.
    my @plans = ((map { [ $_ * 0.025, [ [ INT => 'group' ] ] ] } 0 .. 4),
        map { [ rand(1.5), [ map { [ (qw(INT TERM HUP))[ int rand 3 ], (rand() < 0.5 ? 'group' : 'process'), rand(0.1) ] }
            1 .. 1 + int rand 4 ] ] } 1 .. 27);
    while (@plans) {
        my @batch = splice(@plans, 0, 4);
        my $t0 = time;
        my @runs = map { runner_start(stop => rand(0.4), plan => $_) } @batch;
        my @order = sort { $a->{plan}[0] <=> $b->{plan}[0] } @runs;
        for my $run (@order) {
            my $wait = $t0 + $run->{plan}[0] - time;
            sleep $wait if $wait > 0;
            burst($run->{h}{pid}, @{ $run->{plan}[1] });
        }
        for my $run (@runs) {
            my $name = sprintf('runner, %s at %.2f s', join(',', map { "$_->[0]>$_->[1]" } @{ $run->{plan}[1] }),
                $run->{plan}[0]);
            my $r = runner_finish($run);
            clean_ok($r, $name);
            runner_exit_ok($r, $name, map { $_->[0] } @{ $run->{plan}[1] });
        }
    }
}

done_testing();
