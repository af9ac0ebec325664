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

"""The PyTorch backend: eager fp32, fp16 or bf16, optionally channels_last and torch.compile."""
from __future__ import annotations

from mono_depth_ros.models.spec import ModelSpec
import numpy as np
import torch

PRECISIONS = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


class DeviceError(ValueError):
    """A device or precision that this machine cannot provide."""


def resolve_device(device: str) -> torch.device:
    """
    Turn ``auto | cpu | cuda | cuda:N`` into a device, failing clearly if it is not there.

    ``auto`` is the first CUDA GPU when there is one (a Jetson's too), else the CPU.
    """
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cpu':
        return torch.device('cpu')
    if device == 'cuda' or device.startswith('cuda:'):
        if not torch.cuda.is_available():
            raise DeviceError(f'device {device!r} was requested but PyTorch sees no CUDA GPU '
                              f'(torch {torch.__version__}, CUDA build: {torch.version.cuda}); '
                              "use device 'cpu' or 'auto', or install a CUDA build of PyTorch")
        index = int(device.split(':')[1]) if ':' in device else 0
        if index >= torch.cuda.device_count():
            raise DeviceError(f'device {device!r} does not exist: this machine has '
                              f'{torch.cuda.device_count()} CUDA device(s)')
        return torch.device('cuda', index)
    raise DeviceError(f'unknown device {device!r}; allowed: auto, cpu, cuda, cuda:N')


class TorchBackend:
    """
    Runs a zoo module on one device at one precision.

    fp16 needs a CUDA device; bf16 runs on CUDA and on recent CPUs. Reduced precision uses
    autocast, so numerically sensitive layers (softmax, normalisation) stay in fp32. ``threads``
    sets PyTorch's CPU threads (for the whole process; ``None`` keeps PyTorch's default).
    """

    max_batch = None  # frames stacked along the first axis, any number

    def __init__(self, module: torch.nn.Module, spec: ModelSpec, device: str = 'auto',
                 precision: str = 'fp32', channels_last: bool = False,
                 torch_compile: bool = False, threads: int | None = None) -> None:
        if precision not in PRECISIONS:
            raise DeviceError(f'unknown precision {precision!r}; allowed: {", ".join(PRECISIONS)}')
        if threads is not None:
            torch.set_num_threads(threads)
        self.torch_device = resolve_device(device)
        if precision == 'fp16' and self.torch_device.type != 'cuda':
            raise DeviceError("precision 'fp16' needs a CUDA device; on the CPU use 'fp32' or "
                              "'bf16'")
        self.spec = spec
        self.precision = precision
        self.device = str(self.torch_device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        module = module.eval().to(self.torch_device, memory_format=self.memory_format)
        self.module = torch.compile(module) if torch_compile else module
        # On a GPU the frame goes there as uint8 and is prepared there; the CPU uses numpy.
        self.input_device = self.torch_device if self.torch_device.type == 'cuda' else None

    @torch.inference_mode()
    def infer(self, x: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the network on a normalised ``(n, 3, h, w)`` input; float32 outputs, on device."""
        x = torch.as_tensor(x).to(self.torch_device).contiguous(memory_format=self.memory_format)
        with torch.autocast(self.torch_device.type, dtype=PRECISIONS[self.precision],
                            enabled=self.precision != 'fp32'):
            outputs = self.module(x)
        return {name: outputs[name].float() for name in ('depth', 'segm') if name in outputs}
