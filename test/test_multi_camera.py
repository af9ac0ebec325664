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

"""Several cameras, one model: the real node serving three cameras over real DDS."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

from conftest import REPO, wait_until
from mono_depth_ros import ros_io
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.registry import DEMO_MODEL
from mono_depth_ros.node import MonoDepthNode
from mono_depth_ros.params import ConfigError
import numpy as np
import pytest
from rclpy.parameter import Parameter
from ros_rig import Rig

CAMERAS = ('front', 'left', 'right')
STAMPS = itertools.count(3_000_000_000, 50_000_000)


@pytest.fixture(scope='module')
def scenes():
    """Return a different view for each camera."""
    views = SyntheticScenes(seed=51, count=len(CAMERAS), width=320, height=240)
    return {camera: views[index] for index, camera in enumerate(CAMERAS)}


def start(graph, cameras=CAMERAS, **parameters):
    """Start one node for ``cameras`` and a rig (camera driver and recorder) per camera."""
    parameters.setdefault('model', DEMO_MODEL)
    overrides = [Parameter('cameras', value=list(cameras))] + [
        Parameter(name, value=value) for name, value in parameters.items()]
    node = graph.add(MonoDepthNode(parameter_overrides=overrides))
    rigs = {camera: graph.add(Rig(('depth/image', 'depth/camera_info'), namespace=camera,
                                  name=f'rig_{camera}')) for camera in cameras}
    assert wait_until(lambda: all(
        rig.image_pub.get_subscription_count() > 0
        and rig.count_publishers(f'/{camera}/depth/image') > 0 for camera, rig in rigs.items()))
    return node, rigs


def send_round(rigs, scenes, cameras) -> dict:
    """Send one frame on each of ``cameras`` at once; return their headers."""
    stamp = next(STAMPS)
    return {camera: rigs[camera].send(scenes[camera].rgb, scenes[camera].intrinsics, stamp)
            for camera in cameras}


def test_three_cameras_one_model_one_camera_stopping(graph, scenes):
    node, rigs = start(graph)
    assert [camera.name for camera in node.cameras] == list(CAMERAS)
    backends = {id(camera.processor.estimator.backend.shared) for camera in node.cameras}
    assert len(backends) == 1  # one network for the three cameras

    # Every camera gets the depth of its own view, with the input's stamp, on its own topics.
    reference = DepthEstimator.from_name(DEMO_MODEL, weights='auto', device='cpu',
                                         channels_last=True)
    received = {}
    for _ in range(20):  # best effort: the first frames may be lost while matching
        headers = send_round(rigs, scenes, CAMERAS)
        for camera, header in headers.items():
            msg = rigs[camera].wait_for('depth/image', header, timeout=3.0)
            if msg is not None:
                received[camera] = msg
        if len(received) == len(CAMERAS):
            break
    for camera, msg in received.items():
        expected = reference.estimate(scenes[camera].rgb, scenes[camera].intrinsics).depth
        # Batched forwards sum in another order than a single frame's: float32 rounding.
        np.testing.assert_allclose(ros_io.depth_from_image(msg), expected, rtol=1e-4,
                                   atol=1e-4, equal_nan=True)
    assert set(received) == set(CAMERAS)
    for camera in CAMERAS:
        info = rigs[camera].wait_for('depth/camera_info', received[camera].header)
        assert info is not None and info.width == 320

    # Frames arriving together share forwards.
    for _ in range(3):
        headers = send_round(rigs, scenes, CAMERAS)
        for camera, header in headers.items():
            rigs[camera].wait_for('depth/image', header, timeout=10.0)
    shared = node.cameras[0].processor.estimator.backend.shared.model.statistics
    assert max(shared.sizes) >= 2, shared.sizes

    # The left camera stops; the other two go on as before.
    processed = {camera.name: camera.counts['processed'] for camera in node.cameras}
    for _ in range(4):
        headers = send_round(rigs, scenes, ('front', 'right'))
        for camera, header in headers.items():
            assert rigs[camera].wait_for('depth/image', header, timeout=10.0) is not None
    after = {camera.name: camera.counts['processed'] for camera in node.cameras}
    assert after['left'] == processed['left']
    assert after['front'] >= processed['front'] + 4 and after['right'] >= processed['right'] + 4

    # One diagnostics status per camera, each with its own topic and counts.
    diagnostics = rigs['front']
    seen = len(diagnostics.diagnostics)
    assert wait_until(lambda: len(diagnostics.diagnostics) > seen, timeout=5.0)
    statuses = {status.name: {kv.key: kv.value for kv in status.values}
                for status in diagnostics.diagnostics[-1].status}
    assert set(statuses) == {f'mono_depth_node: {camera}: monocular depth' for camera in CAMERAS}
    for camera in CAMERAS:
        values = statuses[f'mono_depth_node: {camera}: monocular depth']
        assert values['image topic'] == f'/{camera}/image'
        assert float(values['frames per forward (all cameras)']) > 1.0
    assert int(statuses['mono_depth_node: left: monocular depth']['frames processed']) == \
        after['left']


@pytest.mark.parametrize('cameras, message', [
    (['front', 'front'], 'names a camera twice'),
    (['front', '2nd'], "'2nd' is not a valid topic namespace"),
])
def test_bad_camera_lists_fail_fast(ros, cameras, message):
    with pytest.raises(ConfigError, match=message):
        MonoDepthNode(parameter_overrides=[Parameter('cameras', value=cameras),
                                           Parameter('model', value=DEMO_MODEL)])


def test_a_camera_list_that_is_not_names_fails_fast(ros):
    with pytest.raises(ConfigError, match="parameter 'cameras' is 3; give a list of camera"):
        MonoDepthNode(parameter_overrides=[Parameter('cameras', value=3),
                                           Parameter('model', value=DEMO_MODEL)])


def test_bench_cameras_measures_both_configurations():
    # The real executables over real DDS, briefly: both configurations report depth images.
    command = [sys.executable, '-m', 'mono_depth_ros.cli', 'bench', '--cameras', '2', '--model',
               DEMO_MODEL, '--device', 'cpu', '--size', '160x120', '--seconds', '2', '--json']
    run = subprocess.run(command, capture_output=True, text=True, timeout=900,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    separate, one_node = result['rows']
    assert (separate['mode'], separate['processes']) == ('separate', 2)
    assert (one_node['mode'], one_node['processes']) == ('one_node', 1)
    for row in (separate, one_node):
        assert len(row['fps_per_camera']) == 2 and all(fps > 0 for fps in row['fps_per_camera'])
        assert row['fps_total'] == pytest.approx(sum(row['fps_per_camera']))
    assert float(one_node['frames_per_forward']) >= 1.0 and separate['frames_per_forward'] is None
    assert result['speedup'] == pytest.approx(one_node['fps_total'] / separate['fps_total'])
