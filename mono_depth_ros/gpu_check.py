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
``make gpu-check``: the GPU path tested and benchmarked, on a machine with an NVIDIA GPU.

With a GPU it installs what the GPU path needs into a virtual environment of its own
(``.venv-gpu``: a CUDA build of PyTorch, onnxruntime-gpu, tensorrt; never ``.venv``, which CI
uses), runs the tests that have CUDA cases, benchmarks the default GPU model and Depth Anything V2
small at 518 on PyTorch fp32, fp16 and channels_last, ONNX Runtime and TensorRT fp16, and prints
one table. Without a GPU it says so and runs the CPU part: the same tests (their CPU tensor
cases) and the benchmark's CPU variants, in the current environment.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import time

REPO = Path(__file__).resolve().parents[1]
GPU_VENV = REPO / '.venv-gpu'
# The CUDA wheels of PyTorch; set TORCH_INDEX_URL for another CUDA version.
TORCH_INDEX_URL = 'https://download.pytorch.org/whl/cu128'
GPU_PACKAGES = ('onnxruntime-gpu', 'tensorrt')
# Tests with cases on every device PyTorch sees (CPU tensors on a machine without a GPU).
DEVICE_TESTS = ('test/test_geometry.py', 'test/test_network_io.py', 'test/test_device_path.py')
GPU_VARIANTS = ('fp32', 'fp16', 'fp32-channels_last', 'onnx', 'tensorrt-fp16')
CPU_VARIANTS = ('fp32', 'fp32-channels_last', 'onnx')
# (model, --input-size): model auto on a GPU, and Depth Anything V2 small at its 518.
MODELS = (('depth-anything-v2-metric-hypersim-small', None), ('depth-anything-v2-small', '518'))
BUDGET_S = 8 * 60


def nvidia_gpu() -> str | None:
    """Return the name of the first NVIDIA GPU (from nvidia-smi), or None."""
    smi = shutil.which('nvidia-smi')
    if smi is None:
        return None
    done = subprocess.run([smi, '--query-gpu=name', '--format=csv,noheader'],
                          capture_output=True, text=True)
    names = done.stdout.strip().splitlines()
    return names[0] if done.returncode == 0 and names else None


def install_gpu_venv(venv: Path = GPU_VENV) -> Path:
    """Create ``venv`` with CUDA PyTorch, onnxruntime-gpu, tensorrt and the package; its python."""
    python = venv / 'bin' / 'python'
    stamp = venv / '.installed'
    if stamp.is_file():
        return python
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    pip = [str(python), '-m', 'pip', 'install', '--quiet']
    subprocess.run(pip + ['--upgrade', 'pip'], check=True)
    subprocess.run(pip + ['torch', '--index-url',
                          os.environ.get('TORCH_INDEX_URL', TORCH_INDEX_URL)], check=True)
    requirements = [line for line in (REPO / 'requirements.txt').read_text().splitlines()
                    if line.strip() and not line.startswith('#')
                    and not line.split('=')[0].split('>')[0].strip() in ('torch', 'onnxruntime')]
    subprocess.run(pip + list(GPU_PACKAGES) + requirements, check=True)
    subprocess.run(pip + ['--no-deps', '-e', str(REPO)], check=True)
    stamp.touch()
    return python


def run_tests(python: str) -> dict:
    """Run the device tests with ``python``; return the exit status, summary and failed tests."""
    # Run under pytest itself (colcon test), the caller's options would reach this pytest too:
    # its own test paths (a test that calls this would call itself without end) and its report
    # file, which this run would overwrite.
    env = {name: value for name, value in os.environ.items() if name != 'PYTEST_ADDOPTS'}
    done = subprocess.run([python, '-m', 'pytest', '-q', '-rfE', '-p', 'no:cacheprovider',
                           *DEVICE_TESTS], cwd=REPO, env=env, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    failed = [line for line in lines if line.startswith(('FAILED', 'ERROR'))]
    summary = lines[-1] if lines else done.stderr[-500:]
    return {'returncode': done.returncode, 'summary': '\n'.join([summary, *failed])}


def run_bench(python: str, model: str, input_size: str | None, device: str,
              variants: tuple[str, ...], warmup: int, iters: int) -> dict:
    """Run ``mono-depth bench`` for one model with ``python``; return its JSON result."""
    command = [python, '-m', 'mono_depth_ros.cli', 'bench', '--model', model, '--device', device,
               '--variants', ','.join(variants), '--warmup', str(warmup), '--iters', str(iters),
               '--json']
    if input_size:
        command += ['--input-size', input_size]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if not done.stdout.strip().startswith('{'):
        return {'model': model, 'error': (done.stderr or done.stdout)[-1000:]}
    return json.loads(done.stdout)


def format_table(results: list[dict]) -> str:
    """One table: model, variant, forward and estimate p50, speedup against fp32 in the run."""
    header = (f'{"model":<50} {"variant":<20} {"fwd p50":>9} {"est p50":>9} {"x fwd":>6} '
              f'{"x est":>6}  note')
    lines = [header, '-' * len(header)]
    for result in results:
        if 'error' in result:
            lines.append(f'{result["model"]:<50} failed: {result["error"].splitlines()[-1]}')
            continue
        label = f'{result["model"]} @{result["network_size"]}'
        for row in result['variants']:
            if row['status'] != 'ok':
                lines.append(f'{label:<50} {row["variant"]:<20} {"":>9} {"":>9} {"":>6} '
                             f'{"":>6}  {row["status"]}: {row["reason"][:60]}')
                continue
            lines.append(f'{label:<50} {row["variant"]:<20} {row["forward"]["p50_ms"]:9.2f} '
                         f'{row["estimate"]["p50_ms"]:9.2f} '
                         f'{row.get("speedup_forward", 0):6.2f} '
                         f'{row.get("speedup_estimate", 0):6.2f}  {row["device"]}')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    """Install (with a GPU), test, benchmark, print the table; 1 when a part failed."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--cpu', action='store_true', help='run the CPU part even with a GPU')
    args = parser.parse_args(argv)
    start = time.monotonic()
    gpu = None if args.cpu else nvidia_gpu()
    if gpu is None:
        print('gpu-check: no NVIDIA GPU on this machine (nvidia-smi finds none): running the CPU '
              'part, the device tests on CPU tensors and the CPU variants', flush=True)
        python, device, variants, warmup, iters = sys.executable, 'cpu', CPU_VARIANTS, 1, 3
    else:
        print(f'gpu-check: {gpu}; installing the GPU environment in {GPU_VENV}', flush=True)
        python, device, variants, warmup, iters = (str(install_gpu_venv()), 'cuda', GPU_VARIANTS,
                                                   5, 20)
    tests = run_tests(python)
    print(f'device tests: {tests["summary"]}', flush=True)
    results = [run_bench(python, model, size, device, variants, warmup, iters)
               for model, size in MODELS]
    print(format_table(results))
    elapsed = time.monotonic() - start
    print(f'gpu-check took {elapsed / 60:.1f} min (budget {BUDGET_S // 60} min) on '
          f'{gpu or "the CPU"}')
    failed = tests['returncode'] != 0 or any('error' in result for result in results)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
