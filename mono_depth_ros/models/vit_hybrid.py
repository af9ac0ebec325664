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
The hybrid ViT-B/16 of DPT-Hybrid: a ResNetV2-50 stem under a ViT-B, in plain PyTorch.

Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021 (R50+ViT-B/16), as timm 0.4.5 builds
``vit_base_resnet50_384`` for isl-org/DPT (Apache-2.0): a BiT ResNetV2 without pre-activation and
with three stages (3, 4, 9 bottlenecks), whose convolutions standardise their weights (eps 1e-5,
added to the standard deviation) and pad like TensorFlow's "SAME" (asymmetric for stride 2), with
GroupNorm of 32 groups and a stem max-pool that pads with -inf; its stride-16, 1024-channel map is
projected by a 1x1 convolution to 768-dimensional tokens. The twelve pre-norm blocks use LayerNorm
eps 1e-6 and exact GELU. Sub-module names follow the checkpoints (``patch_embed.backbone.stages.0
.blocks.0.conv1.weight``, ``blocks.0.attn.qkv.weight``, ...).

The attention is configurable for the accelerated variants of the 2022 study (guillesanbri/DPT):
any number of heads over the same 768-wide matrices, and Performer's FAVOR+ (Choromanski et al.,
ICLR 2021) in place of the softmax, computed from the same q/k/v/proj weights.
"""
from __future__ import annotations

from collections import OrderedDict
import math
from typing import Sequence

from mono_depth_ros.models.dinov2 import Mlp
import torch
from torch import nn
import torch.nn.functional as F

PATCH_SIZE = 16
EMBED_DIM = 768
PRETRAIN_GRID = 24  # the position embedding was learnt for 384x384 inputs: 24x24 patches
ATTENTION_KINDS = ('softmax', 'performer')
# FAVOR+ adds this to every random feature (performer-pytorch's softmax_kernel)
FAVOR_EPS = 1e-4


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Return TensorFlow's "SAME" (before, after) padding of one axis; the odd pixel goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """Pad ``x`` (B, C, H, W) for a "SAME" window of ``kernel`` at ``stride``."""
    top, bottom = same_padding(int(x.shape[-2]), kernel, stride)
    left, right = same_padding(int(x.shape[-1]), kernel, stride)
    if top + bottom + left + right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


class StdConv2dSame(nn.Conv2d):
    """
    Convolution with weight standardisation and TensorFlow "SAME" padding (timm 0.4.5).

    Each filter is standardised as ``(w - mean) / (std + eps)`` (population std) on every call.
    Stride 1 pads symmetrically; stride 2 pads dynamically, the odd pixel after.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, eps: float = 1e-5) -> None:
        self.dynamic_padding = stride > 1
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=0 if self.dynamic_padding else (kernel_size - 1) // 2,
                         bias=False)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``x`` with the standardised weight."""
        if self.dynamic_padding:
            x = pad_same(x, self.kernel_size[0], self.stride[0])
        # explicit mean and variance (rather than torch.std_mean) so that ONNX export works
        mean = self.weight.mean(dim=(1, 2, 3), keepdim=True)
        std = (self.weight - mean).pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
        weight = (self.weight - mean) / (std + self.eps)
        return F.conv2d(x, weight, None, self.stride, self.padding)


class MaxPool2dSame(nn.Module):
    """3x3 stride-2 max pooling with "SAME" padding by -inf (padding never wins the max)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``x`` to half its size (rounded up)."""
        return F.max_pool2d(pad_same(x, 3, 2, value=-math.inf), 3, 2)


class GroupNormAct(nn.GroupNorm):
    """GroupNorm of 32 groups (eps 1e-5), optionally followed by ReLU."""

    def __init__(self, channels: int, act: bool = True) -> None:
        super().__init__(32, channels, eps=1e-5)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x``, then ReLU when ``act``."""
        x = super().forward(x)
        return F.relu(x) if self.act else x


class DownsampleConv(nn.Module):
    """The projection shortcut of a stage's first block: 1x1 standardised conv + GroupNorm."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = StdConv2dSame(in_channels, out_channels, 1, stride=stride)
        self.norm = GroupNormAct(out_channels, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project ``x`` to the block's output shape."""
        return self.norm(self.conv(x))


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck (stride on the 3x3) with standardised convs and GroupNorm."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 downsample: bool) -> None:
        super().__init__()
        mid = out_channels // 4
        self.downsample = DownsampleConv(in_channels, out_channels, stride) if downsample else None
        self.conv1 = StdConv2dSame(in_channels, mid, 1)
        self.norm1 = GroupNormAct(mid)
        self.conv2 = StdConv2dSame(mid, mid, 3, stride=stride)
        self.norm2 = GroupNormAct(mid)
        self.conv3 = StdConv2dSame(mid, out_channels, 1)
        self.norm3 = GroupNormAct(out_channels, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``relu(residual(x) + shortcut(x))``."""
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.norm1(self.conv1(x))
        x = self.norm2(self.conv2(x))
        x = self.norm3(self.conv3(x))
        return F.relu(x + shortcut)


class ResNetStage(nn.Module):
    """``depth`` bottlenecks; the first changes the width and, after stage 0, halves the size."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, depth: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(
            Bottleneck(in_channels if i == 0 else out_channels, out_channels,
                       stride if i == 0 else 1, downsample=i == 0)
            for i in range(depth)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the blocks."""
        return self.blocks(x)


class ResNetV2Stem(nn.Module):
    """
    The convolutional half of the hybrid: a 7x7/2 stem, a 3x3/2 pool and three stages.

    ``stage_outputs(x)`` returns every stage's output: 256 channels at 1/4, 512 at 1/8 and 1024
    at 1/16 of the input (DPT reads the first two, the ViT embeds the last).
    """

    channels = (256, 512, 1024)

    def __init__(self, depths: Sequence[int] = (3, 4, 9)) -> None:
        super().__init__()
        self.stem = nn.Sequential(OrderedDict([
            ('conv', StdConv2dSame(3, 64, 7, stride=2)),
            ('norm', GroupNormAct(64)),
            ('pool', MaxPool2dSame()),
        ]))
        self.stages = nn.Sequential(*(
            ResNetStage(64 if i == 0 else self.channels[i - 1], self.channels[i],
                        1 if i == 0 else 2, depth)
            for i, depth in enumerate(depths)))

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the output of each stage, finest first."""
        x = self.stem(x)
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


def orthogonal_random_features(count: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """
    Draw FAVOR+'s ``(count, dim)`` random projection: orthogonal Gaussian rows.

    Blocks of ``dim`` orthonormal rows (QR of a Gaussian matrix), each row rescaled to the norm
    of a ``dim``-dimensional Gaussian vector, as performer-pytorch's
    ``gaussian_orthogonal_random_matrix`` with scaling 0.
    """
    blocks = []
    for _ in range(math.ceil(count / dim)):
        gaussian = torch.randn(dim, dim, generator=generator, device='cpu')
        q, _ = torch.linalg.qr(gaussian)
        blocks.append(q.T)
    rows = torch.cat(blocks)[:count]
    norms = torch.randn(count, dim, generator=generator, device='cpu').norm(dim=1)
    return norms[:, None] * rows


def favor_features(x: torch.Tensor, projection: torch.Tensor, is_query: bool) -> torch.Tensor:
    """
    Positive random features of ``x`` (B, heads, N, d) for the softmax kernel (FAVOR+).

    ``exp(w.x' - |x'|^2 / 2) / sqrt(m)`` with ``x' = x / d^(1/4)``, stabilised by subtracting the
    largest exponent (per query; over all keys of a head), plus FAVOR_EPS, exactly as
    performer-pytorch 1.1.3's ``softmax_kernel``.
    """
    normalizer = x.shape[-1] ** -0.25
    ratio = projection.shape[0] ** -0.5
    projected = (normalizer * x) @ projection.to(x.dtype).T
    squared_norm = (x * x).sum(dim=-1, keepdim=True) * (normalizer ** 2) / 2
    largest = (projected.amax(dim=-1, keepdim=True) if is_query
               else projected.amax(dim=(-1, -2), keepdim=True))
    return ratio * (torch.exp(projected - squared_norm - largest) + FAVOR_EPS)


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Non-causal attention with features ``q``, ``k`` (B, h, N, m): linear in N."""
    normaliser = 1.0 / (q @ k.sum(dim=-2).unsqueeze(-1))
    return (q @ (k.transpose(-2, -1) @ v)) * normaliser


class Attention(nn.Module):
    """
    Multi-head self-attention over a fused qkv projection, softmax or Performer.

    ``heads`` splits the same projections into heads of ``head_dim`` (default ``dim // heads``;
    the official model has 12 heads of 64). ``kind='performer'`` replaces ``softmax(q k^T /
    sqrt(d)) v`` by its FAVOR+ estimate with ``features`` random features per head (default
    ``int(d ln d)``, performer-pytorch's), drawn once from ``seed`` and kept as a buffer.
    """

    def __init__(self, dim: int, heads: int, kind: str = 'softmax', head_dim: int | None = None,
                 features: int | None = None, seed: int = 0) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f'unknown attention {kind!r}; choose one of '
                             f'{", ".join(ATTENTION_KINDS)}')
        self.heads = heads
        self.head_dim = head_dim or dim // heads
        self.kind = kind
        inner = self.heads * self.head_dim
        self.qkv = nn.Linear(dim, 3 * inner)
        self.proj = nn.Linear(inner, dim)
        if kind == 'performer':
            count = features or int(self.head_dim * math.log(self.head_dim))
            generator = torch.Generator(device='cpu').manual_seed(seed)
            self.register_buffer('projection_matrix',
                                 orthogonal_random_features(count, self.head_dim, generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over the tokens of ``x`` (B, N, dim)."""
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        if self.kind == 'softmax':
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            out = linear_attention(favor_features(q, self.projection_matrix, is_query=True),
                                   favor_features(k, self.projection_matrix, is_query=False), v)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, -1))


class Block(nn.Module):
    """Pre-norm transformer block (LayerNorm eps 1e-6, GELU MLP of ratio 4)."""

    def __init__(self, dim: int, attention: Attention) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = attention
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run attention then the MLP, each added back to the stream."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """A convolutional backbone and a projection of its last map to tokens."""

    def __init__(self, backbone: nn.Module, proj: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.proj = proj


class HybridViT(nn.Module):
    """
    ViT-B over the tokens of a convolutional backbone, truncated after its last used block.

    ``backbone`` has ``stage_outputs(x)``; ``proj`` turns its last output into a stride-16 map
    of ``EMBED_DIM`` channels. ``depth`` blocks are built (the study drops the blocks after the
    last one it reads); ``attention(index)`` returns block ``index``'s attention. ``norm`` and
    ``head`` (the ImageNet classifier) are in every checkpoint but DPT never uses them.
    The 24x24 position embedding is resized bilinearly to the input's patch grid on every call,
    with ``align_corners`` False (isl-org/DPT) or True (the study's fork).
    """

    def __init__(self, backbone: nn.Module, proj: nn.Module, depth: int,
                 attention, pos_embed_align_corners: bool = False) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(backbone, proj)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, EMBED_DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, PRETRAIN_GRID ** 2 + 1, EMBED_DIM))
        self.blocks = nn.ModuleList(Block(EMBED_DIM, attention(i)) for i in range(depth))
        self.norm = nn.LayerNorm(EMBED_DIM, eps=1e-6)
        self.head = nn.Linear(EMBED_DIM, 1000)
        self.pos_embed_align_corners = pos_embed_align_corners
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def resized_pos_embed(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """Return the (1, 1 + grid_h * grid_w, D) position embedding for a patch grid."""
        grid = self.pos_embed[:, 1:].reshape(1, PRETRAIN_GRID, PRETRAIN_GRID, -1)
        grid = F.interpolate(grid.permute(0, 3, 1, 2), size=(grid_h, grid_w), mode='bilinear',
                             align_corners=self.pos_embed_align_corners)
        grid = grid.permute(0, 2, 3, 1).reshape(1, grid_h * grid_w, -1)
        return torch.cat((self.pos_embed[:, :1], grid), dim=1)

    def forward_features(self, x: torch.Tensor, hooks: Sequence[int]
                         ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """
        Return the backbone's stage outputs and the tokens after each block in ``hooks``.

        Tokens are (B, 1 + N, D) with the class token first, taken before the final norm.
        """
        grid_h, grid_w = int(x.shape[-2]) // PATCH_SIZE, int(x.shape[-1]) // PATCH_SIZE
        stages = self.patch_embed.backbone.stage_outputs(x)
        tokens = self.patch_embed.proj(stages[-1]).flatten(2).transpose(1, 2)
        tokens = torch.cat((self.cls_token.expand(tokens.shape[0], -1, -1), tokens), dim=1)
        tokens = tokens + self.resized_pos_embed(grid_h, grid_w)
        hooked = []
        for index, block in enumerate(self.blocks):
            tokens = block(tokens)
            if index in hooks:
                hooked.append(tokens)
        return stages, hooked
