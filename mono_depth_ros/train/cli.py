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

"""``mono-depth train``: train, fine-tune or distil a zoo model."""
from __future__ import annotations

import argparse
from dataclasses import asdict
import json
from pathlib import Path

from mono_depth_ros.train.loop import (CLIP_MODES, DATASETS, DEPTH_LOSSES, PRESETS, SCHEDULES,
                                       TrainConfig)

DEFAULTS = TrainConfig(model='', out='')


def _model_arg(text: str) -> tuple[str, object]:
    key, sep, value = text.partition('=')
    if not sep or not key:
        raise argparse.ArgumentTypeError(f'--model-arg {text!r}: expected KEY=VALUE')
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mono-depth train``."""
    d = DEFAULTS
    model = parser.add_argument_group('model')
    model.add_argument('--model', required=True, help='zoo name of the model to train')
    model.add_argument('--weights', default=None,
                       help="initial weights to fine-tune ('auto', a file or a URL); "
                            'default: random initialisation')
    model.add_argument('--model-arg', action='append', type=_model_arg, default=[],
                       metavar='KEY=VALUE', help='builder keyword argument (JSON value)')
    model.add_argument('--freeze-encoder', action='store_const', const=True, default=None,
                       help='train the head only: the encoder keeps its weights (from '
                            '--weights), runs in eval mode and without gradients')
    model.add_argument('--feature-cache', default=None, metavar='DIR',
                       help='with --freeze-encoder: compute the encoder outputs of each training '
                            'image once into DIR (float16, memory-mapped) and reuse them every '
                            'epoch; a new cache is made when the model, its encoder weights, the '
                            'input size or the data change. Needs --no-augment')
    parser.add_argument('--preset', choices=sorted(PRESETS), default=None,
                        help="a published fine-tuning recipe ('dpt-study': the accelerated "
                             'DPT-Hybrid study: Eigen SI loss lambda 0.5, AdamW 1e-5, clipping '
                             'by value 0.5, flips, batch 1, 20 epochs on KITTI); options given '
                             'here override it')
    data = parser.add_argument_group('data')
    # Options a preset sets default to None: the preset's value, else the TrainConfig default.
    data.add_argument('--dataset', choices=DATASETS, default=None,
                      help=f'default: {d.dataset}')
    data.add_argument('--data-root', default=None, help='root folder for folder and kitti')
    data.add_argument('--split', default=None,
                      help='kitti: Eigen split file of the training frames')
    data.add_argument('--val-split', default=None,
                      help='kitti: split file of the validation frames')
    data.add_argument('--width', type=int, default=None,
                      help="training width (default: the model's input size)")
    data.add_argument('--height', type=int, default=None, help='training height')
    data.add_argument('--train-count', type=int, default=d.train_count,
                      help='synthetic training scenes')
    data.add_argument('--train-seed', type=int, default=d.train_seed,
                      help='synthetic training seed')
    data.add_argument('--val-count', type=int, default=d.val_count,
                      help='validation samples per epoch (0: no validation)')
    data.add_argument('--val-seed', type=int, default=d.val_seed,
                      help='synthetic validation seed')
    data.add_argument('--cache', default=None,
                      help='folder for a pre-rendered cache of the synthetic training scenes')
    data.add_argument('--no-augment', dest='augment', action='store_const', const=False,
                      default=None, help='no flip and colour jitter')
    data.add_argument('--no-color-jitter', dest='color_jitter', action='store_const',
                      const=False, default=None, help='flips only')
    data.add_argument('--workers', type=int, default=d.workers, help='DataLoader workers')
    optim = parser.add_argument_group('optimisation')
    optim.add_argument('--epochs', type=int, default=None, help=f'default: {d.epochs}')
    optim.add_argument('--phases', default=None, metavar='SCALE:EPOCHS:LR:BATCH,...',
                       help='train in phases one after the other, each at the training size '
                            'times SCALE (rounded to the model stride) for EPOCHS epochs, with a '
                            'fresh AdamW whose schedule peaks at LR, and batches of BATCH; e.g. '
                            '0.25:10:5e-4:16,0.5:5:5e-6:8,1:5:5e-6:4 (replaces --epochs, --lr '
                            'and --batch-size)')
    optim.add_argument('--max-steps', type=int, default=None,
                       help='stop after this many optimizer steps (resumable mid-epoch)')
    optim.add_argument('--batch-size', type=int, default=None,
                       help=f'default: {d.batch_size}')
    optim.add_argument('--lr', type=float, default=None,
                       help=f'peak learning rate of AdamW (default {d.lr})')
    optim.add_argument('--weight-decay', type=float, default=None,
                       help=f'AdamW weight decay (default {d.weight_decay}; not on biases and '
                            'norms unless --decay-all)')
    optim.add_argument('--decay-all', action='store_const', const=True, default=None,
                       help='weight decay on every parameter, biases and norms too')
    optim.add_argument('--schedule', choices=SCHEDULES, default=None,
                       help=f'learning rate schedule (default {d.schedule})')
    optim.add_argument('--warmup-steps', type=int, default=None,
                       help=f'linear warmup steps before the cosine decay (default '
                            f'{d.warmup_steps})')
    optim.add_argument('--grad-clip', type=float, default=None,
                       help=f'gradient clipping limit (0: none; default {d.grad_clip})')
    optim.add_argument('--grad-clip-mode', choices=CLIP_MODES, default=None,
                       help='norm: the global gradient norm; value: each gradient '
                            f'(default {d.grad_clip_mode})')
    optim.add_argument('--accumulate', type=int, default=d.accumulate,
                       help='batches per optimizer step')
    optim.add_argument('--amp', choices=('off', 'bf16', 'fp16'), default=d.amp,
                       help='mixed precision autocast (CUDA only; fp16 uses a GradScaler)')
    optim.add_argument('--seed', type=int, default=d.seed)
    optim.add_argument('--device', default=d.device, help='cpu, cuda, cuda:1, ...')
    optim.add_argument('--channels-last', action='store_true',
                       help='model and input batches in torch.channels_last (faster depthwise '
                            'convolutions on the CPU)')
    optim.add_argument('--threads', type=int, default=None,
                       help="torch intra-op threads (torch.set_num_threads; default: torch's)")
    loss = parser.add_argument_group('losses')
    loss.add_argument('--depth-weight', type=float, default=d.depth_weight)
    loss.add_argument('--depth-loss', choices=DEPTH_LOSSES, default=None,
                      help="'silog': BTS's 10 sqrt(mean d^2 - lambda mean(d)^2); 'eigen-si': "
                           f"Eigen's mean d^2 - lambda mean(d)^2 (default {d.depth_loss})")
    loss.add_argument('--si-lambda', type=float, default=None,
                      help=f'lambda of the scale-invariant loss (default {d.si_lambda})')
    loss.add_argument('--log-l1-weight', type=float, default=None,
                      help='weight of an L1 loss on log depth, which penalises a common scale '
                           'error that SI-log mostly ignores (0: off)')
    loss.add_argument('--seg-weight', type=float, default=d.seg_weight)
    loss.add_argument('--teacher', default=None, help='zoo model to distil from')
    loss.add_argument('--teacher-weights', default='auto',
                      help="the teacher's weights ('auto', a file or a URL)")
    loss.add_argument('--distill-weight', type=float, default=d.distill_weight)
    loss.add_argument('--seg-teacher', default=None,
                      help='zoo model with a segmentation head whose logits to distil: the '
                           'segmentation loss becomes alpha * cross-entropy + (1 - alpha) * '
                           'T^2 * KL(teacher || student) at temperature T')
    loss.add_argument('--seg-teacher-weights', default='auto',
                      help="the segmentation teacher's weights ('auto', a file or a URL)")
    loss.add_argument('--class-map', default=None,
                      help='JSON file mapping each student class to a teacher class or a list '
                           'of them (default: classes of the same name)')
    loss.add_argument('--kd-temperature', type=float, default=d.kd_temperature,
                      help='softmax temperature T of segmentation distillation')
    loss.add_argument('--kd-alpha', type=float, default=d.kd_alpha,
                      help='weight of the task loss against the distillation term (1 - alpha)')
    run = parser.add_argument_group('run')
    run.add_argument('--out', required=True, type=Path, help='output folder')
    run.add_argument('--resume', type=Path, default=None,
                     help='checkpoint to resume from (its settings win, except --epochs, '
                          '--max-steps, --out, --workers, --channels-last and --threads)')
    run.add_argument('--no-progress', dest='progress', action='store_false',
                     help='no progress lines on stderr')


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Turn parsed arguments into a :class:`TrainConfig`: given options, the preset, defaults."""
    preset = PRESETS.get(args.preset, {})
    values = {name: value for name, value in vars(args).items() if value is not None}
    values = {**asdict(DEFAULTS), **preset, **values}
    values['out'] = str(args.out)
    values['model_args'] = dict(args.model_arg)
    return TrainConfig.from_dict(values)


def main(args: argparse.Namespace) -> int:
    """Run ``mono-depth train``; print the final metrics and where the weights went."""
    from mono_depth_ros.train.loop import train

    config = config_from_args(args)
    try:
        config.validate()
    except ValueError as error:
        print(f'mono-depth train: {error}')
        return 2
    result = train(config, resume=args.resume)
    last = result.history[-1] if result.history else {}
    shown = ', '.join(f'{k} {v:.4f}' for k, v in last.items()
                      if k.startswith('val_') and isinstance(v, float))
    print(f'trained {result.step} steps ({result.epoch} epochs){": " + shown if shown else ""}')
    print(f'weights: {result.weights}')
    return 0
