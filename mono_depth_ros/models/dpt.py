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
DPT-Hybrid and its accelerated variants, in plain PyTorch.

Ranftl et al., "Vision Transformers for Dense Prediction", ICCV 2021; code and weights:
https://github.com/isl-org/DPT (MIT), release ``1_0``: ``dpt_hybrid-midas`` (relative inverse
depth, MIX 6), ``dpt_hybrid_kitti`` and ``dpt_hybrid_nyu`` (metres, through a fixed affine map of
the inverse depth: ``depth = 1 / max(scale * out + shift, 1e-8)``).

The accelerations are those of the 2022 study "Estimación de profundidad online con Transformers
eficientes" (G. Sánchez Bribián, master's thesis; code https://github.com/guillesanbri/DPT, MIT;
trained models on Zenodo record 6574941), each a field of :class:`DPTConfig` rather than a copy:
a reduced input (the variant's input policy), the transformer ``hooks`` read by the decoder with
the blocks after the last one removed, the number of attention ``heads`` over the same matrices,
Performer attention, and an EfficientNet-B0 backbone with a transposed-convolution adapter. Its
model "A" (hooks 0 and 1, one head, 640x192 input) runs about 4.7x faster than DPT-Hybrid on the
study's GPU for about 20% worse KITTI errors.

Checkpoints load strictly in either naming: the official one (this module's own names) or the
study's fork (``readout_oper3``, renumbered ``act_postprocess``, Performer ``to_q/to_k/to_v``),
through :func:`fork_layout`. An accelerated variant can also start from an official DPT-Hybrid
checkpoint (:func:`start_from_official`): the dropped blocks are left out, the same q/k/v matrices
serve other head counts and the Performer, and an EfficientNet-B0 starts from ImageNet weights.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
import re
from typing import Literal, Sequence
import warnings

from mono_depth_ros.models import efficientnet
from mono_depth_ros.models.depth_anything_v2 import FusionBlock
from mono_depth_ros.models.spec import InputPolicy, ModelSpec, Processing, WeightsSource
from mono_depth_ros.models.vit_hybrid import (
    Attention, ATTENTION_KINDS, EMBED_DIM, HybridViT, PATCH_SIZE, ResNetV2Stem)
from mono_depth_ros.parity import ParityHooks
from mono_depth_ros.weights import load_state_dict_strict, read_checkpoint, WeightsError
import torch
from torch import nn
import torch.nn.functional as F

STRIDE = 32  # the decoder halves the 1/16 tokens once more: inputs must be multiples of 32
FEATURES = 256
OFFICIAL_DEPTH = 12
OFFICIAL_HEADS = 12
# backbone: (its stages read by the decoder, their widths, the token projection)
BACKBONES = {
    'resnet50': ((0, 1), (256, 512)),
    'efficientnet_b0': ((1, 2), (24, 40)),
}
MIN_INVERSE_DEPTH = 1e-8


@dataclass(frozen=True)
class DPTConfig:
    """
    One DPT-Hybrid architecture: the official one by default, or an accelerated variant.

    ``hooks``: the two ViT blocks whose tokens feed the decoder's coarse levels (official 8 and
    11); the blocks after the last hook are not built. ``heads``: attention heads over the same
    768-wide projections; ``head_dim`` overrides their width (the fork's Performer used 64 for
    any head count). ``attention``: ``softmax`` or ``performer`` (FAVOR+ with
    ``performer_features`` random features per head). ``backbone``: ``resnet50`` (official) or
    ``efficientnet_b0``. ``pos_embed_align_corners``: False as isl-org/DPT, True as the study's
    fork resized the position embedding. ``depth_scale`` / ``depth_shift``: metric variants turn
    the head's output into metres; ``None`` keeps the relative inverse depth.
    """

    hooks: tuple[int, int] = (8, 11)
    heads: int = OFFICIAL_HEADS
    attention: Literal['softmax', 'performer'] = 'softmax'
    backbone: Literal['resnet50', 'efficientnet_b0'] = 'resnet50'
    head_dim: int | None = None
    performer_features: int | None = None
    pos_embed_align_corners: bool = False
    depth_scale: float | None = None
    depth_shift: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, 'hooks', tuple(self.hooks))
        if len(self.hooks) != 2 or not 0 <= self.hooks[0] <= self.hooks[1] < OFFICIAL_DEPTH:
            raise ValueError(f'hooks must be two ViT block indices 0 <= a <= b <= 11, got '
                             f'{list(self.hooks)}')
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(f'attention must be one of {", ".join(ATTENTION_KINDS)}, got '
                             f'{self.attention!r}')
        if self.backbone not in BACKBONES:
            raise ValueError(f'backbone must be one of {", ".join(BACKBONES)}, got '
                             f'{self.backbone!r}')
        if self.heads < 1 or (self.head_dim is None and EMBED_DIM % self.heads):
            raise ValueError(f'heads must divide {EMBED_DIM} (or give head_dim), got '
                             f'{self.heads}')

    @property
    def depth(self) -> int:
        """Return the number of ViT blocks built: up to the last hook."""
        return self.hooks[1] + 1

    def differences_from_official(self) -> list[str]:
        """Describe, one line each, how this architecture departs from the official one."""
        notes = []
        if self.depth < OFFICIAL_DEPTH:
            notes.append(f'hooks {list(self.hooks)}: ViT blocks {self.depth}..11 are dropped')
        elif self.hooks != (8, 11):
            notes.append(f'hooks {list(self.hooks)} instead of [8, 11]')
        head_dim = self.head_dim or EMBED_DIM // self.heads
        if self.heads != OFFICIAL_HEADS or head_dim != EMBED_DIM // OFFICIAL_HEADS:
            notes.append(f'{self.heads} attention head(s) of {head_dim} read the same q/k/v '
                         'matrices as 12 heads of 64')
        if self.attention == 'performer':
            notes.append("Performer (FAVOR+) attention computed from the softmax attention's "
                         'q/k/v/proj weights')
        if self.backbone != 'resnet50':
            notes.append(f'{self.backbone} backbone instead of the ResNetV2-50')
        return notes


class ProjectReadout(nn.Module):
    """DPT's readout "project": patch tokens concatenated with the class token, Linear, GELU."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Map (B, 1 + N, D) tokens, class token first, to (B, N, D)."""
        patches = tokens[:, 1:]
        return self.project(torch.cat((patches, tokens[:, :1].expand_as(patches)), dim=-1))


class Reassemble(nn.Module):
    """
    ViT tokens to a feature map: readout, reshape to the patch grid, 1x1 conv (, 3x3/2 conv).

    Children are named by their index in the official ``nn.Sequential`` (1 and 2 were a
    Transpose and an Unflatten, without weights), so checkpoint keys fit as they are.
    """

    def __init__(self, dim: int, channels: int, downsample: bool) -> None:
        super().__init__()
        self.add_module('0', ProjectReadout(dim))
        self.add_module('3', nn.Conv2d(dim, channels, 1))
        if downsample:
            self.add_module('4', nn.Conv2d(channels, channels, 3, stride=2, padding=1))

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Return the (B, channels, h, w) map of (B, 1 + h * w, D) tokens."""
        readout, *convs = self.children()
        x = readout(tokens).transpose(1, 2)
        x = x.reshape(x.shape[0], x.shape[1], *grid)
        for conv in convs:
            x = conv(x)
        return x


class DPT(nn.Module):
    """
    DPT-Hybrid for depth, official or accelerated by its :class:`DPTConfig`.

    ``forward(x)`` maps a (B, 3, H, W) input normalised with mean and std 0.5 (H and W multiples
    of 32) to ``{'depth': (B, 1, H, W)}``: relative inverse depth (>= 0) when
    ``config.depth_scale`` is None, else metres.
    """

    encoder_names = ('pretrained',)

    def __init__(self, config: DPTConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DPTConfig()
        self.conv_hooks, conv_channels = BACKBONES[config.backbone]
        if config.backbone == 'resnet50':
            backbone = ResNetV2Stem()
            proj = nn.Conv2d(ResNetV2Stem.channels[-1], EMBED_DIM, 1)
        else:
            # stride 32 -> 16: the study's adapter from the EfficientNet head to the tokens
            backbone = efficientnet.EfficientNetB0()
            proj = nn.ConvTranspose2d(efficientnet.HEAD_CHANNELS, EMBED_DIM, 2, stride=2)
        attention = partial(self._attention, config)
        self.pretrained = nn.Module()  # 'pretrained' and 'scratch': the official names
        self.pretrained.model = HybridViT(backbone, proj, config.depth, attention,
                                          config.pos_embed_align_corners)
        self.pretrained.act_postprocess3 = Reassemble(EMBED_DIM, EMBED_DIM, downsample=False)
        self.pretrained.act_postprocess4 = Reassemble(EMBED_DIM, EMBED_DIM, downsample=True)
        self.scratch = nn.Module()
        for level, channels in enumerate((*conv_channels, EMBED_DIM, EMBED_DIM), start=1):
            setattr(self.scratch, f'layer{level}_rn',
                    nn.Conv2d(channels, FEATURES, 3, padding=1, bias=False))
        for level in range(1, 5):
            setattr(self.scratch, f'refinenet{level}', FusionBlock(FEATURES))
        self.scratch.output_conv = nn.Sequential(
            nn.Conv2d(FEATURES, FEATURES // 2, 3, padding=1),
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True),
            nn.Conv2d(FEATURES // 2, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 1, 1),
        )

    @staticmethod
    def _attention(config: DPTConfig, index: int) -> Attention:
        return Attention(EMBED_DIM, config.heads, config.attention, config.head_dim,
                         config.performer_features, seed=index)

    def forward_encoder(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the four feature maps the decoder reads (at 1/4, 1/8, 1/16, 1/32)."""
        height, width = x.shape[-2:]
        if height % STRIDE or width % STRIDE:
            raise ValueError(f'DPT needs a height and width that are multiples of {STRIDE}, got '
                             f"{height}x{width}; resize the input with the variant's InputPolicy")
        grid = (int(height) // PATCH_SIZE, int(width) // PATCH_SIZE)
        stages, tokens = self.pretrained.model.forward_features(x, self.config.hooks)
        return [stages[self.conv_hooks[0]], stages[self.conv_hooks[1]],
                self.pretrained.act_postprocess3(tokens[0], grid),
                self.pretrained.act_postprocess4(tokens[-1], grid)]

    def decode(self, levels: list[torch.Tensor]) -> torch.Tensor:
        """Fuse the four maps into the head's last output, before its ReLU: (B, 1, H, W)."""
        s = self.scratch
        l1, l2, l3, l4 = (getattr(s, f'layer{i}_rn')(x) for i, x in enumerate(levels, start=1))
        path = s.refinenet4(l4)
        path = s.refinenet3(path, l3)
        path = s.refinenet2(path, l2)
        path = s.refinenet1(path, l1)
        return s.output_conv(path)

    def to_depth(self, inverse_depth: torch.Tensor) -> torch.Tensor:
        """Turn the non-negative head output into the variant's depth (see the class doc)."""
        if self.config.depth_scale is None:
            return inverse_depth
        affine = self.config.depth_scale * inverse_depth + self.config.depth_shift
        return 1.0 / affine.clamp_min(MIN_INVERSE_DEPTH)

    def forward_head(self, levels: list[torch.Tensor],
                     size: Sequence[int]) -> dict[str, torch.Tensor]:
        """Decode the encoder's four maps into the variant's depth."""
        return {'depth': self.to_depth(F.relu(self.decode(levels)))}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predict depth for a normalised batch."""
        return self.forward_head(self.forward_encoder(x), x.shape[-2:])


def build(config: DPTConfig, **overrides) -> DPT:
    """Build the DPT of ``config`` with some fields replaced (``create_model(name, heads=1)``)."""
    return DPT(replace(config, **overrides))


# ---------------------------------------------------------------------------------------------
# Checkpoints: the official names, the study's fork names, and starting a variant from the
# official weights.

FORK_MARKER = 'pretrained.readout_oper3.'
PERFORMER_KEY = re.compile(r'^(?P<block>.*\.attn)\.(?P<part>to_q|to_k|to_v|to_out|fast_attention)'
                           r'\.(?P<rest>.*)$')
OFFICIAL_MARKERS = ('pretrained.model.patch_embed.backbone.stem.conv.weight',
                    'pretrained.act_postprocess3.0.project.0.weight',
                    f'pretrained.model.blocks.{OFFICIAL_DEPTH - 1}.attn.qkv.weight')


class AdaptedCheckpointWarning(UserWarning):
    """An accelerated variant was started from official DPT-Hybrid weights: fine-tune it."""


def fork_layout(model: DPT) -> nn.Module:
    """
    Return a view of ``model`` whose ``state_dict`` has the study's fork names.

    The fork keeps the readouts apart (``pretrained.readout_oper{3,4}.0``) and numbers the
    reassemble convolutions from 0 (``act_postprocess3.0``, ``act_postprocess4.{0,1}``). The view
    shares every parameter with ``model``: loading into it loads ``model``.
    """
    view = nn.Module()
    view.pretrained = nn.Module()
    view.pretrained.model = model.pretrained.model
    for level in (3, 4):
        readout, *convs = getattr(model.pretrained, f'act_postprocess{level}').children()
        setattr(view.pretrained, f'readout_oper{level}', nn.Sequential(readout))
        setattr(view.pretrained, f'act_postprocess{level}', nn.Sequential(*convs))
    view.scratch = model.scratch
    return view


def fuse_fork_performer(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """
    Rewrite the fork's Performer keys (performer-pytorch ``SelfAttention``) to this model's.

    ``to_q``, ``to_k``, ``to_v`` (no bias) become one ``qkv`` with a zero bias, ``to_out``
    becomes ``proj`` and ``fast_attention.projection_matrix`` the ``projection_matrix`` buffer.
    """
    fused, parts = {}, {}
    for name, value in state.items():
        match = PERFORMER_KEY.match(name)
        if match is None:
            fused[name] = value
            continue
        block, part, rest = match['block'], match['part'], match['rest']
        if part in ('to_q', 'to_k', 'to_v'):
            parts.setdefault(block, {})[f'{part}.{rest}'] = value
        elif part == 'to_out':
            fused[f'{block}.proj.{rest}'] = value
        else:
            fused[f'{block}.{rest}'] = value
    for block, weights in parts.items():
        missing = [p for p in ('to_q.weight', 'to_k.weight', 'to_v.weight') if p not in weights]
        extra = sorted(set(weights) - {'to_q.weight', 'to_k.weight', 'to_v.weight'})
        if missing or extra:
            # leave them unfused: the strict load names them
            fused.update({f'{block}.{k}': v for k, v in weights.items()})
            continue
        qkv = torch.cat([weights['to_q.weight'], weights['to_k.weight'], weights['to_v.weight']])
        fused[f'{block}.qkv.weight'] = qkv
        fused[f'{block}.qkv.bias'] = qkv.new_zeros(qkv.shape[0])
    return fused


def is_official_hybrid(state: dict) -> bool:
    """Whether ``state`` holds the full official DPT-Hybrid depth architecture's keys."""
    return all(key in state for key in OFFICIAL_MARKERS)


def start_from_official(model: DPT, state: dict[str, torch.Tensor]
                        ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """
    Fit an official DPT-Hybrid state dict to an accelerated variant; say what was done.

    The blocks after the variant's last hook are left out; other head counts and the Performer
    use the same q/k/v/proj matrices (the Performer keeps its own random features); an
    EfficientNet-B0 backbone starts from its ImageNet weights when they can be downloaded (else
    from random weights, which the notes say), its adapter and the decoder's first two
    projections from random weights. Returns the state to load strictly and the notes.
    """
    config = model.config
    notes = config.differences_from_official()
    own = model.state_dict()
    adapted = {}
    for name, value in state.items():
        block = re.match(r'pretrained\.model\.blocks\.(\d+)\.', name)
        if block and int(block[1]) >= config.depth:
            continue
        adapted[name] = value
    adapted.update({name: value for name, value in own.items()
                    if name.endswith('.projection_matrix')})
    if config.backbone == 'efficientnet_b0':
        replaced = ('pretrained.model.patch_embed.', 'scratch.layer1_rn.', 'scratch.layer2_rn.')
        adapted = {k: v for k, v in adapted.items() if not k.startswith(replaced)}
        adapted.update({k: v for k, v in own.items() if k.startswith(replaced)})
        notes.append(_efficientnet_imagenet(model, adapted))
    return adapted, notes


def _efficientnet_imagenet(model: DPT, state: dict[str, torch.Tensor]) -> str:
    """Put the ImageNet EfficientNet-B0 weights into ``state`` if they can be had; say how."""
    from mono_depth_ros.weights import cache_root, download

    url = efficientnet.IMAGENET_URL
    target = cache_root() / 'efficientnet_b0-imagenet' / url.rsplit('/', 1)[1]
    try:
        if not target.is_file():
            download(url, target, sha256=hub_hash(target.name),
                     model='efficientnet_b0 (ImageNet)')
        imagenet = efficientnet.from_timm_state_dict(read_checkpoint(target))
    except WeightsError as error:
        return (f'EfficientNet-B0 starts from random weights: its ImageNet weights could not be '
                f'had ({error})')
    prefix = 'pretrained.model.patch_embed.backbone.'
    load_state_dict_strict(model.pretrained.model.patch_embed.backbone, imagenet,
                           model='efficientnet_b0', source=target)
    state.update({prefix + k: v for k, v in imagenet.items()})
    return f'EfficientNet-B0 starts from its ImageNet weights ({target})'


def load_checkpoint(model: DPT, path: Path) -> None:
    """
    Load a DPT checkpoint strictly, in the official or the study's fork names.

    An accelerated variant given the official DPT-Hybrid weights starts from them
    (:func:`start_from_official`) with an :class:`AdaptedCheckpointWarning` saying what changed.
    """
    state = read_checkpoint(path)
    if 'optimizer' in state and 'model' in state:  # isl-org/DPT's training checkpoints
        state = state['model']
    description = f'dpt {model.config}'
    if any(name.startswith(FORK_MARKER) for name in state):
        load_state_dict_strict(fork_layout(model), fuse_fork_performer(state),
                               model=f'{description} (guillesanbri/DPT names)', source=path)
        return
    notes = model.config.differences_from_official()
    if notes and is_official_hybrid(state):
        state, notes = start_from_official(model, state)
        warnings.warn(AdaptedCheckpointWarning(
            f'{path} holds the official DPT-Hybrid weights; this variant starts from them: '
            + '; '.join(notes) + '. Fine-tune it before use (mono-depth train --preset '
            'dpt-study).'), stacklevel=2)
    load_state_dict_strict(model, state, model=description, source=path)


# ---------------------------------------------------------------------------------------------
# The zoo: the official models and the study's named variants.

OFFICIAL_URL = 'https://github.com/isl-org/DPT/releases/download/1_0/'
ZENODO_URL = 'https://zenodo.org/records/6574941/files/'
SOURCE = 'https://github.com/isl-org/DPT'
FORK_SOURCE = 'https://github.com/guillesanbri/DPT'
PAPER = 'Ranftl et al., Vision Transformers for Dense Prediction, ICCV 2021, ' \
        'https://arxiv.org/abs/2103.13413'
STUDY = ('G. Sánchez Bribián, Estimación de profundidad online con Transformers eficientes, '
         "master's thesis, 2022, https://github.com/guillesanbri/tfm-latex")
KITTI = {'depth_scale': 6.016e-5, 'depth_shift': 0.00579}
NYU = {'depth_scale': 0.000305, 'depth_shift': 0.1378}
# run_monodepth.py: Resize(net_w, net_h, keep_aspect_ratio=True, ensure_multiple_of=32,
# resize_method='minimal', INTER_CUBIC) on the /255 float image; bicubic upsampling.
KITTI_SIZE = InputPolicy(height=352, width=1216, multiple=STRIDE, keep_aspect=True)
PROCESSING = Processing(resize='cubic', upsample='bicubic', align_corners=False)
# The study's fork: the same with its reduced 640x192 target, upsampled with align_corners.
REDUCED_SIZE = InputPolicy(height=192, width=640, multiple=STRIDE, keep_aspect=True)
STUDY_PROCESSING = Processing(resize='cubic', upsample='bicubic', align_corners=True)
FORK = {'pos_embed_align_corners': True}
MEAN_STD = {'mean': (0.5, 0.5, 0.5), 'std': (0.5, 0.5, 0.5)}
KITTI_REPORTED = 'KITTI Eigen: delta1 0.959, AbsRel 0.062, RMSE 2.573, SILog 8.29 (DPT paper)'


def hub_hash(filename: str) -> str:
    """Return the sha256 prefix in a torch.hub file name (``name-<hex>.pt``)."""
    match = re.search(r'-([0-9a-f]{8,})\.\w+$', filename)
    if match is None:
        raise ValueError(f'{filename} does not end in a torch.hub hash')
    return match[1]


@dataclass(frozen=True)
class _Variant:
    name: str
    config: DPTConfig
    policy: InputPolicy
    url: str
    sha256: str | None
    license_terms: str
    source: str
    reported: str
    max_depth: float = 80.0
    extra: dict = field(default_factory=dict)


def _official(name: str, filename: str, config: DPTConfig, policy: InputPolicy,
              reported: str, max_depth: float = 80.0, **extra) -> _Variant:
    return _Variant(name, config, policy, OFFICIAL_URL + filename, hub_hash(filename), 'MIT',
                    SOURCE, reported, max_depth, extra)


def _study(name: str, code: str, config: DPTConfig, reported: str, **extra) -> _Variant:
    # File names follow the thesis' appendix (dpt_hybrid_custom-kitti-<code>_020.pt, epoch 20);
    # they and their hashes could not be checked from the machine that wrote this.
    return _Variant(name, config, REDUCED_SIZE,
                    f'{ZENODO_URL}dpt_hybrid_custom-kitti-{code}_020.pt', None,
                    'MIT (code); weights: Zenodo record 6574941', FORK_SOURCE, reported,
                    extra={'study_code': code, **extra})


VARIANTS = (
    _official('dpt-hybrid-midas', 'dpt_hybrid-midas-501f0c75.pt', DPTConfig(),
              InputPolicy(height=384, width=384, multiple=STRIDE, keep_aspect=True),
              'zero-shot (DPT paper, Table 1): DIW WHDR 11.06, ETH3D AbsRel 0.093, Sintel AbsRel '
              '0.274, KITTI delta>1.25 11.56%, NYU 8.69%, TUM 10.89%', 100.0,
              train_set='MIX 6 (1.4M images)'),
    _official('dpt-hybrid-kitti', 'dpt_hybrid_kitti-cb926ef4.pt', DPTConfig(**KITTI),
              KITTI_SIZE, KITTI_REPORTED, study='DPT-H', train_set='KITTI Eigen'),
    _official('dpt-hybrid-nyu', 'dpt_hybrid_nyu-2ce69ec7.pt', DPTConfig(**NYU),
              InputPolicy(height=480, width=640, multiple=STRIDE, keep_aspect=True),
              'NYUv2 (DPT paper, Table 4)', 10.0, train_set='NYU Depth v2'),
    _study('dpt-hybrid-kitti-r', 'rdcufuen', DPTConfig(**KITTI, **FORK),
           'KITTI Eigen test (study, Table 6.1): delta1 0.937, AbsRel 0.074, SILog 10.20',
           study='DPT-H-r'),
    _study('dpt-hybrid-kitti-a', 'xhxbeoev',
           DPTConfig(**KITTI, **FORK, hooks=(0, 1), heads=1),
           'KITTI Eigen test (study, Table 6.1): delta1 0.938, AbsRel 0.074, SILog 10.19',
           study='A'),
)


def _spec(variant: _Variant) -> ModelSpec:
    metric = variant.config.depth_scale is not None
    return ModelSpec(
        name=variant.name,
        family='dpt',
        builder=partial(build, variant.config),
        input_policy=variant.policy,
        output_kind='metric' if metric else 'inverse_relative',
        max_depth=variant.max_depth,
        weights=WeightsSource(url=variant.url, sha256=variant.sha256, file_format='torch'),
        load_checkpoint=load_checkpoint,
        license_terms=variant.license_terms,
        source=variant.source,
        paper=PAPER if variant.source == SOURCE else f'{STUDY}; {PAPER}',
        reported=variant.reported,
        extra={'config': variant.config, **variant.extra},
        processing=STUDY_PROCESSING if variant.source == FORK_SOURCE else PROCESSING,
        **MEAN_STD,
    )


SPECS = tuple(_spec(variant) for variant in VARIANTS)

# ---------------------------------------------------------------------------------------------
# Parity with the goldens of isl-org/DPT and of the study's fork (shared/parity, family 'dpt').

PARITY_VARIANTS = {'dpt_hybrid_midas': 'dpt-hybrid-midas', 'dpt_hybrid_kitti': 'dpt-hybrid-kitti',
                   'dpt_hybrid_nyu': 'dpt-hybrid-nyu',
                   'dpt_hybrid_tfm_modelA': 'dpt-hybrid-kitti-a'}
PARITY_POOL = 4  # the goldens keep the decoder inputs average-pooled to 4x4


def _parity_zoo_name(case: dict) -> str:
    return PARITY_VARIANTS[case['variant'].split()[0]]


def _parity_build(case: dict) -> DPT:
    name = _parity_zoo_name(case)
    return DPT(next(v.config for v in VARIANTS if v.name == name)).eval()


def _parity_parts(model: DPT) -> dict[str, nn.Module]:
    # the fork's case (its position embedding resized with align_corners) has the fork's names
    return {'keys': fork_layout(model) if model.config.pos_embed_align_corners else model}


def _parity_outputs(model: DPT, x: torch.Tensor) -> dict[str, torch.Tensor]:
    levels = model.forward_encoder(x)
    head = model.decode(levels)
    outputs = {'output': model.to_depth(F.relu(head))[:, 0], 'head_prerelu': head}
    outputs.update({f'layer{i}': F.adaptive_avg_pool2d(level, PARITY_POOL)
                    for i, level in enumerate(levels, start=1)})
    return outputs


PARITY = ParityHooks(build=_parity_build, parts=_parity_parts, outputs=_parity_outputs,
                     zoo_name=_parity_zoo_name)
