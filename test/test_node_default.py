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
The node's default model, 'auto': a real pretrained model, its weights found or the node stopped.

'auto' resolves to a real pretrained model and finds its weights in the cache; without them and
without network the node stops at start with one message.

'No network' is real: https goes through a proxy on a local port where nothing listens.
"""
from __future__ import annotations

import shutil
import socket

from conftest import needs_shared, random_official_weights
from mono_depth_ros import cli
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.registry import DEMO_MODEL, get_spec, resolve_auto
from mono_depth_ros.node import MonoDepthNode
from mono_depth_ros.params import ConfigError
from mono_depth_ros.weights import official_cache_path
import numpy as np
import pytest
from rclpy.parameter import Parameter
from test_node import send_until_received, start


def closed_port() -> int:
    """Return a local port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Use an empty weights cache, with no way to the internet."""
    monkeypatch.setenv('https_proxy', f'http://127.0.0.1:{closed_port()}')
    monkeypatch.delenv('no_proxy', raising=False)
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(tmp_path / 'cache'))
    return tmp_path / 'cache'


@pytest.fixture(scope='module')
def frame():
    """Return a real 640x480 NYU Depth v2 image with its ground truth and intrinsics."""
    from mono_depth_ros.data.manifest import Manifest

    manifest = Manifest(needs_shared('testdata', 'real_rgbd', 'manifest.json'))
    return manifest[0]


def test_auto_on_this_cpu_is_a_real_model_never_the_demo_one():
    for scene in ('indoor', 'outdoor'):
        device, choice = resolve_auto('cpu', scene)
        assert device == 'cpu' and choice.model != DEMO_MODEL and choice.reason
        spec = get_spec(choice.model)
        assert spec.weights.url and spec.output_kind == 'metric'
    assert resolve_auto('cpu', 'indoor')[1].model == 'fastdepth-nyu-int8'
    outdoor = resolve_auto('cpu', 'outdoor')[1]
    assert (outdoor.model, outdoor.input_size) == ('depth-anything-v2-metric-vkitti-small', 224)
    with pytest.raises(ValueError, match='unknown scene'):
        resolve_auto('cpu', 'underwater')
    with pytest.raises(ValueError, match='no CUDA GPU'):
        resolve_auto('cuda', 'indoor')


def test_default_node_offline_without_weights_stops_with_one_message(ros, offline):
    spec = get_spec('fastdepth-nyu-int8')
    with pytest.raises(ConfigError) as error:
        MonoDepthNode()
    message = str(error.value)
    assert message.startswith("cannot start model 'fastdepth-nyu-int8' with weights 'auto'")
    assert 'fast_depth_224.tflite' in message
    assert f'put it at {official_cache_path(spec)}' in message
    assert '`mono-depth download fastdepth-nyu-int8`' in message
    assert not official_cache_path(spec).exists()


def test_default_node_with_the_cached_file_publishes_real_depth(graph, offline, frame):
    shared = needs_shared('weights', 'fastdepth_nyu_224_int8.tflite')
    target = official_cache_path(get_spec('fastdepth-nyu-int8'))
    target.parent.mkdir(parents=True)
    shutil.copy(shared, target)
    node, rig = start(graph, outputs=('depth/image',), model='auto')
    _, msg = send_until_received(rig, 'depth/image', frame.rgb, frame.intrinsics)
    assert node.processor.estimator.spec.name == 'fastdepth-nyu-int8'
    assert rig.latest_diagnostics()['model'] == 'fastdepth-nyu-int8'
    depth = np.frombuffer(msg.data, np.float32).reshape(msg.height, msg.width)
    expected = DepthEstimator.from_name('fastdepth-nyu-int8', weights=str(shared)).estimate(
        frame.rgb).depth
    np.testing.assert_allclose(depth, expected, rtol=1e-6)
    # real metric depth: against the Kinect, most pixels within 25 %
    valid = np.isfinite(frame.depth)
    ratio = np.maximum(depth[valid] / frame.depth[valid], frame.depth[valid] / depth[valid])
    assert np.mean(ratio < 1.25) > 0.6


def test_input_size_trades_detail_for_speed(graph, tmp_path):
    weights = random_official_weights('depth-anything-v2-metric-hypersim-small', tmp_path)
    node, rig = start(graph, outputs=('depth/image',), input_size=70,
                      model='depth-anything-v2-metric-hypersim-small', weights=str(weights))
    assert node.processor.estimator.spec.input_policy.network_size(480, 640) == (70, 98)
    rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)
    _, msg = send_until_received(rig, 'depth/image', rgb, None)
    assert (msg.height, msg.width) == (480, 640)


@pytest.mark.parametrize('model, size, message', [
    (DEMO_MODEL, 98, 'takes a fixed 320x240 input'),
    ('dpt-hybrid-kitti', 224, 'keeping their aspect ratio.*dpt-hybrid-kitti-r'),
    ('depth-anything-v2-metric-hypersim-small', 100, 'must be a positive multiple of 14'),
])
def test_bad_input_size_fails_before_any_download(ros, offline, model, size, message):
    with pytest.raises(ConfigError, match=message):
        MonoDepthNode(parameter_overrides=[Parameter('model', value=model),
                                           Parameter('input_size', value=size)])
    assert not offline.exists()


def test_bench_node_offline_is_one_error_line(offline, capsys):
    # The node's default model has no cached weights and cannot be downloaded: no traceback.
    assert cli.main(['bench', '--node']) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: model 'fastdepth-nyu-int8' needs its weights file"), error
    assert 'Traceback' not in error
