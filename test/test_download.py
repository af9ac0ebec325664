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

"""``mono-depth download``: weights fetched ahead of time, where they went, how checked."""
from __future__ import annotations

import shutil
import socket

from conftest import needs_shared
from mono_depth_ros.cli import main
from mono_depth_ros.download import fetch
from mono_depth_ros.models.registry import get_spec
from mono_depth_ros.weights import EMBEDDED_DIR, official_cache_path, WeightsError
import pytest
from test_weights import make_spec, safetensors_bytes, server, sha, trained_state  # noqa: F401


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Use a fresh cache, and no internet: https goes to a port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv('https_proxy', f'http://127.0.0.1:{port}')
    monkeypatch.delenv('no_proxy', raising=False)
    root = tmp_path / 'cache'
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(root))
    return root


def test_fetch_downloads_once_and_rechecks_the_cached_copy(server, tmp_path, cache):  # noqa: F811
    data = safetensors_bytes(trained_state(), tmp_path)
    server.files['/toy.safetensors'] = data
    spec = make_spec(f'{server.url}/toy.safetensors', sha(data))
    path, check = fetch(spec)
    assert path == cache / 'toy-net' / 'toy.safetensors' and path.read_bytes() == data
    assert check == 'sha256 verified'
    assert fetch(spec) == (path, check) and len(server.requests) == 1

    path.write_bytes(data[:-1] + b'\0')  # corrupted on disk after the download
    with pytest.raises(WeightsError, match='delete it and run mono-depth download toy-net'):
        fetch(spec)


def test_fetch_checks_a_torch_hub_hash_prefix(server, tmp_path):  # noqa: F811
    data = safetensors_bytes(trained_state(), tmp_path)
    prefix = sha(data)[:8]
    server.files[f'/toy-{prefix}.safetensors'] = data
    spec = make_spec(f'{server.url}/toy-{prefix}.safetensors', prefix)
    path, check = fetch(spec)
    assert check == 'sha256 verified against the 8 hex digits published'
    path.write_bytes(data[:-1] + b'\0')
    with pytest.raises(WeightsError, match='delete it'):
        fetch(spec)


def test_fetch_without_a_published_hash_says_so(server, tmp_path):  # noqa: F811
    server.files['/toy.safetensors'] = safetensors_bytes(trained_state(), tmp_path)
    _, check = fetch(make_spec(f'{server.url}/toy.safetensors'))
    assert check == 'no sha256 is published for this file'


def test_command_reports_each_model_and_fails_for_the_bad_ones(capsys):
    status = main(['download', 'joint-mnv3-synthetic', 'fastdepth-nyu-in8', 'lite-mono'])
    out, err = capsys.readouterr()
    assert status == 1
    shipped = EMBEDDED_DIR / 'joint-mnv3-synthetic.safetensors'
    assert f'joint-mnv3-synthetic: {shipped} (ships with the package)' in out
    assert "fastdepth-nyu-in8: error: unknown model 'fastdepth-nyu-in8'" in err
    assert 'Did you mean: fastdepth-nyu-int8' in err
    # offline: the message says what to do instead
    assert "lite-mono: error: model 'lite-mono' needs its weights file lite-mono.zip" in err
    assert '`mono-depth download lite-mono`' in err


def test_cache_option_fills_a_folder_to_carry_to_a_robot(tmp_path, capsys, monkeypatch):
    shared = needs_shared('weights', 'fastdepth_nyu_224_int8.tflite')
    carry = tmp_path / 'carry'
    spec = get_spec('fastdepth-nyu-int8')
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(carry))
    target = official_cache_path(spec)
    target.parent.mkdir(parents=True)
    shutil.copy(shared, target)  # as a download on a machine with internet leaves it
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(tmp_path / 'elsewhere'))

    assert main(['download', 'fastdepth-nyu-int8', '--cache', str(carry)]) == 0
    out, _ = capsys.readouterr()
    assert f'fastdepth-nyu-int8: {target} (sha256 verified)' in out
    assert f'copy {carry} there and set MONO_DEPTH_CACHE' in out


def test_every_zoo_entry_is_accepted(capsys):
    from mono_depth_ros.models.registry import list_models

    specs = list_models()
    main(['download', *(spec.name for spec in specs)])
    out, err = capsys.readouterr()
    for spec in specs:  # offline here: shipped weights are found, the others say what to do
        if spec.weights is None:
            assert f'{spec.name}: error: model {spec.name!r} has no official weights' in err
        elif spec.weights.embedded:
            assert f'{spec.name}: {EMBEDDED_DIR}' in out
        else:
            assert f'{spec.name}: error: model {spec.name!r} needs its weights file' in err
