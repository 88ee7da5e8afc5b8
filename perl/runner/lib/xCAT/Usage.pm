package xCAT::Usage;

=head1 NAME

xCAT::Usage - runner stand-in: usage and version texts of the commands our plugins claim

=cut

use strict;
use warnings;

use Getopt::Long qw(GetOptionsFromArray);
use xCAT::Utils;

# The parts xCAT's Usage.pm assembles the rpower texts from (docs/RUNNER.md, "Help"): the block
# common to all hardware types, the hardware blocks before and after OpenBMC's, and OpenBMC's.
# Each part ends with the indentation of the next heading, so the joined text keeps xCAT's
# layout, including the trailing blank line. Read-only.
my %RPOWER = (
    common => "Usage:\n    Common:\n"
      . "       rpower <noderange> [--nodeps] [on|onstandby|off|suspend|reset|stat|state|boot] [-V|--verbose] "
      . "[-m table.colum==expectedstatus][-m table.colum==expectedstatus...] [-r <retrycount>] [-t <timeout>]\n"
      . "       rpower [-h|--help|-v|--version]\n    ",
    begin => "BMC (using IPMI):\n"
      . "       rpower noderange [on|off|softoff|reset|boot|cycle|stat|state|status|wake|suspend [-w timeout] [-o] [-r]]\n"
      . "       rpower noderange [pduon|pduoff|pdustat]\n"
      . "    OpenPOWER BMC:\n"
      . "       rpower noderange [on|off|reset|boot|stat|state|status]\n"
      . "       rpower noderange [pduon|pduoff|pdustat]\n    ",
    openbmc => "OpenPOWER OpenBMC:\n"
      . "       rpower noderange [on|off|softoff|reset|boot|bmcreboot|bmcstate|stat|state|status]\n    ",
    end => "KVM Virtualization specific:\n"
      . "       rpower <noderange> [boot] [ -c <path to iso> ]\n"
      . "    PPC (with IVM or HMC) specific:\n"
      . "       rpower <noderange> [--nodeps] [of] [-V|--verbose]\n"
      . "    CEC (with HMC) specific:\n"
      . "       rpower <noderange> [on|off|reset|boot|onstandby]\n"
      . "    LPAR(with HMC) specific:\n"
      . "       rpower <noderange> [on|off|reset|stat|state|boot|of|sms|softoff]\n"
      . "    CEC(using Direct FSP Management) specific:\n"
      . "       rpower <noderange> [on|onstandby|off|stat|state|resetsp]\n"
      . "    Frame(using Direct FSP Management) specific:\n"
      . "       rpower <noderange> [stat|state|rackstandby|exit_rackstandby|resetsp]\n"
      . "    LPAR(using Direct FSP Management) specific:\n"
      . "       rpower <noderange> [on|off|reset|stat|state|boot|of|sms]\n"
      . "    Blade(using Direct FSP Management) specific:\n"
      . "       rpower <noderange> [on|onstandby|off|cycle|state|sms]\n"
      . "    Blade(using AMM) specific:\n"
      . "       rpower <noderange> [cycle|softoff] [-V|--verbose]\n"
      . "    Lenovo high-density server specific:\n"
      . "       rpower <noderange> [on|off|reset|boot|reseat]\n"
      . "    zVM specific:\n"
      . "       rpower noderange [on|off|reset|stat|softoff]\n"
      . "    MIC specific:\n"
      . "       rpower noderange [stat|state|on|off|reset|boot]\n"
      . "    pdu specific:\n"
      . "       rpower noderange [off|on|stat|status|reset]\n"
      . "       rpower noderange [pduoff|pduon|pdustat|pdustatus|pdureset]\n",
);

# Usage texts by name: the full rpower text (every hardware type), rpower.openbmc (the common
# block, then OpenBMC's), rsetboot. Read-only.
my %USAGE = (
    'rpower'         => join('', @RPOWER{qw(common begin openbmc end)}),
    'rpower.openbmc' => join('', @RPOWER{qw(common openbmc)}),
    'rsetboot'       => "Usage: rsetboot <noderange> [net|hd|cd|floppy|def|stat] [-u] [-p]\n"
      . "       rsetboot [-h|--help|-v|--version]",
    # rbeacon, rinv and rvitals end with a line of four blanks, reventlog has no .openbmc
    # text (docs/COMMANDS.md "Broker").
    'rbeacon.openbmc' => "Usage:\n"
      . "    Common:\n"
      . "       rbeacon [-h|--help|-v|--version|-V|--verbose]\n"
      . "    OpenPOWER (OpenBMC) specific:\n"
      . "       rbeacon [on|off|stat]\n"
      . "    ",
    'rinv.openbmc' => "Usage:\n"
      . "    Common:\n"
      . "       rinv <noderange> [all|model|serial] [-V|--verbose]\n"
      . "       rinv [-h|--help|-v|--version]\n"
      . "    OpenPOWER (OpenBMC) server specific:\n"
      . "       rinv <noderange> [model][serial][firm][cpu][dimm][all] [-V|--verbose]\n"
      . "    ",
    'rvitals.openbmc' => "Usage:\n"
      . "    Common:\n"
      . "       rvitals [-h|--help|-v|--version]\n"
      . "    OpenPOWER (OpenBMC) specific:\n"
      . "       rvitals noderange [temp|voltage|wattage|fanspeed|power|leds|altitude|all]\n"
      . "    ",
    'reventlog' => "Usage: reventlog <noderange> [all [-s]|clear|<number of entries to retrieve> [-s]] [-V|--verbose]\n"
      . "       reventlog <noderange> [resolved={<id list>|LED}]\n"
      . "       reventlog [-h|--help|-v|--version]",
);
$USAGE{$_} = $USAGE{"$_.openbmc"} for qw(rbeacon rinv rvitals);

# Commands with a version string. Read-only.
my %VERSIONED = map { $_ => 1 } qw(rpower rsetboot rinv rvitals rbeacon reventlog);

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
