"""Packaging metadata for xCAT-openbmc-py.

The supported install is ``make install PREFIX=/opt/xcat``: xcatd's broker runs the agent
from PREFIX/lib/python/agent, where ``agent.py`` puts its own directory first on sys.path
(as xCAT's package does). This file records the same metadata and runtime dependencies for
tools that read setup.py; ``make venv`` installs the dependencies from requirements*.txt.
"""

import pathlib

from setuptools import setup

HERE = pathlib.Path(__file__).resolve().parent
AGENT = 'xCAT-openbmc-py/lib/python/agent'


def requirements(name):
    lines = (HERE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(('#', '-r'))]


setup(
    name='xCAT-openbmc-py',
    version='0.1.0',
    description="xCAT's parallel BMC control agent (OpenBMC REST and Redfish) and its broker",
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    license='EPL-1.0',
    python_requires='>=3.11',
    package_dir={'': AGENT},
    packages=['common', 'hwctl', 'hwctl.executor', 'xcatagent'],
    py_modules=['agent', 'client'],
    install_requires=requirements('requirements.txt'),
    extras_require={'test': requirements('requirements-dev.txt')},
)
