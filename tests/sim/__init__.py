"""Simulated BMC fleet (OpenBMC REST and Redfish) on loopback, with its control API and client helpers.

The fleet shares code with the agent (the noderange expander), so the agent's directory goes on
``sys.path`` here: ``PYTHONPATH=tests python -m sim.fleet`` works from any checkout.
"""

import os
import sys

_AGENT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      'xCAT-openbmc-py', 'lib', 'python', 'agent')
if _AGENT not in sys.path:
    sys.path.append(_AGENT)
