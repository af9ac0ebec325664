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
Training: losses, datasets, the loop, resume, distillation, CLI and the shipped weights.

Losses are checked against hand-computed values, the shipped joint-mnv3-synthetic weights against
their model card.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from mono_depth_ros.geometry import Intrinsics
from mono_depth_ros.train import losses
from mono_depth_ros.train.datasets import Augmentation, CachedScenes, TrainingSet, write_cache
from mono_depth_ros.train.loop import (clip_gradients, epoch_batches, forward_for_training,
                                       load_checkpoint, loss_terms, PRESETS, train, TrainConfig,
                                       warmup_cosine)
import numpy as np
import pytest
import torch

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / 'mono_depth_ros' / 'models' / 'weights'
SHIPPED = WEIGHTS_DIR / 'joint-mnv3-synthetic.safetensors'
PROVENANCE = WEIGHTS_DIR / 'joint-mnv3-synthetic.json'
LOG2 = math.log(2.0)


def _depth(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(1, 1, *np.shape(values))


# Losses.

def test_silog_of_a_constant_ratio_keeps_only_the_scale_share():
    pred = torch.full((1, 1, 2, 2), 2.0)
    target = _depth([[1.0, 1.0], [1.0, float('nan')]])
    # d = log 2 on the three valid pixels: sqrt(d^2 - 0.85 d^2) = log 2 * sqrt(0.15).
    expected = 10 * LOG2 * math.sqrt(0.15)
    assert losses.silog_loss(pred, target).item() == pytest.approx(expected, rel=1e-5)
    assert losses.silog_loss(pred, target, variance_focus=1.0).item() == pytest.approx(
        0.0, abs=1e-4)


def test_silog_of_two_ratios():
    pred = _depth([[1.0, 4.0]])
    target = _depth([[1.0, 1.0]])
    # d = (0, 2 log 2): mean d^2 = 2 log^2 2, mean d = log 2.
    expected = 10 * math.sqrt(2 * LOG2 ** 2 - 0.85 * LOG2 ** 2)
    assert losses.silog_loss(pred, target).item() == pytest.approx(expected, rel=1e-5)


def test_eigen_si_loss_is_the_papers_formula():
    pred = _depth([[1.0, 4.0, 2.0]])
    target = _depth([[1.0, 1.0, float('nan')]])
    # d = (0, 2 log 2): mean d^2 - 0.5 mean(d)^2 = 2 log^2 2 - 0.5 log^2 2, no root, no scale
    expected = 2 * LOG2 ** 2 - 0.5 * LOG2 ** 2
    assert losses.eigen_si_loss(pred, target).item() == pytest.approx(expected, rel=1e-5)
    constant = torch.full((1, 1, 2, 2), 3.0)
    assert losses.eigen_si_loss(constant, torch.ones_like(constant), si_lambda=1.0).item() == \
        pytest.approx(0.0, abs=1e-6)
    terms = loss_terms({'depth': pred}, {'depth': target}, depth_loss='eigen-si', si_lambda=0.5)
    assert terms['depth'].item() == pytest.approx(expected, rel=1e-5)


def test_clip_by_value_and_by_norm():
    layer = torch.nn.Linear(3, 2)
    for parameter in layer.parameters():
        parameter.grad = torch.full_like(parameter, 2.0)
    clip_gradients(layer, 0.5, 'value')
    assert all(bool((p.grad == 0.5).all()) for p in layer.parameters())
    clip_gradients(layer, 0.5, 'norm')
    norm = torch.cat([p.grad.flatten() for p in layer.parameters()]).norm()
    assert norm.item() == pytest.approx(0.5, rel=1e-5)


def test_study_preset_and_explicit_options(tmp_path):
    import argparse

    from mono_depth_ros.train.cli import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ['--model', 'dpt-hybrid-kitti-a', '--out', str(tmp_path), '--split', 'eigen.txt',
            '--data-root', str(tmp_path)]
    config = config_from_args(parser.parse_args([*base, '--preset', 'dpt-study']))
    assert (config.depth_loss, config.si_lambda, config.lr, config.weight_decay) == \
        ('eigen-si', 0.5, 1e-5, 0.01)
    assert (config.grad_clip, config.grad_clip_mode) == (0.5, 'value')
    assert config.schedule == 'constant'
    assert (config.augment, config.color_jitter, config.decay_all) == (True, False, True)
    assert (config.epochs, config.batch_size, config.dataset) == (20, 1, 'kitti')
    config.validate()
    override = config_from_args(parser.parse_args(
        ['--epochs', '2', *base, '--preset', 'dpt-study', '--lr', '3e-5', '--no-augment']))
    assert (override.epochs, override.lr, override.augment) == (2, 3e-5, False)
    assert override.si_lambda == 0.5
    plain = config_from_args(parser.parse_args(base))
    assert (plain.depth_loss, plain.grad_clip_mode, plain.epochs) == ('silog', 'norm', 10)
    assert set(PRESETS['dpt-study']) <= set(vars(config))


def test_log_l1_masks_invalid_depth():
    pred = _depth([[1.0, 2.0], [4.0, 8.0]])
    target = _depth([[1.0, 1.0], [1.0, 0.0]])
    # The zero target is invalid: mean(0, log 2, 2 log 2).
    assert losses.log_l1_loss(pred, target).item() == pytest.approx(LOG2, rel=1e-5)


def test_low_resolution_prediction_is_upsampled_bilinearly_to_the_target():
    pred = _depth([[1.0, 4.0]])
    target = torch.ones(1, 1, 2, 4)
    # align_corners=False: the four columns sample at -0.25, 0.25, 0.75, 1.25 (edges clamp).
    columns = [1.0, 1.75, 3.25, 4.0]
    expected = np.mean(np.log(columns))
    assert losses.log_l1_loss(pred, target).item() == pytest.approx(expected, rel=1e-5)


def test_a_batch_without_valid_depth_gives_zero_with_a_gradient():
    pred = torch.full((1, 1, 2, 2), 3.0, requires_grad=True)
    loss = losses.silog_loss(pred, torch.full((1, 1, 2, 2), float('nan')))
    loss.backward()
    assert loss.item() == 0.0 and pred.grad is not None


def test_cross_entropy_ignores_unlabelled_pixels():
    logits = torch.zeros(1, 2, 1, 2)
    logits[0, 1, 0, 0] = math.log(3.0)
    labels = torch.tensor([[[1, losses.IGNORE_INDEX]]])
    # Only the first pixel counts: p(class 1) = 3 / 4.
    assert losses.segmentation_loss(logits, labels).item() == pytest.approx(-math.log(0.75))
    uniform = torch.zeros(2, 6, 3, 4)
    full_res = torch.randint(0, 6, (2, 12, 16))
    assert losses.segmentation_loss(uniform, full_res).item() == pytest.approx(math.log(6))


def test_align_scale_shift_recovers_an_affine_map():
    source = torch.rand(2, 1, 4, 5) + 0.5
    target = torch.stack([3.0 * source[0] - 1.0, 0.5 * source[1] + 2.0])
    scale, shift = losses.align_scale_shift(source, target, torch.ones_like(source, dtype=bool))
    assert torch.allclose(scale, torch.tensor([3.0, 0.5]), atol=1e-4)
    assert torch.allclose(shift, torch.tensor([-1.0, 2.0]), atol=1e-4)


def test_ssi_distillation_is_zero_for_an_affine_teacher_and_ignores_its_scale():
    torch.manual_seed(0)
    student = torch.rand(2, 1, 6, 8) * 5 + 0.5
    teacher = 40.0 / student + 7.0
    assert losses.ssi_distillation_loss(student, teacher).item() == pytest.approx(0.0, abs=1e-4)
    other = torch.rand(2, 1, 6, 8) + 0.2
    loss = losses.ssi_distillation_loss(student, other)
    assert loss.item() > 0.05
    assert losses.ssi_distillation_loss(student, 25.0 * other + 3.0).item() == pytest.approx(
        loss.item(), rel=1e-3)


def test_silog_distillation_is_silog_against_the_teacher():
    student = torch.rand(1, 1, 3, 4) + 0.5
    teacher = torch.rand(1, 1, 6, 8) + 1.0
    assert losses.silog_distillation_loss(student, teacher).item() == pytest.approx(
        losses.silog_loss(student, teacher).item())


def test_weighted_sum_needs_a_weight_per_term():
    terms = {'depth': torch.tensor(2.0), 'seg': torch.tensor(3.0)}
    assert losses.weighted_sum(terms, {'depth': 0.5, 'seg': 2.0}).item() == 7.0
    with pytest.raises(KeyError, match='seg'):
        losses.weighted_sum(terms, {'depth': 1.0})


def test_loss_terms_add_log_l1_on_request():
    gt = torch.rand(2, 1, 8, 8) * 4 + 1
    batch = {'depth': gt, 'labels': torch.zeros(2, 8, 8, dtype=torch.long)}
    outputs = {'depth': 2 * gt[..., ::4, ::4], 'segm': torch.zeros(2, 6, 2, 2)}
    assert set(loss_terms(outputs, batch)) == {'depth', 'seg'}
    terms = loss_terms(outputs, batch, log_l1=True)
    assert set(terms) == {'depth', 'log_l1', 'seg'}
    assert terms['seg'].item() == pytest.approx(math.log(6))


def test_depth_losses_use_the_unclamped_log_depth():
    gt = torch.rand(1, 1, 8, 8) * 4 + 1
    # 0.01 m lies below the model's 0.1 m clamp: the clamped depth would give no gradient.
    log_depth = torch.full((1, 1, 8, 8), math.log(0.01), requires_grad=True)
    outputs = {'log_depth': log_depth,
               'depth': torch.exp(log_depth.clamp(math.log(0.1), math.log(20.0)))}
    terms = loss_terms(outputs, {'depth': gt}, log_l1=True)
    expected = (math.log(0.01) - torch.log(gt)).abs().mean()
    assert terms['log_l1'].item() == pytest.approx(expected.item(), rel=1e-5)
    terms['log_l1'].backward()
    assert log_depth.grad.abs().sum() > 0


def test_forward_for_training_matches_forward():
    from mono_depth_ros.models import create_model

    model = create_model('joint-mnv3-synthetic').eval()
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        ours, theirs = forward_for_training(model, x), model(x)
    assert set(ours) == {'log_depth', 'depth', 'segm'}
    assert torch.allclose(ours['depth'], theirs['depth'])
    assert torch.allclose(ours['segm'], theirs['segm'])


def test_warmup_then_cosine():
    factor = warmup_cosine(warmup_steps=4, total_steps=14)
    assert [factor(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(4) == pytest.approx(1.0)
    assert factor(9) == pytest.approx(0.5)
    assert factor(14) == pytest.approx(0.0)


# Datasets.

class _Frames:
    """A tiny in-memory data-layer sequence with an asymmetric scene."""

    def __init__(self, count: int = 3, height: int = 6, width: int = 8) -> None:
        rng = np.random.default_rng(0)
        self.items = []
        for _ in range(count):
            depth = rng.uniform(1, 10, (height, width)).astype(np.float32)
            depth[0, 0] = np.nan
            self.items.append(type('Frame', (), {
                'rgb': rng.integers(0, 256, (height, width, 3), dtype=np.uint8), 'depth': depth,
                'labels': rng.integers(0, 6, (height, width), dtype=np.uint8),
                'intrinsics': Intrinsics(10.0, 10.0, 2.0, 3.0, width, height)}))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return self.items[index]


def test_flip_mirrors_image_depth_labels_and_cx():
    frames = _Frames(count=1)
    plain = TrainingSet(frames)[0]
    flip_only = Augmentation(flip=True, brightness=0, contrast=0, saturation=0, gamma=0)
    flipped_set = TrainingSet(frames, augmentation=flip_only, seed=0)
    flips = []
    for epoch in range(8):
        flipped_set.set_epoch(epoch)
        item = flipped_set[0]
        flipped = not torch.equal(item['labels'], plain['labels'])
        flips.append(flipped)
        if flipped:
            assert torch.equal(item['labels'], plain['labels'].flip(-1))
            assert torch.equal(item['depth'].nan_to_num(-1),
                               plain['depth'].flip(-1).nan_to_num(-1))
            assert torch.allclose(item['image'], plain['image'].flip(-1))
            assert item['intrinsics'][2].item() == pytest.approx(8 - 1 - 2.0)
    assert any(flips) and not all(flips)


def test_augmentation_is_a_function_of_seed_epoch_and_index():
    frames = _Frames()
    first, second = TrainingSet(frames, augmentation=Augmentation(), seed=3), \
        TrainingSet(frames, augmentation=Augmentation(), seed=3)
    assert torch.equal(first[1]['image'], second[1]['image'])
    second.set_epoch(1)
    assert not torch.equal(first[1]['image'], second[1]['image'])
    assert first[1]['image'].min() >= 0 and first[1]['image'].max() <= 1


def test_resize_scales_intrinsics_and_keeps_labels_nearest():
    item = TrainingSet(_Frames(), size=(3, 4))[0]
    assert item['image'].shape == (3, 3, 4) and item['depth'].shape == (1, 3, 4)
    assert set(item['labels'].unique().tolist()) <= set(range(6))
    assert item['intrinsics'].tolist() == pytest.approx([5.0, 5.0, 0.75, 1.25])


def test_cache_round_trip(tmp_path):
    frames = _Frames()
    cache = write_cache(frames, tmp_path / 'cache', {'what': 'test'})
    assert len(cache) == 3
    for index in range(3):
        assert np.array_equal(cache[index].rgb, frames[index].rgb)
        assert np.array_equal(cache[index].depth, frames[index].depth, equal_nan=True)
        assert np.array_equal(cache[index].labels, frames[index].labels)
        assert cache[index].intrinsics == frames[index].intrinsics
    assert len(CachedScenes(tmp_path / 'cache')) == 3


def test_epoch_batches_are_fixed_by_the_seed():
    assert epoch_batches(10, 3, seed=5) == epoch_batches(10, 3, seed=5)
    batches = epoch_batches(10, 3, seed=5)
    assert len(batches) == 3 and len({i for b in batches for i in b}) == 9


# The loop.

def _tiny(tmp_path: Path, name: str, **changes) -> TrainConfig:
    """Return a config training the real model on 64x48 synthetic scenes (a second or two)."""
    values = {'model': 'joint-mnv3-synthetic', 'out': str(tmp_path / name), 'width': 64,
              'height': 48, 'train_count': 8, 'val_count': 0, 'epochs': 2, 'batch_size': 4,
              'lr': 2e-3, 'warmup_steps': 1, 'augment': False, 'progress': False,
              'cache': str(tmp_path / 'cache')}
    values.update(changes)
    return TrainConfig(**values)


def test_loss_goes_down_on_a_fixed_set(tmp_path):
    result = train(_tiny(tmp_path, 'run', epochs=6, lr=3e-3, val_count=4))
    first, last = result.history[0], result.history[-1]
    assert result.step == 12
    assert last['loss'] < 0.8 * first['loss']
    assert last['depth'] < first['depth'] and last['seg'] < first['seg']
    header = (Path(result.weights).parent / 'log.csv').read_text().splitlines()
    assert header[0].startswith('epoch,step,lr,loss') and len(header) == 7
    assert 0 <= last['val_miou'] <= 1 and last['val_abs_rel'] > 0
    assert result.weights.is_file()


def test_resume_mid_epoch_reproduces_the_straight_run(tmp_path):
    straight = train(_tiny(tmp_path, 'straight', accumulate=1))
    stopped = train(_tiny(tmp_path, 'stopped', max_steps=3))
    checkpoint = tmp_path / 'stopped' / 'checkpoint_last.pt'
    state = load_checkpoint(checkpoint)
    assert (state['epoch'], state['step'], state['batch']) == (1, 3, 1)
    resumed = train(_tiny(tmp_path, 'resumed'), resume=checkpoint)
    assert resumed.step == straight.step == 4
    ours, theirs = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert not all(torch.equal(ours[k], stopped.model.state_dict()[k]) for k in ours)


def test_accumulation_takes_one_optimizer_step_per_group(tmp_path):
    result = train(_tiny(tmp_path, 'accumulate', epochs=1, batch_size=2, accumulate=2))
    assert result.step == 2
    assert load_checkpoint(tmp_path / 'accumulate' / 'checkpoint_last.pt')['scheduler'][
        'last_epoch'] == 2


@pytest.mark.parametrize('teacher', ['lite-mono-tiny', 'joint-mnv3-synthetic'])
def test_distillation_from_a_zoo_teacher_runs_a_step(tmp_path, teacher):
    from mono_depth_ros.models import get_spec

    spec = get_spec(teacher)
    weights = 'auto' if spec.weights is not None and spec.weights.embedded else None
    if weights and not SHIPPED.is_file():
        pytest.skip('the shipped weights are not there yet')
    result = train(_tiny(tmp_path, 'distil', epochs=1, train_count=4, teacher=teacher,
                         teacher_weights=weights, distill_weight=0.5))
    assert result.step == 1
    assert math.isfinite(result.history[0]['distill']) and result.history[0]['distill'] > 0
    state = load_checkpoint(tmp_path / 'distil' / 'checkpoint_last.pt')
    assert state['config']['teacher'] == teacher


def test_channels_last_gives_the_same_step(tmp_path):
    plain = train(_tiny(tmp_path, 'plain', epochs=1, train_count=4, threads=1))
    fast = train(_tiny(tmp_path, 'fast', epochs=1, train_count=4, threads=1, channels_last=True))
    assert plain.step == fast.step == 1
    for name in ('loss', 'depth', 'seg'):
        assert fast.history[0][name] == pytest.approx(plain.history[0][name], rel=1e-4), name
    # Adam's first step is about lr * sign(gradient): float noise in a near-zero gradient can move
    # a weight by up to 2 * lr (4e-3), so 1e-3 still tells a different update apart.
    ours, theirs = plain.model.state_dict(), fast.model.state_dict()
    assert all(torch.allclose(ours[k].float(), theirs[k].float(), rtol=0, atol=1e-3)
               for k in ours)
    assert load_checkpoint(tmp_path / 'fast' / 'checkpoint_last.pt')['config']['channels_last']


def test_amp_on_the_cpu_is_refused_with_a_clear_message(tmp_path):
    with pytest.raises(ValueError, match='needs a CUDA device'):
        train(_tiny(tmp_path, 'amp', amp='bf16'))


def test_cli_trains_and_writes_weights(tmp_path, capsys):
    from mono_depth_ros.cli import main

    out = tmp_path / 'cli'
    status = main(['train', '--model', 'joint-mnv3-synthetic', '--width', '64', '--height', '48',
                   '--train-count', '4', '--val-count', '0', '--epochs', '1', '--batch-size',
                   '2', '--out', str(out), '--no-progress', '--no-augment'])
    assert status == 0
    assert (out / 'joint-mnv3-synthetic.safetensors').is_file()
    assert 'trained 2 steps' in capsys.readouterr().out
    assert main(['train', '--model', 'joint-mnv3-synthetic', '--amp', 'fp16', '--out',
                 str(out)]) == 2
    assert main(['train', '--model', 'joint-mnv3-synthetic', '--threads', '0', '--out',
                 str(out)]) == 2


# The shipped default model.

# The held-out metrics are recomputed on the first 20 scenes of seed 1234; the model card's JSON
# holds the same subset's values, computed by the same code on the training machine. Other CPUs
# and thread counts change float sums slightly, hence small absolute tolerances.
TOLERANCES = {'abs_rel': 2e-3, 'rmse': 5e-3, 'rmse_log': 2e-3, 'd1': 3e-3, 'miou': 3e-3,
              'pixel_accuracy': 2e-3}


def test_shipped_weights_load_strictly_through_auto():
    from mono_depth_ros.models import create_model
    from mono_depth_ros.weights import read_checkpoint

    provenance = json.loads(PROVENANCE.read_text())
    assert hashlib.sha256(SHIPPED.read_bytes()).hexdigest() == provenance['sha256']
    model = create_model('joint-mnv3-synthetic', weights='auto')
    stored = read_checkpoint(SHIPPED)
    ours = model.state_dict()
    assert set(stored) == set(ours)
    assert all(torch.equal(ours[key], stored[key].to(ours[key].dtype)) for key in ours)


def test_shipped_weights_reproduce_the_model_card_on_heldout_scenes():
    from mono_depth_ros.data.synthetic import SyntheticScenes
    from mono_depth_ros.estimator import DepthEstimator
    from mono_depth_ros.evaluate import evaluate

    card = json.loads(PROVENANCE.read_text())['evaluation']
    estimator = DepthEstimator.from_name('joint-mnv3-synthetic', weights='auto', device='cpu')
    result = evaluate(estimator, SyntheticScenes(1234, 20, 320, 240))
    assert result['images'] == 20
    for key, tolerance in TOLERANCES.items():
        assert result[key] == pytest.approx(card['heldout_first20'][key], abs=tolerance), key
