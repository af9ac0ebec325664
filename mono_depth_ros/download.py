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
``mono-depth download``: fetch the official weights of zoo models into the cache ahead of time.

For robots without internet: run it on a machine with internet (``--cache DIR`` fills a folder
to carry over), then copy the files into the robot's cache (``$MONO_DEPTH_CACHE``, else
``~/.cache/mono_depth_ros``), or point ``MONO_DEPTH_CACHE`` at the copied folder.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys

from mono_depth_ros.models.registry import get_spec
from mono_depth_ros.models.spec import ModelSpec
from mono_depth_ros.weights import (cache_root, DEFAULT_TIMEOUT_S, official_cache_path,
                                    resolve_weights, sha256_of, WeightsError)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``mono-depth download`` options to ``parser``."""
    parser.add_argument('models', nargs='+', metavar='MODEL',
                        help='zoo variants (mono-depth models lists them)')
    parser.add_argument('--cache', help='folder to download into instead of $MONO_DEPTH_CACHE '
                                        '(default ~/.cache/mono_depth_ros)')
    parser.add_argument('--timeout', type=float, default=DEFAULT_TIMEOUT_S,
                        help='network timeout in seconds')


def fetch(spec: ModelSpec, timeout: float = DEFAULT_TIMEOUT_S) -> tuple[Path, str]:
    """
    Make sure the official weights of ``spec`` are local; return their path and how checked.

    A file already in the cache is hashed again, so a corrupted copy is reported rather than
    trusted.
    """
    path = resolve_weights(spec, 'auto', timeout=timeout)
    source = spec.weights
    if source.embedded:
        return path, 'ships with the package'
    if source.sha256:
        actual = sha256_of(path)
        if not actual.startswith(source.sha256.lower()):
            raise WeightsError(f'the cached file {path} has sha256 {actual}, expected '
                               f'{source.sha256}: delete it and run mono-depth download '
                               f'{spec.name} again')
        if len(source.sha256) < len(actual):
            return path, f'sha256 verified against the {len(source.sha256)} hex digits published'
        return path, 'sha256 verified'
    if source.files_sha256:
        return path, f'sha256 of {", ".join(source.files_sha256)} verified'
    if source.files:
        return path, f'holds {", ".join(source.files)}; their sha256 is not published'
    return path, 'no sha256 is published for this file'


def main(args: argparse.Namespace) -> int:
    """Run ``mono-depth download``: one line per model, exit status 1 if any failed."""
    if args.cache:
        os.environ['MONO_DEPTH_CACHE'] = str(Path(args.cache).expanduser().resolve())
    failed = 0
    for name in args.models:
        try:
            spec = get_spec(name)
            if spec.weights is not None and spec.weights.url:
                print(f'{name}: from {spec.weights.url} into {official_cache_path(spec).parent}',
                      file=sys.stderr)
            path, check = fetch(spec, args.timeout)
        except (KeyError, WeightsError) as error:
            message = error.args[0] if isinstance(error, KeyError) else error
            print(f'mono-depth download: {name}: error: {message}', file=sys.stderr)
            failed += 1
            continue
        print(f'{name}: {path} ({check})')
    if args.cache:
        print(f'On the robot: copy {cache_root()} there and set MONO_DEPTH_CACHE to it, or copy '
              'its contents into ~/.cache/mono_depth_ros/')
    return 1 if failed else 0
