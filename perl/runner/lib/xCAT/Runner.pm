package xCAT::Runner;

=head1 NAME

xCAT::Runner - xCAT's client commands (rpower, rsetboot) without xcatd

=head1 SYNOPSIS

  XCAT_TABLES=DIR perl/bin/rpower NODERANGE ACTION
  XCAT_TABLES=DIR perl/bin/rsetboot NODERANGE [DEVICE] [-p]

=head1 DESCRIPTION

Does in one process what xCAT's client and xcatd do together: reads the tables from tabdump CSV
files in C<$XCAT_TABLES>, expands the noderange, loads every plugin in perl/xCAT_plugin, routes
each node to the plugin whose C<handled_commands> rule matches its table value (for example
C<nodehm:mgt=openbmc>), calls C<preprocess_request> and then C<process_request> for each part
it returns (all parts run here: there are no service nodes to ship them to), and prints the
replies the way xCAT's client does. The exit status is xCAT's: 1 if any reply carried an error
code.

The broker's settings default, unless set in the environment, to: C<XCAT_AGENT> = the repository's
agent.py, C<XCAT_AGENT_PYTHON> = the repository's .venv/bin/python when it exists,
C<XCAT_AGENT_LOG> = C<$XCAT_TABLES/agent.log>, C<XCAT_AGENT_RUNDIR> = a fresh private temporary
directory (mode 0700, removed at exit), or with a warm agent (C<XCAT_AGENT_IDLE> above 0)
C<$XCAT_TABLES/run>, which outlives the command as the warm agent does. When XCAT_TABLES is not writable the log goes to a fresh
temporary directory C<xcat-runner-log.*> that is removed at exit too, unless a printed message
names the log (C<... See DIR/agent.log for details.>): then it is kept for the admin to read.
Every C<XCAT_*> variable is forwarded as the request's C<environment>, as xCAT's client does.
C<%::XCATSITEVALS> is loaded from site.csv, as xcatd does.
With C<XCAT_RUNNER_RELAY=xcatd> each C<process_request> runs in a process of its own and its
output comes back through C<xCAT::Relay>, the model of xcatd's relay (lines a plugin hands over
too late are lost, as under xcatd).

=cut

use strict;
use warnings;

use Cwd ();
use Encode ();
use Getopt::Long ();
use POSIX ();
use Time::HiRes ();
use xCAT::Table;
use xCAT::Runner::Printer;

=head3 main($command, $repo, @argv)

Runs one client command. Returns the exit status.

=cut

sub main {
    my ($command, $repo, @argv) = @_;
    STDOUT->autoflush(1);
    STDERR->autoflush(1);
    # Node names and texts are UTF-8 on the command line, in the tables and on the terminal.
    binmode($_, ':encoding(UTF-8)') for \*STDOUT, \*STDERR;
    @argv = map { Encode::decode('UTF-8', $_) } @argv;

    my $tables = $ENV{XCAT_TABLES};
    unless (defined $tables && -d $tables) {
        print STDERR "Error: XCAT_TABLES must name a directory holding the xCAT tables (tabdump CSV files)\n";
        return 1;
    }
    my $signals = catch_signals(plugin_dirs($repo));
    my $templog = set_defaults($repo, $tables);
    release_signals($signals);
    my $exit = 0;
    my $printer = xCAT::Runner::Printer->new(source => source_host(), show_source => shows_source(@argv));
    my $callback = sub {
        my @printed = $printer->print_response($_[0], \$exit);
        $templog->noticed(\@printed) if $templog;
    };
    run_command($command, $repo, $callback, \$exit, @argv);
    # From here the process only removes its temporary directories and exits.
    $SIG{$_} = 'IGNORE' for qw(INT TERM HUP);
    return exit_status($exit);
}

=head3 source_host()

The name xcatd puts in every response as C<xcatdsource> (its host name), which xCAT's client
prints as the C<[host]> tag: C<$XCAT_RUNNER_HOST> when set (tests set it, so output is
deterministic), else this machine's host name (from the kernel, no name service asked).

=cut

sub source_host {
    return $ENV{XCAT_RUNNER_HOST} if _set('XCAT_RUNNER_HOST');
    return (POSIX::uname())[1] // 'localhost';
}

=head3 shows_source(@argv)

True when xCAT's client would tag info and data lines with the source host too: C<XCATSHOWSVR>
is set, or C<-V>/C<--verbose> is among the words after the noderange (the client looks only
there, not at options before the noderange).

=cut

sub shows_source {
    my (@argv) = @_;
    return 1 if $ENV{XCATSHOWSVR};
    shift @argv while @argv && $argv[0] =~ /^-/;
    shift @argv;
    return scalar grep { $_ eq '-V' || $_ eq '--verbose' } @argv;
}

=head3 catch_signals(@plugin_dirs)

INT, TERM and HUP end the runner with 128 + the signal number through END blocks and
destructors, so its temporary directories go too (the broker handles them itself while an agent
runs, then hands the signal back here). The handlers are set for the whole process, not
C<local>: an exit restores C<local> values before END blocks run. Signals are held (recorded,
acted on by C<release_signals>) while the plugins and xCAT modules are compiled here (an exit
inside the compiler panics) and while the temporary directories are made. Once the first signal
is acted on, the others are ignored so the exit's cleanup runs to its end. A signal that comes
while a module is being compiled at run time is acted on 20 ms later (SIGALRM), once the
compiler is done. Returns the state for C<release_signals>.

=head3 release_signals($state)

Ends the hold: a signal that came meanwhile ends the runner now.

=cut

sub catch_signals {
    my (@plugin_dirs) = @_;
    my $state = { hold => 1, number => { HUP => 1, INT => 2, TERM => 15 } };
    for my $name (keys %{ $state->{number} }) {
        $SIG{$name} = sub {
            $state->{got} //= $name;
            _exit_on_signal($state) unless $state->{hold};
        };
    }
    # Inside the compiler (a module loaded at run time) an exit panics: try again shortly.
    $SIG{ALRM} = sub {
        _exit_on_signal($state) if defined $state->{got} && !$state->{hold};
    };
    require xCAT::Usage;
    require $_ for sort map { glob("$_/*.pm") } @plugin_dirs;
    return $state;
}

sub release_signals {
    my ($state) = @_;
    $state->{hold} = 0;
    _exit_on_signal($state) if defined $state->{got};
    return;
}

sub _exit_on_signal {
    my ($state) = @_;
    unless (defined $^S) {
        Time::HiRes::ualarm(20_000);
        return;
    }
    return if $state->{exiting}++;
    $SIG{$_} = 'IGNORE' for keys %{ $state->{number} };
    exit 128 + $state->{number}->{ $state->{got} };
}

=head3 run_command($command, $repo, $callback, \$exit, @argv)

The client command once the environment is set: site values, plugins, noderange, routing,
C<preprocess_request> and C<process_request>. Replies go to C<$callback>; C<$exit> is set to 1
for the runner's own errors.

=cut

sub run_command {
    my ($command, $repo, $callback, $exit, @argv) = @_;

    # As xCAT's client: leading options, then the noderange, then the rest; no arg key at all
    # when there are no arguments.
    my @args;
    push @args, shift @argv while @argv && $argv[0] =~ /^-/;
    my $noderange = shift @argv;
    push @args, @argv;

    if (my @bad = xCAT::Table::check_files($ENV{XCAT_TABLES})) {
        $callback->({ error => [@bad], errorcode => [1] });
        return;
    }
    %::XCATSITEVALS = site_values();

    # xcatd's relay, modelled (XCAT_RUNNER_RELAY=xcatd): compiled only when asked for.
    my $relay = _set('XCAT_RUNNER_RELAY') && do { require xCAT::Relay; xCAT::Relay::enabled() };

    my $plugins = load_plugins([ plugin_dirs($repo) ], $command);
    unless (@$plugins) {
        print STDERR "Error: $command is not handled by any plugin\n";
        return $$exit = 1;
    }

    my $base = {
        command     => [$command],
        cwd         => [ Cwd::getcwd() // '/' ],
        environment => [ { map { $_ => [ $ENV{$_} ] } grep { /^XCAT_/ } sort keys %ENV } ],
    };
    $base->{arg} = [@args] if @args;

    # As xcatd: an empty noderange is none, and a command without one goes to xCAT's help
    # plugin, never to a hardware plugin.
    unless (defined $noderange && length $noderange) {
        help_without_noderange($command, \@args, $callback);
        return;
    }
    $base->{noderange} = [$noderange];

    my ($nodes, $missing) = expand_noderange($noderange);
    if (@$missing) {
        $callback->({ error => [ 'Invalid nodes and/or groups in noderange: ' . join(',', @$missing) ],
            errorcode => [1] });
        return;
    }

    # xcatd's option parsing style, in force for every plugin it runs.
    Getopt::Long::Configure('bundling');

    my ($routes, $unrouted) = route_nodes($nodes, $plugins);
    for my $node (@$unrouted) {
        $callback->({ node => [ { name => [$node], errorcode => [1],
            error => ['Unable to identify plugin for this command, check relevant tables: nodehm.mgt'] } ] });
    }
    for my $plugin (@$plugins) {
        my $mine = $routes->{ $plugin->{name} } or next;
        my $request = { %$base, node => [@$mine] };
        my $parts = $plugin->{package}->can('preprocess_request')->($request, $callback, \&subrequest);
        next unless ref $parts eq 'ARRAY';
        my $process = $plugin->{package}->can('process_request');
        for my $part (@$parts) {
            if ($relay) {
                my (undef, $signal) = xCAT::Relay::run(sub { $process->($part, $_[0], \&subrequest) }, $callback);
                kill($signal, $$) if defined $signal;    # now the runner's own handlers act on it
            } else {
                $process->($part, $callback, \&subrequest);
            }
        }
    }
    return;
}

=head3 help_without_noderange($command, \@args, $callback)

xCAT's help plugin, which answers every command given without a noderange: C<-h>/C<--help>
prints the command's full usage (every hardware type) and C<-v>/C<--version> the version,
exit 0; anything else prints the usage with exit 1.

=cut

sub help_without_noderange {
    my ($command, $args, $callback) = @_;
    require xCAT::Usage;
    my $text = xCAT::Usage->parseCommand($command, @$args);
    if (defined $text && length $text) {
        $callback->({ data => [$text] });
        return;
    }
    $callback->({ data => [ xCAT::Usage->getUsage($command) ], errorcode => [1] });
    return;
}

sub exit_status {
    my ($code) = @_;
    return 0 unless $code;
    return ($code & 0xff) || 1;
}

=head3 subrequest($request, $callback)

Stand-in for xcatd's sub-request handler; our plugins issue none.

=cut

sub subrequest { return }

=head3 set_defaults($repo, $tables)

Fills the broker's environment defaults described above, leaving set variables alone. Returns
the C<xCAT::Runner::TempLog> guard of a temporary log directory, or undef when there is none.

=cut

sub set_defaults {
    my ($repo, $tables) = @_;
    $ENV{XCAT_AGENT} = "$repo/xCAT-openbmc-py/lib/python/agent/agent.py" unless _set('XCAT_AGENT');
    if (!_set('XCAT_AGENT_PYTHON') && -x "$repo/.venv/bin/python") {
        $ENV{XCAT_AGENT_PYTHON} = "$repo/.venv/bin/python";
    }
    my $templog;
    unless (_set('XCAT_AGENT_LOG')) {
        if (-w $tables) {
            $ENV{XCAT_AGENT_LOG} = "$tables/agent.log";
        } else {
            require File::Temp;
            $templog = xCAT::Runner::TempLog->new(File::Temp::tempdir('xcat-runner-log.XXXXXX', TMPDIR => 1));
            $ENV{XCAT_AGENT_LOG} = $templog->{file};
        }
    }
    # A warm agent (XCAT_AGENT_IDLE > 0) outlives one command: its directory is the tables' run/
    # (the tables stand for the management node), not one that goes at our exit.
    # Without a lasting directory (tables not writable) it runs one agent per command.
    my $idle = _set('XCAT_AGENT_IDLE') ? $ENV{XCAT_AGENT_IDLE} : do { require xCAT::PyAgent; xCAT::PyAgent::DEFAULT_IDLE() };
    if (!_set('XCAT_AGENT_RUNDIR') && $idle =~ /\A[\d.]+\z/ && $idle > 0) {
        mkdir("$tables/run", 0700) if -w $tables;
        if (-d "$tables/run" && -w "$tables/run") {
            $ENV{XCAT_AGENT_RUNDIR} = "$tables/run";
        } else {
            $ENV{XCAT_AGENT_IDLE} = 0;
        }
    }
    unless (_set('XCAT_AGENT_RUNDIR')) {
        require File::Temp;
        $ENV{XCAT_AGENT_RUNDIR} = File::Temp::tempdir('xcat-run.XXXXXX', TMPDIR => 1, CLEANUP => 1);
        chmod 0700, $ENV{XCAT_AGENT_RUNDIR};
    }
    return $templog;
}

sub _set { return defined $ENV{ $_[0] } && length $ENV{ $_[0] } }

=head3 site_values()

The site table as C<key =E<gt> value>, as xcatd keeps it in C<%::XCATSITEVALS>.

=cut

sub site_values {
    my $site = xCAT::Table->new('site') or return ();
    return map { defined $_->{key} ? ($_->{key} => $_->{value}) : () } $site->getAllAttribs(qw(key value));
}

=head3 plugin_dirs($repo)

Where the runner loads plugins from: ours (perl/xCAT_plugin), then the stand-ins for xCAT's
own plugins that claim the same nodes (perl/runner/plugins, never installed).

=cut

sub plugin_dirs {
    my ($repo) = @_;
    return ("$repo/perl/xCAT_plugin", "$repo/perl/runner/plugins");
}

=head3 load_plugins(\@dirs, $command)

Loads every plugin of the directories C<@dirs> (as xcatd loads its plugin directory) and returns
those that handle C<$command>: C<[{name, package, table, column, value}]>, sorted by name. The
runner's second directory, perl/runner/plugins, holds stand-ins for xCAT's own plugins that
claim the same nodes as ours (never installed).

=cut

sub load_plugins {
    my ($dirs, $command) = @_;
    my @plugins;
    for my $file (sort { ($a =~ m{([^/]+)$})[0] cmp ($b =~ m{([^/]+)$})[0] } map { glob("$_/*.pm") } @$dirs) {
        my ($name) = $file =~ m{([^/]+)\.pm$};
        my $pkg = "xCAT_plugin::$name";
        require $file;
        my $handled = $pkg->can('handled_commands') ? $pkg->handled_commands() : {};
        my $rule = $handled->{$command} or next;
        my ($table, $column, $value) = $rule =~ /^([^:]+):([^=]+)(?:=(.*))?$/ or next;
        push @plugins, { name => $name, package => $pkg, table => $table, column => $column,
            value => (defined $value && length $value) ? $value : undef };
    }
    return \@plugins;
}

=head3 route_nodes(\@nodes, \@plugins)

Hands each node to every plugin whose rule matches its table value, as xcatd does: a rule
C<table:column=pattern> matches when the value matches the pattern (a regex); a rule
C<table:column> when the value matches the plugin's own name and is the name of that plugin.
Returns C<(\%nodes_by_plugin, \@unrouted)>.

=cut

sub route_nodes {
    my ($nodes, $plugins) = @_;
    my (%routes, %routed, %cache);
    for my $plugin (@$plugins) {
        my $key = "$plugin->{table}.$plugin->{column}";
        $cache{$key} //= do {
            my $tab = xCAT::Table->new($plugin->{table});
            $tab ? $tab->getNodesAttribs($nodes, [ $plugin->{column} ]) : {};
        };
        for my $node (@$nodes) {
            my $entry = $cache{$key}->{$node};
            my $row = ref $entry eq 'ARRAY' ? $entry->[0] : undef;
            my $value = ref $row eq 'HASH' ? $row->{ $plugin->{column} } : undef;
            next unless defined $value;
            my $match = defined $plugin->{value}
              ? $value =~ /$plugin->{value}/
              : ($value =~ /\Q$plugin->{name}\E/ && $value eq $plugin->{name});
            next unless $match;
            push @{ $routes{ $plugin->{name} } }, $node;
            $routed{$node} = 1;
        }
    }
    return (\%routes, [ grep { !$routed{$_} } @$nodes ]);
}

=head3 expand_noderange($noderange)

Expands a noderange: comma-separated items, each a node, a group from C<nodelist.groups>,
C<prefix[001-064]> or C<node001-node064>. Returns C<(\@nodes, \@unknown)>: the known nodes in
order without duplicates, and the items (or expanded names) that are neither nodes nor groups.

=cut

sub expand_noderange {
    my ($noderange) = @_;
    my ($known, $groups) = nodelist();
    my (@nodes, @unknown, %seen);
    for my $item (split /,/, $noderange) {
        next unless length $item;
        my @names;
        if (exists $known->{$item}) {
            @names = ($item);
        } elsif ($groups->{$item}) {
            @names = @{ $groups->{$item} };
        } else {
            my $range = expand_range($item);
            unless ($range) {
                push @unknown, $item;
                next;
            }
            for my $name (@$range) {
                if (exists $known->{$name}) { push @names, $name } else { push @unknown, $name }
            }
        }
        for my $name (@names) {
            push @nodes, $name unless $seen{$name}++;
        }
    }
    return (\@nodes, \@unknown);
}

=head3 expand_range($item)

C<prefix[A-B]suffix> or C<prefixA-prefixB> (same prefix, numbers keep the width of A) as a list
reference of names, or undef if C<$item> is not a range.

=cut

sub expand_range {
    my ($item) = @_;
    my ($prefix, $from, $to, $suffix);
    if ($item =~ /^(.*)\[(\d+)-(\d+)\](.*)$/) {
        ($prefix, $from, $to, $suffix) = ($1, $2, $3, $4);
    } elsif ($item =~ /^(.*?)(\d+)-(.*?)(\d+)$/ && $1 eq $3) {
        ($prefix, $from, $to, $suffix) = ($1, $2, $4, '');
    } else {
        return undef;
    }
    return undef if $to < $from || $to - $from > 1_000_000;
    my $width = length $from;
    return [ map { sprintf('%s%0*d%s', $prefix, $width, $_, $suffix) } $from .. $to ];
}

=head3 nodelist()

Returns C<(\%nodes, \%groups)> from nodelist.csv: every node name, and each group's nodes in
file order.

=cut

sub nodelist {
    my $tab = xCAT::Table->new('nodelist');
    my (%nodes, %groups);
    for my $row ($tab ? $tab->getAllAttribs(qw(node groups)) : ()) {
        next unless defined $row->{node};
        $nodes{ $row->{node} } = 1;
        push @{ $groups{$_} }, $row->{node} for grep { length } split /,/, ($row->{groups} // '');
    }
    return (\%nodes, \%groups);
}

#-------------------------------------------------------------------------------

package xCAT::Runner::TempLog;

=head1 NAME

xCAT::Runner::TempLog - the runner's temporary agent log directory (a guard)

=head3 new($class, $dir)

Takes charge of C<$dir>; the log file is C<$dir/agent.log> (C<file>).

=head3 noticed($self, \@lines)

Keeps the directory when one of the printed C<@lines> names the log file.

=head3 DESTROY

Removes the directory (also at a signal's exit) unless it is to be kept; a no-op in another
process than the one that made it (a forked agent child).

=cut

use File::Path qw(remove_tree);

sub new {
    my ($class, $dir) = @_;
    return bless { dir => $dir, file => "$dir/agent.log", owner => $$, keep => 0 }, $class;
}

sub noticed {
    my ($self, $lines) = @_;
    $self->{keep} ||= grep { index($_, $self->{file}) >= 0 } @$lines;
    return;
}

sub DESTROY {
    my ($self) = @_;
    local ($@, $!, $?);
    return if $self->{keep} || $self->{owner} != $$;
    remove_tree($self->{dir}) if -d $self->{dir};
    return;
}

1;
