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

"""Every architecture parity case in ../shared/parity passes through the parity runner."""
from __future__ import annotations

import json

from conftest import needs_shared, shared_params
from mono_depth_ros import parity
import numpy as np
import pytest


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
