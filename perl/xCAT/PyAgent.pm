package xCAT::PyAgent;

=head1 NAME

xCAT::PyAgent - the broker between an xcatd plugin and the xCAT Python agent

=head1 DESCRIPTION

Shared by C<xCAT_plugin::openbmc2> and C<xCAT_plugin::redfish>. It holds what both plugins do
the same way: argument validation driven by a per-plugin table, help and version texts, the
service-node split, node information from the C<openbmc> and C<passwd> tables, and the whole life
of one agent process per request (private directory, lock file, fork and exec, the socket, the
frame codec, relaying replies to the xcatd callback, and cleanup on every path).

Facts (messages, frame layout, callback shapes) follow docs/xcat-facts.md (#argument-checks,
#broker-process, #wire-protocol); how the agent is found and started follows docs/DESIGN.md.

There is no file-level mutable state: the callback, the request, the node information and the
per-request agent handle (an C<xCAT::PyAgent::Run> guard object) all travel as arguments.

Only xCAT core modules that a real xcatd provides are used, with xCAT's call signatures. On a
machine without xCAT, perl/runner/lib holds stand-ins for them.

=cut

use strict;
use warnings;

use Cwd ();
use Getopt::Long qw(GetOptionsFromArray);
use POSIX ();
use JSON::PP ();
use Scalar::Util qw(looks_like_number);
use Time::HiRes ();

use xCAT::PyAgent::Frame qw(encode_frame write_all frame_reader read_frame MAX_FRAME);
use xCAT::PyAgent::Batch;
use xCAT::PyAgent::Run;

use xCAT::Table;
use xCAT::MsgUtils;
use xCAT::SvrUtils;
use xCAT::Usage;
use xCAT::ServiceNodeUtils;
use xCAT::NetworkUtils;

use constant {
    # xCAT's words when the agent file is missing or does not start (docs/xcat-facts.md#broker-process).
    AGENT_MISSING => 'The xCAT Python agent does not exist. Check if xCAT-openbmc-py package is installed '
      . 'on management node and service nodes.',

    # The agent sends an alive frame every ALIVE_EVERY seconds of a run (the request asks for
    # them); with XCAT_AGENT_TIMEOUT unset, the broker gives up after ALIVE_MISSES intervals
    # (of the interval the agent's frames report) without any frame. See agent_timeout.
    ALIVE_EVERY  => 5,
    ALIVE_MISSES => 6,

    # Bound on the agent's exit after it closed the socket.
    REAP_WAIT => 10,

    DEFAULT_AGENT  => '/opt/xcat/lib/python/agent/agent.py',
    DEFAULT_LOG    => '/var/log/xcat/agent.log',
    DEFAULT_RUNDIR => '/var/run/xcat',

    # Seconds a warm agent waits for the next request before it exits; XCAT_AGENT_IDLE=0 = a
    # one-shot agent per command (docs/DESIGN.md, "Warm agent").
    DEFAULT_IDLE => 300,
};

# The signals that stop a run (docs/DESIGN.md, "Signals and cleanup in the broker").
use constant STOP_SIGNALS => qw(INT TERM HUP);

# Optional settings forwarded to the agent in the request's envs (docs/DESIGN.md):
# [envs key, request environment variable, rule of %RULES]. Read-only.
my @ENV_SETTINGS = (
    [ pool_size       => 'XCAT_BMC_POOL_SIZE',       'count' ],
    [ connect_timeout => 'XCAT_BMC_CONNECT_TIMEOUT', 'positive' ],
    [ read_timeout    => 'XCAT_BMC_READ_TIMEOUT',    'positive' ],
    [ deadline        => 'XCAT_BMC_DEADLINE',        'positive' ],
    [ verify          => 'XCAT_BMC_VERIFY',          'bool' ],
    [ ca_bundle       => 'XCAT_BMC_CA_BUNDLE',       'file' ],
    [ state_wait      => 'XCAT_BMC_STATE_WAIT',      'nonnegative' ],
    [ poll_interval   => 'XCAT_BMC_POLL_INTERVAL',   'positive' ],
);

# The broker's own settings, from its environment (docs/DESIGN.md): [variable, rule]. XCAT_AGENT
# itself is checked by its existence (xCAT's message). Read-only.
my @BROKER_SETTINGS = (
    [ XCAT_AGENT_PYTHON  => 'path' ],
    [ XCAT_AGENT_LOG     => 'path' ],
    [ XCAT_AGENT_RUNDIR  => 'path' ],
    [ XCAT_AGENT_TIMEOUT => 'nonnegative' ],
    [ XCAT_AGENT_IDLE    => 'nonnegative' ],
);

# Words accepted for a JSON boolean in XCAT_BMC_VERIFY. Read-only.
my %BOOL_WORDS = (
    1 => 1, yes => 1, true => 1, on => 1,
    0 => 0, no => 0, false => 0, off => 0,
);

# A plain decimal number (no sign, no hex, no inf/nan, no spaces).
my $DECIMAL = qr/\A(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\z/;

# The JSON type each rule's values are sent as. Read-only.
my %JSON_TYPE = (count => 'int', positive => 'number', nonnegative => 'number', bool => 'bool', file => 'string');

# Setting rules: name => [what the admin is told, check]. Read-only.
my %RULES = (
    count       => [ 'must be a whole number greater than 0', sub { $_[0] =~ /\A\d+\z/ && $_[0] > 0 } ],
    positive    => [ 'must be a number greater than 0', sub { $_[0] =~ $DECIMAL && _finite($_[0]) && $_[0] > 0 } ],
    nonnegative => [ 'must be a number of 0 or more', sub { $_[0] =~ $DECIMAL && _finite($_[0]) } ],
    bool        => [ 'must be one of ' . join(', ', qw(1 0 yes no true false on off)),
        sub { defined $BOOL_WORDS{ lc $_[0] } } ],
    file => [ 'must name a readable file', sub { -f $_[0] && -r _ } ],
    path => [ 'must be an absolute path', sub { $_[0] =~ m{\A/} && $_[0] !~ /[\x00-\x1f\x7f]/ } ],
);

# Commands whose argument list must hold one word at most / at least one word
# (docs/xcat-facts.md#argument-checks, common prefix). Read-only.
my %ONE_WORD_ONLY = map { $_ => 1 } qw(rbeacon rpower rvitals);
my %WORD_REQUIRED = map { $_ => 1 } qw(rbeacon rspconfig rpower rflash);

#-------------------------------------------------------------------------------

=head2 Preprocessing (runs on the management node)

=head3 preprocess($request, $callback, $spec)

The whole of a plugin's preprocess_request: help and version, PDU passthrough, validation, the
C<-V> note and the service-node split (docs/xcat-facts.md#argument-checks).

C<$spec> is the plugin's read-only description:
C<< { usage_suffix => '.openbmc' or '', commands => { rpower => RULE, ... } } >>, where a RULE is
C<< { valid => [words], passthrough => qr//, flags => [getopt specs], default => 'word' } >>.

Returns a reference to the list of request copies to dispatch (each with C<_xcatdest> and
C<_xcatpreprocessed>), or nothing when the request has been answered here.

=cut

sub preprocess {
    my ($request, $callback, $spec) = @_;

    if ($request->{_xcatpreprocessed} && $request->{_xcatpreprocessed}->[0]) {
        return [$request];
    }
    my $command = $request->{command}->[0];
    my @args    = $request->{arg}  ? @{ $request->{arg} }  : ();
    my @nodes   = $request->{node} ? @{ $request->{node} } : ();
    # NOTE: xCAT's client sends no arg key when the admin gives no action, and xCAT's plugins
    # then validate one undefined word: `rpower node` says `Unsupported command: rpower ` and
    # `rsetboot node` means stat. An empty list is read the same way (docs/RUNNER.md).
    my @words = @args ? @args : (undef);

    my $text = usage_text($command, \@args, $spec->{usage_suffix});
    if (defined $text && length $text) {
        $callback->({ data => [$text] });
        return;
    }

    my $rule = $spec->{commands}->{$command};
    if ($rule && $rule->{passthrough} && @args && defined $args[0] && $args[0] =~ $rule->{passthrough}) {
        return;
    }

    # Commands with a check of their own (rinv, rvitals, ...) read the words as they came.
    my $checked = $rule && $rule->{check} ? \@args : \@words;
    my ($error, $verbose, $notes) = check_args($command, $checked, $spec->{commands}, \@nodes);
    if (defined $error) {
        $callback->({ errorcode => [1], data => [ join("\n", map { "$_: Error: $error" } @nodes) ] });
        return;
    }
    $callback->({ data => [$_] }) for @$notes;
    if ($verbose) {
        $callback->({ data => [ { contents => ['Running command in Python'] } ] });
    }
    return split_by_service_node($request, \@nodes);
}

=head3 usage_text($command, \@args, $suffix)

Returns the help or version text that C<xCAT::Usage-E<gt>parseCommand> gives for C<@args>
(empty string when neither was asked for). C<$suffix> (for example C<.openbmc>) is tried first;
a text containing C<cannot be found> is retried with the plain command name.

=cut

sub usage_text {
    my ($command, $args, $suffix) = @_;
    my $name = $command . ($suffix // '');
    my $text = xCAT::Usage->parseCommand($name, @$args);
    if (defined $text && $text =~ /cannot be found/ && $name ne $command) {
        $text = xCAT::Usage->parseCommand($command, @$args);
    }
    return $text;
}

=head3 check_args($command, \@args, \%rules, \@nodes)

Validates a copy of C<@args> against the rule of C<$command> (docs/xcat-facts.md#argument-checks).
Returns C<(undef, $verbose, \@notes)> when the arguments are accepted, or C<($message)> with the
exact message. C<$verbose> is true when C<-V>/C<--verbose> was given; C<@notes> are lines to
print once, without a node, before the agent runs. A rule with C<check> (a code reference
called with the words left after C<-V> is removed and C<\@nodes>, see
C<xCAT::PyAgent::Rules>) decides on the words itself after the common prefix. C<@args> is not
modified.

Getopt::Long's global configuration is restored on return.

=cut

sub check_args {
    my ($command, $args, $rules, $nodes) = @_;
    my $rule = $rules->{$command};
    return ("Unsupported command: $command") unless $rule;

    my @words   = @$args;
    my $verbose = 0;
    my $saved   = Getopt::Long::Configure(qw(pass_through no_ignore_case));
    my $ok = 1;
    my @notes;
    my $error = do {
        local $SIG{__WARN__} = sub { };
        $ok = eval { GetOptionsFromArray(\@words, 'V|verbose' => \$verbose) } ? 1 : 0;
        _check_words($command, \@words, $rule, $ok, $nodes || [], \@notes);
    };
    Getopt::Long::Configure($saved);
    return defined $error ? ($error) : (undef, $verbose, \@notes);
}

# The word rules after -V has been removed; returns the message or undef (notes to @$notes).
sub _check_words {
    my ($command, $words, $rule, $ok, $nodes, $notes) = @_;
    return 'Error parsing arguments.' unless $ok;
    if (@$words >= 2 && $ONE_WORD_ONLY{$command}) {
        return "Only one option is supported at the same time for $command";
    }
    if (!@$words && $WORD_REQUIRED{$command}) {
        return "No option specified for $command";
    }
    if ($rule->{check}) {
        my ($error, @found) = $rule->{check}->($words, $nodes);
        push @$notes, @found unless defined $error;
        return $error;
    }
    # NOTE: xCAT takes the subcommand before removing the flags (-p), so `rsetboot n -p net`
    # is rejected as `Unsupported command: rsetboot -p`; we keep that for compatibility.
    my $sub = $words->[0];
    if ($rule->{flags}) {
        my %ignored;
        eval { GetOptionsFromArray($words, map { $_ => \$ignored{$_} } @{ $rule->{flags} }) }
          or return 'Error parsing arguments.';
        if (@$words > 1) {
            return "Only one option is supported at the same time for $command";
        }
        $sub = $rule->{default} unless @$words;
    }
    $sub = $rule->{default} unless defined $sub;
    my %valid = map { $_ => 1 } @{ $rule->{valid} };
    return "Unsupported command: $command " . ($sub // '') unless defined $sub && $valid{$sub};
    return undef;
}

=head3 split_by_service_node($request, \@nodes)

Splits the request by service node with
C<xCAT::ServiceNodeUtils-E<gt>get_ServiceNode(\@nodes, "xcat", "MN")>: one shallow copy per
service node with C<node> set to its nodes, C<_xcatdest> to the service node and
C<_xcatpreprocessed> to C<[1]>. Returns a reference to the list of copies. When the service
nodes cannot be determined, the request is kept whole and runs where it is.

=cut

sub split_by_service_node {
    my ($request, $nodes) = @_;
    return [] unless @$nodes;
    my $sn = xCAT::ServiceNodeUtils->get_ServiceNode($nodes, 'xcat', 'MN');
    if (ref $sn ne 'HASH' || !%$sn) {
        my %copy = %$request;
        $copy{node}              = [@$nodes];
        $copy{_xcatpreprocessed} = [1];
        return [ \%copy ];
    }
    my @parts;
    for my $key (sort keys %$sn) {
        my %copy = %$request;
        $copy{node}              = [ @{ $sn->{$key} } ];
        $copy{_xcatdest}         = $key;
        $copy{_xcatpreprocessed} = [1];
        push @parts, \%copy;
    }
    return \@parts;
}

#-------------------------------------------------------------------------------

=head2 Processing (runs on the management node or a service node)

=head3 process($request, $callback, $spec)

The whole of a plugin's process_request, in xCAT's order (docs/xcat-facts.md#broker-process): the agent file
must exist (else every node gets C<AGENT_MISSING>, and no table is read), then node information,
then one agent run for the nodes that have complete information. C<$spec> holds C<module>
(C<openbmc> or C<redfish>, also the C<passwd> key) and C<label> (C<OpenBMC> or C<Redfish>, used in
messages).

Returns 0 when everything succeeded, 1 otherwise.

=cut

sub process {
    my ($request, $callback, $spec) = @_;
    my @nodes = $request->{node} ? @{ $request->{node} } : ();
    my @bad = check_settings($request);
    if (@bad) {
        xCAT::SvrUtils::sendmsg([ 1, $_ ], $callback) for @bad;
        return 1;
    }
    my $settings = agent_settings($request);
    my $batch = xCAT::PyAgent::Batch->new($callback);
    unless (-e $settings->{agent}) {
        xCAT::MsgUtils->message('S', "xCAT Python agent $settings->{agent} not found");
        if (@nodes) {
            $batch->sendmsg([ 1, AGENT_MISSING ], $_) for @nodes;
        } else {
            $batch->sendmsg([ 1, AGENT_MISSING ]);
        }
        $batch->finish;
        return 1;
    }
    my ($nodeinfo, $failed) = node_info(\@nodes, $spec->{module}, $batch);
    $batch->response({ errorcode => [1] }) if $failed;
    my $rc = %$nodeinfo ? run_agent($request, $batch, $nodeinfo, $spec, $settings) : 0;
    $batch->finish;
    return ($rc || $failed) ? 1 : 0;
}

=head3 check_settings($request)

Checks every C<XCAT_BMC_*> variable of the request's environment and the broker's own
C<XCAT_AGENT_*> settings by name, before anything starts (docs/DESIGN.md, "Settings").
Returns one message per bad value, naming the variable and its rule
(C<XCAT_BMC_READ_TIMEOUT=abc: must be a number greater than 0>), or nothing. An empty value
counts as unset; an C<XCAT_BMC_*> name that is not a setting is refused too (a misspelt setting
would otherwise be ignored without a word).

=cut

sub check_settings {
    my ($request) = @_;
    my @bad;
    my %known;
    for my $setting (@ENV_SETTINGS) {
        my (undef, $var, $rule) = @$setting;
        $known{$var} = 1;
        my $value = request_env($request, $var);
        push @bad, _rule_broken($var, $value, $rule) if _filled($value);
    }
    for my $var (grep { /^XCAT_BMC_/ && !$known{$_} } request_env_names($request)) {
        push @bad, "$var=" . _visible(request_env($request, $var) // '') . ': not a setting of this command '
          . '(known: ' . join(', ', sort keys %known) . ')';
    }
    for my $setting (@BROKER_SETTINGS) {
        my ($var, $rule) = @$setting;
        push @bad, _rule_broken($var, $ENV{$var}, $rule) if _filled($ENV{$var});
    }
    return @bad;
}

# The message for a value that breaks its rule, or nothing.
sub _rule_broken {
    my ($var, $value, $rule) = @_;
    my ($words, $check) = @{ $RULES{$rule} };
    return () if $check->($value);
    return "$var=" . _visible($value) . ": $words";
}

# A value as it can be shown on one line: control characters as \xNN, at most 64 characters.
sub _visible {
    my ($value) = @_;
    my $text = length($value) > 64 ? substr($value, 0, 64) . '...' : $value;
    $text =~ s/([\x00-\x1f\x7f])/sprintf('\\x%02x', ord $1)/ge;
    return $text;
}

sub _finite { return $_[0] < 9**9**9 }

=head3 node_info(\@nodes, $module, $out)

Gathers C<{bmc, bmcip, username, password}> per node from the C<openbmc> table (group
inheritance as xCAT::Table provides it), with the C<passwd> row C<key=$module> as fallback for
username and password (docs/xcat-facts.md#node-info). C<bmc> may be C<host:port>: the host part is
resolved and C<:port> kept on C<bmcip>.

Each node that lacks something gets one line through C<xCAT::SvrUtils::sendmsg> with the exact
xCAT message and is left out; C<$out> is the request's C<xCAT::PyAgent::Batch>, or a callback
called once per such line. Returns C<(\%nodeinfo, $failed)>.

=cut

sub node_info {
    my ($nodes, $module, $out) = @_;
    my $send = ref $out eq 'CODE' ? sub { xCAT::SvrUtils::sendmsg($_[0], $out, $_[1]) } : sub { $out->sendmsg(@_) };
    my %info;
    my $failed = 0;

    my $fallback = {};
    my $passwd = xCAT::Table->new('passwd');
    if ($passwd) {
        my ($row) = $passwd->getAttribs({ key => $module }, qw(username password));
        $fallback = $row if ref $row eq 'HASH';
    }
    my $table = xCAT::Table->new('openbmc');
    my $rows = $table ? $table->getNodesAttribs($nodes, [qw(bmc username password)]) : {};
    $rows = {} unless ref $rows eq 'HASH';

    for my $node (@$nodes) {
        my $row = ref $rows->{$node} eq 'ARRAY' ? $rows->{$node}->[0] : undef;
        my ($error, $bmcip, $user, $password);
        if (ref $row ne 'HASH') {
            $error = 'Error: Unable to get information from openbmc table';
        } elsif (!_filled($row->{bmc})) {
            $error = 'Error: Unable to get attribute bmc';
        } elsif (!defined($bmcip = resolve_bmc($row->{bmc}))) {
            $error = "Error: Unable to resolve ip address for bmc: $row->{bmc}";
        } elsif (!_filled($user = _filled($row->{username}) ? $row->{username} : $fallback->{username})) {
            $error = 'Error: Unable to get attribute username';
        } elsif (!_filled($password = _filled($row->{password}) ? $row->{password} : $fallback->{password})) {
            $error = 'Error: Unable to get attribute password';
        }
        if (defined $error) {
            $send->($error, $node);
            $failed = 1;
            next;
        }
        $info{$node} = { bmc => $row->{bmc}, bmcip => $bmcip, username => $user, password => $password };
    }
    return (\%info, $failed);
}

sub _filled { return defined $_[0] && $_[0] ne '' }

=head3 resolve_bmc($bmc)

Resolves the BMC name with C<xCAT::NetworkUtils-E<gt>getNodeIPaddress>. C<host:port> and
C<[v6addr]:port> keep their port (C<ip:port>, C<[ip]:port>); a bare IPv6 address is passed as it is.
Returns the address or undef.

=cut

sub resolve_bmc {
    my ($bmc) = @_;
    my ($host, $port) = ($bmc, undef);
    if ($bmc =~ /^\[([^\]]+)\]:(\d+)$/ || $bmc =~ /^([^:]+):(\d+)$/) {
        ($host, $port) = ($1, $2);
    }
    my $ip = xCAT::NetworkUtils->getNodeIPaddress($host);
    return undef unless _filled($ip);
    return $ip unless defined $port;
    return $ip =~ /:/ ? "[$ip]:$port" : "$ip:$port";
}

=head3 request_env($request, $name)

Returns the value of the client environment variable C<$name> forwarded in
C<$request-E<gt>{environment}>, whichever of xCAT's shapes it comes in:
C<environment[0]{NAME}[0]>, C<environment[0]{NAME}> or C<environment{NAME}>. Undef if absent.

=cut

sub request_env {
    my ($request, $name) = @_;
    my $env = $request->{environment};
    $env = $env->[0] if ref $env eq 'ARRAY';
    return undef unless ref $env eq 'HASH';
    my $value = $env->{$name};
    $value = $value->[0] if ref $value eq 'ARRAY';
    return ref $value ? undef : $value;
}

=head3 request_env_names($request)

The names of the client environment variables forwarded in the request.

=cut

sub request_env_names {
    my ($request) = @_;
    my $env = $request->{environment};
    $env = $env->[0] if ref $env eq 'ARRAY';
    return ref $env eq 'HASH' ? sort keys %$env : ();
}

=head3 build_envs($request)

Builds the request's C<envs>: C<debugmode> from site C<xcatdebugmode>
(C<$::XCATSITEVALS{xcatdebugmode}> as xcatd loads it, else the client's C<XCAT_DEBUGMODE>, else 0),
plus the optional settings of docs/DESIGN.md from the client's C<XCAT_BMC_*> variables, as JSON
numbers and booleans. C<process> has refused bad values already (C<check_settings>); a value of
the wrong form that reaches here anyway is passed as a string, for the agent to refuse.

=cut

sub build_envs {
    my ($request) = @_;
    no warnings 'once';
    my $debug = $::XCATSITEVALS{xcatdebugmode};
    $debug = request_env($request, 'XCAT_DEBUGMODE') unless _filled($debug);
    my %envs = (debugmode => _filled($debug) ? _json_scalar($debug, 'number') : 0);
    for my $setting (@ENV_SETTINGS) {
        my ($key, $var, $type) = @$setting;
        my $value = request_env($request, $var);
        next unless _filled($value);
        $envs{$key} = _json_scalar($value, $type);
    }
    return \%envs;
}

# A string from the environment as the JSON type wanted, or the string itself if it has
# another form.
sub _json_scalar {
    my ($value, $type) = @_;
    $type = $JSON_TYPE{$type} // $type;
    if ($type eq 'int') {
        return $value =~ /^\s*[+-]?\d+\s*$/ ? int($value) : "$value";
    }
    if ($type eq 'number') {
        return looks_like_number($value) && $value !~ /^\s*[+-]?(?:inf|nan)/i ? 0 + $value : "$value";
    }
    if ($type eq 'bool') {
        my $word = $BOOL_WORDS{ lc $value };
        return defined $word ? ($word ? JSON::PP::true : JSON::PP::false) : "$value";
    }
    return "$value";
}

=head3 agent_path()

The agent file: C<XCAT_AGENT> from the broker's environment, else
C</opt/xcat/lib/python/agent/agent.py>.

=cut

sub agent_path { return _filled($ENV{XCAT_AGENT}) ? $ENV{XCAT_AGENT} : DEFAULT_AGENT }

=head3 agent_settings($request)

Reads the broker's own environment (xcatd's, or the runner's) for the agent: C<XCAT_AGENT>,
C<XCAT_AGENT_PYTHON>, C<XCAT_AGENT_LOG>, C<XCAT_AGENT_RUNDIR>, and the silence bound
C<timeout> from C<agent_timeout($request)>. Returns a hash reference.

=cut

sub agent_settings {
    my ($request) = @_;
    return {
        agent   => agent_path(),
        python  => _filled($ENV{XCAT_AGENT_PYTHON}) ? $ENV{XCAT_AGENT_PYTHON} : undef,
        log     => _filled($ENV{XCAT_AGENT_LOG})    ? $ENV{XCAT_AGENT_LOG}    : DEFAULT_LOG,
        rundir  => _filled($ENV{XCAT_AGENT_RUNDIR}) ? $ENV{XCAT_AGENT_RUNDIR} : DEFAULT_RUNDIR,
        timeout => agent_timeout($request || {}),
        explicit_timeout => (_filled($ENV{XCAT_AGENT_TIMEOUT}) ? 1 : 0),
        idle => (_filled($ENV{XCAT_AGENT_IDLE}) && _number($ENV{XCAT_AGENT_IDLE}) ? 0 + $ENV{XCAT_AGENT_IDLE}
            : DEFAULT_IDLE),
    };
}

=head3 agent_timeout($request)

The longest silence, in seconds, the broker accepts from the agent before it gives up (every
node still without a line gets C<No response from the xCAT Python agent within N s>). It bounds
each wait for the agent to accept or send more bytes, so a hung agent can never hang the command.

C<XCAT_AGENT_TIMEOUT> in the broker's environment, a number E<gt>= 0, is taken as it is; C<0>
means no bound. Otherwise the bound comes from the agent's own C<alive> frames: the request asks
for one every C<ALIVE_EVERY> (5) seconds, and the agent's frames say the interval it keeps; six
intervals without any frame (30 s) mean the agent is hung. A working agent is never silent that
long whatever its settings (a slow BMC delays a node's line, not the agent's frames), so the
bound depends on no copy of the agent's defaults or of how many requests a command makes.

=cut

sub agent_timeout {
    my ($request) = @_;
    my $explicit = $ENV{XCAT_AGENT_TIMEOUT};
    if (_filled($explicit) && _number($explicit) && $explicit >= 0) {
        return 0 + $explicit;
    }
    return ALIVE_MISSES * ALIVE_EVERY;
}

# True for a finite number (not a JSON boolean, not a string the agent would refuse).
sub _number {
    my ($v) = @_;
    return defined $v && !ref $v && looks_like_number($v) && $v !~ /inf|nan/i;
}

# True for a finite number above 0.
sub _positive { return _number($_[0]) && $_[0] > 0 }

=head3 run_agent($request, $out, \%nodeinfo, $spec, \%settings)

Runs one agent for the nodes of C<%nodeinfo>: starts it, sends the request, relays every reply
frame to C<$out> (the request's C<xCAT::PyAgent::Batch>, or xcatd's callback: then a batch of
its own, flushed before returning) and reaps it. Every node that got no final line (an info line
C<node: ...> or a node error) gets C<node: Error: E<lt>reasonE<gt>> when the agent could not
start, died, exited non-zero, sent garbage or stayed silent past C<agent_timeout>.
C<%settings> defaults to C<agent_settings($request)>.

Whatever happens, the agent is reaped (TERM then KILL, bounded) and its socket, lock file and
private directory are removed. SIGINT, SIGTERM or SIGHUP during the run stop it: the cleanup
runs to its end whatever further signals arrive (they are only recorded), then the first signal
is sent again to this process, now under the handlers of whoever runs the plugin (xcatd, the
runner), which decide how the process ends; this module never calls C<exit>.

Returns 0 when the agent ran cleanly and every node got a line, 1 otherwise.

=cut

sub run_agent {
    my ($request, $out, $nodeinfo, $spec, $settings) = @_;
    if (ref $out eq 'CODE') {
        my $batch = xCAT::PyAgent::Batch->new($out);
        my $rc = run_agent($request, $batch, $nodeinfo, $spec, $settings);
        $batch->finish;
        return $rc;
    }
    my $batch = $out;
    $settings ||= agent_settings($request);
    my @nodes = grep { exists $nodeinfo->{$_} } @{ $request->{node} || [] };
    my %seen  = map { $_ => 1 } @nodes;
    push @nodes, sort grep { !$seen{$_} } keys %$nodeinfo;

    my $state = { pending => { map { $_ => 1 } @nodes }, global_errors => 0 };
    my $run = xCAT::PyAgent::Run->new($settings);

    my $problem = _guarded($run, $request, $batch, $nodeinfo, $spec, $state);
    if (defined(my $signal = $run->{signal})) {
        # The handlers of whoever runs us (xcatd, the runner) are back: hand them the signal.
        kill($signal, $$);
        return 1;
    }
    if (!defined $problem && defined $run->{status} && $run->{status} != 0) {
        $problem = "Agent exited unexpectedly.  See $settings->{log} for details.";
    }

    my @missing = grep { $state->{pending}->{$_} } @nodes;
    if (defined $problem) {
        if (@missing) {
            $batch->sendmsg([ 1, $problem ], $_) for @missing;
        } else {
            $batch->sendmsg([ 1, $problem ]);
        }
        return 1;
    }
    if (@missing && !$state->{global_errors}) {
        my $text = "The xCAT Python agent sent no result for this node.  See $settings->{log} for details.";
        $batch->sendmsg([ 1, $text ], $_) for @missing;
    }
    return (@missing || $state->{global_errors}) ? 1 : 0;
}

# _drive under the broker's own signal handlers, then cleanup, which no signal interrupts.
# Returns the problem message or undef; a signal is recorded in $run->{signal}.
sub _guarded {
    my ($run, $request, $batch, $nodeinfo, $spec, $state) = @_;
    local $SIG{CHLD} = 'DEFAULT';
    local $SIG{PIPE} = 'IGNORE';
    my %host = map { $_ => $SIG{$_} } STOP_SIGNALS;
    $SIG{$_} = $run->signal_handler($_) for STOP_SIGNALS;

    my $problem = eval { _drive($run, $request, $batch, $nodeinfo, $spec, $state) };
    my $died = $@;
    $run->hold_signals;
    eval { $batch->flush };
    $run->cleanup;
    if ($died && !defined $run->{signal}) {
        chomp $died;
        $problem = "Internal error in the xCAT Python agent broker: $died";
    }
    _restore_handlers(\%host);
    return $problem;
}

# Gives the stop signals back to the host's handlers without losing one on the way: they are
# blocked while %SIG changes (one Perl has caught but not yet handled is handled by ours, on the
# statement boundary, and recorded), then unblocked, so one that came meanwhile reaches the host's.
sub _restore_handlers {
    my ($host) = @_;
    my $mask = POSIX::SigSet->new(map { POSIX->can("SIG$_")->() } STOP_SIGNALS);
    my $old = POSIX::SigSet->new;
    POSIX::sigprocmask(POSIX::SIG_BLOCK(), $mask, $old);
    # A loop step is where Perl runs the handlers of signals it has caught: ours record them.
    for my $step (1 .. 2) { }
    for my $name (STOP_SIGNALS) {
        if (defined $host->{$name}) { $SIG{$name} = $host->{$name} } else { delete $SIG{$name} }
    }
    POSIX::sigprocmask(POSIX::SIG_SETMASK(), $old);
    return;
}

# Start, connect, send, relay, reap. Returns the problem message or undef.
sub _drive {
    my ($run, $request, $batch, $nodeinfo, $spec, $state) = @_;
    my $settings = $run->{settings};

    my %req = (
        module   => $spec->{module},
        command  => $request->{command}->[0],
        args     => $request->{arg} ? [ @{ $request->{arg} } ] : undef,
        cwd      => $request->{cwd} ? [ @{ $request->{cwd} } ] : [ _cwd() ],
        nodes    => [ @{ $request->{node} || [] } ],
        nodeinfo => $nodeinfo,
        envs     => build_envs($request),
        alive    => ALIVE_EVERY,
    );
    my $json = JSON::PP->new->utf8;
    my ($sock, $reader) = $settings->{idle} > 0 ? _warm($run, \%req, $json) : ();
    unless ($sock) {
        my $problem = $run->start;
        return $problem if defined $problem;

        ($problem, $sock) = $run->connect_agent($spec->{label} || 'OpenBMC');
        return $problem if defined $problem;

        my ($ok, $why) = write_all($sock, encode_frame(\%req), $settings->{timeout});
        unless ($ok) {
            $run->stop;
            return "Failed to send message to the agent ($why)";
        }
        $reader = frame_reader($sock);
    }

    my $timeout = $settings->{timeout};
    my $heard = Time::HiRes::time();
    while (1) {
        # Lines and status updates go to xcatd in batches (xCAT::PyAgent::Batch); the wait for
        # the next frame ends in time for the next hand-over, and the silence bound counts from
        # the last frame.
        $run->stop_if_signalled;
        $batch->flush if $batch->due;
        my $wait = _wait_for($timeout ? $heard + $timeout - Time::HiRes::time() : undef, $batch->time_left);
        my ($status, $data) = read_frame($reader, $wait, MAX_FRAME);
        if ($status eq 'timeout' && !($timeout && Time::HiRes::time() >= $heard + $timeout)) {
            next;
        }
        if ($status eq 'frame') {
            $heard = Time::HiRes::time();
            my $msg = decode_reply($json, $data);
            if (ref $msg ne 'HASH') {
                $run->stop;
                return 'Received a malformed reply from the xCAT Python agent (not a JSON object).'
                  . "  See $settings->{log} for details.";
            }
            relay_frame($msg, $batch, $state);
            # Without XCAT_AGENT_TIMEOUT, the bound follows the interval the agent reports.
            if ($state->{alive_every} && !$settings->{explicit_timeout}) {
                $timeout = ALIVE_MISSES * $state->{alive_every};
            }
            next;
        }
        last if $status eq 'eof';
        if ($status eq 'timeout') {
            $run->stop;
            return "No response from the xCAT Python agent within $timeout s";
        }
        if ($status eq 'truncated') {
            $run->reap(REAP_WAIT) or $run->stop;
            return undef if defined $run->{status} && $run->{status} != 0;
            return "The xCAT Python agent closed the connection in the middle of a reply.  See $settings->{log} for details.";
        }
        $run->stop;
        return "Received a malformed reply from the xCAT Python agent ($data).  See $settings->{log} for details."
          if $status eq 'badlength';
        return "Lost the connection to the xCAT Python agent ($data)";
    }
    $run->close_socket;
    unless ($run->reap(REAP_WAIT)) {
        $run->stop;
        return "The xCAT Python agent did not exit within " . REAP_WAIT . " s after its last reply";
    }
    return undef;
}

# The request through the warm agent (docs/DESIGN.md, "Warm agent"): connect to it or start it,
# send the request with our stamp of the agent's files, and wait at most WARM_ANSWER_WAIT for its
# first frame. "accepted": returns ($sock, $reader), the run then goes on as with a one-shot agent.
# "outdated": the old agent drains and exits, and the request goes to a new one (once). Anything
# else (no agent starts, no answer in time, a dead agent): our connection is closed, the agent log
# says why, and returns nothing, so the caller runs a one-shot agent.
sub _warm {
    my ($run, $req, $json) = @_;
    my $settings = $run->{settings};
    my $stamp = xCAT::PyAgent::Run::agent_stamp($settings->{agent});
    my $why;
    for my $attempt (1 .. 2) {
        (my $problem, my $sock) = $run->start_warm;
        if (defined $problem) {
            $why = $problem;
            last;
        }
        my $wait = xCAT::PyAgent::Run::WARM_ANSWER_WAIT;
        my ($ok, $error) = write_all($sock, encode_frame({ %$req, stamp => $stamp }), $wait);
        my $reader = frame_reader($sock);
        my ($status, $data) = $ok ? read_frame($reader, $wait, MAX_FRAME) : ('error', $error);
        my $msg = $status eq 'frame' ? eval { $json->decode($data) } : undef;
        my $type = ref $msg eq 'HASH' ? ($msg->{type} // '') : '';
        if ($type eq 'accepted') {
            $run->use_warm($sock);
            return ($sock, $reader);
        }
        close $sock;
        if ($type eq 'outdated') {
            _log_note($settings, "the warm agent on $run->{warm_sockpath} runs other files; it drains, starting a new one");
            $why = 'the outdated warm agent was still there';
            # the old agent removed its socket before answering: the next attempt starts a new one
            next;
        }
        $why = $status eq 'timeout' ? "no answer from the warm agent on $run->{warm_sockpath} within $wait s"
          : "the warm agent on $run->{warm_sockpath} answered " . ($status eq 'frame' ? "a '$type' frame" : $status)
          . (defined $data && $status ne 'frame' ? " ($data)" : '');
        last;
    }
    $run->stop_if_signalled;
    _log_note($settings, "$why; running a one-shot agent");
    return;
}

# One line of the broker's own in the agent log (the admin's place to look, docs/DESIGN.md).
sub _log_note {
    my ($settings, $text) = @_;
    if (open(my $log, '>>', $settings->{log})) {
        my @t = localtime;
        printf $log "%04d-%02d-%02d %02d:%02d:%02d xcat broker[%d]: %s\n", $t[5] + 1900, $t[4] + 1, $t[3], $t[2],
          $t[1], $t[0], $$, $text;
        close $log;
    }
    return;
}

# The wait for read_frame: the smaller of the defined bounds, never 0 (which means none there).
sub _wait_for {
    my @bounds = grep { defined } @_;
    return 0 unless @bounds;
    my $wait = (sort { $a <=> $b } @bounds)[0];
    return $wait > 0.001 ? $wait : 0.001;
}

sub _cwd {
    return Cwd::getcwd() // '/';
}

=head3 decode_reply($json, $bytes)

Decodes one reply frame body. An info line, the bulk of every reply (rinv prints hundreds of
lines per node), is taken apart with one regular expression when it has exactly the shape the
agent writes (C<{"type":"message","msg":{"type":"info","data":"..."}}>, compact, optionally with
C<,"node":"..."> after the data): JSON::PP decodes
strings one character at a time, about 7 ms for a 22 kB reply, which made JSON decoding most of
the broker's CPU. Anything else, or a text with a C<\u> escape, goes through C<$json> (a
JSON::PP object). Returns the decoded value, or undef when the body is not JSON.

=cut

# JSON's one-character escapes. Read-only.
my %JSON_ESCAPES = ('"' => '"', '\\' => '\\', '/' => '/', b => "\b", f => "\f", n => "\n", r => "\r", t => "\t");

sub decode_reply {
    my ($json, $bytes) = @_;
    if ($bytes =~ /\A\{"type":"message","msg":\{"type":"info","data":"([^"\\]*(?:\\["\\\/bfnrt][^"\\]*)*)"(?:,"node":"([^"\\]*)")?\}\}\z/) {
        my ($text, $node) = ($1, $2);
        if (utf8::decode($text) && (!defined $node || utf8::decode($node))) {
            $text =~ s/\\(.)/$JSON_ESCAPES{$1}/g if index($text, '\\') >= 0;
            my %msg = (type => 'info', data => $text);
            $msg{node} = $node if defined $node;
            return { type => 'message', msg => \%msg };
        }
    }
    my $value = eval { $json->decode($bytes) };
    return $value;
}

=head3 relay_frame($msg, $batch, $state)

Hands one decoded reply frame to the request's C<xCAT::PyAgent::Batch> in xCAT's shapes and
records which nodes got their final line in C<< $state->{pending} >> (an info line C<node: ...>
or an error with a node). A node line becomes the node entry C<node: text>; a node error goes
through C<sendmsg>; node status updates (db frames) are queued in the batch. O(1) per frame
apart from the text itself.

=cut

sub relay_frame {
    my ($frame, $batch, $state) = @_;
    my $type = $frame->{type} // '';
    if ($type eq 'alive') {
        $state->{alive_every} = $frame->{every} if _positive($frame->{every});
        return;
    }
    if ($type eq 'db') {
        my $attr = $frame->{attribute};
        return unless ref $attr eq 'HASH';
        if (($attr->{name} // '') eq 'status' && ($attr->{method} // '') eq 'set'
            && ($attr->{type} // '') eq 'node' && _filled($attr->{node}) && defined $attr->{value}) {
            $batch->status($attr->{node}, $attr->{value});
        }
        return;
    }
    return unless $type eq 'message' && ref $frame->{msg} eq 'HASH';
    my $msg  = $frame->{msg};
    my $kind = $msg->{type} // '';
    my $text = $msg->{data} // '';
    if ($kind eq 'info') {
        # The agent marks a node's final line with the node; a debug trace or a progress note
        # (node: ...) has none.
        my $final = _filled($msg->{node}) ? $msg->{node} : undef;
        delete $state->{pending}->{$final} if defined $final;
        if ($text =~ /^([^:\s]+): (.*)\z/s && (!defined $final || $1 eq $final)) {
            $batch->node_line($1, $2);
        } else {
            $batch->message('I', { data => [$text] });
        }
    } elsif ($kind eq 'warning') {
        $batch->message('W', { data => [$text] });
    } elsif ($kind eq 'error') {
        if (_filled($msg->{node})) {
            $batch->sendmsg([ 1, $text ], $msg->{node});
            delete $state->{pending}->{ $msg->{node} };
        } else {
            $batch->sendmsg([ 1, $text ]);
            $state->{global_errors}++;
        }
    } elsif ($kind eq 'syslog') {
        xCAT::MsgUtils->message('S', $text);
    } elsif ($kind eq 'info_with_host') {
        $batch->message('I', { data => [$text], host => [1] });
    }
    return;
}

1;
