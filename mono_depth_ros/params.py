"""Declared ROS parameters: one table entry each, with descriptors and start-up validation."""
from __future__ import annotations

from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node


class ConfigError(RuntimeError):
    """A parameter value the node cannot start with; the message says what to change."""


@dataclass(frozen=True)
class Param:
    """A parameter: default, description, allowed values or range, and mutability.

    ``read_only`` parameters need a restart to change, so ``ros2 param set`` refuses them instead
    of silently doing nothing.
    """

    name: str
    default: object
    description: str
    choices: tuple[str, ...] = ()
    range: tuple[float, float] | None = None
    read_only: bool = True

    def descriptor(self) -> ParameterDescriptor:
        """Return the ROS descriptor, with ranges and allowed values for introspection tools."""
        descriptor = ParameterDescriptor(name=self.name, description=self.description,
                                         read_only=self.read_only)
        if self.choices:
            descriptor.additional_constraints = 'one of: ' + ', '.join(self.choices)
        if self.range is not None and isinstance(self.default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(self.range[0]),
                                                     to_value=int(self.range[1]), step=1)]
        elif self.range is not None:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(self.range[0]), to_value=float(self.range[1]), step=0.0)]
        return descriptor

    def check(self, value) -> str | None:
        """Return why ``value`` is not allowed, or None."""
        if self.choices and value not in self.choices:
            return (f'parameter {self.name!r} is {value!r}; allowed: '
                    f'{", ".join(self.choices)}')
        return None


def declare_all(node: Node, params: tuple[Param, ...]) -> None:
    """Declare every parameter and check its start value; raise ConfigError on the first bad one.

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
