# Copyright 2026 The mono_depth_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""The README documents what users see: every parameter, command, preset and model family."""
from __future__ import annotations

from conftest import REPO
from mono_depth_ros.cli import COMMANDS
from mono_depth_ros.launch_config import LAUNCH_ARGUMENTS
from mono_depth_ros.models.registry import list_models
from mono_depth_ros.node import PARAMS
import pytest

README = (REPO / 'README.md').read_text()


@pytest.mark.parametrize('name', [p.name for p in PARAMS])
def test_every_parameter_is_in_the_table(name):
    assert f'| `{name}`' in README


@pytest.mark.parametrize('name', list(COMMANDS) + list(LAUNCH_ARGUMENTS))
def test_every_command_and_launch_argument_is_shown(name):
    assert name in README


@pytest.mark.parametrize('preset', sorted(p.stem for p in (REPO / 'config').glob('*.yaml')))
def test_every_preset_is_listed(preset):
    assert f'`{preset}`' in README


def test_every_family_and_license_is_in_the_zoo_table():
    for spec in list_models():
        family_names = {'joint-refinenet': 'joint-mnv3-synthetic', 'lite-mono': 'lite-mono',
                        'depth-anything-v2': 'depth-anything-v2', 'fastdepth': 'fastdepth',
                        'multitask-refinenet': 'mtrn-', 'dpt': 'dpt-hybrid-',
                        'unet-ffm': 'unet-ffm-mnv3'}
        assert family_names[spec.family] in README, spec.name
        assert spec.license_terms.split()[0] in README, spec.name


def test_the_two_commands_are_the_makefile_targets_and_ci_runs_the_test_one():
    assert 'make run' in README and 'make test' in README
    assert 'make test' in (REPO / '.ci' / 'run').read_text()
    makefile = (REPO / 'Makefile').read_text()
    assert '\nrun: ' in makefile and '\ntest: ' in makefile
