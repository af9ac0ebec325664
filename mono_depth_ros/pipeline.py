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
A two-stage, newest-wins frame pipeline: stage one works on frame N+1 while stage two finishes N.

The node's first stage is the network, its second the output messages and publishing, so under a
camera faster than the model the output rate approaches the network's rate instead of
1 / (network + outputs). Frames enter through a one-slot mailbox: a newer frame replaces one that
stage one has not started (a stale drop), so the newest frame always wins. Between the stages is a
one-slot hand-off, and stage one takes a frame only while the hand-off is empty: when stage two is
the slower, a frame waits in the mailbox, where a newer one can still replace it, rather than be
computed and then wait a whole stage-two cycle. Frames leave in the order they entered. Plain
threads, no ROS.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

Item = TypeVar('Item')
Value = TypeVar('Value')


class TwoStagePipeline(Generic[Item, Value]):
    """
    Run ``first(item)`` and then ``second(item, value)`` on two threads, overlapped.

    ``first`` returns None when the item needs no second stage. An exception of either stage
    goes to ``on_error(item, error)`` and the pipeline goes on with the next item.
    """

    def __init__(self, first: Callable[[Item], Value | None],
                 second: Callable[[Item, Value], None],
                 on_error: Callable[[Item, Exception], None], name: str = 'pipeline') -> None:
        self._first, self._second, self._on_error = first, second, on_error
        self._changed = threading.Condition()
        self._mailbox: Item | None = None
        self._handoff: tuple[Item, Value] | None = None
        self._stopping = False
        self._threads = [threading.Thread(target=self._run_first, name=f'{name}_first',
                                          daemon=True),
                         threading.Thread(target=self._run_second, name=f'{name}_second',
                                          daemon=True)]

    def start(self) -> None:
        """Start both stages."""
        for thread in self._threads:
            thread.start()

    def submit(self, item: Item) -> bool:
        """Offer the newest item; return True when it replaced one stage one had not started."""
        with self._changed:
            replaced = self._mailbox is not None
            self._mailbox = item
            self._changed.notify_all()
        return replaced

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both stages after the items they are working on; drop the waiting ones."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        for thread in self._threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout)

    def _run_first(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: (self._mailbox is not None
                                                and self._handoff is None) or self._stopping)
                if self._stopping:
                    return
                item, self._mailbox = self._mailbox, None
            try:
                value = self._first(item)
            except Exception as error:  # one bad item must not stop the pipeline
                self._on_error(item, error)
                continue
            if value is None:
                continue
            with self._changed:  # the hand-off is still empty: only this thread fills it
                self._handoff = (item, value)
                self._changed.notify_all()

    def _run_second(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._handoff is not None or self._stopping)
                if self._stopping:
                    return
                (item, value), self._handoff = self._handoff, None
                self._changed.notify_all()
            try:
                self._second(item, value)
            except Exception as error:  # one bad item must not stop the pipeline
                self._on_error(item, error)
