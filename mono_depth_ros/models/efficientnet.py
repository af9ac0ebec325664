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
EfficientNet-B0 as a feature extractor, in plain PyTorch.

Tan and Le, "EfficientNet: Rethinking Model Scaling for CNNs", ICML 2019, in timm's
``efficientnet_b0`` form (timm 0.4.9, Apache-2.0): a 3x3/2 stem, seven stages of
depthwise-separable and inverted-residual blocks with squeeze-and-excitation (reduced from the
block's input width by 4) and SiLU, symmetric padding, BatchNorm eps 1e-5, and a 1x1 head to 1280
channels at stride 32.

Module names are those of the accelerated-DPT study's wrapper (guillesanbri/DPT
``EfficientnetEmbeddingWrapper``: ``conv_stem``, ``bn1``, ``stages``, ``conv_head``, ``bn2``):
timm's, with ``blocks`` renamed ``stages`` and no classifier; :func:`from_timm_state_dict` converts
timm's ImageNet checkpoint to them.
"""
from __future__ import annotations

import torch
from torch import nn

# (block type, repeats, kernel, first stride, expansion, output channels) per stage
STAGES = (
    ('ds', 1, 3, 1, 1, 16),
    ('ir', 2, 3, 2, 6, 24),
    ('ir', 2, 5, 2, 6, 40),
    ('ir', 3, 3, 2, 6, 80),
    ('ir', 3, 5, 1, 6, 112),
    ('ir', 4, 5, 2, 6, 192),
    ('ir', 1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
SE_RATIO = 0.25
# timm's ImageNet weights (top-1 77.7%); the 8 hex digits start the file's sha256 (torch.hub)
IMAGENET_URL = ('https://github.com/rwightman/pytorch-image-models/releases/download/'
                'v0.1-weights/efficientnet_b0_ra-3dd342df.pth')


def conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1,
            groups: int = 1) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    """Return a bias-free convolution with symmetric padding and its BatchNorm."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2,
                     groups=groups, bias=False)
    return conv, nn.BatchNorm2d(out_channels)


class SqueezeExcite(nn.Module):
    """Channel gating: global mean, 1x1 reduce, SiLU, 1x1 expand, sigmoid."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, reduced, 1)
        self.conv_expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of ``x`` by its gate."""
        gate = self.conv_expand(nn.functional.silu(self.conv_reduce(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


class DepthwiseSeparable(nn.Module):
    """Depthwise conv, BN, SiLU, SE, pointwise conv, BN (no residual: the width changes)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv_dw, self.bn1 = conv_bn(in_channels, in_channels, kernel, stride, in_channels)
        self.se = SqueezeExcite(in_channels, int(in_channels * SE_RATIO))
        self.conv_pw, self.bn2 = conv_bn(in_channels, out_channels, 1)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        out = self.se(nn.functional.silu(self.bn1(self.conv_dw(x))))
        out = self.bn2(self.conv_pw(out))
        return out + x if self.residual else out


class InvertedResidual(nn.Module):
    """MBConv: 1x1 expansion, depthwise conv, SE, 1x1 linear projection, residual when it fits."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 expansion: int) -> None:
        super().__init__()
        mid = in_channels * expansion
        self.conv_pw, self.bn1 = conv_bn(in_channels, mid, 1)
        self.conv_dw, self.bn2 = conv_bn(mid, mid, kernel, stride, mid)
        self.se = SqueezeExcite(mid, int(in_channels * SE_RATIO))
        self.conv_pwl, self.bn3 = conv_bn(mid, out_channels, 1)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        out = nn.functional.silu(self.bn1(self.conv_pw(x)))
        out = self.se(nn.functional.silu(self.bn2(self.conv_dw(out))))
        out = self.bn3(self.conv_pwl(out))
        return out + x if self.residual else out


class EfficientNetB0(nn.Module):
    """
    EfficientNet-B0 without its classifier.

    ``stage_outputs(x)`` returns the output of each of the seven stages (16, 24, 40, 80, 112,
    192, 320 channels at strides 2, 4, 8, 16, 16, 32, 32), then the 1280-channel head.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv_stem, self.bn1 = conv_bn(3, STEM_CHANNELS, 3, stride=2)
        stages = []
        channels = STEM_CHANNELS
        for kind, repeats, kernel, stride, expansion, out_channels in STAGES:
            blocks = []
            for index in range(repeats):
                block_stride = stride if index == 0 else 1
                if kind == 'ds':
                    blocks.append(DepthwiseSeparable(channels, out_channels, kernel,
                                                     block_stride))
                else:
                    blocks.append(InvertedResidual(channels, out_channels, kernel, block_stride,
                                                   expansion))
                channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.conv_head, self.bn2 = conv_bn(channels, HEAD_CHANNELS, 1)

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return every stage's output and, last, the head's."""
        x = nn.functional.silu(self.bn1(self.conv_stem(x)))
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        outputs.append(nn.functional.silu(self.bn2(self.conv_head(x))))
        return outputs


def from_timm_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename timm's ``efficientnet_b0`` checkpoint to this module; drop its classifier."""
    return {('stages.' + name[len('blocks.'):] if name.startswith('blocks.') else name): value
            for name, value in state.items() if not name.startswith('classifier.')}
