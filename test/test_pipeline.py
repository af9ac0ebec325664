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
The two-stage pipeline on its own: overlap, newest wins, order, errors.

Stages are held and released with events, so every check is about order and never about time;
a wait that runs out (30 s) only turns a deadlock into a failure. The one check that something
does not start waits half a second for it: that can let a wrong pipeline pass, never fail a right
one.
"""
from __future__ import annotations

import threading

from mono_depth_ros.pipeline import TwoStagePipeline
import pytest

PATIENCE = 30.0


class Stages:
    """Stage functions that record what they did and can be held per item."""

    def __init__(self) -> None:
        self.started_first: list[int] = []
        self.finished: list[int] = []
        self.errors: list[tuple[int, str]] = []
        self.first_started = {n: threading.Event() for n in range(20)}
        self.release_first = {n: threading.Event() for n in range(20)}
        self.release_second = {n: threading.Event() for n in range(20)}
        self.done = {n: threading.Event() for n in range(20)}

    def first(self, item: int):
        self.started_first.append(item)
        self.first_started[item].set()
        assert self.release_first[item].wait(PATIENCE)
        if item == 13:
            raise ValueError('thirteen')
        return None if item == 7 else item * 10

    def second(self, item: int, value: int) -> None:
        assert value == item * 10
        assert self.release_second[item].wait(PATIENCE)
        self.finished.append(item)
        self.done[item].set()

    def on_error(self, item: int, error: Exception) -> None:
        self.errors.append((item, str(error)))
        self.done[item].set()


@pytest.fixture
def stages():
    """Yield held stages in a running pipeline; stop it at the end."""
    stages = Stages()
    pipeline = TwoStagePipeline(stages.first, stages.second, stages.on_error, name='test')
    pipeline.start()
    stages.pipeline = pipeline
    yield stages
    for events in (stages.release_first, stages.release_second):
        for event in events.values():
            event.set()
    pipeline.stop()


def test_stage_one_runs_the_next_item_while_stage_two_finishes_the_previous(stages):
    stages.release_first[1].set()
    stages.pipeline.submit(1)
    assert stages.first_started[1].wait(PATIENCE)
    # Item 1 goes on to be held in stage two; item 2 must enter stage one meanwhile.
    stages.pipeline.submit(2)
    assert stages.first_started[2].wait(PATIENCE)
    assert stages.finished == []
    stages.release_second[1].set()
    stages.release_first[2].set()
    stages.release_second[2].set()
    assert stages.done[2].wait(PATIENCE)
    assert stages.finished == [1, 2]


def test_the_newest_item_wins_and_stale_ones_are_reported(stages):
    assert stages.pipeline.submit(1) is False
    assert stages.first_started[1].wait(PATIENCE)
    # Stage one is busy with 1: each newer item replaces the one waiting.
    assert stages.pipeline.submit(2) is False
    assert stages.pipeline.submit(3) is True
    assert stages.pipeline.submit(4) is True
    for n in (1, 4):
        stages.release_first[n].set()
        stages.release_second[n].set()
    assert stages.done[4].wait(PATIENCE)
    assert stages.started_first == [1, 4]
    assert stages.finished == [1, 4]


def test_a_finished_item_waits_for_stage_two_while_newer_ones_replace_the_next(stages):
    # Stage two is held on 1 and 2 waits in the hand-off: stage one starts nothing more, so 3
    # stays in the mailbox and 4 replaces it, instead of 3 being computed and waiting a whole
    # stage-two cycle. Nothing overtakes.
    for n in (1, 2):
        stages.release_first[n].set()
        stages.pipeline.submit(n)
        assert stages.first_started[n].wait(PATIENCE)
    assert stages.pipeline.submit(3) is False
    assert not stages.first_started[3].wait(0.5)  # a stage one free to start it has by now
    assert stages.pipeline.submit(4) is True
    for n in (1, 2, 4):
        stages.release_first[n].set()
        stages.release_second[n].set()
    assert stages.done[4].wait(PATIENCE)
    assert stages.started_first == [1, 2, 4]
    assert stages.finished == [1, 2, 4]


def test_an_error_goes_to_on_error_and_the_next_item_is_processed(stages):
    stages.release_first[13].set()
    stages.pipeline.submit(13)
    assert stages.done[13].wait(PATIENCE)
    assert stages.errors == [(13, 'thirteen')]
    stages.release_first[14].set()
    stages.release_second[14].set()
    stages.pipeline.submit(14)
    assert stages.done[14].wait(PATIENCE)
    assert stages.finished == [14]


def test_an_item_without_a_second_stage_is_skipped(stages):
    stages.release_first[7].set()
    stages.pipeline.submit(7)
    stages.release_first[8].set()
    stages.release_second[8].set()
    assert stages.first_started[7].wait(PATIENCE)
    stages.pipeline.submit(8)
    assert stages.done[8].wait(PATIENCE)
    assert stages.finished == [8]


def test_stop_ends_both_threads():
    pipeline = TwoStagePipeline(lambda item: item, lambda item, value: None,
                                lambda item, error: None)
    pipeline.start()
    pipeline.submit(1)
    pipeline.stop()
    assert not any(thread.is_alive() for thread in pipeline._threads)
