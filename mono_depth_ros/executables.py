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
The ROS executables' entry points: Ctrl-C and SIGTERM end them with status 0 at any moment.

A console script imports this small module before anything heavy. It makes SIGTERM raise
KeyboardInterrupt as Ctrl-C does, then imports the executable's module (rclpy, OpenCV, maybe
PyTorch: seconds) and runs it. So an interrupt while the process imports, loads its model or
spins ends it quietly; once initialised, rclpy shuts its context down on both signals and then
passes them on to these handlers.
"""
import importlib
import signal


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run(module: str) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return importlib.import_module(module).main()
    except KeyboardInterrupt:
        return 0


def mono_depth_node() -> int:
    """Run mono_depth_node."""
    return _run('mono_depth_ros.node')


def mono_depth_lifecycle_node() -> int:
    """Run mono_depth_lifecycle_node."""
    return _run('mono_depth_ros.lifecycle_node')


def camera_player() -> int:
    """Run camera_player."""
    return _run('mono_depth_ros.camera_player')
