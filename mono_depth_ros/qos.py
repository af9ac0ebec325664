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
Named QoS presets for the node's inputs and outputs.

A preset is ``NAME`` or ``NAME:DEPTH`` (e.g. ``reliable:5``). The standard
``qos_overrides.<topic>.<publisher|subscription>.<policy>`` parameters still apply on top.
"""
from __future__ import annotations

from mono_depth_ros.params import ConfigError
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# name -> (reliability, default depth). All presets keep the last N samples and are volatile.
PRESETS = {
    'sensor_data': (ReliabilityPolicy.BEST_EFFORT, 5),
    'default': (ReliabilityPolicy.RELIABLE, 10),
    'reliable': (ReliabilityPolicy.RELIABLE, 1),
    'best_effort': (ReliabilityPolicy.BEST_EFFORT, 1),
}


def parse_qos(value: str, parameter: str) -> QoSProfile:
    """Return the profile of preset ``value``; errors name ``parameter`` and the allowed values."""
    name, _, depth_text = value.partition(':')
    if name not in PRESETS:
        raise ConfigError(f'parameter {parameter!r}: unknown QoS preset {value!r}; allowed: '
                          f'{", ".join(PRESETS)}, optionally with a depth as in "reliable:5"')
    reliability, depth = PRESETS[name]
    if depth_text:
        if not depth_text.isdigit() or int(depth_text) < 1:
            raise ConfigError(f'parameter {parameter!r}: QoS depth in {value!r} must be a '
                              'positive integer')
        depth = int(depth_text)
    return QoSProfile(reliability=reliability, durability=DurabilityPolicy.VOLATILE,
                      history=HistoryPolicy.KEEP_LAST, depth=depth)
