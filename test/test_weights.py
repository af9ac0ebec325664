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

"""
Weights: resolving, downloading, caching and extracting, and safe strict checkpoint loading.

Downloads go to a real HTTP server on 127.0.0.1 started by the tests, serving real files.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
import hashlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import io
from pathlib import Path
import pickle
import re
import socket
import sys
import threading
import zipfile

from mono_depth_ros.models import list_models
from mono_depth_ros.models.spec import InputPolicy, ModelSpec, WeightsSource
from mono_depth_ros.weights import (cached_weights, CheckpointError, EMBEDDED_DIR,
                                    load_state_dict_strict, official_cache_path, read_checkpoint,
                                    resolve_weights, WeightsError)
import pytest
from safetensors.torch import save_file
import torch


@dataclass
class FileServer:
    """What the test server serves, how it misbehaves, and what it was asked."""

    url: str = ''
    files: dict[str, bytes] = field(default_factory=dict)
    ranges: bool = True
    claim_extra: int = 0  # Content-Length claims this many bytes more than are sent
    send_only: int | None = None  # close the connection after this many body bytes
    requests: list[tuple[str, str | None]] = field(default_factory=list)


@pytest.fixture
def server():
    """Serve FileServer.files over HTTP/1.0, honouring Range requests when ``ranges`` is set."""
    state = FileServer()

    class Handler(BaseHTTPRequestHandler):

        def do_GET(self):  # noqa: N802 (http.server's naming)
            asked = self.headers.get('Range')
            state.requests.append((self.path, asked))
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            if asked and state.ranges:
                start = int(re.fullmatch(r'bytes=(\d+)-', asked).group(1))
                self.send_response(206)
                self.send_header('Content-Range', f'bytes {start}-{len(body) - 1}/{len(body)}')
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header('Content-Length', str(len(payload) + state.claim_extra))
            self.end_headers()
            self.wfile.write(payload[:state.send_only])

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    state.url = f'http://127.0.0.1:{httpd.server_address[1]}'
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Point the weights cache at a fresh folder."""
    root = tmp_path / 'cache'
    monkeypatch.setenv('MONO_DEPTH_CACHE', str(root))
    return root


def toy_net() -> torch.nn.Module:
    """Return a small network with weights, biases and batch-norm buffers."""
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))


def make_spec(url: str = '', sha256: str | None = None, fmt: str = 'safetensors',
              files: tuple[str, ...] = (), embedded: str | None = None,
              name: str = 'toy-net') -> ModelSpec:
    """Return a variant of the toy network with the given weights source."""
    return ModelSpec(name=name, family='toy', builder=toy_net,
                     input_policy=InputPolicy(height=32, width=32), output_kind='metric',
                     weights=WeightsSource(url=url, sha256=sha256, files=files, file_format=fmt,
                                           embedded=embedded))


def trained_state() -> dict[str, torch.Tensor]:
    """Return a state dict that differs from any fresh initialisation."""
    torch.manual_seed(3)
    fresh = toy_net().state_dict()
    return {k: torch.randn_like(v.float()).to(v.dtype) + 2 for k, v in fresh.items()}


def safetensors_bytes(state: dict[str, torch.Tensor], tmp_path) -> bytes:
    """Return ``state`` serialised as a safetensors file."""
    path = tmp_path / 'made.safetensors'
    save_file(state, str(path))
    return path.read_bytes()


def torch_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """Return ``state`` serialised with torch.save."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    """Return the sha256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def closed_port_url() -> str:
    """Return a URL on a local port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    return f'http://127.0.0.1:{port}/toy.safetensors'


def test_download_then_cache_hit_loads_strictly(server, tmp_path, cache):
    state = trained_state()
    data = safetensors_bytes(state, tmp_path)
    server.files['/w/toy.safetensors'] = data
    spec = make_spec(f'{server.url}/w/toy.safetensors', sha(data))
    assert cached_weights(spec) is None

    path = resolve_weights(spec, 'auto')
    assert path == cache / 'toy-net' / 'toy.safetensors'
    assert path.read_bytes() == data
    assert not path.with_name('toy.safetensors.part').exists()
    assert cached_weights(spec) == path
    assert resolve_weights(spec, 'auto') == path
    assert len(server.requests) == 1

    module = toy_net()
    load_state_dict_strict(module, read_checkpoint(path), model=spec.name, source=path)
    for name, tensor in module.state_dict().items():
        assert torch.equal(tensor, state[name]), name


def test_progress_bar_when_asked(server, tmp_path, capsys):
    data = safetensors_bytes(trained_state(), tmp_path)
    server.files['/toy.safetensors'] = data
    resolve_weights(make_spec(f'{server.url}/toy.safetensors', sha(data)), 'auto', progress=True)
    bar = capsys.readouterr().err
    assert 'toy-net' in bar and '100%' in bar


def test_sha256_mismatch_deletes_and_names_both_hashes(server, tmp_path):
    data = safetensors_bytes(trained_state(), tmp_path)
    server.files['/toy.safetensors'] = data
    wrong = '0' * 64
    spec = make_spec(f'{server.url}/toy.safetensors', wrong)
    with pytest.raises(WeightsError) as error:
        resolve_weights(spec, 'auto')
    message = str(error.value)
    assert wrong in message and sha(data) in message
    assert spec.weights.url in message and 'toy-net' in message
    assert not official_cache_path(spec).exists()
    assert not official_cache_path(spec).with_name('toy.safetensors.part').exists()


def test_torch_hub_hash_prefix_is_checked(server, tmp_path):
    # torch.hub names files <name>-<first 8 hex digits of the sha256>.pt: only those are known
    data = torch_bytes(trained_state())
    prefix = sha(data)[:8]
    server.files[f'/toy-{prefix}.pt'] = data
    good = make_spec(f'{server.url}/toy-{prefix}.pt', prefix, fmt='torch')
    assert resolve_weights(good, 'auto').read_bytes() == data
    wrong = 'deadbeef' if prefix != 'deadbeef' else 'cafebabe'
    server.files[f'/bad-{wrong}.pt'] = data
    bad = make_spec(f'{server.url}/bad-{wrong}.pt', wrong, fmt='torch', name='bad-net')
    with pytest.raises(WeightsError, match=f'expected one starting with {wrong}; it was deleted'):
        resolve_weights(bad, 'auto')
    assert not official_cache_path(bad).exists()


@pytest.mark.parametrize('misbehaviour', [{'claim_extra': 100}, {'send_only': 500}])
def test_truncated_body_is_an_error_then_resumes(server, tmp_path, misbehaviour):
    data = safetensors_bytes(trained_state(), tmp_path)
    server.files['/toy.safetensors'] = data
    for attribute, value in misbehaviour.items():
        setattr(server, attribute, value)
    spec = make_spec(f'{server.url}/toy.safetensors', sha(data))
    with pytest.raises(WeightsError, match='truncated'):
        resolve_weights(spec, 'auto')
    assert not official_cache_path(spec).exists()

    server.claim_extra, server.send_only = 0, None
    path = resolve_weights(spec, 'auto')
    assert path.read_bytes() == data
    if 'send_only' in misbehaviour:
        assert server.requests[-1] == ('/toy.safetensors', 'bytes=500-')


@pytest.mark.parametrize('ranges', [True, False])
def test_partial_file_resumes_with_range_or_restarts(server, tmp_path, ranges):
    data = safetensors_bytes(trained_state(), tmp_path)
    server.files['/toy.safetensors'] = data
    server.ranges = ranges
    spec = make_spec(f'{server.url}/toy.safetensors', sha(data))
    part = official_cache_path(spec).with_name('toy.safetensors.part')
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:300] if ranges else b'x' * 300)

    path = resolve_weights(spec, 'auto')
    assert server.requests == [('/toy.safetensors', 'bytes=300-')]
    assert path.read_bytes() == data


@pytest.mark.parametrize('where', ['closed port', 'unknown host'])
def test_offline_without_cache_explains_what_to_do(where):
    url = closed_port_url() if where == 'closed port' else 'http://weights.invalid/toy.pth'
    spec = make_spec(url, '1' * 64)
    with pytest.raises(WeightsError) as error:
        resolve_weights(spec, 'auto')
    message = str(error.value)
    assert 'toy-net' in message and spec.weights.url in message
    assert str(official_cache_path(spec)) in message and 'weights:=' in message


def test_offline_with_cache_uses_the_cached_file(tmp_path):
    spec = make_spec(closed_port_url(), '1' * 64)
    target = official_cache_path(spec)
    target.parent.mkdir(parents=True)
    target.write_bytes(safetensors_bytes(trained_state(), tmp_path))
    assert resolve_weights(spec, 'auto') == target


def test_http_error_names_status_and_url(server):
    spec = make_spec(f'{server.url}/nowhere.safetensors')
    with pytest.raises(WeightsError, match=r'HTTP 404.*') as error:
        resolve_weights(spec, 'auto')
    assert spec.weights.url in str(error.value)


def test_url_argument_downloads_into_the_model_cache(server, tmp_path, cache):
    data = safetensors_bytes(trained_state(), tmp_path)
    server.files['/other/toy.safetensors'] = data
    path = resolve_weights(make_spec(), f'{server.url}/other/toy.safetensors')
    assert path.parent == cache / 'toy-net' and path.name.endswith('toy.safetensors')
    assert path.read_bytes() == data


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """Return a zip archive holding ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def test_zip_with_lite_mono_layout_is_extracted_once(server, cache):
    encoder, depth = {'a': torch.ones(2)}, {'b': torch.zeros(3)}
    data = zip_bytes({'lite-mono/encoder.pth': torch_bytes(encoder),
                      'lite-mono/depth.pth': torch_bytes(depth)})
    server.files['/lite-mono.zip'] = data
    spec = make_spec(f'{server.url}/lite-mono.zip', sha(data), 'zip', ('encoder.pth', 'depth.pth'))

    folder = resolve_weights(spec, 'auto')
    assert folder.is_dir() and folder.is_relative_to(cache / 'toy-net')
    assert torch.equal(read_checkpoint(folder / 'encoder.pth')['a'], encoder['a'])
    assert torch.equal(read_checkpoint(folder / 'depth.pth')['b'], depth['b'])
    assert cached_weights(spec) is not None
    assert resolve_weights(spec, 'auto') == folder
    assert len(server.requests) == 1


@pytest.mark.parametrize('evil', ['../escape.txt', 'lm/../../escape.txt', '/tmp/escape.txt'])
def test_zip_path_traversal_is_refused(server, cache, evil):
    data = zip_bytes({'lite-mono/encoder.pth': b'x', evil: b'owned'})
    server.files['/evil.zip'] = data
    spec = make_spec(f'{server.url}/evil.zip', sha(data), 'zip', ('encoder.pth',))
    with pytest.raises(WeightsError, match='path traversal'):
        resolve_weights(spec, 'auto')
    assert not any(p.name == 'escape.txt' for p in cache.parent.rglob('*'))
    assert cached_weights(spec) is None


def test_zip_missing_files_are_named(server):
    data = zip_bytes({'lite-mono/encoder.pth': torch_bytes({'a': torch.ones(1)})})
    server.files['/lite-mono.zip'] = data
    spec = make_spec(f'{server.url}/lite-mono.zip', sha(data), 'zip', ('encoder.pth', 'depth.pth'))
    with pytest.raises(WeightsError, match='lack depth.pth'):
        resolve_weights(spec, 'auto')


def test_local_paths(tmp_path):
    checkpoint = tmp_path / 'mine.pth'
    checkpoint.write_bytes(torch_bytes({'a': torch.ones(1)}))
    assert resolve_weights(make_spec(), str(checkpoint)) == checkpoint

    spec = make_spec(files=('encoder.pth', 'depth.pth'), fmt='zip')
    with pytest.raises(WeightsError, match='does-not-exist.pth.*does not exist'):
        resolve_weights(spec, str(tmp_path / 'does-not-exist.pth'))

    folder = tmp_path / 'share'
    folder.mkdir()
    (folder / 'encoder.pth').write_bytes(b'x')
    with pytest.raises(WeightsError, match='lack depth.pth'):
        resolve_weights(spec, str(folder))
    (folder / 'depth.pth').write_bytes(b'x')
    assert resolve_weights(spec, str(folder)) == folder

    archive = tmp_path / 'manual.zip'
    archive.write_bytes(zip_bytes({'m/encoder.pth': b'e', 'm/depth.pth': b'd'}))
    extracted = resolve_weights(spec, str(archive))
    assert (extracted / 'depth.pth').read_bytes() == b'd'


def test_no_official_weights_asks_for_a_file():
    spec = ModelSpec(name='bare-net', family='toy', builder=toy_net,
                     input_policy=InputPolicy(height=32, width=32), output_kind='metric')
    with pytest.raises(WeightsError, match="'bare-net' has no official weights; pass a"):
        resolve_weights(spec, 'auto')


def test_missing_embedded_file_is_named():
    spec = make_spec(embedded='no-such-file.safetensors')
    with pytest.raises(WeightsError) as error:
        resolve_weights(spec, 'auto')
    assert str(EMBEDDED_DIR / 'no-such-file.safetensors') in str(error.value)


def test_embedded_weights_of_the_zoo_resolve_inside_the_package():
    embedded = [spec for spec in list_models() if spec.weights and spec.weights.embedded]
    if not embedded:
        pytest.skip('no registered model ships embedded weights')
    for spec in embedded:
        path = resolve_weights(spec, 'auto')
        assert path.is_file() and path.parent == EMBEDDED_DIR
        assert read_checkpoint(path)


class _Payload:
    """An object whose unpickling opens (and so creates) a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), 'w')


@pytest.mark.parametrize('writer', ['torch', 'pickle'])
def test_read_checkpoint_never_runs_pickled_code(tmp_path, writer):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    content = {'weight': torch.zeros(2), 'payload': _Payload(marker)}
    if writer == 'torch':
        torch.save(content, path)
    else:
        path.write_bytes(pickle.dumps(content, protocol=2))
    with pytest.raises(CheckpointError, match='cannot read checkpoint'):
        read_checkpoint(path)
    assert not marker.exists()
    # The payload is real: an unsafe load would have run it.
    if writer == 'torch':
        torch.load(path, weights_only=False)
    else:
        pickle.loads(path.read_bytes())
    assert marker.exists()


def test_read_checkpoint_reads_safetensors(tmp_path):
    state = trained_state()
    path = tmp_path / 'toy.safetensors'
    path.write_bytes(safetensors_bytes(state, tmp_path))
    loaded = read_checkpoint(path)
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_load_state_dict_strict_names_every_problem():
    state = dict(trained_state())
    del state['0.bias']
    state['extra.weight'] = torch.zeros(1)
    state['1.weight'] = torch.zeros(5)
    with pytest.raises(CheckpointError) as error:
        load_state_dict_strict(toy_net(), state, model='toy-net', source='toy.pth')
    message = str(error.value)
    assert 'missing keys: 0.bias' in message
    assert 'unexpected keys: extra.weight' in message
    assert '1.weight (5,) != (4,)' in message
    assert "'toy-net'" in message and 'toy.pth' in message


# -- paths that cannot be checkpoints say what they are ----

def test_unusable_paths_say_what_is_wrong(tmp_path):
    spec = make_spec(url='https://example.org/toy.safetensors')
    other_model = tmp_path / 'lite-mono'
    other_model.mkdir()
    (other_model / 'encoder.pth').write_bytes(torch_bytes({'a': torch.ones(1)}))
    (other_model / 'depth.pth').write_bytes(torch_bytes({'b': torch.ones(1)}))
    empty_folder = tmp_path / 'empty'
    empty_folder.mkdir()
    empty_file = tmp_path / 'zero.pth'
    empty_file.write_bytes(b'')
    cases = {other_model: 'is a folder (it holds depth.pth, encoder.pth), not a checkpoint file',
             empty_folder: 'is a folder (empty), not a checkpoint file',
             empty_file: 'is empty (0 bytes)'}
    if Path('/dev/zero').exists():
        cases[Path('/dev/zero')] = 'is a character device, not a checkpoint file'
    for path, what in cases.items():
        with pytest.raises(CheckpointError) as error:
            read_checkpoint(path)
        assert str(error.value).startswith(f'checkpoint {path} {what}')
        assert 'does not exist' not in str(error.value)
        with pytest.raises(WeightsError) as error:
            resolve_weights(spec, str(path))
        message = str(error.value)
        assert f'weights path {path} {what}' in message
        assert "model 'toy-net' takes one checkpoint file" in message


def test_folder_models_refuse_a_single_file_and_list_what_a_folder_lacks(tmp_path):
    spec = make_spec(files=('encoder.pth', 'depth.pth'), fmt='zip')
    single = tmp_path / 'encoder.pth'
    single.write_bytes(torch_bytes({'a': torch.ones(1)}))
    with pytest.raises(WeightsError, match='not a zip archive of those files; .* holding encoder'):
        resolve_weights(spec, str(single))
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'model.safetensors').write_bytes(b'x')
    with pytest.raises(WeightsError) as error:
        resolve_weights(spec, str(other))
    assert 'lack encoder.pth, depth.pth' in str(error.value)
    assert 'it holds model.safetensors' in str(error.value)


# -- Lite-Mono style weights: zips built on the fly, any file name, hashes of the files inside ----

def lite_mono_zip() -> tuple[bytes, bytes, bytes]:
    """Return (zip, encoder.pth, depth.pth) laid out as the Lite-Mono share zips are."""
    encoder, depth = torch_bytes({'a': torch.ones(2)}), torch_bytes({'b': torch.zeros(3)})
    return zip_bytes({'lite-mono/encoder.pth': encoder, 'lite-mono/depth.pth': depth}), encoder, \
        depth


def test_hand_downloaded_zip_of_any_name_works(tmp_path):
    data, encoder, depth = lite_mono_zip()
    spec = make_spec(files=('encoder.pth', 'depth.pth'), fmt='zip',
                     url='https://share.example.org/s/abc/download')
    for name in ('download', 'lite-mono (1).zip', 'weights.bin'):
        path = tmp_path / name
        path.write_bytes(data)
        folder = resolve_weights(spec, str(path))
        assert (folder / 'encoder.pth').read_bytes() == encoder
        assert (folder / 'depth.pth').read_bytes() == depth


@pytest.mark.parametrize('kind', ['zip', 'folder'])
def test_zip_or_folder_of_any_name_in_the_cache_is_found_offline(tmp_path, kind):
    data, encoder, depth = lite_mono_zip()
    spec = make_spec(files=('encoder.pth', 'depth.pth'), fmt='zip', url=closed_port_url())
    with pytest.raises(WeightsError) as error:
        resolve_weights(spec, 'auto')
    assert 'under any name into' in str(error.value)
    model_dir = official_cache_path(spec).parent
    assert official_cache_path(spec).name == 'toy-net.zip'  # the URL names no file
    model_dir.mkdir(parents=True, exist_ok=True)
    if kind == 'zip':
        (model_dir / 'Lite-Mono weights').write_bytes(data)
    else:
        (model_dir / 'my copy' / 'lite-mono').mkdir(parents=True)
        (model_dir / 'my copy' / 'lite-mono' / 'encoder.pth').write_bytes(encoder)
        (model_dir / 'my copy' / 'lite-mono' / 'depth.pth').write_bytes(depth)
    folder = resolve_weights(spec, 'auto')
    assert (folder / 'encoder.pth').read_bytes() == encoder
    assert cached_weights(spec) == folder


def test_files_inside_an_archive_are_checked_against_their_sha256(server):
    data, encoder, depth = lite_mono_zip()
    server.files['/s/download'] = data
    good = make_spec(f'{server.url}/s/download', None, 'zip', ('encoder.pth', 'depth.pth'))
    good = ModelSpec(**{**good.__dict__, 'weights': WeightsSource(
        url=good.weights.url, files=good.weights.files, file_format='zip',
        files_sha256={'encoder.pth': sha(encoder), 'depth.pth': sha(depth)})})
    assert (resolve_weights(good, 'auto') / 'depth.pth').read_bytes() == depth

    bad = ModelSpec(**{**good.__dict__, 'name': 'toy-net-2', 'weights': WeightsSource(
        url=good.weights.url, files=good.weights.files, file_format='zip',
        files_sha256={'encoder.pth': '0' * 64})})
    with pytest.raises(WeightsError) as error:
        resolve_weights(bad, 'auto')
    assert sha(encoder) in str(error.value) and '0' * 64 in str(error.value)
    assert 'encoder.pth' in str(error.value)


# -- Python 2 era checkpoints (Multi-Task RefineNet) ----

class Python2Pickler(pickle._Pickler):
    """Write str as Python 2 did (byte strings), to make checkpoints like those of 2018."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_str(self, text):
        data = text.encode('latin1')
        assert len(data) < 256  # SHORT_BINSTRING, all a state dict needs
        self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        self.memoize(text)

    dispatch[str] = save_str


def save_like_python2_torch04(obj, path):
    """torch.save in the legacy (pre-1.6, non-zip) format, with Python 2 string opcodes."""
    def dump(value, stream, protocol=2):
        Python2Pickler(stream, protocol).dump(value)

    module = type(sys)('python2_pickle')
    module.Pickler, module.dump = Python2Pickler, dump
    with open(path, 'wb') as stream:
        torch.save(obj, stream, pickle_module=module, pickle_protocol=2,
                   _use_new_zipfile_serialization=False)


def test_python2_era_multitask_refinenet_checkpoint_loads_safely(tmp_path):
    from mono_depth_ros.models.registry import create_model

    torch.manual_seed(1)
    reference = create_model('mtrn-nyud')
    state = OrderedDict((f'module.{key}', value) for key, value in reference.state_dict().items())
    path = tmp_path / 'ExpNYUD_joint.ckpt'
    save_like_python2_torch04({'state_dict': state}, path)
    assert b'\x80\x02' in path.read_bytes()[:4] and not zipfile.is_zipfile(path)
    assert pickle.SHORT_BINSTRING + bytes([len('state_dict')]) + b'state_dict' in \
        path.read_bytes()

    loaded = create_model('mtrn-nyud', weights=str(path))
    for key, value in reference.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_checkpoint_with_python_objects_says_how_to_convert_it(tmp_path):
    import numpy as np

    marker = tmp_path / 'pwned'
    path = tmp_path / 'old.ckpt'
    save_like_python2_torch04({'state_dict': {'w': torch.zeros(1)}, 'best_val': np.float64(0.4),
                               'payload': _Payload(marker)}, path)
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    message = str(error.value)
    assert message.startswith(f'cannot read checkpoint {path}: besides tensors it pickles ')
    assert 'could run code' in message and 'weights_only=False' in message
    assert '.safetensors' in message
    assert not marker.exists()


# -- progress for logs, and the offline message ----

def test_progress_reports_to_a_function_at_every_tenth(server, tmp_path):
    data = safetensors_bytes({'w': torch.zeros(600_000)}, tmp_path)  # 2.4 MB: several chunks
    server.files['/big.safetensors'] = data
    reports = []
    resolve_weights(make_spec(f'{server.url}/big.safetensors', sha(data)), 'auto',
                    progress=lambda done, total: reports.append((done, total)))
    assert reports[0] == (0, len(data)) and reports[-1] == (len(data), len(data))
    assert len(reports) <= 11
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)


def test_offline_message_names_the_download_command():
    spec = make_spec(closed_port_url(), '1' * 64)
    with pytest.raises(WeightsError) as error:
        resolve_weights(spec, 'auto')
    message = str(error.value)
    assert "model 'toy-net' needs its weights file toy.safetensors" in message
    assert '`mono-depth download toy-net`' in message
    assert f'put it at {official_cache_path(spec)}' in message
