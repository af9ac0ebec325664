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
``mono-depth quality``: what the depth post-filters do to clouds and to depth over time.

- ``edges``: the edge filter on real RGB-D frames (a manifest) and on synthetic scenes: the
  fraction of cloud points off the true surface and floating between surfaces, before and after,
  and the fraction of good points lost, per threshold and radius.
- ``confidence``: how wrong the points of each ``depth/confidence`` bin are, on the same data.
- ``temporal``: the temporal filter on synthetic camera trajectories: flicker of static points
  once the known camera motion is taken out, and accuracy (AbsRel), off against ema settings,
  with a scene cut between trajectories.
- ``scale``: a scale fitted on sparse depth with wild frames among them: frame-to-frame scale
  jumps and accuracy, per ``scale.window`` and ``scale.smoothing``.

Each measurement runs the network once per frame and applies every setting to the same
predictions, so the settings are compared on equal terms.
"""
from __future__ import annotations

import argparse
from collections import defaultdict
import json
import math
import sys
from typing import Iterable, Iterator

from mono_depth_ros.cli import parse_size
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.filters import (confidence, EdgeFilter, TEMPORAL_DELTA, TEMPORAL_RESET,
                                    TemporalFilter)
from mono_depth_ros.metrics import flicker, surface_check
from mono_depth_ros.models.spec import ModelSpec
from mono_depth_ros.scale import MedianScale
import numpy as np

# A relative depth error above this puts a point off the true surface.
SURFACE_TOLERANCE = 0.1


def _abs_rel(depth: np.ndarray, truth: np.ndarray) -> float:
    valid = np.isfinite(depth) & np.isfinite(truth) & (truth > 0)
    return float(np.mean(np.abs(depth[valid] - truth[valid]) / truth[valid]))


def _median_scaled(depth: np.ndarray, truth: np.ndarray) -> np.ndarray:
    valid = np.isfinite(depth) & np.isfinite(truth) & (depth > 0)
    return depth * np.float32(np.median(truth[valid] / depth[valid]))


# --------------------------------------------------------------------------------------------
# Edges


def real_pairs(estimator: DepthEstimator, manifest_path: str,
               median_scaling: bool = False) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(group, predicted depth, true depth)`` of each manifest frame (group: its env)."""
    from mono_depth_ros.data.manifest import Manifest

    manifest = Manifest(manifest_path)
    for index, frame in enumerate(manifest.frames):
        sample = manifest[index]
        depth = estimator.estimate(sample.rgb, sample.intrinsics).depth
        if median_scaling:
            depth = _median_scaled(depth, sample.depth)
        yield f'real {frame.env or "frames"}', depth, sample.depth


def synthetic_pairs(estimator: DepthEstimator, count: int, seed: int, size: tuple[int, int],
                    median_scaling: bool = False
                    ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(group, predicted depth, true depth)`` of ``count`` synthetic scenes."""
    from mono_depth_ros.data.synthetic import SyntheticScenes

    height, width = size
    for sample in SyntheticScenes(seed=seed, count=count, width=width, height=height):
        depth = estimator.estimate(sample.rgb, sample.intrinsics).depth
        if median_scaling:
            depth = _median_scaled(depth, sample.depth)
        yield 'synthetic', depth, sample.depth


def edge_study(pairs: Iterable[tuple[str, np.ndarray, np.ndarray]],
               settings: list[tuple[float, int]]) -> list[dict]:
    """
    Return, per group and edge filter setting, the cloud's points off the surface and lost.

    ``off`` and ``floating`` are fractions of the checked points (:func:`surface_check`) before
    and after the filter; ``good_lost`` is the fraction of the points that were on the surface
    and that the filter removed; ``removed`` the fraction of all checked points removed.
    """
    sums: dict[tuple[str, float, int], np.ndarray] = defaultdict(lambda: np.zeros(6))
    filters = {setting: EdgeFilter(*setting) for setting in settings}
    for group, depth, truth in pairs:
        check = surface_check(depth, truth, SURFACE_TOLERANCE)
        for setting, edge in filters.items():
            removed = edge.mask(depth) & check.checked
            sums[(group, *setting)] += [
                check.checked.sum(), check.off.sum(), check.floating.sum(), removed.sum(),
                (removed & check.off).sum(), (removed & check.floating).sum()]
    rows = []
    for (group, threshold, radius), total in sums.items():
        checked, off, floating, removed, removed_off, removed_floating = total
        kept = checked - removed
        rows.append({
            'group': group, 'threshold': threshold, 'radius': radius, 'points': int(checked),
            'off_before': off / checked, 'off_after': (off - removed_off) / kept,
            'floating_before': floating / checked,
            'floating_after': (floating - removed_floating) / kept,
            'good_lost': (removed - removed_off) / (checked - off), 'removed': removed / checked})
    return rows


def confidence_study(pairs: Iterable[tuple[str, np.ndarray, np.ndarray]],
                     edges: tuple[float, int] = (0.1, 2),
                     bins: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)) -> list[dict]:
    """
    Return, per group and confidence bin, the share of points and how wrong they are.

    The confidence is the node's from the window span alone (no temporal filter, no scale fit):
    a confidence that means something puts the points off the surface in the low bins.
    ``abs_rel``: mean relative depth error of the bin's checked points; ``off``: the fraction
    of them off the surface (:func:`surface_check`).
    """
    sums: dict[tuple[str, int], np.ndarray] = defaultdict(lambda: np.zeros(3))
    edge = EdgeFilter(*edges)
    for group, depth, truth in pairs:
        check = surface_check(depth, truth, SURFACE_TOLERANCE)
        rated = confidence(depth, span=edge.span(depth))
        with np.errstate(invalid='ignore', divide='ignore'):
            error = np.abs(depth - truth) / truth
        usable = check.checked & np.isfinite(error)
        which = np.clip(np.digitize(rated, bins[1:-1]), 0, len(bins) - 2)
        for index in range(len(bins) - 1):
            chosen = usable & (which == index)
            sums[(group, index)] += [chosen.sum(), error[chosen].sum(), check.off[chosen].sum()]
    totals = defaultdict(float)
    for (group, _), (count, _, _) in sums.items():
        totals[group] += count
    return [{'group': group, 'confidence': f'{bins[index]:g}-{bins[index + 1]:g}',
             'share': count / totals[group], 'abs_rel': error / count if count else math.nan,
             'off': off / count if count else math.nan}
            for (group, index), (count, error, off) in sorted(sums.items())]


# --------------------------------------------------------------------------------------------
# Temporal


def trajectories(count: int, frames: int, size: tuple[int, int], noise: float, seed: int,
                 **motion: float):
    """
    Return ``count`` synthetic trajectories of different scenes (a cut between each two).

    ``motion``: :class:`~mono_depth_ros.data.synthetic.SyntheticTrajectory`'s ``speed``,
    ``sway``, ``yaw_amplitude`` and ``period``.
    """
    from mono_depth_ros.data.synthetic import SyntheticTrajectory

    height, width = size
    return [SyntheticTrajectory(seed=seed, scene=index, frames=frames, width=width,
                                height=height, noise_std=noise, **motion)
            for index in range(count)]


def _predict(estimator: DepthEstimator, paths) -> list[list[tuple]]:
    """Run the network once per frame: ``(sample, predicted depth)`` per frame per path."""
    out = []
    for path in paths:
        samples = [path[index] for index in range(len(path))]
        out.append([(sample, estimator.estimate(sample.rgb, sample.intrinsics).depth)
                    for sample in samples])
    return out


def temporal_study(predictions: list[list[tuple]],
                   configs: dict[str, dict | None]) -> list[dict]:
    """
    Return flicker and accuracy of each temporal filter configuration over the trajectories.

    ``configs`` maps a name to :class:`TemporalFilter` arguments, or None for no filter.

    The trajectories are played one after the other through one filter (so each start is a scene
    cut). ``flicker``: mean over consecutive frames of one trajectory of :func:`flicker`;
    ``abs_rel``: mean over all frames; ``abs_rel_after_cut``: over the first frame of each
    trajectory but the first; ``restarts`` of the filter. The row ``truth`` is the flicker
    measure's own floor (the ground truth through it).
    """
    rows = []
    for name, config in {'truth': None, **configs}.items():
        temporal = TemporalFilter(**config) if config is not None else None
        flickers, errors, after_cut = [], [], []
        for path_index, path in enumerate(predictions):
            previous = None
            for frame, (sample, depth) in enumerate(path):
                if name == 'truth':
                    depth = sample.depth
                elif temporal is not None:
                    depth = temporal.update(depth, sample.rgb)
                errors.append(_abs_rel(depth, sample.depth))
                if frame == 0 and path_index > 0:
                    after_cut.append(errors[-1])
                if previous is not None:
                    prev_sample, prev_depth = previous
                    flickers.append(flicker(prev_depth, depth, prev_sample.depth, sample.depth,
                                            sample.intrinsics, prev_sample.world_from_camera,
                                            sample.world_from_camera)[0])
                previous = (sample, depth)
        rows.append({'config': name, 'flicker': float(np.nanmean(flickers)),
                     'abs_rel': float(np.mean(errors)),
                     'abs_rel_after_cut': float(np.mean(after_cut)) if after_cut else math.nan,
                     'restarts': temporal.restarts if temporal else 0})
    return rows


# --------------------------------------------------------------------------------------------
# Scale


def sparse_frames(predictions: list[list[tuple]], fraction: float, wild: float, seed: int):
    """
    Return a sparse metric depth per frame: true depth at ``fraction`` of the pixels, 2 % noise.

    A ``wild`` fraction of the frames are wrong as a whole (every point scaled by a factor from
    0.5 to 2: a LiDAR sweep off its calibration, reflections); returns the list of sparse images
    and the list of which frames are wild.
    """
    rng = np.random.default_rng(seed)
    sparse, wild_flags = [], []
    for path in predictions:
        for sample, _ in path:
            keep = rng.random(sample.depth.shape) < fraction
            points = sample.depth * rng.normal(1.0, 0.02, sample.depth.shape)
            is_wild = rng.random() < wild
            if is_wild:
                points = points * math.exp(rng.uniform(math.log(0.5), math.log(2.0)))
            sparse.append(np.where(keep, points, np.nan).astype(np.float32))
            wild_flags.append(is_wild)
    return sparse, wild_flags


def scale_study(spec: ModelSpec, predictions: list[list[tuple]],
                configs: list[tuple[int, float]], fraction: float = 0.01, wild: float = 0.15,
                seed: int = 0) -> list[dict]:
    """
    Return scale jumps and accuracy of a median scale policy per ``(window, smoothing)``.

    The predictions are a metric model's depth (``spec``), whose scale the policy corrects; the
    sparse depth of each frame comes from :func:`sparse_frames`. ``jump_mean``, ``jump_p95``:
    of ``|log(s_t / s_t-1)|`` between consecutive frames of a trajectory; ``abs_rel``: of the
    scaled depth over all frames; ``abs_rel_wild``: over the wild frames only.
    """
    sparse, wild_flags = sparse_frames(predictions, fraction, wild, seed)
    rows = []
    for window, smoothing in configs:
        policy = MedianScale(min_points=20, smoothing=smoothing, timeout=3600.0, window=window)
        jumps, errors, wild_errors = [], [], []
        index = 0
        for path in predictions:
            previous = None
            for frame, (sample, depth) in enumerate(path):
                stamp = float(index)
                policy.observe_sparse_depth(sparse[index], stamp)
                metres = policy.to_metres(depth, spec, stamp)
                error = _abs_rel(metres, sample.depth)
                errors.append(error)
                if wild_flags[index]:
                    wild_errors.append(error)
                if previous is not None:
                    jumps.append(abs(math.log(policy.scale / previous)))
                previous = policy.scale
                index += 1
        rows.append({'window': window, 'smoothing': smoothing,
                     'jump_mean': float(np.mean(jumps)),
                     'jump_p95': float(np.percentile(jumps, 95)),
                     'abs_rel': float(np.mean(errors)),
                     'abs_rel_wild': float(np.mean(wild_errors)) if wild_errors else math.nan,
                     'wild_frames': int(sum(wild_flags))})
    return rows


# --------------------------------------------------------------------------------------------
# Command line


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(',')]


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(',')]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``mono-depth quality``."""
    parser.add_argument('study', choices=('edges', 'confidence', 'temporal', 'scale'))
    parser.add_argument('--model', required=True, help='zoo variant (see mono-depth models)')
    parser.add_argument('--weights', default='auto', help="'auto', a file, folder or URL")
    parser.add_argument('--manifest', default=None,
                        help='edges, confidence: a manifest.json of real RGB-D frames '
                             '(docs/MANIFEST.md)')
    parser.add_argument('--synthetic', type=int, default=10,
                        help='edges, confidence: number of synthetic scenes (0 for none)')
    parser.add_argument('--median-scaling', action='store_true',
                        help='edges, confidence: scale each prediction by median(truth / '
                             'prediction) first')
    parser.add_argument('--thresholds', default='0.05,0.1,0.2', help='edges: thresholds')
    parser.add_argument('--radii', default='1,2,4', help='edges: radii (pixels)')
    parser.add_argument('--size', default=None,
                        help='frame size WxH of the synthetic data (edges, confidence 640x480, '
                             'temporal and scale 320x240)')
    parser.add_argument('--trajectories', type=int, default=3,
                        help='temporal, scale: trajectories (scenes) played one after another')
    parser.add_argument('--frames', type=int, default=45, help='temporal, scale: frames each')
    parser.add_argument('--noise', type=float, default=4.0,
                        help='temporal, scale: image noise (8-bit levels) of every frame')
    parser.add_argument('--speed', type=float, default=0.3,
                        help='temporal, scale: forward speed of the camera (m/s at 30 fps)')
    parser.add_argument('--turn', type=float, default=0.15,
                        help='temporal, scale: amplitude of the camera turning (rad, period 2 s)')
    parser.add_argument('--alphas', default='0.3,0.5', help='temporal: ema weights to compare')
    parser.add_argument('--delta', type=float, default=TEMPORAL_DELTA,
                        help='temporal: temporal_delta')
    parser.add_argument('--reset', type=float, default=TEMPORAL_RESET,
                        help='temporal: temporal_reset')
    parser.add_argument('--windows', default='1,5', help='scale: scale.window values')
    parser.add_argument('--smoothings', default='0,0.5', help='scale: scale.smoothing values')
    parser.add_argument('--wild', type=float, default=0.15,
                        help='scale: fraction of frames whose sparse depth is wrong as a whole')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', action='store_true', help='print the rows as JSON')


def _table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = [' '.join(f'{key:>17}' for key in keys)]
    for row in rows:
        lines.append(' '.join(f'{value:>17.4f}' if isinstance(value, float) else f'{value!s:>17}'
                              for value in row.values()))
    return '\n'.join(lines)


def main(args: argparse.Namespace) -> int:
    """Run one study and print its rows; 2 on bad options."""
    try:
        default_size = '640x480' if args.study in ('edges', 'confidence') else '320x240'
        size = parse_size(args.size or default_size)
        estimator = DepthEstimator.from_name(args.model, weights=args.weights, device='cpu')
        if args.study in ('edges', 'confidence'):
            sources: list[Iterable] = []
            if args.manifest:
                sources.append(real_pairs(estimator, args.manifest, args.median_scaling))
            if args.synthetic:
                sources.append(synthetic_pairs(estimator, args.synthetic, args.seed, size,
                                               args.median_scaling))
            pairs = (pair for source in sources for pair in source)
            if args.study == 'confidence':
                rows = confidence_study(pairs)
            else:
                rows = edge_study(pairs, [(t, r) for t in _floats(args.thresholds)
                                          for r in _ints(args.radii)])
        else:
            paths = trajectories(args.trajectories, args.frames, size, args.noise, args.seed,
                                 speed=args.speed, yaw_amplitude=args.turn)
            predictions = _predict(estimator, paths)
            if args.study == 'temporal':
                configs = {'off': None} | {
                    f'ema alpha {alpha:g}': {'alpha': alpha, 'delta': args.delta,
                                             'reset': args.reset}
                    for alpha in _floats(args.alphas)}
                rows = temporal_study(predictions, configs)
            else:
                configs = [(w, s) for w in _ints(args.windows) for s in _floats(args.smoothings)]
                rows = scale_study(estimator.spec, predictions, configs, wild=args.wild,
                                   seed=args.seed)
    except (KeyError, ValueError, OSError) as error:
        print(f'error: {error.args[0] if error.args else error}', file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=2) if args.json else _table(rows))
    return 0
