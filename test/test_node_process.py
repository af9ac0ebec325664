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

"""
The installed executables as separate processes: params files, QoS overrides, entry points.

The node runs in its own process and talks to the test over real DDS (with the shipped Fast DDS
shared-memory profile), as it does on a robot.
"""
from __future__ import annotations

import json
from pathlib import Path
import shutil
import socket
import subprocess

from conftest import (executable, install_in_ament_prefix, needs_shared, random_official_weights,
                      REPO, wait_until)
import cv2
from mono_depth_ros import ros_io
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.demo import interrupt
from mono_depth_ros.models.registry import DEMO_MODEL, get_spec, resolve_auto
from mono_depth_ros.weights import official_cache_path
import numpy as np
import pytest
from rclpy.qos import ReliabilityPolicy
from ros_rig import Rig
from test_node import send_until_received
from test_weights import server  # noqa: F401 (a fixture: a real HTTP server on 127.0.0.1)
import yaml

PRESETS = sorted(p for p in (REPO / 'config').glob('*.yaml') if not p.stem.startswith('qos_'))
QOS_PRESETS = sorted((REPO / 'config').glob('qos_*.yaml'))


def test_executables_are_found_where_ros2_run_finds_them(tmp_path, monkeypatch):
    # A colcon install: the package in the ament index, its scripts in lib/mono_depth_ros.
    lib = install_in_ament_prefix(tmp_path / 'install', 'mono_depth_ros',
                                  {'camera_player': '#!/bin/sh\n'}, monkeypatch)
    script = lib / 'camera_player'
    assert executable('camera_player') == str(script)
    # A pip install: the console script of the environment.
    monkeypatch.delenv('AMENT_PREFIX_PATH')
    found = executable('camera_player')
    assert found != str(script) and found.endswith('/camera_player')
    with pytest.raises(FileNotFoundError, match="'no_such_script' not found"):
        executable('no_such_script')


class Process:
    """A console script run for the length of a test; its output is kept for the assertions."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)

    def stop(self) -> str:
        """Interrupt it like Ctrl-C; return everything it printed."""
        return interrupt(self.process)


@pytest.fixture
def processes():
    """Yield a list for the processes a test starts; stop them at its end."""
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


@pytest.mark.parametrize('preset', PRESETS, ids=lambda p: p.stem)
def test_every_preset_starts_the_node_with_its_parameters(graph, processes, tmp_path, preset):
    parameters = yaml.safe_load(preset.read_text())['/**']['ros__parameters']
    model = parameters['model']
    if model == 'auto':  # what it resolves to on this machine's CPU
        model = resolve_auto('cpu', parameters.get('scene', 'indoor'))[1].model
    weights = random_official_weights(model, tmp_path)
    node = Process(executable('mono_depth_node'), '--ros-args', '--params-file', str(preset),
                   '-p', f'weights:={weights}', '-p', 'device:=cpu', '-p', 'precision:=fp32')
    processes.append(node)
    rig = graph.add(Rig(outputs=()))
    assert wait_until(lambda: rig.diagnostics or node.process.poll() is not None, 120), \
        node.stop()
    assert node.process.poll() is None, node.stop()
    values = rig.latest_diagnostics(timeout=10)
    assert values['model'] == model
    assert values['device'] == 'cpu'
    if 'scale' in parameters:
        assert values['scale'].startswith(parameters['scale']['policy'])


def no_network_and_a_cache(monkeypatch, cache: Path) -> None:
    """Give the processes started from now on ``cache`` and no way to the internet."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv('https_proxy', f'http://127.0.0.1:{port}')  # nothing listens there
    monkeypatch.delenv('no_proxy', raising=False)
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(cache))


def test_default_node_in_its_own_process_serves_a_640x480_camera(
        graph, processes, tmp_path, monkeypatch):
    no_network_and_a_cache(monkeypatch, tmp_path / 'cache')
    target = official_cache_path(get_spec('fastdepth-nyu-int8'))  # model auto on this CPU
    target.parent.mkdir(parents=True)
    shutil.copy(needs_shared('weights', 'fastdepth_nyu_224_int8.tflite'), target)
    node = Process(executable('mono_depth_node'), '--ros-args', '--params-file',
                   str(REPO / 'config' / 'default.yaml'))
    processes.append(node)
    rig = graph.add(Rig(outputs=('depth/image', 'depth/points')))
    assert wait_until(lambda: rig.count_subscribers('/image') > 0, 120), node.stop()
    scene = SyntheticScenes(seed=3, count=1, width=640, height=480)[0]
    header, depth = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    cloud = rig.wait_for('depth/points', header)
    assert (depth.height, depth.width) == (480, 640)
    points, colours = ros_io.cloud_to_points(cloud)
    assert points.shape == (480, 640, 3) and colours is not None  # points_rgb in default.yaml
    z = ros_io.depth_from_image(depth)
    in_range = (z >= 0.1) & (z <= 20.0)
    np.testing.assert_allclose(points[..., 2][in_range], z[in_range], rtol=1e-6)
    assert rig.latest_diagnostics()['model'] == 'fastdepth-nyu-int8'
    output = node.stop()
    assert "model 'auto' on cpu, scene indoor: fastdepth-nyu-int8" in output
    assert f'weights {target}' in output


def test_default_node_offline_without_weights_exits_with_one_message(tmp_path, monkeypatch):
    no_network_and_a_cache(monkeypatch, tmp_path / 'cache')
    result = subprocess.run([executable('mono_depth_node'), '--ros-args', '--params-file',
                             str(REPO / 'config' / 'default.yaml')],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    fatal = [line for line in output.splitlines() if '[FATAL]' in line]
    assert len(fatal) == 1 and 'Traceback' not in output, output
    target = official_cache_path(get_spec('fastdepth-nyu-int8'))
    for part in ("model 'fastdepth-nyu-int8'", 'fast_depth_224.tflite', f'put it at {target}',
                 '`mono-depth download fastdepth-nyu-int8`'):
        assert part in fatal[0], part


def test_first_start_downloads_with_progress_in_the_log(graph, processes, tmp_path, monkeypatch,
                                                        server):  # noqa: F811 (the fixture)
    no_network_and_a_cache(monkeypatch, tmp_path / 'cache')
    data = needs_shared('weights', 'fastdepth_nyu_224_int8.tflite').read_bytes()
    server.files['/models/fast_depth_224.tflite'] = data
    node = Process(executable('mono_depth_node'), '--ros-args', '-p', 'model:=fastdepth-nyu-int8',
                   '-p', f'weights:={server.url}/models/fast_depth_224.tflite')
    processes.append(node)
    rig = graph.add(Rig(outputs=()))
    assert wait_until(lambda: rig.diagnostics or node.process.poll() is not None, 120), \
        node.stop()
    output = node.stop()
    size = f'{len(data) / 1e6:.1f}'
    assert f'downloading the weights of fastdepth-nyu-int8: 0.0 of {size} MB' in output
    assert f'downloading the weights of fastdepth-nyu-int8: {size} of {size} MB' in output
    downloaded = list((tmp_path / 'cache' / 'fastdepth-nyu-int8').glob('*fast_depth_224.tflite'))
    assert len(downloaded) == 1 and downloaded[0].read_bytes() == data
    assert server.requests == [('/models/fast_depth_224.tflite', None)]


@pytest.mark.parametrize('preset', QOS_PRESETS, ids=lambda p: p.stem)
def test_qos_presets_and_overrides(graph, processes, tmp_path, preset):
    overrides = tmp_path / 'overrides.yaml'
    overrides.write_text(yaml.safe_dump({'/**': {'ros__parameters': {'qos_overrides': {
        '/depth/colorized': {'publisher': {'reliability': 'best_effort'}}}}}}))
    node = Process(executable('mono_depth_node'), '--ros-args', '--params-file', str(preset),
                   '--params-file', str(overrides), '-p', f'model:={DEMO_MODEL}')
    processes.append(node)
    rig = graph.add(Rig(outputs=()))
    assert wait_until(lambda: rig.get_publishers_info_by_topic('/depth/image')
                      and rig.get_publishers_info_by_topic('/depth/colorized'), 120), node.stop()
    expected = yaml.safe_load(preset.read_text())['/**']['ros__parameters']['output_qos']
    depth_qos = rig.get_publishers_info_by_topic('/depth/image')[0].qos_profile
    reliable = expected.startswith(('reliable', 'default'))
    assert (depth_qos.reliability == ReliabilityPolicy.RELIABLE) == reliable
    colour_qos = rig.get_publishers_info_by_topic('/depth/colorized')[0].qos_profile
    assert colour_qos.reliability == ReliabilityPolicy.BEST_EFFORT


def test_a_bad_parameter_stops_the_node_with_a_message():
    result = subprocess.run([executable('mono_depth_node'), '--ros-args', '-p',
                             'depth_encoding:=8UC1'], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "parameter 'depth_encoding' is '8UC1'; allowed: 32FC1, 16UC1" in result.stderr


def test_camera_player_publishes_frames_with_camera_info(graph, processes):
    player = Process(executable('camera_player'), '--ros-args', '-p', 'rate:=20.0',
                     '-p', 'width:=160', '-p', 'height:=120', '-p', 'encoding:=bgr8')
    processes.append(player)
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image

    received = {}
    listener = graph.add(Rig(outputs=(), name='listener'))
    listener.create_subscription(Image, 'image', lambda m: received.setdefault('image', m),
                                 qos_profile_sensor_data)
    listener.create_subscription(CameraInfo, 'camera_info',
                                 lambda m: received.setdefault('info', m),
                                 qos_profile_sensor_data)
    listener.create_subscription(Image, 'ground_truth/depth',
                                 lambda m: received.setdefault('truth', m),
                                 qos_profile_sensor_data)
    assert wait_until(lambda: len(received) == 3, 60), player.stop()
    assert received['image'].encoding == 'bgr8'
    assert (received['image'].width, received['info'].width) == (160, 160)
    assert received['truth'].encoding == '32FC1'


@pytest.mark.parametrize('args, expected', [
    (['--help'], 'parity'),
    (['models'], 'joint-mnv3-synthetic'),
    (['parity', '--help'], 'golden'),
])
def test_mono_depth_command(args, expected):
    result = subprocess.run([executable('mono-depth'), *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_the_main_job_writes_depth_cloud_and_accuracy(tmp_path):
    out = tmp_path / 'out'
    result = subprocess.run([executable('mono-depth'), 'demo', '--out', str(out), '--duration',
                             '4', '--rate', '4'], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ('depth.png', 'depth_colorized.png', 'points.ply', 'segmentation.png',
                 'overview.png', 'summary.json'):
        assert (out / name).is_file(), name
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['depth_images_received'] >= 1
    accuracy = summary['accuracy_vs_ground_truth']
    assert accuracy['images'] >= 1 and 0 <= accuracy['abs_rel'] and 0 <= accuracy['miou'] <= 1
    depth = cv2.imread(str(out / 'depth.png'), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == (240, 320) and depth.max() > 0
    assert (out / 'points.ply').read_bytes().startswith(b'ply\nformat binary_little_endian')
    assert 'AbsRel' in result.stdout and 'mIoU' in result.stdout
