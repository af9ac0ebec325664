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
One network for several cameras: the frames that wait while it is busy go through it together.

Each camera's worker thread calls :meth:`SharedModel.run` with its frame and blocks until its
result is back. A forward starts as soon as the network is free, with every frame waiting at that
moment (one per camera at most, since each camera waits for its own). Frames of the same shape go
through in one batch where the runtime takes a batch; otherwise, or with shapes that differ, the
oldest frame goes first and the others wait their turn, so the cameras take turns (round robin).
A camera that stops sending is simply not in the next batch: no camera ever waits for another.
No thread of its own: the first waiting caller runs the forward for everyone.
:class:`SharedBackend` puts a backend (:mod:`mono_depth_ros.backends`) behind one: give it to
each camera's estimator. Plain threads, no ROS.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
import threading
from typing import Callable, Generic, Hashable, TypeVar

import numpy as np

Input = TypeVar('Input')
Output = TypeVar('Output')


@dataclass(eq=False)
class _Request(Generic[Input, Output]):
    value: Input
    key: Hashable
    result: Output | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class BatchStatistics:
    """How the forwards went: how many of each batch size, and the frames through them."""

    sizes: Counter = field(default_factory=Counter)

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

    def run(self, value: Input) -> Output:
        """Run ``value`` through the network, together with what waits; return its output."""
        request = _Request(value, self._key(value))
        with self._changed:
            self._waiting.append(request)
        while True:
            with self._changed:
                self._changed.wait_for(lambda: request.done or not self._busy)
                if request.done:
                    return _outcome(request)
                # The network is free: this thread runs the oldest waiting frame (not
                # necessarily its own) and what goes with it, then looks again.
                self._busy = True
                batch = self._take()
            try:
                self._forward(batch)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

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

    It is the backend it wraps (``device``, ``input_device``, ...) with :meth:`infer` going
    through a :class:`SharedModel`: batches where the backend takes them (``max_batch``: PyTorch,
    ONNX files with a free batch dimension), in turn otherwise.
    """

    def __init__(self, backend) -> None:
        self.backend = backend
        max_batch = getattr(backend, 'max_batch', 1)
        self.model = SharedModel(backend.infer, self.infer_batch if max_batch != 1 else None,
                                 key=_input_key, max_batch=max_batch)

    def __getattr__(self, name: str):
        return getattr(self.backend, name)

    def infer(self, x) -> dict:
        """Run one normalised ``(1, 3, h, w)`` input, with what the other cameras submit."""
        return self.model.run(x)

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
