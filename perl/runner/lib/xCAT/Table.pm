package xCAT::Table;

=head1 NAME

xCAT::Table - runner stand-in: xCAT tables read from tabdump CSV files in $XCAT_TABLES

=head1 DESCRIPTION

Only for perl/bin/rpower and perl/bin/rsetboot on machines without xCAT; a real xcatd brings its
own xCAT::Table. Each table is C<$XCAT_TABLES/E<lt>nameE<gt>.csv> as C<tabdump> writes it: a
header line C<#col1,col2,...>, then one row per line, values in double quotes (C<""> inside a
value is one quote), empty values bare. Rows whose C<disable> column is C<1> or C<yes> are skipped.
Any table works the same way, for example C<site.csv> (C<#key,value,comments,disable>), from which
C<getAttribs({key =E<gt> 'openbmcperl'}, 'value')> reads one site attribute.

Node lookups inherit from groups the basic xCAT way: a value missing from the node's own row is
taken from the first group (in C<nodelist.groups> order) whose row has it.

=cut

use strict;
use warnings;

use Encode ();

=head3 new($class, $name)

Reads C<$XCAT_TABLES/$name.csv>. Returns undef when C<XCAT_TABLES> is unset or the file does not
exist or cannot be read.

=cut

sub new {
    my ($class, $name, @opts) = @_;
    my $dir = $ENV{XCAT_TABLES};
    return undef unless defined $dir && length $dir;
    my $file = "$dir/$name.csv";
    return undef unless -f $file;
    my ($columns) = read_csv($file, {});
    return undef unless $columns;
    # The rows are read when first asked for: all of them (_rows), or only a few nodes' ones
    # (getNodesAttribs), which is what a command on a few nodes of a large table needs.
    return bless { name => $name, dir => $dir, file => $file, columns => $columns }, $class;
}

sub _rows {
    my ($self) = @_;
    $self->{rows} //= (read_csv($self->{file}))[1] || [];
    return $self->{rows};
}

=head3 check_files($dir)

Checks every table file C<$dir/*.csv> the way C<read_csv> will read it. Returns one message per
file that cannot be used, naming the file and the reason (cannot be opened, not a regular file,
starts with a UTF-8 byte-order mark, not valid UTF-8); empty when all are fine.

=cut

sub check_files {
    my ($dir) = @_;
    return () unless defined $dir && length $dir;
    my @bad;
    for my $file (sort glob("$dir/*.csv")) {
        if (!-f $file) {
            push @bad, "Cannot read table file $file: not a regular file";
            next;
        }
        my $fh;
        unless (open($fh, '<:raw', $file)) {
            push @bad, "Cannot read table file $file: $!";
            next;
        }
        my $bytes = do { local $/; <$fh> } // '';
        CORE::close($fh);
        if ($bytes =~ /\A\xEF\xBB\xBF/) {
            push @bad, "Cannot read table file $file: it starts with a UTF-8 byte-order mark (tabdump writes none; "
              . 'remove the first three bytes)';
            next;
        }
        unless (eval { Encode::decode('UTF-8', $bytes, Encode::FB_CROAK()); 1 }) {
            my $line = 1 + (() = substr($bytes, 0, _first_bad_utf8($bytes)) =~ /\n/g);
            push @bad, "Cannot read table file $file: not valid UTF-8 (line $line)";
        }
    }
    return @bad;
}

# Offset of the first byte that is not part of valid UTF-8.
sub _first_bad_utf8 {
    my ($bytes) = @_;
    my $copy = $bytes;
    Encode::decode('UTF-8', $copy, Encode::FB_QUIET());
    return length($bytes) - length($copy);
}

=head3 read_csv($file, \%keys)

Parses a tabdump CSV file (UTF-8). Returns C<(\@columns, \@rows)> with each row a hash
reference, or an empty list if the file cannot be read. With C<%keys>, a table whose first
column is C<node> gives only the rows whose node is a key of C<%keys> (the others are not
parsed); an empty C<%keys> gives no row at all (the columns only).

=cut

sub read_csv {
    my ($file, $keys) = @_;
    open(my $fh, '<:encoding(UTF-8)', $file) or return;
    my ($columns, @rows, $by_node);
    while (my $line = <$fh>) {
        $line =~ s/\r?\n\z//;
        next if $line =~ /^\s*$/;
        if (!$columns) {
            next unless $line =~ s/^#//;
            $columns = [ split_csv_line($line) ];
            last if $keys && !%$keys;
            $by_node = $keys && $columns->[0] eq 'node';
            next;
        }
        next if $line =~ /^#/;
        if ($by_node) {
            # The node (first value) of the line, without a regex in the common shapes.
            my $comma = index($line, ',');
            my $first = $comma < 0 ? $line : substr($line, 0, $comma);
            if (index($first, '"') < 0) {
            } elsif (length($first) >= 2 && index($first, '"', 1) == length($first) - 1 && substr($first, 0, 1) eq '"') {
                $first = substr($first, 1, -1);
            } else {
                $first = $line =~ /^"((?:[^"]+|"")*)"/ ? $1 =~ s/""/"/gr : ($line =~ /^([^,]*)/)[0];
            }
            next unless exists $keys->{$first};
        }
        # Trailing empty values are no values: most columns of a row are empty.
        $line =~ s/,+\z//;
        my @values = split_csv_line($line);
        my $last = $#values < $#$columns ? $#values : $#$columns;
        my %row;
        @row{ @$columns[ 0 .. $last ] } = @values[ 0 .. $last ];
        next if defined $row{disable} && $row{disable} =~ /^(?:1|yes)$/i;
        delete @row{ grep { !defined $row{$_} || $row{$_} eq '' } keys %row };
        push @rows, \%row;
    }
    CORE::close($fh);
    return ($columns, \@rows);
}

=head3 split_csv_line($line)

Splits one CSV line into its values (quotes removed, C<""> unescaped).

=cut

sub split_csv_line {
    my ($line) = @_;
    my @values;
    # One pass with \G anchors: a value is a quoted run or the text up to the next comma;
    # whatever follows a closing quote other than a comma ends the line's values.
    pos($line) = 0;
    while (1) {
        if ($line =~ /\G"((?:[^"]+|"")*)"/gc) {
            (my $v = $1) =~ s/""/"/g;
            push @values, $v;
        } else {
            $line =~ /\G([^,]*)/gc;
            push @values, $1;
        }
        last unless $line =~ /\G,/gc;
    }
    return @values;
}

=head3 getAttribs($self, \%keys, @attrs)

Rows whose columns equal every value of C<%keys>, each reduced to C<@attrs> (a list or an array
reference). In list context all matches, in scalar context the first.

=cut

sub getAttribs {
    my ($self, $keys, @attrs) = @_;
    @attrs = @{ $attrs[0] } if @attrs == 1 && ref $attrs[0] eq 'ARRAY';
    my @found;
  ROW: for my $row (@{ $self->_rows }) {
        for my $k (keys %$keys) {
            next ROW unless defined $row->{$k} && $row->{$k} eq $keys->{$k};
        }
        push @found, { map { $_ => $row->{$_} } grep { defined $row->{$_} } @attrs };
    }
    return wantarray ? @found : $found[0];
}

=head3 getAllAttribs($self, @attrs)

Every row, each reduced to C<@attrs>.

=cut

sub getAllAttribs {
    my ($self, @attrs) = @_;
    @attrs = @{ $attrs[0] } if @attrs == 1 && ref $attrs[0] eq 'ARRAY';
    return map {
        my $row = $_;
        +{ map { $_ => $row->{$_} } grep { defined $row->{$_} } @attrs };
    } @{ $self->_rows };
}

=head3 getNodesAttribs($self, \@nodes, \@attrs)

Returns C<< { node => [ { attr => value, ... } ] } >> for each node that has a row of its own or
through one of its groups, as xCAT's does: only the requested columns that have a value, no
C<node> key, and C<[undef]> when none of them has one; nodes with no row at all are absent.

=cut

sub getNodesAttribs {
    my ($self, $nodes, $attrs) = @_;
    my $groups = $self->{name} eq 'nodelist' ? undef : _node_groups($self->{dir}, $nodes);
    # Only the rows of these nodes and of their groups are read (unless all are read already).
    my %wanted = map { ($_ => 1, map { $_ => 1 } @{ $groups->{$_} || [] }) } @$nodes;
    my $rows = $self->{rows} || (read_csv($self->{file}, \%wanted))[1] || [];
    my %bykey;
    for my $row (@$rows) {
        $bykey{ $row->{node} } //= $row if defined $row->{node};
    }
    my %result;
    for my $node (@$nodes) {
        my @sources = grep { defined } ($bykey{$node}, map { $bykey{$_} } @{ $groups->{$node} || [] });
        next unless @sources;
        my %entry;
        for my $attr (@$attrs) {
            for my $src (@sources) {
                if (defined $src->{$attr}) { $entry{$attr} = $src->{$attr}; last }
            }
        }
        $result{$node} = [ %entry ? \%entry : undef ];
    }
    return \%result;
}

=head3 getNodeAttribs($self, $node, \@attrs)

The entry of one node (see C<getNodesAttribs>), or undef.

=cut

sub getNodeAttribs {
    my ($self, $node, $attrs) = @_;
    my $h = $self->getNodesAttribs([$node], $attrs);
    return ref $h->{$node} eq 'ARRAY' ? $h->{$node}->[0] : undef;
}

=head3 close($self)

Nothing to release; present because xCAT code calls it.

=cut

sub close { return }

# The groups of each of @$nodes, from nodelist.csv.
sub _node_groups {
    my ($dir, $nodes) = @_;
    my ($cols, $rows) = read_csv("$dir/nodelist.csv", { map { $_ => 1 } @$nodes });
    my %groups;
    for my $row (@{ $rows || [] }) {
        next unless defined $row->{node};
        $groups{ $row->{node} } = [ grep { length } split /,/, ($row->{groups} // '') ];
    }
    return \%groups;
}

1;
