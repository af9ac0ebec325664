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
What launch/mono_depth.launch.py does, as plain tested Python.

The launch file only declares :data:`LAUNCH_ARGUMENTS` and hands their values to
:func:`node_configuration`, which returns the node's parameters, remappings, namespace and
environment, or refuses bad arguments (and rviz:=true without RViz) before anything starts; when
the node exits, :func:`node_exit_reason` says whether the launch shuts down and why. launch and
launch_ros are needed only by the launch file itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
import sys

PACKAGE = 'mono_depth_ros'

# name -> (default, description). '' means "not given": the config file or the node decides.
LAUNCH_ARGUMENTS = {
    'model': ('', "Zoo variant (mono-depth models lists them) or 'auto'; overrides the config "
              'file.'),
    'scene': ('', "indoor or outdoor: what model 'auto' is chosen for."),
    'config': ('default', 'YAML parameter file: a path, or the name of a shipped preset in '
               "config/ (e.g. lite_mono_kitti); '' for none (the node's defaults)."),
    'namespace': ('', 'Namespace of the node (and of its relative topics).'),
    'image': ('image', 'Camera image topic (for compressed input, its /compressed is used).'),
    'camera_info': ('camera_info', 'Camera info topic.'),
    'weights': ('', "Checkpoint file, folder or URL; '' uses the parameter (default 'auto')."),
    'device': ('', 'auto, cpu, cuda or cuda:N.'),
    'precision': ('', 'fp32, fp16 or bf16.'),
    'input_qos': ('', 'QoS preset of the inputs: sensor_data, default, reliable, best_effort.'),
    'output_qos': ('', 'QoS preset of the outputs.'),
    'publish_points': ('', 'true or false: publish depth/points.'),
    'rviz': ('false', 'true starts RViz with the shipped display of depth, cloud and labels.'),
    'lifecycle': ('false', 'true starts the managed node (mono_depth_lifecycle_node): '
                  'unconfigured until a lifecycle manager configures and activates it.'),
}
STRING_PARAMETERS = ('model', 'scene', 'weights', 'device', 'precision', 'input_qos', 'output_qos')
BOOLEANS = {'true': True, 'false': False}


@dataclass
class NodeConfiguration:
    """Everything the launch file passes to launch_ros' Node (and whether to start RViz)."""

    executable: str = 'mono_depth_node'
    lifecycle: bool = False
    parameters: list = field(default_factory=list)
    remappings: list[tuple[str, str]] = field(default_factory=list)
    namespace: str = ''
    environment: dict[str, str] = field(default_factory=dict)
    rviz_config: Path | None = None


def share_directory() -> Path:
    """Return the package's share directory: the installed one, else the source checkout."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, ValueError, OSError):  # not in an ament environment
        pass
    installed = Path(sys.prefix) / 'share' / PACKAGE
    if (installed / 'config').is_dir():
        return installed
    return Path(__file__).resolve().parents[1]


def config_file(name: str) -> Path:
    """Resolve a config argument: an existing path, or the name of a shipped preset."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    preset = share_directory() / 'config' / (name if name.endswith('.yaml') else name + '.yaml')
    if preset.is_file():
        return preset
    shipped = sorted(p.stem for p in (share_directory() / 'config').glob('*.yaml'))
    raise ValueError(f'launch argument config:={name}: no such file, and no shipped preset of '
                     f'that name; presets: {", ".join(shipped)}')


def installed_executable(package: str, name: str) -> Path | None:
    """Return ``<prefix>/lib/<package>/<name>`` as ``ros2 run`` finds it, or None if absent."""
    try:
        from ament_index_python.packages import get_package_prefix

        path = Path(get_package_prefix(package)) / 'lib' / package / name
    except (ImportError, LookupError, ValueError, OSError):  # not installed, or no ament index
        return None
    return path if os.access(path, os.X_OK) else None


def rviz_executable() -> Path:
    """Return RViz 2's executable; ValueError, saying what to do, when it is not installed."""
    path = installed_executable('rviz2', 'rviz2')
    if path is None:
        raise ValueError("launch argument rviz:=true: RViz 2 (package 'rviz2') is not installed "
                         'in this ROS environment; install it (e.g. apt install '
                         'ros-$ROS_DISTRO-rviz2) or launch with rviz:=false')
    return path


class NodeExitedError(RuntimeError):
    """mono_depth_node stopped with an error: raised in the launch so that it exits non-zero."""


def node_exit_reason(returncode: int, shutting_down: bool) -> str | None:
    """
    Say why the launch shuts down when mono_depth_node exits, or None when the launch stopped it.

    The node runs until it is stopped: exiting on its own (a bad parameter at start, a crash)
    ends the launch, RViz included, instead of leaving a launch that serves nothing.
    """
    if shutting_down:
        return None
    if returncode == 0:
        return 'mono_depth_node exited'
    return (f'mono_depth_node exited with code {returncode}; its error is in the log above '
            '(a bad parameter or launch argument stops it at start)')


def _boolean(name: str, text: str) -> bool:
    if text.lower() not in BOOLEANS:
        raise ValueError(f'launch argument {name}:={text} must be true or false')
    return BOOLEANS[text.lower()]


def node_configuration(arguments: dict[str, str]) -> NodeConfiguration:
    """Map launch argument values (strings, unset ones absent or '') to the node's setup."""
    def given(name: str) -> str:
        return arguments.get(name, LAUNCH_ARGUMENTS[name][0])

    unknown = sorted(set(arguments) - set(LAUNCH_ARGUMENTS))
    if unknown:
        raise ValueError(f'unknown launch arguments: {", ".join(unknown)}; known: '
                         f'{", ".join(LAUNCH_ARGUMENTS)}')
    lifecycle = _boolean('lifecycle', given('lifecycle'))
    configuration = NodeConfiguration(
        namespace=given('namespace'), lifecycle=lifecycle,
        executable='mono_depth_lifecycle_node' if lifecycle else 'mono_depth_node')
    if _boolean('rviz', given('rviz')):  # refused here, before the launch starts a process
        rviz_executable()
        configuration.rviz_config = share_directory() / 'config' / 'mono_depth.rviz'
    if given('config'):
        configuration.parameters.append(str(config_file(given('config'))))
    overrides = {name: given(name) for name in STRING_PARAMETERS if given(name)}
    if given('publish_points'):
        overrides['publish_points'] = _boolean('publish_points', given('publish_points'))
    if overrides:
        configuration.parameters.append(overrides)
    image, camera_info = given('image'), given('camera_info')
    configuration.remappings = [('image', image), ('image/compressed', image + '/compressed'),
                                ('camera_info', camera_info)]
    profile = share_directory() / 'config' / 'fastdds_shm.xml'
    # Humble's Fast DDS 2 reads the older variable name; later distributions warn about it.
    variable = ('FASTRTPS_DEFAULT_PROFILES_FILE' if os.environ.get('ROS_DISTRO') == 'humble'
                else 'FASTDDS_DEFAULT_PROFILES_FILE')
    if variable not in os.environ and profile.is_file():
        # The profile's history memory policy only applies with this variable (see the profile).
        configuration.environment = {variable: str(profile), 'RMW_FASTRTPS_USE_QOS_FROM_XML': '1'}
    return configuration
