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
Depth and segmentation metrics, as the monocular depth literature computes them.

Depth metrics are computed per image over the pixels with valid ground truth (finite, inside
``(min_depth, max_depth)``, optionally inside the Garg or Eigen crop), with predictions clipped to
``[min_depth, max_depth]`` (after median scaling, when asked), and then averaged over images, as
the Monodepth2, BTS, AdaBins and Depth Anything V2 evaluation code do:

- ``abs_rel`` mean(|p - g| / g), ``sq_rel`` mean((p - g)^2 / g)
- ``rmse`` sqrt(mean((p - g)^2)), ``rmse_log`` sqrt(mean((ln p - ln g)^2))
- ``silog`` 100 * sqrt(mean(d^2) - mean(d)^2) with d = ln p - ln g
- ``log10`` mean(|log10 p - log10 g|)
- ``d1``, ``d2``, ``d3`` the fraction of pixels with max(p / g, g / p) < 1.25, 1.25^2, 1.25^3

Segmentation metrics come from a confusion matrix summed over the dataset: mean IoU over the
classes present in the ground truth or the prediction, and pixel accuracy.

Cloud and stability metrics: :func:`surface_check` tells which predicted points lie off the true
surface and which of those float between a nearer and a farther surface (flying pixels);
:func:`flicker` measures how much the depth of static points changes between two frames once the
known camera motion is taken out.
"""
from __future__ import annotations

from dataclasses import dataclass

from mono_depth_ros.filters import EdgeFilter
from mono_depth_ros.geometry import Intrinsics
import numpy as np

DEPTH_METRICS = ('abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'silog', 'log10', 'd1', 'd2', 'd3')
CROPS = ('garg', 'eigen')
# Fractions of the image (top, bottom, left, right) kept by each crop, as in the KITTI Eigen
# split evaluation code of Garg et al. and Eigen et al.
_CROP_FRACTIONS = {
    'garg': (0.40810811, 0.99189189, 0.03594771, 0.96405229),
    'eigen': (0.3324324, 0.91351351, 0.0359477, 0.96405229),
}


def crop_mask(height: int, width: int, crop: str) -> np.ndarray:
    """Return the ``(height, width)`` boolean mask of the ``garg`` or ``eigen`` KITTI crop."""
    if crop not in _CROP_FRACTIONS:
        raise ValueError(f'unknown crop {crop!r}; use one of {CROPS}')
    top, bottom, left, right = _CROP_FRACTIONS[crop]
    mask = np.zeros((height, width), dtype=bool)
    mask[int(top * height):int(bottom * height), int(left * width):int(right * width)] = True
    return mask


def valid_mask(gt: np.ndarray, min_depth: float = 1e-3, max_depth: float = 80.0,
               crop: str | None = None) -> np.ndarray:
    """Return where ``gt`` is a usable depth: finite, > ``min_depth``, < ``max_depth``, in crop."""
    with np.errstate(invalid='ignore'):
        mask = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth)
    if crop is not None:
        mask &= crop_mask(gt.shape[0], gt.shape[1], crop)
    return mask


def depth_metrics(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None,
                  min_depth: float = 1e-3, max_depth: float = 80.0, crop: str | None = None,
                  median_scaling: bool = False) -> dict[str, float]:
    """
    Return the metrics of one predicted depth map against its ground truth (metres).

    ``mask`` restricts the evaluation further than :func:`valid_mask`. With ``median_scaling``
    the prediction is first multiplied by median(gt) / median(pred) over the valid pixels (for
    models that predict depth up to scale); the ratio is returned as ``'scale'``. The result
    also holds ``'pixels'``, the number of pixels evaluated. An image without valid ground truth
    is an error, since it has no metrics to contribute to an average.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and ground truth {gt.shape} differ in shape; '
                         'resize the prediction to the ground truth first')
    valid = valid_mask(gt, min_depth, max_depth, crop)
    if mask is not None:
        valid &= mask
    if not valid.any():
        raise ValueError('no pixel has valid ground truth; check min_depth/max_depth and the mask')
    p, g = pred[valid], gt[valid]
    if not np.all(np.isfinite(p)):
        raise ValueError(f'{np.count_nonzero(~np.isfinite(p))} predicted depths are NaN or '
                         'infinite where the ground truth is valid')
    out = {}
    if median_scaling:
        median = float(np.median(p))
        if median <= 0.0:
            raise ValueError('median scaling needs a positive median prediction, got '
                             f'{median}')
        out['scale'] = float(np.median(g)) / median
        p = p * out['scale']
    p = np.clip(p, min_depth, max_depth)

    diff = p - g
    log_diff = np.log(p) - np.log(g)
    ratio = np.maximum(p / g, g / p)
    out.update(
        abs_rel=float(np.mean(np.abs(diff) / g)),
        sq_rel=float(np.mean(diff ** 2 / g)),
        rmse=float(np.sqrt(np.mean(diff ** 2))),
        rmse_log=float(np.sqrt(np.mean(log_diff ** 2))),
        silog=float(100.0 * np.sqrt(max(np.mean(log_diff ** 2) - np.mean(log_diff) ** 2, 0.0))),
        log10=float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        d1=float(np.mean(ratio < 1.25)),
        d2=float(np.mean(ratio < 1.25 ** 2)),
        d3=float(np.mean(ratio < 1.25 ** 3)),
        pixels=int(valid.sum()),
    )
    return out


class MetricMean:
    """Average per-image metric dicts over a dataset (each image weighs the same)."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self.images = 0

    def add(self, metrics: dict[str, float]) -> None:
        """Add the metrics of one image; every image must report the same keys."""
        if self.images and set(metrics) != set(self._sums):
            raise ValueError(f"metric keys {sorted(metrics)} differ from the earlier images' "
                             f'{sorted(self._sums)}')
        for key, value in metrics.items():
            self._sums[key] = self._sums.get(key, 0.0) + float(value)
        self.images += 1

    def result(self) -> dict[str, float]:
        """Return the mean of every metric and ``'images'``, the number of images averaged."""
        if not self.images:
            raise ValueError('no image was added; nothing to average')
        out = {key: total / self.images for key, total in self._sums.items()}
        out['images'] = self.images
        return out


def confusion_matrix(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                     ignore_index: int | None = 255) -> np.ndarray:
    """
    Return the ``(num_classes, num_classes)`` int64 confusion matrix (rows: ground truth).

    Pixels whose ground truth is ``ignore_index`` are left out. Any other id outside
    ``[0, num_classes)`` is an error.
    """
    pred = np.asarray(pred).ravel().astype(np.int64)
    gt = np.asarray(gt).ravel().astype(np.int64)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction has {pred.size} pixels, ground truth {gt.size}')
    if ignore_index is not None:
        keep = gt != ignore_index
        pred, gt = pred[keep], gt[keep]
    for name, ids in (('ground truth', gt), ('prediction', pred)):
        if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
            raise ValueError(f'{name} has class ids outside [0, {num_classes}): '
                             f'{sorted(set(ids[(ids < 0) | (ids >= num_classes)].tolist()))}')
    counts = np.bincount(gt * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def segmentation_metrics(confusion: np.ndarray) -> dict[str, float | np.ndarray]:
    """
    Return ``miou``, ``pixel_accuracy`` and per-class ``iou`` of a confusion matrix.

    A class absent from both the ground truth and the prediction has no IoU (NaN in ``iou``)
    and does not count in ``miou``.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    total = confusion.sum()
    if total == 0:
        raise ValueError('the confusion matrix is empty; no labelled pixel was evaluated')
    hits = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - hits
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = np.where(union > 0, hits / union, np.nan)
    return {'miou': float(np.nanmean(iou)), 'pixel_accuracy': float(hits.sum() / total),
            'iou': iou}


@dataclass
class SurfaceCheck:
    """
    Per-pixel verdicts on predicted points (``(H, W)`` bool masks).

    ``checked``: the prediction is valid and some ground truth lies within ``radius`` pixels.
    ``off``: checked, and no ground truth within ``radius`` pixels is within ``tolerance``
    (relative) of the predicted depth. ``floating``: off, and between the nearest and the
    farthest ground truth within ``edge_radius`` pixels, more than ``tolerance`` (relative to
    each) from both: a point in the empty space between two surfaces, a flying pixel.
    """

    checked: np.ndarray
    off: np.ndarray
    floating: np.ndarray


def surface_check(pred: np.ndarray, gt: np.ndarray, tolerance: float = 0.1, radius: int = 1,
                  edge_radius: int = 4) -> SurfaceCheck:
    """
    Tell which predicted depths lie off the ground-truth surface (see :class:`SurfaceCheck`).

    A predicted point lies on the ray of its pixel, so its distance to the true surface is
    nearly its depth error there; looking ``radius`` pixels around forgives ground truth that is
    registered to the image a pixel or so off (as Kinect depth is). NaN = no value in either.
    """
    pred = np.asarray(pred, dtype=np.float32)
    gt = np.asarray(gt, dtype=np.float32)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f'prediction {pred.shape} and ground truth {gt.shape} must be (H, W) '
                         'images of one size')
    height, width = gt.shape
    padded = np.pad(gt, radius, constant_values=np.nan)
    best = np.full(gt.shape, np.inf, dtype=np.float32)
    with np.errstate(invalid='ignore', divide='ignore'):
        for dy in range(2 * radius + 1):
            for dx in range(2 * radius + 1):
                truth = padded[dy:dy + height, dx:dx + width]
                error = np.abs(pred - truth) / truth
                np.fmin(best, error, out=best)
        checked = np.isfinite(best) & (pred > 0)
        off = checked & (best > tolerance)
        farthest, nearest = EdgeFilter(radius=edge_radius).extremes(gt)
        floating = off & (pred > (1 + tolerance) * nearest) & (pred < (1 - tolerance) * farthest)
    return SurfaceCheck(checked=checked, off=off, floating=floating)


def flicker(prev_depth: np.ndarray, depth: np.ndarray, prev_truth: np.ndarray,
            truth: np.ndarray, intrinsics: Intrinsics, prev_world_from_camera: np.ndarray,
            world_from_camera: np.ndarray, visible_tolerance: float = 0.01) -> tuple[float, int]:
    """
    Return the mean relative change of the depth of static points between two frames, and n.

    Each pixel of the earlier frame with a true and a predicted depth is a static surface point.
    Moved into the later camera by the known poses, the point is visible there when the later
    true depth at its nearest pixel agrees with its depth within ``visible_tolerance``. The
    earlier prediction's point, moved the same way, gives the depth the later prediction should
    have at that pixel were it consistent, ``expected``; the change is
    ``|later - expected| / expected``, averaged over the visible points (``n``). 0 means the
    prediction moved exactly with the camera; the value of the ground truth itself (nearest-pixel
    sampling) is the floor of the measure.
    """
    k = intrinsics
    moved = np.linalg.inv(world_from_camera) @ prev_world_from_camera
    rows, cols = np.nonzero(np.isfinite(prev_truth) & np.isfinite(prev_depth)
                            & (prev_depth > 0))
    rays = np.stack([(cols - k.cx) / k.fx, (rows - k.cy) / k.fy, np.ones(rows.size)], axis=1)

    def carried(z: np.ndarray) -> np.ndarray:
        return (rays * z[:, None]) @ moved[:3, :3].T + moved[:3, 3]

    surface = carried(prev_truth[rows, cols].astype(np.float64))
    predicted = carried(prev_depth[rows, cols].astype(np.float64))
    with np.errstate(invalid='ignore', divide='ignore'):
        u = np.rint(k.fx * surface[:, 0] / surface[:, 2] + k.cx)
        v = np.rint(k.fy * surface[:, 1] / surface[:, 2] + k.cy)
        inside = (surface[:, 2] > 0) & (u >= 0) & (u < k.width) & (v >= 0) & (v < k.height)
    u, v = u[inside].astype(np.int64), v[inside].astype(np.int64)
    later_truth = truth[v, u]
    with np.errstate(invalid='ignore'):
        visible = np.abs(later_truth - surface[inside, 2]) <= visible_tolerance * later_truth
    later = depth[v[visible], u[visible]].astype(np.float64)
    expected = predicted[inside][visible, 2]
    with np.errstate(invalid='ignore', divide='ignore'):
        change = np.abs(later - expected) / expected
    change = change[np.isfinite(change) & (expected > 0)]
    return (float(change.mean()) if change.size else float('nan')), int(change.size)
