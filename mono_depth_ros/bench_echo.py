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
The floor of ``mono-depth bench --node``'s DDS run: a node that does no work.

Each camera Image is decoded and answered at once with a depth image of the node's output size,
on the node's topics and default QoS. Its latency is what DDS, rclpy and the message conversions
cost on the machine: no node that turns a camera frame into a depth image can go below it.
Run as ``python -m mono_depth_ros.bench_echo --ros-args -p width:=W -p height:=H``.
"""
from __future__ import annotations

import sys

from mono_depth_ros import ros_io
from mono_depth_ros.params import run_node
from mono_depth_ros.qos import parse_qos
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image


class EchoNode(Node):
    """Answer each ``image`` with a ``depth/image`` of ``width`` x ``height`` and its stamp."""

    def __init__(self) -> None:
        super().__init__('bench_echo')
        width = self.declare_parameter('width', 640).value
        height = self.declare_parameter('height', 480).value
        self._depth = np.ones((height, width), np.float32)
        # The node's defaults: input_qos sensor_data, output_qos reliable.
        self._publisher = self.create_publisher(Image, 'depth/image',
                                                parse_qos('reliable', 'output_qos'))
        self.create_subscription(Image, 'image', self._answer,
                                 parse_qos('sensor_data', 'input_qos'))

    def _answer(self, msg: Image) -> None:
        ros_io.image_to_rgb(msg)
        self._publisher.publish(ros_io.depth_to_image(self._depth, msg.header))


def main(args: list[str] | None = None) -> int:
    """Run the echo node until Ctrl-C."""
    return run_node(EchoNode, 'bench_echo', args)


if __name__ == '__main__':
    sys.exit(main())
