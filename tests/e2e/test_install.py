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
    helpers = ['lib/perl/xCAT/PyAgent.pm'] + sorted(
        'lib/perl/xCAT/PyAgent/%s' % p.name for p in (REPO / 'perl' / 'xCAT' / 'PyAgent').glob('*.pm'))
    assert {'lib/perl/xCAT/PyAgent/Frame.pm', 'lib/perl/xCAT/PyAgent/Run.pm',
            'lib/perl/xCAT/PyAgent/Commands.pm'} <= set(helpers)
    # every helper module is installed, and the runner's stand-ins for xCAT's own modules never are
    assert sorted(f for f in files if f.startswith('lib/perl/xCAT/')) == sorted(helpers)
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
