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
A fleet of bags on a real local Ray cluster: one task per bag, failures per bag, a summary.

The cluster is started with ``ray start --head`` on 127.0.0.1 with one CPU (the machine is
small and shared), in a process group of its own that the test stops at the end.
"""
from __future__ import annotations

import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

from bag_factory import (assert_outputs, camera_frames, expected_outputs, read_topic,
                         write_bag)
from conftest import REPO, wait_until
from mono_depth_ros import ros_io
from mono_depth_ros.bags.fleet import summary, wants_gpu
from mono_depth_ros.bags.run import BagResult
from mono_depth_ros.bags.writer import DONE_MARKER
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.registry import DEMO_MODEL
from mono_depth_ros.processing import FrameSettings
import numpy as np
import pytest
from sensor_msgs.msg import Image


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.fixture(scope='module')
def ray_cluster():
    """Start a one-CPU Ray head on 127.0.0.1; yield its address; stop it and its processes."""
    ray = shutil.which('ray', path=str(Path(sys.executable).parent)) or shutil.which('ray')
    assert ray, 'the ray command is missing: pip install -r requirements-dev.txt'
    port = _free_port()
    # Ray's socket paths must stay short: a temporary folder directly in /tmp.
    temp_dir = tempfile.mkdtemp(prefix='ray', dir='/tmp')
    log = open(Path(temp_dir) / 'head.log', 'w')
    head = subprocess.Popen(
        [ray, 'start', '--head', '--block', '--node-ip-address=127.0.0.1', f'--port={port}',
         '--num-cpus=1', '--num-gpus=0', '--object-store-memory=80000000',
         '--include-dashboard=false', '--disable-usage-stats', f'--temp-dir={temp_dir}'],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def listening() -> bool:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return True
        except OSError:
            return head.poll() is not None

    try:
        assert wait_until(listening, timeout=120, period=0.2) and head.poll() is None, \
            (Path(temp_dir) / 'head.log').read_text()
        yield f'127.0.0.1:{port}'
    finally:
        # The head and everything it started share its process group: stop them all, then
        # kill what is still draining after a few seconds.
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        head.wait(timeout=30)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_three_bags_on_a_local_ray_cluster_one_of_them_corrupt(ray_cluster, tmp_path):
    frames = {'a': camera_frames(2, seed=21), 'b': camera_frames(2, seed=22)}
    bags = tmp_path / 'bags'
    bags.mkdir()
    write_bag(bags / 'a.mcap', frames['a'], 'mcap-file')
    write_bag(bags / 'b', frames['b'], 'sqlite3')
    corrupt = write_bag(bags / 'c.mcap', camera_frames(2, seed=23), 'mcap-file')
    data = corrupt.read_bytes()
    corrupt.write_bytes(data[:len(data) // 2])  # a recorder that died half way
    out = tmp_path / 'out'
    command = [sys.executable, '-m', 'mono_depth_ros.cli', 'infer', str(bags), '--out', str(out),
               '--ray', ray_cluster, '--device', 'cpu', '--model', DEMO_MODEL,
               '--outputs', 'depth', 'camera_info']
    env = dict(os.environ, PYTHONPATH=str(REPO))

    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    assert '3 bags: 2 complete, 1 failed; 4 frames in ' in run.stdout, run.stdout
    assert f'failed: {corrupt}: bag {corrupt} is truncated or corrupt: it cannot be read from ' \
        'byte offset ' in run.stdout
    assert f'{bags / "a.mcap"}: 2 frames written to {out / "a"}' in run.stdout
    assert f'{bags / "b"}: 2 frames written to {out / "b"}' in run.stdout

    # The two good bags hold what the node's per-frame path gives for their frames. A Ray task
    # runs torch on the one thread of its CPU: the sums of the network come in another order
    # than here, so the depth agrees to float32 rounding, not bit for bit.
    estimator = DepthEstimator.from_name(DEMO_MODEL, weights='auto', device='cpu',
                                         channels_last=True)
    for name in ('a', 'b'):
        assert (out / name / DONE_MARKER).is_file()
        expected = expected_outputs(estimator, frames[name], ('depth', 'camera_info'),
                                    FrameSettings())
        assert_outputs(out / name, {'/cam/depth/camera_info': expected['/cam/depth/camera_info']})
        written = read_topic(out / name, '/cam/depth/image', Image)
        wanted = expected['/cam/depth/image']
        assert [msg.header for msg in written] == [msg.header for msg in wanted]
        for got, want in zip(written, wanted):
            np.testing.assert_allclose(ros_io.depth_from_image(got), ros_io.depth_from_image(want),
                                       rtol=1e-4, equal_nan=True)
    assert not (out / 'c' / DONE_MARKER).exists()

    # Again: the complete bags are skipped by their marker, the corrupt one fails again.
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 1, again.stdout + again.stderr
    assert '3 bags: 2 complete (2 already complete before this run), 1 failed; 0 frames' \
        in again.stdout, again.stdout
    assert f'{bags / "a.mcap"}: already complete in {out / "a"} (2 frames), skipped' \
        in again.stdout


def test_gpu_request_and_summary():
    assert wants_gpu('cuda', 0) and wants_gpu('cuda:1', 0) and wants_gpu('auto', 2)
    assert not wants_gpu('auto', 0) and not wants_gpu('cpu', 4)
    results = [BagResult('a', 'out/a', frames=10, processed=4, seconds=2.0),
               BagResult('b', 'out/b', frames=3, already_complete=True),
               BagResult('c', 'out/c', error='bag c is corrupt')]
    assert summary(results, 2.0).splitlines() == [
        '3 bags: 2 complete (1 already complete before this run), 1 failed; 4 frames in 2.0 s '
        '(2.00 frames/s)',
        '  failed: c: bag c is corrupt']
