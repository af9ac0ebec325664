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
``mono-depth infer``: run a model on images, folders of images, videos or bags.

Bags (rosbag2 folders, ``.mcap``, ``.db3`` and ROS 1 ``.bag`` files, or folders of them) become
depth bags through the node's own per-frame path: see :mod:`mono_depth_ros.bags`. For images and
videos, depth files are written.

Per frame, in the output folder (``<name>`` is the image's stem, or ``<video stem>_<index:06d>``
for video frames, the index counting every frame of the video):

- ``<name>_depth.png``: REP 118 ``16UC1`` depth, millimetres, 0 = invalid or beyond 65.535 m.
- ``<name>_depth.npy`` (``--npy``): float32 metres, NaN = invalid.
- ``<name>_depth_color.png``: the depth coloured, near = warm.
- ``<name>_labels.png`` and ``<name>_labels_color.png``: class ids (8-bit) and their colours, for
  models with a segmentation head.
- ``<name>.ply`` (``--ply``): the valid points with their colours, in the optical frame, from the
  intrinsics of ``--camera-info`` or ``--fov``.

Relative models (Lite-Mono, Depth Anything V2 relative) know depth only up to scale: without a
scale policy they write ``<name>_relative.npy`` (float32 depth up to one unknown factor, NaN =
invalid) and ``<name>_relative_color.png`` instead of the metric files. The same happens for a
frame whose scale a fitted policy (``ground_plane``) could not find.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
import math
from pathlib import Path
import sys
import time
from typing import Iterator, Sequence

import cv2
from mono_depth_ros.colormap import colorize_depth, colorize_labels
from mono_depth_ros.estimator import DepthResult
from mono_depth_ros.geometry import (depth_to_points, Intrinsics, intrinsics_from_fov,
                                     intrinsics_from_mapping, read_camera_file, write_ply)
from mono_depth_ros.ros_io import metres_to_depth_values
import numpy as np

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
VIDEO_SUFFIXES = ('.avi', '.mp4', '.mkv', '.mov', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv')
# Scale policies that work offline: 'median' needs sparse metric depth, which files do not carry.
SCALE_POLICIES = ('fixed', 'ground_plane')
# A camera_info of another size is scaled to the frame when the aspect ratios agree this closely.
_ASPECT_TOLERANCE = 0.01


class InferError(ValueError):
    """An input, option or output problem; the message says what to change."""


@dataclass(frozen=True)
class Source:
    """One sequence of frames: image files (``kind='images'``) or one video (``'video'``)."""

    kind: str
    paths: tuple[Path, ...]


@dataclass
class Frame:
    """One frame to process: its output name, ``(H, W, 3)`` uint8 RGB pixels and time (s)."""

    name: str
    rgb: np.ndarray
    stamp: float


def collect_sources(inputs: Sequence[str | Path]) -> list[Source]:
    """
    Turn the command line inputs into sequences, checking that every path exists.

    A folder is one sequence of its images in name order (not recursive); a file with a video
    suffix (:data:`VIDEO_SUFFIXES`) is one sequence of its frames; consecutive image files form
    one sequence. Frames of different inputs must not share an output name.
    """
    sources: list[Source] = []
    loose: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_file() and path.suffix.lower() not in VIDEO_SUFFIXES:
            loose.append(path)
            continue
        if loose:
            sources.append(Source('images', tuple(loose)))
            loose = []
        if path.is_dir():
            images = tuple(sorted(p for p in path.iterdir()
                                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
            if not images:
                raise InferError(f'folder {path} holds no images ({", ".join(IMAGE_SUFFIXES)})')
            sources.append(Source('images', images))
        elif path.is_file():
            sources.append(Source('video', (path,)))
        else:
            raise InferError(f'input {path} does not exist; give image files, folders of images '
                             'or video files')
    if loose:
        sources.append(Source('images', tuple(loose)))
    _check_unique_names(sources)
    return sources


def _check_unique_names(sources: list[Source]) -> None:
    """Refuse inputs whose outputs would overwrite each other (same stem in two places)."""
    seen: dict[str, Path] = {}
    for source in sources:
        for path in source.paths:
            key = f'{path.stem}_<index>' if source.kind == 'video' else path.stem
            if key in seen and seen[key] != path:
                raise InferError(f'{seen[key]} and {path} would write the same output files '
                                 f'({path.stem}_*); rename one or run them into different --out '
                                 'folders')
            seen[key] = path


def read_image(path: Path) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB (grey is expanded, 16 bits reduced)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InferError(f'cannot read image {path}: it is empty, corrupt or not an image '
                         f'(videos need one of the suffixes {", ".join(VIDEO_SUFFIXES)})')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def iter_frames(sources: Sequence[Source], every: int = 1,
                max_frames: int | None = None) -> Iterator[Frame]:
    """
    Iterate over ``sources``: every ``every``-th frame of each one, ``max_frames`` in all.

    ``every`` keeps the frames 0, N, 2N, ... of each sequence. A video frame is named after the
    video's stem and its index among all the video's frames, skipped ones included. Stamps are
    the video's time (from its frame rate, 30 fps if unknown), or the image's position.
    """
    if every < 1:
        raise InferError(f'--every must be at least 1, got {every}')
    if max_frames is not None and max_frames < 1:
        raise InferError(f'--max-frames must be at least 1, got {max_frames}')
    return _frames(sources, every, max_frames)


def _frames(sources: Sequence[Source], every: int, max_frames: int | None) -> Iterator[Frame]:
    produced = 0
    for source in sources:
        if max_frames is not None and produced >= max_frames:
            return
        frames = (_video_frames(source.paths[0], every) if source.kind == 'video'
                  else _image_frames(source.paths, every))
        try:
            for frame in frames:
                yield frame
                produced += 1
                if max_frames is not None and produced >= max_frames:
                    return
        finally:
            frames.close()


def _image_frames(paths: Sequence[Path], every: int) -> Iterator[Frame]:
    for index in range(0, len(paths), every):
        yield Frame(paths[index].stem, read_image(paths[index]), float(index))


def _video_frames(path: Path, every: int) -> Iterator[Frame]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise InferError(f'cannot open video {path}: it is corrupt, or no OpenCV backend reads '
                         'its codec; convert it (e.g. ffmpeg -i in out.avi) or extract images')
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if math.isfinite(fps) and fps > 0 else 30.0
    try:
        index = 0
        while True:
            if index % every:
                # grab() skips a frame without converting it to pixels.
                if not capture.grab():
                    break
            else:
                ok, bgr = capture.read()
                if not ok:
                    break
                yield Frame(f'{path.stem}_{index:06d}', cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
                            index / fps)
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise InferError(f'video {path} has no frame OpenCV can decode; convert it or extract '
                         'images')


def frame_intrinsics(base: Intrinsics | None, fov_deg: float | None, width: int,
                     height: int) -> Intrinsics | None:
    """
    Return the intrinsics of a ``width`` x ``height`` frame.

    From ``base`` (a camera_info) scaled to the frame when its size differs but its aspect ratio
    agrees, else from the horizontal field of view; None when neither is given.
    """
    if base is not None:
        if (base.width, base.height) == (width, height):
            return base
        if abs(base.width * height / (base.height * width) - 1.0) > _ASPECT_TOLERANCE:
            raise InferError(f'the camera info is {base.width}x{base.height} but the frame is '
                             f'{width}x{height}, another aspect ratio; give the camera info of '
                             'the camera that took these frames, or --fov')
        return base.scaled(width, height)
    if fov_deg is not None:
        return intrinsics_from_fov(width, height, fov_deg)
    return None


def read_camera_info(path: Path) -> Intrinsics:
    """Read the intrinsics of a camera_calibration YAML or a CameraInfo JSON file."""
    path = Path(path)
    if not path.is_file():
        raise InferError(f'camera info file {path} does not exist; give a camera_calibration '
                         'YAML or CameraInfo JSON file, or --fov DEG instead')
    try:
        intrinsics = intrinsics_from_mapping(read_camera_file(path), source=path)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
        raise InferError(f'cannot read camera info {path}: {error}; expected a '
                         'camera_calibration YAML or a CameraInfo JSON file') from error
    values = (intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy)
    if not all(math.isfinite(v) for v in values) or intrinsics.fx <= 0 or intrinsics.fy <= 0 \
            or intrinsics.width <= 0 or intrinsics.height <= 0:
        raise InferError(f'camera info {path} gives {intrinsics}: the size and focal lengths must '
                         'be positive and every value finite')
    return intrinsics


def write_outputs(out_dir: Path, frame: Frame, result: DepthResult, classes: Sequence[str],
                  npy: bool = False, ply: bool = False) -> list[Path]:
    """
    Write the files of one frame (see the module docstring); return their paths.

    Metric files are written when ``result.depth`` is known, the ``_relative`` files otherwise.
    ``ply`` needs ``result.intrinsics`` and a depth of the frame's size (``output_size='input'``).
    """
    stem = out_dir / frame.name
    written: list[Path] = []
    if result.depth is not None:
        _write_image(written, stem, '_depth.png', metres_to_depth_values(result.depth, '16UC1'))
        if npy:
            _write_npy(written, stem, '_depth.npy', result.depth)
        _write_image(written, stem, '_depth_color.png', _bgr(colorize_depth(result.depth)))
    else:
        _write_npy(written, stem, '_relative.npy', result.unscaled_depth)
        _write_image(written, stem, '_relative_color.png',
                     _bgr(colorize_depth(result.unscaled_depth)))
    if result.labels is not None:
        _write_image(written, stem, '_labels.png', result.labels.astype(np.uint8))
        _write_image(written, stem, '_labels_color.png',
                     _bgr(colorize_labels(result.labels, len(classes))))
    if ply and result.depth is not None:
        if result.intrinsics is None:
            raise InferError('--ply needs the camera intrinsics: give --camera-info or --fov')
        if result.depth.shape != frame.rgb.shape[:2]:
            raise InferError(f'--ply colours the points with the frame, but the depth is '
                             f'{result.depth.shape[1]}x{result.depth.shape[0]} and the frame '
                             f'{frame.rgb.shape[1]}x{frame.rgb.shape[0]}')
        path = stem.with_name(stem.name + '.ply')
        write_ply(path, depth_to_points(result.depth, result.intrinsics), frame.rgb)
        written.append(path)
    return written


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _write_image(written: list[Path], stem: Path, suffix: str, pixels: np.ndarray) -> None:
    path = stem.with_name(stem.name + suffix)
    if not cv2.imwrite(str(path), pixels):
        raise InferError(f'cannot write {path}; check that the --out folder is writable')
    written.append(path)


def _write_npy(written: list[Path], stem: Path, suffix: str, array: np.ndarray) -> None:
    path = stem.with_name(stem.name + suffix)
    np.save(path, np.asarray(array, dtype=np.float32))
    written.append(path)


def describe(frame: Frame, result: DepthResult) -> str:
    """Return the one-line summary of a processed frame."""
    height, width = frame.rgb.shape[:2]
    total_ms = sum(result.timings_ms.values())
    if result.depth is None:
        content = f'relative depth only ({result.scale_status})'
    else:
        valid = np.isfinite(result.depth)
        if valid.any():
            low, high = np.nanmin(result.depth), np.nanmax(result.depth)
            content = f'depth {low:.2f}..{high:.2f} m, {100.0 * valid.mean():.1f}% valid'
        else:
            content = 'no valid depth'
    return (f'{frame.name}: {width}x{height}, {content}, inference '
            f'{result.timings_ms.get("inference", 0.0):.1f} ms, total {total_ms:.1f} ms')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``mono-depth infer`` arguments."""
    from mono_depth_ros.models.registry import DEFAULT_MODEL, SCENES

    from mono_depth_ros.bags import cli as bags_cli
    from mono_depth_ros.estimator import BACKENDS, OUTPUT_SIZES

    parser.add_argument('inputs', nargs='+', metavar='INPUT',
                        help='image files, folders of images, video files, or bags')
    parser.add_argument('--out', required=True, type=Path,
                        help='output folder (created); for one bag, the output bag')
    parser.add_argument('--model', default=DEFAULT_MODEL,
                        help=f'zoo variant, see mono-depth models (default {DEFAULT_MODEL}: a '
                             'real pretrained model for the device and --scene, as the node)')
    parser.add_argument('--scene', choices=SCENES, default='indoor',
                        help='what the frames show, for --model auto (default indoor)')
    parser.add_argument('--input-size', type=int,
                        help='network input short side for models that keep the aspect ratio '
                             '(Depth Anything V2: a multiple of 14, default 518)')
    parser.add_argument('--weights', default='auto',
                        help="'auto' (the official or shipped weights), a file or folder, an "
                             "https URL, or 'none' for random initialisation")
    parser.add_argument('--device', default='auto', help="'auto', 'cpu', 'cuda', 'cuda:1'...")
    parser.add_argument('--precision', default='fp32', help="'fp32', 'fp16' or 'bf16'")
    parser.add_argument('--backend', default='torch', choices=BACKENDS,
                        help='runtime: PyTorch, ONNX Runtime (exported once into the cache '
                             'unless --model-file) or a TensorRT engine (--model-file)')
    parser.add_argument('--model-file', metavar='FILE',
                        help='ONNX file or TensorRT engine written by mono-depth export')
    parser.add_argument('--channels-last', action=argparse.BooleanOptionalAction,
                        help='PyTorch channels-last memory layout (default: on for bags, as in '
                             'the node; off for images and videos)')
    parser.add_argument('--output-size', choices=OUTPUT_SIZES, default='input',
                        help="depth at the frame's resolution, or at the network's")
    camera = parser.add_mutually_exclusive_group()
    camera.add_argument('--camera-info', type=Path, metavar='FILE',
                        help='camera_calibration YAML or CameraInfo JSON of the frames')
    camera.add_argument('--fov', type=float, metavar='DEG',
                        help='horizontal field of view of the frames, square pixels centred')
    parser.add_argument('--scale-policy', choices=SCALE_POLICIES,
                        help="turn a relative model's output into metres: fixed (--scale, "
                             '--shift) or ground_plane (--camera-height, --camera-pitch)')
    parser.add_argument('--scale', type=float, default=1.0,
                        help='fixed: metres = scale * relative depth (or 1 / (scale * pred + '
                             'shift) for inverse depth models)')
    parser.add_argument('--shift', type=float, default=0.0,
                        help='fixed: inverse depth shift (inverse_relative models only)')
    parser.add_argument('--camera-height', type=float, metavar='M',
                        help='ground_plane: height of the camera above flat ground, metres')
    parser.add_argument('--camera-pitch', type=float, default=0.0, metavar='DEG',
                        help='ground_plane: downward pitch of the camera, degrees')
    parser.add_argument('--npy', action='store_true',
                        help='also write <name>_depth.npy, float32 metres with NaN = invalid')
    parser.add_argument('--ply', action='store_true',
                        help='also write <name>.ply, the coloured points (needs --camera-info or '
                             '--fov)')
    parser.add_argument('--every', type=int, default=1, metavar='N',
                        help='process every N-th frame of each video, image sequence or bag')
    parser.add_argument('--max-frames', type=int, metavar='N',
                        help='stop after N frames in all')
    bags_cli.add_arguments(parser)


def _scale_policy(args: argparse.Namespace, output_kind: str):
    from mono_depth_ros import scale

    if args.scale_policy == 'fixed':
        return scale.make_policy('fixed', scale=args.scale, shift=args.shift)
    if args.scale_policy == 'ground_plane':
        if args.camera_height is None:
            raise InferError('--scale-policy ground_plane needs --camera-height (metres)')
        if args.camera_info is None and args.fov is None:
            raise InferError('--scale-policy ground_plane needs the intrinsics: give '
                             '--camera-info or --fov')
        return scale.make_policy('ground_plane', height=args.camera_height,
                                 pitch=math.radians(args.camera_pitch))
    if output_kind == 'metric':
        return None
    # Without a policy only the unscaled depth is written; the unit scale merely lets the
    # estimator accept a relative model, its metric output is not used.
    return scale.make_policy('fixed')


def main(args: argparse.Namespace) -> int:
    """Run ``mono-depth infer``; print a line per frame and a summary; return the exit status."""
    from mono_depth_ros.bags import cli as bags_cli
    from mono_depth_ros.bags.fleet import find_bags
    from mono_depth_ros.bags.reader import BagError
    from mono_depth_ros.bags.writer import OutputError
    from mono_depth_ros.estimator import DepthEstimator
    from mono_depth_ros.models.registry import DEFAULT_MODEL, get_spec, resolve_auto
    from mono_depth_ros.weights import CheckpointError

    count, inference_ms, started = 0, 0.0, time.perf_counter()
    try:
        if args.model == DEFAULT_MODEL:
            device, choice = resolve_auto(args.device, args.scene)
            args.model, args.input_size = choice.model, args.input_size or choice.input_size
            print(f'model auto on {device}, scene {args.scene}: {choice.model}'
                  + (f', input size {args.input_size}' if args.input_size else ''),
                  file=sys.stderr)
        bag_inputs = [item for item in args.inputs if find_bags([item])]
        if bag_inputs and len(bag_inputs) < len(args.inputs):
            raise InferError('give bags, or images and videos, not both in one command: '
                             f'{", ".join(map(str, bag_inputs))} hold bags')
        if bag_inputs:
            return bags_cli.main(args, find_bags(args.inputs))
        if args.ray is not None:
            raise InferError('--ray processes bags; none of the inputs is a bag or a folder of '
                             'bags')
        spec = get_spec(args.model)
        frames = iter_frames(collect_sources(args.inputs), args.every, args.max_frames)
        base = read_camera_info(args.camera_info) if args.camera_info else None
        if args.fov is not None and not 0.0 < args.fov < 180.0:
            raise InferError(f'--fov must be in (0, 180) degrees, got {args.fov}')
        metric = spec.output_kind == 'metric' or args.scale_policy is not None
        if args.ply and base is None and args.fov is None:
            raise InferError('--ply needs the camera intrinsics: give --camera-info FILE or '
                             '--fov DEG')
        if args.ply and not metric:
            raise InferError(f'--ply needs metric depth, but {spec.name} predicts '
                             f'{spec.output_kind} depth known only up to scale; add '
                             '--scale-policy fixed --scale S (or ground_plane)')
        policy = _scale_policy(args, spec.output_kind)
        if args.out.exists() and not args.out.is_dir():
            raise InferError(f'--out {args.out} is a file; give a folder')
        weights = None if args.weights == 'none' else args.weights
        estimator = DepthEstimator.from_name(
            spec.name, weights=weights, device=args.device, precision=args.precision,
            scale_policy=policy, backend=args.backend, model_file=args.model_file,
            output_size=args.output_size, input_size=args.input_size,
            **({'channels_last': bool(args.channels_last)} if args.backend == 'torch' else {}))
        args.out.mkdir(parents=True, exist_ok=True)
        if not metric:
            print(f'{spec.name} predicts {spec.output_kind} depth, known only up to scale: '
                  'writing <name>_relative.npy and <name>_relative_color.png only. Metric '
                  'outputs (depth PNG, --npy, --ply) need a scale policy: --scale-policy fixed '
                  '--scale S, or ground_plane --camera-height M')
        started = time.perf_counter()
        for frame in frames:
            height, width = frame.rgb.shape[:2]
            intrinsics = frame_intrinsics(base, args.fov, width, height)
            result = estimator.estimate(frame.rgb, intrinsics, frame.stamp)
            if not metric:
                result = replace(result, depth=None, scale_status='no scale policy')
            write_outputs(args.out, frame, result, spec.classes, npy=args.npy, ply=args.ply)
            count += 1
            inference_ms += result.timings_ms.get('inference', 0.0)
            print(describe(frame, result), flush=True)
    # ValueError covers InferError, BagOptionError and the estimator's device, precision and
    # scale errors.
    except (KeyError, ValueError, OSError, CheckpointError, BagError, OutputError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f'mono-depth infer: error: {message}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('mono-depth infer: interrupted', file=sys.stderr)
        print(summary(count, inference_ms, time.perf_counter() - started, args.out))
        return 130
    print(summary(count, inference_ms, time.perf_counter() - started, args.out))
    return 0


def summary(frames: int, inference_ms: float, seconds: float, out_dir: Path) -> str:
    """Return the closing line: frames, mean inference time, inference and end-to-end FPS."""
    counted = f'{frames} frame{"" if frames == 1 else "s"} written to {out_dir}'
    if frames == 0:
        return counted
    mean = inference_ms / frames
    network_fps = 1e3 / mean if mean > 0 else math.inf
    overall_fps = frames / seconds if seconds > 0 else math.inf
    return (f'{counted}: mean inference {mean:.1f} ms '
            f'({network_fps:.1f} FPS), {overall_fps:.1f} FPS with reading and writing files')
