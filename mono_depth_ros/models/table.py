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
``mono-depth models``: the model zoo as a table (or JSON).

One row per registered variant: name, family, parameter count, input policy, output kind,
license, whether its weights are in the package or the cache, and where they come from. Parameters
are counted on a network built on the meta device, so listing even the largest models allocates
no weights.
"""
from __future__ import annotations

import argparse
import json

from mono_depth_ros.models.registry import list_models
from mono_depth_ros.models.spec import InputPolicy, ModelSpec
from mono_depth_ros.weights import cached_weights
import torch

COLUMNS = ('name', 'family', 'params', 'input', 'output', 'license', 'weights', 'source')
MAX_LICENSE = 28


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``mono-depth models``."""
    parser.add_argument('--json', action='store_true',
                        help='print a JSON list with every field instead of a table')


def main(args: argparse.Namespace) -> int:
    """Print the zoo."""
    rows = [describe(spec) for spec in list_models()]
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def count_parameters(spec: ModelSpec) -> int | None:
    """Return the number of parameters of ``spec``'s network (``None`` without a PyTorch graph)."""
    if spec.builder is None:
        return None
    try:
        with torch.device('meta'):
            module = spec.builder()
    except NotImplementedError:
        # The builder reads tensor values while constructing (meta tensors have none).
        module = spec.builder()
    return sum(parameter.numel() for parameter in module.parameters())


def weights_status(spec: ModelSpec) -> str:
    """Return ``'embedded'``, ``'cached'``, ``'not cached'``, or ``'none'`` without weights."""
    source = spec.weights
    if source is None or not (source.url or source.embedded):
        return 'none'
    if source.embedded:
        return 'embedded'
    return 'cached' if cached_weights(spec) is not None else 'not cached'


def describe(spec: ModelSpec) -> dict:
    """Return one row of the table: the columns, plus the weights' URL, hash and cached path."""
    cached = cached_weights(spec) if spec.weights and spec.weights.url else None
    return {
        'name': spec.name,
        'family': spec.family,
        'params': count_parameters(spec),
        'input': format_input(spec.input_policy),
        'output': spec.output_kind,
        'license': spec.license_terms,
        'weights': weights_status(spec),
        'source': spec.source,
        'backend': spec.backend,
        'classes': len(spec.classes),
        'url': spec.weights.url if spec.weights else '',
        'sha256': spec.weights.sha256 if spec.weights else None,
        'cached_path': str(cached) if cached else None,
        'paper': spec.paper,
        'reported': spec.reported,
    }


def format_input(policy: InputPolicy) -> str:
    """
    Return the input policy in short form: ``'192x640'`` (HxW), ``'short 518 /14'``.

    A size whose aspect follows the frame's (DPT's ``minimal`` resize) reads ``'~480x640'``.
    """
    if policy.short_side is not None:
        text = f'short {policy.short_side}'
    else:
        text = f'{"~" if policy.keep_aspect else ""}{policy.height}x{policy.width}'
    return text + (f' /{policy.multiple}' if policy.multiple > 1 else '')


def format_params(count: int | None) -> str:
    """Return a parameter count as ``'24.8M'`` or ``'950K'``, ``'-'`` when there is none."""
    if count is None:
        return '-'
    return f'{count / 1e6:.1f}M' if count >= 1e6 else f'{count / 1e3:.0f}K'


def format_table(rows: list[dict]) -> str:
    """Return rows of :func:`describe` as an aligned text table."""
    cells = [[column.upper() for column in COLUMNS]]
    for row in rows:
        values = dict(row, params=format_params(row['params']))
        cells.append([_clip(str(values[column]), column) for column in COLUMNS])
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return '\n'.join('  '.join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                     for line in cells)


def _clip(text: str, column: str) -> str:
    if column != 'license' or len(text) <= MAX_LICENSE:
        return text
    return text[:MAX_LICENSE - 3] + '...'
