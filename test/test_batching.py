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

"""One network for several cameras: real threads calling one SharedModel."""
from __future__ import annotations

import threading

from conftest import wait_until
from mono_depth_ros.batching import SharedModel
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

    threads = [threading.Thread(target=camera, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not wrong
    assert shared.statistics.frames == sum(calls) == 800
    assert shared.waiting == 0
