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
The DINOv2 ViT backbone as Depth Anything V2 uses it, in plain PyTorch.

Oquab et al., "DINOv2: Learning Robust Visual Features without Supervision", TMLR 2024
(facebookresearch/dinov2, Apache-2.0), in the configuration vendored by
DepthAnything/Depth-Anything-V2: 14-pixel patches, one class token, no register tokens, LayerScale,
a GELU MLP, LayerNorm with eps 1e-6, and positional embeddings learnt for a 518x518 input that are
resized bicubically to the input's patch grid. Sub-module names follow the official checkpoints
(``blocks.0.attn.qkv.weight``, ``norm.bias``, ...).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

PATCH_SIZE = 14
PRETRAIN_SIZE = 518
# DINOv2 adds this to the target grid before turning it into a scale factor, a guard against
# floating point error in the output size (facebookresearch/dino issue 8). The scale factor it
# yields, not the output size, sets where the bicubic samples fall, so it changes the values.
POS_EMBED_OFFSET = 0.1


class PatchEmbed(nn.Module):
    """Cut the image into non-overlapping patches and project each to a token."""

    def __init__(self, embed_dim: int, in_chans: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=PATCH_SIZE, stride=PATCH_SIZE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C, H, W)`` to ``(B, H/14 * W/14, D)`` tokens in row-major patch order."""
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over the tokens of ``x`` ``(B, N, D)``."""
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    """The feed-forward half of a block: Linear, GELU, Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the MLP token-wise."""
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """Per-channel learnt scale of a residual branch (CaiT)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of ``x``."""
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block with LayerScale on both residual branches."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * mlp_ratio)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run attention then the MLP, each added back to the stream."""
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoVisionTransformer(nn.Module):
    """DINOv2 ViT that returns the normed patch tokens of chosen blocks."""

    def __init__(self, embed_dim: int, depth: int, num_heads: int) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        grid = PRETRAIN_SIZE // PATCH_SIZE
        self.patch_embed = PatchEmbed(embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, embed_dim))
        # Only DINOv2's masked pre-training uses it; it is kept because the checkpoints hold it.
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)

    def interpolated_pos_embed(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """
        Return the ``(1, 1 + grid_h * grid_w, D)`` positional embedding for a patch grid.

        As the official ``interpolate_pos_encoding``: the 37x37 table is used as is for a 37x37
        grid, and otherwise resized by bicubic interpolation (no antialiasing) with the scale
        factor ``(grid + 0.1) / 37`` per axis, computed in float32.
        """
        # plain ints: under tracing (ONNX export) the grid and the scale become constants
        grid_h, grid_w = int(grid_h), int(grid_w)
        stored = self.pos_embed.shape[1] - 1
        side = math.sqrt(stored)
        if grid_h * grid_w == stored and grid_h == grid_w:
            return self.pos_embed
        table = self.pos_embed.float()
        patch_table = table[:, 1:].reshape(1, int(side), int(side), -1).permute(0, 3, 1, 2)
        scale = ((grid_h + POS_EMBED_OFFSET) / side, (grid_w + POS_EMBED_OFFSET) / side)
        patch_table = F.interpolate(patch_table, scale_factor=scale, mode='bicubic',
                                    align_corners=False)
        if patch_table.shape[-2:] != (grid_h, grid_w):
            raise RuntimeError(f'positional embedding resized to {tuple(patch_table.shape[-2:])} '
                               f'instead of the patch grid {(grid_h, grid_w)}')
        patch_table = patch_table.permute(0, 2, 3, 1).reshape(1, grid_h * grid_w, -1)
        return torch.cat((table[:, :1], patch_table), dim=1).to(self.pos_embed.dtype)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``(B, 3, H, W)`` into the class token followed by the patch tokens."""
        grid_h, grid_w = x.shape[-2] // PATCH_SIZE, x.shape[-1] // PATCH_SIZE
        patches = self.patch_embed(x)
        tokens = torch.cat((self.cls_token.expand(patches.shape[0], -1, -1), patches), dim=1)
        return tokens + self.interpolated_pos_embed(grid_h, grid_w).to(tokens.dtype)

    def intermediate_layers(self, x: torch.Tensor,
                            indices: Sequence[int]) -> list[torch.Tensor]:
        """Return the final-normed patch tokens ``(B, N, D)`` after each block in ``indices``."""
        tokens = self.tokens(x)
        wanted = set(indices)
        outputs = []
        for index, block in enumerate(self.blocks[:max(wanted) + 1]):
            tokens = block(tokens)
            if index in wanted:
                outputs.append(self.norm(tokens)[:, 1:])
        return outputs
