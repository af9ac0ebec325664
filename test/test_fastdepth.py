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

"""FastDepth (int8 TFLite) on a real NYU Depth v2 frame, from the shared file and downloaded."""
from __future__ import annotations

import dataclasses
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import threading

from conftest import needs_shared
from mono_depth_ros.backends.tflite import TFLiteBackend
from mono_depth_ros.models.fastdepth import SPECS
from mono_depth_ros.network_io import network_input
from mono_depth_ros.weights import resolve_weights
import numpy as np
import pytest

SPEC = SPECS[0]


@pytest.fixture(scope='module')
def weights() -> Path:
    """Return the int8 TFLite file in ../shared/weights."""
    return needs_shared('weights', 'fastdepth_nyu_224_int8.tflite')


@pytest.fixture(scope='module')
def sample() -> dict[str, np.ndarray]:
    """Return the NYU frame as uint8 RGB, its ground truth and the official float prediction."""
    folder = needs_shared('testdata', 'nyu_fastdepth_sample')
    rgb = np.load(folder / 'rgb.npy')
    return {'rgb': np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8),
            'depth': np.load(folder / 'depth.npy'),
            'official': np.load(folder / 'pred.npy')[0, 0]}


def check_accuracy(backend: TFLiteBackend, sample: dict[str, np.ndarray]) -> None:
    """Assert the prediction matches the ground truth and the official float model."""
    depth = backend.infer(network_input(sample['rgb'], SPEC, (224, 224)))['depth'][0, 0]
    assert depth.shape == (224, 224) and depth.dtype == np.float32
    rmse = float(np.sqrt(np.mean((depth - sample['depth']) ** 2)))
    assert rmse <= 0.62
    correlation = np.corrcoef(depth.ravel(), sample['official'].ravel())[0, 1]
    assert correlation >= 0.99
    assert SPEC.min_depth <= float(np.median(depth)) <= SPEC.max_depth


def test_spec_describes_the_tflite_file():
    assert SPEC.name == 'fastdepth-nyu-int8' and SPEC.backend == 'tflite'
    assert SPEC.builder is None and SPEC.output_kind == 'metric'
    assert SPEC.input_policy.network_size(480, 640) == (224, 224)
    assert SPEC.weights.file_format == 'tflite' and SPEC.weights.url.startswith('https://')


def test_shared_file_matches_nyu_ground_truth(weights, sample):
    backend = TFLiteBackend(weights, SPEC, num_threads=1)
    assert (backend.device, backend.precision) == ('cpu', 'int8')
    check_accuracy(backend, sample)


def test_downloaded_through_the_resolver_with_sha256(weights, sample, tmp_path, monkeypatch):
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(tmp_path))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(weights.parent))
    handler.log_message = lambda *args: None
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f'http://127.0.0.1:{httpd.server_address[1]}/{weights.name}'
        local = dataclasses.replace(SPEC, weights=dataclasses.replace(SPEC.weights, url=url))
        path = resolve_weights(local, 'auto')
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    assert path == tmp_path / SPEC.name / weights.name
    assert path.read_bytes() == weights.read_bytes()
    check_accuracy(TFLiteBackend(path, SPEC, num_threads=1), sample)


@pytest.mark.parametrize('x, problem', [
    (np.zeros((1, 3, 224, 224), np.uint8), r'float32 numpy array .*got uint8'),
    (np.zeros((1, 3, 240, 320), np.float32), r'takes 224x224 \(WxH\) input, got 320x240'),
    (np.zeros((224, 224, 3), np.float32), r'got float32 \(224, 224, 3\)'),
])
def test_bad_inputs_are_named(weights, x, problem):
    backend = TFLiteBackend(weights, SPEC, num_threads=1)
    with pytest.raises(ValueError, match=problem):
        backend.infer(x)


def test_not_a_tflite_file(tmp_path):
    bogus = tmp_path / 'bogus.tflite'
    bogus.write_bytes(b'not a flatbuffer' * 64)
    with pytest.raises(ValueError, match='bogus.tflite'):
        TFLiteBackend(bogus, SPEC)


def test_estimator_runs_fastdepth_on_a_larger_frame(weights, sample):
    from mono_depth_ros.estimator import DepthEstimator

    estimator = DepthEstimator.from_name(SPEC.name, weights=str(weights), num_threads=1)
    frame = np.ascontiguousarray(np.repeat(np.repeat(sample['rgb'], 2, axis=0), 2, axis=1))
    result = estimator.estimate(frame)
    assert result.depth.shape == (448, 448)
    small = result.depth[::2, ::2]
    assert float(np.sqrt(np.nanmean((small - sample['depth']) ** 2))) <= 0.7
