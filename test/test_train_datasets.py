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

"""Fine-tuning on a user's data through the command line: a folder of RGB-D pairs, KITTI."""
from __future__ import annotations

import csv

import cv2
from mono_depth_ros.cli import main
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.models.registry import create_model, DEMO_MODEL
import numpy as np


def write_pairs(root, seed, count):
    """Write scenes in the documented folder layout: rgb/, depth/ (16-bit mm), labels/."""
    for folder in ('rgb', 'depth', 'labels'):
        (root / folder).mkdir(parents=True)
    for index, scene in enumerate(SyntheticScenes(seed=seed, count=count, width=160,
                                                  height=120)):
        stem = f'frame_{index:04d}'
        cv2.imwrite(str(root / 'rgb' / f'{stem}.png'), cv2.cvtColor(scene.rgb, cv2.COLOR_RGB2BGR))
        millimetres = np.where(np.isfinite(scene.depth), np.round(scene.depth * 1000), 0)
        cv2.imwrite(str(root / 'depth' / f'{stem}.png'), millimetres.astype(np.uint16))
        cv2.imwrite(str(root / 'labels' / f'{stem}.png'), scene.labels)


def test_fine_tune_the_default_model_on_a_folder(tmp_path):
    data, out = tmp_path / 'my_robot', tmp_path / 'run'
    write_pairs(data / 'train', seed=21, count=4)  # no camera_info.yaml: it is optional
    write_pairs(data / 'val', seed=22, count=2)
    status = main(['train', '--model', DEMO_MODEL, '--weights', 'auto', '--dataset',
                   'folder', '--data-root', str(data), '--width', '160', '--height', '120',
                   '--epochs', '2', '--batch-size', '2', '--val-count', '2', '--workers', '0',
                   '--lr', '1e-4', '--no-progress', '--out', str(out)])
    assert status == 0
    rows = list(csv.DictReader((out / 'log.csv').open()))
    assert [int(row['epoch']) for row in rows] == [1, 2]
    assert all(np.isfinite(float(row['val_abs_rel'])) for row in rows)
    tuned = create_model(DEMO_MODEL, weights=str(out / f'{DEMO_MODEL}.safetensors'))
    shipped = create_model(DEMO_MODEL, weights='auto')
    changed = [name for name, value in tuned.state_dict().items()
               if value.is_floating_point() and not value.equal(shipped.state_dict()[name])]
    assert changed, 'fine-tuning did not change any weight'


def test_fine_tune_on_the_kitti_eigen_layout_with_sparse_lidar_depth(tmp_path, kitti_000008):
    from test_evaluate import arrange_kitti

    split = arrange_kitti(tmp_path / 'kitti', kitti_000008)
    out = tmp_path / 'run'
    status = main(['train', '--model', DEMO_MODEL, '--weights', 'auto', '--dataset', 'kitti',
                   '--data-root', str(tmp_path / 'kitti'), '--split', str(split),
                   '--val-split', str(split), '--width', '320', '--height', '96', '--epochs',
                   '1', '--batch-size', '1', '--workers', '0', '--lr', '1e-4', '--no-progress',
                   '--out', str(out)])
    assert status == 0
    row = next(csv.DictReader((out / 'log.csv').open()))
    assert np.isfinite(float(row['loss'])) and np.isfinite(float(row['val_abs_rel']))


def test_kitti_training_needs_a_split_file(tmp_path, capsys):
    status = main(['train', '--model', DEMO_MODEL, '--dataset', 'kitti', '--data-root',
                   str(tmp_path), '--out', str(tmp_path / 'run')])
    assert status != 0
    assert '--dataset kitti needs --split' in capsys.readouterr().out


def test_fine_tune_a_relative_model_on_metric_pairs(tmp_path, lite_mono_tiny_folder):
    # Lite-Mono predicts disparity: the losses see it as depth up to scale, validation is
    # median-scaled, and a metric-only loss is refused.
    data, out = tmp_path / 'my_robot', tmp_path / 'run'
    write_pairs(data / 'train', seed=23, count=2)
    write_pairs(data / 'val', seed=24, count=1)
    common = ['train', '--model', 'lite-mono-tiny', '--weights', str(lite_mono_tiny_folder),
              '--dataset', 'folder', '--data-root', str(data), '--epochs', '1', '--batch-size',
              '2', '--workers', '0', '--lr', '1e-4', '--no-progress', '--out', str(out)]
    assert main(common) == 0
    row = next(csv.DictReader((out / 'log.csv').open()))
    assert np.isfinite(float(row['loss'])) and 0 < float(row['val_abs_rel']) < 10
    assert main(common + ['--log-l1-weight', '1']) != 0


def test_relative_inverse_depth_models_are_fine_tuned_by_distillation_only(tmp_path, capsys):
    status = main(['train', '--model', 'depth-anything-v2-small', '--dataset', 'synthetic',
                   '--train-count', '2', '--val-count', '0', '--out', str(tmp_path / 'run')])
    assert status != 0
    assert 'fine-tune it by distillation' in capsys.readouterr().out
