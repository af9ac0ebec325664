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
Hostile and broken input sent over DDS to a running node.

Each case checks the error and its counter, what it costs (peak memory), and that the next good
frame is published; warnings that must not flood the log are counted in the captured output.
"""
from __future__ import annotations

from pathlib import Path

from bad_inputs import jpeg_bomb, PeakMemory, png_bomb
from conftest import wait_until
import cv2
import mono_depth_ros
from mono_depth_ros import ros_io
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.geometry import intrinsics_from_fov
from mono_depth_ros.models.registry import DEMO_MODEL
import numpy as np
import pytest
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from test_node import send_until_received, STAMPS, start
from test_node_scale import relative_node

SHIPPED_WEIGHTS = (Path(mono_depth_ros.__file__).parent / 'models' / 'weights'
                   / f'{DEMO_MODEL}.safetensors')
EVERY_COSTLY_OUTPUT = ('depth/image', 'depth/points', 'depth/colorized')


@pytest.fixture(scope='module')
def scene():
    """Return one synthetic 320x240 frame."""
    return SyntheticScenes(seed=61, count=1, width=320, height=240)[0]


def compressed(scene) -> CompressedImage:
    """Return the scene as a PNG CompressedImage."""
    png = cv2.imencode('.png', cv2.cvtColor(scene.rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
    return CompressedImage(format='png', data=png)


def log_lines(capfd, text: str) -> list[str]:
    """Return the lines of the captured output so far that contain ``text``."""
    captured = capfd.readouterr()
    return [line for line in (captured.out + captured.err).splitlines() if text in line]


@pytest.mark.parametrize('kind', ['jpeg', 'png'])
def test_a_decompression_bomb_is_a_throttled_input_error_that_costs_no_memory(
        graph, scene, capfd, kind):
    node, rig = start(graph, outputs=EVERY_COSTLY_OUTPUT, input_transport='compressed')
    good = compressed(scene)
    send_until_received(rig, 'depth/image', None, scene.intrinsics, compressed=good)
    bomb = CompressedImage(format=kind, data=(jpeg_bomb if kind == 'jpeg' else png_bomb)(
        20000, 20000))
    assert len(bomb.data) < (1000 if kind == 'jpeg' else 1_300_000)
    memory = PeakMemory()
    for count in range(1, 6):
        assert wait_until(lambda: rig.send(None, scene.intrinsics, next(STAMPS), compressed=bomb)
                          and node.errors['ImageTooLargeError'] >= count)
    assert memory.rise_mib() < 100  # decoded, one bomb would take 1.2 GB
    assert 'is 20000x20000' in node.last_error and 'max_input_pixels' in node.last_error
    assert node.errors['processing_error'] == 0
    assert int(rig.latest_diagnostics()['errors: ImageTooLargeError']) >= 5
    send_until_received(rig, 'depth/image', None, scene.intrinsics, compressed=good)
    warnings = log_lines(capfd, 'max_input_pixels')
    assert 1 <= len(warnings) < node.errors['ImageTooLargeError']  # throttled
    assert all('[WARN]' in line for line in warnings)


def test_a_12_megapixel_raw_frame_is_refused_before_conversion(graph, scene):
    node, rig = start(graph, outputs=EVERY_COSTLY_OUTPUT)
    send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    # With the camera_info of its size, so that nothing but the size check stops it.
    big = Image(height=3000, width=4000, encoding='bgr8', step=12000, data=bytes(36_000_000))
    memory = PeakMemory()
    assert wait_until(lambda: rig.send(None, intrinsics_from_fov(4000, 3000, 60), next(STAMPS),
                                       image=big)
                      and node.errors['ImageTooLargeError'] >= 1, period=1.0)
    # Receiving it costs about 140 MB here; converted and processed, it took 1.25 GB.
    assert memory.rise_mib() < 300
    assert 'bgr8 image is 4000x3000 (12.0 MP)' in node.last_error
    send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)


def test_sparse_depth_stamped_in_the_future_is_rejected_and_the_scale_still_times_out(
        graph, scene, lite_mono_tiny_folder):
    node, rig = relative_node(graph, lite_mono_tiny_folder, **{'scale.sparse_input': 'image',
                                                               'scale.timeout': 1.0})
    sparse_pub = rig.create_publisher(Image, 'sparse_depth/image', qos_profile_sensor_data)
    assert wait_until(lambda: sparse_pub.get_subscription_count() > 0)
    sparse = np.where(np.random.default_rng(0).random(scene.depth.shape) < 0.05, scene.depth,
                      np.nan).astype(np.float32)

    def send(lead_ns: int):
        stamp = next(STAMPS)
        sparse_pub.publish(ros_io.depth_to_image(sparse, rig.header(stamp + lead_ns)))
        return rig.send(scene.rgb, scene.intrinsics, stamp)

    # A LiDAR clock 1000 s ahead: each of its messages is refused, no scale, nothing metric.
    assert wait_until(lambda: send(1000 * 10**9) and node.errors['sparse_depth'] >= 3)
    assert 'after the frame it would scale' in node.last_error
    assert 'scale.future_tolerance' in node.last_error
    assert not rig.received['depth/image']
    # Sparse depth of the frame's own time: a scale, and the next frame is published.
    for _ in range(20):
        header = send(0)
        if rig.wait_for('depth/image', header, timeout=3.0) is not None:
            break
    else:
        raise AssertionError('no depth after good sparse depth')
    # The LiDAR stops: frames later than scale.timeout get no metric depth any more.
    waiting = node.counts['waiting_for_scale']
    for _ in range(40):  # 2 s of stamps, twice the timeout
        next(STAMPS)
    late = rig.send(scene.rgb, scene.intrinsics, next(STAMPS))
    assert wait_until(lambda: node.counts['waiting_for_scale'] > waiting
                      or rig.wait_for('depth/image', late, timeout=0.1) is not None)
    assert rig.wait_for('depth/image', late, timeout=1.0) is None
    assert 'scale unknown' in node.processor.estimator.scale_policy.status


def test_a_model_output_without_a_valid_pixel_is_a_diagnostics_warning(graph, scene, tmp_path):
    from safetensors.torch import load_file, save_file
    import torch

    weights = {name: torch.full_like(tensor, float('nan')) if tensor.is_floating_point()
               else tensor for name, tensor in load_file(SHIPPED_WEIGHTS).items()}
    path = tmp_path / f'{DEMO_MODEL}-nan.safetensors'
    save_file(weights, path)
    node, rig = start(graph, outputs=('depth/image',), weights=str(path))
    _, msg = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    assert not np.isfinite(ros_io.depth_from_image(msg)).any()
    diagnostics = rig.latest_diagnostics()
    assert "the model's last depth has no valid pixel" in diagnostics['message']
    assert int(diagnostics['frames without valid depth']) >= 1


def test_no_image_for_a_while_is_a_warning_naming_the_topic(graph, scene):
    node, rig = start(graph, outputs=('depth/image',), image_timeout=3.0, diagnostics_period=0.2)
    assert wait_until(lambda: 'no image on /image for' in rig.latest_diagnostics()['message'])
    send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    assert rig.latest_diagnostics()['message'] == 'running'


def test_a_distorted_camera_info_of_another_frame_warns_once(graph, scene, capfd):
    node, rig = start(graph, outputs=('depth/image',))
    published = 0
    for _ in range(40):
        header = rig.header(next(STAMPS))
        info = ros_io.camera_info_for(scene.intrinsics, rig.header(0, 'other_optical_frame'))
        info.header.stamp = header.stamp
        info.distortion_model, info.d = 'plumb_bob', [0.1, -0.05, 0.0, 0.0, 0.0]
        rig.info_pub.publish(info)
        rig.image_pub.publish(ros_io.rgb_to_image(scene.rgb, header))
        msg = rig.wait_for('depth/image', header, timeout=3.0)
        if msg is not None:
            assert msg.header.frame_id == 'camera_optical_frame'  # the image's
            published += 1
            if published == 3:
                break
    assert published == 3
    assert node.counts['camera_info_distortion'] == node.counts['camera_info_frame_id'] == 1
    captured = capfd.readouterr()
    log = captured.out + captured.err
    assert log.count('the image is not rectified') == 1
    assert log.count("has frame_id 'other_optical_frame', the image 'camera_optical_frame'") == 1
