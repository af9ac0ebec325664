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

"""Datasets on disk (folder of pairs, KITTI Eigen layout) and ``mono-depth eval``."""
import json
from pathlib import Path
import shutil

import cv2
from mono_depth_ros import cli
from mono_depth_ros import evaluate as evaluate_cli
from mono_depth_ros.data import Sample
from mono_depth_ros.data.folder import FolderPairs, KittiEigen
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthResult
from mono_depth_ros.metrics import DEPTH_METRICS
from mono_depth_ros.models.registry import get_spec
import numpy as np
import pytest


def run_eval(argv, capsys):
    """Run ``mono-depth eval`` with ``argv``; return its exit status, stdout and stderr."""
    status = cli.main(['eval'] + argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# Folder of pairs


def write_folder(root: Path) -> None:
    """Write two 8x6 frames: one PNG with millimetre depth and labels, one JPEG with .npy depth."""
    (root / 'rgb').mkdir(parents=True)
    (root / 'depth').mkdir()
    (root / 'labels').mkdir()
    image = np.zeros((6, 8, 3), np.uint8)
    image[..., 2] = 200  # BGR on disk: a red image
    cv2.imwrite(str(root / 'rgb' / 'a.png'), image)
    cv2.imwrite(str(root / 'rgb' / 'b.jpg'), image)
    millimetres = np.full((6, 8), 1500, np.uint16)
    millimetres[0, 0] = 0
    cv2.imwrite(str(root / 'depth' / 'a.png'), millimetres)
    metres = np.full((6, 8), 2.25, np.float32)
    metres[1, 1], metres[2, 2] = -1.0, np.inf
    np.save(root / 'depth' / 'b.npy', metres)
    labels = np.zeros((6, 8), np.uint8)
    labels[3:] = 1
    cv2.imwrite(str(root / 'labels' / 'a.png'), labels)


def test_folder_pairs_reads_every_file_kind(tmp_path):
    write_folder(tmp_path)
    # A ROS camera_calibration file for a 16x12 camera: the 8x6 images get half the focal length.
    (tmp_path / 'camera_info.yaml').write_text(
        'image_width: 16\nimage_height: 12\n'
        'camera_matrix: {rows: 3, cols: 3, data: [20.0, 0, 7.5, 0, 22.0, 5.5, 0, 0, 1]}\n')
    dataset = FolderPairs(tmp_path)
    assert len(dataset) == 2
    a, b = dataset[0], dataset[1]
    assert (a.name, b.name) == ('a', 'b')
    assert a.rgb.shape == (6, 8, 3) and a.rgb[0, 0].tolist() == [200, 0, 0]
    assert a.depth.dtype == np.float32 and a.depth[1, 1] == pytest.approx(1.5)
    assert np.isnan(a.depth[0, 0]) and np.isfinite(a.depth).sum() == 47
    assert a.labels.tolist() == [[0] * 8] * 3 + [[1] * 8] * 3
    assert b.labels is None
    assert b.depth[0, 0] == pytest.approx(2.25)
    assert np.isnan(b.depth[1, 1]) and np.isnan(b.depth[2, 2])
    k = a.intrinsics
    # Pixel centres stay aligned: cx' = (7.5 + 0.5) / 2 - 0.5
    assert (k.fx, k.fy, k.cx, k.cy, k.width, k.height) == (10.0, 11.0, 3.5, 2.5, 8, 6)


def test_folder_pairs_camera_info_json_and_no_camera_info(tmp_path):
    write_folder(tmp_path)
    assert FolderPairs(tmp_path)[0].intrinsics is None
    (tmp_path / 'camera_info.json').write_text(json.dumps({'fx': 5, 'fy': 6, 'cx': 3.5,
                                                           'cy': 2.5}))
    k = FolderPairs(tmp_path)[1].intrinsics
    assert (k.fx, k.fy, k.cx, k.cy, k.width, k.height) == (5.0, 6.0, 3.5, 2.5, 8, 6)


def test_folder_pairs_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match='rgb'):
        FolderPairs(tmp_path)
    write_folder(tmp_path)
    (tmp_path / 'depth' / 'b.npy').unlink()
    with pytest.raises(FileNotFoundError, match=r"\['b'\]"):
        FolderPairs(tmp_path)
    np.save(tmp_path / 'depth' / 'b.npy', np.ones((6, 8), np.float32))
    (tmp_path / 'camera_info.yaml').write_text('width: 8\nheight: 6\nk: [1, 0, 0]\n')
    with pytest.raises(ValueError, match='k must hold 9 values'):
        FolderPairs(tmp_path)
    (tmp_path / 'camera_info.yaml').write_text('width: 10\nheight: 10\nfx: 1\nfy: 1\ncx: 0\n'
                                               'cy: 0\n')
    with pytest.raises(ValueError, match='another aspect ratio'):
        FolderPairs(tmp_path)
    (tmp_path / 'camera_info.yaml').unlink()
    np.save(tmp_path / 'depth' / 'b.npy', np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match='pixel-aligned'):
        FolderPairs(tmp_path)[1]


# KITTI Eigen layout with the real frame 000008


def arrange_kitti(root: Path, kitti: Path) -> Path:
    """Lay the frame ``kitti`` out as KITTI raw + data_depth_annotated; return a split file."""
    date, drive = '2011_09_26', '2011_09_26_drive_0001_sync'
    images = root / date / drive / 'image_02' / 'data'
    images.mkdir(parents=True)
    shutil.copy(kitti / '000008.png', images / '0000000008.png')
    gt = root / 'train' / drive / 'proj_depth' / 'groundtruth' / 'image_02'
    gt.mkdir(parents=True)
    shutil.copy(kitti / '000008_velodyne_depth_uint16.png', gt / '0000000008.png')
    p2 = np.array(json.loads((kitti / 'calib.json').read_text())['P2']).ravel()
    (root / date / 'calib_cam_to_cam.txt').write_text(
        'calib_time: 09-Jan-2012 13:57:47\n'
        'P_rect_02: ' + ' '.join(f'{v:.12e}' for v in p2) + '\n')
    split = root / 'eigen_test_files.txt'
    split.write_text(f'{date}/{drive} 0000000008 l\n\n')
    return split


def test_kitti_eigen_reads_the_real_frame(tmp_path, kitti_000008):
    split = arrange_kitti(tmp_path, kitti_000008)
    dataset = KittiEigen(tmp_path, split)
    assert len(dataset) == 1
    sample = dataset[0]
    assert sample.name == '2011_09_26/2011_09_26_drive_0001_sync/image_02/0000000008'
    assert sample.rgb.shape == (375, 1242, 3) and sample.labels is None
    valid = np.isfinite(sample.depth)
    # The testdata README: 17,107 LiDAR returns between 2.6 and 76.6 m.
    assert valid.sum() == 17107
    assert 2.5 < sample.depth[valid].min() < 2.7 and 76.5 < sample.depth[valid].max() < 76.7
    k = sample.intrinsics
    assert (k.fx, k.fy, k.cx, k.cy) == pytest.approx((721.5377, 721.5377, 609.5593, 172.854))
    assert (k.width, k.height) == (1242, 375)


def test_kitti_eigen_missing_ground_truth_and_bad_lines(tmp_path, kitti_000008):
    split = arrange_kitti(tmp_path, kitti_000008)
    split.write_text(split.read_text().strip() + '\n2011_09_26/2011_09_26_drive_0001_sync '
                     '0000000008 r\n')
    (tmp_path / '2011_09_26/2011_09_26_drive_0001_sync/image_03/data').mkdir(parents=True)
    shutil.copy(kitti_000008 / '000008.png',
                tmp_path / '2011_09_26/2011_09_26_drive_0001_sync/image_03/data/0000000008.png')
    with pytest.raises(FileNotFoundError, match='1 frames .* have no ground truth'):
        KittiEigen(tmp_path, split)
    dataset = KittiEigen(tmp_path, split, skip_missing=True)
    assert len(dataset) == 1 and dataset.skipped == 1
    split.write_text('2011_09_26_drive_0001_sync 8\n')
    with pytest.raises(ValueError, match=':1: expected'):
        KittiEigen(tmp_path, split)


# evaluate() on replayed predictions


class Replay:
    """An estimator stand-in that returns prepared results in order, with a real model spec."""

    def __init__(self, model, results):
        self.spec = get_spec(model)
        self.results = list(results)

    def estimate(self, rgb, intrinsics=None):
        return self.results.pop(0)


def result(depth, unscaled=None, labels=None):
    return DepthResult(depth=depth, unscaled_depth=depth if unscaled is None else unscaled,
                       labels=labels, intrinsics=None, scale_status='test',
                       timings_ms={'inference': 1.0})


def samples(count=2):
    gt = np.array([[1.0, 2.0], [4.0, np.nan]], np.float32)
    labels = np.array([[0, 1], [1, 255]], np.uint8)
    return [Sample(rgb=np.zeros((2, 2, 3), np.uint8), depth=gt, labels=labels)
            for _ in range(count)]


def test_evaluate_exact_predictions():
    data = samples()
    replay = Replay('joint-mnv3-synthetic', [result(s.depth.copy(), labels=s.labels.copy())
                                             for s in data])
    out = evaluate_cli.evaluate(replay, data)
    assert out['images'] == 2 and out['pixels'] == 3
    assert out['abs_rel'] == pytest.approx(0.0) and out['d1'] == 1.0
    # The label 255 pixel is ignored; classes 0 and 1 are right, the 4 others absent.
    assert out['miou'] == 1.0 and out['pixel_accuracy'] == 1.0


def test_evaluate_median_scaling_fills_nan_and_averages_images():
    data = samples()
    off = np.array([[2.0, 4.0], [8.0, 1.0]], np.float32)
    wrong = np.array([[1.0, np.nan], [4.0, 1.0]], np.float32)
    replay = Replay('joint-mnv3-synthetic', [result(off), result(wrong)])
    out = evaluate_cli.evaluate(replay, data, median_scaling=True, max_depth=10.0)
    # Image 1: twice the truth, scale 1/2, exact. Image 2: the NaN is filled with the farthest
    # prediction, 4: (1, 4, 4) vs gt (1, 2, 4); medians 4 and 2 give scale 1/2 -> (0.5, 2, 2):
    # abs_rel (0.5 + 0 + 0.5) / 3 = 1/3.
    assert out['scale'] == pytest.approx(0.5)
    assert out['abs_rel'] == pytest.approx((0.0 + 1 / 3) / 2)
    assert 'miou' not in out


def test_evaluate_limit_reads_no_further_sample():
    read = []

    def dataset():
        for index, sample in enumerate(samples(3)):
            read.append(index)
            yield sample

    replay = Replay('joint-mnv3-synthetic', [result(s.depth.copy()) for s in samples(3)])
    out = evaluate_cli.evaluate(replay, dataset(), limit=2)
    assert out['images'] == 2 and read == [0, 1]


def test_evaluate_needs_median_scaling_for_relative_models():
    replay = Replay('depth-anything-v2-small', [])
    with pytest.raises(ValueError, match='median scaling'):
        evaluate_cli.evaluate(replay, samples())


def test_evaluate_skips_labels_of_other_classes():
    scenes = SyntheticScenes(seed=0, count=1, width=16, height=12)
    sample = scenes[0]
    replay = Replay('mtrn-nyud', [result(np.nan_to_num(sample.depth, nan=5.0),
                                         labels=sample.labels)])
    out = evaluate_cli.evaluate(replay, scenes, max_depth=20.0)
    assert 'miou' not in out and out['abs_rel'] == pytest.approx(0.0, abs=1e-6)


# The CLI with real models


def test_cli_json_on_tiny_synthetic_scenes(capsys):
    status, out, err = run_eval(['--model', 'joint-mnv3-synthetic', '--weights', 'none',
                                 '--dataset', 'synthetic', '--seed', '1', '--count', '3',
                                 '--width', '64', '--height', '48', '--device', 'cpu', '--json'],
                                capsys)
    assert status == 0, err
    report = json.loads(out)
    assert report['model'] == 'joint-mnv3-synthetic' and report['max_depth'] == 20.0
    values = report['metrics']
    expected = set(DEPTH_METRICS) | {'images', 'pixels', 'inference_ms', 'miou',
                                     'pixel_accuracy'}
    assert set(values) == expected
    assert all(np.isfinite(v) for v in values.values())
    assert values['images'] == 3
    assert 0.0 <= values['miou'] <= 1.0 and 0.0 <= values['d1'] <= 1.0


def test_cli_relative_model_needs_median_scaling(capsys):
    args = ['--model', 'lite-mono-tiny', '--weights', 'none', '--dataset', 'synthetic',
            '--count', '2', '--width', '64', '--height', '48', '--device', 'cpu']
    status, _, err = run_eval(args, capsys)
    assert status == 2 and '--median-scaling' in err
    status, out, err = run_eval(args + ['--median-scaling'], capsys)
    assert status == 0, err
    header, values = out.splitlines()[1:3]
    assert header.split() == list(DEPTH_METRICS) + ['scale']
    assert all(np.isfinite(float(v)) for v in values.split())


def test_cli_table_on_the_kitti_layout(tmp_path, capsys, kitti_000008):
    split = arrange_kitti(tmp_path, kitti_000008)
    status, out, err = run_eval(['--model', 'joint-mnv3-synthetic', '--weights', 'none',
                                 '--dataset', 'kitti', '--root', str(tmp_path), '--split',
                                 str(split), '--device', 'cpu'], capsys)
    assert status == 0, err
    assert '1 images' in out and 'crop garg' in out and '(0.001, 80) m' in out
    assert out.splitlines()[1].split() == list(DEPTH_METRICS)


def test_cli_errors(tmp_path, capsys):
    status, _, err = run_eval(['--model', 'joint-mnv3-synthetic', '--dataset', 'kitti'], capsys)
    assert status == 2 and 'needs --root' in err
    status, _, err = run_eval(['--model', 'joint-mnv3-synthetc', '--dataset', 'synthetic'],
                              capsys)
    assert status == 2 and 'joint-mnv3-synthetic' in err
    status, _, err = run_eval(['--model', 'joint-mnv3-synthetic', '--dataset', 'folder',
                               '--root', str(tmp_path)], capsys)
    assert status == 2 and 'rgb' in err
