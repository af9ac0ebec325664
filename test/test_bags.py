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
Bags in, depth bags out: real bags written with rosbags, the outputs read back message by message.

The outputs are compared with what the live node publishes over DDS for the same frames, and with
the node's per-frame path (mono_depth_ros.processing) run here on the same messages.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

from bag_factory import (assert_outputs, camera_frames, canonical, expected_outputs, FRAME_ID,
                         PERIOD, read_bag, read_messages, read_topic, write_bag)
from conftest import random_official_weights, REPO, wait_until
from mono_depth_ros import cli
from mono_depth_ros.bags.reader import BagError, open_bag
from mono_depth_ros.bags.run import (BagOptionError, BagOptions, plan_topics, process_bag,
                                     Progress)
from mono_depth_ros.bags.writer import DONE_MARKER, JOURNAL, OutputError
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.registry import DEMO_MODEL
from mono_depth_ros.processing import FrameSettings, OUTPUTS
import pytest
from ros_rig import MORE_OUTPUTS, OUTPUTS as RIG_OUTPUTS
from sensor_msgs.msg import Image
from test_node import start

ALL_OUTPUTS = tuple(OUTPUTS)


@pytest.fixture(scope='module')
def estimator():
    """Return the default model as the node runs it (channels_last), built independently."""
    return DepthEstimator.from_name(DEMO_MODEL, weights='auto', device='cpu',
                                    channels_last=True)


def options(**changes) -> BagOptions:
    """Bag options of the default model on the CPU."""
    return BagOptions(model=DEMO_MODEL, device='cpu', **changes)


def test_a_bag_gives_what_the_live_node_publishes(graph, tmp_path):
    frames = camera_frames(3)
    bag = write_bag(tmp_path / 'in', frames, 'mcap')
    parameters = {'points_rgb': True, 'points_decimation': 2, 'depth_encoding': '16UC1',
                  'points_edge_filter': True, 'scan_height': 5}
    result = process_bag(bag, tmp_path / 'out',
                         options(outputs=ALL_OUTPUTS, settings=FrameSettings(**parameters)),
                         show_progress=False)
    assert result.ok and result.frames == 3, result

    # The real node, over DDS, on the same messages: every output it has.
    topics = tuple(RIG_OUTPUTS) + tuple(MORE_OUTPUTS)
    assert {f'/cam/{topic}' for topic, _ in OUTPUTS.values()} == {f'/cam/{t}' for t in topics}
    node, rig = start(graph, outputs=topics, **parameters)
    live = {topic: [] for topic in topics}
    for frame in frames:
        for _ in range(20):  # best effort: the first messages may be lost while matching
            header = rig.send(None, None, frame.log_time, image=frame.image, info=frame.info)
            if rig.wait_for('depth/image', header, timeout=3.0) is not None:
                break
        for topic in topics:
            live[topic].append(rig.wait_for(topic, header))
    for topic, messages in live.items():
        recorded = read_topic(tmp_path / 'out', f'/cam/{topic}', type(messages[0]))
        assert canonical(recorded) == canonical(messages), topic
        assert [msg.header.frame_id for msg in recorded] == [
            'camera_depth_frame' if topic == 'depth/scan' else FRAME_ID] * 3

    # Each output is logged at its image's log time; the image and camera_info are kept as they
    # were; the other topics are not.
    messages = read_bag(tmp_path / 'out')
    inputs = {(topic, log_time): data for topic, log_time, data in read_bag(bag)}
    depth_times = [log_time for topic, log_time, _ in messages if topic == '/cam/depth/image']
    assert depth_times == [frame.log_time for frame in frames]
    kept = [(topic, log_time, data) for topic, log_time, data in messages
            if not topic.startswith(('/cam/depth', '/cam/segmentation'))]
    assert {topic for topic, _, _ in kept} == {'/cam/image_raw', '/cam/camera_info'}
    assert all(inputs[(topic, log_time)] == data for topic, log_time, data in kept)
    assert len(kept) == 6


def test_sqlite3_compressed_images_every_and_start(estimator, tmp_path):
    frames = camera_frames(6, seed=6, compressed='jpeg')
    bag = write_bag(tmp_path / 'in', frames, 'sqlite3')
    # Frames are 0.1 s apart: --start 0.15 skips the first two, --every 2 keeps frames 2 and 4.
    result = process_bag(bag, tmp_path / 'out',
                         options(storage='sqlite3', every=2, start=0.15, keep=('all',)),
                         show_progress=False)
    assert result.ok and result.frames == 2, result
    assert sorted(p.suffix for p in (tmp_path / 'out').glob('out_*')) == ['.db3']
    wanted = ('depth', 'camera_info', 'labels')
    assert_outputs(tmp_path / 'out',
                   expected_outputs(estimator, [frames[2], frames[4]], wanted, FrameSettings()))
    # Every topic is kept within the window, the images of the frames --every skips too.
    topics = [topic for topic, _, _ in read_bag(tmp_path / 'out')]
    assert topics.count('/cam/image_raw/compressed') == 4
    assert topics.count('/status') == 1


def test_a_ros1_bag_and_a_bare_mcap_file(estimator, tmp_path):
    frames = camera_frames(2, seed=7)
    wanted = ('depth', 'points')
    expected = expected_outputs(estimator, frames, wanted, FrameSettings())
    for name, storage in (('in.bag', 'ros1'), ('in.mcap', 'mcap-file')):
        bag = write_bag(tmp_path / name, frames, storage)
        out = tmp_path / f'out_{storage}'
        result = process_bag(bag, out, options(outputs=wanted), show_progress=False)
        assert result.ok and result.frames == 2, result
        assert_outputs(out, expected)
        # The ROS 1 image, converted to ROS 2 (its header loses the seq), is the original.
        assert read_topic(out, '/cam/image_raw', Image) == [frame.image for frame in frames]


def test_input_size_applies_to_a_bag(tmp_path):
    model = 'depth-anything-v2-metric-hypersim-small'
    weights = random_official_weights(model, tmp_path)
    frames = camera_frames(1, seed=9)
    bag = write_bag(tmp_path / 'in', frames)
    assert cli.main(['infer', str(bag), '--model', model, '--weights', str(weights),
                     '--device', 'cpu', '--input-size', '70', '--outputs', 'depth',
                     '--no-progress', '--out', str(tmp_path / 'out')]) == 0
    at_70 = DepthEstimator.from_name(model, weights=str(weights), device='cpu', input_size=70,
                                     channels_last=True)
    assert_outputs(tmp_path / 'out', expected_outputs(at_70, frames, ('depth',), FrameSettings()))


def test_topics_are_detected_or_named(tmp_path):
    frames = camera_frames(1, seed=8)
    one = write_bag(tmp_path / 'one', frames)
    with open_bag(one) as bag:
        plan = plan_topics(bag, options(outputs=ALL_OUTPUTS), has_segmentation=False)
        assert (plan.image, plan.camera_info, plan.keep) == (
            '/cam/image_raw', '/cam/camera_info', ('/cam/image_raw', '/cam/camera_info'))
        assert plan.outputs == {key: f'/cam/{topic}' for key, (topic, _) in OUTPUTS.items()
                                if not key.startswith('labels')}
        plan = plan_topics(bag, options(namespace='/front/', keep=()), True)
        assert plan.outputs['labels'] == '/front/segmentation/labels' and plan.keep == ()
        with pytest.raises(BagOptionError, match='no topic /nothing to keep'):
            plan_topics(bag, options(keep=('/nothing',)), True)
        with pytest.raises(BagOptionError, match='is a std_msgs/msg/String topic, not an image'):
            plan_topics(bag, options(image_topic='/status'), True)

    # Two cameras: the image topic must be named; a camera without camera_info gives depth only.
    two = tmp_path / 'two'
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import get_typestore, Stores
    from rclpy.serialization import serialize_message
    typestore = get_typestore(Stores.ROS2_KILTED)
    with Writer(two, version=9) as writer:
        for topic in ('/left/image_raw', '/right/image_raw'):
            connection = writer.add_connection(topic, 'sensor_msgs/msg/Image',
                                               typestore=typestore)
            writer.write(connection, frames[0].log_time, serialize_message(frames[0].image))
    with open_bag(two) as bag:
        with pytest.raises(BagOptionError, match=r'several image topics \(/left/image_raw, '
                                                 r'/right/image_raw\); choose one with '
                                                 '--image-topic'):
            plan_topics(bag, options(), True)
        with pytest.raises(BagOptionError, match='no camera_info for /left/image_raw.*give '
                                                 '--camera-info-topic'):
            plan_topics(bag, options(image_topic='/left/image_raw'), True)
        plan = plan_topics(bag, options(image_topic='/left/image_raw', outputs=('depth',)), True)
        assert plan.camera_info is None and plan.outputs == {'depth': '/left/depth/image'}


def test_a_crash_mid_bag_and_a_rerun_give_the_same_output(tmp_path):
    frames = camera_frames(5, seed=9)
    bag = write_bag(tmp_path / 'in', frames, 'mcap')
    command = [sys.executable, '-m', 'mono_depth_ros.cli', 'infer', str(bag), '--device', 'cpu',
               '--model', DEMO_MODEL, '--checkpoint-every', '1', '--keep', 'all',
               '--outputs', 'depth', 'points', '--no-progress', '--out']
    env = dict(os.environ, PYTHONPATH=str(REPO))
    crashed = tmp_path / 'crashed'
    process = subprocess.Popen(command + [str(crashed)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        # Killed hard as soon as the first frame is committed, in the middle of the second.
        assert wait_until(lambda: (crashed / JOURNAL).is_file() or process.poll() is not None,
                          timeout=300, period=0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == -signal.SIGKILL, output
    journal = json.loads((crashed / JOURNAL).read_text())
    assert 1 <= journal['frames'] < 5
    assert not (crashed / DONE_MARKER).exists()

    rerun = subprocess.run(command + [str(crashed)], env=env, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f'5 frames written to {crashed}' in rerun.stdout
    assert f'{journal["frames"]} of them by an earlier, interrupted run' in rerun.stdout
    uninterrupted = subprocess.run(command + [str(tmp_path / 'straight')], env=env,
                                   capture_output=True, text=True, timeout=600)
    assert uninterrupted.returncode == 0, uninterrupted.stdout + uninterrupted.stderr

    # The same messages at the same log times, in the same files.
    assert canonical(read_messages(crashed)) == canonical(read_messages(tmp_path / 'straight'))
    assert sorted(p.name for p in crashed.glob('*.mcap')) == [
        f'crashed_{index}.mcap' for index in range(5)]
    for index in range(5):
        assert canonical(read_messages(crashed / f'crashed_{index}.mcap')) == \
            canonical(read_messages(tmp_path / 'straight' / f'straight_{index}.mcap'))
    assert not (crashed / JOURNAL).exists() and (crashed / DONE_MARKER).is_file()


def test_a_truncated_bag_is_an_error_naming_the_offset_and_keeps_what_came_before(
        estimator, tmp_path, capsys):
    # Frames of 480x360 fill the 1 MB chunks of the writer two at a time: cutting the file
    # loses the last chunk, as when a recorder is killed before writing its index.
    frames = camera_frames(6, seed=10, width=480, height=360)
    intact = write_bag(tmp_path / 'intact.mcap', frames, 'mcap-file')
    data = intact.read_bytes()
    truncated = tmp_path / 'cut.mcap'
    truncated.write_bytes(data[:int(len(data) * 0.8)])

    status = cli.main(['infer', str(truncated), '--out', str(tmp_path / 'out'), '--device', 'cpu',
                       '--model', DEMO_MODEL, '--every', '2', '--outputs', 'depth',
                       '--no-progress'])
    printed = capsys.readouterr().out
    assert status == 1
    assert f'bag {truncated} is truncated or corrupt: it cannot be read from byte offset ' \
        in printed
    offset = int(printed.split('byte offset ')[1].split()[0])
    assert 0 < offset < len(data) * 0.8
    assert '2 frames before it kept' in printed and '1 failed' in printed
    # Frames 0 and 2 (--every 2) came before the damage and are in a readable output bag.
    assert_outputs(tmp_path / 'out', expected_outputs(estimator, [frames[0], frames[2]],
                                                      ('depth',), FrameSettings()))
    assert not (tmp_path / 'out' / DONE_MARKER).exists()
    with pytest.raises(BagError, match='byte offset'):
        with open_bag(truncated) as bag:
            list(bag.messages(bag.topics))


def test_an_output_of_other_options_is_not_resumed_nor_overwritten(tmp_path):
    frames = camera_frames(1, seed=11)
    bag = write_bag(tmp_path / 'in', frames)
    first = process_bag(bag, tmp_path / 'out', options(outputs=('depth',)), show_progress=False)
    assert first.ok and not first.already_complete
    again = process_bag(bag, tmp_path / 'out', options(outputs=('depth',)), show_progress=False)
    assert again.already_complete and again.frames == 1
    with pytest.raises(OutputError, match='finished output of another input or other options'):
        process_bag(bag, tmp_path / 'out', options(outputs=('points',)), show_progress=False)
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'notes.txt').write_text('keep me')
    with pytest.raises(OutputError, match='exists and is not an output of mono-depth'):
        process_bag(bag, tmp_path / 'mine', options(), show_progress=False)


@pytest.mark.parametrize('changes, message', [
    ({'every': 0}, '--every must be at least 1'),
    ({'start': 2.0, 'end': 1.0}, r'--end \(1.0\) must be after --start \(2.0\)'),
    ({'outputs': ('depth', 'normals')}, 'unknown outputs normals'),
    ({'scale_policy': 'median'}, "scale policy 'median' cannot run on a bag"),
    ({'scale_policy': 'ground_plane'}, 'ground_plane needs --camera-height'),
    ({'settings': FrameSettings(temporal_filter='ema')}, 'temporal_filter works live only'),
])
def test_bad_options_are_refused_before_any_work(tmp_path, changes, message):
    bag = write_bag(tmp_path / 'in', camera_frames(1, seed=12))
    with pytest.raises(BagOptionError, match=message):
        process_bag(bag, tmp_path / 'out', options(**changes), show_progress=False)
    assert not (tmp_path / 'out').exists()


def test_image_options_on_a_bag_and_a_mix_of_inputs_are_refused(tmp_path, capsys):
    bag = write_bag(tmp_path / 'in', camera_frames(1, seed=13))
    image = tmp_path / 'frame.png'
    image.write_bytes(b'')
    for extra, message in ((['--fov', '60'], '--fov applies to images and videos'),
                           ([str(image)], 'give bags, or images and videos, not both'),
                           (['-p', 'points_decimation:=40'],
                            "parameter 'points_decimation' is 40; allowed: 1 to 16"),
                           (['-p', 'scale.future_tolerance:=99'],
                            "parameter 'scale.future_tolerance' is 99.0; allowed: 0.0 to 60.0"),
                           (['-p', 'max_dept:=3'],
                            "-p 'max_dept:=3': give NAME:=VALUE with NAME one of")):
        assert cli.main(['infer', str(bag), *extra, '--out', str(tmp_path / 'out')]) == 2
        assert message in capsys.readouterr().err


def test_progress_line_gives_frames_per_second_and_eta():
    now = [100.0]
    stream = io.StringIO()
    progress = Progress('run.mcap', 0, 10 * PERIOD, stream=stream, clock=lambda: now[0])
    progress.update(0, 0)
    now[0] = 102.0
    assert progress.line(5 * PERIOD, 3) == (
        'run.mcap [############            ]  50.0% 3 frames 1.50 frames/s ETA 00:02')
    progress.update(10 * PERIOD, 6, final=True)
    assert stream.getvalue().splitlines()[-1].startswith('run.mcap [########################] '
                                                         '100.0% 6 frames')


def test_a_corrupt_sqlite3_bag_names_the_message_where_reading_stopped(tmp_path):
    frames = camera_frames(8, seed=14, width=320, height=240)
    bag = write_bag(tmp_path / 'in', frames, 'sqlite3')
    database = bag / 'in.db3'
    data = bytearray(database.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8192] = b'\xa5' * 8192  # a damaged stretch of the disk
    database.write_bytes(bytes(data))
    read = []
    with pytest.raises(BagError, match=r'bag .*in is corrupt: it cannot be read after message '
                                       r'(\d+) \(logged at [\d.]+ s\) of the topics read '
                                       r'\(CorruptError: database disk image is malformed\)'
                       ) as raised:
        with open_bag(bag) as reader:
            for message in reader.messages(reader.topics):
                read.append(message)
    assert 0 < len(read) < 2 * len(frames)
    assert f'after message {len(read)} (logged at {read[-1].log_time * 1e-9:.6f} s)' \
        in str(raised.value)


def test_open_bag_names_what_is_not_a_bag(tmp_path):
    (tmp_path / 'notes.mcap').write_text('not an mcap file')
    with pytest.raises(BagError, match='notes.mcap is not an MCAP file'):
        open_bag(tmp_path / 'notes.mcap')
    with pytest.raises(BagError, match='does not exist'):
        open_bag(tmp_path / 'missing.db3')
    (tmp_path / 'folder').mkdir()
    with pytest.raises(BagError, match='folder without metadata.yaml'):
        open_bag(tmp_path / 'folder')
