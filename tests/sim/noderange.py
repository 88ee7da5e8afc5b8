"""The fleet's noderanges: the agent's own expander (``common/noderange.py``), re-exported here."""

from common.noderange import MAX_NAMES, parse_noderange

__all__ = ['MAX_NAMES', 'parse_noderange']
