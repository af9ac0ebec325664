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
Checkpoints: finding them, reading them safely and loading them strictly.

Reading never executes pickled code: ``.safetensors`` files go through safetensors and everything
else through ``torch.load(weights_only=True)``. Loading is strict: every key and every shape must
match, and a mismatch is an error that names the file, the model and the keys that differ.

:func:`resolve_weights` turns what the user asked for (``'auto'``, a path, a URL) into a local
file or folder: weights shipped in the package, or a download into the cache
(``$MONO_DEPTH_CACHE``, else ``~/.cache/mono_depth_ros``, one folder per model) that is resumed
when interrupted, checked against its sha256, and extracted safely when it is a zip archive.
"""
from __future__ import annotations

import hashlib
import http.client
import os
from pathlib import Path, PurePosixPath
import re
import shutil
import stat
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from mono_depth_ros.models.spec import ModelSpec
import torch

MAX_KEYS_SHOWN = 8


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: unreadable, corrupt, or of another architecture."""


def read_checkpoint(path: Path) -> dict:
    """Read a checkpoint file into a dict without executing pickled code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint {path} does not exist')
    try:
        if path.suffix == '.safetensors':
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch and safetensors raise many types for corrupt files
        raise CheckpointError(f'cannot read checkpoint {path}: {error}. The file is corrupt, '
                              'truncated, or not a PyTorch/safetensors checkpoint') from error


def _listing(names: list[str]) -> str:
    shown = ', '.join(names[:MAX_KEYS_SHOWN])
    more = len(names) - MAX_KEYS_SHOWN
    return shown + (f' (and {more} more)' if more > 0 else '')


def load_state_dict_strict(module: torch.nn.Module, state_dict: dict, *, model: str,
                           source: str | Path) -> None:
    """
    Copy ``state_dict`` into ``module``, requiring exactly the same keys and shapes.

    Raises :class:`CheckpointError` naming the missing, unexpected and mis-shaped keys.
    """
    expected = module.state_dict()
    tensors = {k: v for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    misshaped = sorted(f'{k} {tuple(tensors[k].shape)} != {tuple(expected[k].shape)}'
                       for k in set(expected) & set(tensors)
                       if tensors[k].shape != expected[k].shape)
    if missing or unexpected or misshaped:
        problems = []
        if missing:
            problems.append(f'{len(missing)} missing keys: {_listing(missing)}')
        if unexpected:
            problems.append(f'{len(unexpected)} unexpected keys: {_listing(unexpected)}')
        if misshaped:
            problems.append(f'{len(misshaped)} keys of another shape (file != model): '
                            f'{_listing(misshaped)}')
        raise CheckpointError(f'checkpoint {source} does not fit model {model!r}: '
                              + '; '.join(problems)
                              + '. Is it a checkpoint of another architecture or variant?')
    module.load_state_dict(tensors, strict=True)


# ---------------------------------------------------------------------------------------------
# Resolving where a variant's weights are: the package, the cache, a download, a local path.

DEFAULT_TIMEOUT_S = 30.0
CHUNK_BYTES = 1 << 20
EMBEDDED_DIR = Path(__file__).resolve().parent / 'models' / 'weights'


class WeightsError(CheckpointError):
    """Weights that cannot be obtained: no source, a failed or corrupt download, a bad archive."""


def cache_root() -> Path:
    """Return the weights cache: ``$MONO_DEPTH_CACHE``, else ``~/.cache/mono_depth_ros``."""
    root = os.environ.get('MONO_DEPTH_CACHE')
    return Path(root).expanduser() if root else Path.home() / '.cache' / 'mono_depth_ros'


def model_cache_dir(spec: ModelSpec) -> Path:
    """Return the cache folder of one variant (one sub-folder per model)."""
    return cache_root() / spec.name


def official_cache_path(spec: ModelSpec) -> Path:
    """
    Return where the official download of ``spec`` lives in the cache once fetched.

    A file downloaded by hand from the variant's URL can be put there. For zip archives this is
    the archive; it is extracted next to it, into ``<archive name without .zip>.d``.
    """
    if spec.weights is None or not spec.weights.url:
        raise WeightsError(f'model {spec.name!r} has no download URL')
    return model_cache_dir(spec) / _url_filename(spec.weights.url)


def cached_weights(spec: ModelSpec) -> Path | None:
    """Return the cached official weights of ``spec`` (file, or extracted folder), if present."""
    if spec.weights is None or not spec.weights.url:
        return None
    path = official_cache_path(spec)
    if spec.weights.file_format == 'zip':
        folder = _extracted_dir(path)
        return folder if folder.is_dir() else None
    return path if path.is_file() else None


def resolve_weights(spec: ModelSpec, weights: str, *, progress: bool | None = None,
                    timeout: float = DEFAULT_TIMEOUT_S) -> Path:
    """
    Return a local file or folder holding the weights of ``spec``.

    ``weights`` is ``'auto'`` (the variant's own weights: the file shipped in the package, else
    its URL downloaded once into the cache), an ``https://`` or ``http://`` URL (downloaded into
    the model's cache folder), or a local file or folder. Zip archives are extracted into the
    cache and the folder holding ``spec.weights.files`` is returned. ``progress`` shows a
    download progress bar on stderr (default: only when stderr is a terminal); ``timeout`` is
    the network timeout in seconds.
    """
    if weights == 'auto':
        return _resolve_auto(spec, progress, timeout)
    if weights.startswith(('https://', 'http://')):
        official = spec.weights is not None and weights == spec.weights.url
        if official:
            return _resolve_auto(spec, progress, timeout, allow_embedded=False)
        digest = hashlib.sha256(weights.encode()).hexdigest()[:12]
        target = model_cache_dir(spec) / f'{digest}-{_url_filename(weights)}'
        return _fetch(spec, weights, target, sha256=None, progress=progress, timeout=timeout)
    path = Path(weights).expanduser()
    if not path.exists():
        raise WeightsError(f'weights path {path} for model {spec.name!r} does not exist. Pass an '
                           "existing checkpoint file or folder, an https:// URL, or 'auto' for "
                           'the official weights')
    if path.is_file() and path.suffix == '.zip' and _is_zip_format(spec):
        return _extract(spec, path, _extracted_dir(model_cache_dir(spec) / path.name))
    if path.is_dir():
        _check_files(spec, path, str(path))
    return path


def _resolve_auto(spec: ModelSpec, progress: bool | None, timeout: float, *,
                  allow_embedded: bool = True) -> Path:
    source = spec.weights
    if source is None or not (source.url or source.embedded):
        raise WeightsError(f'model {spec.name!r} has no official weights; pass a checkpoint file '
                           'or folder instead of auto (weights:=/path/to/checkpoint)')
    if allow_embedded and source.embedded:
        path = EMBEDDED_DIR / source.embedded
        if not path.is_file():
            raise WeightsError(f'the weights of model {spec.name!r} should ship with the package '
                               f'at {path}, but the file is missing: reinstall mono_depth_ros')
        return path
    return _fetch(spec, source.url, official_cache_path(spec), sha256=source.sha256,
                  progress=progress, timeout=timeout)


def _fetch(spec: ModelSpec, url: str, target: Path, *, sha256: str | None,
           progress: bool | None, timeout: float) -> Path:
    """Download ``url`` to ``target`` unless cached, then extract it when it is a zip."""
    zipped = _is_zip_format(spec)
    if zipped and _extracted_dir(target).is_dir():
        return _check_files(spec, _find_files_dir(spec, _extracted_dir(target)), url)
    if not target.is_file():
        download(url, target, sha256=sha256, model=spec.name, progress=progress, timeout=timeout)
    if zipped:
        return _extract(spec, target, _extracted_dir(target))
    return target


def download(url: str, target: Path, *, sha256: str | None = None, model: str = '',
             progress: bool | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> Path:
    """
    Download ``url`` to ``target`` through ``target.part`` and return ``target``.

    A ``.part`` left by an interrupted download is resumed with an HTTP Range request when the
    server supports it (otherwise the download restarts). A body shorter than its
    Content-Length is an error (the ``.part`` stays for the next attempt to resume). When
    ``sha256`` is given, a file with another hash is deleted and reported. The finished file is
    renamed into place atomically.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + '.part')
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={'User-Agent': 'mono_depth_ros'})
    if offset:
        request.add_header('Range', f'bytes={offset}-')
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            part.unlink()  # the partial file does not fit the remote file any more: start over
            return download(url, target, sha256=sha256, model=model, progress=progress,
                            timeout=timeout)
        raise WeightsError(f'downloading the weights of model {model!r} from {url} failed: HTTP '
                           f'{error.code} {error.reason}. Check the URL, or download the file '
                           f'yourself to {target}') from error
    except (urllib.error.URLError, OSError) as error:
        raise WeightsError(_offline_message(model, url, target, error)) from error
    with response:
        resumed = response.status == 206 and offset > 0 and _range_start(response) == offset
        if response.status == 206 and not resumed:
            part.unlink(missing_ok=True)
            raise WeightsError(f'the server of {url} answered a range that was not asked for '
                               f'(model {model!r}); the partial file was deleted, run again')
        if not resumed:
            offset = 0
        length = response.headers.get('Content-Length')
        expected = offset + int(length) if length is not None else None
        bar = _Progress(model or target.name, expected, offset, progress)
        received = offset
        try:
            with open(part, 'ab' if resumed else 'wb') as out:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(received)
        except (OSError, http.client.HTTPException) as error:
            raise WeightsError(f'downloading the weights of model {model!r} from {url} stopped '
                               f'after {received} bytes: {error}. Run again to resume') from error
        finally:
            bar.close()
    if expected is not None and received != expected:
        raise WeightsError(f'download of {url} (model {model!r}) is truncated: got {received} of '
                           f'{expected} bytes. Run again to resume from {part}')
    if sha256 is not None:
        actual = _sha256(part)
        if actual != sha256.lower():
            part.unlink()
            raise WeightsError(f'the file downloaded from {url} for model {model!r} has sha256 '
                               f'{actual}, expected {sha256}; it was deleted. The download was '
                               'corrupted or the file changed upstream')
    os.replace(part, target)
    return target


def _offline_message(model: str, url: str, target: Path, error: Exception) -> str:
    reason = getattr(error, 'reason', error)
    return (f'cannot download the weights of model {model!r} from {url}: {reason}. This machine '
            f'looks offline. Download the file elsewhere and put it at {target}, or pass a local '
            'checkpoint with weights:=/path/to/file (--weights /path/to/file on the command line)')


def _range_start(response: http.client.HTTPResponse) -> int | None:
    content_range = response.headers.get('Content-Range', '')
    match = re.fullmatch(r'bytes (\d+)-\d+/(\d+|\*)', content_range.strip())
    return int(match.group(1)) if match else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _url_filename(url: str) -> str:
    name = urllib.parse.unquote(Path(urllib.parse.urlparse(url).path).name)
    return name or 'weights'


def _is_zip_format(spec: ModelSpec) -> bool:
    return spec.weights is not None and spec.weights.file_format == 'zip'


def _extracted_dir(archive: Path) -> Path:
    return archive.with_name(archive.name.removesuffix('.zip') + '.d')


def _extract(spec: ModelSpec, archive: Path, folder: Path) -> Path:
    """Extract ``archive`` into ``folder`` refusing unsafe members; return the files' folder."""
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix='.extract-', dir=folder.parent))
        try:
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.infolist():
                    _check_member(member, staging, archive)
                bundle.extractall(staging)
            staging.rename(folder)
        except zipfile.BadZipFile as error:
            raise WeightsError(f'{archive} (model {spec.name!r}) is not a valid zip archive: '
                               f'{error}. Delete it and download it again') from error
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return _check_files(spec, _find_files_dir(spec, folder), str(archive))


def _check_member(member: zipfile.ZipInfo, root: Path, archive: Path) -> None:
    name = member.filename
    is_link = stat.S_ISLNK(member.external_attr >> 16)
    inside = (root / name).resolve().is_relative_to(root.resolve())
    if is_link or not inside or PurePosixPath(name).is_absolute() or '..' in Path(name).parts:
        raise WeightsError(f'refusing to extract {archive}: member {name!r} is a link or points '
                           'outside the extraction folder (path traversal)')


def _find_files_dir(spec: ModelSpec, folder: Path) -> Path:
    """Return the folder under ``folder`` holding the most of ``spec.weights.files``."""
    files = spec.weights.files if spec.weights else ()
    candidates = sorted((folder, *(p for p in folder.rglob('*') if p.is_dir())))
    return max(candidates, key=lambda candidate: sum((candidate / n).is_file() for n in files))


def _check_files(spec: ModelSpec, folder: Path, origin: str) -> Path:
    files = spec.weights.files if spec.weights else ()
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise WeightsError(f'the weights of model {spec.name!r} from {origin} lack '
                           f'{", ".join(missing)} (looked in {folder}); expected files: '
                           f'{", ".join(files)}')
    return folder


class _Progress:
    """A one-line download progress bar on stderr."""

    WIDTH = 30

    def __init__(self, label: str, total: int | None, start: int, enabled: bool | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label = label
        self.total = total
        self.last = -1.0
        self.update(start)

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and done != self.total:
            return
        self.last = now
        megabytes = f'{done / 1e6:.1f}'
        if self.total:
            fraction = min(1.0, done / self.total)
            filled = int(fraction * self.WIDTH)
            line = (f'{self.label} [{"#" * filled}{"." * (self.WIDTH - filled)}] '
                    f'{fraction:4.0%} {megabytes}/{self.total / 1e6:.1f} MB')
        else:
            line = f'{self.label} {megabytes} MB'
        sys.stderr.write('\r' + line)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write('\n')
            sys.stderr.flush()
