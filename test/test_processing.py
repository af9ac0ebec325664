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

"""The per-frame path without a node: messages in, messages out, identical to the live node's."""
from __future__ import annotations

import subprocess
import sys

from mono_depth_ros import colormap, processing, ros_io
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.registry import DEMO_MODEL
from mono_depth_ros.processing import FrameProcessor, FrameSettings, OUTPUTS
import numpy as np
import pytest
from ros_rig import OUTPUTS as RIG_OUTPUTS
from std_msgs.msg import Header
from test_node import send_until_received, start

TOPIC_OF = {key: topic for key, (topic, _) in OUTPUTS.items()}


@pytest.fixture(scope='module')
def scene():
    """Return one synthetic 320x240 frame."""
    return SyntheticScenes(seed=31, count=1, width=320, height=240)[0]


@pytest.fixture(scope='module')
def processor():
    """Return a processor of the default model as the node runs it, built without any node."""
    return FrameProcessor(DepthEstimator.from_name(DEMO_MODEL, weights='auto', device='cpu',
                                                   channels_last=True))


def frame(scene, stamp_ns: int = 5_000_000_000):
    """Return the image and camera_info messages of ``scene`` at one stamp."""
    header = Header(frame_id='cam_optical')
    header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return ros_io.rgb_to_image(scene.rgb, header), ros_io.camera_info_for(scene.intrinsics, header)


def test_the_module_has_no_node():
    code = ('import sys, mono_depth_ros.processing; '
            'print("rclpy.node" in sys.modules)')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'False'


def test_every_output_of_a_frame(processor, scene):
    image, info = frame(scene)
    processor.add_camera_info(info)
    outputs = processor.process(image, OUTPUTS, FrameSettings(points_rgb=True))
    assert outputs.error is None and not outputs.waiting_for_scale
    assert list(outputs.messages) == ['labels', 'labels_colorized', 'depth', 'camera_info',
                                      'compressed_depth', 'depth_colorized', 'confidence',
                                      'points', 'scan']
    for key, msg in outputs.messages.items():
        assert msg.header.stamp == image.header.stamp
        # The scan lies in a frame with x forward and z up, not in the optical frame.
        assert msg.header.frame_id == ('camera_depth_frame' if key == 'scan' else 'cam_optical')
    expected = processor.estimator.estimate(scene.rgb, scene.intrinsics)
    np.testing.assert_array_equal(ros_io.depth_from_image(outputs.messages['depth']),
                                  expected.depth)
    np.testing.assert_array_equal(ros_io.image_to_rgb(outputs.messages['depth_colorized']),
                                  colormap.colorize_depth(expected.depth))
    points, colours = ros_io.cloud_to_points(outputs.messages['points'])
    np.testing.assert_array_equal(points[..., 2], expected.depth)
    np.testing.assert_array_equal(colours, scene.rgb)


def test_a_sink_gets_each_message_before_the_next_is_built(processor, scene, monkeypatch):
    events = []
    build_cloud = processing._cloud

    def cloud(*args, **kwargs):
        events.append('building points')
        return build_cloud(*args, **kwargs)

    monkeypatch.setattr(processing, '_cloud', cloud)
    image, info = frame(scene, 7_000_000_000)
    processor.add_camera_info(info)
    outputs = processor.build(processor.infer(image, FrameSettings()),
                              {'depth', 'camera_info', 'points'}, FrameSettings(),
                              sink=lambda key, message: events.append((key, message)))
    # The depth image and its camera_info leave before the cloud is made.
    assert [event if isinstance(event, str) else event[0] for event in events] == [
        'depth', 'camera_info', 'building points', 'points']
    sent = [event for event in events if not isinstance(event, str)]
    assert all(message is outputs.messages[key] for key, message in sent)


def test_only_the_wanted_outputs_are_built(processor, scene):
    image, info = frame(scene, 6_000_000_000)
    processor.add_camera_info(info)
    settings = FrameSettings(publish_points=False)
    assert processor.outputs_to_build({'points', 'depth'}, settings) == {'depth'}
    outputs = processor.process(image, {'points', 'depth'}, settings)
    assert list(outputs.messages) == ['depth']


def test_without_camera_info_the_depth_is_built_and_the_cloud_is_an_error():
    scene = SyntheticScenes(seed=32, count=1, width=320, height=240)[0]
    alone = FrameProcessor(DepthEstimator.from_name(DEMO_MODEL, weights='auto', device='cpu'),
                           camera_info_topic='/cam/camera_info')
    image, _ = frame(scene)
    outputs = alone.process(image, OUTPUTS, FrameSettings())
    assert 'depth' in outputs.messages and 'points' not in outputs.messages
    assert isinstance(outputs.error, ros_io.CameraInfoError)
    assert '/cam/camera_info' in str(outputs.error)


def test_a_live_topic_and_offline_processing_give_identical_messages(graph, processor, scene):
    node, rig = start(graph, points_rgb=True, depth_encoding='16UC1')
    header, _ = send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    live = {topic: rig.wait_for(topic, header) for topic in RIG_OUTPUTS}
    image, info = frame(scene)
    image.header = info.header = header
    processor.add_camera_info(info)
    subscribed = {key for key, topic in TOPIC_OF.items() if topic in RIG_OUTPUTS}
    offline = processor.process(image, subscribed, FrameSettings(points_rgb=True,
                                                                 depth_encoding='16UC1'))
    assert {TOPIC_OF[key] for key in offline.messages} == set(live)
    for key, msg in offline.messages.items():
        assert msg == live[TOPIC_OF[key]], key
