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
A planar laser scan from a band of depth image rows, as depthimage_to_laserscan makes it.

The convention of ros-perception/depthimage_to_laserscan, so a 2D costmap configured for that
node works unchanged:

- the band is ``scan_height`` rows starting at row ``int(cy - scan_height // 2)``;
- one range per image column: ``angle_max = atan(cx / fx)`` (the left edge, column 0),
  ``angle_min = -atan((width - 1 - cx) / fx)`` (the right edge), ``angle_increment =
  (angle_max - angle_min) / (width - 1)``, so ranges run from right to left as a laser
  turning counter-clockwise about an upward z axis sees them;
- pixel (u, v) with depth z falls in bin ``int((-atan((u - cx) / fx) - angle_min) /
  angle_increment)`` with range ``hypot((u - cx) * z / fx, z)``; of the band's pixels in a
  bin, the nearest range within ``[range_min, range_max]`` wins, and a bin with none is NaN;
- the angles and the increment are float32, as in the message, and every step keeps the
  original's float32 or float64 arithmetic, so bins and ranges come out identical.

The scan lies in a frame with x forward, y left, z up at the camera (depthimage_to_laserscan's
``output_frame``, ``camera_depth_frame`` by default), not in the optical frame.
"""
from __future__ import annotations

from dataclasses import dataclass

from mono_depth_ros.geometry import Intrinsics
import numpy as np

DEFAULT_RANGE_MIN = 0.45
DEFAULT_RANGE_MAX = 10.0


@dataclass(frozen=True)
class Scan:
    """The fields of a sensor_msgs/LaserScan that depend on the depth: angles and ranges."""

    angle_min: float
    angle_max: float
    angle_increment: float
    range_min: float
    range_max: float
    ranges: np.ndarray


def scan_band(intrinsics: Intrinsics, scan_height: int) -> slice:
    """
    Return the rows of the band: ``scan_height`` rows around the principal point's row.

    Raises ValueError when the band does not fit in the image, as depthimage_to_laserscan does.
    """
    if int(scan_height) != scan_height or scan_height < 1:
        raise ValueError(f'scan_height must be an integer >= 1 (rows), got {scan_height!r}')
    half = int(scan_height) // 2
    cy = float(np.float32(intrinsics.cy))
    if half > cy or half > intrinsics.height - cy:
        raise ValueError(f'scan_height ({scan_height} rows) is too large for the image height '
                         f'{intrinsics.height} with cy {intrinsics.cy:g}')
    start = int(cy - half)
    return slice(start, start + int(scan_height))


def depth_to_scan(depth: np.ndarray, intrinsics: Intrinsics, scan_height: int = 1,
                  range_min: float = DEFAULT_RANGE_MIN,
                  range_max: float = DEFAULT_RANGE_MAX) -> Scan:
    """
    Return the laser scan of a depth image (metres, NaN invalid) with its intrinsics.

    ``depth`` is ``(H, W)`` and must match ``intrinsics``. See the module docstring for the
    convention; the depth is read as metres, so a 16UC1 image gives the same scan before its
    millimetre rounding.
    """
    depth = np.asarray(depth, dtype=np.float32)
    height, width = depth.shape
    if (width, height) != (intrinsics.width, intrinsics.height):
        raise ValueError(f'depth is {width}x{height} but the intrinsics describe '
                         f'{intrinsics.width}x{intrinsics.height}')
    if width < 2:
        raise ValueError(f'a scan needs an image at least 2 pixels wide, got {width}')
    if not 0.0 <= range_min < range_max:
        raise ValueError(f'need 0 <= range_min < range_max, got {range_min} and {range_max}')
    band = depth[scan_band(intrinsics, scan_height)]
    fx, cx = float(intrinsics.fx), float(intrinsics.cx)
    angle_max = np.float32(np.arctan(cx / fx))
    angle_min = np.float32(-np.arctan((width - 1 - cx) / fx))
    increment = np.float32((angle_max - angle_min) / np.float32(width - 1))

    center_x = np.float32(cx)
    constant_x = np.float32(1.0 / fx)
    offsets = np.arange(width, dtype=np.float32) - center_x  # (u - center_x) in float
    theta = -np.arctan2(offsets.astype(np.float64) * np.float64(constant_x), 1.0)
    bins = ((theta - np.float64(angle_min)) / np.float64(increment)).astype(np.int64)

    x = (offsets * band) * constant_x
    ranges = np.hypot(x.astype(np.float64), band.astype(np.float64)).astype(np.float32)
    with np.errstate(invalid='ignore'):
        usable = (ranges >= np.float32(range_min)) & (ranges <= np.float32(range_max))
    nearest = np.where(usable, ranges, np.float32(np.inf)).min(axis=0)
    out = np.full(width, np.inf, dtype=np.float32)
    np.minimum.at(out, bins, nearest)
    out[np.isinf(out)] = np.nan
    return Scan(angle_min=float(angle_min), angle_max=float(angle_max),
                angle_increment=float(increment), range_min=float(np.float32(range_min)),
                range_max=float(np.float32(range_max)), ranges=out)
