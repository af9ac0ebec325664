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

"""Colour views of depth maps and segmentation labels (numpy and OpenCV only)."""
from __future__ import annotations

from functools import lru_cache
import math
from typing import Optional, TYPE_CHECKING

import cv2
from mono_depth_ros.geometry import clip_depth
import numpy as np

if TYPE_CHECKING:
    import torch

# Control points (position, R, G, B) of a turbo-like rainbow: dark indigo through blue, cyan,
# green, yellow and orange to dark red. Lightness rises to the middle and falls again, so the
# map reads well in colour and its ends stay distinguishable from the black of invalid pixels.
_TURBO_LIKE_ANCHORS = np.array([
    (0.00, 48, 18, 59),
    (0.10, 68, 74, 184),
    (0.20, 66, 127, 246),
    (0.30, 40, 178, 238),
    (0.40, 26, 222, 196),
    (0.50, 74, 248, 131),
    (0.60, 150, 254, 64),
    (0.70, 211, 226, 52),
    (0.80, 252, 170, 44),
    (0.90, 226, 86, 19),
    (1.00, 122, 4, 3),
], dtype=np.float64)

# Percentiles of the valid depths that bound the colour range when none is given, and how many
# pixels, at most, they are estimated from.
_LOW_PERCENTILE = 2.0
_HIGH_PERCENTILE = 98.0
RANGE_SAMPLES = 16384


@lru_cache(maxsize=1)
def turbo_like_lut() -> np.ndarray:
    """Return the ``(256, 3)`` uint8 RGB lookup table: index 0 = far/cold, 255 = near/warm."""
    t = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(t, _TURBO_LIKE_ANCHORS[:, 0], _TURBO_LIKE_ANCHORS[:, c])
                    for c in (1, 2, 3)], axis=-1)
    lut = np.rint(lut).astype(np.uint8)
    lut.flags.writeable = False
    return lut


@lru_cache(maxsize=1)
def depth_lut() -> np.ndarray:
    """
    Return the ``(256, 3)`` uint8 table that :func:`colorize_depth` indexes.

    Index 0 is black (invalid); indices 1 (far) to 255 (near) resample :func:`turbo_like_lut`
    over 255 steps, so its ends and middle are the turbo-like table's own colours.
    """
    source = np.rint(np.arange(255) * (255 / 254)).astype(np.intp)
    lut = np.concatenate([np.zeros((1, 3), np.uint8), turbo_like_lut()[source]])
    lut.flags.writeable = False
    return lut


@lru_cache(maxsize=4)
def range_sample(height: int, width: int) -> np.ndarray:
    """
    Return the flat indices of the pixels that :func:`depth_range` looks at, cached per size.

    Every pixel of an image of at most :data:`RANGE_SAMPLES` pixels; otherwise that many
    pixels spread at random (seeded, so the same size always gives the same pixels) rather
    than on a grid, which could fall entirely on the invalid rows of an interlaced image.
    """
    count = height * width
    if count <= RANGE_SAMPLES:
        indices = np.arange(count)
    else:
        indices = np.sort(np.random.default_rng(0).choice(count, RANGE_SAMPLES, replace=False))
    indices.flags.writeable = False
    return indices


def depth_range(depth: np.ndarray) -> tuple[float, float]:
    """
    Return the robust colour range of a depth map: the 2nd and 98th percentile of its valid pixels.

    Estimated on :func:`range_sample` (every pixel of small images), so a few outliers do not
    wash the image out and large images cost no more than small ones. ``(nan, nan)`` when no
    sampled pixel is valid.
    """
    height, width = np.shape(depth)
    sample = np.take(np.asarray(depth, dtype=np.float32), range_sample(height, width))
    with np.errstate(invalid='ignore'):
        valid = sample[np.isfinite(sample) & (sample > 0)]
    if not valid.size:
        return math.nan, math.nan
    return _percentiles(valid, (_LOW_PERCENTILE, _HIGH_PERCENTILE))


def _percentiles(values: np.ndarray, qs: tuple[float, ...]) -> tuple[float, ...]:
    """
    Return ``np.percentile(values, qs)`` (linear interpolation); ``values`` is reordered.

    One partition around the neighbouring ranks of every percentile: a third of np.percentile's
    time on the 16,384 pixels of :func:`range_sample`, most of which was its bookkeeping.
    """
    last = values.size - 1
    positions = [q / 100.0 * last for q in qs]
    ranks = [(int(p), min(int(p) + 1, last)) for p in positions]
    values.partition(sorted({rank for pair in ranks for rank in pair}))
    return tuple(float(values[below]) + (float(values[above]) - float(values[below])) * (p - below)
                 for p, (below, above) in zip(positions, ranks))


def colorize_depth(depth: np.ndarray, min_depth: Optional[float] = None,
                   max_depth: Optional[float] = None, out: Optional[np.ndarray] = None
                   ) -> np.ndarray:
    """
    Colour an ``(H, W)`` depth map in metres as ``(H, W, 3)`` uint8 RGB.

    Near is warm (red), far is cold (blue), linear in depth between ``min_depth`` and
    ``max_depth`` (depths outside are clipped to the ends). A bound left as None comes from
    :func:`depth_range`. Invalid pixels (NaN, inf, <= 0) are black. Each pixel becomes an index
    of :func:`depth_lut` in a few vectorised OpenCV passes: invalid depths to NaN (nothing to do
    for a network's depth, see :func:`mono_depth_ros.geometry.clip_depth`), clip the far end,
    scale with rounding and saturation (which clips the near end and sends NaN to 0), look the
    colours up, into ``out`` when given (a C-contiguous ``(H, W, 3)`` uint8 array, such as the
    pixels of :func:`mono_depth_ros.ros_io.image_message`).
    """
    if np.ndim(depth) != 2:
        raise ValueError(f'depth must have shape (H, W), got {np.shape(depth)}')
    _check_bounds(min_depth, max_depth)
    shape = np.shape(depth) + (3,)
    if out is None:
        out = np.empty(shape, np.uint8)
    elif out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f'out must be C-contiguous uint8 of shape {shape}, got {out.dtype} '
                         f'{out.shape}')
    z = clip_depth(depth, copy=False)
    if min_depth is None or max_depth is None:
        low, high = depth_range(z)
        min_depth = low if min_depth is None else min_depth
        max_depth = high if max_depth is None else max_depth
    if not (math.isfinite(min_depth) and math.isfinite(max_depth)) or not z.size:
        out[...] = 0
        return out
    high = float(max_depth)
    scale = 254.0 / _span(float(min_depth), high)
    clipped = cv2.threshold(z, high, 0.0, cv2.THRESH_TRUNC)[1]
    # index = 1 + scale * (high - z), rounded and saturated to 0..255.
    index = cv2.addWeighted(clipped, -scale, clipped, 0.0, 1.0 + scale * high, dtype=cv2.CV_8U)
    return cv2.applyColorMap(index, depth_lut()[:, None, :], dst=out)


def colorize_depth_torch(depth: torch.Tensor, min_depth: Optional[float] = None,
                         max_depth: Optional[float] = None) -> torch.Tensor:
    """
    Torch version of :func:`colorize_depth`, on the device of ``depth`` (a GPU keeps the image).

    ``depth`` is an ``(H, W)`` floating tensor; the result is an ``(H, W, 3)`` uint8 tensor of
    the same colours (rounding ties aside: within one step of the table). The range stays on
    the device: nothing waits for the GPU here.
    """
    import torch  # only here: the numpy path must not import torch

    if depth.ndim != 2 or not torch.is_floating_point(depth):
        raise ValueError(f'depth must be an (H, W) floating point tensor, got {depth.dtype} '
                         f'{tuple(depth.shape)}')
    _check_bounds(min_depth, max_depth)
    z = depth.float()
    valid = torch.isfinite(z) & (z > 0)
    if min_depth is None or max_depth is None:
        indices = torch.from_numpy(range_sample(*z.shape).copy()).to(z.device)
        sample = torch.take(z, indices).double()
        sample = torch.where(torch.take(valid, indices), sample,
                             torch.full_like(sample, math.nan))
        fractions = torch.tensor([_LOW_PERCENTILE / 100, _HIGH_PERCENTILE / 100],
                                 dtype=torch.float64, device=z.device)
        low, high = torch.nanquantile(sample.flatten(), fractions)
        low = low if min_depth is None else torch.tensor(float(min_depth), device=z.device)
        high = high if max_depth is None else torch.tensor(float(max_depth), device=z.device)
    else:
        low, high = (torch.tensor(float(b), device=z.device) for b in (min_depth, max_depth))
    scale = 254.0 / _span(low, high)
    index = torch.round(1.0 + (high - torch.minimum(z.double(), high)) * scale)
    index = torch.nan_to_num(index.clamp(0, 255), nan=0.0)
    index = torch.where(valid, index, torch.zeros_like(index)).long()
    return torch.from_numpy(depth_lut().copy()).to(z.device)[index]


def _span(low, high):
    """
    Return the width of the colour range, at least a millionth of its far end.

    The floor keeps every index in range of OpenCV's integer rounding, which maps values beyond
    the int32 range to 0 (black), even when almost every pixel has the same depth.
    """
    span = high - low
    floor = abs(high) * 1e-6 + 1e-6
    return max(span, floor) if isinstance(span, float) else span.clamp(min=floor)


def _check_bounds(min_depth: Optional[float], max_depth: Optional[float]) -> None:
    if min_depth is not None and max_depth is not None and not min_depth < max_depth:
        raise ValueError(f'min_depth ({min_depth}) must be below max_depth ({max_depth})')


@lru_cache(maxsize=8)
def label_palette(num_classes: int) -> np.ndarray:
    """
    Return a fixed ``(num_classes, 3)`` uint8 RGB palette of distinct colours.

    Hues step by the golden ratio so that consecutive classes differ strongly; saturation and
    value alternate to separate classes whose hues come close. Deterministic for a given size,
    and a prefix of the palette of any larger size.
    """
    if not 1 <= num_classes <= 256:
        raise ValueError(f'num_classes must be in 1..256 for uint8 labels, got {num_classes}')
    index = np.arange(num_classes)
    hue = (index * 0.6180339887498949) % 1.0
    saturation = np.where(index % 2, 0.65, 0.95)
    value = np.where((index // 2) % 2, 0.75, 0.98)
    # HSV to RGB in floating point (OpenCV's 8-bit HSV has only 180 hues).
    channel = (np.array([5.0, 3.0, 1.0]) + hue[:, None] * 6.0) % 6.0
    ramp = np.clip(np.minimum(channel, 4.0 - channel), 0.0, 1.0)
    rgb = value[:, None] * (1.0 - saturation[:, None] * ramp)
    palette = np.rint(rgb * 255.0).astype(np.uint8)
    palette.flags.writeable = False
    return palette


def colorize_labels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """
    Colour ``(H, W)`` integer class ids with :func:`label_palette` as ``(H, W, 3)`` RGB.

    Raises
    ------
        ValueError: a label outside 0..num_classes-1 (the model and ``num_classes`` disagree).

    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype.kind not in 'iu':
        raise ValueError(f'labels must be integers of shape (H, W), got {labels.dtype} '
                         f'{labels.shape}')
    palette = label_palette(num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'labels range over {labels.min()}..{labels.max()} but num_classes is '
                         f'{num_classes}; pass the number of classes of the model')
    if not labels.size:
        return np.zeros(labels.shape + (3,), dtype=np.uint8)
    table = np.zeros((256, 1, 3), dtype=np.uint8)
    table[:num_classes, 0] = palette
    return cv2.applyColorMap(np.ascontiguousarray(labels, dtype=np.uint8), table)
