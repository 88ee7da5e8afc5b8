"""Noderange expansion: comma lists, ``name[001-010]``, ``name[1,3,5-7]`` and ``name001-name010``.

The one Python expander: ``client.py`` uses it for its NODES argument, and the simulated fleet
(``tests/sim``) for its control API and ``--faults``. It covers the subset of xCAT's noderange
syntax those need (no groups, regular expressions or ``^file``). The Perl runner
(``perl/runner/lib``) has its own, for the same subset, because it runs without Python.
"""

import re

#: ``prefix[inner]suffix`` with one bracket group.
_BRACKET = re.compile(r'^(?P<pre>[^\[\]]*)\[(?P<inner>[^\[\]]+)\](?P<post>[^\[\]]*)$')

#: ``prefix001-prefix010`` (same prefix and suffix on both ends).
_DASH = re.compile(r'^(?P<pre>.*?)(?P<a>\d+)(?P<post>\D*)-(?P=pre)(?P<b>\d+)(?P=post)$')

#: Bound on the names one expression may produce, so a typo cannot eat the fleet's memory.
MAX_NAMES = 1000000


def _split_top(text):
    """Split at commas that are not inside brackets."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == '[':
            depth += 1
        elif ch == ']':
            depth -= 1
        if ch == ',' and depth == 0:
            parts.append(''.join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append(''.join(cur))
    return parts


def _numbers(first, last):
    """Expand ``first..last`` keeping the zero padding of ``first``."""
    lo, hi = int(first), int(last)
    if hi < lo:
        raise ValueError('range %s-%s runs backwards' % (first, last))
    if hi - lo >= MAX_NAMES:
        raise ValueError('range %s-%s is too large' % (first, last))
    width = len(first)
    return ['%0*d' % (width, n) for n in range(lo, hi + 1)]


def _expand_token(token):
    """Expand one comma-free token into names."""
    match = _BRACKET.match(token)
    if match:
        out = []
        for piece in match.group('inner').split(','):
            first, sep, last = piece.partition('-')
            if not first.isdigit() or (sep and not last.isdigit()):
                raise ValueError('bad bracket range %r' % token)
            numbers = _numbers(first, last) if sep else [first]
            out.extend(match.group('pre') + n + match.group('post') for n in numbers)
        return out
    if '[' in token or ']' in token:
        raise ValueError('bad bracket range %r' % token)
    match = _DASH.match(token)
    if match:
        return [match.group('pre') + n + match.group('post')
                for n in _numbers(match.group('a'), match.group('b'))]
    return [token]


def parse_noderange(expr, known=None):
    """Expand a noderange into node names.

    :param expr: a string (``'node001,node[003-005],node010-node012'``; ``all`` means every known
        node) or a list/tuple of such strings.
    :param known: optional sequence of valid names; when given, ``all`` is allowed and unknown names
        raise.
    :returns: the names in order of first appearance, without duplicates.
    :raises ValueError: on malformed ranges or (with ``known``) unknown names.
    """
    if isinstance(expr, (list, tuple)):
        tokens = []
        for item in expr:
            tokens.extend(_split_top(str(item)))
    else:
        tokens = _split_top(str(expr))
    names, seen = [], set()
    for token in tokens:
        token = token.strip()
        if not token:
            continue
        if token == 'all' and known is not None:
            expanded = list(known)
        else:
            expanded = _expand_token(token)
        for name in expanded:
            if name not in seen:
                seen.add(name)
                names.append(name)
    if known is not None:
        valid = known if isinstance(known, (set, frozenset, dict)) else set(known)
        unknown = [n for n in names if n not in valid]
        if unknown:
            more = ' (and %d more)' % (len(unknown) - 5) if len(unknown) > 5 else ''
            raise ValueError('unknown node(s): %s%s' % (', '.join(unknown[:5]), more))
    if not names:
        raise ValueError('empty noderange %r' % (expr,))
    return names
