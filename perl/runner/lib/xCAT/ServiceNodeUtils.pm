package xCAT::ServiceNodeUtils;

=head1 NAME

xCAT::ServiceNodeUtils - runner stand-in: get_ServiceNode from noderes.servicenode

=cut

use strict;
use warnings;

use xCAT::Table;

=head3 get_ServiceNode($class, \@nodes, $service, $request)

Groups the nodes by C<noderes.servicenode> (the first one when it lists several; group
inheritance applies). Nodes without one are grouped under C<site.master>, or C<localhost> when
the site table has no master. Returns C<< { servicenode => [nodes] } >>.

=cut

sub get_ServiceNode {
    my ($class, $nodes, $service, $request) = @_;
    my $master = 'localhost';
    if (my $site = xCAT::Table->new('site')) {
        my ($row) = $site->getAttribs({ key => 'master' }, 'value');
        $master = $row->{value} if $row && defined $row->{value} && length $row->{value};
    }
    my $noderes = xCAT::Table->new('noderes');
    my $rows = $noderes ? $noderes->getNodesAttribs($nodes, ['servicenode']) : {};
    my %result;
    for my $node (@$nodes) {
        my $row = ref $rows->{$node} eq 'ARRAY' ? $rows->{$node}->[0] : undef;
        my $sn = ref $row eq 'HASH' ? $row->{servicenode} : undef;
        $sn = (split /,/, $sn)[0] if defined $sn;
        $sn = $master unless defined $sn && length $sn;
        push @{ $result{$sn} }, $node;
    }
    return \%result;
}

1;
