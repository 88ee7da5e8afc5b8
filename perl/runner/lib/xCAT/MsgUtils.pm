package xCAT::MsgUtils;

=head1 NAME

xCAT::MsgUtils - runner stand-in for xCAT's message helper

=head1 DESCRIPTION

Gives the callback the shapes of docs/xcat-facts.md#callback-shapes. Syslog messages (C<S>) go to the file
named by C<XCAT_RUNNER_SYSLOG> when set, and are dropped otherwise (the runner's stdout is the
user's).

=cut

use strict;
use warnings;

=head3 message($class, $severity, $rsp, $callback)

C<I>: C<< {info => [...], data => []} >> (C<host> kept); C<W>: C<< {warning => [...], data => []} >>;
C<E>: C<< {error => [...], errorcode => [1], data => []} >>; C<S>: C<$rsp> is the text, written to
the runner's syslog file.

=cut

sub message {
    my ($class, $sev, $rsp, $callback) = @_;
    $sev //= '';
    if ($sev =~ /S/) {
        my $text = ref $rsp eq 'HASH' ? join("\n", @{ $rsp->{data} || [] }) : ($rsp // '');
        my $file = $ENV{XCAT_RUNNER_SYSLOG};
        if (defined $file && length $file && open(my $fh, '>>', $file)) {
            print {$fh} "xcat: $text\n";
            close $fh;
        }
        return;
    }
    return unless $callback && ref $rsp eq 'HASH';
    my %out = %$rsp;
    my $data = delete $out{data} || [];
    if ($sev =~ /E/) {
        $out{error} = $data;
        $out{errorcode} = [1] unless $out{errorcode};
    } elsif ($sev =~ /W/) {
        $out{warning} = $data;
    } else {
        $out{info} = $data;
    }
    $out{data} = [];
    $callback->(\%out);
    return;
}

1;
