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
Turning relative predictions into metres.

Models output one of three kinds (:data:`mono_depth_ros.models.spec.OUTPUT_KINDS`):

- ``metric``: depth in metres; nothing to recover (a policy may still correct its scale).
- ``disparity`` (Lite-Mono, monodepth2): a sigmoid in (0, 1). monodepth2's ``disp_to_depth`` maps
  it to a depth that is right up to one unknown factor:
  ``depth = s / (1/max + (1/min - 1/max) * disp)`` with the spec's ``min_depth`` and ``max_depth``.
- ``inverse_relative`` (Depth Anything V2 relative): affine-invariant inverse depth, i.e. the
  metric inverse depth is ``s * pred + t`` with an unknown ``s > 0`` and shift ``t``.

A :class:`ScalePolicy` finds the unknown parameters and applies them. All policies share one
interface, so the estimator and the node never need to know which one runs:

- ``observe_sparse_depth(sparse_depth, stamp)``: a sparse metric depth image (LiDAR projected into
  the camera, a low-resolution depth sensor) at the prediction's resolution, NaN or 0 = no return.
- ``to_metres(prediction, spec, stamp, intrinsics)``: metric depth, or ``None`` until it is known.
- ``status``: one human-readable line for diagnostics; ``scale`` and ``shift``: the fitted values.

Policies (built with :func:`make_policy`): ``none`` (metric models), ``fixed`` (known parameters),
``median`` (fitted on sparse metric depth, robust, smoothed, with a staleness timeout) and
``ground_plane`` (fitted on the flat ground in front of a camera at a known height and pitch).

Times are seconds on the caller's clock (message stamps); nothing here reads a clock.

The LiDAR helpers at the end build the static LiDAR-to-camera transform from REP 103 parameters
(tf2 is not available to the package) and move points with it; projecting the points into an
image is :mod:`mono_depth_ros.geometry`'s job.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import inspect
import math
import threading
from typing import Sequence

from mono_depth_ros.geometry import Intrinsics, points_to_depth
from mono_depth_ros.models.spec import ModelSpec
import numpy as np

# unscaled_depth() of an inverse_relative prediction clamps it from below at this fraction of the
# frame's largest value: the far end (sky, where the prediction is ~0) becomes 1000x the nearest
# depth instead of infinity. Relative, so the result does not depend on the model's output scale.
INVERSE_RELATIVE_EPS = 1e-3

# Robust fits: residuals are relative, (fitted - measured) / measured. Points further than
# _INLIER_SIGMAS robust standard deviations (1.4826 * median absolute residual) are outliers, but
# never closer than _MIN_INLIER_TOLERANCE, so that float32 rounding of exact data is no outlier.
_INLIER_SIGMAS = 2.5
_MIN_INLIER_TOLERANCE = 1e-4
# Least trimmed squares for the scale-and-shift fit: random two-point starts, half the points kept.
_LTS_STARTS = 20
_LTS_START_POINTS = 2000
_LTS_MAX_STEPS = 20
# Reweighting steps of the final least-absolute-deviations fit.
_IRLS_STEPS = 10
# Larger point sets are subsampled (deterministically) before fitting: enough for 4 significant
# digits, and it bounds the time a fit takes on a full-resolution frame.
_MAX_FIT_POINTS = 20000


# --------------------------------------------------------------------------------------------
# Conversions


def disp_to_depth(disp: np.ndarray, min_depth: float, max_depth: float) -> np.ndarray:
    """
    Map a sigmoid disparity in (0, 1) to depth, as monodepth2 does (right up to one scale).

    ``scaled_disp = 1/max_depth + (1/min_depth - 1/max_depth) * disp``, ``depth = 1/scaled_disp``,
    so the result lies in [min_depth, max_depth] for disparities in [0, 1].
    """
    if not 0 < min_depth < max_depth:
        raise ValueError(f'disp_to_depth needs 0 < min_depth < max_depth, got min_depth '
                         f'{min_depth} and max_depth {max_depth}')
    lo, hi = 1.0 / max_depth, 1.0 / min_depth
    return (1.0 / (lo + (hi - lo) * np.asarray(disp, dtype=np.float64))).astype(np.float32)


def unscaled_depth(prediction: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """
    Return a depth map proportional to the true depth, from a model's raw ``(H, W)`` output.

    - ``metric``: unchanged.
    - ``disparity``: :func:`disp_to_depth` with the spec's ``min_depth`` and ``max_depth``.
    - ``inverse_relative``: ``1 / max(pred, eps)`` with ``eps = INVERSE_RELATIVE_EPS * max(pred)``
      (the sky, predicted ~0, becomes a finite far depth). This is depth up to scale only if the
      unknown shift is zero; :class:`MedianScale` and :class:`GroundPlaneScale` fit the shift too.

    Non-finite predictions are NaN in the result, as is everything when no prediction is positive.
    This is what an evaluator's median scaling multiplies by ``median(gt) / median(result)``.
    """
    pred = _check_prediction(prediction)
    kind = spec.output_kind
    if kind == 'metric':
        return pred
    if kind == 'disparity':
        return disp_to_depth(pred, spec.min_depth, spec.max_depth)
    if kind == 'inverse_relative':
        finite = np.isfinite(pred)
        peak = float(pred[finite].max()) if finite.any() else 0.0
        if peak <= 0.0:
            return np.full(pred.shape, np.nan, dtype=np.float32)
        with np.errstate(invalid='ignore'):
            depth = 1.0 / np.maximum(pred, INVERSE_RELATIVE_EPS * peak)
        return depth.astype(np.float32)
    raise ValueError(f'{spec.name}: unknown output_kind {kind!r}')


def apply_scale(prediction: np.ndarray, spec: ModelSpec, scale: float,
                shift: float = 0.0) -> np.ndarray:
    """
    Return metric depth (float32, NaN = invalid) from a raw prediction and known parameters.

    ``metric`` and ``disparity``: ``scale * unscaled_depth(prediction)`` (``shift`` must be 0).
    ``inverse_relative``: ``1 / (scale * pred + shift)``; pixels where that inverse depth is
    not positive (beyond infinity, the sky of an affine fit) are NaN.
    """
    pred = _check_prediction(prediction)
    if spec.output_kind != 'inverse_relative':
        if shift != 0.0:
            raise ValueError(f'{spec.name}: a shift only applies to inverse_relative outputs, '
                             f'this model outputs {spec.output_kind}; set shift to 0')
        return (scale * unscaled_depth(pred, spec)).astype(np.float32)
    inverse = scale * pred.astype(np.float64) + shift
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.where(inverse > 0.0, 1.0 / inverse, np.nan)
    return depth.astype(np.float32)


def ground_plane_depth(intrinsics: Intrinsics, height: float, pitch: float) -> np.ndarray:
    """
    Return the depth (optical z, metres) of flat ground seen by a level-rolled camera.

    The camera's optical centre is ``height`` metres above a flat ground plane and the camera is
    pitched down by ``pitch`` radians (positive looks down), with no roll. In the optical frame
    (z forward, x right, y down) the downward unit vertical is
    ``n = (0, cos(pitch), sin(pitch))``, and a pixel (u, v) at depth z is the point
    ``z * ((u - cx)/fx, (v - cy)/fy, 1)``. It lies on the ground where ``n . X = height``:

        z = height / (cos(pitch) * (v - cy) / fy + sin(pitch))

    which does not depend on u. Rows at or above the horizon ``v = cy - fy * tan(pitch)`` never
    meet the ground and are NaN. Returns a float32 image of the intrinsics' size.
    """
    rows = np.arange(intrinsics.height, dtype=np.float64)
    denominator = math.cos(pitch) * (rows - intrinsics.cy) / intrinsics.fy + math.sin(pitch)
    with np.errstate(divide='ignore'):
        z = np.where(denominator > 0.0, height / denominator, np.nan)
    return np.repeat(z[:, None], intrinsics.width, axis=1).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Robust fits


@dataclass(frozen=True)
class Fit:
    """
    The result of a robust fit: ``scale`` and ``shift``, the points offered and the inliers.

    ``error`` is the typical relative residual of the inliers (1.4826 times their median
    absolute residual): how far, relatively, the fitted prediction lies from the reference.
    """

    scale: float
    shift: float
    points: int
    inliers: int
    error: float = 0.0


def fit_scale(x: np.ndarray, y: np.ndarray) -> Fit:
    """
    Fit ``y = scale * x`` robustly (x, y > 0): the median of ``y / x`` over the inliers.

    The robust form of the monodepth evaluation's median scaling. A first estimate is the centre
    of the densest half of the log ratios (the shortest interval holding half the points, the
    least-trimmed-squares location): unlike the plain median, it is not dragged by outliers that
    all lie on one side (objects standing on a ground plane). Points whose relative residual is
    beyond the robust noise level (see ``_INLIER_SIGMAS``) are dropped and the median ratio of the
    rest is the scale.
    """
    x, y = _fit_inputs(x, y, 1)
    ratio = y / x
    ordered = np.sort(np.log(ratio))
    keep = ordered.size // 2 + 1
    widths = ordered[keep - 1:] - ordered[:ordered.size - keep + 1]
    start = int(np.argmin(widths))
    first = math.exp(float(np.median(ordered[start:start + keep])))
    inliers = _inliers(first * x / y - 1.0)
    scale = float(np.median(ratio[inliers]))
    return Fit(scale=scale, shift=0.0, points=int(x.size), inliers=int(inliers.sum()),
               error=_spread(scale * x[inliers] / y[inliers] - 1.0))


def fit_scale_shift(x: np.ndarray, y: np.ndarray, seed: int = 0) -> Fit:
    """
    Fit ``y = scale * x + shift`` robustly, minimising relative residuals (y > 0).

    Least trimmed squares on the residual ``(scale * x + shift) / y - 1``: from random two-point
    starts, C-steps (refit on the half of the points that fit best) until the kept half no longer
    changes; the best start wins. The points within the robust noise level of that fit (see
    ``_INLIER_SIGMAS``) are the inliers, and a least-absolute-deviations fit on them (iteratively
    reweighted least squares) gives the result: like the median, it is unbiased for noise that is
    symmetric in log depth, where least squares on relative residuals shrinks the scale.
    Tolerates up to half the points being outliers. ``seed`` makes the random starts
    reproducible.
    """
    x, y = _fit_inputs(x, y, 2)
    rng = np.random.default_rng(seed)
    if x.size > _MAX_FIT_POINTS:
        chosen = rng.choice(x.size, _MAX_FIT_POINTS, replace=False)
        x, y = x[chosen], y[chosen]
    design = np.stack([x / y, 1.0 / y], axis=1)
    # The starts compete on a sample; the winner is refined on every point.
    sample = design[rng.choice(x.size, min(x.size, _LTS_START_POINTS), replace=False)]
    best, best_cost = None, math.inf
    for _ in range(_LTS_STARTS):
        params = _solve(sample[rng.choice(sample.shape[0], 2, replace=False)])
        if params is None:
            continue
        params, cost = _c_steps(sample, params, steps=2)
        if cost < best_cost:
            best, best_cost = params, cost
    if best is None:
        raise ValueError('fit_scale_shift: the points do not determine a scale and a shift '
                         '(all predictions equal)')
    best, _ = _c_steps(design, best, steps=_LTS_MAX_STEPS)
    inliers = _inliers(design @ best - 1.0)
    kept = design[inliers]
    for _ in range(_IRLS_STEPS):
        residual = np.abs(kept @ best - 1.0)
        refit = _solve(kept, 1.0 / np.maximum(residual, _MIN_INLIER_TOLERANCE))
        if refit is None:
            break
        best = refit
    return Fit(scale=float(best[0]), shift=float(best[1]), points=int(x.size),
               inliers=int(inliers.sum()), error=_spread(kept @ best - 1.0))


def _fit_inputs(x: np.ndarray, y: np.ndarray, needed: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f'fit: x and y have different sizes ({x.size} and {y.size})')
    if x.size < needed:
        raise ValueError(f'fit: needs at least {needed} points, got {x.size}')
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(y > 0)):
        raise ValueError('fit: x must be finite and y finite and positive')
    if needed == 1 and not np.all(x > 0):
        raise ValueError('fit: a scale-only fit needs positive x')
    return x, y


def _spread(residual: np.ndarray) -> float:
    """Return the robust standard deviation of residuals around 0: 1.4826 median(|r|)."""
    return 1.4826 * float(np.median(np.abs(residual)))


def _inliers(residual: np.ndarray) -> np.ndarray:
    return np.abs(residual) <= max(_INLIER_SIGMAS * _spread(residual), _MIN_INLIER_TOLERANCE)


def _solve(design: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray | None:
    """Weighted least squares of ``design @ params = 1``; None when params are undetermined."""
    if design.shape[0] < 2 or np.linalg.matrix_rank(design) < 2:
        return None
    root = np.ones(design.shape[0]) if weights is None else np.sqrt(weights)
    params, *_ = np.linalg.lstsq(design * root[:, None], root, rcond=None)
    return params


def _c_steps(design: np.ndarray, params: np.ndarray, steps: int) -> tuple[np.ndarray, float]:
    """Refit on the best-fitting half of the points, ``steps`` times or until it is stable."""
    keep = design.shape[0] // 2 + 1
    kept = None
    for _ in range(steps):
        squared = (design @ params - 1.0) ** 2
        chosen = np.zeros(design.shape[0], dtype=bool)
        chosen[np.argpartition(squared, keep - 1)[:keep]] = True
        if kept is not None and np.array_equal(chosen, kept):
            break
        kept = chosen
        refit = _solve(design[kept])
        if refit is None:
            break
        params = refit
    squared = (design @ params - 1.0) ** 2
    return params, float(np.partition(squared, keep - 1)[:keep].sum())


# --------------------------------------------------------------------------------------------
# Policies


class ScalePolicy:
    """
    How a model's raw prediction becomes metres; see the module docstring for the interface.

    ``scale`` and ``shift`` are the parameters in use (``scale`` is None while unknown);
    ``fit_error`` the typical relative residual of the fit they come from (None when they were
    not fitted); ``status`` is one line for diagnostics.
    """

    name = ''

    def __init__(self) -> None:
        self.scale: float | None = None
        self.shift: float = 0.0
        self.fit_error: float | None = None

    @property
    def status(self) -> str:
        """Return one human-readable line: the parameters in use, or what the policy waits for."""
        raise NotImplementedError

    def check(self, spec: ModelSpec) -> None:
        """Raise ValueError when this policy cannot serve ``spec`` (call it at start)."""

    def observe_sparse_depth(self, sparse_depth: np.ndarray, stamp: float) -> None:
        """Take a sparse metric depth image (NaN or 0 = invalid); ignored where not needed."""

    def state(self) -> dict:
        """
        Return what the policy learnt from the frames so far, as JSON values.

        An offline run that stops goes on later exactly where it was with :meth:`restore`.
        """
        return {'scale': _optional_float(self.scale), 'shift': float(self.shift),
                'fit_error': _optional_float(self.fit_error)}

    def restore(self, state: dict) -> None:
        """Take back a :meth:`state`."""
        self.scale, self.shift, self.fit_error = (state['scale'], state['shift'],
                                                  state['fit_error'])

    def to_metres(self, prediction: np.ndarray, spec: ModelSpec, stamp: float | None = None,
                  intrinsics: Intrinsics | None = None) -> np.ndarray | None:
        """
        Return ``prediction``'s metric depth (float32, NaN = invalid), or None while unknown.

        ``stamp`` is the prediction's time (seconds); ``intrinsics`` those of the camera (scaled
        to the prediction's size when they differ). Policies use them only where they need them.
        """
        raise NotImplementedError


class NoScale(ScalePolicy):
    """Identity: the model already outputs metres."""

    name = 'none'

    def __init__(self) -> None:
        super().__init__()
        self.scale = 1.0

    @property
    def status(self) -> str:
        """Return one human-readable line."""
        return 'none: the model outputs metres'

    def check(self, spec: ModelSpec) -> None:
        """Raise ValueError unless ``spec`` outputs metric depth."""
        if spec.output_kind != 'metric':
            raise ValueError(
                f'scale policy "none" needs a metric model, but {spec.name} outputs '
                f'{spec.output_kind} depth with an unknown scale; choose the scale policy '
                f'"fixed", "median" or "ground_plane"')

    def to_metres(self, prediction: np.ndarray, spec: ModelSpec, stamp: float | None = None,
                  intrinsics: Intrinsics | None = None) -> np.ndarray:
        """Return the prediction itself (float32)."""
        self.check(spec)
        return _check_prediction(prediction)


class FixedScale(ScalePolicy):
    """Known parameters: ``depth = scale * unscaled``, or ``1 / (scale * pred + shift)``."""

    name = 'fixed'

    def __init__(self, scale: float = 1.0, shift: float = 0.0) -> None:
        super().__init__()
        _require(math.isfinite(scale) and scale > 0, 'scale', scale, 'a number > 0')
        _require(math.isfinite(shift), 'shift', shift, 'a finite number')
        self.scale = float(scale)
        self.shift = float(shift)

    @property
    def status(self) -> str:
        """Return one human-readable line."""
        shift = f', shift {self.shift:.6g}' if self.shift else ''
        return f'fixed: scale {self.scale:.6g}{shift}'

    def check(self, spec: ModelSpec) -> None:
        """Raise ValueError when a shift is set for a model whose output is not inverse depth."""
        if self.shift and spec.output_kind != 'inverse_relative':
            raise ValueError(f'scale policy "fixed": shift applies only to inverse_relative '
                             f'models, {spec.name} outputs {spec.output_kind}; set shift to 0')

    def to_metres(self, prediction: np.ndarray, spec: ModelSpec, stamp: float | None = None,
                  intrinsics: Intrinsics | None = None) -> np.ndarray:
        """Return the metric depth with the fixed parameters."""
        self.check(spec)
        return apply_scale(prediction, spec, self.scale, self.shift)


class _FittedPolicy(ScalePolicy):
    """
    Shared by the fitted policies: fitting per output kind, a robust and smooth update.

    Each accepted fit joins the last ``window`` fits; the one with the median scale among them
    (its scale and shift together) is the target, and the parameters in use move towards it by
    exponential smoothing, ``new = smoothing * old + (1 - smoothing) * target``. A window of
    ``2k + 1`` ignores up to ``k`` wild fits in a row (a LiDAR frame full of reflections, a
    ground hidden by a crowd), where smoothing alone would still follow them part of the way.
    """

    def __init__(self, min_points: int, smoothing: float, window: int) -> None:
        super().__init__()
        _require(isinstance(min_points, int) and min_points >= 3, 'min_points', min_points,
                 'an integer >= 3')
        _require(0.0 <= smoothing < 1.0, 'smoothing', smoothing,
                 'a number in [0, 1): the weight of the previous value, 0 = no smoothing')
        _require(isinstance(window, int) and window >= 1 and window % 2 == 1, 'window', window,
                 'an odd integer >= 1: the number of recent fits the median is taken over')
        self.min_points = min_points
        self.smoothing = float(smoothing)
        self.window = window
        self.last_fit: Fit | None = None
        self._recent: deque[Fit] = deque(maxlen=window)
        self._reason = ''

    def _fit(self, prediction: np.ndarray, target_depth: np.ndarray, spec: ModelSpec,
             what: str) -> Fit | None:
        """
        Fit the prediction's parameters on the pixels where ``target_depth`` is valid.

        Returns None, with the reason kept for ``status``, when the fit is rejected.
        """
        if spec.output_kind == 'inverse_relative':
            model, target = prediction, 1.0 / np.where(target_depth > 0, target_depth, np.nan)
        else:
            model, target = unscaled_depth(prediction, spec), target_depth
        valid = (np.isfinite(model) & np.isfinite(target) & (target > 0)
                 & (target_depth > 0))
        if spec.output_kind != 'inverse_relative':
            valid &= model > 0
        count = int(valid.sum())
        if count < self.min_points:
            self._reason = f'{count} valid {what} < min_points {self.min_points}'
            return None
        try:
            if spec.output_kind == 'inverse_relative':
                fit = fit_scale_shift(model[valid], target[valid])
            else:
                fit = fit_scale(model[valid], target[valid])
        except ValueError as error:
            self._reason = str(error)
            return None
        if not (math.isfinite(fit.scale) and fit.scale > 0 and math.isfinite(fit.shift)):
            self._reason = (f'fit on {count} {what} gave scale {fit.scale:.4g}, not a positive '
                            f'number (the prediction does not match the {what})')
            return None
        if fit.inliers < self.min_points:
            self._reason = (f'only {fit.inliers} of {count} {what} agree with the fit '
                            f'< min_points {self.min_points}')
            return None
        self._reason = ''
        return fit

    def state(self) -> dict:
        """Return the parameters, the recent and last fits and the last rejection, as JSON."""
        return super().state() | {
            'recent': [_fit_state(fit) for fit in self._recent],
            'last_fit': None if self.last_fit is None else _fit_state(self.last_fit),
            'reason': self._reason}

    def restore(self, state: dict) -> None:
        """Take back a :meth:`state`."""
        super().restore(state)
        self._recent.clear()
        self._recent.extend(Fit(**fit) for fit in state['recent'])
        self.last_fit = None if state['last_fit'] is None else Fit(**state['last_fit'])
        self._reason = state['reason']

    def _update(self, fit: Fit) -> None:
        self._recent.append(fit)
        target = sorted(self._recent, key=lambda recent: recent.scale)[len(self._recent) // 2]
        if self.scale is None or self.smoothing == 0.0:
            self.scale, self.shift = target.scale, target.shift
        else:
            keep = self.smoothing
            self.scale = keep * self.scale + (1.0 - keep) * target.scale
            self.shift = keep * self.shift + (1.0 - keep) * target.shift
        self.fit_error = target.error
        self.last_fit = fit

    def _forget(self) -> None:
        """Drop the parameters and the recent fits: the scale is unknown again."""
        self.scale, self.shift, self.fit_error = None, 0.0, None
        self._recent.clear()

    def _parameters(self) -> str:
        shift = f', shift {self.shift:.4g}' if self.shift else ''
        return f'scale {self.scale:.4g}{shift}'


class MedianScale(_FittedPolicy):
    """
    Scale (and shift) fitted on sparse metric depth: LiDAR points, a low-resolution sensor.

    Each sparse depth image is used once, by the next prediction (it should be of the same
    moment): ``metric``/``disparity`` outputs get a depth-space median ratio (:func:`fit_scale`),
    ``inverse_relative`` outputs a robust scale-and-shift fit in inverse depth
    (:func:`fit_scale_shift`). Fits with fewer than ``min_points`` valid points or inliers, or a
    non-positive scale, are rejected. Accepted fits go through the median of the last ``window``
    fits and the exponential ``smoothing`` of :class:`_FittedPolicy` (affine-invariant models
    have per-frame parameters, smooth those little). The parameters are applied to the
    predictions in between, until ``timeout`` seconds after the last accepted sparse depth; then
    the scale is unknown again and ``to_metres`` returns None.
    """

    name = 'median'

    def __init__(self, min_points: int = 50, smoothing: float = 0.0, timeout: float = 1.0,
                 window: int = 1) -> None:
        super().__init__(min_points, smoothing, window)
        _require(math.isfinite(timeout) and timeout > 0, 'timeout', timeout,
                 'a number of seconds > 0')
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._pending: tuple[np.ndarray, float] | None = None
        self._fit_stamp: float | None = None
        self._now: float | None = None
        self._seen_sparse = False

    @property
    def status(self) -> str:
        """Return one human-readable line."""
        with self._lock:
            rejected = f'; last fit rejected: {self._reason}' if self._reason else ''
            if self.scale is not None:
                age = self._now - self._fit_stamp
                return (f'median: {self._parameters()} from {self.last_fit.inliers} points, '
                        f'{age:.1f} s ago{rejected}')
            if self._fit_stamp is not None:
                age = self._now - self._fit_stamp
                return (f'median: scale unknown, last fit {age:.1f} s ago > timeout '
                        f'{self.timeout:g} s{rejected}')
            if self._seen_sparse:
                return f'median: scale unknown{rejected}'
            return 'median: waiting for sparse depth'

    def state(self) -> dict:
        """Not available: the state includes a pending sparse depth image."""
        raise NotImplementedError('the median scale policy keeps sparse depth images; its state '
                                  'is not saved')

    def observe_sparse_depth(self, sparse_depth: np.ndarray, stamp: float) -> None:
        """Take a sparse metric depth image (metres, NaN or <= 0 = invalid) taken at ``stamp``."""
        depth = np.asarray(sparse_depth, dtype=np.float32)
        if depth.ndim != 2:
            raise ValueError(f'sparse depth must be an (H, W) image, got shape {depth.shape}')
        with self._lock:
            self._pending = (depth.copy(), float(stamp))
            self._seen_sparse = True

    def to_metres(self, prediction: np.ndarray, spec: ModelSpec, stamp: float | None = None,
                  intrinsics: Intrinsics | None = None) -> np.ndarray | None:
        """Fit on the pending sparse depth if any, then apply; None while the scale is unknown."""
        pred = _check_prediction(prediction)
        if stamp is None:
            raise ValueError('scale policy "median" needs the prediction stamp (seconds) to tell '
                             'stale sparse depth; pass stamp=')
        with self._lock:
            self._now = float(stamp)
            pending, self._pending = self._pending, None
            if pending is not None:
                sparse, sparse_stamp = pending
                if sparse.shape != pred.shape:
                    raise ValueError(
                        f'sparse depth is {sparse.shape[1]}x{sparse.shape[0]} but the prediction '
                        f'is {pred.shape[1]}x{pred.shape[0]}; rasterise the sparse depth with the '
                        f'intrinsics scaled to the prediction size')
                if stamp - sparse_stamp > self.timeout:
                    self._reason = (f'sparse depth {stamp - sparse_stamp:.1f} s older than the '
                                    f'prediction > timeout {self.timeout:g} s')
                else:
                    fit = self._fit(pred, sparse, spec, 'sparse depth points')
                    if fit is not None:
                        self._update(fit)
                        self._fit_stamp = sparse_stamp
            if self.scale is not None and stamp - self._fit_stamp > self.timeout:
                self._forget()
            if self.scale is None:
                return None
            return apply_scale(pred, spec, self.scale, self.shift)


class GroundPlaneScale(_FittedPolicy):
    """
    Scale (and shift) fitted on flat ground seen by a camera at a known height and pitch.

    Assumptions: the ground in front of the camera is a plane, the camera's optical centre is
    ``height`` metres above it, pitched down by ``pitch`` radians (positive looks down), with no
    roll. :func:`ground_plane_depth` gives the ground's metric depth for every row below the
    horizon; the fit uses the rows where that depth is at most ``max_range`` metres (the lower part
    of the image, where the plane assumption holds best), robustly, so that the objects standing
    there (closer than the ground behind them) are outliers as long as most pixels are ground.
    Each prediction is fitted on its own; ``window`` and ``smoothing`` make the parameters
    robust and steady across frames (:class:`_FittedPolicy`).

    Limits: the scale error follows the pitch error (on KITTI, 0.01 rad of pitch is about 5 % of
    scale), and objects whose depth is within the prediction's noise of the ground behind them
    cannot be told from it: on KITTI's LiDAR with i.i.d. 5 % noise the scale is within 2 %, with
    10 % noise (cars fill a third of the lower image) it is 13 % too large.
    """

    name = 'ground_plane'

    def __init__(self, height: float, pitch: float = 0.0, max_range: float = 20.0,
                 min_points: int = 200, smoothing: float = 0.0, window: int = 1) -> None:
        super().__init__(min_points, smoothing, window)
        _require(math.isfinite(height) and height > 0, 'height', height,
                 'the camera height above the ground in metres, > 0')
        _require(math.isfinite(pitch) and abs(pitch) < math.pi / 2, 'pitch', pitch,
                 'radians in (-pi/2, pi/2), positive looks down')
        _require(math.isfinite(max_range) and max_range > 0, 'max_range', max_range,
                 'metres > 0')
        self.height = float(height)
        self.pitch = float(pitch)
        self.max_range = float(max_range)

    @property
    def status(self) -> str:
        """Return one human-readable line."""
        if self.scale is not None and self.last_fit is not None:
            rejected = f'; last fit rejected: {self._reason}' if self._reason else ''
            return (f'ground_plane: {self._parameters()} from {self.last_fit.inliers} of '
                    f'{self.last_fit.points} ground pixels{rejected}')
        if self._reason:
            return f'ground_plane: scale unknown: {self._reason}'
        return 'ground_plane: waiting for the first prediction'

    def to_metres(self, prediction: np.ndarray, spec: ModelSpec, stamp: float | None = None,
                  intrinsics: Intrinsics | None = None) -> np.ndarray | None:
        """Fit on this prediction's ground pixels and apply; None while no fit was accepted."""
        pred = _check_prediction(prediction)
        if intrinsics is None:
            raise ValueError('scale policy "ground_plane" needs the camera intrinsics; pass '
                             'intrinsics=')
        rows, cols = pred.shape
        if (intrinsics.width, intrinsics.height) != (cols, rows):
            intrinsics = intrinsics.scaled(cols, rows)
        ground = ground_plane_depth(intrinsics, self.height, self.pitch)
        ground[~(ground <= self.max_range)] = np.nan
        fit = self._fit(pred, ground, spec, 'ground pixels')
        if fit is not None:
            self._update(fit)
        if self.scale is None:
            return None
        return apply_scale(pred, spec, self.scale, self.shift)


POLICIES: dict[str, type[ScalePolicy]] = {
    'none': NoScale,
    'fixed': FixedScale,
    'median': MedianScale,
    'ground_plane': GroundPlaneScale,
}


def policy_defaults(name: str) -> dict[str, object]:
    """Return the parameters of policy ``name`` with their defaults (``None`` = required)."""
    parameters = inspect.signature(_policy_class(name).__init__).parameters
    return {key: (None if p.default is inspect.Parameter.empty else p.default)
            for key, p in parameters.items() if key != 'self'}


def make_policy(name: str, **params: object) -> ScalePolicy:
    """
    Build the scale policy ``name`` (one of :data:`POLICIES`) with its parameters.

    An unknown name, an unknown or missing parameter, or a bad value is a ValueError that names it.
    """
    cls = _policy_class(name)
    allowed = policy_defaults(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        listed = ', '.join(allowed) or 'none'
        raise ValueError(f'scale policy {name!r} has no parameter {", ".join(unknown)}; '
                         f'its parameters: {listed}')
    missing = [key for key, default in allowed.items() if default is None and key not in params]
    if missing:
        raise ValueError(f'scale policy {name!r} needs the parameter {", ".join(missing)}')
    return cls(**params)


def _policy_class(name: str) -> type[ScalePolicy]:
    if name not in POLICIES:
        raise ValueError(f'unknown scale policy {name!r}; choose one of {", ".join(POLICIES)}')
    return POLICIES[name]


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _fit_state(fit: Fit) -> dict:
    return {'scale': float(fit.scale), 'shift': float(fit.shift), 'points': int(fit.points),
            'inliers': int(fit.inliers), 'error': float(fit.error)}


def _require(ok: bool, parameter: str, value: object, expected: str) -> None:
    if not ok:
        raise ValueError(f'scale parameter {parameter} = {value!r} is invalid: '
                         f'expected {expected}')


def _check_prediction(prediction: np.ndarray) -> np.ndarray:
    pred = np.asarray(prediction, dtype=np.float32)
    if pred.ndim != 2:
        raise ValueError(f'the prediction must be an (H, W) array, got shape {pred.shape}')
    return pred


# --------------------------------------------------------------------------------------------
# LiDAR extrinsics


def extrinsic_from_params(xyz: Sequence[float], rpy: Sequence[float]) -> np.ndarray:
    """
    Return the 4x4 transform taking LiDAR points into the camera optical frame.

    ``xyz`` (metres) and ``rpy`` (roll, pitch, yaw in radians, REP 103: rotations about the fixed
    x, y and z axes in that order, ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``) are the pose of the
    LiDAR frame expressed in the camera optical frame, exactly what
    ``static_transform_publisher --x .. --roll .. --frame-id <camera_optical>
    --child-frame-id <lidar>`` publishes. Then ``p_camera = R @ p_lidar + xyz``.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    rpy = np.asarray(rpy, dtype=np.float64)
    finite = np.all(np.isfinite(xyz)) and np.all(np.isfinite(rpy))
    if xyz.shape != (3,) or rpy.shape != (3,) or not finite:
        raise ValueError(f'extrinsic needs 3 finite xyz and 3 finite rpy values, got {xyz} '
                         f'and {rpy}')
    (cr, cp, cy), (sr, sp, sy) = np.cos(rpy), np.sin(rpy)
    transform = np.eye(4)
    transform[:3, :3] = [[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                         [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                         [-sp, cp * sr, cp * cr]]
    transform[:3, 3] = xyz
    return transform


def params_from_extrinsic(transform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Return ``(xyz, rpy)`` with ``extrinsic_from_params(xyz, rpy)`` equal to ``transform``.

    The inverse of :func:`extrinsic_from_params` (pitch in [-pi/2, pi/2]), e.g. to turn a
    calibration matrix into static transform parameters.
    """
    transform = _check_transform(transform)
    rotation = transform[:3, :3]
    pitch = math.asin(float(np.clip(-rotation[2, 0], -1.0, 1.0)))
    roll = math.atan2(rotation[2, 1], rotation[2, 2])
    yaw = math.atan2(rotation[1, 0], rotation[0, 0])
    return transform[:3, 3].copy(), np.array([roll, pitch, yaw])


def transform_points(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """
    Return ``(N, 3)`` points moved by a 4x4 transform; extra columns (intensity) are dropped.

    float64 points stay float64, anything else comes back float32.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] < 3:
        raise ValueError(f'points must be an (N, 3+) array, got shape {points.shape}')
    transform = _check_transform(transform)
    dtype = np.float64 if points.dtype == np.float64 else np.float32
    moved = points[:, :3].astype(np.float64) @ transform[:3, :3].T + transform[:3, 3]
    return moved.astype(dtype)


def sparse_depth_from_lidar(points: np.ndarray, transform: np.ndarray,
                            intrinsics: Intrinsics) -> np.ndarray:
    """
    Return the sparse depth image (float32 metres, NaN = no point) of LiDAR points.

    ``points`` ``(N, 3+)`` in the LiDAR frame, ``transform`` from :func:`extrinsic_from_params`,
    ``intrinsics`` at the resolution wanted (the prediction's, for :class:`MedianScale`); the
    projection and the nearest-point-wins rasterisation are :mod:`mono_depth_ros.geometry`'s.
    """
    return points_to_depth(transform_points(points, transform), intrinsics)


def _check_transform(transform: np.ndarray) -> np.ndarray:
    transform = np.asarray(transform, dtype=np.float64)
    if transform.shape != (4, 4) or not np.allclose(transform[3], [0, 0, 0, 1]):
        raise ValueError('the extrinsic must be a 4x4 homogeneous transform with last row '
                         '0 0 0 1')
    return transform
