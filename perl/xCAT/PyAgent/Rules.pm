package xCAT::PyAgent::Rules;

=head1 NAME

xCAT::PyAgent::Rules - argument checks and rewriting of rinv, rvitals, rbeacon and reventlog

=head1 DESCRIPTION

The per-command rules of xCAT's C<openbmc2.pm> that a list of valid words cannot express
(docs/COMMANDS.md, "Broker"). A command's entry in the command table names them:
C<check> runs after the common prefix (C<-V> removed, the one-word and no-word rules), and
C<rewrite> turns the admin's words into what the agent receives.

Every function is pure: no tables, no callbacks, no globals.

=cut

use strict;
use warnings;

use Exporter qw(import);

our @EXPORT_OK = qw(check_rbeacon check_rinv check_rvitals check_reventlog rewrite_reventlog);

# Accepted words. Read-only.
my %RBEACON = map { $_ => 1 } qw(on off stat);
my %RINV    = map { $_ => 1 } qw(all cpu dimm firm model serial);
my %RVITALS = map { $_ => 1 } qw(all altitude fanspeed leds power temp voltage wattage);
my %VERBOSE = map { $_ => 1 } qw(-V --verbose);

use constant RESOLVED_USAGE =>
  "Usage error. Provide a comma separated list of IDs to be resolved. Example: 'resolved=x,y,z'";

=head3 check_rbeacon(\@words, \@nodes), check_rinv, check_rvitals, check_reventlog

C<@words> are the arguments without C<-V>/C<--verbose>. Each returns C<($error)> with xCAT's
message when the words are refused, else C<(undef, @notes)>: C<@notes> are lines the broker
prints once, without a node, before the agent runs (reventlog's C<Attempting to resolve ...>).

=cut

sub check_rbeacon {
    my ($words) = @_;
    return ("Only 'on', 'off' and 'stat' are supported for OpenBMC managed nodes.")
      unless @$words && $RBEACON{ $words->[0] };
    return (undef);
}

sub check_rinv {
    my ($words) = @_;
    for my $word (@$words) {
        return ("Unsupported command: rinv $word") unless $RINV{$word};
    }
    return (undef);
}

sub check_rvitals {
    my ($words) = @_;
    my $word = @$words ? $words->[0] : 'all';
    return ("Unsupported command: rvitals $word") unless $RVITALS{$word};
    return (undef);
}

sub check_reventlog {
    my ($words, $nodes) = @_;
    if (@$words >= 2) {
        return ('The -s option is not supported for OpenBMC.') if $words->[1] eq '-s';
        return ('Only one option is supported at the same time for reventlog');
    }
    return (undef) unless @$words;
    my $word = $words->[0];
    my @notes;
    if ($word =~ /^resolved=(.*)\z/s) {
        my $ids = $1;
        return (RESOLVED_USAGE) unless $ids;    # '' and '0' are false, as in xCAT's Perl
        return ('Resolving faults over a xCAT noderange is not recommended.') if @$nodes > 1;
        return (undef, "Attempting to resolve the following log entries: $ids...");
    }
    return (undef) if $word =~ /^\d+\z/ || $word eq 'all' || $word eq 'clear';
    return (RESOLVED_USAGE) if $word =~ /resolved/;
    return ("Unsupported command: reventlog $word");
}

=head3 rewrite_reventlog(\@args)

The agent's arguments for C<reventlog> typed with C<@args> (C<-V> included): C<list all>,
C<list E<lt>nE<gt>>, C<clear> or C<resolved resolved=E<lt>idsE<gt>>, then C<-V> when it was given.
Unlike xCAT, a C<-V> before the other words does not drop them (C<reventlog n -V 10> lists 10).

=cut

sub rewrite_reventlog {
    my ($args) = @_;
    my @words   = grep { !$VERBOSE{$_} } @$args;
    my $verbose = @words != @$args;
    my @agent;
    if (!@words || $words[0] eq 'all') {
        @agent = ('list', 'all');
    } elsif ($words[0] =~ /^\d+\z/) {
        @agent = ('list', $words[0]);
    } elsif ($words[0] =~ /^resolved=/) {
        @agent = ('resolved', $words[0]);
    } else {
        @agent = ($words[0]);
    }
    push @agent, '-V' if $verbose;
    return \@agent;
}

1;
