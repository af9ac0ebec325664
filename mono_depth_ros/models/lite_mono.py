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
Lite-Mono: a lightweight CNN and Transformer network for self-supervised monocular depth.

Zhang, Nex, Vosselman, Kerle, "Lite-Mono: A Lightweight CNN and Transformer Architecture for
Self-Supervised Monocular Depth Estimation", CVPR 2023. Official code and weights:
https://github.com/noahzn/Lite-Mono (MIT license). This is an independent pure-PyTorch
re-implementation whose ``state_dict`` names are exactly those of the official ``encoder.pth`` and
``depth.pth``, so the official checkpoints load strictly.

The encoder is a three-stage pyramid (1/4, 1/8, 1/16). Each stage is a run of Consecutive
Dilated Convolution blocks (depthwise dilated 3x3 conv + inverted bottleneck) ending in one
Local-Global Features Interaction block (cross-covariance attention + inverted bottleneck).
Average-pooled copies of the input image are concatenated to the input of every downsampling
layer. The decoder is monodepth2-style: upsample, skip connection, and a sigmoid disparity per
scale. The official training resolution decides the dilation rates, so each variant is built for
640x192 or 1024x320 and must be loaded with the checkpoint trained at that resolution.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Sequence

from mono_depth_ros import parity
from mono_depth_ros.models.spec import InputPolicy, ModelSpec, Processing, WeightsSource
from mono_depth_ros.weights import CheckpointError, load_state_dict_strict, read_checkpoint
import torch
from torch import nn
import torch.nn.functional as F

FAMILY = 'lite-mono'
SOURCE = 'https://github.com/noahzn/Lite-Mono'
PAPER = 'https://arxiv.org/abs/2211.13202'
IMAGE_MEAN = 0.45
IMAGE_STD = 0.225
# Entries of an official encoder.pth that are not weights.
CHECKPOINT_METADATA = ('height', 'width', 'use_stereo')

# variant -> channels per stage, blocks per stage (the last block of each stage is an LGFI).
ARCHITECTURES = {
    'lite-mono-tiny': ((32, 64, 128), (4, 4, 7)),
    'lite-mono-small': ((48, 80, 128), (4, 4, 7)),
    'lite-mono': ((48, 80, 128), (4, 4, 10)),
    'lite-mono-8m': ((64, 128, 224), (4, 4, 10)),
}
RESOLUTIONS = ((192, 640), (320, 1024))
DEFAULT_RESOLUTION = RESOLUTIONS[0]


def dilation_rates(variant: str, height: int, width: int) -> tuple[tuple[int, ...], ...]:
    """
    Return the dilation rate of every dilated-conv block, per stage, as the official code sets.

    The rates depend on the training resolution (wider at 1024x320), except for lite-mono-8m,
    which uses the 640x192 rates at both resolutions.
    """
    if variant not in ARCHITECTURES:
        raise ValueError(f'unknown Lite-Mono variant {variant!r}; '
                         f'known: {", ".join(ARCHITECTURES)}')
    if (height, width) not in RESOLUTIONS:
        known = ', '.join(f'{w}x{h}' for h, w in RESOLUTIONS)
        raise ValueError(f'Lite-Mono is defined only at its training resolutions ({known}), '
                         f'not {width}x{height}')
    large = (height, width) == (320, 1024) and variant != 'lite-mono-8m'
    cycle = (1, 2, 5) if large else (1, 2, 3)
    last = (2, 4, 10) if large else (2, 4, 6)
    deep = ARCHITECTURES[variant][1][2] == 10
    return cycle, cycle, cycle + (cycle if deep else ()) + last


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples of a residual branch in training, identity in eval."""
    if rate == 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


class BatchNormGELU(nn.Module):
    """BatchNorm followed by GELU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise and activate."""
        return F.gelu(self.bn(x))


class StridedConv(nn.Module):
    """3x3 convolution without bias, optionally followed by BatchNorm and GELU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 bn_gelu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn_gelu = BatchNormGELU(out_channels) if bn_gelu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve (and normalise)."""
        x = self.conv(x)
        return x if self.bn_gelu is None else self.bn_gelu(x)


class DepthwiseDilatedConv(nn.Module):
    """Depthwise 3x3 convolution with dilation, padded to keep the size."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation,
                              groups=channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve each channel."""
        return self.conv(x)


class InvertedBottleneck(nn.Module):
    """Channels-last pointwise MLP (expand, GELU, project) scaled per channel (layer scale)."""

    def __init__(self, channels: int, expansion: int, layer_scale: float) -> None:
        super().__init__()
        self.pwconv1 = nn.Linear(channels, expansion * channels)
        self.pwconv2 = nn.Linear(expansion * channels, channels)
        self.gamma = nn.Parameter(torch.full((channels,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(..., C)`` to ``(..., C)``."""
        return self.gamma * self.pwconv2(F.gelu(self.pwconv1(x)))


class DilatedConvBlock(InvertedBottleneck):
    """One block of the Consecutive Dilated Convolutions (CDC) module."""

    def __init__(self, channels: int, dilation: int, expansion: int = 6,
                 layer_scale: float = 1e-6, drop_path_rate: float = 0.0) -> None:
        super().__init__(channels, expansion, layer_scale)
        self.ddwconv = DepthwiseDilatedConv(channels, dilation)
        self.bn1 = nn.BatchNorm2d(channels)
        # Stored in the official checkpoints but never applied by the official forward.
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.drop_path_rate = drop_path_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C, H, W)`` to the same shape."""
        branch = self.bn1(self.ddwconv(x)).permute(0, 2, 3, 1)
        branch = super().forward(branch).permute(0, 3, 1, 2)
        return x + drop_path(branch, self.drop_path_rate, self.training)


class FourierPositionEncoding(nn.Module):
    """Sine/cosine encoding of normalised pixel rows and columns, projected to ``channels``."""

    def __init__(self, channels: int, hidden: int = 32, temperature: float = 10000.0) -> None:
        super().__init__()
        self.token_projection = nn.Conv2d(2 * hidden, channels, kernel_size=1)
        self.hidden = hidden
        self.temperature = temperature

    def _encode(self, length: int, device: torch.device) -> torch.Tensor:
        """Return ``(length, hidden)``: interleaved sin/cos of positions 1..length over 2pi."""
        position = torch.arange(1, length + 1, dtype=torch.float32, device=device)
        position = position / (position[-1:] + 1e-6) * (2 * math.pi)
        pair = torch.arange(self.hidden // 2, dtype=torch.float32, device=device)
        frequency = self.temperature ** (2 * pair / self.hidden)
        angle = position[:, None] / frequency
        return torch.stack((angle.sin(), angle.cos()), dim=-1).flatten(1)

    def forward(self, height: int, width: int) -> torch.Tensor:
        """Return the encoding as ``(1, height * width, channels)`` tokens."""
        device = self.token_projection.weight.device
        rows = self._encode(height, device)[:, None, :].expand(height, width, self.hidden)
        cols = self._encode(width, device)[None, :, :].expand(height, width, self.hidden)
        features = torch.cat((rows, cols), dim=-1).permute(2, 0, 1)[None]
        return self.token_projection(features).flatten(2).transpose(1, 2)


class CrossCovarianceAttention(nn.Module):
    """XCiT's cross-covariance attention: heads attend over channels, not over tokens."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, N, C)`` tokens to the same shape."""
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, channels // self.heads)
        query, key, value = qkv.permute(2, 0, 3, 4, 1)  # each (B, heads, C/heads, N)
        query = F.normalize(query, dim=-1)
        key = F.normalize(key, dim=-1)
        attention = (query @ key.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        out = (attention @ value).permute(0, 3, 1, 2).reshape(batch, tokens, channels)
        return self.proj(out)


class LGFIBlock(InvertedBottleneck):
    """
    Local-Global Features Interaction: XCA over the tokens, then an inverted bottleneck.

    As in the official code, the block's residual skips both parts: the XCA update feeds only the
    bottleneck branch.
    """

    def __init__(self, channels: int, heads: int, position_encoding: bool, expansion: int = 6,
                 layer_scale: float = 1e-6, drop_path_rate: float = 0.0) -> None:
        super().__init__(channels, expansion, layer_scale)
        self.pos_embd = FourierPositionEncoding(channels) if position_encoding else None
        self.norm_xca = nn.LayerNorm(channels, eps=1e-6)
        self.gamma_xca = nn.Parameter(torch.full((channels,), layer_scale))
        self.xca = CrossCovarianceAttention(channels, heads)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.drop_path_rate = drop_path_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C, H, W)`` to the same shape."""
        batch, channels, height, width = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        if self.pos_embd is not None:
            tokens = tokens + self.pos_embd(height, width)
        tokens = tokens + self.gamma_xca * self.xca(self.norm_xca(tokens))
        branch = super().forward(self.norm(tokens.reshape(batch, height, width, channels)))
        return x + drop_path(branch.permute(0, 3, 1, 2), self.drop_path_rate, self.training)


class LiteMonoEncoder(nn.Module):
    """
    The Lite-Mono encoder; ``forward`` returns the features at 1/4, 1/8 and 1/16 resolution.

    Its ``state_dict`` is the official ``encoder.pth`` without the ``height``/``width``/
    ``use_stereo`` entries.
    """

    def __init__(self, variant: str = 'lite-mono', height: int = 192, width: int = 640,
                 drop_path_rate: float = 0.2, heads: int = 8) -> None:
        super().__init__()
        dilations = dilation_rates(variant, height, width)
        dims, depths = ARCHITECTURES[variant]
        self.num_ch_enc = dims
        stem = nn.Sequential(StridedConv(3, dims[0], 2, True),
                             StridedConv(dims[0], dims[0], 1, True),
                             StridedConv(dims[0], dims[0], 1, True))
        self.downsample_layers = nn.ModuleList(
            [stem] + [nn.Sequential(StridedConv(2 * dims[i] + 3, dims[i + 1], 2, False))
                      for i in range(2)])
        self.stem2 = nn.Sequential(StridedConv(dims[0] + 3, dims[0], 2, False))
        rates = torch.linspace(0, drop_path_rate, sum(depths), device='cpu').tolist()
        self.stages = nn.ModuleList()
        for stage, (dim, depth) in enumerate(zip(dims, depths)):
            stage_rates = rates[sum(depths[:stage]):sum(depths[:stage + 1])]
            blocks = [DilatedConvBlock(dim, dilation, drop_path_rate=rate)
                      for dilation, rate in zip(dilations[stage], stage_rates)]
            blocks.append(LGFIBlock(dim, heads, position_encoding=stage == 0,
                                    drop_path_rate=stage_rates[-1]))
            self.stages.append(nn.Sequential(*blocks))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Map a ``(B, 3, H, W)`` image in [0, 1] to three feature maps."""
        x = (x - IMAGE_MEAN) / IMAGE_STD
        image = [F.avg_pool2d(x, 3, stride=2, padding=1)]  # the image at 1/2, 1/4, 1/8
        for _ in range(2):
            image.append(F.avg_pool2d(image[-1], 3, stride=2, padding=1))
        x = self.downsample_layers[0](x)
        x = self.stem2(torch.cat((x, image[0]), dim=1))
        features = []
        for stage in range(3):
            if stage > 0:
                x = self.downsample_layers[stage](torch.cat((x, features[-1], image[stage]), 1))
            # x stays the stage's input: it joins the stage's output in the next downsampling.
            features.append(self.stages[stage](x))
        return features


class ReflectConv3x3(nn.Module):
    """3x3 convolution with reflection padding."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve, keeping the size."""
        return self.conv(F.pad(x, (1, 1, 1, 1), mode='reflect'))


class ConvELU(nn.Module):
    """Reflection-padded 3x3 convolution followed by ELU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ReflectConv3x3(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve and activate."""
        return F.elu(self.conv(x))


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)


class LiteMonoDecoder(nn.Module):
    """
    The Lite-Mono depth decoder: sigmoid disparities at scales 0, 1, 2 (1, 1/2, 1/4 size).

    Its ``state_dict`` is the official ``depth.pth``: ``decoder.0``-``decoder.5`` are the two
    convolutions of levels 2, 1, 0 (coarse to fine), ``decoder.6``-``decoder.8`` the disparity
    heads of scales 0, 1, 2.
    """

    def __init__(self, num_ch_enc: tuple[int, int, int]) -> None:
        super().__init__()
        num_ch_dec = [channels // 2 for channels in num_ch_enc]
        convs = []
        for level in (2, 1, 0):
            in_channels = num_ch_enc[-1] if level == 2 else num_ch_dec[level + 1]
            convs.append(ConvELU(in_channels, num_ch_dec[level]))
            skip = num_ch_enc[level - 1] if level > 0 else 0
            convs.append(ConvELU(num_ch_dec[level] + skip, num_ch_dec[level]))
        heads = [ReflectConv3x3(num_ch_dec[scale], 1) for scale in range(3)]
        self.decoder = nn.ModuleList(convs + heads)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Conv2d):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def forward(self, features: list[torch.Tensor],
                scales: tuple[int, ...] = (0, 1, 2)) -> dict[int, torch.Tensor]:
        """Map the encoder's features to ``{scale: disparity}``; scale s is at 1/2**s size."""
        disparities = {}
        x = features[-1]
        for index, level in enumerate((2, 1, 0)):
            x = [_upsample(self.decoder[2 * index](x))]
            if level > 0:
                x.append(features[level - 1])
            x = self.decoder[2 * index + 1](torch.cat(x, 1))
            if level in scales:
                disparities[level] = torch.sigmoid(_upsample(self.decoder[6 + level](x)))
        return disparities


class LiteMono(nn.Module):
    """
    Encoder and decoder; ``forward`` maps an image in [0, 1] to ``{'depth': disparity}``.

    The disparity is the decoder's full-resolution sigmoid output in (0, 1); monodepth2's
    ``disp_to_depth`` with the spec's ``min_depth``/``max_depth`` turns it into depth.
    """

    encoder_names = ('encoder',)

    def __init__(self, variant: str = 'lite-mono', height: int = 192, width: int = 640,
                 drop_path_rate: float = 0.2) -> None:
        super().__init__()
        self.variant = variant
        self.height = height
        self.width = width
        self.encoder = LiteMonoEncoder(variant, height, width, drop_path_rate)
        self.decoder = LiteMonoDecoder(self.encoder.num_ch_enc)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Map ``(B, 3, H, W)`` in [0, 1] to ``{'depth': (B, 1, H, W)}`` disparity."""
        return self.forward_head(self.forward_encoder(x), x.shape[-2:])

    def forward_encoder(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the encoder's features at 1/4, 1/8 and 1/16."""
        return self.encoder(x)

    def forward_head(self, features: list[torch.Tensor],
                     size: Sequence[int]) -> dict[str, torch.Tensor]:
        """Decode the encoder's features into the full-resolution disparity."""
        return {'depth': self.decoder(features, scales=(0,))[0]}


def build_lite_mono(variant: str = 'lite-mono', height: int = 192, width: int = 640,
                    drop_path_rate: float = 0.2) -> LiteMono:
    """Build a randomly initialised Lite-Mono ``variant`` for its training resolution."""
    return LiteMono(variant, height, width, drop_path_rate)


def spec_name(variant: str, height: int, width: int) -> str:
    """Return the registry name of ``variant`` trained at ``width`` x ``height``."""
    return variant if (height, width) == DEFAULT_RESOLUTION else f'{variant}-{width}x{height}'


def load_checkpoint(module: LiteMono, path: Path) -> None:
    """
    Load an official Lite-Mono weights folder (``encoder.pth`` and ``depth.pth``) strictly.

    The training resolution that the official trainer records in ``encoder.pth`` must be the
    module's, because the dilation rates depend on it (a file without that record is not checked).
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f'Lite-Mono weights are a folder holding encoder.pth and depth.pth, '
                              f'but {path} is not a folder; pass the folder (the unzipped '
                              'official download) instead')
    name = spec_name(module.variant, module.height, module.width)
    encoder_path = path / 'encoder.pth'
    encoder_state = read_checkpoint(encoder_path)
    if 'height' in encoder_state and 'width' in encoder_state:
        height, width = int(encoder_state['height']), int(encoder_state['width'])
        if (height, width) != (module.height, module.width):
            hint = (f"use model '{spec_name(module.variant, height, width)}'"
                    if (height, width) in RESOLUTIONS else 'no Lite-Mono variant is registered '
                    'for that resolution')
            raise CheckpointError(f'{encoder_path} was trained at {width}x{height}, but model '
                                  f'{name!r} is built for {module.width}x{module.height}; {hint}')
    weights = {k: v for k, v in encoder_state.items() if k not in CHECKPOINT_METADATA}
    load_state_dict_strict(module.encoder, weights, model=name, source=encoder_path)
    decoder_path = path / 'depth.pth'
    load_state_dict_strict(module.decoder, read_checkpoint(decoder_path), model=name,
                           source=decoder_path)


# Official downloads (surfdrive share folders, fetched as a zip) and the README's KITTI results
# (Eigen split, self-supervised, median scaling): AbsRel, SqRel, RMSE, RMSElog, d1, d2, d3.
_RELEASES = {
    ('lite-mono', 192, 640): ('CUjiK221EFLyXDY', '3.1M', (0.107, 0.765, 4.561, 0.183, 0.886,
                                                          0.963, 0.983)),
    ('lite-mono-small', 192, 640): ('8cuZNH1CkNtQwxQ', '2.5M', (0.110, 0.802, 4.671, 0.186,
                                                                0.879, 0.961, 0.982)),
    ('lite-mono-tiny', 192, 640): ('TFDlF3wYQy0Nhmg', '2.2M', (0.110, 0.837, 4.710, 0.187,
                                                               0.880, 0.960, 0.982)),
    ('lite-mono-8m', 192, 640): ('UlkVBi1p99NFWWI', '8.7M', (0.101, 0.729, 4.454, 0.178, 0.897,
                                                             0.965, 0.983)),
    ('lite-mono', 320, 1024): ('IK3VtPj6b5FkVnl', '3.1M', (0.102, 0.746, 4.444, 0.179, 0.896,
                                                           0.965, 0.983)),
    ('lite-mono-small', 320, 1024): ('w8mvJMkB1dP15pu', '2.5M', (0.103, 0.757, 4.449, 0.180,
                                                                 0.894, 0.964, 0.983)),
    ('lite-mono-tiny', 320, 1024): ('myxcplTciOkgu5w', '2.2M', (0.104, 0.764, 4.487, 0.180,
                                                                0.892, 0.964, 0.983)),
    ('lite-mono-8m', 320, 1024): ('mgonNFAvoEJmMas', '8.7M', (0.097, 0.710, 4.309, 0.174, 0.905,
                                                              0.967, 0.984)),
}


def _spec(variant: str, height: int, width: int) -> ModelSpec:
    share, params, metrics = _RELEASES[(variant, height, width)]
    reported = ('KITTI Eigen split, self-supervised (mono), {}x{}: AbsRel {} SqRel {} RMSE {} '
                'RMSElog {} d1 {} d2 {} d3 {}').format(width, height, *metrics)
    return ModelSpec(
        name=spec_name(variant, height, width),
        family=FAMILY,
        builder=functools.partial(build_lite_mono, variant, height, width),
        input_policy=InputPolicy(height=height, width=width),
        # test_simple.py: PIL LANCZOS, ToTensor; bilinear upsampling without align_corners.
        processing=Processing(resize='lanczos', upsample='bilinear', align_corners=False),
        output_kind='disparity',
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        min_depth=0.1,
        max_depth=100.0,
        # The share's zip is built on the fly, so its bytes (and hash) change between downloads:
        # only the files inside can be checked. Their sha256 are not published; once known they
        # go into files_sha256.
        weights=WeightsSource(url=f'https://surfdrive.surf.nl/files/index.php/s/{share}/download',
                              sha256=None, files=('encoder.pth', 'depth.pth'), file_format='zip'),
        load_checkpoint=load_checkpoint,
        license_terms='MIT',
        source=SOURCE,
        paper=PAPER,
        reported=reported,
        extra={'variant': variant, 'params': params, 'dataset': 'KITTI'},
    )


SPECS = tuple(_spec(variant, height, width)
              for height, width in RESOLUTIONS for variant in ARCHITECTURES)


def _parity_build(case: dict) -> LiteMono:
    return build_lite_mono(case['variant'], case['height'], case['width']).eval()


def _parity_parts(module: LiteMono) -> dict[str, nn.Module]:
    return {'encoder_keys': module.encoder, 'decoder_keys': module.decoder}


def _parity_outputs(module: LiteMono, x: torch.Tensor) -> dict[str, torch.Tensor]:
    features = module.encoder(x)
    outputs = {f'disp{scale}': disp for scale, disp in module.decoder(features).items()}
    outputs.update({f'encoder_feature{i}': F.avg_pool2d(feature, 4)
                    for i, feature in enumerate(features)})
    return outputs


PARITY = parity.ParityHooks(build=_parity_build, parts=_parity_parts, outputs=_parity_outputs)
