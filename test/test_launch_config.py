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

"""The launch file's logic, and the launch file as far as it can be checked without launch."""
from __future__ import annotations

import ast

from conftest import REPO
from mono_depth_ros.launch_config import LAUNCH_ARGUMENTS, node_configuration
from mono_depth_ros.node import PARAMS
import pytest
import yaml

LAUNCH_FILE = REPO / 'launch' / 'mono_depth.launch.py'


def test_defaults_remap_nothing_and_set_no_parameters():
    configuration = node_configuration({})
    assert configuration.parameters == []
    assert configuration.namespace == ''
    assert configuration.rviz_config is None
    assert dict(configuration.remappings) == {'image': 'image',
                                              'image/compressed': 'image/compressed',
                                              'camera_info': 'camera_info'}


def test_arguments_become_parameters_and_remappings():
    configuration = node_configuration({
        'model': 'lite-mono', 'config': 'lite_mono_kitti', 'namespace': 'front',
        'image': '/camera/color/image_raw', 'camera_info': '/camera/color/camera_info',
        'device': 'cuda:0', 'precision': 'fp16', 'input_qos': 'reliable:5',
        'output_qos': 'sensor_data', 'publish_points': 'False', 'rviz': 'true'})
    preset, overrides = configuration.parameters
    assert preset.endswith('config/lite_mono_kitti.yaml')
    assert overrides == {'model': 'lite-mono', 'device': 'cuda:0', 'precision': 'fp16',
                         'input_qos': 'reliable:5', 'output_qos': 'sensor_data',
                         'publish_points': False}
    assert ('image/compressed', '/camera/color/image_raw/compressed') in configuration.remappings
    assert ('camera_info', '/camera/color/camera_info') in configuration.remappings
    assert configuration.namespace == 'front'
    assert configuration.rviz_config.name == 'mono_depth.rviz'
    assert configuration.rviz_config.is_file()


def test_the_shipped_shared_memory_profile_is_passed_to_the_node(monkeypatch):
    monkeypatch.delenv('FASTDDS_DEFAULT_PROFILES_FILE', raising=False)
    monkeypatch.delenv('ROS_DISTRO', raising=False)
    environment = node_configuration({}).environment
    assert environment['FASTDDS_DEFAULT_PROFILES_FILE'].endswith('config/fastdds_shm.xml')
    monkeypatch.setenv('FASTDDS_DEFAULT_PROFILES_FILE', '/my/profile.xml')
    assert node_configuration({}).environment == {}


@pytest.mark.parametrize('arguments, message', [
    ({'config': 'no_such_preset'}, 'presets: default'),
    ({'publish_points': 'yes'}, 'publish_points:=yes must be true or false'),
    ({'rviz': 'maybe'}, 'rviz:=maybe'),
    ({'modle': 'lite-mono'}, 'unknown launch arguments: modle'),
])
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        node_configuration(arguments)


def test_every_preset_sets_only_declared_parameters():
    declared = {param.name for param in PARAMS}
    for preset in (REPO / 'config').glob('*.yaml'):
        parameters = yaml.safe_load(preset.read_text())['/**']['ros__parameters']
        names = {f'{key}.{sub}' if isinstance(value, dict) else key
                 for key, value in parameters.items()
                 for sub in (value if isinstance(value, dict) else [None])}
        assert names <= declared, (preset.name, names - declared)


def test_launch_file_declares_every_argument_and_uses_the_tested_mapping():
    source = LAUNCH_FILE.read_text()
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    assert {'LAUNCH_ARGUMENTS', 'node_configuration'} <= imported
    functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert 'generate_launch_description' in functions
    assert "executable='mono_depth_node'" in source
    assert set(LAUNCH_ARGUMENTS) >= {'model', 'config', 'namespace', 'image', 'camera_info',
                                     'device', 'precision', 'input_qos', 'output_qos',
                                     'publish_points', 'rviz'}
