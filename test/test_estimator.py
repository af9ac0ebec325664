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

"""DepthEstimator without ROS: sizes, intrinsics, scale handling, sparse resampling, bad frames."""
from __future__ import annotations

from mono_depth_ros import scale
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator, resample_sparse
from mono_depth_ros.models.registry import DEMO_MODEL
import numpy as np
import pytest


@pytest.fixture(scope='module')
def scene():
    """Return a 640x480 synthetic frame (the network runs at 320x240)."""
    return SyntheticScenes(seed=11, count=1, width=640, height=480)[0]


@pytest.fixture(scope='module')
def estimators():
    """Return the default model with output at the camera's and at the network's resolution."""
    return {size: DepthEstimator.from_name(DEMO_MODEL, device='cpu', output_size=size)
            for size in ('input', 'model')}


def test_output_at_the_input_resolution(scene, estimators):
    result = estimators['input'].estimate(scene.rgb, scene.intrinsics)
    assert result.depth.shape == result.labels.shape == (480, 640)
    assert result.depth.dtype == np.float32 and result.labels.dtype == np.uint8
    assert result.intrinsics == scene.intrinsics
    valid = np.isfinite(result.depth)
    np.testing.assert_array_equal(result.depth[valid], result.unscaled_depth[valid])
    assert set(result.timings_ms) == {'preprocess', 'inference', 'postprocess'}


def test_no_depth_where_the_model_sees_sky():
    scene = SyntheticScenes(seed=7, count=1, width=320, height=240)[0]
    estimator = DepthEstimator.from_name(DEMO_MODEL, device='cpu')
    result = estimator.estimate(scene.rgb, scene.intrinsics)
    sky = result.labels == estimator.spec.classes.index('sky')
    assert sky.any() and (~sky).any()
    np.testing.assert_array_equal(np.isnan(result.depth), sky)
    assert np.isfinite(result.unscaled_depth).all()


def test_output_at_the_model_resolution_scales_the_intrinsics(scene, estimators):
    full = estimators['input'].estimate(scene.rgb, scene.intrinsics)
    small = estimators['model'].estimate(scene.rgb, scene.intrinsics)
    height, width = small.depth.shape
    assert (width, height) == (small.intrinsics.width, small.intrinsics.height)
    assert width < 640
    assert small.intrinsics.fx == pytest.approx(scene.intrinsics.fx * width / 640)
    assert small.intrinsics.fy == pytest.approx(scene.intrinsics.fy * height / 480)
    # Both resolutions describe the same scene.
    np.testing.assert_allclose(np.nanmedian(small.depth), np.nanmedian(full.depth), rtol=0.05)


@pytest.mark.parametrize('frame', [np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4), np.uint8),
                                   np.zeros((4, 4, 3), np.float32)])
def test_bad_frames_are_refused(estimators, frame):
    with pytest.raises(ValueError, match='expected an \\(H, W, 3\\) uint8 RGB frame'):
        estimators['input'].estimate(frame)


def test_a_relative_model_needs_a_scale_policy(lite_mono_tiny_folder):
    with pytest.raises(ValueError, match='choose the scale policy'):
        DepthEstimator.from_name('lite-mono-tiny', weights=str(lite_mono_tiny_folder),
                                 device='cpu')


def test_sparse_depth_of_another_resolution_reaches_the_policy(scene, lite_mono_tiny_folder):
    estimator = DepthEstimator.from_name(
        'lite-mono-tiny', weights=str(lite_mono_tiny_folder), device='cpu', output_size='model',
        scale_policy=scale.make_policy('median', timeout=10.0))
    assert estimator.estimate(scene.rgb, scene.intrinsics, stamp=1.0).depth is None
    sparse = np.full(scene.depth.shape, np.nan, np.float32)
    sparse[::9, ::9] = scene.depth[::9, ::9]
    estimator.observe_sparse_depth(sparse, stamp=2.0)
    result = estimator.estimate(scene.rgb, scene.intrinsics, stamp=2.0)
    assert result.depth is not None and result.depth.shape == (192, 640)
    assert 'median: scale' in result.scale_status


def test_resample_sparse_keeps_values_and_the_nearest_return():
    sparse = np.full((4, 4), np.nan, np.float32)
    sparse[0, 0], sparse[0, 1], sparse[3, 3] = 5.0, 2.0, 7.0
    small = resample_sparse(sparse, 2, 2)
    assert small[0, 0] == 2.0  # two returns land on one pixel: the nearer wins
    assert small[1, 1] == 7.0
    assert np.isnan(small[0, 1]) and np.isnan(small[1, 0])
    assert resample_sparse(sparse, 4, 4) is sparse
