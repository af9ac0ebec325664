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

"""A test-side camera and output recorder that talks to the node over real DDS."""
from __future__ import annotations

from collections import defaultdict
import threading

from conftest import wait_until
from diagnostic_msgs.msg import DiagnosticArray
from mono_depth_ros import ros_io
from mono_depth_ros.geometry import Intrinsics
import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, LaserScan, PointCloud2
from std_msgs.msg import Header

OUTPUTS = {
    'depth/image': Image, 'depth/camera_info': CameraInfo, 'depth/points': PointCloud2,
    'depth/colorized': Image, 'segmentation/labels': Image, 'segmentation/colorized': Image,
}
# Outputs a test subscribes to by name only (not part of every-output checks).
MORE_OUTPUTS = {
    'depth/confidence': Image, 'depth/image/compressedDepth': CompressedImage,
    'depth/scan': LaserScan,
}
# RViz's default subscription: reliable, keep last.
RVIZ_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class Rig(Node):
    """Publishes camera frames best effort (like a camera driver), records the node's outputs."""

    def __init__(self, outputs=tuple(OUTPUTS), namespace: str = '', name: str = 'rig') -> None:
        super().__init__(name, namespace=namespace)
        self.image_pub = self.create_publisher(Image, 'image', qos_profile_sensor_data)
        self.compressed_pub = self.create_publisher(CompressedImage, 'image/compressed',
                                                    qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos_profile_sensor_data)
        self.received = defaultdict(list)
        self.diagnostics: list[DiagnosticArray] = []
        self._lock = threading.Lock()
        for topic in outputs:
            self.create_subscription((OUTPUTS | MORE_OUTPUTS)[topic], topic,
                                     lambda msg, topic=topic: self._store(topic, msg), RVIZ_QOS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)

    def _store(self, topic: str, msg) -> None:
        with self._lock:
            self.received[topic].append(msg)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self._lock:
            self.diagnostics.append(msg)

    def connected(self, node: Node) -> bool:
        """Whether the node's subscriptions and our output subscriptions have matched."""
        return (self.image_pub.get_subscription_count() > 0
                or self.compressed_pub.get_subscription_count() > 0)

    def header(self, stamp_ns: int, frame_id: str = 'camera_optical_frame') -> Header:
        """Header of a frame at ``stamp_ns``."""
        header = Header(frame_id=frame_id)
        header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        return header

    def send(self, rgb: np.ndarray | None, intrinsics: Intrinsics | None, stamp_ns: int,
             image: Image | None = None, info: CameraInfo | None = None,
             compressed: CompressedImage | None = None) -> Header:
        """Publish a camera_info and an image (built from ``rgb`` unless given) at one stamp."""
        header = self.header(stamp_ns)
        if info is None and intrinsics is not None:
            info = ros_io.camera_info_for(intrinsics, header)
        if info is not None:
            info.header = header
            self.info_pub.publish(info)
        if compressed is not None:
            compressed.header = header
            self.compressed_pub.publish(compressed)
            return header
        if image is None:
            image = ros_io.rgb_to_image(rgb, header)
        image.header = header
        self.image_pub.publish(image)
        return header

    def wait_for(self, topic: str, header: Header, timeout: float = 30.0):
        """Return the message on ``topic`` with ``header``'s stamp, or None after ``timeout``."""
        def find():
            with self._lock:
                return next((m for m in self.received[topic]
                             if m.header.stamp == header.stamp), None)

        wait_until(lambda: find() is not None, timeout)
        return find()

    def latest_diagnostics(self, timeout: float = 5.0) -> dict[str, str]:
        """Key/values of the next diagnostics message."""
        with self._lock:
            seen = len(self.diagnostics)
        wait_until(lambda: len(self.diagnostics) > seen, timeout)
        with self._lock:
            status = self.diagnostics[-1].status[0]
        return {kv.key: kv.value for kv in status.values} | {'message': status.message}
