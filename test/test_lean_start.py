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
The runtimes without PyTorch start without it: ONNX Runtime (cached export or model_file), TFLite.

Each check runs in a fresh interpreter, which then reports whether ``torch`` was ever imported.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys

from conftest import needs_shared
from mono_depth_ros.backends.onnx_cache import cached_onnx, find_cached_onnx
from mono_depth_ros.models.registry import (DEMO_MODEL, FAMILIES, get_spec, list_models,
                                            nvidia_device_present)
from mono_depth_ros.models.spec import spec_from_json, spec_to_json
from mono_depth_ros.processing import OUTPUTS
from mono_depth_ros.weights import cache_root, EMBEDDED_DIR, official_cache_path
import pytest

REPO = Path(__file__).resolve().parents[1]


def run_fresh(code: str, **env: str) -> dict:
    """Run ``code`` in a new interpreter; return the JSON it prints last, with ``torch``."""
    script = code + '\nimport sys\nREPORT["torch"] = "torch" in sys.modules\n' \
        'print(json.dumps(REPORT))\n'
    done = subprocess.run([sys.executable, '-c', 'import json\nREPORT = {}\n' + script],
                          env={**os.environ, **env}, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def onnx_cache(tmp_path_factory) -> Path:
    """Return a weights cache holding the ONNX export of the default model (made with PyTorch)."""
    cache = tmp_path_factory.mktemp('cache')
    previous = os.environ.get('MONO_DEPTH_CACHE')
    os.environ['MONO_DEPTH_CACHE'] = str(cache)
    try:
        cached_onnx(get_spec(DEMO_MODEL), 'auto')
    finally:
        if previous is None:
            del os.environ['MONO_DEPTH_CACHE']
        else:
            os.environ['MONO_DEPTH_CACHE'] = previous
    return cache


NODE_ON_ONNX = """
import numpy as np
import rclpy
from rclpy.parameter import Parameter
from mono_depth_ros import ros_io
from mono_depth_ros.node import MonoDepthNode
from mono_depth_ros.processing import FrameSettings, OUTPUTS
from mono_depth_ros.geometry import Intrinsics
from std_msgs.msg import Header

rclpy.init()
node = MonoDepthNode(parameter_overrides=[Parameter('model', value='joint-mnv3-synthetic'),
                                          Parameter('backend', value='onnx'),
                                          Parameter('num_threads', value=1)])
processor = node.processor
header = Header(frame_id='camera_optical_frame')
rgb = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
image = ros_io.rgb_to_image(rgb, header)
processor.add_camera_info(ros_io.camera_info_for(Intrinsics(250, 250, 160, 120, 320, 240),
                                                 header))
outputs = processor.process(image, OUTPUTS, FrameSettings(points_rgb=True))
REPORT['outputs'] = sorted(outputs.messages)
REPORT['model_file'] = str(processor.estimator.backend.path)
node.destroy_node()
rclpy.shutdown()
"""


def test_the_node_on_onnx_runtime_never_imports_torch(onnx_cache):
    report = run_fresh(NODE_ON_ONNX, MONO_DEPTH_CACHE=str(onnx_cache))
    assert report['outputs'] == sorted(OUTPUTS)  # every output was built
    assert Path(report['model_file']).parent == onnx_cache / DEMO_MODEL / 'onnx'
    assert report['torch'] is False


def test_a_model_file_runs_without_torch_and_names_its_model(onnx_cache, tmp_path):
    model_file = next((onnx_cache / DEMO_MODEL / 'onnx').glob('*.onnx'))
    report = run_fresh(f"""
from mono_depth_ros.estimator import DepthEstimator
import numpy as np
estimator = DepthEstimator.from_name({DEMO_MODEL!r}, backend='onnx',
                                     model_file={str(model_file)!r})
result = estimator.estimate(np.zeros((48, 64, 3), np.uint8))
REPORT['shape'] = list(result.depth.shape)
REPORT['classes'] = len(estimator.spec.classes)
try:
    DepthEstimator.from_name('lite-mono', backend='onnx', model_file={str(model_file)!r})
except ValueError as error:
    REPORT['error'] = str(error)
""", MONO_DEPTH_CACHE=str(tmp_path))  # an empty cache: only the file is used
    assert report['shape'] == [48, 64]
    assert report['classes'] == len(get_spec(DEMO_MODEL).classes)
    assert f"holds model {DEMO_MODEL!r}, not 'lite-mono'" in report['error']
    assert report['torch'] is False


def test_tflite_never_imports_torch():
    weights = needs_shared('weights', 'fastdepth_nyu_224_int8.tflite')
    report = run_fresh(f"""
from mono_depth_ros.estimator import DepthEstimator
import numpy as np
estimator = DepthEstimator.from_name('fastdepth-nyu-int8', weights={str(weights)!r},
                                     threads=1)
depth = estimator.estimate(np.full((120, 160, 3), 128, np.uint8)).depth
REPORT['valid'] = float(np.isfinite(depth).mean())
""")
    assert report['valid'] > 0.9
    assert report['torch'] is False


def test_the_default_node_on_a_cpu_never_imports_torch(tmp_path):
    if nvidia_device_present():
        pytest.skip('this machine has an NVIDIA GPU: model auto runs on PyTorch there')
    weights = needs_shared('weights', 'fastdepth_nyu_224_int8.tflite')
    relative = official_cache_path(get_spec('fastdepth-nyu-int8')).relative_to(cache_root())
    (tmp_path / relative).parent.mkdir(parents=True)
    shutil.copy(weights, tmp_path / relative)
    report = run_fresh("""
import rclpy
from mono_depth_ros.node import MonoDepthNode
rclpy.init()
node = MonoDepthNode()  # model auto, device auto: FastDepth int8 on a machine without a GPU
REPORT['model'] = node.processor.estimator.spec.name
node.destroy_node()
rclpy.shutdown()
""", MONO_DEPTH_CACHE=str(tmp_path))
    assert report == {'model': 'fastdepth-nyu-int8', 'torch': False}


def test_a_changed_weights_file_misses_the_cached_export(tmp_path, monkeypatch):
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(tmp_path / 'cache'))
    spec = get_spec(DEMO_MODEL)
    weights = tmp_path / 'weights.safetensors'
    weights.write_bytes((EMBEDDED_DIR / spec.weights.embedded).read_bytes())
    path = cached_onnx(spec, str(weights))
    assert find_cached_onnx(DEMO_MODEL, str(weights)) == path
    assert find_cached_onnx(DEMO_MODEL, 'auto') is None  # another weights argument
    assert find_cached_onnx('lite-mono', str(weights)) is None
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert find_cached_onnx(DEMO_MODEL, str(weights)) is None
    assert cached_onnx(spec, str(weights)) == path  # same content: the same export again
    assert find_cached_onnx(DEMO_MODEL, str(weights)) == path


@pytest.mark.parametrize('spec', list_models(), ids=lambda spec: spec.name)
def test_every_spec_travels_as_json(spec):
    back = spec_from_json(spec_to_json(spec))
    assert back == dataclasses.replace(spec, builder=None, load_checkpoint=None, extra=back.extra)
    assert back.extra.keys() == spec.extra.keys()  # families' own configurations as dicts


def test_looking_up_a_variant_imports_only_its_family():
    report = run_fresh("""
from mono_depth_ros.models.registry import get_spec
REPORT['family'] = get_spec('fastdepth-nyu-int8').family
""")
    assert report == {'family': 'fastdepth', 'torch': False}
    for module_name, prefixes in FAMILIES.items():
        assert any(spec.name.startswith(prefixes) for spec in list_models()), module_name
