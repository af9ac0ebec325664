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
One network for several cameras: the newest frame of each camera through it together.

Each camera's worker thread calls :meth:`SharedModel.run` with its frame and blocks until its
result is back. When the network is free, the frames waiting go through it: in one batch where
the runtime takes a batch and their shapes agree; otherwise the oldest first and the others in
turn (round robin). Cameras that send at the same pace would miss each other (one's frame goes
alone while the other prepares its next), so before a batch the network waits for the frames of
the cameras of its previous batch, at most :data:`GATHER_FRACTION` of that forward's time. A
camera that stops is waited for once; a slow one costs the others that bounded wait once per
frame of its own: no camera ever blocks another. No thread of its own: the first
waiting caller runs the forward for everyone. :class:`SharedBackend` puts a backend
(:mod:`mono_depth_ros.backends`) behind one; each camera's estimator gets
:meth:`SharedBackend.camera`. Plain threads, no ROS.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
import threading
import time
from typing import Callable, Generic, Hashable, TypeVar

import numpy as np

Input = TypeVar('Input')
Output = TypeVar('Output')

# The longest wait for the cameras of the previous batch, as a fraction of its forward's time.
GATHER_FRACTION = 0.5


@dataclass(eq=False)
class _Request(Generic[Input, Output]):
    value: Input
    key: Hashable
    source: Hashable
    result: Output | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class BatchStatistics:
    """
    How the forwards went: how many of each batch size, the frames through them.

    ``gather_timeouts`` counts the forwards that went without a camera of the previous batch
    after waiting for it.
    """

    sizes: Counter = field(default_factory=Counter)
    gather_timeouts: int = 0

    @property
    def forwards(self) -> int:
        """Return the number of forwards."""
        return sum(self.sizes.values())

    @property
    def frames(self) -> int:
        """Return the number of frames that went through."""
        return sum(size * count for size, count in self.sizes.items())


class SharedModel(Generic[Input, Output]):
    """
    Serialise, and batch where possible, the calls of several threads to one network.

    ``run_one(value)`` runs one input; ``run_batch(values)``, when given, runs inputs of the same
    ``key`` (their shape) in one forward and returns their outputs in order. ``max_batch`` bounds
    a batch (None: as many as wait).
    """

    def __init__(self, run_one: Callable[[Input], Output],
                 run_batch: Callable[[list[Input]], list[Output]] | None = None,
                 key: Callable[[Input], Hashable] = lambda value: None,
                 max_batch: int | None = None) -> None:
        self._run_one, self._run_batch, self._key = run_one, run_batch, key
        self._max_batch = max_batch
        self._changed = threading.Condition()
        self._waiting: list[_Request] = []
        self._busy = False
        self._previous: set[Hashable] = set()  # the cameras of the last batch
        self._last_forward = 0.0  # seconds
        self.statistics = BatchStatistics()

    @property
    def batches(self) -> bool:
        """Whether frames of the same shape share a forward."""
        return self._run_batch is not None and self._max_batch != 1

    @property
    def waiting(self) -> int:
        """Return how many frames wait for the network."""
        with self._changed:
            return len(self._waiting)

    def run(self, value: Input, source: Hashable = None) -> Output:
        """
        Run ``value`` of camera ``source`` through the network, with what waits; return its output.

        Calls without a ``source`` are one camera: none waits for another.
        """
        request = _Request(value, self._key(value), source)
        with self._changed:
            self._waiting.append(request)
            self._changed.notify_all()
        while True:
            with self._changed:
                self._changed.wait_for(lambda: request.done or not self._busy)
                if request.done:
                    return _outcome(request)
                # The network is free: this thread runs the oldest waiting frame (not
                # necessarily its own) and what goes with it, then looks again.
                self._busy = True
                self._gather()
                batch = self._take()
            started = time.monotonic()
            try:
                self._forward(batch)
            finally:
                with self._changed:
                    self._previous = {request.source for request in batch}
                    self._last_forward = time.monotonic() - started
                    self._busy = False
                    self._changed.notify_all()

    def _gather(self) -> None:
        """Wait, bounded, for the frames of the cameras of the previous batch (lock held)."""
        if not self.batches:
            return
        deadline = time.monotonic() + GATHER_FRACTION * self._last_forward
        while not self._previous <= {request.source for request in self._waiting}:
            left = deadline - time.monotonic()
            if left <= 0:
                self.statistics.gather_timeouts += 1
                return
            self._changed.wait(left)

    def _take(self) -> list[_Request]:
        """Take the oldest waiting request and, when batching, those of the same shape."""
        first = self._waiting[0]
        if not self.batches:
            batch = [first]
        else:
            batch = [request for request in self._waiting if request.key == first.key]
            batch = batch[:self._max_batch] if self._max_batch else batch
        self._waiting = [request for request in self._waiting if request not in batch]
        return batch

    def _forward(self, batch: list[_Request]) -> None:
        try:
            if len(batch) == 1:
                outputs = [self._run_one(batch[0].value)]
            else:
                outputs = self._run_batch([request.value for request in batch])
        except BaseException as error:  # every caller of the batch gets the error
            for request in batch:
                request.error, request.done = error, True
        else:
            for request, output in zip(batch, outputs):
                request.result, request.done = output, True
        self.statistics.sizes[len(batch)] += 1


def _outcome(request: _Request):
    if request.error is not None:
        raise request.error
    return request.result


class SharedBackend:
    """
    A backend shared by several cameras' estimators: one network, inputs batched by shape.

    :meth:`camera` gives each camera the backend it wraps (``device``, ``input_device``, ...)
    with ``infer`` going through one :class:`SharedModel`: batches where the backend takes them
    (``max_batch``: PyTorch, ONNX files with a free batch dimension), in turn otherwise.
    """

    def __init__(self, backend) -> None:
        self.backend = backend
        max_batch = getattr(backend, 'max_batch', 1)
        self.model = SharedModel(backend.infer, self.infer_batch if max_batch != 1 else None,
                                 key=_input_key, max_batch=max_batch)

    def camera(self, name: str) -> CameraBackend:
        """Return the backend of camera ``name``: this network, shared."""
        return CameraBackend(self, name)

    def infer_batch(self, inputs: list) -> list[dict]:
        """Run inputs of one shape in one forward; each one's outputs, in order."""
        outputs = self.backend.infer(_stack(inputs))
        return [{name: value[index:index + 1] for name, value in outputs.items()}
                for index in range(len(inputs))]


def _input_key(x) -> tuple:
    """Return what must agree for inputs to share a forward: array kind, shape, type, device."""
    return (type(x).__name__, tuple(x.shape), str(x.dtype), str(getattr(x, 'device', 'cpu')))


def _stack(inputs: list):
    if isinstance(inputs[0], np.ndarray):
        return np.concatenate(inputs)
    import torch

    return torch.cat(inputs)


class CameraBackend:
    """One camera's view of a :class:`SharedBackend`: the wrapped backend, ``infer`` shared."""

    def __init__(self, shared: SharedBackend, name: str) -> None:
        self.shared, self.name = shared, name

    def __getattr__(self, name: str):
        return getattr(self.shared.backend, name)

    def infer(self, x) -> dict:
        """Run one normalised ``(1, 3, h, w)`` input, with what the other cameras send."""
        return self.shared.model.run(x, self.name)
