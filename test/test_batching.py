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

"""One network for several cameras: real threads calling one SharedModel, real backends."""
from __future__ import annotations

import threading
import time

from conftest import wait_until
from mono_depth_ros import network_io
from mono_depth_ros.batching import SharedBackend, SharedModel
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.registry import DEMO_MODEL
import numpy as np
import pytest


class Network:
    """A network stand-in that records its forwards; the first one holds until released."""

    def __init__(self) -> None:
        self.forwards: list[list[str]] = []
        self.release_first = threading.Event()

    def one(self, value: str) -> str:
        if not self.forwards:
            self.forwards.append([value])
            self.release_first.wait(timeout=30)
        else:
            self.forwards.append([value])
        if value == 'bad':
            raise ValueError('bad frame')
        return value.upper()

    def batch(self, values: list[str]) -> list[str]:
        self.forwards.append(list(values))
        return [value.upper() for value in values]


def call_all(shared: SharedModel, network: Network, first: str, others: list[str]) -> dict:
    """Call ``first``, then ``others`` from threads while the first forward runs; their results."""
    results: dict[str, object] = {}

    def call(value: str) -> None:
        try:
            results[value] = shared.run(value)
        except ValueError as error:
            results[value] = error

    threads = [threading.Thread(target=call, args=(first,))]
    threads[0].start()
    assert wait_until(lambda: network.forwards, timeout=10)
    for value in others:
        threads.append(threading.Thread(target=call, args=(value,)))
        threads[-1].start()
        # Each waits before the next comes, so that their order is known.
        assert wait_until(lambda: shared.waiting == len(threads) - 1, timeout=10)
    network.release_first.set()
    for thread in threads:
        thread.join(timeout=30)
    return results


def run_cameras(camera, count: int, timeout: float) -> None:
    """Run ``camera(index)`` for ``count`` cameras on threads of their own; wait for them."""
    threads = [threading.Thread(target=camera, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)


def test_frames_waiting_while_the_network_is_busy_share_the_next_forward():
    network = Network()
    shared = SharedModel(network.one, network.batch)
    results = call_all(shared, network, 'front', ['left', 'right'])
    assert results == {'front': 'FRONT', 'left': 'LEFT', 'right': 'RIGHT'}
    assert network.forwards == [['front'], ['left', 'right']]
    assert shared.statistics.sizes == {1: 1, 2: 1}
    assert (shared.statistics.forwards, shared.statistics.frames) == (2, 3)


def test_frames_of_other_shapes_take_turns_oldest_first():
    network = Network()
    shared = SharedModel(network.one, network.batch, key=len)
    results = call_all(shared, network, 'front', ['wide_left', 'right', 'wide_back'])
    assert len(results) == 4
    # 'wide_left' is the oldest: it goes with the other of its shape, then 'right'.
    assert network.forwards == [['front'], ['wide_left', 'wide_back'], ['right']]


@pytest.mark.parametrize('run_batch, max_batch', [(None, None), ('batch', 1)])
def test_without_batches_the_cameras_take_turns(run_batch, max_batch):
    network = Network()
    shared = SharedModel(network.one, getattr(network, run_batch) if run_batch else None,
                         max_batch=max_batch)
    assert not shared.batches
    call_all(shared, network, 'front', ['left', 'right', 'back'])
    assert network.forwards == [['front'], ['left'], ['right'], ['back']]


def test_a_failed_forward_fails_its_own_callers_only():
    network = Network()
    shared = SharedModel(network.one, network.batch)
    results = call_all(shared, network, 'bad', ['left'])
    assert isinstance(results['bad'], ValueError) and results['left'] == 'LEFT'
    assert shared.run('next') == 'NEXT'


def test_many_cameras_hammering_each_get_their_own_results():
    calls = []

    def one(value: int) -> int:
        calls.append(1)
        return value * 2

    def batch(values: list[int]) -> list[int]:
        calls.append(len(values))
        return [value * 2 for value in values]

    shared = SharedModel(one, batch, key=lambda value: value % 2)
    wrong = []

    def camera(index: int) -> None:
        for step in range(200):
            value = index * 1000 + step
            if shared.run(value) != value * 2:
                wrong.append(value)

    run_cameras(camera, 4, timeout=60)
    assert not wrong
    assert shared.statistics.frames == sum(calls) == 800
    assert shared.waiting == 0


@pytest.fixture(scope='module')
def estimator():
    """Return the default model on the CPU, as the node runs it."""
    return DepthEstimator.from_name(DEMO_MODEL, weights='auto', device='cpu',
                                    channels_last=True)


@pytest.fixture(scope='module')
def scenes():
    """Return three camera views of one size."""
    return SyntheticScenes(seed=41, count=3, width=320, height=240)


def network_inputs(spec, scenes) -> list[np.ndarray]:
    size = spec.input_policy.network_size(240, 320)
    return [network_io.network_input(scene.rgb, spec, size) for scene in scenes]


def as_array(value) -> np.ndarray:
    return value.cpu().numpy() if hasattr(value, 'cpu') else value


def assert_batch_is_each_alone(backend, inputs) -> None:
    batched = SharedBackend(backend).infer_batch(inputs)
    assert len(batched) == len(inputs)
    for x, outputs in zip(inputs, batched):
        alone = backend.infer(x)
        assert set(outputs) == set(alone)
        for name, value in outputs.items():
            assert value.shape == alone[name].shape and value.shape[0] == 1
            # One forward for three frames sums in another order: float32 rounding apart.
            np.testing.assert_allclose(as_array(value), as_array(alone[name]), rtol=1e-4,
                                       atol=1e-4)


def test_a_pytorch_batch_gives_each_frame_its_own_outputs(estimator, scenes):
    assert estimator.backend.max_batch is None
    assert_batch_is_each_alone(estimator.backend, network_inputs(estimator.spec, scenes))


def test_an_onnx_file_with_a_free_batch_dimension_batches(estimator, scenes, tmp_path):
    from mono_depth_ros.backends.onnx_backend import OnnxBackend
    from mono_depth_ros.export import export_onnx
    from mono_depth_ros.models.registry import create_model

    size = estimator.spec.input_policy.network_size(240, 320)
    module = create_model(DEMO_MODEL, 'auto')
    fixed = OnnxBackend(export_onnx(module, estimator.spec, size, tmp_path / 'fixed.onnx'),
                        estimator.spec)
    free = OnnxBackend(export_onnx(module, estimator.spec, size, tmp_path / 'free.onnx',
                                   dynamic=True), estimator.spec)
    assert (fixed.max_batch, free.max_batch) == (1, None)
    assert not SharedBackend(fixed).model.batches and SharedBackend(free).model.batches
    inputs = network_inputs(estimator.spec, scenes)
    assert_batch_is_each_alone(free, inputs)
    with pytest.raises(ValueError, match='of 1 frames'):
        fixed.infer(np.concatenate(inputs))


def test_cameras_sharing_one_model_get_their_own_depth(estimator, scenes):
    shared = SharedBackend(estimator.backend)
    cameras = [DepthEstimator(estimator.spec, shared.camera(f'camera_{index}'))
               for index in range(len(scenes))]
    expected = [estimator.estimate(scene.rgb, scene.intrinsics).depth for scene in scenes]
    wrong = []

    def camera(index: int) -> None:
        for _ in range(4):
            depth = cameras[index].estimate(scenes[index].rgb, scenes[index].intrinsics).depth
            if not np.allclose(depth, expected[index], rtol=1e-4, atol=1e-4, equal_nan=True):
                wrong.append(index)

    run_cameras(camera, 3, timeout=300)
    assert not wrong
    assert shared.model.statistics.frames == 12
    assert cameras[0].backend.device == estimator.backend.device == 'cpu'


def cameras_in_step(shared: SharedModel, sources: list[str], frames: int,
                    pause: float) -> list[str]:
    """
    Run camera threads that each send ``frames`` frames, pausing after each one.

    The pause stands for their pre- and post-processing. Returns the frames whose results were
    not their own.
    """
    wrong = []

    def camera(source: str) -> None:
        for step in range(frames):
            value = f'{source}{step}'
            if shared.run(value, source) != value.upper():
                wrong.append(value)
            time.sleep(pause)

    threads = [threading.Thread(target=camera, args=(source,)) for source in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return wrong


def test_cameras_in_step_are_gathered_into_one_forward():
    # Each camera prepares its next frame while the other's goes alone, unless the network
    # waits for it: it does, briefly, for the cameras that are sending.
    def one(value: str) -> str:
        time.sleep(0.1)
        return value.upper()

    def batch(values: list[str]) -> list[str]:
        time.sleep(0.1)
        return [value.upper() for value in values]

    shared = SharedModel(one, batch)
    assert not cameras_in_step(shared, ['front', 'back'], frames=10, pause=0.002)
    sizes = shared.statistics.sizes
    assert shared.statistics.frames == 20
    assert sizes[2] >= shared.statistics.forwards / 2, sizes


def test_a_camera_that_stops_is_not_waited_for():
    sent = []

    def one(value: str) -> str:
        sent.append(value)
        time.sleep(0.05)
        return value.upper()

    shared = SharedModel(one, lambda values: [one(value) for value in values])
    assert shared.run('left0', 'left') == 'LEFT0'  # left sends once, then nothing
    assert not cameras_in_step(shared, ['front'], frames=30, pause=0.0)
    assert len(sent) == 31
    # The forward after left's last frame waited for it, once; none after that did.
    assert shared.statistics.gather_timeouts == 1
