"""Every architecture parity case in ../shared/parity passes through the parity runner."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SHARED
from mono_depth_ros import parity

CASES = sorted((SHARED / 'parity').glob('*.json'))


def test_the_goldens_are_there():
    if not SHARED.exists():
        pytest.skip(f'{SHARED} is not available')
    families = {json.loads(case.read_text())['family'] for case in CASES}
    assert set(parity.FAMILY_MODULES) <= families


@pytest.mark.parametrize('case_path', CASES, ids=[c.stem for c in CASES])
def test_every_case_matches_the_official_outputs(case_path):
    reason = parity.not_implemented_reason(json.loads(case_path.read_text()))
    if reason:
        pytest.skip(f'{case_path.name}: {reason}')
    problems, reports = parity.run_case(case_path)
    assert problems == []
    assert {r.name for r in reports} == set(np.load(case_path.with_suffix('.npz')).files)
    failed = [(r.name, r.max_abs_error, r.tolerance) for r in reports if not r.passed]
    assert failed == []
