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
``mono-depth demo``'s files show one frame, though each topic's newest message is another's.

And its processes stop as Ctrl-C stops them.
"""
from __future__ import annotations

import signal
import subprocess
import sys

import cv2
from mono_depth_ros import colormap, ros_io
from mono_depth_ros.demo import interrupt, Recorder, write_outputs
from mono_depth_ros.geometry import depth_to_points, Intrinsics
import numpy as np
import pytest
from std_msgs.msg import Header

HEIGHT, WIDTH, CLASSES = 6, 8, 4
INTRINSICS = Intrinsics(fx=10.0, fy=10.0, cx=3.5, cy=2.5, width=WIDTH, height=HEIGHT)


def frame_messages(stamp: int) -> dict[str, object]:
    """Every topic the demo records, with contents that tell stamp ``stamp`` apart."""
    header = Header(frame_id='camera_optical_frame')
    header.stamp.sec = stamp
    ramp = np.linspace(1.0, 2.0, HEIGHT * WIDTH, dtype=np.float32).reshape(HEIGHT, WIDTH)
    depth = ramp * stamp
    truth = ramp[::-1] * (stamp + 0.5)
    labels = np.full((HEIGHT, WIDTH), stamp % CLASSES, np.uint8)
    rgb = np.full((HEIGHT, WIDTH, 3), 40 * stamp, np.uint8)
    return {'image': ros_io.rgb_to_image(rgb, header),
            'ground_truth/depth': ros_io.depth_to_image(truth, header),
            'ground_truth/labels': ros_io.labels_to_image(labels, header),
            'depth/image': ros_io.depth_to_image(depth, header),
            'depth/points': ros_io.points_to_cloud(depth_to_points(depth, INTRINSICS), header),
            'segmentation/labels': ros_io.labels_to_image(labels, header)}


@pytest.fixture
def recorder(ros):
    recorder = Recorder(CLASSES, max_depth=20.0)
    yield recorder
    recorder.node.destroy_node()


def test_every_file_comes_from_the_newest_complete_frame(recorder, tmp_path):
    one, two, three = frame_messages(1), frame_messages(2), frame_messages(3)
    # In the order they arrive: the camera runs ahead of the node, and of frame 3 only the depth
    # image has arrived yet. The newest message of each topic comes from frames 3, 3, 2 and 1.
    for topic in ('image', 'ground_truth/depth', 'ground_truth/labels'):
        recorder._on_message(topic, one[topic])
    for topic in ('image', 'ground_truth/depth', 'ground_truth/labels'):
        recorder._on_message(topic, two[topic])
    for topic in ('depth/image', 'depth/points', 'segmentation/labels'):
        recorder._on_message(topic, one[topic])
    for topic in ('image', 'ground_truth/depth', 'ground_truth/labels'):
        recorder._on_message(topic, three[topic])
    recorder._on_message('depth/image', three['depth/image'])

    write_outputs(recorder, tmp_path, CLASSES)

    depth = ros_io.depth_from_image(one['depth/image'])
    written = cv2.imread(str(tmp_path / 'depth.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, ros_io.metres_to_depth_values(depth, '16UC1'))
    overview = cv2.cvtColor(cv2.imread(str(tmp_path / 'overview.png')), cv2.COLOR_BGR2RGB)
    camera, depth_panel, truth_panel, labels_panel = np.split(overview, 4, axis=1)
    np.testing.assert_array_equal(camera, ros_io.image_to_rgb(one['image']))
    np.testing.assert_array_equal(depth_panel, colormap.colorize_depth(depth))
    low, high = np.nanpercentile(depth, [2, 98])
    truth = ros_io.depth_from_image(one['ground_truth/depth'])
    np.testing.assert_array_equal(truth_panel, colormap.colorize_depth(truth, low, high))
    np.testing.assert_array_equal(labels_panel, colormap.colorize_labels(
        np.full((HEIGHT, WIDTH), 1, np.uint8), CLASSES))
    # Both depth images were scored against the ground truth of their own stamp.
    assert recorder.scorer.depth_mean.images == 2


def test_a_frame_whose_outputs_are_all_there_wins_over_an_older_one(recorder, tmp_path):
    for stamp in (1, 2):
        for topic, msg in frame_messages(stamp).items():
            recorder._on_message(topic, msg)
    assert recorder.output_frame()['depth/image'].header.stamp.sec == 2


def python_process(code: str) -> subprocess.Popen:
    """Run ``code`` in a new Python; its output piped. It prints 'ready' once it has started."""
    process = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == 'ready\n'
    return process


def test_interrupt_stops_a_process_as_ctrl_c_does_and_returns_its_output():
    process = python_process(
        'import time\ntry:\n    print("ready", flush=True)\n    time.sleep(60)\n'
        'except KeyboardInterrupt:\n    print("interrupted")\n')
    assert interrupt(process) == 'interrupted\n'
    assert process.returncode == 0


def test_interrupt_kills_a_process_that_ignores_ctrl_c():
    process = python_process(
        'import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n'
        'print("ready", flush=True)\ntime.sleep(60)\n')
    interrupt(process, timeout=0.5)
    assert process.returncode == -signal.SIGKILL
