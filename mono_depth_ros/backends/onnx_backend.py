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
The ONNX Runtime backend: a file written by ``mono-depth export --format onnx``.

The graph takes one normalised ``(1, 3, H, W)`` float32 input named ``image`` and returns
``depth`` (and ``segm`` logits for joint models), as :mod:`mono_depth_ros.export` writes it. The
execution provider is the best one this onnxruntime build offers (TensorRT, then CUDA, then the
CPU) unless ``providers`` names them.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from mono_depth_ros.backends import check_network_input
from mono_depth_ros.models.spec import InputPolicy, ModelSpec, spec_from_json
import numpy as np

INPUT_NAME = 'image'
PREFERRED_PROVIDERS = ('TensorrtExecutionProvider', 'CUDAExecutionProvider',
                       'CPUExecutionProvider')
GPU_PROVIDERS = ('TensorrtExecutionProvider', 'CUDAExecutionProvider')


def import_onnxruntime():
    """Return the ``onnxruntime`` module, or fail with how to install it."""
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError('the ONNX backend needs onnxruntime: pip install onnxruntime (CPU), '
                          'onnxruntime-gpu (CUDA), or mono_depth_ros[onnx]') from error
    return onnxruntime


class OnnxBackend:
    """
    Run an exported depth model with ONNX Runtime.

    ``onnx_path`` is the ``.onnx`` file; ``spec`` the variant it was exported from (its mean and
    std normalise the frame), or None to read it from the file's metadata (``mono-depth export``
    stores it there), which needs neither the model zoo nor PyTorch. ``providers`` are the
    execution providers in order of preference (``None``: every available one of
    :data:`PREFERRED_PROVIDERS`), ``threads`` the CPU threads of one inference (``None``: the
    runtime's default). ``spin_wait`` lets idle worker threads spin for the next inference; it
    is off by default because the node shares the CPU (its output stage runs beside the network),
    where spinning threads take the time that work needs.
    """

    def __init__(self, onnx_path: Path | str, spec: ModelSpec | None = None,
                 providers: list[str] | None = None, threads: int | None = None,
                 spin_wait: bool = False) -> None:
        ort = import_onnxruntime()
        self.path = Path(onnx_path)
        if not self.path.is_file():
            name = spec.name if spec is not None else 'MODEL'
            raise FileNotFoundError(f'ONNX file {self.path} does not exist; write one with '
                                    f'mono-depth export --model {name} --format onnx')
        available = ort.get_available_providers()
        if providers is None:
            providers = [name for name in PREFERRED_PROVIDERS if name in available]
        missing = [name for name in providers if name not in available]
        if missing:
            raise ValueError(f'execution provider(s) {", ".join(missing)} are not in this '
                             f'onnxruntime build; available: {", ".join(available)}')
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        spin = '1' if spin_wait else '0'
        options.add_session_config_entry('session.intra_op.allow_spinning', spin)
        options.add_session_config_entry('session.inter_op.allow_spinning', spin)
        self.session = ort.InferenceSession(str(self.path), options, providers=list(providers))
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.spec = _spec_of(self.path, metadata, spec)
        spec = self.spec
        self.provider = self.session.get_providers()[0]
        self.device = 'cuda' if self.provider in GPU_PROVIDERS else 'cpu'
        self.precision = metadata.get('precision', 'fp32')
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
            raise ValueError(f'{self.path} has inputs {[i.name for i in inputs]}; the ONNX '
                             f'backend needs one input named {INPUT_NAME!r} (write the file with '
                             'mono-depth export)')
        batch, _, height, width = inputs[0].shape
        # A file exported with a free batch dimension (mono-depth export --dynamic) takes
        # several frames in one run.
        self.max_batch = batch if isinstance(batch, int) else None
        static = isinstance(height, int) and isinstance(width, int)
        self.input_size = (height, width) if static else None
        self.output_names = [output.name for output in self.session.get_outputs()]
        if 'depth' not in self.output_names:
            raise ValueError(f'{self.path} has outputs {self.output_names}; the ONNX backend '
                             "needs one named 'depth'")
        self.input_device = None

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Run the graph on a normalised ``(1, 3, H, W)`` float32 array; outputs by name."""
        return dict(zip(self.output_names, self.session.run(None, {INPUT_NAME: x})))

    def infer(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Run the graph on a normalised ``(n, 3, h, w)`` float32 array; float32 outputs."""
        check_network_input(x, self.spec, self.input_size, f'{self.path} was exported for',
                            self.max_batch)
        outputs = self.run(x)
        return {name: outputs[name].astype(np.float32, copy=False) for name in ('depth', 'segm')
                if name in outputs}


def _spec_of(path: Path, metadata: dict[str, str], spec: ModelSpec | None) -> ModelSpec:
    """Return the spec of an ONNX file: the one given (checked against the file) or its own."""
    exported_from = metadata.get('model')
    if spec is not None:
        if exported_from is not None and exported_from != spec.name:
            raise ValueError(f'{path} was exported from model {exported_from!r}, not '
                             f'{spec.name!r}; pass the spec of {exported_from!r}')
        return spec
    if 'spec' in metadata:
        return spec_from_json(metadata['spec'])
    if exported_from is None:
        raise ValueError(f'{path} names no model in its metadata; export it with mono-depth '
                         'export, or give the spec of the model it holds')
    from mono_depth_ros.models.registry import get_spec  # files exported before specs travelled

    return get_spec(exported_from)


def spec_for_backend(spec: ModelSpec, backend: OnnxBackend) -> ModelSpec:
    """
    Return ``spec`` with its input policy fixed to the file's input size, if it has one.

    A file exported at a fixed size only runs at that size, so the estimator must resize every
    frame to it rather than follow the variant's own policy.
    """
    if backend.input_size is None:
        return spec
    height, width = backend.input_size
    return dataclasses.replace(spec, input_policy=InputPolicy(height=height, width=width))
