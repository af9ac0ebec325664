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
The TensorRT backend: an engine built by ``mono-depth export --format tensorrt``.

Needs the ``tensorrt`` Python package (8.5 or newer: the named-tensor API) and a CUDA build of
PyTorch, whose tensors serve as the engine's device buffers. The engine's input is the normalised
``(1, 3, H, W)`` float32 ``image``; its outputs are ``depth`` and, for joint models, ``segm``.
An engine runs only on the GPU model and TensorRT version that built it.
"""
from __future__ import annotations

from pathlib import Path

from mono_depth_ros.models.spec import ModelSpec
import numpy as np
import torch

INPUT_NAME = 'image'


class TensorRTBackend:
    """Run a serialised TensorRT engine on one CUDA device (``cuda`` or ``cuda:N``)."""

    def __init__(self, engine_path: Path | str, spec: ModelSpec, device: str = 'cuda',
                 precision: str = 'fp32') -> None:
        try:
            import tensorrt as trt
        except ImportError as error:
            raise ImportError('the TensorRT backend needs the tensorrt package: JetPack on a '
                              'Jetson, pip install tensorrt on x86 with CUDA') from error
        if not torch.cuda.is_available():
            raise RuntimeError('the TensorRT backend needs a CUDA GPU and a CUDA build of '
                               'PyTorch; this PyTorch sees none')
        self.spec = spec
        self.path = Path(engine_path)
        self.torch_device = torch.device(device)
        self.device = str(self.torch_device)
        # The builder's flags are not readable from the engine: the caller says what it built.
        self.precision = precision
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        with torch.cuda.device(self.torch_device):
            self.engine = runtime.deserialize_cuda_engine(self.path.read_bytes())
            if self.engine is None:
                raise ValueError(f'TensorRT cannot load {self.path}: it is not an engine, or was '
                                 'built by another TensorRT version or for another GPU; build it '
                                 'again here with mono-depth export --format tensorrt')
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names
                  if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if inputs != [INPUT_NAME] or 'depth' not in names:
            raise ValueError(f'{self.path} has tensors {names}; the TensorRT backend needs one '
                             f"input {INPUT_NAME!r} and an output 'depth'")
        self.output_names = [n for n in names if n != INPUT_NAME]
        shape = tuple(self.engine.get_tensor_shape(INPUT_NAME))
        self.input_size = shape[2], shape[3]
        self.outputs = {}
        for name in self.output_names:
            dtype = torch.from_numpy(np.empty(0, trt.nptype(self.engine.get_tensor_dtype(name))))
            self.outputs[name] = torch.empty(tuple(self.engine.get_tensor_shape(name)),
                                             dtype=dtype.dtype, device=self.torch_device)
            self.context.set_tensor_address(name, self.outputs[name].data_ptr())
        self.input_device = self.torch_device
        self.stream = torch.cuda.Stream(self.torch_device)

    def run(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """
        Run the engine on a normalised ``(1, 3, H, W)`` float32 CUDA tensor; outputs by name.

        The returned tensors are the engine's buffers, overwritten by the next call.
        """
        x = x.to(self.torch_device, torch.float32).contiguous()
        if tuple(x.shape[2:]) != self.input_size:
            raise ValueError(f'{self.path} was built for {self.input_size[1]}x'
                             f'{self.input_size[0]} (WxH) input, got {x.shape[3]}x{x.shape[2]}')
        self.context.set_tensor_address(INPUT_NAME, x.data_ptr())
        self.stream.wait_stream(torch.cuda.current_stream(self.torch_device))
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError(f'TensorRT failed to run {self.path}')
        self.stream.synchronize()
        return self.outputs

    @torch.inference_mode()
    def infer(self, x: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the engine on a normalised ``(1, 3, h, w)`` input; copies of its outputs."""
        outputs = self.run(torch.as_tensor(x))
        return {name: outputs[name].float().clone() for name in ('depth', 'segm')
                if name in outputs}
