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
The depth filters on depth whose truth is known: smeared edges, noisy static scenes, cuts.

A box 1 m away in front of a wall 3 m away, predicted at a quarter of the resolution and
upsampled bilinearly (what a network's output resize does), has a ramp of points floating
between the two surfaces: exactly those must go, and the surfaces must stay.
"""
from __future__ import annotations

import cv2
from mono_depth_ros.filters import confidence, EdgeFilter, HALF_CONFIDENCE_ERROR, TemporalFilter
import numpy as np
import pytest

NEAR, FAR = 1.0, 3.0


def box_in_front_of_wall(height: int = 120, width: int = 160) -> np.ndarray:
    """Exact depth: the wall at FAR, a box at NEAR in the middle."""
    depth = np.full((height, width), FAR, np.float32)
    depth[height // 4:3 * height // 4, width // 4:3 * width // 4] = NEAR
    return depth


def smeared(depth: np.ndarray, factor: int = 4) -> np.ndarray:
    """Return the depth as a network at 1/factor of the resolution, resized back, gives it."""
    height, width = depth.shape
    small = cv2.resize(depth, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def test_edge_filter_removes_the_points_between_surfaces_and_keeps_the_surfaces():
    truth = box_in_front_of_wall()
    prediction = smeared(truth)
    flying = ((prediction > NEAR * 1.1) & (prediction < FAR / 1.1))
    assert flying.sum() > 200  # the ramp exists
    edge = EdgeFilter(threshold=0.1, radius=2)
    mask = edge.mask(prediction).copy()
    assert mask[flying].all()
    # Surfaces more than the ramp (4 px) plus the radius away from the edge are all kept.
    near_edge = cv2.dilate(flying.astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
    assert not mask[~near_edge].any()
    cleaned = edge.apply(prediction)
    assert np.isnan(cleaned[mask]).all()
    np.testing.assert_array_equal(cleaned[~mask], prediction[~mask])
    assert not np.isnan(prediction).any()  # the input is left alone


def test_edge_filter_ignores_holes_and_gentle_slopes():
    rows = np.linspace(2.0, 2.5, 120, dtype=np.float32)  # a slanted floor: 0.2 % per row
    depth = np.repeat(rows[:, None], 160, axis=1)
    depth[40:60, 50:70] = np.nan  # no depth there (sky, out of range)
    depth[::7, ::11] = np.nan
    edge = EdgeFilter(threshold=0.05, radius=3)
    assert not edge.mask(depth).any()
    span = edge.span(depth)
    assert span.max() < 0.05 and span[np.isfinite(depth)].min() > 0
    assert EdgeFilter(threshold=0.005, radius=3).mask(depth).any()  # steeper than that


def test_edge_span_is_the_relative_range_of_the_window():
    depth = box_in_front_of_wall()
    span = EdgeFilter(radius=1).span(depth)
    assert span.max() == pytest.approx(FAR / NEAR - 1.0)
    assert span[0, 0] == 0.0
    # One ring of pixels on each side of the 80x60 box edge, diagonal neighbours included.
    assert (span > 0).sum() == (2 * (80 + 60) - 4) + (2 * (82 + 62) - 4)


def test_edge_filter_reuses_its_buffers_and_writes_into_out():
    edge = EdgeFilter()
    first = smeared(box_in_front_of_wall())
    second = smeared(box_in_front_of_wall(60, 80))
    out = np.empty_like(first)
    assert edge.apply(first, out=out) is out
    assert edge.mask(second).shape == second.shape  # another size reallocates
    np.testing.assert_array_equal(np.isnan(edge.apply(first)), np.isnan(out))
    # Given the span already computed (for the confidence), apply() gives the same result.
    np.testing.assert_array_equal(edge.apply(first, span=edge.span(first)), out)


def test_edge_filter_arguments():
    with pytest.raises(ValueError, match='threshold'):
        EdgeFilter(threshold=0.0)
    with pytest.raises(ValueError, match='radius'):
        EdgeFilter(radius=0)
    with pytest.raises(ValueError, match='float32'):
        EdgeFilter().mask(np.ones((4, 4)))


def noisy_frames(count: int, noise: float = 0.03, seed: int = 0):
    """Yield the same view and image, with independent multiplicative noise on the depth."""
    rng = np.random.default_rng(seed)
    truth = smeared(box_in_front_of_wall())
    image = np.dstack([(truth * 60).astype(np.uint8)] * 3)
    for _ in range(count):
        yield truth, image, (truth * rng.normal(1.0, noise, truth.shape)).astype(np.float32)


def flicker(frames: list[np.ndarray]) -> float:
    """Mean relative change between consecutive frames."""
    return float(np.mean([np.nanmean(np.abs(b - a) / a) for a, b in zip(frames, frames[1:])]))


def test_temporal_filter_reduces_flicker_of_a_static_scene():
    temporal = TemporalFilter(alpha=0.3, delta=0.2)
    raw, filtered = [], []
    for truth, image, depth in noisy_frames(30):
        raw.append(depth)
        filtered.append(temporal.update(depth, image))
    assert temporal.restarts == 1
    assert flicker(filtered[5:]) < 0.5 * flicker(raw[5:])
    error = np.mean([np.mean(np.abs(f - truth) / truth) for f in filtered[5:]])
    assert error < 0.6 * np.mean([np.mean(np.abs(r - truth) / truth) for r in raw[5:]])


def test_temporal_filter_follows_a_real_change_at_once():
    temporal = TemporalFilter(alpha=0.2, delta=0.1)
    (truth, image, depth), = noisy_frames(1, noise=0.0)
    temporal.update(depth, image)
    moved = depth.copy()
    moved[:30] *= 0.5  # something came closer in the top rows
    moved[30:40] *= 1.05  # a small change: averaged
    out = temporal.update(moved, image)
    np.testing.assert_array_equal(out[:30], moved[:30])
    np.testing.assert_allclose(out[30:40], depth[30:40] * 1.01, rtol=1e-5)
    assert temporal.disagreement[:30].max() == 0.0  # restarted pixels disagree with nothing
    np.testing.assert_allclose(temporal.disagreement[30:40], 0.05, rtol=1e-4)
    gone = moved.copy()
    gone[50:60] = np.nan
    out = temporal.update(gone, image)
    assert np.isnan(out[50:60]).all()  # no depth is held over
    out = temporal.update(moved, image)
    np.testing.assert_array_equal(out[50:60], moved[50:60])  # and it comes back as it is


def test_temporal_filter_restarts_on_a_scene_change():
    temporal = TemporalFilter(alpha=0.2, delta=0.5, reset=0.1)
    frames = list(noisy_frames(3))
    for _, image, depth in frames[:2]:
        temporal.update(depth, image)
    other_image = 255 - frames[2][1]  # a cut: every grey level changes
    out = temporal.update(frames[2][2], other_image)
    np.testing.assert_array_equal(out, frames[2][2])
    assert temporal.restarts == 2
    out = temporal.update(frames[2][2][:60], other_image)  # another resolution
    assert temporal.restarts == 3 and out.shape == (60, 160)


def test_temporal_filter_arguments():
    for bad in ({'alpha': 0.0}, {'alpha': 1.5}, {'delta': 0.0}, {'reset': 0.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TemporalFilter(**bad)
    with pytest.raises(ValueError, match='uint8'):
        TemporalFilter().update(np.ones((4, 4), np.float32), np.ones((4, 4)))


def test_confidence_combines_the_known_errors():
    depth = np.array([[1.0, 2.0, np.nan, 0.0]], np.float32)
    np.testing.assert_array_equal(confidence(depth), [[1.0, 1.0, 0.0, 0.0]])
    span = np.full(depth.shape, HALF_CONFIDENCE_ERROR, np.float32)
    np.testing.assert_allclose(confidence(depth, span=span), [[0.5, 0.5, 0.0, 0.0]])
    # Errors add as a root sum of squares: 0.06 and 0.08 make 0.1.
    np.testing.assert_allclose(
        confidence(depth, span=np.full(depth.shape, 0.06, np.float32),
                   disagreement=np.full(depth.shape, 0.08, np.float32)),
        [[0.5, 0.5, 0.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(confidence(depth, fit_error=0.2), [[0.2, 0.2, 0.0, 0.0]],
                               rtol=1e-6)
    with pytest.raises(ValueError, match='does not match'):
        confidence(depth, span=np.zeros((2, 2), np.float32))
