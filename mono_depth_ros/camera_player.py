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
camera_player: plays synthetic scenes, a folder of images or a video as a ROS camera.

Publishes ``image`` (and ``image/compressed`` on request) with a matching ``camera_info``, both
with the same stamp and optical frame. Synthetic scenes also publish their exact ground truth on
``ground_truth/depth`` (32FC1 metres) and ``ground_truth/labels`` (mono8), so the depth node can be
checked against it. Useful beyond tests: play a recorded folder or video into the node.
"""
from __future__ import annotations

from dataclasses import dataclass
import itertools
from pathlib import Path
import sys
from typing import Iterator

import cv2
from mono_depth_ros import ros_io
from mono_depth_ros.geometry import (Intrinsics, intrinsics_from_fov, intrinsics_from_mapping,
                                     read_camera_file)
from mono_depth_ros.params import (check_unknown_parameters, ConfigError, declare_all, Param,
                                   run_node)
from mono_depth_ros.qos import parse_qos
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp')
ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8')

PARAMS = (
    Param('source', 'synthetic', "'synthetic' (rendered scenes with exact ground truth), a folder "
          'of images (played in name order) or a video file.'),
    Param('rate', 10.0, 'Frames per second.', bounds=(0.1, 1000.0)),
    Param('frame_id', 'camera_optical_frame', 'frame_id of the images (REP 103 optical frame).'),
    Param('camera_info_file', '', 'camera_calibration YAML or sensor_msgs/CameraInfo JSON for '
          "folders and videos; '' derives the intrinsics from horizontal_fov."),
    Param('horizontal_fov', 60.0, 'Horizontal field of view (degrees) of folders and videos '
          'without camera_info_file.', bounds=(1.0, 179.0)),
    Param('loop', True, 'Start again at the end of a folder, video or scene list.'),
    Param('seed', 1234, 'Seed of the synthetic scenes.'),
    Param('scene_count', 100, 'Number of distinct synthetic scenes.', bounds=(1, 100000)),
    Param('width', 320, 'Width of the synthetic scenes.', bounds=(16, 4096)),
    Param('height', 240, 'Height of the synthetic scenes.', bounds=(16, 4096)),
    Param('encoding', 'rgb8', 'Encoding of the published image.', choices=ENCODINGS),
    Param('publish_compressed', False, 'Also publish image/compressed (JPEG).'),
    Param('qos', 'sensor_data', 'QoS preset of the outputs (see mono_depth_node input_qos).'),
)


@dataclass
class Frame:
    """One frame to play; ground truth only for synthetic scenes."""

    rgb: np.ndarray
    intrinsics: Intrinsics
    depth: np.ndarray | None = None
    labels: np.ndarray | None = None


def synthetic_frames(seed: int, count: int, width: int, height: int) -> Iterator[Frame]:
    """Render scenes with exact depth and labels."""
    from mono_depth_ros.data.synthetic import SyntheticScenes

    scenes = SyntheticScenes(seed=seed, count=count, width=width, height=height)
    for index in range(len(scenes)):
        scene = scenes[index]
        yield Frame(scene.rgb, scene.intrinsics, scene.depth, scene.labels)


def folder_frames(folder: Path, camera: dict | None,
                  horizontal_fov: float) -> Iterator[Frame]:
    """Read the images of a folder in name order."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ConfigError(f'source folder {folder} holds no images ({", ".join(IMAGE_SUFFIXES)})')
    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ConfigError(f'cannot read image {path}')
        yield _frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), camera, horizontal_fov)


def video_frames(path: Path, camera: dict | None,
                 horizontal_fov: float) -> Iterator[Frame]:
    """Read the frames of a video file."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ConfigError(f'cannot open video {path}')
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield _frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), camera, horizontal_fov)
    finally:
        capture.release()


def _frame(rgb: np.ndarray, camera: dict | None, horizontal_fov: float) -> Frame:
    height, width = rgb.shape[:2]
    if camera is None:
        return Frame(rgb, intrinsics_from_fov(width, height, horizontal_fov))
    return Frame(rgb, intrinsics_from_mapping(camera, width, height))


def encode(rgb: np.ndarray, encoding: str, header: Header) -> Image:
    """Return ``rgb`` as an Image in ``encoding``."""
    conversions = {'rgb8': None, 'bgr8': cv2.COLOR_RGB2BGR, 'rgba8': cv2.COLOR_RGB2RGBA,
                   'bgra8': cv2.COLOR_RGB2BGRA, 'mono8': cv2.COLOR_RGB2GRAY}
    pixels = rgb if conversions[encoding] is None else cv2.cvtColor(rgb, conversions[encoding])
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    return Image(header=header, height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                 is_bigendian=0, step=pixels.shape[1] * channels,
                 data=np.ascontiguousarray(pixels).tobytes())


class CameraPlayer(Node):
    """Publishes frames at a fixed rate."""

    def __init__(self, **node_options) -> None:
        super().__init__('camera_player', **node_options)
        declare_all(self, PARAMS)
        check_unknown_parameters(self, strict=False)
        value = self._value
        qos = parse_qos(value('qos'), 'qos')
        self.image_pub = self.create_publisher(Image, 'image', qos)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        self.compressed_pub = (self.create_publisher(CompressedImage, 'image/compressed', qos)
                               if value('publish_compressed') else None)
        self.gt_depth_pub = self.gt_labels_pub = None
        if value('source') == 'synthetic':
            self.gt_depth_pub = self.create_publisher(Image, 'ground_truth/depth', qos)
            self.gt_labels_pub = self.create_publisher(Image, 'ground_truth/labels', qos)
        self.frames_published = 0
        self._frames = self._open_source()
        self.create_timer(1.0 / value('rate'), self._publish_next)

    def _value(self, name: str):
        return self.get_parameter(name).value

    def _open_source(self) -> Iterator[Frame]:
        value = self._value
        source = value('source')
        if source == 'synthetic':
            def make():
                return synthetic_frames(value('seed'), value('scene_count'), value('width'),
                                        value('height'))
        else:
            path = Path(source).expanduser()
            if not path.exists():
                raise ConfigError(f"parameter 'source': {path} does not exist; give "
                                  "'synthetic', a folder of images or a video file")
            info_file = value('camera_info_file')
            try:
                camera = read_camera_file(info_file) if info_file else None
            except (OSError, ValueError) as error:
                raise ConfigError(f"parameter 'camera_info_file': {error}") from error
            fov = value('horizontal_fov')

            def make():
                if path.is_dir():
                    return folder_frames(path, camera, fov)
                return video_frames(path, camera, fov)
        first = make()
        if not value('loop'):
            return first
        return itertools.chain(first, itertools.chain.from_iterable(
            make() for _ in itertools.count()))

    def _publish_next(self) -> None:
        frame = next(self._frames, None)
        if frame is None:
            return
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self._value('frame_id'))
        self.info_pub.publish(ros_io.camera_info_for(frame.intrinsics, header))
        self.image_pub.publish(encode(frame.rgb, self._value('encoding'), header))
        if self.compressed_pub is not None:
            ok, jpeg = cv2.imencode('.jpg', cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
            self.compressed_pub.publish(CompressedImage(header=header, format='jpeg',
                                                        data=jpeg.tobytes()))
        if self.gt_depth_pub is not None and frame.depth is not None:
            self.gt_depth_pub.publish(ros_io.depth_to_image(frame.depth, header, '32FC1'))
            self.gt_labels_pub.publish(ros_io.labels_to_image(frame.labels, header))
        self.frames_published += 1


def main(args: list[str] | None = None) -> int:
    """Run the node until shutdown; a bad configuration exits with status 1 and a message."""
    return run_node(CameraPlayer, 'camera_player', args)


if __name__ == '__main__':
    sys.exit(main())
