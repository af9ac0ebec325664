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
Depth Anything V2: a DINOv2 ViT encoder and a DPT decoder, in plain PyTorch.

Yang et al., "Depth Anything V2", NeurIPS 2024 (arXiv 2406.09414); official code and weights:
https://github.com/DepthAnything/Depth-Anything-V2 (Small: Apache-2.0; Base and Large:
CC-BY-NC-4.0). The relative models predict affine-invariant inverse depth; the metric models,
fine-tuned on Hypersim (indoor, up to 20 m) or Virtual KITTI 2 (outdoor, up to 80 m), predict
metres. Both are the same network here: only the last activation differs (ReLU, or a sigmoid
scaled by ``max_depth``), so one class serves every variant and loads the official checkpoints
unchanged.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Sequence

from mono_depth_ros.models.dinov2 import DinoVisionTransformer, PATCH_SIZE
from mono_depth_ros.models.spec import InputPolicy, ModelSpec, Processing, WeightsSource
from mono_depth_ros.parity import ParityHooks
from mono_depth_ros.weights import load_state_dict_strict, read_checkpoint
import torch
from torch import nn
import torch.nn.functional as F

# encoder: ViT width, depth, heads; blocks read by the head; DPT features and channels per level
ENCODERS = {
    'vits': {'embed_dim': 384, 'depth': 12, 'num_heads': 6, 'layers': (2, 5, 8, 11),
             'features': 64, 'channels': (48, 96, 192, 384)},
    'vitb': {'embed_dim': 768, 'depth': 12, 'num_heads': 12, 'layers': (2, 5, 8, 11),
             'features': 128, 'channels': (96, 192, 384, 768)},
    'vitl': {'embed_dim': 1024, 'depth': 24, 'num_heads': 16, 'layers': (4, 11, 17, 23),
             'features': 256, 'channels': (256, 512, 1024, 1024)},
}


class ResidualConvUnit(nn.Module):
    """Two pre-activated 3x3 convolutions added back to the input."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(features, features, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` plus its residual."""
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """DPT fusion: add the refined skip feature, refine, upsample, project."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(features, features, kernel_size=1)
        self.resConfUnit1 = ResidualConvUnit(features)
        self.resConfUnit2 = ResidualConvUnit(features)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None,
                size: tuple[int, int] | None = None) -> torch.Tensor:
        """Fuse ``x`` with ``skip`` and resize to ``size`` (twice the size when ``None``)."""
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        if size is None:
            x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=True)
        else:
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=True)
        return self.out_conv(x)


class DPTHead(nn.Module):
    """Dense prediction head: four token maps reassembled at 4x, 2x, 1x, 1/2x and fused."""

    def __init__(self, embed_dim: int, features: int, channels: tuple[int, int, int, int],
                 final_activation: nn.Module) -> None:
        super().__init__()
        self.projects = nn.ModuleList(nn.Conv2d(embed_dim, c, kernel_size=1) for c in channels)
        self.resize_layers = nn.ModuleList([
            nn.ConvTranspose2d(channels[0], channels[0], kernel_size=4, stride=4),
            nn.ConvTranspose2d(channels[1], channels[1], kernel_size=2, stride=2),
            nn.Identity(),
            nn.Conv2d(channels[3], channels[3], kernel_size=3, stride=2, padding=1),
        ])
        # 'scratch' is the official name of the fusion half, kept for the checkpoint keys
        self.scratch = nn.Module()
        for level, c in enumerate(channels, start=1):
            setattr(self.scratch, f'layer{level}_rn',
                    nn.Conv2d(c, features, kernel_size=3, padding=1, bias=False))
        for level in range(1, 5):
            setattr(self.scratch, f'refinenet{level}', FusionBlock(features))
        self.scratch.output_conv1 = nn.Conv2d(features, features // 2, kernel_size=3, padding=1)
        self.scratch.output_conv2 = nn.Sequential(
            nn.Conv2d(features // 2, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 1, kernel_size=1),
            final_activation,
        )

    def forward(self, tokens: list[torch.Tensor], grid_h: int, grid_w: int) -> torch.Tensor:
        """Decode four ``(B, grid_h * grid_w, D)`` token maps into ``(B, 1, 14 h, 14 w)``."""
        levels = []
        for project, resize, level_tokens in zip(self.projects, self.resize_layers, tokens):
            x = level_tokens.transpose(1, 2).reshape(level_tokens.shape[0], -1, grid_h, grid_w)
            levels.append(resize(project(x)))
        s = self.scratch
        l1, l2, l3, l4 = (getattr(s, f'layer{i}_rn')(x) for i, x in enumerate(levels, start=1))
        path = s.refinenet4(l4, size=l3.shape[2:])
        path = s.refinenet3(path, l3, size=l2.shape[2:])
        path = s.refinenet2(path, l2, size=l1.shape[2:])
        path = s.refinenet1(path, l1)
        out = F.interpolate(s.output_conv1(path), size=(grid_h * PATCH_SIZE, grid_w * PATCH_SIZE),
                            mode='bilinear', align_corners=True)
        return s.output_conv2(out)


class DepthAnythingV2(nn.Module):
    """
    Depth Anything V2, relative (``max_depth=None``) or metric (``max_depth`` in metres).

    ``forward(x)`` takes an ImageNet-normalised ``(B, 3, H, W)`` tensor with H and W multiples of
    14 and returns ``{'depth': (B, 1, H, W)}``: relative inverse depth (>= 0), or metres in
    ``[0, max_depth]``.
    """

    encoder_names = ('pretrained',)

    def __init__(self, encoder: str = 'vits', max_depth: float | None = None) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f'unknown Depth Anything V2 encoder {encoder!r}; '
                             f'choose one of {", ".join(ENCODERS)}')
        if max_depth is not None and not max_depth > 0:
            raise ValueError(f'max_depth must be a positive number of metres, got {max_depth}')
        config = ENCODERS[encoder]
        self.encoder = encoder
        self.max_depth = max_depth
        self.layer_indices = config['layers']
        # 'pretrained' is the official name of the DINOv2 encoder (frozen by --freeze-encoder)
        self.pretrained = DinoVisionTransformer(config['embed_dim'], config['depth'],
                                                config['num_heads'])
        self.depth_head = DPTHead(config['embed_dim'], config['features'], config['channels'],
                                  nn.ReLU() if max_depth is None else nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predict depth for a normalised batch; see the class docstring."""
        return self.forward_head(self.forward_encoder(x), x.shape[-2:])

    def forward_encoder(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the DINOv2 encoder's four token maps ``(B, H/14 * W/14, D)``."""
        height, width = x.shape[-2:]
        if height % PATCH_SIZE or width % PATCH_SIZE:
            raise ValueError(f'Depth Anything V2 needs a height and width that are multiples of '
                             f'{PATCH_SIZE}, got {height}x{width}; resize the input with the '
                             "variant's InputPolicy (short side 518, multiple 14)")
        return self.pretrained.intermediate_layers(x, self.layer_indices)

    def forward_head(self, tokens: list[torch.Tensor],
                     size: Sequence[int]) -> dict[str, torch.Tensor]:
        """Decode the encoder's token maps of an ``size`` = (H, W) input into depth."""
        return {'depth': self.decode(tokens, size[0] // PATCH_SIZE, size[1] // PATCH_SIZE)}

    def decode(self, tokens: list[torch.Tensor], grid_h: int, grid_w: int) -> torch.Tensor:
        """Turn the backbone's four token maps into the ``(B, 1, H, W)`` depth output."""
        depth = self.depth_head(tokens, grid_h, grid_w)
        return depth if self.max_depth is None else depth * self.max_depth


def load_checkpoint(module: DepthAnythingV2, path: Path) -> None:
    """Load an official Depth Anything V2 checkpoint (``.pth`` or ``.safetensors``) strictly."""
    kind = 'relative' if module.max_depth is None else f'metric, max_depth {module.max_depth}'
    load_state_dict_strict(module, read_checkpoint(path),
                           model=f'depth-anything-v2 {module.encoder} ({kind})', source=path)


HF = 'https://huggingface.co/depth-anything'
SOURCE = 'https://github.com/DepthAnything/Depth-Anything-V2'
PAPER = 'Yang et al., Depth Anything V2, NeurIPS 2024, https://arxiv.org/abs/2406.09414'
SIZES = {'vits': 'Small', 'vitb': 'Base', 'vitl': 'Large'}
# The official README: Small is Apache-2.0, Base/Large are CC-BY-NC-4.0. The Hub cards of the
# metric Base/Large say apache-2.0, but they are fine-tuned from the non-commercial weights, so
# the stricter licence is kept.
LICENSES = {'vits': 'Apache-2.0', 'vitb': 'CC-BY-NC-4.0', 'vitl': 'CC-BY-NC-4.0'}
PARAMS = {'vits': '24.8M', 'vitb': '97.5M', 'vitl': '335.3M'}
# Zero-shot relative depth, paper Table 2 (affine-aligned AbsRel / delta1)
RELATIVE_REPORTED = {
    'vits': 'zero-shot AbsRel/delta1: KITTI 0.078/0.936, NYU-D 0.053/0.973 (paper Table 2)',
    'vitb': 'zero-shot AbsRel/delta1: KITTI 0.078/0.939, NYU-D 0.049/0.976 (paper Table 2)',
    'vitl': 'zero-shot AbsRel/delta1: KITTI 0.074/0.946, NYU-D 0.045/0.979 (paper Table 2)',
}
METRIC_REPORTED = ("no NYU/KITTI figures are published for this checkpoint: the paper's metric "
                   'results (Table 4) come from other models, fine-tuned on NYU-D or KITTI with '
                   'ZoeDepth (maintainer, DepthAnything/Depth-Anything-V2 issue 177)')
# sha256 of the files on the Hub (their Git LFS object ids). The vitl value was read from two
# independent Hub mirrors of the file (same size as the official one), not from the official
# page; the metric Hypersim vits value from the official page (99,222,290 bytes).
SHA256 = {
    'depth_anything_v2_vits.pth':
        '715fade13be8f229f8a70cc02066f656f2423a59effd0579197bbf57860e1378',
    'depth_anything_v2_vitb.pth':
        '0d2b7002e62d39d655571c371333340bd88f67ab95050c03591555aa05645328',
    'depth_anything_v2_vitl.pth':
        'a7ea19fa0ed99244e67b624c72b8580b7e9553043245905be58796a608eb9345',
    'depth_anything_v2_metric_hypersim_vits.pth':
        'b782898d8a3e8be1f639de33837ed85e9b4b73e40f8f5e5cd99067588d722545',
    'depth_anything_v2_metric_hypersim_vitb.pth':
        '9dc9e274c5eff55c6daf27b660c0ced0eca4e8593a6da90cdcb04d2b4d3f3fa2',
    'depth_anything_v2_metric_hypersim_vitl.pth':
        '6f82ff2bc543ac02ddff4aa31fa363676a8305dd3ccf04e80e2af115a044cb6d',
    'depth_anything_v2_metric_vkitti_vits.pth':
        '9203e538d35255c90dda4b7fedb47ff33fe725497bcca3b1e53b3a65ee63f0cb',
    'depth_anything_v2_metric_vkitti_vitb.pth':
        '4dad67a7cc10b462bca48e6b8569c762b8eb3c1adada170a3851a6d3ba37bb3e',
    'depth_anything_v2_metric_vkitti_vitl.pth':
        '239b1054a369e66da2576e9a118d6d7c12d90dc8ebe609579a9a09cd8e05fe38',
}
METRIC_DATASETS = {'hypersim': ('Hypersim', 20.0), 'vkitti': ('VKITTI', 80.0)}


def _spec(encoder: str, dataset: str | None = None) -> ModelSpec:
    size = SIZES[encoder]
    if dataset is None:
        name, repo = f'depth-anything-v2-{size.lower()}', f'Depth-Anything-V2-{size}'
        filename, max_depth = f'depth_anything_v2_{encoder}.pth', None
    else:
        hub_name, max_depth = METRIC_DATASETS[dataset]
        name = f'depth-anything-v2-metric-{dataset}-{size.lower()}'
        repo = f'Depth-Anything-V2-Metric-{hub_name}-{size}'
        filename = f'depth_anything_v2_metric_{dataset}_{encoder}.pth'
    return ModelSpec(
        name=name,
        family='depth-anything-v2',
        builder=partial(DepthAnythingV2, encoder=encoder, max_depth=max_depth),
        input_policy=InputPolicy(short_side=518, multiple=PATCH_SIZE),
        # infer_image: INTER_CUBIC on the /255 float image; bilinear upsampling, align_corners.
        processing=Processing(resize='cubic', upsample='bilinear', align_corners=True),
        output_kind='inverse_relative' if max_depth is None else 'metric',
        max_depth=100.0 if max_depth is None else max_depth,
        weights=WeightsSource(url=f'{HF}/{repo}/resolve/main/{filename}',
                              sha256=SHA256[filename], file_format='torch'),
        load_checkpoint=load_checkpoint,
        license_terms=LICENSES[encoder],
        source=SOURCE if dataset is None else f'{SOURCE}/tree/main/metric_depth',
        paper=PAPER,
        reported=RELATIVE_REPORTED[encoder] if dataset is None else METRIC_REPORTED,
        extra={'encoder': encoder, 'params': PARAMS[encoder],
               'train_set': '595K synthetic + 62M pseudo-labelled real images' if dataset is None
               else METRIC_DATASETS[dataset][0]},
    )


SPECS = tuple(_spec(encoder, dataset)
              for dataset in (None, *METRIC_DATASETS) for encoder in ENCODERS)

PARITY_TOKENS = 64  # the goldens keep the first 64 patch tokens of each backbone level


def _parity_build(case: dict) -> DepthAnythingV2:
    return DepthAnythingV2(case['encoder'], case['metric_max_depth']).eval()


def _parity_outputs(module: DepthAnythingV2, x: torch.Tensor) -> dict[str, torch.Tensor]:
    tokens = module.pretrained.intermediate_layers(x, module.layer_indices)
    depth = module.decode(tokens, x.shape[-2] // PATCH_SIZE, x.shape[-1] // PATCH_SIZE)
    outputs = {'output': depth[:, 0]}
    outputs.update({f'backbone_layer{i}': level[:, :PARITY_TOKENS]
                    for i, level in enumerate(tokens)})
    return outputs


PARITY = ParityHooks(build=_parity_build, parts=lambda module: {'keys': module},
                     outputs=_parity_outputs)
