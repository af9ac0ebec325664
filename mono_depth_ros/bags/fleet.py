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
Many bags: one after the other in this process, or one Ray task per bag on a cluster.

Every bag gets its own output bag ``<out>/<bag name>``; a bag whose output is complete (its
``mono_depth_done.json`` marker says so for the same input and options) is skipped, an
interrupted one resumes. A bag that fails is reported and the others go on.
"""
from __future__ import annotations

from pathlib import Path
import sys
from typing import Iterable, TextIO

from mono_depth_ros.bags.reader import BAG_SUFFIXES, BagError, is_bag
from mono_depth_ros.bags.run import (BagOptionError, BagOptions, BagResult, fingerprint,
                                     process_bag)
from mono_depth_ros.bags.writer import finished, OutputError


def find_bags(inputs: Iterable[str | Path]) -> list[Path]:
    """
    Return the bags among ``inputs``: bags themselves, and the bags directly inside folders.

    A folder that is not a rosbag2 bag counts for the bags in it (files with a bag suffix and
    rosbag2 sub-folders); an input that is neither gives nothing.
    """
    bags: list[Path] = []
    for item in inputs:
        path = Path(item)
        if is_bag(path):
            bags.append(path)
        elif path.is_dir():
            bags += sorted(child for child in path.iterdir() if is_bag(child))
    return bags


def bag_name(bag: Path) -> str:
    """Return a bag's name without a storage suffix: ``run.mcap`` and ``run/`` are ``run``."""
    return bag.stem if bag.suffix in BAG_SUFFIXES else bag.name


def output_folders(bags: list[Path], out: Path) -> list[Path]:
    """
    Return the output bag folder of each bag: ``out`` for a single bag, else ``out/<bag name>``.

    Two bags of the same name would write one output: that is refused.
    """
    if len(bags) == 1:
        return [out]
    seen: dict[str, Path] = {}
    for bag in bags:
        name = bag_name(bag)
        if name in seen:
            raise BagOptionError(f'{seen[name]} and {bag} would both write {out / name}; rename '
                                 'one or process them into different --out folders')
        seen[name] = bag
    return [out / bag_name(bag) for bag in bags]


def process_one(bag: str, out: str, options: BagOptions, show_progress: bool = False,
                log: TextIO = sys.stderr) -> BagResult:
    """Process one bag; a bag that cannot be processed gives a result with its error."""
    try:
        return process_bag(bag, out, options, show_progress=show_progress, log=log)
    except (BagError, BagOptionError, OutputError) as error:
        return BagResult(bag, out, error=str(error))


def already_complete(bag: Path, out: Path, options: BagOptions) -> BagResult | None:
    """Return the result of a bag whose output is complete for these options, else None."""
    done = finished(out, fingerprint(bag, options))
    if done is None:
        return None
    return BagResult(str(bag), str(out), frames=done.get('frames', 0), already_complete=True)


def run_here(bags: list[Path], outs: list[Path], options: BagOptions,
             show_progress: bool = True, log: TextIO = sys.stderr) -> list[BagResult]:
    """Process the bags one after the other in this process."""
    results = []
    for bag, out in zip(bags, outs):
        result = process_one(str(bag), str(out), options, show_progress, log)
        print(describe(result), flush=True)
        results.append(result)
    return results


def wants_gpu(device: str, cluster_gpus: float) -> bool:
    """Whether a task must reserve a GPU: a CUDA device, or 'auto' on a cluster with GPUs."""
    return device.startswith('cuda') or (device == 'auto' and cluster_gpus > 0)


def run_on_ray(bags: list[Path], outs: list[Path], options: BagOptions,
               address: str | None) -> list[BagResult]:
    """
    Process the bags as one Ray task each, on the cluster at ``address``.

    ``address``: None starts a local Ray instance for this run; ``'auto'`` joins the cluster
    started on this machine, ``host:6379`` a cluster's head, ``ray://host:10001`` a cluster
    through Ray Client. Every node must see the bags and the output folder at the same paths and
    have this package installed. Each task reserves one CPU, and one GPU when the model runs on
    a GPU.
    """
    try:
        import ray
    except ImportError:
        raise BagOptionError('--ray needs Ray: pip install mono_depth_ros[fleet] (or pip install '
                             'ray)') from None
    try:
        ray.init(address=address, logging_level='WARNING')
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise BagOptionError(f'cannot reach a Ray cluster at {address or "(local)"}: '
                             f'{error}') from error
    try:
        gpus = 1 if wants_gpu(options.device, ray.cluster_resources().get('GPU', 0)) else 0
        task = ray.remote(process_one).options(num_cpus=1, num_gpus=gpus, max_retries=0)
        results, running = [], {}
        for bag, out in zip(bags, outs):
            # Checked here too (the tasks check again): a complete bag costs no task.
            done = already_complete(bag, out, options)
            if done is not None:
                print(describe(done), flush=True)
                results.append(done)
            else:
                running[task.remote(str(bag), str(out), options)] = (bag, out)
        while running:
            finished, _ = ray.wait(list(running), num_returns=1)
            bag, out = running.pop(finished[0])
            try:
                result = ray.get(finished[0])
            except ray.exceptions.RayError as error:  # the task died: a crash, out of memory
                result = BagResult(str(bag), str(out), error=f'task failed: {error}')
            print(describe(result), flush=True)
            results.append(result)
    finally:
        ray.shutdown()
    order = {str(bag): index for index, bag in enumerate(bags)}
    return sorted(results, key=lambda result: order[result.bag])


def describe(result: BagResult) -> str:
    """Return one line about a processed bag."""
    if result.already_complete:
        return f'{result.bag}: already complete in {result.out} ({result.frames} frames), skipped'
    rejected = sum(result.rejected.values())
    dropped = f', {rejected} frames dropped as bad input' if rejected else ''
    earlier = result.frames - result.processed
    resumed = f', {earlier} of them by an earlier, interrupted run' if earlier else ''
    if result.ok:
        return (f'{result.bag}: {result.frames} frames written to {result.out} in '
                f'{result.seconds:.1f} s{resumed}{dropped}')
    kept = f' ({result.frames} frames before it kept in {result.out})' if result.frames else ''
    return f'{result.bag}: FAILED: {result.error}{kept}'


def summary(results: list[BagResult], seconds: float) -> str:
    """Return the closing report: bags, frames, frames/s and the failures."""
    done = [r for r in results if r.ok]
    skipped = sum(r.already_complete for r in results)
    failed = [r for r in results if not r.ok]
    frames = sum(r.processed for r in results)
    rate = frames / seconds if seconds > 0 else 0.0
    lines = [f'{len(results)} bags: {len(done)} complete'
             + (f' ({skipped} already complete before this run)' if skipped else '')
             + f', {len(failed)} failed; {frames} frames in {seconds:.1f} s ({rate:.2f} '
             'frames/s)']
    lines += [f'  failed: {r.bag}: {r.error}' for r in failed]
    return '\n'.join(lines)
