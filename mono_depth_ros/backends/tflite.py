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
The TFLite backend: a ``.tflite`` file run by the LiteRT interpreter (``ai-edge-litert``).

Quantised files are handled from the quantisation parameters stored in the file: the frame is
scaled to [0, 1] and quantised with the input tensor's scale and zero point, and the output is
dequantised with the output tensor's, so any int8/uint8 or float model with one NHWC RGB input and
one depth output runs unchanged.
"""
from __future__ import annotations

from pathlib import Path

from mono_depth_ros.backends import check_network_input
from mono_depth_ros.models.spec import ModelSpec
import numpy as np

QUANTISED = (np.uint8, np.int8)
FLOAT_PRECISIONS = {'float32': 'fp32', 'float16': 'fp16'}


class TFLiteBackend:
    """
    Run a TFLite depth model on the CPU.

    ``path`` is the ``.tflite`` file, ``spec`` the variant it belongs to, ``num_threads`` the
    interpreter's CPU threads (``None``: the runtime's default).
    """

    device = 'cpu'
    input_device = None

    def __init__(self, path: Path | str, spec: ModelSpec, num_threads: int | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as error:
            raise ImportError(f'model {spec.name!r} needs the TFLite runtime: pip install '
                              'ai-edge-litert (or mono_depth_ros[tflite])') from error
        self.spec = spec
        self.path = Path(path)
        try:
            self._interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ValueError(f'cannot load TFLite model {self.path} for {spec.name!r}: {error}. '
                             'Is it a valid .tflite file?') from error
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f'{self.path} has {len(inputs)} inputs and {len(outputs)} outputs; '
                             'the TFLite backend runs models with one image input and one depth '
                             'output')
        self._input, self._output = inputs[0], outputs[0]
        shape = tuple(int(n) for n in self._input['shape'])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
            raise ValueError(f'{self.path} takes an input of shape {shape}; the TFLite backend '
                             'needs one NHWC RGB image, (1, H, W, 3)')
        self.input_size = shape[1], shape[2]
        quantised = self._input['dtype'] in QUANTISED or self._output['dtype'] in QUANTISED
        self.precision = 'int8' if quantised else FLOAT_PRECISIONS.get(
            np.dtype(self._input['dtype']).name, np.dtype(self._input['dtype']).name)

    def infer(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Return ``{'depth': (1, 1, h, w)}`` for a ``(1, 3, h, w)`` input scaled to [0, 1]."""
        check_network_input(x, self.spec, self.input_size, f'{self.path} takes')
        self._interpreter.set_tensor(self._input['index'],
                                     self._quantise(x[0].transpose(1, 2, 0))[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._output['index'])
        return {'depth': self._dequantise(raw).reshape(1, 1, *raw.shape[1:3])}

    def _quantise(self, real: np.ndarray) -> np.ndarray:
        """Quantise the [0, 1] image with the input tensor's own scale and zero point."""
        dtype = self._input['dtype']
        scale, zero_point = self._input['quantization']
        if dtype not in QUANTISED:
            return real.astype(dtype)
        if scale == 0:
            raise ValueError(f'{self.path} has an integer input without quantisation parameters; '
                             'the scale of its input pixels is unknown')
        info = np.iinfo(dtype)
        return np.clip(np.round(real / scale + zero_point), info.min, info.max).astype(dtype)

    def _dequantise(self, raw: np.ndarray) -> np.ndarray:
        scale, zero_point = self._output['quantization']
        if raw.dtype in QUANTISED:
            if scale == 0:
                raise ValueError(f'{self.path} has an integer output without quantisation '
                                 'parameters; its depth units are unknown')
            return ((raw.astype(np.float32) - zero_point) * scale).astype(np.float32)
        return raw.astype(np.float32)
