package xCAT::Runner::Printer;

=head1 NAME

xCAT::Runner::Printer - prints xcatd responses the way xCAT's client does

=head1 DESCRIPTION

The runner's one place that turns a response hash into output lines. It follows xCAT-client's
C<xCAT::Client::handle_response> (see docs/RUNNER.md, "What the admin sees"):

=over

=item * xcatd stamps every response with its host name (C<xcatdsource>); the runner does the
same with C<source> unless the response already names one.

=item * C<errorcode> (top level and per node) is ORed into the exit status.

=item * C<error> and C<warning>: stderr, C<Error: [host]: text> / C<Warning: [host]: text>
(no C<Error: > with C<NoErrorPrefix>, no C<Warning: > with C<NoWarnPrefix>).

=item * C<info>: stdout, C<[host]: text> only when the source is shown (C<show_source>, or
the response has C<host>).

=item * each C<node> entry: C<name: [host]: Error: e> or C<name: [host]: Warning: w>, then
C<: data> (C<: [host]> before the data only when the source is shown and there was no error).
The line goes to stderr once an entry of the same response had an error or warning (the client
does not reset that flag between entries).

=item * C<data> entries without a node: stdout, C<desc: contents> or the text, C<[host]: >
first when the source is shown; an empty or C<0> text prints nothing.

=back

=cut

use strict;
use warnings;

=head3 new($class, source => HOST, show_source => BOOL)

=cut

sub new {
    my ($class, %opts) = @_;
    return bless { source => $opts{source} // '', show_source => $opts{show_source} ? 1 : 0 }, $class;
}

=head3 print_response($self, $rsp, \$exit)

Prints one response (see DESCRIPTION). Returns the lines printed, without newlines.

=cut

sub print_response {
    my ($self, $rsp, $exit) = @_;
    return () unless ref $rsp eq 'HASH';
    my @printed;
    my $out = sub { my ($fh, $line) = @_; print {$fh} "$line\n"; push @printed, $line };

    my ($source) = _list($rsp->{xcatdsource});
    $source = $self->{source} unless defined $source;
    $source //= '';
    my $show = ($rsp->{host} || ($self->{show_source} && !$rsp->{NoSvrPrefix})) ? 1 : 0;

    $$exit |= ($_ // 0) for _list($rsp->{errorcode});
    for my $text (_list($rsp->{error})) {
        my $desc = $text // '';
        $desc = "[$source]: $desc" if length $desc && length $source;
        $desc = "Error: $desc" unless $rsp->{NoErrorPrefix};
        $out->(\*STDERR, $desc);
    }
    for my $text (_list($rsp->{warning})) {
        my $desc = $text // '';
        $desc = "[$source]: $desc" if length $desc && length $source;
        $desc = "Warning: $desc" unless $rsp->{NoWarnPrefix};
        $out->(\*STDERR, $desc);
    }
    for my $text (_list($rsp->{info})) {
        my $desc = $text // '';
        $desc = "[$source]: $desc" if $show && length $desc && length $source;
        $out->(\*STDOUT, $desc);
    }

    my $errflag = 0;
    for my $node (_list($rsp->{node})) {
        next unless ref $node eq 'HASH';
        my ($desc) = _list($node->{name});
        $$exit |= ($_ // 0) for _list($node->{errorcode});
        for my $kind ([ error => 'Error' ], [ warning => 'Warning' ]) {
            my ($text) = _list($node->{ $kind->[0] }) or next;
            $desc = _tag($desc, $source);
            $desc .= ": $kind->[1]: " . ($text // '');
            $errflag = 1;
        }
        if (my ($d) = _list($node->{data})) {
            $desc = _tag($desc, $source) if $show;
            if (ref $d eq 'HASH') {
                my ($dd) = _list($d->{desc});
                my ($dc) = _list($d->{contents});
                $desc = ($desc // '') . ": $dd" if $dd;
                $desc = ($desc // '') . ": $dc" if $dc;
            } else {
                $desc = ($desc // '') . ': ' . ($d // '');
            }
        }
        next unless $desc && $desc ne "[$source]";
        $out->($errflag ? \*STDERR : \*STDOUT, $desc);
    }

    for my $d (_list($rsp->{data})) {
        my $desc;
        if (ref $d eq 'HASH') {
            ($desc) = _list($d->{desc});
            my ($c) = _list($d->{contents});
            $desc = $desc ? "$desc: $c" : $c if $c;
        } else {
            $desc = $d;
        }
        next unless $desc;
        $desc = "[$source]: $desc" if $show && length $source;
        $out->(\*STDOUT, $desc);
    }
    return @printed;
}

# The node name with the source tag: "name: [host]", or "[host]" without a name.
sub _tag {
    my ($desc, $source) = @_;
    return $desc unless length $source;
    return $desc ? "$desc: [$source]" : "[$source]";
}

sub _list {
    my ($v) = @_;
    return () unless defined $v;
    return ref $v eq 'ARRAY' ? @$v : ($v);
}

1;
