package xCAT::Usage;

=head1 NAME

xCAT::Usage - runner stand-in: usage and version texts for rpower and rsetboot

=cut

use strict;
use warnings;

use Getopt::Long qw(GetOptionsFromArray);
use xCAT::Utils;

# Usage texts (XCAT_REFERENCE.md section 2). Read-only.
my %USAGE = (
    'rpower' => "Usage: rpower <noderange> [--nodeps] [on|onstandby|off|suspend|reset|stat|state|boot] "
      . "[-V|--verbose] [-m table.colum==expectedstatus][-m table.colum==expectedstatus...] "
      . "[-r <retrycount>] [-t <timeout>]\n"
      . "       rpower [-h|--help|-v|--version]\n"
      . "     OpenPOWER OpenBMC:\n"
      . "       rpower noderange [on|off|softoff|reset|boot|bmcreboot|bmcstate|stat|state|status]\n",
    'rpower.openbmc' => "OpenPOWER OpenBMC:\n"
      . "rpower noderange [on|off|softoff|reset|boot|bmcreboot|bmcstate|stat|state|status]",
    'rsetboot' => "Usage: rsetboot <noderange> [net|hd|cd|floppy|def|stat] [-u] [-p]\n"
      . "       rsetboot [-h|--help|-v|--version]",
);

# Commands with a version string. Read-only.
my %VERSIONED = map { $_ => 1 } qw(rpower rsetboot);

=head3 getUsage($class, $command)

The usage text, or C<Usage for command E<lt>commandE<gt> cannot be found>.

=cut

sub getUsage {
    my ($class, $command) = @_;
    return $USAGE{$command} // "Usage for command $command cannot be found\n";
}

=head3 getVersion($class, $command)

The version text, or C<Version string for command E<lt>commandE<gt> cannot be found>.

=cut

sub getVersion {
    my ($class, $command) = @_;
    return $VERSIONED{$command} ? xCAT::Utils->Version() : "Version string for command $command cannot be found\n";
}

=head3 parseCommand($class, $command, @args)

Usage text for C<-h>/C<--help>, version for C<-v>/C<--version>, else the empty string.
Works on a copy of C<@args>.

=cut

sub parseCommand {
    my ($class, $command, @args) = @_;
    my ($help, $version);
    my $saved = Getopt::Long::Configure(qw(pass_through no_ignore_case));
    {
        local $SIG{__WARN__} = sub { };
        GetOptionsFromArray(\@args, 'h|help' => \$help, 'v|version' => \$version);
    }
    Getopt::Long::Configure($saved);
    return $class->getUsage($command) if $help;
    return $class->getVersion($command) if $version;
    return '';
}

1;
