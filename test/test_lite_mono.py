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

"""Lite-Mono: parity with the official code, the registered variants, and checkpoint loading."""
import json
import shutil

from conftest import needs_shared
from mono_depth_ros import cli, parity
from mono_depth_ros.models import create_model, lite_mono
from mono_depth_ros.weights import CheckpointError
import numpy as np
import pytest
import torch


def test_every_variant_and_resolution_is_registered():
    names = {spec.name for spec in lite_mono.SPECS}
    variants = ('lite-mono-tiny', 'lite-mono-small', 'lite-mono', 'lite-mono-8m')
    assert names == set(variants) | {f'{v}-1024x320' for v in variants}
    for spec in lite_mono.SPECS:
        assert spec.output_kind == 'disparity'
        assert (spec.mean, spec.std) == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
        assert (spec.min_depth, spec.max_depth) == (0.1, 100.0)
        assert spec.weights.files == ('encoder.pth', 'depth.pth')
        assert spec.weights.url.startswith('https://')
        assert 'AbsRel' in spec.reported and spec.license_terms == 'MIT'


def test_parity_fails_on_a_tampered_golden(tmp_path, capsys):
    case_path = needs_shared('parity', 'lite-mono-tiny_640x192.json')
    goldens = dict(np.load(case_path.with_suffix('.npz')))
    goldens['disp0'][0, 0, 10, 20] += 1e-2
    tampered = tmp_path / 'tampered.npz'
    np.savez(tampered, **goldens)

    _, reports = parity.run_case(case_path, golden_path=tampered)
    verdicts = {r.name: r.passed for r in reports}
    assert verdicts.pop('disp0') is False
    assert all(verdicts.values())

    assert cli.main(['parity', str(case_path), '--golden', str(tampered)]) == 1
    assert 'FAIL' in capsys.readouterr().out


def test_dilation_rates_follow_the_training_resolution():
    case_path = needs_shared('parity', 'lite-mono_1024x320.json')
    case = json.loads(case_path.read_text())
    assert lite_mono.dilation_rates('lite-mono', 320, 1024)[2] == (1, 2, 5, 1, 2, 5, 2, 4, 10)
    # The 640x192 dilations have the same weights but compute another function.
    module = lite_mono.build_lite_mono('lite-mono', 192, 640).eval()
    parity.fill_by_rule(module, case['weight_seed'])
    with torch.no_grad():
        ours = lite_mono.PARITY.outputs(module, parity.make_input(case))
    golden = np.load(case_path.with_suffix('.npz'))
    assert not parity.compare('disp0', ours['disp0'].numpy(), golden['disp0']).passed


@pytest.mark.parametrize('spec', lite_mono.SPECS, ids=[s.name for s in lite_mono.SPECS])
def test_create_model_maps_an_image_to_a_disparity(spec):
    torch.manual_seed(0)
    model = create_model(spec.name)
    height, width = spec.input_policy.network_size(480, 640)
    assert (height, width) == (spec.input_policy.height, spec.input_policy.width)
    image = torch.rand(1, 3, height, width)
    with torch.no_grad():
        disparity = model(image)['depth']
    assert disparity.shape == (1, 1, height, width)
    assert torch.all(disparity > 0) and torch.all(disparity < 1)
    assert disparity.std() > 0


def _save_official(model, folder, height, width):
    """Write ``model`` as the official trainer does: encoder.pth with metadata, and depth.pth."""
    folder.mkdir(parents=True, exist_ok=True)
    encoder = dict(model.encoder.state_dict(), height=height, width=width, use_stereo=False)
    torch.save(encoder, folder / 'encoder.pth')
    torch.save(model.decoder.state_dict(), folder / 'depth.pth')
    return folder


def test_load_checkpoint_round_trip(tmp_path):
    source = lite_mono.build_lite_mono('lite-mono-tiny').eval()
    parity.fill_by_rule(source, weight_seed=7)
    folder = _save_official(source, tmp_path / 'tiny', 192, 640)

    fresh = lite_mono.build_lite_mono('lite-mono-tiny').eval()
    image = torch.rand(1, 3, 192, 640)
    with torch.no_grad():
        expected = source(image)['depth']
        assert not torch.equal(fresh(image)['depth'], expected)
        lite_mono.load_checkpoint(fresh, folder)
        assert torch.equal(fresh(image)['depth'], expected)
        # The model's output is the decoder's full-resolution disparity that parity checks.
        assert torch.equal(lite_mono.PARITY.outputs(fresh, image)['disp0'], expected)


@pytest.mark.parametrize('saved, loaded, names', [
    ('lite-mono-small', 'lite-mono', ['missing keys', 'stages.2.7']),
    ('lite-mono-tiny', 'lite-mono-small',
     ['keys of another shape',
      'downsample_layers.0.0.conv.weight (32, 3, 3, 3) != (48, 3, 3, 3)']),
])
def test_checkpoint_of_another_variant_names_the_keys(tmp_path, saved, loaded, names):
    folder = _save_official(lite_mono.build_lite_mono(saved), tmp_path / saved, 192, 640)
    with pytest.raises(CheckpointError) as error:
        lite_mono.load_checkpoint(lite_mono.build_lite_mono(loaded), folder)
    message = str(error.value)
    assert all(name in message for name in names), message
    assert 'encoder.pth' in message and repr(loaded) in message


def test_checkpoint_of_another_resolution_names_the_variant_to_use(tmp_path):
    wide = lite_mono.build_lite_mono('lite-mono-tiny', 320, 1024)
    folder = _save_official(wide, tmp_path / 'wide', 320, 1024)
    with pytest.raises(CheckpointError, match=r"1024x320.*'lite-mono-tiny'.*640x192.*"
                                              r"'lite-mono-tiny-1024x320'"):
        lite_mono.load_checkpoint(lite_mono.build_lite_mono('lite-mono-tiny'), folder)
    lite_mono.load_checkpoint(wide, folder)


def test_checkpoint_must_be_a_folder(tmp_path):
    folder = _save_official(lite_mono.build_lite_mono('lite-mono-tiny'), tmp_path / 'w', 192, 640)
    single = tmp_path / 'encoder.pth'
    shutil.copy(folder / 'encoder.pth', single)
    with pytest.raises(CheckpointError, match='folder'):
        lite_mono.load_checkpoint(lite_mono.build_lite_mono('lite-mono-tiny'), single)


def test_only_training_resolutions_are_built():
    with pytest.raises(ValueError, match='640x192, 1024x320'):
        lite_mono.build_lite_mono('lite-mono', 256, 832)
    with pytest.raises(ValueError, match='lite-mono-small'):
        lite_mono.build_lite_mono('lite-mono-huge')


def test_drop_path_is_identity_in_eval_and_drops_samples_in_training():
    x = torch.ones(64, 4, 2, 2)
    assert torch.equal(lite_mono.drop_path(x, 0.5, training=False), x)
    torch.manual_seed(0)
    dropped = lite_mono.drop_path(x, 0.5, training=True)
    per_sample = dropped.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}
    assert torch.all(per_sample.min(1).values == per_sample.max(1).values)
