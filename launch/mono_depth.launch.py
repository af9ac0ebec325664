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
Start mono_depth_node (and optionally RViz).

For example::

  ros2 launch mono_depth_ros mono_depth.launch.py image:=/camera/color/image_raw \
      camera_info:=/camera/color/camera_info config:=lite_mono_kitti rviz:=true

All the logic lives in mono_depth_ros.launch_config, which is tested without launch.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from mono_depth_ros.launch_config import (LAUNCH_ARGUMENTS, node_configuration,
                                          node_exit_reason, NodeExitedError)


def _on_node_exit(event, context):
    reason = node_exit_reason(event.returncode, context.is_shutdown)
    if reason is None:
        return None
    if event.returncode != 0:
        # launch shuts down with this as the reason, and ros2 launch exits non-zero.
        raise NodeExitedError(reason)
    return Shutdown(reason=reason)


def _nodes(context):
    values = {name: LaunchConfiguration(name).perform(context) for name in LAUNCH_ARGUMENTS}
    configuration = node_configuration(values)
    depth_node = LifecycleNode if configuration.lifecycle else Node
    nodes = [depth_node(package='mono_depth_ros', executable=configuration.executable,
                        name='mono_depth_node', namespace=configuration.namespace,
                        parameters=configuration.parameters,
                        remappings=configuration.remappings,
                        additional_env=configuration.environment, output='screen',
                        on_exit=_on_node_exit)]
    if configuration.rviz_config is not None:
        nodes.append(Node(package='rviz2', executable='rviz2', name='rviz2',
                          namespace=configuration.namespace,
                          arguments=['-d', str(configuration.rviz_config)]))
    return nodes


def generate_launch_description():
    """Declare the arguments and start the node with them."""
    arguments = [DeclareLaunchArgument(name, default_value=default, description=description)
                 for name, (default, description) in LAUNCH_ARGUMENTS.items()]
    return LaunchDescription(arguments + [OpaqueFunction(function=_nodes)])
