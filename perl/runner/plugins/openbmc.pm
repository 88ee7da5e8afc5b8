package xCAT_plugin::openbmc;

=head1 NAME

xCAT_plugin::openbmc - runner stand-in for xCAT's legacy all-Perl OpenBMC plugin

=head1 DESCRIPTION

Under a real xcatd, xCAT's own C<openbmc.pm> claims the same commands and nodes as our
C<openbmc2.pm> (every node with C<nodehm.mgt=openbmc>), and the shared backend policy decides
which of the two goes on (docs/RUNNER.md, "Routing"). This stand-in asks the same policy,
C<xCAT_plugin::openbmc2::run_cmd_in_perl>, and behaves as xCAT's plugin does at that point:

=over

=item * Python selected: it steps aside, silently.

=item * C<XCAT_OPENBMC_DEVEL> invalid: it prints the policy's message (C<data>, exit 1), as
xCAT's plugin does.

=item * Perl selected: xCAT would run the command in Perl here. The runner has no Perl backend,
so each node gets one error line saying so and why, instead of silence.

=back

Only the runner loads it (perl/runner/plugins); it is never installed.

=cut

use strict;
use warnings;

use xCAT::PyAgent ();
use xCAT::Table;
use xCAT::SvrUtils;

=head3 handled_commands()

C<rpower> and C<rsetboot> by C<nodehm:mgt>: nodes whose C<mgt> is this plugin's name.

=cut

sub handled_commands {
    return { rpower => 'nodehm:mgt', rsetboot => 'nodehm:mgt' };
}

=head3 preprocess_request($request, $callback, $subreq)

See DESCRIPTION. Never returns request parts: nothing is left for C<process_request>.

=cut

sub preprocess_request {
    my ($request, $callback, $subreq) = @_;
    return if $request->{_xcatpreprocessed} && $request->{_xcatpreprocessed}->[0];
    my $command = $request->{command} ? $request->{command}->[0] : '';
    my $policy = xCAT_plugin::openbmc2->can('run_cmd_in_perl') or return;
    my ($rc, $msg) = $policy->($command // '', $request);
    return unless $rc;
    if ($rc < 0) {
        $callback->({ errorcode => [1], data => [$msg] });
        return;
    }
    my $why = perl_reason($command, $request);
    my $text = "xCAT would run $command with its Perl OpenBMC backend (openbmc.pm) because $why; "
      . 'the runner has no Perl backend.';
    xCAT::SvrUtils::sendmsg([ 1, $text ], $callback, $_) for @{ $request->{node} || [] };
    return;
}

=head3 process_request($request, $callback, $subreq)

Nothing: every request is answered in C<preprocess_request>.

=cut

sub process_request { return }

=head3 perl_reason($command, $request)

Why the policy chose Perl, in the policy's order: the agent file is missing,
C<site.openbmcperl> names the command, or the command runs in Python only with
C<XCAT_OPENBMC_DEVEL=YES>.

=cut

sub perl_reason {
    my ($command, $request) = @_;
    my $agent = xCAT::PyAgent::agent_path();
    return "the xCAT Python agent $agent does not exist" unless -e $agent;
    my $site = xCAT::Table->new('site');
    my ($entry) = $site ? $site->getAttribs({ key => 'openbmcperl' }, 'value') : ();
    my $perl = ref $entry eq 'HASH' ? $entry->{value} : undef;
    return "site.openbmcperl is \"$perl\"" if defined $perl && length $perl;
    return "$command runs in Python only with XCAT_OPENBMC_DEVEL=YES";
}

1;
