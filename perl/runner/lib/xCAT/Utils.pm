package xCAT::Utils;

=head1 NAME

xCAT::Utils - runner stand-in: Version

=cut

use strict;
use warnings;

=head3 Version($class)

The version string shown by C<-v>.

=cut

sub Version { return 'Version 2.19.0 (xCAT-openbmc-py runner)' }

1;
