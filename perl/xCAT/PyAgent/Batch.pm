package xCAT::PyAgent::Batch;

=head1 NAME

xCAT::PyAgent::Batch - node lines and status updates handed to xcatd in batches

=head1 DESCRIPTION

xcatd relays each call of a plugin's callback as one message, reads at most one message per
pass of its loop, and drops what is still queued when the plugin's process has ended
(docs/DESIGN.md, "Output to xcatd"). So the broker never calls the callback once per node line:
node entries are gathered into one response C<< { node => [ {...}, {...}, ... ] } >> and handed
over when C<FLUSH_INTERVAL> has passed since the first one waited, or when C<MAX_LINES> wait,
and always by a last C<flush> before the plugin returns. Node status updates are queued too and
applied, in their order, right after the lines that waited with them have been handed over.

Anything that is not a node entry (a global error, a warning, a line without a node) first
flushes what waits, then goes out on its own, so the order the admin sees is the order of the
agent's frames. A batch belongs to one request (no state outside the object).

=cut

use strict;
use warnings;

use Time::HiRes ();

use xCAT::MsgUtils;
use xCAT::SvrUtils;

use constant {
    # Longest time a node line waits before it is handed to xcatd, in seconds.
    FLUSH_INTERVAL => 0.2,
    # Most node lines, and most status updates, in one hand-over.
    MAX_LINES  => 300,
    MAX_STATUS => 1000,
    # xcatd drops what it has not read when the plugin's process ends, and reads one message per
    # pass: a plugin that handed over several messages just now lingers before returning, this
    # long per message of the last LINGER_WINDOW seconds beyond the one the extra pass reads, plus
    # LINGER_BASE, at most LINGER_MAX in all (docs/DESIGN.md, "Output to xcatd").
    LINGER_WINDOW => 1.0,
    LINGER_PER    => 0.02,
    LINGER_BASE   => 0.05,
    LINGER_MAX    => 2.0,
};

=head3 new($class, $callback)

A batch for xcatd's C<$callback>. C<messages> counts the callback calls made through it.

=cut

sub new {
    my ($class, $callback) = @_;
    require xCAT_monitoring::monitorctrl;
    return bless { callback => $callback, entries => [], status => [], lines => 0, statuses => 0,
        since => undef, messages => 0, recent => [] }, $class;
}

=head3 node_line($self, $node, $text)

Queues C<node: text> as the node entry C<< { name => [node], data => [text] } >>, which xCAT's
client prints as C<node: text>.

=cut

sub node_line {
    my ($self, $node, $text) = @_;
    $self->_entry({ name => [$node], data => [$text] });
    return;
}

=head3 sendmsg($self, $text, $node)

C<xCAT::SvrUtils::sendmsg($text, ..., $node)> (C<$text> a string or C<[rc, text]>) through the
batch: the node entries it makes are queued, any other response is sent as it is, in order.

=cut

sub sendmsg {
    my ($self, $text, $node) = @_;
    my @made;
    xCAT::SvrUtils::sendmsg($text, sub { push @made, $_[0] }, $node);
    $self->response($_) for @made;
    return;
}

=head3 message($self, $severity, $rsp)

C<xCAT::MsgUtils-E<gt>message($severity, $rsp, ...)> through the batch, as C<sendmsg>.

=cut

sub message {
    my ($self, $severity, $rsp) = @_;
    my @made;
    xCAT::MsgUtils->message($severity, $rsp, sub { push @made, $_[0] });
    $self->response($_) for @made;
    return;
}

=head3 response($self, $rsp)

Queues the node entries of a response that holds nothing else; flushes and sends any other
response at once.

=cut

sub response {
    my ($self, $rsp) = @_;
    if (ref $rsp eq 'HASH' && ref $rsp->{node} eq 'ARRAY' && keys %$rsp == 1) {
        $self->_entry($_) for @{ $rsp->{node} };
        return;
    }
    $self->flush;
    $self->_call($rsp);
    return;
}

=head3 status($self, $node, $value)

Queues the node status update C<status = value> (applied forced, as xCAT's broker does).

=cut

sub status {
    my ($self, $node, $value) = @_;
    my $runs = $self->{status};
    if (@$runs && $runs->[-1][0] eq $value) {
        push @{ $runs->[-1][1] }, $node;
    } else {
        push @$runs, [ $value, [$node] ];
    }
    $self->{statuses}++;
    $self->{since} //= Time::HiRes::time();
    return;
}

=head3 due($self)

True when what waits should be handed over now.

=cut

sub due {
    my ($self) = @_;
    return 0 unless defined $self->{since};
    return 1 if $self->{lines} >= MAX_LINES || $self->{statuses} >= MAX_STATUS;
    return Time::HiRes::time() >= $self->{since} + FLUSH_INTERVAL;
}

=head3 time_left($self)

Seconds until C<due> turns true by time, or undef when nothing waits.

=cut

sub time_left {
    my ($self) = @_;
    return undef unless defined $self->{since};
    my $left = $self->{since} + FLUSH_INTERVAL - Time::HiRes::time();
    return $left > 0 ? $left : 0;
}

=head3 flush($self)

Hands over what waits: all queued node entries in one callback (plain lines before error and
warning lines), then the queued status updates
in their order (one C<setNodeStatusAttributes> call per run of nodes taking the same value). A
node's status is thus never written before its line has gone to xcatd, and two updates of a
node keep their order.

=cut

sub flush {
    my ($self) = @_;
    my ($entries, $runs) = ($self->{entries}, $self->{status});
    @$self{qw(entries status lines statuses since)} = ([], [], 0, 0, undef);
    # NOTE: xCAT's client prints every node entry that follows one with an error or a warning
    # in the same response to stderr (docs/RUNNER.md, "What the admin sees"), so the plain lines
    # go first and keep stdout.
    my @plain = grep { !$_->{error} && !$_->{warning} } @$entries;
    my @flagged = grep { $_->{error} || $_->{warning} } @$entries;
    $self->_call({ node => [ @plain, @flagged ] }) if @$entries;
    xCAT_monitoring::monitorctrl::setNodeStatusAttributes({ $_->[0] => $_->[1] }, 1) for @$runs;
    return;
}

=head3 finish($self)

The last C<flush> before the plugin returns, then the linger: when more than one message went to
xcatd within the last C<LINGER_WINDOW>, wait until xcatd can have read them (bounded by
C<LINGER_MAX>), since it drops what is still queued once the plugin's process has ended.

=cut

sub finish {
    my ($self) = @_;
    $self->flush;
    my $recent = $self->_recent(Time::HiRes::time());
    return if $recent < 2;
    my $wait = LINGER_BASE + ($recent - 1) * LINGER_PER;
    Time::HiRes::sleep($wait < LINGER_MAX ? $wait : LINGER_MAX);
    return;
}

# How many messages went out within LINGER_WINDOW before $now (older ones forgotten).
sub _recent {
    my ($self, $now) = @_;
    my $times = $self->{recent};
    shift @$times while @$times && $times->[0] < $now - LINGER_WINDOW;
    return scalar @$times;
}

sub _entry {
    my ($self, $entry) = @_;
    push @{ $self->{entries} }, $entry;
    $self->{lines}++;
    $self->{since} //= Time::HiRes::time();
    return;
}

sub _call {
    my ($self, $rsp) = @_;
    $self->{messages}++;
    my $now = Time::HiRes::time();
    $self->_recent($now);
    push @{ $self->{recent} }, $now;
    $self->{callback}->($rsp);
    return;
}

1;
