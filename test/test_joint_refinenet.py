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

"""Tests of the joint depth + segmentation RefineNet family."""
import math

from mono_depth_ros import parity
from mono_depth_ros.models import joint_refinenet
from mono_depth_ros.models.joint_refinenet import (build_joint_mnv3, build_multitask_refinenet,
                                                   CLASSES, SPECS)
from mono_depth_ros.weights import CheckpointError
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

# Module-wide on one thread: a shared 2-core machine (restored for the other modules).
pytestmark = pytest.mark.usefixtures('one_torch_thread')

SPEC = {spec.name: spec for spec in SPECS}


@pytest.mark.parametrize('spec', SPECS, ids=lambda spec: spec.name)
def test_variant_builds_and_predicts_documented_shapes(spec):
    assert spec.family in ('joint-refinenet', 'multitask-refinenet')
    module = spec.builder().eval()
    torch.manual_seed(0)
    with torch.no_grad():
        out = module(torch.randn(1, 3, 240, 320))
    assert out['depth'].shape == (1, 1, 60, 80)
    assert out['segm'].shape == (1, len(spec.classes), 60, 80)
    assert torch.isfinite(out['depth']).all() and torch.isfinite(out['segm']).all()
    assert (out['depth'] >= 0).all()


def test_synthetic_classes_are_the_scene_generator_ids():
    assert CLASSES == ('sky', 'ground', 'wall', 'box', 'sphere', 'cylinder')
    spec = joint_refinenet.SYNTHETIC
    assert spec.name == 'joint-mnv3-synthetic' and spec.classes == CLASSES
    assert spec.input_policy.network_size(480, 640) == (240, 320)


def test_synthetic_model_is_small_and_under_one_gflop():
    module = build_joint_mnv3().eval()
    params = sum(p.numel() for p in module.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, 3, 240, 320))
    assert 0.5e6 < params < 3e6
    assert 0 < counter.get_total_flops() < 1e9


def test_synthetic_depth_is_clamped_exp_of_log_depth():
    module = build_joint_mnv3().eval()
    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        module.depth.bias.fill_(100.0)
        far = module(x)['depth']
        module.depth.bias.fill_(-100.0)
        near = module(x)['depth']
        module.depth.bias.fill_(0.0)
        raw = module.head_log_depth(module.forward_encoder(x), x.shape[-2:])['log_depth']
        mid = module(x)['depth']
    assert torch.allclose(far, torch.full_like(far, 20.0))
    assert torch.allclose(near, torch.full_like(near, 0.1))
    expected = raw.clamp(math.log(0.1), math.log(20.0)).exp()
    assert torch.allclose(mid, expected)


def test_synthetic_checkpoint_round_trip_is_strict(tmp_path):
    from safetensors.torch import save_file

    source = build_joint_mnv3().eval()
    path = tmp_path / 'joint-mnv3-synthetic.safetensors'
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    target = build_joint_mnv3().eval()
    joint_refinenet.SYNTHETIC.load_checkpoint(target, path)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(source(x)['segm'], target(x)['segm'])

    other = build_joint_mnv3(num_classes=3)
    with pytest.raises(CheckpointError, match='segm.weight'):
        joint_refinenet.SYNTHETIC.load_checkpoint(other, path)


def test_official_classes_and_sources():
    nyud, kitti = SPEC['mtrn-nyud'], SPEC['mtrn-kitti']
    assert len(nyud.classes) == len(set(nyud.classes)) == 40
    assert nyud.classes[:3] == ('wall', 'floor', 'cabinet') and nyud.classes[-1] == 'otherprop'
    assert len(kitti.classes) == 6
    for spec in (nyud, kitti):
        assert spec.weights.url.startswith('https://github.com/DrSleep/multi-task-refinenet/')
        assert spec.weights.file_format == 'torch' and 'academic' in spec.license_terms
    assert nyud.input_policy.network_size(480, 640) == (480, 640)


def _official_checkpoint(module):
    return {'state_dict': {'module.' + k: v for k, v in module.state_dict().items()},
            'epoch': 300}


def test_official_style_checkpoint_loads_strictly(tmp_path):
    torch.manual_seed(2)
    source = build_multitask_refinenet(6, 2).eval()
    parity.fill_by_rule(source, weight_seed=3)
    path = tmp_path / 'ExpKITTI_joint.ckpt'
    torch.save(_official_checkpoint(source), path)
    target = SPEC['mtrn-kitti'].builder().eval()
    SPEC['mtrn-kitti'].load_checkpoint(target, path)
    for name, tensor in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], tensor), name
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        segm, depth = source.forward_official(x)
        out = target(x)
    assert torch.equal(out['segm'], segm)
    assert torch.equal(out['depth'], depth.abs())


def test_nyud_checkpoint_in_kitti_model_names_misshaped_keys(tmp_path):
    path = tmp_path / 'ExpNYUD_joint.ckpt'
    torch.save(_official_checkpoint(build_multitask_refinenet(40, 2)), path)
    with pytest.raises(CheckpointError) as error:
        SPEC['mtrn-kitti'].load_checkpoint(SPEC['mtrn-kitti'].builder(), path)
    message = str(error.value)
    assert '2 keys of another shape' in message
    assert 'segm.weight (40, 256, 3, 3) != (6, 256, 3, 3)' in message
    assert 'segm.bias (40,) != (6,)' in message


def test_three_task_model_adds_normals_and_bad_task_count_is_refused():
    module = build_multitask_refinenet(40, 3).eval()
    assert 'normal.weight' in module.state_dict()
    with torch.no_grad():
        out = module(torch.randn(1, 3, 64, 96))
    assert out['normals'].shape == (1, 3, 16, 24) and out['segm'].shape == (1, 40, 16, 24)
    with pytest.raises(ValueError, match='num_tasks'):
        build_multitask_refinenet(40, 4)
