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
Architecture parity against golden outputs of the official code.

A parity case (``<case>.json`` + ``<case>.npz``, see ``shared/parity/README.md`` in the project's
development tree) pins one official architecture: the state_dict keys and shapes of its checkpoint,
a deterministic rule that fills every weight from its official name, an input, and the outputs the
official code computed. A re-implementation that loads official checkpoints strictly and computes
the same function reproduces those outputs to float32 precision.

Each family module exports ``PARITY``, a :class:`ParityHooks`.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
import hashlib
import importlib
import json
from pathlib import Path
import sys
from typing import Callable
import zlib

from mono_depth_ros import scale
import numpy as np
import torch

RTOL = 1e-4
ATOL_FRACTION = 1e-4
# End-to-end outputs include the resizes, whose float orders differ more (see the goldens' README).
END_TO_END_RTOL = 1e-3
END_TO_END_ATOL_FRACTION = 1e-3
END_TO_END_PREDICTIONS = ('depth', 'disp')  # the golden's name of the upsampled prediction
UPSAMPLED_SUFFIX = '_upsampled'

FAMILY_MODULES = {
    'lite-mono': 'mono_depth_ros.models.lite_mono',
    'depth-anything-v2': 'mono_depth_ros.models.depth_anything_v2',
    'multitask-refinenet': 'mono_depth_ros.models.joint_refinenet',
    'dpt': 'mono_depth_ros.models.dpt',
}


@dataclass(frozen=True)
class ParityHooks:
    """
    What parity needs to know about a family.

    ``build(case)`` returns the module in eval mode for a case's JSON. ``parts(module)`` maps each
    key list of the case (``'keys'``, or ``'encoder_keys'`` and ``'decoder_keys'``) to the
    sub-module whose ``state_dict`` has exactly the official names. ``outputs(module, x)`` returns
    the tensors named as in the case's ``.npz``. ``zoo_name(case)`` names the registered variant
    that an end-to-end case runs (by default the first word of its ``variant``).
    """

    build: Callable[[dict], torch.nn.Module]
    parts: Callable[[torch.nn.Module], dict[str, torch.nn.Module]]
    outputs: Callable[[torch.nn.Module, torch.Tensor], dict[str, torch.Tensor]]
    zoo_name: Callable[[dict], str] = lambda case: case['variant'].split()[0]


def rule_value(name: str, shape: tuple[int, ...], weight_seed: int) -> np.ndarray:
    """Return the deterministic value of the state_dict entry ``name`` under the parity rule."""
    rng = np.random.default_rng([weight_seed, zlib.crc32(name.encode())])
    if name.endswith('running_var'):
        value = rng.uniform(0.5, 1.5, size=shape)
    elif name.endswith('running_mean'):
        value = rng.uniform(-0.2, 0.2, size=shape)
    elif len(shape) >= 2:
        value = rng.uniform(-1, 1, size=shape) * np.sqrt(3 / np.prod(shape[1:]))
    elif len(shape) == 1 and name.endswith('weight'):
        value = rng.uniform(0.75, 1.25, size=shape)
    else:
        value = rng.uniform(-0.1, 0.1, size=shape)
    return value.astype(np.float32)


def fill_by_rule(module: torch.nn.Module, weight_seed: int) -> None:
    """Overwrite every floating-point entry of ``module.state_dict()`` by the parity rule."""
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.from_numpy(rule_value(name, tuple(tensor.shape), weight_seed)))


def make_input(case: dict) -> torch.Tensor:
    """Return the case's input tensor as the README of the goldens defines it."""
    rng = np.random.default_rng(case['input_seed'])
    shape = (1, 3, case['height'], case['width'])
    if case['family'] == 'lite-mono':
        return torch.from_numpy(rng.random(shape).astype(np.float32))
    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))


def manifest_differences(parts: dict[str, torch.nn.Module], case: dict) -> list[str]:
    """List how the modules' state_dict keys and shapes differ from the case's manifest."""
    problems = []
    for list_name, part in parts.items():
        ours = {k: list(v.shape) for k, v in part.state_dict().items()}
        theirs = {name: list(shape) for name, shape, _dtype in case[list_name]}
        for name in sorted(set(theirs) - set(ours)):
            problems.append(f'{list_name}: missing {name} {theirs[name]}')
        for name in sorted(set(ours) - set(theirs)):
            problems.append(f'{list_name}: unexpected {name} {ours[name]}')
        for name in sorted(set(ours) & set(theirs)):
            if ours[name] != theirs[name]:
                problems.append(f'{list_name}: {name} has shape {ours[name]}, '
                                f'official {theirs[name]}')
    return problems


@dataclass
class OutputReport:
    """How one output compares with its golden."""

    name: str
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    passed: bool


def compare(name: str, ours: np.ndarray, golden: np.ndarray, rtol: float = RTOL,
            atol_fraction: float = ATOL_FRACTION) -> OutputReport:
    """Compare an output with its golden under ``rtol``, ``atol = atol_fraction * max|golden|``."""
    if ours.shape != golden.shape:
        return OutputReport(name, float('inf'), float('inf'), 0.0, False)
    atol = atol_fraction * float(np.abs(golden).max())
    error = np.abs(ours.astype(np.float64) - golden.astype(np.float64))
    relative = error / np.maximum(np.abs(golden), np.finfo(np.float32).tiny)
    passed = bool(np.all(error <= atol + rtol * np.abs(golden)))
    return OutputReport(name, float(error.max()), float(relative.max()), atol, passed)


def is_end_to_end(case: dict) -> bool:
    """Whether a case starts from a camera image file rather than from the network input."""
    return 'image' in case


def not_implemented_reason(case: dict) -> str | None:
    """Say why this package cannot run a case yet, or return None when it can."""
    if case['family'] not in FAMILY_MODULES:
        return f'the {case["family"]!r} family is not in the zoo yet'
    if is_end_to_end(case):
        from mono_depth_ros.models.registry import list_models

        name = family_hooks(case['family']).zoo_name(case)
        if name not in {spec.name for spec in list_models()}:
            return f'the variant {name!r} of this end-to-end case is not in the zoo yet'
    return None


def family_hooks(family: str) -> ParityHooks:
    """Return the parity hooks of a family named as in the case files."""
    if family not in FAMILY_MODULES:
        raise KeyError(f'no parity hooks for family {family!r}; known: '
                       f'{", ".join(FAMILY_MODULES)}')
    return importlib.import_module(FAMILY_MODULES[family]).PARITY


def run_case(case_path: Path,
             golden_path: Path | None = None) -> tuple[list[str], list[OutputReport]]:
    """Run one case; return the manifest differences and a report per golden output."""
    case_path = Path(case_path)
    case = json.loads(case_path.read_text())
    golden_path = golden_path or case_path.with_suffix('.npz')
    if is_end_to_end(case):
        return run_end_to_end(case_path, case, np.load(golden_path))
    hooks = family_hooks(case['family'])
    module = hooks.build(case).eval()
    parts = hooks.parts(module)
    problems = manifest_differences(parts, case)
    if problems:
        return problems, []
    for part in parts.values():
        fill_by_rule(part, case['weight_seed'])
    with torch.no_grad():
        outputs = hooks.outputs(module, make_input(case))
    goldens = np.load(golden_path)
    reports = []
    for name in goldens.files:
        if name not in outputs:
            reports.append(OutputReport(name, float('inf'), float('inf'), 0.0, False))
            continue
        reports.append(compare(name, outputs[name].detach().float().numpy(), goldens[name]))
    return problems, reports


def run_end_to_end(case_path: Path, case: dict,
                   goldens: np.lib.npyio.NpzFile) -> tuple[list[str], list[OutputReport]]:
    """
    Run an end-to-end case: its image file through the estimator of its zoo variant.

    The variant's network is filled by the weight rule; the estimator applies the variant's own
    pre- and post-processing. The golden ``depth`` or ``disp`` is compared with the upsampled
    prediction, ``network_input`` with the network's input, and ``<output>_upsampled`` with the
    family's parity ``<output>`` brought to the image size by the variant's upsampling.
    """
    import cv2
    from mono_depth_ros import network_io
    from mono_depth_ros.backends.torch_backend import TorchBackend
    from mono_depth_ros.estimator import DepthEstimator
    from mono_depth_ros.models.registry import create_model, get_spec

    image_path = case_path.resolve().parent.parent / case['image']
    if not image_path.is_file():
        return [f'image {image_path} does not exist'], []
    content = image_path.read_bytes()
    if 'image_sha256' in case and hashlib.sha256(content).hexdigest() != case['image_sha256']:
        return [f'image {image_path} is not the one of the case (sha256 differs)'], []
    bgr = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    hooks = family_hooks(case['family'])
    spec = get_spec(hooks.zoo_name(case))
    if 'input_size' in case:  # the official infer_image argument: the short side
        spec = spec.with_input_size(case['input_size'])
    module = create_model(spec.name)
    for part in hooks.parts(module).values():
        fill_by_rule(part, case['weight_seed'])
    estimator = DepthEstimator(spec, TorchBackend(module, spec, device='cpu'),
                               scale.make_policy('none' if spec.output_kind == 'metric'
                                                 else 'fixed'))
    predicted = estimator.predict(rgb)
    x = predicted.network_input
    ours = {'network_input': network_io.as_numpy(x)}
    ours.update({name: predicted.prediction for name in END_TO_END_PREDICTIONS})
    upsampled = [name for name in goldens.files if name.endswith(UPSAMPLED_SUFFIX)]
    if upsampled:
        with torch.no_grad():
            outputs = hooks.outputs(module, torch.as_tensor(x))
        for name in upsampled:
            tensor = outputs[name[:-len(UPSAMPLED_SUFFIX)]]
            tensor = tensor.reshape(1, 1, *tensor.shape[-2:])
            ours[name] = network_io.upsample(tensor, rgb.shape[:2], spec.processing)[0, 0].numpy()
    reports = []
    for name in goldens.files:
        if name not in ours:
            reports.append(OutputReport(name, float('inf'), float('inf'), 0.0, False))
        elif name == 'network_input':
            reports.append(compare(name, ours[name], goldens[name]))
        else:
            reports.append(compare(name, ours[name], goldens[name], END_TO_END_RTOL,
                                   END_TO_END_ATOL_FRACTION))
    return [], reports


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mono-depth parity``."""
    parser.add_argument('cases', nargs='+', type=Path, help='parity case JSON files')
    parser.add_argument('--golden', type=Path, default=None,
                        help='golden .npz to compare with (default: next to the JSON)')


def main(args: argparse.Namespace) -> int:
    """Run ``mono-depth parity``; exit status 0 only if every case passes."""
    all_passed = True
    for case_path in args.cases:
        print(f'== {case_path.name}')
        reason = not_implemented_reason(json.loads(Path(case_path).read_text()))
        if reason:
            print(f'  NOT RUN: {reason}')
            all_passed = False
            continue
        problems, reports = run_case(case_path, args.golden)
        for problem in problems:
            print(f'  manifest: {problem}')
        for report in reports:
            verdict = 'PASS' if report.passed else 'FAIL'
            print(f'  {report.name:<20} max abs {report.max_abs_error:.3e}  '
                  f'max rel {report.max_rel_error:.3e}  atol {report.tolerance:.3e}  {verdict}')
        passed = not problems and bool(reports) and all(r.passed for r in reports)
        print(f'  {"PASS" if passed else "FAIL"}')
        all_passed &= passed
    sys.stdout.flush()
    return 0 if all_passed else 1
