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
Frozen encoders and the on-disk cache of their features (``mono-depth train`` options).

``--freeze-encoder`` and ``--feature-cache``: every trainable family splits into an encoder and
a head (``encoder_names``, ``forward_encoder`` and ``forward_head``; see
:class:`~mono_depth_ros.models.spec.ModelSpec`). A frozen encoder keeps its weights, runs in eval
mode (batch norm statistics and stochastic depth fixed) and without gradients, so the same image
always gives the same features: they can be computed once.

:class:`FeatureCache` stores them as float16 ``.npy`` memory maps, one per encoder output, a row
per training sample. A cache folder belongs to one model, one set of encoder weights (a hash of
the tensors themselves, however they were loaded), one input size and one sample count: change
any of them and another folder is used. Inside a folder, each row carries a digest of the exact
image tensor it was computed from; a row whose image changed (other data under the same count) is
computed again when that sample comes, so a stale feature is never used.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

FORMAT = 1
DIGEST_BYTES = 16


class FeatureCacheError(ValueError):
    """Features that cannot be cached as asked."""


def encoder_modules(model: nn.Module, name: str) -> list[nn.Module]:
    """Return the modules that form ``model``'s encoder (its ``encoder_names``)."""
    names = getattr(model, 'encoder_names', ())
    if not names or not hasattr(model, 'forward_encoder'):
        raise ValueError(f'{name} does not say which of its modules form its encoder '
                         '(encoder_names, forward_encoder and forward_head; see ModelSpec): it '
                         'cannot train with a frozen encoder')
    return [model.get_submodule(part) for part in names]


def freeze(modules: Sequence[nn.Module]) -> None:
    """Stop training ``modules``: no gradients, eval mode (:func:`keep_frozen` after train())."""
    for module in modules:
        module.requires_grad_(False)
    keep_frozen(modules)


def keep_frozen(modules: Sequence[nn.Module]) -> None:
    """Put frozen modules back in eval mode after a ``model.train()``."""
    for module in modules:
        module.eval()


def state_digest(modules: Sequence[nn.Module]) -> str:
    """Return a sha256 of the modules' parameters and buffers: names, dtypes, shapes, values."""
    digest = hashlib.sha256()
    for index, module in enumerate(modules):
        for key, tensor in sorted(module.state_dict().items()):
            digest.update(f'{index}.{key}:{tensor.dtype}:{tuple(tensor.shape)}'.encode())
            digest.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def image_digests(images: torch.Tensor) -> np.ndarray:
    """Return a ``(B, 16)`` uint8 digest of each image's exact values."""
    cpu = images.detach().cpu().contiguous()
    return np.stack([np.frombuffer(hashlib.blake2b(image.numpy().tobytes(),
                                                   digest_size=DIGEST_BYTES).digest(), np.uint8)
                     for image in cpu])


class FeatureCache:
    """
    The encoder outputs of every training sample, float16, memory-mapped, computed on first use.

    ``key`` identifies what the features depend on (model, encoder weights, input size, sample
    count); its hash names the folder under ``root``. ``read`` and ``written`` count rows.
    """

    def __init__(self, root: Path | str, key: dict, count: int, label: str) -> None:
        text = json.dumps({'format': FORMAT, **key}, sort_keys=True)
        self.key = json.loads(text)
        self.count = count
        self.folder = Path(root) / f'{label}-{hashlib.sha256(text.encode()).hexdigest()[:16]}'
        self.read = self.written = 0
        self._levels: list[np.memmap] | None = None
        self._digests: np.memmap | None = None
        meta = self.folder / 'meta.json'
        if meta.is_file() and json.loads(meta.read_text()).get('key') == self.key:
            info = json.loads(meta.read_text())
            self._digests = np.load(self.folder / 'digests.npy', mmap_mode='r+')
            self._levels = [np.load(self.folder / f'level{i}.npy', mmap_mode='r+')
                            for i in range(info['levels'])]

    def _create(self, shapes: list[tuple[int, ...]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._levels = [np.lib.format.open_memmap(self.folder / f'level{i}.npy', 'w+',
                                                  np.float16, (self.count, *shape))
                        for i, shape in enumerate(shapes)]
        self._digests = np.lib.format.open_memmap(self.folder / 'digests.npy', 'w+', np.uint8,
                                                  (self.count, DIGEST_BYTES))
        # Written last: a folder without it is rebuilt from scratch.
        (self.folder / 'meta.json').write_text(json.dumps(
            {'key': self.key, 'levels': len(shapes), 'shapes': [list(s) for s in shapes]},
            indent=1))

    def features(self, encode: Callable[[torch.Tensor], list[torch.Tensor]],
                 indices: Sequence[int], images: torch.Tensor,
                 inputs: torch.Tensor) -> list[torch.Tensor]:
        """
        Return the encoder outputs of samples ``indices`` (float32, on ``inputs``' device).

        ``images`` are the samples as the dataset gives them (their digests check each row);
        ``inputs`` the same batch as the encoder takes it. Rows that are missing or were
        computed from other images are computed with ``encode`` and written first.
        """
        indices = list(indices)
        digests = image_digests(images)
        if self._digests is None:
            fresh = list(range(len(indices)))
        else:
            stored = self._digests[indices]
            fresh = [i for i in range(len(indices)) if not np.array_equal(stored[i], digests[i])]
        if fresh:
            with torch.no_grad():
                computed = [level.to(torch.float16) for level in encode(inputs[fresh])]
            for level in computed:
                if not bool(torch.isfinite(level).all()):
                    raise FeatureCacheError(
                        'encoder outputs exceed the float16 range (65504) of the feature cache; '
                        'train without --feature-cache (the frozen encoder still saves the '
                        'backward pass)')
            if self._levels is None:
                self._create([tuple(level.shape[1:]) for level in computed])
            rows = [indices[i] for i in fresh]
            for array, level in zip(self._levels, computed):
                array[rows] = level.cpu().numpy()
                array.flush()
            self._digests[rows] = digests[fresh]
            self._digests.flush()
        self.written += len(fresh)
        self.read += len(indices) - len(fresh)
        # Every row is read back from the cache, so a written row gives what a read one will.
        return [torch.from_numpy(array[indices]).to(inputs.device, torch.float32)
                for array in self._levels]
