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
The ``mono-depth`` command: the package's tools without a ROS graph.

Each sub-command lives in the module that owns its subject and exposes ``add_arguments(parser)``
and ``main(args) -> int``; modules are imported only when their command runs, so ``mono-depth
models`` does not pay for the ROS or training imports.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    'models': ('mono_depth_ros.models.table', 'list the model zoo'),
    'infer': ('mono_depth_ros.infer', 'run a model on images or a video, write depth files'),
    'eval': ('mono_depth_ros.evaluate', 'evaluate a model on a dataset'),
    'train': ('mono_depth_ros.train.cli', 'train, fine-tune or distil a model'),
    'bench': ('mono_depth_ros.bench', 'measure latency, FPS, FLOPs and size'),
    'quality': ('mono_depth_ros.quality', 'measure the depth filters: flying pixels, flicker, '
                'scale stability'),
    'export': ('mono_depth_ros.export', 'export a model to ONNX or a TensorRT engine'),
    'parity': ('mono_depth_ros.parity', 'check an architecture against official golden outputs'),
    'demo': ('mono_depth_ros.demo', 'start the node and a camera, record its outputs to a folder'),
    'download': ('mono_depth_ros.download', 'fetch the official weights of models into the cache'),
}


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` into ``(height, width)``."""
    try:
        width, height = (int(part) for part in text.lower().split('x'))
    except ValueError:
        raise ValueError(f'size {text!r} is not WxH (for example 640x480)') from None
    if width < 1 or height < 1:
        raise ValueError(f'size {text!r} must be positive')
    return height, width


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mono-depth``."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog='mono-depth', description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    chosen = argv[0] if argv else None
    for name, (module_name, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.set_defaults(module_name=module_name)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(sub)
    args = parser.parse_args(argv)
    return importlib.import_module(args.module_name).main(args)


if __name__ == '__main__':
    sys.exit(main())
