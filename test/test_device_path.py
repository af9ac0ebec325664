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
The device-resident path gives the host path's outputs.

On a CUDA backend the depth stays on the GPU and the colour view and the cloud are computed there,
each copied to the host once. Here the same code runs on every device PyTorch sees: the CPU
always (a backend told to keep its tensors), a GPU when there is one.
"""
from __future__ import annotations

from mono_depth_ros import colormap, ros_io
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.registry import DEMO_MODEL
from mono_depth_ros.processing import FrameProcessor, FrameSettings
import numpy as np
import pytest
from std_msgs.msg import Header
import torch

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.fixture(scope='module')
def scene():
    """One synthetic 320x240 frame with its intrinsics."""
    return SyntheticScenes(seed=11, count=1, width=320, height=240)[0]


def estimators(device: str) -> tuple[DepthEstimator, DepthEstimator]:
    """Return the demo model on the host path and on the device path of ``device``."""
    host = DepthEstimator.from_name(DEMO_MODEL, device='cpu')
    resident = DepthEstimator.from_name(DEMO_MODEL, device=device)
    resident.backend.input_device = torch.device(device)  # keep the frame on the device
    return host, resident


@pytest.mark.parametrize('device', DEVICES)
def test_the_depth_stays_on_the_device_and_equals_the_host_depth(device, scene):
    host, resident = estimators(device)
    expected = host.estimate(scene.rgb, scene.intrinsics)
    result = resident.estimate(scene.rgb, scene.intrinsics)
    assert expected.device_depth is None
    assert result.device_depth.device.type == device
    np.testing.assert_allclose(result.depth, expected.depth, rtol=1e-4, atol=1e-5,
                               equal_nan=True)
    np.testing.assert_array_equal(result.device_depth.isnan().cpu().numpy(),
                                  np.isnan(result.depth))  # the sky has no depth on both
    np.testing.assert_allclose(result.device_depth.cpu().numpy(), result.depth, rtol=1e-6,
                               equal_nan=True)


@pytest.mark.parametrize('device', DEVICES)
def test_device_outputs_equal_the_host_outputs(device, scene):
    host, resident = estimators(device)
    header = Header(frame_id='camera_optical_frame')
    info = ros_io.camera_info_for(scene.intrinsics, header)
    image = ros_io.rgb_to_image(scene.rgb, header)
    settings = FrameSettings(min_depth=0.5, max_depth=15.0, points_decimation=2)
    outputs = {}
    for name, estimator in (('host', host), ('device', resident)):
        processor = FrameProcessor(estimator)
        processor.add_camera_info(info)
        outputs[name] = processor.process(image, ['depth', 'points', 'depth_colorized'],
                                          settings).messages
    host_points, _ = ros_io.cloud_to_points(outputs['host']['points'])
    device_points, _ = ros_io.cloud_to_points(outputs['device']['points'])
    assert outputs['device']['points'].point_step == 16
    np.testing.assert_allclose(device_points, host_points, rtol=1e-4, atol=1e-5,
                               equal_nan=True)
    lut = {tuple(colour): i for i, colour in enumerate(colormap.depth_lut().astype(int))}

    def indices(msg) -> np.ndarray:
        pixels = np.frombuffer(bytes(msg.data), np.uint8).reshape(-1, 3).astype(int)
        return np.array([lut[tuple(p)] for p in pixels])

    difference = np.abs(indices(outputs['device']['depth_colorized'])
                        - indices(outputs['host']['depth_colorized']))
    assert difference.max() <= 1 and difference.mean() < 0.01  # float rounding ties only


def test_filters_keep_the_host_path(scene):
    _, resident = estimators('cpu')
    processor = FrameProcessor(resident)
    header = Header(frame_id='camera_optical_frame')
    processor.add_camera_info(ros_io.camera_info_for(scene.intrinsics, header))
    settings = FrameSettings(points_edge_filter=True)
    inference = processor.infer(ros_io.rgb_to_image(scene.rgb, header), settings)
    assert inference.result.device_depth is not None
    filtered = processor.build(inference, {'points'}, settings).messages['points']
    host = processor.build(inference, {'points'}, FrameSettings()).messages['points']
    # The edge filter (host code) removed points the unfiltered device cloud keeps.
    assert np.isnan(ros_io.cloud_to_points(filtered)[0]).sum() > \
        np.isnan(ros_io.cloud_to_points(host)[0]).sum()
