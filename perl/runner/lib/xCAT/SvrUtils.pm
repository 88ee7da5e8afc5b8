package xCAT::SvrUtils;

=head1 NAME

xCAT::SvrUtils - runner stand-in: sendmsg

=cut

use strict;
use warnings;

=head3 sendmsg($text, $callback, $node)

C<$text> is a string or C<[rc, text]>. With an rc: C<< {node => [{name => [node], errorcode => [rc],
error => [text]}]} >>, or C<< {errorcode => [rc], error => [text]} >> without a node. Without an rc
the text is split at its first colon into C<desc> and C<contents>:
C<< {node => [{name => [node], data => [{desc => [...], contents => [...]}]}]} >> (or C<data> alone).

=cut

sub sendmsg {
    my ($text, $callback, $node) = @_;
    return unless $callback;
    my $rc;
    ($rc, $text) = @$text if ref $text eq 'ARRAY';
    $text //= '';
    my $has_node = defined $node && length $node;
    if ($rc) {
        if ($has_node) {
            $callback->({ node => [ { name => [$node], errorcode => [$rc], error => [$text] } ] });
        } else {
            $callback->({ errorcode => [$rc], error => [$text] });
        }
        return;
    }
    my $entry;
    if ($text =~ /^([^:]*):\s*(.*)\z/s) {
        $entry = { desc => [$1], contents => [$2] };
    } else {
        $entry = { contents => [$text] };
    }
    if ($has_node) {
        $callback->({ node => [ { name => [$node], data => [$entry] } ] });
    } else {
        $callback->({ data => [$entry] });
    }
    return;
}

1;
