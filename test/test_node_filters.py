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
The cleaning, smoothing, confidence, compressedDepth and scan outputs of the real node over DDS.

Each output is checked against what the published depth image and camera_info imply: the cloud
loses exactly the flying pixels of the depth, the compressedDepth stream decodes (with the
independent decoder of test_compressed_depth) to the depth image, the scan is the one
depthimage_to_laserscan would make of it, and the temporal filter calms a noisy camera yet
follows a cut at once.
"""
from __future__ import annotations

import itertools

from mono_depth_ros import ros_io
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.filters import confidence, EdgeFilter
from mono_depth_ros.models.registry import DEMO_MODEL
from mono_depth_ros.node import MonoDepthNode
from mono_depth_ros.params import ConfigError
import numpy as np
import pytest
from rclpy.parameter import Parameter
from test_compressed_depth import decode
from test_node import send_until_received, start
from test_scan import reference_scan

STAMPS = itertools.count(3_000_000_000, 50_000_000)


def float_image(msg) -> np.ndarray:
    """Return the pixels of a 32FC1 Image as they are (0 stays 0)."""
    assert msg.encoding == '32FC1' and msg.step == 4 * msg.width
    return np.frombuffer(bytes(msg.data), np.float32).reshape(msg.height, msg.width)


@pytest.fixture(scope='module')
def scene():
    """Return one synthetic 320x240 frame with objects in front of walls."""
    return SyntheticScenes(seed=91, count=1, width=320, height=240)[0]


def test_edge_filter_clears_the_cloud_and_optionally_the_depth_image(graph, scene):
    node, rig = start(graph, outputs=('depth/image', 'depth/points', 'depth/confidence'),
                      points_edge_filter=True, points_edge_threshold=0.1, points_edge_radius=2,
                      points_min_confidence=0.0)
    header, depth_msg = send_until_received(rig, 'depth/points', scene.rgb, scene.intrinsics)
    depth = ros_io.depth_from_image(rig.wait_for('depth/image', header))
    points, _ = ros_io.cloud_to_points(depth_msg)
    flying = EdgeFilter(0.1, 2).mask(depth)
    assert 0 < flying.sum() < 0.3 * depth.size
    np.testing.assert_array_equal(np.isnan(points[..., 2]), np.isnan(depth) | flying)
    np.testing.assert_array_equal(points[..., 2][~flying], depth[~flying])

    rated = float_image(rig.wait_for('depth/confidence', header))
    assert 0.0 <= rated.min() and rated.max() <= 1.0
    span = EdgeFilter(0.1, 2).span(depth)
    np.testing.assert_allclose(rated, confidence(depth, span=span), atol=1e-6)
    assert (rated[np.isnan(depth)] == 0.0).all()

    # The depth image itself, at runtime; and the cloud keeps only confident points.
    assert all(result.successful for result in node.set_parameters([
        Parameter('depth_edge_filter', value=True),
        Parameter('points_edge_filter', value=False),
        Parameter('points_min_confidence', value=0.9)]))
    header, depth_msg = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    filtered = ros_io.depth_from_image(depth_msg)
    np.testing.assert_array_equal(np.isnan(filtered), np.isnan(depth) | flying)
    cloud = ros_io.cloud_to_points(rig.wait_for('depth/points', header))[0][..., 2]
    rated = float_image(rig.wait_for('depth/confidence', header))
    np.testing.assert_array_equal(np.isnan(cloud), np.isnan(filtered) | (rated < 0.9))
    assert (rated[flying] == 0.0).all()


def test_temporal_filter_calms_a_noisy_camera_and_follows_a_cut(graph, scene):
    reference = DepthEstimator.from_name(DEMO_MODEL, weights='auto', device='cpu')
    node, rig = start(graph, outputs=('depth/image',), temporal_filter='ema', temporal_alpha=0.3,
                      temporal_delta=0.2, temporal_reset=0.1)
    rng = np.random.default_rng(5)
    raw, smoothed = [], []
    for _ in range(8):
        noisy = np.clip(scene.rgb + rng.normal(0.0, 10.0, scene.rgb.shape), 0, 255)
        noisy = noisy.astype(np.uint8)
        _, msg = send_until_received(rig, 'depth/image', noisy, scene.intrinsics)
        smoothed.append(ros_io.depth_from_image(msg))
        raw.append(reference.estimate(noisy, scene.intrinsics).depth)

    def flicker(frames):
        return np.mean([np.nanmean(np.abs(b - a) / a) for a, b in zip(frames[2:], frames[3:])])

    assert flicker(smoothed) < 0.6 * flicker(raw)
    other = SyntheticScenes(seed=92, count=1, width=320, height=240)[0]
    grey_change = np.abs(other.rgb.mean(axis=2) - scene.rgb.mean(axis=2)).mean() / 255
    assert grey_change > 0.15  # a cut, well above temporal_reset
    _, msg = send_until_received(rig, 'depth/image', other.rgb, other.intrinsics)
    # Restarted: the new scene's own depth (to float rounding of the node's channels_last run).
    np.testing.assert_allclose(ros_io.depth_from_image(msg),
                               reference.estimate(other.rgb, other.intrinsics).depth, rtol=1e-5)


@pytest.mark.parametrize('encoding', ['32FC1', '16UC1'])
def test_compressed_depth_decodes_to_the_depth_image(graph, scene, encoding):
    node, rig = start(graph, outputs=('depth/image', 'depth/image/compressedDepth'),
                      depth_encoding=encoding, compressed_depth_max=15.0,
                      compressed_depth_png_level=1)
    header, compressed = send_until_received(rig, 'depth/image/compressedDepth', scene.rgb,
                                             scene.intrinsics)
    image = rig.wait_for('depth/image', header)
    decoded_encoding, decoded = decode(compressed.format, bytes(compressed.data))
    assert decoded_encoding == encoding == image.encoding
    if encoding == '16UC1':
        millimetres = np.frombuffer(bytes(image.data), np.uint16).reshape(240, 320)
        np.testing.assert_array_equal(decoded, np.where(millimetres > 15000, 0, millimetres))
    else:
        depth = ros_io.depth_from_image(image)
        coded = np.isfinite(depth) & (depth < 15.0)
        np.testing.assert_array_equal(np.isfinite(decoded), coded)
        # Truncation: the decoded depth is up to one code step (at itself) beyond the depth.
        error = decoded[coded] - depth[coded]
        assert (error >= -1e-6).all() and (error <= 1.001 * decoded[coded] ** 2 / 10100).all()
    assert len(compressed.data) < 0.5 * len(image.data)


def test_scan_is_depthimage_to_laserscan_of_the_depth(graph, scene):
    node, rig = start(graph, outputs=('depth/image', 'depth/camera_info', 'depth/scan'),
                      scan_height=9, scan_range_min=0.3, scan_range_max=12.0,
                      scan_frame_id='base_scan', scan_time=0.1)
    header, scan = send_until_received(rig, 'depth/scan', scene.rgb, scene.intrinsics)
    depth = ros_io.depth_from_image(rig.wait_for('depth/image', header))
    intrinsics = ros_io.intrinsics_from_camera_info(rig.wait_for('depth/camera_info', header))
    angle_min, angle_max, increment, ranges = reference_scan(depth, intrinsics, 9, 0.3, 12.0)
    assert scan.header.frame_id == 'base_scan' and scan.header.stamp == header.stamp
    assert (scan.angle_min, scan.angle_max, scan.angle_increment) == pytest.approx(
        (angle_min, angle_max, increment), abs=1e-7)
    assert (scan.range_min, scan.range_max, scan.scan_time, scan.time_increment) == (
        pytest.approx(0.3), pytest.approx(12.0), pytest.approx(0.1), 0.0)
    np.testing.assert_array_equal(np.array(scan.ranges, np.float32), ranges)
    assert np.isfinite(ranges).mean() > 0.5


def test_bad_filter_parameters_stop_the_node_or_are_refused(graph):
    with pytest.raises(ConfigError, match='off, ema'):
        MonoDepthNode(parameter_overrides=[Parameter('temporal_filter', value='median')])
    with pytest.raises(ConfigError, match='scan_range_min'):
        MonoDepthNode(parameter_overrides=[Parameter('scan_range_min', value=5.0),
                                           Parameter('scan_range_max', value=2.0)])
    node, _ = start(graph, outputs=('depth/image',))
    for name, value in (('temporal_filter', 'kalman'), ('scan_range_max', 0.1),
                        ('points_min_confidence', 1.5), ('points_edge_radius', 0)):
        assert not node.set_parameters([Parameter(name, value=value)])[0].successful, name
