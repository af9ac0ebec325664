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
``mono-depth eval``: a model's depth (and segmentation) metrics on a dataset.

:func:`evaluate` is the reusable core (the training loop uses it too): it runs a
:class:`~mono_depth_ros.estimator.DepthEstimator` over any sequence of
:class:`~mono_depth_ros.data.Sample` and averages the per-image metrics of
:mod:`mono_depth_ros.metrics`.

:func:`evaluate_manifest` scores real RGB-D frames listed in a manifest (docs/MANIFEST.md) three
ways, per source, per environment and in total: the depth as the model publishes it (metric
models), median-scaled (any model: the shape of the depth, whatever its scale), and the
constant-median baseline beside them, which predicts every pixel at the median of the frame's
ground truth. A model that does not beat that constant has learnt nothing usable about depth.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterable
import itertools
import json
import sys

from mono_depth_ros import metrics
from mono_depth_ros.data import Sample
import numpy as np

DATASETS = ('synthetic', 'folder', 'kitti')
MANIFEST_MODES = ('metric', 'median_scaled', 'constant')
MANIFEST_MODE_TITLES = {'metric': 'metric, as published', 'median_scaled': 'median-scaled',
                        'constant': 'constant median (baseline)'}
MANIFEST_COLUMNS = ('abs_rel', 'rmse', 'd1')
MANIFEST_MAX_DEPTH = 80.0
TABLE_KEYS = metrics.DEPTH_METRICS + ('miou', 'pixel_accuracy', 'scale')
IGNORE_INDEX = 255


def evaluate(estimator, dataset: Iterable[Sample], median_scaling: bool = False,
             min_depth: float = 1e-3, max_depth: float | None = None, crop: str | None = None,
             limit: int | None = None) -> dict[str, float]:
    """
    Return the dataset means of the depth metrics of ``estimator`` on ``dataset``.

    ``estimator`` is a :class:`~mono_depth_ros.estimator.DepthEstimator` (anything with
    ``spec`` and ``estimate(rgb, intrinsics)``). Ground truth counts where it is finite and inside
    ``(min_depth, max_depth)`` (``max_depth`` defaults to the model's) and inside ``crop``
    (``'garg'``, ``'eigen'`` or None). Relative models need ``median_scaling``: the prediction
    up to scale is multiplied per image by median(gt) / median(prediction), whose mean is
    reported as ``'scale'``. Predicted pixels without a value (NaN) count as ``max_depth`` (or as
    the image's farthest prediction when median scaling).

    The result holds the metrics of :data:`mono_depth_ros.metrics.DEPTH_METRICS`, ``'images'``,
    ``'pixels'`` (mean valid pixels per image) and ``'inference_ms'`` (mean estimator time); with
    a segmentation model and labelled samples also ``'miou'`` and ``'pixel_accuracy'`` over the
    dataset's summed confusion matrix (label 255 is ignored). Labels count only when the dataset's
    ``classes`` attribute is None (ids are the model's) or equals the model's classes.
    """
    spec = estimator.spec
    if spec.output_kind != 'metric' and not median_scaling:
        raise ValueError(f'model {spec.name} predicts {spec.output_kind} depth, known only up to '
                         'scale; evaluate it with median scaling (--median-scaling)')
    max_depth = spec.max_depth if max_depth is None else max_depth
    dataset_classes = getattr(dataset, 'classes', None)
    with_labels = bool(spec.classes) and (dataset_classes is None
                                          or tuple(dataset_classes) == tuple(spec.classes))
    scorer = Scorer(len(spec.classes) if with_labels else 0, median_scaling, min_depth,
                    max_depth, crop)
    for index, sample in enumerate(itertools.islice(dataset, limit)):
        if sample.depth is None:
            raise ValueError(f'sample {sample.name or index} has no depth ground truth')
        result = estimator.estimate(sample.rgb, sample.intrinsics)
        pred = result.unscaled_depth if median_scaling else result.depth
        if pred is None:
            raise ValueError(f'model {spec.name} returned no metric depth '
                             f'({result.scale_status}); use median scaling')
        scorer.add(pred, sample.depth, result.labels, sample.labels,
                   inference_ms=sum(result.timings_ms.values()))
    return scorer.result()


class Scorer:
    """
    Accumulates depth metrics per image and a confusion matrix over a dataset.

    Ground truth counts where it is finite and inside ``(min_depth, max_depth)`` and ``crop``.
    Predicted pixels without a value (NaN) count as ``max_depth`` (or as the image's farthest
    prediction when median scaling). ``num_classes`` 0 skips segmentation.
    """

    def __init__(self, num_classes: int = 0, median_scaling: bool = False,
                 min_depth: float = 1e-3, max_depth: float = 80.0,
                 crop: str | None = None) -> None:
        if not 0.0 <= min_depth < max_depth:
            raise ValueError(f'need 0 <= min_depth < max_depth, got {min_depth} and {max_depth}')
        self.median_scaling = median_scaling
        self.min_depth, self.max_depth, self.crop = min_depth, max_depth, crop
        self.num_classes = num_classes
        self.depth_mean = metrics.MetricMean()
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)

    def add(self, pred: np.ndarray, depth: np.ndarray, labels: np.ndarray | None = None,
            true_labels: np.ndarray | None = None, **extra: float) -> dict[str, float]:
        """Score one image; ``extra`` values (e.g. timings) are averaged alongside."""
        pred = np.asarray(pred, dtype=np.float64)
        finite = np.isfinite(pred)
        if not finite.all():
            if not self.median_scaling:
                fill = self.max_depth
            else:
                fill = pred[finite].max() if finite.any() else 1.0
            pred = np.where(finite, pred, fill)
        image = metrics.depth_metrics(pred, depth, min_depth=self.min_depth,
                                      max_depth=self.max_depth, crop=self.crop,
                                      median_scaling=self.median_scaling)
        image.update(extra)
        self.depth_mean.add(image)
        if self.num_classes and labels is not None and true_labels is not None:
            self.confusion += metrics.confusion_matrix(labels, true_labels, self.num_classes,
                                                       IGNORE_INDEX)
        return image

    def result(self) -> dict[str, float]:
        """Return the means of every metric, and mIoU and pixel accuracy if labels were seen."""
        out = self.depth_mean.result()
        if self.confusion.sum():
            segmentation = metrics.segmentation_metrics(self.confusion)
            out['miou'] = segmentation['miou']
            out['pixel_accuracy'] = segmentation['pixel_accuracy']
        return out


def evaluate_manifest(estimator, manifest, min_depth: float = 1e-3,
                      max_depth: float = MANIFEST_MAX_DEPTH,
                      limit: int | None = None) -> dict:
    """
    Score ``estimator`` on the frames of a :class:`~mono_depth_ros.data.manifest.Manifest`.

    Ground truth counts inside ``(min_depth, max_depth)`` metres. Returns ``{'frames': [...],
    'groups': {...}}``: per frame its ``id``, ``source``, ``env`` and the metrics of each mode of
    :data:`MANIFEST_MODES` (``metric`` only for metric models); per group (each source, each
    environment, ``'all'``) the means over its frames and ``'images'``. An error names the frame.
    """
    from mono_depth_ros.data.manifest import ManifestError

    metric_model = estimator.spec.output_kind == 'metric'
    scorers = {'metric': Scorer(0, False, min_depth, max_depth),
               'median_scaled': Scorer(0, True, min_depth, max_depth),
               'constant': Scorer(0, True, min_depth, max_depth)}
    frames = []
    for index, frame in enumerate(manifest.frames[:limit]):
        sample = manifest[index]
        try:
            result = estimator.estimate(sample.rgb, sample.intrinsics)
            scores = {'median_scaled': scorers['median_scaled'].add(result.unscaled_depth,
                                                                    sample.depth),
                      # any constant, median-scaled, is the constant median of the ground truth
                      'constant': scorers['constant'].add(np.ones_like(sample.depth),
                                                          sample.depth)}
            if metric_model:
                scores['metric'] = scorers['metric'].add(result.depth, sample.depth)
        except ValueError as error:
            raise ManifestError(f'manifest {manifest.path}, frame {frame.name}: {error}') from None
        frames.append({'id': frame.name, 'source': frame.source, 'env': frame.env, **scores})
    groups: dict[str, dict] = {}
    keys = ([frame['source'] for frame in frames]
            + [frame['env'] for frame in frames if frame['env']] + ['all'])
    for key in dict.fromkeys(keys):
        members = [frame for frame in frames if key in ('all', frame['source'], frame['env'])]
        groups[key] = {'images': len(members)}
        for mode in MANIFEST_MODES:
            if mode in members[0]:
                mean = metrics.MetricMean()
                for frame in members:
                    mean.add(frame[mode])
                groups[key][mode] = mean.result()
    return {'frames': frames, 'groups': groups}


def format_manifest_table(report: dict) -> str:
    """Return the groups of a manifest report as a table: AbsRel, RMSE, delta1 per mode."""
    names = list(report['groups'])
    width = max(12, *(len(name) for name in names))
    block = ' '.join(f'{column:>7}' for column in MANIFEST_COLUMNS)
    titles = f'{"":<{width}} {"":>6} |' + '|'.join(
        f' {MANIFEST_MODE_TITLES[mode]:^{len(block)}} ' for mode in MANIFEST_MODES)
    header = f'{"frames":<{width}} {"n":>6} |' + '|'.join(f' {block} ' for _ in MANIFEST_MODES)
    lines = [titles, header]
    for name in names:
        group = report['groups'][name]
        cells = []
        for mode in MANIFEST_MODES:
            if mode in group:
                cells.append(' '.join(f'{group[mode][column]:>7.3f}'
                                      for column in MANIFEST_COLUMNS))
            else:
                cells.append(f'{"(not metric)":^{len(block)}}')
        lines.append(f'{name:<{width}} {group["images"]:>6} |'
                     + '|'.join(f' {cell} ' for cell in cells))
    return '\n'.join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``mono-depth eval`` options to ``parser``."""
    parser.add_argument('--model', required=True,
                        help='zoo variant (see `mono-depth models`); with --manifest, several '
                             'separated by commas')
    parser.add_argument('--weights', default='auto',
                        help="'auto' (the official or shipped weights), a file or folder, an "
                             "https URL, or 'none' for random initialisation")
    parser.add_argument('--dataset', choices=DATASETS)
    parser.add_argument('--manifest',
                        help='real RGB-D frames listed in a manifest.json (docs/MANIFEST.md), '
                             'instead of --dataset: metric, median-scaled and constant-baseline '
                             'metrics per source and in total')
    parser.add_argument('--input-size', type=int,
                        help='network input short side for models that keep the aspect ratio '
                             '(Depth Anything V2: a multiple of 14, default 518)')
    parser.add_argument('--seed', type=int, default=0, help='synthetic: scene seed')
    parser.add_argument('--count', type=int, default=100, help='synthetic: number of scenes')
    parser.add_argument('--width', type=int, default=320, help='synthetic: image width')
    parser.add_argument('--height', type=int, default=240, help='synthetic: image height')
    parser.add_argument('--data-root', '--root', dest='root',
                        help='folder or kitti: dataset root')
    parser.add_argument('--split', help='kitti: Eigen split file (<date>/<drive> <frame> l)')
    parser.add_argument('--depth-root', help='kitti: root of the ground truth (default --root)')
    parser.add_argument('--skip-missing', action='store_true',
                        help='kitti: leave out split frames without ground truth')
    parser.add_argument('--median-scaling', action='store_true',
                        help='scale each prediction by median(gt) / median(pred); required for '
                             'relative models')
    parser.add_argument('--min-depth', type=float, default=1e-3)
    parser.add_argument('--max-depth', type=float,
                        help='ground truth range cap (default: 20 for synthetic, 80 for kitti '
                             "and manifests, the model's for folder)")
    parser.add_argument('--crop', choices=('none',) + metrics.CROPS,
                        help='evaluation crop (default: garg for kitti, none otherwise)')
    parser.add_argument('--limit', type=int, help='evaluate at most this many images')
    parser.add_argument('--device', default='auto', help="'auto', 'cpu', 'cuda', 'cuda:1'...")
    parser.add_argument('--precision', default='fp32', help="'fp32' or 'fp16'")
    parser.add_argument('--json', action='store_true', help='print the result as JSON')


def _dataset(args: argparse.Namespace):
    if args.dataset == 'synthetic':
        from mono_depth_ros.data.synthetic import MAX_DEPTH, SyntheticScenes

        return SyntheticScenes(args.seed, args.count, args.width, args.height), MAX_DEPTH
    if not args.root:
        raise ValueError(f'--dataset {args.dataset} needs --root')
    from mono_depth_ros.data.folder import FolderPairs, KittiEigen

    if args.dataset == 'folder':
        return FolderPairs(args.root), None
    if not args.split:
        raise ValueError('--dataset kitti needs --split, an Eigen split file')
    return KittiEigen(args.root, args.split, args.depth_root, args.skip_missing), 80.0


def format_table(result: dict[str, float]) -> str:
    """Return the metrics as a two-line table (header, values)."""
    keys = [key for key in TABLE_KEYS if key in result]
    widths = [max(9, len(key)) for key in keys]
    header = ' '.join(f'{key:>{width}}' for key, width in zip(keys, widths))
    values = ' '.join(f'{result[key]:>{width}.4f}' for key, width in zip(keys, widths))
    return f'{header}\n{values}'


def main(args: argparse.Namespace) -> int:
    """Run ``mono-depth eval``; print a table or JSON; return the exit status."""
    if (args.dataset is None) == (args.manifest is None):
        print('mono-depth eval: error: give either --dataset or --manifest', file=sys.stderr)
        return 2
    if args.manifest is not None:
        return _main_manifest(args)
    from mono_depth_ros import scale
    from mono_depth_ros.estimator import DepthEstimator
    from mono_depth_ros.models.registry import get_spec

    try:
        spec = get_spec(args.model)
        if spec.output_kind != 'metric' and not args.median_scaling:
            raise ValueError(f'model {spec.name} predicts {spec.output_kind} depth, known only '
                             'up to scale; add --median-scaling')
        dataset, default_max_depth = _dataset(args)
        max_depth = args.max_depth or default_max_depth or spec.max_depth
        crop = args.crop or ('garg' if args.dataset == 'kitti' else 'none')
        # Median-scaled evaluation reads the prediction up to scale; the fixed unit scale only
        # lets the estimator accept relative models.
        policy = scale.make_policy('fixed') if args.median_scaling else None
        weights = None if args.weights == 'none' else args.weights
        estimator = DepthEstimator.from_name(args.model, weights=weights, device=args.device,
                                             precision=args.precision, scale_policy=policy,
                                             input_size=args.input_size)
        result = evaluate(estimator, dataset, median_scaling=args.median_scaling,
                          min_depth=args.min_depth, max_depth=max_depth,
                          crop=None if crop == 'none' else crop, limit=args.limit)
    except (ValueError, FileNotFoundError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f'mono-depth eval: error: {message}', file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({'model': args.model, 'dataset': args.dataset, 'max_depth': max_depth,
                          'crop': crop, 'median_scaling': args.median_scaling,
                          'metrics': result}, indent=2))
        return 0
    print(f'{args.model} on {args.dataset}: {result["images"]} images, depth in '
          f'({args.min_depth:g}, {max_depth:g}) m, crop {crop}'
          + (', median scaling' if args.median_scaling else ''))
    print(format_table(result))
    return 0


def _main_manifest(args: argparse.Namespace) -> int:
    from mono_depth_ros import scale
    from mono_depth_ros.data.manifest import Manifest
    from mono_depth_ros.estimator import DepthEstimator
    from mono_depth_ros.models.registry import get_spec
    from mono_depth_ros.weights import CheckpointError

    models = [name.strip() for name in args.model.split(',') if name.strip()]
    max_depth = args.max_depth or MANIFEST_MAX_DEPTH
    reports = {}
    try:
        if len(models) > 1 and args.weights not in ('auto', 'none'):
            raise ValueError('--weights FILE needs a single --model')
        manifest = Manifest(args.manifest)
        for model in models:
            spec = get_spec(model)
            # Relative models are scored median-scaled only; the unit scale lets them run.
            policy = None if spec.output_kind == 'metric' else scale.make_policy('fixed')
            estimator = DepthEstimator.from_name(
                model, weights=None if args.weights == 'none' else args.weights,
                device=args.device, precision=args.precision, scale_policy=policy,
                input_size=args.input_size)
            reports[model] = evaluate_manifest(estimator, manifest, args.min_depth, max_depth,
                                               args.limit)
    except (ValueError, FileNotFoundError, KeyError, CheckpointError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f'mono-depth eval: error: {message}', file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({'manifest': str(args.manifest), 'min_depth': args.min_depth,
                          'max_depth': max_depth, 'models': reports}, indent=2))
        return 0
    for model, report in reports.items():
        print(f'{model} ({get_spec(model).output_kind}) on {args.manifest}: '
              f'{len(report["frames"])} frames, ground truth in ({args.min_depth:g}, '
              f'{max_depth:g}) m; AbsRel and RMSE (m): lower is better, d1: higher is better')
        print(format_manifest_table(report))
        print()
    return 0
