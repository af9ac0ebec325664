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
Shared test set-up: a private DDS domain on localhost, and a ROS graph spun in the background.

The environment is set before any test imports rclpy, so no DDS traffic leaves the machine and
parallel runs do not cross-talk.
"""
from __future__ import annotations

import gc
import os
from pathlib import Path
import random
import shutil
import sys
import threading
import time

import pytest

REPO = Path(__file__).resolve().parents[1]
# Test data, parity goldens and real weights live in ../shared in the development tree and in CI; a
# user's clone has nothing beside it. Tests reach it only through needs_shared(), shared_params()
# and the fixtures below, which skip with the reason (test_shared_data.py keeps it that way).
SHARED = REPO.parent / 'shared'

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(1, 100)))
if 'FASTDDS_DEFAULT_PROFILES_FILE' not in os.environ:
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(REPO / 'config' / 'fastdds_shm.xml')
    os.environ.setdefault('RMW_FASTRTPS_USE_QOS_FROM_XML', '1')  # the profile's history memory


def _not_available(path: Path) -> str:
    return f'{path} is not available (the development tree keeps shared/ beside the repository)'


def needs_shared(*parts: str) -> Path:
    """Return a path under ../shared, skipping the test (with the reason) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(_not_available(path))
    return path


def shared_params(pattern: str, *parts: str) -> list:
    """
    Parametrise over the files of ../shared/<parts> that match ``pattern``, ids by file stem.

    For parametrisations built at import time: when the folder is absent, a single parameter that
    skips with the reason stands in for the files.
    """
    folder = SHARED.joinpath(*parts)
    if not folder.is_dir():
        return [pytest.param(None, id='no-shared',
                             marks=pytest.mark.skip(reason=_not_available(folder)))]
    return [pytest.param(path, id=path.stem) for path in sorted(folder.glob(pattern))]


@pytest.fixture(scope='session')
def kitti_000008() -> Path:
    """KITTI frame 000008 (image, LiDAR scan, projected depth, calib.json) in ../shared."""
    return needs_shared('testdata', 'kitti_000008')


def executable(name: str) -> str:
    """
    Return the path of one of the package's executables, wherever the installation put it.

    As ``ros2 run`` finds it: ``<prefix>/lib/mono_depth_ros/<name>`` of the package in the ament
    index (a colcon workspace's install); else the console script of a pip install, next to the
    interpreter or on PATH.
    """
    from mono_depth_ros.launch_config import installed_executable

    for path in (installed_executable('mono_depth_ros', name),
                 Path(sys.executable).with_name(name), shutil.which(name)):
        if path is not None and os.access(path, os.X_OK):
            return str(path)
    raise FileNotFoundError(f'executable {name!r} not found in the ament index (colcon install), '
                            f'next to {sys.executable} or on PATH: is mono_depth_ros installed?')


def install_in_ament_prefix(prefix: Path, package: str, scripts: dict[str, str],
                            monkeypatch) -> Path:
    """
    Lay ``package`` out in ``prefix`` as colcon installs it and put it first in the ament index.

    ``scripts`` (name -> text) become its executables; return their folder, lib/<package>.
    """
    marker = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / package
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    lib = prefix / 'lib' / package
    lib.mkdir(parents=True, exist_ok=True)
    for name, text in scripts.items():
        (lib / name).write_text(text)
        (lib / name).chmod(0o755)
    monkeypatch.setenv('AMENT_PREFIX_PATH', os.pathsep.join(
        filter(None, [str(prefix), os.environ.get('AMENT_PREFIX_PATH')])))
    return lib


def wait_until(condition, timeout: float = 20.0, period: float = 0.01) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(period)
    return bool(condition())


class Graph:
    """Nodes spinning in a background executor: multi-threaded, or one thread as rclpy.spin."""

    def __init__(self, multi_threaded: bool = True) -> None:
        from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

        self.executor = (MultiThreadedExecutor(num_threads=4) if multi_threaded
                         else SingleThreadedExecutor())
        self.nodes = []
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def add(self, node):
        """Spin ``node`` from now on and destroy it at the end of the test."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def close(self) -> None:
        """Destroy every node and stop the executor."""
        while self.nodes:
            self._destroy(self.nodes.pop())
        self.executor.shutdown()
        self._thread.join(timeout=5)
        # Free the nodes' reference cycles (a lifecycle node's callbacks hold it) now: left to a
        # later gc pass they may be finalised in a forked child (flake8's workers), where the
        # middleware is unusable, and kill it.
        gc.collect()

    def _destroy(self, node) -> None:
        self.executor.remove_node(node)
        node.destroy_node()


@pytest.fixture(scope='session')
def ros():
    """Initialise rclpy once for the test session."""
    import rclpy

    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope='module')
def one_torch_thread():
    """Run a module's PyTorch work on one thread (a shared 2-core machine), then restore it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def graph(ros):
    """Yield a background executor for the nodes of one test."""
    graph = Graph()
    yield graph
    graph.close()


@pytest.fixture(scope='session')
def lite_mono_tiny_folder(tmp_path_factory):
    """Random Lite-Mono-tiny weights saved as the official two-file checkpoint folder."""
    return random_official_weights('lite-mono-tiny', tmp_path_factory.mktemp('weights'))


def random_official_weights(model: str, folder: Path) -> Path:
    """
    Write random weights for ``model`` in its official checkpoint format; return the path.

    Lite-Mono: a folder with encoder.pth (+ height, width, use_stereo) and depth.pth; Multi-Task
    RefineNet: a dict with the weights under 'state_dict'; others: a plain state_dict file.
    FastDepth is a real int8 TFLite file from ../shared/weights.
    """
    from mono_depth_ros.models.registry import create_model, get_spec
    import torch

    spec = get_spec(model)
    if spec.backend == 'tflite':
        return needs_shared('weights', 'fastdepth_nyu_224_int8.tflite')
    torch.manual_seed(0)
    module = create_model(model)
    if spec.family == 'lite-mono':
        target = folder / model
        target.mkdir(parents=True, exist_ok=True)
        torch.save(module.encoder.state_dict() | {'height': spec.input_policy.height,
                                                  'width': spec.input_policy.width,
                                                  'use_stereo': False}, target / 'encoder.pth')
        torch.save(module.decoder.state_dict(), target / 'depth.pth')
        return target
    target = folder / f'{model}.pth'
    state = module.state_dict()
    torch.save({'state_dict': state} if spec.family == 'multitask-refinenet' else state, target)
    return target
