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
What a model variant is: the configuration that travels with its weights.

Every variant of the zoo is a :class:`ModelSpec`. It carries everything needed to build the
network, load its checkpoint, feed it a frame and interpret what comes out, in the spirit of timm's
pretrained configs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import json
import math
from pathlib import Path
from typing import Callable, Literal, TYPE_CHECKING

if TYPE_CHECKING:  # the runtimes without PyTorch (ONNX Runtime, TFLite) read specs too
    import torch

OutputKind = Literal['metric', 'inverse_relative', 'disparity']
OUTPUT_KINDS = ('metric', 'inverse_relative', 'disparity')
RESIZE_METHODS = ('cubic', 'lanczos', 'area')
UPSAMPLE_MODES = ('bilinear', 'bicubic')
COLOUR_ORDERS = ('RGB', 'BGR')
LABEL_UPSAMPLING = ('nearest', 'logits')


@dataclass(frozen=True)
class InputPolicy:
    """
    The size a camera frame is resized to before it enters the network.

    Three rules, each as the family's official code has it:

    - ``height`` x ``width``: that size whatever the frame (Lite-Mono: the training resolution),
      each side rounded up to a ``multiple`` of the network's stride;
    - ``short_side``: the aspect ratio kept, the shorter side scaled to ``short_side``, each side
      rounded to the nearest ``multiple`` but never below ``short_side`` (Depth Anything V2's
      ``lower_bound`` resize; an ``input_size`` option overrides ``short_side``);
    - ``height`` x ``width`` with ``keep_aspect``: the aspect ratio kept, scaled by whichever of
      ``height / H`` and ``width / W`` is closer to 1, each side rounded to the nearest
      ``multiple`` (DPT's ``minimal`` resize).

    Rounding to the nearest is numpy's (half to even), as in the official code.
    """

    height: int | None = None
    width: int | None = None
    short_side: int | None = None
    multiple: int = 1
    keep_aspect: bool = False

    def __post_init__(self) -> None:
        fixed = self.height is not None and self.width is not None
        if fixed == (self.short_side is not None):
            raise ValueError('InputPolicy needs either height and width, or short_side')
        if self.keep_aspect and not fixed:
            raise ValueError('InputPolicy keep_aspect needs height and width')

    @property
    def depends_on_frame(self) -> bool:
        """Whether the network size follows the frame's aspect ratio."""
        return self.short_side is not None or self.keep_aspect

    def network_size(self, height: int, width: int) -> tuple[int, int]:
        """Return the (height, width) fed to the network for a frame of the given size."""
        if self.short_side is not None:
            scale = self.short_side / min(height, width)
            return (self._round_nearest(height * scale, self.short_side),
                    self._round_nearest(width * scale, self.short_side))
        if self.keep_aspect:
            scale_height, scale_width = self.height / height, self.width / width
            scale = scale_width if abs(1 - scale_width) < abs(1 - scale_height) else scale_height
            return self._round_nearest(height * scale), self._round_nearest(width * scale)
        return self._round_up(self.height), self._round_up(self.width)

    def _round_up(self, value: float) -> int:
        return max(self.multiple, math.ceil(round(value, 6) / self.multiple) * self.multiple)

    def _round_nearest(self, value: float, at_least: int = 1) -> int:
        rounded = round(value / self.multiple) * self.multiple
        return rounded if rounded >= at_least else self._round_up(value)


@dataclass(frozen=True)
class Processing:
    """
    The official pre- and post-processing around a variant's network.

    ``resize`` brings the frame to the network size (:mod:`mono_depth_ros.network_io` computes
    each exactly as the named library does): ``'cubic'`` is OpenCV's ``INTER_CUBIC`` on the float
    image in [0, 1] (Depth Anything V2, DPT); ``'lanczos'`` is PIL's ``LANCZOS`` on the uint8
    image (Lite-Mono); ``'area'`` is OpenCV's ``INTER_AREA`` on the uint8 image when shrinking
    and ``INTER_LINEAR`` when enlarging (our training pipeline, and families whose official code
    feeds the frame as it is). The pixels are then divided by 255, normalised with the spec's
    ``mean`` and ``std`` and fed in ``colour_order``.

    ``upsample`` and ``align_corners`` are the ``F.interpolate`` mode that brings the depth back
    to the output size. ``labels`` says how segmentation gets there: ``'logits'`` upsamples the
    logits the same way and takes their argmax (Multi-Task RefineNet's notebooks), ``'nearest'``
    takes the argmax at the network's resolution and picks the nearest pixel.
    """

    resize: Literal['cubic', 'lanczos', 'area'] = 'area'
    colour_order: Literal['RGB', 'BGR'] = 'RGB'
    upsample: Literal['bilinear', 'bicubic'] = 'bilinear'
    align_corners: bool = False
    labels: Literal['nearest', 'logits'] = 'nearest'

    def __post_init__(self) -> None:
        for value, allowed in ((self.resize, RESIZE_METHODS), (self.upsample, UPSAMPLE_MODES),
                               (self.colour_order, COLOUR_ORDERS),
                               (self.labels, LABEL_UPSAMPLING)):
            if value not in allowed:
                raise ValueError(f'unknown processing value {value!r}; allowed: '
                                 f'{", ".join(allowed)}')


@dataclass(frozen=True)
class WeightsSource:
    """
    Where a variant's official checkpoint comes from.

    ``url`` is an https URL (``''`` when the weights ship inside the package, see ``embedded``).
    ``sha256`` is the hash of the downloaded file where it is known, or its first hex digits
    where only those are (torch.hub file names end in ``-<first 8 hex digits>.pt``). ``files``
    names the checkpoint files inside a downloaded archive or folder (Lite-Mono: ``encoder.pth``
    and ``depth.pth``); ``files_sha256`` maps those of them whose hash is known to it (an archive
    built on the fly by a file share has no stable hash of its own, the files inside do).
    """

    url: str = ''
    sha256: str | None = None
    files: tuple[str, ...] = ()
    files_sha256: dict[str, str] = field(default_factory=dict)
    file_format: Literal['torch', 'safetensors', 'zip', 'tflite'] = 'torch'
    embedded: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """
    One variant of the zoo.

    ``builder`` returns the ``torch.nn.Module`` (``None`` for runtimes without a PyTorch graph,
    such as a TFLite file). The module's ``forward(x)`` takes a normalised ``(B, 3, H, W)`` float
    tensor and returns a dict: ``'depth'`` ``(B, 1, h, w)`` in the units of ``output_kind``, and
    for segmentation models ``'segm'`` ``(B, len(classes), h, w)`` logits.

    ``no_depth_classes`` are segmentation classes that have no depth (the sky): the estimator
    marks their pixels invalid, so clouds hold no points there. ``has_depth`` is False for
    segmentation-only variants, whose ``forward`` returns ``'segm'`` alone (they train, export
    and distil, but the estimator needs depth).

    Trainable modules also split into an encoder and a head, for ``mono-depth train
    --freeze-encoder`` and ``--feature-cache``: ``encoder_names`` (their child modules that form
    the encoder), ``forward_encoder(x)`` (a list of tensors) and ``forward_head(features,
    (H, W))`` (what ``forward`` returns); modules whose depth head predicts log-depth and clamps
    it in ``forward`` add ``head_log_depth(features, (H, W))`` (``'log_depth'`` unclamped).

    ``load_checkpoint(module, path)`` loads the official checkpoint (a file, or a folder holding
    ``weights.files``) strictly into the module.
    """

    name: str
    family: str
    builder: Callable[[], torch.nn.Module] | None
    input_policy: InputPolicy
    output_kind: OutputKind
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    processing: Processing = Processing()
    min_depth: float = 0.1
    max_depth: float = 100.0
    classes: tuple[str, ...] = ()
    no_depth_classes: tuple[str, ...] = ()
    has_depth: bool = True
    weights: WeightsSource | None = None
    load_checkpoint: Callable[[torch.nn.Module, Path], None] | None = None
    backend: Literal['torch', 'tflite'] = 'torch'
    license_terms: str = ''
    source: str = ''
    paper: str = ''
    reported: str = ''
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.output_kind not in OUTPUT_KINDS:
            raise ValueError(f'{self.name}: output_kind must be one of {OUTPUT_KINDS}')
        unknown = set(self.no_depth_classes) - set(self.classes)
        if unknown:
            raise ValueError(f'{self.name}: no_depth_classes {sorted(unknown)} are not classes')
        if not self.has_depth and not self.classes:
            raise ValueError(f'{self.name}: a variant without depth needs classes')

    @property
    def has_segmentation(self) -> bool:
        """Whether the variant predicts per-pixel classes."""
        return bool(self.classes)

    def with_input_size(self, short_side: int) -> ModelSpec:
        """
        Return this variant fed frames resized to another short side (detail against speed).

        Only for variants that resize frames by their short side (Depth Anything V2); the size
        must be a positive multiple of the network's patch size.
        """
        policy = self.input_policy
        if policy.keep_aspect:
            raise ValueError(f'input_size applies to models that resize frames by their short '
                             f'side (Depth Anything V2); {self.name} resizes them near '
                             f'{policy.width}x{policy.height} keeping their aspect ratio '
                             "(DPT's own rule): for a smaller input choose a reduced variant "
                             '(a reduced DPT variant such as dpt-hybrid-kitti-r)')
        if policy.short_side is None:
            raise ValueError(f'input_size applies to models that resize frames by their short '
                             f'side (Depth Anything V2); {self.name} takes a fixed '
                             f'{policy.width}x{policy.height} input')
        if short_side < policy.multiple or short_side % policy.multiple:
            raise ValueError(f'input_size {short_side} for {self.name} must be a positive '
                             f'multiple of {policy.multiple} (for example '
                             f'{max(1, round(short_side / policy.multiple)) * policy.multiple}; '
                             f'the model was trained at {policy.short_side})')
        return dataclasses.replace(self, input_policy=dataclasses.replace(
            policy, short_side=short_side))


# Fields that hold code, not data: a spec read back from JSON has none (it runs from a file).
_CODE_FIELDS = ('builder', 'load_checkpoint')


def spec_to_json(spec: ModelSpec) -> str:
    """
    Return the data of ``spec`` as JSON: everything but its builder and checkpoint loader.

    Exported files carry it (ONNX metadata), so that a runtime without PyTorch knows how to
    feed the network and read what comes out without importing the model zoo. Values of
    ``extra`` that are not plain data are written as their fields (dataclasses) or text.
    """
    def encode(value):
        if dataclasses.is_dataclass(value):
            fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)
                      if f.name not in _CODE_FIELDS}
            if type(value) is _DATACLASSES.get(type(value).__name__):
                fields['__dataclass__'] = type(value).__name__
            return fields  # another family's configuration (in extra) reads back as a dict
        if isinstance(value, (tuple, list)):
            return [encode(item) for item in value]
        if isinstance(value, dict):
            return {str(key): encode(item) for key, item in value.items()}
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        return str(value)

    return json.dumps(encode(spec), sort_keys=True)


def spec_from_json(text: str) -> ModelSpec:
    """Rebuild the :class:`ModelSpec` of :func:`spec_to_json` (no builder: a file runs it)."""
    def decode(value):
        if isinstance(value, dict):
            fields = {key: decode(item) for key, item in value.items()}
            kind = fields.pop('__dataclass__', None)
            if kind is None:
                return fields
            cls = _DATACLASSES.get(kind)
            if cls is None:
                raise ValueError(f'unknown spec part {kind!r}; known: {", ".join(_DATACLASSES)}')
            known = {f.name for f in dataclasses.fields(cls)}
            code = {name: None for name in _CODE_FIELDS if name in known}
            return cls(**code, **{key: item for key, item in fields.items() if key in known})
        if isinstance(value, list):
            return tuple(decode(item) for item in value)
        return value

    spec = decode(json.loads(text))
    if not isinstance(spec, ModelSpec):
        raise ValueError('the JSON does not describe a ModelSpec')
    return spec


_DATACLASSES = {cls.__name__: cls for cls in (InputPolicy, Processing, WeightsSource, ModelSpec)}
