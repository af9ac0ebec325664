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
DepthEstimator: an RGB frame in, depth in metres (and labels) out. No ROS in here.

The estimator owns the whole per-frame pipeline around the network: the variant's official
pre-processing (its input policy and :class:`~mono_depth_ros.models.spec.Processing`, computed by
:mod:`mono_depth_ros.network_io`), the backend call, the official upsampling of the prediction to
the output resolution and turning it into metres (directly for metric models, through a scale
policy for relative ones).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import time
from typing import TYPE_CHECKING

import cv2
from mono_depth_ros import network_io, scale
from mono_depth_ros.geometry import clip_depth, clip_depth_torch, Intrinsics, rasterize_depth
from mono_depth_ros.models.registry import create_model, get_spec
from mono_depth_ros.models.spec import InputPolicy, ModelSpec
import numpy as np

if TYPE_CHECKING:
    import torch

OUTPUT_SIZES = ('input', 'model')
BACKENDS = ('torch', 'onnx', 'tensorrt')


@dataclass
class DepthResult:
    """
    What the estimator made of one frame.

    ``depth``: ``(h, w)`` float32 metres along the optical axis, NaN where invalid; ``None``
    while a relative model has no known scale (see ``scale_status``). ``unscaled_depth``: depth
    up to an unknown scale (equal to ``depth`` for metric models), for median-scaled evaluation.
    ``labels``: ``(h, w)`` uint8 class ids or ``None``. ``intrinsics``: those of the output
    resolution when the frame's intrinsics were given. ``device_depth``: ``depth`` as a tensor
    on the backend's device when the network's output stays there (a CUDA GPU) and the scale
    policy needs no host data, so that outputs computed there copy only themselves back.
    """

    depth: np.ndarray | None
    unscaled_depth: np.ndarray
    labels: np.ndarray | None
    intrinsics: Intrinsics | None
    scale_status: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    device_depth: torch.Tensor | None = None


@dataclass
class Prediction:
    """
    The network's view of one frame, before any conversion to metres.

    ``network_input``: the ``(1, 3, h, w)`` float32 input the network ran on (a numpy array, or
    a tensor on the backend's ``input_device``). ``prediction``:
    ``(h, w)`` float32 in the units of the variant's ``output_kind``, upsampled to the output
    resolution. ``labels``: ``(h, w)`` uint8 class ids or ``None``. ``device_prediction`` and
    ``device_labels``: the same where the backend keeps them (tensors on its ``input_device``),
    else None.
    """

    network_input: network_io.Array
    prediction: np.ndarray
    labels: np.ndarray | None
    timings_ms: dict[str, float]
    device_prediction: torch.Tensor | None = None
    device_labels: torch.Tensor | None = None


class DepthEstimator:
    """
    Runs one zoo variant on frames.

    ``output_size`` is ``'input'`` (the prediction is resized to the frame's resolution) or
    ``'model'`` (kept at the network's output resolution; the intrinsics are scaled to match).
    """

    def __init__(self, spec: ModelSpec, backend, scale_policy: scale.ScalePolicy | None = None,
                 output_size: str = 'input') -> None:
        if output_size not in OUTPUT_SIZES:
            raise ValueError(f'unknown output_size {output_size!r}; allowed: '
                             f'{", ".join(OUTPUT_SIZES)}')
        if not spec.has_depth:
            raise ValueError(f'model {spec.name!r} has a segmentation head only and predicts no '
                             'depth, which the estimator (node, infer, eval, bench) needs: choose '
                             f'a {spec.family} variant with a depth head (mono-depth models)')
        self.spec = spec
        self.backend = backend
        self.scale_policy = scale_policy or scale.make_policy('none')
        self.scale_policy.check(spec)
        self.output_size = output_size
        self._sparse: tuple[np.ndarray, float] | None = None
        self._no_depth_ids = np.array([spec.classes.index(name) for name in spec.no_depth_classes],
                                      dtype=np.uint8)
        self._no_depth_offsets = np.zeros(256, np.float32)
        self._no_depth_offsets[self._no_depth_ids] = np.nan

    @classmethod
    def from_name(cls, model: str, weights: str | None = 'auto', device: str = 'auto',
                  precision: str = 'fp32', scale_policy: scale.ScalePolicy | None = None,
                  output_size: str = 'input', backend: str = 'torch',
                  model_file: str | None = None, input_size: int | None = None,
                  **backend_options) -> DepthEstimator:
        """
        Build the estimator of a registered variant on the requested runtime.

        ``backend`` is ``'torch'`` (``backend_options``: ``channels_last``, ``torch_compile``,
        ``threads``), ``'onnx'`` (ONNX Runtime: CUDA or TensorRT providers where available, else
        the CPU; ``backend_options``: ``threads``, ``spin_wait``, ``providers``) or
        ``'tensorrt'``; the last two run ``model_file``, written by ``mono-depth export`` for
        this variant. Without ``model_file``, ``'onnx'`` exports the variant with its ``weights``
        once into the cache (fixed-size input policies only) and finds that export again
        without importing PyTorch. TFLite variants always run on the TFLite runtime
        (``backend_options``: ``threads``). ``input_size`` resizes frames to that short side
        instead of the variant's own (Depth Anything V2: a multiple of 14, trained at 518).
        """
        if backend == 'onnx':
            # An ONNX file carries its spec: neither the model zoo nor PyTorch is imported when
            # model_file is given or an export of these weights is cached.
            from mono_depth_ros.backends.onnx_cache import find_cached_onnx

            path = model_file or find_cached_onnx(model, weights)
            if path is not None:
                return cls._from_onnx(path, model, scale_policy, output_size, input_size,
                                      backend_options)
        spec = get_spec(model)
        if input_size is not None:
            spec = spec.with_input_size(input_size)
        if spec.backend == 'tflite':
            from mono_depth_ros.backends.tflite import TFLiteBackend
            from mono_depth_ros.weights import resolve_weights

            if weights is None:
                raise ValueError(f'model {model!r} runs from its TFLite file: give weights')
            runner = TFLiteBackend(resolve_weights(spec, weights), spec,
                                   num_threads=backend_options.get('threads'))
            return cls(spec, runner, scale_policy, output_size)
        if backend == 'torch':
            from mono_depth_ros.backends.torch_backend import TorchBackend

            runner = TorchBackend(create_model(model, weights), spec, device=device,
                                  precision=precision, **backend_options)
            return cls(spec, runner, scale_policy, output_size)
        if backend == 'onnx':
            from mono_depth_ros.backends.onnx_cache import cached_onnx

            return cls._from_onnx(cached_onnx(spec, weights), model, scale_policy, output_size,
                                  input_size, backend_options)
        if backend == 'tensorrt':
            from mono_depth_ros.backends.tensorrt_backend import TensorRTBackend

            if model_file is None:
                raise ValueError(f'backend tensorrt needs model_file: build an engine on this '
                                 f'device with mono-depth export --model {model} --format '
                                 'tensorrt')
            runner = TensorRTBackend(model_file, spec, device='cuda' if device == 'auto'
                                     else device, precision=precision)
            height, width = runner.input_size
            fixed = dataclasses.replace(spec, input_policy=InputPolicy(height=height, width=width))
            return cls(fixed, runner, scale_policy, output_size)
        raise ValueError(f'unknown backend {backend!r}; allowed: {", ".join(BACKENDS)}')

    @classmethod
    def _from_onnx(cls, path, model: str, scale_policy: scale.ScalePolicy | None,
                   output_size: str, input_size: int | None,
                   backend_options: dict) -> DepthEstimator:
        from mono_depth_ros.backends.onnx_backend import OnnxBackend, spec_for_backend

        runner = OnnxBackend(path, **backend_options)
        spec = runner.spec
        if spec.name != model:
            raise ValueError(f'{path} holds model {spec.name!r}, not {model!r}; set model '
                             f'{spec.name!r} or another model_file')
        if input_size is not None:
            spec = spec.with_input_size(input_size)
        return cls(spec_for_backend(spec, runner), runner, scale_policy, output_size)

    def observe_sparse_depth(self, sparse_depth: np.ndarray, stamp: float) -> None:
        """
        Keep a sparse metric depth (NaN or 0 invalid) of the camera's view for the next frame.

        It may have any resolution of the same view: it is resampled to the prediction's.
        """
        self._sparse = (np.asarray(sparse_depth, dtype=np.float32), stamp)

    def predict(self, rgb: np.ndarray) -> Prediction:
        """
        Run the official pre-processing, the network and the official upsampling on a frame.

        ``rgb`` is an ``(H, W, 3)`` uint8 RGB frame. The prediction is in the units of the
        variant's ``output_kind``, at the output resolution; nothing is converted to metres.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or rgb.size == 0:
            raise ValueError(f'expected an (H, W, 3) uint8 RGB frame, got {rgb.dtype} '
                             f'{rgb.shape}')
        height, width = rgb.shape[:2]
        start = time.perf_counter()
        size = self.spec.input_policy.network_size(height, width)
        x = network_io.network_input(rgb, self.spec, size, self.backend.input_device)
        preprocessed = time.perf_counter()
        raw = self.backend.infer(x)
        inferred = time.perf_counter()
        out_size = (height, width) if self.output_size == 'input' else raw['depth'].shape[2:]
        prediction = network_io.upsample(raw['depth'], out_size, self.spec.processing)
        labels = device_labels = None
        if 'segm' in raw:
            device_labels = network_io.labels_at(raw['segm'], out_size, self.spec.processing)
            labels = network_io.as_numpy(device_labels)
        timings = {'preprocess': (preprocessed - start) * 1e3,
                   'inference': (inferred - preprocessed) * 1e3,
                   'postprocess': (time.perf_counter() - inferred) * 1e3}
        on_device = self.backend.input_device is not None
        return Prediction(network_input=x, prediction=network_io.as_numpy(prediction[0, 0]),
                          device_prediction=prediction[0, 0] if on_device else None,
                          device_labels=device_labels if on_device else None,
                          labels=labels, timings_ms=timings)

    def estimate(self, rgb: np.ndarray, intrinsics: Intrinsics | None = None,
                 stamp: float = 0.0) -> DepthResult:
        """
        Estimate depth for an ``(H, W, 3)`` uint8 RGB frame.

        ``stamp`` (seconds) lets time-dependent scale policies judge how fresh their scale is.
        """
        predicted = self.predict(rgb)
        start = time.perf_counter()
        prediction, labels = predicted.prediction, predicted.labels
        out_height, out_width = prediction.shape
        out_intrinsics = intrinsics.scaled(out_width, out_height) if intrinsics else None
        unscaled = scale.unscaled_depth(prediction, self.spec)
        if self._sparse is not None:
            sparse, sparse_stamp = self._sparse
            self._sparse = None
            self.scale_policy.observe_sparse_depth(resample_sparse(sparse, out_width, out_height),
                                                   sparse_stamp)
        depth = self.scale_policy.to_metres(prediction, self.spec, stamp, out_intrinsics)
        if depth is not None:
            depth = clip_depth(depth)  # NaN where not finite and positive
            if labels is not None and self._no_depth_ids.size:
                # NaN where the model sees a class without depth: 0 or NaN added per label.
                cv2.add(depth, cv2.LUT(labels, self._no_depth_offsets), dst=depth)
        device_depth = None
        if depth is not None and predicted.device_prediction is not None \
                and self.scale_policy.name == 'none':
            device_depth = self._device_metres(predicted.device_prediction,
                                               predicted.device_labels)
        timings = dict(predicted.timings_ms)
        timings['postprocess'] += (time.perf_counter() - start) * 1e3
        return DepthResult(depth=depth, unscaled_depth=unscaled, labels=labels,
                           intrinsics=out_intrinsics, scale_status=self.scale_policy.status,
                           timings_ms=timings, device_depth=device_depth)

    def _device_metres(self, prediction: torch.Tensor, labels: torch.Tensor | None
                       ) -> torch.Tensor:
        """Return a metric prediction as depth on its device, invalid pixels as on the host."""
        import torch

        depth = clip_depth_torch(prediction.float())
        if labels is not None and self._no_depth_ids.size:
            offsets = torch.from_numpy(self._no_depth_offsets).to(depth.device)
            depth = depth + offsets[labels.long()]
        return depth


def resample_sparse(sparse: np.ndarray, width: int, height: int) -> np.ndarray:
    """
    Move the valid pixels of a sparse depth image to another resolution of the same view.

    Interpolating would blend returns with holes, so each valid pixel keeps its value and lands
    on the nearest pixel of the new grid (pixel centres aligned); the nearest return wins.
    """
    if sparse.shape == (height, width):
        return sparse
    rows, cols = np.nonzero(np.isfinite(sparse) & (sparse > 0))
    u = (cols + 0.5) * width / sparse.shape[1] - 0.5
    v = (rows + 0.5) * height / sparse.shape[0] - 0.5
    return rasterize_depth(u, v, sparse[rows, cols], width, height)
