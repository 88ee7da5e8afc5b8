"""make install puts the agent, plugins and helper module where xCAT keeps them, and nothing else."""

import os
import stat
import subprocess
import sys

from conftest import REPO


def test_make_install_layout_and_the_installed_agent_runs(tmp_path):
    prefix = tmp_path / 'opt' / 'xcat'
    subprocess.run(['make', '-s', 'install', 'PREFIX=%s' % prefix], cwd=REPO, check=True,
                   capture_output=True, timeout=120)
    files = sorted(str(p.relative_to(prefix)) for p in prefix.rglob('*') if p.is_file())
    assert 'lib/perl/xCAT_plugin/openbmc2.pm' in files
    assert 'lib/perl/xCAT_plugin/redfish.pm' in files
    assert 'lib/perl/xCAT/PyAgent.pm' in files
    # the runner's stand-ins for xCAT's own modules never reach an xCAT install
    # (the helper module may be split into lib/perl/xCAT/PyAgent/*.pm)
    assert not any(f.startswith('lib/perl/xCAT/') and f != 'lib/perl/xCAT/PyAgent.pm'
                   and not (f.startswith('lib/perl/xCAT/PyAgent/') and f.endswith('.pm')) for f in files)
    assert not any('test' in f or '__pycache__' in f for f in files)
    agent = prefix / 'lib' / 'python' / 'agent' / 'agent.py'
    assert stat.S_IMODE(os.stat(agent).st_mode) == 0o755
    help_text = subprocess.run([sys.executable, str(agent), '--help'], capture_output=True, text=True,
                               timeout=60, check=True).stdout
    assert '--sock' in help_text and '--lockfile' in help_text and '--standalone' in help_text
    # the plugins compile against the runner's stand-ins, with the installed helper module first
    for plugin in ('openbmc2.pm', 'redfish.pm'):
        subprocess.run(['perl', '-I%s' % (prefix / 'lib' / 'perl'), '-I%s' % (REPO / 'perl' / 'runner' / 'lib'),
                        '-c', str(prefix / 'lib' / 'perl' / 'xCAT_plugin' / plugin)],
                       check=True, capture_output=True, timeout=60)
