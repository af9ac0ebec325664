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

"""A relative model in the node: nothing metric is published until a scale is known."""
from __future__ import annotations

from conftest import wait_until
from mono_depth_ros import ros_io, scale
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.node import MonoDepthNode
from mono_depth_ros.params import ConfigError
import numpy as np
import pytest
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from ros_rig import Rig
from sensor_msgs.msg import Image, PointCloud2
from test_node import send_until_received, STAMPS


@pytest.fixture(scope='module')
def scene():
    """Return a synthetic frame whose exact depth serves as the 'LiDAR'."""
    return SyntheticScenes(seed=5, count=1, width=320, height=240)[0]


@pytest.fixture(scope='module')
def unscaled(scene, lite_mono_tiny_folder):
    """Return the model's depth up to scale for the scene, from an estimator of its own."""
    estimator = DepthEstimator.from_name('lite-mono-tiny', weights=str(lite_mono_tiny_folder),
                                         device='cpu',
                                         scale_policy=scale.make_policy('fixed', scale=1.0))
    return estimator.estimate(scene.rgb, scene.intrinsics, 0.0).unscaled_depth


def assert_fitted(published: np.ndarray, unscaled: np.ndarray, sparse: np.ndarray) -> None:
    """Check the published depth is the unscaled one times the scale fitted to sparse depth."""
    valid = np.isfinite(sparse) & np.isfinite(unscaled)
    fitted = scale.fit_scale(unscaled[valid], sparse[valid]).scale
    np.testing.assert_allclose(published, fitted * unscaled, rtol=1e-4)


def relative_node(graph, folder, **parameters):
    """Lite-Mono-tiny (disparity output) with the median policy, and a rig."""
    overrides = [Parameter('model', value='lite-mono-tiny'),
                 Parameter('weights', value=str(folder)),
                 Parameter('scale.policy', value='median'),
                 Parameter('scale.timeout', value=600.0)]
    overrides += [Parameter(name, value=value) for name, value in parameters.items()]
    node = graph.add(MonoDepthNode(parameter_overrides=overrides))
    rig = graph.add(Rig(outputs=('depth/image',)))
    assert wait_until(lambda: rig.connected(node))
    return node, rig


def test_a_relative_model_without_a_scale_policy_does_not_start(ros, lite_mono_tiny_folder):
    with pytest.raises(ConfigError, match='choose the scale policy'):
        MonoDepthNode(parameter_overrides=[Parameter('model', value='lite-mono-tiny'),
                                           Parameter('weights', value=str(lite_mono_tiny_folder))])


def test_ground_plane_needs_the_camera_height(ros, lite_mono_tiny_folder):
    with pytest.raises(ConfigError, match='height'):
        MonoDepthNode(parameter_overrides=[Parameter('model', value='lite-mono-tiny'),
                                           Parameter('weights', value=str(lite_mono_tiny_folder)),
                                           Parameter('scale.policy', value='ground_plane')])


def _sparse_mask(shape, step=7):
    mask = np.zeros(shape, dtype=bool)
    mask[::step, ::step] = True
    return mask


def test_median_scale_from_a_sparse_depth_image(graph, scene, lite_mono_tiny_folder, unscaled):
    node, rig = relative_node(graph, lite_mono_tiny_folder, **{'scale.sparse_input': 'image'})
    sparse_pub = rig.create_publisher(Image, 'sparse_depth/image', qos_profile_sensor_data)
    assert wait_until(lambda: sparse_pub.get_subscription_count() > 0)
    # No scale yet: frames are processed but nothing metric comes out, and diagnostics say why.
    for _ in range(3):
        header = rig.send(scene.rgb, scene.intrinsics, next(STAMPS))
        assert rig.wait_for('depth/image', header, timeout=2.0) is None
    assert node.counts['waiting_for_scale'] >= 1
    assert 'median' in rig.latest_diagnostics()['message']

    sparse = np.where(_sparse_mask(scene.depth.shape), scene.depth, np.nan).astype(np.float32)
    for _ in range(20):
        stamp = next(STAMPS)
        sparse_pub.publish(ros_io.depth_to_image(sparse, rig.header(stamp)))
        header = rig.send(scene.rgb, scene.intrinsics, stamp)
        msg = rig.wait_for('depth/image', header, timeout=3.0)
        if msg is not None:
            break
    assert_fitted(ros_io.depth_from_image(msg), unscaled, sparse)
    assert 'median: scale' in node.processor.estimator.scale_policy.status


def test_median_scale_from_lidar_points_through_the_extrinsic(graph, scene,
                                                              lite_mono_tiny_folder, unscaled):
    xyz, rpy = [0.1, -0.3, 0.05], [-1.5707963, 0.0, -1.5707963]
    node, rig = relative_node(graph, lite_mono_tiny_folder, **{'scale.lidar_xyz': xyz,
                                                               'scale.lidar_rpy': rpy})
    points_pub = rig.create_publisher(PointCloud2, 'sparse_depth/points',
                                      qos_profile_sensor_data)
    assert wait_until(lambda: points_pub.get_subscription_count() > 0)
    # Camera-frame points of the scene, moved into the LiDAR frame with the inverse extrinsic.
    mask = _sparse_mask(scene.depth.shape) & np.isfinite(scene.depth)
    v, u = np.nonzero(mask)
    z = scene.depth[mask]
    k = scene.intrinsics
    camera_points = np.stack(((u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z), axis=-1)
    lidar_to_camera = scale.extrinsic_from_params(xyz, rpy)
    lidar_points = scale.transform_points(camera_points, np.linalg.inv(lidar_to_camera))
    for _ in range(20):
        stamp = next(STAMPS)
        cloud = ros_io.points_to_cloud(lidar_points.astype(np.float32)[None], rig.header(stamp))
        points_pub.publish(cloud)
        header = rig.send(scene.rgb, scene.intrinsics, stamp)
        msg = rig.wait_for('depth/image', header, timeout=3.0)
        if msg is not None:
            break
    assert_fitted(ros_io.depth_from_image(msg), unscaled, np.where(mask, scene.depth, np.nan))


def test_fixed_scale_publishes_at_once(graph, scene, lite_mono_tiny_folder, unscaled):
    node, rig = relative_node(graph, lite_mono_tiny_folder, **{'scale.policy': 'fixed',
                                                               'scale.scale': 5.4})
    _, msg = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    np.testing.assert_allclose(ros_io.depth_from_image(msg), 5.4 * unscaled, rtol=1e-5)


def test_scale_window_ignores_a_wild_sparse_frame(graph, scene, lite_mono_tiny_folder,
                                                  unscaled):
    node, rig = relative_node(graph, lite_mono_tiny_folder, **{'scale.sparse_input': 'image',
                                                               'scale.window': 3})
    sparse_pub = rig.create_publisher(Image, 'sparse_depth/image', qos_profile_sensor_data)
    assert wait_until(lambda: sparse_pub.get_subscription_count() > 0)
    sparse = np.where(_sparse_mask(scene.depth.shape), scene.depth, np.nan).astype(np.float32)
    policy = node.processor.estimator.scale_policy
    fits = []

    def published_after(factor: float) -> np.ndarray:
        """Send sparse depth times ``factor`` with a frame until the node has fitted it."""
        for _ in range(10):
            stamp = next(STAMPS)
            sparse_pub.publish(ros_io.depth_to_image(factor * sparse, rig.header(stamp)))
            header = rig.send(scene.rgb, scene.intrinsics, stamp)
            msg = rig.wait_for('depth/image', header, timeout=3.0)
            if msg is not None and policy.last_fit is not None and (
                    not fits or policy.last_fit is not fits[-1]):
                fits.append(policy.last_fit)
                return ros_io.depth_from_image(msg)
        raise AssertionError('the node did not fit the sparse depth in 10 frames')

    for factor in (1.0, 1.0):
        assert_fitted(published_after(factor), unscaled, sparse)
    assert_fitted(published_after(3.0), unscaled, sparse)  # one wild frame: ignored
    for factor in (1.0, 1.0, 2.0):
        assert_fitted(published_after(factor), unscaled, sparse)
    assert_fitted(published_after(2.0), unscaled, 2.0 * sparse)  # a lasting change: followed
    assert [round(fit.scale / fits[0].scale, 3) for fit in fits] == [1, 1, 3, 1, 1, 2, 2]
