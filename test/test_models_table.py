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

"""``mono-depth models``: the zoo table over the real registry."""
from __future__ import annotations

import json
import zipfile

from mono_depth_ros import cli
from mono_depth_ros.models import get_spec, list_models
from mono_depth_ros.models.spec import InputPolicy
from mono_depth_ros.models.table import count_parameters, format_input, format_params
from mono_depth_ros.weights import official_cache_path
import pytest

SMALL = 4_000_000


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Point the weights cache at an empty folder."""
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(tmp_path))
    return tmp_path


def run_models(capsys, *options: str) -> str:
    """Run ``mono-depth models`` and return what it printed."""
    assert cli.main(['models', *options]) == 0
    return capsys.readouterr().out


def test_json_lists_every_registered_model(capsys):
    rows = json.loads(run_models(capsys, '--json'))
    specs = list_models()
    assert [row['name'] for row in rows] == [spec.name for spec in specs]
    for row, spec in zip(rows, specs):
        assert row['family'] == spec.family and row['output'] == spec.output_kind
        assert row['license'] == spec.license_terms and row['source'] == spec.source
        if spec.builder is None:
            assert row['params'] is None
        else:
            assert isinstance(row['params'], int) and row['params'] > 0
        expected = 'embedded' if spec.weights and spec.weights.embedded else 'not cached'
        if spec.weights is None or not (spec.weights.url or spec.weights.embedded):
            expected = 'none'
        assert row['weights'] == expected, spec.name
    fastdepth = rows[[row['name'] for row in rows].index('fastdepth-nyu-int8')]
    assert fastdepth['input'] == '224x224' and fastdepth['license'] == 'MIT'


def test_cached_weights_are_reported(capsys):
    spec = get_spec('fastdepth-nyu-int8')
    target = official_cache_path(spec)
    target.parent.mkdir(parents=True)
    target.write_bytes(b'placeholder')
    rows = {row['name']: row for row in json.loads(run_models(capsys, '--json'))}
    assert rows[spec.name]['weights'] == 'cached'
    assert rows[spec.name]['cached_path'] == str(target)


def test_zip_weights_count_as_cached_as_a_zip_or_folder_of_the_files(capsys):
    zipped = [spec for spec in list_models() if spec.weights and spec.weights.file_format == 'zip']
    if not zipped:
        pytest.skip('no registered model downloads a zip archive')
    spec = zipped[0]
    archive = official_cache_path(spec)
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b'an error page, not the archive')
    rows = {row['name']: row for row in json.loads(run_models(capsys, '--json'))}
    assert rows[spec.name]['weights'] == 'not cached'
    with zipfile.ZipFile(archive.with_name('downloaded by hand'), 'w') as bundle:
        for name in spec.weights.files:
            bundle.writestr(f'{spec.name}/{name}', b'weights')
    rows = {row['name']: row for row in json.loads(run_models(capsys, '--json'))}
    assert rows[spec.name]['weights'] == 'cached'


def test_text_table_has_a_row_per_model(capsys):
    lines = run_models(capsys).splitlines()
    assert lines[0].split()[:3] == ['NAME', 'FAMILY', 'PARAMS']
    specs = list_models()
    assert len(lines) == len(specs) + 1
    for line, spec in zip(lines[1:], specs):
        assert line.split()[:2] == [spec.name, spec.family]
    fastdepth = next(line for line in lines if line.startswith('fastdepth-nyu-int8 '))
    assert fastdepth.split()[2] == '-'


@pytest.mark.parametrize('name', [spec.name for spec in list_models()
                                  if spec.builder is not None])
def test_meta_count_matches_a_real_build(name):
    spec = get_spec(name)
    counted = count_parameters(spec)
    if counted > SMALL:
        pytest.skip(f'{counted} parameters: too large to build for real in the test suite')
    assert counted == sum(p.numel() for p in spec.builder().parameters())


def test_formatting():
    assert format_input(InputPolicy(short_side=518, multiple=14)) == 'short 518 /14'
    assert format_input(InputPolicy(height=192, width=640)) == '192x640'
    assert format_params(None) == '-'
    assert format_params(24_785_089) == '24.8M'
    assert format_params(950_000) == '950K'
