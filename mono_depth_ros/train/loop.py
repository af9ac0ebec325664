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
The training loop: AdamW, warmup + cosine, clipping, accumulation, AMP, checkpoints, resume.

One :class:`TrainConfig` describes a run completely; it is stored in every checkpoint so that a run
resumes exactly (same data order, same augmentation draws, same optimizer and scheduler state).
Checkpoints are written at the end of every epoch, and where ``max_steps`` stops a run inside an
epoch (resuming then continues at the next batch); they are read back with ``weights_only=True``.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field, fields
import json
import math
from pathlib import Path
import random
import sys
import time
from typing import Callable, Iterable, TextIO

from mono_depth_ros.models.registry import create_model, get_spec
from mono_depth_ros.models.spec import ModelSpec
from mono_depth_ros.train import losses
from mono_depth_ros.train.datasets import Augmentation, TrainingSet
from mono_depth_ros.train.distill import ClassMap, SegmentationDistillation
from mono_depth_ros.train.features import (encoder_modules, FeatureCache, freeze, keep_frozen,
                                           state_digest)
from mono_depth_ros.train.phases import parse_phases, Phase, phase_size
import numpy as np
import torch
import torch.nn.functional as F

AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
DATASETS = ('synthetic', 'folder', 'kitti')
DEPTH_LOSSES = ('silog', 'eigen-si')
SCHEDULES = ('warmup-cosine', 'constant')
CLIP_MODES = ('norm', 'value')
# Published fine-tuning recipes, as defaults that command-line options override.
PRESETS = {
    # The accelerated DPT-Hybrid study (guillesanbri/DPT train.py and train_utils.py): Eigen's
    # SI loss with lambda 0.5, AdamW at a constant 1e-5 (torch's betas, eps and weight decay 0.01
    # on every parameter), gradients clipped at 0.5 by value, horizontal flips only, batch 1,
    # 20 epochs on the KITTI Eigen split.
    'dpt-study': {
        'dataset': 'kitti', 'epochs': 20, 'batch_size': 1, 'lr': 1e-5, 'weight_decay': 0.01,
        'decay_all': True, 'schedule': 'constant', 'warmup_steps': 0, 'grad_clip': 0.5,
        'grad_clip_mode': 'value', 'depth_loss': 'eigen-si', 'si_lambda': 0.5,
        'augment': True, 'color_jitter': False, 'log_l1_weight': 0.0,
    },
}
LOSS_TERMS = ('loss', 'depth', 'log_l1', 'seg', 'distill', 'seg_distill')
CSV_COLUMNS = ('epoch', 'step', 'lr', *LOSS_TERMS, 'val_abs_rel', 'val_delta1', 'val_miou',
               'features_read', 'features_written', 'phase', 'size', 'seconds')


@dataclass
class TrainConfig:
    """Everything that defines a training run (the ``mono-depth train`` arguments)."""

    model: str
    out: str
    dataset: str = 'synthetic'
    data_root: str | None = None
    split: str | None = None
    val_split: str | None = None
    weights: str | None = None
    model_args: dict = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    train_count: int = 2000
    train_seed: int = 1
    val_count: int = 100
    val_seed: int = 2
    cache: str | None = None
    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_steps: int = 100
    schedule: str = 'warmup-cosine'
    grad_clip: float = 1.0
    grad_clip_mode: str = 'norm'
    decay_all: bool = False
    accumulate: int = 1
    amp: str = 'off'
    teacher: str | None = None
    teacher_weights: str | None = None
    distill_weight: float = 1.0
    seg_teacher: str | None = None
    seg_teacher_weights: str | None = None
    class_map: str | None = None
    kd_temperature: float = 20.0
    kd_alpha: float = 0.7
    depth_weight: float = 1.0
    depth_loss: str = 'silog'
    si_lambda: float = losses.SILOG_LAMBDA
    log_l1_weight: float = 0.0
    seg_weight: float = 1.0
    augment: bool = True
    color_jitter: bool = True
    freeze_encoder: bool = False
    feature_cache: str | None = None
    phases: str | None = None
    seed: int = 0
    workers: int = 0
    device: str = 'cpu'
    max_steps: int | None = None
    progress: bool = True
    channels_last: bool = False
    threads: int | None = None

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build a config from a dict, ignoring keys that are not fields (e.g. CLI extras)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent setting."""
        if self.dataset not in DATASETS:
            raise ValueError(f'--dataset {self.dataset!r}: choose one of {", ".join(DATASETS)}')
        if self.dataset != 'synthetic' and not self.data_root:
            raise ValueError(f'--dataset {self.dataset} needs --data-root')
        if self.dataset == 'kitti' and not self.split:
            raise ValueError('--dataset kitti needs --split, the Eigen split file of the '
                             'training frames (and optionally --val-split)')
        for name, allowed in (('depth_loss', DEPTH_LOSSES), ('schedule', SCHEDULES),
                              ('grad_clip_mode', CLIP_MODES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f'--{name.replace("_", "-")} {getattr(self, name)!r}: choose '
                                 f'one of {", ".join(allowed)}')
        if self.amp not in ('off', *AMP_DTYPES):
            raise ValueError(f'--amp {self.amp!r}: choose off, bf16 or fp16')
        if self.amp != 'off' and not self.device.startswith('cuda'):
            raise ValueError(f'--amp {self.amp} needs a CUDA device (got --device '
                             f'{self.device}); use --amp off on the CPU')
        for name in ('epochs', 'batch_size', 'accumulate', 'train_count'):
            if getattr(self, name) < 1:
                raise ValueError(f'--{name.replace("_", "-")} must be at least 1')
        if self.threads is not None and self.threads < 1:
            raise ValueError('--threads must be at least 1')
        if self.lr <= 0:
            raise ValueError('--lr must be positive')
        if self.phases is not None:
            parse_phases(self.phases)
        if self.feature_cache and not self.freeze_encoder:
            raise ValueError('--feature-cache keeps the encoder outputs of every training image, '
                             'which stay valid only while the encoder does not learn: add '
                             '--freeze-encoder')
        if self.feature_cache and self.augment:
            raise ValueError('--feature-cache computes the encoder outputs of each training image '
                             'once, but augmentation (random flips and colour jitter) changes the '
                             'images every epoch, so the cached features would not match them: '
                             'add --no-augment, or drop --feature-cache to augment with the '
                             'frozen encoder')
        if self.kd_temperature <= 0:
            raise ValueError('--kd-temperature must be positive')
        if not 0 <= self.kd_alpha <= 1:
            raise ValueError(f'--kd-alpha {self.kd_alpha}: the weight of the task loss must lie '
                             'in [0, 1] (the distillation term gets 1 - alpha)')
        if (self.width is None) != (self.height is None):
            raise ValueError('give both --width and --height, or neither')
        check_losses(get_spec(self.model), self)

    def phase_plan(self) -> tuple[Phase, ...]:
        """Return the phases: ``phases``, or one of ``epochs``, ``lr`` and ``batch_size``."""
        if self.phases is not None:
            return parse_phases(self.phases)
        return (Phase(1.0, self.epochs, self.lr, self.batch_size),)


def check_losses(spec: ModelSpec, config: TrainConfig) -> None:
    """Refuse losses that cannot supervise this model's outputs, saying what to do."""
    if config.teacher and not get_spec(config.teacher).has_depth:
        raise ValueError(f'--teacher {config.teacher} predicts no depth to distil; a '
                         'segmentation teacher goes in --seg-teacher')
    if config.seg_teacher:
        segmentation_distillation_map(spec, config)
    if not spec.has_depth:
        if config.teacher or config.log_l1_weight > 0:
            raise ValueError(f'{spec.name} has no depth head: drop --teacher and '
                             '--log-l1-weight (segmentation distillation is --seg-teacher)')
        return
    if spec.output_kind == 'metric':
        return
    if config.log_l1_weight > 0:
        raise ValueError(f'{spec.name} predicts {spec.output_kind} depth, known up to a scale: '
                         'the log-L1 loss needs metric predictions; use --log-l1-weight 0')
    if spec.output_kind == 'inverse_relative' and config.depth_weight > 0:
        raise ValueError(f'{spec.name} predicts affine-invariant inverse depth (unknown scale '
                         'and shift), which SI-log cannot supervise: fine-tune it by '
                         'distillation (--teacher, --depth-weight 0) or choose a metric variant')


def segmentation_distillation_map(spec: ModelSpec, config: TrainConfig) -> ClassMap:
    """Map ``config.seg_teacher``'s classes onto the student's, or fail saying why."""
    teacher = get_spec(config.seg_teacher)
    return ClassMap.build(spec.classes, teacher.classes, config.class_map,
                          student_name=f'student {spec.name}',
                          teacher_name=f'teacher {teacher.name}')


def clip_gradients(model: torch.nn.Module, limit: float, mode: str = 'norm') -> None:
    """Clip the gradients: their global norm to ``limit`` (``norm``), or each to +-limit."""
    if mode == 'value':
        torch.nn.utils.clip_grad_value_(model.parameters(), limit)
    else:
        torch.nn.utils.clip_grad_norm_(model.parameters(), limit)


def warmup_cosine(warmup_steps: int, total_steps: int, floor: float = 0.0
                  ) -> Callable[[int], float]:
    """LR factor: linear warmup to 1 over ``warmup_steps``, then cosine decay to ``floor``."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy's legacy global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def rng_states() -> dict:
    """Capture the global RNG states (stored in checkpoints)."""
    states = {'torch': torch.get_rng_state(),
              'numpy': json.dumps(np.random.get_state()[1].tolist()),
              'python': json.dumps(random.getstate()[1])}
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    """Restore what :func:`rng_states` captured."""
    torch.set_rng_state(states['torch'])
    np_state = np.random.get_state()
    np.random.set_state((np_state[0], np.array(json.loads(states['numpy']), dtype=np.uint32),
                         *np_state[2:]))
    py_state = random.getstate()
    random.setstate((py_state[0], tuple(json.loads(states['python'])), py_state[2]))
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


def _synthetic(seed: int, count: int, width: int, height: int, cache: str | None,
               workers: int = 0):
    from mono_depth_ros.data.synthetic import SyntheticScenes
    from mono_depth_ros.train.datasets import write_cache

    scenes = SyntheticScenes(seed=seed, count=count, width=width, height=height)
    if cache is None:
        return scenes
    meta = {'generator': 'SyntheticScenes', 'seed': seed, 'count': count, 'width': width,
            'height': height}
    return write_cache(scenes, Path(cache) / f'synthetic_s{seed}_n{count}_{width}x{height}', meta,
                       workers)


def build_sources(config: TrainConfig, size: tuple[int, int]) -> tuple[object, object | None]:
    """Return the (train, validation) data-layer sequences the config names."""
    height, width = size
    if config.dataset == 'synthetic':
        train = _synthetic(config.train_seed, config.train_count, width, height, config.cache,
                           config.workers)
        val = (_synthetic(config.val_seed, config.val_count, width, height, config.cache)
               if config.val_count > 0 else None)
        return train, val
    if config.dataset == 'folder':
        from mono_depth_ros.data.folder import FolderPairs

        root = Path(config.data_root)
        val_root = root / 'val'
        if (root / 'train').is_dir():
            root = root / 'train'
        return FolderPairs(root), (FolderPairs(val_root) if val_root.is_dir() else None)
    from mono_depth_ros.data.folder import KittiEigen

    return (KittiEigen(config.data_root, config.split),
            KittiEigen(config.data_root, config.val_split) if config.val_split else None)


def _subset(source, count: int):
    if source is None or count <= 0:
        return None
    return torch.utils.data.Subset(source, range(min(count, len(source))))


class Progress:
    """A one-line text progress bar on a stream (stderr), redrawn in place on a terminal."""

    def __init__(self, total: int, prefix: str, stream: TextIO | None = None,
                 enabled: bool = True) -> None:
        self.total = total
        self.prefix = prefix
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.start = time.monotonic()
        self.tty = self.stream.isatty()
        self.every = 1 if self.tty else max(1, total // 10)

    def update(self, done: int, info: str = '') -> None:
        """Show that ``done`` of ``total`` items are finished."""
        if not self.enabled or (done % self.every and done != self.total):
            return
        elapsed = time.monotonic() - self.start
        eta = elapsed / max(done, 1) * (self.total - done)
        width = 24
        filled = int(width * done / max(self.total, 1))
        bar = '#' * filled + '.' * (width - filled)
        line = (f'{self.prefix} [{bar}] {done}/{self.total} {elapsed:5.0f}s '
                f'eta {eta:4.0f}s {info}')
        self.stream.write(('\r' + line) if self.tty else line + '\n')
        if self.tty and done == self.total:
            self.stream.write('\n')
        self.stream.flush()


def normalise(image: torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    """Normalise a (B, 3, H, W) [0, 1] batch with the spec's mean and std."""
    mean = torch.tensor(spec.mean, device=image.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=image.device).view(1, 3, 1, 1)
    return (image - mean) / std


class Teacher:
    """A zoo model run without gradients to produce distillation targets."""

    def __init__(self, name: str, weights: str | None, device: torch.device) -> None:
        self.spec = get_spec(name)
        self.module = create_model(name, weights=weights).to(device).eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the teacher's outputs (``depth`` (B, 1, h, w), ``segm``) for a [0, 1] batch."""
        height, width = self.spec.input_policy.network_size(*image.shape[-2:])
        resized = F.interpolate(image, size=(height, width), mode='bilinear',
                                align_corners=False)
        return {name: value.float()
                for name, value in self.module(normalise(resized, self.spec)).items()}

    def loss(self, student_depth: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Distillation loss matching the teacher's output kind."""
        if self.spec.output_kind == 'metric':
            return losses.silog_distillation_loss(student_depth, target)
        return losses.ssi_distillation_loss(student_depth, target)


def loss_terms(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
               teacher: Teacher | None = None, teacher_target: torch.Tensor | None = None,
               log_l1: bool = False, depth_loss: str = 'silog',
               si_lambda: float = losses.SILOG_LAMBDA,
               seg_distillation: SegmentationDistillation | None = None,
               teacher_logits: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """
    Return the loss terms (``depth``, ``log_l1``, ``seg``, ``distill``, ``seg_distill``).

    ``depth_loss`` is ``silog`` (BTS's 10 sqrt(...) form) or ``eigen-si`` (Eigen's), both with
    ``si_lambda``. SI-log discounts most of a common scale error; ``log_l1`` adds a term that
    does not. Where
    ``outputs`` holds ``log_depth`` (see :func:`forward_for_training`) the depth losses use it, so
    that predictions outside the model's depth clamp still get gradients. Models without a depth
    head get no depth terms. ``seg_distill`` is the soft-target term of ``seg_distillation``
    against ``teacher_logits``.
    """
    terms = {}
    if 'depth' in outputs:
        log_input = 'log_depth' in outputs
        depth = outputs['log_depth' if log_input else 'depth'].float()
        if depth_loss == 'eigen-si':
            terms['depth'] = losses.eigen_si_loss(depth, batch['depth'], si_lambda=si_lambda,
                                                  log_input=log_input)
        else:
            terms['depth'] = losses.silog_loss(depth, batch['depth'], variance_focus=si_lambda,
                                               log_input=log_input)
        if log_l1:
            terms['log_l1'] = losses.log_l1_loss(depth, batch['depth'], log_input=log_input)
    if 'segm' in outputs:
        terms['seg'] = losses.segmentation_loss(outputs['segm'].float(), batch['labels'])
    if teacher is not None:
        terms['distill'] = teacher.loss(outputs['depth'].float(), teacher_target)
    if seg_distillation is not None:
        terms['seg_distill'] = seg_distillation.loss(outputs['segm'].float(), teacher_logits)
    return terms


def forward_for_training(model: torch.nn.Module, x: torch.Tensor,
                         features: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """
    Run the model for the losses: unclamped ``log_depth`` where it offers it, plus ``depth``.

    Models with ``head_log_depth`` (log-depth heads that clamp in ``forward``) get
    ``depth = exp(clamp(log_depth))``, what ``forward`` returns, for distillation. ``features``
    are the encoder's outputs for ``x`` when they come from elsewhere (a frozen encoder, the
    feature cache); otherwise the encoder runs here.
    """
    if features is None:
        features = model.forward_encoder(x)
    if not hasattr(model, 'head_log_depth'):
        return model.forward_head(features, x.shape[-2:])
    outputs = dict(model.head_log_depth(features, x.shape[-2:]))
    if 'log_depth' in outputs:
        low = getattr(model, 'log_min_depth', -math.inf)
        high = getattr(model, 'log_max_depth', math.inf)
        outputs['depth'] = torch.exp(outputs['log_depth'].clamp(low, high))
    return outputs


def depth_up_to_scale(prediction: torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    """
    Turn a raw prediction into depth (metres, or up to a scale for relative models).

    Disparity goes through monodepth2's ``disp_to_depth`` with the variant's depth range (as
    :func:`mono_depth_ros.scale.unscaled_depth` does in numpy); relative inverse depth is
    inverted. The scale-invariant losses then compare it with metric ground truth.
    """
    if spec.output_kind == 'disparity':
        low, high = 1.0 / spec.max_depth, 1.0 / spec.min_depth
        return 1.0 / (low + (high - low) * prediction)
    if spec.output_kind == 'inverse_relative':
        return 1.0 / prediction.clamp_min(1e-6)
    return prediction


@torch.no_grad()
def predict(model: torch.nn.Module, spec: ModelSpec, image: torch.Tensor
            ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Depth (B, H, W) and labels (B, H, W), each None if not predicted, at the batch's size."""
    outputs = model(normalise(image, spec))
    depth = None
    if 'depth' in outputs:
        depth = losses.resize_to(depth_up_to_scale(outputs['depth'].float(), spec), image)[:, 0]
    labels = None
    if 'segm' in outputs:
        labels = losses.resize_to(outputs['segm'].float(), image).argmax(1)
    return depth, labels


@torch.no_grad()
def validate(model: torch.nn.Module, spec: ModelSpec, loader: Iterable,
             device: torch.device) -> dict[str, float]:
    """
    AbsRel, delta1 and mIoU of the model on a loader, scored as ``mono-depth eval`` does.

    Depth counts where the ground truth lies inside ``(1e-3, spec.max_depth)``; relative models
    are median-scaled per image. Each metric is there when the model predicts its kind.
    """
    from mono_depth_ros import metrics
    from mono_depth_ros.evaluate import Scorer

    was_training = model.training
    model.eval()
    scorer = Scorer(median_scaling=spec.output_kind != 'metric', max_depth=spec.max_depth)
    confusion = np.zeros((len(spec.classes),) * 2, dtype=np.int64)
    for batch in loader:
        depth, labels = predict(model, spec, batch['image'].to(device))
        for i in range(batch['image'].shape[0]):
            if depth is not None:
                scorer.add(depth[i].cpu().numpy(), batch['depth'][i, 0].numpy())
            if labels is not None:
                confusion += metrics.confusion_matrix(labels[i].cpu().numpy(),
                                                      batch['labels'][i].numpy(),
                                                      len(spec.classes), losses.IGNORE_INDEX)
    model.train(was_training)
    values = {}
    if spec.has_depth:
        result = scorer.result()
        values.update(abs_rel=result['abs_rel'], delta1=result['d1'])
    if confusion.sum():
        values['miou'] = metrics.segmentation_metrics(confusion)['miou']
    return values


def export_safetensors(model: torch.nn.Module, path: Path, dtype: torch.dtype = torch.float32,
                       metadata: dict | None = None) -> Path:
    """Write the model's state_dict (floating tensors cast to ``dtype``) as a .safetensors file."""
    from safetensors.torch import save_file

    state = {k: (v.detach().to('cpu', dtype) if v.is_floating_point() else v.detach().cpu())
             .contiguous() for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={k: str(v) for k, v in (metadata or {}).items()})
    return path


@dataclass
class TrainResult:
    """What a finished run leaves behind."""

    model: torch.nn.Module
    step: int
    epoch: int
    history: list[dict]
    weights: Path


def epoch_batches(count: int, batch_size: int, seed: int) -> list[list[int]]:
    """Return the shuffled full batches of one epoch, fixed by ``seed`` alone (resumable)."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(count // batch_size)]


def _loader(dataset, workers: int, batch_sampler=None, batch_size: int = 1):
    batching = ({'batch_sampler': batch_sampler} if batch_sampler is not None
                else {'batch_size': batch_size})
    return torch.utils.data.DataLoader(dataset, num_workers=workers, worker_init_fn=_seed_worker,
                                       **batching)


def save_checkpoint(path: Path, state: dict) -> None:
    """Write a training checkpoint atomically (a partial file never replaces a good one)."""
    path = Path(path)
    tmp = path.with_suffix('.tmp')
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict:
    """Read a training checkpoint without executing pickled code."""
    return torch.load(Path(path), map_location='cpu', weights_only=True)


def train(config: TrainConfig, resume: Path | None = None) -> TrainResult:
    """
    Run (or resume) the training described by ``config``; return the trained model.

    Writes ``checkpoint_last.pt`` each epoch, ``log.csv`` and ``<model>.safetensors`` under
    ``config.out``. The run is one phase (``epochs``, ``lr``, ``batch_size`` at the training
    size) or the ``phases`` one after the other.
    """
    state = None
    if resume is not None:
        state = load_checkpoint(resume)
        saved = TrainConfig.from_dict(state['config'])
        # Keep the run's definition; only where outputs go and how long to run may change.
        saved.out, saved.epochs, saved.max_steps = config.out, config.epochs, config.max_steps
        saved.workers, saved.progress = config.workers, config.progress
        saved.channels_last, saved.threads = config.channels_last, config.threads
        config = saved
    config.validate()
    return Trainer(config, state).run()


class Trainer:
    """
    One training run: the model, its data, teachers and losses, and where it stands.

    Built from a validated :class:`TrainConfig` and, when resuming, the checkpoint's state; the
    phases then run one after the other (:meth:`run`), each with its own input size, optimizer
    and schedule.
    """

    def __init__(self, config: TrainConfig, state: dict | None = None) -> None:
        self.config, self.state = config, state
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(config.device)
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        self.memory_format = (torch.channels_last if config.channels_last
                              else torch.contiguous_format)
        seed_everything(config.seed)

        self.spec = spec = get_spec(config.model)
        self.model = create_model(config.model,
                                  weights=config.weights if state is None else None,
                                  **config.model_args).to(self.device,
                                                          memory_format=self.memory_format)
        self.frozen = encoder_modules(self.model, config.model) if config.freeze_encoder else []
        freeze(self.frozen)
        if config.width is not None:
            self.size = (config.height, config.width)
        else:
            policy = spec.input_policy
            self.size = policy.network_size(policy.height or 240, policy.width or 320)
        self.train_source, val_source = build_sources(config, self.size)
        self.val_source = _subset(val_source, config.val_count)
        self.augmentation = None
        if config.augment:
            self.augmentation = Augmentation() if config.color_jitter else Augmentation(
                brightness=0.0, contrast=0.0, saturation=0.0, gamma=0.0)
        self.teacher = (Teacher(config.teacher, config.teacher_weights, self.device)
                        if config.teacher else None)
        self.seg_teacher, self.seg_distillation = None, None
        if config.seg_teacher:
            shared = self.teacher is not None and (
                config.seg_teacher, config.seg_teacher_weights) == (config.teacher,
                                                                    config.teacher_weights)
            self.seg_teacher = (self.teacher if shared else
                                Teacher(config.seg_teacher, config.seg_teacher_weights,
                                        self.device))
            self.seg_distillation = SegmentationDistillation(
                segmentation_distillation_map(spec, config), config.kd_temperature)
        # With a segmentation teacher: alpha * task + (1 - alpha) * soft targets, times seg_weight.
        alpha = config.kd_alpha if self.seg_distillation is not None else 1.0
        self.weights = {'depth': config.depth_weight, 'log_l1': config.log_l1_weight,
                        'seg': config.seg_weight * alpha, 'distill': config.distill_weight,
                        'seg_distill': config.seg_weight * (1 - alpha)}
        self.phases = config.phase_plan()
        count = len(self.train_source)
        for phase in self.phases:
            if count < phase.batch_size:
                raise ValueError(f'{count} training samples are fewer than one batch of '
                                 f'{phase.batch_size}; lower --batch-size or add data')
        self.total_steps = sum(math.ceil((count // phase.batch_size) / config.accumulate)
                               * phase.epochs for phase in self.phases)
        if config.max_steps is not None:
            self.total_steps = min(self.total_steps, config.max_steps)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.amp == 'fp16')
        self.amp_dtype = AMP_DTYPES.get(config.amp)

        self.epoch, self.step, self.start_batch = 0, 0, 0
        self.history: list[dict] = []
        # The loss sums of the batches an interrupted epoch has seen, for its log row.
        self.epoch_sums: tuple[dict[str, float], int] = ({}, 0)
        if state is not None:
            self.model.load_state_dict(state['model'])
            self.scaler.load_state_dict(state['scaler'])
            self.epoch, self.step, self.start_batch = state['epoch'], state['step'], state['batch']
            self.history = list(state['history'])
            self.epoch_sums = (dict(state.get('epoch_sums', {})), state.get('epoch_seen', 0))
            restore_rng_states(state['rng'])
        # The log's seconds count the whole run, a resumed one continuing from its checkpoint.
        self.started = time.monotonic() - (state.get('seconds', 0.0) if state else 0.0)

    def run(self) -> TrainResult:
        """Train every phase that is not done yet; write the weights; return the result."""
        csv_path = self.out / 'log.csv'
        if self.state is None or not csv_path.is_file():
            with open(csv_path, 'w', newline='') as handle:
                csv.writer(handle).writerow(CSV_COLUMNS)
        first_epoch = 0
        for index, phase in enumerate(self.phases):
            end_epoch = first_epoch + phase.epochs
            if self.epoch < end_epoch and self.step < self.total_steps:
                if self._run_phase(index, phase, end_epoch):
                    break  # stopped by --max-steps inside an epoch
            first_epoch = end_epoch
        config = self.config
        weights = export_safetensors(self.model, self.out / f'{config.model}.safetensors',
                                     metadata={'model': config.model, 'step': self.step,
                                               'epoch': self.epoch})
        return TrainResult(model=self.model.eval(), step=self.step, epoch=self.epoch,
                           history=self.history, weights=weights)

    def _run_phase(self, index: int, phase: Phase, end_epoch: int) -> bool:
        """Train phase ``index`` up to ``end_epoch``; return whether ``max_steps`` stopped it."""
        config, model = self.config, self.model
        size = phase_size(self.size, phase.scale, self.spec.input_policy.multiple)
        train_set = TrainingSet(self.train_source, size=size, augmentation=self.augmentation,
                                seed=config.seed)
        val_loader = (_loader(TrainingSet(self.val_source, size=size), config.workers,
                              batch_size=phase.batch_size)
                      if self.val_source is not None else None)
        batches = len(train_set) // phase.batch_size
        steps_per_epoch = math.ceil(batches / config.accumulate)
        decay, no_decay = [], []
        for parameter in model.parameters():
            if parameter.requires_grad:
                (no_decay if parameter.dim() <= 1 and not config.decay_all else decay
                 ).append(parameter)
        optimizer = torch.optim.AdamW([{'params': decay, 'weight_decay': config.weight_decay},
                                       {'params': no_decay, 'weight_decay': 0.0}], lr=phase.lr)
        factor = (warmup_cosine(config.warmup_steps, steps_per_epoch * phase.epochs)
                  if config.schedule == 'warmup-cosine' else lambda step: 1.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        if self.state is not None and self.state.get('phase', 0) == index:
            # Resuming inside this phase (a checkpoint at a phase's end starts the next afresh).
            optimizer.load_state_dict(self.state['optimizer'])
            scheduler.load_state_dict(self.state['scheduler'])
        self.state = None
        feature_cache = None
        if config.feature_cache:
            key = {'model': config.model, 'model_args': config.model_args,
                   'encoder': state_digest(self.frozen), 'input': list(size),
                   'count': len(train_set)}
            feature_cache = FeatureCache(config.feature_cache, key, len(train_set),
                                         f'{config.model}-{size[1]}x{size[0]}')

        def checkpoint(batch_index: int, sums: dict[str, float], seen: int) -> None:
            save_checkpoint(self.out / 'checkpoint_last.pt', {
                'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                'scheduler': scheduler.state_dict(), 'scaler': self.scaler.state_dict(),
                'phase': index, 'epoch': self.epoch, 'step': self.step, 'batch': batch_index,
                'epoch_sums': sums, 'epoch_seen': seen, 'history': self.history,
                'seconds': time.monotonic() - self.started, 'rng': rng_states(),
                'config': asdict(config)})

        label = f'phase {index + 1}/{len(self.phases)} ' if len(self.phases) > 1 else ''
        total_epochs = sum(p.epochs for p in self.phases)
        while self.epoch < end_epoch and self.step < self.total_steps:
            model.train()
            keep_frozen(self.frozen)
            cache_counts = (feature_cache.read, feature_cache.written) if feature_cache else None
            train_set.set_epoch(self.epoch)
            order = epoch_batches(len(train_set), phase.batch_size,
                                  config.seed * 100003 + self.epoch)
            loader = _loader(train_set, config.workers, batch_sampler=order[self.start_batch:])
            progress = Progress(min(batches - self.start_batch,
                                    (self.total_steps - self.step) * config.accumulate),
                                f'{label}epoch {self.epoch + 1}/{total_epochs} '
                                f'{size[1]}x{size[0]}', enabled=config.progress)
            sums, seen = self.epoch_sums
            self.epoch_sums = ({}, 0)
            optimizer.zero_grad(set_to_none=True)
            stopped_at = None
            for batch_index, batch in enumerate(loader, start=self.start_batch):
                terms = self._losses(batch, order[batch_index], feature_cache)
                loss = losses.weighted_sum(terms, self.weights)
                self.scaler.scale(loss / config.accumulate).backward()
                seen += 1
                for name, value in {'loss': loss, **terms}.items():
                    sums[name] = sums.get(name, 0.0) + float(value.detach())
                if (batch_index + 1) % config.accumulate == 0 or batch_index + 1 == batches:
                    if config.grad_clip > 0:
                        self.scaler.unscale_(optimizer)
                        clip_gradients(model, config.grad_clip, config.grad_clip_mode)
                    self.scaler.step(optimizer)
                    self.scaler.update()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    self.step += 1
                    progress.update(batch_index + 1 - self.start_batch,
                                    f'loss {sums["loss"] / seen:.4f}')
                    if self.step >= self.total_steps and batch_index + 1 < batches:
                        stopped_at = batch_index + 1
                        break
            self.start_batch = 0
            if stopped_at is not None:
                # Stopped by --max-steps inside an epoch: the checkpoint resumes at the next batch.
                checkpoint(stopped_at, sums, seen)
                return True
            self.epoch += 1
            row = {'epoch': self.epoch, 'step': self.step, 'lr': optimizer.param_groups[0]['lr'],
                   **{name: sums.get(name, float('nan')) / max(seen, 1)
                      for name in LOSS_TERMS},
                   'phase': index + 1, 'size': f'{size[1]}x{size[0]}'}
            if feature_cache is not None:
                row['features_read'] = feature_cache.read - cache_counts[0]
                row['features_written'] = feature_cache.written - cache_counts[1]
            if val_loader is not None:
                row.update({f'val_{k}': v for k, v in validate(model, self.spec, val_loader,
                                                               self.device).items()})
            row['seconds'] = round(time.monotonic() - self.started, 1)
            self.history.append(row)
            with open(self.out / 'log.csv', 'a', newline='') as handle:
                csv.writer(handle).writerow([row.get(c, '') for c in CSV_COLUMNS])
            checkpoint(0, {}, 0)
        return False

    def _losses(self, batch: dict[str, torch.Tensor], indices: list[int],
                feature_cache: FeatureCache | None) -> dict[str, torch.Tensor]:
        """Run the model (and the teachers) on one batch; return its loss terms."""
        config, spec, model = self.config, self.spec, self.model
        images = batch['image']
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(self.device.type, dtype=self.amp_dtype,
                            enabled=self.amp_dtype is not None):
            inputs = normalise(batch['image'], spec).contiguous(memory_format=self.memory_format)
            features = None
            if feature_cache is not None:
                features = feature_cache.features(model.forward_encoder, indices, images, inputs)
            elif self.frozen:
                with torch.no_grad():
                    features = model.forward_encoder(inputs)
            outputs = forward_for_training(model, inputs, features)
            if 'depth' in outputs:
                outputs['depth'] = depth_up_to_scale(outputs['depth'], spec)
            targets = self.teacher(batch['image']) if self.teacher is not None else {}
            if self.seg_teacher is not None and self.seg_teacher is not self.teacher:
                targets['segm'] = self.seg_teacher(batch['image'])['segm']
            return loss_terms(outputs, batch, self.teacher, targets.get('depth'),
                              config.log_l1_weight > 0, config.depth_loss, config.si_lambda,
                              self.seg_distillation, targets.get('segm'))
