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

"""``mono-depth bench --grid dpt``: the study's grid, its ratios and the attention crossover."""
from __future__ import annotations

import functools
import json

from mono_depth_ros import bench, bench_grid
from mono_depth_ros.models import dpt
import pytest
from test_bench import run_cli
import torch

TINY = ((64, 128), (32, 64))  # (network input of DPT-H, of the others) instead of the study's


def tiny_grid() -> tuple[bench_grid.GridEntry, ...]:
    """Return DPT-H and model A at tiny inputs (the same networks as the study's grid)."""
    full, *_, model_a = bench_grid.DPT_GRID
    return (bench_grid.GridEntry(full.label, full.config, TINY[0]),
            bench_grid.GridEntry(model_a.label, model_a.config, TINY[1]))


def timings(*pairs: tuple[float, float]) -> list[dict]:
    return [{'tokens': 100 * (i + 1), 'performer_over_softmax': perf / soft}
            for i, (soft, perf) in enumerate(pairs)]


def test_the_grid_holds_the_study_configurations():
    labels = [entry.label for entry in bench_grid.DPT_GRID]
    assert labels[0] == 'DPT-H' and labels[-1] == 'A' and 'DPT-H-r' in labels
    assert bench_grid.DPT_GRID[0].size == (352, 1216)
    assert all(entry.size == (192, 640) for entry in bench_grid.DPT_GRID[1:])
    model_a = bench_grid.DPT_GRID[-1].config
    assert (model_a.hooks, model_a.heads) == ((0, 1), 1)
    kinds = {(e.config.attention, e.config.backbone) for e in bench_grid.DPT_GRID}
    assert ('performer', 'resnet50') in kinds and ('softmax', 'efficientnet_b0') in kinds


def test_crossover_is_where_performer_stays_faster():
    assert bench_grid.crossover(timings((1, 2), (2, 3), (4, 3), (9, 4))) == 300
    assert bench_grid.crossover(timings((1, 2), (2, 1), (4, 5), (9, 4))) == 400
    assert bench_grid.crossover(timings((1, 2), (2, 3))) is None


def test_calls_are_timed_in_rounds():
    order = []
    times = bench_grid.time_interleaved([lambda: order.append('a'), lambda: order.append('b')],
                                        warmup=2, iters=3)
    assert order == ['a', 'a', 'b', 'b'] + ['a', 'b'] * 3
    assert set(times) == {'wall', 'cpu'}
    for per_call in times.values():
        assert [len(t) for t in per_call] == [3, 3] and min(min(t) for t in per_call) >= 0
    # per-round ratios, then their median: a slow round (load) weighs on both sides alike
    assert bench_grid.median_ratio([10, 40, 12], [5, 20, 4]) == 2.0


def test_checkpoint_size_is_that_of_the_saved_state_dict(tmp_path):
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
    # torch.save names the archive's folder after the file: 'archive' is its name for a buffer
    torch.save(module.state_dict(), tmp_path / 'archive.pt')
    size = (tmp_path / 'archive.pt').stat().st_size
    assert bench_grid.checkpoint_megabytes(module) == pytest.approx(size / 1e6, abs=1e-9)


def test_grid_rows_and_ratios():
    result = bench_grid.run_grid(entries=tiny_grid(), flop_sizes=TINY, frame=TINY[0],
                                 tokens=(16, 48), device='cpu', warmup=0, iters=1)
    base, model_a = result['rows']
    assert base['ratio'] == pytest.approx(dict.fromkeys(base['ratio'], 1.0))
    assert base['params'] == 123_146_985 and model_a['params'] == 52_268_265
    assert model_a['ratio']['params'] == pytest.approx(52_268_265 / 123_146_985)
    module = dpt.DPT(bench_grid.DPT_GRID[-1].config)
    assert model_a['checkpoint_mb'] == pytest.approx(bench_grid.checkpoint_megabytes(module))
    for height, width in TINY:
        size = f'{width}x{height}'
        assert model_a['gflops'][size] == bench.count_flops(module, (height, width)) / 1e9
        assert model_a['ratio'][f'gflops {size}'] == pytest.approx(
            model_a['gflops'][size] / base['gflops'][size])
    assert model_a['ratio']['gflops 64x32'] < 1  # fewer blocks: fewer operations
    assert list(model_a['latency']) == ['cpu-fp32', 'cpu-fp32 CPU time']
    assert model_a['ratio']['speedup cpu-fp32'] == pytest.approx(
        base['latency']['cpu-fp32']['p50_ms'] / model_a['latency']['cpu-fp32']['p50_ms'])
    sweep = result['attention']['cpu-fp32']
    assert [row['tokens'] for row in sweep['rows']] == [16, 48]
    assert sweep['crossover_tokens'] == bench_grid.crossover(sweep['rows'])
    assert sweep['crossover_tokens_cpu_time'] == bench_grid.crossover(
        sweep['rows'], 'performer_over_softmax_cpu_time')
    text = bench_grid.format_grid(result)
    assert 'DPT-H ' in text and 'one attention block' in text and 'Performer is faster' in text


def test_cli(monkeypatch, capsys):
    small = functools.partial(bench_grid.run_grid, entries=tiny_grid(), flop_sizes=TINY,
                              frame=TINY[0], tokens=(16,))
    monkeypatch.setattr(bench_grid, 'run_grid', small)
    code, out, _ = run_cli(['--grid', 'dpt', '--device', 'cpu', '--iters', '1', '--json'],
                           capsys)
    result = json.loads(out)
    assert code == 0 and result['grid'] == 'dpt'
    assert result['environment']['warmup'] == bench.GRID_WARMUP
    assert result['environment']['iters'] == 1
    code, _, err = run_cli(['--grid', 'dpt', '--model', 'dpt-hybrid-kitti'], capsys)
    assert code == 2 and '(or --grid)' in err
