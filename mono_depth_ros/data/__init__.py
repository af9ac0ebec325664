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
Datasets as plain sequences of :class:`Sample`: synthetic scenes, folders of pairs, KITTI.

Every dataset yields the same record, so evaluation and training never care where a frame came
from. The modules are imported on demand (``mono_depth_ros.data.synthetic``,
``mono_depth_ros.data.folder``); this package only defines the record.
"""
from __future__ import annotations

from dataclasses import dataclass

from mono_depth_ros.geometry import Intrinsics
import numpy as np


@dataclass
class Sample:
    """
    One frame with its ground truth.

    ``rgb`` is ``(H, W, 3)`` uint8 RGB. ``depth`` is ``(H, W)`` float32 metres along the optical
    axis (REP 118 z, not ray length), NaN where there is no valid ground truth. ``labels`` is
    ``(H, W)`` uint8 class ids or ``None``. ``intrinsics`` are the camera's, ``None`` when unknown.
    The camera pose fields are known only for synthetic scenes: ``camera_height`` in metres above
    the ground plane, ``camera_pitch`` and ``camera_roll`` in radians (positive pitch looks down),
    ``world_from_camera`` a 4x4 transform from the optical frame to a world frame whose ``y`` axis
    points up from the ground plane ``y = 0``.
    """

    rgb: np.ndarray
    depth: np.ndarray | None
    labels: np.ndarray | None = None
    intrinsics: Intrinsics | None = None
    name: str = ''
    camera_height: float | None = None
    camera_pitch: float | None = None
    camera_roll: float | None = None
    world_from_camera: np.ndarray | None = None
