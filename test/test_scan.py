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
depth/scan's ranges against depthimage_to_laserscan's algorithm, pixel by pixel.

``reference_scan`` walks the band the way depthimage_to_laserscan's convert() loop does (one
pixel at a time, its use_point rule, its float32 message fields); the vectorised module must give
the same bins and ranges. Geometry is checked on a wall of known distance.
"""
from __future__ import annotations

import math

from mono_depth_ros.geometry import Intrinsics
from mono_depth_ros.scan import depth_to_scan
import numpy as np
import pytest


def use_point(new: float, old: float, range_min: float, range_max: float) -> bool:
    """depthimage_to_laserscan's rule for keeping a new range in a bin."""
    if not math.isfinite(new) and not math.isfinite(old):
        return not math.isnan(new)
    if not range_min <= new <= range_max:
        return False
    return not math.isfinite(old) or new < old


def reference_scan(depth, intrinsics, scan_height, range_min, range_max):
    """Return the scan of a literal per-pixel transcription of the conversion."""
    f32 = np.float32
    width = depth.shape[1]
    angle_max = f32(math.atan(intrinsics.cx / intrinsics.fx))
    angle_min = f32(-math.atan((width - 1 - intrinsics.cx) / intrinsics.fx))
    increment = f32((angle_max - angle_min) / f32(width - 1))
    center_x, center_y = f32(intrinsics.cx), f32(intrinsics.cy)
    constant_x = f32(1.0 / intrinsics.fx)
    ranges = [math.nan] * width
    offset = int(center_y - scan_height // 2)
    for v in range(offset, offset + scan_height):
        for u in range(width):
            z = depth[v, u]
            r = float(z)
            th = -math.atan2(float(f32(u) - center_x) * float(constant_x), 1.0)
            index = int((th - float(angle_min)) / float(increment))
            if math.isfinite(z):
                x = float((f32(u) - center_x) * z * constant_x)
                r = float(f32(math.hypot(x, float(z))))
            if use_point(r, ranges[index], float(f32(range_min)), float(f32(range_max))):
                ranges[index] = r
    return float(angle_min), float(angle_max), float(increment), np.array(ranges, np.float32)


@pytest.mark.parametrize('scan_height, cy', [(1, 23.5), (5, 23.5), (4, 20.2), (10, 30.0)])
def test_matches_depthimage_to_laserscan_bin_for_bin(scan_height, cy):
    rng = np.random.default_rng(scan_height)
    intrinsics = Intrinsics(fx=50.0, fy=50.0, cx=33.7, cy=cy, width=64, height=48)
    depth = rng.uniform(0.2, 12.0, (48, 64)).astype(np.float32)
    depth[rng.random(depth.shape) < 0.2] = np.nan
    scan = depth_to_scan(depth, intrinsics, scan_height, range_min=0.45, range_max=10.0)
    angle_min, angle_max, increment, ranges = reference_scan(depth, intrinsics, scan_height,
                                                             0.45, 10.0)
    assert (scan.angle_min, scan.angle_max, scan.angle_increment) == (
        angle_min, angle_max, increment)
    assert (scan.range_min, scan.range_max) == (np.float32(0.45), np.float32(10.0))
    np.testing.assert_array_equal(scan.ranges, ranges)
    assert np.isnan(ranges).any() and np.isfinite(ranges).any()


def test_a_wall_ahead_gives_its_distance_along_each_ray():
    intrinsics = Intrinsics(fx=320.0, fy=320.0, cx=319.5, cy=239.5, width=640, height=480)
    depth = np.full((480, 640), 3.0, np.float32)  # a wall 3 m ahead, facing the camera
    depth[:, :100] = 1.0  # an obstacle 1 m ahead on the left
    scan = depth_to_scan(depth, intrinsics, scan_height=3)
    angles = scan.angle_min + scan.angle_increment * np.arange(640)
    # Ranges run from the right edge (angle_min < 0) to the left edge.
    assert scan.angle_min == pytest.approx(-math.atan(319.5 / 320.0), abs=1e-6)
    assert scan.angle_max == pytest.approx(math.atan(319.5 / 320.0), abs=1e-6)
    filled = np.isfinite(scan.ranges)
    assert filled.mean() > 0.9
    # Columns 0-99 (the obstacle) look at angles above that of the edge between columns 99/100.
    edge = math.atan((319.5 - 99.5) / 320.0)
    expected = np.where(angles > edge, 1.0, 3.0) / np.cos(angles)
    checked = filled & (np.abs(angles - edge) > 2 * scan.angle_increment)
    np.testing.assert_allclose(scan.ranges[checked], expected[checked], rtol=5e-3)
    assert (scan.ranges[angles > edge + 0.01] < 1.5).all()


def test_out_of_range_and_bad_arguments():
    intrinsics = Intrinsics(fx=40.0, fy=40.0, cx=15.5, cy=11.5, width=32, height=24)
    depth = np.full((24, 32), 20.0, np.float32)
    assert np.isnan(depth_to_scan(depth, intrinsics).ranges).all()  # beyond range_max
    with pytest.raises(ValueError, match='too large for the image height'):
        depth_to_scan(depth, intrinsics, scan_height=30)
    with pytest.raises(ValueError, match='32x24'):
        depth_to_scan(depth[:10], intrinsics)
    with pytest.raises(ValueError, match='range_min < range_max'):
        depth_to_scan(depth, intrinsics, range_min=5.0, range_max=1.0)
    with pytest.raises(ValueError, match='scan_height'):
        depth_to_scan(depth, intrinsics, scan_height=0)
