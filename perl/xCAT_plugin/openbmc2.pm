package xCAT_plugin::openbmc2;

=head1 NAME

xCAT_plugin::openbmc2 - xcatd plugin: rpower and rsetboot for OpenBMC nodes through the Python agent

=head1 DESCRIPTION

Claims C<rpower> and C<rsetboot> for nodes with C<nodehm.mgt=openbmc>. C<preprocess_request>
validates the arguments from the table C<%COMMANDS> with xCAT's exact messages and splits the
request by service node; C<process_request> gathers BMC addresses and credentials and runs one
agent process for the request (XCAT_REFERENCE.md sections 2 and 3). The shared work lives in
C<xCAT::PyAgent>.

Backend choice: xCAT decides per command between the legacy all-Perl C<openbmc.pm> and this broker
(C<xCAT::OPENBMC-E<gt>run_cmd_in_perl>, XCAT_REFERENCE.md 1.2). We ship no Perl implementation,
so running in Python is our only path and this plugin always proceeds. The C<site.openbmcperl>
check is not made: it needs C<xCAT::TableUtils-E<gt>get_site_attribute>, which is outside the core
APIs this plugin limits itself to, and it could only select a backend we do not have. Likewise
C<XCAT_OPENBMC_DEVEL> only matters for commands we do not handle.

=cut

use strict;
use warnings;

use xCAT::PyAgent;

# Argument rules per command (XCAT_REFERENCE.md 2.1). Read-only.
#   valid:       the accepted subcommands
#   passthrough: a first argument left to another plugin (the PDU plugin)
#   flags:       options removed after the subcommand is taken (rsetboot -p)
#   default:     subcommand when no word is left
my %COMMANDS = (
    rpower => {
        valid       => [qw(on off softoff reset boot bmcreboot bmcstate status stat state)],
        passthrough => qr/^pdu(?:on|off|stat|reset)$/,
    },
    rsetboot => {
        valid   => [qw(net hd cd def default stat)],
        flags   => ['p'],
        default => 'stat',
    },
);

=head3 handled_commands()

Returns the commands this plugin claims and the table rule that routes a node to it.

=cut

sub handled_commands {
    return {
        rpower   => 'nodehm:mgt=openbmc',
        rsetboot => 'nodehm:mgt=openbmc',
    };
}

=head3 preprocess_request($request, $callback, $subreq)

Help and version (C<rpower.openbmc> usage, falling back to the plain command), PDU passthrough,
argument validation, the C<-V> note, and the split by service node. Returns the list of request
parts for xcatd to dispatch, or nothing.

=cut

sub preprocess_request {
    my ($request, $callback, $subreq) = @_;
    return xCAT::PyAgent::preprocess($request, $callback,
        { usage_suffix => '.openbmc', commands => \%COMMANDS });
}

=head3 process_request($request, $callback, $subreq)

Node information from the C<openbmc> table (fallback C<passwd> key C<openbmc>), then one agent
run with module C<openbmc>. Returns 0 on success, 1 if any node failed.

=cut

sub process_request {
    my ($request, $callback, $subreq) = @_;
    return xCAT::PyAgent::process($request, $callback, { module => 'openbmc', label => 'OpenBMC' });
}

1;
