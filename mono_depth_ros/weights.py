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
else through ``torch.load(weights_only=True)`` (which also reads the legacy format of Python 2 era
checkpoints). Loading is strict: every key and every shape must match, and a mismatch is an error
that names the file, the model and the keys that differ. A path that cannot be a checkpoint (a
folder, an empty file, a device) is an error that says what the path is.

:func:`resolve_weights` turns what the user asked for (``'auto'``, a path, a URL) into a local
file or folder: weights shipped in the package, or a download into the cache
(``$MONO_DEPTH_CACHE``, else ``~/.cache/mono_depth_ros``, one folder per model) that is resumed
when interrupted, checked against its sha256, and extracted safely when it is a zip archive.
Models whose weights are a folder of files (Lite-Mono) take a zip or a folder under any name,
from the command line or dropped into their cache folder; the files inside are checked against
their sha256 where it is known.
"""
from __future__ import annotations

import hashlib
import http.client
import os
from pathlib import Path, PurePosixPath
import pickle
import re
import shutil
import stat
import sys
import tempfile
import time
from typing import Callable, TYPE_CHECKING, Union
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from mono_depth_ros.models.spec import ModelSpec

if TYPE_CHECKING:  # resolving weights needs no PyTorch; loading them imports it
    import torch

MAX_KEYS_SHOWN = 8


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: unreadable, corrupt, or of another architecture."""


# What to do with a checkpoint that pickles more than tensors: convert it once, on a machine
# where running its code is acceptable, into a file that cannot hold code.
CONVERT_COMMAND = ('python3 -c "import sys, torch, safetensors.torch as st; '
                   "c = torch.load(sys.argv[1], weights_only=False); c = c.get('state_dict', c); "
                   'st.save_file({k: v.contiguous() for k, v in c.items() if torch.is_tensor(v)}, '
                   "sys.argv[1] + '.safetensors')\" FILE")


def read_checkpoint(path: Path) -> dict:
    """Read a checkpoint file into a dict without executing pickled code."""
    path = Path(path)
    problem = path_problem(path)
    if problem:
        raise CheckpointError(f'checkpoint {path} {problem}')
    import torch

    try:
        if path.suffix == '.safetensors':
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        unsafe = re.search(r'Unsupported global: GLOBAL (\S+)', str(error))
        if unsafe is None:
            raise CheckpointError(f'cannot read checkpoint {path}: {error}. The file is corrupt, '
                                  'truncated, or not a PyTorch/safetensors checkpoint') from error
        raise CheckpointError(
            f'cannot read checkpoint {path}: besides tensors it pickles {unsafe.group(1)}, and '
            'unpickling that could run code, so it is not loaded. If you trust the file, '
            'convert it once into a .safetensors file and pass that instead: '
            f'{CONVERT_COMMAND}') from None
    except Exception as error:  # torch and safetensors raise many types for corrupt files
        raise CheckpointError(f'cannot read checkpoint {path}: {error}. The file is corrupt, '
                              'truncated, or not a PyTorch/safetensors checkpoint') from error


def path_problem(path: Path) -> str | None:
    """
    Return why ``path`` cannot be a checkpoint file, or None when it is a non-empty file.

    The reason describes what the path is: missing, a folder (and what it holds), a device or
    another special file, or an empty file.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return 'does not exist'
    except OSError as error:
        return f'cannot be read: {error.strerror}'
    if stat.S_ISDIR(mode):
        return f'is a folder ({folder_summary(path)}), not a checkpoint file'
    if not stat.S_ISREG(mode):
        kinds = ((stat.S_ISCHR, 'a character device'), (stat.S_ISBLK, 'a block device'),
                 (stat.S_ISFIFO, 'a named pipe'), (stat.S_ISSOCK, 'a socket'))
        kind = next((name for test, name in kinds if test(mode)), 'a special file')
        return f'is {kind}, not a checkpoint file'
    if path.stat().st_size == 0:
        return ('is empty (0 bytes): an interrupted download or copy? Fetch the file again')
    return None


def folder_summary(folder: Path) -> str:
    """Say what a folder holds: 'empty', or its first file names."""
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith('.'))
    return 'empty' if not names else f'it holds {_listing(names)}'


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
    import torch

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


ProgressReport = Callable[[int, Union[int, None]], None]


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
    the archive (``<model>.zip`` when the URL names no zip); it is extracted next to it, into
    ``<archive name without .zip>.d``. A zip or folder of any name in the model's cache folder
    is found too (:func:`cached_weights`).
    """
    if spec.weights is None or not spec.weights.url:
        raise WeightsError(f'model {spec.name!r} has no download URL')
    name = _url_filename(spec.weights.url)
    if _is_zip_format(spec) and not name.endswith('.zip'):
        name = f'{spec.name}.zip'
    return model_cache_dir(spec) / name


def cached_weights(spec: ModelSpec) -> Path | None:
    """
    Return the cached official weights of ``spec`` (file, or folder of files), if present.

    For folder models the model's cache folder is searched for a folder holding the files, else a
    zip archive (not extracted yet), whatever their names.
    """
    if spec.weights is None or not spec.weights.url:
        return None
    if _is_zip_format(spec):
        return _cached_folder(spec, extract=False)
    path = official_cache_path(spec)
    return path if path.is_file() else None


def resolve_weights(spec: ModelSpec, weights: str, *,
                    progress: bool | ProgressReport | None = None,
                    timeout: float = DEFAULT_TIMEOUT_S) -> Path:
    """
    Return a local file or folder holding the weights of ``spec``.

    ``weights`` is ``'auto'`` (the variant's own weights: the file shipped in the package, else
    its URL downloaded once into the cache), an ``https://`` or ``http://`` URL (downloaded into
    the model's cache folder), or a local file or folder. Zip archives are extracted into the
    cache and the folder holding ``spec.weights.files`` is returned. ``progress`` shows a
    download progress bar on stderr (default: only when stderr is a terminal), or is a function
    called with (bytes received, total bytes or None) at every tenth of the download (for a
    log); ``timeout`` is the network timeout in seconds.
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
    return _local_weights(spec, Path(weights).expanduser())


def _local_weights(spec: ModelSpec, path: Path) -> Path:
    """Check a user's path: one checkpoint file, or for folder models a folder or a zip."""
    problem = path_problem(path)
    expected = (f'model {spec.name!r} takes a folder or zip archive holding '
                f'{", ".join(spec.weights.files)}' if spec.weights and spec.weights.files
                else f'model {spec.name!r} takes one checkpoint file')
    if problem == 'does not exist':
        raise WeightsError(f'weights path {path} for model {spec.name!r} does not exist. Pass an '
                           "existing checkpoint file or folder, an https:// URL, or 'auto' for "
                           'the official weights')
    if spec.weights is not None and spec.weights.files:
        if path.is_dir():
            return _check_files(spec, _find_files_dir(spec, path), str(path))
        if problem is None and _holds_files(spec, path):
            digest = sha256_of(path)[:12]
            return _extract(spec, path, model_cache_dir(spec) / f'local-{digest}.d')
        raise WeightsError(f'weights path {path} '
                           f'{problem or "is a file but not a zip archive of those files"}; '
                           f'{expected}')
    if problem:
        raise WeightsError(f'weights path {path} {problem}; {expected}')
    return path


def _resolve_auto(spec: ModelSpec, progress: bool | ProgressReport | None, timeout: float, *,
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
           progress: bool | ProgressReport | None, timeout: float) -> Path:
    """Download ``url`` to ``target`` unless cached, then extract it when it is a zip."""
    zipped = _is_zip_format(spec)
    if zipped and _extracted_dir(target).is_dir():
        return _check_files(spec, _find_files_dir(spec, _extracted_dir(target)), url)
    if zipped and url == spec.weights.url and (cached := _cached_folder(spec)) is not None:
        return _check_files(spec, cached, str(cached))
    if not target.is_file():
        download(url, target, sha256=sha256, model=spec.name, progress=progress, timeout=timeout)
    if zipped:
        return _extract(spec, target, _extracted_dir(target), in_cache=True)
    return target


def download(url: str, target: Path, *, sha256: str | None = None, model: str = '',
             progress: bool | ProgressReport | None = None,
             timeout: float = DEFAULT_TIMEOUT_S) -> Path:
    """
    Download ``url`` to ``target`` through ``target.part`` and return ``target``.

    A ``.part`` left by an interrupted download is resumed with an HTTP Range request when the
    server supports it (otherwise the download restarts). A body shorter than its
    Content-Length is an error (the ``.part`` stays for the next attempt to resume). When
    ``sha256`` is given (the full hex digest, or its first digits as torch.hub file names carry
    them), a file with another hash is deleted and reported. The finished file is renamed into
    place atomically.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + '.part')
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={'User-Agent': 'mono_depth_ros'})
    if offset:
        request.add_header('Range', f'bytes={offset}-')
    try:
        # A fresh opener reads the proxy settings of the environment as they are now.
        response = urllib.request.build_opener().open(request, timeout=timeout)
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
        actual = sha256_of(part)
        if not actual.startswith(sha256.lower()):
            part.unlink()
            expected = sha256 if len(sha256) == len(actual) else f'one starting with {sha256}'
            raise WeightsError(f'the file downloaded from {url} for model {model!r} has sha256 '
                               f'{actual}, expected {expected}; it was deleted. The download '
                               'was corrupted or the file changed upstream')
    os.replace(part, target)
    return target


def _offline_message(model: str, url: str, target: Path, error: Exception) -> str:
    reason = getattr(error, 'reason', error)
    if target.suffix == '.zip':
        place = (f'put the zip archive, or the folder it holds, under any name into '
                 f'{target.parent}/')
    else:
        place = f'put it at {target}'
    return (f'model {model!r} needs its weights file {target.name}, which is not in the cache '
            f'and cannot be downloaded from {url} ({reason}): this machine looks offline. On a '
            f'machine with internet run `mono-depth download {model}` (it prints where the file '
            f'went; --cache DIR writes it into DIR), copy the file here and {place}; or pass a '
            'local file with weights:=/path/to/file (--weights on the command line)')


def _range_start(response: http.client.HTTPResponse) -> int | None:
    content_range = response.headers.get('Content-Range', '')
    match = re.fullmatch(r'bytes (\d+)-\d+/(\d+|\*)', content_range.strip())
    return int(match.group(1)) if match else None


def sha256_of(path: Path) -> str:
    """Return the sha256 hex digest of a file."""
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


def _extract(spec: ModelSpec, archive: Path, folder: Path, *, in_cache: bool = False) -> Path:
    """
    Extract ``archive`` into ``folder`` refusing unsafe members; return the files' folder.

    An unusable archive ``in_cache`` is deleted, so that the next attempt downloads it again.
    """
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix='.extract-', dir=folder.parent))
        try:
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.infolist():
                    _check_member(member, staging, archive)
                bundle.extractall(staging)
            staging.rename(folder)
        except (zipfile.BadZipFile, WeightsError) as error:
            if in_cache:
                archive.unlink(missing_ok=True)
            if isinstance(error, WeightsError):
                raise
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


def _cached_folder(spec: ModelSpec, *, extract: bool = True) -> Path | None:
    """
    Return a folder of any name in the model's cache holding its files, else a zip archive.

    The archive (of any name) is extracted next to itself when ``extract`` is set.
    """
    root = model_cache_dir(spec)
    if not root.is_dir():
        return None
    entries = sorted(p for p in root.iterdir() if not p.name.startswith('.'))
    for folder in (p for p in entries if p.is_dir()):
        found = _find_files_dir(spec, folder)
        if all((found / name).is_file() for name in spec.weights.files):
            return found
    for archive in (p for p in entries if p.is_file() and _holds_files(spec, p)):
        if not extract:
            return archive
        return _extract(spec, archive, _extracted_dir(archive), in_cache=True)
    return None


def _holds_files(spec: ModelSpec, path: Path) -> bool:
    """Whether ``path`` is a zip archive with at least one of the variant's files inside."""
    if not zipfile.is_zipfile(path):  # a .pth of PyTorch >= 1.6 is a zip too, of other files
        return False
    with zipfile.ZipFile(path) as bundle:
        return any(PurePosixPath(name).name in spec.weights.files for name in bundle.namelist())


def _find_files_dir(spec: ModelSpec, folder: Path) -> Path:
    """Return the folder under ``folder`` holding the most of ``spec.weights.files``."""
    files = spec.weights.files if spec.weights else ()
    candidates = sorted((folder, *(p for p in folder.rglob('*') if p.is_dir())))
    return max(candidates, key=lambda candidate: sum((candidate / n).is_file() for n in files))


def _check_files(spec: ModelSpec, folder: Path, origin: str) -> Path:
    """Check that ``folder`` holds the variant's files, with their sha256 where it is known."""
    files = spec.weights.files if spec.weights else ()
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise WeightsError(f'the weights of model {spec.name!r} from {origin} lack '
                           f'{", ".join(missing)} (looked in {folder}: {folder_summary(folder)}); '
                           f'expected files: {", ".join(files)}')
    for name, expected in spec.weights.files_sha256.items():
        actual = sha256_of(folder / name)
        if actual != expected.lower():
            raise WeightsError(f'{folder / name} (model {spec.name!r}, from {origin}) has sha256 '
                               f'{actual}, expected {expected}: it is not the official file or '
                               'it is corrupted. Delete it and download the weights again')
    return folder


class _Progress:
    """A one-line download progress bar on stderr, or reports at every tenth to a function."""

    WIDTH = 30
    REPORT_BYTES = 10_000_000  # report interval when the total size is unknown

    def __init__(self, label: str, total: int | None, start: int,
                 enabled: bool | ProgressReport | None) -> None:
        self.report = enabled if callable(enabled) else None
        self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
        self.label = label
        self.total = total
        self.last = -1.0
        self.reported = -1
        self.update(start)

    def update(self, done: int) -> None:
        if self.report is not None:
            step = (10 * done // self.total if self.total else done // self.REPORT_BYTES)
            if step != self.reported:
                self.reported = step
                self.report(done, self.total)
            return
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
        if self.enabled and self.report is None:
            sys.stderr.write('\n')
            sys.stderr.flush()
