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
ONNX exports of zoo variants, made once and cached beside their weights.

:func:`cached_onnx` exports and verifies a variant with its weights (with PyTorch, once).
:func:`find_cached_onnx` finds that export again from the model name and the weights argument
alone, without PyTorch or the model zoo, so that a node on ONNX Runtime starts in a fraction of a
second. An index beside the exports records, per weights argument, the export and the size and
modification time of every weights file it was made from: a changed file is a miss, and the next
:func:`cached_onnx` hashes the weights and exports again if their content changed.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mono_depth_ros.models.spec import ModelSpec
from mono_depth_ros.weights import cache_root

INDEX_NAME = 'exports.json'


def cached_onnx(spec: ModelSpec, weights: str | None) -> Path:
    """
    Return an ONNX export of ``spec`` with ``weights``, exporting and verifying it once.

    The file is cached next to the variant's weights, keyed by the input size and the weights'
    content, so new weights give a new export.
    """
    from mono_depth_ros.export import export_onnx, verify_onnx
    from mono_depth_ros.models.registry import create_model
    from mono_depth_ros.weights import resolve_weights

    if spec.input_policy.depends_on_frame:
        raise ValueError(f'{spec.name} resizes frames keeping their aspect ratio, so its ONNX '
                         'file depends on the camera: export it with mono-depth export --model '
                         f'{spec.name} --format onnx --size WxH and set model_file')
    if weights is None:
        raise ValueError('an ONNX export needs weights')
    source = resolve_weights(spec, weights)
    digest = hashlib.sha256()
    for path in _weights_files(source):
        digest.update(path.read_bytes())
    size = spec.input_policy.network_size(spec.input_policy.height, spec.input_policy.width)
    target = (_exports_dir(spec.name)
              / f'{spec.name}-{size[1]}x{size[0]}-{digest.hexdigest()[:12]}.onnx')
    if not target.is_file():
        module = create_model(spec.name, str(source))
        # Per process: two nodes starting at once each export, and the last rename wins.
        partial = target.with_suffix(f'.{os.getpid()}.partial.onnx')
        try:
            export_onnx(module, spec, size, partial)
            failed = [str(check) for check in verify_onnx(module, spec, partial, size)
                      if not check.passed]
            if failed:
                raise RuntimeError(f'the ONNX export of {spec.name} does not reproduce '
                                   'PyTorch: ' + '; '.join(failed))
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)  # nothing left behind by a failed export
    _remember(spec.name, weights, target, source)
    return target


def find_cached_onnx(model: str, weights: str | None) -> Path | None:
    """
    Return the export :func:`cached_onnx` made of ``model`` with ``weights``, or None.

    None when there is none, or when a weights file it was made from changed since. Reads only
    the index: no PyTorch, no model zoo, no hashing.
    """
    if weights is None:
        return None
    entry = _read_index(model).get(_weights_key(weights))
    if entry is None:
        return None
    target = _exports_dir(model) / entry['onnx']
    if not target.is_file() or _fingerprint(Path(entry['weights'])) != entry['fingerprint']:
        return None
    return target


def _exports_dir(model: str) -> Path:
    return cache_root() / model / 'onnx'


def _weights_key(weights: str) -> str:
    """Return the index key of a weights argument: local paths made absolute."""
    return os.path.abspath(weights) if os.path.exists(weights) else weights


def _weights_files(source: Path) -> list[Path]:
    paths = sorted(source.rglob('*')) if source.is_dir() else [source]
    return [path for path in paths if path.is_file()]


def _fingerprint(source: Path) -> list | None:
    if not source.exists():
        return None
    return [[str(path.relative_to(source)) if source.is_dir() else path.name,
             path.stat().st_size, path.stat().st_mtime_ns] for path in _weights_files(source)]


def _read_index(model: str) -> dict:
    try:
        index = json.loads((_exports_dir(model) / INDEX_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return index if isinstance(index, dict) else {}


def _remember(model: str, weights: str, target: Path, source: Path) -> None:
    index = _read_index(model)
    index[_weights_key(weights)] = {'onnx': target.name, 'weights': str(source),
                                    'fingerprint': _fingerprint(source)}
    partial = _exports_dir(model) / f'{INDEX_NAME}.{os.getpid()}.partial'
    partial.write_text(json.dumps(index, indent=1))
    partial.replace(_exports_dir(model) / INDEX_NAME)
