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
``mono-depth quality``: each study on data whose answer is known, and the command end to end.

Predictions with known faults stand in for a network here: a depth smeared at a quarter of the
resolution (flying pixels), the true depth with independent noise per frame (flicker), the true
depth at a wrong scale (for the scale fit).
"""
from __future__ import annotations

import argparse
import json

import cv2
from mono_depth_ros import quality
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.models.registry import DEMO_MODEL, get_spec
import numpy as np
import pytest


@pytest.fixture(scope='module')
def paths():
    """Return two short trajectories of different scenes at 96x72."""
    return quality.trajectories(2, 6, (72, 96), noise=0.0, seed=3)


def smeared(depth: np.ndarray) -> np.ndarray:
    """Return the depth as a network at a quarter of the resolution, resized back, gives it."""
    height, width = depth.shape
    filled = np.nan_to_num(depth, nan=40.0)
    small = cv2.resize(filled, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
    return np.where(np.isnan(depth), np.nan,
                    cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR))


def test_edge_study_counts_what_the_filter_removes():
    scenes = SyntheticScenes(seed=8, count=3, width=320, height=240)
    pairs = [('synthetic', smeared(sample.depth).astype(np.float32), sample.depth)
             for sample in scenes]
    rows = {(row['threshold'], row['radius']): row
            for row in quality.edge_study(pairs, [(0.1, 1), (10.0, 1)])}
    cleaned, untouched = rows[(0.1, 1)], rows[(10.0, 1)]
    assert cleaned['floating_before'] > 0.01
    assert cleaned['floating_after'] < 0.05 * cleaned['floating_before']
    assert cleaned['off_after'] < 0.05 * cleaned['off_before']
    assert 0 < cleaned['good_lost'] < 0.05
    # A threshold nothing reaches removes nothing: before and after agree.
    assert untouched['removed'] == 0.0 and untouched['good_lost'] == 0.0
    assert untouched['off_after'] == pytest.approx(untouched['off_before'])


def test_temporal_study_sees_flicker_fall_and_the_cut(paths):
    rng = np.random.default_rng(0)
    predictions = [[(sample, (sample.depth * rng.normal(1.0, 0.05, sample.depth.shape))
                     .astype(np.float32)) for sample in path] for path in paths]
    rows = {row['config']: row for row in quality.temporal_study(
        predictions, {'off': None, 'ema': {'alpha': 0.3, 'delta': 0.5, 'reset': 0.1}})}
    assert rows['truth']['flicker'] < 0.01 and rows['truth']['abs_rel'] == 0.0
    assert rows['ema']['flicker'] < 0.7 * rows['off']['flicker']
    assert rows['off']['restarts'] == 0 and rows['ema']['restarts'] >= 2  # start and the cut
    # Right after the cut the filter restarted: no worse than the raw prediction.
    assert rows['ema']['abs_rel_after_cut'] == pytest.approx(rows['off']['abs_rel_after_cut'])


def test_scale_study_shows_the_window_holding_the_scale(paths):
    predictions = [[(sample, (sample.depth / 3.0).astype(np.float32)) for sample in path]
                   for path in paths]
    rows = {(row['window'], row['smoothing']): row for row in quality.scale_study(
        get_spec(DEMO_MODEL), predictions, [(1, 0.0), (5, 0.0)], wild=0.3, seed=1)}
    plain, windowed = rows[(1, 0.0)], rows[(5, 0.0)]
    assert plain['wild_frames'] > 0
    assert windowed['jump_mean'] < 0.5 * plain['jump_mean']
    assert windowed['abs_rel_wild'] < plain['abs_rel_wild']


def test_the_command_prints_json_rows(capsys):
    parser = argparse.ArgumentParser()
    quality.add_arguments(parser)
    code = quality.main(parser.parse_args(
        ['scale', '--model', DEMO_MODEL, '--trajectories', '1', '--frames', '4',
         '--size', '64x48', '--windows', '1,3', '--smoothings', '0', '--json']))
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row['window'], row['smoothing']) for row in rows] == [(1, 0.0), (3, 0.0)]
    code = quality.main(parser.parse_args(['edges', '--model', DEMO_MODEL, '--size', '64']))
    assert code == 2 and 'WxH' in capsys.readouterr().err


def test_confidence_study_puts_the_wrong_points_in_the_low_bins():
    scenes = SyntheticScenes(seed=9, count=2, width=320, height=240)
    pairs = [('synthetic', smeared(sample.depth).astype(np.float32), sample.depth)
             for sample in scenes]
    rows = {row['confidence']: row for row in quality.confidence_study(pairs)}
    assert sum(row['share'] for row in rows.values()) == pytest.approx(1.0)
    assert rows['0.75-1']['share'] > 0.6
    assert rows['0-0.25']['off'] > 10 * rows['0.75-1']['off']
    assert rows['0-0.25']['abs_rel'] > 10 * rows['0.75-1']['abs_rel']
