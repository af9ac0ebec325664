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
A U-Net with Feature Fusion Module decoder blocks on a MobileNetV3 encoder.

Study: "A Simple Baseline for Fast and Accurate Depth Estimation on Mobile Devices" (Mobile AI
workshop, CVPR 2021), re-implemented for segmentation on CamVid with logit distillation from a
ResNet-101 U-Net. What is kept here:

- Encoder: the project's MobileNetV3 encoder (``mobilenet.MobileNetV3Encoder``), features at
  strides 2, 4, 8, 16 and 32. The study used timm's ``mobilenetv3_rw`` (a MobileNetV3-Large
  pretrained on ImageNet); no pretrained weights can be loaded here either way, and the smaller
  layout is the one the default model already trains from scratch on a CPU.
- Decoder: five blocks of 256, 128, 64, 32 and 16 channels, each upsampling by two and fusing the
  encoder feature of its resolution through a Feature Fusion Module (:class:`FeatureFusion`);
  the last block reaches full resolution, where there is no encoder feature to fuse.
- Heads: a 1x1 convolution per task on the full-resolution features: log-depth (clamped to
  ``[min_depth, max_depth]`` before the exponential, as the default model does) and segmentation
  logits over the synthetic scenes' classes. Either head can be left out (``depth=False`` or
  ``num_classes=0``).

Inputs are multiples of 32 (five halvings). No pretrained weights exist: the variants are trained
with ``mono-depth train`` and run from the resulting file (``weights:=/path/to/file``).
"""
from __future__ import annotations

from functools import partial
import math
from pathlib import Path
from typing import Sequence

from mono_depth_ros.data.synthetic import CLASSES
from mono_depth_ros.models.mobilenet import conv_bn, MobileNetV3Encoder
from mono_depth_ros.models.spec import InputPolicy, ModelSpec
from mono_depth_ros.weights import load_state_dict_strict, read_checkpoint
import torch
from torch import nn

DECODER_CHANNELS = (256, 128, 64, 32, 16)
STRIDE = 2 ** len(DECODER_CHANNELS)


def separable(in_channels: int, out_channels: int) -> nn.Sequential:
    """Return a depthwise-separable 3x3 convolution: depthwise 3x3 then pointwise, BN + ReLU."""
    return nn.Sequential(conv_bn(in_channels, in_channels, 3, groups=in_channels, act=nn.ReLU),
                         conv_bn(in_channels, out_channels, 1, act=nn.ReLU))


class FeatureFusion(nn.Module):
    """
    One decoder block: upsample the coarser feature by two and fuse the encoder skip (the FFM).

    The coarser feature goes through a 1x1 convolution, a 1x1 transposed convolution of stride
    two (each input pixel lands on every other output pixel) and a depthwise-separable
    convolution (which fills the pixels in between); the skip through a 1x1 convolution. Both
    are concatenated and fused by a depthwise-separable and a 1x1 convolution. Without a skip
    (``skip_channels=0``) the upsampled feature goes straight to the fusion.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.reduce = conv_bn(in_channels, out_channels, 1, act=nn.ReLU)
        self.upsample = nn.ConvTranspose2d(out_channels, out_channels, 1, stride=2,
                                           output_padding=1, bias=False)
        self.smooth = separable(out_channels, out_channels)
        self.skip = conv_bn(skip_channels, out_channels, 1, act=nn.ReLU) if skip_channels else None
        fused = 2 * out_channels if skip_channels else out_channels
        self.fuse = nn.Sequential(separable(fused, out_channels),
                                  conv_bn(out_channels, out_channels, 1, act=nn.ReLU))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        """Return the fused feature at twice the resolution of ``x`` (that of ``skip``)."""
        x = self.smooth(self.upsample(self.reduce(x)))
        if self.skip is not None:
            x = torch.cat((x, self.skip(skip)), dim=1)
        return self.fuse(x)


class UNetFFM(nn.Module):
    """
    MobileNetV3 U-Net with FFM decoder blocks; depth, segmentation or both at full resolution.

    ``forward(x)`` maps a normalised ``(B, 3, H, W)`` batch (H and W multiples of 32) to
    ``{'depth': (B, 1, H, W) metres, 'segm': (B, C, H, W) logits}``, with only the heads built.
    """

    encoder_names = ('encoder',)

    def __init__(self, num_classes: int = len(CLASSES), depth: bool = True,
                 decoder_channels: Sequence[int] = DECODER_CHANNELS, min_depth: float = 0.1,
                 max_depth: float = 20.0) -> None:
        super().__init__()
        if not depth and num_classes < 1:
            raise ValueError('UNetFFM needs a depth head (depth=True), a segmentation head '
                             '(num_classes >= 1), or both')
        if not 0 < min_depth < max_depth:
            raise ValueError(f'need 0 < min_depth < max_depth, got {min_depth} and {max_depth}')
        self.encoder = MobileNetV3Encoder()
        skips = self.encoder.pyramid_channels[-2::-1] + [0]  # strides 16, 8, 4, 2, then none
        if len(decoder_channels) != len(skips):
            raise ValueError(f'UNetFFM has {len(skips)} decoder blocks, got '
                             f'{len(decoder_channels)} widths: {tuple(decoder_channels)}')
        widths = [self.encoder.pyramid_channels[-1], *decoder_channels]
        self.decoder = nn.ModuleList(FeatureFusion(widths[i], skip, widths[i + 1])
                                     for i, skip in enumerate(skips))
        self.log_min_depth, self.log_max_depth = math.log(min_depth), math.log(max_depth)
        self.depth = nn.Conv2d(widths[-1], 1, 1) if depth else None
        self.segm = nn.Conv2d(widths[-1], num_classes, 1) if num_classes else None
        if self.depth is not None:
            nn.init.constant_(self.depth.bias, math.log(2.0))  # start near 2 m

    def forward_encoder(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the encoder's five feature maps (strides 2 to 32), finest first."""
        height, width = x.shape[-2:]
        if height % STRIDE or width % STRIDE:
            raise ValueError(f'unet-ffm needs a height and width that are multiples of {STRIDE}, '
                             f"got {height}x{width}; resize the input with the variant's "
                             'InputPolicy')
        return self.encoder.pyramid(x)

    def head_log_depth(self, features: list[torch.Tensor],
                       size: Sequence[int]) -> dict[str, torch.Tensor]:
        """Return ``{'log_depth', 'segm'}`` (the heads built) before the clamp."""
        x = features[-1]
        skips = features[-2::-1] + [None]
        for block, skip in zip(self.decoder, skips):
            x = block(x, skip)
        out = {}
        if self.depth is not None:
            out['log_depth'] = self.depth(x)
        if self.segm is not None:
            out['segm'] = self.segm(x)
        return out

    def forward_head(self, features: list[torch.Tensor],
                     size: Sequence[int]) -> dict[str, torch.Tensor]:
        """Map the encoder's features to depth in metres and/or segmentation logits."""
        out = self.head_log_depth(features, size)
        if 'log_depth' in out:
            log_depth = out.pop('log_depth').clamp(self.log_min_depth, self.log_max_depth)
            out['depth'] = torch.exp(log_depth)
        return out

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predict for a normalised batch; see the class docstring."""
        return self.forward_head(self.forward_encoder(x), x.shape[-2:])


def load_checkpoint(module: UNetFFM, path: Path) -> None:
    """Load a ``mono-depth train`` checkpoint (``.safetensors`` or ``.pth``) strictly."""
    heads = '+'.join(name for name in ('depth', 'segm') if getattr(module, name) is not None)
    load_state_dict_strict(module, read_checkpoint(path), model=f'unet-ffm-mnv3 ({heads})',
                           source=path)


PAPER = ('A Simple Baseline for Fast and Accurate Depth Estimation on Mobile Devices, Mobile AI '
         'workshop at CVPR 2021 (architecture; the segmentation re-implementation distils a '
         'ResNet-101 U-Net with T = 20, alpha = 0.7)')
SOURCE = ('mono_depth_ros (no pretrained weights: train with mono-depth train and pass the '
          'file as weights)')


def _spec(name: str, depth: bool) -> ModelSpec:
    return ModelSpec(
        name=name,
        family='unet-ffm',
        builder=partial(UNetFFM, depth=depth),
        input_policy=InputPolicy(height=240, width=320, multiple=STRIDE),
        output_kind='metric',
        min_depth=0.1,
        max_depth=20.0,
        classes=CLASSES,
        no_depth_classes=('sky',) if depth else (),
        has_depth=depth,
        weights=None,
        load_checkpoint=load_checkpoint,
        license_terms='Apache-2.0',
        source=SOURCE,
        paper=PAPER,
    )


SPECS = (_spec('unet-ffm-mnv3', depth=True), _spec('unet-ffm-mnv3-seg', depth=False))
