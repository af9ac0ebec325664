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

"""Depth and segmentation metrics against values worked out by hand."""
import math

import cv2
from mono_depth_ros.data.synthetic import SyntheticTrajectory
from mono_depth_ros.metrics import (confusion_matrix, crop_mask, DEPTH_METRICS, depth_metrics,
                                    flicker, MetricMean, segmentation_metrics, surface_check,
                                    valid_mask)
import numpy as np
import pytest

NAN = float('nan')


def test_every_depth_metric_on_three_pixels():
    gt = np.array([[1.0, 2.0], [4.0, NAN]])
    pred = np.array([[1.0, 4.0], [2.0, 99.0]])
    m = depth_metrics(pred, gt)
    # Valid pixels (pred, gt): (1, 1), (4, 2), (2, 4); the NaN ground truth is left out.
    assert m['pixels'] == 3
    # |p - g| / g = 0, 2/2, 2/4 -> mean 1.5 / 3
    assert m['abs_rel'] == pytest.approx(0.5)
    # (p - g)^2 / g = 0, 4/2, 4/4 -> mean 3 / 3
    assert m['sq_rel'] == pytest.approx(1.0)
    # (p - g)^2 = 0, 4, 4 -> sqrt(8 / 3)
    assert m['rmse'] == pytest.approx(math.sqrt(8 / 3))
    # ln p - ln g = 0, ln 2, -ln 2 -> sqrt(2 ln^2 2 / 3); its mean is 0, so silog is 100x that
    assert m['rmse_log'] == pytest.approx(math.log(2) * math.sqrt(2 / 3))
    assert m['silog'] == pytest.approx(100 * math.log(2) * math.sqrt(2 / 3))
    # |log10 p - log10 g| = 0, log10 2, log10 2
    assert m['log10'] == pytest.approx(2 * math.log10(2) / 3)
    # max(p/g, g/p) = 1, 2, 2: only the first is under 1.25, 1.5625 and 1.953125
    assert (m['d1'], m['d2'], m['d3']) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert set(DEPTH_METRICS) <= set(m)


def test_delta_thresholds():
    gt = np.ones(4)
    pred = np.array([1.2, 1.5, 1.9, 3.0])
    m = depth_metrics(pred, gt)
    # Ratios 1.2 < 1.25; 1.5 < 1.5625; 1.9 < 1.953125; 3.0 under none.
    assert (m['d1'], m['d2'], m['d3']) == pytest.approx((0.25, 0.5, 0.75))


def test_silog_removes_the_mean_log_error():
    gt = np.array([1.0, 1.0])
    pred = np.array([math.e, math.e ** 3])
    m = depth_metrics(pred, gt)
    # d = 1, 3: mean(d^2) = 5, mean(d)^2 = 4 -> 100 * sqrt(1); rmse_log = sqrt(5)
    assert m['silog'] == pytest.approx(100.0)
    assert m['rmse_log'] == pytest.approx(math.sqrt(5))


def test_silog_of_a_prediction_off_by_a_constant_factor_is_zero():
    gt = np.array([1.0, 2.0, 7.5])
    m = depth_metrics(gt * 3.0, gt)
    # mean(d^2) - mean(d)^2 cancels to rounding error, which the square root magnifies.
    assert m['silog'] == pytest.approx(0.0, abs=1e-5)
    assert m['abs_rel'] == pytest.approx(2.0)


def test_predictions_are_clipped_to_the_depth_range():
    gt = np.array([1.0, 50.0])
    pred = np.array([0.0, 200.0])
    m = depth_metrics(pred, gt, min_depth=1e-3, max_depth=80.0)
    # Clipped to 0.001 and 80: |0.001 - 1| / 1 = 0.999, |80 - 50| / 50 = 0.6
    assert m['abs_rel'] == pytest.approx((0.999 + 0.6) / 2)


def test_median_scaling_reports_the_ratio():
    gt = np.array([2.0, 4.0, 6.0])
    pred = np.array([1.0, 2.0, 4.0])
    m = depth_metrics(pred, gt, median_scaling=True)
    # median(gt) / median(pred) = 4 / 2; scaled prediction 2, 4, 8 -> abs_rel (0 + 0 + 2/6) / 3
    assert m['scale'] == pytest.approx(2.0)
    assert m['abs_rel'] == pytest.approx(1 / 9)
    assert 'scale' not in depth_metrics(pred, gt)


def test_masks_range_and_crop():
    gt = np.array([[0.0, 1.0, 90.0, 2.0]])
    pred = np.array([[5.0, 2.0, 5.0, 2.0]])
    assert valid_mask(gt).tolist() == [[False, True, False, True]]
    # Pixels 1 and 3 are valid: |2 - 1| / 1 and 0 -> 0.5
    assert depth_metrics(pred, gt)['abs_rel'] == pytest.approx(0.5)
    only_last = np.array([[True, False, True, True]])
    m = depth_metrics(pred, gt, mask=only_last)
    assert m['pixels'] == 1 and m['abs_rel'] == 0.0

    garg = crop_mask(100, 200, 'garg')
    # Rows int(40.81)..int(99.19) and columns int(7.19)..int(192.81), end exclusive
    assert garg.sum() == (99 - 40) * (192 - 7)
    assert garg[40, 7] and not garg[39, 7] and not garg[40, 192]
    eigen = crop_mask(100, 200, 'eigen')
    np.testing.assert_array_equal(valid_mask(np.ones((100, 200)), crop='eigen'), eigen)
    with pytest.raises(ValueError, match='unknown crop'):
        crop_mask(10, 10, 'nyu')


def test_depth_metric_errors():
    with pytest.raises(ValueError, match='no pixel has valid ground truth'):
        depth_metrics(np.ones(3), np.full(3, NAN))
    with pytest.raises(ValueError, match='differ in shape'):
        depth_metrics(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match='NaN or infinite'):
        depth_metrics(np.array([1.0, NAN]), np.ones(2))


def test_metric_mean_weighs_images_equally():
    mean = MetricMean()
    mean.add({'abs_rel': 1.0, 'rmse': 2.0})
    mean.add({'abs_rel': 3.0, 'rmse': 0.0})
    assert mean.result() == {'abs_rel': 2.0, 'rmse': 1.0, 'images': 2}
    with pytest.raises(ValueError, match='differ'):
        mean.add({'abs_rel': 1.0})
    with pytest.raises(ValueError, match='no image'):
        MetricMean().result()


def test_miou_leaves_out_an_absent_class_and_the_ignore_index():
    gt = np.array([0, 0, 1, 1, 2, 255])
    pred = np.array([0, 1, 1, 1, 0, 3])
    confusion = confusion_matrix(pred, gt, num_classes=4, ignore_index=255)
    # The ignored pixel goes; pairs (gt, pred): (0,0) (0,1) (1,1) (1,1) (2,0)
    np.testing.assert_array_equal(confusion, [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0],
                                              [0, 0, 0, 0]])
    m = segmentation_metrics(confusion)
    # IoU0 = 1 / (2 + 2 - 1); IoU1 = 2 / (3 + 2 - 2); IoU2 = 0 / (0 + 1 - 0); class 3 absent
    np.testing.assert_allclose(m['iou'][:3], [1 / 3, 2 / 3, 0.0])
    assert math.isnan(m['iou'][3])
    assert m['miou'] == pytest.approx(1 / 3)
    assert m['pixel_accuracy'] == pytest.approx(3 / 5)


def test_confusion_matrices_add_up_over_images():
    first = confusion_matrix(np.array([[0, 1]]), np.array([[0, 0]]), 2)
    second = confusion_matrix(np.array([[1, 1]]), np.array([[1, 1]]), 2)
    m = segmentation_metrics(first + second)
    # Summed: [[1, 1], [0, 2]] -> IoU0 = 1/2, IoU1 = 2/3
    assert m['miou'] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m['pixel_accuracy'] == pytest.approx(3 / 4)


def test_confusion_matrix_rejects_unknown_ids():
    with pytest.raises(ValueError, match=r'prediction has class ids outside \[0, 3\): \[7\]'):
        confusion_matrix(np.array([0, 7]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match='empty'):
        segmentation_metrics(np.zeros((3, 3)))


def test_surface_check_finds_the_points_floating_between_surfaces():
    truth = np.full((60, 80), 3.0, np.float32)
    truth[15:45, 20:60] = 1.0  # a box 1 m away in front of a wall 3 m away
    small = cv2.resize(truth, (20, 15), interpolation=cv2.INTER_AREA)
    smeared = cv2.resize(small, (80, 60), interpolation=cv2.INTER_LINEAR)
    check = surface_check(smeared, truth)
    assert check.checked.all()
    between = (smeared > 1.1) & (smeared < 0.9 * 3.0)
    np.testing.assert_array_equal(check.floating, between)
    assert (check.off & ~check.floating).sum() == 0  # every other point is within 10 %
    # A point 20 % too far in the middle of the wall is off, but not floating.
    wrong = truth.copy()
    wrong[5, 5] = 3.6
    assert surface_check(wrong, truth).off.sum() == 1
    assert not surface_check(wrong, truth).floating.any()
    # A ground truth one pixel off (a registration error) is forgiven within the radius.
    shifted = np.roll(truth, 1, axis=1)
    assert not surface_check(truth, shifted).off.any()
    assert surface_check(truth, shifted, radius=0).off.any()
    truth[:, :40] = np.nan  # no ground truth: nothing to check
    assert not surface_check(smeared, truth).checked[:, :39].any()


def test_flicker_removes_the_camera_motion():
    trajectory = SyntheticTrajectory(seed=1, scene=0, frames=5, width=160, height=120)
    first, later = trajectory[0], trajectory[4]

    def measure(prev_depth, depth):
        return flicker(prev_depth, depth, first.depth, later.depth, first.intrinsics,
                       first.world_from_camera, later.world_from_camera)

    floor, points = measure(first.depth, later.depth)
    assert floor < 0.005 and points > 0.5 * first.depth.size
    # A prediction 5 % too far, then 5 % too near: each point changes by 0.95 / 1.05 - 1.
    change, _ = measure(first.depth * 1.05, later.depth * 0.95)
    assert change == pytest.approx(1 - 0.95 / 1.05, abs=0.005)
    rng = np.random.default_rng(0)
    noisy, _ = measure(first.depth * rng.normal(1.0, 0.03, first.depth.shape),
                       later.depth * rng.normal(1.0, 0.03, first.depth.shape))
    assert noisy == pytest.approx(0.03 * np.sqrt(2) * np.sqrt(2 / np.pi), rel=0.1)
