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
from typing import Optional

import numpy as np

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

# Percentiles of the valid depths that bound the colour range when none is given.
_LOW_PERCENTILE = 2.0
_HIGH_PERCENTILE = 98.0


@lru_cache(maxsize=1)
def turbo_like_lut() -> np.ndarray:
    """Return the ``(256, 3)`` uint8 RGB lookup table: index 0 = far/cold, 255 = near/warm."""
    t = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(t, _TURBO_LIKE_ANCHORS[:, 0], _TURBO_LIKE_ANCHORS[:, c])
                    for c in (1, 2, 3)], axis=-1)
    lut = np.rint(lut).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def colorize_depth(depth: np.ndarray, min_depth: Optional[float] = None,
                   max_depth: Optional[float] = None) -> np.ndarray:
    """
    Colour an ``(H, W)`` depth map in metres as ``(H, W, 3)`` uint8 RGB.

    Near is warm (red), far is cold (blue), linear in depth between ``min_depth`` and
    ``max_depth`` (depths outside are clipped to the ends). A bound left as None is taken from
    the 2nd / 98th percentile of the valid depths, so a few outliers do not wash the image out.
    Invalid pixels (NaN, inf, <= 0) are black.
    """
    if np.ndim(depth) != 2:
        raise ValueError(f'depth must have shape (H, W), got {np.shape(depth)}')
    if min_depth is not None and max_depth is not None and not min_depth < max_depth:
        raise ValueError(f'min_depth ({min_depth}) must be below max_depth ({max_depth})')
    z = np.asarray(depth, dtype=np.float32)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(z) & (z > 0)
    rgb = np.zeros(z.shape + (3,), dtype=np.uint8)
    if not valid.any():
        return rgb
    if min_depth is None or max_depth is None:
        low, high = np.percentile(z[valid], (_LOW_PERCENTILE, _HIGH_PERCENTILE))
        min_depth = low if min_depth is None else min_depth
        max_depth = high if max_depth is None else max_depth
    span = max(float(max_depth) - float(min_depth), 1e-6)
    nearness = np.clip((float(max_depth) - z[valid]) / span, 0.0, 1.0)
    rgb[valid] = turbo_like_lut()[np.rint(nearness * 255).astype(np.intp)]
    return rgb


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
    return palette[labels]
