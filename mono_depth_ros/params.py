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
import difflib
from pathlib import Path
import re
import sys
from typing import Callable, Iterator

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
import yaml


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
    # rclpy types an empty list default as a byte array: such a parameter takes any type and
    # is checked where it is read.
    dynamic_typing: bool = False

    def descriptor(self) -> ParameterDescriptor:
        """Return the ROS descriptor, with ranges and allowed values for introspection tools."""
        descriptor = ParameterDescriptor(name=self.name, description=self.description,
                                         read_only=self.read_only,
                                         dynamic_typing=self.dynamic_typing)
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


def unknown_parameters(node: Node) -> dict[str, list[str]]:
    """
    Return the overrides (params files, ``-p``, ``parameter_overrides``) no parameter declares.

    Each comes with the closest declared names, for a message that suggests the right one.
    """
    declared = node.list_parameters([], 0).names
    # rclpy keeps a node's overrides in this attribute on Humble, Jazzy and Kilted; it offers no
    # public way to list them.
    return {name: difflib.get_close_matches(name, declared, n=3, cutoff=0.6)
            for name in sorted(node._parameter_overrides) if not node.has_parameter(name)}


def check_unknown_parameters(node: Node, strict: bool) -> None:
    """Warn about overrides of undeclared parameters, or raise ConfigError when ``strict``."""
    unknown = unknown_parameters(node)
    if not unknown:
        return
    described = '; '.join(
        repr(name) + (f' (did you mean {" or ".join(map(repr, close))}?)' if close else '')
        for name, close in unknown.items())
    message = (f'unknown parameter{"s" if len(unknown) > 1 else ""} {described}: set in a '
               f'params file or with -p, but {node.get_name()} has no such parameter')
    if strict:
        raise ConfigError(message + ' (strict_parameters is true)')
    hint = (' (strict_parameters: true makes this an error)'
            if node.has_parameter('strict_parameters') else '')
    node.get_logger().warning(f'{message}; ignored{hint}')


def check_ros_arguments(argv: list[str]) -> None:
    """
    Check the params files and ``-p`` rules of a command line before rcl reads them.

    rcl refuses them with a traceback; this says in one line what to change. Raises
    :class:`ConfigError`.
    """
    inside = False
    arguments = iter(argv)
    for argument in arguments:
        if argument in ('--ros-args', '--'):
            inside = argument == '--ros-args'
        elif inside and argument == '--params-file':
            _check_params_file(next(arguments, None))
        elif inside and argument in ('-p', '--param'):
            _check_parameter_rule(next(arguments, None))


def _check_params_file(name: str | None) -> None:
    if name is None:
        raise ConfigError('--params-file needs the path of a YAML file')
    path = Path(name)
    if not path.is_file():
        raise ConfigError(f'params file {name} does not exist')
    try:
        content = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        mark = getattr(error, 'problem_mark', None)
        where = f' (line {mark.line + 1}, column {mark.column + 1})' if mark else ''
        problem = getattr(error, 'problem', None) or str(error).splitlines()[0]
        raise ConfigError(f'params file {name} is not valid YAML: {problem}{where}') from error
    if content is None:
        return
    if not isinstance(content, dict):
        raise ConfigError(f'params file {name} holds a YAML {type(content).__name__}; it must map '
                          'node names to ros__parameters, as config/default.yaml does')
    stray = next(_values_outside_ros_parameters(content), None)
    if stray is not None:
        raise ConfigError(f'params file {name}: {stray} is not under a node name and '
                          'ros__parameters; write it as /**: {ros__parameters: {name: value}}')


def _values_outside_ros_parameters(mapping: dict, path: str = '') -> Iterator[str]:
    """Yield where a params file has a value outside any ``ros__parameters`` section."""
    for key, value in mapping.items():
        if key == 'ros__parameters':
            continue
        if isinstance(value, dict):
            yield from _values_outside_ros_parameters(value, f'{path}{key}: ')
        else:
            yield f'{path}{key}: {value!r}'


def _check_parameter_rule(rule: str | None) -> None:
    name, separator, value = (rule or '').partition(':=')
    if not separator or not name or not value:
        raise ConfigError(f'-p {rule or ""!r} must be name:=value with a name and a value, e.g. '
                          '-p max_depth:=20.0')


def _one_line(error: Exception) -> str:
    """Return rcl's error message without its source locations, on one line."""
    text = re.sub(r', at [^,]*:\d+', '', str(error))
    return ' '.join(text.replace('failed to initialize rcl: ', '').split())


def _ignore(unraisable) -> None:
    """Drop an exception Python could not raise (a finaliser's)."""


def _ignore_interrupts(unraisable) -> None:
    """
    Drop a Ctrl-C that came where Python cannot raise it; report any other such exception.

    The signal can land in a finaliser or a callback of the import machinery, which prints it as
    an ignored exception; rclpy's signal handler has shut the context down all the same, so the
    node stops as it should.
    """
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


def run_node(make_node: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    """
    Spin the node ``make_node`` builds until shutdown; works on Humble, Jazzy and Kilted.

    A bad command line or a :class:`ConfigError` at start is one fatal line and exit status 1.
    Ctrl-C, SIGTERM (rclpy shuts the context down on both) and an external shutdown end it with
    status 0 whenever they come: an entity used while the context goes away then fails, which
    is part of shutting down, not an error.
    """
    logger = rclpy.logging.get_logger(name)
    sys.unraisablehook = _ignore_interrupts
    try:
        check_ros_arguments(sys.argv if args is None else args)
        rclpy.init(args=args)
    except ConfigError as error:
        logger.fatal(str(error))
        return 1
    except Exception as error:  # what rcl refuses that the check above does not know
        logger.fatal(f'bad command line: {_one_line(error)}')
        return 1
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except ConfigError as error:
        logger.fatal(str(error))
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        # Stopping. An object the signal caught half built (rclpy's executor, inside spin) fails
        # in its finaliser later; that is part of stopping, not an error to print.
        sys.unraisablehook = _ignore
    except Exception:
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
