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
Depth post-filters: flying pixels at depth edges, temporal smoothing, per-pixel confidence.

All three work on ``(H, W)`` float32 depth in metres with NaN for invalid pixels, the node's
depth images, and know nothing about ROS.

- :class:`EdgeFilter` finds the points a network smears between a foreground and the background
  behind it (the "flying pixels" that become phantom obstacles in a costmap): pixels whose
  neighbourhood spans a large relative depth range.
- :class:`TemporalFilter` averages depth over frames where the scene holds still and restarts
  where it does not, so the depth stops flickering without lagging behind real motion.
- :func:`confidence` turns what the node knows about each pixel into a number in [0, 1].
"""
from __future__ import annotations

import math

import cv2
import numpy as np

# Pixels without depth take this value in the copy the window minimum is computed on: far above
# any depth, and small enough that scaling it by (1 + threshold) stays finite in float32.
_NO_DEPTH_FAR = np.float32(1e30)
_NAN = np.float32(np.nan)
# confidence(): the relative depth error estimate at which the confidence is one half.
HALF_CONFIDENCE_ERROR = 0.1
TEMPORAL_MODES = ('off', 'ema')
# Defaults, chosen on the measurements of docs/CLOUD_QUALITY.md.
EDGE_THRESHOLD = 0.1
EDGE_RADIUS = 2
TEMPORAL_ALPHA = 0.3
TEMPORAL_DELTA = 0.2
TEMPORAL_RESET = 0.1
# TemporalFilter: the image is compared at this width (pixels) to tell a scene change.
_CHANGE_WIDTH = 64


def _check_depth(depth: np.ndarray) -> np.ndarray:
    depth = np.asarray(depth)
    if depth.ndim != 2 or depth.dtype != np.float32:
        raise ValueError(f'depth must be an (H, W) float32 image in metres, got {depth.dtype} '
                         f'{depth.shape}')
    return depth


class EdgeFilter:
    """
    Finds flying pixels: depth edges where a network smears a foreground into its background.

    A pixel is flying when the valid depths within ``radius`` pixels of it (a ``2 radius + 1``
    square) span more than ``threshold`` relative to the nearest of them:
    ``max > (1 + threshold) * min``. A network blurs a step from a foreground to the background
    behind it into a ramp a few pixels wide, and the ramp's points float in the empty space
    between the two surfaces; the window catches the whole ramp when ``radius`` is about its
    width. A surface seen at a grazing angle spans a large range too (the ground far away, seen
    by a low camera), so it is cut as well: the bigger ``threshold`` and the smaller
    ``radius``, the fewer good points are lost. NaN pixels do not count in a window.

    The filter keeps its work buffers between calls (allocating images of this size costs more
    than the filtering itself), so one instance serves one thread.
    """

    def __init__(self, threshold: float = EDGE_THRESHOLD, radius: int = EDGE_RADIUS) -> None:
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f'threshold must be a relative depth jump > 0, got {threshold!r}')
        if int(radius) != radius or radius < 1:
            raise ValueError(f'radius must be an integer >= 1 (pixels), got {radius!r}')
        self.threshold = float(threshold)
        self.radius = int(radius)
        side = 2 * self.radius + 1
        self._kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
        self._buffers: tuple[np.ndarray, ...] = ()

    def _mask_buffer(self, depth: np.ndarray) -> np.ndarray:
        depth = _check_depth(depth)
        if not self._buffers or self._buffers[0].shape != depth.shape:
            self._buffers = tuple(np.empty(depth.shape, np.float32) for _ in range(4)) + (
                np.empty(depth.shape, bool),)
        return self._buffers[4]

    def extremes(self, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """
        Return the largest and the smallest valid depth of each pixel's window.

        Where a window holds no valid depth the largest is 0 and the smallest ``1e30``. Both are
        work buffers, overwritten by the next call.
        """
        holes = self._mask_buffer(depth)
        patched, largest, smallest = self._buffers[:3]
        if not np.isnan(depth, out=holes).any():  # the common case: no copies needed
            cv2.dilate(depth, self._kernel, dst=largest)
            cv2.erode(depth, self._kernel, dst=smallest)
            return largest, smallest
        np.copyto(patched, depth)
        cv2.patchNaNs(patched, 0.0)
        cv2.dilate(patched, self._kernel, dst=largest)
        np.copyto(patched, depth)
        cv2.patchNaNs(patched, float(_NO_DEPTH_FAR))
        cv2.erode(patched, self._kernel, dst=smallest)
        return largest, smallest

    def mask(self, depth: np.ndarray) -> np.ndarray:
        """
        Return the ``(H, W)`` bool mask of the flying pixels of ``depth``.

        The mask is a work buffer: it is overwritten by the next call.
        """
        largest, smallest = self.extremes(depth)
        smallest *= np.float32(1.0 + self.threshold)
        return np.greater(largest, smallest, out=self._mask_buffer(depth))

    def apply(self, depth: np.ndarray, out: np.ndarray | None = None,
              span: np.ndarray | None = None) -> np.ndarray:
        """
        Return ``depth`` with NaN at the flying pixels, written into ``out`` if given.

        ``out`` (float32, the shape of ``depth``) saves allocating a new image per frame;
        ``span``, this depth's :meth:`span` when it is known already, saves computing it again.
        """
        if span is None:
            mask = self.mask(depth)
        else:
            mask = np.greater(span, np.float32(self.threshold), out=self._mask_buffer(depth))
        return invalidate(depth, mask, out)

    def span(self, depth: np.ndarray) -> np.ndarray:
        """
        Return the relative depth span ``max / min - 1`` of each pixel's window.

        The quantity compared with ``threshold``; 0 where a window holds one depth or none. A
        work buffer, overwritten by the next call.
        """
        largest, smallest = self.extremes(depth)
        span = np.divide(largest, smallest, out=self._buffers[3])
        span -= np.float32(1.0)
        return np.maximum(span, np.float32(0.0), out=span)


def invalidate(depth: np.ndarray, mask: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Return ``depth`` with NaN where ``mask`` is true: a new array, or ``out`` if given."""
    if out is None:
        out = depth.copy()
    else:
        np.copyto(out, depth)
    np.copyto(out, _NAN, where=mask)
    return out


class TemporalFilter:
    """
    Exponential average of depth across frames, per pixel, restarted where the scene moved.

    Each new depth image updates the average as ``average += alpha * (new - average)``, except
    where that would lag behind a real change:

    - a pixel whose new depth differs from the average by more than ``delta`` (relative) takes
      the new depth as it is (something moved there, or the camera moved a lot);
    - every pixel restarts when the image itself changed a lot: the mean absolute difference of
      the grey image, downscaled, exceeds ``reset`` (a fraction of full scale: a scene cut, a
      fast pan, a light switched on), or the resolution changed;
    - a pixel without depth in the new frame has none in the output (nothing is held over).

    ``alpha`` is the weight of the new frame: 1 is no filtering. The average needs no knowledge
    of the camera's motion; under slow motion it lags by about ``(1 - alpha) / alpha`` frames of
    motion, bounded by ``delta``.
    """

    def __init__(self, alpha: float = TEMPORAL_ALPHA, delta: float = TEMPORAL_DELTA,
                 reset: float = TEMPORAL_RESET) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f'alpha must be in (0, 1] (the weight of the new frame), got '
                             f'{alpha!r}')
        if not (math.isfinite(delta) and delta > 0.0):
            raise ValueError(f'delta must be a relative depth change > 0, got {delta!r}')
        if not 0.0 < reset <= 1.0:
            raise ValueError(f'reset must be in (0, 1] (a mean grey-level change, 1 = full '
                             f'scale), got {reset!r}')
        self.alpha = np.float32(alpha)
        self.delta = np.float32(delta)
        self.reset = float(reset)
        self._average: np.ndarray | None = None
        self._grey: np.ndarray | None = None
        self.restarts = 0
        self.disagreement: np.ndarray | None = None

    def update(self, depth: np.ndarray, rgb: np.ndarray | None = None) -> np.ndarray:
        """
        Add a frame: ``depth`` and the ``(h, w, 3)`` uint8 image it came from (any size).

        Returns the filtered depth (a new array). ``disagreement`` then holds the relative
        difference ``|new - average| / average`` of this frame, per pixel (0 where a pixel
        restarted), for :func:`confidence`.
        """
        depth = _check_depth(depth)
        grey = None if rgb is None else _small_grey(rgb)
        if self._must_restart(depth, grey):
            self.restarts += 1
            self._average = depth.copy()
            self._grey = grey
            self.disagreement = np.zeros_like(depth)
            return depth.copy()
        self._grey = grey
        average = self._average
        with np.errstate(invalid='ignore'):
            difference = depth - average
            disagreement = np.abs(difference) / average
            follows = disagreement <= self.delta
        blended = average + self.alpha * difference
        # NaN in the new depth stays NaN; a pixel without average or beyond delta restarts.
        out = np.where(follows, blended, depth)
        self._average = out
        self.disagreement = np.where(follows, disagreement, np.float32(0.0))
        return out.copy()

    def _must_restart(self, depth: np.ndarray, grey: np.ndarray | None) -> bool:
        if self._average is None or self._average.shape != depth.shape:
            return True
        if grey is None or self._grey is None or grey.shape != self._grey.shape:
            return grey is not None or self._grey is not None
        change = cv2.norm(grey, self._grey, cv2.NORM_L1) / (grey.size * 255.0)
        return change > self.reset


def _small_grey(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'the image must be (H, W, 3) uint8, got {rgb.dtype} {rgb.shape}')
    height, width = rgb.shape[:2]
    small_width = min(_CHANGE_WIDTH, width)
    small_height = max(1, round(height * small_width / width))
    small = cv2.resize(rgb, (small_width, small_height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


def confidence(depth: np.ndarray, span: np.ndarray | None = None,
               disagreement: np.ndarray | None = None, fit_error: float | None = None,
               out: np.ndarray | None = None) -> np.ndarray:
    """
    Return a per-pixel confidence in [0, 1] (float32) from what is known about each depth.

    0 where the depth is invalid (NaN: no depth, sky and other classes without depth, out of
    range, removed as a flying pixel). Elsewhere ``1 / (1 + (e / HALF_CONFIDENCE_ERROR)^2)``,
    where ``e`` estimates the pixel's relative depth error as the root sum of squares of what is
    given: ``span``, the relative depth span of its window (:meth:`EdgeFilter.span`: large at
    depth edges); ``disagreement``, how far the frame departs from the temporal average
    (:attr:`TemporalFilter.disagreement`); ``fit_error``, the typical relative residual of the
    scale fit that turned the prediction into metres (one number for the image). The terms are
    finite (0 where unknown). With nothing given every valid pixel has confidence 1. ``out``
    (float32, the depth's shape) receives the result instead of a new array.
    """
    depth = _check_depth(depth)
    error = np.empty(depth.shape, dtype=np.float32) if out is None else out
    error.fill(0.0)
    for term in (span, disagreement):
        if term is not None:
            if term.shape != depth.shape:
                raise ValueError(f'confidence term of shape {term.shape} does not match the '
                                 f'depth {depth.shape}')
            error += np.square(term, dtype=np.float32)
    if fit_error is not None:
        error += np.float32(fit_error) ** 2
    error *= np.float32(1.0 / HALF_CONFIDENCE_ERROR ** 2)
    error += np.float32(1.0)
    out = np.reciprocal(error, out=error)
    with np.errstate(invalid='ignore'):
        np.copyto(out, np.float32(0.0), where=~(depth > 0))
    return out
