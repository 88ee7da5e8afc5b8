package xCAT_monitoring::monitorctrl;

=head1 NAME

xCAT_monitoring::monitorctrl - runner stand-in: node status updates recorded in a file

=head1 DESCRIPTION

The runner never rewrites the table files. Each status update is appended as one line
C<node,status,MM-DD-YYYY HH:MM:SS> to C<$XCAT_NODESTATUS>, or by default to
C<$XCAT_TABLES/nodestatus.csv>; it is dropped if that file cannot be written.

=cut

use strict;
use warnings;

use POSIX qw(strftime);

=head3 setNodeStatusAttributes(\%status, $force)

C<%status> maps a status value to the nodes that take it.

=cut

sub setNodeStatusAttributes {
    my ($status, $force) = @_;
    $status = $force if !ref $status && ref $force eq 'HASH';    # called as a class method
    return 0 unless ref $status eq 'HASH';
    my $file = $ENV{XCAT_NODESTATUS};
    $file = "$ENV{XCAT_TABLES}/nodestatus.csv"
      if !(defined $file && length $file) && defined $ENV{XCAT_TABLES} && length $ENV{XCAT_TABLES};
    return 0 unless defined $file;
    open(my $fh, '>>', $file) or return 0;
    my $when = strftime('%m-%d-%Y %H:%M:%S', localtime);
    for my $value (sort keys %$status) {
        print {$fh} "$_,$value,$when\n" for @{ $status->{$value} || [] };
    }
    close $fh;
    return 0;
}

1;
