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

"""Segmentation logit distillation: the loss, class maps and their errors, training with it."""
from __future__ import annotations

import json
import math

from mono_depth_ros.cli import main
from mono_depth_ros.data.synthetic import CLASSES
from mono_depth_ros.models.registry import get_spec
from mono_depth_ros.train import losses
from mono_depth_ros.train.distill import ClassMap, ClassMapError, SegmentationDistillation
from mono_depth_ros.train.loop import load_checkpoint, train, TrainConfig
import pytest
import torch
import torch.nn.functional as F

NYUD = get_spec('mtrn-nyud').classes
# A valid map from the synthetic scenes' classes onto NYUDv2-40 (for the checks, not for sense).
NYUD_MAP = {'sky': 'window', 'ground': ['floor', 'floor mat'], 'wall': 'wall',
            'box': ['box', 'cabinet'], 'sphere': 'lamp', 'cylinder': 'bag'}


def test_soft_target_loss_is_t_squared_kl_of_teacher_to_student():
    student = torch.zeros(1, 2, 1, 1)
    teacher = torch.tensor([math.log(3.0), 0.0]).view(1, 2, 1, 1)
    # T = 1: p_teacher = (3/4, 1/4), p_student = (1/2, 1/2).
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    loss = losses.logit_distillation_loss(student, F.log_softmax(teacher, 1), 1.0)
    assert loss.item() == pytest.approx(kl, rel=1e-6)
    t = 20.0
    hot = F.softmax(teacher.double() / t, 1)
    expected = t ** 2 * float((hot * (hot.log() - math.log(0.5))).sum())
    # A KL of 4e-4 in float32, scaled by 400: float32 rounding, not the formula, limits this.
    assert losses.logit_distillation_loss(student, F.log_softmax(teacher / t, 1), t).item() == \
        pytest.approx(expected, rel=1e-3)
    same = torch.randn(2, 5, 3, 4)
    assert losses.logit_distillation_loss(same, F.log_softmax(same / t, 1), t).item() == \
        pytest.approx(0.0, abs=1e-6)


def test_t_squared_keeps_the_gradient_on_the_scale_of_t_1():
    torch.manual_seed(0)
    teacher = torch.randn(1, 6, 4, 4)
    norms = {}
    for t in (1.0, 4.0, 20.0):
        student = (torch.randn(1, 6, 4, 4, generator=torch.Generator().manual_seed(1))
                   .requires_grad_())
        losses.logit_distillation_loss(student, F.log_softmax(teacher / t, 1), t).backward()
        norms[t] = student.grad.norm().item()
    # The gradient is T (p_s - p_t) with p_s - p_t ~ 1/T at high T: about constant in T.
    assert 0.3 < norms[20.0] / norms[1.0] < 3.0 and 0.3 < norms[4.0] / norms[1.0] < 3.0


def test_classes_map_by_name_in_the_students_order():
    teacher = ('Cylinder', 'wall', 'SKY', 'sphere', 'ground', 'box', 'person')
    class_map = ClassMap.build(CLASSES, teacher)
    assert class_map.groups == ((2,), (4,), (1,), (5,), (3,), (0,))
    logits = torch.randn(2, 7, 3, 3)
    order = [2, 4, 1, 5, 3, 0]
    expected = F.log_softmax(logits[:, order] / 5.0, 1)
    assert torch.allclose(class_map.log_probs(logits, 5.0), expected, atol=1e-6)


def test_a_map_file_groups_teacher_classes_whose_probabilities_add(tmp_path):
    path = tmp_path / 'map.json'
    path.write_text(json.dumps(NYUD_MAP))
    class_map = ClassMap.build(CLASSES, NYUD, path)
    assert class_map.groups[1] == (NYUD.index('floor'), NYUD.index('floor mat'))
    logits = torch.randn(1, 40, 2, 2)
    probs = F.softmax(logits / 3.0, 1)
    mapped = torch.stack([probs[:, list(group)].sum(1) for group in class_map.groups], 1)
    expected = mapped / mapped.sum(1, keepdim=True)
    assert torch.allclose(class_map.log_probs(logits, 3.0).exp(), expected, atol=1e-6)


def test_classes_that_cannot_be_mapped_by_name_say_what_to_give():
    with pytest.raises(ClassMapError) as error:
        ClassMap.build(CLASSES, NYUD, student_name='student s', teacher_name='teacher t')
    message = str(error.value)
    assert 'cannot map the classes of student s to those of teacher t by name' in message
    assert "'sky', 'ground', 'sphere', 'cylinder'" in message and '--class-map FILE' in message
    assert "'wall'" in message.split('teacher classes:')[1]
    with pytest.raises(ClassMapError, match='has no segmentation classes'):
        ClassMap.build(CLASSES, ())


@pytest.mark.parametrize('mapping, message', [
    ({**NYUD_MAP, 'tree': 'plant'}, "names classes the student does not have: 'tree'"),
    ({k: v for k, v in NYUD_MAP.items() if k != 'sky'}, "does not map the student classes 'sky'"),
    ({**NYUD_MAP, 'sky': 'heaven'}, "'sky' maps to 'heaven', which the teacher does not have"),
    ({**NYUD_MAP, 'sphere': 'wall'}, "teacher class 'wall' is given to both 'wall' and 'sphere'"),
    ({**NYUD_MAP, 'sky': []}, "'sky' must map to a teacher class or a non-empty list"),
    (['sky'], 'expected a JSON object'),
])
def test_a_bad_map_file_names_the_problem(tmp_path, mapping, message):
    path = tmp_path / 'map.json'
    path.write_text(json.dumps(mapping))
    with pytest.raises(ClassMapError, match=None) as error:
        ClassMap.build(CLASSES, NYUD, path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_teacher_logits_are_resized_to_the_student():
    distillation = SegmentationDistillation(ClassMap.build(CLASSES, CLASSES), 2.0)
    student = torch.randn(1, 6, 8, 8)
    teacher = F.interpolate(student, size=(4, 4), mode='bilinear', align_corners=False)
    assert distillation.loss(student, teacher).item() > 0
    assert distillation.loss(student, student.clone()).item() == pytest.approx(0.0, abs=1e-6)


def _tiny(tmp_path, name: str, **changes) -> TrainConfig:
    values = {'model': 'unet-ffm-mnv3-seg', 'out': str(tmp_path / name), 'width': 64,
              'height': 64, 'train_count': 8, 'val_count': 0, 'epochs': 3, 'batch_size': 4,
              'lr': 3e-3, 'warmup_steps': 1, 'augment': False, 'progress': False,
              'cache': str(tmp_path / 'cache'), 'threads': 1,
              'seg_teacher': 'joint-mnv3-synthetic', 'seg_teacher_weights': 'auto'}
    values.update(changes)
    return TrainConfig(**values)


def test_distilling_a_zoo_teacher_lowers_both_terms_weighted_by_alpha(tmp_path):
    result = train(_tiny(tmp_path, 'kd', val_count=4))
    first, last = result.history[0], result.history[-1]
    assert last['loss'] < first['loss']
    assert last['seg'] < first['seg'] and last['seg_distill'] < first['seg_distill']
    for row in result.history:
        assert math.isnan(row['depth']) and 0 <= row['val_miou'] <= 1
        assert row['loss'] == pytest.approx(0.7 * row['seg'] + 0.3 * row['seg_distill'],
                                            rel=1e-5)


def test_resume_inside_a_distillation_run_is_exact(tmp_path):
    straight = train(_tiny(tmp_path, 'straight', epochs=2, kd_temperature=4.0, kd_alpha=0.5))
    train(_tiny(tmp_path, 'stopped', epochs=2, kd_temperature=4.0, kd_alpha=0.5, max_steps=3))
    checkpoint = tmp_path / 'stopped' / 'checkpoint_last.pt'
    assert load_checkpoint(checkpoint)['config']['kd_temperature'] == 4.0
    resumed = train(_tiny(tmp_path, 'resumed', epochs=2), resume=checkpoint)
    ours, theirs = straight.model.state_dict(), resumed.model.state_dict()
    assert resumed.step == straight.step == 4
    assert all(torch.equal(ours[key], theirs[key]) for key in ours)


def test_configurations_that_cannot_distil_are_refused(tmp_path):
    with pytest.raises(ClassMapError, match='teacher depth-anything-v2-small has no segmentation'):
        _tiny(tmp_path, 'x', seg_teacher='depth-anything-v2-small').validate()
    with pytest.raises(ClassMapError, match="no teacher class is called 'sky', 'ground'"):
        _tiny(tmp_path, 'x', seg_teacher='mtrn-nyud').validate()
    path = tmp_path / 'map.json'
    path.write_text(json.dumps(NYUD_MAP))
    _tiny(tmp_path, 'x', seg_teacher='mtrn-nyud', class_map=str(path)).validate()
    with pytest.raises(ValueError, match='has no depth head'):
        _tiny(tmp_path, 'x', teacher='joint-mnv3-synthetic').validate()
    with pytest.raises(ValueError, match='segmentation teacher goes in --seg-teacher'):
        _tiny(tmp_path, 'x', model='joint-mnv3-synthetic', teacher='unet-ffm-mnv3-seg').validate()
    with pytest.raises(ValueError, match='--kd-alpha 1.5'):
        _tiny(tmp_path, 'x', kd_alpha=1.5).validate()


def test_cli_options_and_the_mapping_error(tmp_path, capsys):
    assert main(['train', '--model', 'unet-ffm-mnv3-seg', '--seg-teacher', 'mtrn-kitti',
                 '--out', str(tmp_path / 'x')]) == 2
    out = capsys.readouterr().out
    assert "no teacher class is called 'ground', 'wall', 'box', 'sphere', 'cylinder'" in out
    status = main(['train', '--model', 'unet-ffm-mnv3-seg', '--seg-teacher',
                   'joint-mnv3-synthetic', '--kd-temperature', '8', '--kd-alpha', '0.6',
                   '--width', '64', '--height', '64', '--train-count', '4', '--val-count', '0',
                   '--epochs', '1', '--batch-size', '4', '--threads', '1', '--no-augment',
                   '--no-progress', '--out', str(tmp_path / 'cli')])
    assert status == 0
    config = load_checkpoint(tmp_path / 'cli' / 'checkpoint_last.pt')['config']
    assert (config['kd_temperature'], config['kd_alpha']) == (8.0, 0.6)
    assert config['seg_teacher_weights'] == 'auto'
