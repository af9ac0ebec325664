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
The ``compressedDepth`` image transport's PNG format, so that RViz and rqt decode our depth.

compressed_depth_image_transport (ros-perception/image_transport_plugins) publishes a depth image
as a sensor_msgs/CompressedImage whose ``format`` is ``"<encoding>; compressedDepth png"`` and
whose ``data`` is a 12-byte configuration header followed by a 16-bit greyscale PNG:

- header: int32 compression format (0, inverse depth), then two float32 quantisation
  parameters A and B, in the machine's byte order (little-endian on every ROS platform);
- ``16UC1``: the PNG holds the millimetres as they are; values above ``depth_max`` (in mm) are
  0, invalid. A and B are not used (we write zeros);
- ``32FC1``: the PNG holds a quantised inverse depth: with ``q = depth_quantization``,
  ``A = q * (q + 1)`` and ``B = 1 - A / depth_max``, a depth ``d < depth_max`` is stored as
  ``trunc(A / d + B)`` (float32 arithmetic) and anything else as 0; a decoder gives back
  ``A / (v - B)`` for ``v > 0`` and NaN for 0. The step between two codes is ``d^2 / A``:
  1 mm at 0.32 m, 1 cm at 1 m, 1 m at 100 m with the defaults.

Depths nearer than ``A / (65535 - B)`` (0.15 m with the defaults) have no code and are sent as 0
(invalid), as REP 118 depth that cannot be represented is never clamped to a wrong distance here.
This module works on the pixel values of a REP 118 depth image (see
:mod:`mono_depth_ros.ros_io`); it imports no ROS.
"""
from __future__ import annotations

import math
import struct

import cv2
import numpy as np

FORMAT_SUFFIX = '; compressedDepth png'
INVERSE_DEPTH = 0  # compressionFormat INV_DEPTH of the plugin's ConfigHeader
HEADER = struct.Struct('<iff')
DEFAULT_DEPTH_MAX = 10.0
DEFAULT_QUANTIZATION = 100.0
DEFAULT_PNG_LEVEL = 1
_CODES = 1 << 16


def quantisation(depth_max: float, quantization: float) -> tuple[np.float32, np.float32]:
    """Return the plugin's float32 inverse-depth parameters ``(A, B)``."""
    if not (math.isfinite(depth_max) and depth_max > 0):
        raise ValueError(f'depth_max must be a depth in metres > 0, got {depth_max!r}')
    if not (math.isfinite(quantization) and quantization > 0):
        raise ValueError(f'depth_quantization must be > 0, got {quantization!r}')
    q = np.float32(quantization)
    scale = q * (q + np.float32(1.0))
    return scale, np.float32(1.0) - scale / np.float32(depth_max)


def encode(values: np.ndarray, encoding: str, depth_max: float = DEFAULT_DEPTH_MAX,
           quantization: float = DEFAULT_QUANTIZATION,
           png_level: int = DEFAULT_PNG_LEVEL) -> tuple[str, bytes]:
    """
    Compress the pixel values of a REP 118 depth image; return ``(format, data)``.

    ``values`` is ``(H, W)`` uint16 millimetres (``16UC1``, 0 invalid) or float32 metres
    (``32FC1``, NaN invalid). ``depth_max`` (metres), ``quantization`` and ``png_level`` (0-9,
    higher is smaller and slower) are the plugin's ``depth_max``, ``depth_quantization`` and
    ``png_level`` parameters.
    """
    values = np.asarray(values)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f'depth must be a non-empty (H, W) image, got shape {values.shape}')
    if int(png_level) != png_level or not 0 <= png_level <= 9:
        raise ValueError(f'png_level must be an integer from 0 to 9, got {png_level!r}')
    if encoding == '16UC1':
        if values.dtype != np.uint16:
            raise ValueError(f'16UC1 depth must be uint16 millimetres, got {values.dtype}')
        if not (math.isfinite(depth_max) and depth_max > 0):
            raise ValueError(f'depth_max must be a depth in metres > 0, got {depth_max!r}')
        # The plugin casts float(depth_max) * 1000 to unsigned short (truncating).
        limit = int(np.float32(depth_max) * np.float32(1000.0))
        codes = np.where(values > limit, np.uint16(0), values) if limit < 65535 else values
        header = HEADER.pack(INVERSE_DEPTH, 0.0, 0.0)
    elif encoding == '32FC1':
        if values.dtype != np.float32:
            raise ValueError(f'32FC1 depth must be float32 metres, got {values.dtype}')
        scale, offset = quantisation(depth_max, quantization)
        with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
            inverse = scale / values + offset
            keep = (values < np.float32(depth_max)) & (values > 0) & (inverse < _CODES)
        codes = np.where(keep, inverse, np.float32(0.0)).astype(np.uint16)
        header = HEADER.pack(INVERSE_DEPTH, float(scale), float(offset))
    else:
        raise ValueError(f'compressedDepth takes 16UC1 or 32FC1 depth, got {encoding!r}')
    # Every row with PNG's Up filter: on depth images as small as libpng's adaptive choice of
    # filter per row (within a few per cent) and about twice as fast to write. Any PNG decoder
    # reads it, the plugin's included.
    ok, png = cv2.imencode('.png', np.ascontiguousarray(codes),
                           [cv2.IMWRITE_PNG_COMPRESSION, int(png_level),
                            cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP])
    if not ok:
        raise ValueError(f'PNG encoding of a {values.shape[1]}x{values.shape[0]} depth image '
                         'failed')
    return encoding + FORMAT_SUFFIX, header + png.tobytes()
