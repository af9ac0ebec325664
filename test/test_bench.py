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

"""``mono-depth bench``: result layout, baseline ratios, skipped variants, FLOP counting."""
from __future__ import annotations

import argparse
import json

from conftest import needs_shared
from mono_depth_ros import bench
from mono_depth_ros.models.registry import create_model, get_spec
import numpy as np
import pytest
import torch

STATS = {'mean_ms', 'p50_ms', 'p95_ms', 'fps'}


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    code = bench.main(parser.parse_args(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def has_tensorrt() -> bool:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    return True


def test_conv_flops_equal_the_hand_count():
    conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)
    # 2 FLOPs per multiply-add: out pixels x out channels x (in channels x kernel area).
    assert bench.count_flops(conv, (16, 20)) == 2 * (16 * 20) * 8 * (3 * 3 * 3)
    linear_net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 5, 7))
    assert bench.count_flops(linear_net, (4, 5)) == 2 * 60 * 7


def test_latency_stats():
    stats = bench.latency_stats([4.0, 1.0, 3.0, 2.0])
    assert stats == {'mean_ms': 2.5, 'p50_ms': 2.5, 'p95_ms': pytest.approx(3.85), 'fps': 400.0}


def test_time_calls_counts_warmup_and_iterations():
    calls = []
    times = bench.time_calls(lambda: calls.append(1), warmup=3, iters=5)
    assert len(calls) == 8 and len(times) == 5 and all(t >= 0 for t in times)


def test_bench_json_cpu(capsys):
    code, out, _ = run_cli(['--model', 'joint-mnv3-synthetic', '--size', '160x120',
                            '--variants', 'fp16,onnx,fp32,tensorrt', '--warmup', '1',
                            '--iters', '2', '--device', 'cpu', '--json'], capsys)
    assert code == 0
    result = json.loads(out)
    assert result['model'] == 'joint-mnv3-synthetic' and result['baseline'] == 'fp32'
    assert (result['frame_size'], result['network_size']) == ('160x120', '320x240')
    assert 'random weights' in result['weights'] and result['weights_file_mb'] is None
    module = create_model('joint-mnv3-synthetic')
    assert result['params'] == sum(p.numel() for p in module.parameters())
    assert result['gflops'] == bench.count_flops(module, (240, 320)) / 1e9 > 0
    assert result['model_mb_fp32'] == pytest.approx(2 * result['model_mb_fp16'])
    assert result['model_mb_fp32'] >= 4 * result['params'] / 1e6
    assert result['environment']['device'] == 'cpu' and result['environment']['iters'] == 2
    rows = {row['variant']: row for row in result['variants']}
    assert [row['variant'] for row in result['variants']] == ['fp32', 'fp16', 'onnx',
                                                              'tensorrt']
    baseline = rows['fp32']
    assert baseline['status'] == 'ok'
    assert baseline['speedup_forward'] == 1.0 and baseline['speedup_estimate'] == 1.0
    for name in ('fp32', 'onnx'):
        row = rows[name]
        assert set(row['forward']) == STATS and set(row['estimate']) == STATS
        assert row['forward']['p50_ms'] > 0 and row['peak_memory_mb'] >= 0
        assert row['forward']['p95_ms'] >= row['forward']['p50_ms']
        assert row['speedup_forward'] == pytest.approx(
            baseline['forward']['p50_ms'] / row['forward']['p50_ms'])
    assert rows['onnx']['device'] == 'CPUExecutionProvider' and rows['onnx']['file_mb'] > 1
    assert rows['fp16']['status'] == 'skipped' and 'CUDA' in rows['fp16']['reason']
    assert 'forward' not in rows['fp16'] and 'speedup_forward' not in rows['fp16']
    if not has_tensorrt():
        assert rows['tensorrt']['status'] == 'skipped'
        assert 'TensorRT is not installed' in rows['tensorrt']['reason']


def test_bench_text_report_lists_skips(capsys):
    code, out, _ = run_cli(['--model', 'lite-mono-tiny', '--variants', 'fp32,fp16',
                            '--warmup', '0', '--iters', '1', '--device', 'cpu'], capsys)
    assert code == 0
    assert 'network input 640x192 for a 640x480 frame' in out and 'GFLOPs' in out
    assert 'latency does not depend on weight values' in out
    lines = out.splitlines()
    assert any(line.split()[:1] == ['fp32'] and line.split()[-3:-1] == ['1.00', '1.00']
               for line in lines)
    assert any(line.split() == ['fp16', 'skipped'] for line in lines)
    assert any(line.startswith('fp16: fp16 needs a CUDA device') for line in lines)


def test_input_size_override():
    spec = get_spec('depth-anything-v2-small')
    height, width = bench.with_input_size(spec, '266').input_policy.network_size(480, 640)
    assert height == 266 and width % 14 == 0 and abs(width - 640 * 266 / 480) <= 7
    assert bench.with_input_size(spec, '364x266').input_policy.network_size(100, 100) == (266, 364)
    # Sides still follow the patch size.
    assert bench.with_input_size(spec, '360x260').input_policy.network_size(480, 640) == (266, 364)


def test_compare_models_with_a_tflite_file(capsys):
    fastdepth_file = needs_shared('weights', 'fastdepth_nyu_224_int8.tflite')
    code, out, _ = run_cli(['--compare-models',
                            f'joint-mnv3-synthetic,fastdepth-nyu-int8={fastdepth_file}',
                            '--warmup', '0', '--iters', '2', '--device', 'cpu', '--json'],
                           capsys)
    assert code == 0
    result = json.loads(out)
    assert result['mode'] == 'compare' and result['baseline'] == 'joint-mnv3-synthetic'
    joint, fastdepth = result['models']
    assert joint['variant'] == 'fp32' and joint['speedup_forward'] == 1.0
    assert fastdepth['variant'] == 'tflite' and fastdepth['precision'] == 'int8'
    assert fastdepth['status'] == 'ok' and fastdepth['params'] is None
    assert fastdepth['weights_file_mb'] == pytest.approx(fastdepth_file.stat().st_size / 1e6)
    assert fastdepth['network_size'] == '224x224'
    assert fastdepth['speedup_estimate'] == pytest.approx(
        joint['estimate']['p50_ms'] / fastdepth['estimate']['p50_ms'])


def test_filters_are_timed_against_the_forward(capsys):
    code, out, _ = run_cli(['--model', 'joint-mnv3-synthetic', '--filters', '--size', '160x120',
                            '--warmup', '0', '--iters', '2', '--json'], capsys)
    assert code == 0
    result = json.loads(out)
    assert result['mode'] == 'filters' and result['baseline'] == 'fp32'
    steps = {row['step']: row for row in result['steps']}
    assert {'edge filter: cleaned cloud depth', 'confidence (window span)',
            'temporal filter (ema)', 'compressedDepth 32FC1 png_level 1',
            'scan (1 row)'} <= set(steps)
    reference = (result['forward_before']['p50_ms'] + result['forward_after']['p50_ms']) / 2
    for row in steps.values():
        assert STATS <= set(row) and row['of_forward'] == pytest.approx(row['p50_ms'] / reference)
    report = bench.format_report(result)
    assert 'of fwd' in report and 'edge filter: mask' in report
    code, _, err = run_cli(['--compare-models', 'joint-mnv3-synthetic', '--filters'], capsys)
    assert code == 2 and '--filters needs --model' in err


def test_tflite_model_skips_torch_variants():
    spec = get_spec('fastdepth-nyu-int8')
    reason = bench.skip_reason(bench.VARIANTS['fp32'], spec, torch.device('cpu'))
    assert 'TFLite file' in reason
    assert bench.skip_reason(bench.VARIANTS['tflite'], spec, torch.device('cpu')) is None
    joint = get_spec('joint-mnv3-synthetic')
    assert 'no TFLite file' in bench.skip_reason(bench.VARIANTS['tflite'], joint,
                                                 torch.device('cpu'))


def test_bad_options(capsys):
    code, _, err = run_cli(['--model', 'joint-mnv3-synthetic', '--variants', 'fp32,int4'],
                           capsys)
    assert code == 2 and 'unknown variant(s) int4' in err
    code, _, err = run_cli(['--model', 'fastdepth-nyu-int8', '--weights', 'none'], capsys)
    assert code == 2 and 'give --weights FILE' in err
    code, _, err = run_cli([], capsys)
    assert code == 2 and '--model or --compare-models' in err
    code, _, err = run_cli(['--model', 'joint-mnv3-synthetic', '--size', '640'], capsys)
    assert code == 2 and 'WxH' in err


def test_peak_memory_sees_a_new_allocation():
    with bench.PeakMemory(torch.device('cpu')) as memory:
        block = np.ones(40_000_000 // 8)
        block[::512] = 2.0
    assert memory.megabytes >= 30 and block.sum() > 0
