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
The real node, in-process, talking to a test rig over real DDS.

Every output is checked against the estimator run on the same frame, the cloud point by point
against the published depth image and camera_info, and every kind of bad input is shown to be
logged, counted and dropped with the next good frame processed.
"""
from __future__ import annotations

import itertools
import json

from conftest import needs_shared, wait_until
import cv2
from mono_depth_ros import ros_io
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.joint_refinenet import CLASSES
from mono_depth_ros.models.registry import DEMO_MODEL, get_spec
from mono_depth_ros.node import MonoDepthNode
from mono_depth_ros.params import ConfigError
import numpy as np
import pytest
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_rig import OUTPUTS, Rig
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

STAMPS = itertools.count(1_000_000_000, 50_000_000)


@pytest.fixture(scope='module')
def scene():
    """One synthetic frame with its intrinsics, at the camera's 320x240."""
    return SyntheticScenes(seed=77, count=1, width=320, height=240)[0]


@pytest.fixture(scope='module')
def reference():
    """Return the estimator the node should agree with, built independently of the node."""
    return DepthEstimator.from_name(DEMO_MODEL, weights='auto', device='cpu')


DEMO = Parameter('model', value=DEMO_MODEL)


def start(graph, outputs=tuple(OUTPUTS), **parameters):
    """Start the node with ``parameters`` (the demo model unless given), a rig on ``outputs``."""
    parameters.setdefault('model', DEMO_MODEL)
    overrides = [Parameter(name, value=value) for name, value in parameters.items()]
    node = graph.add(MonoDepthNode(parameter_overrides=overrides))
    rig = graph.add(Rig(outputs))
    assert wait_until(lambda: rig.connected(node) and all(
        rig.count_publishers(rig.resolve_topic_name(t)) > 0 for t in outputs
        if not t.startswith('segmentation') or node.processor.has_segmentation))
    return node, rig


def send_until_received(rig, topic, rgb, intrinsics, **kwargs):
    """Send frames (best effort may lose the first ones) until ``topic`` answers one."""
    for _ in range(20):
        header = rig.send(rgb, intrinsics, next(STAMPS), **kwargs)
        msg = rig.wait_for(topic, header, timeout=3.0)
        if msg is not None:
            return header, msg
    raise AssertionError(f'no {topic} for 20 frames')


def expected_points(depth: np.ndarray, info) -> np.ndarray:
    """Back-project a depth image with the P of a camera_info, written out independently."""
    fx, cx, fy, cy = info.p[0], info.p[2], info.p[5], info.p[6]
    v, u = np.mgrid[0:depth.shape[0], 0:depth.shape[1]]
    return np.stack(((u - cx) * depth / fx, (v - cy) * depth / fy, depth), axis=-1)


def test_every_output_matches_the_estimator_and_the_camera(graph, scene, reference):
    node, rig = start(graph, points_rgb=True)
    header, depth_msg = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    expected = reference.estimate(scene.rgb, scene.intrinsics)
    messages = {topic: rig.wait_for(topic, header) for topic in OUTPUTS}
    for topic, msg in messages.items():
        assert msg is not None, topic
        assert msg.header.frame_id == 'camera_optical_frame', topic
        assert (msg.height, msg.width) == (240, 320), topic

    assert depth_msg.encoding == '32FC1'
    depth = ros_io.depth_from_image(depth_msg)
    np.testing.assert_allclose(depth, expected.depth, rtol=1e-5, equal_nan=True)
    # Valid everywhere but where the model sees sky, which has no depth.
    np.testing.assert_array_equal(np.isfinite(depth), expected.labels != CLASSES.index('sky'))

    info = messages['depth/camera_info']
    np.testing.assert_allclose([info.p[0], info.p[2], info.p[5], info.p[6]],
                               [scene.intrinsics.fx, scene.intrinsics.cx, scene.intrinsics.fy,
                                scene.intrinsics.cy], rtol=1e-9)

    points, colours = ros_io.cloud_to_points(messages['depth/points'])
    assert not messages['depth/points'].is_dense
    assert [f.name for f in messages['depth/points'].fields] == ['x', 'y', 'z', 'rgb']
    np.testing.assert_allclose(points, expected_points(depth, info), rtol=1e-5, atol=1e-6,
                               equal_nan=True)
    np.testing.assert_array_equal(colours, scene.rgb)

    assert messages['depth/colorized'].encoding == 'rgb8'
    labels_msg = messages['segmentation/labels']
    assert labels_msg.encoding == 'mono8'
    labels = np.frombuffer(bytes(labels_msg.data), np.uint8).reshape(240, 320)
    np.testing.assert_array_equal(labels, expected.labels)
    assert messages['segmentation/colorized'].encoding == 'rgb8'


def test_model_resolution_with_another_camera_size_and_decimation(graph):
    # A 640x480 camera: the depth comes out at the network's output resolution, the published
    # camera_info is scaled to it, and the decimated, clipped cloud back-projects the kept pixels.
    scene = SyntheticScenes(seed=78, count=1, width=640, height=480)[0]
    node, rig = start(graph, outputs=('depth/image', 'depth/camera_info', 'depth/points'),
                      output_size='model', points_decimation=3)
    _, depth_msg = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    near, far = np.nanpercentile(ros_io.depth_from_image(depth_msg), [30, 70])
    assert node.set_parameters([Parameter('min_depth', value=float(near)),
                                Parameter('max_depth', value=float(far))])[0].successful
    header, depth_msg = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    info = rig.wait_for('depth/camera_info', header)
    cloud = rig.wait_for('depth/points', header)
    depth = ros_io.depth_from_image(depth_msg)
    net_h, net_w = get_spec(DEMO_MODEL).input_policy.network_size(480, 640)
    assert depth.shape == (net_h // 4, net_w // 4) == (info.height, info.width)
    scaled = scene.intrinsics.scaled(info.width, info.height)
    np.testing.assert_allclose([info.p[0], info.p[2], info.p[5], info.p[6]],
                               [scaled.fx, scaled.cx, scaled.fy, scaled.cy], rtol=1e-9)
    points, _ = ros_io.cloud_to_points(cloud)
    assert points.shape[:2] == (cloud.height, cloud.width)
    assert points.shape[:2] == (-(-info.height // 3), -(-info.width // 3))
    full = expected_points(depth, info)[::3, ::3]
    in_range = (full[..., 2] >= near) & (full[..., 2] <= far)
    np.testing.assert_allclose(points[in_range], full[in_range], rtol=1e-5, atol=1e-6)
    assert np.isnan(points[~in_range]).all()
    assert in_range.any() and (~in_range).any()


def test_real_camera_frame_and_camera_info_with_a_frame_id_of_their_own(graph, reference):
    # The Isaac ROS chair frame, as a RealSense publishes it: 960x576, fx != fy, its own
    # optical frame. Depth at the network's resolution: anisotropic scaling of the intrinsics.
    folder = needs_shared('testdata', 'isaac_ros_chair')
    rgb = np.load(folder / 'resized_rgb_image.npy')
    recorded = json.loads((folder / 'rgb_camera_info.json').read_text())
    info = CameraInfo(width=recorded['width'], height=recorded['height'],
                      distortion_model=recorded['distortion_model'], d=recorded['D'],
                      k=recorded['K'], r=recorded['R'], p=recorded['P'])
    node, rig = start(graph, outputs=('depth/image', 'depth/camera_info', 'depth/points'),
                      output_size='model')
    for _ in range(20):
        header = rig.header(next(STAMPS), recorded['header']['frame_id'])
        info.header = header
        rig.info_pub.publish(info)
        rig.image_pub.publish(ros_io.rgb_to_image(rgb, header))
        depth_msg = rig.wait_for('depth/image', header, timeout=3.0)
        if depth_msg is not None:
            break
    depth_info = rig.wait_for('depth/camera_info', header)
    cloud = rig.wait_for('depth/points', header)
    assert depth_msg.header.frame_id == cloud.header.frame_id == 'camera_1_color_optical_frame'
    depth = ros_io.depth_from_image(depth_msg)
    assert depth.shape == (depth_info.height, depth_info.width)
    sx, sy = depth_info.width / 960, depth_info.height / 576
    assert sx != sy
    np.testing.assert_allclose([depth_info.p[0], depth_info.p[5]],
                               [recorded['P'][0] * sx, recorded['P'][5] * sy], rtol=1e-9)
    np.testing.assert_allclose(depth_info.p[2], (recorded['P'][2] + 0.5) * sx - 0.5, rtol=1e-9)
    points, _ = ros_io.cloud_to_points(cloud)
    np.testing.assert_allclose(points, expected_points(depth, depth_info), rtol=1e-5,
                               atol=1e-6, equal_nan=True)


def test_onnx_runtime_backend_gives_the_same_depth(graph, scene, reference, tmp_path,
                                                   monkeypatch):
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(tmp_path))
    node, rig = start(graph, outputs=('depth/image', 'segmentation/labels'), backend='onnx')
    header, msg = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    expected = reference.estimate(scene.rgb, scene.intrinsics)
    np.testing.assert_allclose(ros_io.depth_from_image(msg), expected.depth, rtol=1e-4)
    labels = rig.wait_for('segmentation/labels', header)
    agreement = np.mean(np.frombuffer(bytes(labels.data), np.uint8).reshape(240, 320)
                        == expected.labels)
    assert agreement > 0.999
    assert list((tmp_path / DEMO_MODEL / 'onnx').glob('*.onnx'))


def test_16uc1_millimetres(graph, scene, reference):
    node, rig = start(graph, outputs=('depth/image',), depth_encoding='16UC1')
    _, msg = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    assert msg.encoding == '16UC1'
    millimetres = np.frombuffer(bytes(msg.data), np.uint16).reshape(240, 320)
    expected = reference.estimate(scene.rgb, scene.intrinsics).depth
    valid = np.isfinite(expected)
    np.testing.assert_allclose(millimetres[valid], np.round(expected[valid] * 1000), atol=1)
    assert (millimetres[~valid] == 0).all()


def test_only_outputs_with_subscribers_are_built(graph, scene):
    node, rig = start(graph, outputs=('depth/image',))
    send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    assert node.counts['published /depth/image'] >= 1
    for topic in ('depth/points', 'depth/colorized', 'segmentation/labels'):
        assert node.counts[f'published /{topic}'] == 0, topic


def test_no_inference_without_any_subscriber(graph, scene):
    node = graph.add(MonoDepthNode(parameter_overrides=[DEMO]))
    rig = graph.add(Rig(outputs=()))
    assert wait_until(lambda: rig.connected(node))
    for _ in range(5):
        rig.send(scene.rgb, scene.intrinsics, next(STAMPS))
    assert wait_until(lambda: node.counts['skipped_no_subscribers'] >= 1)
    assert node.counts['processed'] == 0


def test_a_burst_faster_than_the_model_publishes_in_order_and_the_newest_frame_wins(graph,
                                                                                    scene):
    # Reliable input with a deep queue, so every frame of the burst reaches the node and each
    # one is accounted for: published, or dropped as stale because a newer one came.
    node = graph.add(MonoDepthNode(parameter_overrides=[
        DEMO, Parameter('input_qos', value='reliable:100')]))
    rig = graph.add(Rig(outputs=('depth/image',)))
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    camera = rig.create_publisher(Image, 'image', reliable)
    camera_info = rig.create_publisher(CameraInfo, 'camera_info', reliable)
    assert wait_until(lambda: camera.get_subscription_count() > 0
                      and camera_info.get_subscription_count() > 0
                      and rig.count_publishers('/depth/image') > 0)
    image = ros_io.rgb_to_image(scene.rgb, rig.header(0))
    sent = []
    for _ in range(40):
        image.header = rig.header(next(STAMPS))
        sent.append(image.header.stamp)
        camera_info.publish(ros_io.camera_info_for(scene.intrinsics, image.header))
        camera.publish(image)
    assert rig.wait_for('depth/image', image.header) is not None  # the last frame always wins
    counts = node.counts
    assert wait_until(lambda: counts['processed'] + counts['dropped_stale'] == len(sent))
    assert counts['received'] == len(sent)
    published = [msg.header.stamp for msg in rig.received['depth/image']]
    order = [sent.index(stamp) for stamp in published]
    assert order == sorted(set(order))  # a subset of what was sent, in the order sent
    assert counts['processed'] == len(published)
    assert counts['dropped_stale'] >= 1 and not node.errors
    assert int(rig.latest_diagnostics()['frames dropped (stale)']) == counts['dropped_stale']


def test_compressed_transport(graph, scene, reference):
    node, rig = start(graph, outputs=('depth/image',), input_transport='compressed')
    ok, png = cv2.imencode('.png', cv2.cvtColor(scene.rgb, cv2.COLOR_RGB2BGR))
    compressed = CompressedImage(format='png', data=png.tobytes())
    _, msg = send_until_received(rig, 'depth/image', None, scene.intrinsics,
                                 compressed=compressed)
    np.testing.assert_allclose(ros_io.depth_from_image(msg),
                               reference.estimate(scene.rgb, scene.intrinsics).depth,
                               rtol=1e-5, equal_nan=True)


def _image(scene, **changes) -> Image:
    image = ros_io.rgb_to_image(scene.rgb, rig_header())
    for name, value in changes.items():
        setattr(image, name, value)
    return image


def rig_header():
    from std_msgs.msg import Header

    return Header(frame_id='camera_optical_frame')


def _bad_info(scene, **changes):
    info = ros_io.camera_info_for(scene.intrinsics, rig_header())
    for name, value in changes.items():
        setattr(info, name, value)
    return info


BAD_FRAMES = {
    'unknown encoding': (lambda s: {'image': _image(s, encoding='hsv8')}, 'ImageError', 'hsv8'),
    'wrong step': (lambda s: {'image': _image(s, step=100)}, 'ImageError', 'step'),
    'empty image': (lambda s: {'image': _image(s, width=0, height=0, step=0, data=b'')},
                    'ImageError', 'empty'),
    'camera_info of another size': (lambda s: {'info': _bad_info(s, width=640, height=480)},
                                    'CameraInfoError', '640x480'),
    'NaN intrinsics': (lambda s: {'info': _bad_info(s, p=[float('nan')] * 12,
                                                    k=[float('nan')] * 9)},
                       'CameraInfoError', 'nan'),
    'zero intrinsics': (lambda s: {'info': _bad_info(s, p=[0.0] * 12, k=[0.0] * 9)},
                        'CameraInfoError', 'f'),
    # Finite in float64, not in float32 where the cloud is computed.
    'denormal focal length': (lambda s: {'info': _bad_info(s, p=[1e-45, 0.0, 160.0, 0.0, 0.0,
                                                                 300.0, 120.0, 0.0, 0.0, 0.0,
                                                                 1.0, 0.0])},
                              'CameraInfoError', 'not finite or beyond'),
    'principal point beyond float32': (lambda s: {'info': _bad_info(s, p=[300.0, 0.0, 1e39, 0.0,
                                                                          0.0, 300.0, 120.0,
                                                                          0.0, 0.0, 0.0, 1.0,
                                                                          0.0])},
                                       'CameraInfoError', 'cx=1e+39'),
}


@pytest.mark.parametrize('case', BAD_FRAMES)
def test_bad_input_is_logged_counted_and_the_next_frame_processed(graph, scene, case):
    make, reason, detail = BAD_FRAMES[case]
    node, rig = start(graph, outputs=('depth/image', 'depth/points'))
    send_until_received(rig, 'depth/points', scene.rgb, scene.intrinsics)
    before = node.errors[reason]
    assert wait_until(lambda: _send_bad(rig, scene, make) and node.errors[reason] > before, 20)
    assert detail.lower() in node.last_error.lower()
    diagnostics = rig.latest_diagnostics()
    assert int(diagnostics[f'errors: {reason}']) >= 1
    assert reason in diagnostics['last error']
    send_until_received(rig, 'depth/points', scene.rgb, scene.intrinsics)


def _send_bad(rig, scene, make) -> bool:
    rig.send(scene.rgb, scene.intrinsics, next(STAMPS), **make(scene))
    return True


def test_corrupt_jpeg_is_counted_and_dropped(graph, scene):
    node, rig = start(graph, outputs=('depth/image',), input_transport='compressed')
    ok, jpeg = cv2.imencode('.jpg', scene.rgb)
    good = CompressedImage(format='jpeg', data=jpeg.tobytes())
    send_until_received(rig, 'depth/image', None, scene.intrinsics, compressed=good)
    corrupt = CompressedImage(format='jpeg', data=jpeg.tobytes()[:200] + b'\x00' * 50)
    assert wait_until(lambda: rig.send(None, scene.intrinsics, next(STAMPS),
                                       compressed=corrupt) and node.errors['ImageError'] >= 1)
    send_until_received(rig, 'depth/image', None, scene.intrinsics,
                        compressed=CompressedImage(format='jpeg', data=jpeg.tobytes()))


def test_missing_camera_info_publishes_depth_but_no_cloud(graph, scene):
    node, rig = start(graph, outputs=('depth/image', 'depth/points'))
    header, msg = send_until_received(rig, 'depth/image', scene.rgb, None)
    assert msg is not None
    assert rig.wait_for('depth/points', header, timeout=1.0) is None
    assert wait_until(lambda: node.errors['CameraInfoError'] >= 1)
    assert 'no camera_info' in node.last_error
    send_until_received(rig, 'depth/points', scene.rgb, scene.intrinsics)


def test_unpaired_camera_info_falls_back_to_the_latest(graph, scene):
    node, rig = start(graph, outputs=('depth/points',))
    rig.send(scene.rgb, scene.intrinsics, next(STAMPS))
    # Only images from now on: the node pairs them with the last camera_info it has.
    for _ in range(20):
        header = rig.send(scene.rgb, None, next(STAMPS))
        if rig.wait_for('depth/points', header, timeout=2.0) is not None:
            break
    assert node.counts['camera_info_unpaired'] >= 1


def test_diagnostics_report_rates_latency_and_model(graph, scene):
    node, rig = start(graph, outputs=('depth/image',))
    for _ in range(5):
        send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    values = rig.latest_diagnostics()
    assert values['model'] == DEMO_MODEL
    assert values['device'] == 'cpu' and values['precision'] == 'fp32'
    assert float(values['latency p50 (ms)']) > 0
    assert float(values['latency p95 (ms)']) >= float(values['latency p50 (ms)'])
    assert int(values['frames processed']) >= 5
    assert float(values['input rate (Hz)']) > 0


@pytest.mark.parametrize('parameter, value, message', [
    ('model', 'lite-mnoo', 'lite-mono'),
    ('depth_encoding', '8UC1', '32FC1, 16UC1'),
    ('precision', 'fp8', 'fp32, fp16, bf16'),
    ('input_transport', 'theora', 'raw, compressed'),
    ('device', 'cuda', 'no CUDA GPU'),
    ('device', 'tpu', 'auto, cpu, cuda'),
    ('input_qos', 'fast', 'sensor_data, default, reliable, best_effort'),
    ('points_decimation', 0, 'points_decimation'),
    ('min_depth', 500.0, 'max_depth'),
    ('weights', '/nonexistent/model.pth', '/nonexistent/model.pth'),
])
def test_bad_configuration_fails_fast_naming_the_parameter(ros, parameter, value, message):
    with pytest.raises(ConfigError, match=None) as error:
        MonoDepthNode(parameter_overrides=[DEMO, Parameter(parameter, value=value)])
    assert message in str(error.value)


def test_runtime_parameter_changes_are_validated(graph, scene):
    node, rig = start(graph, outputs=('depth/image',))
    assert not node.set_parameters([Parameter('depth_encoding', value='8UC1')])[0].successful
    assert not node.set_parameters([Parameter('min_depth', value=500.0)])[0].successful
    assert not node.set_parameters([Parameter('model', value='lite-mono')])[0].successful
    assert node.set_parameters([Parameter('depth_encoding', value='16UC1')])[0].successful
    _, msg = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    assert msg.encoding == '16UC1'
