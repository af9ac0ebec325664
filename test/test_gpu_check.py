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

"""``make gpu-check`` on a machine without a GPU: it says so and runs the CPU part."""
from __future__ import annotations

import sys

from mono_depth_ros import gpu_check


def test_without_a_gpu_the_cpu_part_runs_and_prints_one_table(monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, 'nvidia_gpu', lambda: None)
    # A small model and one test file keep this test short; make gpu-check runs them all.
    monkeypatch.setattr(gpu_check, 'MODELS', (('lite-mono-tiny', None),))
    monkeypatch.setattr(gpu_check, 'DEVICE_TESTS', ('test/test_device_path.py',))
    assert gpu_check.main([]) == 0
    out = capsys.readouterr().out
    assert 'no NVIDIA GPU on this machine' in out
    assert 'device tests: ' in out and 'passed' in out
    rows = [line for line in out.splitlines() if line.startswith('lite-mono-tiny @')]
    assert [row.split()[2] for row in rows] == list(gpu_check.CPU_VARIANTS)
    assert all(float(row.split()[3]) > 0 for row in rows)  # a forward time for each
    assert 'gpu-check took' in out and 'on the CPU' in out


def test_the_device_tests_run_without_the_callers_pytest_options(monkeypatch):
    # colcon test passes its options in PYTEST_ADDOPTS (report file, test paths); inherited, they
    # made the device tests rerun this very test without end.
    monkeypatch.setattr(gpu_check, 'DEVICE_TESTS', ('test/test_device_path.py',))
    monkeypatch.setenv('PYTEST_ADDOPTS', '--an-option-pytest-does-not-know')
    result = gpu_check.run_tests(sys.executable)
    assert result['returncode'] == 0, result['summary']
    assert 'passed' in result['summary']


def test_nvidia_gpu_is_none_without_nvidia_smi(monkeypatch):
    monkeypatch.setattr(gpu_check.shutil, 'which', lambda name: None)
    assert gpu_check.nvidia_gpu() is None
