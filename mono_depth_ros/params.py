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

"""Declared ROS parameters (one table entry each, with descriptors) and start-up handling."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


class ConfigError(RuntimeError):
    """A parameter value the node cannot start with; the message says what to change."""


@dataclass(frozen=True)
class Param:
    """
    A parameter: default, description, allowed values or range, and mutability.

    ``read_only`` parameters need a restart to change, so ``ros2 param set`` refuses them instead
    of silently doing nothing.
    """

    name: str
    default: object
    description: str
    choices: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None
    read_only: bool = True

    def descriptor(self) -> ParameterDescriptor:
        """Return the ROS descriptor, with ranges and allowed values for introspection tools."""
        descriptor = ParameterDescriptor(name=self.name, description=self.description,
                                         read_only=self.read_only)
        if self.choices:
            descriptor.additional_constraints = 'one of: ' + ', '.join(self.choices)
        if self.bounds is not None and isinstance(self.default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(self.bounds[0]),
                                                     to_value=int(self.bounds[1]), step=1)]
        elif self.bounds is not None:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(self.bounds[0]), to_value=float(self.bounds[1]), step=0.0)]
        return descriptor

    def check(self, value) -> str | None:
        """Return why ``value`` is not allowed, or None."""
        if self.choices and value not in self.choices:
            return (f'parameter {self.name!r} is {value!r}; allowed: '
                    f'{", ".join(self.choices)}')
        return None


def declare_all(node: Node, params: tuple[Param, ...]) -> None:
    """
    Declare every parameter and check its start value; raise ConfigError on the first bad one.

    rclpy itself enforces the types and ranges of the descriptors.
    """
    for param in params:
        try:
            node.declare_parameter(param.name, param.default, param.descriptor())
        except Exception as error:  # rclpy raises several types for bad overrides
            raise ConfigError(f'parameter {param.name!r}: {error}') from error
        problem = param.check(node.get_parameter(param.name).value)
        if problem:
            raise ConfigError(problem)


def run_node(make_node: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    """
    Spin the node ``make_node`` builds until shutdown; works on Humble, Jazzy and Kilted.

    A :class:`ConfigError` at start is logged as fatal and gives exit status 1; Ctrl-C and an
    external shutdown end it cleanly with 0.
    """
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except ConfigError as error:
        rclpy.logging.get_logger(name).fatal(str(error))
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
