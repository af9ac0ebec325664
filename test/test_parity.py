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

"""Every parity case in ../shared/parity, network-level and end-to-end, passes the runner."""
from __future__ import annotations

import dataclasses
import json

from conftest import needs_shared, shared_params
import cv2
from mono_depth_ros import network_io, parity
from mono_depth_ros.models import registry
from mono_depth_ros.models.spec import Processing
import numpy as np
import pytest
import torch


def test_the_goldens_are_there():
    families = {json.loads(case.read_text())['family']
                for case in needs_shared('parity').glob('*.json')}
    assert set(parity.FAMILY_MODULES) <= families


@pytest.mark.parametrize('case_path', shared_params('*.json', 'parity'))
def test_every_case_matches_the_official_outputs(case_path):
    reason = parity.not_implemented_reason(json.loads(case_path.read_text()))
    if reason:
        pytest.skip(f'{case_path.name}: {reason}')
    problems, reports = parity.run_case(case_path)
    assert problems == []
    assert {r.name for r in reports} == set(np.load(case_path.with_suffix('.npz')).files)
    failed = [(r.name, r.max_abs_error, r.tolerance) for r in reports if not r.passed]
    assert failed == []


def test_an_end_to_end_case_fails_with_another_pre_processing(monkeypatch):
    case_path = needs_shared('parity/dav2_vits_metric20_e2e_nyu_color1_518.json')
    official = registry.get_spec('depth-anything-v2-metric-hypersim-small')
    # What the estimator did before issue 14: INTER_AREA / linear on uint8 for every family.
    generic = dataclasses.replace(official, processing=Processing())
    monkeypatch.setattr(registry, 'get_spec', lambda name: generic)
    problems, reports = parity.run_case(case_path)
    assert problems == []
    assert {r.name for r in reports if not r.passed} == {'depth', 'network_input'}


@pytest.mark.parametrize('case_path', shared_params('*_e2e_*.json', 'parity'))
def test_the_device_path_prepares_the_same_network_input(case_path):
    # The tensor code that a GPU runs, here on CPU tensors, against the official network input.
    case = json.loads(case_path.read_text())
    reason = parity.not_implemented_reason(case)
    if reason:
        pytest.skip(f'{case_path.name}: {reason}')
    spec = registry.get_spec(parity.family_hooks(case['family']).zoo_name(case))
    if 'input_size' in case:
        spec = spec.with_input_size(case['input_size'])
    bgr = cv2.imread(str(case_path.parent.parent / case['image']))
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    golden = np.load(case_path.with_suffix('.npz'))['network_input']
    size = spec.input_policy.network_size(*rgb.shape[:2])
    x = network_io.network_input(torch.from_numpy(rgb), spec, size)
    assert isinstance(x, torch.Tensor)
    report = parity.compare('network_input', x.numpy(), golden)
    assert report.passed, report
