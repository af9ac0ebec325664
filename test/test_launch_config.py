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
import os
from pathlib import Path
import signal
import subprocess
import sys

from conftest import executable, install_in_ament_prefix, REPO, wait_until
from mono_depth_ros.launch_config import (installed_executable, LAUNCH_ARGUMENTS,
                                          node_configuration, node_exit_reason, rviz_executable,
                                          share_directory)
from mono_depth_ros.models.registry import DEMO_MODEL
from mono_depth_ros.node import PARAMS
import pytest
from rcl_interfaces.srv import GetParameters
from ros_rig import Rig
from test_lifecycle_node import ACTIVATE, CONFIGURE, LifecycleManager
import yaml

LAUNCH_FILE = REPO / 'launch' / 'mono_depth.launch.py'


@pytest.fixture
def rviz2(tmp_path, monkeypatch) -> Path:
    """Put an RViz 2 (a script in an ament prefix of its own) in the ament index; return it."""
    return install_in_ament_prefix(tmp_path / 'rviz_prefix', 'rviz2', {'rviz2': '#!/bin/sh\n'},
                                   monkeypatch)


def test_defaults_load_the_default_preset_and_remap_nothing():
    configuration = node_configuration({})
    assert configuration.parameters == [str(share_directory() / 'config' / 'default.yaml')]
    assert node_configuration({'config': ''}).parameters == []
    assert configuration.namespace == ''
    assert configuration.rviz_config is None
    assert configuration.executable == 'mono_depth_node' and not configuration.lifecycle
    assert dict(configuration.remappings) == {'image': 'image',
                                              'image/compressed': 'image/compressed',
                                              'camera_info': 'camera_info'}


def test_arguments_become_parameters_and_remappings(rviz2):
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


def test_lifecycle_selects_the_managed_node():
    configuration = node_configuration({'lifecycle': 'true', 'namespace': 'front'})
    assert configuration.lifecycle
    assert configuration.executable == 'mono_depth_lifecycle_node'
    assert configuration.namespace == 'front'


def test_the_shipped_shared_memory_profile_is_passed_to_the_node(monkeypatch):
    monkeypatch.delenv('FASTDDS_DEFAULT_PROFILES_FILE', raising=False)
    monkeypatch.delenv('ROS_DISTRO', raising=False)
    environment = node_configuration({}).environment
    assert environment['FASTDDS_DEFAULT_PROFILES_FILE'].endswith('config/fastdds_shm.xml')
    assert environment['RMW_FASTRTPS_USE_QOS_FROM_XML'] == '1'
    monkeypatch.setenv('FASTDDS_DEFAULT_PROFILES_FILE', '/my/profile.xml')
    assert node_configuration({}).environment == {}


@pytest.mark.parametrize('arguments, message', [
    ({'config': 'no_such_preset'}, 'presets: default'),
    ({'publish_points': 'yes'}, 'publish_points:=yes must be true or false'),
    ({'rviz': 'maybe'}, 'rviz:=maybe'),
    ({'lifecycle': 'on'}, 'lifecycle:=on must be true or false'),
    ({'modle': 'lite-mono'}, 'unknown launch arguments: modle'),
])
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        node_configuration(arguments)


def test_rviz_without_rviz2_is_refused_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))  # an ament index without rviz2
    with pytest.raises(ValueError, match=r"rviz:=true: RViz 2 \(package 'rviz2'\) is not "
                       r'installed.*ros-\$ROS_DISTRO-rviz2\) or launch with rviz:=false'):
        node_configuration({'rviz': 'true'})
    assert node_configuration({'rviz': 'false'}).rviz_config is None


def test_rviz_found_as_ros2_run_finds_it(rviz2):
    assert rviz_executable() == rviz2 / 'rviz2'
    (rviz2 / 'rviz2').chmod(0o644)  # present but not executable: not usable
    with pytest.raises(ValueError, match='rviz2'):
        rviz_executable()


@pytest.mark.parametrize('returncode, shutting_down, reason', [
    (1, False, 'mono_depth_node exited with code 1; its error is in the log above'),
    (-11, False, 'mono_depth_node exited with code -11'),
    (0, False, 'mono_depth_node exited'),
    (0, True, None),
    (-2, True, None),  # stopped by the launch's own shutdown (Ctrl-C)
])
def test_the_launch_ends_when_the_node_exits_on_its_own(returncode, shutting_down, reason):
    found = node_exit_reason(returncode, shutting_down)
    assert found == reason if reason is None else found.startswith(reason)


def test_every_preset_sets_only_declared_parameters():
    declared = {param.name for param in PARAMS}
    for preset in (REPO / 'config').glob('*.yaml'):
        parameters = yaml.safe_load(preset.read_text())['/**']['ros__parameters']
        names = {f'{key}.{sub}' if isinstance(value, dict) else key
                 for key, value in parameters.items()
                 for sub in (value if isinstance(value, dict) else [None])}
        assert names <= declared, (preset.name, names - declared)


def test_presets_on_device_auto_run_on_a_cpu():
    # device auto resolves to the CPU on a machine without a GPU, where fp16 cannot run.
    for preset in (REPO / 'config').glob('*.yaml'):
        parameters = yaml.safe_load(preset.read_text())['/**']['ros__parameters']
        if parameters.get('device', 'auto') == 'auto':
            assert parameters.get('precision', 'fp32') != 'fp16', preset.name


def test_launch_file_declares_every_argument_and_uses_the_tested_mapping():
    source = LAUNCH_FILE.read_text()
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    assert {'LAUNCH_ARGUMENTS', 'node_configuration'} <= imported
    functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert 'generate_launch_description' in functions
    assert 'executable=configuration.executable' in source
    assert set(LAUNCH_ARGUMENTS) >= {'model', 'config', 'namespace', 'image', 'camera_info',
                                     'device', 'precision', 'input_qos', 'output_qos',
                                     'publish_points', 'rviz', 'lifecycle'}


# The real launch file, run as `ros2 launch` runs it (when launch and launch_ros are installed)

# What ros2launch's launch_a_launch_file does: include the file with its arguments, run, exit with
# the launch service's return code.
LAUNCHER = """
import sys
from launch import LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
service = LaunchService(argv=sys.argv[2:])
service.include_launch_description(IncludeLaunchDescription(
    PythonLaunchDescriptionSource(sys.argv[1]),
    launch_arguments=[argument.split(':=', 1) for argument in sys.argv[2:]]))
sys.exit(service.run())
"""


@pytest.fixture
def ros2_launch(tmp_path, monkeypatch):
    """Return a function that runs the launch file with arguments in a process of its own."""
    for module in ('launch', 'launch_ros'):
        pytest.importorskip(module, reason=f'{module} is not installed (it has no wheel; a ROS 2 '
                            'installation or a source install provides it)')
    if installed_executable('mono_depth_ros', 'mono_depth_node') is None:  # a pip install
        share = share_directory()  # the source checkout: config/ and launch/
        lib = install_in_ament_prefix(tmp_path / 'prefix', 'mono_depth_ros', {}, monkeypatch)
        for name in ('mono_depth_node', 'mono_depth_lifecycle_node'):
            (lib / name).symlink_to(executable(name))
        (lib.parents[1] / 'share' / 'mono_depth_ros').symlink_to(share)

    def start(*arguments: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, '-c', LAUNCHER, str(LAUNCH_FILE), *arguments],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=tmp_path, start_new_session=True)
    return start


def finish(process: subprocess.Popen, timeout: float = 120) -> str:
    """Wait for the launch to end by itself; return its output."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f'the launch did not end within {timeout} s:\n{output}')
    return output


def test_launch_without_rviz2_fails_before_starting_anything(ros2_launch, tmp_path, monkeypatch):
    try:
        pytest.skip(f'RViz 2 is installed here ({rviz_executable()})')
    except ValueError:
        pass
    output = finish(ros2_launch('rviz:=true'))
    assert "rviz:=true: RViz 2 (package 'rviz2') is not installed" in output
    assert 'process started' not in output  # neither the node nor anything else ran


def test_a_node_that_dies_at_start_ends_the_launch_and_rviz_with_an_error(
        ros2_launch, tmp_path, monkeypatch):
    # An RViz that says where it runs and then waits like the real one.
    started = tmp_path / 'rviz_started'
    install_in_ament_prefix(tmp_path / 'rviz_prefix', 'rviz2', {
        'rviz2': f'#!/bin/sh\necho $$ "$@" > {started}\nexec sleep 600\n'}, monkeypatch)
    params = tmp_path / 'bad.yaml'
    params.write_text(yaml.safe_dump({'/**': {'ros__parameters': {'depth_encoding': '8UC1'}}}))
    launch = ros2_launch(f'config:={params}', 'rviz:=true')
    output = finish(launch)
    assert launch.returncode != 0, output
    assert "parameter 'depth_encoding' is '8UC1'; allowed: 32FC1, 16UC1" in output
    assert 'mono_depth_node exited with code 1' in output
    # RViz ran with the shipped display and was stopped with the launch: nothing is left behind.
    assert wait_until(started.exists, 5), output
    pid, *arguments = started.read_text().split()
    assert arguments[:2] == ['-d', str(share_directory() / 'config' / 'mono_depth.rviz')]
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)


def test_the_default_launch_runs_the_default_preset_until_ctrl_c(ros2_launch, graph):
    # The preset with the demo model: its model auto would download weights (no network here).
    launch = ros2_launch(f'model:={DEMO_MODEL}')
    rig = graph.add(Rig(outputs=()))
    client = rig.create_client(GetParameters, '/mono_depth_node/get_parameters')
    try:
        assert wait_until(lambda: client.service_is_ready() or launch.poll() is not None,
                          120) and launch.poll() is None, finish_after_sigint(launch)
        future = client.call_async(GetParameters.Request(names=['points_rgb', 'max_depth']))
        assert wait_until(future.done, 30), finish_after_sigint(launch)
    finally:
        output = finish_after_sigint(launch)
    # config/default.yaml's values, not the node's defaults (false, 100.0)
    points_rgb, max_depth = future.result().values
    assert (points_rgb.bool_value, max_depth.double_value) == (True, 20.0), output
    assert launch.returncode == 0, output
    assert '[mono_depth_node-1]: process has finished cleanly' in output, output


def finish_after_sigint(launch: subprocess.Popen) -> str:
    """Press Ctrl-C in the launch's terminal (its whole process group); return its output."""
    if launch.poll() is None:
        os.killpg(launch.pid, signal.SIGINT)
    return finish(launch, timeout=60)


def test_lifecycle_launch_starts_the_managed_node_for_a_lifecycle_manager(ros2_launch, graph):
    launch = ros2_launch('lifecycle:=true', f'model:={DEMO_MODEL}')
    manager = graph.add(LifecycleManager())
    try:
        assert wait_until(lambda: manager.get.service_is_ready() or launch.poll() is not None,
                          120) and launch.poll() is None, finish_after_sigint(launch)
        assert manager.state() == 'unconfigured'
        assert manager.transition(CONFIGURE) and manager.transition(ACTIVATE)
        assert manager.state() == 'active'
    finally:
        output = finish_after_sigint(launch)
    assert launch.returncode == 0, output
    assert '[mono_depth_lifecycle_node-1]: process has finished cleanly' in output, output
