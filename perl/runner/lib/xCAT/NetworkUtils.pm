package xCAT::NetworkUtils;

=head1 NAME

xCAT::NetworkUtils - runner stand-in: getNodeIPaddress without DNS

=head1 DESCRIPTION

In xCAT's order (docs/RUNNER.md, "BMC addresses"): an IPv4 or IPv6 address resolves to itself;
a name is looked up with the system resolver first, then in the hosts table. The stand-in's
system resolver is the hosts file alone (C<$XCAT_RUNNER_HOSTS_FILE>, default C</etc/hosts>),
read here: no name service is ever asked, so no lookup leaves the machine. Its first IPv4
address for the name wins, else its first IPv6 address. The hosts table is the optional
C<$XCAT_TABLES/hosts.csv> (columns C<node> and C<ip>).

=cut

use strict;
use warnings;

use xCAT::Table;

use constant DEFAULT_HOSTS_FILE => '/etc/hosts';

=head3 getNodeIPaddress($class, $name)

The address of C<$name>, or undef.

=cut

sub getNodeIPaddress {
    my ($class, $name) = @_;
    return undef unless defined $name && length $name;
    return $name if $name =~ /^\d{1,3}(?:\.\d{1,3}){3}$/;
    return $name if $name =~ /:/ && $name =~ /^[0-9a-fA-F:.]+$/;
    my $ip = hosts_file_address($name);
    return $ip if defined $ip;
    my $hosts = xCAT::Table->new('hosts') or return undef;
    my $row = $hosts->getNodeAttribs($name, ['ip']);
    return ref $row eq 'HASH' && defined $row->{ip} && length $row->{ip} ? $row->{ip} : undef;
}

=head3 hosts_file_address($name)

The address the hosts file gives C<$name> (a canonical name or an alias, compared without
regard to case, as the resolver does), or undef. An unreadable file gives undef.

=cut

sub hosts_file_address {
    my ($name) = @_;
    my $file = defined $ENV{XCAT_RUNNER_HOSTS_FILE} && length $ENV{XCAT_RUNNER_HOSTS_FILE}
      ? $ENV{XCAT_RUNNER_HOSTS_FILE} : DEFAULT_HOSTS_FILE;
    open(my $fh, '<', $file) or return undef;
    my ($v4, $v6);
    my $want = lc $name;
    while (my $line = <$fh>) {
        $line =~ s/#.*//s;
        my ($addr, @names) = split ' ', $line;
        next unless defined $addr && grep { lc $_ eq $want } @names;
        if ($addr =~ /^\d{1,3}(?:\.\d{1,3}){3}$/) {
            $v4 = $addr;
            last;
        }
        $v6 //= $addr if $addr =~ /:/;
    }
    close $fh;
    return $v4 // $v6;
}

1;
