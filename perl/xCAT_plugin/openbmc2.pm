package xCAT_plugin::openbmc2;

=head1 NAME

xCAT_plugin::openbmc2 - xcatd plugin: rpower and rsetboot for OpenBMC nodes through the Python agent

=head1 DESCRIPTION

Claims the commands of the shared table C<xCAT::PyAgent::Commands> for nodes with
C<nodehm.mgt=openbmc>. C<preprocess_request> validates their arguments from that table with
xCAT's exact messages and splits the request by service node; C<process_request> gathers BMC
addresses and credentials and runs one agent process for the request (docs/xcat-facts.md#argument-checks
and #broker-process). The shared work lives in C<xCAT::PyAgent>.

Backend choice (docs/xcat-facts.md#backend-policy): xCAT's legacy all-Perl C<openbmc.pm> claims the same
commands, and exactly one of the two proceeds. C<run_cmd_in_perl> is our copy of xCAT's policy
C<xCAT::OPENBMC-E<gt>run_cmd_in_perl>; C<preprocess_request> returns nothing, silently, unless it
selects Python (also when C<XCAT_OPENBMC_DEVEL> is invalid: C<openbmc.pm> reports that).
C<site.openbmcperl> is read with C<xCAT::Table>.

=cut

use strict;
use warnings;

use xCAT::PyAgent;
use xCAT::PyAgent::Commands;
use xCAT::Table;

# Commands that run in Python only with XCAT_OPENBMC_DEVEL=YES (docs/xcat-facts.md#backend-policy). Read-only.
my %DEVEL_ONLY = map { $_ => 1 } qw(rflash getopenbmccons);

# Accepted values of XCAT_OPENBMC_DEVEL, upper-cased. Read-only.
my %DEVEL_VALUES = map { $_ => 1 } qw(YES NO);

=head3 handled_commands()

Returns the commands this plugin claims and the table rule that routes a node to it.

=cut

sub handled_commands {
    return xCAT::PyAgent::Commands::handled('openbmc');
}

=head3 run_cmd_in_perl($command, $request)

xCAT's backend policy (docs/xcat-facts.md#backend-policy), in its order. Returns C<(rc, message)>: 1 = Perl
(the agent file is missing; C<site.openbmcperl> names the command, as a regex match, or is
C<ALL> in any case; or the command is C<rflash>/C<getopenbmccons> without
C<XCAT_OPENBMC_DEVEL=YES>), -1 = C<XCAT_OPENBMC_DEVEL> (from C<request.environment>, any of
xCAT's three shapes) is neither C<YES> nor C<NO> in any case, 0 = Python.

=cut

sub run_cmd_in_perl {
    my ($command, $request) = @_;
    return (1, '') unless -e xCAT::PyAgent::agent_path();

    my $devel = xCAT::PyAgent::request_env($request, 'XCAT_OPENBMC_DEVEL');
    if (defined $devel && $devel ne '' && !$DEVEL_VALUES{ uc $devel }) {
        return (-1, "Invalid value $devel for XCAT_OPENBMC_DEVEL, only 'YES' and 'NO' are supported.");
    }

    my $site = xCAT::Table->new('site');
    my ($entry) = $site ? $site->getAttribs({ key => 'openbmcperl' }, 'value') : ();
    my $perl = ref $entry eq 'HASH' ? $entry->{value} : undef;
    if (defined $perl && $perl ne '' && ($perl =~ /\Q$command\E/ || uc $perl eq 'ALL')) {
        return (1, '');
    }

    if ($DEVEL_ONLY{$command} && uc($devel // '') ne 'YES') {
        return (1, '');
    }
    return (0, '');
}

=head3 preprocess_request($request, $callback, $subreq)

Nothing, silently, unless C<run_cmd_in_perl> selects Python. Then help and version
(C<rpower.openbmc> usage, falling back to the plain command), PDU passthrough, argument
validation, the C<-V> note, and the split by service node. Returns the list of request parts for
xcatd to dispatch, or nothing.

=cut

sub preprocess_request {
    my ($request, $callback, $subreq) = @_;
    my $command = $request->{command} ? $request->{command}->[0] : '';
    my ($perl) = run_cmd_in_perl($command // '', $request);
    return if $perl;
    return xCAT::PyAgent::preprocess($request, $callback,
        { usage_suffix => '.openbmc', commands => xCAT::PyAgent::Commands::rules('openbmc') });
}

=head3 process_request($request, $callback, $subreq)

Node information from the C<openbmc> table (fallback C<passwd> key C<openbmc>), then one agent
run with module C<openbmc>, with the arguments the command's C<rewrite> makes (reventlog,
docs/COMMANDS.md "Broker"). Returns 0 on success, 1 if any node failed.

=cut

sub process_request {
    my ($request, $callback, $subreq) = @_;
    my $command = $request->{command} ? $request->{command}->[0] : '';
    my $rule = xCAT::PyAgent::Commands::rules('openbmc')->{ $command // '' };
    if ($rule && $rule->{rewrite}) {
        $request = { %$request, arg => $rule->{rewrite}->($request->{arg} || []) };
    }
    return xCAT::PyAgent::process($request, $callback, { module => 'openbmc', label => 'OpenBMC' });
}

1;
