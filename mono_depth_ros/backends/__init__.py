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
Inference backends: one object per runtime that turns a network input into raw predictions.

Every backend has ``infer(x) -> dict``: ``x`` is the normalised ``(1, 3, h, w)`` float32 network
input that :func:`mono_depth_ros.network_io.network_input` made, a numpy array, or a tensor on the
backend's ``input_device`` where that is not ``None`` (a CUDA device: the frame is prepared there).
The result holds the network's float32 outputs, ``'depth'`` ``(1, 1, h', w')`` in the units of the
model's ``output_kind`` and for segmentation models ``'segm'`` ``(1, classes, h', w')`` logits:
numpy arrays from the runtimes without PyTorch (ONNX Runtime, TFLite), tensors on the device from
the others. Backends also expose ``device`` and ``precision`` (strings for diagnostics), and
``max_batch``: how many frames one ``infer`` takes stacked along the first axis (None: any
number; a backend without it takes one).
"""
from __future__ import annotations

from mono_depth_ros.models.spec import ModelSpec
import numpy as np


def check_network_input(x: np.ndarray, spec: ModelSpec, size: tuple[int, int] | None,
                        fixed_by: str, max_batch: int | None = 1) -> None:
    """
    Refuse anything but a ``(n, 3, h, w)`` float32 numpy array, at ``size`` when that is given.

    ``n`` is 1, or up to ``max_batch`` (None: any). ``fixed_by`` starts the message that names
    the expected size (the file that fixes it).
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 4 \
            or x.shape[1] != 3 or not 1 <= x.shape[0] <= (max_batch or x.shape[0]):
        kind = f'{x.dtype} {x.shape}' if isinstance(x, np.ndarray) else type(x).__name__
        frames = '1' if max_batch == 1 else f'1 to {max_batch or "any number of"}'
        raise ValueError(f'{spec.name}: expected a normalised (n, 3, h, w) float32 numpy array '
                         f'of {frames} frames (mono_depth_ros.network_io.network_input), got '
                         f'{kind}')
    if size is not None and x.shape[2:] != tuple(size):
        raise ValueError(f'{fixed_by} {size[1]}x{size[0]} (WxH) input, got {x.shape[3]}x'
                         f'{x.shape[2]}')
