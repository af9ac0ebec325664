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

"""``mono-depth bench --node`` runs every part and reports what it measured (no time asserted)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from mono_depth_ros import bench_node
from mono_depth_ros.models.registry import DEMO_MODEL
import pytest
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image


@pytest.mark.parametrize('frame_id', ['', 'c', 'cam', 'camera', 'camera_optical_frame'])
def test_the_stamp_and_width_read_from_a_serialized_image(frame_id):
    image = Image(height=3, width=641, encoding='32FC1', step=641 * 4, data=bytes(3 * 641 * 4))
    image.header.frame_id = frame_id  # its length moves the fields after it
    image.header.stamp.sec, image.header.stamp.nanosec = 1764503000, 999_999_999
    stamp, width = bench_node.image_stamp_and_width(serialize_message(image))
    assert (stamp, width) == (1764503000 * 10**9 + 999_999_999, 641)


def test_the_cloud_is_timed_against_a_plain_copy_of_its_bytes():
    cloud = bench_node.time_cloud(64, 48, warmup=1, iters=3)
    assert cloud['bytes'] == 64 * 48 * 16
    ways = cloud['ways']
    assert {'plain copy of the bytes', 'depth_to_cloud (this package)',
            'depth_to_points + points_to_cloud (two passes)'} <= set(ways)
    assert ways['plain copy of the bytes']['over_copy'] == 1.0
    assert ways['plain copy of the bytes']['min_over_copy'] == 1.0
    for stats in ways.values():
        assert stats['n'] == 3 and stats['p95_ms'] >= stats['p50_ms'] > 0
        assert stats['over_copy'] == stats['p50_ms'] / ways['plain copy of the bytes']['p50_ms']


def test_the_whole_report_in_one_run(tmp_path):
    env = {**os.environ, 'MONO_DEPTH_CACHE': str(tmp_path)}
    done = subprocess.run([sys.executable, '-m', 'mono_depth_ros.cli', 'bench', '--node',
                           '--model', DEMO_MODEL, '--size', '160x120', '--warmup', '1',
                           '--iters', '3', '--camera-rate', '10', '--seconds', '3', '--json'],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    steps = result['steps']
    assert set(steps['camera_outputs']) == set(bench_node.CAMERA_OUTPUTS)
    for name in ['decode', 'preprocess', 'inference', 'postprocess'] + [
            f'{stage} {key}' for key in steps['outputs'] for stage in ('build', 'publish')]:
        assert steps['steps'][name]['n'] == 3, name
    around = sum(steps['steps'][name]['p50_ms'] for name in (
        'decode', 'preprocess', 'postprocess', *(f'build {k}' for k in steps['camera_outputs'])))
    assert abs(steps['overhead_camera_outputs']
               - around / steps['steps']['inference']['p50_ms']) < 1e-9
    assert set(result['startup_s']) == {'torch', 'onnx'}
    assert all(seconds > 0 for seconds in result['startup_s'].values())
    dds = result['dds']
    assert dds['output_hz'] > 0 and dds['latency']['n'] > 0
    assert dds['subscribed'] == list(bench_node.CAMERA_OUTPUTS)
    assert dds['inference_p50_ms'] > 0
    # The node doing no work answered the same camera with depth images of the node's size.
    floor = result['dds_floor']
    assert floor['depth_size'] == steps['depth_size'] == [120, 160]
    assert floor['output_hz'] > 0 and floor['latency']['n'] > 0
    report = bench_node.format_report(result)
    assert 'overhead around the network' in report and 'DDS, camera 10 Hz' in report
    assert 'the floor, a node doing no work (bench_echo: the camera image decoded, a 160x120 ' \
        'depth image published)' in report
