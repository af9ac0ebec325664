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

"""mono-depth infer on real files: images, folders and an MJPG video written in tmp_path."""
from __future__ import annotations

from pathlib import Path
import shutil
import subprocess

from conftest import executable, needs_shared
import cv2
from mono_depth_ros import cli, infer
from mono_depth_ros.camera_player import intrinsics_from_fov
from mono_depth_ros.colormap import colorize_depth, label_palette
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator, DepthResult
from mono_depth_ros.geometry import depth_to_points
from mono_depth_ros.models.registry import DEMO_MODEL, get_spec
from mono_depth_ros.scale import make_policy
from mono_depth_ros.weights import official_cache_path
import numpy as np
import pytest

WIDTH, HEIGHT = 96, 64
VIDEO_FRAMES = 5


@pytest.fixture(scope='module')
def scenes() -> SyntheticScenes:
    return SyntheticScenes(seed=7, count=VIDEO_FRAMES, width=WIDTH, height=HEIGHT)


@pytest.fixture(scope='module')
def inputs(tmp_path_factory, scenes) -> Path:
    """Write a folder ``images`` of three PNGs and an MJPG video ``clip.avi`` of five frames."""
    root = tmp_path_factory.mktemp('inputs')
    (root / 'images').mkdir()
    for index in range(3):
        cv2.imwrite(str(root / 'images' / f'scene{index}.png'),
                    cv2.cvtColor(scenes[index].rgb, cv2.COLOR_RGB2BGR))
    writer = cv2.VideoWriter(str(root / 'clip.avi'), cv2.VideoWriter_fourcc(*'MJPG'), 10.0,
                             (WIDTH, HEIGHT))
    if not writer.isOpened():
        pytest.fail('OpenCV cannot write MJPG .avi files on this machine')
    for index in range(VIDEO_FRAMES):
        writer.write(cv2.cvtColor(scenes[index].rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return root


@pytest.fixture(scope='module')
def estimator() -> DepthEstimator:
    return DepthEstimator.from_name(DEMO_MODEL)


def run(capsys, *argv: str | Path) -> tuple[int, str, str]:
    """Run ``mono-depth infer`` (with the demo model unless ``--model`` is given)."""
    argv = tuple(map(str, argv))
    code = cli.main(['infer', *argv, *(() if '--model' in argv else ('--model', DEMO_MODEL))])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return the xyz (float32) and rgb (uint8) vertices of a binary PLY written by write_ply."""
    data = path.read_bytes()
    end = data.index(b'end_header\n') + len(b'end_header\n')
    header = data[:end].decode('ascii').splitlines()
    count = int(next(line for line in header if line.startswith('element vertex')).split()[2])
    vertex = np.dtype([('x', '<f4'), ('y', '<f4'), ('z', '<f4'),
                       ('red', 'u1'), ('green', 'u1'), ('blue', 'u1')])
    vertices = np.frombuffer(data[end:], dtype=vertex)
    assert vertices.size == count
    xyz = np.stack([vertices['x'], vertices['y'], vertices['z']], axis=-1)
    rgb = np.stack([vertices['red'], vertices['green'], vertices['blue']], axis=-1)
    return xyz, rgb


def test_folder_of_images_writes_every_metric_output(capsys, tmp_path, inputs, estimator):
    code, out, err = run(capsys, inputs / 'images', '--out', tmp_path, '--npy')
    assert code == 0, err
    classes = len(estimator.spec.classes)
    for index in range(3):
        name = f'scene{index}'
        result = estimator.estimate(read_rgb(inputs / 'images' / f'{name}.png'))

        depth = np.load(tmp_path / f'{name}_depth.npy')
        assert depth.dtype == np.float32 and depth.shape == (HEIGHT, WIDTH)
        np.testing.assert_allclose(depth, result.depth, rtol=1e-5, atol=1e-6)

        millimetres = cv2.imread(str(tmp_path / f'{name}_depth.png'), cv2.IMREAD_UNCHANGED)
        assert millimetres.dtype == np.uint16 and millimetres.shape == (HEIGHT, WIDTH)
        valid = np.isfinite(result.depth)
        assert np.all(millimetres[~valid] == 0)
        assert np.abs(millimetres[valid] / 1000.0 - result.depth[valid]).max() <= 1e-3

        colour = read_rgb(tmp_path / f'{name}_depth_color.png')
        np.testing.assert_array_equal(colour, colorize_depth(result.depth))

        labels = cv2.imread(str(tmp_path / f'{name}_labels.png'), cv2.IMREAD_UNCHANGED)
        assert labels.dtype == np.uint8 and labels.shape == (HEIGHT, WIDTH)
        np.testing.assert_array_equal(labels, result.labels)
        label_colour = read_rgb(tmp_path / f'{name}_labels_color.png')
        np.testing.assert_array_equal(label_colour, label_palette(classes)[result.labels])
        assert f'{name}: {WIDTH}x{HEIGHT}, depth ' in out
    assert not list(tmp_path.glob('*_relative*')) and not list(tmp_path.glob('*.ply'))
    assert f'3 frames written to {tmp_path}: mean inference' in out.splitlines()[-1]
    assert 'FPS' in out.splitlines()[-1]


def test_npy_only_on_request(capsys, tmp_path, inputs):
    code, _, err = run(capsys, inputs / 'images' / 'scene1.png', '--out', tmp_path)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'scene1_depth.png', 'scene1_depth_color.png', 'scene1_labels.png',
        'scene1_labels_color.png']


def test_ply_with_fov_is_the_back_projection_of_the_valid_depth(capsys, tmp_path, inputs,
                                                                estimator):
    image = inputs / 'images' / 'scene0.png'
    code, _, err = run(capsys, image, '--out', tmp_path, '--ply', '--fov', '70', '--npy')
    assert code == 0, err
    depth = np.load(tmp_path / 'scene0_depth.npy')
    xyz, colours = read_ply(tmp_path / 'scene0.ply')
    valid = np.isfinite(depth)
    assert len(xyz) == int(valid.sum())
    expected = depth_to_points(depth, intrinsics_from_fov(WIDTH, HEIGHT, 70.0))
    np.testing.assert_allclose(xyz, expected[valid], rtol=1e-6)
    np.testing.assert_array_equal(colours, read_rgb(image)[valid])


def test_ply_with_camera_info_of_another_resolution_scales_it(capsys, tmp_path, inputs):
    info = tmp_path / 'camera.yaml'
    # A 2x calibration of the same camera: fx 150 at 192x128 is fx 75 at 96x64.
    info.write_text('image_width: 192\nimage_height: 128\n'
                    'projection_matrix:\n  rows: 3\n  cols: 4\n'
                    '  data: [150.0, 0, 95.5, 0, 0, 140.0, 63.5, 0, 0, 0, 1, 0]\n')
    out_dir = tmp_path / 'out'
    code, _, err = run(capsys, inputs / 'images' / 'scene2.png', '--out', out_dir, '--ply',
                       '--camera-info', info, '--npy')
    assert code == 0, err
    depth = np.load(out_dir / 'scene2_depth.npy')
    xyz, _ = read_ply(out_dir / 'scene2.ply')
    rows, cols = np.nonzero(np.isfinite(depth))
    z = depth[rows, cols]
    np.testing.assert_allclose(xyz[:, 0], (cols - 47.5) * z / 75.0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xyz[:, 1], (rows - 31.5) * z / 70.0, rtol=1e-5, atol=1e-6)


def test_invalid_and_far_depth_in_the_files(tmp_path):
    depth = np.full((4, 6), 2.0, dtype=np.float32)
    depth[0, 0] = np.nan
    depth[1, 1] = 70.0  # beyond the 65.535 m of 16UC1: invalid there, a valid point in the PLY
    depth[2, 2] = 1.2345
    depth[3, 3] = 0.0004  # rounds to 0 mm
    intrinsics = intrinsics_from_fov(6, 4, 60.0)
    result = DepthResult(depth=depth, unscaled_depth=depth, labels=None, intrinsics=intrinsics,
                         scale_status='none')
    rgb = np.arange(72, dtype=np.uint8).reshape(4, 6, 3)
    written = infer.write_outputs(tmp_path, infer.Frame('f', rgb, 0.0), result, (), npy=True,
                                  ply=True)
    assert sorted(p.name for p in written) == ['f.ply', 'f_depth.npy', 'f_depth.png',
                                               'f_depth_color.png']
    millimetres = cv2.imread(str(tmp_path / 'f_depth.png'), cv2.IMREAD_UNCHANGED)
    assert millimetres[0, 0] == 0 and millimetres[1, 1] == 0 and millimetres[3, 3] == 0
    assert millimetres[2, 2] == 1235 and millimetres[0, 1] == 2000
    np.testing.assert_array_equal(np.load(tmp_path / 'f_depth.npy'), depth)
    xyz, colours = read_ply(tmp_path / 'f.ply')
    assert len(xyz) == 4 * 6 - 1
    assert np.isclose(xyz[:, 2], 70.0).sum() == 1
    np.testing.assert_array_equal(colours, rgb.reshape(-1, 3)[1:])


def test_video_frames_are_named_by_index_with_every(capsys, tmp_path, inputs, estimator):
    code, out, err = run(capsys, inputs / 'clip.avi', '--out', tmp_path, '--every', '2')
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.glob('*_depth.png'))
    assert names == ['clip_000000_depth.png', 'clip_000002_depth.png', 'clip_000004_depth.png']
    capture = cv2.VideoCapture(str(inputs / 'clip.avi'))
    capture.read()
    capture.read()
    ok, bgr = capture.read()
    capture.release()
    assert ok
    expected = estimator.estimate(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).depth
    millimetres = cv2.imread(str(tmp_path / 'clip_000002_depth.png'), cv2.IMREAD_UNCHANGED)
    assert millimetres.shape == (HEIGHT, WIDTH)
    valid = np.isfinite(expected)
    assert np.all(millimetres[~valid] == 0)
    assert np.abs(millimetres[valid] / 1000.0 - expected[valid]).max() <= 1e-3
    assert out.splitlines()[0].startswith('clip_000000: ')
    assert out.splitlines()[-1].startswith('3 frames written')


def test_max_frames_counts_across_inputs(capsys, tmp_path, inputs):
    code, out, err = run(capsys, inputs / 'images', inputs / 'clip.avi', '--out', tmp_path,
                         '--max-frames', '4', '--every', '1')
    assert code == 0, err
    names = sorted(p.name[:-len('_depth.png')] for p in tmp_path.glob('*_depth.png'))
    assert names == ['clip_000000', 'scene0', 'scene1', 'scene2']
    assert out.splitlines()[-1].startswith('4 frames written')


def test_every_applies_per_sequence(inputs):
    sources = infer.collect_sources([inputs / 'images' / 'scene0.png', inputs / 'clip.avi',
                                     inputs / 'images' / 'scene1.png',
                                     inputs / 'images' / 'scene2.png'])
    assert [s.kind for s in sources] == ['images', 'video', 'images']
    names = [frame.name for frame in infer.iter_frames(sources, every=2)]
    assert names == ['scene0', 'clip_000000', 'clip_000002', 'clip_000004', 'scene1']
    names = [frame.name for frame in infer.iter_frames(sources, every=3, max_frames=2)]
    assert names == ['scene0', 'clip_000000']


def test_relative_model_without_scale_policy_writes_relative_depth_only(
        capsys, tmp_path, inputs, lite_mono_tiny_folder):
    image = inputs / 'images' / 'scene1.png'
    code, out, err = run(capsys, image, '--out', tmp_path, '--model', 'lite-mono-tiny',
                         '--weights', lite_mono_tiny_folder, '--npy')
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'scene1_relative.npy', 'scene1_relative_color.png']
    assert 'need a scale policy' in out and 'relative depth only' in out
    relative = np.load(tmp_path / 'scene1_relative.npy')
    assert relative.dtype == np.float32 and relative.shape == (HEIGHT, WIDTH)
    estimator = DepthEstimator.from_name('lite-mono-tiny', weights=str(lite_mono_tiny_folder),
                                         scale_policy=make_policy('fixed'))
    expected = estimator.estimate(read_rgb(image)).unscaled_depth
    np.testing.assert_allclose(relative, expected, rtol=1e-5)
    colour = read_rgb(tmp_path / 'scene1_relative_color.png')
    np.testing.assert_array_equal(colour, colorize_depth(expected))


def test_relative_model_with_fixed_scale_writes_metric_depth(capsys, tmp_path, inputs,
                                                             lite_mono_tiny_folder):
    image = inputs / 'images' / 'scene1.png'
    relative_dir, metric_dir = tmp_path / 'relative', tmp_path / 'metric'
    common = ('--model', 'lite-mono-tiny', '--weights', lite_mono_tiny_folder)
    assert run(capsys, image, '--out', relative_dir, *common)[0] == 0
    code, out, err = run(capsys, image, '--out', metric_dir, *common, '--scale-policy', 'fixed',
                         '--scale', '2.5', '--npy', '--ply', '--fov', '60')
    assert code == 0, err
    assert not list(metric_dir.glob('*_relative*'))
    depth = np.load(metric_dir / 'scene1_depth.npy')
    relative = np.load(relative_dir / 'scene1_relative.npy')
    np.testing.assert_allclose(depth, 2.5 * relative, rtol=1e-5)
    millimetres = cv2.imread(str(metric_dir / 'scene1_depth.png'), cv2.IMREAD_UNCHANGED)
    assert millimetres.dtype == np.uint16
    assert np.abs(millimetres / 1000.0 - depth).max() <= 1e-3
    assert len(read_ply(metric_dir / 'scene1.ply')[0]) == int(np.isfinite(depth).sum())


def test_ground_plane_policy_matches_the_estimator(capsys, tmp_path, inputs,
                                                   lite_mono_tiny_folder):
    image = inputs / 'images' / 'scene0.png'
    code, out, err = run(capsys, image, '--out', tmp_path, '--model', 'lite-mono-tiny',
                         '--weights', lite_mono_tiny_folder, '--scale-policy', 'ground_plane',
                         '--camera-height', '1.2', '--camera-pitch', '10', '--fov', '65',
                         '--npy')
    assert code == 0, err
    policy = make_policy('ground_plane', height=1.2, pitch=np.radians(10.0))
    estimator = DepthEstimator.from_name('lite-mono-tiny', weights=str(lite_mono_tiny_folder),
                                         scale_policy=policy)
    result = estimator.estimate(read_rgb(image), intrinsics_from_fov(WIDTH, HEIGHT, 65.0))
    assert result.depth is not None, result.scale_status
    np.testing.assert_allclose(np.load(tmp_path / 'scene0_depth.npy'), result.depth, rtol=1e-5)
    assert not list(tmp_path.glob('*_relative*'))


def _bad_image(tmp_path: Path) -> list[str]:
    path = tmp_path / 'broken.png'
    path.write_bytes(b'not a png at all')
    return [str(path)]


def _bad_video(tmp_path: Path) -> list[str]:
    path = tmp_path / 'broken.avi'
    path.write_bytes(b'\x00' * 1000)
    return [str(path)]


def _same_stem(tmp_path: Path) -> list[str]:
    paths = []
    for folder in ('a', 'b'):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / 'frame.png'
        cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))
        paths.append(str(path))
    return paths


def _empty_folder(tmp_path: Path) -> list[str]:
    (tmp_path / 'empty').mkdir()
    return [str(tmp_path / 'empty')]


@pytest.mark.parametrize('make_inputs, options, message', [
    (_bad_image, [], 'cannot read image'),
    (_bad_video, [], 'cannot open video'),
    (_same_stem, [], 'would write the same output files'),
    (_empty_folder, [], 'holds no images'),
    (lambda tmp: [str(tmp / 'missing.png')], [], 'does not exist'),
    (None, ['--model', 'lite-mono-tinny'], "unknown model 'lite-mono-tinny'"),
    (None, ['--camera-info', 'nowhere/camera.yaml'], 'camera info file'),
    (None, ['--ply'], '--ply needs the camera intrinsics'),
    (None, ['--ply', '--fov', '60', '--model', 'lite-mono-tiny', '--weights', 'none'],
     'needs metric depth'),
    (None, ['--scale-policy', 'ground_plane', '--fov', '60'], 'needs --camera-height'),
    (None, ['--scale-policy', 'fixed', '--scale', '-1'], 'scale'),
    (None, ['--every', '0'], '--every must be at least 1'),
    (None, ['--fov', '200'], '--fov must be in (0, 180)'),
])
def test_errors_are_messages_and_a_non_zero_exit(capsys, tmp_path, inputs, make_inputs,
                                                 options, message):
    paths = make_inputs(tmp_path) if make_inputs else [str(inputs / 'images' / 'scene0.png')]
    code, out, err = run(capsys, *paths, '--out', tmp_path / 'out', *options)
    assert code == 2
    assert err.startswith('mono-depth infer: error: ') and message in err
    assert not list(tmp_path.glob('out/*.png'))


def test_camera_info_of_another_aspect_ratio_is_refused(capsys, tmp_path, inputs):
    info = tmp_path / 'camera.json'
    info.write_text('{"width": 640, "height": 480, "k": [500, 0, 319.5, 0, 500, 239.5, 0, 0, 1]}')
    code, _, err = run(capsys, inputs / 'images' / 'scene0.png', '--out', tmp_path / 'out',
                       '--camera-info', info, '--ply')
    assert code == 2 and 'another aspect ratio' in err


def test_console_script_reports_an_unreadable_file_without_a_traceback(tmp_path):
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'\xff\xd8 truncated')
    done = subprocess.run([executable('mono-depth'), 'infer', str(broken), '--out',
                           str(tmp_path / 'out'), '--model', DEMO_MODEL],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert 'Traceback' not in done.stderr
    assert f'cannot read image {broken}' in done.stderr


def test_auto_runs_the_real_model_of_this_device(capsys, tmp_path, inputs, monkeypatch):
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(tmp_path / 'cache'))
    target = official_cache_path(get_spec('fastdepth-nyu-int8'))
    target.parent.mkdir(parents=True)
    shutil.copy(needs_shared('weights', 'fastdepth_nyu_224_int8.tflite'), target)
    code, out, err = run(capsys, inputs / 'images' / 'scene0.png', '--out', tmp_path / 'out',
                         '--model', 'auto')
    assert code == 0, err
    assert 'model auto on cpu, scene indoor: fastdepth-nyu-int8' in err
    assert (tmp_path / 'out' / 'scene0_depth.png').is_file()
