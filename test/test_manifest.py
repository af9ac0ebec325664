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

"""Real-frame evaluation from a manifest: the format, its errors, the numbers, the baseline."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import needs_shared
import cv2
from mono_depth_ros import cli
from mono_depth_ros.data.manifest import Manifest, ManifestError
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.evaluate import evaluate_manifest
import numpy as np
import pytest

MAX_DEPTH = 80.0


def write_frames(root: Path) -> dict:
    """Write two real files per frame (a user's own capture) and return the manifest document."""
    rng = np.random.default_rng(7)
    (root / 'rgb').mkdir(parents=True)
    (root / 'depth').mkdir()
    frames = []
    kinds = [('png_uint16', 'indoor', 'lab'), ('npy_float32', 'outdoor', 'yard')]
    for index, (fmt, env, dataset) in enumerate(kinds):
        rgb = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        cv2.imwrite(str(root / 'rgb' / f'{index}.png'), rgb[..., ::-1])
        metres = rng.uniform(0.5, 6.0, (48, 64)).astype(np.float32)
        metres[:5] = 0.0  # no ground truth in the top rows
        if fmt == 'png_uint16':
            depth_name = f'depth/{index}.png'
            cv2.imwrite(str(root / depth_name), np.round(metres * 1000).astype(np.uint16))
            decoding = {'format': fmt, 'scale': 1000, 'rule': 'depth_m = value / 1000'}
        else:
            depth_name = f'depth/{index}.npy'
            np.save(root / depth_name, metres)
            decoding = {'format': fmt}
        frames.append({'id': f'frame{index}', 'rgb': f'rgb/{index}.png', 'depth': depth_name,
                       'depth_decoding': decoding, 'env': env, 'dataset': dataset,
                       'intrinsics': {'fx': 60.0, 'fy': 60.0, 'cx': 31.5, 'cy': 23.5,
                                      'width': 64, 'height': 48}})
    document = {'frames': frames}
    (root / 'manifest.json').write_text(json.dumps(document))
    return document


def by_hand(published: np.ndarray, unscaled: np.ndarray,
            gt: np.ndarray) -> dict[str, dict[str, float]]:
    """
    AbsRel, RMSE and delta1 of the three modes, written out from their definitions.

    Metric: the published depth, pixels without depth (NaN) counting as the farthest depth.
    Median-scaled: the depth up to scale times median(gt) / median(prediction).
    """
    valid = (gt > 1e-3) & (gt < MAX_DEPTH)
    g = gt[valid].astype(np.float64)
    p = np.where(np.isnan(published), MAX_DEPTH, published)[valid].astype(np.float64)
    u = unscaled[valid].astype(np.float64)

    def scores(x):
        x = np.clip(x, 1e-3, MAX_DEPTH)
        return {'abs_rel': np.mean(np.abs(x - g) / g), 'rmse': np.sqrt(np.mean((x - g) ** 2)),
                'd1': np.mean(np.maximum(x / g, g / x) < 1.25)}

    return {'metric': scores(p), 'median_scaled': scores(u * np.median(g) / np.median(u)),
            'constant': scores(np.full_like(g, np.median(g)))}


def test_numbers_match_a_hand_computation(tmp_path):
    write_frames(tmp_path)
    manifest = Manifest(tmp_path / 'manifest.json')
    estimator = DepthEstimator.from_name('joint-mnv3-synthetic', device='cpu')
    report = evaluate_manifest(estimator, manifest, max_depth=MAX_DEPTH)

    expected = []
    for index, frame in enumerate(report['frames']):
        sample = manifest[index]
        rgb = cv2.cvtColor(cv2.imread(str(tmp_path / 'rgb' / f'{index}.png')), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(sample.rgb, rgb)
        gt = np.nan_to_num(sample.depth, nan=0.0)
        result = estimator.estimate(rgb)
        assert np.isnan(result.depth).any()  # sky: the NaN rule is exercised
        expected.append(by_hand(result.depth, result.unscaled_depth, gt))
        for mode, values in expected[-1].items():
            for key, value in values.items():
                assert frame[mode][key] == pytest.approx(value, rel=1e-9), (index, mode, key)
    assert [f['source'] for f in report['frames']] == ['lab', 'yard']
    assert set(report['groups']) == {'lab', 'yard', 'indoor', 'outdoor', 'all'}
    for mode in ('metric', 'median_scaled', 'constant'):
        assert report['groups']['lab'][mode]['abs_rel'] == pytest.approx(
            expected[0][mode]['abs_rel'])
        assert report['groups']['all'][mode]['rmse'] == pytest.approx(
            (expected[0][mode]['rmse'] + expected[1][mode]['rmse']) / 2)
    assert report['groups']['all']['images'] == 2


def test_png_depth_is_decoded_with_its_scale(tmp_path):
    document = write_frames(tmp_path)
    document['frames'][0]['depth_decoding']['scale'] = 256
    (tmp_path / 'manifest.json').write_text(json.dumps(document))
    raw = cv2.imread(str(tmp_path / 'depth' / '0.png'), cv2.IMREAD_UNCHANGED)
    depth = Manifest(tmp_path / 'manifest.json')[0].depth
    assert np.isnan(depth[:5]).all()
    np.testing.assert_allclose(depth[5:], raw[5:] / 256.0, rtol=1e-6)


def corrupt(document: dict, how: str, root: Path) -> str:
    """Break frame1 of ``document`` in one way; return what the error must say."""
    frame = document['frames'][1]
    if how == 'missing file':
        frame['rgb'] = 'rgb/nowhere.png'
        return f'frame frame1: rgb file {root / "rgb" / "nowhere.png"} does not exist'
    if how == 'unknown decoding':
        frame['depth_decoding'] = {'format': 'exr_half'}
        return "frame frame1: unknown depth_decoding format 'exr_half'; known: png_uint16"
    if how == 'intrinsics of another size':
        frame['intrinsics'].update(width=640, height=480)
        return 'frame frame1: the intrinsics are for 640x480 but the rgb image is 64x48'
    if how == 'depth of another size':
        np.save(root / 'depth' / '1.npy', np.ones((24, 32), np.float32))
        return 'frame frame1: the depth image is 32x24 but the rgb image is 64x48'
    if how == 'missing keys':
        del frame['intrinsics']['fx'], frame['depth']
        return 'frame frame1: missing depth'
    if how == 'bad scale':
        document['frames'][0]['depth_decoding']['scale'] = 0
        return 'frame frame0: depth_decoding scale 0 must be a positive number'
    raise AssertionError(how)


@pytest.mark.parametrize('how', ['missing file', 'unknown decoding', 'intrinsics of another size',
                                 'depth of another size', 'missing keys', 'bad scale'])
def test_bad_entries_are_errors_naming_the_frame(tmp_path, capsys, how):
    document = write_frames(tmp_path)
    expected = corrupt(document, how, tmp_path)
    path = tmp_path / 'manifest.json'
    path.write_text(json.dumps(document))
    status = cli.main(['eval', '--model', 'joint-mnv3-synthetic', '--manifest', str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f'mono-depth eval: error: manifest {path}, ')
    assert expected in err
    assert 'Traceback' not in err


def test_not_a_manifest_is_a_clear_error(tmp_path):
    path = tmp_path / 'manifest.json'
    path.write_text('{"images": []}')
    with pytest.raises(ManifestError, match='has no "frames" list'):
        Manifest(path)
    path.write_text('{"frames": [')
    with pytest.raises(ManifestError, match='is not valid JSON'):
        Manifest(path)
    with pytest.raises(ManifestError, match='cannot read manifest'):
        Manifest(tmp_path / 'absent.json')


def test_command_prints_the_baseline_beside_every_model(tmp_path, capsys):
    write_frames(tmp_path)
    path = str(tmp_path / 'manifest.json')
    assert cli.main(['eval', '--model', 'joint-mnv3-synthetic,lite-mono-tiny', '--weights',
                     'none', '--manifest', path]) == 0
    out = capsys.readouterr().out
    blocks = out.strip().split('\n\n')
    assert len(blocks) == 2
    for block, model in zip(blocks, ('joint-mnv3-synthetic', 'lite-mono-tiny')):
        assert block.startswith(f'{model} (')
        assert 'constant median (baseline)' in block and 'median-scaled' in block
        rows = [line.split() for line in block.splitlines()[3:]]
        assert [row[0] for row in rows] == ['lab', 'yard', 'indoor', 'outdoor', 'all']
    assert '(not metric)' in blocks[1]  # a relative model has no metric column

    assert cli.main(['eval', '--model', 'joint-mnv3-synthetic', '--weights', 'none',
                     '--manifest', path, '--json']) == 0
    report = json.loads(capsys.readouterr().out)['models']['joint-mnv3-synthetic']
    assert [frame['id'] for frame in report['frames']] == ['frame0', 'frame1']


def test_fastdepth_beats_the_constant_baseline_on_real_indoor_frames():
    manifest = Manifest(needs_shared('testdata', 'real_rgbd', 'manifest.json'))
    weights = needs_shared('weights', 'fastdepth_nyu_224_int8.tflite')
    estimator = DepthEstimator.from_name('fastdepth-nyu-int8', weights=str(weights))
    groups = evaluate_manifest(estimator, manifest)['groups']
    indoor = groups['indoor']
    assert indoor['images'] == 19
    # The shape of its depth, on every indoor frame together:
    assert indoor['median_scaled']['abs_rel'] < indoor['constant']['abs_rel']
    assert indoor['median_scaled']['rmse'] < indoor['constant']['rmse']
    assert indoor['median_scaled']['d1'] > indoor['constant']['d1']
    # and its metres as published, in the rooms it was trained for (NYU-like, up to 10 m),
    # even against a constant that knows each frame's median depth:
    for room in ('NYU Depth V2', '7-Scenes'):
        assert groups[room]['metric']['abs_rel'] < groups[room]['constant']['abs_rel'], room
        assert groups[room]['metric']['d1'] > groups[room]['constant']['d1'], room
