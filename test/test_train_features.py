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

"""Frozen encoders and the feature cache: the encoder/head split of every family, invalidation."""
from __future__ import annotations

import math

from mono_depth_ros import parity
from mono_depth_ros.cli import main
from mono_depth_ros.models.registry import create_model, list_models
from mono_depth_ros.models.table import count_parameters
from mono_depth_ros.train.features import encoder_modules, FeatureCache, state_digest
from mono_depth_ros.train.loop import load_checkpoint, train, TrainConfig
import numpy as np
import pytest
import torch

# Module-wide on one thread: a shared 2-core machine (restored for the other modules).
pytestmark = pytest.mark.usefixtures('one_torch_thread')
# One variant per family (the variants of a family share their module class), the smallest.
FAMILIES = {}
for _spec in sorted((s for s in list_models() if s.builder is not None), key=count_parameters):
    FAMILIES.setdefault(_spec.family, _spec)


def _size(spec) -> tuple[int, int]:
    multiple = max(spec.input_policy.multiple, 1)
    side = multiple * math.ceil(64 / multiple)
    return side, side


@pytest.mark.parametrize('spec', FAMILIES.values(), ids=lambda spec: spec.family)
def test_every_family_splits_into_an_encoder_and_a_head(spec):
    model = spec.builder().eval()
    parity.fill_by_rule(model, 3)  # random initialisation can give an all-zero ReLU output
    x = torch.randn(1, 3, *_size(spec), generator=torch.Generator().manual_seed(0))
    encoder = {id(p) for module in encoder_modules(model, spec.name) for p in module.parameters()}
    head = [p for p in model.parameters() if id(p) not in encoder]
    assert encoder and head
    with torch.no_grad():
        whole = model(x)
        split = model.forward_head(model.forward_encoder(x), x.shape[-2:])
    assert whole.keys() == split.keys()
    assert all(torch.equal(whole[key], split[key]) for key in whole)
    # The encoder's outputs depend on encoder parameters only ...
    sum(level.float().sum() for level in model.forward_encoder(x)).backward()
    touched = {id(p) for p in model.parameters() if p.grad is not None and p.grad.any()}
    assert touched and touched <= encoder
    # ... and the head, given them, trains no encoder parameter.
    model.zero_grad(set_to_none=True)
    features = [level.detach() for level in model.forward_encoder(x)]
    sum(value.float().sum() for value in model.forward_head(features, x.shape[-2:]).values()
        ).backward()
    assert not any(p.grad is not None and p.grad.any() for p in model.parameters()
                   if id(p) in encoder)
    assert any(p.grad is not None and p.grad.any() for p in head)


def _tiny(tmp_path, name: str, **changes) -> TrainConfig:
    values = {'model': 'joint-mnv3-synthetic', 'out': str(tmp_path / name), 'width': 64,
              'height': 48, 'train_count': 8, 'val_count': 0, 'epochs': 3, 'batch_size': 4,
              'lr': 3e-3, 'warmup_steps': 1, 'augment': False, 'progress': False,
              'cache': str(tmp_path / 'cache'), 'threads': 1, 'freeze_encoder': True}
    values.update(changes)
    return TrainConfig(**values)


def _encoder_state(model) -> dict:
    return {key: value.clone() for module in encoder_modules(model, 'model')
            for key, value in module.state_dict().items()}


def test_a_frozen_encoder_keeps_weights_and_batch_norm_statistics(tmp_path):
    torch.manual_seed(0)  # train() seeds with config.seed: the same initial weights
    initial = create_model('joint-mnv3-synthetic')
    result = train(_tiny(tmp_path, 'frozen', epochs=4))
    before, after = _encoder_state(initial), _encoder_state(result.model)
    assert all(torch.equal(before[key], after[key]) for key in before)  # running stats too
    head = [key for key in initial.state_dict() if not key.startswith('encoder.')]
    assert any(not torch.equal(initial.state_dict()[key], result.model.state_dict()[key])
               for key in head)
    assert result.history[-1]['loss'] < result.history[0]['loss']


def test_cached_features_are_written_once_and_train_like_uncached(tmp_path):
    cache = str(tmp_path / 'features')
    uncached = train(_tiny(tmp_path, 'uncached'))
    cached = train(_tiny(tmp_path, 'cached', feature_cache=cache))
    assert [(row['features_read'], row['features_written']) for row in cached.history] == [
        (0, 8), (8, 0), (8, 0)]
    folders = list((tmp_path / 'features').iterdir())
    assert len(folders) == 1 and folders[0].name.startswith('joint-mnv3-synthetic-64x48-')
    assert np.load(folders[0] / 'level0.npy', mmap_mode='r').dtype == np.float16
    # float16 features: the same training within rounding.
    for ours, theirs in zip(cached.history, uncached.history):
        assert ours['loss'] == pytest.approx(theirs['loss'], rel=1e-2)
    again = train(_tiny(tmp_path, 'again', feature_cache=cache, epochs=1))
    assert (again.history[0]['features_read'], again.history[0]['features_written']) == (8, 0)


def test_resume_with_the_cache_is_exact(tmp_path):
    cache = str(tmp_path / 'features')
    straight = train(_tiny(tmp_path, 'straight', feature_cache=cache, epochs=2))
    train(_tiny(tmp_path, 'stopped', feature_cache=cache, epochs=2, max_steps=3))
    resumed = train(_tiny(tmp_path, 'resumed', epochs=2),
                    resume=tmp_path / 'stopped' / 'checkpoint_last.pt')
    ours, theirs = straight.model.state_dict(), resumed.model.state_dict()
    assert resumed.step == straight.step == 4
    assert all(torch.equal(ours[key], theirs[key]) for key in ours)


@pytest.mark.parametrize('change', [
    {'seed': 7},                           # other initial (encoder) weights
    {'width': 96, 'height': 64},           # another input size
    {'model': 'unet-ffm-mnv3', 'width': 64, 'height': 64},  # another model
])
def test_another_model_weights_or_size_gets_a_new_cache(tmp_path, change):
    cache = tmp_path / 'features'
    train(_tiny(tmp_path, 'first', feature_cache=str(cache), epochs=1))
    second = train(_tiny(tmp_path, 'second', feature_cache=str(cache), epochs=1, **change))
    assert second.history[0]['features_written'] == 8
    assert len(list(cache.iterdir())) == 2


def test_changed_data_recomputes_its_rows(tmp_path):
    cache = tmp_path / 'features'
    train(_tiny(tmp_path, 'first', feature_cache=str(cache), epochs=1))
    other = train(_tiny(tmp_path, 'other', feature_cache=str(cache), epochs=2, train_seed=5))
    assert [(row['features_read'], row['features_written']) for row in other.history] == [
        (0, 8), (8, 0)]
    assert len(list(cache.iterdir())) == 1  # same model, weights, size, count: rows rewritten


def test_encoder_digest_follows_the_weights():
    model = create_model('joint-mnv3-synthetic')
    modules = encoder_modules(model, 'joint-mnv3-synthetic')
    before = state_digest(modules)
    assert state_digest(modules) == before
    with torch.no_grad():
        modules[0].stem[0].weight[0, 0, 0, 0] += 1e-3
    assert state_digest(modules) != before


def test_a_cache_row_of_other_images_is_never_returned(tmp_path):
    model = create_model('joint-mnv3-synthetic').eval()
    cache = FeatureCache(tmp_path, {'what': 'test'}, count=2, label='t')
    images = torch.rand(2, 3, 32, 32)
    first = cache.features(model.forward_encoder, [0, 1], images, images)
    changed = images.clone()
    changed[1, 0, 0, 0] += 0.5
    second = cache.features(model.forward_encoder, [0, 1], changed, changed)
    assert (cache.read, cache.written) == (1, 3)
    assert torch.equal(first[0][0], second[0][0]) and not torch.equal(first[0][1], second[0][1])
    with torch.no_grad():
        expected = model.forward_encoder(changed[1:])[0][0].half().float()
    assert torch.equal(second[0][1], expected)


def test_what_the_cache_cannot_do_is_refused_with_the_reason(tmp_path, capsys):
    with pytest.raises(ValueError, match='add --freeze-encoder'):
        _tiny(tmp_path, 'x', freeze_encoder=False, feature_cache='f').validate()
    with pytest.raises(ValueError, match='augmentation .* changes the images every epoch'):
        _tiny(tmp_path, 'x', feature_cache='f', augment=True).validate()
    assert main(['train', '--model', 'joint-mnv3-synthetic', '--freeze-encoder',
                 '--feature-cache', str(tmp_path / 'f'), '--out', str(tmp_path / 'x')]) == 2
    assert 'changes the images every epoch' in capsys.readouterr().out


def test_a_depth_anything_metric_head_trains_on_the_frozen_cached_encoder(tmp_path):
    result = train(_tiny(tmp_path, 'dav2', model='depth-anything-v2-metric-hypersim-small',
                         width=56, height=42, epochs=2, lr=1e-3,
                         feature_cache=str(tmp_path / 'features')))
    assert [row['features_written'] for row in result.history] == [8, 0]
    state = load_checkpoint(tmp_path / 'dav2' / 'checkpoint_last.pt')
    assert state['config']['freeze_encoder'] and state['config']['feature_cache']
    torch.manual_seed(0)
    initial = create_model('depth-anything-v2-metric-hypersim-small').state_dict()
    trained = result.model.state_dict()
    assert all(torch.equal(initial[k], trained[k]) for k in initial if k.startswith('pretrained.'))
    assert not all(torch.equal(initial[k], trained[k]) for k in initial
                   if k.startswith('depth_head.'))
