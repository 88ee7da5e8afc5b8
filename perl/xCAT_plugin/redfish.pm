package xCAT_plugin::redfish;

=head1 NAME

xCAT_plugin::redfish - xcatd plugin: rpower and rsetboot for Redfish nodes through the Python agent

=head1 DESCRIPTION

Claims C<rpower> and C<rsetboot> for nodes with C<nodehm.mgt=redfish> and runs them through the
same broker as C<openbmc2> (C<xCAT::PyAgent>) with module C<redfish>: BMC address from the
C<openbmc> table, credentials falling back to the C<passwd> row with key C<redfish>
(docs/xcat-facts.md#redfish-broker).

Differences from xCAT's Redfish broker, on purpose: C<rpower softoff> is accepted (our agent
implements it with GracefulShutdown); C<rsetboot> accepts the devices our agent implements
(C<net hd cd def default stat>, C<-p>), not C<setup> or C<floppy>; every request gets its own
socket and lock in a private directory, so two commands never collide. As xCAT's C<redfish.pm>
(docs/xcat-facts.md#redfish-broker) it makes no backend check: there is no Perl Redfish implementation, so
C<site.openbmcperl> and C<XCAT_OPENBMC_DEVEL> do not apply.

=cut

use strict;
use warnings;

use xCAT::PyAgent;
use xCAT::PyAgent::Commands;

=head3 handled_commands()

Returns the commands this plugin claims and the table rule that routes a node to it.

=cut

sub handled_commands {
    return xCAT::PyAgent::Commands::handled('redfish');
}

=head3 preprocess_request($request, $callback, $subreq)

Help and version (plain command usage), PDU passthrough, argument validation, the C<-V> note and
the split by service node. Returns the list of request parts for xcatd to dispatch, or nothing.

=cut

sub preprocess_request {
    my ($request, $callback, $subreq) = @_;
    return xCAT::PyAgent::preprocess($request, $callback,
        { usage_suffix => '', commands => xCAT::PyAgent::Commands::rules('redfish') });
}

=head3 process_request($request, $callback, $subreq)

Node information from the C<openbmc> table (fallback C<passwd> key C<redfish>), then one agent
run with module C<redfish>. Returns 0 on success, 1 if any node failed.

=cut

sub process_request {
    my ($request, $callback, $subreq) = @_;
    return xCAT::PyAgent::process($request, $callback, { module => 'redfish', label => 'Redfish' });
}

1;
