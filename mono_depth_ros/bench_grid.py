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
``mono-depth bench --grid dpt``: the accelerated DPT-Hybrid study's comparison, measured here.

For every configuration of the study (DPT-H, its reduced input DPT-H-r, the transformer hooks,
the head counts, Performer, EfficientNet-B0, and model A) it reports parameters, checkpoint size,
GFLOPs at the study's KITTI input (1216x352) and at its reduced input (640x192), and latency as the
study timed it (``inference_speed.py``): a 1216x352 input resized to the variant's input, the
network, and the prediction upsampled back bicubically; on the CPU in fp32 and, where a GPU is
there, on CUDA with fp16 autocast (the study's "mixed precision"). Every figure is also given as a
ratio to DPT-H measured in the same run; the variants are timed in interleaved rounds and a speedup
is the median of the per-round ratios, so that a change of load on a shared machine does not
favour whichever variant ran in a quiet minute. On the CPU the process's CPU time is reported
beside the wall time: waiting for a core that other work holds does not inflate it. A second
table times one attention block, softmax against Performer, over the study's token counts, and
finds where Performer becomes faster.

Latency does not depend on weight values: the networks have random weights.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial
import io
import json
import os
import statistics
import time
from typing import Callable

from mono_depth_ros.bench import count_flops, latency_stats
from mono_depth_ros.models import dpt
from mono_depth_ros.models.vit_hybrid import Attention, EMBED_DIM
import torch
import torch.nn.functional as F

KITTI_INPUT = (352, 1216)   # the study's "352,1216": KITTI's benchmark crop
REDUCED_INPUT = (192, 640)  # the study's reduction
CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}
# the study's attention-complexity sweep (attention_complexity.py)
ATTENTION_TOKENS = (144, 288, 576, 1152, 2304, 4608, 6912, 9216)


@dataclass(frozen=True)
class GridEntry:
    """One configuration of the study: its label, architecture and network input."""

    label: str
    config: dpt.DPTConfig
    size: tuple[int, int]


def _reduced(label: str, **fields) -> GridEntry:
    return GridEntry(label, dpt.DPTConfig(**dpt.KITTI, **fields), REDUCED_INPUT)


DPT_GRID = (
    GridEntry('DPT-H', dpt.DPTConfig(**dpt.KITTI), KITTI_INPUT),
    _reduced('DPT-H-r'),
    _reduced('hooks 2,5 (r)', hooks=(2, 5)),
    _reduced('hooks 0,1 (r)', hooks=(0, 1)),
    _reduced('1 head (r)', heads=1),
    _reduced('24 heads (r)', heads=24),
    _reduced('Performer (r)', attention='performer'),
    _reduced('EfficientNet-B0 (r)', backbone='efficientnet_b0'),
    _reduced('A', hooks=(0, 1), heads=1),
)
GRIDS = {'dpt': DPT_GRID}


def checkpoint_megabytes(module: torch.nn.Module) -> float:
    """Return the size in MB (1e6 bytes) of ``torch.save(module.state_dict())``, as the study."""
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return len(buffer.getvalue()) / 1e6


def study_forward(module: torch.nn.Module, size: tuple[int, int], device: torch.device,
                  amp: bool, frame: tuple[int, int] = KITTI_INPUT):
    """
    Return a closure running one frame as the study timed it.

    A ``frame``-sized input is resized (bilinear) to ``size`` when they differ, run through the
    network, and the prediction is upsampled back bicubically (align_corners=True).
    """
    x = torch.randn(1, 3, *frame, device=device)

    def run():
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16,
                                                    enabled=amp):
            inputs = x if size == frame else F.interpolate(x, size=size, mode='bilinear',
                                                           align_corners=False)
            depth = module(inputs)['depth']
            if size != frame:
                depth = F.interpolate(depth, size=frame, mode='bicubic', align_corners=True)
            return depth
    return run


def time_interleaved(calls: list[Callable[[], object]], warmup: int, iters: int,
                     sync: Callable[[], None] | None = None) -> dict[str, list[list[float]]]:
    """
    Time every call once per round for ``iters`` rounds (after ``warmup`` untimed calls each).

    Returns, per clock of :data:`CLOCKS`, the ms of each call per round: ``wall`` (elapsed) and
    ``cpu`` (this process's CPU time, which time spent waiting for a core shared with other
    work does not inflate). Interleaving makes a change of load weigh on every call alike.
    """
    for call in calls:
        for _ in range(warmup):
            call()
    times = {clock: [[] for _ in calls] for clock in CLOCKS}
    for _ in range(iters):
        for index, call in enumerate(calls):
            if sync:
                sync()
            starts = {clock: read() for clock, read in CLOCKS.items()}
            call()
            if sync:
                sync()
            for clock, read in CLOCKS.items():
                times[clock][index].append((read() - starts[clock]) * 1e3)
    return times


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """Return the median over rounds of ``numerator / denominator``."""
    return statistics.median(n / d for n, d in zip(numerators, denominators))


def describe_entry(entry: GridEntry, flop_sizes: tuple[tuple[int, int], ...]
                   ) -> tuple[dict, dpt.DPT]:
    """Build one configuration; return its sizes and FLOPs at each of ``flop_sizes``."""
    torch.manual_seed(0)
    module = dpt.DPT(entry.config).eval()
    row = {'label': entry.label, 'input': f'{entry.size[1]}x{entry.size[0]}',
           'params': sum(p.numel() for p in module.parameters()),
           'checkpoint_mb': checkpoint_megabytes(module),
           'gflops': {f'{w}x{h}': count_flops(module, (h, w)) / 1e9 for h, w in flop_sizes},
           'latency': {}, 'speedup': {}}
    return row, module


def time_entries(rows: list[dict], modules: list[dpt.DPT], entries: tuple[GridEntry, ...],
                 device: torch.device, warmup: int, iters: int, frame: tuple[int, int]) -> None:
    """Time every configuration on ``device``, interleaved; speedups against the first."""
    amp = device.type == 'cuda'
    key = 'cuda-fp16' if amp else 'cpu-fp32'
    sync = (lambda: torch.cuda.synchronize(device)) if amp else None
    calls = [study_forward(module.to(device), entry.size, device, amp, frame)
             for module, entry in zip(modules, entries)]
    times = time_interleaved(calls, warmup, iters, sync)
    clocks = {key: times['wall']}
    if not amp:  # CPU time only means something for work done on the CPU
        clocks[f'{key} CPU time'] = times['cpu']
    for name, per_call in clocks.items():
        for row, own in zip(rows, per_call):
            row['latency'][name] = latency_stats(own)
            row['speedup'][name] = median_ratio(per_call[0], own)


def add_ratios(rows: list[dict]) -> None:
    """Add each row's sizes and FLOPs relative to the first row's (DPT-H), and its speedups."""
    base = rows[0]
    for row in rows:
        row['ratio'] = {
            'params': row['params'] / base['params'],
            'checkpoint': row['checkpoint_mb'] / base['checkpoint_mb'],
            **{f'gflops {size}': value / base['gflops'][size]
               for size, value in row['gflops'].items()},
            **{f'speedup {device}': value for device, value in row['speedup'].items()},
        }


def attention_sweep(tokens: tuple[int, ...], device: torch.device, warmup: int,
                    iters: int) -> list[dict]:
    """Time one 12-head attention block, softmax and Performer interleaved, per token count."""
    torch.manual_seed(0)
    softmax = Attention(EMBED_DIM, dpt.OFFICIAL_HEADS).eval().to(device)
    performer = Attention(EMBED_DIM, dpt.OFFICIAL_HEADS, kind='performer').eval().to(device)
    performer.load_state_dict({**softmax.state_dict(),
                               'projection_matrix': performer.projection_matrix})
    amp = device.type == 'cuda'
    sync = (lambda: torch.cuda.synchronize(device)) if amp else None
    rows = []
    for count in tokens:
        x = torch.randn(1, count, EMBED_DIM, device=device)

        def run(block, x=x):
            with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16,
                                                        enabled=amp):
                return block(x)
        times = time_interleaved([partial(run, softmax), partial(run, performer)], warmup,
                                 iters, sync)
        (soft, perf), (soft_cpu, perf_cpu) = times['wall'], times['cpu']
        row = {'tokens': count, 'softmax': latency_stats(soft), 'performer': latency_stats(perf),
               'performer_over_softmax': median_ratio(perf, soft)}
        if not amp:
            row['performer_over_softmax_cpu_time'] = median_ratio(perf_cpu, soft_cpu)
        rows.append(row)
    return rows


def crossover(rows: list[dict], ratio: str = 'performer_over_softmax') -> int | None:
    """Return the fewest tokens from which Performer stays faster than softmax, if any."""
    found = None
    for row in reversed(rows):
        if row[ratio] < 1:
            found = row['tokens']
        else:
            break
    return found


def run_grid(name: str = 'dpt', device: str = 'auto', warmup: int = 1, iters: int = 3,
             threads: int | None = None, entries: tuple[GridEntry, ...] | None = None,
             flop_sizes: tuple[tuple[int, int], ...] = (KITTI_INPUT, REDUCED_INPUT),
             frame: tuple[int, int] = KITTI_INPUT,
             tokens: tuple[int, ...] = ATTENTION_TOKENS) -> dict:
    """
    Run a grid (``GRIDS[name]``, or ``entries``) and the attention sweep; return the results.

    ``device`` ``auto`` measures on the CPU and also on CUDA when a GPU is there; ``cpu`` or
    ``cuda`` only there. The first entry is the baseline of the ratios.
    """
    if name not in GRIDS:
        raise ValueError(f'unknown grid {name!r}; known: {", ".join(GRIDS)}')
    if threads is not None:
        torch.set_num_threads(threads)
    devices = [torch.device('cpu')] if device in ('auto', 'cpu') else []
    if device == 'cuda' or (device == 'auto' and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError('--device cuda: PyTorch sees no CUDA GPU here')
        devices.append(torch.device('cuda'))
    if not devices:
        raise ValueError(f'--device {device!r}: the grid runs on auto, cpu or cuda')
    entries = entries or GRIDS[name]
    rows, modules = zip(*(describe_entry(entry, flop_sizes) for entry in entries))
    for dev in devices:
        time_entries(rows, modules, entries, dev, warmup, iters, frame)
    rows = list(rows)
    add_ratios(rows)
    sweeps = {}
    for dev in devices:
        key = 'cuda-fp16' if dev.type == 'cuda' else 'cpu-fp32'
        sweep = attention_sweep(tokens, dev, warmup, iters)
        sweeps[key] = {'rows': sweep, 'crossover_tokens': crossover(sweep)}
        if dev.type == 'cpu':
            sweeps[key]['crossover_tokens_cpu_time'] = crossover(
                sweep, 'performer_over_softmax_cpu_time')
    return {'grid': name, 'frame': f'{frame[1]}x{frame[0]}', 'rows': rows,
            'attention': sweeps, 'environment': {
                'torch': torch.__version__, 'threads': torch.get_num_threads(),
                'cuda': torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                'warmup': warmup, 'iters': iters, 'load_average': list(os.getloadavg())}}


def format_grid(result: dict) -> str:
    """Return the grid and the attention sweep as text tables."""
    env = result['environment']
    rows = result['rows']
    devices = list(rows[0]['latency'])
    sizes = list(rows[0]['gflops'])
    lines = [f'grid {result["grid"]}: torch {env["torch"]}, {env["threads"]} CPU threads, '
             f'GPU {env["cuda"] or "none"}, warmup {env["warmup"]}, {env["iters"]} iterations, '
             'load average ' + ' '.join(f'{v:.2f}' for v in env['load_average']),
             f'latency: a {result["frame"]} input resized to the variant\'s input, the network, '
             'bicubic upsampling back (as the study timed it), variants interleaved; x = ratio '
             'to the first row (speedup: median over rounds)', '']
    header = (f'{"variant":<20} {"input":>8} {"params M":>9} {"x":>5} {"ckpt MB":>8} {"x":>5}'
              + ''.join(f' {"GFLOPs " + s:>17} {"x":>5}' for s in sizes)
              + ''.join(f' {d + " ms":>{len(d) + 3}} {"x":>5}' for d in devices))
    lines += [header, '-' * len(header)]
    for row in rows:
        ratio = row['ratio']
        line = (f'{row["label"]:<20} {row["input"]:>8} {row["params"] / 1e6:9.2f} '
                f'{ratio["params"]:5.2f} {row["checkpoint_mb"]:8.1f} {ratio["checkpoint"]:5.2f}')
        line += ''.join(f' {row["gflops"][s]:17.1f} {ratio["gflops " + s]:5.2f}' for s in sizes)
        line += ''.join(f' {row["latency"][d]["p50_ms"]:{len(d) + 3}.1f} '
                        f'{ratio["speedup " + d]:5.2f}' for d in devices)
        lines.append(line)
    for device, sweep in result['attention'].items():
        cpu_time = 'crossover_tokens_cpu_time' in sweep
        lines += ['', f'one attention block (768 wide, 12 heads), p50 ms on {device}; ratio = '
                  'performer / softmax, median over rounds (of wall time'
                  + (', and of CPU time)' if cpu_time else ')'),
                  f'{"tokens":>7} {"softmax":>9} {"performer":>10} {"ratio":>6}'
                  + (f' {"CPU time":>8}' if cpu_time else '')]
        for row in sweep['rows']:
            soft, perf = row['softmax']['p50_ms'], row['performer']['p50_ms']
            line = f'{row["tokens"]:7d} {soft:9.2f} {perf:10.2f} ' \
                   f'{row["performer_over_softmax"]:6.2f}'
            if cpu_time:
                line += f' {row["performer_over_softmax_cpu_time"]:8.2f}'
            lines.append(line)
        for label, where in (('wall time', sweep['crossover_tokens']),
                             ('CPU time', sweep.get('crossover_tokens_cpu_time', 0))):
            if where != 0:
                lines.append(f'Performer is faster ({label}) from {where} tokens on' if where
                             else f'Performer is faster ({label}) at no measured token count')
    return '\n'.join(lines)


def main(args: argparse.Namespace) -> int:
    """Run ``mono-depth bench --grid NAME`` and print the tables (or JSON)."""
    result = run_grid(args.grid, args.device, args.warmup, args.iters, args.threads)
    print(json.dumps(result, indent=2) if args.json else format_grid(result))
    return 0
