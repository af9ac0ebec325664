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
mono_depth_lifecycle_node: the depth node as a managed (lifecycle) node, as Nav2 stacks expect.

It starts unconfigured with its parameters declared. configure loads the model and creates the
subscriptions and publishers; activate starts processing and publishing; deactivate stops them;
cleanup destroys the entities and frees the model (and its GPU memory); shutdown does the same
from any state. The standard lifecycle services (``change_state``, ``get_state``, ...) let
nav2_lifecycle_manager or ``ros2 lifecycle set`` drive it. Topics, parameters and diagnostics are
those of mono_depth_node, whose code it shares.
"""
from __future__ import annotations

import sys

from mono_depth_ros.memory import pin_mmap_threshold
from mono_depth_ros.node import DepthNodeMixin
from mono_depth_ros.params import ConfigError, run_node
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn


class MonoDepthLifecycleNode(DepthNodeMixin, LifecycleNode):
    """Monocular depth estimation node, managed through the lifecycle state machine."""

    def __init__(self, **node_options) -> None:
        super().__init__('mono_depth_node', **node_options)
        try:
            self._declare_parameters()
        except Exception:
            self.destroy_node()
            raise

    def _make_publisher(self, msg_type, topic: str, qos, **options):
        return self.create_lifecycle_publisher(msg_type, topic, qos, **options)

    def _remove_publisher(self, publisher) -> None:
        self.destroy_lifecycle_publisher(publisher)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model and create the subscriptions and publishers."""
        try:
            self._configure()
        except ConfigError as error:
            self.get_logger().error(f'cannot configure: {error}')
            self._unconfigure()
            return TransitionCallbackReturn.FAILURE
        except Exception as error:  # rclpy would turn it into ERROR without a word
            self.get_logger().error(f'configure failed: {error!r}')
            return TransitionCallbackReturn.ERROR
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Enable the publishers and start processing."""
        result = super().on_activate(state)
        self._start_processing()
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop processing and disable the publishers."""
        self._stop_processing()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the entities and free the model."""
        result = super().on_cleanup(state)
        self._unconfigure()
        return result

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop whatever runs and free everything, from any state."""
        self._stop_processing()
        self._unconfigure()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Recover from a failed transition to unconfigured, with nothing loaded."""
        self._stop_processing()
        self._unconfigure()
        return TransitionCallbackReturn.SUCCESS


def main(args: list[str] | None = None) -> int:
    """Run the lifecycle node until shutdown; a bad command line exits with status 1."""
    pin_mmap_threshold()  # camera-sized messages: see mono_depth_ros.memory
    return run_node(MonoDepthLifecycleNode, 'mono_depth_node', args)


if __name__ == '__main__':
    sys.exit(main())
