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
Pinhole camera geometry: intrinsics, resizing, back-projection (REP 103 optical frame).

Everything here works in the camera's optical frame (z forward, x right, y down) and uses the
pixel convention of OpenCV and ROS: integer pixel coordinates are pixel centres, so pixel (u, v)
covers [u - 0.5, u + 0.5) x [v - 0.5, v + 0.5).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
import math
from pathlib import Path
from typing import Optional, Tuple, TYPE_CHECKING, Union

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Intrinsics:
    """
    Pinhole intrinsics of an image of ``width`` x ``height`` pixels.

    Taken from the projection matrix P, as depth_image_proc does. Pixel (u, v) with depth z maps to
    x = (u - cx) * z / fx, y = (v - cy) * z / fy in the optical frame (z forward, x right, y down).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def scaled(self, width: int, height: int) -> Intrinsics:
        """
        Return the intrinsics of the same view resized to ``width`` x ``height``.

        Pixel centres are kept aligned, as cv2.resize and torch's ``align_corners=False`` do:
        u' + 0.5 = (u + 0.5) * width / self.width.
        """
        sx = width / self.width
        sy = height / self.height
        return Intrinsics(fx=self.fx * sx, fy=self.fy * sy,
                          cx=(self.cx + 0.5) * sx - 0.5, cy=(self.cy + 0.5) * sy - 0.5,
                          width=width, height=height)

    def matrix(self) -> np.ndarray:
        """Return the 3x3 camera matrix K (float64)."""
        return np.array([[self.fx, 0.0, self.cx],
                         [0.0, self.fy, self.cy],
                         [0.0, 0.0, 1.0]])


def intrinsics_from_mapping(info: dict, width: Optional[int] = None,
                            height: Optional[int] = None,
                            source: Union[Path, str] = 'camera info') -> Intrinsics:
    """
    Return the intrinsics a camera-info mapping gives for an image of ``width`` x ``height``.

    Without ``width`` and ``height``, the intrinsics of the size the mapping states.

    Accepted forms, first match wins: ``fx fy cx cy`` keys; a ``sensor_msgs/CameraInfo`` with
    ``p`` (or ``P``, 12 values) or ``k`` (``K``, 9 values); a ROS camera_calibration file with
    ``projection_matrix`` or ``camera_matrix`` holding ``data``. When the mapping states its own
    size (``width``/``height`` or ``image_width``/``image_height``) and the image has another
    size of the same aspect ratio, the intrinsics are scaled to the image.
    """
    keys = {key.lower(): value for key, value in info.items()}
    if all(k in keys for k in ('fx', 'fy', 'cx', 'cy')):
        fx, fy, cx, cy = (float(keys[k]) for k in ('fx', 'fy', 'cx', 'cy'))
    else:
        matrix = None
        for key, size in (('p', 12), ('projection_matrix', 12), ('k', 9), ('camera_matrix', 9)):
            value = keys.get(key)
            if isinstance(value, dict):
                value = value.get('data')
            if value is not None:
                matrix = np.asarray(value, dtype=np.float64).ravel()
                if matrix.size != size:
                    raise ValueError(f'{source}: {key} must hold {size} values, got '
                                     f'{matrix.size}')
                matrix = matrix.reshape(3, -1)
                break
        if matrix is None:
            raise ValueError(f'{source}: no intrinsics found; give fx, fy, cx, cy, or a camera '
                             'info P or K matrix')
        fx, fy = float(matrix[0, 0]), float(matrix[1, 1])
        cx, cy = float(matrix[0, 2]), float(matrix[1, 2])
    if not np.all(np.isfinite([fx, fy, cx, cy])) or fx <= 0 or fy <= 0:
        raise ValueError(f'{source}: intrinsics must be finite with fx, fy > 0, got '
                         f'fx={fx} fy={fy} cx={cx} cy={cy}')
    info_width = int(keys.get('width', keys.get('image_width', 0)) or width or 0)
    info_height = int(keys.get('height', keys.get('image_height', 0)) or height or 0)
    if not info_width or not info_height:
        raise ValueError(f'{source}: states no image size; give width and height (or '
                         'image_width and image_height)')
    intrinsics = Intrinsics(fx=fx, fy=fy, cx=cx, cy=cy, width=info_width, height=info_height)
    if width is None or (info_width, info_height) == (width, height):
        return intrinsics
    if info_width * height != info_height * width:
        raise ValueError(f'{source} describes a {info_width}x{info_height} camera, but the '
                         f'image is {width}x{height} (another aspect ratio)')
    return intrinsics.scaled(width, height)


def intrinsics_from_fov(width: int, height: int, horizontal_fov_deg: float) -> Intrinsics:
    """Square-pixel pinhole intrinsics centred in the image, from the horizontal field of view."""
    focal = (width / 2) / math.tan(math.radians(horizontal_fov_deg) / 2)
    return Intrinsics(fx=focal, fy=focal, cx=(width - 1) / 2, cy=(height - 1) / 2,
                      width=width, height=height)


def read_camera_file(path: Union[Path, str]) -> dict:
    """
    Read a camera_calibration YAML or a CameraInfo JSON/YAML file as a mapping.

    Pass the result to :func:`intrinsics_from_mapping`.
    """
    import json

    import yaml

    path = Path(path)
    text = path.read_text()
    try:
        info = json.loads(text) if path.suffix == '.json' else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ValueError(f'{path} is not valid JSON/YAML: {error}') from error
    if not isinstance(info, dict):
        raise ValueError(f'{path} must hold a mapping of camera parameters')
    return info


def _check_depth_size(shape: Tuple[int, ...], intrinsics: Intrinsics) -> None:
    if len(shape) < 2 or shape[-2:] != (intrinsics.height, intrinsics.width):
        raise ValueError(
            f'depth of shape {tuple(shape)} does not match intrinsics of '
            f'{intrinsics.width}x{intrinsics.height} (expected (..., {intrinsics.height}, '
            f'{intrinsics.width})); scale them first with intrinsics.scaled(width, height)')


def _check_range(decimation: int, min_depth: float, max_depth: float) -> None:
    if int(decimation) != decimation or decimation < 1:
        raise ValueError(f'decimation must be an integer >= 1, got {decimation!r}')
    if not min_depth <= max_depth:
        raise ValueError(f'min_depth ({min_depth}) must not exceed max_depth ({max_depth})')


@lru_cache(maxsize=8)
def ray_factors(intrinsics: Intrinsics, decimation: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """
    Return the per-column and per-row back-projection factors of the kept pixels, cached.

    ``ax[j] = (u - cx) / fx`` for u = j * decimation and ``ay[i] = (v - cy) / fy`` for
    v = i * decimation (float32, read-only), so the point of pixel (u, v) with depth z is
    (ax[j] * z, ay[i] * z, z). Cached per intrinsics and decimation: computed once per camera.
    """
    _check_range(decimation, 0.0, 0.0)
    k = int(decimation)
    u = np.arange(0, intrinsics.width, k, dtype=np.float32)
    v = np.arange(0, intrinsics.height, k, dtype=np.float32)
    ax = (u - np.float32(intrinsics.cx)) / np.float32(intrinsics.fx)
    ay = (v - np.float32(intrinsics.cy)) / np.float32(intrinsics.fy)
    ax.flags.writeable = False
    ay.flags.writeable = False
    return ax, ay


def clip_depth(depth: np.ndarray, min_depth: float = 0.0, max_depth: float = math.inf,
               copy: bool = True) -> np.ndarray:
    """
    Return ``depth`` as float32 with NaN where it is invalid (NaN, inf, <= 0) or out of range.

    Kept: finite depths with z > 0 and ``min_depth`` <= z <= ``max_depth``. A depth map whose
    only invalid values are NaN and which has nothing out of range (what a network predicts,
    and what this returns) is found by two reductions that skip NaN and copied, or returned
    as it is with ``copy=False`` (then do not write into the result). Otherwise three passes
    of OpenCV's vectorised thresholds instead of numpy's chain of masks.
    """
    z = np.ascontiguousarray(depth, dtype=np.float32)
    if not z.size:
        return z.copy()
    highest = min(float(max_depth), _FLOAT32_MAX)
    # The largest float32 below min_depth (or 0): a kept depth is above it.
    lowest = float(np.nextafter(np.float32(min_depth), np.float32(0))) if min_depth > 0 else 0.0
    # fmin and fmax skip NaN; a map of NaN only gives NaN and takes the long way.
    if np.fmin.reduce(z, axis=None) > lowest and np.fmax.reduce(z, axis=None) <= highest:
        return z.copy() if copy else z
    # Farther than max_depth (and +inf) becomes 0; NaN stays NaN.
    bounded = cv2.threshold(z, highest, 0.0, cv2.THRESH_TOZERO_INV)[1]
    # NaN where the bounded depth is not above lowest.
    offset = cv2.threshold(bounded, lowest, math.nan, cv2.THRESH_BINARY_INV)[1]
    return cv2.add(z, offset)


def depth_to_points(depth: np.ndarray, intrinsics: Intrinsics, decimation: int = 1,
                    min_depth: float = 0.0, max_depth: float = math.inf) -> np.ndarray:
    """
    Back-project a depth image to an organised cloud, as depth_image_proc does.

    ``depth`` is ``(..., H, W)`` in metres (NaN, inf or <= 0 are invalid) and must match the size
    of ``intrinsics``. The result is ``(..., H', W', 3)`` float32 points in the optical frame:
    x = (u - cx) * z / fx, y = (v - cy) * z / fy, z = depth; NaN where the depth is invalid,
    below ``min_depth`` or above ``max_depth``.

    ``decimation`` k keeps pixels u = 0, k, 2k, ... and v = 0, k, 2k, ... (H' = ceil(H / k)),
    back-projected with the intrinsics of the full image: the points are the exact
    back-projection of the kept pixels, not of a resized image.
    """
    _check_depth_size(depth.shape, intrinsics)
    _check_range(decimation, min_depth, max_depth)
    k = int(decimation)
    kept = depth[..., ::k, ::k]
    z = clip_depth(kept.reshape(-1, kept.shape[-1]), min_depth, max_depth,
                   copy=False).reshape(kept.shape)  # only read below
    ax, ay = ray_factors(intrinsics, k)
    points = np.empty(z.shape + (3,), dtype=np.float32)
    np.multiply(z, ax, out=points[..., 0])
    np.multiply(z, ay[:, None], out=points[..., 1])
    points[..., 2] = z
    return points


def depth_to_points_torch(depth: torch.Tensor, intrinsics: Intrinsics, decimation: int = 1,
                          min_depth: float = 0.0, max_depth: float = math.inf) -> torch.Tensor:
    """
    Torch version of :func:`depth_to_points`, on the device and dtype of ``depth``.

    Same conventions and arguments; ``depth`` is a floating tensor ``(..., H, W)`` in metres and
    the result is ``(..., H', W', 3)`` with NaN for invalid points.
    """
    import torch  # only here, so that numpy-only users do not pay for importing torch

    if not torch.is_floating_point(depth):
        raise ValueError(f'depth must be a floating point tensor, got {depth.dtype}')
    _check_depth_size(tuple(depth.shape), intrinsics)
    _check_range(decimation, min_depth, max_depth)
    z = clip_depth_torch(depth[..., ::decimation, ::decimation], min_depth, max_depth)
    ax, ay = (torch.tensor(f, dtype=depth.dtype, device=depth.device)
              for f in ray_factors(intrinsics, int(decimation)))
    return torch.stack((z * ax, z * ay[:, None], z), dim=-1)


def clip_depth_torch(z: torch.Tensor, min_depth: float = 0.0, max_depth: float = math.inf
                     ) -> torch.Tensor:
    """Torch version of :func:`clip_depth`, on the device of ``z``."""
    import torch

    valid = torch.isfinite(z) & (z > 0) & (z >= min_depth) & (z <= max_depth)
    return torch.where(valid, z, torch.full_like(z, math.nan))


# Organised cloud records as depth_image_proc publishes them (PCL's memory layout), in float32
# lanes: PointXYZ is x y z and a zero pad (16 bytes); PointXYZRGB adds the packed rgb and three
# zero pads (32 bytes).
XYZ_LANES = 4
XYZRGB_LANES = 8
RGB_LANE = 4


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pack ``(..., 3)`` uint8 RGB into uint32 0x00RRGGBB, the bits of PCL's float ``rgb``."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    rows = rgb.reshape(-1, rgb.shape[-2] if rgb.ndim > 2 else 1, 3)  # images keep their rows
    # BGRA bytes read as a little-endian uint32 are 0xAARRGGBB; then clear the alpha byte.
    bgra = cv2.cvtColor(rows, cv2.COLOR_RGB2BGRA)
    packed = bgra.view('<u4').reshape(rgb.shape[:-1])
    np.bitwise_and(packed, np.uint32(0x00FFFFFF), out=packed)
    return packed


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_rgb`: uint32 0x00RRGGBB to ``(..., 3)`` uint8 RGB."""
    packed = np.asarray(packed, dtype=np.uint32)
    return np.stack(((packed >> 16) & 0xFF, (packed >> 8) & 0xFF, packed & 0xFF),
                    axis=-1).astype(np.uint8)


def point_records(depth: np.ndarray, intrinsics: Intrinsics, decimation: int = 1,
                  min_depth: float = 0.0, max_depth: float = math.inf,
                  rgb: Optional[np.ndarray] = None, out: Optional[np.ndarray] = None
                  ) -> np.ndarray:
    """
    Back-project ``(H, W)`` depth straight into organised cloud records (see :data:`XYZ_LANES`).

    Same points as :func:`depth_to_points` (decimation, min/max clipping, NaN for invalid
    points), but laid out as the bytes of a depth_image_proc PointCloud2: ``(H', W', 4)``
    float32 lanes x y z 0, or with ``rgb`` (``(H, W, 3)`` uint8, the colour of each depth
    pixel) ``(H', W', 8)`` lanes x y z 0 rgb 0 0 0 with rgb the bits 0x00RRGGBB. The rays come
    from :func:`ray_factors` and the records are written in one interleaving pass into ``out``
    (for instance a message's buffer) when given: no ``(H, W, 3)`` intermediate.
    """
    if np.ndim(depth) != 2:
        raise ValueError(f'depth must have shape (H, W), got {np.shape(depth)}')
    _check_depth_size(depth.shape, intrinsics)
    _check_range(decimation, min_depth, max_depth)
    k = int(decimation)
    z = clip_depth(depth[::k, ::k], min_depth, max_depth, copy=False)
    ax, ay = ray_factors(intrinsics, k)
    planes = [np.multiply(z, ax), np.multiply(z, ay[:, None]), z]
    return merge_records(planes, _decimated_rgb(rgb, depth.shape, k), out)


@lru_cache(maxsize=1)
def _zero_plane(height: int, width: int) -> np.ndarray:
    """
    Return a read-only float32 plane of zeros for the pads, kept for the next cloud.

    Allocating and zeroing one per cloud cost 0.1 ms at 640x480; only the last size is kept,
    so a single large frame leaves nothing large behind.
    """
    zeros = np.zeros((height, width), np.float32)
    zeros.flags.writeable = False
    return zeros


def merge_records(xyz: list, rgb: Optional[np.ndarray], out: Optional[np.ndarray] = None
                  ) -> np.ndarray:
    """
    Interleave x, y, z planes (and packed ``rgb``) into cloud records in one pass.

    ``xyz`` holds float32 arrays whose channels add up to three (three ``(H, W)`` planes, or one
    ``(H, W, 3)`` array); ``rgb`` is ``(H, W)`` uint32 from :func:`pack_rgb` or None.
    """
    height, width = xyz[0].shape[:2]
    zeros = _zero_plane(height, width)
    planes = list(xyz) + [zeros]
    if rgb is not None:
        planes += [rgb.view(np.float32), zeros, zeros, zeros]
    lanes = XYZ_LANES if rgb is None else XYZRGB_LANES
    if out is None:
        out = np.empty((height, width, lanes), np.float32)
    elif out.shape != (height, width, lanes) or out.dtype != np.float32:
        raise ValueError(f'out must be float32 of shape {(height, width, lanes)}, got '
                         f'{out.dtype} {out.shape}')
    merged = cv2.merge(planes, dst=out)
    if merged.ctypes.data != out.ctypes.data:  # OpenCV wrote elsewhere: a layout it refused
        out[...] = merged
    return out


def decimated_size(height: int, width: int, decimation: int) -> Tuple[int, int]:
    """Return the (height, width) of the cloud of a ``height`` x ``width`` depth image."""
    _check_range(decimation, 0.0, 0.0)
    k = int(decimation)
    return -(-int(height) // k), -(-int(width) // k)


def _decimated_rgb(rgb: Optional[np.ndarray], shape: Tuple[int, ...], k: int
                   ) -> Optional[np.ndarray]:
    if rgb is None:
        return None
    if rgb.dtype != np.uint8 or rgb.shape != tuple(shape) + (3,):
        raise ValueError(f'rgb must be uint8 of shape {tuple(shape) + (3,)}, got {rgb.dtype} '
                         f'{rgb.shape}')
    return pack_rgb(np.ascontiguousarray(rgb[::k, ::k]))


def point_records_torch(depth: torch.Tensor, intrinsics: Intrinsics, decimation: int = 1,
                        min_depth: float = 0.0, max_depth: float = math.inf,
                        rgb: Optional[torch.Tensor] = None) -> torch.Tensor:
    """
    Torch version of :func:`point_records`, on the device of ``depth`` (a GPU keeps the cloud).

    ``depth`` is an ``(H, W)`` floating tensor, ``rgb`` an ``(H, W, 3)`` uint8 tensor or None;
    the result is the same float32 records, ready for one copy into a message's buffer.
    """
    import torch

    if depth.ndim != 2 or not torch.is_floating_point(depth):
        raise ValueError(f'depth must be an (H, W) floating point tensor, got {depth.dtype} '
                         f'{tuple(depth.shape)}')
    _check_depth_size(tuple(depth.shape), intrinsics)
    _check_range(decimation, min_depth, max_depth)
    k = int(decimation)
    z = clip_depth_torch(depth[::k, ::k].float(), min_depth, max_depth)
    ax, ay = (torch.tensor(f, device=depth.device) for f in ray_factors(intrinsics, k))
    lanes = XYZ_LANES if rgb is None else XYZRGB_LANES
    records = torch.zeros(z.shape + (lanes,), dtype=torch.float32, device=depth.device)
    records[..., 0] = z * ax
    records[..., 1] = z * ay[:, None]
    records[..., 2] = z
    if rgb is not None:
        if rgb.dtype != torch.uint8 or tuple(rgb.shape) != tuple(depth.shape) + (3,):
            raise ValueError(f'rgb must be uint8 of shape {tuple(depth.shape) + (3,)}, got '
                             f'{rgb.dtype} {tuple(rgb.shape)}')
        colour = rgb[::k, ::k].to(torch.int32)
        packed = (colour[..., 0] << 16) | (colour[..., 1] << 8) | colour[..., 2]
        records[..., RGB_LANE] = packed.view(torch.float32)
    return records


def project_points(points: np.ndarray, intrinsics: Intrinsics
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Project ``(N, 3)`` optical-frame points to pixel coordinates.

    Returns float64 arrays ``(u, v, z)`` with u = fx * x / z + cx, v = fy * y / z + cy (pixel
    centres at integer coordinates). Points behind the camera or not finite (z <= 0) get NaN
    u and v. Points are not clipped to the image: see :func:`rasterize_depth`.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f'points must have shape (N, 3), got {pts.shape}')
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    with np.errstate(invalid='ignore'):
        front = np.isfinite(pts).all(axis=1) & (z > 0)
    safe_z = np.where(front, z, 1.0)
    u = np.where(front, intrinsics.fx * x / safe_z + intrinsics.cx, np.nan)
    v = np.where(front, intrinsics.fy * y / safe_z + intrinsics.cy, np.nan)
    return u, v, z


def rasterize_depth(u: np.ndarray, v: np.ndarray, z: np.ndarray, width: int, height: int
                    ) -> np.ndarray:
    """
    Splat projected points into a sparse ``(height, width)`` float32 depth image in metres.

    Each point lands on the pixel nearest to (u, v), i.e. floor(u + 0.5); points outside the
    image, with NaN coordinates or with z <= 0 are dropped. Where several points hit one pixel
    the nearest (smallest z) wins, as a LiDAR's occluding return would. Pixels with no point are
    NaN.
    """
    u = np.asarray(u, dtype=np.float64).ravel()
    v = np.asarray(v, dtype=np.float64).ravel()
    z = np.asarray(z, dtype=np.float64).ravel()
    if not u.shape == v.shape == z.shape:
        raise ValueError(f'u, v and z must have the same length, got {u.size}, {v.size}, '
                         f'{z.size}')
    with np.errstate(invalid='ignore'):
        ui = np.floor(u + 0.5)
        vi = np.floor(v + 0.5)
        keep = ((ui >= 0) & (ui < width) & (vi >= 0) & (vi < height)
                & np.isfinite(z) & (z > 0))
    index = vi[keep].astype(np.int64) * width + ui[keep].astype(np.int64)
    depth = z[keep]
    order = np.lexsort((depth, index))
    index, depth = index[order], depth[order]
    first = np.ones(index.size, dtype=bool)
    first[1:] = index[1:] != index[:-1]
    image = np.full(height * width, np.nan, dtype=np.float32)
    image[index[first]] = depth[first]
    return image.reshape(height, width)


def points_to_depth(points: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """
    Project ``(N, 3)`` optical-frame points into a sparse depth image of the intrinsics' size.

    Shorthand for :func:`project_points` followed by :func:`rasterize_depth`; NaN = no point.
    """
    u, v, z = project_points(points, intrinsics)
    return rasterize_depth(u, v, z, intrinsics.width, intrinsics.height)


def write_ply(path: Union[str, Path], points: np.ndarray,
              rgb: Optional[np.ndarray] = None) -> int:
    """
    Write the valid points as a binary little-endian PLY file; return how many were written.

    ``points`` is ``(N, 3)`` or organised ``(H, W, 3)``; points with any non-finite coordinate
    are skipped. ``rgb`` (same leading shape, uint8) adds red/green/blue vertex properties.
    """
    pts = np.asarray(points, dtype=np.float32)
    if pts.shape[-1:] != (3,):
        raise ValueError(f'points must have shape (N, 3) or (H, W, 3), got {pts.shape}')
    pts = pts.reshape(-1, 3)
    valid = np.isfinite(pts).all(axis=1)
    fields = [('x', '<f4'), ('y', '<f4'), ('z', '<f4')]
    if rgb is not None:
        colours = np.asarray(rgb)
        if colours.dtype != np.uint8 or colours.shape[:-1] != np.shape(points)[:-1] \
                or colours.shape[-1:] != (3,):
            raise ValueError(f'rgb must be uint8 of shape {np.shape(points)}, got '
                             f'{colours.dtype} {colours.shape}')
        fields += [('red', 'u1'), ('green', 'u1'), ('blue', 'u1')]
    vertices = np.empty(int(valid.sum()), dtype=fields)
    for axis, name in enumerate('xyz'):
        vertices[name] = pts[valid, axis]
    header = ['ply', 'format binary_little_endian 1.0', f'element vertex {vertices.size}',
              'property float x', 'property float y', 'property float z']
    if rgb is not None:
        flat = colours.reshape(-1, 3)[valid]
        for axis, name in enumerate(('red', 'green', 'blue')):
            vertices[name] = flat[:, axis]
        header += ['property uchar red', 'property uchar green', 'property uchar blue']
    header.append('end_header')
    with open(path, 'wb') as stream:
        stream.write(('\n'.join(header) + '\n').encode('ascii'))
        stream.write(vertices.tobytes())
    return int(vertices.size)
