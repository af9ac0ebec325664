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
Tests of metric-scale recovery: conversions, robust fits, every policy, LiDAR extrinsics.

Synthetic cases are exact (a known metric depth turned into each output kind with known
parameters); the real cases use KITTI frame 000008's LiDAR ground truth from ../shared.
"""
import json
import math
from pathlib import Path

import cv2
from mono_depth_ros.geometry import Intrinsics
from mono_depth_ros.models.spec import InputPolicy, ModelSpec
from mono_depth_ros.scale import (apply_scale, disp_to_depth, extrinsic_from_params, fit_scale,
                                  fit_scale_shift, FixedScale, ground_plane_depth,
                                  GroundPlaneScale, make_policy, MedianScale, NoScale,
                                  params_from_extrinsic, POLICIES, policy_defaults,
                                  sparse_depth_from_lidar, transform_points, unscaled_depth)
import numpy as np
import pytest

KINDS = ('metric', 'disparity', 'inverse_relative')
# The unknown parameters of the synthetic relative predictions.
TRUE_SCALE = {'metric': 1.7, 'disparity': 6.5, 'inverse_relative': 0.04}
TRUE_SHIFT = {'metric': 0.0, 'disparity': 0.0, 'inverse_relative': -0.006}


def make_spec(kind: str) -> ModelSpec:
    """Return a minimal spec with the given output kind (monodepth2's 0.1-100 m range)."""
    return ModelSpec(name=f'test-{kind}', family='test', builder=None,
                     input_policy=InputPolicy(height=32, width=32), output_kind=kind)


def to_prediction(depth: np.ndarray, kind: str) -> np.ndarray:
    """Turn metric depth into the raw output of a model of ``kind`` with the true parameters."""
    scale, shift = TRUE_SCALE[kind], TRUE_SHIFT[kind]
    depth = depth.astype(np.float64)
    if kind == 'metric':
        return (depth / scale).astype(np.float32)
    if kind == 'disparity':
        # Invert disp_to_depth: depth / scale = 1 / (1/max + (1/min - 1/max) * disp).
        lo, hi = 1.0 / 100.0, 1.0 / 0.1
        return ((scale / depth - lo) / (hi - lo)).astype(np.float32)
    return ((1.0 / depth - shift) / scale).astype(np.float32)


def scene_depth(height: int = 48, width: int = 64) -> np.ndarray:
    """Return a smooth metric depth map from 2 m to about 40 m."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    return (2.0 + 38.0 * (1.0 - v / height) ** 2 + 3.0 * np.sin(u / 7.0) ** 2).astype(np.float32)


def sparse_sample(depth: np.ndarray, fraction: float, outliers: float = 0.0,
                  seed: int = 0) -> np.ndarray:
    """Keep ``fraction`` of the pixels (NaN elsewhere); corrupt ``outliers`` of those kept."""
    rng = np.random.default_rng(seed)
    keep = rng.random(depth.shape) < fraction
    sparse = np.where(keep, depth, np.nan).astype(np.float32)
    index = np.flatnonzero(keep)
    wrong = rng.choice(index, int(outliers * index.size), replace=False)
    factors = rng.choice([0.3, 0.5, 2.0, 3.5], size=wrong.size)
    sparse.flat[wrong] *= factors
    return sparse


def relative_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Return the largest relative error over the pixels."""
    return float(np.max(np.abs(estimate.astype(np.float64) - truth) / truth))


# --------------------------------------------------------------------------------------------
# Conversions


def test_disp_to_depth_follows_monodepth2():
    disp = np.array([0.0, 0.5, 1.0], dtype=np.float32)
    expected = 1.0 / (1 / 100 + (1 / 0.1 - 1 / 100) * disp.astype(np.float64))
    np.testing.assert_allclose(disp_to_depth(disp, 0.1, 100.0), expected, rtol=1e-6)
    assert disp_to_depth(disp, 0.1, 100.0)[[0, 2]] == pytest.approx([100.0, 0.1])
    with pytest.raises(ValueError, match='min_depth'):
        disp_to_depth(disp, 10.0, 1.0)


def test_unscaled_depth_per_kind():
    depth = scene_depth()
    metric = to_prediction(depth, 'metric')
    np.testing.assert_array_equal(unscaled_depth(metric, make_spec('metric')), metric)
    for kind in ('disparity', 'inverse_relative'):
        spec = make_spec(kind)
        unscaled = unscaled_depth(to_prediction(depth, kind), spec)
        if kind == 'disparity':
            # Proportional to the true depth: one factor everywhere.
            ratio = depth / unscaled
            assert np.ptp(ratio) / ratio.mean() < 1e-5
        else:
            np.testing.assert_allclose(unscaled, 1.0 / to_prediction(depth, kind), rtol=1e-6)


def test_unscaled_inverse_depth_clamps_the_sky():
    spec = make_spec('inverse_relative')
    pred = np.array([[10.0, 0.0, -1.0, np.nan]], dtype=np.float32)
    unscaled = unscaled_depth(pred, spec)
    assert unscaled[0, 0] == pytest.approx(0.1)
    # Zero and negative predictions become the far limit, 1000x the nearest depth.
    assert unscaled[0, 1] == unscaled[0, 2] == pytest.approx(100.0)
    assert np.isnan(unscaled[0, 3])
    assert np.isnan(unscaled_depth(np.zeros((2, 2)), spec)).all()


def test_apply_scale_rejects_a_shift_for_depth_outputs_and_masks_negative_inverse():
    with pytest.raises(ValueError, match='shift'):
        apply_scale(np.ones((2, 2)), make_spec('disparity'), 2.0, 0.1)
    depth = apply_scale(np.array([[1.0, -1.0]]), make_spec('inverse_relative'), 0.5, 0.0)
    assert depth[0, 0] == pytest.approx(2.0)
    assert np.isnan(depth[0, 1])
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        apply_scale(np.ones((1, 1, 2, 2)), make_spec('metric'), 1.0)


# --------------------------------------------------------------------------------------------
# Robust fits


def test_fit_scale_shift_survives_a_third_of_outliers():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 5.0, 3000)
    y = 0.3 * x + 0.2
    wrong = rng.choice(x.size, 1000, replace=False)
    y[wrong] *= rng.uniform(1.5, 4.0, wrong.size)
    fit = fit_scale_shift(x, y)
    assert fit.scale == pytest.approx(0.3, rel=1e-9)
    assert fit.shift == pytest.approx(0.2, rel=1e-9)
    assert fit.inliers == x.size - wrong.size
    with pytest.raises(ValueError, match='do not determine'):
        fit_scale_shift(np.ones(10), np.arange(1.0, 11.0))


def test_fit_scale_is_the_median_ratio_of_the_inliers():
    x = np.arange(1.0, 101.0)
    y = 2.5 * x
    y[:40] *= 10.0
    fit = fit_scale(x, y)
    assert fit.scale == pytest.approx(2.5)
    assert (fit.points, fit.inliers) == (100, 60)
    with pytest.raises(ValueError, match='positive'):
        fit_scale(np.array([1.0, 2.0]), np.array([1.0, -2.0]))


# --------------------------------------------------------------------------------------------
# Policies on synthetic exact data


@pytest.mark.parametrize('kind', KINDS)
def test_fixed_policy_with_the_true_parameters_is_exact(kind):
    depth = scene_depth()
    policy = make_policy('fixed', scale=TRUE_SCALE[kind], shift=TRUE_SHIFT[kind])
    metres = policy.to_metres(to_prediction(depth, kind), make_spec(kind))
    assert relative_error(metres, depth) < 1e-3
    assert 'fixed: scale' in policy.status


@pytest.mark.parametrize('kind', KINDS)
def test_median_policy_recovers_metres_despite_outliers(kind):
    depth = scene_depth()
    spec = make_spec(kind)
    policy = make_policy('median', min_points=20)
    assert policy.status == 'median: waiting for sparse depth'
    sparse = sparse_sample(depth, 0.1, outliers=0.1)
    points = int(np.isfinite(sparse).sum())
    policy.observe_sparse_depth(sparse, stamp=10.0)
    metres = policy.to_metres(to_prediction(depth, kind), spec, stamp=10.2)
    assert metres is not None and relative_error(metres, depth) < 1e-3
    assert policy.scale == pytest.approx(TRUE_SCALE[kind], rel=1e-4)
    assert policy.shift == pytest.approx(TRUE_SHIFT[kind], abs=1e-6)
    # The corrupted tenth of the points is rejected, the rest kept.
    assert policy.last_fit.points == points
    assert policy.last_fit.inliers == pytest.approx(0.9 * points, abs=1)
    assert policy.status.startswith('median: scale ')
    assert f'from {policy.last_fit.inliers} points, 0.2 s ago' in policy.status


def test_median_policy_treats_zero_as_no_return():
    depth = scene_depth()
    sparse = np.nan_to_num(sparse_sample(depth, 0.1), nan=0.0)
    policy = MedianScale(min_points=20)
    policy.observe_sparse_depth(sparse, stamp=0.0)
    metres = policy.to_metres(to_prediction(depth, 'disparity'), make_spec('disparity'), stamp=0)
    assert relative_error(metres, depth) < 1e-3


@pytest.mark.parametrize('kind', ['disparity', 'inverse_relative'])
def test_median_policy_with_too_few_points_waits_and_says_why(kind):
    depth = scene_depth()
    policy = MedianScale(min_points=50)
    policy.observe_sparse_depth(sparse_sample(depth, 0.005), stamp=1.0)
    assert policy.to_metres(to_prediction(depth, kind), make_spec(kind), stamp=1.0) is None
    assert policy.scale is None
    assert 'scale unknown' in policy.status
    assert '< min_points 50' in policy.status


def test_median_policy_rejects_a_non_positive_scale():
    depth = scene_depth()
    spec = make_spec('inverse_relative')
    policy = MedianScale(min_points=20)
    policy.observe_sparse_depth(sparse_sample(depth, 0.1), stamp=0.0)
    # A prediction that grows with depth: the fit needs a negative scale.
    assert policy.to_metres(depth, spec, stamp=0.0) is None
    assert 'not a positive number' in policy.status


def test_median_policy_goes_stale_after_the_timeout():
    depth = scene_depth()
    spec = make_spec('disparity')
    pred = to_prediction(depth, 'disparity')
    policy = MedianScale(min_points=20, timeout=1.0)
    policy.observe_sparse_depth(sparse_sample(depth, 0.1), stamp=5.0)
    assert policy.to_metres(pred, spec, stamp=5.0) is not None
    # Later predictions reuse the scale until the timeout.
    assert relative_error(policy.to_metres(pred, spec, stamp=5.9), depth) < 1e-3
    assert '0.9 s ago' in policy.status
    assert policy.to_metres(pred, spec, stamp=6.1) is None
    assert policy.scale is None
    assert 'timeout 1 s' in policy.status
    # A sparse depth older than the timeout is not paired with a newer prediction.
    policy.observe_sparse_depth(sparse_sample(depth, 0.1), stamp=6.0)
    assert policy.to_metres(pred, spec, stamp=7.5) is None
    assert 'older than the prediction' in policy.status
    # A fresh one brings the scale back.
    policy.observe_sparse_depth(sparse_sample(depth, 0.1), stamp=8.0)
    assert relative_error(policy.to_metres(pred, spec, stamp=8.05), depth) < 1e-3


def test_median_policy_smooths_across_frames():
    depth = scene_depth()
    spec = make_spec('disparity')
    pred = to_prediction(depth, 'disparity')
    policy = MedianScale(min_points=20, smoothing=0.75)
    policy.observe_sparse_depth(sparse_sample(depth, 0.1), stamp=0.0)
    policy.to_metres(pred, spec, stamp=0.0)
    assert policy.scale == pytest.approx(TRUE_SCALE['disparity'], rel=1e-5)
    # The scene seen twice as far: the new fit is twice the scale, smoothed 3:1 with the old.
    policy.observe_sparse_depth(sparse_sample(2 * depth, 0.1), stamp=0.1)
    policy.to_metres(pred, spec, stamp=0.1)
    assert policy.scale == pytest.approx(1.25 * TRUE_SCALE['disparity'], rel=1e-5)


@pytest.mark.parametrize('kind', KINDS)
def test_median_policy_window_ignores_a_wild_fit_and_follows_a_lasting_change(kind):
    depth = scene_depth()
    spec = make_spec(kind)
    pred = to_prediction(depth, kind)
    policy = MedianScale(min_points=20, window=3)
    stamps = iter(np.arange(0.0, 10.0, 0.1))

    def metres_after(sparse_depth):
        stamp = next(stamps)
        policy.observe_sparse_depth(sparse_depth, stamp)
        return policy.to_metres(pred, spec, stamp=stamp)

    for _ in range(3):
        metres_after(sparse_sample(depth, 0.1))
    # One frame whose sparse depth says everything is 3x farther (a wrong LiDAR pose, a glass
    # wall): without the window the scale would jump to it; with it nothing moves.
    assert relative_error(metres_after(sparse_sample(3 * depth, 0.1)), depth) < 1e-3
    for _ in range(2):
        assert relative_error(metres_after(sparse_sample(depth, 0.1)), depth) < 1e-3
    # A change that lasts is followed from its second frame, when it is the window's median.
    assert relative_error(metres_after(sparse_sample(2 * depth, 0.1)), depth) < 1e-3
    assert relative_error(metres_after(sparse_sample(2 * depth, 0.1)), 2 * depth) < 1e-3
    assert policy.fit_error == pytest.approx(0.0, abs=1e-4)
    # Once stale, the old fits are forgotten: the next fit alone sets the scale.
    assert policy.to_metres(pred, spec, stamp=9.0) is None
    assert policy.fit_error is None
    policy.observe_sparse_depth(sparse_sample(depth, 0.1), stamp=9.0)
    assert relative_error(policy.to_metres(pred, spec, stamp=9.0), depth) < 1e-3


def test_fit_error_is_the_typical_relative_residual_of_the_inliers():
    rng = np.random.default_rng(3)
    x = rng.uniform(1.0, 5.0, 20000)
    noise = rng.normal(0.0, 0.05, x.size)
    assert fit_scale(x, 2.0 * x * (1.0 + noise)).error == pytest.approx(0.05, rel=0.1)
    assert fit_scale_shift(x, (0.5 * x + 1.0) * (1.0 + noise)).error == pytest.approx(
        0.05, rel=0.1)
    assert fit_scale(x, 2.0 * x).error == pytest.approx(0.0, abs=1e-12)


def test_median_policy_input_errors():
    policy = MedianScale()
    spec = make_spec('disparity')
    with pytest.raises(ValueError, match='stamp'):
        policy.to_metres(np.ones((4, 4)), spec)
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        policy.observe_sparse_depth(np.ones((4, 4, 1)), stamp=0.0)
    policy.observe_sparse_depth(np.ones((8, 8)), stamp=0.0)
    with pytest.raises(ValueError, match='8x8 but the prediction is 4x4'):
        policy.to_metres(np.ones((4, 4)), spec, stamp=0.0)


def test_none_policy_is_identity_for_metric_and_an_error_for_relative_models():
    depth = scene_depth()
    policy = make_policy('none')
    np.testing.assert_array_equal(policy.to_metres(depth, make_spec('metric')), depth)
    for kind in ('disparity', 'inverse_relative'):
        with pytest.raises(ValueError, match='"fixed", "median" or "ground_plane"'):
            policy.check(make_spec(kind))
        with pytest.raises(ValueError, match='needs a metric model'):
            policy.to_metres(depth, make_spec(kind))
    # Sparse depth is of no use to it, and is ignored.
    policy.observe_sparse_depth(depth, stamp=0.0)
    assert policy.scale == 1.0


def test_fixed_policy_shift_only_for_inverse_models():
    policy = FixedScale(scale=2.0, shift=0.1)
    policy.check(make_spec('inverse_relative'))
    with pytest.raises(ValueError, match='shift applies only to inverse_relative'):
        policy.check(make_spec('disparity'))


def test_make_policy_validates_names_and_parameters():
    assert set(POLICIES) == {'none', 'fixed', 'median', 'ground_plane'}
    with pytest.raises(ValueError, match='none, fixed, median, ground_plane'):
        make_policy('lidar')
    with pytest.raises(ValueError, match='no parameter height; its parameters: scale, shift'):
        make_policy('fixed', height=1.0)
    with pytest.raises(ValueError, match='needs the parameter height'):
        make_policy('ground_plane')
    bad = [('fixed', 'scale', 0.0), ('fixed', 'scale', -1.0), ('ground_plane', 'height', -1.5),
           ('ground_plane', 'pitch', 2.0), ('median', 'smoothing', 1.0),
           ('median', 'timeout', 0.0), ('median', 'min_points', 2), ('median', 'window', 2),
           ('ground_plane', 'window', 0)]
    for name, parameter, value in bad:
        params = {'height': 1.5} if name == 'ground_plane' else {}
        params[parameter] = value
        with pytest.raises(ValueError, match=f'scale parameter {parameter} = '):
            make_policy(name, **params)
    assert policy_defaults('ground_plane') == {
        'height': None, 'pitch': 0.0, 'max_range': 20.0, 'min_points': 200, 'smoothing': 0.0,
        'window': 1}
    assert isinstance(make_policy('none'), NoScale)


# --------------------------------------------------------------------------------------------
# Ground plane


def test_ground_plane_depth_puts_every_pixel_on_the_ground():
    intrinsics = Intrinsics(fx=500.0, fy=480.0, cx=159.5, cy=119.5, width=320, height=240)
    height, pitch = 1.2, 0.15
    z = ground_plane_depth(intrinsics, height, pitch).astype(np.float64)
    horizon = intrinsics.cy - intrinsics.fy * math.tan(pitch)
    rows = np.arange(intrinsics.height)
    assert np.isnan(z[rows <= horizon]).all()
    assert np.isfinite(z[rows > horizon]).all()
    # Back-project, rotate into a level frame (y down) and check the height over the ground.
    v, u = np.mgrid[0:intrinsics.height, 0:intrinsics.width]
    x = (u - intrinsics.cx) * z / intrinsics.fx
    y = (v - intrinsics.cy) * z / intrinsics.fy
    down = math.cos(pitch) * y + math.sin(pitch) * z
    below = rows > horizon
    np.testing.assert_allclose(down[below], height, rtol=1e-5)
    assert np.isfinite(x[below]).all()
    # A level camera sees the ground at h * fy / (v - cy).
    level = ground_plane_depth(intrinsics, 2.0, 0.0)
    assert level[200, 10] == pytest.approx(2.0 * 480.0 / (200 - 119.5), rel=1e-6)


def render_road(intrinsics: Intrinsics, height: float, pitch: float) -> np.ndarray:
    """Flat ground up to a wall 40 m ahead, with a box standing on the road 8 m ahead."""
    depth = np.fmin(ground_plane_depth(intrinsics, height, pitch), 40.0)
    depth = np.where(np.isnan(depth), 40.0, depth)
    box_rows = slice(intrinsics.height // 3, int(0.8 * intrinsics.height))
    box_cols = slice(intrinsics.width // 5, intrinsics.width // 2)
    depth[box_rows, box_cols] = np.fmin(depth[box_rows, box_cols], 8.0)
    return depth.astype(np.float32)


@pytest.mark.parametrize('kind', KINDS)
def test_ground_plane_policy_recovers_metres_of_a_rendered_road(kind):
    camera = Intrinsics(fx=721.5, fy=721.5, cx=609.6, cy=172.9, width=1242, height=375)
    small = camera.scaled(320, 96)
    height, pitch = 1.65, 0.03
    depth = render_road(small, height, pitch)
    policy = make_policy('ground_plane', height=height, pitch=pitch)
    assert policy.status == 'ground_plane: waiting for the first prediction'
    # The camera's own intrinsics: the policy scales them to the prediction.
    metres = policy.to_metres(to_prediction(depth, kind), make_spec(kind), intrinsics=camera)
    assert metres is not None and relative_error(metres, depth) < 1e-3
    assert policy.scale == pytest.approx(TRUE_SCALE[kind], rel=1e-4)
    # The box's pixels in front of the ground are not ground.
    assert policy.last_fit.inliers < policy.last_fit.points
    assert 'ground pixels' in policy.status


@pytest.mark.parametrize('kind', KINDS)
def test_a_saved_state_goes_on_exactly_where_the_policy_was(kind):
    # An offline run that stops and resumes restores the policy from its JSON state: the next
    # frames must come out bit for bit as without the stop, rejected fits and smoothing included.
    camera = Intrinsics(fx=721.5, fy=721.5, cx=609.6, cy=172.9, width=1242, height=375)
    small = camera.scaled(320, 96)
    road = to_prediction(render_road(small, 1.65, 0.03), kind)
    frames = [road, 1.3 * road, np.full_like(road, np.nan), 0.9 * road]
    spec = make_spec(kind)

    def policy():
        return make_policy('ground_plane', height=1.65, pitch=0.03, smoothing=0.5)

    straight = policy()
    expected = [straight.to_metres(frame, spec, intrinsics=camera) for frame in frames]
    for stop in range(1, len(frames)):
        first = policy()
        for frame in frames[:stop]:
            first.to_metres(frame, spec, intrinsics=camera)
        resumed = policy()
        resumed.restore(json.loads(json.dumps(first.state())))
        assert resumed.status == first.status
        for frame, want in zip(frames[stop:], expected[stop:]):
            got = resumed.to_metres(frame, spec, intrinsics=camera)
            np.testing.assert_array_equal(got, want)
    # The state matters: the NaN frame's fit was rejected (the reason is part of the state), and
    # a policy without the state gives another last frame (smoothing).
    rejected = policy()
    for frame in frames[:3]:
        rejected.to_metres(frame, spec, intrinsics=camera)
    assert 'valid ground pixels' in rejected.state()['reason']
    fresh = policy().to_metres(frames[3], spec, intrinsics=camera)
    assert not np.array_equal(fresh, expected[3], equal_nan=True)
    fixed = FixedScale(scale=2.0)
    fixed.restore(json.loads(json.dumps(fixed.state())))
    assert (fixed.scale, fixed.shift) == (2.0, 0.0)
    with pytest.raises(NotImplementedError, match='sparse depth images'):
        MedianScale().state()


def test_ground_plane_policy_needs_intrinsics_and_ground():
    policy = GroundPlaneScale(height=1.0, pitch=-0.2)
    with pytest.raises(ValueError, match='intrinsics'):
        policy.to_metres(np.ones((10, 10)), make_spec('disparity'))
    # Looking up, with the horizon below the image: no ground pixel at all.
    camera = Intrinsics(fx=100.0, fy=100.0, cx=4.5, cy=4.5, width=10, height=10)
    assert policy.to_metres(np.ones((10, 10)), make_spec('disparity'), intrinsics=camera) is None
    assert '0 valid ground pixels < min_points 200' in policy.status


# --------------------------------------------------------------------------------------------
# Real data: KITTI 000008 LiDAR ground truth


def kitti_ground_truth(kitti: Path) -> np.ndarray:
    """Return the sparse LiDAR depth of KITTI 000008 in metres (0 = no return)."""
    raw = cv2.imread(str(kitti / '000008_velodyne_depth_uint16.png'), cv2.IMREAD_UNCHANGED)
    return raw.astype(np.float32) / 256.0


@pytest.mark.parametrize('kind', ['disparity', 'inverse_relative'])
def test_median_policy_on_kitti_lidar_with_held_out_points(kind, kitti_000008):
    gt = kitti_ground_truth(kitti_000008)
    valid = gt > 0
    rng = np.random.default_rng(8)
    # The prediction: the truth with log-normal noise, as a relative output with unknown scale.
    noisy = np.where(valid, gt * np.exp(rng.normal(0.0, 0.1, gt.shape)), 10.0)
    prediction = to_prediction(noisy, kind)
    held_in = valid & (rng.random(gt.shape) < 0.5)
    held_out = valid & ~held_in
    policy = MedianScale(min_points=1000)
    policy.observe_sparse_depth(np.where(held_in, gt, 0.0), stamp=100.0)
    metres = policy.to_metres(prediction, make_spec(kind), stamp=100.05)
    assert metres is not None

    def abs_rel(depth):
        return float(np.mean(np.abs(depth[held_out] - gt[held_out]) / gt[held_out]))

    noise_only = abs_rel(noisy)
    assert 0.07 < noise_only < 0.09
    assert abs_rel(metres) < noise_only + 0.005
    # The scale found by the fit against the one that gives the noisy depth back.
    error = np.median(metres[held_out] / noisy[held_out]) - 1.0
    assert abs(error) < 0.03


def kitti_lidar_to_optical(kitti: Path) -> tuple[np.ndarray, Intrinsics]:
    """
    Return KITTI's Velodyne to camera-2 optical transform and camera 2's intrinsics.

    calib.json's transform leads into the rectified reference camera; P2's last column is the
    offset of camera 2 from it (K @ t), folded into the transform here.
    """
    calib = json.loads((kitti / 'calib.json').read_text())
    p2 = np.array(calib['P2'])
    k = p2[:, :3]
    offset = np.eye(4)
    offset[:3, 3] = np.linalg.solve(k, p2[:, 3])
    transform = offset @ np.array(calib['lidar_to_cam2'])
    intrinsics = Intrinsics(fx=k[0, 0], fy=k[1, 1], cx=k[0, 2], cy=k[1, 2],
                            width=calib['width'], height=calib['height'])
    return transform, intrinsics


@pytest.mark.parametrize('kind', ['disparity', 'inverse_relative'])
def test_ground_plane_policy_on_kitti_road(kind, kitti_000008):
    # KITTI's cameras are 1.65 m above the road and level; the road in front of frame 000008 is
    # flat, with parked cars on it. No LiDAR is given to the policy: only the prediction.
    gt = kitti_ground_truth(kitti_000008)
    valid = gt > 0
    rng = np.random.default_rng(3)
    noisy = np.where(valid, gt * np.exp(rng.normal(0.0, 0.03, gt.shape)), np.nan)
    _, intrinsics = kitti_lidar_to_optical(kitti_000008)
    policy = GroundPlaneScale(height=1.65, pitch=0.0)
    metres = policy.to_metres(to_prediction(noisy, kind), make_spec(kind), intrinsics=intrinsics)
    assert metres is not None
    assert abs(np.median(metres[valid] / gt[valid]) - 1.0) < 0.03
    # Cars are in the fitted rows: not every pixel there is taken for ground.
    assert policy.last_fit.inliers < 0.9 * policy.last_fit.points


def test_kitti_point_cloud_projects_onto_the_lidar_depth_image(kitti_000008):
    points = np.fromfile(kitti_000008 / '000008.bin', dtype=np.float32).reshape(-1, 4)
    transform, intrinsics = kitti_lidar_to_optical(kitti_000008)
    gt = kitti_ground_truth(kitti_000008)
    # Through REP 103 parameters, as a static transform would carry them.
    xyz, rpy = params_from_extrinsic(transform)
    rebuilt = extrinsic_from_params(xyz, rpy)
    np.testing.assert_allclose(rebuilt, transform, atol=1e-4)
    sparse = sparse_depth_from_lidar(points, rebuilt, intrinsics)
    assert sparse.shape == gt.shape
    both = (gt > 0) & np.isfinite(sparse)
    assert both.sum() > 0.95 * (gt > 0).sum()
    assert np.isfinite(sparse).sum() < 1.05 * (gt > 0).sum()
    agree = np.abs(sparse[both] - gt[both]) < 0.05
    assert agree.mean() > 0.95
    # And the projected cloud feeds the median policy at a reduced prediction resolution.
    small = intrinsics.scaled(414, 125)
    sparse_small = sparse_depth_from_lidar(points, rebuilt, small)
    assert sparse_small.shape == (125, 414)
    assert np.isfinite(sparse_small).sum() > 3000


# --------------------------------------------------------------------------------------------
# Extrinsics


def test_extrinsic_from_params_follows_rep103_fixed_axes():
    roll, pitch, yaw = 0.3, -0.2, 1.1

    def rx(a):
        return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])

    def ry(a):
        return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])

    def rz(a):
        return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])

    transform = extrinsic_from_params([0.1, -0.2, 0.3], [roll, pitch, yaw])
    np.testing.assert_allclose(transform[:3, :3], rz(yaw) @ ry(pitch) @ rx(roll), atol=1e-12)
    np.testing.assert_allclose(transform[:3, 3], [0.1, -0.2, 0.3])
    np.testing.assert_allclose(transform[3], [0, 0, 0, 1])
    # Yaw a quarter turn: the LiDAR's x axis is the camera's y axis.
    quarter = extrinsic_from_params([0, 0, 0], [0, 0, math.pi / 2])
    np.testing.assert_allclose(quarter[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    xyz, rpy = params_from_extrinsic(transform)
    np.testing.assert_allclose(rpy, [roll, pitch, yaw], atol=1e-12)
    np.testing.assert_allclose(xyz, [0.1, -0.2, 0.3])
    with pytest.raises(ValueError, match='3 finite xyz'):
        extrinsic_from_params([0, 0], [0, 0, 0])


def test_transform_points_moves_and_drops_extra_columns():
    transform = extrinsic_from_params([1.0, 2.0, 3.0], [0.0, 0.0, math.pi])
    points = np.array([[1.0, 0.0, 0.0, 0.7], [0.0, 1.0, 5.0, 0.1]], dtype=np.float32)
    moved = transform_points(points, transform)
    assert moved.dtype == np.float32 and moved.shape == (2, 3)
    np.testing.assert_allclose(moved, [[0.0, 2.0, 3.0], [1.0, 1.0, 8.0]], atol=1e-6)
    assert transform_points(points[:, :3].astype(np.float64), transform).dtype == np.float64
    with pytest.raises(ValueError, match='4x4'):
        transform_points(points, np.eye(3))
    with pytest.raises(ValueError, match=r'\(N, 3\+\)'):
        transform_points(np.ones(3), transform)
