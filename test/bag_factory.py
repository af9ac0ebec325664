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

"""Real bags for the tests, written with rosbags: a camera's images and camera_info, and more."""
from __future__ import annotations

import array
from dataclasses import dataclass
from pathlib import Path
import struct

import cv2
from mono_depth_ros import ros_io
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.processing import FrameProcessor, FrameSettings, OUTPUTS
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header, String

FIRST_STAMP = 1_700_000_000_000_000_000
PERIOD = 100_000_000  # 10 Hz
FRAME_ID = 'camera_optical_frame'


@dataclass
class Frame:
    """One recorded camera frame: its messages and their log time."""

    log_time: int
    image: Image | CompressedImage
    info: CameraInfo


def camera_frames(count: int, seed: int = 5, width: int = 160, height: int = 120,
                  compressed: str | None = None) -> list[Frame]:
    """Return ``count`` synthetic frames as a camera driver publishes them (stamp = log time)."""
    frames = []
    for index, scene in enumerate(SyntheticScenes(seed=seed, count=count, width=width,
                                                  height=height)):
        stamp = FIRST_STAMP + index * PERIOD
        header = Header(frame_id=FRAME_ID)
        header.stamp.sec, header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        if compressed:
            ok, data = cv2.imencode(f'.{compressed}', cv2.cvtColor(scene.rgb, cv2.COLOR_RGB2BGR))
            assert ok
            image = CompressedImage(header=header, format=compressed, data=data.tobytes())
        else:
            image = ros_io.rgb_to_image(scene.rgb, header)
        frames.append(Frame(stamp, image, ros_io.camera_info_for(scene.intrinsics, header)))
    return frames


def write_bag(path: Path, frames: list[Frame], storage: str = 'mcap', namespace: str = '/cam',
              extra_topic: bool = True) -> Path:
    """
    Write ``frames`` to a bag at ``path`` and return the path.

    ``storage``: ``'mcap'`` or ``'sqlite3'`` (a rosbag2 folder), ``'mcap-file'`` (a bare .mcap
    file), ``'ros1'`` (a ROS 1 .bag file). Each camera_info is logged 1 ms after its image (it may
    come after its image, as on a live robot), and ``extra_topic`` adds a std_msgs/String topic
    at 2 Hz.
    """
    image_topic = f'{namespace}/image_raw' + ('/compressed' if isinstance(
        frames[0].image, CompressedImage) else '')
    type_of = {Image: 'sensor_msgs/msg/Image', CompressedImage: 'sensor_msgs/msg/CompressedImage',
               CameraInfo: 'sensor_msgs/msg/CameraInfo', String: 'std_msgs/msg/String'}
    records = []
    for index, frame in enumerate(frames):
        records.append((image_topic, frame.log_time, frame.image))
        records.append((f'{namespace}/camera_info', frame.log_time + 1_000_000, frame.info))
        if extra_topic and index % 5 == 0:
            records.append(('/status', frame.log_time + 2_000_000, String(data=f'note {index}')))
    topics = {topic: type_of[type(msg)] for topic, _, msg in records}
    if storage == 'ros1':
        return _write_ros1(path, topics, records)
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores

    typestore = get_typestore(Stores.ROS2_KILTED)
    folder = path.with_suffix('') if storage == 'mcap-file' else path
    plugin = StoragePlugin.SQLITE3 if storage == 'sqlite3' else StoragePlugin.MCAP
    with Writer(folder, version=Writer.VERSION_LATEST, storage_plugin=plugin) as writer:
        connections = {topic: writer.add_connection(topic, msgtype, typestore=typestore)
                       for topic, msgtype in topics.items()}
        for topic, log_time, msg in records:
            writer.write(connections[topic], log_time, serialize_message(msg))
    if storage == 'mcap-file':
        (folder / f'{folder.name}.mcap').rename(path)
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
    return path


def _write_ros1(path: Path, topics: dict[str, str], records: list) -> Path:
    """Write a ROS 1 bag: each message as the ROS 1 layout of its type (the header has a seq)."""
    from rosbags.rosbag1 import Writer
    from rosbags.typesys import get_typestore, Stores

    ros1 = get_typestore(Stores.ROS1_NOETIC)
    ros2 = get_typestore(Stores.ROS2_KILTED)
    with Writer(path) as writer:
        connections = {topic: writer.add_connection(topic, msgtype, typestore=ros1)
                       for topic, msgtype in topics.items()}
        for topic, log_time, msg in records:
            cdr = serialize_message(msg)
            writer.write(connections[topic], log_time,
                         ros2.cdr_to_ros1(cdr, topics[topic]))
    return path


MESSAGE_CLASSES = {f'{cls.__module__.split(".")[0]}/msg/{cls.__name__}': cls
                   for cls in (Image, CompressedImage, CameraInfo, PointCloud2, String)}


def read_bag(path: Path) -> list[tuple[str, int, bytes]]:
    """Return every message of a bag as (topic, log time, CDR bytes), read with rosbags alone."""
    from rosbags.highlevel import AnyReader

    with AnyReader([path]) as reader:
        return [(connection.topic, log_time, bytes(data))
                for connection, log_time, data in reader.messages()]


def read_messages(path: Path) -> list[tuple[str, int, object]]:
    """
    Return every message of a bag as (topic, log time, message), deserialised with rclpy.

    Compare messages, not bytes: the CDR alignment padding that rclpy writes is not zeroed.
    """
    from rosbags.highlevel import AnyReader

    with AnyReader([path]) as reader:
        return [(connection.topic, log_time,
                 deserialize_message(bytes(data), MESSAGE_CLASSES[connection.msgtype]))
                for connection, log_time, data in reader.messages()]


def read_topic(path: Path, topic: str, msg_class: type) -> list:
    """Return the messages of one topic of a bag, deserialised with rclpy."""
    return [deserialize_message(data, msg_class) for name, _, data in read_bag(path)
            if name == topic]


def canonical(value):
    """
    Return a message (or any field) as nested tuples that compare equal bit for bit.

    Message equality fails on NaN (a LaserScan's ranges, a CameraInfo's distortion): floats are
    compared by their bits instead.
    """
    if hasattr(value, 'get_fields_and_field_types'):
        return tuple(canonical(getattr(value, name))
                     for name in value.get_fields_and_field_types())
    if isinstance(value, array.array) or hasattr(value, 'tobytes'):
        return bytes(value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(canonical(item) for item in value)
    if isinstance(value, float):
        return struct.pack('<d', value)
    return value


def expected_outputs(estimator, frames: list[Frame], wanted, settings: FrameSettings,
                     namespace: str = '/cam') -> dict[str, list]:
    """Return what the node's per-frame path makes of ``frames``: messages by output topic."""
    processor = FrameProcessor(estimator)
    for frame in frames:
        processor.add_camera_info(frame.info)
    expected: dict[str, list] = {f'{namespace}/{OUTPUTS[key][0]}': [] for key in wanted}
    for frame in frames:
        for key, msg in processor.process(frame.image, wanted, settings).messages.items():
            expected[f'{namespace}/{OUTPUTS[key][0]}'].append(msg)
    return expected


def assert_outputs(out: Path, expected: dict[str, list]) -> None:
    """Check that the bag ``out`` holds exactly the ``expected`` messages on each topic."""
    for topic, messages in expected.items():
        assert canonical(read_topic(out, topic, type(messages[0]))) == canonical(messages), topic
