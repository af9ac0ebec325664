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
MobileNet building blocks and the MobileNetV3 encoder that several families share.

Inverted residuals (Sandler et al., MobileNetV2, CVPR 2018) with the squeeze-excitation and
hard-swish of MobileNetV3 (Howard et al., "Searching for MobileNetV3", ICCV 2019). This module is
not a family of its own: the joint RefineNet (``joint_refinenet.py``) and the feature-fusion U-Net
(``unet_ffm.py``) build their encoders from it, so their checkpoints keep the same key names.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
            groups: int = 1, act: type[nn.Module] | None = nn.ReLU6) -> nn.Sequential:
    """Return convolution (no bias), batch norm and, unless ``act`` is None, the activation."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                        padding=kernel_size // 2, groups=groups, bias=False),
              nn.BatchNorm2d(out_channels)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def round_channels(value: float, divisor: int = 8) -> int:
    """Round a width to a multiple of ``divisor`` without losing more than 10% (MobileNet rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class SqueezeExcite(nn.Module):
    """Channel attention of MobileNetV3: global pooling, bottleneck, hard-sigmoid gate."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of ``x`` by its gate."""
        gate = F.adaptive_avg_pool2d(x, 1)
        gate = self.expand(F.relu(self.reduce(gate)))
        return x * F.hardsigmoid(gate)


class InvertedResidual(nn.Module):
    """
    Inverted residual (MobileNet-v2): 1x1 expand, depthwise, optional SE, 1x1 linear project.

    The layers sit in ``output`` (the official Multi-Task RefineNet's name); the input is added
    back when the block keeps the resolution and the width.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: int, stride: int = 1,
                 kernel_size: int = 3, act: type[nn.Module] = nn.ReLU6,
                 se: bool = False) -> None:
        super().__init__()
        self.residual = in_channels == out_channels and stride == 1
        layers = [conv_bn(in_channels, hidden, 1, act=act),
                  conv_bn(hidden, hidden, kernel_size, stride=stride, groups=hidden, act=act)]
        if se:
            layers.append(SqueezeExcite(hidden, round_channels(hidden / 4)))
        layers.append(conv_bn(hidden, out_channels, 1, act=None))
        self.output = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        out = self.output(x)
        return out + x if self.residual else out


# kernel, hidden width, output width, squeeze-excite, hard-swish, stride (MobileNetV3-Small).
MNV3_SMALL = (
    ((3, 16, 16, True, False, 2),),                                     # 1/4
    ((3, 72, 24, False, False, 2), (3, 88, 24, False, False, 1)),        # 1/8
    ((5, 96, 40, True, True, 2), (5, 240, 40, True, True, 1),            # 1/16
     (5, 240, 40, True, True, 1), (5, 120, 48, True, True, 1),
     (5, 144, 48, True, True, 1)),
    ((5, 288, 96, True, True, 2), (5, 576, 96, True, True, 1),           # 1/32
     (5, 576, 96, True, True, 1)),
)


class MobileNetV3Encoder(nn.Module):
    """
    MobileNetV3-style encoder: a stride-2 hard-swish stem, then one stage per further stride.

    ``forward`` returns the stages' features at strides 4, 8, 16 and 32 (``channels``);
    :meth:`pyramid` also returns the stem's at stride 2 first (``pyramid_channels``), for
    decoders that go back to full resolution.
    """

    def __init__(self, layout: Sequence[Sequence[tuple]] = MNV3_SMALL,
                 stem_channels: int = 16) -> None:
        super().__init__()
        self.stem = conv_bn(3, stem_channels, 3, stride=2, act=nn.Hardswish)
        in_channels = stem_channels
        stages = []
        self.channels = []
        for stage in layout:
            blocks = []
            for kernel, hidden, out, se, hswish, stride in stage:
                blocks.append(InvertedResidual(in_channels, out, hidden, stride, kernel,
                                               nn.Hardswish if hswish else nn.ReLU, se))
                in_channels = out
            stages.append(nn.Sequential(*blocks))
            self.channels.append(in_channels)
        self.stages = nn.ModuleList(stages)
        self.pyramid_channels = [stem_channels, *self.channels]

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the stem's and every stage's feature maps, finest (stride 2) first."""
        features = [self.stem(x)]
        for stage in self.stages:
            features.append(stage(features[-1]))
        return features

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the four stage feature maps (strides 4 to 32), finest first."""
        return self.pyramid(x)[1:]
