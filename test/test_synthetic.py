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

"""Synthetic scenes: determinism, exact depth geometry, labels consistent with depth."""
import math

from mono_depth_ros.data.synthetic import (Box, Camera, CLASSES, Cylinder, GROUND, Layout,
                                           Material, MAX_DEPTH, render, SKY, Sphere,
                                           SyntheticScenes, SyntheticTrajectory)
import numpy as np
import pytest

PLAIN = Material('checker', 1.0, (0.5, 0.5, 0.5), (0.2, 0.2, 0.2))


def back_project(sample):
    """Return the world coordinates ``(H, W, 3)`` of every pixel of ``sample``."""
    k = sample.intrinsics
    h, w = sample.depth.shape
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    z = sample.depth.astype(np.float64)
    cam = np.stack([(u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z], axis=-1)
    pose = sample.world_from_camera
    return cam @ pose[:3, :3].T + pose[:3, 3]


def test_classes_are_the_agreed_ids():
    assert CLASSES == ('sky', 'ground', 'wall', 'box', 'sphere', 'cylinder')


def test_same_seed_and_index_give_identical_scenes():
    a = SyntheticScenes(seed=3, count=5, width=64, height=48)
    b = SyntheticScenes(seed=3, count=5, width=64, height=48)
    for index in (0, 4, 2):
        first, second = a[index], b[index]
        np.testing.assert_array_equal(first.rgb, second.rgb)
        np.testing.assert_array_equal(first.depth, second.depth)
        np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(a[-1].rgb, a[4].rgb)


def test_different_seed_or_index_give_different_scenes():
    a = SyntheticScenes(seed=3, count=5, width=64, height=48)
    other_seed = SyntheticScenes(seed=4, count=5, width=64, height=48)
    assert not np.array_equal(a[0].rgb, a[1].rgb)
    assert not np.array_equal(a[0].rgb, other_seed[0].rgb)
    assert a[0].camera_height != other_seed[0].camera_height


def test_sample_types_shapes_and_camera():
    sample = SyntheticScenes(seed=0, count=1)[0]
    assert sample.rgb.shape == (240, 320, 3) and sample.rgb.dtype == np.uint8
    assert sample.depth.shape == (240, 320) and sample.depth.dtype == np.float32
    assert sample.labels.shape == (240, 320) and sample.labels.dtype == np.uint8
    k = sample.intrinsics
    assert (k.width, k.height) == (320, 240)
    assert math.degrees(2 * math.atan(160 / k.fx)) == pytest.approx(65.0)
    assert 0.3 <= sample.camera_height <= 1.5
    assert 0.0 <= math.degrees(sample.camera_pitch) <= 25.0
    assert int(sample.labels.max()) < len(CLASSES)


def test_index_out_of_range_and_wrong_type():
    scenes = SyntheticScenes(seed=0, count=2, width=8, height=8)
    with pytest.raises(IndexError, match='out of range'):
        scenes[2]
    with pytest.raises(TypeError, match='integer'):
        scenes['0']


def test_ground_only_depth_is_the_analytic_plane_intersection():
    h, pitch = 1.2, math.radians(12.0)
    camera = Camera(image_width=160, image_height=120, hfov_deg=65.0, height=h, pitch=pitch,
                    yaw=0.7)
    sample = render(Layout(camera=camera, ground=PLAIN))
    k = sample.intrinsics
    v = np.arange(120, dtype=np.float64)[:, None].repeat(160, axis=1)
    # A pixel ray (x, (v - cy) / fy, 1) in the optical frame descends by
    # sin(pitch) + cos(pitch) * (v - cy) / fy per metre of depth; it meets y = 0 at h / that.
    descent = math.sin(pitch) + math.cos(pitch) * (v - k.cy) / k.fy
    with np.errstate(divide='ignore'):
        expected = np.where(descent > 0, h / descent, np.nan)
    expected[expected > MAX_DEPTH] = np.nan
    np.testing.assert_allclose(sample.depth, expected, rtol=1e-5)
    assert np.array_equal(sample.labels == SKY, descent <= 0)
    assert np.isfinite(sample.depth).sum() > 0.3 * sample.depth.size


@pytest.mark.parametrize('index', range(4))
def test_ground_pixels_back_project_onto_the_ground_plane(index):
    sample = SyntheticScenes(seed=11, count=4, width=160, height=120)[index]
    ground = (sample.labels == GROUND) & np.isfinite(sample.depth)
    assert ground.sum() > 100
    world = back_project(sample)
    assert np.abs(world[ground][:, 1]).max() < 1e-3


def test_object_pixels_back_project_onto_their_surfaces():
    camera = Camera(image_width=160, image_height=120, hfov_deg=65.0, height=1.0,
                    pitch=math.radians(8.0), roll=math.radians(2.0))
    sphere = Sphere(x=-1.0, z=5.0, radius=0.6, material=PLAIN)
    cylinder = Cylinder(x=1.5, z=6.0, radius=0.4, height=1.5, material=PLAIN)
    box = Box(x=0.2, z=9.0, half=(0.5, 0.7, 0.4), yaw=0.5, material=PLAIN)
    sample = render(Layout(camera=camera, ground=PLAIN, objects=(sphere, cylinder, box)))
    world = back_project(sample)

    on_sphere = world[sample.labels == CLASSES.index('sphere')]
    assert len(on_sphere) > 50
    radius = np.linalg.norm(on_sphere - [-1.0, 0.6, 5.0], axis=-1)
    np.testing.assert_allclose(radius, 0.6, atol=1e-3)

    on_cylinder = world[sample.labels == CLASSES.index('cylinder')]
    assert len(on_cylinder) > 50
    radial = np.hypot(on_cylinder[:, 0] - 1.5, on_cylinder[:, 2] - 6.0)
    on_side = np.abs(radial - 0.4) < 1e-3
    on_top = (np.abs(on_cylinder[:, 1] - 1.5) < 1e-3) & (radial <= 0.4 + 1e-3)
    assert np.all(on_side | on_top)

    on_box = box.local(world[sample.labels == CLASSES.index('box')])
    assert len(on_box) > 50
    # Every point lies on a face: one coordinate at its half extent, the others within theirs.
    excess = np.abs(on_box) - np.array(box.half)
    assert np.all(np.abs(excess.max(axis=-1)) < 1e-3)


def test_labels_agree_with_depth():
    scenes = SyntheticScenes(seed=5, count=3, width=96, height=72)
    far = SyntheticScenes(seed=5, count=3, width=96, height=72, max_depth=np.inf)
    for index in range(3):
        sample, unclipped = scenes[index], far[index]
        sky = sample.labels == SKY
        invalid = np.isnan(sample.depth)
        assert np.all(invalid[sky])
        assert not np.any(sky & np.isfinite(sample.depth))
        np.testing.assert_array_equal(sample.labels, unclipped.labels)
        # A pixel without depth that is not sky is a surface beyond max_depth.
        beyond = invalid & ~sky
        assert np.all(unclipped.depth[beyond] > MAX_DEPTH)
        assert np.all(np.isnan(unclipped.depth[sky]))


def test_noise_and_blur_change_the_image_only():
    clean = SyntheticScenes(seed=2, count=1, width=64, height=48)[0]
    noisy_scenes = SyntheticScenes(seed=2, count=1, width=64, height=48, noise_std=3.0,
                                   blur_sigma=0.8)
    noisy = noisy_scenes[0]
    assert not np.array_equal(clean.rgb, noisy.rgb)
    assert np.abs(clean.rgb.astype(int) - noisy.rgb.astype(int)).mean() < 10
    np.testing.assert_array_equal(clean.depth, noisy.depth)
    np.testing.assert_array_equal(noisy.rgb, noisy_scenes[0].rgb)


def test_trajectory_starts_at_the_scene_and_moves_smoothly():
    trajectory = SyntheticTrajectory(seed=3, scene=2, frames=31, width=64, height=48)
    first = trajectory[0]
    scene = SyntheticScenes(seed=3, count=3, width=64, height=48)[2]
    np.testing.assert_array_equal(first.rgb, scene.rgb)
    np.testing.assert_array_equal(first.depth, scene.depth)
    positions = np.array([trajectory.camera(i).position for i in range(31)])
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=1)
    # At most the forward speed plus the sway's peak speed, per frame at 30 fps.
    assert steps.max() <= (0.3 + 0.2 * 2 * math.pi / 2.0) / 30 + 1e-12
    assert np.abs(np.diff(steps)).max() < 0.2 * steps.max()  # no jumps
    assert np.ptp(positions[:, 1]) == 0.0  # the height stays
    assert np.linalg.norm(positions[-1] - positions[0]) == pytest.approx(0.3, abs=0.05)


def test_trajectory_depth_is_exact_for_every_pose():
    trajectory = SyntheticTrajectory(seed=4, scene=0, frames=10, width=96, height=72)
    first, later = trajectory[0], trajectory[9]
    # Surface points seen in the first frame, projected into the later camera, lie at the later
    # frame's depth wherever they are not hidden.
    world = back_project(first)[np.isfinite(first.depth)]
    pose = np.linalg.inv(later.world_from_camera)
    cam = world @ pose[:3, :3].T + pose[:3, 3]
    k = later.intrinsics
    u = np.rint(k.fx * cam[:, 0] / cam[:, 2] + k.cx).astype(int)
    v = np.rint(k.fy * cam[:, 1] / cam[:, 2] + k.cy).astype(int)
    inside = (u >= 0) & (u < 96) & (v >= 0) & (v < 72)
    seen = later.depth[v[inside], u[inside]]
    close = np.abs(seen - cam[inside, 2]) < 0.02 * cam[inside, 2]
    assert inside.mean() > 0.7 and close.mean() > 0.9


def test_trajectory_noise_and_limits():
    noisy = SyntheticTrajectory(seed=5, frames=3, width=32, height=24, noise_std=4.0,
                                speed=0.0, sway=0.0, yaw_amplitude=0.0)
    clean = SyntheticTrajectory(seed=5, frames=3, width=32, height=24, speed=0.0, sway=0.0,
                                yaw_amplitude=0.0)
    assert not np.array_equal(noisy[1].rgb, noisy[2].rgb)  # fresh noise every frame
    np.testing.assert_array_equal(clean[1].rgb, clean[2].rgb)  # a still camera, a still image
    np.testing.assert_array_equal(noisy[1].depth, clean[2].depth)
    with pytest.raises(ValueError, match='0.9 m'):
        SyntheticTrajectory(frames=90, speed=1.0)
    with pytest.raises(IndexError, match='out of range'):
        clean[3]
