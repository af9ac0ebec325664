"""Joint depth and segmentation with a Light-Weight RefineNet decoder.

Paper: V. Nekrasov, T. Dharmasiri, A. Spek, T. Drummond, C. Shen, I. Reid, "Real-Time Joint
Semantic Segmentation and Depth Estimation Using Asymmetric Annotations", ICRA 2019
(arXiv:1809.04766).

Two networks share the building blocks of this file (inverted residuals, chained residual pooling,
the fuse-refine-upsample step and the two-layer task heads):

- ``joint-mnv3-synthetic``, the package's default model: a MobileNetV3-Small style encoder
  (inverted residuals with squeeze-excitation and hard-swish) and a slim Light-Weight RefineNet
  decoder; it predicts log-depth and returns metres, plus logits over :data:`CLASSES`. Trained by
  this project on synthetic scenes (Apache-2.0).
- ``mtrn-nyud`` and ``mtrn-kitti``: a re-implementation of the official Multi-Task RefineNet
  (DrSleep/multi-task-refinenet @ 1986999, ``src/models.py``; MobileNet-v2 encoder), with the
  official state_dict names so that the official checkpoints load strictly. Those weights are
  BSD-2-Clause for academic use only; commercial use needs the authors' permission.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from mono_depth_ros.models.spec import InputPolicy, ModelSpec, WeightsSource
from mono_depth_ros.weights import load_state_dict_strict, read_checkpoint

CLASSES = ('sky', 'ground', 'wall', 'box', 'sphere', 'cylinder')

# Blocks shared by both networks.


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
            groups: int = 1, act: type[nn.Module] | None = nn.ReLU6) -> nn.Sequential:
    """Return convolution (no bias), batch norm and, unless ``act`` is None, the activation."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                        padding=kernel_size // 2, groups=groups, bias=False),
              nn.BatchNorm2d(out_channels)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


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
    """Inverted residual (MobileNet-v2): 1x1 expand, depthwise, optional SE, 1x1 linear project.

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
            layers.append(SqueezeExcite(hidden, _round_channels(hidden / 4)))
        layers.append(conv_bn(hidden, out_channels, 1, act=None))
        self.output = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        out = self.output(x)
        return out + x if self.residual else out


class CRPBlock(nn.Module):
    """Chained residual pooling: ``n_stages`` of 5x5 max-pool then 1x1 conv, each added to x.

    ``depthwise`` makes the 1x1 convolutions per-channel (the cheap variant used at 1/4 scale).
    The stage names (``1_outvar_dimred``, ...) are the official ones.
    """

    def __init__(self, channels: int, n_stages: int = 4, depthwise: bool = False) -> None:
        super().__init__()
        self.n_stages = n_stages
        for stage in range(1, n_stages + 1):
            self.add_module(f'{stage}_outvar_dimred',
                            nn.Conv2d(channels, channels, 1, bias=False,
                                      groups=channels if depthwise else 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the chain: each stage pools and convolves the previous stage's output."""
        top = x
        for stage in range(1, self.n_stages + 1):
            top = F.max_pool2d(top, kernel_size=5, stride=1, padding=2)
            top = getattr(self, f'{stage}_outvar_dimred')(top)
            x = x + top
        return x


def refine(inputs: Sequence[torch.Tensor], crp: nn.Module, adapt: nn.Module | None = None,
           size: Sequence[int] | None = None) -> torch.Tensor:
    """One Light-Weight RefineNet step: sum, ReLU6, CRP, then optional 1x1 adapt and upsampling."""
    x = F.relu6(sum(inputs[1:], inputs[0]))
    x = crp(x)
    if adapt is not None:
        x = adapt(x)
    if size is not None:
        x = F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)
    return x


def task_head(x: torch.Tensor, pre: nn.Module, out: nn.Module) -> torch.Tensor:
    """Apply a task branch after the last CRP: depthwise 1x1, ReLU6, 3x3 conv to its channels."""
    return out(F.relu6(pre(x)))


def _round_channels(value: float, divisor: int = 8) -> int:
    """Round a width to a multiple of ``divisor`` without losing more than 10% (MobileNet rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _head_pair(channels: int, out_channels: int) -> tuple[nn.Conv2d, nn.Conv2d]:
    return (nn.Conv2d(channels, channels, 1, groups=channels, bias=False),
            nn.Conv2d(channels, out_channels, 3, padding=1, bias=True))


# Our own model: MobileNetV3-Small style encoder + Light-Weight RefineNet decoder.

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
    """MobileNetV3-style encoder returning the features at strides 4, 8, 16 and 32."""

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

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the four feature maps, finest first."""
        features = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class JointMobileNetV3RefineNet(nn.Module):
    """Depth and segmentation at 1/4 resolution from a MobileNetV3 encoder.

    ``forward(x)`` returns ``{'depth': (B,1,H/4,W/4) metres, 'segm': (B,C,H/4,W/4) logits}``; the
    depth head predicts log-depth, which is clamped to ``[log min_depth, log max_depth]`` before
    the exponential (use :meth:`predict_log_depth` for training losses on log-depth).
    """

    def __init__(self, num_classes: int = len(CLASSES), decoder_channels: int = 96,
                 min_depth: float = 0.1, max_depth: float = 20.0) -> None:
        super().__init__()
        if not 0 < min_depth < max_depth:
            raise ValueError(f'need 0 < min_depth < max_depth, got {min_depth} and {max_depth}')
        self.log_min_depth = math.log(min_depth)
        self.log_max_depth = math.log(max_depth)
        width = decoder_channels
        self.encoder = MobileNetV3Encoder()
        self.project = nn.ModuleList(nn.Conv2d(c, width, 1, bias=False)
                                     for c in self.encoder.channels)
        # CRPs and adapters ordered coarsest first; the 1/4-scale CRP is depthwise to stay cheap.
        self.crp = nn.ModuleList([CRPBlock(width), CRPBlock(width), CRPBlock(width),
                                  CRPBlock(width, depthwise=True)])
        self.adapt = nn.ModuleList(nn.Conv2d(width, width, 1, bias=False) for _ in range(3))
        self.pre_depth, self.depth = _head_pair(width, 1)
        self.pre_segm, self.segm = _head_pair(width, num_classes)
        # Start near 2 m, the geometric middle of typical indoor ranges.
        nn.init.constant_(self.depth.bias, math.log(2.0))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the decoder's shared 1/4-resolution features."""
        levels = [proj(f) for proj, f in zip(self.project, self.encoder(x))][::-1]
        top = None
        for index, level in enumerate(levels):
            inputs = [level] if top is None else [level, top]
            last = index == len(levels) - 1
            top = refine(inputs, self.crp[index], None if last else self.adapt[index],
                         None if last else levels[index + 1].shape[-2:])
        return top

    def predict_log_depth(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``{'log_depth', 'segm'}`` before the clamp and the exponential."""
        shared = self.features(x)
        return {'log_depth': task_head(shared, self.pre_depth, self.depth),
                'segm': task_head(shared, self.pre_segm, self.segm)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Map a normalised ``(B,3,H,W)`` batch to depth in metres and segmentation logits."""
        out = self.predict_log_depth(x)
        log_depth = out['log_depth'].clamp(self.log_min_depth, self.log_max_depth)
        return {'depth': torch.exp(log_depth), 'segm': out['segm']}


def build_joint_mnv3(num_classes: int = len(CLASSES), decoder_channels: int = 96,
                     min_depth: float = 0.1, max_depth: float = 20.0
                     ) -> JointMobileNetV3RefineNet:
    """Build the ``joint-mnv3-synthetic`` network (random weights), for inference or training."""
    return JointMobileNetV3RefineNet(num_classes, decoder_channels, min_depth, max_depth)


def _load_safetensors(name: str):
    def load(module: nn.Module, path: Path) -> None:
        load_state_dict_strict(module, read_checkpoint(path), model=name, source=path)
    return load


SYNTHETIC = ModelSpec(
    name='joint-mnv3-synthetic',
    family='joint-refinenet',
    builder=build_joint_mnv3,
    input=InputPolicy(height=240, width=320),
    output_kind='metric',
    min_depth=0.1,
    max_depth=20.0,
    classes=CLASSES,
    weights=WeightsSource(embedded='joint-mnv3-synthetic.safetensors', format='safetensors'),
    load_checkpoint=_load_safetensors('joint-mnv3-synthetic'),
    license='Apache-2.0',
    source='trained by mono_depth_ros on synthetic scenes '
           '(docs/MODEL_CARD_joint-mnv3-synthetic.md)',
    paper='Nekrasov et al., Real-Time Joint Semantic Segmentation and Depth Estimation Using '
          'Asymmetric Annotations, ICRA 2019 (decoder design)',
)

SPECS = (SYNTHETIC,)
