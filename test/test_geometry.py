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

"""Tests of mono_depth_ros.geometry (back-projection, projection, PLY) and colormap."""
import json
import math
from pathlib import Path

import cv2
from mono_depth_ros import colormap, geometry
from mono_depth_ros.geometry import Intrinsics
import numpy as np
import pytest
import torch

INTRINSICS = Intrinsics(fx=40.0, fy=44.0, cx=4.3, cy=2.8, width=9, height=7)


def scene_depth() -> np.ndarray:
    depth = np.random.default_rng(0).uniform(0.3, 9.0, (7, 9)).astype(np.float32)
    depth[0, 1] = np.nan
    depth[2, 3] = 0.0
    depth[3, 4] = -2.0
    depth[5, 6] = np.inf
    return depth


def test_depth_to_points_formula():
    depth = scene_depth()
    points = geometry.depth_to_points(depth, INTRINSICS)
    assert points.shape == (7, 9, 3) and points.dtype == np.float32
    for v in range(7):
        for u in range(9):
            z = float(depth[v, u])
            if math.isfinite(z) and z > 0:
                expected = [(u - 4.3) * z / 40.0, (v - 2.8) * z / 44.0, z]
                np.testing.assert_allclose(points[v, u], expected, rtol=1e-6, atol=1e-7)
            else:
                assert np.isnan(points[v, u]).all(), (v, u)


def test_min_max_depth_clip_to_nan():
    depth = scene_depth()
    points = geometry.depth_to_points(depth, INTRINSICS, min_depth=2.0, max_depth=6.0)
    with np.errstate(invalid='ignore'):
        keep = (depth >= 2.0) & (depth <= 6.0)
    assert keep.sum() > 10
    np.testing.assert_array_equal(np.isfinite(points).all(axis=-1), keep)
    np.testing.assert_array_equal(points[keep], geometry.depth_to_points(depth, INTRINSICS)[keep])
    # The bounds are inclusive.
    flat = np.full((7, 9), 2.0, np.float32)
    assert np.isfinite(geometry.depth_to_points(flat, INTRINSICS, 2.0, 2.0)).all()


@pytest.mark.parametrize('k', [2, 3, 4])
def test_decimation_keeps_the_exact_points_of_every_kth_pixel(k):
    depth = scene_depth()
    full = geometry.depth_to_points(depth, INTRINSICS)
    kept = geometry.depth_to_points(depth, INTRINSICS, decimation=k)
    assert kept.shape == (math.ceil(7 / k), math.ceil(9 / k), 3)
    np.testing.assert_array_equal(kept, full[::k, ::k])


def test_depth_to_points_errors():
    with pytest.raises(ValueError, match=r'\(7, 8\).*9x7.*scaled'):
        geometry.depth_to_points(np.ones((7, 8), np.float32), INTRINSICS)
    with pytest.raises(ValueError, match='decimation'):
        geometry.depth_to_points(scene_depth(), INTRINSICS, decimation=0)
    with pytest.raises(ValueError, match='min_depth'):
        geometry.depth_to_points(scene_depth(), INTRINSICS, min_depth=5.0, max_depth=1.0)


DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('k', [1, 2])
def test_torch_agrees_with_numpy(device, dtype, k):
    depth = scene_depth()
    expected = geometry.depth_to_points(depth, INTRINSICS, k, 0.5, 8.0)
    batch = torch.from_numpy(np.stack([depth, depth * 0.5])).to(device=device, dtype=dtype)
    points = geometry.depth_to_points_torch(batch, INTRINSICS, k, 0.5, 8.0)
    assert points.dtype == dtype and points.shape == (2,) + expected.shape
    assert points.device.type == device
    points = points.cpu()
    np.testing.assert_allclose(points[0].numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(points[1].numpy(),
                               geometry.depth_to_points(depth * 0.5, INTRINSICS, k, 0.5, 8.0),
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match='floating'):
        geometry.depth_to_points_torch(torch.ones(7, 9, dtype=torch.int32), INTRINSICS)


def reference_points(depth, intrinsics, k=1, min_depth=0.0, max_depth=math.inf):
    """Back-project as the first version did: numpy masks, no cache, no OpenCV."""
    z = depth[::k, ::k].astype(np.float32)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(z) & (z > 0) & (z >= min_depth) & (z <= max_depth)
    z = np.where(valid, z, np.float32(np.nan))
    u = np.arange(0, intrinsics.width, k, dtype=np.float32)
    v = np.arange(0, intrinsics.height, k, dtype=np.float32)
    ax = (u - np.float32(intrinsics.cx)) / np.float32(intrinsics.fx)
    ay = (v - np.float32(intrinsics.cy)) / np.float32(intrinsics.fy)
    return np.stack((z * ax, z * ay[:, None], z), axis=-1)


def camera_depth(height=120, width=160, seed=1) -> tuple[np.ndarray, Intrinsics]:
    """Return a depth map with every kind of invalid value, and its camera."""
    depth = np.random.default_rng(seed).uniform(0.05, 30.0, (height, width)).astype(np.float32)
    depth.flat[::37] = np.nan
    depth.flat[5::41] = 0.0
    depth.flat[7::43] = -1.5
    depth.flat[9::47] = np.inf
    depth.flat[11::53] = 2.0  # exactly on a bound below
    intrinsics = Intrinsics(fx=150.0, fy=151.5, cx=79.3, cy=61.2, width=width, height=height)
    return depth, intrinsics


@pytest.mark.parametrize('bounds', [(0.0, math.inf), (2.0, 12.0), (0.0, 2.0)])
def test_clip_depth_keeps_the_valid_depths_in_range(bounds):
    depth, _ = camera_depth()
    with np.errstate(invalid='ignore'):
        keep = np.isfinite(depth) & (depth > 0) & (depth >= bounds[0]) & (depth <= bounds[1])
    clipped = geometry.clip_depth(depth, *bounds)
    assert clipped.dtype == np.float32 and 0 < keep.sum() < keep.size
    np.testing.assert_array_equal(np.isnan(clipped), ~keep)
    np.testing.assert_array_equal(clipped[keep], depth[keep])


def network_depth() -> np.ndarray:
    """Return a depth map as a network predicts it: NaN its only invalid value, on 2 and 12 m."""
    depth = np.random.default_rng(4).uniform(2.0, 12.0, (60, 80)).astype(np.float32)
    depth.flat[::29] = np.nan
    depth[0, :2] = 2.0, 12.0
    return depth


def test_clip_depth_returns_a_depth_with_nothing_to_clip_as_it_is():
    depth = network_depth()
    for bounds in [(0.0, math.inf), (2.0, 12.0)]:
        copied = geometry.clip_depth(depth, *bounds)
        assert not np.shares_memory(copied, depth)
        np.testing.assert_array_equal(copied.view(np.uint32), depth.view(np.uint32))
        assert geometry.clip_depth(depth, *bounds, copy=False) is depth


@pytest.mark.parametrize('bad', [np.inf, -np.inf, 0.0, -0.0, -1.0, 1.5,
                                 float(np.nextafter(np.float32(2.0), np.float32(0))),
                                 float(np.nextafter(np.float32(12.0), np.float32(13)))])
def test_clip_depth_finds_a_single_depth_to_clip(bad):
    depth = network_depth()
    expected = depth.copy()
    depth[30, 40] = bad
    expected[30, 40] = np.nan
    for copy in (True, False):
        clipped = geometry.clip_depth(depth, 2.0, 12.0, copy=copy)
        assert clipped is not depth
        np.testing.assert_array_equal(clipped, expected)  # NaN where expected, equal elsewhere


def test_ray_factors_are_cached_per_camera():
    first = geometry.ray_factors(INTRINSICS, 2)
    assert geometry.ray_factors(INTRINSICS, 2) is first
    ax, ay = first
    np.testing.assert_allclose(ax, (np.arange(0, 9, 2) - 4.3) / 40.0, rtol=1e-6)
    np.testing.assert_allclose(ay, (np.arange(0, 7, 2) - 2.8) / 44.0, rtol=1e-6)
    assert not ax.flags.writeable
    with pytest.raises(ValueError, match='decimation'):
        geometry.ray_factors(INTRINSICS, 0)


@pytest.mark.parametrize('k', [1, 2, 3])
@pytest.mark.parametrize('bounds', [(0.0, math.inf), (2.0, 12.0)])
@pytest.mark.parametrize('with_rgb', [False, True])
def test_point_records_match_the_reference_back_projection(k, bounds, with_rgb):
    depth, intrinsics = camera_depth()
    colours = np.random.default_rng(5).integers(0, 256, depth.shape + (3,), dtype=np.uint8)
    expected = reference_points(depth, intrinsics, k, *bounds)
    np.testing.assert_array_equal(geometry.depth_to_points(depth, intrinsics, k, *bounds),
                                  expected)
    lanes = 8 if with_rgb else 4
    # Written into a buffer that holds garbage: every byte, pads included, is overwritten.
    out = np.full(expected.shape[:2] + (lanes,), np.float32(7.25))
    records = geometry.point_records(depth, intrinsics, k, *bounds,
                                     rgb=colours if with_rgb else None, out=out)
    assert records is out
    np.testing.assert_array_equal(records[..., :3], expected)
    words = records.view(np.uint32)
    assert not words[..., 3].any()
    if with_rgb:
        r, g, b = (colours[::k, ::k, c].astype(np.uint32) for c in range(3))
        np.testing.assert_array_equal(words[..., 4], (r << 16) | (g << 8) | b)
        assert not words[..., 5:].any()


def test_point_records_errors():
    depth, intrinsics = camera_depth()
    with pytest.raises(ValueError, match='out must be float32 of shape'):
        geometry.point_records(depth, intrinsics, out=np.empty((120, 160, 3), np.float32))
    with pytest.raises(ValueError, match='rgb must be uint8'):
        geometry.point_records(depth, intrinsics, rgb=np.zeros((120, 160, 3), np.float32))
    with pytest.raises(ValueError, match='scaled'):
        geometry.point_records(depth[:, 1:], intrinsics)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('k', [1, 3])
def test_point_records_torch_agrees_with_numpy(device, k):
    depth, intrinsics = camera_depth()
    colours = np.random.default_rng(5).integers(0, 256, depth.shape + (3,), dtype=np.uint8)
    expected = geometry.point_records(depth, intrinsics, k, 2.0, 12.0, colours)
    records = geometry.point_records_torch(torch.from_numpy(depth).to(device), intrinsics, k,
                                           2.0, 12.0, torch.from_numpy(colours).to(device))
    assert records.device.type == device and records.dtype == torch.float32
    records = records.cpu().numpy()
    np.testing.assert_allclose(records[..., :3], expected[..., :3], rtol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(records[..., 3:].view(np.uint32),
                                  expected[..., 3:].view(np.uint32))
    plain = geometry.point_records_torch(torch.from_numpy(depth).to(device), intrinsics, k)
    assert plain.shape[-1] == 4 and not plain[..., 3].any()


def test_project_points_inverts_back_projection():
    depth = scene_depth()
    points = geometry.depth_to_points(depth, INTRINSICS).reshape(-1, 3)
    u, v, z = geometry.project_points(points, INTRINSICS)
    valid = np.isfinite(points).all(axis=1)
    grid_v, grid_u = np.divmod(np.arange(63), 9)
    np.testing.assert_allclose(u[valid], grid_u[valid], atol=1e-4)
    np.testing.assert_allclose(v[valid], grid_v[valid], atol=1e-4)
    np.testing.assert_allclose(z[valid], depth.ravel()[valid], rtol=1e-6)
    assert np.isnan(u[~valid]).all() and np.isnan(v[~valid]).all()
    behind = geometry.project_points(np.array([[0.0, 0.0, -1.0], [1.0, 1.0, 0.0]]), INTRINSICS)
    assert np.isnan(behind[0]).all() and np.isnan(behind[1]).all()


def test_rasterize_nearest_point_wins_and_pixels_round():
    u = np.array([2.49, 2.51, 2.6, -0.6, 8.6, 1.0, np.nan, 0.0])
    v = np.array([1.0, 1.0, 1.4, 0.0, 0.0, 3.49, 0.0, 0.0])
    z = np.array([5.0, 4.0, 3.0, 1.0, 1.0, 2.0, 1.0, -1.0])
    depth = geometry.rasterize_depth(u, v, z, width=9, height=7)
    assert depth.shape == (7, 9) and depth.dtype == np.float32
    expected = np.full((7, 9), np.nan, np.float32)
    expected[1, 2] = 5.0
    expected[1, 3] = 3.0  # 2.51 and 2.6 both round to 3: the nearer (3 m) wins
    expected[3, 1] = 2.0
    np.testing.assert_array_equal(depth, expected)
    # The winner does not depend on the order of the points.
    order = np.arange(u.size)[::-1]
    np.testing.assert_array_equal(geometry.rasterize_depth(u[order], v[order], z[order], 9, 7),
                                  expected)


def kitti_projection(kitti: Path):
    calib = json.loads((kitti / 'calib.json').read_text())
    p2 = np.array(calib['P2'])
    lidar_to_rect = np.array(calib['lidar_to_cam2'])
    scan = np.fromfile(kitti / '000008.bin', dtype=np.float32).reshape(-1, 4)[:, :3]
    rect = scan.astype(np.float64) @ lidar_to_rect[:3, :3].T + lidar_to_rect[:3, 3]
    intrinsics = Intrinsics(fx=p2[0, 0], fy=p2[1, 1], cx=p2[0, 2], cy=p2[1, 2],
                            width=calib['width'], height=calib['height'])
    # P2 = K [I | t]: its last column is the offset of camera 2 from the rectified reference
    # camera 0 (about 6 cm along x), which is where lidar_to_cam2 (R0_rect Tr_velo_to_cam) ends.
    offset = np.linalg.solve(p2[:, :3], p2[:, 3])
    truth = cv2.imread(str(kitti / '000008_velodyne_depth_uint16.png'), cv2.IMREAD_UNCHANGED)
    return intrinsics, rect, rect + offset, truth


def test_kitti_lidar_projection_matches_the_ground_truth_depth(kitti_000008):
    intrinsics, rect, camera2, truth = kitti_projection(kitti_000008)
    assert truth.dtype == np.uint16 and truth.shape == (375, 1242)
    sparse = geometry.points_to_depth(camera2, intrinsics)
    reference = np.where(truth > 0, truth / 256.0, np.nan)
    hit = np.isfinite(sparse)
    # Exactly the pixels of the file, and every one within a few millimetres.
    assert (truth > 0).sum() == 17107
    np.testing.assert_array_equal(hit, truth > 0)
    error = np.abs(sparse[hit] - reference[hit])
    assert np.median(error) < 0.004
    assert error.max() < 1 / 512 + 0.003
    # The remaining difference is the file's choice of depth: z in the rectified reference frame
    # (2.7 mm behind camera 2), stored as round(z * 256). With that z the match is exact.
    u, v, _ = geometry.project_points(camera2, intrinsics)
    file_like = geometry.rasterize_depth(u, v, rect[:, 2], intrinsics.width, intrinsics.height)
    np.testing.assert_array_equal(np.isfinite(file_like), truth > 0)
    stored = np.rint(file_like[hit] * 256.0)
    assert np.mean(stored == truth[hit]) > 0.9999
    assert np.abs(stored - truth[hit]).max() <= 1


def test_kitti_projection_without_the_stereo_offset_misses_pixels(kitti_000008):
    intrinsics, rect, _, truth = kitti_projection(kitti_000008)
    sparse = geometry.points_to_depth(rect, intrinsics)
    # Ignoring P2's last column shifts points by ~43 px / z: most pixels no longer coincide.
    assert (np.isfinite(sparse) & (truth > 0)).sum() < 0.5 * (truth > 0).sum()


def read_ply(path: Path):
    raw = path.read_bytes()
    end = raw.index(b'end_header\n') + len(b'end_header\n')
    header = raw[:end].decode('ascii').splitlines()
    count = int(next(line for line in header if line.startswith('element vertex')).split()[-1])
    has_rgb = 'property uchar red' in header
    dtype = [('x', '<f4'), ('y', '<f4'), ('z', '<f4')]
    if has_rgb:
        dtype += [('red', 'u1'), ('green', 'u1'), ('blue', 'u1')]
    return header, np.frombuffer(raw[end:], dtype=dtype, count=count), len(raw) - end


def test_write_ply(tmp_path):
    points = geometry.depth_to_points(scene_depth(), INTRINSICS)
    colours = np.random.default_rng(1).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    valid = np.isfinite(points).all(axis=-1)
    assert geometry.write_ply(tmp_path / 'c.ply', points, colours) == valid.sum()
    header, vertices, size = read_ply(tmp_path / 'c.ply')
    assert header[:3] == ['ply', 'format binary_little_endian 1.0',
                          f'element vertex {valid.sum()}']
    assert size == valid.sum() * 15
    np.testing.assert_array_equal(np.stack([vertices[c] for c in 'xyz'], -1), points[valid])
    np.testing.assert_array_equal(np.stack([vertices[c] for c in ('red', 'green', 'blue')], -1),
                                  colours[valid])
    flat = points.reshape(-1, 3)
    assert geometry.write_ply(tmp_path / 'n.ply', flat) == valid.sum()
    header, vertices, size = read_ply(tmp_path / 'n.ply')
    assert 'property uchar red' not in header and size == valid.sum() * 12
    with pytest.raises(ValueError, match='rgb must be uint8'):
        geometry.write_ply(tmp_path / 'x.ply', points, colours[:3])


def test_colorize_depth_near_is_warm_and_invalid_is_black():
    depth = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [np.nan, 0.0, -1.0, np.inf, 3.0]], np.float32)
    rgb = colormap.colorize_depth(depth, 1.0, 5.0)
    assert rgb.shape == (2, 5, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[1, :4], 0)
    near, far = rgb[0, 0].astype(int), rgb[0, 4].astype(int)
    assert near[0] > near[2] + 50 and far[2] > far[0]
    lut = colormap.turbo_like_lut()
    np.testing.assert_array_equal(rgb[0, 0], lut[255])
    np.testing.assert_array_equal(rgb[0, 4], lut[0])
    np.testing.assert_array_equal(rgb[0, 2], lut[128])
    # Outside the range clips to the ends.
    np.testing.assert_array_equal(colormap.colorize_depth(depth, 2.0, 4.0)[0, 0], lut[255])
    assert not colormap.colorize_depth(np.full((2, 2), np.nan, np.float32)).any()
    with pytest.raises(ValueError, match='min_depth'):
        colormap.colorize_depth(depth, 5.0, 1.0)


def test_colorize_depth_writes_into_out():
    depth, _ = camera_depth()
    out = np.full(depth.shape + (3,), 7, np.uint8)
    assert colormap.colorize_depth(depth, out=out) is out
    np.testing.assert_array_equal(out, colormap.colorize_depth(depth))
    assert colormap.colorize_depth(np.full_like(depth, np.nan), out=out) is out
    assert not out.any()  # no range: every pixel black
    for wrong in (out[:, :-1], out.astype(np.float32), out[:, ::-1]):
        with pytest.raises(ValueError, match='out must be C-contiguous uint8'):
            colormap.colorize_depth(depth, out=wrong)


def test_turbo_like_lut_is_smooth_and_not_black():
    lut = colormap.turbo_like_lut().astype(int)
    assert lut.shape == (256, 3)
    assert np.abs(np.diff(lut, axis=0)).max() <= 8
    assert lut.sum(axis=1).min() > 100  # every valid depth stays visible against black


def test_colorize_depth_range_ignores_outliers():
    depth = np.tile(np.linspace(1.0, 3.0, 100, dtype=np.float32), (10, 1))
    with_outlier = depth.copy()
    with_outlier[0, 0] = 500.0
    a = colormap.colorize_depth(depth).astype(int)
    b = colormap.colorize_depth(with_outlier).astype(int)
    assert np.abs(a - b)[1:].mean() < 3


def reference_colours(depth, min_depth=None, max_depth=None):
    """Return nearness and validity as first written: percentiles of every valid pixel."""
    valid = np.isfinite(depth) & (depth > 0)
    if min_depth is None:
        min_depth, max_depth = np.percentile(depth[valid], (2.0, 98.0))
    nearness = np.clip((max_depth - depth) / max(max_depth - min_depth, 1e-6), 0.0, 1.0)
    return nearness, valid


@pytest.mark.parametrize('fixed', [True, False])
def test_colorize_depth_follows_the_reference_maths(fixed):
    # A smooth scene, as a network predicts, with invalid pixels of every kind.
    v, u = np.mgrid[0:480, 0:640].astype(np.float32)
    depth = 1.0 + 8.0 * (v / 480) ** 2 + 0.5 * np.sin(u / 40)
    depth[100:110, :] = np.nan
    depth[200, ::3] = 0.0
    depth[300, ::5] = np.inf
    depth[400, ::7] = -3.0
    bounds = (2.0, 7.0) if fixed else (None, None)
    with np.errstate(invalid='ignore'):
        nearness, valid = reference_colours(depth, *bounds)
    rgb = colormap.colorize_depth(depth, *bounds)
    assert not rgb[~valid].any()
    # The table of the new path: index 1 + 254 * nearness, ends and middle on the old table.
    lut = colormap.depth_lut()
    index = np.rint(1 + 254 * nearness[valid]).astype(int)
    turbo = colormap.turbo_like_lut().astype(int)
    assert np.abs(lut[index].astype(int) - turbo[np.rint(255 * nearness[valid]).astype(int)]
                  ).max() <= 8  # within one step of the 256-level table
    found = rgb[valid].astype(int)
    same = (found == lut[index]).all(axis=1)
    if fixed:
        assert same.mean() > 0.999  # only float rounding ties may differ
    else:
        # The range comes from a sample of the pixels: colours within two table steps.
        neighbours = np.abs(found[:, None] - lut[np.clip(index[:, None] + np.arange(-2, 3), 1,
                                                         255)].astype(int)).sum(-1).min(1)
        assert same.mean() > 0.5 and neighbours.max() == 0


def test_depth_range_is_the_percentiles_of_a_sample_of_pixels():
    depth = np.random.default_rng(3).uniform(1.0, 9.0, (1000, 1500)).astype(np.float32)
    depth[::2] = np.nan  # interlaced: a grid of pixels could see only these rows
    low, high = colormap.depth_range(depth)
    sample = depth.ravel()[colormap.range_sample(1000, 1500)]
    assert sample.size == colormap.RANGE_SAMPLES
    np.testing.assert_allclose((low, high),
                               np.percentile(sample[np.isfinite(sample)], (2, 98)), rtol=1e-6)
    assert abs(low - 1.16) < 0.05 and abs(high - 8.84) < 0.05  # those of every pixel
    small = depth[:100, :100]
    assert colormap.depth_range(small) == tuple(np.percentile(small[np.isfinite(small)],
                                                              (2, 98)))
    assert all(math.isnan(b) for b in colormap.depth_range(np.full((3, 3), np.nan)))
    for shape in [(1, 1), (1, 2), (3, 5), (7, 11)]:  # every rank and interpolation case
        values = np.random.default_rng(shape[1]).uniform(0.5, 9.0, shape).astype(np.float32)
        np.testing.assert_allclose(colormap.depth_range(values),
                                   np.percentile(values, (2, 98)), rtol=1e-12)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('bounds', [(None, None), (2.0, 6.0), (3.0, None)])
def test_colorize_depth_torch_agrees_with_numpy(device, bounds):
    depth, _ = camera_depth(240, 320)
    expected = colormap.colorize_depth(depth, *bounds)
    rgb = colormap.colorize_depth_torch(torch.from_numpy(depth).to(device), *bounds)
    assert rgb.dtype == torch.uint8 and rgb.device.type == device
    rgb = rgb.cpu().numpy()
    lut = colormap.depth_lut().astype(int)
    index = {tuple(colour): i for i, colour in enumerate(lut)}
    found = np.array([index[tuple(c)] for c in rgb.reshape(-1, 3).astype(int)])
    wanted = np.array([index[tuple(c)] for c in expected.reshape(-1, 3).astype(int)])
    assert np.abs(found - wanted).max() <= 1 and (found != wanted).mean() < 0.001
    black = torch.full((4, 4), math.nan, device=device)
    assert not colormap.colorize_depth_torch(black).any()


def test_label_palette():
    palette = colormap.label_palette(40)
    assert palette.shape == (40, 3) and palette.dtype == np.uint8
    assert len({tuple(c) for c in colormap.label_palette(256)}) == 256
    distance = np.abs(palette[:, None].astype(int) - palette[None]).sum(-1)
    assert distance[~np.eye(40, dtype=bool)].min() > 30
    np.testing.assert_array_equal(colormap.label_palette(19), palette[:19])
    labels = np.array([[0, 1], [39, 1]], np.uint8)
    np.testing.assert_array_equal(colormap.colorize_labels(labels, 40), palette[labels])
    with pytest.raises(ValueError, match='39.*num_classes is 20'):
        colormap.colorize_labels(labels, 20)
