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
``mono-depth bench``: latency, FPS, FLOPs, size and memory of a model, per runtime variant.

Every variant (fp32 eager, channels_last, bf16, fp16, torch.compile, ONNX Runtime, TensorRT) is
timed twice: the network forward alone, on an input already resized and normalised, and the whole
:meth:`~mono_depth_ros.estimator.DepthEstimator.estimate` (resize, normalise, inference, resize
back, conversion to metres) on a synthetic camera frame. Figures are reported as ratios against a
baseline measured in the same run (fp32 eager; the first model with ``--compare-models``), since
absolute times only mean something on the machine and load they were taken under.

Variants this machine cannot run (fp16 without CUDA, TensorRT without tensorrt) are listed as
skipped with the reason. Latency does not depend on weight values, so ``--weights none`` (the
default for PyTorch models) times randomly initialised networks.
"""
from __future__ import annotations

import argparse
import copy
import ctypes
from dataclasses import dataclass, replace
import json
import os
from pathlib import Path
import re
import resource
import shutil
import sys
import tempfile
import time
from typing import Callable

from mono_depth_ros import bench_node, network_io
from mono_depth_ros.cli import parse_size
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.spec import InputPolicy, ModelSpec
from mono_depth_ros.weights import CheckpointError
import numpy as np
import torch


@dataclass(frozen=True)
class Variant:
    """One way of running a model: ``runtime`` torch, onnx, tensorrt or tflite."""

    name: str
    runtime: str
    precision: str = 'fp32'
    channels_last: bool = False
    torch_compile: bool = False


VARIANTS = {v.name: v for v in (
    Variant('fp32', 'torch'),
    Variant('fp32-channels_last', 'torch', channels_last=True),
    Variant('bf16', 'torch', 'bf16'),
    Variant('bf16-channels_last', 'torch', 'bf16', channels_last=True),
    Variant('fp16', 'torch', 'fp16'),
    Variant('fp16-channels_last', 'torch', 'fp16', channels_last=True),
    Variant('compile', 'torch', torch_compile=True),
    Variant('onnx', 'onnx'),
    Variant('onnx-fp16', 'onnx', 'fp16'),
    Variant('tensorrt', 'tensorrt'),
    Variant('tensorrt-fp16', 'tensorrt', 'fp16'),
    Variant('tflite', 'tflite', 'int8'),
)}
BASELINE = 'fp32'
WARMUP, ITERS = 10, 50
GRID_WARMUP, GRID_ITERS = 1, 3  # a grid builds and times nine 50-120 M-parameter networks
DEFAULT_VARIANTS = 'fp32,fp32-channels_last,bf16,fp16,onnx,tensorrt'
RANDOM_WEIGHTS_NOTE = ('random weights (--weights none): latency does not depend on weight '
                       'values, so the timings hold for trained weights too')
MB = 1e6


def with_input_size(spec: ModelSpec, text: str) -> ModelSpec:
    """
    Return ``spec`` with another network input: ``WxH`` (fixed) or ``N`` (short side N).

    Sides are still rounded up to the network's stride.
    """
    multiple = spec.input_policy.multiple
    if text.isdigit():
        policy = InputPolicy(short_side=int(text), multiple=multiple)
    else:
        height, width = parse_size(text)
        policy = InputPolicy(height=height, width=width, multiple=multiple)
    return replace(spec, input_policy=policy)


def count_flops(module: torch.nn.Module, size: tuple[int, int]) -> int:
    """
    Return the FLOPs of one forward of ``module`` on a ``(1, 3, *size)`` input.

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode`: 2 FLOPs per multiply-add of
    convolutions, matrix products and attention; element-wise operations are not counted.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module(torch.zeros(1, 3, *size))
    return int(counter.get_total_flops())


def module_megabytes(module: torch.nn.Module, bytes_per_value: int) -> float:
    """Return the size in MB (1e6 bytes) of the parameters and float buffers at a precision."""
    values = sum(p.numel() for p in module.parameters())
    values += sum(b.numel() for b in module.buffers() if b.is_floating_point())
    return values * bytes_per_value / MB


def path_megabytes(path: Path) -> float:
    """Return the size in MB of a file, or of every file under a folder."""
    files = [path] if path.is_file() else [p for p in path.rglob('*') if p.is_file()]
    return sum(p.stat().st_size for p in files) / MB


def latency_stats(times_ms: list[float]) -> dict[str, float]:
    """Return mean, p50 and p95 (ms) and the FPS of the mean."""
    values = np.asarray(times_ms, dtype=np.float64)
    mean = float(values.mean())
    return {'mean_ms': mean, 'p50_ms': float(np.percentile(values, 50)),
            'p95_ms': float(np.percentile(values, 95)), 'fps': 1e3 / mean}


def time_calls(fn: Callable[[], object], warmup: int, iters: int,
               sync: Callable[[], None] | None = None) -> list[float]:
    """Call ``fn`` ``warmup`` times, then return the ms of each of ``iters`` timed calls."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append((time.perf_counter() - start) * 1e3)
    return times


class PeakMemory:
    """
    Peak memory of a stretch of work, in MB.

    CUDA: ``torch.cuda.max_memory_allocated`` since the start (PyTorch's allocator only; ONNX
    Runtime and TensorRT allocate outside it). CPU: the peak resident set size above the one at
    the start, from ``/proc/self/status`` after returning freed heap to the OS and resetting the
    kernel's high-water mark; where that cannot be reset, the growth of the process's lifetime
    peak (``ru_maxrss``), which misses peaks below an earlier one.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __enter__(self) -> PeakMemory:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self.method = 'cuda max_memory_allocated'
            return self
        _release_free_heap()
        try:
            Path('/proc/self/clear_refs').write_text('5')
            self.start = _proc_status_kb('VmRSS')
            self.method = 'peak RSS over start (VmHWM)'
        except OSError:
            self.start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.method = 'growth of ru_maxrss'
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.megabytes = torch.cuda.max_memory_allocated(self.device) / MB
        elif self.method.startswith('peak RSS'):
            self.megabytes = max(0, _proc_status_kb('VmHWM') - self.start) * 1024 / MB
        else:
            self.megabytes = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                              - self.start) * 1024 / MB


def _release_free_heap() -> None:
    """Give freed heap pages back to the OS (glibc), so that reuse does not hide new peaks."""
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _proc_status_kb(field: str) -> int:
    text = Path('/proc/self/status').read_text()
    return int(re.search(rf'^{field}:\s+(\d+) kB', text, re.MULTILINE).group(1))


def skip_reason(variant: Variant, spec: ModelSpec, device: torch.device) -> str | None:
    """Return why ``variant`` cannot run here, or None when it can."""
    if spec.backend == 'tflite':
        if variant.runtime != 'tflite':
            return (f'{spec.name} runs from a TFLite file and has no PyTorch graph; only the '
                    "'tflite' variant applies")
        return None
    if variant.runtime == 'tflite':
        return f'{spec.name} is a PyTorch model; it has no TFLite file'
    if variant.runtime == 'torch':
        if variant.precision == 'fp16' and device.type != 'cuda':
            return 'fp16 needs a CUDA device (PyTorch has no fast fp16 on the CPU); try bf16'
        if variant.precision == 'bf16' and device.type == 'cuda' \
                and not torch.cuda.is_bf16_supported():
            return 'this GPU has no bf16 support'
        if variant.torch_compile and device.type == 'cpu' \
                and shutil.which(os.environ.get('CXX', 'g++')) is None:
            return 'torch.compile on the CPU needs a C++ compiler (g++ or $CXX)'
        return None
    if variant.runtime == 'onnx':
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError:
            return 'onnx and onnxruntime are not installed (pip install mono_depth_ros[onnx])'
        return None
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return ('TensorRT is not installed (JetPack on a Jetson, pip install tensorrt on x86 '
                'with CUDA)')
    if device.type != 'cuda':
        return 'TensorRT needs a CUDA device'
    return None


@dataclass
class _Setup:
    """What every variant of one model shares."""

    spec: ModelSpec
    module: torch.nn.Module | None
    weights_path: Path | None
    device: torch.device
    frame: np.ndarray
    network_input: np.ndarray
    threads: int | None
    workdir: Path


def _torch_forward(backend, network_input: np.ndarray) -> Callable[[], object]:
    from mono_depth_ros.backends.torch_backend import PRECISIONS

    x = torch.from_numpy(network_input).to(backend.torch_device)
    x = x.contiguous(memory_format=backend.memory_format)
    dtype = PRECISIONS[backend.precision]

    def forward():
        with torch.inference_mode(), torch.autocast(backend.torch_device.type, dtype=dtype,
                                                    enabled=backend.precision != 'fp32'):
            return backend.module(x)
    return forward


def _prepare(variant: Variant, setup: _Setup) -> Path | None:
    """Write the file a variant runs from (ONNX, engine), outside the timed and measured part."""
    if variant.runtime not in ('onnx', 'tensorrt'):
        return None
    from mono_depth_ros import export

    size = tuple(setup.network_input.shape[2:])
    fp16_graph = variant.runtime == 'onnx' and variant.precision == 'fp16'
    onnx_path = setup.workdir / f'{variant.name}.onnx'
    export.export_onnx(setup.module, setup.spec, size, onnx_path, fp16=fp16_graph)
    if variant.runtime == 'onnx':
        return onnx_path
    return export.build_tensorrt_engine(onnx_path, setup.workdir / f'{variant.name}.engine',
                                        fp16=variant.precision == 'fp16')


def _load(variant: Variant, setup: _Setup, artifact: Path | None):
    """Return the variant's backend and a closure running its network forward alone."""
    spec, device = setup.spec, setup.device
    if variant.runtime == 'torch':
        from mono_depth_ros.backends.torch_backend import TorchBackend

        backend = TorchBackend(copy.deepcopy(setup.module), spec, device=str(device),
                               precision=variant.precision,
                               channels_last=variant.channels_last,
                               torch_compile=variant.torch_compile)
        return backend, _torch_forward(backend, setup.network_input)
    if variant.runtime == 'onnx':
        from mono_depth_ros.backends.onnx_backend import OnnxBackend

        providers = ['CPUExecutionProvider']
        if device.type == 'cuda':
            providers.insert(0, 'CUDAExecutionProvider')
        backend = OnnxBackend(artifact, spec, providers=providers, threads=setup.threads)
        return backend, lambda: backend.run(setup.network_input)
    if variant.runtime == 'tensorrt':
        from mono_depth_ros.backends.tensorrt_backend import TensorRTBackend

        backend = TensorRTBackend(artifact, spec, device=str(device),
                                  precision=variant.precision)
        x = torch.from_numpy(setup.network_input).to(device)
        return backend, lambda: backend.run(x)
    from mono_depth_ros.backends.tflite import TFLiteBackend

    backend = TFLiteBackend(setup.weights_path, spec, num_threads=setup.threads)
    return backend, lambda: backend.infer(setup.network_input)


def run_variant(variant: Variant, setup: _Setup, warmup: int, iters: int) -> dict:
    """Measure one variant: first call, forward and estimate latency, peak memory."""
    from mono_depth_ros import scale

    sync = (lambda: torch.cuda.synchronize(setup.device)) if setup.device.type == 'cuda' \
        else None
    result = {'variant': variant.name, 'runtime': variant.runtime,
              'precision': variant.precision, 'status': 'ok'}
    artifact = _prepare(variant, setup)
    if artifact is not None:
        result['file_mb'] = path_megabytes(artifact)
    with PeakMemory(setup.device) as memory:
        backend, forward = _load(variant, setup, artifact)
        start = time.perf_counter()
        forward()
        if sync:
            sync()
        result['first_call_ms'] = (time.perf_counter() - start) * 1e3
        result['forward'] = latency_stats(time_calls(forward, warmup, iters, sync))
        # Relative models go through a fixed scale, so the conversion to metres is timed too.
        policy = scale.make_policy('none' if setup.spec.output_kind == 'metric' else 'fixed')
        estimator = DepthEstimator(setup.spec, backend, policy)
        result['estimate'] = latency_stats(
            time_calls(lambda: estimator.estimate(setup.frame), warmup, iters, sync))
    result['device'] = getattr(backend, 'provider', backend.device)
    result['peak_memory_mb'] = memory.megabytes
    result['memory_method'] = memory.method
    return result


def _speedups(rows: list[dict], baseline: dict | None) -> None:
    for row in rows:
        if row['status'] != 'ok' or baseline is None:
            continue
        for part in ('forward', 'estimate'):
            row[f'speedup_{part}'] = baseline[part]['p50_ms'] / row[part]['p50_ms']


def _setup(model: str, weights: str | None, frame_size: tuple[int, int], device: str,
           threads: int | None, input_size: str | None, workdir: Path) -> tuple[_Setup, dict]:
    from mono_depth_ros.backends.torch_backend import resolve_device
    from mono_depth_ros.data.synthetic import SyntheticScenes
    from mono_depth_ros.models.registry import create_model, get_spec
    from mono_depth_ros.weights import resolve_weights

    spec = get_spec(model)
    if weights is None:
        weights = 'auto' if spec.builder is None else 'none'
    if spec.builder is None and weights == 'none':
        raise ValueError(f'model {model!r} runs from its {spec.backend} file: give --weights '
                         "FILE (or 'auto' for its cached official file)")
    if input_size is not None:
        if spec.builder is None:
            raise ValueError(f'the {spec.backend} file of {model!r} fixes its input size; '
                             'drop --input-size')
        spec = with_input_size(spec, input_size)
    weights_path = None if weights == 'none' else resolve_weights(spec, weights)
    module = None
    if spec.builder is not None:
        module = create_model(model, None if weights_path is None else str(weights_path))
    height, width = frame_size
    frame = SyntheticScenes(seed=0, count=1, width=width, height=height)[0].rgb
    net_height, net_width = spec.input_policy.network_size(height, width)
    network_input = network_io.network_input(frame, spec, (net_height, net_width))
    info = {
        'model': spec.name,
        'frame_size': f'{width}x{height}',
        'network_size': f'{net_width}x{net_height}',
        'weights': RANDOM_WEIGHTS_NOTE if weights_path is None else str(weights_path),
        'weights_file_mb': None if weights_path is None else path_megabytes(weights_path),
        'params': None, 'gflops': None, 'model_mb_fp32': None, 'model_mb_fp16': None,
    }
    if module is not None:
        info['params'] = sum(p.numel() for p in module.parameters())
        info['gflops'] = count_flops(module, (net_height, net_width)) / 1e9
        info['model_mb_fp32'] = module_megabytes(module, 4)
        info['model_mb_fp16'] = module_megabytes(module, 2)
    setup = _Setup(spec, module, weights_path, resolve_device(device), frame, network_input,
                   threads, workdir)
    return setup, info


def _environment(setup: _Setup, warmup: int, iters: int) -> dict:
    try:
        import onnxruntime
        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = None
    device = setup.device
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else _cpu_name()
    return {'device': str(device), 'device_name': name, 'torch': torch.__version__,
            'onnxruntime': ort_version, 'threads': torch.get_num_threads(),
            'warmup': warmup, 'iters': iters, 'load_average': list(os.getloadavg())}


def _cpu_name() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return 'cpu'


def _measure(variant: Variant, setup: _Setup, warmup: int, iters: int) -> dict:
    reason = skip_reason(variant, setup.spec, setup.device)
    if reason is not None:
        return {'variant': variant.name, 'status': 'skipped', 'reason': reason}
    try:
        return run_variant(variant, setup, warmup, iters)
    except Exception as error:  # one failing runtime must not hide the other figures
        return {'variant': variant.name, 'status': 'failed',
                'reason': f'{type(error).__name__}: {error}'}


def benchmark(model: str, weights: str | None = None, frame_size: tuple[int, int] = (480, 640),
              device: str = 'auto', variants: list[str] | None = None, warmup: int = 10,
              iters: int = 50, threads: int | None = None,
              input_size: str | None = None) -> dict:
    """
    Benchmark the variants of one model; the baseline (fp32 eager, or the TFLite file) first.

    ``frame_size`` is the camera frame's (height, width); ``weights`` ``None`` means random
    weights for PyTorch models and the official file for file-based ones. ``input_size``
    overrides the network input (``WxH``, or ``N`` for the short side). Returns a dict with the
    model's size figures, the environment, and one row per variant (``status`` ok, skipped or
    failed, with latency stats and ``speedup_forward``/``speedup_estimate`` against the
    baseline's p50).
    """
    names = (variants or DEFAULT_VARIANTS.split(','))
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        raise ValueError(f'unknown variant(s) {", ".join(unknown)}; allowed: '
                         f'{", ".join(VARIANTS)}')
    if threads is not None:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix='mono-depth-bench-') as workdir:
        setup, info = _setup(model, weights, frame_size, device, threads, input_size,
                             Path(workdir))
        baseline_name = 'tflite' if setup.spec.builder is None else BASELINE
        names = [baseline_name] + [name for name in names if name != baseline_name]
        rows = [_measure(VARIANTS[name], setup, warmup, iters) for name in names]
    baseline = rows[0] if rows[0]['status'] == 'ok' else None
    _speedups(rows, baseline)
    return {'mode': 'variants', **info, 'baseline': baseline_name,
            'environment': _environment(setup, warmup, iters), 'variants': rows}


def compare_models(entries: list[str], weights: str | None = None,
                   frame_size: tuple[int, int] = (480, 640), device: str = 'auto',
                   warmup: int = 10, iters: int = 50, threads: int | None = None) -> dict:
    """
    Benchmark several models (``name`` or ``name=weights``) at their own input policy.

    Each runs its baseline variant (fp32 eager, or its TFLite file); the speedups are against the
    first model.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    rows = []
    for entry in entries:
        model, _, own_weights = entry.partition('=')
        with tempfile.TemporaryDirectory(prefix='mono-depth-bench-') as workdir:
            setup, info = _setup(model, own_weights or weights, frame_size, device, threads,
                                 None, Path(workdir))
            name = 'tflite' if setup.spec.builder is None else BASELINE
            rows.append({**info, **_measure(VARIANTS[name], setup, warmup, iters)})
    baseline = rows[0] if rows[0]['status'] == 'ok' else None
    _speedups(rows, baseline)
    return {'mode': 'compare', 'baseline': rows[0]['model'],
            'environment': _environment(setup, warmup, iters), 'models': rows}


def _filter_steps(depth: np.ndarray, rgb: np.ndarray) -> dict[str, Callable[[], object]]:
    """Return the per-frame work of each depth post-filter output on one depth map."""
    from mono_depth_ros import compressed_depth, filters
    from mono_depth_ros.geometry import intrinsics_from_fov
    from mono_depth_ros.ros_io import metres_to_depth_values
    from mono_depth_ros.scan import depth_to_scan

    height, width = depth.shape
    intrinsics = intrinsics_from_fov(width, height, 65.0)
    edge = filters.EdgeFilter()
    cleaned = np.empty_like(depth)
    rated = np.empty_like(depth)
    temporal = filters.TemporalFilter()
    temporal.update(depth, rgb)
    metres = metres_to_depth_values(depth, '32FC1')
    millimetres = metres_to_depth_values(depth, '16UC1')

    def confidence():
        return filters.confidence(depth, span=edge.span(depth), out=rated)

    return {
        'edge filter: mask': lambda: edge.mask(depth),
        'edge filter: cleaned cloud depth': lambda: edge.apply(depth, out=cleaned),
        'confidence (window span)': confidence,
        'temporal filter (ema)': lambda: temporal.update(depth, rgb),
        'compressedDepth 32FC1 png_level 1': lambda: compressed_depth.encode(
            metres, '32FC1', png_level=1),
        'compressedDepth 32FC1 png_level 3': lambda: compressed_depth.encode(
            metres, '32FC1', png_level=3),
        'compressedDepth 16UC1 png_level 3': lambda: compressed_depth.encode(
            millimetres, '16UC1', png_level=3),
        'scan (1 row)': lambda: depth_to_scan(depth, intrinsics, 1),
        'scan (10 rows)': lambda: depth_to_scan(depth, intrinsics, 10),
    }


def filter_costs(model: str, weights: str | None = None,
                 frame_size: tuple[int, int] = (480, 640), warmup: int = 10, iters: int = 50,
                 threads: int | None = None) -> dict:
    """
    Time each depth post-filter on the model's depth of a frame, against its forward.

    The network forward (baseline variant: fp32 eager, or the TFLite file) is timed before and
    after the filters and the mean of the two p50s is the reference, so that a change of load
    during the run shows as a difference between the two.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix='mono-depth-bench-') as workdir:
        setup, info = _setup(model, weights, frame_size, 'cpu', threads, None, Path(workdir))
        variant = VARIANTS['tflite' if setup.spec.builder is None else BASELINE]
        backend, forward = _load(variant, setup, _prepare(variant, setup))
        before = latency_stats(time_calls(forward, warmup, iters))
        from mono_depth_ros import scale

        policy = scale.make_policy('none' if setup.spec.output_kind == 'metric' else 'fixed')
        depth = DepthEstimator(setup.spec, backend, policy).estimate(setup.frame).depth
        steps = [{'step': name, **latency_stats(time_calls(step, warmup, iters))}
                 for name, step in _filter_steps(depth, setup.frame).items()]
        after = latency_stats(time_calls(forward, warmup, iters))
    reference = (before['p50_ms'] + after['p50_ms']) / 2
    for row in steps:
        row['of_forward'] = row['p50_ms'] / reference
    return {'mode': 'filters', **info, 'baseline': variant.name,
            'environment': _environment(setup, warmup, iters),
            'forward_before': before, 'forward_after': after, 'steps': steps}


def format_filters(result: dict) -> str:
    """Return the table of :func:`filter_costs`."""
    before, after = result['forward_before'], result['forward_after']
    lines = [f'forward ({result["baseline"]}, network {result["network_size"]}) p50 '
             f'{before["p50_ms"]:.2f} ms before the filters, {after["p50_ms"]:.2f} ms after; '
             f'filters on its {result["frame_size"]} depth:', '',
             f'{"step":<36} {"p50 ms":>8} {"p95 ms":>8} {"of fwd":>7}']
    lines += [f'{row["step"]:<36} {row["p50_ms"]:8.3f} {row["p95_ms"]:8.3f} '
              f'{100 * row["of_forward"]:6.1f}%' for row in result['steps']]
    return '\n'.join(lines)


def format_rows(rows: list[dict], first: str) -> str:
    """Format result rows as a text table; ``first`` is ``'variant'`` or ``'model'``."""
    header = (f'{first:<28} {"fwd p50":>8} {"fwd p95":>8} {"fwd FPS":>8} {"est p50":>8} '
              f'{"est p95":>8} {"est FPS":>8} {"x fwd":>6} {"x est":>6} {"peak MB":>8}')
    lines = [header, '-' * len(header)]
    notes = []
    for row in rows:
        label = row[first]
        if row['status'] != 'ok':
            lines.append(f'{label:<28} {row["status"]}')
            notes.append(f'{label}: {row["reason"]}')
            continue
        fwd, est = row['forward'], row['estimate']
        lines.append(f'{label:<28} {fwd["p50_ms"]:8.2f} {fwd["p95_ms"]:8.2f} {fwd["fps"]:8.1f} '
                     f'{est["p50_ms"]:8.2f} {est["p95_ms"]:8.2f} {est["fps"]:8.1f} '
                     f'{row.get("speedup_forward", 0):6.2f} {row.get("speedup_estimate", 0):6.2f} '
                     f'{row["peak_memory_mb"]:8.1f}')
    return '\n'.join(lines + [''] + notes)


def format_report(result: dict) -> str:
    """Return the human-readable report of :func:`benchmark` or :func:`compare_models`."""
    env = result['environment']
    lines = [f'device {env["device"]} ({env["device_name"]}), torch {env["torch"]}, '
             f'onnxruntime {env["onnxruntime"]}, {env["threads"]} threads, warmup '
             f'{env["warmup"]}, {env["iters"]} iterations, load average '
             + ' '.join(f'{v:.2f}' for v in env['load_average']),
             'latency in ms; x = speedup: baseline p50 / p50; fwd = network forward alone, '
             'est = the whole estimate (resize, inference, postprocess)']
    if result['mode'] == 'filters':
        return '\n'.join(lines[:1] + [f'model {result["model"]}', format_filters(result)])
    if result['mode'] == 'compare':
        lines.append(f'baseline: {result["baseline"]}')
        lines.append('')
        for row in result['models']:
            lines.append(f'{row["model"]}: network {row["network_size"]} for a '
                         f'{row["frame_size"]} frame, {_params(row)}')
            weights = 'random' if row['weights_file_mb'] is None else row['weights']
            lines.append(f'  weights: {weights}')
        if any(row['weights_file_mb'] is None for row in result['models']):
            lines.append(f'random = {RANDOM_WEIGHTS_NOTE}')
        lines += ['', format_rows(result['models'], 'model')]
        return '\n'.join(lines)
    lines += [f'model {result["model"]}: network input {result["network_size"]} for a '
              f'{result["frame_size"]} frame, {_params(result)}',
              f'weights: {result["weights"]}', f'baseline: {result["baseline"]}', '',
              format_rows(result['variants'], 'variant')]
    return '\n'.join(lines)


def _params(info: dict) -> str:
    parts = []
    if info['params'] is not None:
        parts.append(f'{info["params"] / 1e6:.2f} M params, {info["gflops"]:.2f} GFLOPs, '
                     f'{info["model_mb_fp32"]:.1f} MB fp32 / {info["model_mb_fp16"]:.1f} MB fp16')
    if info['weights_file_mb'] is not None:
        parts.append(f'weights file {info["weights_file_mb"]:.2f} MB')
    return ', '.join(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``mono-depth bench``."""
    parser.add_argument('--model', help='zoo variant (see mono-depth models)')
    parser.add_argument('--compare-models', default=None,
                        help='comma-separated models (name or name=weights) to compare at their '
                             'own input policy; the first is the baseline')
    parser.add_argument('--weights', default=None,
                        help="'none' (random weights, the default for PyTorch models), 'auto', a "
                             "file, folder or URL; --node: the node's weights ('auto' unless "
                             'given)')
    parser.add_argument('--size', default='640x480', help='camera frame size WxH')
    parser.add_argument('--input-size', default=None,
                        help='override the network input: WxH, or N for the short side')
    parser.add_argument('--device', default='auto', help='auto, cpu, cuda or cuda:N')
    parser.add_argument('--variants', default=DEFAULT_VARIANTS,
                        help=f'comma-separated, from: {", ".join(VARIANTS)}')
    parser.add_argument('--warmup', type=int, default=None,
                        help=f'untimed calls first (default {WARMUP}; --grid: '
                             f'{GRID_WARMUP})')
    parser.add_argument('--iters', type=int, default=None,
                        help=f'timed calls (default {ITERS}; --grid: {GRID_ITERS})')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads of PyTorch, ONNX Runtime and TFLite')
    parser.add_argument('--filters', action='store_true',
                        help='time the depth post-filters (edge, confidence, temporal, '
                             'compressedDepth, scan) on the depth of the model at --size, '
                             'against its forward')
    parser.add_argument('--json', action='store_true', help='print the results as JSON')
    parser.add_argument('--cameras', type=int, default=None, metavar='N',
                        help='N cameras over DDS: one node serving them all with one model '
                             '(frames batched) against N separate nodes, in depth images per '
                             'second (with --model, --size, --device, --backend)')
    parser.add_argument('--camera-rate', type=float, default=None, metavar='HZ',
                        help='--cameras, --node: frames per second of each camera (default 15 '
                             'with --cameras, 30 with --node)')
    parser.add_argument('--seconds', type=float, default=20.0,
                        help='--cameras: seconds measured per configuration; --node: length of '
                             'the DDS run (default 20)')
    parser.add_argument('--backend', default='torch', choices=('torch', 'onnx'),
                        help='--cameras, --node: runtime of the nodes (default torch)')
    parser.add_argument('--grid', choices=('dpt',), default=None,
                        help="a study's comparison grid: 'dpt', the accelerated DPT-Hybrid "
                             'variants against DPT-H, and softmax against Performer attention')
    bench_node.add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    """Run the benchmark and print it; 1 when a variant failed, 2 on bad options."""
    if args.camera_rate is None:
        args.camera_rate = 30.0 if args.node else 15.0
    try:
        return _run(args)
    except (KeyError, ValueError, CheckpointError) as error:  # WeightsError: offline, named
        print(f'error: {error.args[0] if error.args else error}', file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    """Run the benchmark ``args`` ask for; print its report."""
    if args.cameras is not None:
        from mono_depth_ros import bench_cameras

        return bench_cameras.main(args)
    if args.node:
        args.warmup = WARMUP if args.warmup is None else args.warmup
        args.iters = ITERS if args.iters is None else args.iters
        return bench_node.main(args)
    if sum(mode is not None for mode in (args.model, args.compare_models, args.grid)) != 1:
        print('error: give --model or --compare-models (or --grid)', file=sys.stderr)
        return 2
    grid = args.grid is not None
    if args.warmup is None:
        args.warmup = GRID_WARMUP if grid else WARMUP
    if args.iters is None:
        args.iters = GRID_ITERS if grid else ITERS
    if args.warmup < 0 or args.iters < 1:
        print('error: --warmup must be >= 0 and --iters >= 1', file=sys.stderr)
        return 2
    if grid:
        from mono_depth_ros import bench_grid

        return bench_grid.main(args)
    frame_size = parse_size(args.size)
    if args.filters:
        if args.model is None:
            print('error: --filters needs --model', file=sys.stderr)
            return 2
        result = filter_costs(args.model, args.weights, frame_size, args.warmup,
                              args.iters, args.threads)
        rows = []
    elif args.compare_models is not None:
        result = compare_models(args.compare_models.split(','), args.weights, frame_size,
                                args.device, args.warmup, args.iters, args.threads)
        rows = result['models']
    else:
        result = benchmark(args.model, args.weights, frame_size, args.device,
                           args.variants.split(','), args.warmup, args.iters, args.threads,
                           args.input_size)
        rows = result['variants']
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 1 if any(row['status'] == 'failed' for row in rows) else 0
