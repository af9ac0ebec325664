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
``mono-depth export``: a zoo model as an ONNX file or a TensorRT engine, verified.

The ONNX graph takes one normalised ``(1, 3, H, W)`` float32 input named ``image`` (the frame
minus the variant's mean, over its std, as the PyTorch backend feeds it) and returns ``depth``
``(1, 1, h, w)`` and, for joint models, ``segm`` logits (segmentation-only models: ``segm``
alone). Metadata in the file names the variant and the precision, so
:class:`~mono_depth_ros.backends.onnx_backend.OnnxBackend` can check it is given the right spec.
Every export is run once by onnxruntime (and the engine by TensorRT where a GPU is there) on a
random input and compared with PyTorch; an export that disagrees is an error.

TensorRT engines are built from the ONNX file with the ``tensorrt`` Python API. An engine is tied
to the GPU and TensorRT version that built it: build it on the target (a Jetson builds its own).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
import sys

from mono_depth_ros.backends.onnx_backend import import_onnxruntime, INPUT_NAME
from mono_depth_ros.cli import parse_size
from mono_depth_ros.models.spec import ModelSpec, spec_to_json
import numpy as np
import torch

FORMATS = ('onnx', 'tensorrt')
DEFAULT_OPSET = 17
# Largest accepted max|difference| / max|reference| per output.
TOLERANCE = {'fp32': 1e-4, 'fp16': 2e-2}
# TensorRT may use TF32 for fp32 layers (10-bit mantissa).
TENSORRT_TOLERANCE = {'fp32': 5e-3, 'fp16': 2e-2}
TENSORRT_INSTALL = ('TensorRT is not installed (import tensorrt failed). On a Jetson it comes '
                    'with JetPack (apt install nvidia-tensorrt; python3-libnvinfer); on x86 with '
                    'an NVIDIA GPU and CUDA: pip install tensorrt. Or use --format onnx and run '
                    'the file with onnxruntime-gpu.')


class ExportError(RuntimeError):
    """An export that failed or does not reproduce the PyTorch outputs."""


@dataclass(frozen=True)
class OutputCheck:
    """How far one exported output is from PyTorch's, on the same input."""

    name: str
    max_abs: float
    max_rel: float
    tolerance: float
    reference_is_zero: bool = False

    @property
    def passed(self) -> bool:
        """Whether the relative error is within the tolerance."""
        return bool(self.max_rel <= self.tolerance)

    def __str__(self) -> str:
        verdict = 'ok' if self.passed else 'FAILED'
        note = (" (PyTorch's output is all zeros, as random weights can give: this check "
                'proves little; export real weights to verify)' if self.reference_is_zero else '')
        return (f'{self.name}: max abs error {self.max_abs:.3g}, max rel error '
                f'{self.max_rel:.3g} (tolerance {self.tolerance:g}) {verdict}{note}')


class _TupleOutputs(torch.nn.Module):
    """The zoo module with a tuple of named outputs (export cannot name dict outputs)."""

    def __init__(self, module: torch.nn.Module, names: tuple[str, ...], half: bool) -> None:
        super().__init__()
        self.module = module.half() if half else module
        self.names = names
        self.half = half

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.module(x.half() if self.half else x)
        return tuple(outputs[name].float() for name in self.names)


def output_names(spec: ModelSpec) -> tuple[str, ...]:
    """Return the names of the exported outputs of ``spec``: depth and/or segm, in that order."""
    return (('depth',) if spec.has_depth else ()) + (('segm',) if spec.has_segmentation else ())


def export_onnx(module: torch.nn.Module, spec: ModelSpec, size: tuple[int, int], path: Path | str,
                *, opset: int = DEFAULT_OPSET, dynamic: bool = False,
                fp16: bool = False) -> Path:
    """
    Write ``module`` (a network of ``spec``) as ONNX for ``size`` = (height, width) inputs.

    ``dynamic`` leaves the batch, height and width free; ``fp16`` stores the weights and
    computes in half precision, with float32 input and outputs. ``module`` is not modified.
    """
    import copy

    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = output_names(spec)
    wrapper = _TupleOutputs(copy.deepcopy(module).eval().float(), names, fp16)
    height, width = size
    example = torch.zeros(1, 3, height, width)
    axes = None
    if dynamic:
        axes = {INPUT_NAME: {0: 'batch', 2: 'height', 3: 'width'}}
        axes.update({name: {0: 'batch', 2: f'{name}_height', 3: f'{name}_width'}
                     for name in names})
    try:
        with torch.no_grad():
            torch.onnx.export(wrapper, (example,), str(path), input_names=[INPUT_NAME],
                              output_names=list(names), opset_version=opset,
                              dynamic_axes=axes, dynamo=False)
    except Exception as error:
        raise ExportError(f'ONNX export of {spec.name} at {width}x{height} failed: {error}. '
                          'Try another --opset or a size that is a multiple of the stride '
                          f'({spec.input_policy.multiple})') from error
    model = onnx.load(str(path))
    for key, value in (('model', spec.name), ('precision', 'fp16' if fp16 else 'fp32'),
                       ('output_kind', spec.output_kind), ('exporter', 'mono_depth_ros'),
                       ('spec', spec_to_json(spec))):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def compare_outputs(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray],
                    tolerance: float) -> list[OutputCheck]:
    """Compare each reference output with ours: max abs error, and relative to max|reference|."""
    checks = []
    for name, expected in reference.items():
        if name not in ours:
            raise ExportError(f'the exported model has no output {name!r}')
        got = np.asarray(ours[name], dtype=np.float64)
        expected = np.asarray(expected, dtype=np.float64)
        if got.shape != expected.shape:
            raise ExportError(f'output {name!r} has shape {got.shape}, PyTorch gives '
                              f'{expected.shape}')
        max_abs = float(np.abs(got - expected).max())
        scale = float(np.abs(expected).max())
        max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float('inf'))
        checks.append(OutputCheck(name, max_abs, max_rel, tolerance, scale == 0))
    return checks


def reference_outputs(module: torch.nn.Module, spec: ModelSpec,
                      x: np.ndarray) -> dict[str, np.ndarray]:
    """Return PyTorch's float32 outputs of ``module`` for ``x``, by exported output name."""
    with torch.inference_mode():
        outputs = module.eval()(torch.from_numpy(x))
    return {name: outputs[name].float().numpy() for name in output_names(spec)}


def random_input(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Return a ``(1, 3, H, W)`` float32 standard-normal input (a normalised image)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((1, 3, *size)).astype(np.float32)


def verify_onnx(module: torch.nn.Module, spec: ModelSpec, path: Path | str,
                size: tuple[int, int], *, tolerance: float | None = None,
                precision: str = 'fp32', seed: int = 0) -> list[OutputCheck]:
    """Run the ONNX file with onnxruntime (CPU) and PyTorch on one random input; compare."""
    ort = import_onnxruntime()
    x = random_input(size, seed)
    try:
        session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
        ours = dict(zip(output_names(spec), session.run(None, {INPUT_NAME: x})))
    except Exception as error:
        raise ExportError(f'onnxruntime cannot run {path} at {size[1]}x{size[0]}: {error}. A '
                          '--dynamic export of a model whose trace fixes the size (Depth '
                          'Anything V2) only runs at the export size: export without --dynamic'
                          ) from error
    tolerance = TOLERANCE[precision] if tolerance is None else tolerance
    return compare_outputs(ours, reference_outputs(module, spec, x), tolerance)


def import_tensorrt():
    """Return the ``tensorrt`` module, or fail with how to install it."""
    try:
        import tensorrt
    except ImportError as error:
        raise ExportError(TENSORRT_INSTALL) from error
    return tensorrt


def build_tensorrt_engine(onnx_path: Path | str, engine_path: Path | str, *, fp16: bool = False,
                          workspace_gb: float = 2.0) -> Path:
    """
    Build a TensorRT engine from an ONNX file and write it to ``engine_path``.

    A dynamic ONNX input gets an optimisation profile for one image at the export size of its
    static dimensions, so export with a fixed ``--size`` for TensorRT.
    """
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split('.')[0])
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f'TensorRT cannot parse {onnx_path}: {errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if fp16:
        if not builder.platform_has_fast_fp16:
            raise ExportError('this GPU has no fast fp16; build the engine without --fp16')
        config.set_flag(trt.BuilderFlag.FP16)
    image = network.get_input(0)
    if any(dim < 0 for dim in image.shape):
        raise ExportError(f'{onnx_path} has a dynamic input {tuple(image.shape)}; export it with '
                          'a fixed --size (without --dynamic) for TensorRT')
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f'TensorRT could not build an engine from {onnx_path}; see the '
                          'TensorRT log above')
    engine_path = Path(engine_path)
    engine_path.write_bytes(bytes(serialized))
    return engine_path


def verify_tensorrt(module: torch.nn.Module, spec: ModelSpec, engine_path: Path | str,
                    size: tuple[int, int], *, precision: str = 'fp32',
                    seed: int = 0) -> list[OutputCheck]:
    """Run the engine and PyTorch (fp32, CPU) on one random input and compare."""
    from mono_depth_ros.backends.tensorrt_backend import TensorRTBackend

    x = random_input(size, seed)
    ours = TensorRTBackend(engine_path, spec).run(torch.from_numpy(x).cuda())
    ours = {name: value.float().cpu().numpy() for name, value in ours.items()}
    return compare_outputs(ours, reference_outputs(module, spec, x),
                           TENSORRT_TOLERANCE[precision])


def network_size(spec: ModelSpec, size: str | None) -> tuple[int, int]:
    """
    Return the (height, width) to export: ``size`` (WxH) or the variant's for a 640x480 frame.

    The size must be a multiple of the network's stride; an error names the nearest valid one.
    """
    if size is None:
        return spec.input_policy.network_size(480, 640)
    height, width = parse_size(size)
    multiple = spec.input_policy.multiple
    if height % multiple or width % multiple:
        near_width, near_height = (-(-side // multiple) * multiple for side in (width, height))
        raise ValueError(f'{spec.name} needs sides that are multiples of {multiple}; '
                         f'{width}x{height} is not, try {near_width}x{near_height}')
    return height, width


def second_size(spec: ModelSpec, size: tuple[int, int]) -> tuple[int, int]:
    """Return another valid input size than ``size``, to check a ``--dynamic`` export."""
    step = 2 * (spec.input_policy.multiple if spec.input_policy.multiple > 1 else 32)
    return size[0] + step, size[1] + step


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``mono-depth export``."""
    parser.add_argument('--model', required=True, help='zoo variant (see mono-depth models)')
    parser.add_argument('--weights', default='auto',
                        help="checkpoint: 'auto' (official), a file, folder or URL, or 'none' "
                             '(random weights, for speed tests)')
    parser.add_argument('--format', choices=FORMATS, default='onnx')
    parser.add_argument('--size', default=None,
                        help="network input size WxH (default: the variant's for a 640x480 "
                             'camera)')
    parser.add_argument('--out', required=True, type=Path,
                        help='output file (.onnx, or .engine for TensorRT; the ONNX file it is '
                             'built from is written beside it)')
    parser.add_argument('--fp16', action='store_true',
                        help='half precision (ONNX: fp16 weights; TensorRT: the FP16 flag)')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET)
    parser.add_argument('--dynamic', action='store_true',
                        help='ONNX with free batch, height and width (not for TensorRT)')
    parser.add_argument('--tolerance', type=float, default=None,
                        help='largest accepted max|error|/max|PyTorch| (default 1e-4 fp32, '
                             '2e-2 fp16)')


def main(args: argparse.Namespace) -> int:
    """Export, verify, and report the errors; 1 when the export does not match PyTorch."""
    from mono_depth_ros.models.registry import create_model, get_spec

    spec = get_spec(args.model)
    if spec.builder is None:
        print(f'error: model {spec.name!r} runs from a {spec.backend} file and has no PyTorch '
              'graph to export', file=sys.stderr)
        return 2
    if args.format == 'tensorrt' and args.dynamic:
        print('error: --dynamic is for ONNX only; TensorRT engines are built for one --size',
              file=sys.stderr)
        return 2
    try:
        size = network_size(spec, args.size)
        if args.format == 'tensorrt':
            import_tensorrt()
    except (ValueError, ExportError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    weights = None if args.weights == 'none' else args.weights
    module = create_model(spec.name, weights)
    precision = 'fp16' if args.fp16 else 'fp32'
    # TensorRT applies fp16 itself, from an fp32 graph.
    onnx_fp16 = args.fp16 and args.format == 'onnx'
    onnx_path = args.out if args.format == 'onnx' else args.out.with_suffix('.onnx')
    try:
        export_onnx(module, spec, size, onnx_path, opset=args.opset, dynamic=args.dynamic,
                    fp16=onnx_fp16)
        print(f'wrote {onnx_path} ({spec.name}, {size[1]}x{size[0]}, '
              f'{"fp16" if onnx_fp16 else "fp32"}, opset {args.opset})')
        checks = verify_onnx(module, spec, onnx_path, size, tolerance=args.tolerance,
                             precision='fp16' if onnx_fp16 else 'fp32')
        report('onnxruntime vs PyTorch', checks)
        if args.dynamic:
            # A trace can bake the export size into the graph: check another size too.
            other = second_size(spec, size)
            more = verify_onnx(module, spec, onnx_path, other, tolerance=args.tolerance,
                               precision='fp16' if onnx_fp16 else 'fp32', seed=1)
            report(f'onnxruntime vs PyTorch at {other[1]}x{other[0]} (--dynamic)', more)
            checks += more
        if args.format == 'tensorrt' and all(check.passed for check in checks):
            build_tensorrt_engine(onnx_path, args.out, fp16=args.fp16)
            print(f'wrote {args.out} (TensorRT {precision})')
            checks = verify_tensorrt(module, spec, args.out, size, precision=precision)
            report('TensorRT vs PyTorch', checks)
    except (ExportError, ImportError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    if not all(check.passed for check in checks):
        print('error: the export does not reproduce PyTorch within the tolerance; the file is '
              'kept for inspection, do not deploy it', file=sys.stderr)
        return 1
    return 0


def report(title: str, checks: list[OutputCheck]) -> None:
    """Print one line per output check."""
    print(title)
    for check in checks:
        print(f'  {check}')
