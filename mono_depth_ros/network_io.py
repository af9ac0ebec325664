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
Network input and output: each family's official pre- and post-processing.

A variant's :class:`~mono_depth_ros.models.spec.Processing` names the operations; this module
computes them. :func:`network_input` turns an RGB frame into the normalised network input and
:func:`upsample` brings a prediction back to the output size. Both take numpy arrays (PyTorch is
not imported for them: the ONNX Runtime and TFLite paths run without it) or torch tensors on any
device, and give the same numbers either way (within float32 rounding; upsampling as said
below), so a GPU path can run the whole pipeline on the device:

- ``cubic``: OpenCV's ``INTER_CUBIC`` (a = -0.75, half-pixel centres, replicated border) on the
  float64 image: OpenCV itself for numpy frames; on a device, its single-precision sample
  positions and coefficients (they move the result by up to 1e-4 against ``F.interpolate``'s
  bicubic, so that is not used), within 1e-6;
- ``lanczos``: PIL's ``LANCZOS`` on the uint8 image, bit-exact: PIL's coefficient table, its
  22-bit fixed-point arithmetic and its rounding after each of the two passes;
- ``area``: OpenCV's ``INTER_AREA`` when shrinking, ``INTER_LINEAR`` otherwise, on the uint8 image
  (OpenCV computes it on the CPU; only the smaller resized frame goes to the device).

Upsampling is ``F.interpolate``: itself on tensors; on numpy predictions without ``align_corners``
OpenCV's resize (the same samples and weights, its positions rounded otherwise: see
:func:`resize_opencv`), with ``align_corners`` its taps.

Each resize computed here (and upsampling with ``align_corners`` on numpy) is separable: a table
of source indices and weights per axis (cached), applied as gathers of whole rows, the fast
direction for numpy and on every device.
"""
from __future__ import annotations

from functools import lru_cache
import threading
from typing import TYPE_CHECKING, Union

import cv2
from mono_depth_ros.models.spec import ModelSpec, Processing
import numpy as np

if TYPE_CHECKING:
    import torch

Array = Union[np.ndarray, 'torch.Tensor']

# PIL's fixed point for 8-bit images: 32 bits less 8 for the pixel and 2 for overshoot.
PIL_PRECISION_BITS = 22
LANCZOS_SUPPORT = 3.0
CUBIC_A = np.float32(-0.75)  # the cubic convolution kernel of OpenCV and PyTorch


def network_input(rgb: Array, spec: ModelSpec, size: tuple[int, int],
                  device: torch.device | str | None = None) -> Array:
    """
    Return the normalised ``(1, 3, h, w)`` float32 network input of an RGB frame.

    ``rgb`` is an ``(H, W, 3)`` uint8 RGB frame, a numpy array or a tensor on any device;
    ``size`` is the network's ``(h, w)``. The frame is resized by ``spec.processing.resize``,
    scaled to [0, 1], normalised with ``spec.mean`` and ``spec.std`` and put in the channel
    order of ``spec.processing.colour_order``. A numpy frame without ``device`` gives a numpy
    array; otherwise the result is a tensor on ``device`` (default: the frame's), where the frame
    goes as uint8 before any arithmetic.
    """
    processing = spec.processing
    if device is None and not isinstance(rgb, np.ndarray):
        device = rgb.device
    if processing.resize == 'area':
        rgb = resize_area(as_numpy(rgb), size)
    if device is not None:
        rgb = _to_tensor(rgb, device)
    if processing.resize == 'lanczos':
        rgb = resize_lanczos(rgb, size)
    # Normalisation is affine per channel and the cubic weights sum to one, so normalising first
    # (a table lookup on uint8) and resizing the float image gives the official
    # resize-then-normalise within float32 rounding.
    if processing.resize == 'cubic' and isinstance(rgb, np.ndarray):
        image = _resize_cubic_opencv(rgb, spec, size)
    else:
        image = normalise_uint8(rgb, spec)
        if processing.resize == 'cubic':
            image = resize_cubic(image, size)
    if processing.colour_order == 'BGR':
        image = image[::-1] if isinstance(image, np.ndarray) else image.flip(0)
    return _contiguous(image[None])


def normalise_uint8(rgb: Array, spec: ModelSpec) -> Array:
    """
    Map an ``(H, W, 3)`` uint8 frame to ``(3, H, W)`` float32 ``(value / 255 - mean) / std``.

    The 256 values of each channel are computed once in float64 and looked up (with OpenCV on
    numpy frames, one plane at a time: eight times numpy's gather at 640x480).
    """
    table = normalisation_table(tuple(spec.mean), tuple(spec.std))
    if isinstance(rgb, np.ndarray):
        image = np.empty((3, *rgb.shape[:2]), np.float32)
        for channel, plane in enumerate(cv2.split(np.ascontiguousarray(rgb))):
            cv2.LUT(plane, table[channel], dst=image[channel])
        return image
    import torch

    planes = rgb.permute(2, 0, 1).reshape(3, -1).long()
    lookup = torch.from_numpy(table).to(rgb.device)
    return torch.gather(lookup, 1, planes).reshape(3, *rgb.shape[:2])


@lru_cache(maxsize=16)
def normalisation_table(mean: tuple[float, ...], std: tuple[float, ...],
                        dtype: type = np.float32) -> np.ndarray:
    """Return the ``(3, 256)`` normalised value of every uint8 level per channel."""
    levels = np.arange(256, dtype=np.float64) / 255.0
    table = (levels[None] - np.asarray(mean)[:, None]) / np.asarray(std)[:, None]
    return table.astype(dtype)


def _resize_cubic_opencv(rgb: np.ndarray, spec: ModelSpec, size: tuple[int, int]) -> np.ndarray:
    """
    Return the normalised ``(3, h, w)`` float32 cubic resize of a numpy frame, by OpenCV.

    On the CPU OpenCV's float64 resize is the official operation and faster than the taps.
    """
    table = normalisation_table(tuple(spec.mean), tuple(spec.std), np.float64)
    image = np.stack([table[channel][rgb[..., channel]] for channel in range(3)], axis=2)
    if image.shape[:2] != tuple(size):
        image = cv2.resize(image, size[::-1], interpolation=cv2.INTER_CUBIC)
    return image.reshape(*size, 3).transpose(2, 0, 1).astype(np.float32)


def resize_cubic(image: Array, size: tuple[int, int]) -> Array:
    """
    Resize a ``(C, H, W)`` float image to ``size`` as ``cv2.resize(INTER_CUBIC)`` does on float64.

    OpenCV's own float32 resize is not used: its vectorised path moves values by up to 1e-4.
    """
    height, width = size
    return _separable(image, cubic_taps(image.shape[1], height),
                      cubic_taps(image.shape[2], width), _weighted_rows)


@lru_cache(maxsize=64)
def cubic_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Return OpenCV's ``INTER_CUBIC`` source indices and weights, both ``(out_size, 4)``.

    OpenCV computes the sample position and the four weights in single precision, clamps the
    indices to the image (replicated border) and makes the last weight one minus the others.
    """
    scale = 1.0 / (out_size / in_size)
    position = ((np.arange(out_size) + 0.5) * scale - 0.5).astype(np.float32)
    start = np.floor(position)
    x = position - start
    one = np.float32(1)
    w0, w1, w2 = _cubic_outer(x + one), _cubic_inner(x), _cubic_inner(one - x)
    w3 = one - w0 - w1 - w2
    indices = np.clip(start.astype(np.int64)[:, None] + np.arange(-1, 3), 0, in_size - 1)
    return indices, np.stack([w0, w1, w2, w3], axis=1).astype(np.float32)


def resize_lanczos(rgb: Array, size: tuple[int, int]) -> Array:
    """
    Resize an ``(H, W, 3)`` uint8 image to ``size`` as PIL's ``LANCZOS`` does, bit for bit.

    Two passes, horizontal then vertical as in Pillow up to 12, each in PIL's 22-bit fixed
    point and rounded to uint8. (Pillow 13 runs the vertical pass first for some sizes that
    enlarge one side, which moves some values by a level; never when both sides shrink.)
    """
    height, width = size
    if tuple(rgb.shape[:2]) == (height, width):
        return rgb
    if isinstance(rgb, np.ndarray):
        image = rgb.transpose(2, 0, 1).astype(np.int32)
    else:
        image = rgb.permute(2, 0, 1).int()
    resized = _separable(image, lanczos_taps(image.shape[1], height),
                         lanczos_taps(image.shape[2], width), _fixed_point_rows)
    if isinstance(resized, np.ndarray):
        return np.ascontiguousarray(resized.astype(np.uint8).transpose(1, 2, 0))
    return resized.byte().permute(1, 2, 0)


@lru_cache(maxsize=64)
def lanczos_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Return PIL's Lanczos-3 taps: source indices and 22-bit integer weights, ``(out_size, k)``.

    As PIL's ``precompute_coeffs``: the filter is widened by the shrink factor, its window is
    rounded and clipped to the image, the weights are normalised to sum to one in double
    precision and then rounded half away from zero to fixed point. Unused taps weigh zero.
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = LANCZOS_SUPPORT * filter_scale
    count = int(np.ceil(support)) * 2 + 1
    centre = (np.arange(out_size) + 0.5) * scale
    first = np.maximum(np.trunc(centre - support + 0.5), 0).astype(np.int64)
    last = np.minimum(np.trunc(centre + support + 0.5).astype(np.int64), in_size)
    offsets = np.arange(count)
    used = offsets[None] < (last - first)[:, None]
    weights = np.where(used, _lanczos((first[:, None] + offsets - centre[:, None] + 0.5)
                                      * (1.0 / filter_scale)), 0.0)
    total = np.zeros((out_size, 1))
    for column in weights.T:  # in PIL's order: a pairwise sum may differ in the last bit
        total[:, 0] += column
    weights = np.divide(weights, total, out=weights, where=total != 0)
    scaled = weights * (1 << PIL_PRECISION_BITS)
    fixed = np.trunc(scaled + np.where(scaled < 0, -0.5, 0.5)).astype(np.int32)
    indices = np.minimum(first[:, None] + offsets, in_size - 1)
    return indices, fixed


def _lanczos(x: np.ndarray) -> np.ndarray:
    """Return PIL's truncated sinc: ``sinc(x) * sinc(x / 3)`` on ``[-3, 3)``, zero elsewhere."""
    inside = (x >= -LANCZOS_SUPPORT) & (x < LANCZOS_SUPPORT)
    return np.where(inside, np.sinc(x) * np.sinc(x / LANCZOS_SUPPORT), 0.0)


def resize_area(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``(H, W, 3)`` uint8 frame with ``INTER_AREA`` when shrinking, else linear."""
    height, width = size
    if rgb.shape[:2] == (height, width):
        return rgb
    shrinking = height * width < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (width, height),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def upsample(prediction: Array, size: tuple[int, int], processing: Processing) -> Array:
    """
    Resize a ``(B, C, h, w)`` float32 prediction to ``size`` with the variant's interpolation.

    ``F.interpolate(mode=processing.upsample, align_corners=processing.align_corners)``: itself
    for tensors; for numpy arrays OpenCV's resize without ``align_corners`` (see
    :func:`resize_opencv`), else the same taps as two gathers of rows (equal within float32
    rounding).
    """
    height, width = size
    batch, channels = prediction.shape[:2]
    if tuple(prediction.shape[2:]) == (height, width):
        return prediction
    mode, corners = processing.upsample, processing.align_corners
    if not isinstance(prediction, np.ndarray):
        import torch.nn.functional as F

        return F.interpolate(prediction, size=size, mode=mode, align_corners=corners)
    planes = prediction.reshape(batch * channels, *prediction.shape[2:])
    if not corners:
        resized = np.stack([resize_opencv(plane, size, mode) for plane in planes])
    else:
        resized = _separable(planes, interpolation_taps(planes.shape[1], height, mode, corners),
                             interpolation_taps(planes.shape[2], width, mode, corners),
                             _weighted_rows, any_order=True)
    return resized.reshape(batch, channels, height, width)


OPENCV_INTERPOLATION = {'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC}


def resize_opencv(plane: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """
    Return OpenCV's resize of a float32 ``(h, w)`` plane to ``size`` (H, W), ``mode`` as named.

    The samples and weights of ``F.interpolate(mode=mode, align_corners=False)`` (``bicubic``:
    a = -0.75, replicated border) in one pass: to 640x480 in 0.18 ms against 1.8 ms (bilinear,
    from 224x224) and 3.3 ms (bicubic, from 240x320) for the taps. OpenCV computes each sample
    position in double precision and PyTorch in single, so a value moves by up to a float32 step
    of its position (about 1.2e-7 of the source size) times the kernel's slope and the step
    between neighbours: bilinear 1.5e-5 of that step from 224 pixels, 1.2e-4 from 1242; bicubic
    2.3e-5 and 1.8e-4 (measured): 2 mm across a 10 m edge at most.
    """
    height, width = size
    resized = cv2.resize(plane, (width, height), interpolation=OPENCV_INTERPOLATION[mode])
    return resized.reshape(size)


@lru_cache(maxsize=64)
def interpolation_taps(in_size: int, out_size: int, mode: str,
                       align_corners: bool) -> tuple[np.ndarray, np.ndarray]:
    """
    Return ``F.interpolate``'s taps along one axis: indices and float32 weights, ``(out, k)``.

    As PyTorch computes them: the scale in single precision, the sample position from it
    (clamped at zero for ``bilinear`` without ``align_corners``); two linear weights, or four
    cubic ones (a = -0.75) with indices clamped to the image.
    """
    one = np.float32(1)
    target = np.arange(out_size, dtype=np.float64)
    if align_corners:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1) if out_size > 1 else 0
        position = (np.float64(scale) * target).astype(np.float32)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
        position = (np.float64(scale) * (target + 0.5) - 0.5).astype(np.float32)
    if mode == 'bilinear':
        position = np.maximum(position, 0)
        start = position.astype(np.int64)
        fraction = position - start.astype(np.float32)
        indices = np.stack([start, np.minimum(start + 1, in_size - 1)], axis=1)
        return indices, np.stack([one - fraction, fraction], axis=1)
    start = np.floor(position)
    t = position - start
    weights = np.stack([_cubic_outer(t + one), _cubic_inner(t), _cubic_inner(one - t),
                        _cubic_outer((one - t) + one)], axis=1)
    indices = np.clip(start.astype(np.int64)[:, None] + np.arange(-1, 3), 0, in_size - 1)
    return indices, weights.astype(np.float32)


def _cubic_inner(x: np.ndarray) -> np.ndarray:
    """Return the cubic convolution kernel on [0, 1] (a = -0.75)."""
    return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + np.float32(1)


def _cubic_outer(x: np.ndarray) -> np.ndarray:
    """Return the cubic convolution kernel on [1, 2] (a = -0.75)."""
    return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A


def labels_at(logits: Array, size: tuple[int, int], processing: Processing) -> Array:
    """
    Return the ``(H, W)`` uint8 class ids of ``(1, C, h, w)`` logits at the output ``size``.

    ``processing.labels`` ``'logits'`` upsamples the logits as the depth, then takes the argmax
    (the Multi-Task RefineNet notebooks); ``'nearest'`` takes the argmax at the network's
    resolution and picks the nearest pixel as ``cv2.INTER_NEAREST`` does.
    """
    if processing.labels == 'logits':
        return argmax_classes(upsample(logits, size, processing)[0])
    labels = argmax_classes(logits[0])
    rows = _like(nearest_indices(labels.shape[0], size[0]), labels)
    columns = _like(nearest_indices(labels.shape[1], size[1]), labels)
    return labels[rows][:, columns]


def argmax_classes(logits: Array) -> Array:
    """
    Return the ``(h, w)`` uint8 index of the largest of ``(classes, h, w)`` logits.

    Same result as ``logits.argmax(0)`` (the first of equal maxima), several times faster on the
    CPU: a running maximum reads each class plane contiguously instead of striding across them.
    """
    if isinstance(logits, np.ndarray):
        best, maximum = logits[0].copy(), np.maximum
        labels = np.zeros(best.shape, np.uint8)
    else:
        import torch

        best, maximum = logits[0].clone(), torch.maximum
        labels = torch.zeros(best.shape, dtype=torch.uint8, device=logits.device)
    for index in range(1, len(logits)):
        labels[logits[index] > best] = index
        maximum(best, logits[index], out=best)
    return labels


@lru_cache(maxsize=64)
def nearest_indices(in_size: int, out_size: int) -> np.ndarray:
    """Return ``cv2.INTER_NEAREST``'s source index of every output pixel along one axis."""
    scale = 1.0 / (out_size / in_size)
    return np.minimum(np.floor(np.arange(out_size) * scale).astype(np.int64), in_size - 1)


def _fixed_point_rows(image: Array, indices: Array, weights: Array) -> Array:
    """Resample the rows of an int32 ``(C, N, M)`` image as one PIL pass: sum, round, clip."""
    total = image[:, indices[:, 0]] * weights[:, 0, None] + (1 << (PIL_PRECISION_BITS - 1))
    for tap in range(1, indices.shape[1]):
        total += image[:, indices[:, tap]] * weights[:, tap, None]
    return (total >> PIL_PRECISION_BITS).clip(0, 255)


def _weighted_rows(image: Array, indices: Array, weights: Array) -> Array:
    """Return the weighted sums of rows of a float ``(C, N, M)`` image, in tap order."""
    total = image[:, indices[:, 0]]
    total *= weights[:, 0, None]  # in place: the same operations, no temporaries
    for tap in range(1, indices.shape[1]):
        part = image[:, indices[:, tap]]
        part *= weights[:, tap, None]
        total += part
    return total


def _separable(image: Array, row_taps: tuple[np.ndarray, np.ndarray],
               column_taps: tuple[np.ndarray, np.ndarray], rows_pass,
               any_order: bool = False) -> Array:
    """
    Resample a ``(C, H, W)`` image horizontally, then vertically; a side kept is not touched.

    Each pass gathers whole rows, so the horizontal pass runs on the transposed image.
    ``any_order`` (float passes, where the order only moves float rounding) lets the pass
    with the smaller result go first: enlarging 224x224 to 640x480, the vertical one.
    """
    height, width = len(row_taps[0]), len(column_taps[0])
    vertical_first = any_order and height * image.shape[2] < image.shape[1] * width
    if vertical_first and image.shape[1] != height:
        image = rows_pass(image, *(_like(table, image) for table in row_taps))
    if image.shape[2] != width:
        indices, weights = (_like(table, image) for table in column_taps)
        image = rows_pass(_contiguous(image.swapaxes(1, 2)), indices, weights)
        image = _contiguous(image.swapaxes(1, 2))
    if image.shape[1] != height:
        image = rows_pass(image, *(_like(table, image) for table in row_taps))
    return image


def _like(table: np.ndarray, image: Array) -> Array:
    """Return a numpy table as the kind of array ``image`` is (a tensor on its device)."""
    if isinstance(image, np.ndarray):
        return table
    import torch

    return torch.from_numpy(table).to(image.device)


def _contiguous(image: Array) -> Array:
    return np.ascontiguousarray(image) if isinstance(image, np.ndarray) else image.contiguous()


def _to_tensor(rgb: Array, device: torch.device | str) -> torch.Tensor:
    import torch

    if isinstance(rgb, np.ndarray):
        if torch.device(device).type == 'cuda':
            return _upload_pinned(rgb, torch.device(device))
        rgb = torch.from_numpy(np.ascontiguousarray(rgb))
    return rgb.to(device)


_STAGING = threading.local()


def _upload_pinned(frame: np.ndarray, device: torch.device) -> torch.Tensor:
    """
    Copy a frame to a CUDA device through a page-locked buffer of this thread, reused.

    The copy runs asynchronously on the current stream; the buffer is written again only once
    the previous copy out of it has finished.
    """
    import torch

    staging = getattr(_STAGING, 'buffers', None)
    if staging is None:
        staging = _STAGING.buffers = {}
    key = (frame.shape, frame.dtype.str, str(device))
    if key not in staging:
        staging.clear()  # one frame size at a time: nothing kept for an older size
        staging[key] = (torch.empty(frame.shape, dtype=torch.from_numpy(frame[:0]).dtype,
                                    pin_memory=True), torch.cuda.Event())
    buffer, copied = staging[key]
    copied.synchronize()
    np.copyto(buffer.numpy(), frame)
    on_device = buffer.to(device, non_blocking=True)
    copied.record(torch.cuda.current_stream(device))
    return on_device


def as_numpy(array: Array) -> np.ndarray:
    """Return a numpy array as it is, or a tensor copied to the CPU as one."""
    return array if isinstance(array, np.ndarray) else array.cpu().numpy()
