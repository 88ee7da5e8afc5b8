package xCAT::PyAgent::Commands;

=head1 NAME

xCAT::PyAgent::Commands - the one table of commands the Python-agent plugins claim

=head1 DESCRIPTION

Read by C<xCAT_plugin::openbmc2> and C<xCAT_plugin::redfish>: what each plugin claims from xcatd
(C<handled_commands>) and how C<xCAT::PyAgent::preprocess> checks each command's arguments both
come from C<%COMMANDS> below, so a command is described once.

One entry per command, all keys but C<protocols> optional:

  command => {
      protocols   => [qw(openbmc redfish)],   # the plugins (agent modules) that claim it
      valid       => [words],                 # the accepted subcommands
      passthrough => qr//,                    # a first argument left to another plugin (PDU)
      flags       => [getopt specs],          # options removed after the subcommand is taken
      default     => 'word',                  # subcommand when no word is left
  }

To add a command: add its entry here with the protocols whose agent implements it; nothing else
in the plugins changes. A protocol that needs other words for the same command gets its own
entry under C<by_protocol> (none today).

=cut

use strict;
use warnings;

# Argument rules per command (docs/DESIGN.md, "Arguments"). Read-only.
my %COMMANDS = (
    rpower => {
        protocols   => [qw(openbmc redfish)],
        valid       => [qw(on off softoff reset boot bmcreboot bmcstate status stat state)],
        passthrough => qr/^pdu(?:on|off|stat|reset)$/,
    },
    rsetboot => {
        protocols => [qw(openbmc redfish)],
        valid     => [qw(net hd cd def default stat)],
        flags     => ['p'],
        default   => 'stat',
    },
);

=head3 rules($protocol)

The argument rules of the commands C<$protocol> (C<openbmc> or C<redfish>) claims, as
C<{ command =E<gt> RULE }> for C<xCAT::PyAgent::preprocess>. A fresh copy of the top level; the
rules themselves are shared and must not be changed.

=cut

sub rules {
    my ($protocol) = @_;
    my %mine;
    for my $command (keys %COMMANDS) {
        my $rule = $COMMANDS{$command};
        next unless grep { $_ eq $protocol } @{ $rule->{protocols} };
        $mine{$command} = $rule;
    }
    return \%mine;
}

=head3 handled($protocol)

What a plugin's C<handled_commands> returns: C<{ command =E<gt> 'nodehm:mgt=PROTOCOL' }> for every
command C<$protocol> claims.

=cut

sub handled {
    my ($protocol) = @_;
    my $rules = rules($protocol);
    return { map { $_ => "nodehm:mgt=$protocol" } keys %$rules };
}

1;
