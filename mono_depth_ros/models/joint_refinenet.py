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
Joint depth and segmentation with a Light-Weight RefineNet decoder.

Paper: V. Nekrasov, T. Dharmasiri, A. Spek, T. Drummond, C. Shen, I. Reid, "Real-Time Joint
Semantic Segmentation and Depth Estimation Using Asymmetric Annotations", ICRA 2019
(arXiv:1809.04766).

Two networks share the building blocks of this file (chained residual pooling, the
fuse-refine-upsample step and the two-layer task heads) and the MobileNet blocks of
``mobilenet.py``:

- ``joint-mnv3-synthetic``, the package's default model: a MobileNetV3-Small style encoder
  (``mobilenet.MobileNetV3Encoder``) and a slim Light-Weight RefineNet
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

from mono_depth_ros import parity
# The label ids are those of the synthetic scenes the default model is trained on.
from mono_depth_ros.data.synthetic import CLASSES
from mono_depth_ros.models.mobilenet import conv_bn, InvertedResidual, MobileNetV3Encoder
from mono_depth_ros.models.spec import InputPolicy, ModelSpec, Processing, WeightsSource
from mono_depth_ros.weights import CheckpointError, load_state_dict_strict, read_checkpoint
import torch
from torch import nn
import torch.nn.functional as F

# Blocks shared by both networks (the MobileNet blocks come from mobilenet.py).


class CRPBlock(nn.Module):
    """
    Chained residual pooling: ``n_stages`` of 5x5 max-pool then 1x1 conv, each added to x.

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


def _head_pair(channels: int, out_channels: int) -> tuple[nn.Conv2d, nn.Conv2d]:
    return (nn.Conv2d(channels, channels, 1, groups=channels, bias=False),
            nn.Conv2d(channels, out_channels, 3, padding=1, bias=True))


# Our own model: MobileNetV3-Small style encoder + Light-Weight RefineNet decoder.


class JointMobileNetV3RefineNet(nn.Module):
    """
    Depth and segmentation at 1/4 resolution from a MobileNetV3 encoder.

    ``forward(x)`` returns ``{'depth': (B,1,H/4,W/4) metres, 'segm': (B,C,H/4,W/4) logits}``; the
    depth head predicts log-depth, which is clamped to ``[log min_depth, log max_depth]`` before
    the exponential (:meth:`head_log_depth` gives log-depth for training losses).
    """

    encoder_names = ('encoder',)

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

    def forward_encoder(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the encoder's four feature maps (strides 4 to 32), finest first."""
        return self.encoder(x)

    def head_log_depth(self, features: list[torch.Tensor],
                       size: Sequence[int]) -> dict[str, torch.Tensor]:
        """Return ``{'log_depth', 'segm'}`` from the encoder's features, before the clamp."""
        levels = [proj(f) for proj, f in zip(self.project, features)][::-1]
        top = None
        for index, level in enumerate(levels):
            inputs = [level] if top is None else [level, top]
            last = index == len(levels) - 1
            top = refine(inputs, self.crp[index], None if last else self.adapt[index],
                         None if last else levels[index + 1].shape[-2:])
        return {'log_depth': task_head(top, self.pre_depth, self.depth),
                'segm': task_head(top, self.pre_segm, self.segm)}

    def forward_head(self, features: list[torch.Tensor],
                     size: Sequence[int]) -> dict[str, torch.Tensor]:
        """Map the encoder's features to depth in metres and segmentation logits."""
        out = self.head_log_depth(features, size)
        log_depth = out['log_depth'].clamp(self.log_min_depth, self.log_max_depth)
        return {'depth': torch.exp(log_depth), 'segm': out['segm']}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Map a normalised ``(B,3,H,W)`` batch to depth in metres and segmentation logits."""
        return self.forward_head(self.forward_encoder(x), x.shape[-2:])


def build_joint_mnv3(num_classes: int = len(CLASSES), decoder_channels: int = 96,
                     min_depth: float = 0.1, max_depth: float = 20.0
                     ) -> JointMobileNetV3RefineNet:
    """Build the ``joint-mnv3-synthetic`` network (random weights), for inference or training."""
    return JointMobileNetV3RefineNet(num_classes, decoder_channels, min_depth, max_depth)


def _load_safetensors(name: str):
    def load(module: nn.Module, path: Path) -> None:
        load_state_dict_strict(module, read_checkpoint(path), model=name, source=path)
    return load


# The official Multi-Task RefineNet (MobileNet-v2 + Light-Weight RefineNet), official key names.

# expansion, output width, repeats, stride of the first repeat (MobileNet-v2).
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))


class MultiTaskRefineNet(nn.Module):
    """
    Multi-Task Light-Weight RefineNet: segmentation, depth (and normals) at 1/4 resolution.

    Attribute names follow the official ``src/models.py`` so that its checkpoints load as they
    are. :meth:`forward_official` returns the official tuple ``(segm, depth[, normals])``;
    ``forward`` returns ``{'depth', 'segm'[, 'normals']}`` with depth in metres, taking the
    absolute value of the raw prediction as the official notebooks do.
    """

    encoder_names = tuple(f'layer{index}' for index in range(1, len(MOBILENET_V2) + 2))

    def __init__(self, num_classes: int, num_tasks: int = 2, width: int = 256) -> None:
        super().__init__()
        if num_tasks not in (2, 3):
            raise ValueError(f'num_tasks must be 2 (segm + depth) or 3 (+ surface normals), '
                             f'got {num_tasks}')
        self.num_tasks = num_tasks
        self.layer1 = conv_bn(3, 32, 3, stride=2)
        in_channels = 32
        for index, (expansion, out, repeats, stride) in enumerate(MOBILENET_V2, start=2):
            blocks = []
            for repeat in range(repeats):
                blocks.append(InvertedResidual(in_channels, out, in_channels * expansion,
                                               stride if repeat == 0 else 1))
                in_channels = out
            setattr(self, f'layer{index}', nn.Sequential(*blocks))
        for index, channels in ((8, 320), (7, 160), (6, 96), (5, 64), (4, 32), (3, 24)):
            setattr(self, f'conv{index}', nn.Conv2d(channels, width, 1, bias=False))
        for index in (4, 3, 2, 1):
            setattr(self, f'crp{index}', nn.Sequential(CRPBlock(width, depthwise=index == 1)))
        for index in (4, 3, 2):
            setattr(self, f'conv_adapt{index}', nn.Conv2d(width, width, 1, bias=False))
        self.pre_depth, self.depth = _head_pair(width, 1)
        self.pre_segm, self.segm = _head_pair(width, num_classes)
        if num_tasks == 3:
            self.pre_normal, self.normal = _head_pair(width, 3)

    def forward_encoder(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the MobileNet-v2 features the decoder reads: layers 3 to 8."""
        x = self.layer2(self.layer1(x))
        l3 = self.layer3(x)      # 1/4
        l4 = self.layer4(l3)     # 1/8
        l5 = self.layer5(l4)     # 1/16
        l6 = self.layer6(l5)     # 1/16
        l7 = self.layer7(l6)     # 1/32
        l8 = self.layer8(l7)     # 1/32
        return [l3, l4, l5, l6, l7, l8]

    def forward_official(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return the official outputs: ``(segm, depth)`` or ``(segm, depth, normals)``."""
        return self.head_official(self.forward_encoder(x))

    def head_official(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Decode the encoder's features into the official output tuple."""
        l3, l4, l5, l6, l7, l8 = features
        top = refine([self.conv8(l8), self.conv7(l7)], self.crp4, self.conv_adapt4,
                     l6.shape[-2:])
        top = refine([self.conv5(l5), self.conv6(l6), top], self.crp3, self.conv_adapt3,
                     l4.shape[-2:])
        top = refine([top, self.conv4(l4)], self.crp2, self.conv_adapt2, l3.shape[-2:])
        top = refine([self.conv3(l3), top], self.crp1)
        outputs = (task_head(top, self.pre_segm, self.segm),
                   task_head(top, self.pre_depth, self.depth))
        if self.num_tasks == 3:
            outputs += (task_head(top, self.pre_normal, self.normal),)
        return outputs

    def forward_head(self, features: list[torch.Tensor],
                     size: Sequence[int]) -> dict[str, torch.Tensor]:
        """Map the encoder's features to depth in metres and segmentation logits."""
        segm, depth, *normals = self.head_official(features)
        out = {'depth': depth.abs(), 'segm': segm}
        if normals:
            out['normals'] = normals[0]
        return out

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Map a normalised ``(B,3,H,W)`` batch to depth in metres and segmentation logits."""
        return self.forward_head(self.forward_encoder(x), x.shape[-2:])


def build_multitask_refinenet(num_classes: int, num_tasks: int = 2) -> MultiTaskRefineNet:
    """Build the official Multi-Task RefineNet, as the official ``net(num_classes, num_tasks)``."""
    return MultiTaskRefineNet(num_classes, num_tasks)


def _load_official(name: str):
    def load(module: nn.Module, path: Path) -> None:
        checkpoint = read_checkpoint(path)
        state_dict = checkpoint.get('state_dict', checkpoint)
        if not isinstance(state_dict, dict):
            raise CheckpointError(f'checkpoint {path} holds {type(state_dict).__name__} under '
                                  "'state_dict'; expected the official Multi-Task RefineNet "
                                  'dict of tensors')
        state_dict = {key.removeprefix('module.'): value for key, value in state_dict.items()}
        load_state_dict_strict(module, state_dict, model=name, source=path)
    return load


PARITY = parity.ParityHooks(
    build=lambda case: build_multitask_refinenet(case['num_classes'], case['num_tasks']).eval(),
    parts=lambda module: {'keys': module},
    outputs=lambda module, x: dict(zip(('segm', 'depth', 'normals'),
                                       module.forward_official(x))),
)

SYNTHETIC = ModelSpec(
    name='joint-mnv3-synthetic',
    family='joint-refinenet',
    builder=build_joint_mnv3,
    input_policy=InputPolicy(height=240, width=320),
    output_kind='metric',
    min_depth=0.1,
    max_depth=20.0,
    classes=CLASSES,
    no_depth_classes=('sky',),
    weights=WeightsSource(embedded='joint-mnv3-synthetic.safetensors', file_format='safetensors'),
    load_checkpoint=_load_safetensors('joint-mnv3-synthetic'),
    license_terms='Apache-2.0',
    source='synthetic demo model, not for real cameras: trained by mono_depth_ros on synthetic '
           'scenes only (docs/MODEL_CARD_joint-mnv3-synthetic.md)',
    paper='Nekrasov et al., Real-Time Joint Semantic Segmentation and Depth Estimation Using '
          'Asymmetric Annotations, ICRA 2019 (decoder design)',
    reported='34 real RGB-D frames (repository test set), indoor: AbsRel 2.475 as published, '
             '0.394 median-scaled, against 0.320 for a constant depth at the median; outdoor: '
             '0.745, 0.359 against 0.520 (README, real-frame accuracy)',
)

# NYUDv2-40 (Gupta et al. 2013), in the order of the official model's 40 logits.
NYUD40_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window', 'bookshelf',
    'picture', 'counter', 'blinds', 'desk', 'shelves', 'curtain', 'dresser', 'pillow', 'mirror',
    'floor mat', 'clothes', 'ceiling', 'books', 'refrigerator', 'television', 'paper', 'towel',
    'shower curtain', 'box', 'whiteboard', 'person', 'night stand', 'toilet', 'sink', 'lamp',
    'bathtub', 'bag', 'otherstructure', 'otherfurniture', 'otherprop')
# KITTI-6: the repository does not name the classes; these are read off its colour map
# (src/cmap_kitti.npy), which uses the CamVid colours of exactly these six classes in this order.
KITTI6_CLASSES = ('sky', 'building', 'road', 'sidewalk', 'vegetation', 'car')

MTRN_COMMIT = '1986999759dfac7d38ed9ccddda5d4f5ba488e82'
MTRN_WEIGHTS = f'https://github.com/DrSleep/multi-task-refinenet/raw/{MTRN_COMMIT}/weights/'
MTRN_LICENSE = ("BSD-2-Clause for academic use only; commercial use requires the authors' "
                'permission (README: "For academic usage, this project is licensed under the '
                '2-clause BSD License [...] For commercial usage, please contact the authors.")')
MTRN_PAPER = ('V. Nekrasov et al., Real-Time Joint Semantic Segmentation and Depth Estimation '
              'Using Asymmetric Annotations, ICRA 2019, arXiv:1809.04766')


def _mtrn_spec(name: str, checkpoint: str, classes: tuple[str, ...], height: int, width: int,
               max_depth: float, reported: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        family='multitask-refinenet',
        builder=lambda num_tasks=2: build_multitask_refinenet(len(classes), num_tasks),
        input_policy=InputPolicy(height=height, width=width),
        # The notebooks feed the frame as it is and upsample depth and logits with INTER_CUBIC.
        processing=Processing(resize='area', upsample='bicubic', align_corners=False,
                              labels='logits'),
        output_kind='metric',
        max_depth=max_depth,
        classes=classes,
        weights=WeightsSource(url=MTRN_WEIGHTS + checkpoint, file_format='torch'),
        load_checkpoint=_load_official(name),
        license_terms=MTRN_LICENSE,
        source=f'DrSleep/multi-task-refinenet @ {MTRN_COMMIT[:7]}, weights/{checkpoint}',
        paper=MTRN_PAPER,
        reported=reported,
    )


SPECS = (
    SYNTHETIC,
    # NYUD notebook: 640x480 frames; depth shown up to 8 m, NYUDv2's sensor range is 10 m.
    _mtrn_spec('mtrn-nyud', 'ExpNYUD_joint.ckpt', NYUD40_CLASSES, 480, 640, 10.0,
               'NYUDv2-40 mIoU 42.0% (paper)'),
    # KITTI notebook: the full KITTI frame as it is (1226x370 in its example).
    _mtrn_spec('mtrn-kitti', 'ExpKITTI_joint.ckpt', KITTI6_CLASSES, 370, 1226, 80.0, ''),
)
