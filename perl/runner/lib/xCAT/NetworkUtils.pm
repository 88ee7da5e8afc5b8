package xCAT::NetworkUtils;

=head1 NAME

xCAT::NetworkUtils - runner stand-in: getNodeIPaddress without DNS

=head1 DESCRIPTION

No name service is ever asked. An IPv4 or IPv6 address resolves to itself; a name is looked up
in the optional C<$XCAT_TABLES/hosts.csv> (columns C<node> and C<ip>, as xCAT's hosts table);
anything else is unresolvable.

=cut

use strict;
use warnings;

use xCAT::Table;

=head3 getNodeIPaddress($class, $name)

The address of C<$name>, or undef.

=cut

sub getNodeIPaddress {
    my ($class, $name) = @_;
    return undef unless defined $name && length $name;
    return $name if $name =~ /^\d{1,3}(?:\.\d{1,3}){3}$/;
    return $name if $name =~ /:/ && $name =~ /^[0-9a-fA-F:.]+$/;
    my $hosts = xCAT::Table->new('hosts') or return undef;
    my $row = $hosts->getNodeAttribs($name, ['ip']);
    return $row && defined $row->{ip} && length $row->{ip} ? $row->{ip} : undef;
}

1;
