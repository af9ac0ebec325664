"""flake8 and pep257 (pydocstyle) over the package, launch files and tests, as ament does."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

PATHS = ['mono_depth_ros', 'launch', 'test', 'setup.py']


@pytest.mark.parametrize('tool, arguments', [
    ('flake8', PATHS),
    ('pydocstyle', ['mono_depth_ros', 'launch']),
])
def test_code_style(tool, arguments):
    result = subprocess.run([sys.executable, '-m', tool, *arguments], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_xml_is_well_formed_and_matches_setup():
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.parse(REPO / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'mono_depth_ros'
    assert root.findtext('export/build_type') == 'ament_python'
    setup = (REPO / 'setup.py').read_text()
    assert f"version='{root.findtext('version')}'" in setup
